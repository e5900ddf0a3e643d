/** Inline overrides of a job output: merged into the template, then validated as a whole. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deepMerge, transcodeOverridesSchema, transcodeTemplateSchema } from '../../model/templates';
import { systemPreset } from '../../media/presets';

const ladder = systemPreset('hls-h264-ladder', 'transcode')!;
const mp4 = systemPreset('mp4-h264-720p', 'transcode')!;

function resolve(base: typeof ladder, overrides: unknown) {
  const patch = transcodeOverridesSchema.safeParse(overrides);
  if (!patch.success) return patch;
  return transcodeTemplateSchema.safeParse(deepMerge(base, patch.data));
}

test('{ ladder: { auto: true } } turns a template ladder into a per-title one and keeps its rungs', () => {
  const r = resolve(ladder, { ladder: { auto: true, targetSsim: 0.97 } });
  assert.ok(r.success, JSON.stringify(r.error?.issues));
  assert.equal(r.data.ladder?.auto, true);
  assert.equal(r.data.ladder?.targetSsim, 0.97);
  assert.deepEqual(r.data.ladder?.rungs, ladder.ladder!.rungs);
});

test('rungs given in an override replace the template rungs', () => {
  const rungs = [{ name: '240p', height: 240, bitrateKbps: 300 }];
  const r = resolve(ladder, { ladder: { rungs } });
  assert.ok(r.success, JSON.stringify(r.error?.issues));
  assert.deepEqual(r.data.ladder?.rungs, rungs);
});

test('an mp4 template turned into HLS without rungs is refused, naming the ladder', () => {
  const r = resolve(mp4, { container: 'hls', video: { width: undefined, height: undefined, bitrateKbps: undefined, maxrateKbps: undefined, bufsizeKbps: undefined }, ladder: { auto: true } });
  assert.equal(r.success, false);
  assert.ok(r.error!.issues.some((i) => i.path.join('.').startsWith('ladder')), JSON.stringify(r.error!.issues));
});

/** Every single-file output kind, encoded for real and checked with ffprobe. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { taskQueueFor } from '../../model/config';
import type { JobState } from '../../model/job-state';
import { WORKFLOW_TYPE } from '../../workflows/definitions';
import { startStack, type Stack } from '../helpers/stack';
import { decodesCleanly, makeClip, probeFile } from '../helpers/media';
import { presetOutput, snapshotAt, testSpec } from '../helpers/spec';

let stack: Stack;

before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

test('H.265, VP9/Opus, AV1, M4A, MP3, a clip, pad and crop, WebP: each output is what its template says', { timeout: 300_000 }, async () => {
  const src = path.join(stack.dataDir, 'src.mp4');
  await makeClip(src, { width: 640, height: 360, durationSec: 3 });
  await stack.storage.put('raw/src.mp4', createReadStream(src));
  const spec = testSpec(
    'raw/src.mp4',
    [
      presetOutput('hevc', 'mp4-h265-1080p'),
      presetOutput('vp9', 'webm-vp9-720p'),
      presetOutput('av1', 'mp4-av1-720p'),
      presetOutput('aac', 'm4a-aac-128k'),
      presetOutput('mp3', 'mp3-128k'),
      { ...presetOutput('clip', 'mp4-h264-360p'), clip: { start: 1, duration: 1.5 } },
      presetOutput('pad', 'mp4-h264-360p', (t) => ({ ...t, video: { ...t.video!, width: 480, height: 480 }, transConfig: { aspect: 'pad' } })),
      presetOutput('crop', 'mp4-h264-360p', (t) => ({ ...t, video: { ...t.video!, width: 240, height: 240 }, transConfig: { aspect: 'crop' } })),
      presetOutput('loud', 'm4a-aac-128k', (t) => ({ ...t, audio: { ...t.audio!, loudnorm: true, channels: 1 } })),
    ],
    { snapshots: [snapshotAt('still', 1, 'webp', 320)] },
  );
  const state = (await stack.client.workflow.execute(WORKFLOW_TYPE, { workflowId: spec.id, taskQueue: taskQueueFor(stack.config, 'default'), args: [spec] })) as JobState;
  assert.equal(state.status, 'succeeded', JSON.stringify(state.tasks.filter((t) => t.error)));

  const file = (name: string) => path.join(stack.dataDir, 'objects', state.outputs.find((o) => o.name === name)!.key);
  const expect: Record<string, { format: RegExp; streams: [string, string][]; size?: [number, number]; duration?: number; tag?: string }> = {
    hevc: { format: /mp4/, streams: [['video', 'hevc'], ['audio', 'aac']], size: [640, 360], tag: 'hvc1' },
    vp9: { format: /webm/, streams: [['video', 'vp9'], ['audio', 'opus']], size: [640, 360] },
    av1: { format: /mp4/, streams: [['video', 'av1'], ['audio', 'aac']], size: [640, 360] },
    aac: { format: /mp4/, streams: [['audio', 'aac']] },
    mp3: { format: /^mp3$/, streams: [['audio', 'mp3']] },
    clip: { format: /mp4/, streams: [['video', 'h264'], ['audio', 'aac']], size: [640, 360], duration: 1.5 },
    pad: { format: /mp4/, streams: [['video', 'h264'], ['audio', 'aac']], size: [480, 480] },
    crop: { format: /mp4/, streams: [['video', 'h264'], ['audio', 'aac']], size: [240, 240] },
    loud: { format: /mp4/, streams: [['audio', 'aac']] },
  };
  for (const [name, want] of Object.entries(expect)) {
    const out = await probeFile(file(name));
    assert.match(out.formatName, want.format, name);
    assert.deepEqual(out.streams.map((s) => [s.codec_type, s.codec_name]), want.streams, name);
    const v = out.streams.find((s) => s.codec_type === 'video') as { width?: number; height?: number; codec_tag_string?: string } | undefined;
    if (want.size) assert.deepEqual([v?.width, v?.height], want.size, name);
    if (want.tag) assert.equal(v?.codec_tag_string, want.tag, `${name} is tagged for Apple players`);
    assert.ok(Math.abs(out.durationSec - (want.duration ?? 3)) <= 0.1, `${name}: duration ${out.durationSec}`);
    assert.ok(await decodesCleanly(file(name)), `${name} decodes`);
  }
  assert.equal((await probeFile(file('loud'))).streams[0]?.channels, 1);
  const still = await probeFile(path.join(stack.dataDir, 'objects', state.snapshots[0]!.keys[0]!));
  assert.deepEqual([still.streams[0]?.codec_name, still.streams[0]?.width, still.streams[0]?.height], ['webp', 320, 180]);
});

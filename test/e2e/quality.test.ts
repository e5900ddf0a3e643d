/**
 * Quality scores (issue 15 item 6): `quality: true` on a template or a job output puts SSIM and
 * PSNR (VMAF when the ffmpeg has libvmaf, else null with the reason) of each video rendition in
 * the job JSON, measured against the source frames it was made from (clip, fps and watermarks
 * taken into account). Real dev server, worker, ffmpeg and API over loopback.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import type { JobState, OutputState, QualityScore } from '../../model/job-state';
import { startStack, type Stack } from '../helpers/stack';
import { makeClip, testBinaries } from '../helpers/media';
import { callApi, putObject, submitJob } from '../helpers/http';
import { isSettled, pollJob } from '../helpers/jobs';

let stack: Stack;
let base: string;

before(async () => {
  stack = await startStack({ api: true });
  base = stack.api!.url;
  const clip = path.join(stack.dataDir, 'moving.mp4');
  await makeClip(clip, { width: 640, height: 360, durationSec: 3, fps: 30 });
  await putObject(base, 'raw/moving.mp4', clip);
  const template = {
    id: 'q-mp4',
    kind: 'transcode',
    container: 'mp4',
    video: { codec: 'h264', preset: 'veryfast', width: 640, height: 360 },
    audio: { codec: 'aac' },
    quality: true,
  };
  const res = await callApi(base, 'POST', '/v1/templates', template);
  assert.equal(res.status, 201, res.text);
});
after(async () => {
  await stack?.stop();
});

function plausible(q: QualityScore | undefined, what: string): QualityScore {
  assert.ok(q, `${what} has quality scores`);
  assert.ok(q.ssim > 0 && q.ssim <= 1, `${what}: ssim ${q.ssim} in (0, 1]`);
  assert.ok(q.psnr > 10 && q.psnr <= 100, `${what}: psnr ${q.psnr} dB plausible`);
  assert.ok(q.frames > 0);
  assert.match(q.method, /compared frame by frame/);
  return q;
}

describe('quality: true', () => {
  let job: JobState;
  const out = (name: string): OutputState => {
    const o = job.outputs.find((x) => x.name === name);
    assert.ok(o, `output ${name}`);
    return o;
  };

  before(async () => {
    const id = await submitJob(base, {
      input: { key: 'raw/moving.mp4' },
      snapshots: [],
      outputs: [
        // The template asks for scores; the job's flag wins over it.
        { name: 'crf18', template: 'q-mp4', overrides: { video: { crf: 18 } } },
        { name: 'crf45', template: 'q-mp4', overrides: { video: { crf: 45 } } },
        { name: 'plain', template: 'q-mp4', quality: false },
        // Another size, a lower rate, part of the input and a watermark: the reference follows all of them.
        {
          name: 'clipped',
          template: 'q-mp4',
          overrides: { video: { width: 320, height: 180, fps: 15 } },
          clip: { start: 1, duration: 1.5 },
          watermarks: [{ text: { content: 'mediaflow' }, position: 'TL', widthRel: 0.4 }],
        },
        { name: 'hls', template: 'hls-h264-ladder', quality: true },
      ],
    });
    job = await pollJob(base, id, isSettled, { timeoutMs: 300_000 });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
  });

  test('a crf-18 output scores higher than a crf-45 one; scores are plausible', () => {
    const hi = plausible(out('crf18').quality, 'crf18');
    const lo = plausible(out('crf45').quality, 'crf45');
    assert.ok(hi.ssim > lo.ssim + 0.02, `ssim ${hi.ssim} (crf 18) > ${lo.ssim} (crf 45)`);
    assert.ok(hi.psnr > lo.psnr + 3, `psnr ${hi.psnr} (crf 18) > ${lo.psnr} (crf 45)`);
    assert.ok(hi.ssim > 0.97, `crf 18 is near-transparent: ${hi.ssim}`);
    // 3 s at 30 fps, every frame compared.
    assert.ok(Math.abs(hi.frames - 90) <= 1, `frames ${hi.frames}`);
  });

  test('the reference follows the clip, the frame rate and the watermark', () => {
    const q = plausible(out('clipped').quality, 'clipped');
    // 1.5 s at 15 fps; a reference off by even a few frames of testsrc2's motion would score far lower.
    assert.ok(Math.abs(q.frames - 23) <= 1, `frames ${q.frames}`);
    assert.ok(q.ssim > 0.93, `the clipped, watermarked output matches its reference: ${q.ssim}`);
    assert.match(q.method, /from 1 s for 1.5 s/);
    assert.match(q.method, /320x180/);
    assert.match(q.method, /watermark/);
  });

  test('VMAF: a score when the ffmpeg has libvmaf, else null with the reason', async () => {
    const { ffmpeg } = await testBinaries();
    const { stdout } = await promisify(execFile)(ffmpeg, ['-hide_banner', '-filters']);
    const q = out('crf18').quality!;
    if (/\slibvmaf\s/.test(stdout)) {
      assert.ok(q.vmaf !== null && q.vmaf >= 0 && q.vmaf <= 100, `vmaf ${q.vmaf}`);
    } else {
      assert.equal(q.vmaf, null);
      assert.match(q.vmafReason ?? '', /libvmaf/);
    }
  });

  test('only outputs that ask are scored, each by a quality task of its own', () => {
    assert.equal(out('plain').quality, undefined);
    const kinds = job.tasks.filter((t) => t.kind === 'quality').map((t) => t.id).sort();
    assert.deepEqual(kinds, ['quality:clipped', 'quality:crf18', 'quality:crf45', 'quality:hls/360p']);
    assert.ok(job.tasks.filter((t) => t.kind === 'quality').every((t) => t.status === 'succeeded'));
  });

  test('an HLS output carries a score per rendition', () => {
    const hls = out('hls');
    assert.equal(hls.quality, undefined);
    assert.ok(hls.renditions?.length);
    for (const r of hls.renditions!) plausible(r.quality, `rendition ${r.name}`);
  });
});

describe('quality: bad requests and the schema', () => {
  test('quality on an audio-only output is refused, naming the field', async () => {
    const res = await callApi(base, 'POST', '/v1/jobs', { input: { key: 'raw/moving.mp4' }, outputs: [{ name: 'a', template: 'm4a-aac-128k', quality: true }] });
    assert.equal(res.status, 400, res.text);
    assert.ok(res.json.errors.some((e: { path: string }) => e.path === 'outputs.0.quality'), res.text);
  });

  test('/openapi.json documents the request flags and the scores', async () => {
    const doc = (await callApi(base, 'GET', '/openapi.json')).json;
    const schemas = doc.components.schemas;
    assert.ok(schemas.QualityScore, 'QualityScore component');
    assert.deepEqual(Object.keys(schemas.QualityScore.properties).sort(), ['frames', 'method', 'psnr', 'ssim', 'vmaf', 'vmafReason']);
    const text = JSON.stringify(schemas.JobSubmit);
    assert.match(text, /"quality"/);
    assert.match(JSON.stringify(schemas.Job), /QualityScore/);
    assert.match(JSON.stringify(schemas.TemplateCreate), /"quality"/);
  });
});

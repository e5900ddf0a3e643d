/**
 * Concatenation over the API with real encodes: three inputs of different sizes, rates and audio
 * (none, mono 44.1 kHz, stereo 48 kHz; one clipped) joined into an MP4 and an HLS ladder, checked
 * with ffprobe/ffmpeg; bad `inputs` bodies answer 400 naming the field; a broken input fails the
 * job naming its index.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import type { JobState } from '../../model/job-state';
import { startStack, type Stack } from '../helpers/stack';
import { callApi, putObject, submitJob } from '../helpers/http';
import { isSettled, pollJob } from '../helpers/jobs';
import { decodesCleanly, testBinaries } from '../helpers/media';

const run = promisify(execFile);

let stack: Stack;
let base: string;
/** A loopback web server for URL inputs: GET /media/{name} answers the file registered under that name. */
let web: http.Server;
let webBase: string;
const served = new Map<string, Buffer>();

before(async () => {
  // ALLOW_PRIVATE_URLS: the URL input below is served from loopback.
  stack = await startStack({ api: true, env: { ALLOW_PRIVATE_URLS: 'true' } });
  base = stack.api!.url;
  web = http.createServer((req, res) => {
    const body = served.get((req.url ?? '').replace(/^\/media\//, ''));
    if (body) res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(body.length) }).end(body);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  webBase = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
});
after(async () => {
  await stack?.stop();
  web?.closeAllConnections();
  web?.close();
});

/** An H.264 clip of its own size and rate; audio: none, or a loud tone of the given rate and channels. */
async function makeInput(file: string, o: { size: string; rate: string; durationSec: number; audio: { sampleRate: number; channels: number } | null; pixFmt?: string }): Promise<void> {
  const { ffmpeg } = await testBinaries();
  const args = ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${o.size}:rate=${o.rate}:duration=${o.durationSec}`];
  if (o.audio) args.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=${o.audio.sampleRate}:duration=${o.durationSec}`);
  args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', o.pixFmt ?? 'yuv420p');
  if (o.audio) args.push('-c:a', 'aac', '-ac', String(o.audio.channels), '-ar', String(o.audio.sampleRate));
  args.push('-t', String(o.durationSec), file);
  await run(ffmpeg, args);
}

interface Stream {
  codec_type: string;
  width?: number;
  height?: number;
  r_frame_rate?: string;
  pix_fmt?: string;
  nb_read_frames?: string;
  duration?: string;
  sample_rate?: string;
  channels?: number;
}

/** ffprobe with every frame counted: the streams and the container's duration. */
async function probeCounted(file: string): Promise<{ durationSec: number; streams: Stream[] }> {
  const { ffprobe } = await testBinaries();
  const { stdout } = await run(ffprobe, ['-v', 'error', '-count_frames', '-print_format', 'json', '-show_format', '-show_streams', file], { maxBuffer: 1 << 24 });
  const json = JSON.parse(stdout) as { format: { duration: string }; streams: Stream[] };
  return { durationSec: Number(json.format.duration), streams: json.streams };
}

/** The loudest and the mean level (dB) of the audio between two times, by ffmpeg's volumedetect. */
async function volume(file: string, fromSec: number, toSec: number): Promise<{ max: number; mean: number }> {
  const { ffmpeg } = await testBinaries();
  const { stderr } = await run(ffmpeg, ['-hide_banner', '-nostats', '-i', file, '-vn', '-af', `atrim=start=${fromSec}:end=${toSec},volumedetect`, '-f', 'null', '-']);
  const read = (name: string) => Number(new RegExp(`${name}: (-?[\\d.]+|-inf) dB`).exec(stderr)?.[1]?.replace('-inf', '-200') ?? NaN);
  return { max: read('max_volume'), mean: read('mean_volume') };
}

/** The mean luma of a vertical strip at the left edge of the frame at `atSec` (black bars: ~16). */
async function leftEdgeLuma(file: string, atSec: number): Promise<number> {
  const { ffmpeg } = await testBinaries();
  const { stderr } = await run(ffmpeg, ['-hide_banner', '-nostats', '-ss', String(atSec), '-i', file, '-frames:v', '1', '-vf', 'crop=40:ih:0:0,signalstats,metadata=print:key=lavfi.signalstats.YAVG', '-f', 'null', '-']);
  return Number(/lavfi\.signalstats\.YAVG=([\d.]+)/.exec(stderr)?.[1] ?? NaN);
}

const problemPaths = (json: { errors?: { path: string }[] }) => (json.errors ?? []).map((e) => e.path);

describe('concatenation (inputs[])', { timeout: 600_000 }, () => {
  test('bad inputs answer 400 naming the field; the schema is in /openapi.json', async () => {
    const out = [{ name: 'o', template: 'mp4-h264-360p' }];
    const empty = await callApi(base, 'POST', '/v1/jobs', { inputs: [], outputs: out });
    assert.equal(empty.status, 400);
    assert.ok(problemPaths(empty.json).includes('inputs'), empty.text);
    const one = await callApi(base, 'POST', '/v1/jobs', { inputs: [{ key: 'a.mp4' }], outputs: out });
    assert.equal(one.status, 400);
    assert.ok(problemPaths(one.json).includes('inputs'), one.text);
    const many = await callApi(base, 'POST', '/v1/jobs', { inputs: Array.from({ length: 11 }, () => ({ key: 'a.mp4' })), outputs: out });
    assert.equal(many.status, 400);
    assert.ok(problemPaths(many.json).includes('inputs'), many.text);
    const both = await callApi(base, 'POST', '/v1/jobs', { input: { key: 'a.mp4' }, inputs: [{ key: 'a.mp4' }, { key: 'b.mp4' }], outputs: out });
    assert.equal(both.status, 400);
    assert.deepEqual(problemPaths(both.json), ['inputs'], both.text);
    const neither = await callApi(base, 'POST', '/v1/jobs', { outputs: out });
    assert.equal(neither.status, 400);
    assert.deepEqual(problemPaths(neither.json), ['input'], neither.text);
    const badItem = await callApi(base, 'POST', '/v1/jobs', { inputs: [{ key: 'a.mp4' }, { key: 'b.mp4', url: 'https://example.com/x.mp4' }], outputs: out });
    assert.equal(badItem.status, 400);
    assert.deepEqual(problemPaths(badItem.json), ['inputs.1'], badItem.text);
    const badClip = await callApi(base, 'POST', '/v1/jobs', { inputs: [{ key: 'a.mp4', clip: { startSec: -1 } }, { key: 'b.mp4' }], outputs: out });
    assert.equal(badClip.status, 400);
    assert.deepEqual(problemPaths(badClip.json), ['inputs.0.clip.startSec'], badClip.text);
    const missing = await callApi(base, 'POST', '/v1/jobs', { inputs: [{ key: 'nowhere/a.mp4' }, { key: 'nowhere/b.mp4' }], outputs: out });
    assert.equal(missing.status, 400);
    assert.deepEqual(problemPaths(missing.json).sort(), ['inputs.0.key'], missing.text);
    const outputClip = await callApi(base, 'POST', '/v1/jobs', { inputs: [{ key: 'a.mp4' }, { key: 'b.mp4' }], outputs: [{ ...out[0], clip: { start: 1 } }] });
    assert.equal(outputClip.status, 400);
    assert.deepEqual(problemPaths(outputClip.json), ['outputs.0.clip'], outputClip.text);

    const spec = (await callApi(base, 'GET', '/openapi.json')).json;
    const submit = spec.components.schemas.JobSubmit;
    assert.ok(submit.properties.inputs, 'JobSubmit has inputs');
    assert.equal(submit.properties.inputs.minItems, 2);
    assert.equal(submit.properties.inputs.maxItems, 10);
    assert.ok(JSON.stringify(submit.properties.inputs).includes('durationSec'), 'the item schema has clip.durationSec');
  });

  test('three different inputs (one clipped) are joined into an MP4 and an HLS ladder, normalised to the plan', async (t) => {
    const dir = path.join(stack.dataDir, 'concat-src');
    await fs.mkdir(dir, { recursive: true });
    // 2 s 640x360 @ 25 without audio; 2 s 1280x720 @ 30000/1001 with mono 44.1 kHz; 3 s portrait 360x640 @ 60 4:4:4 with stereo 48 kHz, clipped to 1 s from 0.5 s.
    await makeInput(path.join(dir, 'a.mp4'), { size: '640x360', rate: '25', durationSec: 2, audio: null });
    await makeInput(path.join(dir, 'b.mp4'), { size: '1280x720', rate: '30000/1001', durationSec: 2, audio: { sampleRate: 44100, channels: 1 } });
    // The portrait one is also 4:4:4 (another pixel format).
    await makeInput(path.join(dir, 'c.mp4'), { size: '360x640', rate: '60', durationSec: 3, audio: { sampleRate: 48000, channels: 2 }, pixFmt: 'yuv444p' });
    // a and c are uploaded objects; b is fetched from a URL (staged into the job's folder first).
    for (const n of ['a', 'c']) await putObject(base, `concat/${n}.mp4`, path.join(dir, `${n}.mp4`));
    served.set('b.mp4', await fs.readFile(path.join(dir, 'b.mp4')));

    const id = await submitJob(base, {
      inputs: [{ key: 'concat/a.mp4' }, { url: `${webBase}/media/b.mp4` }, { key: 'concat/c.mp4', clip: { startSec: 0.5, durationSec: 1 } }],
      outputs: [
        { name: 'joined', template: 'mp4-h264-360p' },
        {
          name: 'stream',
          template: 'hls-h264-ladder',
          overrides: { ladder: { segmentSec: 2, rungs: [{ name: '360p', width: 640, height: 360, bitrateKbps: 600 }, { name: '180p', width: 320, height: 180, bitrateKbps: 200 }] } },
        },
      ],
    });
    const job = await pollJob(base, id, isSettled, { timeoutMs: 480_000, intervalMs: 500 });
    assert.equal(job.status, 'succeeded', JSON.stringify({ error: job.error, tasks: job.tasks.filter((t) => t.error) }));
    // Every input was probed; the job shows them in order with their clips.
    assert.equal(job.inputs?.length, 3);
    assert.deepEqual(job.inputs!.map((i) => i.media?.video?.width), [640, 1280, 360]);
    assert.deepEqual(job.inputs!.map((i) => i.media?.video?.pixFmt), ['yuv420p', 'yuv420p', 'yuv444p']);
    assert.deepEqual(job.inputs![2]!.clip, { startSec: 0.5, durationSec: 1 });
    // One encode carried every rendition (a shared decode), never chunks.
    assert.equal(new Set(job.tasks.filter((t) => t.kind === 'transcode').map((t) => t.attempts)).size, 1);
    assert.ok(job.tasks.every((t) => t.chunks === undefined));

    // The plan: the first input's picture (640x360) and rate (25), 2 + 2 + 1 s = 125 frames.
    const plannedFrames = 50 + 50 + 25;
    const plannedSec = plannedFrames / 25;
    const objects = path.join(stack.dataDir, 'objects');
    const mp4 = path.join(objects, job.outputs.find((o) => o.name === 'joined')!.key);
    const p = await probeCounted(mp4);
    const v = p.streams.find((s) => s.codec_type === 'video')!;
    const a = p.streams.find((s) => s.codec_type === 'audio')!;
    assert.deepEqual([v.width, v.height, v.r_frame_rate, v.pix_fmt], [640, 360, '25/1', 'yuv420p']);
    assert.equal(Number(v.nb_read_frames), plannedFrames, 'frame count = planned frames');
    // One frame per join at most (2 joins), and the AAC frame at the end.
    assert.ok(Math.abs(Number(v.duration) - plannedSec) <= 2 / 25, `video ${v.duration} s vs ${plannedSec} s`);
    assert.ok(Math.abs(Number(a.duration) - plannedSec) <= 2 / 25 + 1024 / 48000, `audio ${a.duration} s vs ${plannedSec} s`);
    assert.equal(a.sample_rate, '48000');
    assert.equal(a.channels, 2);
    // Audio over the whole length: silence where the first input had none, the tones after it.
    const silent = await volume(mp4, 0.1, 1.9);
    assert.ok(silent.max < -60, `the first input's part is silent: max ${silent.max} dB`);
    const mono = await volume(mp4, 2.1, 3.9);
    assert.ok(mono.mean > -30, `the second input's tone is there: mean ${mono.mean} dB`);
    const stereo = await volume(mp4, 4.1, 4.9);
    assert.ok(stereo.mean > -30, `the third input's tone is there: mean ${stereo.mean} dB`);
    // The portrait input is fitted into the frame with black bars at the sides; the others fill it.
    assert.ok((await leftEdgeLuma(mp4, 4.5)) < 24, 'portrait part is pillarboxed');
    assert.ok((await leftEdgeLuma(mp4, 1)) > 24, 'first part fills the frame');
    assert.ok(await decodesCleanly(mp4), 'the MP4 decodes without errors');
    t.diagnostic(`mp4: ${v.width}x${v.height} @ ${v.r_frame_rate}, ${v.nb_read_frames} frames (planned ${plannedFrames}), video ${v.duration} s, audio ${a.duration} s (planned ${plannedSec} s); silent part max ${silent.max} dB, tones mean ${mono.mean} / ${stereo.mean} dB`);

    // The HLS ladder: each rung at its planned size, the same rate, frames and length.
    const hls = job.outputs.find((o) => o.name === 'stream')!;
    assert.deepEqual(hls.renditions!.map((r) => [r.width, r.height]), [[640, 360], [320, 180]]);
    for (const r of hls.renditions!) {
      const playlist = path.join(objects, r.key);
      const rp = await probeCounted(playlist);
      const rv = rp.streams.find((s) => s.codec_type === 'video')!;
      assert.deepEqual([rv.width, rv.height, rv.r_frame_rate], [r.width, r.height, '25/1'], r.name);
      assert.equal(Number(rv.nb_read_frames), plannedFrames, `${r.name}: frame count`);
      assert.ok(Math.abs(rp.durationSec - plannedSec) <= 2 / 25 + 0.05, `${r.name}: ${rp.durationSec} s vs ${plannedSec} s`);
      assert.ok(await decodesCleanly(playlist), `${r.name} decodes without errors`);
      t.diagnostic(`hls ${r.name}: ${rv.width}x${rv.height} @ ${rv.r_frame_rate}, ${rv.nb_read_frames} frames, ${rp.durationSec} s`);
    }
    // The joined audio is the HLS audio group's rendition, over the whole joined length.
    assert.equal(hls.audioTracks?.length, 1, 'one audio rendition');
    const audioPlaylist = path.join(objects, hls.audioTracks![0]!.key);
    const ap = await probeCounted(audioPlaylist);
    assert.ok(ap.streams.some((s) => s.codec_type === 'audio'), 'the audio rendition has audio');
    assert.ok(Math.abs(ap.durationSec - plannedSec) <= 0.1, `audio rendition: ${ap.durationSec} s vs ${plannedSec} s`);
    assert.ok(await decodesCleanly(audioPlaylist), 'the audio rendition decodes without errors');
    // The poster comes from the first input (10 % into it).
    assert.deepEqual(job.snapshots.map((s) => s.name), ['poster']);
    // The URL input's staged copy is gone once the job succeeded.
    const parts = await fs.readdir(path.join(objects, id, '.parts')).catch(() => [] as string[]);
    assert.deepEqual(parts, [], 'no staged inputs left');
  });

  test('a broken input fails the job without retries, naming its index', async () => {
    const dir = path.join(stack.dataDir, 'concat-broken');
    await fs.mkdir(dir, { recursive: true });
    await makeInput(path.join(dir, 'ok.mp4'), { size: '320x180', rate: '25', durationSec: 1, audio: null });
    await fs.writeFile(path.join(dir, 'junk.mp4'), 'this is not a video file at all '.repeat(64));
    await putObject(base, 'concat/ok.mp4', path.join(dir, 'ok.mp4'));
    await putObject(base, 'concat/junk.mp4', path.join(dir, 'junk.mp4'));
    const id = await submitJob(base, { inputs: [{ key: 'concat/ok.mp4' }, { key: 'concat/junk.mp4' }], outputs: [{ name: 'o', template: 'mp4-h264-360p' }] });
    // From the first answer on (the memo while queued, the workflow's state after), the job lists its inputs.
    const first = (await callApi(base, 'GET', `/v1/jobs/${id}`)).json as JobState;
    assert.deepEqual(first.inputs?.map((i) => ('key' in i ? i.key : i.url)), ['concat/ok.mp4', 'concat/junk.mp4']);
    const job: JobState = await pollJob(base, id, isSettled, { timeoutMs: 120_000, intervalMs: 300 });
    assert.equal(job.status, 'failed');
    assert.equal(job.error?.code, 'InputUnreadable');
    assert.equal(job.error?.retryable, false);
    assert.match(job.error!.message, /inputs\[1\]/);
    assert.equal(job.tasks.find((t) => t.id === 'probe')?.attempts, 1, 'not retried');
  });
});

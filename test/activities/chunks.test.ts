/**
 * Decode once and chunked encoding, on real encodes: a long input cut into chunks, each chunk one
 * decode for every video rendition, audio encoded once, renditions joined by stream copy. What a
 * user would check with ffprobe/ffmpeg: planned frame count, audio and video end together, no
 * timestamp warnings, the same picture as the unchunked encode (SSIM), every rendition decodes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import { loadConfig } from '../../model/config';
import { planJob, type TranscodeTask } from '../../media/plan';
import { planChunks } from '../../media/chunks';
import type { OutputState } from '../../model/job-state';
import type { RenditionResult } from '../../activities/encode';
import { presetOutput, testSpec } from '../helpers/spec';
import { createLocalStorage } from '../../storage/local';
import { makeClip, testBinaries } from '../helpers/media';

const run = promisify(execFile);
const SOURCE_SEC = 40;
const FPS = 30;

let dir: string;
let deps: ActivityDeps;
let acts: ReturnType<typeof createActivities>;
let tasks: TranscodeTask[];

function env(): MockActivityEnvironment {
  return new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
}

function call<F extends (...args: never[]) => Promise<unknown>>(fn: F, ...args: Parameters<F>): ReturnType<F> {
  return env().run(fn as never, ...(args as never[])) as ReturnType<F>;
}

/** Decoded frames, and the end of each stream, as ffprobe reads them. */
async function streamsOf(file: string): Promise<{ frames: number | null; videoEnd: number | null; audioEnd: number | null }> {
  const { ffprobe } = await testBinaries();
  const { stdout } = await run(ffprobe, ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_type,nb_read_frames,start_time,duration', '-of', 'json', file]);
  const streams = (JSON.parse(stdout) as { streams: Record<string, string>[] }).streams;
  const v = streams.find((s) => s.codec_type === 'video');
  const a = streams.find((s) => s.codec_type === 'audio');
  const end = (s: Record<string, string> | undefined) => (s ? Number(s.start_time) + Number(s.duration) : null);
  return { frames: v ? Number(v.nb_read_frames) : null, videoEnd: end(v), audioEnd: end(a) };
}

/** Everything ffmpeg warns about while decoding the whole file (timestamps included). */
async function decodeWarnings(file: string): Promise<string> {
  const { ffmpeg } = await testBinaries();
  const { stderr } = await run(ffmpeg, ['-v', 'warning', '-i', file, '-f', 'null', '-']);
  return stderr.trim();
}

/** Every rendition made (none failed alone). */
function outputsOf(results: RenditionResult[]): OutputState[] {
  return results.map((r) => {
    assert.ok(!('failed' in r), JSON.stringify(r));
    return r;
  });
}

async function ssim(a: string, b: string): Promise<number> {
  const { ffmpeg } = await testBinaries();
  const { stderr } = await run(ffmpeg, ['-hide_banner', '-i', a, '-i', b, '-lavfi', '[0:v][1:v]ssim', '-f', 'null', '-']);
  const m = /All:([0-9.]+)/.exec(stderr);
  assert.ok(m, `no SSIM in: ${stderr.slice(-300)}`);
  return Number(m[1]);
}

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-chunks-'));
  const config = loadConfig({ DATA_DIR: dir, FFMPEG_STALL_SEC: '30' });
  deps = { config, storage: await createLocalStorage(dir), binaries: await testBinaries(), workDir: path.join(dir, 'work'), db: () => Promise.reject(new Error('no database')) };
  acts = createActivities(deps);
  const source = path.join(dir, 'source.mp4');
  await makeClip(source, { width: 640, height: 360, durationSec: SOURCE_SEC, fps: FPS });
  await deps.storage.putFile('in.mp4', source);
  const spec = testSpec('in.mp4', [
    presetOutput('big', 'mp4-h264-360p'),
    presetOutput('small', 'mp4-h264-360p', (t) => ({ ...t, video: { ...t.video!, width: 320, height: 180 } })),
    presetOutput('sound', 'm4a-aac-128k'),
  ], { outputPrefix: 'out/' });
  const media = { durationSec: SOURCE_SEC, container: 'mov', sizeBytes: 1, still: false, video: { codec: 'h264', width: 640, height: 360, fps: FPS, rotation: 0, pixFmt: 'yuv420p', sar: [1, 1] as [number, number] }, audio: [{ codec: 'aac', channels: 2, sampleRate: 48000 }] };
  tasks = planJob(spec, media).tasks.filter((t): t is TranscodeTask => t.kind === 'transcode');
  assert.deepEqual(tasks.map((t) => t.name), ['big', 'small', 'sound']);
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('decode once and chunks', () => {
  let whole: OutputState[];
  let joined: OutputState[];
  const files: Record<string, string> = {};
  /** A copy of the output as stored: the chunked run later writes the same keys. */
  const local = async (o: OutputState, tag: string) => {
    const file = path.join(dir, `${tag}-${o.name}`);
    await fs.copyFile((await deps.storage.localPath!(o.key))!, file);
    return (files[`${tag}-${o.name}`] = file);
  };

  test('one run encodes every rendition, the audio once', async () => {
    whole = outputsOf((await call(acts.encode, { input: { key: 'in.mp4' }, tasks })).value);
    assert.deepEqual(whole.map((o) => [o.name, o.video?.width ?? null, o.audio?.codec ?? null]), [['big', 640, 'aac'], ['small', 320, 'aac'], ['sound', null, 'aac']]);
    for (const o of whole.slice(0, 2)) {
      const s = await streamsOf(await local(o, 'whole'));
      assert.equal(s.frames, SOURCE_SEC * FPS, `${o.name}: frames`);
    }
  });

  test('chunked: planned frames, A/V end together, no timestamp warnings, SSIM >= 0.99 against the one-run encode', async () => {
    const chunks = planChunks(tasks, { minDurationSec: 20, chunkSec: 12 });
    assert.ok(chunks, 'a 40 s input is chunked');
    assert.deepEqual(chunks.map((c) => [c.startSec, c.durationSec]), [[0, 12], [12, 12], [24, 12], [36, null]]);
    const group = { tasks, workPrefix: 'out/.parts/0/' };
    const audio = (await call(acts.encodeAudio, { input: { key: 'in.mp4' }, group })).value;
    assert.deepEqual(audio, ['out/.parts/0/audio-0.mp4'], 'one audio encode for three renditions that share its setting');
    // Any order, as workers would take them.
    for (const c of [...chunks].reverse()) await call(acts.encodeChunk, { input: { key: 'in.mp4' }, group, chunk: c });
    joined = outputsOf((await call(acts.joinRenditions, { group, chunkCount: chunks.length })).value);
    assert.deepEqual(joined.map((o) => o.name), ['big', 'small', 'sound']);

    for (const o of joined.slice(0, 2)) {
      const file = await local(o, 'joined');
      const s = await streamsOf(file);
      assert.equal(s.frames, SOURCE_SEC * FPS, `${o.name}: planned frame count`);
      assert.ok(s.videoEnd !== null && s.audioEnd !== null);
      assert.ok(Math.abs(s.videoEnd - s.audioEnd) <= 1 / FPS + 1e-6, `${o.name}: video ends ${s.videoEnd}, audio ${s.audioEnd}`);
      assert.equal(await decodeWarnings(file), '', `${o.name}: decodes without warnings`);
      const score = await ssim(file, files[`whole-${o.name}`]!);
      assert.ok(score >= 0.99, `${o.name}: SSIM ${score} against the one-run encode`);
    }
    const sound = await streamsOf(await local(joined[2]!, 'joined'));
    assert.equal(sound.frames, null);
    assert.ok(sound.audioEnd !== null && Math.abs(sound.audioEnd - SOURCE_SEC) < 0.1, `audio-only output lasts ${sound.audioEnd} s`);
  });
});

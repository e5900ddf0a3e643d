/** The activities with real ffmpeg in a MockActivityEnvironment: broken inputs, heartbeats, cancellation. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import { loadConfig } from '../../model/config';
import { planJob, type SnapshotTask, type TranscodeTask } from '../../media/plan';
import type { ResolvedSnapshot } from '../../model/job';
import { presetOutput, testSpec } from '../helpers/spec';
import { createLocalStorage } from '../../storage/local';
import { makeClip, probeFile, testBinaries } from '../helpers/media';
import { scratchLeft } from '../helpers/jobs';

/** An activity environment that logs only errors: failed activities are what these tests expect. */
function newEnv(): MockActivityEnvironment {
  return new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
}

/** env.run with the activity's own parameter and result types. */
function runIn<F extends (...args: never[]) => Promise<unknown>>(env: MockActivityEnvironment, fn: F, ...args: Parameters<F>): ReturnType<F> {
  return env.run(fn as never, ...(args as never[])) as ReturnType<F>;
}

let dir: string;
let deps: ActivityDeps;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-act-'));
  const config = loadConfig({ DATA_DIR: dir, FFMPEG_STALL_SEC: '20' });
  deps = {
    config,
    storage: await createLocalStorage(dir),
    binaries: await testBinaries(),
    workDir: path.join(dir, 'work'),
    db: () => Promise.reject(new Error('these activities need no database')),
  };
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function put(key: string, file: string): Promise<void> {
  await deps.storage.put(key, createReadStream(file));
}

async function probeFailure(key: string, overrides: Partial<ActivityDeps['config']> = {}): Promise<ApplicationFailure> {
  const acts = createActivities({ ...deps, config: { ...deps.config, ...overrides } });
  const err = await runIn(newEnv(), acts.probeInput, key).then(
    () => assert.fail(`probing ${key} should fail`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, `got ${String(err)}`);
  return err;
}

async function transcodeTask(inputKey: string, jobId: string): Promise<TranscodeTask> {
  const media = (await runIn(newEnv(), createActivities(deps).probeInput, inputKey)).value;
  const spec = testSpec(inputKey, [presetOutput('v', 'mp4-h264-720p')], { id: jobId, snapshots: [] });
  return planJob(spec, media).tasks[0] as TranscodeTask;
}

describe('probe', () => {
  test('reads a real clip into MediaInfo', async () => {
    const file = path.join(dir, 'ok.mp4');
    await makeClip(file, { width: 640, height: 360, durationSec: 2 });
    await put('raw/ok.mp4', file);
    const { value } = await runIn(newEnv(), createActivities(deps).probeInput, 'raw/ok.mp4');
    assert.deepEqual(value.video && [value.video.codec, value.video.width, value.video.height, value.video.fps], ['h264', 640, 360, 30]);
    assert.deepEqual(value.audio, [{ codec: 'aac', channels: 2, sampleRate: 48000, default: true }]);
    assert.ok(Math.abs(value.durationSec - 2) < 0.1);
  });

  const broken: [string, string, () => Promise<string>][] = [
    ['an empty file', 'InputEmpty', async () => {
      const f = path.join(dir, 'empty.mp4');
      await fs.writeFile(f, '');
      return f;
    }],
    ['text that is not media', 'InputUnreadable', async () => {
      const f = path.join(dir, 'text.mp4');
      await fs.writeFile(f, 'hello, this is not a video\n'.repeat(40));
      return f;
    }],
    ['a truncated MP4', 'InputUnreadable', async () => {
      const whole = path.join(dir, 'whole.mp4');
      await makeClip(whole, { durationSec: 2 });
      const f = path.join(dir, 'truncated.mp4');
      await fs.writeFile(f, (await fs.readFile(whole)).subarray(0, 4096));
      return f;
    }],
    ['an ffconcat list naming a local file', 'UnsupportedInput', async () => {
      const f = path.join(dir, 'list.ffconcat');
      await fs.writeFile(f, `ffconcat version 1.0\nfile '${path.join(dir, 'ok.mp4')}'\n`);
      return f;
    }],
    ['an MP4 whose header claims 10 hours (over the 4-hour limit)', 'InputTooLarge', async () => {
      // One real second of audio; the movie header (mvhd, version 0) is rewritten to say 36000 s.
      const real = path.join(dir, 'one-second.m4a');
      await makeClip(real, { video: false, durationSec: 1 });
      const bytes = await fs.readFile(real);
      const at = bytes.indexOf('mvhd');
      assert.equal(bytes[at + 4], 0, 'a version-0 mvhd');
      bytes.writeUInt32BE(36_000 * bytes.readUInt32BE(at + 16), at + 20);
      const f = path.join(dir, 'ten-hours.m4a');
      await fs.writeFile(f, bytes);
      return f;
    }],
    ['an HLS playlist pointing at a local file', 'UnsupportedInput', async () => {
      const f = path.join(dir, 'list.m3u8');
      await fs.writeFile(f, `#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n${path.join(dir, 'ok.mp4')}\n#EXT-X-ENDLIST\n`);
      return f;
    }],
  ];
  for (const [what, code, make] of broken) {
    test(`${what} fails non-retryably with ${code}`, async () => {
      const key = `raw/${path.basename(await make().then(async (f) => (await put(`raw/${path.basename(f)}`, f), f)))}`;
      const err = await probeFailure(key);
      assert.equal(err.type, code);
      assert.equal(err.nonRetryable, true);
      assert.doesNotMatch(err.message, new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no local paths in messages');
    });
  }

  test('a missing object, and inputs over the size or duration limits, have their own codes', async () => {
    assert.equal((await probeFailure('raw/absent.mp4')).type, 'InputMissing');
    assert.equal((await probeFailure('raw/ok.mp4', { MAX_INPUT_PIXELS: 320 * 240 })).type, 'InputTooLarge');
    assert.equal((await probeFailure('raw/ok.mp4', { MAX_INPUT_DURATION_SEC: 1 })).type, 'InputTooLarge');
  });
});

describe('transcode', { timeout: 120_000 }, () => {
  test('heartbeats rising progress while ffmpeg runs and uploads a valid output', async () => {
    const file = path.join(dir, 'hb.mp4');
    await makeClip(file, { width: 1280, height: 720, durationSec: 6 });
    await put('raw/hb.mp4', file);
    const task = await transcodeTask('raw/hb.mp4', 'job_hb');
    const env = newEnv();
    const beats: number[] = [];
    env.on('heartbeat', (d: { progress: number }) => beats.push(d.progress));
    const { value } = await runIn(env, createActivities(deps).transcode, { inputKey: 'raw/hb.mp4', task });
    assert.ok(beats.length >= 3, `only ${beats.length} heartbeats`);
    assert.deepEqual([...beats].sort((a, b) => a - b), beats, 'progress never goes back');
    assert.equal(beats.at(-1), 1);
    assert.ok(beats.some((p) => p > 0 && p < 1), `no intermediate progress in ${beats.join(',')}`);
    const out = await probeFile(path.join(dir, 'objects', value.key));
    assert.deepEqual(out.streams.map((s) => [s.codec_type, s.codec_name]), [['video', 'h264'], ['audio', 'aac']]);
    assert.deepEqual(await scratchLeft(path.join(deps.workDir, 'outputs')), [], 'scratch files removed');
  });

  test('cancellation kills ffmpeg, removes the scratch file and writes no object', async () => {
    const file = path.join(dir, 'long.mp4');
    await makeClip(file, { width: 1280, height: 720, durationSec: 30, fps: 30 });
    await put('raw/long.mp4', file);
    const planned = await transcodeTask('raw/long.mp4', 'job_cancel');
    // A slower preset so the cancel lands mid-encode.
    const task: TranscodeTask = { ...planned, video: { ...planned.video!, preset: 'medium' } };
    const env = newEnv();
    env.on('heartbeat', (d: { progress: number }) => {
      if (d.progress > 0) env.cancel();
    });
    const err = await runIn(env, createActivities(deps).transcode, { inputKey: 'raw/long.mp4', task }).then(
      () => assert.fail('a cancelled transcode must not succeed'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof CancelledFailure, `got ${String(err)}`);
    const deadline = Date.now() + 5000;
    let left = '';
    do {
      try {
        left = execFileSync('pgrep', ['-f', deps.workDir]).toString();
      } catch {
        left = '';
      }
      if (left) await new Promise((r) => setTimeout(r, 100));
    } while (left && Date.now() < deadline);
    assert.equal(left, '', 'no ffmpeg left running');
    assert.deepEqual(await scratchLeft(path.join(deps.workDir, 'outputs')), []);
    assert.equal(await deps.storage.head(task.outputKey), null);
  });
});

describe('snapshot', { timeout: 120_000 }, () => {
  async function snapshotTask(inputKey: string, jobId: string, settings: ResolvedSnapshot['settings']): Promise<SnapshotTask> {
    const media = (await runIn(newEnv(), createActivities(deps).probeInput, inputKey)).value;
    const spec = testSpec(inputKey, [], { id: jobId, snapshots: [{ name: 'frames', templateId: null, settings }] });
    const task = planJob(spec, media).tasks.find((t): t is SnapshotTask => t.kind === 'snapshot');
    assert.ok(task);
    return task;
  }

  test('several frames in one pass: heartbeats rise to 1, every planned key is written, the scratch directory goes', async () => {
    const file = path.join(dir, 'frames.mp4');
    await makeClip(file, { width: 1280, height: 720, durationSec: 20, fps: 30 });
    await put('raw/frames.mp4', file);
    // Full-size PNGs: enough work for the once-a-second heartbeats to see it move.
    const task = await snapshotTask('raw/frames.mp4', 'job_snap', { count: 60, format: 'png' });
    const env = newEnv();
    const beats: number[] = [];
    env.on('heartbeat', (d: { progress: number }) => beats.push(d.progress));
    const { value } = await runIn(env, createActivities(deps).snapshot, { inputKey: 'raw/frames.mp4', task });
    assert.deepEqual(value.keys, task.keys);
    assert.equal(value.keys.length, 60);
    for (const key of value.keys) assert.ok((await deps.storage.head(key))?.sizeBytes, key);
    assert.deepEqual([...beats].sort((a, b) => a - b), beats, 'progress never goes back');
    assert.equal(beats.at(-1), 1);
    assert.ok(beats.some((p) => p > 0 && p < 1), `no intermediate progress in ${beats.join(',')}`);
    assert.deepEqual(await scratchLeft(path.join(deps.workDir, 'outputs')), [], 'scratch directory removed');
  });
});

/**
 * Durable control with real worker processes, real ffmpeg and the real dev server: cancel (API and
 * the CLI's signal), kill -9 of a worker mid-transcode, and fail → fix → retry of only the failed task.
 */
import { fetchJob, submitJob } from '../helpers/http';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { JobState } from '../../model/job-state';
import { findTemporalCli } from '../../scripts/temporal-cli';
import { spawnWorker, startStack, type Stack, type WorkerProcess } from '../helpers/stack';
import { decodesCleanly, makeClip, probeFile } from '../helpers/media';
import { isSettled, pollJob, scratchLeft } from '../helpers/jobs';

let stack: Stack;
let base: string;
let worker: WorkerProcess | null = null;

before(async () => {
  stack = await startStack({ api: true, worker: 'none', env: { JOB_RETRY_WINDOW_SEC: '600' } });
  base = stack.api!.url;
  // 20 s of 720p: long enough that a slow preset keeps ffmpeg busy while the test steers it.
  const clip = path.join(stack.dataDir, 'long.mp4');
  await makeClip(clip, { width: 1280, height: 720, durationSec: 20 });
  await stack.storage.put('raw/long.mp4', (await import('node:fs')).createReadStream(clip));
});
after(async () => {
  await worker?.stop();
  await stack?.stop();
});

const slowOutput = { name: 'slow', template: 'mp4-h264-720p', overrides: { video: { preset: 'slow' } } };

const submit = (body: unknown): Promise<string> => submitJob(base, body);
const job = (id: string): Promise<JobState> => fetchJob(base, id);

const until = (id: string, done: (j: JobState) => boolean, timeoutMs = 180_000): Promise<JobState> => pollJob(base, id, done, { timeoutMs });

const transcoding = (j: JobState) => j.tasks.some((t) => t.kind === 'transcode' && t.status === 'running' && t.progress > 0);
const final = isSettled;

function ffmpegsOn(dir: string): string {
  try {
    return execFileSync('pgrep', ['-af', `ffmpeg.*${dir}`]).toString().trim();
  } catch {
    return '';
  }
}

async function objectsUnder(prefix: string): Promise<string[]> {
  const dir = path.join(stack.dataDir, 'objects', prefix);
  return (await fs.readdir(dir, { recursive: true }).catch(() => [] as string[])).map(String).sort();
}

async function assertCanceledCleanly(id: string, since: number): Promise<JobState> {
  const j = await until(id, final, 30_000);
  assert.equal(j.status, 'canceled');
  assert.equal(j.error?.code, 'Canceled');
  assert.equal(j.tasks.find((t) => t.kind === 'transcode')?.status, 'canceled');
  assert.deepEqual(j.outputs, []);
  assert.deepEqual(j.notifications, [{ event: 'job.canceled', status: 'skipped', attempts: 0 }]);
  while (ffmpegsOn(stack.dataDir) && Date.now() - since < 5000) await new Promise((r) => setTimeout(r, 100));
  assert.equal(ffmpegsOn(stack.dataDir), '', 'no ffmpeg left 5 s after the cancel');
  assert.deepEqual(await objectsUnder(id), [], 'no partial (or finished) output left in the store');
  assert.deepEqual(await scratchLeft(path.join(stack.dataDir, 'work', 'outputs')), [], 'no scratch file left');
  return j;
}

describe('durable control', { timeout: 600_000 }, () => {
  before(async () => {
    worker = await spawnWorker(stack.config);
  });

  test('POST /cancel during a transcode: ffmpeg killed, nothing left, job canceled; a second cancel is 409', async () => {
    const id = await submit({ input: { key: 'raw/long.mp4' }, outputs: [slowOutput] });
    await until(id, transcoding);
    const asked = Date.now();
    const res = await fetch(`${base}/v1/jobs/${id}/cancel`, { method: 'POST' });
    assert.equal(res.status, 202);
    await assertCanceledCleanly(id, asked);
    console.log(`# cancel via API: canceled and cleaned up in ${Date.now() - asked} ms`);
    const again = await fetch(`${base}/v1/jobs/${id}/cancel`, { method: 'POST' });
    assert.equal(again.status, 409);
  });

  test('`temporal workflow signal --name cancel` does the same', async () => {
    const id = await submit({ input: { key: 'raw/long.mp4' }, outputs: [slowOutput] });
    await until(id, transcoding);
    const asked = Date.now();
    execFileSync(findTemporalCli()!, ['workflow', 'signal', '--address', stack.config.TEMPORAL_ADDRESS, '--workflow-id', id, '--name', 'cancel', '--input', '{"reason":"operator"}']);
    const j = await assertCanceledCleanly(id, asked);
    assert.match(j.error!.message, /operator/);
    console.log(`# cancel via CLI signal: canceled and cleaned up in ${Date.now() - asked} ms`);
  });

  test('kill -9 of the worker mid-transcode: a new worker finishes the job, each output exactly once', async () => {
    const id = await submit({ input: { key: 'raw/long.mp4' }, outputs: [{ name: 'hd', template: 'mp4-h264-720p', overrides: { video: { preset: 'medium' } } }] });
    await until(id, transcoding);
    worker!.kill9();
    const killed = Date.now();
    worker = await spawnWorker(stack.config);
    await until(id, (x) => x.tasks.some((t) => t.id === 'transcode:hd' && t.attempts >= 2 && t.status === 'running'));
    console.log(`# kill -9 worker: the transcode moved to the new worker ${Date.now() - killed} ms after the kill`);
    const j = await until(id, final);
    assert.equal(j.status, 'succeeded', JSON.stringify(j.error));
    const hd = j.tasks.find((t) => t.id === 'transcode:hd');
    assert.ok((hd?.attempts ?? 0) >= 2, `the transcode was retried elsewhere (attempts ${hd?.attempts})`);
    assert.deepEqual(await objectsUnder(id), ['hd.mp4', 'poster.jpg']);
    const file = path.join(stack.dataDir, 'objects', id, 'hd.mp4');
    const out = await probeFile(file);
    assert.ok(Math.abs(out.durationSec - 20) <= 0.1, `duration ${out.durationSec}`);
    assert.ok(await decodesCleanly(file));
    console.log(`# kill -9 worker: job succeeded ${Date.now() - killed} ms after the kill`);
  });

  test('a task that fails, a fix, a retry: only that task runs again and the job succeeds', async () => {
    await worker!.stop();
    // The "cause": outputs are capped at 600 kB, and one output is far bigger.
    worker = await spawnWorker(stack.config, { MAX_OUTPUT_BYTES: '600000' });
    const clip = path.join(stack.dataDir, 'short.mp4');
    await makeClip(clip, { width: 1280, height: 720, durationSec: 2 });
    await stack.storage.put('raw/short.mp4', (await import('node:fs')).createReadStream(clip));
    const id = await submit({
      input: { key: 'raw/short.mp4' },
      outputs: [
        { name: 'small', template: 'mp4-h264-360p' },
        { name: 'big', template: 'mp4-h264-720p', overrides: { video: { bitrateKbps: 20000, maxrateKbps: 30000, bufsizeKbps: 40000 } } },
      ],
    });
    const failed = await until(id, final);
    assert.equal(failed.status, 'failed');
    const big = failed.tasks.find((t) => t.id === 'transcode:big');
    assert.deepEqual([big?.status, big?.error?.code, big?.attempts], ['failed', 'OutputTooLarge', 1]);
    assert.deepEqual(failed.tasks.filter((t) => t.status === 'succeeded').map((t) => t.id).sort(), ['probe', 'snapshot:poster', 'transcode:small']);
    assert.deepEqual(await objectsUnder(id), ['poster.jpg', 'small.mp4']);
    const smallBefore = await fs.stat(path.join(stack.dataDir, 'objects', id, 'small.mp4'));

    // Retrying before the fix is allowed but fails the same way; so fix first: raise the cap.
    await worker!.stop();
    worker = await spawnWorker(stack.config, { MAX_OUTPUT_BYTES: String(64 * 1024 * 1024) });
    const fixedAt = Date.now();
    const res = await fetch(`${base}/v1/jobs/${id}/retry`, { method: 'POST' });
    assert.equal(res.status, 202);
    assert.deepEqual(((await res.json()) as { tasks: string[] }).tasks, ['transcode:big']);
    const done = await until(id, final);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.error, null);
    assert.deepEqual(done.outputs.map((o) => o.name).sort(), ['big', 'small']);
    assert.deepEqual(await objectsUnder(id), ['big.mp4', 'poster.jpg', 'small.mp4']);
    const smallAfter = await fs.stat(path.join(stack.dataDir, 'objects', id, 'small.mp4'));
    assert.equal(smallAfter.mtimeMs, smallBefore.mtimeMs, 'the task that had succeeded did not run again');
    assert.equal(done.tasks.find((t) => t.id === 'transcode:small')?.attempts, 1);
    assert.deepEqual(done.notifications.map((n) => n.event), ['job.failed', 'job.succeeded']);
    console.log(`# fail → fix → retry: succeeded ${Date.now() - fixedAt} ms after the retry`);

    const again = await fetch(`${base}/v1/jobs/${id}/retry`, { method: 'POST' });
    assert.equal(again.status, 409, 'nothing left to retry');
  });
});

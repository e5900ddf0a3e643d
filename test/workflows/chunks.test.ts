/**
 * Cutting the work on the real stack (Temporal dev server, worker processes, real ffmpeg): a long
 * input is encoded in chunks by two workers; kill -9 of one mid-chunk re-runs only that chunk and
 * the joined output still has every frame once, audio and video ending together; cancel of a
 * chunked job leaves no ffmpeg and no object; a task waiting for an encode slot is `queued`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { spawnWorker, startStack, type Stack, type WorkerProcess } from '../helpers/stack';
import { makeClip, testBinaries } from '../helpers/media';
import { presetOutput, testSpec } from '../helpers/spec';
import { taskQueueFor } from '../../model/config';
import type { JobSpec } from '../../model/job';
import type { JobState } from '../../model/job-state';
import { stateQuery, WORKFLOW_TYPE } from '../../workflows/definitions';

const run = promisify(execFile);
const SOURCE_SEC = 36;
const FPS = 30;
/** 36 s in 6 s chunks: six chunks, two renditions each. */
const chunking = { minDurationSec: 20, chunkSec: 6, maxParallel: 4 };

let stack: Stack;
let workers: WorkerProcess[] = [];

before(async () => {
  stack = await startStack({ worker: 'none', env: { JOB_RETRY_WINDOW_SEC: '5' } });
  const src = path.join(stack.dataDir, 'long.mp4');
  await makeClip(src, { width: 640, height: 360, durationSec: SOURCE_SEC, fps: FPS });
  await stack.storage.putFile('raw/long.mp4', src);
});

after(async () => {
  for (const w of workers) await w.stop().catch(() => undefined);
  await stack?.stop();
});

/** Two renditions at a slow preset, so a chunk takes long enough to be caught running. */
function chunkedSpec(extra: Partial<JobSpec> = {}): JobSpec {
  const slow = (name: string, width: number, height: number) => presetOutput(name, 'mp4-h264-360p', (t) => ({ ...t, video: { ...t.video!, width, height, preset: 'slow' } }));
  return testSpec('raw/long.mp4', [slow('big', 640, 360), slow('small', 320, 180)], { outputPrefix: 'out/', snapshots: [], chunking, ...extra });
}

function start(spec: JobSpec): Promise<WorkflowHandle> {
  return stack.client.workflow.start(WORKFLOW_TYPE, { workflowId: spec.id, taskQueue: taskQueueFor(stack.config, 'default'), args: [spec] });
}

async function until(handle: WorkflowHandle, ok: (s: JobState) => boolean, what: string, timeoutMs = 120_000): Promise<JobState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await handle.query(stateQuery);
    if (ok(s)) return s;
    if (Date.now() > deadline) throw new Error(`${what}: not reached; last ${JSON.stringify(s.tasks)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Per activity id: how often it started, which workers started it, whether it completed. */
async function activityRuns(handle: WorkflowHandle): Promise<Map<string, { starts: number; identities: string[]; completed: number }>> {
  const history = await handle.fetchHistory();
  const scheduled = new Map<string, string>();
  const runs = new Map<string, { starts: number; identities: string[]; completed: number }>();
  for (const e of history.events ?? []) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) {
      scheduled.set(id, e.activityTaskScheduledEventAttributes.activityId ?? '');
      runs.set(e.activityTaskScheduledEventAttributes.activityId ?? '', { starts: 0, identities: [], completed: 0 });
    }
    const startedAttrs = e.activityTaskStartedEventAttributes;
    if (startedAttrs) {
      const r = runs.get(scheduled.get(String(startedAttrs.scheduledEventId)) ?? '')!;
      // A started event records the last attempt only; its `attempt` says how many there were.
      r.starts = startedAttrs.attempt ?? 1;
      r.identities.push(startedAttrs.identity ?? '');
    }
    const completedAttrs = e.activityTaskCompletedEventAttributes;
    if (completedAttrs) runs.get(scheduled.get(String(completedAttrs.scheduledEventId)) ?? '')!.completed += 1;
  }
  return runs;
}

async function streamsOf(file: string): Promise<{ frames: number; videoEnd: number; audioEnd: number }> {
  const { ffprobe } = await testBinaries();
  const { stdout } = await run(ffprobe, ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_type,nb_read_frames,start_time,duration', '-of', 'json', file]);
  const streams = (JSON.parse(stdout) as { streams: Record<string, string>[] }).streams;
  const v = streams.find((s) => s.codec_type === 'video')!;
  const a = streams.find((s) => s.codec_type === 'audio')!;
  return { frames: Number(v.nb_read_frames), videoEnd: Number(v.start_time) + Number(v.duration), audioEnd: Number(a.start_time) + Number(a.duration) };
}

async function ffmpegsUnder(dir: string): Promise<string[]> {
  const { stdout } = await run('ps', ['-eo', 'pid,args']).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter((l) => l.includes('ffmpeg') && l.includes(dir));
}

describe('chunked encoding on the real stack', { timeout: 900_000 }, () => {
  test('two workers share the chunks; kill -9 of one mid-chunk re-runs that chunk alone; the output has every frame once', async () => {
    workers = [await spawnWorker(stack.config), await spawnWorker(stack.config)];
    const spec = chunkedSpec();
    const handle = await start(spec);
    // Both workers busy with chunks, then one dies.
    const busy = await until(handle, (s) => s.tasks.some((t) => t.kind === 'transcode' && t.status === 'running'), 'a chunk running');
    assert.deepEqual(busy.tasks.filter((t) => t.kind === 'transcode').map((t) => t.chunks), [6, 6], 'one task per rendition, with its chunk count');
    const victim = workers[0]!;
    let runningThere: string | undefined;
    for (let i = 0; i < 300 && !runningThere; i++) {
      const d = await handle.describe();
      runningThere = d.raw.pendingActivities?.find((p) => p.activityId?.includes('/chunk-') && p.state === 2 && p.lastWorkerIdentity?.startsWith(`${victim.child.pid}@`))?.activityId ?? undefined;
      if (!runningThere) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(runningThere, 'a chunk ran on the first worker');
    // Every chunk the victim holds now (it has two encode slots), then the kill.
    const held = new Set(((await handle.describe()).raw.pendingActivities ?? []).filter((p) => p.state === 2 && p.lastWorkerIdentity?.startsWith(`${victim.child.pid}@`)).map((p) => p.activityId ?? ''));
    held.add(runningThere);
    victim.kill9();
    const killed = Date.now();
    const state = (await handle.result()) as JobState;
    console.log(`# kill -9 mid-chunk: the job succeeded ${Date.now() - killed} ms after the kill (${runningThere} re-ran)`);
    assert.equal(state.status, 'succeeded', JSON.stringify(state.error));

    const runs = await activityRuns(handle);
    const chunks = [...runs].filter(([id]) => id.includes('/chunk-'));
    assert.equal(chunks.length, 6);
    for (const [id, r] of chunks) {
      assert.equal(r.completed, 1, `${id} completed once`);
      assert.equal(r.starts, held.has(id) ? 2 : 1, `${id}: only the killed worker's chunks ran twice (${[...held].join(', ')})`);
    }
    // The history keeps the last attempt's worker; the killed worker's run was seen while pending.
    const identities = new Set([...chunks.flatMap(([, r]) => r.identities), `${victim.child.pid}@`]);
    assert.ok([...identities].some((i) => !i.startsWith(`${victim.child.pid}@`)), `the other worker ran chunks too: ${[...identities].join(', ')}`);

    for (const o of state.outputs) {
      const file = (await stack.storage.localPath!(o.key))!;
      const s = await streamsOf(file);
      assert.equal(s.frames, SOURCE_SEC * FPS, `${o.name}: every frame once`);
      assert.ok(Math.abs(s.videoEnd - s.audioEnd) <= 1 / FPS + 1e-6, `${o.name}: video ends at ${s.videoEnd}, audio at ${s.audioEnd}`);
      const { ffmpeg } = await testBinaries();
      const { stderr } = await run(ffmpeg, ['-v', 'warning', '-i', file, '-f', 'null', '-']);
      assert.equal(stderr.trim(), '', `${o.name} decodes without warnings`);
    }
    const left = await fs.readdir(path.join(stack.dataDir, 'objects', 'out', spec.id));
    assert.deepEqual(left.sort(), ['big.mp4', 'small.mp4'], 'the chunks and the audio are gone');
  });

  test('cancel of a chunked job: every chunk stops, no ffmpeg and no object left', async () => {
    const spec = chunkedSpec();
    const handle = await start(spec);
    await until(handle, (s) => s.tasks.some((t) => t.kind === 'transcode' && t.status === 'running'), 'a chunk running');
    await new Promise((r) => setTimeout(r, 1500));
    await handle.cancel();
    const state = (await handle.result()) as JobState;
    assert.equal(state.status, 'canceled');
    assert.deepEqual(state.tasks.filter((t) => t.kind === 'transcode').map((t) => t.status), ['canceled', 'canceled']);
    assert.deepEqual(await ffmpegsUnder(stack.dataDir), [], 'no ffmpeg left');
    assert.equal(await fs.stat(path.join(stack.dataDir, 'objects', 'out', spec.id)).catch(() => null), null, 'no object left');
  });

  test('a task waits `queued` while every encode slot is busy, and runs once a slot frees', async () => {
    for (const w of workers) await w.stop().catch(() => undefined);
    workers = [await spawnWorker(stack.config, { WORKER_ACTIVITY_CONCURRENCY: '1' })];
    const first = await start(chunkedSpec({ chunking: { ...chunking, maxParallel: 1 } }));
    await until(first, (s) => s.tasks.some((t) => t.kind === 'transcode' && t.status === 'running'), 'the first job encoding');
    const second = await start(testSpec('raw/long.mp4', [presetOutput('clip', 'mp4-h264-360p')].map((o) => ({ ...o, clip: { start: 0, duration: 2 } })), { outputPrefix: 'out/', snapshots: [] }));
    const waiting = await until(second, (s) => s.tasks.some((t) => t.kind === 'transcode' && t.status !== 'pending'), 'the second job scheduled');
    const clip = waiting.tasks.find((t) => t.kind === 'transcode')!;
    assert.equal(clip.status, 'queued', 'no slot: queued, not running');
    const done = (await second.result()) as JobState;
    assert.equal(done.status, 'succeeded');
    await first.cancel();
    await first.result();
  });
});

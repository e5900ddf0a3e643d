/**
 * mediaJob's orchestration on Temporal's time-skipping test server with STUB activities: retry
 * window, cancel in every phase, dependency failure, pipeline pause/resume, idempotent submission,
 * ignored retry signals, MediaFinishedAt. No ffmpeg, no storage: a change to retry/cancel/dependency
 * logic is checked in seconds (the real stack's tests in test/workflows and test/e2e check the rest).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import { Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import type { Activities } from '../../activities';
import type { JobSpec } from '../../model/job';
import type { JobState, MediaInfo } from '../../model/job-state';
import { cancelSignal, pipelineResumedSignal, retrySignal, searchAttributes, stateQuery, WORKFLOW_TYPE } from '../../workflows/definitions';
import { bundleWorkflows } from '../../worker/main';
import { lightQueueOf } from '../../model/queues';
import { presetOutput, testSpec } from '../helpers/spec';
import { startTimeSkippingServer, type TimeSkippingServer } from './test-server';

const TASK_QUEUE = 'time-skipping';
const suiteStarted = Date.now();
let server: TimeSkippingServer;
let worker: Worker;
let light: Worker;
let running: Promise<void>;

const media: MediaInfo = {
  durationSec: 10,
  still: false,
  container: 'mov,mp4,m4a,3gp,3g2,mj2',
  sizeBytes: 1_000_000,
  video: { codec: 'h264', width: 854, height: 480, fps: 30, rotation: 0, pixFmt: 'yuv420p', sar: [1, 1] },
  audio: [{ codec: 'aac', channels: 2, sampleRate: 48000, default: true }],
};

type Stub = { [K in keyof Activities]?: (...args: Parameters<Activities[K]>) => ReturnType<Activities[K]> };

/** Per job (workflow id): what its activities do, and the activity ids they ran under. */
const stubs = new Map<string, Stub>();
const calls = new Map<string, string[]>();
/** Resolved when an activity of that job with that id starts. */
const startedWaiters = new Map<string, () => void>();

function info() {
  return Context.current().info;
}

function attempted<T>(value: T) {
  return { value, attempt: info().attempt };
}

/** Heartbeats until canceled, then throws as the real activities do: CancelledFailure with the attempt. */
async function runUntilCanceled(): Promise<never> {
  const ctx = Context.current();
  try {
    for (;;) {
      ctx.heartbeat({ progress: 0.5 });
      await ctx.sleep(50);
    }
  } catch (err) {
    if (err instanceof CancelledFailure) throw new CancelledFailure(err.message, [{ attempt: ctx.info.attempt }]);
    throw err;
  }
}

const failWith = (type: string, message = `stub ${type}`) => ApplicationFailure.create({ type, message, nonRetryable: true, details: [{ attempt: info().attempt }] });

function dispatch<K extends keyof Activities>(name: K, fallback: (...args: Parameters<Activities[K]>) => ReturnType<Activities[K]>) {
  return ((...args: Parameters<Activities[K]>) => {
    const { workflowExecution, activityId } = info();
    const id = workflowExecution?.workflowId ?? '';
    (calls.get(id) ?? calls.set(id, []).get(id)!).push(activityId);
    startedWaiters.get(`${id}/${activityId}`)?.();
    const stub = stubs.get(id)?.[name] as ((...a: Parameters<Activities[K]>) => ReturnType<Activities[K]>) | undefined;
    return (stub ?? fallback)(...args);
  }) as Activities[K];
}

const output = (name: string, key: string) => ({ name, key, sizeBytes: 1000, durationSec: 10, video: null, audio: null });

const activities: Partial<Activities> = {
  probeInput: dispatch('probeInput', async () => attempted(media)),
  transcode: dispatch('transcode', async (i) => attempted(output(i.task.name, i.task.outputKey))),
  encode: dispatch('encode', async (i) => attempted(i.tasks.map((t) => output(t.name, t.outputKey)))),
  encodeAudio: dispatch('encodeAudio', async () => attempted([])),
  encodeChunk: dispatch('encodeChunk', async () => attempted(null)),
  joinRenditions: dispatch('joinRenditions', async (i) => attempted(i.group.tasks.map((t) => output(t.name, t.outputKey)))),
  snapshot: dispatch('snapshot', async (i) => attempted({ name: i.task.name, keys: i.task.keys })),
  watermark: dispatch('watermark', async (i) => attempted({ key: i.task.assetKey, width: 100, height: 50 }) as never),
  packageOutput: dispatch('packageOutput', async (i) => attempted(output(i.task.name, i.task.outputKey))),
  pipelineState: dispatch('pipelineState', async () => 'active' as const),
  removeObjects: dispatch('removeObjects', async () => undefined),
  notify: dispatch('notify', async () => attempted(null)),
};

before(async () => {
  const t0 = Date.now();
  server = await startTimeSkippingServer();
  worker = await Worker.create({
    connection: server.env.nativeConnection,
    taskQueue: TASK_QUEUE,
    workflowBundle: await bundleWorkflows(),
    activities,
    // A cancel reaches an activity in the answer to a heartbeat: send them often (the default waits 8 s).
    maxHeartbeatThrottleInterval: '100ms',
    defaultHeartbeatThrottleInterval: '100ms',
  });
  // Light work (probe, snapshots, packaging, cleanup, callbacks) has a queue of its own.
  light = await Worker.create({
    connection: server.env.nativeConnection,
    taskQueue: lightQueueOf(TASK_QUEUE),
    activities,
    maxHeartbeatThrottleInterval: '100ms',
    defaultHeartbeatThrottleInterval: '100ms',
  });
  running = Promise.all([worker.run(), light.run()]).then(() => undefined);
  console.log(`# time-skipping server and worker ready in ${Date.now() - t0} ms`);
});

after(async () => {
  worker?.shutdown();
  light?.shutdown();
  await running;
  await server?.stop();
  console.log(`# time-skipping suite: ${Date.now() - suiteStarted} ms in all`);
});

function spec(extra: Partial<JobSpec> = {}, outputs = [presetOutput('small', 'mp4-h264-360p')]): JobSpec {
  return testSpec('raw/in.mp4', outputs, { snapshots: [], retryWindowSec: 3600, ...extra });
}

function start(s: JobSpec, stub: Stub = {}): Promise<WorkflowHandle> {
  stubs.set(s.id, stub);
  return server.env.client.workflow.start(WORKFLOW_TYPE, { workflowId: s.id, taskQueue: TASK_QUEUE, args: [s] });
}

/** Resolves when the job's activity `activityId` starts. */
function started(jobId: string, activityId: string): Promise<void> {
  return new Promise((resolve) => startedWaiters.set(`${jobId}/${activityId}`, resolve));
}

async function until(handle: WorkflowHandle, done: (s: JobState) => boolean): Promise<JobState> {
  // A guard against a state never reached, not a timing check: generous for a busy 2-core machine.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const s = await handle.query(stateQuery);
    if (done(s)) return s;
    if (Date.now() > deadline) throw new Error(`not reached: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const statuses = (s: JobState) => Object.fromEntries(s.tasks.map((t) => [t.id, t.status]));

describe('mediaJob, time-skipping, stub activities', { timeout: 300_000 }, () => {
  test('a failed job whose retry window (an hour) passes ends failed, notified once', async () => {
    const s = spec();
    const h = await start(s, { encode: async () => { throw failWith('OutputTooLarge'); } });
    const before = await server.env.currentTimeMs();
    const state = (await h.result()) as JobState;
    assert.equal(state.status, 'failed');
    assert.equal(state.error?.code, 'OutputTooLarge');
    assert.deepEqual(state.notifications.map((n) => n.event), ['job.failed']);
    assert.ok((await server.env.currentTimeMs()) - before >= 3600_000, 'the window was waited out (in skipped time)');
  });

  test('a retry inside the window re-runs only the failed tasks, under #1 activity ids', async () => {
    // b reads another range (a clip): an encode of its own, so a's success stands.
    const s = spec({}, [presetOutput('a', 'mp4-h264-360p'), { ...presetOutput('b', 'mp4-h264-360p'), clip: { start: 1, duration: null } }]);
    let bRuns = 0;
    const h = await start(s, {
      encode: async (i) => {
        if (i.tasks.some((t) => t.name === 'b') && bRuns++ === 0) throw failWith('OutputTooLarge');
        return attempted(i.tasks.map((t) => output(t.name, t.outputKey)));
      },
    });
    await until(h, (x) => x.status === 'failed');
    await h.signal(retrySignal);
    const state = (await h.result()) as JobState;
    assert.equal(state.status, 'succeeded');
    // The two transcodes start in either order; b's retry after both.
    assert.deepEqual(calls.get(s.id)?.slice(0, 1), ['probe']);
    assert.deepEqual(calls.get(s.id)?.slice(1, 3).sort(), ['encode:transcode:a', 'encode:transcode:b']);
    assert.deepEqual(calls.get(s.id)?.slice(3), ['encode:transcode:b#1']);
    assert.deepEqual(state.notifications.map((n) => n.event), ['job.failed', 'job.succeeded']);
    assert.equal(state.error, null);
  });

  test('cancel while the pipeline holds the job: canceled, nothing probed, nothing to clean up', async () => {
    const s = spec({ waitForPipeline: true });
    const asked = started(s.id, 'pipeline');
    const h = await start(s, { pipelineState: async () => 'paused' });
    await asked;
    await h.signal(cancelSignal, { reason: 'a test' });
    const state = (await h.result()) as JobState;
    assert.equal(state.status, 'canceled');
    assert.match(state.error?.message ?? '', /a test/);
    assert.deepEqual(calls.get(s.id), ['pipeline']);
    assert.ok(state.finishedAt);
  });

  test('cancel while probing: the probe is canceled, with the attempt it was on', async () => {
    const s = spec();
    const probing = started(s.id, 'probe');
    const h = await start(s, { probeInput: runUntilCanceled });
    await probing;
    await h.signal(cancelSignal);
    const state = (await h.result()) as JobState;
    assert.equal(state.status, 'canceled');
    assert.deepEqual(state.tasks.map((t) => [t.id, t.status, t.attempts]), [['probe', 'canceled', 1], ['notify', 'skipped', 0]]);
  });

  test('Temporal cancel while an HLS ladder encodes: rungs and package canceled (not DependencyFailed), the folder removed, progress not 1', async () => {
    const s = spec({}, [presetOutput('stream', 'hls-h264-ladder')]);
    // The input is 480p: the ladder's rungs collapse onto the 480p one, encoded in one shared run.
    const encoding = started(s.id, 'encode:transcode:stream/480p');
    const h = await start(s, { encode: runUntilCanceled });
    await encoding;
    await h.cancel();
    const state = (await h.result()) as JobState;
    assert.equal(state.status, 'canceled');
    const byId = Object.fromEntries(state.tasks.map((t) => [t.id, t]));
    assert.equal(byId['package:stream']?.status, 'canceled');
    assert.equal(byId['package:stream']?.error, null);
    assert.deepEqual([byId['transcode:stream/480p']?.status, byId['transcode:stream/480p']?.attempts], ['canceled', 1]);
    for (const t of state.tasks) assert.notEqual(t.status === 'canceled' && t.progress, 1, `${t.id} shows progress 1`);
    assert.ok(state.progress < 1, `job progress ${state.progress}`);
    assert.ok(calls.get(s.id)?.includes('cleanup'));
  });

  test('a Temporal cancel inside the retry window closes it: the job stays failed', async () => {
    const s = spec();
    const h = await start(s, { encode: async () => { throw failWith('OutputTooLarge'); } });
    await until(h, (x) => x.status === 'failed');
    await h.cancel();
    const state = (await h.result()) as JobState;
    assert.equal(state.status, 'failed');
    assert.deepEqual(state.notifications.map((n) => n.event), ['job.failed']);
  });

  test('a failed shared encode fails every rung it carries and the package with DependencyFailed; a retry re-runs both', async () => {
    const s = spec({ retryWindowSec: 60 }, [presetOutput('stream', 'hls-h264-ladder')]);
    let failed = false;
    const h = await start(s, {
      encode: async (i) => {
        if (!failed) {
          failed = true;
          throw failWith('EncodeFailed');
        }
        return attempted(i.tasks.map((t) => output(t.name, t.outputKey)));
      },
    });
    const first = await until(h, (x) => x.status === 'failed');
    assert.equal(first.tasks.find((t) => t.id === 'package:stream')?.error?.code, 'DependencyFailed');
    const rungs = first.tasks.filter((t) => t.kind === 'transcode');
    assert.ok(rungs.length >= 2);
    assert.deepEqual(rungs.map((t) => [t.status, t.error?.code]), rungs.map(() => ['failed', 'EncodeFailed']), 'one run carried them all');
    await h.signal(retrySignal);
    const state = (await h.result()) as JobState;
    assert.equal(state.status, 'succeeded');
    // The shared encode and the package run again (then the rung files are removed).
    assert.deepEqual(calls.get(s.id)?.filter((id) => id.endsWith('#1')), [`encode:${rungs[0]!.id}#1`, 'package:stream#1', 'cleanup:stream#1']);
  });

  test('a paused pipeline holds the job in queued; resumed (signal, or its own recheck), it runs', async () => {
    const s = spec({ waitForPipeline: true });
    let paused = true;
    const h = await start(s, { pipelineState: async () => (paused ? 'paused' : 'active') });
    await until(h, (x) => x.status === 'queued' && (calls.get(s.id)?.length ?? 0) > 0);
    paused = false;
    await h.signal(pipelineResumedSignal);
    assert.equal(((await h.result()) as JobState).status, 'succeeded');

    // No signal at all: the job checks again on its own.
    const quiet = spec({ waitForPipeline: true });
    let checks = 0;
    const q = await start(quiet, { pipelineState: async () => (checks++ < 2 ? 'paused' : 'active') });
    assert.equal(((await q.result()) as JobState).status, 'succeeded');
    assert.equal(checks, 3);
  });

  /**
   * A job its paused pipeline holds: `checks` gets the server time (the time-skipping clock) of
   * every pipelineState call; `duringCheck` runs inside a call, after it read the state.
   */
  async function heldJob(duringCheck?: (held: Held) => Promise<void>) {
    const held: Held = { id: '', paused: true, checks: [] };
    const s = spec({ waitForPipeline: true });
    held.id = s.id;
    const h = await start(s, {
      pipelineState: async () => {
        held.checks.push(info().currentAttemptScheduledTimestampMs);
        const read = held.paused ? 'paused' : 'active';
        await duringCheck?.(held);
        return read;
      },
    });
    return { held, h };
  }
  interface Held {
    id: string;
    paused: boolean;
    checks: number[];
  }

  test('a job held for hours re-checks its paused pipeline after 1 min, 30 min, then hourly, each timer jittered; the resume signal still frees it at once', async () => {
    const { held, h } = await heldJob();
    const { checks } = held;
    await until(h, (x) => x.status === 'queued' && checks.length > 0);
    await server.env.sleep('6h');
    const gaps = checks.slice(1).map((t, i) => Math.round((t - checks[i]!) / 1000));
    // Timers of 1 min (a job the resume's listing could not see yet), 30 min, then 1 h, each cut by
    // up to half at random (jobs held together do not check together): 7 to 13 checks after the
    // first in 6 h; 30 s fixed would be 720 (10,000 held jobs: 333 activities a second). Each gap
    // is its timer plus the real time the workflow and activity took (the skipped clock still runs
    // while they do): at most a few seconds.
    const nominal = gaps.map((_, i) => [60, 1800][i] ?? 3600);
    const shown = `seconds between checks: ${gaps.join(', ')} (timers at most ${nominal.join(', ')})`;
    assert.ok(gaps.length >= 7 && gaps.length <= 13, shown);
    assert.ok(gaps.every((g, i) => g >= nominal[i]! * 0.5 && g <= nominal[i]! + 5), shown);
    assert.ok(gaps.some((g, i) => g < nominal[i]! - 5), `jittered: ${shown}`);
    held.paused = false;
    await h.signal(pipelineResumedSignal);
    assert.equal(((await h.result()) as JobState).status, 'succeeded');
    // Checked on the signal, at 6 h: not at the next timer.
    assert.equal(checks.length, gaps.length + 2);
    assert.ok(checks.at(-1)! - checks[0]! < 6 * 3600_000 + 60_000, `the last check came ${(checks.at(-1)! - checks[0]!) / 1000} s after the first`);
  });

  test('a resume signal that arrives while the check still reads "paused" is not lost: the job checks again at once', async () => {
    const { held, h } = await heldJob(async (x) => {
      if (x.checks.length > 1) return;
      // The resume lands between this check's read and its answer: the PATCH wrote `active`,
      // listed the job and signalled it.
      x.paused = false;
      await server.env.client.workflow.getHandle(x.id).signal(pipelineResumedSignal);
    });
    assert.equal(((await h.result()) as JobState).status, 'succeeded');
    const { checks } = held;
    assert.equal(checks.length, 2);
    assert.ok(checks[1]! - checks[0]! < 10_000, `the second check came ${(checks[1]! - checks[0]!) / 1000} s after the first, not at a timer`);
  });

  test('the same workflow id with USE_EXISTING joins the running job instead of starting another', async () => {
    const s = spec();
    const probing = started(s.id, 'probe');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    stubs.set(s.id, { probeInput: async () => (await gate, attempted(media)) });
    const opts = { workflowId: s.id, taskQueue: TASK_QUEUE, args: [s] as [JobSpec], workflowIdConflictPolicy: 'USE_EXISTING' as const };
    const first = await server.env.client.workflow.start(WORKFLOW_TYPE, opts);
    await probing;
    const second = await server.env.client.workflow.start(WORKFLOW_TYPE, opts);
    assert.equal(second.firstExecutionRunId, first.firstExecutionRunId);
    release();
    assert.equal(((await first.result()) as JobState).status, 'succeeded');
    assert.deepEqual(calls.get(s.id)?.filter((id) => id === 'probe'), ['probe']);
  });

  test('a retry signal to a running job is not silently dropped: the job notes it', async () => {
    const s = spec();
    const encoding = started(s.id, 'encode:transcode:small');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = await start(s, { encode: async (i) => (await gate, attempted(i.tasks.map((t) => output(t.name, t.outputKey)))) });
    await encoding;
    await h.signal(retrySignal);
    const noted = await until(h, (x) => (x.notes?.length ?? 0) > 0);
    assert.match(noted.notes![0]!.message, /retry signal ignored: the job is processing, not failed/);
    release();
    const state = (await h.result()) as JobState;
    assert.equal(state.status, 'succeeded');
    assert.deepEqual(calls.get(s.id), ['probe', 'encode:transcode:small']);
  });

  test('a long input: audio once, chunks (at most maxParallel at once) and a join; one task per rendition with its chunk count', async () => {
    const s = spec({ chunking: { minDurationSec: 60, chunkSec: 30, maxParallel: 2 } }, [presetOutput('a', 'mp4-h264-360p'), presetOutput('b', 'mp4-h264-360p', (t) => ({ ...t, video: { ...t.video!, width: 320, height: 180 } }))]);
    let inFlight = 0;
    let most = 0;
    const h = await start(s, {
      probeInput: async () => attempted({ ...media, durationSec: 200 }),
      encodeChunk: async () => {
        most = Math.max(most, ++inFlight);
        await Context.current().sleep(1000);
        inFlight -= 1;
        return attempted(null);
      },
    });
    const state = (await h.result()) as JobState;
    assert.equal(state.status, 'succeeded');
    const ran = calls.get(s.id) ?? [];
    const chunks = ran.filter((id) => id.includes('/chunk-'));
    assert.deepEqual(chunks.length, 7, '200 s in 30 s chunks');
    assert.equal(ran.filter((id) => id.endsWith('/audio')).length, 1, 'the audio once');
    assert.equal(ran.filter((id) => id.endsWith('/join')).length, 1);
    assert.equal(most, 2, 'never more than maxParallel chunks of the job at once');
    assert.deepEqual(state.tasks.filter((t) => t.kind === 'transcode').map((t) => [t.id, t.status, t.chunks]), [['transcode:a', 'succeeded', 7], ['transcode:b', 'succeeded', 7]]);
    assert.deepEqual(state.outputs.map((o) => o.name), ['a', 'b']);
    assert.ok(ran.includes('cleanup:encode:transcode:a'), 'the chunks are removed after the join');
  });

  test('a chunk that fails for good cancels the chunks still running and fails the renditions; cancel stops every chunk', async () => {
    const s = spec({ chunking: { minDurationSec: 60, chunkSec: 30, maxParallel: 3 } });
    const canceled: string[] = [];
    // Chunk 1 fails once chunk 0 is running (so there is a running chunk to cancel). The audio runs
    // until canceled too: a stub audio that completed in the same instant as chunk 1's failure raced
    // the workflow's cancel of it, which Java's test server refuses (ACTIVITY_UNKNOWN, seen in CI;
    // a real server hands the workflow the completion first).
    const zero = started(s.id, 'encode:transcode:small/chunk-0');
    const h = await start(s, {
      probeInput: async () => attempted({ ...media, durationSec: 200 }),
      encodeAudio: async () => {
        try {
          return await runUntilCanceled();
        } finally {
          canceled.push(info().activityId);
        }
      },
      encodeChunk: async (i) => {
        if (i.chunk.index === 1) {
          await zero;
          throw failWith('EncodeFailed');
        }
        try {
          return await runUntilCanceled();
        } finally {
          canceled.push(info().activityId);
        }
      },
    });
    const failed = await until(h, (x) => x.status === 'failed');
    assert.deepEqual(failed.tasks.filter((t) => t.kind === 'transcode').map((t) => [t.status, t.error?.code]), [['failed', 'EncodeFailed']]);
    // The running chunk is told through its heartbeats: it stops (its finally runs) soon after.
    for (let i = 0; i < 100 && !canceled.includes('encode:transcode:small/chunk-0'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(canceled.includes('encode:transcode:small/chunk-0'), `the running chunk was canceled: ${JSON.stringify(canceled)}`);
    assert.ok(!(calls.get(s.id) ?? []).some((id) => id.endsWith('/join')), 'no join after a failed chunk');

    const c = spec({ chunking: { minDurationSec: 60, chunkSec: 30, maxParallel: 3 } });
    const stopped: string[] = [];
    const third = started(c.id, 'encode:transcode:small/chunk-2');
    const ch = await start(c, {
      probeInput: async () => attempted({ ...media, durationSec: 200 }),
      encodeChunk: async () => {
        try {
          return await runUntilCanceled();
        } finally {
          stopped.push(info().activityId);
        }
      },
    });
    await third;
    await ch.signal(cancelSignal);
    const state = (await ch.result()) as JobState;
    assert.equal(state.status, 'canceled');
    assert.equal(stopped.filter((id) => id.includes('/chunk-')).length, 3, 'every running chunk stopped');
    assert.deepEqual(state.tasks.find((t) => t.id === 'transcode:small')?.status, 'canceled');
  });

  test('MediaFinishedAt is the job’s finishedAt', async () => {
    const s = spec();
    const h = await start(s);
    const state = (await h.result()) as JobState;
    const d = await h.describe();
    assert.equal(d.typedSearchAttributes.get(searchAttributes.finishedAt)?.toISOString(), state.finishedAt);
    assert.equal(d.typedSearchAttributes.get(searchAttributes.status), 'succeeded');
  });
});

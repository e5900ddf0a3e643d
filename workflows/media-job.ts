/**
 * mediaJob: probe → plan → transcodes and snapshots in parallel → notify; a failed job stays open
 * for a retry window, a canceled one removes its outputs. Pure orchestration: no I/O here.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TimeoutFailure,
  condition,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { errorCodes, isErrorCode, nonRetryableCodes } from '../model/errors';
import type { JobSpec } from '../model/job';
import type { JobError, JobState, JobStatus, MediaInfo, NotificationState, TaskKind, TaskState } from '../model/job-state';
import { planJob, type MediaTask, type Plan, type TranscodeTask } from '../media/plan';
import { cancelSignal, pipelineResumedSignal, retrySignal, retryUpdate, searchAttributes, stateQuery } from './definitions';

const retry = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  maximumAttempts: 5,
  // Broken media and bad settings fail the same way every time: do not retry them.
  nonRetryableErrorTypes: nonRetryableCodes,
};

/** A dead worker is noticed within the heartbeat timeout, and its task moves to another worker. */
const heartbeating = { heartbeatTimeout: '10s', cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED };

/** How often a job held by a paused pipeline checks on its own, in case a resume signal missed it. */
const PIPELINE_RECHECK = '30s';

const options: Record<'probe' | 'media' | 'cleanup' | 'notify' | 'pipeline', ActivityOptions> = {
  pipeline: { startToCloseTimeout: '30s', retry, cancellationType: ActivityCancellationType.TRY_CANCEL },
  probe: { startToCloseTimeout: '30m', retry, ...heartbeating },
  media: { startToCloseTimeout: '12h', retry, ...heartbeating },
  cleanup: { startToCloseTimeout: '5m', retry, cancellationType: ActivityCancellationType.TRY_CANCEL },
  notify: {
    startToCloseTimeout: '1m',
    retry: { ...retry, initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 6 },
    cancellationType: ActivityCancellationType.TRY_CANCEL,
  },
};

/**
 * Activity id = task id (`#round` on retries), so the API can match heartbeats to tasks and a
 * retried task never collides with its first run.
 */
function activitiesFor(kind: keyof typeof options, taskId: string, round: number) {
  return proxyActivities<Activities>({ ...options[kind], activityId: round ? `${taskId}#${round}` : taskId });
}

function now(): string {
  return new Date().toISOString();
}

/** Reads the code, message and attempt out of an activity failure. */
function jobErrorOf(err: unknown): { error: JobError; attempts: number | null } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const code = cause.type ?? 'Internal';
    const detail = cause.details?.[0] as { attempt?: number } | undefined;
    return {
      error: { code, message: cause.message, retryable: isErrorCode(code) ? errorCodes[code].retryable : true },
      attempts: detail?.attempt ?? null,
    };
  }
  if (cause instanceof TimeoutFailure) {
    return { error: { code: 'TaskTimeout', message: `the task timed out (${cause.timeoutType})`, retryable: true }, attempts: null };
  }
  return { error: { code: 'Internal', message: err instanceof Error ? err.message : String(err), retryable: true }, attempts: null };
}

export async function mediaJob(spec: JobSpec): Promise<JobState> {
  const state: JobState = {
    id: spec.id,
    status: 'queued',
    progress: 0,
    pipeline: spec.pipeline,
    createdAt: spec.createdAt,
    startedAt: null,
    finishedAt: null,
    input: { ...spec.input, media: null },
    tasks: [],
    outputs: [],
    snapshots: [],
    notifications: [],
    error: null,
    userData: spec.userData,
  };
  let media: MediaInfo | null = null;
  let plan: Plan | null = null;
  let round = 0;
  let cancelRequested: { reason: string } | null = null;
  let retryRequested = false;
  let pipelineResumed = false;
  let scope: CancellationScope | null = null;

  function requestCancel(reason: string): void {
    if (cancelRequested || isFinal()) return;
    cancelRequested = { reason };
    scope?.cancel();
  }
  const isFinal = (): boolean => state.status === 'succeeded' || state.status === 'canceled' || (state.status === 'failed' && !retryRequested);
  const failedTasks = (): TaskState[] => state.tasks.filter((t) => t.kind !== 'notify' && (t.status === 'failed' || t.status === 'canceled'));
  const canRetry = (): boolean => state.status === 'failed' && !retryRequested && !cancelRequested && failedTasks().length > 0;

  setHandler(stateQuery, () => state);
  setHandler(cancelSignal, (args) => requestCancel(args?.reason ?? 'the cancel signal'));
  setHandler(pipelineResumedSignal, () => {
    pipelineResumed = true;
  });
  setHandler(retrySignal, () => {
    if (canRetry()) retryRequested = true;
  });
  setHandler(
    retryUpdate,
    () => {
      retryRequested = true;
      return { tasks: failedTasks().map((t) => t.id) };
    },
    {
      validator: () => {
        if (!canRetry()) throw new Error(state.status === 'failed' ? 'a retry is already under way' : `the job is ${state.status}, not failed: nothing to retry`);
      },
    },
  );
  // Temporal's own cancellation (handle.cancel(), the UI's button) takes the signal's path.
  CancellationScope.current().cancelRequested.catch(() => requestCancel('a workflow cancellation request'));

  function task(id: string, kind: TaskKind): TaskState {
    let t = state.tasks.find((x) => x.id === id);
    if (!t) {
      t = { id, kind, status: 'pending', progress: 0, attempts: 0, error: null };
      state.tasks.push(t);
    }
    return t;
  }

  function showProgress(): void {
    const work = state.tasks.filter((t) => t.kind !== 'notify');
    const done = work.filter((t) => t.status !== 'pending' && t.status !== 'running').length;
    state.progress = work.length ? Math.round((done / work.length) * 1000) / 1000 : 0;
    setCurrentDetails(`${state.status} · ${done}/${work.length} tasks done · ${Math.round(state.progress * 100)}%${round ? ` · retry ${round}` : ''}`);
  }

  function setStatus(status: JobStatus): void {
    state.status = status;
    upsertSearchAttributes([{ key: searchAttributes.status, value: status }]);
    showProgress();
  }

  /** Runs one task's activity, recording its outcome on the task; never throws. */
  async function runTask<T>(t: TaskState, run: () => Promise<{ value: T; attempt: number }>): Promise<T | null> {
    Object.assign(t, { status: 'running', progress: 0, error: null });
    showProgress();
    try {
      const { value, attempt } = await run();
      Object.assign(t, { status: 'succeeded', progress: 1, attempts: attempt });
      return value;
    } catch (err) {
      if (isCancellation(err)) {
        t.status = 'canceled';
      } else {
        const { error, attempts } = jobErrorOf(err);
        Object.assign(t, { status: 'failed', error, attempts: attempts ?? t.attempts });
      }
      return null;
    } finally {
      showProgress();
    }
  }

  /** The tasks whose results a task uses: its watermarks' assets, a package's rungs. */
  function dependenciesOf(m: MediaTask): string[] {
    if (m.kind === 'transcode') return [...new Set(m.watermarks.map((w) => w.taskId))];
    if (m.kind === 'package') return m.rungTaskIds;
    return [];
  }

  /** Runs one task's activity and records its result; never throws. */
  async function runMediaTask(m: MediaTask): Promise<void> {
    const t = task(m.id, m.kind);
    const acts = activitiesFor('media', m.id, round);
    switch (m.kind) {
      case 'transcode': {
        const output = await runTask(t, () => acts.transcode({ input: spec.input, task: m }));
        // A ladder's rungs are the package's material, not outputs of their own.
        if (output && !m.rung) state.outputs.push(output);
        return;
      }
      case 'snapshot': {
        const snap = await runTask(t, () => acts.snapshot({ input: spec.input, task: m }));
        if (snap) state.snapshots.push(snap);
        return;
      }
      case 'watermark':
        await runTask(t, () => acts.watermark({ task: m }));
        return;
      case 'package': {
        const rungs = plan!.tasks.filter((r): r is TranscodeTask => r.kind === 'transcode' && m.rungTaskIds.includes(r.id));
        const output = await runTask(t, () => acts.packageOutput({ task: m, rungs: rungs.map((r) => ({ name: r.rung!.name, key: r.outputKey })) }));
        if (output) {
          state.outputs.push(output);
          // The segments now hold the rungs' media: the intermediate files can go.
          const { removeObjects } = activitiesFor('cleanup', `cleanup:${m.name}`, round);
          await removeObjects(rungs.map((r) => r.outputKey)).catch(() => undefined);
        }
        return;
      }
    }
  }

  /**
   * Runs the tasks of a round concurrently, each once the tasks it depends on are done; a task
   * whose dependency failed fails with DependencyFailed (a retry re-runs both).
   */
  async function runTasks(todo: MediaTask[]): Promise<void> {
    const finished = new Map<string, Promise<void>>();
    for (const m of todo) {
      finished.set(
        m.id,
        (async () => {
          // Every task is registered before any looks up its dependencies.
          await Promise.resolve();
          const deps = dependenciesOf(m);
          await Promise.all(deps.map((id) => finished.get(id)));
          const failed = deps.map((id) => task(id, 'transcode')).find((d) => d.status !== 'succeeded');
          if (failed) {
            const error = { code: 'DependencyFailed', message: `needs ${failed.id}, which ${failed.status === 'canceled' ? 'was canceled' : 'failed'}`, retryable: false };
            Object.assign(task(m.id, m.kind), { status: 'failed', error });
            return;
          }
          await runMediaTask(m);
        })(),
      );
    }
    await Promise.all(finished.values());
  }

  /** One round: probe (unless done), plan, then every task not yet succeeded, in parallel. */
  async function work(): Promise<void> {
    state.startedAt ??= now();
    if (!media) {
      setStatus('probing');
      const { probeInput } = activitiesFor('probe', 'probe', round);
      media = await runTask(task('probe', 'probe'), () => probeInput(spec.input));
      if (!media) return;
      state.input.media = media;
      plan = planJob(spec, media);
      for (const r of plan.refused) Object.assign(task(r.id, r.kind), { status: 'failed', error: r.error });
    }
    if (!plan) return;
    setStatus('processing');
    const todo = plan.tasks.filter((m) => task(m.id, m.kind).status !== 'succeeded');
    await runTasks(todo);
  }

  async function notifyOnce(event: NotificationState['event']): Promise<void> {
    const t = task('notify', 'notify');
    if (!spec.notify) {
      t.status = 'skipped';
      state.notifications.push({ event, status: 'skipped', attempts: 0 });
      return;
    }
    const url = spec.notify.url;
    // Visible while delivery (and its retries) run: the job is already final by then.
    const record: NotificationState = { event, status: 'pending', attempts: 0 };
    state.notifications.push(record);
    const { notify } = activitiesFor('notify', 'notify', round);
    // One id per event and round: receivers drop duplicate attempts, not a later retry's news.
    await runTask(t, () => notify({ url, event, tenant: spec.tenant, webhookId: `${spec.id}:${event}:${round}`, job: state }));
    Object.assign(record, { status: t.status === 'succeeded' ? 'delivered' : 'failed', attempts: t.attempts });
  }

  /** Everything a canceled job leaves behind: nothing in the store, every open task canceled. */
  async function finishCanceled(reason: string): Promise<void> {
    for (const t of state.tasks) if (t.status === 'pending' || t.status === 'running') t.status = 'canceled';
    if (state.tasks.some((t) => t.kind !== 'probe' && t.status !== 'pending')) {
      // Everything a job writes lives in its own folder: outputs, segments, snapshots, assets.
      const { removeObjects } = activitiesFor('cleanup', 'cleanup', round);
      await removeObjects([], [`${spec.outputPrefix}${spec.id}/`]).catch(() => undefined);
    }
    state.outputs = [];
    state.snapshots = [];
    state.error = { code: 'Canceled', message: `canceled by ${reason}`, retryable: false };
    state.finishedAt = now();
    setStatus('canceled');
    await notifyOnce('job.canceled');
  }

  /** Watermark assets served the transcodes; a succeeded job's folder holds only what was asked for. */
  async function removeIntermediates(): Promise<void> {
    const keys = plan?.tasks.flatMap((m) => (m.kind === 'watermark' ? [m.assetKey] : [])) ?? [];
    if (!keys.length) return;
    const { removeObjects } = activitiesFor('cleanup', 'cleanup:watermarks', round);
    await removeObjects(keys).catch(() => undefined);
  }

  function finishRound(): void {
    const failed = failedTasks();
    const first = failed[0];
    state.error = first?.error
      ? {
          code: first.error.code,
          message:
            failed.length === 1
              ? `${first.id}: ${first.error.message}`
              : `${failed.length} of ${state.tasks.filter((t) => t.kind !== 'notify').length} tasks failed; first ${first.id}: ${first.error.message}`,
          retryable: failed.every((t) => t.error?.retryable),
        }
      : null;
    state.finishedAt = now();
    setStatus(first ? 'failed' : 'succeeded');
  }

  /** A paused pipeline holds the job in `queued` until it is active again (or the job is canceled). */
  async function waitForPipeline(): Promise<void> {
    const { pipelineState } = activitiesFor('pipeline', 'pipeline', 0);
    setCurrentDetails(`queued · pipeline ${spec.pipeline} is paused`);
    while ((await pipelineState({ tenant: spec.tenant, pipeline: spec.pipeline })) === 'paused') {
      pipelineResumed = false;
      await condition(() => pipelineResumed, PIPELINE_RECHECK);
    }
  }

  for (;;) {
    scope = new CancellationScope();
    await scope.run(async () => {
      if (spec.waitForPipeline && round === 0) await waitForPipeline().catch((err) => {
        if (!isCancellation(err)) throw err;
      });
      if (!cancelRequested) await work();
    });
    const cancel = cancelRequested as { reason: string } | null;
    if (cancel) {
      const reason = cancel.reason;
      await CancellationScope.nonCancellable(() => finishCanceled(reason));
      return state;
    }
    finishRound();
    if (state.status === 'succeeded') await CancellationScope.nonCancellable(removeIntermediates);
    await CancellationScope.nonCancellable(() => notifyOnce(state.status === 'succeeded' ? 'job.succeeded' : 'job.failed'));
    if (state.status === 'succeeded') return state;

    // Failed: stay open for a retry of the failed tasks until the window closes (or a cancel ends it).
    try {
      const asked = await condition(() => retryRequested || cancelRequested !== null, spec.retryWindowSec * 1000);
      if (!asked || !retryRequested) return state;
    } catch (err) {
      if (isCancellation(err)) return state;
      throw err;
    }
    round += 1;
    retryRequested = false;
    state.finishedAt = null;
    state.error = null;
    for (const t of failedTasks()) Object.assign(t, { status: 'pending', progress: 0, error: null });
    // (Assigned inside work(): TypeScript cannot see that from here.)
    const planned = plan as Plan | null;
    if (task('probe', 'probe').status === 'pending') {
      // A failed probe means probing and planning start over (the input may have been replaced).
      media = null;
      plan = null;
    } else if (planned) {
      // Same spec, same media: the planner's refusals stand.
      for (const r of planned.refused) Object.assign(task(r.id, r.kind), { status: 'failed', error: r.error });
    }
  }
}

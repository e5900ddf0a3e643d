/** mediaJob: probe → plan → transcodes and snapshots in parallel → notify. Pure orchestration. */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  TimeoutFailure,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { errorCodes, isErrorCode, nonRetryableCodes } from '../model/errors';
import type { JobSpec } from '../model/job';
import type { JobError, JobState, JobStatus, NotificationState, TaskKind, TaskState } from '../model/job-state';
import { planJob, type MediaTask } from '../media/plan';
import { searchAttributes, stateQuery } from './definitions';

const retry = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  maximumAttempts: 5,
  // Broken media and bad settings fail the same way every time: do not retry them.
  nonRetryableErrorTypes: nonRetryableCodes,
};

const probeOptions: ActivityOptions = {
  startToCloseTimeout: '2m',
  retry,
  cancellationType: ActivityCancellationType.TRY_CANCEL,
};

/** Media tasks: a dead worker is noticed within the heartbeat timeout and the task moves on. */
const mediaOptions: ActivityOptions = {
  startToCloseTimeout: '12h',
  heartbeatTimeout: '20s',
  retry,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};

const notifyOptions: ActivityOptions = {
  startToCloseTimeout: '1m',
  retry: { ...retry, initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 6 },
  cancellationType: ActivityCancellationType.TRY_CANCEL,
};

const { probeInput } = proxyActivities<Activities>({ ...probeOptions, activityId: 'probe' });
const { notify } = proxyActivities<Activities>({ ...notifyOptions, activityId: 'notify' });

/** Activities get the task id as activity id, so the API can match heartbeats to tasks. */
function mediaActivities(taskId: string) {
  return proxyActivities<Activities>({ ...mediaOptions, activityId: taskId });
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
    startedAt: now(),
    finishedAt: null,
    input: { key: spec.input.key, media: null },
    tasks: [],
    outputs: [],
    snapshots: [],
    notifications: [],
    error: null,
    userData: spec.userData,
  };
  setHandler(stateQuery, () => state);

  function addTask(id: string, kind: TaskKind): TaskState {
    const task: TaskState = { id, kind, status: 'pending', progress: 0, attempts: 0, error: null };
    state.tasks.push(task);
    return task;
  }

  function showProgress(): void {
    const media = state.tasks.filter((t) => t.kind !== 'notify');
    const done = media.filter((t) => t.status !== 'pending' && t.status !== 'running').length;
    state.progress = media.length ? Math.round((done / media.length) * 1000) / 1000 : 0;
    setCurrentDetails(`${state.status} · ${done}/${media.length} tasks done · ${Math.round(state.progress * 100)}%`);
  }

  function setStatus(status: JobStatus): void {
    state.status = status;
    upsertSearchAttributes([{ key: searchAttributes.status, value: status }]);
    showProgress();
  }

  /** Runs one task's activity, recording its outcome on the task; never throws. */
  async function runTask<T>(task: TaskState, run: () => Promise<{ value: T; attempt: number }>): Promise<T | null> {
    task.status = 'running';
    showProgress();
    try {
      const { value, attempt } = await run();
      Object.assign(task, { status: 'succeeded', progress: 1, attempts: attempt });
      return value;
    } catch (err) {
      const { error, attempts } = jobErrorOf(err);
      Object.assign(task, { status: 'failed', error, attempts: attempts ?? task.attempts });
      return null;
    } finally {
      showProgress();
    }
  }

  async function runMediaTask(t: MediaTask): Promise<void> {
    const task = addTask(t.id, t.kind);
    const acts = mediaActivities(t.id);
    if (t.kind === 'transcode') {
      const output = await runTask(task, () => acts.transcode({ inputKey: spec.input.key, task: t }));
      if (output) state.outputs.push(output);
    } else {
      const snap = await runTask(task, () => acts.snapshot({ inputKey: spec.input.key, task: t }));
      if (snap) state.snapshots.push(snap);
    }
  }

  setStatus('probing');
  const probeTask = addTask('probe', 'probe');
  const media = await runTask(probeTask, () => probeInput(spec.input.key));

  if (media) {
    state.input.media = media;
    const plan = planJob(spec, media);
    for (const r of plan.refused) {
      Object.assign(addTask(r.id, r.kind), { status: 'failed', error: r.error });
    }
    setStatus('processing');
    await Promise.all(plan.tasks.map(runMediaTask));
  }

  const failed = state.tasks.filter((t) => t.status === 'failed');
  const first = failed[0];
  if (first?.error) {
    state.error = {
      code: first.error.code,
      message:
        failed.length === 1
          ? `${first.id}: ${first.error.message}`
          : `${failed.length} of ${state.tasks.length} tasks failed; first ${first.id}: ${first.error.message}`,
      retryable: failed.every((t) => t.error?.retryable),
    };
  }
  state.finishedAt = now();
  setStatus(first ? 'failed' : 'succeeded');

  await sendNotification();
  showProgress();
  return state;

  async function sendNotification(): Promise<void> {
    const event = state.status === 'succeeded' ? 'job.succeeded' : state.status === 'canceled' ? 'job.canceled' : 'job.failed';
    const task = addTask('notify', 'notify');
    if (!spec.notify) {
      task.status = 'skipped';
      state.notifications.push({ event, status: 'skipped', attempts: 0 });
      return;
    }
    const url = spec.notify.url;
    // Visible while delivery (and its retries) run: the job is already final by then.
    const record: NotificationState = { event, status: 'pending', attempts: 0 };
    state.notifications.push(record);
    await runTask(task, () => notify({ url, event, job: state }));
    Object.assign(record, { status: task.status === 'succeeded' ? 'delivered' : 'failed', attempts: task.attempts });
  }
}

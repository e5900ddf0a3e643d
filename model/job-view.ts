/**
 * The job as its tenant sees it: object keys relative to the tenant's part of the store, and the
 * status a workflow run stands for (one rule for the job, the list and the gauge).
 */
import { finalJobStatuses, type JobError, type JobState, type JobStatus } from './job-state';
import { tenantPrefix } from './keys';

/**
 * Strips the tenant's prefix from every object key in the job (input, outputs, renditions,
 * snapshots), so each key is the one `GET /v1/objects/{key}` answers for that tenant.
 *
 * @example jobForTenant(state, 'acme').outputs[0].key // 'processed/job_…/720p.mp4', stored under tenants/acme/
 */
export function jobForTenant(state: JobState, tenant: string): JobState {
  const prefix = tenantPrefix(tenant);
  if (!prefix) return state;
  const strip = (key: string) => (key.startsWith(prefix) ? key.slice(prefix.length) : key);
  return {
    ...state,
    input: 'key' in state.input && !('bucket' in state.input && state.input.bucket) ? { ...state.input, key: strip(state.input.key) } : state.input,
    ...(state.inputs ? { inputs: state.inputs.map((i) => ('key' in i && !('bucket' in i && i.bucket) ? { ...i, key: strip(i.key) } : i)) } : {}),
    outputs: state.outputs.map((o) => ({
      ...o,
      key: strip(o.key),
      ...(o.renditions ? { renditions: o.renditions.map((r) => ({ ...r, key: strip(r.key) })) } : {}),
      ...(o.audioTracks ? { audioTracks: o.audioTracks.map((a) => ({ ...a, key: strip(a.key) })) } : {}),
      ...(o.encryption ? { encryption: { ...o.encryption, keyObjects: o.encryption.keyObjects.map(strip) } } : {}),
      ...(o.subtitles ? { subtitles: o.subtitles.map((s) => (s.key !== undefined ? { ...s, key: strip(s.key) } : s)) } : {}),
    })),
    snapshots: state.snapshots.map((s) => ({ ...s, keys: s.keys.map(strip) })),
  };
}

/**
 * A workflow run's execution status, spelled as visibility queries spell it. List answers carry
 * the enum's number (temporal.api.enums.v1.WorkflowExecutionStatus), descriptions the SDK's name.
 */
export type RunStatus = 'Running' | 'Completed' | 'Failed' | 'Canceled' | 'Terminated' | 'ContinuedAsNew' | 'TimedOut';

const RUN_STATUSES: readonly RunStatus[] = ['Running', 'Completed', 'Failed', 'Canceled', 'Terminated', 'ContinuedAsNew', 'TimedOut'];

/**
 * @example runStatusOf(5) // 'Terminated'; runStatusOf('TIMED_OUT') // 'TimedOut'
 */
export function runStatusOf(raw: number | string | null | undefined): RunStatus {
  if (typeof raw === 'number') return RUN_STATUSES[raw - 1] ?? 'Running';
  const name = String(raw ?? '').replace(/_/g, '').toLowerCase();
  return RUN_STATUSES.find((s) => s.toLowerCase() === name || (s === 'Canceled' && name === 'cancelled')) ?? 'Running';
}

/**
 * Runs the workflow did not end itself. Its MediaJobStatus still says whatever it said last
 * (`processing`, mostly), so the run's end decides the job: an operator's terminate, a workflow
 * timeout or a workflow bug is a failed job, Temporal cancellation that the workflow did not
 * handle a canceled one. (The workflow handles cancellation and completes normally, so in
 * practice only Terminated and TimedOut occur.)
 */
export const endedFromOutside: Partial<Record<RunStatus, { status: JobStatus; code: string; what: string }>> = {
  Terminated: { status: 'failed', code: 'Terminated', what: 'was terminated' },
  TimedOut: { status: 'failed', code: 'TimedOut', what: 'ran past its workflow timeout and was ended' },
  Failed: { status: 'failed', code: 'JobAborted', what: 'ended when its workflow failed' },
  Canceled: { status: 'canceled', code: 'Canceled', what: 'was canceled before it could clean up' },
};

/** Runs whose MediaJobStatus is the job's status: one still running, one that completed normally. */
export const runsTheAttributeSpeaksFor: readonly RunStatus[] = ['Running', 'Completed'];

/**
 * The job status of one run: the one rule behind GET /v1/jobs/{id}, GET /v1/jobs (and its
 * `status` filter) and the `mediaflow_jobs` gauge.
 *
 * @example jobStatusOfRun('Terminated', 'processing') // 'failed'
 */
export function jobStatusOfRun(run: RunStatus, attribute: string | null | undefined): JobStatus {
  const ended = endedFromOutside[run];
  if (ended) return ended.status;
  return attribute && Object.hasOwn(knownStatuses, attribute) ? (attribute as JobStatus) : 'queued';
}

const knownStatuses: Record<JobStatus, true> = { queued: true, probing: true, processing: true, succeeded: true, failed: true, canceled: true };

/**
 * The job error of a run ended from outside, with the operator's reason when there was one; null
 * for runs the workflow ended itself.
 *
 * @example endedError('Terminated', 'stuck').message // 'the job was terminated (reason: stuck); …'
 */
export function endedError(run: RunStatus, reason?: string | null): JobError | null {
  const ended = endedFromOutside[run];
  if (!ended) return null;
  const why = reason ? ` (reason: ${reason})` : '';
  const aftermath = run === 'Canceled' ? '' : '; it cannot be retried, and outputs written before that were not removed';
  return { code: ended.code, message: `the job ${ended.what}${why}${aftermath}`, retryable: false };
}

/**
 * `finishedAt`, one meaning everywhere: when the job's processing ended, before its callback and
 * its retry window. The workflow keeps it in the MediaFinishedAt search attribute; a run ended
 * from outside ended its processing when it closed; a run from before MediaFinishedAt existed
 * has only its close time. A job that is not final (a retry under way) has none.
 *
 * @example finishedAtOf('Running', 'failed', '2025-01-01T00:00:00.000Z', null) // '2025-01-01T00:00:00.000Z'
 */
export function finishedAtOf(run: RunStatus, status: JobStatus, mediaFinishedAt: unknown, closeTime: string | null): string | null {
  if (endedFromOutside[run]) return closeTime;
  if (!finalJobStatuses.includes(status)) return null;
  if (mediaFinishedAt instanceof Date) return mediaFinishedAt.toISOString();
  if (typeof mediaFinishedAt === 'string' && !Number.isNaN(Date.parse(mediaFinishedAt))) return new Date(mediaFinishedAt).toISOString();
  return closeTime;
}

/** Jobs on Temporal: submission resolves templates and starts mediaJob; reads come from the workflow itself. */
import { createHash, randomBytes } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import type { Config } from '../model/config';
import { taskQueueFor } from '../model/config';
import { MediaflowError, type FieldError } from '../model/errors';
import { describeInput, type ConcatInput, type JobInput, type JobSpec, type JobSubmit, type ResolvedOutput } from '../model/job';
import { checkUrl, checkUrlTarget } from '../storage/fetch-url';
import { tenantKey } from '../model/keys';
import { finalJobStatuses, type JobError, type JobState, type JobStatus } from '../model/job-state';
import { priorityKeyOf, type PipelineStore } from '../db/pipelines';
import type { TemplateStore } from '../db/templates';
import { checkReadableKey, keyNotFound, resolveSubtitles, resolveTemplates } from './resolve';
import type { Storage } from '../storage/storage';
import { pipelineResumedSignal, retryUpdate, searchAttributes, stateQuery, WORKFLOW_TYPE } from '../workflows/definitions';
import type { mediaJob } from '../workflows/media-job';
import { problemError } from './problem';
import { metrics } from '../observability/metrics';
import { endedError, endedFromOutside, finishedAtOf, jobForTenant, jobStatusOfRun, runStatusOf } from '../model/job-view';
import { rpc } from './temporal-rpc';

export interface JobsDeps {
  config: Config;
  client: Client;
  storage: Storage;
  templates: TemplateStore;
  pipelines: PipelineStore;
}

/** Memo kept on each workflow: enough to describe a job that no worker has picked up yet. */
interface JobMemo {
  createdAt: string;
  pipeline: string;
  /** Key inputs; jobs from before URL inputs have only this. */
  inputKey?: string;
  /** The input as submitted, minus a URL's query (it may hold a signature). */
  input?: JobInput;
  /** A concatenation's inputs, the same way, with their clips. */
  inputs?: (JobInput & { clip: ConcatInput['clip'] })[];
  userData: string | null;
  /** With an Idempotency-Key: the hash of the body the job was made from. */
  bodyHash?: string;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The job id an Idempotency-Key maps to: the same key of the same tenant, the same job. */
export function idempotentJobId(tenant: string, key: string): string {
  return `job_${sha256(`${tenant}\n${key}`).slice(0, 32)}`;
}

/** Jobs of every tenant by status, counted by Temporal visibility (for the `mediaflow_jobs` gauge; cached). */
export { countJobsByStatus } from './job-list';

/** A URL without its query and fragment, for places that outlive the request (memo, logs). */
function redactedInput(input: JobInput): JobInput {
  if (!('url' in input)) return input;
  const u = new URL(input.url);
  return { url: `${u.origin}${u.pathname}` };
}

/**
 * Checks the input at submission: the object exists in the tenant's part of the store (or in an
 * allowed bucket), or the URL may be fetched at all. The worker checks a URL again on every
 * connection; this is the early, friendly answer. A key outside the tenant's part of the store
 * answers exactly like a missing one.
 */
async function checkInput(deps: JobsDeps, input: JobInput, tenant: string, field = 'input'): Promise<JobInput> {
  if ('url' in input) {
    await checkUrlTarget(input.url, { allowPrivate: deps.config.ALLOW_PRIVATE_URLS }).catch((err: unknown) => {
      if (err instanceof MediaflowError) throw problemError(err.code, err.message, [{ path: `${field}.url`, message: err.message }]);
      throw err;
    });
    return input;
  }
  if (input.bucket !== undefined) {
    const allowed = [deps.config.OSS_BUCKET, ...deps.config.OSS_INPUT_BUCKETS];
    if (deps.config.STORAGE_DRIVER !== 'oss' || !deps.storage.forBucket) {
      throw problemError('InvalidInput', `${field}.bucket is only for STORAGE_DRIVER=oss`, [{ path: `${field}.bucket`, message: 'this server stores objects on local disk: give only "key"' }]);
    }
    // Other buckets are read by full object name, outside any tenant's prefix: the operator's own tenant only.
    if (tenant !== 'default') {
      throw problemError('InvalidInput', `${field}.bucket is for the default tenant only`, [{ path: `${field}.bucket`, message: 'a tenant reads only its own objects: give only "key"' }]);
    }
    if (!allowed.includes(input.bucket)) {
      throw problemError('InvalidInput', `bucket "${input.bucket}" is not one jobs may read`, [{ path: `${field}.bucket`, message: 'not an allowed input bucket (OSS_BUCKET, OSS_INPUT_BUCKETS)' }]);
    }
    // In the configured bucket, the tenants' folder stays theirs even by full name.
    const reserved = `${deps.config.OSS_PREFIX}tenants/`;
    const foreign = input.bucket === deps.config.OSS_BUCKET && (input.key.startsWith(reserved) || input.key === reserved.slice(0, -1));
    if (foreign || !(await deps.storage.forBucket(input.bucket).head(input.key))) {
      const { detail, ...error } = keyNotFound(input.key, `${field}.key`);
      throw problemError('InputNotFound', `${detail} (bucket "${input.bucket}")`, [error]);
    }
    return input;
  }
  return { key: await checkReadableKey(deps.storage, tenant, input.key, `${field}.key`) };
}

/**
 * A notify URL (the job's, a pipeline's) at submission: http(s), no credentials, not a literal
 * loopback, private or link-local address unless ALLOW_PRIVATE_URLS (storage/fetch-url.ts rules).
 * A host name that resolves privately is refused when the callback is delivered.
 *
 * @example checkNotifyUrl(config, 'http://10.0.0.1/hook', 'notify.url') // throws UrlNotAllowed naming notify.url
 */
export function checkNotifyUrl(config: Pick<Config, 'ALLOW_PRIVATE_URLS'>, url: string, path: string): void {
  try {
    checkUrl(url, config.ALLOW_PRIVATE_URLS);
  } catch (err) {
    if (err instanceof MediaflowError) throw problemError(err.code, `${path}: ${err.message}`, [{ path, message: err.message }]);
    throw err;
  }
}

/** The job's outputPrefix as a store prefix: malformed, or reaching into `tenants/` (for the default tenant too), is refused. */
function scopedOutputPrefix(tenant: string, outputPrefix: string): string {
  const scoped = tenantKey(tenant, outputPrefix, { prefix: true });
  if ('key' in scoped) return scoped.key;
  throw problemError('InvalidInput', `outputPrefix ${scoped.problem}`, [{ path: 'outputPrefix', message: scoped.problem }]);
}

/** Time-ordered, unguessable job ids: `job_` + base36 time + 16 hex. */
export function newJobId(): string {
  return `job_${Date.now().toString(36)}${randomBytes(8).toString('hex')}`;
}

export function temporalUiLink(config: Config, id: string): string {
  return `${config.TEMPORAL_UI_URL.replace(/\/$/, '')}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(id)}`;
}

/**
 * Validates what needs the outside world (pipeline, templates, input object) and starts the workflow.
 *
 * @example const { id } = await submitJob(deps, body, 'default')
 */
export async function submitJob(
  deps: JobsDeps,
  body: JobSubmit,
  tenant: string,
  idempotencyKey?: string,
): Promise<{ id: string; status: JobStatus; created: boolean }> {
  let id = newJobId();
  let bodyHash: string | undefined;
  if (idempotencyKey !== undefined) {
    if (!IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw problemError('InvalidInput', 'Idempotency-Key must be 1 to 255 visible ASCII characters', [{ path: 'Idempotency-Key', message: 'invalid header value' }]);
    }
    id = idempotentJobId(tenant, idempotencyKey);
    // Parsed bodies list their fields in schema order, so equal requests hash equally.
    bodyHash = sha256(JSON.stringify(body));
    const earlier = await existingJob(deps, id, bodyHash, tenant);
    if (earlier) return earlier;
  }
  const pipeline = await deps.pipelines.get(tenant, body.pipeline);
  if (!pipeline) {
    throw problemError('InvalidInput', `unknown pipeline "${body.pipeline}"`, [{ path: 'pipeline', message: `unknown pipeline "${body.pipeline}"` }]);
  }
  // Every key the job names goes through tenantKey (model/keys.ts) here, before anything starts.
  const outputPrefix = scopedOutputPrefix(tenant, body.outputPrefix);
  if (body.notify) checkNotifyUrl(deps.config, body.notify.url, 'notify.url');
  const { outputs, snapshots } = await resolveTemplates(deps.templates, deps.storage, tenant, body);
  // A concatenation: every input checked like `input`, in order (the first bad one is named: `inputs.N`).
  let inputs: JobSpec['inputs'];
  if (body.inputs) {
    inputs = [];
    for (const [n, i] of body.inputs.entries()) inputs.push({ ...i, input: await checkInput(deps, i.input, tenant, `inputs.${n}`) });
  }
  const input = inputs ? inputs[0]!.input : await checkInput(deps, body.input!, tenant);
  const subtitles = await resolveSubtitles(deps.storage, tenant, body.subtitles, deps.config.SUBTITLE_MAX_BYTES);
  const spec: JobSpec = {
    id,
    tenant,
    pipeline: pipeline.id,
    priorityKey: priorityKeyOf(pipeline.priority),
    createdAt: new Date().toISOString(),
    input,
    ...(inputs ? { inputs } : {}),
    outputs,
    snapshots,
    // Outputs live in the tenant's part of the store; the job JSON shows them relative to it.
    outputPrefix,
    // The job's own callback, else its pipeline's.
    notify: body.notify ?? pipeline.notify,
    userData: body.userData ?? null,
    retryWindowSec: deps.config.JOB_RETRY_WINDOW_SEC,
    waitForPipeline: pipeline.state === 'paused',
    chunking: { minDurationSec: deps.config.CHUNK_MIN_DURATION_SEC, chunkSec: deps.config.CHUNK_SEC, maxParallel: deps.config.CHUNK_MAX_PARALLEL },
    ...(subtitles.length ? { subtitles } : {}),
  };
  const memo: JobMemo = {
    createdAt: spec.createdAt,
    pipeline: spec.pipeline,
    ...('key' in input ? { inputKey: input.key } : {}),
    input: redactedInput(input),
    ...(inputs ? { inputs: inputs.map((i) => ({ ...redactedInput(i.input), clip: i.clip })) } : {}),
    userData: spec.userData,
    ...(bodyHash ? { bodyHash } : {}),
  };
  const names = [...outputs.map((o) => o.name), ...(snapshots ?? [{ name: 'poster' }]).map((s) => s.name)];
  try {
    await rpc(deps, () =>
      deps.client.workflow.start<typeof mediaJob>(WORKFLOW_TYPE, {
        workflowId: id,
        // A concurrent request with the same Idempotency-Key joins the job instead of failing.
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        taskQueue: taskQueueFor(deps.config, spec.pipeline),
        // The pipeline's priority orders its tasks; the tenant is the fairness key, so one
        // tenant's thousand-chunk job shares the slots with another tenant's small one.
        priority: { priorityKey: spec.priorityKey, fairnessKey: tenant },
        args: [spec],
        memo: memo as unknown as Record<string, unknown>,
        typedSearchAttributes: [
          { key: searchAttributes.status, value: 'queued' },
          { key: searchAttributes.pipeline, value: spec.pipeline },
          { key: searchAttributes.tenant, value: tenant },
          { key: searchAttributes.templates, value: [...new Set(outputs.map((o) => o.templateId))] },
        ],
        staticSummary: `${describeInput(spec.input)}${inputs ? ` + ${inputs.length - 1} more (joined)` : ''} → ${names.join(', ')}`,
        staticDetails: `tenant ${tenant} · pipeline ${spec.pipeline} · outputs under ${spec.outputPrefix}${id}/`,
      }),
    );
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  // Whoever won a race of equal keys, the job must have been made from this very body.
  if (bodyHash) await existingJob(deps, id, bodyHash, tenant);
  metrics.jobsSubmitted.inc({ pipeline: spec.pipeline });
  return { id, status: 'queued', created: true };
}

/** The job an Idempotency-Key already made: the same body answers it again, another body is a conflict. */
async function existingJob(deps: JobsDeps, id: string, bodyHash: string, tenant: string): Promise<{ id: string; status: JobStatus; created: false } | null> {
  const d = await describe(deps, deps.client.workflow.getHandle(id), tenant).catch((err: unknown) => {
    if (err instanceof MediaflowError && err.code === 'NotFound') return null;
    throw err;
  });
  if (!d) return null;
  if ((d.memo as Partial<JobMemo> | undefined)?.bodyHash !== bodyHash) {
    throw problemError('Conflict', 'this Idempotency-Key was already used with a different body');
  }
  return { id, status: statusOf(d), created: false };
}

/** A job's status from its description: the workflow's own status attribute, or how it closed (the list's rule). */
function statusOf(d: WorkflowExecutionDescription): JobStatus {
  return jobStatusOfRun(runStatusOf(d.status.name), d.typedSearchAttributes.get(searchAttributes.status));
}

/**
 * The job error of a run ended from outside (`temporal workflow terminate`, a workflow timeout),
 * with the reason its close event gives; null for runs the workflow ended itself.
 */
async function endedFromOutsideError(deps: JobsDeps, d: WorkflowExecutionDescription): Promise<JobError | null> {
  const run = runStatusOf(d.status.name);
  if (!endedFromOutside[run]) return null;
  const history = await rpc(deps, () =>
    deps.client.workflowService.getWorkflowExecutionHistoryReverse({ namespace: deps.config.TEMPORAL_NAMESPACE, execution: { workflowId: d.workflowId, runId: d.runId }, maximumPageSize: 1 }),
  ).catch(() => null);
  return endedError(run, history?.history?.events?.[0]?.workflowExecutionTerminatedEventAttributes?.reason);
}

/** Describes a job's workflow; NotFound for unknown ids and for workflows that are not jobs. */
async function describe(deps: JobsDeps, handle: WorkflowHandle, tenant: string): Promise<WorkflowExecutionDescription> {
  try {
    const d = await rpc(deps, () => handle.describe());
    // Another tenant's job is as absent as one that never existed: 404, not 403. A mediaJob started
    // outside the API (an operator with the Temporal CLI) carries no tenant: it is the default one's.
    const owner = d.typedSearchAttributes.get(searchAttributes.tenant) ?? 'default';
    if (d.type !== WORKFLOW_TYPE || owner !== tenant) {
      throw problemError('NotFound', `no job "${handle.workflowId}"`);
    }
    return d;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw problemError('NotFound', `no job "${handle.workflowId}"`);
    throw err;
  }
}

/**
 * Cancels a job that is not final yet (Temporal cancellation: the same path as the `cancel` signal).
 *
 * @example await cancelJob(deps, 'job_…')
 */
export async function cancelJob(deps: JobsDeps, id: string, tenant: string): Promise<JobStatus> {
  const handle = deps.client.workflow.getHandle(id);
  const d = await describe(deps, handle, tenant);
  const status = statusOf(d);
  const ended = await endedFromOutsideError(deps, d);
  if (ended) throw problemError('Conflict', `${ended.message}; only a job that is not final can be canceled`);
  if (d.status.name !== 'RUNNING' || finalJobStatuses.includes(status)) {
    throw problemError('Conflict', `the job is already ${status}; only a job that is not final can be canceled`);
  }
  await rpc(deps, () => handle.cancel());
  return status;
}

/**
 * Re-runs the failed tasks of a failed job in its retry window; Conflict when there is nothing to retry.
 *
 * @example const { tasks } = await retryJob(deps, 'job_…')
 */
export async function retryJob(deps: JobsDeps, id: string, tenant: string): Promise<{ tasks: string[] }> {
  const handle = deps.client.workflow.getHandle(id);
  const d = await describe(deps, handle, tenant);
  if (d.status.name !== 'RUNNING') {
    const ended = await endedFromOutsideError(deps, d);
    throw problemError('Conflict', ended?.message ?? `the job is ${statusOf(d)} and its retry window has closed`);
  }
  try {
    return await rpc(deps, () => handle.executeUpdate(retryUpdate));
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      throw problemError('Conflict', err.cause?.message ?? 'the job cannot be retried now');
    }
    throw err;
  }
}

/** What we can say of a job from its description alone (no worker needed). */
async function stateFromDescription(deps: JobsDeps, id: string, d: WorkflowExecutionDescription): Promise<JobState> {
  const memo = (d.memo ?? {}) as Partial<JobMemo>;
  const status = statusOf(d);
  const run = runStatusOf(d.status.name);
  return {
    id,
    status,
    progress: 0,
    pipeline: memo.pipeline ?? 'default',
    createdAt: memo.createdAt ?? d.startTime.toISOString(),
    startedAt: null,
    finishedAt: finishedAtOf(run, status, d.typedSearchAttributes.get(searchAttributes.finishedAt), d.closeTime?.toISOString() ?? null),
    input: { ...(memo.input ?? { key: memo.inputKey ?? '' }), media: null },
    ...(memo.inputs ? { inputs: memo.inputs.map((i) => ({ ...i, media: null })) } : {}),
    tasks: [],
    outputs: [],
    snapshots: [],
    notifications: [],
    error: await endedFromOutsideError(deps, d),
    userData: memo.userData ?? null,
  };
}

/** Overlays live progress from the heartbeats of running activities (no signal traffic per tick). */
/** temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED (the proto package is not a direct dependency). */
const PENDING_ACTIVITY_STATE_STARTED = 2;

function withLiveProgress(state: JobState, d: WorkflowExecutionDescription, client: Client): JobState {
  const converter = client.options.loadedDataConverter.payloadConverter;
  // Retried tasks run as `taskId#round`; one activity may carry several tasks (`task.activity`).
  const base = (id: string | null | undefined) => (id ?? '').replace(/#\d+$/, '');
  for (const pending of d.raw.pendingActivities ?? []) {
    const id = base(pending.activityId);
    const payload = pending.heartbeatDetails?.payloads?.[0];
    const details = payload ? converter.fromPayload<{ progress?: number }>(payload) : null;
    const started = pending.state === PENDING_ACTIVITY_STATE_STARTED;
    for (const task of state.tasks) {
      const carried = task.activity ? base(task.activity) : task.id;
      // A chunk (`…/chunk-3`) of the task's group: running, but its progress is the chunk's, not the task's.
      const whole = id === carried;
      if (!whole && !(task.activity && id.startsWith(`${carried}/`))) continue;
      if (started && task.status === 'queued') task.status = 'running';
      if (!whole) continue;
      task.attempts = Math.max(task.attempts, pending.attempt ?? 0);
      if (typeof details?.progress === 'number') task.progress = Math.max(0, Math.min(1, details.progress));
    }
  }
  const media = state.tasks.filter((t) => t.kind !== 'notify');
  if (media.length && !finalJobStatuses.includes(state.status)) {
    const sum = media.reduce((acc, t) => acc + (t.status === 'pending' || t.status === 'queued' || t.status === 'running' ? t.progress : 1), 0);
    state.progress = Math.round((sum / media.length) * 1000) / 1000;
  }
  return state;
}

/**
 * The job JSON of docs/api.md, or a NotFound problem.
 *
 * @example const job = await getJob(deps, 'job_…')
 */
export async function getJob(deps: JobsDeps, id: string, tenant: string): Promise<JobState> {
  const handle = deps.client.workflow.getHandle(id);
  const d = await describe(deps, handle, tenant);
  if (d.status.name === 'COMPLETED') return jobForTenant((await rpc(deps, () => handle.result())) as JobState, tenant);
  if (d.status.name !== 'RUNNING') return jobForTenant(await stateFromDescription(deps, id, d), tenant);
  // Started but never picked up by a worker (history: started + first task scheduled): a query
  // would only wait out its deadline, so answer from the description at once.
  if (d.historyLength <= 2) return jobForTenant(await stateFromDescription(deps, id, d), tenant);
  try {
    const state = await rpc(deps, () => handle.query(stateQuery));
    return jobForTenant(withLiveProgress(state, d, deps.client), tenant);
  } catch {
    // No worker has answered (none running, or all busy): say what the description knows.
    return jobForTenant(await stateFromDescription(deps, id, d), tenant);
  }
}

/**
 * Wakes the jobs a paused pipeline held in `queued` (they also re-check on their own, after
 * 30 s, then at doubling intervals up to an hour: a job this misses is only late, never stuck).
 * Returns how many were signalled.
 *
 * @example await releasePipeline(deps, 'default', 'batch')
 */
export async function releasePipeline(deps: JobsDeps, tenant: string, pipeline: string): Promise<number> {
  const quote = (v: string) => `'${v.replace(/'/g, "''")}'`;
  const query = `WorkflowType = ${quote(WORKFLOW_TYPE)} AND ExecutionStatus = 'Running' AND MediaPipeline = ${quote(pipeline)} AND MediaTenant = ${quote(tenant)} AND MediaJobStatus = 'queued'`;
  let released = 0;
  // 16 signals in flight: one at a time, 1000 held jobs kept the PATCH open for minutes on a busy cluster.
  const inFlight = new Set<Promise<void>>();
  for await (const wf of deps.client.workflow.list({ query })) {
    const sent: Promise<void> = deps.client.workflow.getHandle(wf.workflowId).signal(pipelineResumedSignal).catch(() => undefined).finally(() => inFlight.delete(sent));
    inFlight.add(sent);
    released += 1;
    if (inFlight.size >= 16) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return released;
}

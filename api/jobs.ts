/** Jobs on Temporal: submission resolves templates and starts mediaJob; reads come from the workflow itself. */
import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import type { Config } from '../model/config';
import { taskQueueFor } from '../model/config';
import type { FieldError } from '../model/errors';
import type { JobSpec, JobSubmit, ResolvedOutput } from '../model/job';
import { finalJobStatuses, type JobState, type JobStatus } from '../model/job-state';
import { deepMerge, transcodeTemplateSchema } from '../model/templates';
import { systemPresets } from '../media/presets';
import type { Storage } from '../storage/storage';
import { searchAttributes, stateQuery, WORKFLOW_TYPE } from '../workflows/definitions';
import type { mediaJob } from '../workflows/media-job';
import { fieldErrors } from './body';
import { problemError } from './problem';

export interface JobsDeps {
  config: Config;
  client: Client;
  storage: Storage;
}

/** Memo kept on each workflow: enough to describe a job that no worker has picked up yet. */
interface JobMemo {
  createdAt: string;
  pipeline: string;
  inputKey: string;
  userData: string | null;
}

/**
 * Runs a Temporal call under the API's deadline: without one the SDK keeps retrying an unreachable
 * server for many seconds, and the client should hear 503 sooner.
 */
function rpc<T>(deps: JobsDeps, call: () => Promise<T>): Promise<T> {
  return deps.client.connection.withDeadline(Date.now() + deps.config.TEMPORAL_RPC_TIMEOUT_SEC * 1000, call);
}

/** Time-ordered, unguessable job ids: `job_` + base36 time + 16 hex. */
export function newJobId(): string {
  return `job_${Date.now().toString(36)}${randomBytes(8).toString('hex')}`;
}

export function temporalUiLink(config: Config, id: string): string {
  return `${config.TEMPORAL_UI_URL.replace(/\/$/, '')}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(id)}`;
}

/** Resolves each output's template now (system presets), merging and validating inline overrides. */
function resolveOutputs(body: JobSubmit): ResolvedOutput[] {
  const errors: FieldError[] = [];
  const resolved: ResolvedOutput[] = [];
  body.outputs.forEach((out, i) => {
    const preset = systemPresets[out.template];
    if (!preset) {
      errors.push({ path: `outputs.${i}.template`, message: `unknown template "${out.template}"; known: ${Object.keys(systemPresets).join(', ')}` });
      return;
    }
    const merged = transcodeTemplateSchema.safeParse(deepMerge(preset, out.overrides));
    if (!merged.success) {
      errors.push(...fieldErrors(merged.error.issues, ['outputs', i, 'overrides']));
      return;
    }
    resolved.push({ name: out.name, templateId: out.template, template: merged.data });
  });
  if (errors.length) {
    const unknown = errors.some((e) => e.path.endsWith('.template'));
    throw problemError(unknown ? 'UnknownTemplate' : 'InvalidInput', errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors);
  }
  return resolved;
}

/**
 * Validates what needs the outside world (pipeline, templates, input object) and starts the workflow.
 *
 * @example const { id } = await submitJob(deps, body, 'default')
 */
export async function submitJob(deps: JobsDeps, body: JobSubmit, tenant: string): Promise<{ id: string; status: JobStatus }> {
  if (body.pipeline !== 'default') {
    throw problemError('InvalidInput', `unknown pipeline "${body.pipeline}"`, [{ path: 'pipeline', message: `unknown pipeline "${body.pipeline}"` }]);
  }
  const outputs = resolveOutputs(body);
  if (!(await deps.storage.head(body.input.key))) {
    throw problemError('InputNotFound', `no object with key "${body.input.key}"; upload it first with PUT /v1/objects/{key}`, [
      { path: 'input.key', message: 'no such object' },
    ]);
  }
  const id = newJobId();
  const spec: JobSpec = {
    id,
    tenant,
    pipeline: body.pipeline,
    createdAt: new Date().toISOString(),
    input: body.input,
    outputs,
    snapshots: body.snapshots ?? null,
    outputPrefix: body.outputPrefix,
    notify: body.notify ?? null,
    userData: body.userData ?? null,
  };
  const memo: JobMemo = { createdAt: spec.createdAt, pipeline: spec.pipeline, inputKey: spec.input.key, userData: spec.userData };
  const names = [...outputs.map((o) => o.name), ...(body.snapshots ?? [{ name: 'poster' }]).map((s) => s.name)];
  await rpc(deps, () => deps.client.workflow.start<typeof mediaJob>(WORKFLOW_TYPE, {
    workflowId: id,
    taskQueue: taskQueueFor(deps.config, spec.pipeline),
    args: [spec],
    memo: memo as unknown as Record<string, unknown>,
    typedSearchAttributes: [
      { key: searchAttributes.status, value: 'queued' },
      { key: searchAttributes.pipeline, value: spec.pipeline },
      { key: searchAttributes.tenant, value: tenant },
      { key: searchAttributes.templates, value: [...new Set(outputs.map((o) => o.templateId))] },
    ],
    staticSummary: `${spec.input.key} → ${names.join(', ')}`,
    staticDetails: `tenant ${tenant} · pipeline ${spec.pipeline} · outputs under ${spec.outputPrefix}${id}/`,
  }));
  return { id, status: 'queued' };
}

/** What we can say of a job from its description alone (no worker needed). */
function stateFromDescription(id: string, d: WorkflowExecutionDescription): JobState {
  const memo = (d.memo ?? {}) as Partial<JobMemo>;
  const saStatus = d.typedSearchAttributes.get(searchAttributes.status) as JobStatus | undefined;
  const closedAs: Partial<Record<string, JobStatus>> = { CANCELLED: 'canceled', FAILED: 'failed', TERMINATED: 'failed', TIMED_OUT: 'failed' };
  const status = closedAs[d.status.name] ?? saStatus ?? 'queued';
  return {
    id,
    status,
    progress: 0,
    pipeline: memo.pipeline ?? 'default',
    createdAt: memo.createdAt ?? d.startTime.toISOString(),
    startedAt: null,
    finishedAt: d.closeTime ? d.closeTime.toISOString() : null,
    input: { key: memo.inputKey ?? '', media: null },
    tasks: [],
    outputs: [],
    snapshots: [],
    notifications: [],
    error:
      status === 'failed' && closedAs[d.status.name]
        ? { code: 'JobAborted', message: `the workflow ended as ${d.status.name.toLowerCase()} before it could report`, retryable: false }
        : null,
    userData: memo.userData ?? null,
  };
}

/** Overlays live progress from the heartbeats of running activities (no signal traffic per tick). */
function withLiveProgress(state: JobState, d: WorkflowExecutionDescription, client: Client): JobState {
  const converter = client.options.loadedDataConverter.payloadConverter;
  for (const pending of d.raw.pendingActivities ?? []) {
    const task = state.tasks.find((t) => t.id === pending.activityId);
    const payload = pending.heartbeatDetails?.payloads?.[0];
    if (!task) continue;
    task.attempts = Math.max(task.attempts, pending.attempt ?? 0);
    if (payload) {
      const details = converter.fromPayload<{ progress?: number }>(payload);
      if (typeof details?.progress === 'number') task.progress = Math.max(0, Math.min(1, details.progress));
    }
  }
  const media = state.tasks.filter((t) => t.kind !== 'notify');
  if (media.length && !finalJobStatuses.includes(state.status)) {
    const sum = media.reduce((acc, t) => acc + (t.status === 'pending' || t.status === 'running' ? t.progress : 1), 0);
    state.progress = Math.round((sum / media.length) * 1000) / 1000;
  }
  return state;
}

/**
 * The job JSON of API.md, or a NotFound problem.
 *
 * @example const job = await getJob(deps, 'job_…')
 */
export async function getJob(deps: JobsDeps, id: string): Promise<JobState> {
  const handle = deps.client.workflow.getHandle(id);
  let d: WorkflowExecutionDescription;
  try {
    d = await rpc(deps, () => handle.describe());
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw problemError('NotFound', `no job "${id}"`);
    throw err;
  }
  if (d.type !== WORKFLOW_TYPE) throw problemError('NotFound', `no job "${id}"`);
  if (d.status.name === 'COMPLETED') return (await rpc(deps, () => handle.result())) as JobState;
  if (d.status.name !== 'RUNNING') return stateFromDescription(id, d);
  try {
    const state = await rpc(deps, () => handle.query(stateQuery));
    return withLiveProgress(state, d, deps.client);
  } catch {
    // No worker has answered (none running, or all busy): say what the description knows.
    return stateFromDescription(id, d);
  }
}

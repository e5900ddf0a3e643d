/**
 * GET /v1/jobs and the `mediaflow_jobs` gauge: jobs straight from Temporal visibility (search
 * attributes and execution info, no per-job query), one entry per job whatever number of runs
 * its workflow id has, filtered by the tenant, and paged with Temporal's own page tokens.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { z } from 'zod';
import type { Config } from '../model/config';
import { webhookSecret } from '../activities/webhook';
import { finalJobStatuses, type JobStatus } from '../model/job-state';
import { endedFromOutside, finishedAtOf, jobStatusOfRun, runStatusOf, runsTheAttributeSpeaksFor, type RunStatus } from '../model/job-view';
import { templateId } from '../model/templates';
import { cachedRead } from '../observability/metrics';
import { searchAttributes, WORKFLOW_TYPE } from '../workflows/definitions';
import { jobStatuses, type JobSummary } from './openapi/schemas';
import { isTemporalUnavailable, problemError } from './problem';
import { rpc } from './temporal-rpc';

export const MAX_PAGE_SIZE = 100;

/** The query string of GET /v1/jobs (one value per parameter; unknown parameters are refused). */
export const jobListQuerySchema = z.strictObject({
  status: z.enum(jobStatuses).optional().meta({ description: 'only jobs with this status' }),
  pipeline: templateId.optional().meta({ description: 'only jobs submitted to this pipeline' }),
  pageSize: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_SIZE)
    .default(20)
    .meta({ description: `jobs per page, 1 to ${MAX_PAGE_SIZE}` }),
  pageToken: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,4096}$/, 'a nextPageToken from an earlier answer')
    .optional()
    .meta({ description: 'the `nextPageToken` of the previous page, with the same filters' }),
});
export type JobListQuery = z.infer<typeof jobListQuerySchema>;

export interface JobListDeps {
  config: Config;
  client: Client;
}

const quote = (v: string) => `'${v.replace(/'/g, "''")}'`;
const quoteAll = (vs: readonly string[]) => vs.map(quote).join(', ');

/**
 * The visibility condition for runs that stand for jobs with this status, the same rule as
 * jobStatusOfRun (model/job-view.ts): MediaJobStatus where the workflow keeps it (a running run;
 * a completed one, for final statuses), else how the run ended. A terminated run still says
 * `processing` in its attribute and is a failed job; `processing` means a running run.
 *
 * @example statusClause('failed') // "((MediaJobStatus = 'failed' AND ExecutionStatus IN ('Running', 'Completed')) OR ExecutionStatus IN ('Terminated', …))"
 */
export function statusClause(status: JobStatus): string {
  const speaks = finalJobStatuses.includes(status) ? runsTheAttributeSpeaksFor : runsTheAttributeSpeaksFor.filter((r) => r === 'Running');
  const byAttribute = `(MediaJobStatus = ${quote(status)} AND ExecutionStatus IN (${quoteAll(speaks)}))`;
  const ended = (Object.keys(endedFromOutside) as RunStatus[]).filter((r) => endedFromOutside[r]!.status === status);
  return ended.length ? `(${byAttribute} OR ExecutionStatus IN (${quoteAll(ended)}))` : byAttribute;
}

/** The visibility query for a tenant's jobs (every run: listJobs keeps each job's latest run only). */
export function visibilityQuery(tenant: string, filter: { status?: JobStatus | undefined; pipeline?: string | undefined }): string {
  const parts = [`WorkflowType = ${quote(WORKFLOW_TYPE)}`, `MediaTenant = ${quote(tenant)}`];
  if (filter.pipeline !== undefined) parts.push(`MediaPipeline = ${quote(filter.pipeline)}`);
  if (filter.status !== undefined) parts.push(statusClause(filter.status));
  return parts.join(' AND ');
}

type Deps = JobListDeps;
type Run = temporal.api.workflow.v1.IWorkflowExecutionInfo;

/** Every run that matches a visibility query, all pages. */
async function allRuns(deps: Deps, query: string): Promise<Run[]> {
  const runs: Run[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await rpc(deps, () =>
      deps.client.workflowService.listWorkflowExecutions({ namespace: deps.config.TEMPORAL_NAMESPACE, query, pageSize: 1000, ...(nextPageToken ? { nextPageToken } : {}) }),
    );
    runs.push(...page.executions);
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return runs;
}

const millis = (ts: Timestamp | null | undefined): number => (ts?.seconds == null ? 0 : Date.parse(isoOf(ts)!));

/** Every run of these workflow ids (of the tenant, when given), by workflow id. */
async function runsOf(deps: Deps, workflowIds: string[], tenant?: string): Promise<Map<string, Run[]>> {
  const byId = new Map<string, Run[]>();
  const ids = [...new Set(workflowIds)];
  // Batches keep each query short; the runs of one id always fall in one batch.
  for (let i = 0; i < ids.length; i += 100) {
    const where = [`WorkflowType = ${quote(WORKFLOW_TYPE)}`, ...(tenant === undefined ? [] : [`MediaTenant = ${quote(tenant)}`]), `WorkflowId IN (${quoteAll(ids.slice(i, i + 100))})`];
    for (const run of await allRuns(deps, where.join(' AND '))) {
      const id = run.execution?.workflowId ?? '';
      byId.set(id, [...(byId.get(id) ?? []), run]);
    }
  }
  return byId;
}

/**
 * The latest of a workflow id's runs, the one that stands for the job: the running one (a
 * workflow id has at most one, and it is the newest), else the one that closed last (a reset
 * terminates the run it replaces, or starts after it closed, so the run it starts closes later).
 */
function latestRun(runs: Run[]): Run {
  const running = (r: Run) => runStatusOf(r.status) === 'Running';
  const later = (a: Run, b: Run): boolean => {
    if (running(a) !== running(b)) return running(a);
    const byClose = millis(a.closeTime as Timestamp) - millis(b.closeTime as Timestamp);
    return byClose !== 0 ? byClose > 0 : millis(a.startTime as Timestamp) > millis(b.startTime as Timestamp);
  };
  return runs.reduce((best, run) => (later(run, best) ? run : best));
}

/**
 * Jobs of every tenant by status, counted by Temporal visibility for the `mediaflow_jobs` gauge,
 * each job once although visibility keeps every run of a workflow id (`temporal workflow reset`
 * adds one and terminates the run it replaces):
 * - One count query per status with statusClause, the list's own rule. Queued, probing and
 *   processing only ever match running runs, and a workflow id has at most one of those: exact.
 * - Succeeded, failed and canceled also match closed runs, where a reset leaves its earlier run
 *   behind. Those superseded runs are taken off again: a reset of a running job terminates it,
 *   so the workflow ids with a Terminated run (an operator's doing: few) are the ones to check;
 *   all their runs are listed and every run but the latest is subtracted from its status.
 *   A reset of a job whose workflow had already closed terminates nothing, so its earlier run
 *   is still counted here (GET /v1/jobs, which checks every closed run it lists, shows it once).
 * Cached (METRICS_COUNT_CACHE_SEC): a scrape does not cost a query.
 */
async function countJobs(deps: Deps): Promise<Record<string, number>> {
  const ofType = `WorkflowType = ${quote(WORKFLOW_TYPE)}`;
  const counts = await Promise.all(jobStatuses.map((status) => rpc(deps, () => deps.client.workflow.count(`${ofType} AND ${statusClause(status)}`))));
  const result: Record<string, number> = Object.fromEntries(jobStatuses.map((s, i) => [s, counts[i]!.count]));
  const terminated = await allRuns(deps, `${ofType} AND ExecutionStatus = 'Terminated'`);
  if (!terminated.length) return result;
  for (const runs of (await runsOf(deps, terminated.map((r) => r.execution?.workflowId ?? ''))).values()) {
    const latest = latestRun(runs);
    for (const run of runs) {
      if (run === latest) continue;
      const status = jobStatusOfRun(runStatusOf(run.status), attribute(deps, run, searchAttributes.status.name) as string | undefined);
      result[status] = Math.max(0, (result[status] ?? 0) - 1);
    }
  }
  return result;
}

const countReaders = new WeakMap<Client, () => Promise<Record<string, number>>>();

/**
 * Jobs of every tenant by status (see countJobs), read from Temporal at most once every
 * METRICS_COUNT_CACHE_SEC per client however many scrapes ask.
 *
 * @example scrapeGauge('mediaflow_jobs', '…', 'status', () => countJobsByStatus(deps))
 */
export function countJobsByStatus(deps: Deps): Promise<Record<string, number>> {
  let read = countReaders.get(deps.client);
  if (!read) {
    read = cachedRead('mediaflow_jobs', deps.config.METRICS_COUNT_CACHE_SEC, () => countJobs(deps));
    countReaders.set(deps.client, read);
  }
  return read();
}

/** One search attribute (or memo field) of a run, decoded. */
function attribute(deps: Deps, run: Run, name: string, from: 'attrs' | 'memo' = 'attrs'): unknown {
  const fields = from === 'attrs' ? run.searchAttributes?.indexedFields : run.memo?.fields;
  const payload = fields?.[name];
  if (!payload) return undefined;
  const value = deps.client.options.loadedDataConverter.payloadConverter.fromPayload(payload);
  // Older servers hand keyword attributes back as one-element lists.
  return Array.isArray(value) ? value[0] : value;
}

/*
 * Page tokens: Temporal's token behind an HMAC of the query it belongs to and the token itself,
 * keyed with the service secret (the one completion callbacks are signed with), base64url. The
 * API hands Temporal only tokens it issued for the same filters: the dev server, given bytes it
 * cannot read, fails in a way the SDK retries until the deadline (a 503 after seconds); here
 * such a token is a 400 at once, and a token replayed with other filters is one too.
 */
const TAG_BYTES = 16;

async function tokenTag(config: Config, query: string, raw: Uint8Array): Promise<Buffer> {
  return createHmac('sha256', await webhookSecret(config))
    .update(`mediaflow page token\n${query}\n`)
    .update(raw)
    .digest()
    .subarray(0, TAG_BYTES);
}

export async function encodePageToken(config: Config, query: string, raw: Uint8Array | null | undefined): Promise<string | null> {
  if (!raw || raw.length === 0) return null;
  return Buffer.concat([await tokenTag(config, query, raw), raw]).toString('base64url');
}

function badToken(message: string): Error {
  return problemError('InvalidInput', `pageToken ${message}`, [{ path: 'pageToken', message }]);
}

export async function decodePageToken(config: Config, query: string, token: string): Promise<Uint8Array> {
  const bytes = Buffer.from(token, 'base64url');
  const raw = bytes.subarray(TAG_BYTES);
  const tag = bytes.subarray(0, TAG_BYTES);
  if (raw.length === 0 || !timingSafeEqual(tag, await tokenTag(config, query, raw))) {
    throw badToken('is not a nextPageToken of a listing with these filters');
  }
  return raw;
}

interface Timestamp {
  seconds?: { toNumber(): number } | number | null;
  nanos?: number | null;
}

function isoOf(ts: Timestamp | null | undefined): string | null {
  if (!ts || ts.seconds == null) return null;
  const seconds = typeof ts.seconds === 'number' ? ts.seconds : ts.seconds.toNumber();
  return new Date(seconds * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString();
}

/**
 * One page of the tenant's jobs, newest first as visibility orders them (running jobs first).
 *
 * @example const { jobs, nextPageToken } = await listJobs(deps, 'default', { pageSize: 20 })
 */
export async function listJobs(deps: JobListDeps, tenant: string, q: JobListQuery): Promise<{ jobs: JobSummary[]; nextPageToken: string | null }> {
  const query = visibilityQuery(tenant, q);
  const { client, config } = deps;
  const nextPageToken = q.pageToken === undefined ? undefined : await decodePageToken(config, query, q.pageToken);
  let response;
  try {
    response = await rpc(deps, () =>
      client.workflowService.listWorkflowExecutions({ namespace: config.TEMPORAL_NAMESPACE, query, pageSize: q.pageSize, ...(nextPageToken ? { nextPageToken } : {}) }),
    );
  } catch (err) {
    // INVALID_ARGUMENT on a well-formed request: the token's bytes are not Temporal's.
    if (!isTemporalUnavailable(err) && (err as { code?: unknown }).code === 3 && nextPageToken) throw badToken('is not valid');
    throw err;
  }
  // A reset leaves the runs it replaced in visibility: only closed runs can be such, so the
  // closed ones on this page are checked against all runs of their ids, and only a job's latest
  // run is listed (wherever the listing's order puts it: each job once across the pages, though
  // a page may then hold fewer than pageSize jobs).
  const closed = response.executions.filter((run) => runStatusOf(run.status) !== 'Running').map((run) => run.execution?.workflowId ?? '');
  const runs = closed.length ? await runsOf(deps, closed, tenant) : new Map<string, Run[]>();
  const current = response.executions.filter((run) => {
    const all = runs.get(run.execution?.workflowId ?? '');
    return !all || latestRun(all).execution?.runId === run.execution?.runId;
  });
  const jobs = current.map((run): JobSummary => {
    const runStatus = runStatusOf(run.status);
    const status = jobStatusOfRun(runStatus, attribute(deps, run, searchAttributes.status.name) as string | undefined);
    const startedAt = isoOf(run.startTime as Timestamp) ?? new Date(0).toISOString();
    return {
      id: run.execution?.workflowId ?? '',
      status,
      pipeline: (attribute(deps, run, searchAttributes.pipeline.name) as string | undefined) ?? (attribute(deps, run, 'pipeline', 'memo') as string | undefined) ?? 'default',
      createdAt: (attribute(deps, run, 'createdAt', 'memo') as string | undefined) ?? startedAt,
      finishedAt: finishedAtOf(runStatus, status, attribute(deps, run, searchAttributes.finishedAt.name), isoOf(run.closeTime as Timestamp | null)),
    };
  });
  return { jobs, nextPageToken: await encodePageToken(config, query, response.nextPageToken) };
}

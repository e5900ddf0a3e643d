/**
 * GET /v1/jobs: job summaries straight from Temporal visibility (search attributes and execution
 * info, no per-job query), filtered by the tenant, and paged with Temporal's own page tokens.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import type { Config } from '../model/config';
import { webhookSecret } from '../activities/webhook';
import type { JobStatus } from '../model/job-state';
import { templateId } from '../model/templates';
import { WORKFLOW_TYPE } from '../workflows/definitions';
import { jobStatuses, type JobSummary } from './openapi/schemas';
import { isTemporalUnavailable, problemError } from './problem';

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

/** Closed executions whose status says more than the search attribute (which a killed workflow never updated). */
const ABNORMAL_CLOSE: Partial<Record<JobStatus, string[]>> = { failed: ['Failed', 'Terminated', 'TimedOut'], canceled: ['Canceled'] };

/**
 * The visibility query for a tenant's jobs. A job's status is its MediaJobStatus while the
 * workflow runs or completed normally; a workflow that failed, was terminated or timed out is a
 * failed job, and a Temporal-cancelled one a canceled job, whatever the attribute last said.
 */
export function visibilityQuery(tenant: string, filter: { status?: JobStatus | undefined; pipeline?: string | undefined }): string {
  const parts = [`WorkflowType = ${quote(WORKFLOW_TYPE)}`, `MediaTenant = ${quote(tenant)}`];
  if (filter.pipeline !== undefined) parts.push(`MediaPipeline = ${quote(filter.pipeline)}`);
  if (filter.status !== undefined) {
    const normal = `(MediaJobStatus = ${quote(filter.status)} AND ExecutionStatus IN ('Running', 'Completed'))`;
    const abnormal = ABNORMAL_CLOSE[filter.status];
    parts.push(abnormal ? `(${normal} OR ExecutionStatus IN (${abnormal.map(quote).join(', ')}))` : normal);
  }
  return parts.join(' AND ');
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

/** Execution statuses (temporal.api.enums.v1.WorkflowExecutionStatus) that decide the job status on their own. */
const STATUS_BY_CLOSE: Record<number, JobStatus> = { 3: 'failed', 4: 'canceled', 5: 'failed', 7: 'failed' };

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
    response = await client.connection.withDeadline(Date.now() + config.TEMPORAL_RPC_TIMEOUT_SEC * 1000, () =>
      client.workflowService.listWorkflowExecutions({ namespace: config.TEMPORAL_NAMESPACE, query, pageSize: q.pageSize, ...(nextPageToken ? { nextPageToken } : {}) }),
    );
  } catch (err) {
    // INVALID_ARGUMENT on a well-formed request: the token's bytes are not Temporal's.
    if (!isTemporalUnavailable(err) && (err as { code?: unknown }).code === 3 && nextPageToken) throw badToken('is not valid');
    throw err;
  }
  const converter = client.options.loadedDataConverter.payloadConverter;
  const decode = (payload: Parameters<typeof converter.fromPayload>[0] | undefined): unknown => {
    if (!payload) return undefined;
    const value = converter.fromPayload(payload);
    // Older servers hand keyword attributes back as one-element lists.
    return Array.isArray(value) ? value[0] : value;
  };
  const jobs = response.executions.map((raw): JobSummary => {
    const attrs = raw.searchAttributes?.indexedFields ?? {};
    const memo = raw.memo?.fields ?? {};
    const attrStatus = decode(attrs.MediaJobStatus ?? undefined) as JobStatus | undefined;
    const startedAt = isoOf(raw.startTime as Timestamp) ?? new Date(0).toISOString();
    return {
      id: raw.execution?.workflowId ?? '',
      status: STATUS_BY_CLOSE[raw.status ?? 0] ?? (attrStatus && jobStatuses.includes(attrStatus) ? attrStatus : 'queued'),
      pipeline: (decode(attrs.MediaPipeline ?? undefined) as string | undefined) ?? (decode(memo.pipeline ?? undefined) as string | undefined) ?? 'default',
      createdAt: (decode(memo.createdAt ?? undefined) as string | undefined) ?? startedAt,
      finishedAt: isoOf(raw.closeTime as Timestamp | null),
    };
  });
  return { jobs, nextPageToken: await encodePageToken(config, query, response.nextPageToken) };
}

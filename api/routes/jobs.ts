/** /v1/jobs: submit, read, follow (SSE), cancel and retry jobs. */
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { finalJobStatuses, type JobState } from '../../model/job-state';
import { cancelJob, getJob, retryJob, submitJob, temporalUiLink, type JobsDeps } from '../jobs';
import { problemError, problemForError } from '../problem';
import { callerOf } from '../auth';
import { jobListQuerySchema, listJobs } from '../job-list';
import { json, jsonBody, operation, router } from '../openapi/route';
import { cancelAcceptedSchema, jobAcceptedSchema, jobListSchema, jobSchema, jobSubmitBody, retryAcceptedSchema } from '../openapi/schemas';

const JOB_ID = /^job_[a-z0-9]{1,64}$/;
const EVENTS_POLL_MS = 1000;

function jobId(raw: string): string {
  if (!JOB_ID.test(raw)) throw problemError('NotFound', `no job "${raw}"`);
  return raw;
}

/** A job is done changing once it is final and its notifications are delivered (or given up). */
function settled(job: JobState): boolean {
  return finalJobStatuses.includes(job.status) && job.notifications.every((n) => n.status !== 'pending');
}

/** Any string: an id that cannot be a job's answers 404 (jobId), as an unknown one does. */
const params = z.object({ id: z.string().meta({ description: 'a job id (`job_…`)', examples: ['job_mfd3k2x0a1b2c3d4e5f6a7b8'] }) });
const location = { Location: { description: 'the URL of what was created', schema: { type: 'string' as const } } };

export function jobRoutes(deps: JobsDeps) {
  const app = router();

  app.openapi(
    operation({
      method: 'get', path: '/', operationId: 'listJobs', tag: 'jobs',
      summary: "List the tenant's jobs (from Temporal visibility), filtered and paged",
      description: 'Newest first, running jobs before closed ones. Follow `nextPageToken` with the same filters.',
      request: { query: jobListQuerySchema },
      responses: { 200: { description: 'one page of job summaries', content: json(jobListSchema) } },
      problems: ['InvalidInput', 'TemporalUnavailable'],
    }),
    async (c) => c.json(await listJobs(deps, callerOf(c).tenant, c.req.valid('query')), 200),
  );

  app.openapi(
    operation({
      method: 'post', path: '/', operationId: 'submitJob', tag: 'jobs',
      summary: 'Submit a job: templates are resolved and frozen into the job now',
      request: {
        headers: z.object({
          'Idempotency-Key': z
            .string()
            .regex(/^[\x21-\x7e]{1,255}$/, 'invalid header value')
            .optional()
            .meta({ description: 'the same key with the same body returns the same job (200); with another body, 409' }),
        }),
        body: jsonBody(jobSubmitBody),
      },
      maxBodyBytes: deps.config.MAX_BODY_BYTES,
      responses: {
        202: { description: 'accepted; the job is queued', content: json(jobAcceptedSchema), headers: location },
        200: { description: 'the job this Idempotency-Key already made from the same body', content: json(jobAcceptedSchema), headers: location },
      },
      problems: ['InvalidInput', 'UnknownTemplate', 'UnsupportedOutput', 'InputNotFound', 'UrlNotAllowed', 'Conflict', 'StorageUnavailable', 'TemporalUnavailable'],
    }),
    async (c) => {
      const { id, status, created } = await submitJob(deps, c.req.valid('json'), callerOf(c).tenant, c.req.valid('header')['Idempotency-Key']);
      const self = `/v1/jobs/${id}`;
      c.header('Location', self);
      return c.json({ id, status, links: { self, temporalUi: temporalUiLink(deps.config, id) } }, created ? 202 : 200);
    },
  );

  app.openapi(
    operation({
      method: 'get', path: '/{id}', operationId: 'getJob', tag: 'jobs',
      summary: 'A job: status, progress (live), tasks, input media, outputs, snapshots, notifications',
      request: { params },
      responses: { 200: { description: 'the job', content: json(jobSchema) } },
      problems: ['NotFound', 'TemporalUnavailable'],
    }),
    async (c) => c.json(await getJob(deps, jobId(c.req.valid('param').id), callerOf(c).tenant), 200),
  );

  app.openapi(
    operation({
      method: 'get', path: '/{id}/events', operationId: 'getJobEvents', tag: 'jobs',
      summary: 'Server-sent events: the job JSON each time it changes, until it is final and notified',
      request: { params },
      responses: {
        200: {
          description: '`event: job` with the job JSON as data; `event: error` with a problem if the job can no longer be read',
          // OpenAPI 3.1 has no item schema for streams: this schema describes one event.
          content: {
            'text/event-stream': {
              schema: {
                type: 'object',
                required: ['data'],
                properties: {
                  event: { enum: ['job', 'error'] },
                  id: { type: 'string', description: 'sequence number of `job` events' },
                  data: {
                    type: 'string',
                    contentMediaType: 'application/json',
                    contentSchema: { anyOf: [{ $ref: '#/components/schemas/Job' }, { $ref: '#/components/schemas/Problem' }] },
                  },
                },
              },
            },
          },
        },
      },
      problems: ['NotFound', 'TemporalUnavailable'],
    }),
    async (c) => {
      const id = jobId(c.req.valid('param').id);
      const { tenant } = callerOf(c);
      // Unknown ids (and other tenants' jobs) answer 404 before the stream starts.
      const first = await getJob(deps, id, tenant);
      return streamSSE(c, async (stream) => {
        let last = '';
        let seq = 0;
        let job = first;
        for (;;) {
          const text = JSON.stringify(job);
          if (text !== last) {
            await stream.writeSSE({ event: 'job', id: String(seq++), data: text });
            last = text;
          }
          if (settled(job) || stream.aborted) return;
          await stream.sleep(EVENTS_POLL_MS);
          try {
            job = await getJob(deps, id, tenant);
          } catch (err) {
            await stream.writeSSE({ event: 'error', data: JSON.stringify(problemForError(err)) });
            return;
          }
        }
      });
    },
  );

  // Cancel and retry: POST /{id}/… on a job, answered 202.
  const actions = [
    {
      action: 'cancel',
      summary: 'Cancel a job that is not final: ffmpeg is stopped and its outputs removed',
      answer: { description: 'cancellation requested', content: json(cancelAcceptedSchema) },
      run: async (id: string, tenant: string) => ({ id, status: await cancelJob(deps, id, tenant), cancelRequested: true as const }),
    },
    {
      action: 'retry',
      summary: 'Re-run the failed tasks of a failed job within its retry window',
      answer: { description: 'the tasks that run again', content: json(retryAcceptedSchema) },
      run: async (id: string, tenant: string) => ({ id, status: 'processing' as const, tasks: (await retryJob(deps, id, tenant)).tasks }),
    },
  ] as const;
  for (const { action, summary, answer, run } of actions) {
    app.openapi(
      operation({
        method: 'post', path: `/{id}/${action}`, operationId: `${action}Job`, tag: 'jobs', summary,
        request: { params },
        responses: { 202: answer },
        problems: ['NotFound', 'Conflict', 'TemporalUnavailable'],
      }),
      async (c) => c.json(await run(jobId(c.req.valid('param').id), callerOf(c).tenant), 202),
    );
  }

  return app;
}

/** /v1/jobs: submit, read, follow (SSE), cancel and retry jobs. */
import type { AppEnv } from '../env';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { jobSubmitSchema } from '../../model/job';
import { finalJobStatuses, type JobState } from '../../model/job-state';
import { readJson } from '../body';
import { cancelJob, getJob, retryJob, submitJob, temporalUiLink, type JobsDeps } from '../jobs';
import { problemError, problemForError } from '../problem';
import { callerOf } from '../auth';
import { jobListQuerySchema, listJobs } from '../job-list';
import { readQuery } from '../query';
import { jobOps } from '../openapi/operations';
import { documented } from '../openapi/registry';

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

export function jobRoutes(deps: JobsDeps) {
  const app = new Hono<AppEnv>();

  app.get('/', documented(jobOps.list), async (c) => c.json(await listJobs(deps, callerOf(c).tenant, readQuery(c, jobListQuerySchema))));

  app.post('/', documented(jobOps.submit), async (c) => {
    const body = await readJson(c, jobSubmitSchema, deps.config.MAX_BODY_BYTES);
    const { id, status, created } = await submitJob(deps, body, callerOf(c).tenant, c.req.header('idempotency-key'));
    const self = `/v1/jobs/${id}`;
    c.header('Location', self);
    return c.json({ id, status, links: { self, temporalUi: temporalUiLink(deps.config, id) } }, created ? 202 : 200);
  });

  app.get('/:id', documented(jobOps.get), async (c) => c.json(await getJob(deps, jobId(c.req.param('id')), callerOf(c).tenant)));

  app.get('/:id/events', documented(jobOps.events), async (c) => {
    const id = jobId(c.req.param('id'));
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
  });

  app.post('/:id/cancel', documented(jobOps.cancel), async (c) => {
    const id = jobId(c.req.param('id'));
    const status = await cancelJob(deps, id, callerOf(c).tenant);
    return c.json({ id, status, cancelRequested: true }, 202);
  });

  app.post('/:id/retry', documented(jobOps.retry), async (c) => {
    const id = jobId(c.req.param('id'));
    const { tasks } = await retryJob(deps, id, callerOf(c).tenant);
    return c.json({ id, status: 'processing', tasks }, 202);
  });

  return app;
}

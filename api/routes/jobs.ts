/** POST /v1/jobs and GET /v1/jobs/{id}. */
import { Hono } from 'hono';
import { jobSubmitSchema } from '../../model/job';
import { readJson } from '../body';
import { getJob, submitJob, temporalUiLink, type JobsDeps } from '../jobs';
import { problemError } from '../problem';

const JOB_ID = /^job_[a-z0-9]{1,64}$/;

/** Until API keys exist (issue: API/tenancy), every request acts for this tenant. */
export const DEFAULT_TENANT = 'default';

export function jobRoutes(deps: JobsDeps) {
  const app = new Hono();

  app.post('/', async (c) => {
    const body = await readJson(c, jobSubmitSchema, deps.config.MAX_BODY_BYTES);
    const { id, status } = await submitJob(deps, body, DEFAULT_TENANT);
    const self = `/v1/jobs/${id}`;
    c.header('Location', self);
    return c.json({ id, status, links: { self, temporalUi: temporalUiLink(deps.config, id) } }, 202);
  });

  app.get('/:id', async (c) => {
    const id = c.req.param('id');
    if (!JOB_ID.test(id)) throw problemError('NotFound', `no job "${id}"`);
    return c.json(await getJob(deps, id));
  });

  return app;
}

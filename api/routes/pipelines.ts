/** /v1/pipelines: queues with state and priority; resuming one releases the jobs it held. */
import { Hono } from 'hono';
import { z } from 'zod';
import type { JobsDeps } from '../jobs';
import { releasePipeline } from '../jobs';
import { templateId } from '../../model/templates';
import { readJson } from '../body';
import { problemError } from '../problem';
import type { Pipeline } from '../../db/pipelines';
import { DEFAULT_TENANT } from './tenant';

const fields = {
  state: z.enum(['active', 'paused']),
  priority: z.number().int().min(1).max(10),
  notify: z.strictObject({ url: z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }).max(2048) }).nullable(),
};
const createSchema = z.strictObject({ id: templateId, ...fields }).partial({ state: true, priority: true, notify: true });
const patchSchema = z.strictObject(fields).partial();

function present(p: Pipeline) {
  return p;
}

export function pipelineRoutes(deps: JobsDeps) {
  const app = new Hono();
  const tenant = DEFAULT_TENANT;

  app.get('/', async (c) => c.json({ pipelines: (await deps.pipelines.list(tenant)).map(present) }));

  app.get('/:id', async (c) => {
    const p = await deps.pipelines.get(tenant, c.req.param('id'));
    if (!p) throw problemError('NotFound', `no pipeline "${c.req.param('id')}"`);
    return c.json(present(p));
  });

  app.post('/', async (c) => {
    const body = await readJson(c, createSchema, deps.config.MAX_BODY_BYTES);
    const created = await deps.pipelines.create(tenant, { id: body.id, state: body.state ?? 'active', priority: body.priority ?? 5, notify: body.notify ?? null });
    c.header('Location', `/v1/pipelines/${created.id}`);
    return c.json(present(created), 201);
  });

  app.patch('/:id', async (c) => {
    const body = await readJson(c, patchSchema, deps.config.MAX_BODY_BYTES);
    const { before, after } = await deps.pipelines.update(tenant, c.req.param('id'), body);
    const released = before.state === 'paused' && after.state === 'active' ? await releasePipeline(deps, tenant, after.id) : 0;
    return c.json({ ...present(after), released });
  });

  app.delete('/:id', async (c) => {
    await deps.pipelines.remove(tenant, c.req.param('id'));
    return c.body(null, 204);
  });

  return app;
}

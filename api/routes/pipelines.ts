/** /v1/pipelines: queues with state and priority; resuming one releases the jobs it held. */
import type { AppEnv } from '../env';
import { Hono } from 'hono';
import type { JobsDeps } from '../jobs';
import { checkNotifyUrl, releasePipeline } from '../jobs';
import { pipelineCreateSchema, pipelinePatchSchema } from '../../model/pipeline';
import { readJson } from '../body';
import { problemError } from '../problem';
import type { Pipeline } from '../../db/pipelines';
import { adminOf, callerOf } from '../auth';
import { pipelineOps } from '../openapi/operations';
import { documented } from '../openapi/registry';


function present(p: Pipeline) {
  return p;
}

export function pipelineRoutes(deps: JobsDeps) {
  const app = new Hono<AppEnv>();

  app.get('/', documented(pipelineOps.list), async (c) => c.json({ pipelines: (await deps.pipelines.list(callerOf(c).tenant)).map(present) }));

  app.get('/:id', documented(pipelineOps.get), async (c) => {
    const p = await deps.pipelines.get(callerOf(c).tenant, c.req.param('id'));
    if (!p) throw problemError('NotFound', `no pipeline "${c.req.param('id')}"`);
    return c.json(present(p));
  });

  app.post('/', documented(pipelineOps.create), async (c) => {
    const { tenant } = adminOf(c);
    const body = await readJson(c, pipelineCreateSchema, deps.config.MAX_BODY_BYTES);
    if (body.notify) checkNotifyUrl(deps.config, body.notify.url, 'notify.url');
    const created = await deps.pipelines.create(tenant, { id: body.id, state: body.state ?? 'active', priority: body.priority ?? 5, notify: body.notify ?? null });
    c.header('Location', `/v1/pipelines/${created.id}`);
    return c.json(present(created), 201);
  });

  app.patch('/:id', documented(pipelineOps.patch), async (c) => {
    const { tenant } = adminOf(c);
    const body = await readJson(c, pipelinePatchSchema, deps.config.MAX_BODY_BYTES);
    if (body.notify) checkNotifyUrl(deps.config, body.notify.url, 'notify.url');
    const { before, after } = await deps.pipelines.update(tenant, c.req.param('id'), body);
    const released = before.state === 'paused' && after.state === 'active' ? await releasePipeline(deps, tenant, after.id) : 0;
    return c.json({ ...present(after), released });
  });

  app.delete('/:id', documented(pipelineOps.remove), async (c) => {
    await deps.pipelines.remove(adminOf(c).tenant, c.req.param('id'));
    return c.body(null, 204);
  });

  return app;
}

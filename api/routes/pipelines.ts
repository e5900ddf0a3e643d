/** /v1/pipelines: queues with state and priority; resuming one releases the jobs it held. */
import { z } from 'zod';
import type { JobsDeps } from '../jobs';
import type { Pipeline } from '../../db/pipelines';
import { checkNotifyUrl, releasePipeline } from '../jobs';
import { adminOf, callerOf } from '../auth';
import { resourceRoutes } from './resource';
import { json, jsonBody, operation, router } from '../openapi/route';
import { pipelineCreateBody, pipelineListSchema, pipelinePatchBody, pipelinePatchedSchema, pipelineSchema } from '../openapi/schemas';

const params = z.object({ id: z.string().meta({ description: 'a pipeline id', examples: ['default'] }) });

export function pipelineRoutes(deps: JobsDeps) {
  const app = router();
  const maxBodyBytes = deps.config.MAX_BODY_BYTES;

  resourceRoutes(app, {
    tag: 'pipelines', noun: 'pipeline', base: '/v1/pipelines', store: deps.pipelines,
    params, shown: pipelineSchema, present: (p: Pipeline) => p,
    list: { summary: 'The pipelines (default always exists)', shown: pipelineListSchema, run: async (tenant) => ({ pipelines: await deps.pipelines.list(tenant) }) },
    create: {
      summary: 'Create a pipeline (its own task queue; workers with WORKER_PIPELINES=* pick it up)',
      body: pipelineCreateBody,
      maxBodyBytes,
      problems: ['UrlNotAllowed', 'Conflict'],
      run: (tenant, body) => {
        if (body.notify) checkNotifyUrl(deps.config, body.notify.url, 'notify.url');
        return deps.pipelines.create(tenant, { id: body.id, state: body.state ?? 'active', priority: body.priority ?? 5, notify: body.notify ?? null });
      },
    },
    update: {
      method: 'patch',
      operationId: 'updatePipeline',
      summary: 'Change state, priority or callback; `state: active` releases the jobs the pipeline holds',
      body: pipelinePatchBody,
      shown: pipelinePatchedSchema,
      description: 'the pipeline as it is now',
      problems: ['UrlNotAllowed', 'NotFound', 'TemporalUnavailable'],
      run: async (tenant, id, body) => {
        if (body.notify) checkNotifyUrl(deps.config, body.notify.url, 'notify.url');
        const { after } = await deps.pipelines.update(tenant, id, body);
        // `state: active` releases whatever the pipeline still holds, also when it was active
        // already: sending it again finishes a resume that was cut off midway.
        const released = body.state === 'active' && after.state === 'active' ? await releasePipeline(deps, tenant, after.id) : 0;
        return { ...after, released };
      },
    },
    summaries: { get: 'A pipeline', remove: 'Delete a pipeline (not default)' },
    removeProblems: ['NotFound', 'Conflict'],
  });

  return app;
}

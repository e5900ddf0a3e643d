/** /v1/templates: system presets (read-only) and the tenant's own templates. */
import { z } from 'zod';
import type { Template } from '../../model/templates';
import type { StoredTemplate, TemplateStore } from '../../db/templates';
import type { Config } from '../../model/config';
import { problemError } from '../problem';
import { adminOf, callerOf } from '../auth';
import { resourceRoutes } from './resource';
import { json, jsonBody, operation, router } from '../openapi/route';
import { templateCreateSchema, templateListSchema, templateReplaceSchema, templateSchema } from '../openapi/schemas';

const params = z.object({ id: z.string().meta({ description: 'a template id (system presets included)', examples: ['mp4-h264-720p'] }) });
/** Not strict: other query parameters were always ignored here. */
const listQuery = z.object({ kind: z.enum(['transcode', 'snapshot', 'watermark']).optional().meta({ description: 'only templates of this kind' }) });

/** The API shape: the template's own fields, plus id, system and timestamps. */
function present(t: StoredTemplate) {
  return { id: t.id, system: t.system, ...t.template, createdAt: t.createdAt, updatedAt: t.updatedAt };
}

/** A validated body without its id: the template itself. */
function templateOf(body: z.output<typeof templateCreateSchema> | z.output<typeof templateReplaceSchema>): Template {
  const { id: _, ...template } = body;
  return template;
}

export function templateRoutes(deps: { config: Config; templates: TemplateStore }) {
  const app = router();
  const maxBodyBytes = deps.config.MAX_BODY_BYTES;

  resourceRoutes(app, {
    tag: 'templates', noun: 'template', base: '/v1/templates', store: deps.templates,
    params, shown: templateSchema, present,
    list: {
      summary: 'System presets (read-only) and your templates',
      query: listQuery,
      shown: templateListSchema,
      run: async (tenant, { kind }) => ({ templates: (await deps.templates.list(tenant, kind)).map(present) }),
    },
    create: {
      summary: 'Create a template (every failing field is listed on 400)',
      body: templateCreateSchema,
      maxBodyBytes,
      problems: ['Conflict'],
      run: (tenant, body) => deps.templates.create(tenant, body.id, templateOf(body)),
    },
    update: {
      method: 'put',
      operationId: 'replaceTemplate',
      summary: 'Replace a template (submitted jobs keep the values they were resolved with)',
      body: templateReplaceSchema,
      shown: templateSchema,
      description: 'replaced',
      problems: ['NotFound'],
      run: async (tenant, id, body) => {
        if (body.id !== undefined && body.id !== id) {
          throw problemError('InvalidInput', 'the body names another id than the path', [{ path: 'id', message: `must be "${id}" or absent` }]);
        }
        return present(await deps.templates.replace(tenant, id, templateOf(body)));
      },
    },
    summaries: { get: 'A template or system preset', remove: 'Delete a template' },
    removeProblems: ['NotFound'],
  });

  return app;
}

/** /v1/templates: system presets (read-only) and the tenant's own templates. */
import type { AppEnv } from '../env';
import { Hono } from 'hono';
import { z } from 'zod';
import { templateId, templateSchemas, type Template } from '../../model/templates';
import type { StoredTemplate, TemplateStore } from '../../db/templates';
import type { Config } from '../../model/config';
import { fieldErrors, readJson } from '../body';
import { problemError } from '../problem';
import { adminOf, callerOf } from '../auth';
import { templateOps } from '../openapi/operations';
import { documented } from '../openapi/registry';

const head = z.looseObject({ kind: z.enum(['transcode', 'snapshot', 'watermark']) });

/** The API shape: the template's own fields, plus id, system and timestamps. */
function present(t: StoredTemplate) {
  return { id: t.id, system: t.system, ...t.template, createdAt: t.createdAt, updatedAt: t.updatedAt };
}

/** Validates a template body against its kind's schema; every failing field is listed. */
function parseTemplate(body: Record<string, unknown> & { kind: Template['kind'] }): Template {
  const parsed = templateSchemas[body.kind].safeParse(body);
  if (!parsed.success) {
    const errors = fieldErrors(parsed.error.issues);
    throw problemError('InvalidInput', `the template has ${errors.length} invalid field${errors.length === 1 ? '' : 's'}`, errors);
  }
  return parsed.data;
}

export function templateRoutes(deps: { config: Config; templates: TemplateStore }) {
  const app = new Hono<AppEnv>();

  app.get('/', documented(templateOps.list), async (c) => {
    const kind = c.req.query('kind');
    if (kind !== undefined && !['transcode', 'snapshot', 'watermark'].includes(kind)) {
      throw problemError('InvalidInput', 'kind must be transcode, snapshot or watermark', [{ path: 'kind', message: 'unknown kind' }]);
    }
    const list = await deps.templates.list(callerOf(c).tenant, kind as Template['kind'] | undefined);
    return c.json({ templates: list.map(present) });
  });

  app.get('/:id', documented(templateOps.get), async (c) => {
    const found = await deps.templates.get(callerOf(c).tenant, c.req.param('id'));
    if (!found) throw problemError('NotFound', `no template "${c.req.param('id')}"`);
    return c.json(present(found));
  });

  app.post('/', documented(templateOps.create), async (c) => {
    const { tenant } = adminOf(c);
    const { id, ...body } = await readJson(c, head.extend({ id: templateId }), deps.config.MAX_BODY_BYTES);
    const created = await deps.templates.create(tenant, id, parseTemplate(body));
    c.header('Location', `/v1/templates/${id}`);
    return c.json(present(created), 201);
  });

  app.put('/:id', documented(templateOps.replace), async (c) => {
    const { tenant } = adminOf(c);
    const id = c.req.param('id');
    const body = await readJson(c, head, deps.config.MAX_BODY_BYTES);
    if (body.id !== undefined && body.id !== id) {
      throw problemError('InvalidInput', 'the body names another id than the path', [{ path: 'id', message: `must be "${id}" or absent` }]);
    }
    const { id: _, ...rest } = body;
    return c.json(present(await deps.templates.replace(tenant, id, parseTemplate({ ...rest, kind: body.kind }))));
  });

  app.delete('/:id', documented(templateOps.remove), async (c) => {
    await deps.templates.remove(adminOf(c).tenant, c.req.param('id'));
    return c.body(null, 204);
  });

  return app;
}

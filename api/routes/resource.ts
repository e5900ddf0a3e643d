/**
 * What templates and pipelines share: list, create (admin, 201 + Location), read one by id (404),
 * replace or change one (admin) and delete one (admin, 204), each an `operation(…)` whose schemas validate and document the route.
 */
import type { Context } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../env';
import type { ErrorCode } from '../../model/errors';
import { adminOf, callerOf } from '../auth';
import { json, jsonBody, operation, router, type Tag } from '../openapi/route';
import { problemError } from '../problem';

export interface Resource<T, Body extends z.ZodType, Shown extends z.ZodType, Listed extends z.ZodType, Query extends z.ZodObject, Change extends z.ZodType, Changed extends z.ZodType> {
  tag: Tag;
  /** Singular, for operation ids and messages: `pipeline` → getPipeline, `no pipeline "x"`. */
  noun: string;
  /** Where the routes are mounted, for Location. */
  base: string;
  params: z.ZodObject<{ id: z.ZodType<string> }>;
  /** The answer's schema and how a stored one is shown in it. */
  shown: Shown;
  present: (stored: T) => z.input<Shown>;
  store: { get: (tenant: string, id: string) => Promise<T | null>; remove: (tenant: string, id: string) => Promise<void> };
  /** A query schema (validated; its 400 documented) when the list takes filters. */
  list: { summary: string; query?: Query; shown: Listed; run: (tenant: string, query: Partial<z.output<Query>>) => Promise<z.input<Listed>> };
  create: { summary: string; body: Body; maxBodyBytes: number; problems: ErrorCode[]; run: (tenant: string, body: z.output<Body>) => Promise<T & { id: string }> };
  /** PUT (replace) or PATCH (change some fields) of one, by id (admin). */
  update: { method: 'put' | 'patch'; operationId: string; summary: string; body: Change; shown: Changed; description: string; problems: ErrorCode[]; run: (tenant: string, id: string, body: z.output<Change>) => Promise<z.input<Changed>> };
  summaries: { get: string; remove: string };
  removeProblems: ErrorCode[];
}

const upper = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * @example resourceRoutes(app, { tag: 'pipelines', noun: 'pipeline', base: '/v1/pipelines', … })
 */
export function resourceRoutes<T, Body extends z.ZodType, Shown extends z.ZodType, Listed extends z.ZodType, Query extends z.ZodObject, Change extends z.ZodType, Changed extends z.ZodType>(
  app: ReturnType<typeof router>,
  r: Resource<T, Body, Shown, Listed, Query, Change, Changed>,
): void {
  const name = upper(r.noun);
  app.openapi(
    operation({
      method: 'get', path: '/', operationId: `list${upper(r.tag)}`, tag: r.tag,
      summary: r.list.summary,
      ...(r.list.query ? { request: { query: r.list.query }, problems: ['InvalidInput'] } : {}),
      responses: { 200: { description: `the ${r.tag}`, content: json(r.list.shown) } },
    }),
    // Typed by hand: with Query generic, the library cannot compute the validated query's type.
    async (c: Context<AppEnv, '/', { out: { query: z.output<Query> | undefined } }>) => c.json(await r.list.run(callerOf(c).tenant, c.req.valid('query') ?? {}), 200),
  );

  app.openapi(
    operation({
      method: 'post', path: '/', operationId: `create${name}`, tag: r.tag,
      admin: true,
      summary: r.create.summary,
      request: { body: jsonBody(r.create.body) },
      maxBodyBytes: r.create.maxBodyBytes,
      responses: { 201: { description: 'created', content: json(r.shown), headers: { Location: { description: 'the URL of what was created', schema: { type: 'string' } } } } },
      problems: r.create.problems,
    }),
    // Typed by hand: with Body generic, the library cannot compute the validated body's type.
    async (c: Context<AppEnv, '/', { out: { json: z.output<Body> } }>) => {
      const created = await r.create.run(adminOf(c).tenant, c.req.valid('json'));
      c.header('Location', `${r.base}/${created.id}`);
      return c.json(r.present(created), 201);
    },
  );

  app.openapi(
    operation({
      method: 'get', path: '/{id}', operationId: `get${name}`, tag: r.tag,
      summary: r.summaries.get,
      request: { params: r.params },
      responses: { 200: { description: `the ${r.noun}`, content: json(r.shown) } },
      problems: ['NotFound'],
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const found = await r.store.get(callerOf(c).tenant, id);
      if (!found) throw problemError('NotFound', `no ${r.noun} "${id}"`);
      return c.json(r.present(found), 200);
    },
  );

  app.openapi(
    operation({
      method: r.update.method, path: '/{id}', operationId: r.update.operationId, tag: r.tag, admin: true,
      summary: r.update.summary,
      request: { params: r.params, body: jsonBody(r.update.body) },
      maxBodyBytes: r.create.maxBodyBytes,
      responses: { 200: { description: r.update.description, content: json(r.update.shown) } },
      problems: r.update.problems,
    }),
    // Typed by hand, as create.
    async (c: Context<AppEnv, '/:id', { out: { json: z.output<Change>; param: { id: string } } }>) =>
      c.json(await r.update.run(adminOf(c).tenant, c.req.valid('param').id, c.req.valid('json')), 200),
  );

  app.openapi(
    operation({
      method: 'delete', path: '/{id}', operationId: `delete${name}`, tag: r.tag,
      admin: true,
      summary: r.summaries.remove,
      request: { params: r.params },
      responses: { 204: { description: 'deleted' } },
      problems: r.removeProblems,
    }),
    async (c) => {
      await r.store.remove(adminOf(c).tenant, c.req.valid('param').id);
      return c.body(null, 204);
    },
  );
}

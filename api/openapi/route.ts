/**
 * Routes declared once with @hono/zod-openapi: `operation({...})` is `createRoute` plus what
 * every route of this API shares (its tag, the API key it needs, the problem+json answers its
 * body, key and error codes can give); `router()` is an OpenAPIHono whose validation failures
 * answer our 400 naming each field. The zod schema a route declares is the one that validates
 * the request and the one the document shows.
 */
import { createRoute, OpenAPIHono, type RouteConfig } from '@hono/zod-openapi';
import type { Handler, MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { errorCodes, type ErrorCode, type FieldError } from '../../model/errors';
import { fieldErrors, readJson } from '../body';
import type { AppEnv } from '../env';
import { problemError } from '../problem';

export type Tag = 'jobs' | 'templates' | 'pipelines' | 'objects' | 'keys' | 'service';

export const tags: { name: Tag; description: string }[] = [
  { name: 'jobs', description: 'submit, list, follow, cancel and retry jobs' },
  { name: 'templates', description: 'transcode, snapshot and watermark templates; system presets are read-only' },
  { name: 'pipelines', description: 'queues with state and priority' },
  { name: 'objects', description: 'the object store the server is configured with' },
  { name: 'keys', description: 'API keys of the tenant (admin); a key is shown once, at creation' },
  { name: 'service', description: 'health, readiness and this reference' },
];

/** `Authorization: Bearer <api key>`; a development install without keys runs open. */
export const securitySchemes = {
  apiKey: { type: 'http', scheme: 'bearer', description: 'an API key (mfk_…) of one tenant, role admin or submitter' },
} as const;

const problemRef = { $ref: '#/components/schemas/Problem' };

/**
 * The problem+json answers of these codes, one per status, each naming the codes it may carry.
 *
 * @example problemResponses(['NotFound', 'Conflict']) // { 404: {…}, 409: {…} }
 */
export function problemResponses(codes: Iterable<ErrorCode>, head = false): Record<number, { description: string; content?: Record<string, { schema: object }> }> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = errorCodes[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<number, { description: string; content?: Record<string, { schema: object }> }> = {};
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[status] = {
      description: list.map((c) => `\`${c}\`: ${errorCodes[c].title}`).join('; '),
      // A HEAD answer has the headers of the GET answer and no body.
      ...(head ? {} : { content: { 'application/problem+json': { schema: { allOf: [problemRef, { properties: { code: { enum: list } } }] } } } }),
    };
  }
  return out;
}

/** A JSON request or response body. */
export function json<S extends z.ZodType>(schema: S) {
  return { 'application/json': { schema } };
}

/** A required JSON request body, validated with `schema`. */
export function jsonBody<S extends z.ZodType>(schema: S) {
  return { required: true, content: json(schema) };
}

/** hono's own JSON check (validator and @hono/zod-openapi's media-type gate): anything else is 415 here, before the body is read. */
const JSON_TYPE = /^application\/([a-z.-]+\+)?json(;\s*[a-zA-Z0-9-]+=([^;]+))*$/i;

/**
 * Reads a JSON body with api/body.ts (415, 413 and its Connection: close, 408 on an idle client,
 * 400 on malformed JSON) and leaves it where hono's validator looks for it, so the route's zod
 * schema then validates it.
 */
function readJsonBody(maxBytes: number): MiddlewareHandler<AppEnv> {
  return async function readJsonBody(c, next) {
    if (!JSON_TYPE.test(c.req.header('content-type') ?? '')) throw problemError('UnsupportedMediaType', 'send the body as application/json');
    const parsed = await readJson(c, z.unknown(), maxBytes);
    // hono's bodyCache holds promises of each body form; its json() falls back to a cached json.
    c.req.bodyCache.json = Promise.resolve(parsed);
    await next();
  };
}

interface OperationSpec extends Omit<RouteConfig, 'tags' | 'security' | 'operationId' | 'summary'> {
  operationId: string;
  summary: string;
  tag: Tag;
  /** Needs an admin key (403 for a submitter's); every operation outside `service` needs some key. */
  admin?: true;
  /** The problem+json answers the handler gives, by code (their status comes from model/errors.ts). */
  problems?: ErrorCode[];
  /** MAX_BODY_BYTES, for an operation with a JSON body. */
  maxBodyBytes?: number;
}

/**
 * createRoute with this API's shared answers added: a body's 400/408/413/415, a path parameter's
 * 400 (dot segments), a key's 401/429, an admin's 403. The problem answers are thrown
 * (problemError → app.onError), never returned, so the handler's typed answers stay the declared ones.
 *
 * @example const get = operation({ method: 'get', path: '/{id}', operationId: 'getJob', tag: 'jobs', summary: 'A job', request: { params }, responses: { 200: { description: 'the job', content: json(jobSchema) } }, problems: ['NotFound'] })
 */
export function operation<const R extends OperationSpec>(spec: R): R {
  const { tag, admin, problems = [], maxBodyBytes, ...route } = spec;
  const codes: ErrorCode[] = [...problems];
  const body = route.request?.body?.content['application/json'];
  if (body) {
    if (maxBodyBytes === undefined) throw new Error(`${route.operationId}: a JSON body needs maxBodyBytes`);
    codes.push('InvalidInput', 'PayloadTooLarge', 'UnsupportedMediaType', 'BodyTimeout');
  }
  if (route.path.includes('{')) codes.push('InvalidInput');
  const secured = tag !== 'service';
  if (secured) codes.push('Unauthorized', 'RateLimited');
  if (admin) codes.push('Forbidden');
  const middleware = [...(body ? [readJsonBody(maxBodyBytes!)] : []), ...[route.middleware ?? []].flat()];
  return createRoute({
    ...route,
    tags: [tag],
    ...(secured ? {} : { security: [] }),
    ...(middleware.length ? { middleware } : {}),
    responses: { ...problemResponses(codes, route.method === 'head'), ...route.responses },
  }) as unknown as R;
}

/** zod issues of a request part → the 400 the API always gave: every failing field named. */
function invalidInput(target: string, issues: z.core.$ZodIssue[], input: unknown): never {
  let errors: FieldError[] = fieldErrors(issues);
  if (target === 'query') {
    // One value per parameter: a repeated one is named as such, not as a type error.
    const repeated = Object.entries((input ?? {}) as Record<string, unknown>).filter(([, v]) => Array.isArray(v)).map(([k]) => k);
    errors = [
      ...repeated.map((path) => ({ path, message: 'give this parameter once' })),
      ...errors.filter((e) => !repeated.includes(e.path.split('.')[0]!)).map((e) => (e.message === 'unknown field' ? { ...e, message: 'unknown query parameter' } : e)),
    ];
    throw problemError('InvalidInput', `the query has ${errors.length} invalid parameter${errors.length === 1 ? '' : 's'}: ${errors.map((e) => e.path).join(', ')}`, errors);
  }
  const what = target === 'json' ? ['body', 'field'] : target === 'header' ? ['request', 'header'] : ['path', 'parameter'];
  throw problemError('InvalidInput', `the ${what[0]} has ${errors.length} invalid ${what[1]}${errors.length === 1 ? '' : 's'}`, errors);
}

/**
 * An OpenAPIHono for one group of routes, typed with the app's context variables.
 *
 * @example const app = router(); app.openapi(getJob, async (c) => c.json(await read(c.req.valid('param').id), 200))
 */
export function router() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) invalidInput(result.target, result.error.issues, (result as { data?: unknown }).data);
    },
  });
}

/**
 * A route whose handler is outside what `app.openapi` can type or route: a `*` path standing for
 * an object key, GET and HEAD from one handler, an answer built by hand. Documented from the same
 * `operation(…)` as the others; it validates nothing itself, so its handler checks its input.
 *
 * @example documentedRoute(app, [getObject, headObject], '/*', handler)
 */
export function documentedRoute<P extends string>(app: ReturnType<typeof router>, routes: OperationSpec[], honoPath: P, handler: Handler<AppEnv, P>): void {
  for (const { middleware: _, ...doc } of routes) app.openAPIRegistry.registerPath(doc);
  app.on(
    routes.map((r) => r.method.toUpperCase()),
    honoPath,
    handler,
  );
}

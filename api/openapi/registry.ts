/**
 * Route documentation that travels with the route: `documented(op)` is a pass-through middleware
 * carrying the operation's description, so the OpenAPI document is built from Hono's own route
 * table (method, path, handler chain) and a route without one is noticed by the tests.
 */
import type { MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import type { ErrorCode } from '../../model/errors';

/** A response besides the problem+json ones: a zod schema (JSON), raw content, or no body at all. */
export interface ResponseDoc {
  description: string;
  /** JSON body (application/json). */
  schema?: z.ZodType;
  /** Non-JSON bodies: media type → JSON Schema (e.g. `{ 'text/html': { type: 'string' } }`). */
  content?: Record<string, Record<string, unknown>>;
  /** An application/problem+json body, for statuses outside the error-code table (416). */
  problem?: true;
  headers?: Record<string, { description: string; schema?: Record<string, unknown> }>;
}

export interface OperationDoc {
  operationId: string;
  summary: string;
  description?: string;
  tag: 'jobs' | 'templates' | 'pipelines' | 'objects' | 'keys' | 'service';
  /** Needs an admin key (403 for a submitter's); every operation outside `service` needs some key. */
  admin?: true;
  /** The OpenAPI path when Hono's cannot be translated (a `*` wildcard that stands for a key). */
  path?: string;
  /** Path parameters, as a zod object (one property per `{name}`). */
  params?: z.ZodObject;
  /** Query parameters, as the zod object the handler parses them with. */
  query?: z.ZodObject;
  /** Request headers the operation reads (each optional unless `required`). */
  headers?: Record<string, { description: string; schema: Record<string, unknown>; required?: boolean }>;
  /** A JSON body (validated with this schema) or raw content (media type → JSON Schema). */
  body?: { schema: z.ZodType; description?: string } | { content: Record<string, Record<string, unknown>>; description?: string; optional?: true };
  responses: Partial<Record<number, ResponseDoc>>;
  /** The problem+json answers this operation gives, by code (their status comes from model/errors.ts). */
  problems?: ErrorCode[];
}

const DOC = Symbol.for('mediaflow.openapi.operation');

type Documented = MiddlewareHandler & { [DOC]?: OperationDoc };

/**
 * Marks a route with its documentation; place it first in the handler chain.
 *
 * @example app.get('/:id', documented(jobOps.get), async (c) => c.json(await getJob(deps, c.req.param('id'))))
 */
export function documented(op: OperationDoc): MiddlewareHandler {
  const mw: Documented = async function documentedRoute(_c, next) {
    await next();
  };
  mw[DOC] = op;
  return mw;
}

/** The documentation a handler carries, looking through Hono's error-handler wrapper. */
export function operationOf(handler: unknown): OperationDoc | undefined {
  const h = handler as (Documented & { __COMPOSED_HANDLER?: unknown }) | undefined;
  if (!h) return undefined;
  return h[DOC] ?? (h.__COMPOSED_HANDLER ? operationOf(h.__COMPOSED_HANDLER) : undefined);
}

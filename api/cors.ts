/**
 * CORS for object reads: a player on a page of another origin (hls.js, shaka-player, a <video>
 * with crossorigin) may GET/HEAD objects and signed URLs when the operator lists that origin in
 * CORS_ORIGINS. Preflights (OPTIONS, which API keys force through the Authorization header) are
 * answered here, before authentication, and the headers players read are exposed. Nothing else of
 * the API answers across origins: the console is same-origin and needs none of this.
 */
import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import type { Config } from '../model/config';

/** The paths whose GET/HEAD are readable across origins. */
const READABLE = /^\/v1\/(objects|signed)\//;

/** What a range-reading player needs to see of an answer. */
export const EXPOSED_HEADERS = ['Content-Range', 'Content-Length', 'ETag', 'Accept-Ranges', 'Content-Type'];

/**
 * Hono's own CORS middleware, with the origin list from the configuration (none: no
 * Access-Control-Allow-Origin ever, so browsers keep other origins out) and only the methods a
 * reader uses.
 *
 * @example app.use('*', objectCors(config))
 */
export function objectCors(config: Pick<Config, 'CORS_ORIGINS'>): MiddlewareHandler {
  const origins = config.CORS_ORIGINS;
  const handler = cors({
    origin: origins.includes('*') ? '*' : origins,
    allowMethods: ['GET', 'HEAD'],
    allowHeaders: ['Authorization', 'Range', 'If-None-Match'],
    exposeHeaders: EXPOSED_HEADERS,
    maxAge: 600,
  });
  return async function objectCorsHandler(c, next) {
    if (!READABLE.test(c.req.path)) return next();
    return handler(c, next);
  };
}

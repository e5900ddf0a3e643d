/**
 * Signed, expiring object URLs: a player (or an <img>) reads an output without an API key.
 *
 *   /v1/signed/{tenant}.{expires}.{scope}.{signature}/{key}
 *
 * `scope` is `o` (exactly this key) or `p{n}` (any key under its first n segments: the folder of
 * an HLS/DASH output, whose playlists name their segments by relative URLs — a signature in the
 * query string would be lost on the first relative one, so it lives in the path and every
 * segment's URL resolves under the same token). The signature is HMAC-SHA256 (first 16 bytes,
 * base64url) over the tenant, the signed key or prefix and the expiry, keyed with the service
 * secret that signs callbacks and page tokens (WEBHOOK_SECRET, or the one generated in DATA_DIR),
 * under a label of its own. Tokens are minted by `POST /v1/signed-urls` with an API key, for that
 * key's tenant only; a tampered or expired one is answered 403. The object itself is served by
 * the ordinary object route (Range, ETag, HEAD), as the tenant.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { webhookSecret } from '../activities/webhook';
import type { Config } from '../model/config';
import { tenantKey } from '../model/keys';
import type { Storage } from '../storage/storage';
import { callerOf, type Caller } from './auth';
import { readJson } from './body';
import { documentedRoute, json, operation, router } from './openapi/route';
import type { AppVariables } from './env';
import { problemError, problemForError, sendProblem } from './problem';
import { objectRoutes, readObjectSpec } from './routes/objects';

const LABEL = 'mediaflow signed url';
const SIG_BYTES = 16;
const PREFIX = '/v1/signed/';
const TOKEN = /^([a-z0-9][a-z0-9-]{0,62})\.(\d{1,12})\.(o|p[1-9]\d{0,2})\.([A-Za-z0-9_-]{22})$/;
/** A signed URL's lifetime when the request names none (capped by SIGNED_URL_MAX_SEC). */
const DEFAULT_TTL_SEC = 3600;

type Scope = { key: string } | { prefix: string };

function signature(secret: string, tenant: string, signed: string, expires: number): string {
  return createHmac('sha256', secret).update(`${LABEL}\n${tenant}\n${signed}\n${expires}`).digest().subarray(0, SIG_BYTES).toString('base64url');
}

const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

/**
 * The path of a signed URL (relative to the API's origin): for a prefix it ends in that prefix,
 * and a key under it is appended as is.
 *
 * @example await signedPath(config, 'default', { prefix: 'job_x/stream/' }, 1767225600) // '/v1/signed/default.1767225600.p2.…/job_x/stream/'
 */
export async function signedPath(config: Pick<Config, 'WEBHOOK_SECRET' | 'dataDir'>, tenant: string, scope: Scope, expires: number): Promise<string> {
  const secret = await webhookSecret(config);
  if ('key' in scope) return `${PREFIX}${tenant}.${expires}.o.${signature(secret, tenant, scope.key, expires)}/${encodeKey(scope.key)}`;
  const depth = scope.prefix.split('/').length - 1;
  return `${PREFIX}${tenant}.${expires}.p${depth}.${signature(secret, tenant, scope.prefix, expires)}/${encodeKey(scope.prefix.slice(0, -1))}/`;
}

/** Checks a signed request path; the tenant and the raw (still percent-encoded) key on success, a 403 otherwise. */
async function verify(config: Pick<Config, 'WEBHOOK_SECRET' | 'dataDir'>, path: string, now: number): Promise<{ tenant: string; rawKey: string }> {
  const rest = path.slice(PREFIX.length);
  const slash = rest.indexOf('/');
  const m = TOKEN.exec(slash < 0 ? rest : rest.slice(0, slash));
  if (!m || slash < 0) throw problemError('Forbidden', 'not a signed object URL: /v1/signed/{token}/{key}');
  const [, tenant, expiresText, scope, given] = m as unknown as [string, string, string, string, string];
  const rawKey = rest.slice(slash + 1);
  let key: string;
  try {
    key = decodeURIComponent(rawKey);
  } catch {
    throw problemError('InvalidInput', 'the key is not valid percent-encoded UTF-8', [{ path: 'key', message: 'bad percent-encoding' }]);
  }
  let signed = key;
  if (scope !== 'o') {
    const depth = Number(scope.slice(1));
    const segments = key.split('/');
    if (segments.length <= depth) throw problemError('Forbidden', 'the key is not under the signed prefix');
    signed = `${segments.slice(0, depth).join('/')}/`;
  }
  const expected = Buffer.from(signature(await webhookSecret(config), tenant, signed, Number(expiresText)));
  if (!timingSafeEqual(expected, Buffer.from(given))) throw problemError('Forbidden', 'the signature does not match this URL');
  if (Number(expiresText) * 1000 <= now) {
    throw problemError('Forbidden', `the signed URL expired at ${new Date(Number(expiresText) * 1000).toISOString()}`);
  }
  return { tenant, rawKey };
}

function signedGetDoc(method: 'get' | 'head') {
  const object = readObjectSpec(method);
  return operation({
    ...object,
    operationId: `${method}SignedObject`,
    // No API key: the signature in the path is the permission.
    tag: 'service',
    summary: 'Download an object through a signed, expiring URL (no API key); HEAD answers the headers only',
    path: '/v1/signed/{token}/{key}',
    request: {
      ...object.request,
      params: z.object({
        token: z.string().meta({ description: '`{tenant}.{expires}.{scope}.{signature}`, as minted by POST /v1/signed-urls' }),
        key: z.string().min(1).meta({ description: 'the object key (under the signed prefix, or the signed key itself)' }),
      }),
    },
    problems: ['InvalidInput', 'Forbidden', 'NotFound', 'StorageUnavailable'],
  });
}

/**
 * GET/HEAD /v1/signed/{token}/{key}: needs no API key, so mount it before authentication.
 *
 * @example app.route('/', signedObjectRoutes({ config, storage }))
 */
export function signedObjectRoutes(deps: { config: Config; storage: Storage; log?: (line: Record<string, unknown>) => void }) {
  // The object route itself, behind a caller taken from the verified token.
  const objects = new Hono<{ Bindings: { signedCaller: Caller }; Variables: AppVariables }>();
  objects.use('*', async (c, next) => {
    c.set('caller', c.env.signedCaller);
    await next();
  });
  objects.route('/v1/objects', objectRoutes(deps));
  objects.onError((err, c) => sendProblem(c, problemForError(err)));
  objects.notFound((c) => sendProblem(c, problemForError(problemError('NotFound', 'no such object'))));

  const app = router();
  documentedRoute(app, [signedGetDoc('get'), signedGetDoc('head')], `${PREFIX}*`, async (c: Context) => {
    const { tenant, rawKey } = await verify(deps.config, c.req.path, Date.now());
    const url = new URL(c.req.url);
    url.pathname = `/v1/objects/${rawKey}`;
    url.search = '';
    const headers = new Headers();
    for (const name of ['range', 'if-none-match']) {
      const value = c.req.header(name);
      if (value !== undefined) headers.set(name, value);
    }
    const env = { ...(c.env as object), signedCaller: { tenant, role: 'submitter', keyId: null } satisfies Caller };
    const res = await objects.fetch(new Request(url, { method: c.req.method, headers }), env);
    // Whoever holds the URL may read it until it expires; caches in between may not keep it.
    const out = new Response(res.body, res);
    out.headers.set('Cache-Control', 'private, max-age=60');
    return out;
  });
  return app;
}

const mintBodySchema = z
  .strictObject({
    key: z.string().min(1).max(1024).optional().meta({ description: 'one object: the URL reads exactly this key' }),
    prefix: z.string().min(1).max(1024).optional().meta({ description: 'a folder ending in "/" (an HLS/DASH output\'s, a job\'s): the URL reads any key under it' }),
    expiresInSec: z.number().int().positive().optional().meta({ description: `lifetime in seconds (default ${DEFAULT_TTL_SEC}, at most SIGNED_URL_MAX_SEC)` }),
  })
  .refine((b) => (b.key === undefined) !== (b.prefix === undefined), { message: 'give exactly one of key and prefix', path: ['key'] });

const mintAnswerSchema = z.object({
  url: z.string().meta({ description: 'path of the signed URL on this API (for a prefix: append a key relative to it)' }),
  key: z.string().optional(),
  prefix: z.string().optional(),
  expiresAt: z.string().meta({ description: 'ISO-8601 UTC' }),
});

/** Documents the body readJson validates, with the same schema. */
const mintDoc = (maxBodyBytes: number) => operation({
  method: 'post',
  path: '/',
  operationId: 'createSignedUrl',
  tag: 'objects',
  summary: 'Mint a signed, expiring URL for one object or a folder (a player fetches it with no API key)',
  request: { body: { required: true, content: json(mintBodySchema) } },
  maxBodyBytes,
  responses: { 201: { description: 'the signed URL', content: json(mintAnswerSchema) } },
  problems: ['InvalidInput'],
});

/**
 * POST /v1/signed-urls: needs an API key (any role; the URL reads as the key's tenant).
 *
 * @example app.route('/v1/signed-urls', signedUrlRoutes({ config }))
 */
export function signedUrlRoutes(deps: { config: Config }) {
  const { config } = deps;
  const app = router();
  documentedRoute(app, [mintDoc(config.MAX_BODY_BYTES)], '/', async (c) => {
    const { tenant } = callerOf(c);
    const body = await readJson(c, mintBodySchema, config.MAX_BODY_BYTES);
    const ttl = body.expiresInSec ?? Math.min(DEFAULT_TTL_SEC, config.SIGNED_URL_MAX_SEC);
    if (ttl > config.SIGNED_URL_MAX_SEC) {
      throw problemError('InvalidInput', `expiresInSec may be at most ${config.SIGNED_URL_MAX_SEC} (SIGNED_URL_MAX_SEC)`, [{ path: 'expiresInSec', message: `at most ${config.SIGNED_URL_MAX_SEC}` }]);
    }
    const field = body.key !== undefined ? 'key' : 'prefix';
    const named = (body.key ?? body.prefix)!;
    const scoped = tenantKey(tenant, named, { prefix: field === 'prefix' });
    if ('problem' in scoped) throw problemError('InvalidInput', `the ${field} ${scoped.problem}`, [{ path: field, message: scoped.problem }]);
    if (field === 'prefix' && named === '') throw problemError('InvalidInput', 'the prefix must name a folder', [{ path: 'prefix', message: 'must not be empty' }]);
    const expires = Math.floor(Date.now() / 1000) + ttl;
    const url = await signedPath(config, tenant, field === 'key' ? { key: named } : { prefix: named }, expires);
    return c.json({ url, [field]: named, expiresAt: new Date(expires * 1000).toISOString() }, 201);
  });
  return app;
}

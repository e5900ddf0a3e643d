/** PUT/GET/HEAD /v1/objects/{key}: streamed uploads and Range downloads against the configured store. */
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { Config } from '../../model/config';
import { tenantKey } from '../../storage/keys';
import type { ByteRange, ObjectInfo, Storage } from '../../storage/storage';
import { problemError, problemOf, sendProblem } from '../problem';
import { callerOf } from '../auth';
import { closeAfterAnswer, requestBody } from '../body';
import { clientAddress, throwRateLimited } from '../rate-limit';
import { MediaflowError, type ErrorCode } from '../../model/errors';
import { documentedRoute, json, operation, router } from '../openapi/route';
import { objectPutSchema } from '../openapi/schemas';

const PREFIX = '/v1/objects/';

/** The tenant's key from the request path, and where it lives in the store. */
function keyOf(rawPath: string, tenant: string): { key: string; storeKey: string } {
  let key: string;
  try {
    key = decodeURIComponent(rawPath.slice(PREFIX.length));
  } catch {
    throw problemError('InvalidInput', 'the key is not valid percent-encoded UTF-8', [{ path: 'key', message: 'bad percent-encoding' }]);
  }
  const scoped = tenantKey(tenant, key);
  if ('problem' in scoped) throw problemError('InvalidInput', `the object key ${scoped.problem}`, [{ path: 'key', message: scoped.problem }]);
  return { key, storeKey: scoped.key };
}

/**
 * Refuses request targets with dot segments (`/../`, `/./`, `%2e%2e`) before URL parsing
 * normalises them away: `/v1/objects/../../etc/passwd` would otherwise quietly become
 * `/etc/passwd` and reach some other route. 400 names the key for object paths.
 *
 * @example app.use('*', dotSegmentGuard)
 */
export const dotSegmentGuard: MiddlewareHandler = async function dotSegmentGuard(c, next) {
  const raw = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.url ?? new URL(c.req.url).pathname;
  const target = raw.split('?')[0]!;
  const dotted = target.split('/').some((segment) => {
    const s = segment.replace(/%2e/gi, '.');
    return s === '.' || s === '..';
  });
  if (!dotted) return next();
  const message = 'must not contain "." or ".." segments';
  const field = target.startsWith(PREFIX) ? 'key' : 'path';
  return sendProblem(c, problemOf('InvalidInput', `the request path ${message}`, [{ path: field, message }]));
};

/** Parses a single `bytes=` range; null: serve the whole object; 'unsatisfiable': answer 416. */
export function parseRange(header: string | undefined, size: number): ByteRange | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  // Multiple ranges and other units are legal to ignore: the whole object is a valid answer.
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

function objectHeaders(info: ObjectInfo): Record<string, string> {
  return {
    'Content-Type': info.contentType,
    ETag: info.etag,
    'Last-Modified': info.lastModified.toUTCString(),
    'Accept-Ranges': 'bytes',
  };
}

const params = z.object({
  key: z
    .string()
    .min(1)
    // Relative, no control characters or backslashes; `.`/`..`/empty segments are refused too.
    .regex(/^[^/\u0000-\u001f\u007f\\][^\u0000-\u001f\u007f\\]*$/)
    .meta({ description: 'the object key: relative, `/`-separated, at most 1024 bytes, no `.`, `..` or empty segments', examples: ['raw/sample.mp4'] }),
});
const binary = { type: 'string' as const, format: 'binary' };
const header = (description: string, type: 'string' | 'integer' = 'string') => ({ description, schema: { type } });
const etag = header('entity tag of the stored object');
const objectAnswerHeaders = { ETag: etag, 'Content-Length': header('bytes in this answer', 'integer'), 'Accept-Ranges': header('always `bytes`') };

/** `/v1/objects/{key}`: the key is the rest of the path, slashes included (Hono's `*`), read by keyOf. */
const putObject = operation({
  method: 'put', path: '/{key}', operationId: 'putObject', tag: 'objects',
  summary: 'Upload an object (streamed, atomic; limit MAX_UPLOAD_BYTES)',
  request: {
    params,
    body: { description: 'the bytes, streamed; no body stores an empty object', required: false, content: { 'application/octet-stream': { schema: binary } } },
  },
  responses: { 201: { description: 'stored', content: json(objectPutSchema), headers: { Location: header('the URL of what was created'), ETag: etag } } },
  problems: ['InvalidInput', 'PayloadTooLarge', 'BodyTimeout', 'KeyConflict', 'StorageUnavailable'],
});

/** GET/HEAD of an object, for operation(…): signed URLs (api/signed-url.ts) answer the same. */
export function readObjectSpec(method: 'get' | 'head') {
  return {
    method,
    path: '/{key}',
    operationId: `${method}Object`,
    summary: 'Download an object, whole or a byte range; HEAD answers the headers only',
    request: {
      params,
      headers: z.object({
        Range: z.string().optional().meta({ description: 'one `bytes=start-end` range (others are ignored: the whole object is sent)' }),
        'If-None-Match': z.string().optional().meta({ description: 'an entity tag from an earlier answer' }),
      }),
    },
    responses: {
      200: { description: "the object; its Content-Type comes from the key's extension", ...(method === 'get' ? { content: { '*/*': { schema: binary } } } : {}), headers: objectAnswerHeaders },
      206: {
        description: 'the requested range',
        ...(method === 'get' ? { content: { '*/*': { schema: binary } } } : {}),
        headers: { ...objectAnswerHeaders, 'Content-Range': header('`bytes start-end/size`') },
      },
      304: { description: 'unchanged since the `If-None-Match` entity tag' },
      416: { description: 'the range lies outside the object', ...(method === 'get' ? { content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } } : {}) },
    },
    problems: ['InvalidInput', 'NotFound', 'StorageUnavailable'] as ErrorCode[],
  };
}
const readObject = (method: 'get' | 'head') => operation({ ...readObjectSpec(method), tag: 'objects' });

/** Retry-After of an upload refused for the caps: uploads end at unknown times, so a short fixed wait. */
const UPLOAD_RETRY_SEC = 5;

export function objectRoutes(deps: { config: Config; storage: Storage; log?: (line: Record<string, unknown>) => void }) {
  const { config, storage } = deps;
  const log = deps.log ?? ((line) => console.log(JSON.stringify(line)));
  const app = router();
  // Uploads in progress, per key (per address while open) and in all: each holds a socket and a temp file or an OSS upload.
  const uploading = new Map<string, number>();
  let uploadingTotal = 0;

  documentedRoute(app, [putObject], '/*', async (c) => {
    const caller = callerOf(c);
    const { key, storeKey } = keyOf(c.req.path, caller.tenant);
    const declared = Number(c.req.header('content-length') ?? NaN);
    if (declared > config.MAX_UPLOAD_BYTES) {
      closeAfterAnswer(c);
      throw problemError('PayloadTooLarge', `uploads may be at most ${config.MAX_UPLOAD_BYTES} bytes`);
    }
    const who = caller.keyId ?? `open:${clientAddress(c)}`;
    const mine = uploading.get(who) ?? 0;
    if (mine >= config.MAX_UPLOADS_PER_KEY) {
      closeAfterAnswer(c);
      throwRateLimited(c, UPLOAD_RETRY_SEC, `this ${caller.keyId ? 'key' : 'address'} already has ${mine} uploads in progress (MAX_UPLOADS_PER_KEY=${config.MAX_UPLOADS_PER_KEY})`);
    }
    if (uploadingTotal >= config.MAX_UPLOADS) {
      closeAfterAnswer(c);
      throwRateLimited(c, UPLOAD_RETRY_SEC, `the server already has ${uploadingTotal} uploads in progress (MAX_UPLOADS=${config.MAX_UPLOADS})`);
    }
    uploading.set(who, mine + 1);
    uploadingTotal += 1;
    const body = requestBody(c, config.BODY_IDLE_TIMEOUT_SEC);
    try {
      const info = await storage.put(storeKey, body, { maxBytes: config.MAX_UPLOAD_BYTES });
      c.header('ETag', info.etag);
      c.header('Location', `${PREFIX}${key.split('/').map(encodeURIComponent).join('/')}`);
      return c.json({ key, sizeBytes: info.sizeBytes, etag: info.etag }, 201);
    } catch (err) {
      // Whatever the store made of it (a failed OSS part, a broken pipe): the client left first.
      closeAfterAnswer(c);
      const what = { tenant: caller.tenant, key, bytesReceived: body.bytesReceived };
      if (body.clientAborted) {
        log({ ts: new Date().toISOString(), level: 'warn', msg: 'client aborted upload', ...what });
        throw problemError('ClientAborted', 'the client closed the connection before the upload had arrived; nothing was stored');
      }
      if (err instanceof MediaflowError && err.code === 'BodyTimeout') {
        log({ ts: new Date().toISOString(), level: 'warn', msg: 'upload stalled', idleSec: config.BODY_IDLE_TIMEOUT_SEC, ...what });
      }
      throw err;
    } finally {
      const left = (uploading.get(who) ?? 1) - 1;
      if (left > 0) uploading.set(who, left);
      else uploading.delete(who);
      uploadingTotal -= 1;
    }
  });

  documentedRoute(app, [readObject('get'), readObject('head')], '/*', async (c) => {
    const { key, storeKey } = keyOf(c.req.path, callerOf(c).tenant);
    const info = await storage.head(storeKey);
    if (!info) throw problemError('NotFound', `no object with key "${key}"`);
    const headers = objectHeaders(info);
    if (c.req.header('if-none-match') === info.etag) return c.body(null, 304, headers);
    const range = parseRange(c.req.header('range'), info.sizeBytes);
    if (range === 'unsatisfiable') {
      c.header('Content-Range', `bytes */${info.sizeBytes}`);
      return sendProblem(c, { ...problemOf('InvalidInput', `the range is outside the object's ${info.sizeBytes} bytes`), status: 416 });
    }
    const length = range ? range.end - range.start + 1 : info.sizeBytes;
    const status = range ? 206 : 200;
    const all = {
      ...headers,
      'Content-Length': String(length),
      ...(range ? { 'Content-Range': `bytes ${range.start}-${range.end}/${info.sizeBytes}` } : {}),
    };
    if (c.req.method === 'HEAD') return c.body(null, status, all);
    const { info: read, body } = await storage.get(storeKey, range ?? undefined);
    // Overwritten between the head and the read: the headers above describe the old version.
    if (read.sizeBytes !== info.sizeBytes) {
      body.destroy();
      throw problemError('StorageUnavailable', `the object "${key}" changed while it was being read; try again`);
    }
    return c.body(Readable.toWeb(body) as ReadableStream, status, all);
  });

  return app;
}

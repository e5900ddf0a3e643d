/** PUT/GET/HEAD /v1/objects/{key}: streamed uploads and Range downloads against the configured store. */
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { AppEnv } from '../env';
import { Hono, type MiddlewareHandler } from 'hono';
import type { Config } from '../../model/config';
import { tenantKey } from '../../storage/keys';
import type { ByteRange, ObjectInfo, Storage } from '../../storage/storage';
import { problemError, problemOf, sendProblem } from '../problem';
import { callerOf } from '../auth';
import { closeAfterAnswer, requestBody } from '../body';
import { clientAddress, throwRateLimited } from '../rate-limit';
import { MediaflowError } from '../../model/errors';
import { objectOps } from '../openapi/operations';
import { documented } from '../openapi/registry';

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

/** Retry-After of an upload refused for the caps: uploads end at unknown times, so a short fixed wait. */
const UPLOAD_RETRY_SEC = 5;

export function objectRoutes(deps: { config: Config; storage: Storage; log?: (line: Record<string, unknown>) => void }) {
  const { config, storage } = deps;
  const log = deps.log ?? ((line) => console.log(JSON.stringify(line)));
  const app = new Hono<AppEnv>();
  // Uploads in progress, per key (per address while open) and in all: each holds a socket and a temp file or an OSS upload.
  const uploading = new Map<string, number>();
  let uploadingTotal = 0;

  app.put('/*', documented(objectOps.put), async (c) => {
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

  app.on(['GET', 'HEAD'], '/*', documented(objectOps.get), async (c) => {
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

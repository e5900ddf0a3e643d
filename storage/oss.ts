/**
 * Alibaba Cloud OSS object store through the ali-oss client: buffered or multipart uploads from a
 * stream (parts retried and MD5-checked, the whole object CRC64-checked), streamed Range reads
 * (CRC64-checked when whole; every ranged answer checked against the range asked for and cut to
 * exactly it), listing, signed URLs; throttling, 5xx and network errors retried with backoff;
 * stale multipart uploads swept.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import OSS, { type OssError } from 'ali-oss';
import { Counter } from 'prom-client';
import type { Config } from '../model/config';
import { MediaflowError } from '../model/errors';
import { registry } from '../observability/metrics';
import { Crc64 } from './crc64';
import { keyProblem, prefixProblem } from './keys';
import { contentTypeFor, type ByteRange, type ListOptions, type ObjectInfo, type ObjectPage, type PutOptions, type Storage } from './storage';

export interface OssOptions {
  /** `https://oss-cn-hangzhou.aliyuncs.com`; unset: derived from `region`. */
  endpoint?: string;
  /** The endpoint is a custom domain bound to the bucket (no bucket name in the host). */
  cname?: boolean;
  region?: string;
  bucket: string;
  accessKeyId: string;
  accessKeySecret: string;
  stsToken?: string;
  /** Every key of this store lives under it ('' or ending in "/"). */
  prefix: string;
  /** Buckets `forBucket` may open besides `bucket` (job inputs naming a bucket). */
  inputBuckets: string[];
  multipartThresholdBytes: number;
  partSizeBytes: number;
  timeoutMs: number;
  /** Attempts per request (1 = no retry) and the backoff between them. */
  retry?: { attempts: number; baseMs: number; maxMs: number };
  /** Parts in flight at once; memory use is about (this + 1) × partSizeBytes. */
  partConcurrency?: number;
  /** OSS_REQUIRE_CRC: an upload or whole download without `x-oss-hash-crc64ecma` fails (IntegrityUnverifiable) instead of going unchecked. */
  requireCrc?: boolean;
}

/** The OSS store, with what only OSS has. */
export interface OssStorage extends Storage {
  /**
   * Aborts the multipart uploads under this store's prefix started more than `olderThanMs` ago
   * (ListMultipartUploads → AbortMultipartUpload), so their parts stop being billed.
   */
  sweepStaleUploads(olderThanMs: number): Promise<{ aborted: number; failed: number }>;
}

/** One JSON log line on stderr, like the API's and the worker's own; never a secret in `fields`. */
function warn(msg: string, fields: Record<string, unknown> = {}): void {
  console.warn(JSON.stringify({ level: 'warn', msg, ...fields }));
}

const crcMissing = new Counter({
  name: 'mediaflow_storage_crc_missing_total',
  help: 'Uploads and whole-object downloads the object store sent no x-oss-hash-crc64ecma for (left unchecked unless OSS_REQUIRE_CRC)',
  labelNames: ['operation'] as const,
  registers: [registry],
});
let crcMissingLogged = false;

const MAX_PARTS = 10_000;
const MAX_PAGE = 1000;
/** A body stalled this long mid-download fails (retryable) instead of hanging the activity. */
const IDLE_TIMEOUT_MS = 60_000;
const DEFAULT_RETRY = { attempts: 5, baseMs: 200, maxMs: 10_000 };

/**
 * The driver's options from the configuration (STORAGE_DRIVER=oss).
 *
 * @example const storage = createOssStorage(ossOptionsFrom(config))
 */
export function ossOptionsFrom(config: Config): OssOptions {
  if (!config.OSS_BUCKET || !config.OSS_ACCESS_KEY_ID || !config.OSS_ACCESS_KEY_SECRET) {
    throw new Error('STORAGE_DRIVER=oss needs OSS_BUCKET, OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET');
  }
  return {
    ...(config.OSS_ENDPOINT ? { endpoint: config.OSS_ENDPOINT } : {}),
    ...(config.OSS_CNAME ? { cname: true } : {}),
    ...(config.OSS_REGION ? { region: config.OSS_REGION } : {}),
    bucket: config.OSS_BUCKET,
    accessKeyId: config.OSS_ACCESS_KEY_ID,
    accessKeySecret: config.OSS_ACCESS_KEY_SECRET,
    ...(config.OSS_STS_TOKEN ? { stsToken: config.OSS_STS_TOKEN } : {}),
    prefix: config.OSS_PREFIX,
    inputBuckets: config.OSS_INPUT_BUCKETS,
    multipartThresholdBytes: config.OSS_MULTIPART_THRESHOLD_BYTES,
    partSizeBytes: config.OSS_PART_SIZE_BYTES,
    timeoutMs: config.OSS_TIMEOUT_SEC * 1000,
    requireCrc: config.OSS_REQUIRE_CRC,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Worth another try: network trouble (-1), timeouts (-2), throttling and server errors (not 501: the backend lacks the operation). */
function transient(err: OssError): boolean {
  const status = err.status ?? 0;
  if (status === 501 || err.code === 'NotImplemented') return false;
  if (status === -1 || status === -2 || status === 429 || status >= 500) return true;
  if (['SlowDown', 'ServiceUnavailable', 'InternalError', 'RequestTimeout', 'QpsLimitExceeded'].includes(err.code ?? '')) return true;
  return ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'].includes(err.code ?? '');
}

const accessCodes = new Set(['SignatureDoesNotMatch', 'InvalidAccessKeyId', 'AccessDenied', 'SecurityTokenExpired', 'InvalidSecurityToken']);

/** ali-oss errors → coded errors that say what to fix; never the secret. */
function translate(err: unknown, what: string): MediaflowError {
  if (err instanceof MediaflowError) return err;
  const e = err as OssError;
  const code = e.code ?? e.name ?? 'Error';
  const detail = `${code}${e.message && e.message !== code ? `: ${e.message}` : ''}${e.requestId ? ` (request id ${e.requestId})` : ''}`;
  if (accessCodes.has(code) || e.status === 403) {
    return new MediaflowError(
      'StorageAccessDenied',
      `OSS refused ${what}: ${detail}; check OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET, OSS_STS_TOKEN and the RAM policy`,
    );
  }
  if (code === 'NoSuchKey' || (e.status === 404 && code !== 'NoSuchBucket')) return new MediaflowError('NotFound', `OSS has no object for ${what}`);
  if (code === 'NoSuchBucket') return new MediaflowError('StorageUnavailable', `OSS: ${what}: the bucket does not exist`);
  if (code === 'InvalidDigest' || code === 'BadDigest') return new MediaflowError('IntegrityCheckFailed', `OSS rejected ${what}: ${detail}`);
  return new MediaflowError('StorageUnavailable', `OSS ${what} failed: ${detail}`);
}

function header(res: { headers: Record<string, unknown> }, name: string): string | undefined {
  const v = res.headers[name];
  return typeof v === 'string' ? v : Array.isArray(v) ? String(v[0]) : v === undefined ? undefined : String(v);
}

/** Checks the body against OSS's CRC64 as it streams; fails the stream at the end on a mismatch. */
function crcCheck(expected: string, what: string): Transform {
  const crc = new Crc64();
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      crc.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      const got = crc.digest();
      done(got === expected ? null : new MediaflowError('IntegrityCheckFailed', `${what}: the body's CRC64 is ${got}, OSS says ${expected}`));
    },
  });
}

/**
 * Exactly `length` bytes of `source` after skipping `skip`: stops reading (and closes the source)
 * at the end of the slice, and fails when the source ends short of it. A backend's answer can
 * then never push more or fewer bytes than the caller announced.
 */
function slice(source: Readable, skip: number, length: number, what: string): Readable {
  async function* bytes(): AsyncGenerator<Buffer> {
    let offset = 0;
    let sent = 0;
    for await (const raw of source) {
      const chunk = raw as Buffer;
      const from = Math.max(0, skip - offset);
      const to = Math.min(chunk.length, skip + length - offset);
      offset += chunk.length;
      if (to > from) {
        sent += to - from;
        yield chunk.subarray(from, to);
      }
      // Leaving the loop destroys the source: the rest of an oversized answer is never read.
      if (sent === length) return;
    }
    if (sent < length) throw new MediaflowError('StorageUnavailable', `${what}: the answer ended after ${sent} of ${length} bytes`);
  }
  return Readable.from(bytes(), { objectMode: false });
}

/** `bytes a-b/total` of a Content-Range header; total null for `*`. */
function contentRange(value: string | undefined): { start: number; end: number; total: number | null } | null {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value?.trim() ?? '');
  if (!m) return null;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? null : Number(m[3]) };
}

/**
 * @example const storage = createOssStorage({ bucket: 'media', region: 'oss-cn-hangzhou', accessKeyId, accessKeySecret, prefix: '', … })
 */
export function createOssStorage(options: OssOptions): OssStorage {
  return bucketStore(options, options.bucket, options.prefix);
}

function bucketStore(options: OssOptions, bucket: string, prefix: string): OssStorage {
  const retry = options.retry ?? DEFAULT_RETRY;
  const partConcurrency = options.partConcurrency ?? 3;
  const client = new OSS({
    accessKeyId: options.accessKeyId,
    accessKeySecret: options.accessKeySecret,
    ...(options.stsToken ? { stsToken: options.stsToken, refreshSTSTokenInterval: 3_600_000 } : {}),
    bucket,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.cname ? { cname: true } : {}),
    ...(options.region ? { region: options.region } : {}),
    secure: true,
    timeout: options.timeoutMs,
    // Retries are ours (with backoff, and for throttling too): ali-oss's own would double them.
    retryMax: 0,
  });

  function nameOf(key: string): string {
    const problem = keyProblem(key);
    if (problem) throw new MediaflowError('InvalidInput', `object key ${problem}`, [{ path: 'key', message: problem }]);
    return `${prefix}${key}`;
  }

  /** Runs one request, again after transient failures, with exponential backoff and full jitter. */
  async function attempt<T>(what: string, call: () => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await call();
      } catch (err) {
        if (err instanceof MediaflowError || n >= retry.attempts || !transient(err as OssError)) throw translate(err, what);
        await sleep(Math.random() * Math.min(retry.maxMs, retry.baseMs * 2 ** (n - 1)));
      }
    }
  }

  function infoFrom(key: string, res: { headers: Record<string, unknown> }, sizeBytes: number): ObjectInfo {
    const modified = header(res, 'last-modified') ?? header(res, 'date');
    const crc64 = header(res, 'x-oss-hash-crc64ecma');
    return {
      key,
      sizeBytes,
      etag: header(res, 'etag') ?? '',
      contentType: header(res, 'content-type') ?? contentTypeFor(key),
      lastModified: modified ? new Date(modified) : new Date(),
      ...(crc64 ? { crc64 } : {}),
    };
  }

  /** After an upload: what OSS stored must be what we sent, or the damaged object goes. */
  async function verifyCrc(name: string, what: string, expected: string | undefined, got: string): Promise<void> {
    if (expected === undefined) {
      // Answers without a CRC (some proxies, gateways, other OSS-compatible stores) leave nothing to compare.
      if (!options.requireCrc) return noCrc('upload', what);
      await attempt(`delete of the unverifiable ${what}`, () => client.delete(name)).catch(() => undefined);
      throw new MediaflowError('IntegrityUnverifiable', `${what}: the object store sent no x-oss-hash-crc64ecma to check it against (OSS_REQUIRE_CRC=true); the object was removed`);
    }
    if (expected === got) return;
    await attempt(`delete of the damaged ${what}`, () => client.delete(name)).catch(() => undefined);
    throw new MediaflowError('IntegrityCheckFailed', `${what}: OSS stored CRC64 ${expected}, we sent ${got}; the damaged object was removed`);
  }

  /** An unchecked transfer: counted every time, logged once per process. */
  function noCrc(operation: 'upload' | 'download', what: string): void {
    crcMissing.inc({ operation });
    if (crcMissingLogged) return;
    crcMissingLogged = true;
    warn('the object store sends no x-oss-hash-crc64ecma: uploads and downloads go without their CRC-64 check (set OSS_REQUIRE_CRC=true to fail them instead); logged once, counted in mediaflow_storage_crc_missing_total', {
      store: `oss://${bucket}/${prefix}`,
      first: what,
    });
  }

  async function head(key: string): Promise<ObjectInfo | null> {
    const name = nameOf(key);
    try {
      const { res } = await attempt(`head of "${key}"`, () => client.head(name, { timeout: options.timeoutMs }));
      return infoFrom(key, res, Number(header(res, 'content-length') ?? 0));
    } catch (err) {
      if (err instanceof MediaflowError && err.code === 'NotFound') return null;
      throw err;
    }
  }

  async function get(key: string, range?: ByteRange): Promise<{ info: ObjectInfo; body: Readable }> {
    const name = nameOf(key);
    const what = `read of "${key}"`;
    const { stream, res } = await attempt(what, () =>
      client.getStream(name, { timeout: options.timeoutMs, ...(range ? { headers: { Range: `bytes=${range.start}-${range.end}` } } : {}) }),
    ).catch(async (err: unknown) => {
      if (err instanceof MediaflowError && err.code === 'NotFound') throw new MediaflowError('NotFound', `no object with key "${key}"`);
      // A streamed answer's error document goes unread, so ali-oss only knows the status; a HEAD
      // (whose error comes in a header) says which code it was.
      if (err instanceof MediaflowError && err.code === 'StorageAccessDenied' && /UnknownError/.test(err.message)) await head(key);
      throw err;
    });
    stream.setTimeout(IDLE_TIMEOUT_MS, () => stream.destroy(new MediaflowError('StorageUnavailable', `${what}: no data for ${IDLE_TIMEOUT_MS / 1000} s`)));
    const refuse = (detail: string): never => {
      stream.destroy();
      throw new MediaflowError('StorageUnavailable', `${what}: the object store answered ${detail}`);
    };
    const asked = range ? `bytes=${range.start}-${range.end}` : 'the whole object';
    if (res.status === 206) {
      // A 206 is only usable when its Content-Range holds the range asked for: then exactly that range is passed on.
      const got = contentRange(header(res, 'content-range'));
      if (!range || !got || got.total === null) return refuse(`206 with Content-Range "${header(res, 'content-range') ?? ''}" to a request for ${asked}`);
      const end = Math.min(range.end, got.total - 1);
      if (got.start > range.start || got.end < end || got.end >= got.total) return refuse(`206 with bytes ${got.start}-${got.end}/${got.total} to a request for ${asked}`);
      return { info: infoFrom(key, res, got.total), body: slice(stream, range.start - got.start, end - range.start + 1, what) };
    }
    if (res.status !== 200) return refuse(`HTTP ${res.status} to a request for ${asked}`);
    const total = Number(header(res, 'content-length'));
    const info = infoFrom(key, res, total);
    if (range) {
      // The whole object for a range (a backend that ignores Range): cut the range out of it.
      if (!Number.isFinite(total) || range.start >= total) return refuse(`200 with ${header(res, 'content-length') ?? 'no'} bytes to a request for ${asked}`);
      return { info, body: slice(stream, range.start, Math.min(range.end, total - 1) - range.start + 1, what) };
    }
    const expected = header(res, 'x-oss-hash-crc64ecma');
    // Only a whole body can be checked against the object's CRC.
    if (!expected) {
      if (options.requireCrc) {
        stream.destroy();
        throw new MediaflowError('IntegrityUnverifiable', `${what}: the object store sent no x-oss-hash-crc64ecma to check the body against (OSS_REQUIRE_CRC=true)`);
      }
      noCrc('download', what);
      return { info, body: stream };
    }
    const checked = crcCheck(expected, what);
    stream.on('error', (err) => checked.destroy(err));
    return { info, body: stream.pipe(checked) };
  }

  async function put(key: string, body: Readable, putOptions: PutOptions = {}): Promise<ObjectInfo> {
    const name = nameOf(key);
    const contentType = putOptions.contentType ?? contentTypeFor(key);
    const headers = { 'Content-Type': contentType };
    const crc = new Crc64();
    let total = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let upload: { id: string; parts: { number: number; etag: string }[]; inflight: Set<Promise<void>>; failure: unknown } | null = null;
    const partSize = options.partSizeBytes;

    /** The first `n` pending bytes as one buffer. */
    function take(n: number): Buffer {
      const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
      const part = all.subarray(0, n);
      const rest = all.subarray(n);
      pending = rest.length ? [rest] : [];
      pendingBytes = rest.length;
      return part;
    }

    async function sendPart(data: Buffer): Promise<void> {
      const u = upload!;
      const number = u.parts.length + 1;
      if (number > MAX_PARTS) throw new MediaflowError('PayloadTooLarge', `"${key}" would need more than ${MAX_PARTS} parts of ${partSize} bytes (raise OSS_PART_SIZE_BYTES)`);
      const slot = { number, etag: '' };
      u.parts.push(slot);
      // MD5 per part: OSS refuses a part that arrives different (InvalidDigest), and we send it again.
      const md5 = createHash('md5').update(data).digest('base64');
      const p = attempt(`upload of part ${number} of "${key}"`, () =>
        client.uploadPart(name, u.id, number, data, 0, data.length, { headers: { 'Content-MD5': md5 }, timeout: options.timeoutMs }),
      ).then(
        (r) => {
          slot.etag = r.etag;
        },
        (err: unknown) => {
          u.failure ??= err;
        },
      );
      u.inflight.add(p);
      void p.finally(() => u.inflight.delete(p));
      while (u.inflight.size >= partConcurrency) await Promise.race(u.inflight);
      if (u.failure) throw u.failure;
    }

    try {
      for await (const raw of body) {
        const chunk = typeof raw === 'string' ? Buffer.from(raw) : (raw as Buffer);
        total += chunk.length;
        if (putOptions.maxBytes && total > putOptions.maxBytes) {
          throw new MediaflowError('PayloadTooLarge', `the body is larger than ${putOptions.maxBytes} bytes`);
        }
        crc.update(chunk);
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (!upload && pendingBytes >= options.multipartThresholdBytes) {
          const init = await attempt(`start of the multipart upload of "${key}"`, () => client.initMultipartUpload(name, { headers, timeout: options.timeoutMs }));
          upload = { id: init.uploadId, parts: [], inflight: new Set(), failure: null };
        }
        if (upload) while (pendingBytes >= partSize) await sendPart(take(partSize));
      }

      if (!upload) {
        // Small enough to hold: one PutObject, which ali-oss sends with its Content-MD5.
        const data = take(pendingBytes);
        const { res } = await attempt(`upload of "${key}"`, () => client.put(name, data, { headers, timeout: options.timeoutMs }));
        await verifyCrc(name, `upload of "${key}"`, header(res, 'x-oss-hash-crc64ecma'), crc.digest());
        return infoFrom(key, { headers: { ...res.headers, 'content-type': contentType } }, total);
      }

      if (pendingBytes > 0) await sendPart(take(pendingBytes));
      await Promise.all(upload.inflight);
      if (upload.failure) throw upload.failure;
      const u = upload;
      const done = await attempt(`completion of the multipart upload of "${key}"`, () =>
        client.completeMultipartUpload(name, u.id, u.parts, { timeout: options.timeoutMs }),
      ).catch(async (err: unknown) => {
        // A completion whose answer was lost and then retried finds the upload gone (NoSuchUpload):
        // the object itself says whether the first one went through.
        if (err instanceof MediaflowError && err.code === 'NotFound') {
          const { res } = await attempt(`head of "${key}"`, () => client.head(name));
          if (header(res, 'x-oss-hash-crc64ecma') === crc.digest()) return { res, etag: header(res, 'etag') ?? '' };
        }
        throw err;
      });
      upload = null;
      await verifyCrc(name, `upload of "${key}"`, header(done.res, 'x-oss-hash-crc64ecma'), crc.digest());
      return infoFrom(key, { headers: { ...done.res.headers, etag: done.etag, 'content-type': contentType } }, total);
    } catch (err) {
      body.destroy();
      if (upload) {
        const id = upload.id;
        await Promise.allSettled(upload.inflight);
        // Parts of an abandoned upload are billed until aborted; one that cannot be aborted now is
        // logged, and the periodic sweep (OSS_MULTIPART_SWEEP_SEC) tries again later.
        await attempt(`abort of the multipart upload of "${key}"`, () => client.abortMultipartUpload(name, id)).catch((abortErr: unknown) => {
          warn('could not abort a failed multipart upload; its parts stay until the stale-upload sweep removes them', {
            store: `oss://${bucket}/${prefix}`,
            key,
            uploadId: id,
            error: (abortErr as Error).message,
          });
        });
      }
      throw translate(err, `upload of "${key}"`);
    }
  }

  async function sweepStaleUploads(olderThanMs: number): Promise<{ aborted: number; failed: number }> {
    const cutoff = Date.now() - olderThanMs;
    const result = { aborted: 0, failed: 0 };
    let keyMarker = '';
    let uploadIdMarker = '';
    for (;;) {
      const page = await attempt('listing of multipart uploads', () =>
        client.listUploads(
          { prefix, 'max-uploads': MAX_PAGE, ...(keyMarker ? { 'key-marker': keyMarker, 'upload-id-marker': uploadIdMarker } : {}) },
          { timeout: options.timeoutMs },
        ),
      );
      for (const u of page.uploads) {
        if (!(Date.parse(u.initiated) < cutoff)) continue;
        try {
          await attempt(`abort of the stale multipart upload of "${u.name}"`, () => client.abortMultipartUpload(u.name, u.uploadId, { timeout: options.timeoutMs }));
          result.aborted += 1;
        } catch (err) {
          // Gone meanwhile (completed, or aborted by another process): nothing left to do.
          if (err instanceof MediaflowError && err.code === 'NotFound') continue;
          result.failed += 1;
          warn('could not abort a stale multipart upload', { store: `oss://${bucket}/${prefix}`, name: u.name, uploadId: u.uploadId, error: (err as Error).message });
        }
      }
      if (!page.isTruncated || !page.nextKeyMarker) break;
      keyMarker = page.nextKeyMarker;
      uploadIdMarker = page.nextUploadIdMarker ?? '';
    }
    return result;
  }

  const store: OssStorage = {
    driver: 'oss',
    location: `oss://${bucket}/${prefix}`,
    head,
    get,
    put,
    async putFile(key: string, file: string, putOptions?: PutOptions) {
      return put(key, createReadStream(file), putOptions);
    },
    async delete(key: string) {
      const name = nameOf(key);
      await attempt(`delete of "${key}"`, () => client.delete(name, { timeout: options.timeoutMs })).catch((err: unknown) => {
        if (!(err instanceof MediaflowError && err.code === 'NotFound')) throw err;
      });
    },
    async list(listPrefix: string, listOptions: ListOptions = {}): Promise<ObjectPage> {
      const problem = prefixProblem(listPrefix);
      if (problem) throw new MediaflowError('InvalidInput', `prefix ${problem}`, [{ path: 'prefix', message: problem }]);
      const pageSize = Math.min(Math.max(1, listOptions.pageSize ?? MAX_PAGE), MAX_PAGE);
      const page = await attempt(`listing of "${listPrefix}"`, () =>
        client.listV2(
          { prefix: `${prefix}${listPrefix}`, 'max-keys': pageSize, ...(listOptions.cursor ? { 'continuation-token': listOptions.cursor } : {}) },
          { timeout: options.timeoutMs },
        ),
      );
      return {
        objects: page.objects.map((o) => {
          const key = o.name.slice(prefix.length);
          return { key, sizeBytes: o.size, etag: o.etag, contentType: contentTypeFor(key), lastModified: new Date(o.lastModified) };
        }),
        nextCursor: page.isTruncated ? page.nextContinuationToken : null,
      };
    },
    async signedUrl(key: string, urlOptions: { expiresSec: number }) {
      const name = nameOf(key);
      try {
        return client.signatureUrl(name, { expires: urlOptions.expiresSec, method: 'GET' });
      } catch (err) {
        // e.g. an IP endpoint: a signed URL needs the bucket's domain.
        throw new MediaflowError('StorageUnavailable', `no signed URL for "${key}": ${(err as Error).message}`);
      }
    },
    forBucket(other: string): Storage {
      if (other !== options.bucket && !options.inputBuckets.includes(other)) {
        throw new MediaflowError('InvalidInput', `bucket "${other}" is not one jobs may read (OSS_BUCKET, OSS_INPUT_BUCKETS)`, [
          { path: 'input.bucket', message: 'not an allowed input bucket' },
        ]);
      }
      // A named bucket is addressed by full object names: no prefix.
      return bucketStore(options, other, '');
    },
    async check() {
      await attempt('listing (readiness check)', () => client.listV2({ prefix, 'max-keys': 1 }, { timeout: options.timeoutMs }));
    },
    sweepStaleUploads,
  };
  return store;
}

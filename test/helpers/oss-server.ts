/**
 * A loopback stand-in for Alibaba Cloud OSS, speaking the REST subset mediaflow uses (PutObject,
 * GetObject with Range, HeadObject, DeleteObject, ListObjectsV2, multipart upload) and checking
 * every request's V1 signature (header or signed URL) on its own, from the OSS documentation, so a
 * wrong secret fails with 403 SignatureDoesNotMatch as on the real service. Objects live in memory.
 * Faults can be injected: throttling/5xx answers, and bytes corrupted on the way in or out; and
 * the looser habits of other OSS-compatible backends can be switched on (`misbehave`): Range
 * ignored or answered with another range, empty (multipart-style) ETags, no CRC-64 header.
 */
import type { OssOptions } from '../../storage/oss';
import type { Readable } from 'node:stream';
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { Crc64 } from '../../storage/crc64';

export interface StoredObject {
  data: Buffer;
  contentType: string;
  etag: string;
  crc64: string;
  lastModified: Date;
}

export interface LoggedRequest {
  method: string;
  bucket: string | null;
  key: string;
  query: string;
  status: number;
}

interface Upload {
  bucket: string;
  key: string;
  contentType: string;
  initiated: Date;
  parts: Map<number, { data: Buffer; etag: string }>;
}

interface Fault {
  remaining: number;
  status: number;
  code: string;
  match: (r: { method: string; key: string; query: URLSearchParams }) => boolean;
}

/** Query parameters OSS signs as sub-resources (the rest, like `prefix` or `list-type`, are not). */
const SUB_RESOURCES = new Set([
  'acl', 'uploads', 'location', 'cors', 'logging', 'website', 'referer', 'lifecycle', 'delete', 'append', 'tagging',
  'objectMeta', 'uploadId', 'partNumber', 'security-token', 'position', 'img', 'style', 'styleName', 'replication',
  'replicationProgress', 'replicationLocation', 'cname', 'bucketInfo', 'comp', 'qos', 'live', 'status', 'vod',
  'startTime', 'endTime', 'symlink', 'x-oss-process', 'response-content-type', 'response-content-language',
  'response-expires', 'response-cache-control', 'response-content-disposition', 'response-content-encoding', 'udf',
  'restore', 'callback', 'callback-var', 'continuation-token', 'versionId', 'versioning', 'versions', 'policy',
  'requestPayment', 'encryption', 'inventory', 'inventoryId', 'worm', 'wormId', 'wormExtend', 'stat',
]);

const MIN_PART_BYTES = 100 * 1024;
const MAX_SKEW_MS = 15 * 60 * 1000;

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function xml(root: string, fields: [string, string | number | boolean][], raw = ''): string {
  const body = fields.map(([k, v]) => `  <${k}>${xmlEscape(String(v))}</${k}>`).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}>\n${body}\n${raw}</${root}>\n`;
}

function md5(data: Buffer): Buffer {
  return createHash('md5').update(data).digest();
}

class OssError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: [string, string][] = [],
  ) {
    super(message);
  }
}

/** Habits of other OSS-compatible backends, all off by default. */
export interface Misbehaviour {
  /**
   * `whole`: a ranged GET answers 200 with the whole object; `other-206`: 206 with the whole object
   * and its true Content-Range; `first-byte-206`: 206 with only the first byte of the range.
   */
  range?: 'whole' | 'other-206' | 'first-byte-206' | null;
  /** Every ETag (HEAD, GET, PUT, listing, multipart completion) is empty. */
  emptyEtags?: boolean;
  /** No `x-oss-hash-crc64ecma` on any answer. */
  omitCrc?: boolean;
}

export interface OssServerOptions {
  buckets?: string[];
  accessKeyId?: string;
  accessKeySecret?: string;
  /** When set, every request must carry this STS token. */
  stsToken?: string;
  /** The bucket for requests that name none (signed URLs to an IP endpoint). */
  defaultBucket?: string;
}

/**
 * @example const oss = await startOssServer({ buckets: ['media'] }); … oss.endpoint … await oss.close()
 */
export async function startOssServer(options: OssServerOptions = {}) {
  const accessKeyId = options.accessKeyId ?? 'LTAI-test-key';
  const accessKeySecret = options.accessKeySecret ?? randomBytes(18).toString('base64');
  const buckets = new Map<string, Map<string, StoredObject>>((options.buckets ?? ['media']).map((b) => [b, new Map()]));
  const defaultBucket = options.defaultBucket ?? options.buckets?.[0] ?? 'media';
  const uploads = new Map<string, Upload>();
  const requests: LoggedRequest[] = [];
  const faults: Fault[] = [];
  let corruptStores = 0;
  let corruptDownloads = 0;
  const habits: Misbehaviour = {};
  /** Objects to overwrite just before the next GET of their key is answered (a race with a writer). */
  const swaps = new Map<string, Buffer>();

  function bucketOf(req: http.IncomingMessage, path: string): { bucket: string | null; rest: string } {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    // Virtual-hosted style (`bucket.oss-cn-hangzhou.aliyuncs.com`), as ali-oss sends it even to an IP endpoint.
    if (host && !net.isIP(host) && host !== 'localhost') return { bucket: host.split('.')[0]!, rest: path };
    return { bucket: defaultBucket, rest: path };
  }

  /** The V1 string to sign, built from the request as received (OSS API reference, "Include signatures in the Authorization header"). */
  function stringToSign(req: http.IncomingMessage, bucket: string | null, key: string, query: URLSearchParams, date: string): string {
    const h = req.headers;
    const ossHeaders = Object.keys(h)
      .filter((name) => name.startsWith('x-oss-'))
      .sort()
      .map((name) => `${name}:${String(h[name]).trim()}\n`)
      .join('');
    const subs = [...new Set([...query.keys()].filter((k) => SUB_RESOURCES.has(k)))].sort();
    const sub = subs.map((k) => (query.get(k) ? `${k}=${query.get(k)}` : k)).join('&');
    const resource = `/${bucket ? `${bucket}/` : ''}${key}${sub ? `?${sub}` : ''}`;
    return `${req.method}\n${h['content-md5'] ?? ''}\n${h['content-type'] ?? ''}\n${date}\n${ossHeaders}${resource}`;
  }

  function authenticate(req: http.IncomingMessage, bucket: string | null, key: string, query: URLSearchParams): void {
    const auth = req.headers.authorization;
    let id: string;
    let signature: string;
    let date: string;
    let token: string | undefined;
    if (auth) {
      const m = /^OSS ([^:]+):(.+)$/.exec(auth);
      if (!m) throw new OssError(400, 'InvalidArgument', 'Authorization header is invalid.');
      [, id, signature] = m as unknown as [string, string, string];
      date = String(req.headers['x-oss-date'] ?? req.headers.date ?? '');
      const when = Date.parse(date);
      if (!Number.isFinite(when) || Math.abs(Date.now() - when) > MAX_SKEW_MS) {
        throw new OssError(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
      }
      token = req.headers['x-oss-security-token'] as string | undefined;
    } else if (query.has('Signature')) {
      id = query.get('OSSAccessKeyId') ?? '';
      signature = query.get('Signature') ?? '';
      date = query.get('Expires') ?? '';
      if (!(Number(date) * 1000 > Date.now())) throw new OssError(403, 'AccessDenied', 'Request has expired.');
      token = query.get('security-token') ?? undefined;
    } else {
      throw new OssError(403, 'AccessDenied', 'You have no right to access this object because of bucket acl.');
    }
    if (id !== accessKeyId) throw new OssError(403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.');
    if (options.stsToken && token !== options.stsToken) throw new OssError(403, 'InvalidSecurityToken', 'The security token you provided is invalid.');
    const toSign = stringToSign(req, bucket, key, query, date);
    const expected = createHmac('sha1', accessKeySecret).update(toSign, 'utf8').digest();
    const given = Buffer.from(signature, 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new OssError(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', [
        ['StringToSign', toSign],
        ['OSSAccessKeyId', id],
      ]);
    }
  }

  function objects(bucket: string | null): Map<string, StoredObject> {
    const b = bucket === null ? undefined : buckets.get(bucket);
    if (!b) throw new OssError(404, 'NoSuchBucket', 'The specified bucket does not exist.', [['BucketName', bucket ?? '']]);
    return b;
  }

  function store(bucket: string, key: string, data: Buffer, contentType: string, etag: string): StoredObject {
    if (corruptStores > 0 && data.length > 0) {
      corruptStores -= 1;
      data = Buffer.from(data);
      data[data.length >> 1]! ^= 0xff;
    }
    const obj = { data, contentType, etag, crc64: new Crc64().update(data).digest(), lastModified: new Date(Math.floor(Date.now() / 1000) * 1000) };
    objects(bucket).set(key, obj);
    return obj;
  }

  function objectHeaders(obj: StoredObject): Record<string, string> {
    return {
      'content-type': obj.contentType,
      etag: habits.emptyEtags ? '' : obj.etag,
      'last-modified': obj.lastModified.toUTCString(),
      'x-oss-hash-crc64ecma': obj.crc64,
      'accept-ranges': 'bytes',
      'x-oss-object-type': 'Normal',
    };
  }

  function checkMd5(req: http.IncomingMessage, body: Buffer): void {
    const given = req.headers['content-md5'];
    if (given !== undefined && given !== md5(body).toString('base64')) {
      throw new OssError(400, 'InvalidDigest', 'The Content-MD5 you specified is not valid.');
    }
  }

  type Reply = { status: number; headers?: Record<string, string>; body?: Buffer | string };

  function handle(req: http.IncomingMessage, body: Buffer, bucket: string | null, key: string, query: URLSearchParams): Reply {
    const method = req.method ?? 'GET';
    const contentType = String(req.headers['content-type'] ?? 'application/octet-stream');
    if (key === '') {
      if (method === 'GET' && query.get('list-type') === '2') return listV2(bucket, query);
      if (method === 'GET' && query.has('uploads')) return listUploads(bucket, query);
      throw new OssError(400, 'InvalidArgument', 'This test server only lists with list-type=2.');
    }
    const objs = objects(bucket);
    if (method === 'PUT' && query.has('uploadId')) {
      const upload = uploads.get(query.get('uploadId')!);
      if (!upload || upload.key !== key || upload.bucket !== bucket) throw new OssError(404, 'NoSuchUpload', 'The specified upload does not exist.');
      const number = Number(query.get('partNumber'));
      if (!Number.isInteger(number) || number < 1 || number > 10_000) throw new OssError(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000.');
      checkMd5(req, body);
      const etag = `"${md5(body).toString('hex').toUpperCase()}"`;
      upload.parts.set(number, { data: body, etag });
      return { status: 200, headers: { etag, 'x-oss-hash-crc64ecma': new Crc64().update(body).digest() } };
    }
    if (method === 'PUT') {
      checkMd5(req, body);
      const obj = store(bucket!, key, body, contentType, `"${md5(body).toString('hex').toUpperCase()}"`);
      return { status: 200, headers: { etag: obj.etag, 'x-oss-hash-crc64ecma': obj.crc64 } };
    }
    if (method === 'POST' && query.has('uploads')) {
      const id = randomBytes(16).toString('hex').toUpperCase();
      uploads.set(id, { bucket: bucket!, key, contentType, initiated: new Date(), parts: new Map() });
      return { status: 200, headers: { 'content-type': 'application/xml' }, body: xml('InitiateMultipartUploadResult', [['Bucket', bucket!], ['Key', key], ['UploadId', id]]) };
    }
    if (method === 'POST' && query.has('uploadId')) {
      const id = query.get('uploadId')!;
      const upload = uploads.get(id);
      if (!upload || upload.key !== key || upload.bucket !== bucket) throw new OssError(404, 'NoSuchUpload', 'The specified upload does not exist.');
      const listed = [...body.toString('utf8').matchAll(/<Part>\s*<PartNumber>(\d+)<\/PartNumber>\s*<ETag>([^<]+)<\/ETag>\s*<\/Part>/g)].map((m) => ({
        number: Number(m[1]),
        etag: m[2]!.replace(/&quot;/g, '"'),
      }));
      if (listed.length === 0) throw new OssError(400, 'MalformedXML', 'The XML you provided was not well-formed.');
      const chunks: Buffer[] = [];
      for (const [i, p] of listed.entries()) {
        const part = upload.parts.get(p.number);
        if (!part || part.etag !== p.etag) throw new OssError(400, 'InvalidPart', `One or more of the specified parts could not be found (part ${p.number}).`);
        if (i > 0 && p.number <= listed[i - 1]!.number) throw new OssError(400, 'InvalidPartOrder', 'The list of parts was not in ascending order.');
        if (i < listed.length - 1 && part.data.length < MIN_PART_BYTES) throw new OssError(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size.');
        chunks.push(part.data);
      }
      const etag = `"${md5(Buffer.concat(listed.map((p) => Buffer.from(p.etag.replace(/"/g, ''), 'hex')))).toString('hex').toUpperCase()}-${listed.length}"`;
      const obj = store(bucket!, key, Buffer.concat(chunks), upload.contentType, etag);
      uploads.delete(id);
      return {
        status: 200,
        headers: { 'content-type': 'application/xml', etag: obj.etag, 'x-oss-hash-crc64ecma': obj.crc64 },
        body: xml('CompleteMultipartUploadResult', [['Location', `http://${bucket}.oss/${key}`], ['Bucket', bucket!], ['Key', key], ['ETag', obj.etag]]),
      };
    }
    if (method === 'DELETE' && query.has('uploadId')) {
      if (!uploads.delete(query.get('uploadId')!)) throw new OssError(404, 'NoSuchUpload', 'The specified upload does not exist.');
      return { status: 204 };
    }
    if (method === 'DELETE') {
      objs.delete(key);
      return { status: 204 };
    }
    if (method === 'GET' || method === 'HEAD') {
      const swap = method === 'GET' ? swaps.get(`${bucket}/${key}`) : undefined;
      if (swap) {
        swaps.delete(`${bucket}/${key}`);
        const old = objs.get(key);
        store(bucket!, key, swap, old?.contentType ?? 'application/octet-stream', `"${md5(swap).toString('hex').toUpperCase()}"`);
      }
      const obj = objs.get(key);
      if (!obj) throw new OssError(404, 'NoSuchKey', 'The specified key does not exist.', [['Key', key]]);
      const headers = objectHeaders(obj);
      if (method === 'HEAD') return { status: 200, headers: { ...headers, 'content-length': String(obj.data.length) } };
      let data = obj.data;
      let status = 200;
      const range = /^bytes=(\d*)-(\d*)$/.exec(String(req.headers.range ?? ''));
      if (range && (range[1] || range[2]) && habits.range === 'other-206') {
        status = 206;
        headers['content-range'] = `bytes 0-${obj.data.length - 1}/${obj.data.length}`;
      } else if (range && range[1] && habits.range === 'first-byte-206') {
        const start = Number(range[1]);
        data = obj.data.subarray(start, start + 1);
        status = 206;
        headers['content-range'] = `bytes ${start}-${start}/${obj.data.length}`;
      } else if (range && (range[1] || range[2]) && habits.range !== 'whole') {
        const size = obj.data.length;
        const suffix = range[1] === '';
        const start = suffix ? Math.max(0, size - Number(range[2])) : Number(range[1]);
        const end = suffix || range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
        if (start >= size || (suffix && Number(range[2]) === 0)) throw new OssError(416, 'InvalidRange', 'The requested range cannot be satisfied.');
        // Like OSS, a range that makes no sense (end before start) is ignored: the whole object.
        if (end >= start) {
          data = obj.data.subarray(start, end + 1);
          status = 206;
          headers['content-range'] = `bytes ${start}-${end}/${size}`;
        }
      }
      if (corruptDownloads > 0 && data.length > 0) {
        corruptDownloads -= 1;
        data = Buffer.from(data);
        data[data.length >> 1]! ^= 0xff;
      }
      return { status, headers, body: data };
    }
    throw new OssError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
  }

  /** ListMultipartUploads: uploads under `prefix`, in key then initiation order, `max-uploads` at a time. */
  function listUploads(bucket: string | null, query: URLSearchParams): Reply {
    const prefix = query.get('prefix') ?? '';
    const max = Math.min(Number(query.get('max-uploads') ?? 1000), 1000);
    const keyMarker = query.get('key-marker') ?? '';
    const idMarker = query.get('upload-id-marker') ?? '';
    const all = [...uploads.entries()]
      .filter(([, u]) => u.bucket === bucket && u.key.startsWith(prefix))
      .sort(([ia, a], [ib, b]) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)) || a.initiated.getTime() - b.initiated.getTime() || ia.localeCompare(ib))
      .filter(([id, u]) => !keyMarker || u.key > keyMarker || (u.key === keyMarker && idMarker !== '' && id > idMarker));
    const page = all.slice(0, max);
    const truncated = all.length > page.length;
    const items = page
      .map(([id, u]) => `  <Upload>\n    <Key>${xmlEscape(u.key)}</Key>\n    <UploadId>${id}</UploadId>\n    <Initiated>${u.initiated.toISOString()}</Initiated>\n  </Upload>\n`)
      .join('');
    const last = page.at(-1);
    const fields: [string, string | number | boolean][] = [
      ['Bucket', bucket!], ['Prefix', prefix], ['KeyMarker', keyMarker], ['UploadIdMarker', idMarker], ['MaxUploads', max], ['IsTruncated', truncated],
      ['NextKeyMarker', truncated && last ? last[1].key : ''], ['NextUploadIdMarker', truncated && last ? last[0] : ''],
    ];
    return { status: 200, headers: { 'content-type': 'application/xml' }, body: xml('ListMultipartUploadsResult', fields, items) };
  }

  function listV2(bucket: string | null, query: URLSearchParams): Reply {
    const objs = objects(bucket);
    const prefix = query.get('prefix') ?? '';
    const maxKeys = Math.min(Number(query.get('max-keys') ?? 100), 1000);
    const token = query.get('continuation-token');
    const after = token ? Buffer.from(token, 'base64url').toString('utf8') : (query.get('start-after') ?? '');
    const keys = [...objs.keys()]
      .filter((k) => k.startsWith(prefix) && (!after || Buffer.compare(Buffer.from(k), Buffer.from(after)) > 0))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const page = keys.slice(0, maxKeys);
    const truncated = keys.length > page.length;
    const contents = page
      .map((k) => {
        const o = objs.get(k)!;
        const f: [string, string | number][] = [['Key', k], ['LastModified', o.lastModified.toISOString()], ['ETag', habits.emptyEtags ? '' : o.etag], ['Type', 'Normal'], ['Size', o.data.length], ['StorageClass', 'Standard']];
        return `  <Contents>\n${f.map(([n, v]) => `    <${n}>${xmlEscape(String(v))}</${n}>`).join('\n')}\n  </Contents>\n`;
      })
      .join('');
    const fields: [string, string | number | boolean][] = [['Name', bucket!], ['Prefix', prefix], ['MaxKeys', maxKeys], ['KeyCount', page.length], ['IsTruncated', truncated]];
    if (token) fields.push(['ContinuationToken', token]);
    if (truncated) fields.push(['NextContinuationToken', Buffer.from(page.at(-1)!).toString('base64url')]);
    return { status: 200, headers: { 'content-type': 'application/xml' }, body: xml('ListBucketResult', fields, contents) };
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://oss.invalid');
      const { bucket } = bucketOf(req, url.pathname);
      let key = '';
      let reply: Reply;
      const requestId = randomBytes(12).toString('hex').toUpperCase();
      try {
        key = decodeURIComponent(url.pathname.slice(1));
        authenticate(req, bucket, key, url.searchParams);
        const fault = faults.find((f) => f.remaining > 0 && f.match({ method: req.method ?? '', key, query: url.searchParams }));
        if (fault) {
          fault.remaining -= 1;
          throw new OssError(fault.status, fault.code, 'Injected fault: please reduce your request rate.');
        }
        reply = handle(req, body, bucket, key, url.searchParams);
      } catch (err) {
        const e = err instanceof OssError ? err : new OssError(500, 'InternalError', String(err));
        const text = xml('Error', [['Code', e.code], ['Message', e.message], ['RequestId', requestId], ['HostId', req.headers.host ?? ''], ...e.extra]);
        // HEAD answers have no body: OSS puts the error document in a header instead.
        reply = {
          status: e.status,
          headers: { 'content-type': 'application/xml', ...(req.method === 'HEAD' ? { 'x-oss-err': Buffer.from(text).toString('base64') } : {}) },
          body: text,
        };
      }
      requests.push({ method: req.method ?? '', bucket, key, query: url.search, status: reply.status });
      if (reply.headers && habits.omitCrc) delete reply.headers['x-oss-hash-crc64ecma'];
      // Parts keep theirs: completion lists them, as with such backends.
      const part = req.method === 'PUT' && url.searchParams.has('uploadId');
      if (reply.headers?.etag !== undefined && habits.emptyEtags && !part) reply.headers.etag = '';
      if (typeof reply.body === 'string' && habits.emptyEtags) reply.body = reply.body.replace(/<ETag>[^<]*<\/ETag>/g, '<ETag></ETag>');
      const payload = reply.body === undefined ? Buffer.alloc(0) : Buffer.from(reply.body);
      res.writeHead(reply.status, {
        server: 'AliyunOSS',
        date: new Date().toUTCString(),
        'x-oss-request-id': requestId,
        ...reply.headers,
        ...(req.method === 'HEAD' ? {} : { 'content-length': String(payload.length) }),
      });
      res.end(req.method === 'HEAD' ? undefined : payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    accessKeyId,
    accessKeySecret,
    buckets,
    requests,
    /** The stored object (for assertions that bypass the driver). */
    object(bucket: string, key: string): StoredObject | undefined {
      return buckets.get(bucket)?.get(key);
    },
    /** Multipart uploads started and neither completed nor aborted. */
    openUploads(): number {
      return uploads.size;
    },
    /** The keys of the open multipart uploads. */
    openUploadKeys(): string[] {
      return [...uploads.values()].map((u) => u.key).sort();
    },
    /** Makes every open multipart upload of `key` (or all) look `ms` older. */
    backdateUploads(ms: number, key?: string): void {
      for (const u of uploads.values()) if (key === undefined || u.key === key) u.initiated = new Date(u.initiated.getTime() - ms);
    },
    /** The next GET of `key` finds it overwritten with `data` (as if another writer came between a HEAD and that GET). */
    overwriteBeforeNextGet(bucket: string, key: string, data: Buffer): void {
      swaps.set(`${bucket}/${key}`, data);
    },
    /** Switches looser backend habits on (or off again with null/false); returns the previous ones. */
    misbehave(patch: Misbehaviour): Misbehaviour {
      const previous = { ...habits };
      Object.assign(habits, patch);
      return previous;
    },
    /** The next `count` matching requests fail with `status`/`code` (503 SlowDown: throttling). */
    failNext(count: number, fault: Partial<Omit<Fault, 'remaining'>> = {}): void {
      faults.push({ remaining: count, status: fault.status ?? 503, code: fault.code ?? 'SlowDown', match: fault.match ?? (() => true) });
    },
    /** Disarms every fault not yet used up. */
    clearFaults(): void {
      faults.length = 0;
    },
    /** The next stored object gets one byte flipped after it arrived (as if damaged in transit). */
    corruptNextStore(): void {
      corruptStores += 1;
    },
    /** The next download body gets one byte flipped; its CRC header stays that of the stored object. */
    corruptNextDownload(): void {
      corruptDownloads += 1;
    },
    /** Environment for STORAGE_DRIVER=oss pointing at this server. */
    env(bucket = defaultBucket, extra: Record<string, string> = {}): Record<string, string> {
      return {
        STORAGE_DRIVER: 'oss',
        OSS_ENDPOINT: `http://127.0.0.1:${port}`,
        OSS_REGION: 'oss-cn-hangzhou',
        OSS_BUCKET: bucket,
        OSS_ACCESS_KEY_ID: accessKeyId,
        OSS_ACCESS_KEY_SECRET: accessKeySecret,
        ...(options.stsToken ? { OSS_STS_TOKEN: options.stsToken } : {}),
        ...extra,
      };
    },
    async close(): Promise<void> {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

export type OssServer = Awaited<ReturnType<typeof startOssServer>>;

/**
 * The OSS driver's options for this test server: retries in milliseconds (the faults tests inject
 * are many), a small multipart threshold; `extra` changes any of them.
 *
 * @example createOssStorage(ossOptionsFor(oss, { inputBuckets: ['archive'] }))
 */
export function ossOptionsFor(oss: OssServer, extra: Partial<OssOptions> = {}): OssOptions {
  return {
    endpoint: oss.endpoint,
    region: 'oss-cn-hangzhou',
    bucket: 'media',
    accessKeyId: oss.accessKeyId,
    accessKeySecret: oss.accessKeySecret,
    prefix: 'mf/',
    inputBuckets: [],
    multipartThresholdBytes: 1024 * 1024,
    partSizeBytes: 512 * 1024,
    timeoutMs: 20_000,
    retry: { attempts: 5, baseMs: 5, maxMs: 50 },
    ...extra,
  };
}

/** A whole body, read. */
export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

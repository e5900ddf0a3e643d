/**
 * Issue 12, storage side, on real sockets and real files: a URL source that trickles fails for good
 * (SourceTooSlow) and leaves no file; IPv6 forms that carry an IPv4 address are judged by it; a
 * backend that ignores Range cannot make the API send more than it announced on a keep-alive
 * connection; empty ETags never make the worker's input cache serve old content; stale multipart
 * uploads are aborted (and a failed abort is logged).
 */
import { rejection } from '../helpers/errors';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { errorCodes, MediaflowError, nonRetryableCodes } from '../../model/errors';
import { checkUrlTarget, downloadUrl, embeddedV4, isPrivateAddress, type DownloadOptions } from '../../storage/fetch-url';

let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-hardening-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}


async function listen(server: http.Server | net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

describe('URL inputs: minimum transfer rate (item 4)', () => {
  let server: http.Server;
  let base: string;
  const drips = new Set<NodeJS.Timeout>();
  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/drip') {
        // 1 byte a second of a 10 MB "video": under the idle timeout, forever.
        res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(10_000_000) });
        res.write('x');
        const t = setInterval(() => res.write('x'), 1000);
        drips.add(t);
        res.on('close', () => clearInterval(t));
        return;
      }
      if (req.url === '/redirect-to-drip') return void res.writeHead(302, { location: '/drip' }).end();
      // Fast enough: 64 KiB every 100 ms, 1.5 MB in all.
      const chunk = Buffer.alloc(64 * 1024, 7);
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(chunk.length * 24) });
      let sent = 0;
      const t = setInterval(() => {
        res.write(chunk);
        if (++sent === 24) {
          clearInterval(t);
          res.end();
        }
      }, 100);
      res.on('close', () => clearInterval(t));
    });
    base = `http://127.0.0.1:${await listen(server)}`;
  });
  after(async () => {
    drips.forEach(clearInterval);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const options: DownloadOptions = { allowPrivate: true, maxBytes: 100_000_000, timeoutMs: 30_000, minBytesPerSec: 1000, minRateWindowMs: 2000 };

  test('a source sending 1 byte/s fails with SourceTooSlow (non-retryable) after the window, naming the rate; the partial file is gone', async () => {
    const file = path.join(dir, 'drip.input');
    const started = Date.now();
    const err = await rejection(downloadUrl(`${base}/drip`, file, options));
    const tookMs = Date.now() - started;
    assert.equal(err.code, 'SourceTooSlow', err.message);
    assert.match(err.message, /\d+(\.\d)? bytes\/s\), below the minimum of 1000 bytes\/s/);
    assert.match(err.message, /127\.0\.0\.1:\d+ sent \d+ bytes in the last 2 s/);
    // Well before the 30 s wall-clock limit that was the only bound before.
    assert.ok(tookMs < 15_000, `took ${tookMs} ms`);
    assert.equal(errorCodes.SourceTooSlow.retryable, false);
    assert.ok(nonRetryableCodes.includes('SourceTooSlow'));
    assert.equal(await exists(file), false, 'the partial download is removed');
  });

  test('after a redirect too; a source above the minimum downloads in full', async () => {
    const slow = await rejection(downloadUrl(`${base}/redirect-to-drip`, path.join(dir, 'drip2.input'), options));
    assert.equal(slow.code, 'SourceTooSlow');
    const file = path.join(dir, 'fast.input');
    const got = await downloadUrl(`${base}/fast`, file, options);
    assert.equal(got.status, 'downloaded');
    assert.equal((await fs.stat(file)).size, 24 * 64 * 1024);
  });

  test('with no options the configured defaults apply, and FETCH_MIN_BYTES_PER_SEC=0 turns the minimum off', async () => {
    const { loadConfig } = await import('../../model/config');
    const config = loadConfig({});
    assert.equal(config.FETCH_MIN_BYTES_PER_SEC, 8192);
    // 1 byte/s fails within about a minute by default.
    assert.ok(config.FETCH_MIN_RATE_WINDOW_SEC <= 60);
    assert.equal(loadConfig({ FETCH_MIN_BYTES_PER_SEC: '0' }).FETCH_MIN_BYTES_PER_SEC, 0);
    const controller = new AbortController();
    const file = path.join(dir, 'drip-off.input');
    setTimeout(() => controller.abort(new Error('test over')), 3000).unref();
    // No minimum: only the caller's cancellation ends it.
    const err = await downloadUrl(`${base}/drip`, file, { ...options, minBytesPerSec: 0, signal: controller.signal }).then(
      () => assert.fail('expected the abort'),
      (e: unknown) => e as Error,
    );
    assert.equal(err.message, 'test over');
    assert.equal(await exists(file), false);
  });
});

describe('IPv6 forms that embed IPv4 are judged by the IPv4 address (item 18)', () => {
  test('6to4, NAT64, Teredo, IPv4-mapped, -translated and -compatible: private when what they carry is', () => {
    const privateOnes = [
      '2002:7f00:1::1', // 6to4 of 127.0.0.1
      '2002:a9fe:a9fe::', // 6to4 of 169.254.169.254 (metadata)
      '2002:c0a8:101::1', // 6to4 of 192.168.1.1
      '64:ff9b::7f00:1', // NAT64 of 127.0.0.1
      '64:ff9b::169.254.169.254',
      '64:ff9b:1::808:808', // local-use NAT64: never public
      '2001:0:4136:e378:8000:63bf:80ff:fffe', // Teredo, client 127.0.0.1 (stored inverted)
      '2001:0:a00:1::', // Teredo, server 10.0.0.1
      '::ffff:127.0.0.1',
      '::ffff:0:7f00:1', // IPv4-translated
      '::127.0.0.1', // IPv4-compatible
      '::10.1.2.3',
      '::', '::1',
    ];
    for (const a of privateOnes) assert.equal(isPrivateAddress(a), true, a);
    const publicOnes = ['2002:808:808::1', '64:ff9b::8.8.8.8', '2001:0:4136:e378:8000:63bf:f7f7:f7f7', '::ffff:8.8.8.8', '2606:4700:4700::1111'];
    for (const a of publicOnes) assert.equal(isPrivateAddress(a), false, a);
    assert.deepEqual(embeddedV4('2002:7f00:1::1'), ['127.0.0.1']);
    assert.deepEqual(embeddedV4('2001:0:4136:e378:8000:63bf:80ff:fffe'), ['65.54.227.120', '127.0.0.1']);
    assert.deepEqual(embeddedV4('2606:4700:4700::1111'), []);
  });

  test('URLs and resolved names carrying a loopback/metadata IPv4 are refused before any connection', async () => {
    for (const url of ['http://[2002:7f00:1::1]/a.mp4', 'http://[64:ff9b::a9fe:a9fe]/latest/meta-data/', 'http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/a.mp4']) {
      const err = await rejection(checkUrlTarget(url, { allowPrivate: false }));
      assert.equal(err.code, 'UrlNotAllowed', url);
      const file = path.join(dir, 'never.input');
      assert.equal((await rejection(downloadUrl(url, file, { allowPrivate: false, maxBytes: 1000, timeoutMs: 5000 }))).code, 'UrlNotAllowed');
      assert.equal(await exists(file), false);
    }
    const resolve = async () => [{ address: '2002:7f00:1::1', family: 6 as const }];
    const err = await rejection(checkUrlTarget('http://six-to-four.example/a.mp4', { allowPrivate: false, resolve }));
    assert.match(err.message, /resolves to a non-public address \(2002:7f00:1::1\)/);
  });
});

// ---------------------------------------------------------------------------------------------
// Object store answers that do not match the request (items 7, 8, 11)

import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { loadConfig } from '../../model/config';
import { startApi, type RunningApi } from '../../api/server';
import { withLocalInput } from '../../activities/local-input';
import type { ActivityDeps } from '../../activities/deps';
import { createOssStorage, type OssOptions, type OssStorage } from '../../storage/oss';
import { createStorage } from '../../storage/create-storage';
import { ossOptionsFor, readAll, startOssServer, type OssServer } from '../helpers/oss-server';

const ossOptions = ossOptionsFor;


/** Captures console.warn's JSON lines while `fn` runs. */
async function warnings<T>(fn: () => Promise<T>): Promise<{ result: T; lines: Record<string, unknown>[] }> {
  const lines: Record<string, unknown>[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => {
    try {
      lines.push(JSON.parse(String(args[0])) as Record<string, unknown>);
    } catch {
      original(...args);
    }
  };
  try {
    return { result: await fn(), lines };
  } finally {
    console.warn = original;
  }
}

/** Everything the server sends on one socket until it closes (or `idleMs` of silence). */
function rawExchange(port: number, requests: string[], idleMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let pending = [...requests];
    socket.setTimeout(idleMs, () => socket.end());
    socket.on('connect', () => socket.write(pending.shift()!));
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // A client sends its next request once it has read the previous response (head + announced body).
      const parsed = parseResponses(Buffer.concat(chunks));
      if (pending.length && parsed.length === requests.length - pending.length && parsed.at(-1)!.complete) socket.write(pending.shift()!);
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

interface RawResponse {
  statusLine: string;
  headers: Record<string, string>;
  body: Buffer;
  complete: boolean;
}

/** HTTP/1.1 responses back to back, framed by Content-Length as any client frames them. */
function parseResponses(data: Buffer): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  while (at < data.length) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) {
      out.push({ statusLine: data.subarray(at, Math.min(at + 40, data.length)).toString('latin1'), headers: {}, body: Buffer.alloc(0), complete: false });
      break;
    }
    const [statusLine = '', ...lines] = data.subarray(at, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
    const length = Number(headers['content-length'] ?? 0);
    const body = data.subarray(end + 4, end + 4 + length);
    out.push({ statusLine, headers, body, complete: body.length === length });
    at = end + 4 + length;
  }
  return out;
}

describe('a backend that answers a ranged GET with more than the range (item 7)', () => {
  let oss: OssServer;
  let api: RunningApi;
  let port: number;
  const object = randomBytes(3 * 1024 * 1024 + 17);

  before(async () => {
    oss = await startOssServer({ buckets: ['media'] });
    await fs.mkdir(path.join(dir, 'api'), { recursive: true });
    const config = loadConfig({ DATA_DIR: path.join(dir, 'api'), PORT: '0', ...oss.env('media', { OSS_MULTIPART_SWEEP_SEC: '0' }) });
    api = await startApi(config);
    port = Number(new URL(api.url).port);
    const put = await fetch(`${api.url}/v1/objects/raw/big.bin`, { method: 'PUT', body: object });
    assert.equal(put.status, 201);
  });
  after(async () => {
    await api?.close();
    await oss?.close();
  });

  for (const habit of ['whole', 'other-206'] as const) {
    test(`Range: bytes=0-0 answered ${habit === 'whole' ? '200 with the whole object' : '206 with the whole object'}: one keep-alive socket, the ranged GET then GET /healthz both parse`, async () => {
      oss.misbehave({ range: habit });
      try {
        const data = await rawExchange(port, [
          'GET /v1/objects/raw/big.bin HTTP/1.1\r\nHost: mediaflow\r\nRange: bytes=0-0\r\n\r\n',
          'GET /healthz HTTP/1.1\r\nHost: mediaflow\r\nConnection: close\r\n\r\n',
        ]);
        const [ranged, health, ...rest] = parseResponses(data);
        assert.ok(ranged && health, `two responses, got ${data.length} bytes`);
        assert.equal(ranged.statusLine, 'HTTP/1.1 206 Partial Content');
        assert.equal(ranged.headers['content-length'], '1');
        assert.equal(ranged.headers['content-range'], `bytes 0-0/${object.length}`);
        assert.deepEqual(ranged.body, object.subarray(0, 1));
        assert.match(health.statusLine, /^HTTP\/1\.1 200 /, `the second response starts with ${JSON.stringify(health.statusLine)}`);
        assert.equal(health.complete, true);
        assert.deepEqual(rest, [], 'nothing after the second response');
      } finally {
        oss.misbehave({ range: null });
      }
    });
  }

  test('through the driver: any ranged answer is cut to exactly the range asked for; one that does not hold it fails cleanly', async () => {
    const store = createOssStorage(ossOptions(oss, { prefix: '' }));
    for (const habit of ['whole', 'other-206', null] as const) {
      oss.misbehave({ range: habit });
      const { info, body } = await store.get('raw/big.bin', { start: 1000, end: 1999 });
      assert.deepEqual(await readAll(body), object.subarray(1000, 2000), String(habit));
      assert.equal(info.sizeBytes, object.length);
      const tail = await store.get('raw/big.bin', { start: object.length - 5, end: object.length + 100 });
      assert.deepEqual(await readAll(tail.body), object.subarray(object.length - 5), `${habit}: an end past the object is clamped`);
    }
    oss.misbehave({ range: 'first-byte-206' });
    try {
      const err = await rejection(store.get('raw/big.bin', { start: 1000, end: 1999 }));
      assert.equal(err.code, 'StorageUnavailable');
      assert.match(err.message, /answered 206 with bytes 1000-1000\/\d+ to a request for bytes=1000-1999/);
      // The API answers that as a problem, not as a 206 with the wrong bytes.
      const res = await fetch(`${api.url}/v1/objects/raw/big.bin`, { headers: { range: 'bytes=1000-1999' } });
      assert.equal(res.status, 503);
      assert.equal((await res.json() as { code: string }).code, 'StorageUnavailable');
    } finally {
      oss.misbehave({ range: null });
    }
  });
});

describe('empty (multipart-style) ETags never make the input cache serve old content (item 8)', () => {
  let oss: OssServer;
  let deps: ActivityDeps;
  before(async () => {
    oss = await startOssServer({ buckets: ['media'] });
    const config = loadConfig({ DATA_DIR: path.join(dir, 'worker8'), ...oss.env('media', { OSS_MULTIPART_SWEEP_SEC: '0' }) });
    deps = {
      config,
      storage: createOssStorage(ossOptions(oss, { prefix: '' })),
      binaries: { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' } as ActivityDeps['binaries'],
      workDir: path.join(dir, 'worker8', 'work'),
      db: () => Promise.reject(new Error('not needed')),
    };
  });
  after(async () => {
    oss.misbehave({ emptyEtags: false, omitCrc: false });
    await oss?.close();
  });

  const read = (key: string) => withLocalInput(deps, { key }, (file) => fs.readFile(file));
  const gets = (key: string) => oss.requests.filter((r) => r.method === 'GET' && r.key === key).length;

  test('a multipart object overwritten with different bytes of the same size is read anew (CRC-64 and Last-Modified as identity)', async () => {
    oss.misbehave({ emptyEtags: true });
    const first = randomBytes(1536 * 1024);
    const second = randomBytes(first.length);
    const one = await deps.storage.put('raw/same-size.bin', Readable.from([first]));
    assert.equal(one.etag, '', 'the backend gives multipart objects no ETag');
    assert.ok(oss.object('media', 'raw/same-size.bin')!.etag.endsWith('-3"'), 'stored as a 3-part multipart object');
    assert.deepEqual(await read('raw/same-size.bin'), first);
    assert.deepEqual(await read('raw/same-size.bin'), first);
    assert.equal(gets('raw/same-size.bin'), 1, 'unchanged content is still served from the cache');
    await deps.storage.put('raw/same-size.bin', Readable.from([second]));
    assert.equal((await deps.storage.head('raw/same-size.bin'))!.etag, '');
    assert.deepEqual(await read('raw/same-size.bin'), second, 'the new content, not the cached old one');
    assert.equal(gets('raw/same-size.bin'), 2);
  });

  test('no strong ETag and no CRC-64: never cached, every read sees the current content', async () => {
    oss.misbehave({ emptyEtags: true, omitCrc: true });
    try {
      const a = Buffer.alloc(200_000, 1);
      const b = Buffer.alloc(200_000, 2);
      await deps.storage.put('raw/bare.bin', Readable.from([a]));
      assert.deepEqual(await read('raw/bare.bin'), a);
      await deps.storage.put('raw/bare.bin', Readable.from([b]));
      // Same size, and very likely the same Last-Modified second: only not caching is safe.
      assert.deepEqual(await read('raw/bare.bin'), b);
      assert.equal(gets('raw/bare.bin'), 2);
    } finally {
      oss.misbehave({ emptyEtags: false, omitCrc: false });
    }
  });

  test('a weak ETag is not an identity either', async () => {
    const { objectIdentity, isStrongEtag } = await import('../../storage/input-cache');
    const base = { key: 'k', sizeBytes: 5, contentType: 'video/mp4', lastModified: new Date(0) };
    assert.equal(isStrongEtag('W/"abc"'), false);
    assert.equal(isStrongEtag('""'), false);
    assert.equal(isStrongEtag('"abc"'), true);
    assert.equal(objectIdentity('oss://m/', 'k', { ...base, etag: 'W/"abc"' }), null);
    assert.equal(objectIdentity('oss://m/', 'k', { ...base, etag: '' }), null);
    assert.match(objectIdentity('oss://m/', 'k', { ...base, etag: '', crc64: '123' }) ?? '', /crc64:123\|5\|0$/);
  });
});

describe('multipart uploads are not left behind (item 11)', () => {
  let oss: OssServer;
  before(async () => {
    oss = await startOssServer({ buckets: ['media'] });
  });
  after(async () => {
    await oss?.close();
  });

  /** A multipart upload that fails after its first parts (too large), leaving an open upload when the abort fails. */
  async function failedUpload(store: OssStorage, key: string): Promise<MediaflowError> {
    return rejection(store.put(key, Readable.from([randomBytes(1024 * 1024), randomBytes(1024 * 1024)]), { maxBytes: 1536 * 1024 }));
  }

  test('a failed AbortMultipartUpload (501) is tried once and logged; the sweep aborts the stale upload later', async () => {
    const store = createOssStorage(ossOptions(oss));
    const isAbort = (r: { method: string; query: URLSearchParams }) => r.method === 'DELETE' && r.query.has('uploadId');
    oss.failNext(5, { status: 501, code: 'NotImplemented', match: isAbort });
    const { result: err, lines } = await warnings(() => failedUpload(store, 'out/a.mp4'));
    oss.clearFaults();
    assert.equal(err.code, 'PayloadTooLarge');
    const aborts = oss.requests.filter((r) => r.method === 'DELETE' && r.query.includes('uploadId'));
    assert.equal(aborts.length, 1, '501 is not transient: no retries');
    const logged = lines.find((l) => /could not abort a failed multipart upload/.test(String(l.msg)));
    assert.ok(logged, `logged: ${JSON.stringify(lines)}`);
    assert.equal(logged.key, 'out/a.mp4');
    assert.match(String(logged.error), /NotImplemented/);
    assert.deepEqual(oss.openUploadKeys(), ['mf/out/a.mp4']);

    // A fresh upload (another process's, still running) is left alone; a stale one goes.
    assert.deepEqual(await store.sweepStaleUploads(3600_000), { aborted: 0, failed: 0 });
    assert.equal(oss.openUploads(), 1);
    oss.backdateUploads(2 * 3600_000);
    assert.deepEqual(await store.sweepStaleUploads(3600_000), { aborted: 1, failed: 0 });
    assert.equal(oss.openUploads(), 0);
  });

  test('the sweep covers only the store prefix and runs on its own from createStorage until close()', async () => {
    const store = createOssStorage(ossOptions(oss));
    const other = createOssStorage(ossOptions(oss, { prefix: 'elsewhere/' }));
    oss.failNext(1000, { status: 501, code: 'NotImplemented', match: (r) => r.method === 'DELETE' && r.query.has('uploadId') });
    await warnings(async () => {
      for (let i = 0; i < 3; i++) await failedUpload(store, `out/${i}.mp4`);
      await failedUpload(other, 'out/x.mp4');
    });
    oss.clearFaults();
    oss.backdateUploads(2 * 3600_000);
    assert.equal(oss.openUploads(), 4);

    const config = loadConfig({
      DATA_DIR: path.join(dir, 'sweep'),
      ...oss.env('media', { OSS_PREFIX: 'mf/', OSS_MULTIPART_SWEEP_SEC: '1', OSS_MULTIPART_STALE_SEC: '3600' }),
    });
    const swept = await createStorage(config);
    try {
      for (let waited = 0; oss.openUploads() > 1 && waited < 30_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(oss.openUploadKeys(), ['elsewhere/out/x.mp4'], 'the other prefix is not ours to sweep');
    } finally {
      await swept.close?.();
    }
    // Stopped: a stale upload made now stays.
    await new Promise((r) => setTimeout(r, 1500));
    oss.failNext(1, { status: 501, code: 'NotImplemented', match: (r) => r.method === 'DELETE' && r.query.has('uploadId') });
    await warnings(() => failedUpload(store, 'out/late.mp4'));
    oss.backdateUploads(2 * 3600_000);
    await new Promise((r) => setTimeout(r, 2500));
    assert.deepEqual(oss.openUploadKeys(), ['elsewhere/out/x.mp4', 'mf/out/late.mp4']);
  });
});

describe('an object overwritten between the API\'s HEAD and its GET (item 7, the whole-object side)', () => {
  let oss: OssServer;
  let api: RunningApi;
  before(async () => {
    oss = await startOssServer({ buckets: ['media'] });
    await fs.mkdir(path.join(dir, 'api-race'), { recursive: true });
    api = await startApi(loadConfig({ DATA_DIR: path.join(dir, 'api-race'), PORT: '0', ...oss.env('media', { OSS_MULTIPART_SWEEP_SEC: '0' }) }));
  });
  after(async () => {
    await api?.close();
    await oss?.close();
  });

  test('a longer new version is not streamed under the old Content-Length; the keep-alive socket stays usable', async () => {
    const put = await fetch(`${api.url}/v1/objects/raw/race.bin`, { method: 'PUT', body: randomBytes(1000) });
    assert.equal(put.status, 201);
    oss.overwriteBeforeNextGet('media', 'raw/race.bin', randomBytes(500_000));
    const data = await rawExchange(Number(new URL(api.url).port), [
      'GET /v1/objects/raw/race.bin HTTP/1.1\r\nHost: mediaflow\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: mediaflow\r\nConnection: close\r\n\r\n',
    ]);
    const [first, health, ...rest] = parseResponses(data);
    assert.match(first?.statusLine ?? '', /^HTTP\/1\.1 503 /);
    assert.match(first!.body.toString(), /changed while it was being read/);
    assert.match(health?.statusLine ?? '', /^HTTP\/1\.1 200 /, `then ${JSON.stringify(health?.statusLine)}`);
    assert.deepEqual(rest, []);
  });
});

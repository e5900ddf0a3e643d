/**
 * Issue 12, storage side, on real sockets and real files: a URL source that trickles fails for good
 * (SourceTooSlow) and leaves no file; IPv6 forms that carry an IPv4 address are judged by it; a
 * backend that ignores Range cannot make the API send more than it announced on a keep-alive
 * connection; empty ETags never make the worker's input cache serve old content; stale multipart
 * uploads are aborted (and a failed abort is logged).
 */
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

async function rejection(p: Promise<unknown>): Promise<MediaflowError> {
  const err = await p.then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof MediaflowError, `got ${String(err)}`);
  return err;
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

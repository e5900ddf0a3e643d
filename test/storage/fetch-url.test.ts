/**
 * URL inputs under the SSRF rules, on real sockets: private targets refused before any connection,
 * every redirect hop re-checked (one loopback address exempted so a "public" hop can be served
 * here), the checked address pinned, size and time limits, nothing kept on failure.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { MediaflowError } from '../../model/errors';
import { checkedAddress, checkUrlTarget, downloadUrl, isPrivateAddress, postJson, type DownloadOptions, type ResolvedAddress } from '../../storage/fetch-url';

let dir: string;
/** Counts connections on a loopback address: a refused URL must never reach it. */
interface Trap {
  port: number;
  connections: number;
  close(): Promise<void>;
}

async function trap(host: string): Promise<Trap> {
  const state = { connections: 0 };
  const server = net.createServer((socket) => {
    state.connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return state.connections;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
let origin: { url: string; server: http.Server; handler: Handler; hits: string[] };

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-fetch-'));
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    origin.handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, server, handler: (_q, r) => r.end('x'), hits };
});
after(async () => {
  origin.server.closeAllConnections();
  await new Promise<void>((resolve) => origin.server.close(() => resolve()));
  await fs.rm(dir, { recursive: true, force: true });
});

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}

async function refusal(p: Promise<unknown>): Promise<MediaflowError> {
  const err = await p.then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof MediaflowError, `got ${String(err)}`);
  return err;
}

const strict: DownloadOptions = { allowPrivate: false, maxBytes: 1_000_000, timeoutMs: 10_000 };
/** The rules on, with the origin server's address counted as public (it stands for "the internet"). */
const viaOrigin: DownloadOptions = { ...strict, exempt: new Set(['127.0.0.1']) };

describe('address checks', () => {
  test('private, loopback, link-local, multicast, reserved and unspecified addresses are recognised', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fc00::1', 'fd12::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '64:ff9b::a00:1', '2001:db8::1']) {
      assert.equal(isPrivateAddress(a), true, a);
    }
    for (const a of ['93.184.216.34', '8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '::ffff:808:808']) assert.equal(isPrivateAddress(a), false, a);
  });

  test('names are resolved and every answer checked; a mixed answer is refused', async () => {
    const zone: Record<string, ResolvedAddress[]> = {
      'cdn.example': [{ address: '93.184.216.34', family: 4 }],
      'evil.example': [{ address: '10.0.0.1', family: 4 }],
      'mixed.example': [{ address: '93.184.216.34', family: 4 }, { address: '127.0.0.1', family: 4 }],
      'metadata.example': [{ address: '169.254.169.254', family: 4 }],
      'v6.example': [{ address: '::1', family: 6 }],
    };
    const resolve = async (host: string) => zone[host] ?? [];
    assert.deepEqual(await checkedAddress(new URL('https://cdn.example/a.mp4'), { allowPrivate: false, resolve }), { address: '93.184.216.34', family: 4 });
    for (const host of ['evil.example', 'mixed.example', 'metadata.example', 'v6.example']) {
      const err = await refusal(checkedAddress(new URL(`https://${host}/a.mp4`), { allowPrivate: false, resolve }));
      assert.equal(err.code, 'UrlNotAllowed', host);
      assert.match(err.message, new RegExp(`${host.replace('.', '\\.')} resolves to a non-public address`));
    }
    assert.equal((await refusal(checkedAddress(new URL('https://nowhere.example/'), { allowPrivate: false, resolve }))).code, 'InputFetchFailed');
    assert.deepEqual(await checkedAddress(new URL('http://evil.example/'), { allowPrivate: true, resolve }), { address: '10.0.0.1', family: 4 });
  });
});

describe('downloadUrl', () => {
  test('SSRF targets are refused before any connection: 127.0.0.1, 10.0.0.1, 169.254.169.254, [::1], localhost, 0.0.0.0, mapped IPv6', async () => {
    const v4 = await trap('127.0.0.1');
    const v6 = await trap('::1').catch(() => null);
    try {
      const targets = [
        `http://127.0.0.1:${v4.port}/a.mp4`,
        'http://10.0.0.1/a.mp4',
        'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
        `http://[::1]:${v6?.port ?? v4.port}/a.mp4`,
        `http://localhost:${v4.port}/a.mp4`,
        `http://0.0.0.0:${v4.port}/a.mp4`,
        `http://[::ffff:127.0.0.1]:${v4.port}/a.mp4`,
        `http://2130706433:${v4.port}/a.mp4`, // 127.0.0.1 written as one number
      ];
      for (const url of targets) {
        const file = path.join(dir, 'ssrf.bin');
        const err = await refusal(downloadUrl(url, file, strict));
        assert.equal(err.code, 'UrlNotAllowed', url);
        assert.equal(await exists(file), false);
      }
      for (const url of ['file:///etc/passwd', 'ftp://example.com/a.mp4', 'http://user:pw@example.com/a.mp4']) {
        assert.equal((await refusal(downloadUrl(url, path.join(dir, 'x'), strict))).code, 'UrlNotAllowed', url);
      }
      assert.equal(v4.connections, 0);
      assert.equal(v6?.connections ?? 0, 0);
    } finally {
      await v4.close();
      await v6?.close();
    }
  });

  test('a redirect from an allowed server to a private address is refused at that hop, and the target never sees a connection', async () => {
    const inside = await trap('127.0.0.2');
    try {
      const resolve = async (host: string): Promise<ResolvedAddress[]> =>
        host === 'internal.example' ? [{ address: '127.0.0.2', family: 4 }] : host === 'metadata.example' ? [{ address: '169.254.169.254', family: 4 }] : [];
      for (const location of [
        `http://127.0.0.2:${inside.port}/secret`,
        `http://internal.example:${inside.port}/secret`,
        'http://metadata.example/latest/meta-data/',
        'http://[::1]/',
        'file:///etc/passwd',
      ]) {
        origin.handler = (_req, res) => res.writeHead(302, { location }).end();
        const file = path.join(dir, 'redirected.bin');
        const err = await refusal(downloadUrl(`${origin.url}/start`, file, { ...viaOrigin, resolve }));
        assert.equal(err.code, 'UrlNotAllowed', location);
        assert.equal(await exists(file), false);
      }
      assert.equal(inside.connections, 0);
    } finally {
      await inside.close();
    }
  });

  test('allowed redirects are followed (relative too), at most five', async () => {
    origin.handler = (req, res) => {
      const n = Number(/\/hop\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
      if (req.url === '/final') res.writeHead(200, { etag: '"v1"', 'content-length': '5' }).end('media');
      else if (req.url?.startsWith('/loop')) res.writeHead(301, { location: '/loop' }).end();
      else res.writeHead(n < 3 ? 307 : 302, { location: n < 3 ? `/hop/${n + 1}` : '/final' }).end();
    };
    const file = path.join(dir, 'followed.bin');
    const got = await downloadUrl(`${origin.url}/hop/0`, file, viaOrigin);
    assert.deepEqual(got, { status: 'downloaded', sizeBytes: 5, etag: '"v1"', lastModified: null, finalUrl: `${origin.url}/final` });
    assert.equal(await fs.readFile(file, 'utf8'), 'media');
    const loop = await refusal(downloadUrl(`${origin.url}/loop`, path.join(dir, 'loop.bin'), viaOrigin));
    assert.equal(loop.code, 'InputFetchRefused');
    assert.match(loop.message, /redirects/);
  });

  test('the address checked is the address connected to: a second DNS answer is never asked for', async () => {
    let lookups = 0;
    // A rebinding resolver: public (here: the exempt origin) first, private afterwards.
    const resolve = async (): Promise<ResolvedAddress[]> => [{ address: lookups++ === 0 ? '127.0.0.1' : '127.0.0.2', family: 4 }];
    origin.handler = (_req, res) => res.end('pinned');
    const port = new URL(origin.url).port;
    const file = path.join(dir, 'pinned.bin');
    await downloadUrl(`http://rebind.example:${port}/a`, file, { ...viaOrigin, resolve });
    assert.equal(await fs.readFile(file, 'utf8'), 'pinned');
    assert.equal(lookups, 1);
  });

  test('over-size downloads are refused with nothing kept: by Content-Length, and counted when there is none', async () => {
    origin.handler = (_req, res) => res.writeHead(200, { 'content-length': '5000' }).end(Buffer.alloc(5000));
    const declared = path.join(dir, 'declared.bin');
    const e1 = await refusal(downloadUrl(`${origin.url}/big`, declared, { ...viaOrigin, maxBytes: 1000 }));
    assert.equal(e1.code, 'InputTooLarge');
    assert.equal(await exists(declared), false);

    origin.handler = (_req, res) => {
      res.writeHead(200); // chunked: no length given
      for (let i = 0; i < 10; i++) res.write(Buffer.alloc(1000));
      res.end();
    };
    const counted = path.join(dir, 'counted.bin');
    const e2 = await refusal(downloadUrl(`${origin.url}/big`, counted, { ...viaOrigin, maxBytes: 4096 }));
    assert.equal(e2.code, 'InputTooLarge');
    assert.match(e2.message, /MAX_INPUT_BYTES/);
    assert.equal(await exists(counted), false);
  });

  test('time limit, truncated bodies and HTTP errors get their codes; nothing is kept', async () => {
    origin.handler = (_req, res) => {
      res.writeHead(200, { 'content-length': '100000' });
      res.write(Buffer.alloc(10)); // …and then nothing
    };
    const slow = path.join(dir, 'slow.bin');
    const started = Date.now();
    const e1 = await refusal(downloadUrl(`${origin.url}/slow`, slow, { ...viaOrigin, timeoutMs: 500 }));
    assert.equal(e1.code, 'InputFetchFailed');
    assert.match(e1.message, /INPUT_FETCH_TIMEOUT_SEC/);
    assert.ok(Date.now() - started < 5000);
    assert.equal(await exists(slow), false);
    origin.server.closeAllConnections();

    origin.handler = (req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.end(Buffer.alloc(500));
      req.socket.destroy();
    };
    assert.equal((await refusal(downloadUrl(`${origin.url}/cut`, path.join(dir, 'cut.bin'), viaOrigin))).code, 'InputFetchFailed');

    for (const [status, code] of [[404, 'InputFetchRefused'], [403, 'InputFetchRefused'], [503, 'InputFetchFailed'], [429, 'InputFetchFailed']] as const) {
      origin.handler = (_req, res) => res.writeHead(status).end('no');
      const err = await refusal(downloadUrl(`${origin.url}/s`, path.join(dir, 's.bin'), viaOrigin));
      assert.equal(err.code, code, String(status));
    }
  });

  test('a conditional request answered 304 keeps what we have', async () => {
    origin.handler = (req, res) => {
      if (req.headers['if-none-match'] === '"v7"') res.writeHead(304).end();
      else res.writeHead(200, { etag: '"v7"' }).end('body');
    };
    assert.deepEqual(await downloadUrl(`${origin.url}/c`, path.join(dir, 'c.bin'), { ...viaOrigin, ifNoneMatch: '"v7"' }), { status: 'not-modified' });
    assert.equal((await downloadUrl(`${origin.url}/c`, path.join(dir, 'c.bin'), { ...viaOrigin, ifNoneMatch: '"v6"' })).status, 'downloaded');
  });
});

describe('the same rules for submission checks and callbacks', () => {
  test('checkUrlTarget refuses private targets and lets an unresolvable name through to the worker', async () => {
    for (const url of ['http://127.0.0.1/a.mp4', 'http://169.254.169.254/', 'http://[::1]/', 'http://localhost/a.mp4', 'http://10.0.0.1/']) {
      assert.equal((await refusal(checkUrlTarget(url, { allowPrivate: false }))).code, 'UrlNotAllowed', url);
    }
    await checkUrlTarget('http://localhost/a.mp4', { allowPrivate: true });
    await checkUrlTarget('https://cdn.example/a.mp4', { allowPrivate: false, resolve: async () => Promise.reject(new Error('ENOTFOUND')) });
    await checkUrlTarget('https://cdn.example/a.mp4', { allowPrivate: false, resolve: () => new Promise(() => {}) }, 50);
  });

  test('postJson (callbacks) refuses private targets without connecting and posts to allowed ones', async () => {
    const v4 = await trap('127.0.0.1');
    try {
      for (const url of [`http://127.0.0.1:${v4.port}/hook`, `http://localhost:${v4.port}/hook`]) {
        assert.equal((await refusal(postJson(url, {}, {}, { allowPrivate: false, timeoutMs: 2000 }))).code, 'UrlNotAllowed');
      }
      assert.equal(v4.connections, 0);
    } finally {
      await v4.close();
    }
    let body = '';
    origin.handler = (req, res) => {
      req.on('data', (d) => (body += d));
      req.on('end', () => res.writeHead(204).end());
    };
    assert.equal(await postJson(`${origin.url}/hook`, { ok: true }, {}, { allowPrivate: true, timeoutMs: 2000 }), 204);
    assert.equal(body, '{"ok":true}');
  });
});

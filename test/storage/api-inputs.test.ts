/**
 * Key and URL attacks over real HTTP against the API (no Temporal needed: every one of these is
 * refused before a workflow would start): 400 naming the failing field, nothing written anywhere.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../model/config';
import { startApi, type RunningApi } from '../../api/server';
import { freePort } from '../helpers/stack';

let dataDir: string;
let api: RunningApi;
const escapeName = `mediaflow-escape-${process.pid}`;

before(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-api-inputs-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    PORT: '0',
    // Nothing listens there: a request that got as far as Temporal would answer 503, not 400.
    TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    TEMPORAL_RPC_TIMEOUT_SEC: '1',
    ALLOW_PRIVATE_URLS: 'false',
  });
  api = await startApi(config);
});
after(async () => {
  await api?.close();
  await fs.rm(dataDir, { recursive: true, force: true });
  await fs.rm(path.join(os.tmpdir(), escapeName), { force: true });
});

/** Sends the path exactly as written (fetch would normalise `..` away). */
function raw(method: string, rawPath: string, body?: string): Promise<{ status: number; json: { code?: string; errors?: { path: string; message: string }[] } | null; text: string }> {
  const url = new URL(api.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: rawPath, method, headers: body ? { 'content-length': String(Buffer.byteLength(body)) } : {} }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let json = null;
        try {
          json = JSON.parse(text);
        } catch {
          // HEAD answers have no body
        }
        resolve({ status: res.statusCode ?? 0, json, text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Every file under the data directory except the embedded database's own. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(e.parentPath, e.name);
    if (e.isFile() && !full.startsWith(path.join(dataDir, 'db'))) out.push(path.relative(dataDir, full));
  }
  return out.sort();
}

function postJob(body: unknown): Promise<Response> {
  return fetch(`${api.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

describe('object keys over HTTP', () => {
  const attacks = [
    '/v1/objects/../../etc/passwd',
    `/v1/objects/../../../../../../${'..'}/tmp/${escapeName}`,
    '/v1/objects/raw/../../etc/passwd',
    '/v1/objects/raw/./a.mp4',
    '/v1/objects/..%2F..%2Fetc%2Fpasswd',
    '/v1/objects/..%2f..%2fetc%2fpasswd',
    '/v1/objects/%2e%2e/%2e%2e/etc/passwd',
    '/v1/objects/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
    '/v1/objects/.%2e/.%2e/etc/passwd',
    '/v1/objects/%252e%252e%252fetc%252fpasswd',
    '/v1/objects//etc/passwd',
    '/v1/objects/%2Fetc%2Fpasswd',
    '/v1/objects/a%00b',
    '/v1/objects/raw%00.mp4',
    '/v1/objects/..%5c..%5cwindows%5cwin.ini',
    '/v1/objects/C:%2FWindows%2Fwin.ini',
    '/v1/objects/raw//a.mp4',
    '/v1/objects/%E0%A4%A',
    '/v1/objects/tenants/acme/raw/a.mp4',
  ];

  test('PUT with a traversal, absolute, NUL or encoded key: 400 naming "key", and nothing written', async () => {
    const before = await filesUnder(dataDir);
    for (const p of attacks) {
      const res = await raw('PUT', p, 'root:x:0:0:pwned');
      assert.equal(res.status, 400, `${p} answered ${res.status} ${res.text}`);
      assert.equal(res.json?.code, 'InvalidInput', p);
      assert.equal(res.json?.errors?.[0]?.path, 'key', p);
    }
    assert.deepEqual(await filesUnder(dataDir), before, 'no file appeared in the data directory');
    await assert.rejects(fs.access(path.join(os.tmpdir(), escapeName)), 'nothing escaped the data directory');
  });

  test('GET and HEAD with the same keys: 400 (HEAD without a body), never a file from outside', async () => {
    for (const p of attacks) {
      const get = await raw('GET', p);
      assert.equal(get.status, 400, `${p} answered ${get.status}`);
      assert.equal(get.json?.errors?.[0]?.path, 'key', p);
      assert.doesNotMatch(get.text, /root:/);
      assert.equal((await raw('HEAD', p)).status, 400, p);
    }
  });

  test('a clean key still works, and percent-encoding of ordinary characters is fine', async () => {
    const put = await raw('PUT', '/v1/objects/raw/my%20clip%20(1).mp4', 'data');
    assert.equal(put.status, 201, put.text);
    assert.equal(put.json && (put.json as { key?: string }).key, 'raw/my clip (1).mp4');
    assert.equal((await raw('GET', '/v1/objects/raw/my%20clip%20(1).mp4')).text, 'data');
  });
});

describe('job inputs over HTTP', () => {
  const outputs = [{ name: 'a', template: 'mp4-h264-360p' }];

  test('bad input keys and prefixes: 400 naming the field', async () => {
    for (const key of ['../../etc/passwd', '..%2f..%2fetc/passwd', '%2e%2e/%2e%2e/etc/passwd', '/etc/passwd', 'a\u0000b', 'raw\\..\\x']) {
      const res = await postJob({ input: { key }, outputs });
      assert.equal(res.status, 400, key);
      const p = (await res.json()) as { code: string; errors: { path: string }[] };
      assert.equal(p.code, 'InvalidInput', key);
      assert.equal(p.errors[0]?.path, 'input.key', key);
    }
    // A key in the tenants' folder is another tenant's: it reads as missing (tenant-boundaries.test.ts has the rest).
    const foreign = await postJob({ input: { key: 'tenants/acme/a.mp4' }, outputs });
    assert.equal(foreign.status, 400);
    const problem = (await foreign.json()) as { code: string; errors: { path: string }[] };
    assert.deepEqual([problem.code, problem.errors.map((e) => e.path)], ['InputNotFound', ['input.key']]);
    const prefix = await postJob({ input: { key: 'raw/a.mp4' }, outputs, outputPrefix: '../out/' });
    assert.equal(prefix.status, 400);
    assert.equal(((await prefix.json()) as { errors: { path: string }[] }).errors[0]?.path, 'outputPrefix');
  });

  test('input.bucket is refused with the local driver; key and url together are refused', async () => {
    const bucket = await postJob({ input: { key: 'raw/a.mp4', bucket: 'archive' }, outputs });
    assert.equal(bucket.status, 400);
    assert.deepEqual(((await bucket.json()) as { errors: { path: string }[] }).errors.map((e) => e.path), ['input.bucket']);
    const both = await postJob({ input: { key: 'raw/a.mp4', url: 'https://example.com/a.mp4' }, outputs });
    assert.equal(both.status, 400);
    assert.deepEqual(((await both.json()) as { errors: { path: string }[] }).errors.map((e) => e.path), ['input']);
  });

  test('URL inputs aimed at loopback, private, link-local or metadata addresses: 400 UrlNotAllowed on input.url', async () => {
    for (const url of [
      'http://127.0.0.1/a.mp4',
      'http://127.0.0.1:2379/v2/keys',
      'http://10.0.0.1/a.mp4',
      'http://192.168.0.1/a.mp4',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/a.mp4',
      'http://[::ffff:127.0.0.1]/a.mp4',
      'http://localhost/a.mp4',
      'http://0.0.0.0/a.mp4',
      'http://2130706433/a.mp4',
    ]) {
      const res = await postJob({ input: { url }, outputs });
      assert.equal(res.status, 400, url);
      const p = (await res.json()) as { code: string; errors: { path: string }[] };
      assert.equal(p.code, 'UrlNotAllowed', url);
      assert.equal(p.errors[0]?.path, 'input.url', url);
    }
    for (const url of ['file:///etc/passwd', 'ftp://example.com/a.mp4', 'gopher://127.0.0.1/', 'not a url']) {
      const res = await postJob({ input: { url }, outputs });
      assert.equal(res.status, 400, url);
      assert.equal(((await res.json()) as { errors: { path: string }[] }).errors[0]?.path, 'input.url', url);
    }
  });
});

/**
 * Tenant boundaries on the real stack (API over HTTP, worker with ffmpeg, Temporal dev server):
 * every key a job names is scoped to its tenant at submission, a key outside the tenant reads as
 * "not found" exactly like a missing one, nothing a job writes lands in `tenants/`, a key where an
 * object and a folder collide is a 409 (API) or a non-retryable KeyConflict (job) without server
 * paths, and notify URLs are checked at submission.
 */
import { callApi, type ApiAnswer } from '../helpers/http';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { startStack, type Stack } from '../helpers/stack';
import { makeClip, testBinaries } from '../helpers/media';
import { isFinal, pollJob } from '../helpers/jobs';
import { createApiKeyStore } from '../../db/api-keys';
import { startOssServer, type OssServer } from '../helpers/oss-server';

const run = promisify(execFile);

let stack: Stack;
let base: string;
const secrets = { root: '', acme: '', beta: '', betaAdmin: '' };
type Who = keyof typeof secrets;
let clip: Uint8Array;
let png: Uint8Array;

async function call(who: Who, method: string, url: string, body?: unknown) {
  return callApi(base, method, url, body, secrets[who]);
}

const output = { name: 'small', template: 'mp4-h264-360p' };
const job = (extra: Record<string, unknown>) => ({ input: { key: 'raw/a.mp4' }, outputs: [output], snapshots: [], ...extra });
const withWatermark = (key: string) => job({ outputs: [{ ...output, watermarks: [{ image: { key }, position: 'TR', widthRel: 0.2 }] }] });

before(async () => {
  // ALLOW_PRIVATE_URLS=false (the default) as in production; no rate limit in the way of many small requests.
  stack = await startStack({ api: true, env: { ALLOW_PRIVATE_URLS: 'false', RATE_LIMIT_PER_SEC: '1000', RATE_LIMIT_BURST: '1000' } });
  base = stack.api!.url;
  const first = await fetch(`${base}/v1/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'admin', name: 'root' }) });
  assert.equal(first.status, 201);
  secrets.root = ((await first.json()) as { secret: string }).secret;
  const keys = createApiKeyStore(stack.db);
  secrets.acme = (await keys.create('acme', 'submitter', 'acme')).secret;
  secrets.beta = (await keys.create('beta', 'submitter', 'beta')).secret;
  secrets.betaAdmin = (await keys.create('beta', 'admin', 'beta admin')).secret;

  const file = path.join(stack.dataDir, 'a.mp4');
  await makeClip(file, { width: 320, height: 180, durationSec: 1 });
  clip = new Uint8Array(await fs.readFile(file));
  const logo = path.join(stack.dataDir, 'logo.png');
  const { ffmpeg } = await testBinaries();
  await run(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=red:s=64x32', '-frames:v', '1', logo]);
  png = new Uint8Array(await fs.readFile(logo));
  for (const who of ['root', 'acme', 'beta'] as const) assert.equal((await call(who, 'PUT', '/v1/objects/raw/a.mp4', clip)).status, 201);
  // acme's private image: stored at tenants/acme/private/x.png.
  assert.equal((await call('acme', 'PUT', '/v1/objects/private/x.png', png)).status, 201);
  assert.ok(await stack.storage.head('tenants/acme/private/x.png'));
});
after(async () => {
  await stack?.stop();
});

/** A problem's answer with the key it names blanked out: what must be equal for a foreign and a missing key. */
function shape(res: ApiAnswer, key: string) {
  return { status: res.status, type: res.type, body: res.text.split(JSON.stringify(key).slice(1, -1)).join('<key>') };
}

describe('keys a job reads are the tenant\'s own (issue 12 item 1)', () => {
  test('a watermark image in another tenant\'s space answers exactly like a missing image, by field', async () => {
    const foreign = await call('beta', 'POST', '/v1/jobs', withWatermark('tenants/acme/private/x.png'));
    const missingThere = await call('beta', 'POST', '/v1/jobs', withWatermark('tenants/acme/private/none.png'));
    const missingHere = await call('beta', 'POST', '/v1/jobs', withWatermark('private/none.png'));
    assert.equal(foreign.status, 400, foreign.text);
    assert.equal(foreign.json.code, 'InputNotFound');
    assert.deepEqual(foreign.json.errors, [{ path: 'outputs.0.watermarks.0.image.key', message: 'no such object' }]);
    assert.match(foreign.type, /application\/problem\+json/);
    assert.deepEqual(shape(foreign, 'tenants/acme/private/x.png'), shape(missingThere, 'tenants/acme/private/none.png'));
    assert.deepEqual(shape(foreign, 'tenants/acme/private/x.png'), shape(missingHere, 'private/none.png'));
    // The default tenant cannot name tenants/… either.
    const fromDefault = await call('root', 'POST', '/v1/jobs', withWatermark('tenants/acme/private/x.png'));
    assert.deepEqual(shape(fromDefault, 'tenants/acme/private/x.png'), shape(missingHere, 'private/none.png'));
  });

  test('the same through a watermark template of the tenant', async () => {
    const tpl = await call('betaAdmin', 'POST', '/v1/templates', { id: 'steal', kind: 'watermark', image: { key: 'tenants/acme/private/x.png' }, position: 'TL' });
    assert.equal(tpl.status, 201, tpl.text);
    const res = await call('beta', 'POST', '/v1/jobs', job({ outputs: [{ ...output, watermarks: [{ template: 'steal' }] }] }));
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json.code, 'InputNotFound');
    assert.deepEqual(res.json.errors, [{ path: 'outputs.0.watermarks.0.image.key', message: 'no such object' }]);
  });

  test('an input key in another tenant\'s space answers exactly like a missing input', async () => {
    const foreign = await call('beta', 'POST', '/v1/jobs', job({ input: { key: 'tenants/acme/raw/a.mp4' } }));
    const missing = await call('beta', 'POST', '/v1/jobs', job({ input: { key: 'tenants/acme/raw/none.mp4' } }));
    const missingHere = await call('beta', 'POST', '/v1/jobs', job({ input: { key: 'raw/none.mp4' } }));
    assert.equal(foreign.status, 400);
    assert.equal(foreign.json.code, 'InputNotFound');
    assert.deepEqual(foreign.json.errors, [{ path: 'input.key', message: 'no such object' }]);
    assert.deepEqual(shape(foreign, 'tenants/acme/raw/a.mp4'), shape(missing, 'tenants/acme/raw/none.mp4'));
    assert.deepEqual(shape(foreign, 'tenants/acme/raw/a.mp4'), shape(missingHere, 'raw/none.mp4'));
  });

  test('/etc/passwd-style, "..", absolute and NUL keys: 400 at submission naming the field', async () => {
    for (const key of ['/etc/passwd', '../../etc/passwd', 'a/../../b.png', 'logo\u0000.png', '..%2f..%2fetc/passwd', 'C:/x.png']) {
      const res = await call('beta', 'POST', '/v1/jobs', withWatermark(key));
      assert.equal(res.status, 400, `${JSON.stringify(key)}: ${res.text}`);
      assert.equal(res.json.code, 'InvalidInput', key);
      assert.deepEqual(res.json.errors.map((e: { path: string }) => e.path), ['outputs.0.watermarks.0.image.key'], key);
      const input = await call('beta', 'POST', '/v1/jobs', job({ input: { key } }));
      assert.equal(input.status, 400, key);
      assert.deepEqual(input.json.errors.map((e: { path: string }) => e.path), ['input.key'], key);
    }
  });

  test('a tenant\'s own watermark image is read from its own space and the job succeeds', { timeout: 180_000 }, async () => {
    assert.equal((await call('beta', 'PUT', '/v1/objects/brand/logo.png', png)).status, 201);
    const res = await call('beta', 'POST', '/v1/jobs', withWatermark('brand/logo.png'));
    assert.equal(res.status, 202, res.text);
    const done = await pollJob(base, res.json.id, isFinal, { headers: { authorization: `Bearer ${secrets.beta}` } });
    assert.equal(done.status, 'succeeded', JSON.stringify(done.tasks));
    assert.equal(done.tasks.find((t) => t.kind === 'watermark')?.status, 'succeeded');
  });
});

describe('nothing a job writes lands in tenants/ (issue 12 item 2)', () => {
  test('outputPrefix into tenants/…: 400 naming outputPrefix, for the default tenant and for others; nothing written', async () => {
    for (const [who, prefix] of [['root', 'tenants/acme/'], ['root', 'tenants/'], ['beta', 'tenants/acme/'], ['acme', 'tenants/x/']] as const) {
      const res = await call(who, 'POST', '/v1/jobs', job({ outputPrefix: prefix }));
      assert.equal(res.status, 400, `${who} ${prefix}: ${res.text}`);
      assert.equal(res.json.code, 'InvalidInput');
      assert.deepEqual(res.json.errors.map((e: { path: string }) => e.path), ['outputPrefix']);
    }
    for (const where of ['tenants/acme/', 'tenants/x/', 'tenants/tenants/', 'tenants/job_']) {
      const keys = (await stack.storage.list(where)).objects.map((o) => o.key);
      assert.deepEqual(keys.filter((k) => k.includes('job_')), [], `no job output under ${where}`);
    }
  });
});

describe('keys where an object and a folder collide (issue 12 item 6)', () => {
  test('PUT a/b/c over object a/b, and a/b over folder a/b/: 409 problem+json, no server path', async () => {
    for (const who of ['root', 'acme'] as const) {
      assert.equal((await call(who, 'PUT', '/v1/objects/clash/file', png)).status, 201);
      const under = await call(who, 'PUT', '/v1/objects/clash/file/inner.png', png);
      assert.equal(under.status, 409, under.text);
      assert.match(under.type, /application\/problem\+json/);
      assert.equal(under.json.code, 'KeyConflict');
      assert.equal(under.json.status, 409);
      assert.doesNotMatch(under.text, new RegExp(stack.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      assert.equal((await call(who, 'PUT', '/v1/objects/clash/dir/inner.png', png)).status, 201);
      const over = await call(who, 'PUT', '/v1/objects/clash/dir', png);
      assert.equal(over.status, 409, over.text);
      assert.equal(over.json.code, 'KeyConflict');
      assert.ok(!over.text.includes(stack.dataDir));
      // Both objects are intact.
      assert.equal((await call(who, 'GET', '/v1/objects/clash/file')).status, 200);
      assert.equal((await call(who, 'GET', '/v1/objects/clash/dir/inner.png')).status, 200);
    }
  });

  test('an outputPrefix through an object: the task fails KeyConflict once, not retried, no server path in the job', { timeout: 180_000 }, async () => {
    assert.equal((await call('acme', 'PUT', '/v1/objects/taken', png)).status, 201);
    const res = await call('acme', 'POST', '/v1/jobs', job({ outputPrefix: 'taken/' }));
    assert.equal(res.status, 202, res.text);
    const done = await pollJob(base, res.json.id, isFinal, { headers: { authorization: `Bearer ${secrets.acme}` } });
    assert.equal(done.status, 'failed');
    const transcode = done.tasks.find((t) => t.kind === 'transcode');
    assert.equal(transcode?.error?.code, 'KeyConflict', JSON.stringify(done.tasks));
    assert.equal(transcode?.error?.retryable, false);
    assert.equal(transcode?.attempts, 1);
    assert.equal(done.error?.code, 'KeyConflict');
    const text = JSON.stringify(done);
    assert.ok(!text.includes(stack.dataDir), text);
    assert.ok(!text.includes(path.join(stack.dataDir, 'objects')), text);
  });
});

describe('notify URLs are checked at submission (issue 12 item 17)', () => {
  const refused = ['http://127.0.0.1:9/hook', 'http://[::1]/hook', 'http://169.254.169.254/latest/meta-data/', 'http://10.1.2.3/hook', 'http://192.168.0.10/hook', 'http://[::ffff:127.0.0.1]/hook', 'http://0.0.0.0/hook', 'http://user:pw@example.com/hook'];

  test('a job\'s notify.url: loopback, private, link-local or with credentials → 400 UrlNotAllowed on notify.url', async () => {
    for (const url of refused) {
      const res = await call('acme', 'POST', '/v1/jobs', job({ notify: { url } }));
      assert.equal(res.status, 400, `${url}: ${res.text}`);
      assert.equal(res.json.code, 'UrlNotAllowed', url);
      assert.deepEqual(res.json.errors.map((e: { path: string }) => e.path), ['notify.url'], url);
    }
    for (const url of ['ftp://example.com/hook', 'not a url', 'javascript:alert(1)']) {
      const res = await call('acme', 'POST', '/v1/jobs', job({ notify: { url } }));
      assert.equal(res.status, 400, url);
      assert.deepEqual(res.json.errors.map((e: { path: string }) => e.path), ['notify.url'], url);
    }
  });

  test('a pipeline\'s notify.url, on create and on patch; a public URL is kept', async () => {
    for (const url of refused) {
      const created = await call('betaAdmin', 'POST', '/v1/pipelines', { id: 'hooked', notify: { url } });
      assert.equal(created.status, 400, `${url}: ${created.text}`);
      assert.equal(created.json.code, 'UrlNotAllowed');
      assert.deepEqual(created.json.errors.map((e: { path: string }) => e.path), ['notify.url']);
    }
    const ok = await call('betaAdmin', 'POST', '/v1/pipelines', { id: 'hooked', notify: { url: 'https://example.com/hook' } });
    assert.equal(ok.status, 201, ok.text);
    for (const url of refused) {
      const patched = await call('betaAdmin', 'PATCH', '/v1/pipelines/hooked', { notify: { url } });
      assert.equal(patched.status, 400, `${url}: ${patched.text}`);
      assert.deepEqual(patched.json.errors.map((e: { path: string }) => e.path), ['notify.url']);
    }
    assert.deepEqual((await call('betaAdmin', 'GET', '/v1/pipelines/hooked')).json.notify, { url: 'https://example.com/hook' });
  });
});

describe('input.bucket with STORAGE_DRIVER=oss (issue 12 item 1: the other bucket is not a way around the tenant prefix)', () => {
  let oss: OssServer;
  let ossStack: Stack;
  const ossSecrets = { root: '', acme: '' };
  function post(who: keyof typeof ossSecrets, input: unknown) {
    return callApi(ossStack.api!.url, 'POST', '/v1/jobs', job({ input }), ossSecrets[who]);
  }

  before(async () => {
    oss = await startOssServer({ buckets: ['media', 'archive'] });
    // Submission only: no worker needed to see what the API accepts.
    ossStack = await startStack({ api: true, worker: 'none', env: oss.env('media', { OSS_PREFIX: 'mf/', OSS_INPUT_BUCKETS: 'archive' }) });
    const first = await fetch(`${ossStack.api!.url}/v1/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'admin', name: 'root' }) });
    ossSecrets.root = ((await first.json()) as { secret: string }).secret;
    ossSecrets.acme = (await createApiKeyStore(ossStack.db).create('acme', 'submitter', 'acme')).secret;
    const put = await fetch(`${ossStack.api!.url}/v1/objects/raw/a.mp4`, { method: 'PUT', headers: { authorization: `Bearer ${ossSecrets.acme}` }, body: clip });
    assert.equal(put.status, 201);
    assert.ok(await ossStack.storage.head('tenants/acme/raw/a.mp4'));
  });
  after(async () => {
    await ossStack?.stop();
    await oss?.close();
  });

  test('the default tenant naming acme\'s object by full name in OSS_BUCKET: exactly like a missing object', async () => {
    const foreign = await post('root', { bucket: 'media', key: 'mf/tenants/acme/raw/a.mp4' });
    const missing = await post('root', { bucket: 'media', key: 'mf/tenants/acme/raw/none.mp4' });
    assert.equal(foreign.status, 400, foreign.text);
    assert.equal(foreign.json.code, 'InputNotFound');
    assert.deepEqual(foreign.json.errors, [{ path: 'input.key', message: 'no such object' }]);
    assert.deepEqual(shape(foreign, 'mf/tenants/acme/raw/a.mp4'), shape(missing, 'mf/tenants/acme/raw/none.mp4'));
  });

  test('another tenant may not name a bucket at all: 400 naming input.bucket', async () => {
    for (const bucket of ['media', 'archive']) {
      const res = await post('acme', { bucket, key: 'mf/tenants/acme/raw/a.mp4' });
      assert.equal(res.status, 400, res.text);
      assert.deepEqual(res.json.errors.map((e: { path: string }) => e.path), ['input.bucket']);
    }
  });
});

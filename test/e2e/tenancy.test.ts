/**
 * API keys and tenants over real HTTP: keys are required once one exists, roles limit what a key
 * may do, and a tenant never sees, lists, changes or downloads another tenant's things (404).
 */
import { callApi } from '../helpers/http';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startStack, type Stack } from '../helpers/stack';
import { makeClip } from '../helpers/media';
import { isFinal, pollJob } from '../helpers/jobs';
import { createApiKeyStore } from '../../db/api-keys';
import type { JobState } from '../../model/job-state';

let stack: Stack;
let base: string;
const secrets: Record<'aAdmin' | 'aSubmitter' | 'bAdmin', string> = { aAdmin: '', aSubmitter: '', bAdmin: '' };
let aSubmitterId = '';
let jobId = '';
let job: JobState;

async function call(who: keyof typeof secrets | null, method: string, url: string, body?: unknown) {
  return callApi(base, method, url, body, who ? secrets[who] : null);
}

before(async () => {
  stack = await startStack({ api: true });
  base = stack.api!.url;
  // Open until the first key exists: a development install is usable at once, and says so.
  const open = await call(null, 'GET', '/v1/templates');
  assert.equal(open.status, 200);
  assert.equal(open.headers.get('x-mediaflow-auth'), 'open');
  // The first key made through the API itself (as the open install's admin), the rest as an operator would.
  const first = await call(null, 'POST', '/v1/keys', { role: 'admin', name: 'bootstrap' });
  assert.equal(first.status, 201);
  assert.match(first.json.secret, /^mfk_/);
  const keys = createApiKeyStore(stack.db);
  secrets.aAdmin = (await keys.create('tenant-a', 'admin', 'a admin')).secret;
  const sub = await keys.create('tenant-a', 'submitter', 'a uploader');
  secrets.aSubmitter = sub.secret;
  aSubmitterId = sub.key.id;
  secrets.bAdmin = (await keys.create('tenant-b', 'admin', 'b admin')).secret;

  const clip = path.join(stack.dataDir, 'a.mp4');
  await makeClip(clip, { width: 320, height: 180, durationSec: 1 });
  assert.equal((await call('aSubmitter', 'PUT', '/v1/objects/raw/a.mp4', new Uint8Array(await fs.readFile(clip)))).status, 201);
  assert.equal((await call('aAdmin', 'POST', '/v1/templates', { id: 'tpl-a', kind: 'transcode', container: 'mp4', video: { codec: 'h264', width: 160 }, audio: { codec: 'aac' } })).status, 201);
  assert.equal((await call('aAdmin', 'POST', '/v1/pipelines', { id: 'pipe-a' })).status, 201);
  const submitted = await call('aSubmitter', 'POST', '/v1/jobs', { input: { key: 'raw/a.mp4' }, outputs: [{ name: 'small', template: 'tpl-a' }], outputPrefix: 'out/' });
  assert.equal(submitted.status, 202, JSON.stringify(submitted.json));
  jobId = submitted.json.id;
  job = await pollJob(base, jobId, isFinal, { headers: { authorization: `Bearer ${secrets.aSubmitter}` } });
  assert.equal(job.status, 'succeeded', JSON.stringify(job.tasks));
});
after(async () => {
  await stack?.stop();
});

describe('API keys', () => {
  test('once a key exists every request needs one: none, malformed or unknown → 401 with WWW-Authenticate', async () => {
    for (const res of [
      await call(null, 'GET', '/v1/jobs'),
      await fetch(`${base}/v1/jobs`, { headers: { authorization: 'Basic YTpi' } }).then((r) => ({ status: r.status, json: null, headers: r.headers })),
      await fetch(`${base}/v1/jobs`, { headers: { authorization: 'Bearer mfk_not-a-key' } }).then((r) => ({ status: r.status, json: null, headers: r.headers })),
    ]) {
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
    }
    // Probes, metrics and the API's own description stay reachable without a key.
    for (const url of ['/healthz', '/openapi.json', '/metrics']) assert.equal((await call(null, 'GET', url)).status, 200, url);
  });

  test('the job JSON shows keys relative to the tenant, and they download for that tenant', async () => {
    assert.deepEqual({ ...job.input, media: null }, { key: 'raw/a.mp4', media: null });
    assert.match(job.outputs[0]!.key, new RegExp(`^out/${jobId}/small\\.mp4$`));
    const got = await fetch(`${base}/v1/objects/${job.outputs[0]!.key}`, { headers: { authorization: `Bearer ${secrets.aSubmitter}` } });
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'video/mp4');
    // Stored under the tenant's own prefix.
    await fs.access(path.join(stack.dataDir, 'objects', 'tenants', 'tenant-a', 'out', jobId, 'small.mp4'));
  });

  test('a submitter submits and reads, but may not manage templates, pipelines or keys (403)', async () => {
    assert.equal((await call('aSubmitter', 'GET', '/v1/templates/tpl-a')).status, 200);
    assert.equal((await call('aSubmitter', 'GET', '/v1/pipelines')).status, 200);
    for (const [method, url, body] of [
      ['POST', '/v1/templates', { id: 'x', kind: 'snapshot', time: 1 }],
      ['PUT', '/v1/templates/tpl-a', { kind: 'snapshot', time: 1 }],
      ['DELETE', '/v1/templates/tpl-a'],
      ['POST', '/v1/pipelines', { id: 'x' }],
      ['PATCH', '/v1/pipelines/pipe-a', { state: 'paused' }],
      ['DELETE', '/v1/pipelines/pipe-a'],
      ['GET', '/v1/keys'],
      ['POST', '/v1/keys', { role: 'admin' }],
      ['DELETE', `/v1/keys/${aSubmitterId}`],
    ] as const) {
      const res = await call('aSubmitter', method, url, body);
      assert.equal(res.status, 403, `${method} ${url}`);
      assert.equal(res.json.code, 'Forbidden');
    }
    assert.equal((await call('aAdmin', 'GET', '/v1/templates/tpl-a')).json.video.width, 160, 'nothing changed');
  });
});

describe('tenant isolation: tenant B against each of tenant A\'s things', () => {
  const matrix: [string, string, (() => unknown) | null][] = [
    ['GET', '/v1/jobs/{job}', null],
    ['GET', '/v1/jobs/{job}/events', null],
    ['POST', '/v1/jobs/{job}/cancel', null],
    ['POST', '/v1/jobs/{job}/retry', null],
    ['GET', '/v1/objects/raw/a.mp4', null],
    ['HEAD', '/v1/objects/raw/a.mp4', null],
    ['GET', '/v1/objects/{output}', null],
    ['GET', '/v1/templates/tpl-a', null],
    ['DELETE', '/v1/templates/tpl-a', null],
    ['GET', '/v1/pipelines/pipe-a', null],
    ['PATCH', '/v1/pipelines/pipe-a', () => ({ state: 'paused' })],
    ['DELETE', '/v1/pipelines/pipe-a', null],
    ['DELETE', '/v1/keys/{key}', null],
  ];
  for (const [method, pattern, body] of matrix) {
    test(`${method} ${pattern} → 404`, async () => {
      const url = pattern.replace('{job}', jobId).replace('{output}', job.outputs[0]!.key).replace('{key}', aSubmitterId);
      const res = await call('bAdmin', method, url, body?.());
      assert.equal(res.status, 404, `${method} ${url}: ${JSON.stringify(res.json)}`);
    });
  }

  test('lists show only the caller\'s own: jobs, templates, pipelines, keys', async () => {
    assert.deepEqual((await call('bAdmin', 'GET', '/v1/jobs')).json.jobs, []);
    assert.ok((await call('aAdmin', 'GET', '/v1/jobs')).json.jobs.some((j: { id: string }) => j.id === jobId));
    assert.ok(!(await call('bAdmin', 'GET', '/v1/templates')).json.templates.some((t: { id: string }) => t.id === 'tpl-a'));
    assert.deepEqual((await call('bAdmin', 'GET', '/v1/pipelines')).json.pipelines.map((p: { id: string }) => p.id), ['default']);
    const bKeys = (await call('bAdmin', 'GET', '/v1/keys')).json.keys;
    assert.deepEqual(bKeys.map((k: { tenant: string }) => k.tenant), ['tenant-b']);
    assert.ok(!JSON.stringify(bKeys).includes('mfk_'), 'secrets are never listed');
  });

  test('B cannot use A\'s object or template in a job, and B\'s same-named things are B\'s own', async () => {
    const res = await call('bAdmin', 'POST', '/v1/jobs', { input: { key: 'raw/a.mp4' }, outputs: [{ name: 'x', template: 'tpl-a' }] });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json.errors.map((e: { path: string }) => e.path).sort(), ['outputs.0.template']);
    const own = await call('bAdmin', 'POST', '/v1/pipelines', { id: 'pipe-a', state: 'paused' });
    assert.equal(own.status, 201);
    assert.equal((await call('aAdmin', 'GET', '/v1/pipelines/pipe-a')).json.state, 'active', "A's pipeline is untouched");
  });
});

/**
 * GET /v1/jobs (Temporal visibility: filters, tenant, pages), /openapi.json against the app's own
 * route table, and /docs loading only same-origin assets, all over loopback on the real stack.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createApp } from '../../api/app';
import { openApiDocument } from '../../api/routes/docs';
import { jobListSchema, jobSchema, templateListSchema } from '../../api/openapi/schemas';
import { createPipelineStore } from '../../db/pipelines';
import { createApiKeyStore } from '../../db/api-keys';
import { createTemplateStore } from '../../db/templates';
import { errorCodes } from '../../model/errors';
import { searchAttributes, WORKFLOW_TYPE } from '../../workflows/definitions';
import { startStack, type Stack } from '../helpers/stack';
import { makeClip } from '../helpers/media';
import { eventually } from '../helpers/jobs';

let stack: Stack;
let base: string;

before(async () => {
  // Every pipeline, new ones included: the paused `held` pipeline's jobs run (and wait) on this worker.
  stack = await startStack({ api: true, env: { WORKER_PIPELINES: '*' } });
  base = stack.api!.url;
});
after(async () => {
  await stack?.stop();
});

interface Summary {
  id: string;
  status: string;
  pipeline: string;
  createdAt: string;
  finishedAt: string | null;
}
interface Page {
  jobs: Summary[];
  nextPageToken: string | null;
}
interface Problem {
  status: number;
  code: string;
  errors?: { path: string; message: string }[];
}

async function json<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text) as T;
}

async function list(query: string): Promise<Page> {
  const page = await json<Page>(await fetch(`${base}/v1/jobs${query}`));
  // Strict: nothing in the answer that the documented schema lacks.
  assert.deepEqual(jobListSchema.parse(page), page);
  return page;
}

/** Every page of a listing, following nextPageToken. */
async function listAll(query: string, pageSize: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let token: string | null = null;
  let pages = 0;
  do {
    const sep = query ? '&' : '?';
    const page: Page = await list(`${query}${sep}pageSize=${pageSize}${token ? `&pageToken=${token}` : ''}`);
    assert.ok(page.jobs.length <= pageSize);
    ids.push(...page.jobs.map((j) => j.id));
    token = page.nextPageToken;
    pages += 1;
    assert.ok(pages < 50, 'pagination must end');
  } while (token);
  return { ids, pages };
}

async function submit(body: unknown): Promise<string> {
  const res = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return (await json<{ id: string }>(res, 202)).id;
}

async function problem(res: Response, status: number): Promise<Problem> {
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  return json<Problem>(res, status);
}

describe('GET /v1/jobs', { timeout: 300_000 }, () => {
  const ids = { succeeded: [] as string[], held: [] as string[], failed: '', canceled: '', terminated: '' };

  before(async () => {
    const clip = path.join(stack.dataDir, 'tiny.mp4');
    await makeClip(clip, { width: 160, height: 120, durationSec: 1 });
    const put = await fetch(`${base}/v1/objects/raw/tiny.mp4`, { method: 'PUT', body: await import('node:fs/promises').then((fs) => fs.readFile(clip)) });
    assert.equal(put.status, 201);
    await fetch(`${base}/v1/objects/raw/broken.mp4`, { method: 'PUT', body: 'not media at all\n'.repeat(50) });
    // `held` is paused: its jobs wait in queued.
    await json(await fetch(`${base}/v1/pipelines`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"held","state":"paused"}' }), 201);
    const snapshotOnly = { input: { key: 'raw/tiny.mp4' }, outputs: [], snapshots: [{ name: 's', time: 0, width: 32 }] };
    for (let i = 0; i < 3; i++) ids.succeeded.push(await submit(snapshotOnly));
    for (let i = 0; i < 3; i++) ids.held.push(await submit({ ...snapshotOnly, pipeline: 'held' }));
    ids.failed = await submit({ ...snapshotOnly, input: { key: 'raw/broken.mp4' } });
    ids.canceled = await submit({ ...snapshotOnly, pipeline: 'held' });
    assert.equal((await fetch(`${base}/v1/jobs/${ids.canceled}/cancel`, { method: 'POST' })).status, 202);
    // Terminated from outside (the CLI, an operator): its attribute still says queued, yet the job failed.
    ids.terminated = await submit({ ...snapshotOnly, pipeline: 'held' });
    await stack.client.workflow.getHandle(ids.terminated).terminate('operator');
    // Another tenant's job, started straight on Temporal: never listed for this tenant.
    await stack.client.workflow.start(WORKFLOW_TYPE, {
      workflowId: 'job_othertenant0000000000000000',
      taskQueue: 'nobody-polls-this',
      args: [],
      typedSearchAttributes: [
        { key: searchAttributes.status, value: 'queued' },
        { key: searchAttributes.pipeline, value: 'default' },
        { key: searchAttributes.tenant, value: 'other' },
      ],
    });
  });

  test('filters by status and pipeline, reading status the way GET /v1/jobs/{id} does', async () => {
    await eventually(() => list('?status=succeeded'), (p) => ids.succeeded.every((id) => p.jobs.some((j) => j.id === id)), 'three succeeded jobs', 120_000);
    await eventually(() => list('?status=failed'), (p) => p.jobs.some((j) => j.id === ids.failed), 'the broken input failed', 60_000);

    const all = await eventually(() => list('?pageSize=100'), (p) => p.jobs.length === 9, 'nine jobs of this tenant');
    assert.ok(!all.jobs.some((j) => j.id === 'job_othertenant0000000000000000'), "another tenant's job is not listed");

    const held = await list('?pipeline=held');
    assert.deepEqual(new Set(held.jobs.map((j) => j.id)), new Set([...ids.held, ids.canceled, ids.terminated]));
    assert.ok(held.jobs.every((j) => j.pipeline === 'held'));

    // Cancellation is asynchronous: the job says queued until its workflow has wound down.
    const canceled = await eventually(() => list('?status=canceled'), (p) => p.jobs.length === 1, 'the canceled job');
    assert.equal(canceled.jobs[0]!.id, ids.canceled);

    const queued = await list('?status=queued&pipeline=held');
    assert.deepEqual(new Set(queued.jobs.map((j) => j.id)), new Set(ids.held));

    const failed = await list('?status=failed');
    assert.deepEqual(new Set(failed.jobs.map((j) => j.id)), new Set([ids.failed, ids.terminated]), 'terminated counts as failed');
    assert.ok(failed.jobs.every((j) => j.status === 'failed'));

    assert.deepEqual((await list('?status=processing')).jobs, []);
    assert.deepEqual((await list('?pipeline=nonexistent')).jobs, []);
  });

  test('summaries agree with the job itself', async () => {
    const page = await list('?status=succeeded');
    const summaries = page.jobs.filter((j) => ids.succeeded.includes(j.id));
    // Every submitted success is listed, so the loop below checks three jobs, not none.
    assert.deepEqual(summaries.map((j) => j.id).sort(), [...ids.succeeded].sort());
    assert.equal(summaries.length, 3);
    for (const summary of summaries) {
      const job = await json<{ id: string; status: string; pipeline: string; createdAt: string }>(await fetch(`${base}/v1/jobs/${summary.id}`));
      assert.deepEqual([summary.status, summary.pipeline, summary.createdAt], [job.status, job.pipeline, job.createdAt]);
      // The job has closed (no retry window for a success, no callback): it has a finish time.
      const closed = await eventually(() => list('?status=succeeded'), (p) => p.jobs.find((j) => j.id === summary.id)?.finishedAt != null, 'finishedAt once closed');
      const finishedAt = closed.jobs.find((j) => j.id === summary.id)!.finishedAt!;
      assert.ok(finishedAt >= summary.createdAt);
    }
    const queued = (await list('?status=queued')).jobs;
    assert.ok(queued.length >= 3 && queued.every((j) => j.finishedAt === null));
  });

  test('pages: every job exactly once, tokens bound to their filters', async () => {
    const whole = (await list('?pageSize=100')).jobs.map((j) => j.id);
    for (const size of [1, 2, 4]) {
      const { ids: paged, pages } = await listAll('', size);
      assert.equal(paged.length, new Set(paged).size, `pageSize=${size}: no job twice`);
      assert.deepEqual(new Set(paged), new Set(whole), `pageSize=${size}: every job`);
      assert.ok(pages >= Math.ceil(whole.length / size), `pageSize=${size}: ${pages} pages`);
    }
    const { ids: held } = await listAll('?pipeline=held', 2);
    assert.equal(held.length, 5);

    const first = await list('?pageSize=2');
    assert.ok(first.nextPageToken);
    const reused = await problem(await fetch(`${base}/v1/jobs?pageSize=2&status=queued&pageToken=${first.nextPageToken}`), 400);
    assert.deepEqual(reused.errors?.map((e) => e.path), ['pageToken']);
    const forged = await problem(await fetch(`${base}/v1/jobs?pageToken=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`), 400);
    assert.deepEqual(forged.errors?.map((e) => e.path), ['pageToken']);
    // One of our tokens with Temporal's part altered: refused at once, never handed to Temporal
    // (whose dev server keeps the SDK retrying unreadable tokens until the deadline: a 503).
    const bytes = Buffer.from(first.nextPageToken, 'base64url');
    bytes[bytes.length - 1]! ^= 1;
    const started = Date.now();
    const tampered = await problem(await fetch(`${base}/v1/jobs?pageSize=2&pageToken=${bytes.toString('base64url')}`), 400);
    assert.deepEqual(tampered.errors?.map((e) => e.path), ['pageToken']);
    assert.ok(Date.now() - started < 2000, `answered in ${Date.now() - started} ms`);
    // The untouched token still works (tokens are not single-use).
    assert.ok((await list(`?pageSize=2&pageToken=${first.nextPageToken}`)).jobs.length > 0);
  });

  test('bad parameters: 400 naming each one', async () => {
    const cases: [string, string[]][] = [
      ['?pageSize=0', ['pageSize']],
      ['?pageSize=101', ['pageSize']],
      ['?pageSize=ten', ['pageSize']],
      ['?pageSize=2.5', ['pageSize']],
      ['?status=done', ['status']],
      ['?pipeline=Not%20A%20Pipeline', ['pipeline']],
      ['?pageToken=%2F%2F', ['pageToken']],
      ['?state=failed', ['state']],
      ['?status=failed&status=queued', ['status']],
      ['?pageSize=0&status=done', ['status', 'pageSize']],
    ];
    for (const [query, fields] of cases) {
      const p = await problem(await fetch(`${base}/v1/jobs${query}`), 400);
      assert.equal(p.code, 'InvalidInput', query);
      assert.deepEqual(new Set(p.errors?.map((e) => e.path)), new Set(fields), query);
    }
  });
});

/**
 * `/v1/jobs/:id` and `/v1/jobs/{id}` both become `/v1/jobs/{}`; `:file{.+}` and a trailing `*` are
 * parameters too, and a trailing `*` may stand for several (`/v1/signed/{token}/{key}`).
 */
function canonical(p: string): string {
  return p.replace(/\{[^}]+\}|:[A-Za-z0-9_]+(\{[^}]*\})?|\*/g, '{}').replace(/(\{\}\/)+\{\}$/, '{}');
}

type Doc = { paths: Record<string, Record<string, unknown>> };

/** `METHOD path` of every route the app serves (middleware for all methods aside) and every documented operation. */
function routesAndOperations(app: { routes: readonly { method: string; path: string }[] }, doc: Doc) {
  const routes = new Set(app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${canonical(r.path)}`));
  const operations = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${canonical(p)}`)));
  return { routes, operations, undocumented: [...routes].filter((r) => !operations.has(r)), unserved: [...operations].filter((r) => !routes.has(r)) };
}

function buildApp() {
  return createApp({
    config: stack.config,
    client: stack.client,
    storage: stack.storage,
    templates: createTemplateStore(stack.db),
    pipelines: createPipelineStore(stack.db),
    keys: createApiKeyStore(stack.db),
    log: () => undefined,
  });
}

describe('GET /openapi.json', () => {
  test('documents every route Hono knows, and nothing else', async () => {
    const res = await fetch(`${base}/openapi.json`);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const doc = await json<{ openapi: string; paths: Record<string, Record<string, { operationId: string; responses: Record<string, { content?: Record<string, unknown> }> }>> }>(res);
    assert.equal(doc.openapi, '3.1.0');

    // The same app the server runs, built here to read its route table.
    const { routes, undocumented, unserved } = routesAndOperations(buildApp(), doc);
    assert.deepEqual(undocumented, [], 'routes missing from the document');
    assert.deepEqual(unserved, [], 'documented operations no route serves');
    assert.ok(routes.size >= 30, `${routes.size} routes compared`);
    for (const must of ['GET /v1/jobs', 'GET /openapi.json', 'GET /docs', 'HEAD /v1/objects/{}', 'PATCH /v1/pipelines/{}']) assert.ok(routes.has(must), must);

    const operationIds = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((o) => o.operationId));
    assert.equal(new Set(operationIds).size, operationIds.length, 'operationIds are unique');
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const statuses = Object.keys(op.responses).map(Number);
        // A success, or a redirect (GET / and /console send the browser to /console/).
        assert.ok(statuses.some((s) => s >= 200 && s < 400), `${method} ${p} has a success or redirect answer`);
        for (const s of statuses.filter((s) => s >= 400 && method !== 'head')) {
          assert.ok(op.responses[s]!.content?.['application/problem+json'], `${method} ${p} ${s} is problem+json`);
        }
      }
    }
  });

  test('a route added without its operation is caught: served by the app, missing from the document', async () => {
    const app = buildApp();
    app.get('/v1/undocumented/:id', (c) => c.text('hidden'));
    const { undocumented } = routesAndOperations(app, openApiDocument(app) as Doc);
    assert.deepEqual(undocumented, ['GET /v1/undocumented/{}']);
  });

  test('bodies and answers are the zod schemas, and documented problems are the ones the API gives', async () => {
    const doc = await json<{
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { $ref?: string } }> }; responses: Record<string, unknown>; parameters?: { name: string; in: string }[]; security?: unknown[] }>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }>; securitySchemes?: unknown };
    }>(await fetch(`${base}/openapi.json`));
    const submit = doc.paths['/v1/jobs']!.post!;
    assert.equal(submit.requestBody?.content['application/json']?.schema.$ref, '#/components/schemas/JobSubmit');
    const jobSubmit = doc.components.schemas.JobSubmit!;
    // Nothing is required on its own: exactly one of `input` and `inputs` (a rule the schema checks,
    // answered 400 naming the field), and fields with defaults are optional on input.
    assert.equal(jobSubmit.required, undefined, 'no field required on its own');
    assert.ok(['input', 'inputs', 'pipeline', 'outputs', 'snapshots', 'outputPrefix', 'notify', 'userData'].every((k) => k in (jobSubmit.properties ?? {})));
    assert.deepEqual(Object.keys(submit.responses).sort(), ['200', '202', '400', '401', '408', '409', '413', '415', '429', '503'].sort());
    // Keys: every operation but the service endpoints takes one; admin operations may answer 403.
    assert.deepEqual(doc.components.securitySchemes, { apiKey: { type: 'http', scheme: 'bearer', description: 'an API key (mfk_…) of one tenant, role admin or submitter' } });
    assert.deepEqual(doc.paths['/healthz']!.get!.security, []);
    assert.ok('403' in doc.paths['/v1/templates']!.post!.responses && !('403' in submit.responses));
    assert.deepEqual(
      doc.paths['/v1/jobs']!.get!.parameters?.map((p) => `${p.in}:${p.name}`),
      ['query:status', 'query:pipeline', 'query:pageSize', 'query:pageToken'],
    );
    assert.ok(doc.components.schemas.Job?.required?.includes('tasks'));
    // Every reference resolves to a component (a dangling one makes tools skip that part of the schema).
    const refs = new Set([...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!));
    assert.ok(refs.has('#/components/schemas/Problem') && refs.size >= 10, [...refs].join(', '));
    assert.deepEqual([...refs].filter((r) => !(r.startsWith('#/components/schemas/') && r.slice(21) in doc.components.schemas)), [], 'dangling references');

    // What the API answers fits what the document says (strictly: no undocumented fields).
    const templates = await json<unknown>(await fetch(`${base}/v1/templates`));
    assert.deepEqual(templateListSchema.parse(templates), templates);
    const jobs = await list('?pageSize=1');
    if (jobs.jobs[0]) {
      const job = await json<unknown>(await fetch(`${base}/v1/jobs/${jobs.jobs[0].id}`));
      assert.deepEqual(jobSchema.parse(job), job);
    }
    // A 415 on submit is documented with its code.
    const wrong = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    const p = await problem(wrong, 415);
    assert.equal(errorCodes[p.code as keyof typeof errorCodes].status, 415);
  });
});

describe('GET /docs', () => {
  test('loads, with every asset from this origin and no outside URL', async () => {
    const res = await fetch(`${base}/docs`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    const html = await res.text();
    assert.doesNotMatch(html, /(https?:)?\/\/[a-z0-9]/i, 'no absolute or protocol-relative URL in the page');
    const refs = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.length >= 3, `page references ${refs.join(', ')}`);
    const types: Record<string, RegExp> = { '.css': /^text\/css/, '.js': /^text\/javascript/, '.png': /^image\/png/, '.json': /^application\/json/ };
    let startScript = '';
    for (const ref of refs) {
      const url = new URL(ref, `${base}/docs`);
      assert.equal(url.origin, base, `${ref} stays on this origin`);
      const asset = await fetch(url);
      assert.equal(asset.status, 200, ref);
      assert.match(asset.headers.get('content-type') ?? '', types[path.extname(url.pathname)]!, ref);
      const body = Buffer.from(await asset.arrayBuffer());
      assert.ok(body.length > 0, ref);
      if (ref.endsWith('start.js')) startScript = body.toString();
      if (ref.endsWith('swagger-ui-bundle.js')) assert.ok(body.length > 500_000, 'the real Swagger UI bundle');
      const etag = asset.headers.get('etag');
      if (etag) assert.equal((await fetch(url, { headers: { 'if-none-match': etag } })).status, 304, ref);
    }
    // The start script points Swagger UI at our document, relative to the page, with no validator.
    assert.match(startScript, /new URL\('openapi\.json', document\.baseURI\)/);
    assert.match(startScript, /validatorUrl: null/);
    assert.doesNotMatch(startScript, /https?:\/\//);

    for (const bad of ['nope.js', 'package.json', '..%2Fpackage.json', 'index.html']) {
      const r = await fetch(`${base}/docs/assets/${bad}`);
      assert.equal(r.status, 404, bad);
      await r.body?.cancel();
    }
  });
});

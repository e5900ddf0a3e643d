/** One JSON log line per request: id, tenant, method, route, status, latency — and nothing secret. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../../model/config';
import { createApp } from '../../api/app';
import { createStorage } from '../../storage/create-storage';
import { openDatabase } from '../../db/database';
import { createPipelineStore } from '../../db/pipelines';
import { createTemplateStore } from '../../db/templates';
import { createApiKeyStore } from '../../db/api-keys';

async function withApp(env: Record<string, string>, fn: (app: ReturnType<typeof createApp>, lines: Record<string, unknown>[]) => Promise<void>): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-api-'));
  const config = loadConfig({ DATA_DIR: dir, ...env });
  const db = await openDatabase(config);
  // Template routes never reach Temporal: a lazy connection that is never used.
  const connection = Connection.lazy({ address: '127.0.0.1:1' });
  const lines: Record<string, unknown>[] = [];
  try {
    const app = createApp({
      config,
      client: new Client({ connection }),
      storage: await createStorage(config),
      templates: createTemplateStore(db),
      pipelines: createPipelineStore(db),
      keys: createApiKeyStore(db),
      log: (line) => lines.push(line),
    });
    await fn(app, lines);
  } finally {
    await connection.close().catch(() => undefined);
    await db.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

test('each request is logged once as JSON with its id, route pattern, status and latency; no headers, bodies or query', async () => {
  await withApp({ LOG_LEVEL: 'INFO' }, async (app, lines) => {
    const res = await app.request('/v1/templates/mp4-h264-720p?secret=hunter2', { headers: { cookie: 'session=hunter2', 'x-request-id': 'req-42' } });
    assert.equal(res.status, 200);
    await app.request('/v1/templates', { method: 'POST', body: JSON.stringify({ id: 'x', kind: 'nope', password: 'hunter2' }), headers: { 'content-type': 'application/json' } });
    assert.equal(lines.length, 2);
    const [first, second] = lines;
    assert.deepEqual(
      { ...first, ts: undefined, ms: undefined },
      { ts: undefined, ms: undefined, level: 'info', msg: 'request', requestId: 'req-42', tenant: 'default', method: 'GET', route: '/v1/templates/:id', path: '/v1/templates/mp4-h264-720p', status: 200 },
    );
    assert.ok(typeof first!.ms === 'number' && first!.ms >= 0);
    assert.ok(!Number.isNaN(Date.parse(String(first!.ts))));
    assert.equal(second!.status, 400);
    assert.doesNotMatch(JSON.stringify(lines), /hunter2/, 'no secret from headers, query or body');
  });
});

test('rate limits: a key gets its burst, then 429 with Retry-After, then the rate again; probes are never limited', async () => {
  await withApp({ RATE_LIMIT_PER_SEC: '1', RATE_LIMIT_BURST: '3' }, async (app) => {
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await app.request('/v1/templates')).status);
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    const limited = await app.request('/v1/pipelines');
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '1');
    assert.equal(((await limited.json()) as { code: string }).code, 'RateLimited');
    for (let i = 0; i < 10; i++) assert.equal((await app.request('/healthz')).status, 200);
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await app.request('/v1/templates')).status, 200, 'a second later, a token again');
  });
});

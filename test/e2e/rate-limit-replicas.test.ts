/**
 * The per-key rate limit holds across API replicas (issue 13, item 6): two API processes on one
 * PostgreSQL database, as behind a load balancer, share each key's bucket. Real processes, real
 * HTTP, a real PostgreSQL (TEST_DATABASE_URL; .ci/run starts one).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, skipPostgres } from '../helpers/postgres';
import { freePort, freePorts } from '../helpers/stack';
import { spawnUntil } from '../helpers/spawn';
import { openDatabase, type Database } from '../../db/database';
import { createApiKeyStore } from '../../db/api-keys';
import { sharedBuckets } from '../../db/rate-buckets';

const root = path.resolve(import.meta.dirname, '../..');
const BURST = 10;

let dataDir: string;
let url: string;
let drop: (() => Promise<void>) | undefined;
let db: Database | undefined;
const apis: { url: string; child: ChildProcess }[] = [];
const secrets: string[] = [];

before(async () => {
  if (skipPostgres) return;
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-replicas-'));
  const pg = await createTestDatabase();
  drop = pg.drop;
  url = pg.url;
  db = await openDatabase({ DATABASE_URL: pg.url, dataDir });
  const keys = createApiKeyStore(db);
  for (const name of ['one-by-one', 'all-at-once', 'bystander']) secrets.push((await keys.create('acme', 'admin', name)).secret);
  const temporalPort = await freePort();
  const first = await freePorts(2);
  for (const port of [first, first + 1]) {
    const env = {
      ...process.env,
      NODE_ENV: 'test',
      DATA_DIR: dataDir,
      DATABASE_URL: pg.url,
      PORT: String(port),
      HOST: '127.0.0.1',
      // Nothing listens there: none of these requests needs Temporal.
      TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
      LOG_LEVEL: 'WARN',
      // One token every 100 s: no refill within the test.
      RATE_LIMIT_PER_SEC: '0.01',
      RATE_LIMIT_BURST: String(BURST),
    };
    const { child } = await spawnUntil(['api/server.ts'], { cwd: root, env }, 'mediaflow API listening', 60_000);
    apis.push({ url: `http://127.0.0.1:${port}`, child });
  }
});

after(async () => {
  for (const a of apis) {
    a.child.kill('SIGTERM');
    if (a.child.exitCode === null) await new Promise((r) => a.child.once('exit', r));
  }
  await db?.close();
  await drop?.();
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

const templates = (api: number, secret: string) =>
  fetch(`${apis[api]!.url}/v1/templates`, { headers: { authorization: `Bearer ${secret}` } });

describe('the per-key rate limit across two API processes on one PostgreSQL', { skip: skipPostgres }, () => {
  test('requests alternating between the replicas get the burst once, not once per replica', async () => {
    const answers: { api: number; status: number; retryAfter: string | null; code?: string }[] = [];
    for (let i = 0; i < 3 * BURST; i++) {
      const res = await templates(i % 2, secrets[0]!);
      const body = (await res.json()) as { code?: string };
      answers.push({ api: i % 2, status: res.status, retryAfter: res.headers.get('retry-after'), ...(body.code ? { code: body.code } : {}) });
    }
    assert.deepEqual(answers.map((a) => a.status), [...Array(BURST).fill(200), ...Array(2 * BURST).fill(429)]);
    // Each replica served half of the burst and then refused: neither kept a bucket of its own.
    for (const api of [0, 1]) {
      assert.equal(answers.filter((a) => a.api === api && a.status === 200).length, BURST / 2, `API ${api}'s 200s`);
    }
    const refused = answers.filter((a) => a.status === 429);
    assert.ok(refused.every((a) => a.code === 'RateLimited' && Number(a.retryAfter) >= 1), 'each 429 is RateLimited with a Retry-After');
  });

  test('concurrent requests to both replicas: exactly the burst gets through; another key is untouched', async () => {
    const statuses = await Promise.all(Array.from({ length: 4 * BURST }, (_, i) => templates(i % 2, secrets[1]!).then((r) => r.status)));
    assert.equal(statuses.filter((s) => s === 200).length, BURST, `200s among ${statuses.length} concurrent requests`);
    assert.equal(statuses.filter((s) => s === 429).length, 3 * BURST);
    assert.equal((await templates(0, secrets[2]!)).status, 200);
    assert.equal((await templates(1, secrets[2]!)).status, 200);
  });

  test('tokens taken in leases (one round trip per lease): two processes together never exceed the burst', async () => {
    // Two pools, as two API processes have; a burst of 40 taken 4 at a time.
    const other = await openDatabase({ DATABASE_URL: url, dataDir });
    try {
      const replicas = [sharedBuckets(db!, 'lease-test', 0.01, 40, 4), sharedBuckets(other, 'lease-test', 0.01, 40, 4)];
      const waits: number[] = [];
      for (let i = 0; i < 100; i++) waits.push(await replicas[i % 2]!.take('k'));
      const granted = waits.filter((w) => w === 0).length;
      // Each replica may be left holding up to 3 tokens it took: never more than 40, at least 40 - 2 × 3.
      assert.ok(granted <= 40 && granted >= 34, `granted ${granted} of 100 with a burst of 40`);
      assert.ok(waits.filter((w) => w > 0).every((w) => w >= 1), 'a refusal says how long to wait');
      // Concurrent takes on both replicas: still never more than the burst.
      const all = await Promise.all(Array.from({ length: 200 }, (_, i) => replicas[i % 2]!.take('k2')));
      assert.ok(all.filter((w) => w === 0).length <= 40, `${all.filter((w) => w === 0).length} granted at once`);
      assert.ok(all.filter((w) => w === 0).length >= 34);
    } finally {
      await other.close();
    }
  });
});

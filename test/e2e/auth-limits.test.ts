/**
 * Requests without a valid key are rate-limited per address and never write to the database;
 * /metrics is rate-limited per address; the Bearer scheme is case-insensitive; scripts/keys.ts
 * refuses to write beside an API that holds the embedded database (issue 12, items 5, 19, 20).
 * Real HTTP over loopback, from two loopback addresses (127.0.0.1 and 127.0.0.2).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, type Config } from '../../model/config';
import { openDatabase, type Database } from '../../db/database';
import { createApiKeyStore } from '../../db/api-keys';
import { startApi, type RunningApi } from '../../api/server';
import { freePort } from '../helpers/stack';

const root = path.resolve(import.meta.dirname, '../..');
let dataDir: string;
let config: Config;
let db: Database;
let api: RunningApi;
let secret: string;
/** Statements that change the database, as the API sends them. */
const writes: string[] = [];
let reads = 0;

/** The database, counting what the API asks of it. */
function counting(inner: Database): Database {
  const note = (sql: string) => (/^\s*(insert|update|delete)/i.test(sql) ? writes.push(sql) : (reads += 1));
  return {
    kind: inner.kind,
    query: (sql, params) => (note(sql), inner.query(sql, params)),
    transaction: (work) => inner.transaction((tx) => work({ query: (sql, params) => (note(sql), tx.query(sql, params)) })),
    close: () => inner.close(),
  };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  json: { code?: string; detail?: string } | null;
}

/** A GET from a chosen loopback address. */
function get(urlPath: string, headers: Record<string, string> = {}, from = '127.0.0.1'): Promise<Answer> {
  const url = new URL(api.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: urlPath, localAddress: from, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        let json = null;
        try {
          json = JSON.parse(text);
        } catch {
          // metrics are text
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-auth-limits-'));
  config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    PORT: '0',
    // Nothing listens there: none of these requests needs Temporal.
    TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    LOG_LEVEL: 'WARN',
    UNAUTH_RATE_LIMIT_PER_SEC: '0.1',
    UNAUTH_RATE_LIMIT_BURST: '5',
    METRICS_RATE_LIMIT_PER_SEC: '0.1',
    METRICS_RATE_LIMIT_BURST: '3',
  });
  db = await openDatabase(config);
  secret = (await createApiKeyStore(db).create('acme', 'admin', 'ops')).secret;
  api = await startApi(config, { db: counting(db) });
});
after(async () => {
  await api?.close();
  await db?.close();
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe('API keys', () => {
  test('the Bearer scheme is case-insensitive', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const res = await get('/v1/templates', { authorization: `${scheme} ${secret}` });
      assert.equal(res.status, 200, scheme);
    }
    assert.equal((await get('/v1/templates', { authorization: `Basic ${secret}` })).status, 401);
  });

  test('requests without a valid key: 401 for a burst, then 429 with Retry-After and no database lookup; never a write; a good key and other addresses get through', async () => {
    writes.length = 0;
    const from = '127.0.0.2';
    const attempts = [
      ...Array.from({ length: 10 }, (_, i) => ({ authorization: `Bearer mfk_wrong-${i}` })),
      ...Array.from({ length: 10 }, () => ({})),
      ...Array.from({ length: 10 }, () => ({ authorization: 'Basic YTpi' })),
    ];
    const readsBefore = reads;
    const statuses: number[] = [];
    let last: Answer | undefined;
    for (const headers of attempts) {
      last = await get('/v1/jobs', headers, from);
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [...Array(5).fill(401), ...Array(25).fill(429)]);
    assert.equal(last!.json?.code, 'RateLimited');
    assert.ok(Number(last!.headers['retry-after']) >= 1, 'Retry-After');
    assert.deepEqual(writes, [], 'no request without a valid key wrote to the database');
    assert.ok(reads - readsBefore <= 5, `once limited, no lookups at all (${reads - readsBefore} reads for 30 requests)`);

    // The key this address used before still works from it; another address is not limited at all.
    assert.equal((await get('/v1/templates', { authorization: `bearer ${secret}` }, from)).status, 200);
    assert.equal((await get('/v1/jobs', { authorization: 'Bearer mfk_wrong' }, '127.0.0.1')).status, 401);
  });

  test('/metrics is rate-limited per address; probes are not', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await get('/metrics', {}, '127.0.0.3')).status);
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    const limited = await get('/metrics', {}, '127.0.0.3');
    assert.equal(limited.json?.code, 'RateLimited');
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    assert.equal((await get('/metrics', {}, '127.0.0.4')).status, 200, 'another address scrapes');
    for (let i = 0; i < 10; i++) assert.equal((await get('/healthz', {}, '127.0.0.3')).status, 200);
  });
});

describe('scripts/keys.ts and a running API', { timeout: 120_000 }, () => {
  const keysCli = (...args: string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/keys.ts', ...args], {
      cwd: root,
      env: Object.fromEntries(Object.entries({ ...process.env, NODE_ENV: 'test', DATA_DIR: dataDir }).filter(([k]) => k !== 'DATABASE_URL')),
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  test('create is refused while the API holds the embedded database, with no key printed; it works once the API is stopped', async () => {
    const refused = await keysCli('create', '--tenant', 'acme', '--role', 'submitter');
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, new RegExp(`held by a running mediaflow API \\(pid ${process.pid}`));
    assert.doesNotMatch(refused.stdout, /mfk_/, 'no key that would never work');

    await api.close();
    await db.close();
    const made = await keysCli('create', '--tenant', 'acme', '--role', 'submitter');
    assert.equal(made.code, 0, made.stderr);
    const { secret: fresh } = JSON.parse(made.stdout) as { secret: string };
    // The key works once the API is back.
    db = await openDatabase(config);
    api = await startApi(config, { db });
    assert.equal((await get('/v1/templates', { authorization: `Bearer ${fresh}` })).status, 200);
  });
});

/**
 * /metrics does not cost Temporal a query per scrape: 200 concurrent scrapes share one round of
 * visibility counts, an authenticated GET /v1/jobs still answers during the storm, and a failed
 * refresh keeps the last counts and says so. Real dev server, worker and API over loopback.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import proto from '@temporalio/proto';
import { createApiKeyStore } from '../../db/api-keys';
import { startStack, type Stack } from '../helpers/stack';

// Every visibility count any client of this process sends (the API's own connection included):
// wrapped where the SDK makes its WorkflowService, before the stack makes one.
const Service = proto.temporal.api.workflowservice.v1.WorkflowService;
const create = Service.create.bind(Service);
let countQueries = 0;
Service.create = ((...args: Parameters<typeof create>) => {
  const service = create(...args);
  const count = service.countWorkflowExecutions.bind(service);
  service.countWorkflowExecutions = ((...a: Parameters<typeof count>) => {
    countQueries += 1;
    return count(...a);
  }) as typeof service.countWorkflowExecutions;
  return service;
}) as typeof Service.create;

const CACHE_SEC = 20;
let stack: Stack;
let base: string;
let auth: Record<string, string>;

before(async () => {
  stack = await startStack({
    api: true,
    // The per-address limits on /metrics and on keyless requests are another test's subject: lifted here.
    env: { METRICS_COUNT_CACHE_SEC: String(CACHE_SEC), METRICS_RATE_LIMIT_BURST: '10000', UNAUTH_RATE_LIMIT_BURST: '10000', RATE_LIMIT_BURST: '10000' },
  });
  base = stack.api!.url;
  auth = { authorization: `Bearer ${(await createApiKeyStore(stack.db).create('default', 'admin', 'metrics test')).secret}` };
  // Two jobs that wait in queued (a paused pipeline): something to count.
  const created = await fetch(`${base}/v1/pipelines`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"id":"held","state":"paused"}' });
  assert.equal(created.status, 201);
  await fetch(`${base}/v1/objects/raw/x.bin`, { method: 'PUT', headers: auth, body: 'x' });
  for (let i = 0; i < 2; i++) {
    const res = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ pipeline: 'held', input: { key: 'raw/x.bin' }, outputs: [], snapshots: [{ name: 's', time: 0 }] }) });
    assert.equal(res.status, 202, await res.text());
  }
});
after(async () => {
  await stack?.stop();
});

async function scrape(): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}/metrics`);
  return { status: res.status, text: await res.text() };
}

const series = (text: string, name: string): string[] => text.split('\n').filter((l) => l.startsWith(name));
const value = (text: string, line: string): number | null => {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? null : Number(found.slice(line.length + 1));
};

/** 200 scrapes at once, and an authenticated GET /v1/jobs sent while they are under way. */
async function storm(): Promise<{ scrapes: { status: number; text: string }[]; list: { status: number; ms: number } }> {
  const scrapes = Array.from({ length: 200 }, () => scrape());
  const started = Date.now();
  const list = fetch(`${base}/v1/jobs`, { headers: auth }).then(async (res) => ({ status: (await res.text(), res.status), ms: Date.now() - started }));
  return { scrapes: await Promise.all(scrapes), list: await list };
}

describe('/metrics job counts are cached', { timeout: 300_000 }, () => {
  test('200 concurrent scrapes: one round of count queries; GET /v1/jobs answers 200 meanwhile', async () => {
    const before = countQueries;
    const first = await storm();
    const queries = countQueries - before;
    console.log(`# 200 concurrent scrapes: ${queries} visibility count queries; GET /v1/jobs ${first.list.status} in ${first.list.ms} ms`);
    assert.deepEqual([...new Set(first.scrapes.map((s) => s.status))], [200]);
    // One refresh: one count per job status (six), shared by every scrape.
    assert.ok(queries > 0 && queries <= 6, `${queries} count queries for 200 scrapes`);
    for (const s of first.scrapes) assert.equal(value(s.text, 'mediaflow_jobs{status="queued"}'), 2);
    assert.equal(first.list.status, 200);

    // Within METRICS_COUNT_CACHE_SEC: no query at all.
    const again = countQueries;
    const second = await storm();
    assert.equal(countQueries - again, 0, 'a second storm inside the cache time asks Temporal nothing');
    assert.equal(second.list.status, 200);
    assert.equal(value(second.scrapes[0]!.text, 'mediaflow_jobs{status="queued"}'), 2);
  });

  test('a failed refresh keeps the last counts and says so in a metric', async () => {
    const failures = (text: string) => value(text, 'mediaflow_gauge_refresh_failures_total{gauge="mediaflow_jobs"}') ?? 0;
    const before = failures((await scrape()).text);
    // Temporal goes away for longer than the cache time plus a refresh's deadline.
    const restarted = stack.restartTemporal(CACHE_SEC * 1000 + 15_000);
    await new Promise((r) => setTimeout(r, CACHE_SEC * 1000 + 1000));
    const during = await scrape();
    assert.equal(during.status, 200);
    assert.equal(value(during.text, 'mediaflow_jobs{status="queued"}'), 2, `the last counts stay: ${series(during.text, 'mediaflow_jobs{').join(' ')}`);
    // (Each series is read as the scrape starts; the refresh failed during that one: the next shows it.)
    const next = await scrape();
    assert.equal(value(next.text, 'mediaflow_jobs{status="queued"}'), 2);
    assert.equal(failures(next.text), before + 1, 'the failed refresh is counted, once');
    const age = value(next.text, 'mediaflow_gauge_age_seconds{gauge="mediaflow_jobs"}');
    assert.ok(age !== null && age >= CACHE_SEC, `the counts' age shows they are old: ${age}`);
    await restarted;
  });
});

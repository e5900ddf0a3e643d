/**
 * Job state that stays true under Temporal's own operations: after `temporal workflow terminate`
 * and `temporal workflow reset` (the real CLI), GET /v1/jobs/{id}, GET /v1/jobs (and its filters,
 * across pages) and the `mediaflow_jobs` gauge say the same; `finishedAt` is the end of
 * processing in the job and in the list. Real dev server, worker, ffmpeg and API over loopback.
 */
import { fetchJob, submitJob } from '../helpers/http';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { JobState, JobStatus } from '../../model/job-state';
import { findTemporalCli } from '../../scripts/temporal-cli';
import { startStack, type Stack } from '../helpers/stack';
import { makeClip } from '../helpers/media';
import { eventually, isFinal, isSettled, pollJob } from '../helpers/jobs';

let stack: Stack;
let base: string;

before(async () => {
  stack = await startStack({
    api: true,
    env: {
      // Every pipeline, new ones included: the paused `held` pipeline's jobs wait on this worker.
      WORKER_PIPELINES: '*',
      // The gauge re-reads visibility each second here, so it can be compared with the list.
      METRICS_COUNT_CACHE_SEC: '1',
      // Callbacks to this test's own loopback receiver.
      ALLOW_PRIVATE_URLS: 'true',
      METRICS_RATE_LIMIT_PER_SEC: '1000',
      METRICS_RATE_LIMIT_BURST: '1000',
    },
  });
  base = stack.api!.url;
  const clip = path.join(stack.dataDir, 'tiny.mp4');
  await makeClip(clip, { width: 160, height: 120, durationSec: 1 });
  assert.equal((await fetch(`${base}/v1/objects/raw/tiny.mp4`, { method: 'PUT', body: await fs.readFile(clip) })).status, 201);
  assert.equal((await fetch(`${base}/v1/objects/raw/broken.mp4`, { method: 'PUT', body: 'not media at all\n'.repeat(50) })).status, 201);
  const held = await fetch(`${base}/v1/pipelines`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"held","state":"paused"}' });
  assert.equal(held.status, 201, await held.text());
});
after(async () => {
  await stack?.stop();
});

interface Summary {
  id: string;
  status: JobStatus;
  finishedAt: string | null;
}
interface Page {
  jobs: Summary[];
  nextPageToken: string | null;
}

const snapshotOnly = { input: { key: 'raw/tiny.mp4' }, outputs: [], snapshots: [{ name: 's', time: 0, width: 32 }] };
const statuses: JobStatus[] = ['queued', 'probing', 'processing', 'succeeded', 'failed', 'canceled'];

const submit = (body: unknown): Promise<string> => submitJob(base, body);
const job = (id: string): Promise<JobState> => fetchJob(base, id);

async function list(query = ''): Promise<Page> {
  const res = await fetch(`${base}/v1/jobs${query}`);
  assert.equal(res.status, 200, `GET /v1/jobs${query}`);
  return (await res.json()) as Page;
}

/** Every page of a listing, following nextPageToken. */
async function listAll(query: string, pageSize: number): Promise<string[]> {
  const ids: string[] = [];
  let token: string | null = null;
  let pages = 0;
  do {
    const page: Page = await list(`?pageSize=${pageSize}${query}${token ? `&pageToken=${token}` : ''}`);
    assert.ok(page.jobs.length <= pageSize);
    ids.push(...page.jobs.map((j) => j.id));
    token = page.nextPageToken;
    assert.ok(++pages < 100, 'pagination must end');
  } while (token);
  return ids;
}

/** `mediaflow_jobs{status}` from /metrics. */
async function gauge(): Promise<Record<JobStatus, number>> {
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  const counts = Object.fromEntries(statuses.map((s) => [s, 0])) as Record<JobStatus, number>;
  for (const m of text.matchAll(/^mediaflow_jobs\{status="(\w+)"\} (\d+)$/gm)) counts[m[1] as JobStatus] = Number(m[2]);
  return counts;
}

/** The same counts from the listing (every job of this test is the default tenant's). */
async function listCounts(): Promise<Record<JobStatus, number>> {
  const counts = Object.fromEntries(statuses.map((s) => [s, 0])) as Record<JobStatus, number>;
  for (const j of (await list('?pageSize=100')).jobs) counts[j.status] += 1;
  return counts;
}

async function gaugeAgreesWithList(what: string): Promise<Record<JobStatus, number>> {
  const both = await eventually(async () => ({ gauge: await gauge(), list: await listCounts() }), (v) => JSON.stringify(v.gauge) === JSON.stringify(v.list), `${what}: the gauge counts what the list shows`);
  return both.gauge;
}

function temporal(...args: string[]): string {
  return execFileSync(findTemporalCli()!, ['workflow', ...args, '--address', stack.config.TEMPORAL_ADDRESS], { encoding: 'utf8' });
}

/** The job's workflow has run at least one workflow task (a reset needs one to go back to). */
async function pickedUp(id: string): Promise<void> {
  await eventually(() => stack.client.workflow.getHandle(id).describe(), (d) => d.historyLength > 4, `${id} picked up by the worker`);
}

describe('job state under Temporal operations', { timeout: 600_000 }, () => {
  test('terminate: job, list, status filter and gauge all say failed (Terminated, with the reason); retry is a 409 that says so', async () => {
    const id = await submit({ ...snapshotOnly, pipeline: 'held' });
    await pickedUp(id);
    await eventually(() => list('?status=queued'), (p) => p.jobs.some((j) => j.id === id), 'held job listed as queued');

    temporal('terminate', '--workflow-id', id, '--reason', 'operator: input host is down');

    const j = await job(id);
    assert.equal(j.status, 'failed');
    assert.equal(j.error?.code, 'Terminated');
    assert.match(j.error!.message, /terminated/);
    assert.match(j.error!.message, /operator: input host is down/);
    assert.equal(j.error!.retryable, false);
    assert.ok(j.finishedAt, 'a terminated job has ended');

    const failed = await eventually(() => list('?status=failed'), (p) => p.jobs.some((x) => x.id === id), 'listed as failed');
    const entry = failed.jobs.find((x) => x.id === id)!;
    assert.deepEqual([entry.status, entry.finishedAt], ['failed', j.finishedAt]);
    for (const other of ['queued', 'processing'] as const) assert.ok(!(await list(`?status=${other}`)).jobs.some((x) => x.id === id), `not listed as ${other}`);

    const counts = await gaugeAgreesWithList('after terminate');
    assert.deepEqual([counts.failed, counts.queued], [1, 0]);

    const retry = await fetch(`${base}/v1/jobs/${id}/retry`, { method: 'POST' });
    assert.equal(retry.status, 409);
    const problem = (await retry.json()) as { detail: string };
    assert.match(problem.detail, /terminated/);
    assert.match(problem.detail, /operator: input host is down/);
    assert.doesNotMatch(problem.detail, /retry window/);
  });

  test('reset: one job, one entry (its latest run) in every listing and page, counted once by the gauge', async () => {
    const id = await submit({ ...snapshotOnly, pipeline: 'held' });
    await pickedUp(id);
    temporal('reset', '--workflow-id', id, '--type', 'FirstWorkflowTask', '--reason', 'operator: re-run');
    // Temporal now keeps two runs of this workflow id: the terminated one and the new one.
    const runs = await eventually(
      async () => {
        const found = [];
        for await (const w of stack.client.workflow.list({ query: `WorkflowId = '${id}'` })) found.push(w.status.name);
        return found.sort();
      },
      (r) => r.length === 2,
      'two runs in visibility',
    );
    assert.deepEqual(runs, ['RUNNING', 'TERMINATED']);
    await pickedUp(id);

    const whole = await list('?pageSize=100');
    assert.deepEqual(whole.jobs.filter((x) => x.id === id).map((x) => x.status), ['queued'], 'listed once, as its latest run');
    assert.equal((await job(id)).status, 'queued');
    assert.ok(!(await list('?status=failed')).jobs.some((x) => x.id === id), 'the replaced run is not a failed job');
    assert.deepEqual((await list('?status=queued')).jobs.filter((x) => x.id === id).length, 1);
    for (const size of [1, 2]) {
      const paged = await listAll('', size);
      assert.equal(paged.length, new Set(paged).size, `pageSize=${size}: no job twice`);
      assert.deepEqual(new Set(paged), new Set(whole.jobs.map((x) => x.id)), `pageSize=${size}: every job`);
    }
    const counts = await gaugeAgreesWithList('after reset');
    assert.equal(counts.queued, 1, 'the reset job counts once');
  });

  test('finishedAt is the end of processing in the job and in the list: a failed job in its retry window, a success with a slow callback', async () => {
    const failedId = await submit({ ...snapshotOnly, input: { key: 'raw/broken.mp4' } });
    const failed = await pollJob(base, failedId, isFinal);
    assert.equal(failed.status, 'failed');
    assert.ok(failed.finishedAt);
    const listedFailed = await eventually(() => list('?status=failed'), (p) => p.jobs.find((x) => x.id === failedId)?.finishedAt != null, 'the failed job listed with a finish time');
    assert.equal(listedFailed.jobs.find((x) => x.id === failedId)!.finishedAt, failed.finishedAt);

    // A callback receiver that takes 3 s to answer: the workflow closes well after processing ended.
    let answeredAt = 0;
    const receiver = http.createServer((req, res) => {
      req.resume();
      setTimeout(() => {
        answeredAt = Date.now();
        res.writeHead(204).end();
      }, 3000);
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const okId = await submit({ ...snapshotOnly, notify: { url } });
      const done = await pollJob(base, okId, isSettled);
      assert.equal(done.status, 'succeeded');
      assert.deepEqual(done.notifications.map((n) => n.status), ['delivered']);
      assert.ok(answeredAt - Date.parse(done.finishedAt!) >= 2500, 'processing ended before the slow callback was answered');
      const listed = await eventually(() => list('?status=succeeded'), (p) => p.jobs.some((x) => x.id === okId), 'the succeeded job listed');
      assert.equal(listed.jobs.find((x) => x.id === okId)!.finishedAt, done.finishedAt);
      // Once the workflow has closed too, the answer stays the same.
      await eventually(() => stack.client.workflow.getHandle(okId).describe(), (d) => d.status.name === 'COMPLETED', 'workflow closed');
      assert.equal((await list('?status=succeeded')).jobs.find((x) => x.id === okId)!.finishedAt, done.finishedAt);
      assert.equal((await job(okId)).finishedAt, done.finishedAt);
    } finally {
      receiver.closeAllConnections();
      await new Promise((r) => receiver.close(r));
    }
  });
});

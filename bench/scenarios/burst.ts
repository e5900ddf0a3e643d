/**
 * Scenario: a burst of small jobs against the cluster shape (scripts/cluster.ts: the real Temporal
 * server on PostgreSQL, 2 APIs, 3 workers), and the same number of mediaJob workflows started with
 * the raw Temporal client on the same server in the same run: the API's overhead as a ratio.
 *
 * Both bursts go to a paused pipeline, so the workers' encodes do not share the CPU with one burst
 * and not the other (each job makes one pipeline check and waits). The raw starts go first, from two
 * processes (as the API's load comes from two, through two APIs); their workflows are terminated and
 * the cluster left to settle, so the API's burst meets the same quiet cluster. A full run does two
 * such rounds, each on a pipeline of its own. Then the last round's pipeline is resumed (its PATCH
 * signals the held jobs), and the time until every API job has succeeded is the time to drain. Tiny inputs: 1 s 160x90 H.264 → one 360p-template MP4.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import proto from '@temporalio/proto';
import { loadConfig, taskQueueFor } from '../../model/config';
import { startLocalCluster } from '../../test/helpers/cluster';
import { makeClip } from '../../test/helpers/media';
import { summarize, type Summary } from '../stats';
import type { LoadPlan, LoadResult } from '../api-load';
import type { RawPlan, RawResult } from '../raw-starts';
import { WORKFLOW_TYPE } from '../../workflows/definitions';
import { loadAverage, type BenchSettings } from './common';
import { childrenOf, familyCpuMs, processCpu } from '../cpu';

export interface BurstSide {
  jobs: number;
  clients: number;
  wallMs: number;
  jobsPerMin: number;
  latencyMs: Summary;
}

export interface PhaseCpu {
  apis: number;
  temporal: number;
  postgres: number;
  workers: number;
  load: number;
}

export interface BurstResult {
  /** Jobs per burst; each side ran `rounds` bursts (raw, then API, in turn). */
  jobs: number;
  rounds: number;
  /** BURST_PIN=1: the server side on CPU 0, the APIs and load processes on CPU 1. */
  pinned: boolean;
  api: BurstSide & { statuses: Record<string, number> };
  raw: BurstSide;
  /** API ÷ raw: throughput (≥ 0.9 is the target) and POST p99 over start p99 (≤ 1.2). */
  throughputRatio: number;
  p99Ratio: number;
  drain: { ms: number; jobsPerMin: number; released: number };
  /** CPU per job (ms) during each burst: the APIs, Temporal, PostgreSQL, the workers, the load processes. */
  cpuPerJobMs: { raw: PhaseCpu; api: PhaseCpu };
  loadAverage: { before: number[]; after: number[] };
}

const root = path.resolve(import.meta.dirname, '../..');

function child<T>(script: string, plan: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', path.join(root, script), JSON.stringify(plan)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${script} exited ${code}`));
      try {
        resolve(JSON.parse(out) as T);
      } catch (err) {
        reject(err);
      }
    });
  });
}

const perMin = (n: number, ms: number) => Math.round((n / (ms / 60_000)) * 10) / 10;

/** Waits (up to 2 min) until `count` workers poll the workflow task queue `name`. */
async function waitForPollers(client: Client, namespace: string, name: string, count: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { pollers } = await client.workflowService.describeTaskQueue({ namespace, taskQueue: { name }, taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW });
    if ((pollers?.length ?? 0) >= count) return;
    if (Date.now() > deadline) throw new Error(`${name}: ${pollers?.length ?? 0} of ${count} workers poll it after 2 min`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Waits (up to 2 min) until these processes together use less than a tenth of a core over 2 s. */
async function settle(pids: number[]): Promise<number> {
  const cpuMs = () => pids.reduce((sum, pid) => sum + (processCpu(pid)?.ownMs ?? 0), 0);
  const start = Date.now();
  for (;;) {
    const before = cpuMs();
    await new Promise((r) => setTimeout(r, 2000));
    if (cpuMs() - before < 200 || Date.now() - start > 120_000) return Date.now() - start;
  }
}

export async function runBurst(settings: BenchSettings): Promise<BurstResult> {
  const jobs = settings.burstJobs;
  const clients = settings.apiClients;
  const before = loadAverage();
  // Its own folder: PostgreSQL runs as the postgres user when we are root and must reach it (the work dir is 0700).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mediaflow-burst-'));
  const c = await startLocalCluster({
    dir,
    apis: 2,
    workers: 3,
    // One load generator sends everything from one address: the per-key limit is not what is measured.
    env: { LOG_LEVEL: 'WARN', RATE_LIMIT_PER_SEC: '100000', RATE_LIMIT_BURST: '100000' },
  });
  const [, postmaster] = c.pids();
  // BURST_PIN=1: the server side (Temporal, PostgreSQL, workers) on CPU 0, the APIs and the load
  // processes (this process's children) on CPU 1 — the APIs with a core of their own, as replicas
  // on their own machines have.
  const pinned = process.env.BURST_PIN === '1';
  if (pinned) {
    const pin = (cpu: number, pids: number[]) => { for (const pid of pids) execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' }); };
    pin(0, [c.temporal.pid, postmaster!, ...childrenOf(postmaster!), ...c.workers.map((w) => w.pid)]);
    pin(1, [...c.apis.map((p) => p.pid), process.pid]);
  }
  const cpuNow = (): PhaseCpu => ({
    apis: c.apis.reduce((sum, p) => sum + (processCpu(p.pid)?.ownMs ?? 0), 0),
    temporal: processCpu(c.temporal.pid)?.ownMs ?? 0,
    postgres: familyCpuMs(postmaster!),
    workers: c.workers.reduce((sum, p) => sum + (processCpu(p.pid)?.ownMs ?? 0), 0),
    // The load processes (bench/api-load.ts, bench/raw-starts.ts) are this process's children.
    load: processCpu('self')?.childrenMs ?? 0,
  });
  const perJob = (a: PhaseCpu, b: PhaseCpu, n: number): PhaseCpu =>
    Object.fromEntries(Object.keys(a).map((k) => [k, Math.round(((b[k as keyof PhaseCpu] - a[k as keyof PhaseCpu]) / n) * 100) / 100])) as unknown as PhaseCpu;
  const connection = await Connection.connect({ address: c.address });
  const client = new Client({ connection, namespace: c.namespace });
  try {
    const [a, b] = c.apis.map((s) => s.url!) as [string, string];
    const clip = path.join(settings.workDir, 'burst-tiny.mp4');
    await makeClip(clip, { width: 160, height: 90, durationSec: 1, audio: false });
    const put = await fetch(`${a}/v1/objects/bench/burst/tiny.mp4`, { method: 'PUT', body: fs.readFileSync(clip) });
    if (put.status !== 201) throw new Error(`upload: ${put.status}`);
    // Rounds of raw then API, each on a pipeline of its own; the last round's API jobs are drained,
    // the others terminated. Two rounds in a full run: one pair on this machine varies by ±15 %.
    const rounds = settings.quick ? 1 : 2;
    const pipelines = Array.from({ length: rounds }, (_, r) => (r === rounds - 1 ? 'burst' : `burst-${r + 1}`));
    for (const id of pipelines) {
      const created = await fetch(`${a}/v1/pipelines`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, state: 'paused' }) });
      if (created.status !== 201) throw new Error(`pipeline: ${created.status} ${await created.text()}`);
    }
    // Workers take up a new pipeline within 15 s: both bursts must meet workers that take their
    // jobs' first workflow task and pipeline check, or the first one runs on an idle cluster.
    for (const id of pipelines) await waitForPollers(client, c.namespace, taskQueueFor(loadConfig({ ...process.env }), id), c.workers.length);
    const terminate = async (ids: string[], why: string) => {
      let next = 0;
      await Promise.all(Array.from({ length: 16 }, async () => {
        // Visibility lags: a workflow listed as running may have ended meanwhile.
        while (next < ids.length) await client.workflow.getHandle(ids[next++]!).terminate(why).catch((err: unknown) => {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        });
      }));
    };
    const raw = { wallMs: 0, latenciesMs: [] as number[], cpu: [] as PhaseCpu[] };
    const api = { wallMs: 0, latenciesMs: [] as number[], cpu: [] as PhaseCpu[], statuses: {} as Record<string, number> };
    let settledMs = 0;
    const serverSide = [c.temporal.pid, ...c.workers.map((w) => w.pid)];
    for (const pipeline of pipelines) {
      // Raw first: the same number of starts in two processes of half the clients each (as the API
      // side has two load generators on two APIs, each API with its own connection).
      const rawCpu0 = cpuNow();
      const raws = await Promise.all([0, 1].map(() => child<RawResult>('bench/raw-starts.ts', { address: c.address, namespace: c.namespace, pipeline, inputKey: 'bench/burst/tiny.mp4', clients: clients / 2, total: jobs / 2 } satisfies RawPlan)));
      raw.cpu.push(perJob(rawCpu0, cpuNow(), jobs));
      const rawRoundMs = Math.max(...raws.map((r) => r.wallMs));
      raw.wallMs += rawRoundMs;
      raw.latenciesMs.push(...raws.flatMap((r) => r.latenciesMs));
      await terminate(raws.flatMap((r) => r.ids), 'bench: raw-start baseline');
      // The API's burst starts on a cluster as quiet as the raw one did: no held job of the raw side
      // is left, and the terminations' work is done.
      settledMs += await settle(serverSide);

      // API: half the clients on each API, all at once; each process measures its own.
      const body = { input: { key: 'bench/burst/tiny.mp4' }, pipeline, outputs: [{ name: 'small', template: 'mp4-h264-360p' }], snapshots: [] };
      const plans: LoadPlan[] = [a, b].map((base) => ({ base, clients: clients / 2, warmup: 0, total: jobs / 2, requests: [{ method: 'POST', path: '/v1/jobs', body }] }));
      const apiCpu0 = cpuNow();
      const loads = await Promise.all(plans.map((p) => child<LoadResult>('bench/api-load.ts', p)));
      api.cpu.push(perJob(apiCpu0, cpuNow(), jobs));
      const apiRoundMs = Math.max(...loads.map((l) => l.wallMs));
      api.wallMs += apiRoundMs;
      api.latenciesMs.push(...loads.flatMap((l) => l.latenciesMs));
      for (const l of loads) for (const [k, v] of Object.entries(l.statuses)) api.statuses[k] = (api.statuses[k] ?? 0) + v;
      console.log(`  ${pipeline}: raw ${perMin(jobs, rawRoundMs)} jobs/min, API ${perMin(jobs, apiRoundMs)} jobs/min`);
      if (pipeline === 'burst') break;
      // Not drained: this round's API jobs go too (listed from visibility until none is left).
      for (let left = Infinity; left > 0; ) {
        const ids: string[] = [];
        for await (const wf of client.workflow.list({ query: `MediaPipeline = '${pipeline}' AND ExecutionStatus = 'Running'` })) ids.push(wf.workflowId);
        await terminate(ids, 'bench: an earlier round');
        left = ids.length;
        if (left) await new Promise((r) => setTimeout(r, 2000));
      }
      settledMs += await settle(serverSide);
    }
    const rawLat = summarize(raw.latenciesMs);
    const apiLat = summarize(api.latenciesMs);
    const total = jobs * rounds;
    const mean = (list: PhaseCpu[]): PhaseCpu =>
      Object.fromEntries(Object.keys(list[0]!).map((k) => [k, Math.round((list.reduce((sum, x) => sum + x[k as keyof PhaseCpu], 0) / list.length) * 100) / 100])) as unknown as PhaseCpu;

    console.log(`  raw: ${perMin(total, raw.wallMs)} jobs/min, start p50/p99 ${rawLat.p50}/${rawLat.p99} ms; settled ${(settledMs / 1000).toFixed(1)} s; API: ${perMin(total, api.wallMs)} jobs/min, POST p50/p99 ${apiLat.p50}/${apiLat.p99} ms ${JSON.stringify(api.statuses)}`);
    // Drain: resume the pipeline (its PATCH signals the held jobs) and wait for every API job.
    const d0 = Date.now();
    const resumed = await fetch(`${a}/v1/pipelines/burst`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ state: 'active' }), signal: AbortSignal.timeout(30 * 60_000) });
    if (resumed.status !== 200) throw new Error(`resume: ${resumed.status} ${await resumed.text()}`);
    const { released } = (await resumed.json()) as { released: number };
    const query = `WorkflowType = '${WORKFLOW_TYPE}' AND MediaPipeline = 'burst' AND MediaJobStatus = 'succeeded'`;
    for (;;) {
      const { count } = await client.workflow.count(query);
      if (count >= jobs) break;
      if (Date.now() - d0 > 60 * 60_000) throw new Error(`drain: ${count} of ${jobs} succeeded after an hour`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const drainMs = Date.now() - d0;
    const apiSide = { jobs: total, clients, wallMs: Math.round(api.wallMs), jobsPerMin: perMin(total, api.wallMs), latencyMs: apiLat, statuses: api.statuses };
    const rawSide = { jobs: total, clients, wallMs: Math.round(raw.wallMs), jobsPerMin: perMin(total, raw.wallMs), latencyMs: rawLat };
    return {
      jobs,
      rounds,
      pinned,
      api: apiSide,
      raw: rawSide,
      throughputRatio: Math.round((apiSide.jobsPerMin / rawSide.jobsPerMin) * 100) / 100,
      p99Ratio: Math.round((apiLat.p99 / rawLat.p99) * 100) / 100,
      drain: { ms: drainMs, jobsPerMin: perMin(jobs, drainMs), released },
      cpuPerJobMs: { raw: mean(raw.cpu), api: mean(api.cpu) },
      loadAverage: { before, after: loadAverage() },
    };
  } finally {
    await connection.close();
    await c.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

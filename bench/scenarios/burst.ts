/**
 * Scenario: a burst of small jobs against the cluster shape (scripts/cluster.ts: the real Temporal
 * server on PostgreSQL, 2 APIs, 3 workers), and the same number of mediaJob workflows started with
 * the raw Temporal client on the same server in the same run: the API's overhead as a ratio.
 *
 * Both bursts go to a paused pipeline, so the workers' encodes do not share the CPU with one burst
 * and not the other (each job makes one pipeline check and waits). Then the raw workflows are
 * terminated, the pipeline resumed (its PATCH signals the held jobs), and the time until every API
 * job has succeeded is the time to drain. Tiny inputs: 1 s 160x90 H.264 → one 360p-template MP4.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startLocalCluster } from '../../test/helpers/cluster';
import { makeClip } from '../../test/helpers/media';
import { summarize, type Summary } from '../stats';
import type { LoadPlan, LoadResult } from '../api-load';
import type { RawPlan, RawResult } from '../raw-starts';
import { WORKFLOW_TYPE } from '../../workflows/definitions';
import { loadAverage, type BenchSettings } from './common';

export interface BurstSide {
  jobs: number;
  clients: number;
  wallMs: number;
  jobsPerMin: number;
  latencyMs: Summary;
}

export interface BurstResult {
  jobs: number;
  api: BurstSide & { statuses: Record<string, number> };
  raw: BurstSide;
  /** API ÷ raw: throughput (≥ 0.9 is the target) and POST p99 over start p99 (≤ 1.2). */
  throughputRatio: number;
  p99Ratio: number;
  drain: { ms: number; jobsPerMin: number; released: number };
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
  const connection = await Connection.connect({ address: c.address });
  const client = new Client({ connection, namespace: c.namespace });
  try {
    const [a, b] = c.apis.map((s) => s.url!) as [string, string];
    const clip = path.join(settings.workDir, 'burst-tiny.mp4');
    await makeClip(clip, { width: 160, height: 90, durationSec: 1, audio: false });
    const put = await fetch(`${a}/v1/objects/bench/burst/tiny.mp4`, { method: 'PUT', body: fs.readFileSync(clip) });
    if (put.status !== 201) throw new Error(`upload: ${put.status}`);
    const created = await fetch(`${a}/v1/pipelines`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'burst', state: 'paused' }) });
    if (created.status !== 201) throw new Error(`pipeline: ${created.status} ${await created.text()}`);
    const body = { input: { key: 'bench/burst/tiny.mp4' }, pipeline: 'burst', outputs: [{ name: 'small', template: 'mp4-h264-360p' }], snapshots: [] };

    // API: half the clients on each API, all at once; each process measures its own.
    const plans: LoadPlan[] = [a, b].map((base) => ({ base, clients: clients / 2, warmup: 0, total: jobs / 2, requests: [{ method: 'POST', path: '/v1/jobs', body }] }));
    const t0 = Date.now();
    const loads = await Promise.all(plans.map((p) => child<LoadResult>('bench/api-load.ts', p)));
    const apiWall = Date.now() - t0;
    const statuses: Record<string, number> = {};
    for (const l of loads) for (const [k, v] of Object.entries(l.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
    const apiLat = summarize(loads.flatMap((l) => l.latenciesMs));

    // Raw: the same number of starts, the same clients, one process.
    const raw = await child<RawResult>('bench/raw-starts.ts', { address: c.address, namespace: c.namespace, pipeline: 'burst', inputKey: 'bench/burst/tiny.mp4', clients, total: jobs } satisfies RawPlan);
    const rawLat = summarize(raw.latenciesMs);
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < raw.ids.length) await client.workflow.getHandle(raw.ids[next++]!).terminate('bench: raw-start baseline');
    }));

    console.log(`  API: ${perMin(jobs, apiWall)} jobs/min, POST p50/p99 ${apiLat.p50}/${apiLat.p99} ms ${JSON.stringify(statuses)}; raw: ${perMin(jobs, raw.wallMs)} jobs/min, start p50/p99 ${rawLat.p50}/${rawLat.p99} ms`);
    // Drain: resume the pipeline (its PATCH signals the held jobs) and wait for every API job.
    const d0 = Date.now();
    const resumed = await fetch(`${a}/v1/pipelines/burst`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ state: 'active' }), signal: AbortSignal.timeout(30 * 60_000) });
    if (resumed.status !== 200) throw new Error(`resume: ${resumed.status} ${await resumed.text()}`);
    const { released } = (await resumed.json()) as { released: number };
    const query = `WorkflowType = '${WORKFLOW_TYPE}' AND MediaPipeline = 'burst' AND MediaJobStatus = 'succeeded'`;
    for (;;) {
      const { count } = await client.workflow.count(query);
      if (count >= (statuses['202'] ?? 0)) break;
      if (Date.now() - d0 > 60 * 60_000) throw new Error(`drain: ${count} of ${statuses['202']} succeeded after an hour`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const drainMs = Date.now() - d0;
    const apiSide = { jobs, clients, wallMs: apiWall, jobsPerMin: perMin(jobs, apiWall), latencyMs: apiLat, statuses };
    const rawSide = { jobs, clients, wallMs: Math.round(raw.wallMs), jobsPerMin: perMin(jobs, raw.wallMs), latencyMs: rawLat };
    return {
      jobs,
      api: apiSide,
      raw: rawSide,
      throughputRatio: Math.round((apiSide.jobsPerMin / rawSide.jobsPerMin) * 100) / 100,
      p99Ratio: Math.round((apiLat.p99 / rawLat.p99) * 100) / 100,
      drain: { ms: drainMs, jobsPerMin: perMin(jobs, drainMs), released },
      loadAverage: { before, after: loadAverage() },
    };
  } finally {
    await connection.close();
    await c.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

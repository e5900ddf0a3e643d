/**
 * What jobs held by a paused pipeline cost the cluster (`npx tsx bench/held-jobs.ts [N]`, default
 * 1000): starts the cluster shape (scripts/cluster.ts: the real Temporal server on PostgreSQL, 1 API,
 * 3 workers), measures an idle window (HELD_IDLE_SEC), pauses a pipeline, submits N jobs to it, then
 * measures HELD_WINDOWS consecutive windows of HELD_WINDOW_SEC while they are held: CPU of the Temporal
 * server, the workers and PostgreSQL (from /proc), the pipeline checks made (the mediaflow
 * database's committed transactions), and the memory the Temporal server and PostgreSQL hold. Prints
 * the CPU one check costs and what N held jobs would cost at the old fixed 30 s re-check and at the
 * backoff's 1 h ceiling (workflows/job-run.ts PIPELINE_RECHECK_MAX_MS).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startLocalCluster } from '../test/helpers/cluster';
import { makeClip } from '../test/helpers/media';
import { familyCpuMs, processCpu } from './cpu';

const N = Number(process.argv[2] ?? 1000);
const WINDOW_MS = Number(process.env.HELD_WINDOW_SEC ?? 90) * 1000;
const WINDOWS = Number(process.env.HELD_WINDOWS ?? 1);
const IDLE_MS = Number(process.env.HELD_IDLE_SEC ?? WINDOW_MS / 1000) * 1000;

/** user+system time of a process (+ its reaped children's), in ms; 0 when it is gone. */
function cpuMs(pid: number, withChildren = false): number {
  const cpu = processCpu(pid);
  return cpu ? cpu.ownMs + (withChildren ? cpu.childrenMs : 0) : 0;
}

/** Resident memory of a process, in MiB. */
function rssMiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mediaflow-held-'));
const c = await startLocalCluster({
  dir,
  apis: 1,
  workers: 3,
  env: { LOG_LEVEL: 'WARN', RATE_LIMIT_PER_SEC: '100000', RATE_LIMIT_BURST: '100000' },
});
try {
  const api = c.apis[0]!.url!;
  const [, postmaster] = c.pids();
  const admin = new pg.Client({ connectionString: c.databaseUrl });
  await admin.connect();
  const commits = async () => Number((await admin.query("select xact_commit from pg_stat_database where datname = 'mediaflow'")).rows[0].xact_commit);
  const sample = async () => ({
    at: Date.now(),
    temporal: cpuMs(c.temporal.pid),
    workers: c.workers.reduce((s, w) => s + cpuMs(w.pid, true), 0),
    postgres: familyCpuMs(postmaster!),
    commits: await commits(),
  });
  const window = async (what: string, ms = WINDOW_MS) => {
    const a = await sample();
    await new Promise((r) => setTimeout(r, ms));
    const b = await sample();
    const sec = (b.at - a.at) / 1000;
    const cpu = { temporal: (b.temporal - a.temporal) / 1000 / sec, workers: (b.workers - a.workers) / 1000 / sec, postgres: (b.postgres - a.postgres) / 1000 / sec };
    const rate = (b.commits - a.commits - 1) / sec;
    console.log(`${what}: over ${sec.toFixed(0)} s, CPU (cores) Temporal ${cpu.temporal.toFixed(3)}, workers ${cpu.workers.toFixed(3)}, PostgreSQL ${cpu.postgres.toFixed(3)}; mediaflow DB commits ${rate.toFixed(2)}/s`);
    return { cpu: cpu.temporal + cpu.workers + cpu.postgres, rate, ...cpu };
  };
  const idle = await window('idle (no job)', IDLE_MS);

  const clip = path.join(dir, 'tiny.mp4');
  await makeClip(clip, { width: 160, height: 90, durationSec: 1, audio: false });
  await fetch(`${api}/v1/objects/raw/tiny.mp4`, { method: 'PUT', body: fs.readFileSync(clip) });
  const created = await fetch(`${api}/v1/pipelines`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'held', state: 'paused' }) });
  if (created.status !== 201) throw new Error(`pipeline: ${created.status} ${await created.text()}`);
  const body = JSON.stringify({ input: { key: 'raw/tiny.mp4' }, pipeline: 'held', outputs: [{ name: 'small', template: 'mp4-h264-360p' }], snapshots: [] });
  const t0 = Date.now();
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < N) {
      next++;
      const res = await fetch(`${api}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (res.status !== 202) throw new Error(`POST: ${res.status} ${await res.text()}`);
    }
  }));
  console.log(`${N} jobs submitted to the paused pipeline in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const memory = async () => {
    const size = await admin.query("select pg_database_size('temporal') as t, pg_database_size('temporal_visibility') as v");
    return `Temporal server RSS ${rssMiB(c.temporal.pid).toFixed(0)} MiB, Temporal databases ${((Number(size.rows[0].t) + Number(size.rows[0].v)) / 2 ** 20).toFixed(0)} MiB`;
  };
  console.log(`memory: ${await memory()}`);
  const windows = [];
  for (let i = 0; i < WINDOWS; i++) {
    const from = (i * WINDOW_MS) / 1000;
    windows.push(await window(`${N} held jobs (seconds ${from}–${from + WINDOW_MS / 1000} after the burst)`));
    console.log(`memory: ${await memory()}`);
  }
  // The cost of one check is measured in the window that holds the most.
  const busiest = windows.reduce((a, b) => (b.rate > a.rate ? b : a));
  const checks = busiest.rate - idle.rate;
  const perCheck = (busiest.cpu - idle.cpu) / checks;
  console.log(`one check: ${(perCheck * 1000).toFixed(1)} ms of CPU (Temporal + worker + PostgreSQL), from ${checks.toFixed(1)} checks/s`);
  console.log(`${N} held jobs: at a fixed 30 s re-check (before the backoff) ${(N / 30).toFixed(1)} checks/s ≈ ${((N / 30) * perCheck).toFixed(2)} cores; at the 1 h ceiling ${(N / 3600).toFixed(2)} checks/s ≈ ${((N / 3600) * perCheck).toFixed(3)} cores`);
  await admin.end();
} finally {
  await c.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}

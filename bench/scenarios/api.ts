/**
 * Scenario 4: the API under 50 concurrent clients. Submissions go to a pipeline no worker serves,
 * so the jobs only queue in Temporal: the latency measured is the API's own work (validation,
 * templates, pipeline and store lookups, the workflow start) and not the worker's CPU use.
 * GET /v1/jobs/{id} is measured on the finished jobs of the other scenarios (describe + result),
 * and separately, a few times, on jobs no worker has picked up yet.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { summarize, type Summary } from '../stats';
import type { LoadPlan, LoadResult } from '../api-load';
import type { BenchService } from '../service';
import { loadAverage, makeSource, type BenchSettings, type JobRecord } from './common';

export interface LoadSummary {
  clients: number;
  requests: number;
  warmup: number;
  latencyMs: Summary;
  requestsPerSec: number;
  statuses: Record<string, number>;
  example: { method: string; path: string; body?: unknown };
}

export interface ApiResult {
  pipeline: string;
  /** One client, one request at a time: the latency without contention. */
  submitOneClient: LoadSummary;
  submit: LoadSummary;
  getFinished: LoadSummary | null;
  /** GETs (concurrent, one per job) of jobs no worker has started: the API falls back to the workflow's description. */
  getQueued: { samples: number; latencyMs: Summary; note: string };
  loadAverage: { before: number[]; after: number[] };
}

const root = path.resolve(import.meta.dirname, '../..');

function runLoad(plan: LoadPlan): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bench/api-load.ts'), JSON.stringify(plan)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`api-load exited ${code}`));
      try {
        resolve(JSON.parse(out) as LoadResult);
      } catch (err) {
        reject(err);
      }
    });
  });
}

function summaryOf(plan: LoadPlan, r: LoadResult): LoadSummary {
  return {
    clients: plan.clients,
    requests: plan.total,
    warmup: plan.warmup,
    latencyMs: summarize(r.latenciesMs),
    requestsPerSec: Math.round((r.latenciesMs.length / (r.wallMs / 1000)) * 10) / 10,
    statuses: r.statuses,
    example: plan.requests[0]!,
  };
}

export async function runApi(service: BenchService, settings: BenchSettings, jobs: JobRecord[]): Promise<ApiResult> {
  const before = loadAverage();
  const pipeline = 'bench-unserved';
  const res = await fetch(`${service.base}/v1/pipelines`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: pipeline }) });
  if (res.status !== 201) throw new Error(`create pipeline: HTTP ${res.status} ${await res.text()}`);
  const source = await makeSource(path.join(settings.workDir), 'api-source.mp4', 320, 240, 1);
  const inputKey = 'bench/api/source.mp4';
  await service.upload(source.file, inputKey);
  const body = { input: { key: inputKey }, pipeline, outputs: [{ name: '360p', template: 'mp4-h264-360p' }], outputPrefix: 'bench/api/' };

  const onePlan: LoadPlan = { base: service.base, clients: 1, warmup: 5, total: 50, requests: [{ method: 'POST', path: '/v1/jobs', body }] };
  const submitOneClient = summaryOf(onePlan, await runLoad(onePlan));
  const submitPlan: LoadPlan = {
    base: service.base,
    clients: settings.apiClients,
    warmup: settings.apiClients,
    total: settings.apiSubmits,
    requests: [{ method: 'POST', path: '/v1/jobs', body }],
  };
  const submit = summaryOf(submitPlan, await runLoad(submitPlan));

  let getFinished: LoadSummary | null = null;
  if (jobs.length) {
    const getPlan: LoadPlan = {
      base: service.base,
      clients: settings.apiClients,
      warmup: settings.apiClients,
      total: settings.apiGets,
      requests: jobs.map((j) => ({ method: 'GET', path: `/v1/jobs/${j.id}` })),
    };
    getFinished = summaryOf(getPlan, await runLoad(getPlan));
  }

  const ids = await Promise.all(Array.from({ length: 5 }, async () => (await service.submit(body)).id));
  const queued = await Promise.all(
    ids.map(async (id) => {
      const t0 = performance.now();
      const r = await fetch(`${service.base}/v1/jobs/${id}`);
      await r.arrayBuffer();
      return performance.now() - t0;
    }),
  );
  return {
    pipeline,
    submitOneClient,
    submit,
    getFinished,
    getQueued: {
      samples: queued.length,
      latencyMs: summarize(queued),
      note: 'GET of a job whose workflow no worker has started: the API first tries the workflow query, which waits for a worker until TEMPORAL_RPC_TIMEOUT_SEC, then answers from the description',
    },
    loadAverage: { before, after: loadAverage() },
  };
}

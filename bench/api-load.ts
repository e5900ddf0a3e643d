/**
 * The API load generator, run as its own process so the clients do not share an event loop with
 * the API they measure. `clients` loops each send their next request as soon as the previous one
 * answered (closed loop, keep-alive connections), until `total` requests were sent after `warmup`
 * unmeasured ones. Input: one JSON argument; output: one JSON line on stdout.
 */
import { performance } from 'node:perf_hooks';

export interface LoadPlan {
  base: string;
  clients: number;
  warmup: number;
  total: number;
  /** Requests, taken in turn. */
  requests: { method: 'GET' | 'POST'; path: string; body?: unknown }[];
}

export interface LoadResult {
  latenciesMs: number[];
  statuses: Record<string, number>;
  wallMs: number;
}

async function main(plan: LoadPlan): Promise<LoadResult> {
  let sent = 0;
  const latenciesMs: number[] = [];
  const statuses: Record<string, number> = {};
  const one = async (measured: boolean) => {
    const r = plan.requests[sent++ % plan.requests.length]!;
    const init: RequestInit = { method: r.method };
    if (r.body !== undefined) init.body = JSON.stringify(r.body);
    if (r.body !== undefined) init.headers = { 'content-type': 'application/json' };
    const t0 = performance.now();
    const res = await fetch(plan.base + r.path, init);
    await res.arrayBuffer();
    const ms = performance.now() - t0;
    if (!measured) return;
    latenciesMs.push(ms);
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
  };
  const run = async (count: number, measured: boolean) => {
    let left = count;
    const client = async () => {
      while (left > 0) {
        left--;
        await one(measured);
      }
    };
    await Promise.all(Array.from({ length: plan.clients }, client));
  };
  await run(plan.warmup, false);
  const t0 = performance.now();
  await run(plan.total, true);
  return { latenciesMs, statuses, wallMs: performance.now() - t0 };
}

const plan = JSON.parse(process.argv[2] ?? '{}') as LoadPlan;
process.stdout.write(`${JSON.stringify(await main(plan))}\n`);

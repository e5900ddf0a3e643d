/**
 * Prometheus metrics of the API and the worker, on one registry per process (`npm run dev` runs
 * both in one process, so its /metrics shows both). Names: `mediaflow_*`; no label ever holds a
 * job id, key or other unbounded value.
 */
import http from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'mediaflow_process_' });

const durationBuckets = [0.05, 0.25, 1, 5, 15, 60, 300, 1800, 7200];

export const metrics = {
  httpRequests: new Counter({
    name: 'mediaflow_http_requests_total',
    help: 'API requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  }),
  httpDuration: new Histogram({
    name: 'mediaflow_http_request_duration_seconds',
    help: 'API request latency by method and route pattern',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  }),
  jobsSubmitted: new Counter({
    name: 'mediaflow_jobs_submitted_total',
    help: 'Jobs accepted by POST /v1/jobs (idempotent replays not counted)',
    labelNames: ['pipeline'] as const,
    registers: [registry],
  }),
  activityDuration: new Histogram({
    name: 'mediaflow_task_duration_seconds',
    help: 'Worker activity attempts (probe, transcode, snapshot, watermark, package, notify, …) by outcome',
    labelNames: ['activity', 'outcome'] as const,
    buckets: durationBuckets,
    registers: [registry],
  }),
  queueLag: new Histogram({
    name: 'mediaflow_task_queue_lag_seconds',
    help: 'Time an activity attempt waited between being scheduled and a worker starting it',
    labelNames: ['activity'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600],
    registers: [registry],
  }),
  ffmpegSeconds: new Histogram({
    name: 'mediaflow_ffmpeg_run_seconds',
    help: 'Wall time of each ffmpeg run by outcome (ok, failed, canceled)',
    labelNames: ['outcome'] as const,
    buckets: durationBuckets,
    registers: [registry],
  }),
};

/**
 * A gauge read at scrape time, e.g. jobs by status from Temporal visibility. The reader gets a
 * deadline; a failed read leaves the series out of that scrape rather than failing it.
 */
export function scrapeGauge(name: string, help: string, labelName: string, read: () => Promise<Record<string, number>>): Gauge<string> {
  const existing = registry.getSingleMetric(name);
  if (existing) registry.removeSingleMetric(name);
  return new Gauge({
    name,
    help,
    labelNames: [labelName],
    registers: [registry],
    async collect() {
      this.reset();
      const values = await read().catch(() => ({}));
      for (const [label, value] of Object.entries(values)) this.set({ [labelName]: label }, value);
    },
  });
}

/** When each cached gauge's values were last read from their source (see cachedRead). */
const readAt = new Map<string, number>();

const cacheMetrics = {
  age: new Gauge({
    name: 'mediaflow_gauge_age_seconds',
    help: 'Seconds since a cached gauge (e.g. mediaflow_jobs) last read its values from their source; it grows while refreshes fail',
    labelNames: ['gauge'] as const,
    registers: [registry],
    collect() {
      for (const [gauge, at] of readAt) this.set({ gauge }, (Date.now() - at) / 1000);
    },
  }),
  failures: new Counter({
    name: 'mediaflow_gauge_refresh_failures_total',
    help: 'Refreshes of a cached gauge that failed (the gauge keeps showing its last values)',
    labelNames: ['gauge'] as const,
    registers: [registry],
  }),
};

/**
 * A scrape-time read that asks its source at most once every `maxAgeSec`: scrapes in between get
 * the last values, concurrent scrapes share the one refresh in flight, and a failed refresh keeps
 * the last values (counted in mediaflow_gauge_refresh_failures_total, and
 * mediaflow_gauge_age_seconds keeps growing). Only with no values yet does a failure reach the
 * caller, which then leaves the series out.
 *
 * @example const counts = cachedRead('mediaflow_jobs', 15, () => countJobs()); await counts()
 */
export function cachedRead<T>(gauge: string, maxAgeSec: number, read: () => Promise<T>): () => Promise<T> {
  let last: { value: T } | null = null;
  let lastError: unknown = null;
  let attemptedAt = -Infinity;
  let inFlight: Promise<T> | null = null;
  return () => {
    if (inFlight) return inFlight;
    if (Date.now() - attemptedAt < maxAgeSec * 1000) return last ? Promise.resolve(last.value) : Promise.reject(lastError);
    attemptedAt = Date.now();
    inFlight = read()
      .then(
        (value) => {
          last = { value };
          readAt.set(gauge, Date.now());
          return value;
        },
        (err: unknown) => {
          cacheMetrics.failures.inc({ gauge });
          lastError = err;
          if (last) return last.value;
          throw err;
        },
      )
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  };
}

/** The text exposition of every metric of this process. */
export async function metricsText(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/**
 * A bare /metrics listener for worker processes (the API serves its own route).
 *
 * @example const server = await serveMetrics('0.0.0.0', 9464)
 */
export async function serveMetrics(host: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') return res.writeHead(404).end();
    metricsText().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return server;
}

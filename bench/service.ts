/**
 * The service under test, as the bench drives it: the test stack (Temporal dev server, the API in
 * this process) plus one worker *process* whose ffmpeg/ffprobe go through the timing shim, and the
 * HTTP calls a client makes (upload, submit, poll). Also reads each job's history back.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Payload } from '@temporalio/common';
import { resolveFfmpeg, type FfmpegBinaries } from '../activities/ffmpeg-path';
import type { ChunkedInput, EncodeInput, SnapshotInput, TranscodeInput } from '../activities';
import type { SnapshotTask, TranscodeTask } from '../media/plan';
import type { JobState } from '../model/job-state';
import { finalJobStatuses } from '../model/job-state';
import { spawnWorker, startStack, type Stack, type WorkerProcess } from '../test/helpers/stack';
import { devServerPid, processCpu } from './cpu';
import { timelineOf, type JobTimeline } from './history';
import { parseRunLog, type ProcessRun } from './overhead';

const here = import.meta.dirname;

export interface BenchService {
  base: string;
  stack: Stack;
  /** The real binaries (the baselines run these directly; the worker runs them through the shim). */
  binaries: FfmpegBinaries;
  /** The worker's WORKER_ACTIVITY_CONCURRENCY: ffmpeg runs at once. */
  concurrency: number;
  /** What the worker passes to the service's argument builders. */
  limits: { threads: number; maxOutputBytes: number };
  upload(file: string, key: string): Promise<void>;
  /** POSTs a job; postMs is the wall clock just before the request went out. */
  submit(body: unknown): Promise<{ id: string; postMs: number }>;
  /** Polls GET /v1/jobs/{id} until the job is final; seenMs is when the answer said so. */
  pollUntilFinal(id: string, intervalMs: number): Promise<{ seenMs: number; job: JobState }>;
  /** Waits for the workflow to close without polling (a long poll on Temporal). */
  waitClosed(id: string): Promise<JobState>;
  /** Polls HEAD /v1/objects/{key} until it answers 200; resolves that moment. */
  waitObject(key: string, intervalMs: number, timeoutMs?: number): Promise<number>;
  timeline(id: string): Promise<JobTimeline>;
  /**
   * The tasks the workflow handed to its activities, decoded from the history: every transcode
   * task (from `encode` activities, chunked groups and, in old histories, `transcode`), the groups
   * as the workflow ran them (one shared encode, or chunks), and the snapshots.
   */
  tasksOf(timeline: JobTimeline): { transcodes: TranscodeTask[]; encodes: TranscodeTask[][]; chunked: TranscodeTask[][]; snapshots: SnapshotTask[] };
  /** Starts another worker process (same shim, same settings); its ActivityTaskStarted identity begins with `pid@`. */
  addWorker(): Promise<{ pid: number; stop(): Promise<void> }>;
  /** The worker process the stack started with. */
  workerPid: number;
  /** POST /v1/jobs/{id}/cancel. */
  cancel(id: string): Promise<void>;
  /** The file the worker's ffmpeg reads for an input object (the local store serves it in place). */
  inputPath(key: string): string;
  /** Every ffmpeg/ffprobe run the worker made so far. */
  runs(): Promise<ProcessRun[]>;
  /** CPU used so far, per process; subtract two samples for what happened in between. */
  cpu(): CpuSample;
  stop(): Promise<void>;
}

export interface CpuSample {
  /** The worker process and its finished ffmpeg/ffprobe runs. */
  workerMs: number;
  /** … of which its finished children: ffmpeg/ffprobe (and the timing shim around each). */
  workerChildrenMs: number;
  /** The Temporal dev server. */
  temporalMs: number;
  /** This process: the API, and the bench's own polling. */
  apiMs: number;
  /** This process's finished children: the baselines' ffmpeg (and the load generator). */
  benchChildrenMs: number;
}

/** b − a, field by field. */
export function cpuDelta(a: CpuSample, b: CpuSample): CpuSample & { serviceMs: number } {
  const d = {
    workerMs: b.workerMs - a.workerMs,
    workerChildrenMs: b.workerChildrenMs - a.workerChildrenMs,
    temporalMs: b.temporalMs - a.temporalMs,
    apiMs: b.apiMs - a.apiMs,
    benchChildrenMs: b.benchChildrenMs - a.benchChildrenMs,
  };
  return { ...d, serviceMs: d.workerMs + d.temporalMs + d.apiMs };
}

async function installShim(dir: string): Promise<{ ffmpeg: string; ffprobe: string }> {
  await fs.mkdir(dir, { recursive: true });
  const script = await fs.readFile(path.join(here, 'ffmpeg-shim.sh'));
  const out = { ffmpeg: path.join(dir, 'ffmpeg'), ffprobe: path.join(dir, 'ffprobe') };
  for (const file of Object.values(out)) await fs.writeFile(file, script, { mode: 0o755 });
  return out;
}

/**
 * @example const service = await startService({ concurrency: 2 }); … await service.stop()
 */
export async function startService(options: { concurrency: number; persist: boolean }): Promise<BenchService> {
  const binaries = await resolveFfmpeg(process.env);
  const stack = await startStack({
    api: true,
    worker: 'none',
    persist: options.persist,
    // The bench measures the service, not the per-key rate limiter: all its clients share one
    // address (the open development mode limits by address), so the limit is lifted here.
    // ALLOW_PRIVATE_URLS: the head-of-line scenario's callback receiver listens on loopback.
    env: { WORKER_ACTIVITY_CONCURRENCY: String(options.concurrency), ALLOW_PRIVATE_URLS: 'true', MAX_BODY_BYTES: String(64 * 1024), RATE_LIMIT_PER_SEC: '100000', RATE_LIMIT_BURST: '100000' },
  });
  let worker: WorkerProcess | null = null;
  const runLog = path.join(stack.dataDir, 'ffmpeg-runs.log');
  let workerEnv: Record<string, string> = {};
  const extraWorkers: WorkerProcess[] = [];
  try {
    await fs.writeFile(runLog, '');
    const shim = await installShim(path.join(stack.dataDir, 'shim'));
    workerEnv = {
      WORKER_ACTIVITY_CONCURRENCY: String(options.concurrency),
      ALLOW_PRIVATE_URLS: 'true',
      FFMPEG_PATH: shim.ffmpeg,
      FFPROBE_PATH: shim.ffprobe,
      BENCH_REAL_FFMPEG: binaries.ffmpeg,
      BENCH_REAL_FFPROBE: binaries.ffprobe,
      BENCH_RUN_LOG: runLog,
    };
    worker = await spawnWorker(stack.config, workerEnv);
  } catch (err) {
    await stack.stop();
    throw err;
  }
  const base = stack.api!.url;
  const workerPid = worker!.child.pid!;
  const temporalPid = devServerPid(Number(stack.config.TEMPORAL_ADDRESS.split(':').pop()));
  function cpu(): CpuSample {
    const w = processCpu(workerPid);
    const t = temporalPid ? processCpu(temporalPid) : null;
    const self = processCpu('self');
    const own = process.cpuUsage();
    return {
      workerMs: w ? w.ownMs + w.childrenMs : NaN,
      workerChildrenMs: w ? w.childrenMs : NaN,
      temporalMs: t ? t.ownMs : NaN,
      apiMs: (own.user + own.system) / 1000,
      benchChildrenMs: self ? self.childrenMs : NaN,
    };
  }
  const converter = stack.client.options.loadedDataConverter.payloadConverter;
  // Resolved like the shim resolves ffmpeg's input, so the two compare equal.
  const objectsRoot = await fs.realpath(path.join(stack.dataDir, 'objects'));

  async function upload(file: string, key: string): Promise<void> {
    const res = await fetch(`${base}/v1/objects/${key}`, { method: 'PUT', body: await fs.readFile(file) });
    if (res.status !== 201) throw new Error(`upload ${key}: HTTP ${res.status} ${await res.text()}`);
  }

  async function submit(body: unknown): Promise<{ id: string; postMs: number }> {
    const postMs = Date.now();
    const res = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answer = (await res.json()) as { id?: string };
    if (res.status !== 202 || !answer.id) throw new Error(`submit: HTTP ${res.status} ${JSON.stringify(answer)}`);
    return { id: answer.id, postMs };
  }

  async function pollUntilFinal(id: string, intervalMs: number): Promise<{ seenMs: number; job: JobState }> {
    for (;;) {
      const res = await fetch(`${base}/v1/jobs/${id}`);
      const job = (await res.json()) as JobState;
      const seenMs = Date.now();
      if (res.status !== 200) throw new Error(`GET job ${id}: HTTP ${res.status} ${JSON.stringify(job)}`);
      if (finalJobStatuses.includes(job.status)) {
        if (job.status !== 'succeeded') throw new Error(`job ${id} ended ${job.status}: ${JSON.stringify(job.error)}`);
        return { seenMs, job };
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  async function waitClosed(id: string): Promise<JobState> {
    const job = (await stack.client.workflow.getHandle(id).result()) as JobState;
    if (job.status !== 'succeeded') throw new Error(`job ${id} ended ${job.status}: ${JSON.stringify(job.error)}`);
    return job;
  }

  async function waitObject(key: string, intervalMs: number, timeoutMs = 600_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const res = await fetch(`${base}/v1/objects/${key}`, { method: 'HEAD' });
      if (res.status === 200) return Date.now();
      await new Promise((r) => setTimeout(r, intervalMs));
    }
    throw new Error(`object ${key} did not appear within ${timeoutMs} ms`);
  }

  async function timeline(id: string): Promise<JobTimeline> {
    return timelineOf(await stack.client.workflow.getHandle(id).fetchHistory());
  }

  function tasksOf(t: JobTimeline): ReturnType<BenchService['tasksOf']> {
    const transcodes: TranscodeTask[] = [];
    const encodes: TranscodeTask[][] = [];
    const chunked: TranscodeTask[][] = [];
    const snapshots: SnapshotTask[] = [];
    for (const a of t.activities) {
      const first = a.inputPayloads[0] as Payload | undefined;
      if (!first || a.outcome !== 'completed') continue;
      if (a.type === 'transcode') transcodes.push(converter.fromPayload<TranscodeInput>(first).task);
      if (a.type === 'encode') {
        const { tasks } = converter.fromPayload<EncodeInput>(first);
        encodes.push(tasks);
        transcodes.push(...tasks);
      }
      // The join carries the whole group once (each chunk carries it too).
      if (a.type === 'joinRenditions') {
        const { group } = converter.fromPayload<ChunkedInput>(first);
        chunked.push(group.tasks);
        transcodes.push(...group.tasks);
      }
      if (a.type === 'snapshot') snapshots.push(converter.fromPayload<SnapshotInput>(first).task);
    }
    return { transcodes, encodes, chunked, snapshots };
  }

  async function addWorker(): Promise<{ pid: number; stop(): Promise<void> }> {
    const w = await spawnWorker(stack.config, workerEnv);
    extraWorkers.push(w);
    return { pid: w.child.pid!, stop: () => w.stop() };
  }

  async function cancel(id: string): Promise<void> {
    const res = await fetch(`${base}/v1/jobs/${id}/cancel`, { method: 'POST' });
    if (res.status !== 202) throw new Error(`cancel ${id}: HTTP ${res.status} ${await res.text()}`);
  }

  return {
    base,
    stack,
    binaries,
    concurrency: options.concurrency,
    limits: { threads: stack.config.FFMPEG_THREADS, maxOutputBytes: stack.config.MAX_OUTPUT_BYTES },
    upload,
    submit,
    pollUntilFinal,
    waitClosed,
    waitObject,
    timeline,
    tasksOf,
    addWorker,
    workerPid,
    cancel,
    inputPath: (key) => path.join(objectsRoot, key),
    runs: async () => parseRunLog(await fs.readFile(runLog, 'utf8')),
    cpu,
    async stop() {
      for (const w of extraWorkers) await w.stop();
      await worker?.stop();
      await stack.stop();
    },
  };
}

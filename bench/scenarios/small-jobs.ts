/**
 * Scenario 2: many small jobs submitted at once (5 s 480p → 360p MP4 + poster each), jobs per
 * minute against a plain loop of the same ffmpeg commands with the worker's parallelism.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ratio, summarize, type Summary } from '../stats';
import { runPool, type Command } from '../processes';
import { cpuDelta, type BenchService } from '../service';
import { spawnWorker } from '../../test/helpers/stack';
import { processCpu } from '../cpu';
import { probeArgs } from '../../media/args/probe';
import type { BareJob } from '../bare/workflow';
import { loadAverage, makeSource, shown, snapshotCommand, transcodeCommand, type BenchSettings, type CpuUse, type JobRecord } from './common';

export interface SmallJobsResult {
  jobs: number;
  source: { description: string; command: string[] };
  request: unknown;
  /** First POST sent → last workflow closed (Temporal's close time; jobs are long-polled, not polled). */
  serviceMs: number;
  serviceJobsPerMin: number;
  /** CPU of all the jobs: worker (with its ffmpeg/ffprobe), Temporal server, API process. */
  serviceCpu: CpuUse;
  /** POST → workflow closed, per job: what one job waits when it arrives with all the others. */
  jobLatencyMs: Summary;
  baseline: { description: string; parallel: number; ms: number; jobsPerMin: number; cpuMs: number; commandsPerJob: string[][] };
  /** Service CPU ÷ plain ffmpeg CPU. */
  cpuRatio: number | null;
  /** Service jobs/min ÷ plain-loop jobs/min. */
  throughputRatio: number | null;
  /**
   * The same commands (plus the two ffprobes the service runs) as one bare Temporal workflow per job
   * (bench/bare/): what orchestration on Temporal costs by itself, measured in the same run.
   */
  bare: { description: string; ms: number; jobsPerMin: number; cpu: { totalMs: number; temporalMs: number; workerMs: number; workerChildrenMs: number }; throughputRatio: number | null; cpuRatio: number | null };
  /** Service jobs/min ÷ bare-Temporal jobs/min: mediaflow's own cost above the orchestration floor. */
  serviceVsBare: number | null;
  loadAverage: { before: number[]; after: number[] };
}

export async function runSmallJobs(service: BenchService, settings: BenchSettings, jobs: JobRecord[]): Promise<SmallJobsResult> {
  const before = loadAverage();
  const n = settings.smallJobs;
  const dir = path.join(settings.workDir, 'small');
  const outDir = path.join(dir, 'baseline');
  await fs.mkdir(outDir, { recursive: true });
  const source = await makeSource(dir, 'source.mp4', 854, 480, 5);
  // One input object per job: the same bytes, but each job's ffmpeg runs can be told apart.
  const keys = Array.from({ length: n }, (_, i) => `bench/small/${String(i + 1).padStart(3, '0')}.mp4`);
  for (const key of keys) await service.upload(source.file, key);

  const requestOf = (key: string) => ({ input: { key }, outputs: [{ name: '360p', template: 'mp4-h264-360p' }], outputPrefix: 'bench/out/' });
  const cpu0 = service.cpu();
  const submitted = await Promise.all(keys.map(async (key) => ({ key, ...(await service.submit(requestOf(key))) })));
  await Promise.all(submitted.map((s) => service.waitClosed(s.id)));
  const { serviceMs: cpuMs, workerMs, workerChildrenMs, temporalMs, apiMs } = cpuDelta(cpu0, service.cpu());
  const records: JobRecord[] = [];
  for (const s of submitted) {
    const timeline = await service.timeline(s.id);
    records.push({ scenario: 'smallJobs', id: s.id, inputKey: s.key, postMs: s.postMs, seenMs: timeline.closedMs!, timeline });
  }
  jobs.push(...records);
  const firstPost = Math.min(...records.map((r) => r.postMs));
  const serviceMs = Math.max(...records.map((r) => r.timeline.closedMs!)) - firstPost;

  // Each job's tasks (from its history: the shared `encode` activity's input) as the plain
  // per-output commands a user would run (transcodeArgs + the snapshot), in submission order, as
  // many at once as the worker runs. (The worker runs one decode-once encode, with the audio muxed in.)
  const commands: Command[] = [];
  let perJob: Command[] = [];
  for (const [i, r] of records.entries()) {
    const { transcodes, snapshots } = service.tasksOf(r.timeline);
    const input = service.inputPath(r.inputKey);
    const mine = [...transcodes.map((t) => transcodeCommand(service, t, input, outDir, `-${i}`)), ...snapshots.map((t) => snapshotCommand(service, t, input, outDir, `-${i}`))];
    if (i === 0) perJob = mine;
    commands.push(...mine);
  }
  const cpu1 = service.cpu();
  const plain = await runPool(commands, service.concurrency);
  const plainCpuMs = cpuDelta(cpu1, service.cpu()).benchChildrenMs;
  await fs.rm(outDir, { recursive: true, force: true });
  const bare = await runBare(service, records, outDir);

  const perMin = (ms: number) => Math.round((n / (ms / 60_000)) * 10) / 10;
  return {
    jobs: n,
    source: { description: source.description, command: source.command },
    request: requestOf(keys[0]!),
    serviceMs,
    serviceJobsPerMin: perMin(serviceMs),
    serviceCpu: { serviceMs: cpuMs, workerMs, workerChildrenMs, temporalMs, apiMs },
    jobLatencyMs: summarize(records.map((r) => r.timeline.closedMs! - r.postMs)),
    baseline: {
      description: `the same ${commands.length} ffmpeg commands (${perJob.length} per job), ${service.concurrency} at a time`,
      parallel: service.concurrency,
      ms: plain.ms,
      jobsPerMin: perMin(plain.ms),
      cpuMs: plainCpuMs,
      commandsPerJob: perJob.map(shown),
    },
    throughputRatio: ratio(perMin(serviceMs), perMin(plain.ms)),
    bare: {
      description: `one bare Temporal workflow per job (bench/bare/): ffprobe of the input, then the poster (light queue) and the encode + ffprobe of the output (encode queue), ${service.concurrency} encode slots`,
      ms: bare.ms,
      jobsPerMin: perMin(bare.ms),
      cpu: bare.cpu,
      throughputRatio: ratio(perMin(bare.ms), perMin(plain.ms)),
      cpuRatio: ratio(bare.cpu.totalMs, plainCpuMs),
    },
    serviceVsBare: ratio(perMin(serviceMs), perMin(bare.ms)),
    cpuRatio: ratio(cpuMs, plainCpuMs),
    loadAverage: { before, after: loadAverage() },
  };
}

/**
 * Runs every job's commands again as bare Temporal workflows (a worker process of its own on the
 * same server, the real binaries), all submitted at once: wall from the first start to the last
 * result, CPU of that worker (with its ffmpeg/ffprobe) and of the Temporal server.
 */
async function runBare(service: BenchService, records: JobRecord[], outDir: string): Promise<{ ms: number; cpu: { totalMs: number; temporalMs: number; workerMs: number; workerChildrenMs: number } }> {
  const queue = `bench-bare-${Date.now()}`;
  await fs.mkdir(outDir, { recursive: true });
  const worker = await spawnWorker(service.stack.config, { BARE_QUEUE: queue, WORKER_ACTIVITY_CONCURRENCY: String(service.concurrency) }, ['--import', 'tsx', 'bench/bare/worker.ts']);
  try {
    const jobs: BareJob[] = records.map((r, i) => {
      const { transcodes, snapshots } = service.tasksOf(r.timeline);
      const input = service.inputPath(r.inputKey);
      const encode = transcodeCommand(service, transcodes[0]!, input, outDir, `-bare-${i}`);
      const poster = snapshotCommand(service, snapshots[0]!, input, outDir, `-bare-${i}`);
      return {
        queue,
        probe: [service.binaries.ffprobe, ...probeArgs(input)],
        poster: shown(poster),
        encode: shown(encode),
        check: [service.binaries.ffprobe, ...probeArgs(encode.output!)],
      };
    });
    const pid = worker.child.pid!;
    const sample = () => ({ w: processCpu(pid)!, t: service.cpu().temporalMs });
    const before = sample();
    const t0 = Date.now();
    await Promise.all(jobs.map((job, i) => service.stack.client.workflow.execute('bareJob', { taskQueue: queue, workflowId: `${queue}-${i}`, args: [job] })));
    const ms = Date.now() - t0;
    const after = sample();
    const workerMs = after.w.ownMs - before.w.ownMs;
    const workerChildrenMs = after.w.childrenMs - before.w.childrenMs;
    const temporalMs = after.t - before.t;
    return { ms, cpu: { totalMs: workerMs + workerChildrenMs + temporalMs, temporalMs, workerMs, workerChildrenMs } };
  } finally {
    await worker.stop();
    await fs.rm(outDir, { recursive: true, force: true });
  }
}

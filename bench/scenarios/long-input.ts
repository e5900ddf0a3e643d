/**
 * Scenario: a long 1080p source → the hls-h264-ladder template (1080p/720p/480p/360p HLS), which
 * the worker encodes in chunks (audio once, one activity per chunk, a join, packaging).
 * (a) One worker process, against plain ffmpeg doing the same rungs in one process: the worker's
 *     own decode-once command over the whole input (split to every rung, audio once), its
 *     stream-copy remuxes and the HLS packaging of each rung, all rebuilt from the job's tasks.
 * (b) The same job with a second worker process on this machine: which worker ran each chunk
 *     (the identity in ActivityTaskStarted).
 * (c) The projected time to publish on W = 1…16 such workers, from the measured stage times
 *     (bench/projection.ts states the model).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { hlsRungArgs } from '../../media/args/package';
import { alignedChunkSec } from '../../media/chunks';
import { chunksPerWorker, projectedMs, stageTimes, type StageTimes } from '../projection';
import { runPool, timeCommand, type Command } from '../processes';
import { ratio } from '../stats';
import { cpuDelta, type BenchService } from '../service';
import { loadAverage, sharedEncodeCommands, shown, type BenchSettings, type CpuUse, type JobRecord, type Source } from './common';

export const projectionWorkers = [1, 2, 4, 8, 16] as const;

export interface ProjectionRow {
  workers: number;
  /** With the job's own bound on chunks at once (CHUNK_MAX_PARALLEL). */
  boundedMs: number;
  /** With no bound (CHUNK_MAX_PARALLEL ≥ the chunk count). */
  unboundedMs: number;
  /** The same stage times for a 10-minute source: chunks scaled by duration, audio/join/package too. */
  tenMinuteMs: number;
  tenMinuteUnboundedMs: number;
}

export interface LongInputResult {
  source: { description: string; command: string[]; durationSec: number };
  request: unknown;
  chunking: { minDurationSec: number; chunkSec: number; maxParallel: number; slotsPerWorker: number };
  oneWorker: {
    jobId: string;
    /** POST → workflow closed. */
    jobMs: number;
    jobCpu: CpuUse;
    stages: StageTimes;
    chunksPerWorker: Record<string, number>;
    activities: { id: string; type: string; identity: string | null; queueMs: number | null; runMs: number | null }[];
  };
  baseline: {
    description: string;
    /** The one decode-once encode over the whole input. */
    encodeMs: number;
    remuxMs: number;
    packageMs: number;
    /** encode + remux + package. */
    ms: number;
    cpuMs: number;
    commands: string[][];
  };
  /** Job wall ÷ the plain encode + remux + package; and ÷ the encode alone. */
  wallRatio: number | null;
  wallRatioEncodeOnly: number | null;
  cpuRatio: number | null;
  twoWorkers: { jobId: string; jobMs: number; workerPids: number[]; chunksPerWorker: Record<string, number>; chunksOnBoth: boolean } | null;
  projection: { model: string; rows: ProjectionRow[] };
  loadAverage: { before: number[]; after: number[] };
}

export const projectionModel =
  'time to publish ≈ probe + max(audio, ceil(chunks / P) × chunk) + join + package, P = min(W × slots, CHUNK_MAX_PARALLEL); ' +
  'measured stage times of the one-worker run (chunk: the median chunk, run beside the others on this machine); ignores queueing, ' +
  "workflow round trips and the audio's own slot; assumes each extra worker brings its own cores";

export function projectionRows(stages: StageTimes, sourceSec: number, slots: number, maxParallel: number, chunkSec: number): ProjectionRow[] {
  const scale = 600 / sourceSec;
  const ten: StageTimes = {
    ...stages,
    chunks: Math.ceil(600 / chunkSec),
    audioMs: stages.audioMs * scale,
    joinMs: stages.joinMs * scale,
    packageMs: stages.packageMs * scale,
  };
  return projectionWorkers.map((w) => ({
    workers: w,
    boundedMs: projectedMs(stages, w, slots, maxParallel),
    unboundedMs: projectedMs(stages, w, slots),
    tenMinuteMs: projectedMs(ten, w, slots, maxParallel),
    tenMinuteUnboundedMs: projectedMs(ten, w, slots),
  }));
}

export async function runLongInput(service: BenchService, settings: BenchSettings, source: Source, jobs: JobRecord[]): Promise<LongInputResult> {
  const before = loadAverage();
  const cfg = service.stack.config;
  const chunking = { minDurationSec: cfg.CHUNK_MIN_DURATION_SEC, chunkSec: cfg.CHUNK_SEC, maxParallel: cfg.CHUNK_MAX_PARALLEL, slotsPerWorker: service.concurrency };
  const requestOf = (key: string) => ({ input: { key }, outputs: [{ name: 'hls', template: 'hls-h264-ladder' }], outputPrefix: 'bench/out/' });

  const runJob = async (inputKey: string) => {
    await service.upload(source.file, inputKey);
    const cpu0 = service.cpu();
    const { id, postMs } = await service.submit(requestOf(inputKey));
    await service.waitClosed(id);
    const cpu = cpuDelta(cpu0, service.cpu());
    const timeline = await service.timeline(id);
    jobs.push({ scenario: 'longInput', id, inputKey, postMs, seenMs: timeline.closedMs!, timeline });
    return { id, postMs, timeline, jobMs: timeline.closedMs! - postMs, cpu };
  };

  // (a) one worker.
  const one = await runJob('bench/long/one-worker.mp4');
  const stages = stageTimes(one.timeline);
  const { chunked } = service.tasksOf(one.timeline);
  const group = chunked[0];
  if (!group) throw new Error('the long job ran no chunked group');

  // Plain ffmpeg: the same rungs in one process over the whole input, remuxed, packaged.
  const outDir = path.join(settings.workDir, 'long-baseline');
  const input = service.inputPath('bench/long/one-worker.mp4');
  const { encode, remuxes } = sharedEncodeCommands(service, group, input, outDir);
  const packages: Command[] = [];
  for (const [i, r] of remuxes.entries()) {
    const task = r.task;
    const dir = path.join(outDir, `hls-${i}`);
    await fs.mkdir(dir, { recursive: true });
    packages.push({ label: `package ${task.name}`, binary: service.binaries.ffmpeg, args: hlsRungArgs(r.output!, dir, task.rung?.segmentSec ?? 6), output: path.join(dir, 'index.m3u8') });
  }
  const c0 = service.cpu();
  const encodeMs = (await timeCommand(encode)).ms;
  const remuxMs = (await runPool(remuxes, 1)).ms;
  const packageMs = (await runPool(packages, 1)).ms;
  const baselineCpuMs = cpuDelta(c0, service.cpu()).benchChildrenMs;
  await fs.rm(outDir, { recursive: true, force: true });
  const baselineMs = encodeMs + remuxMs + packageMs;

  // (b) a second worker process joins.
  let twoWorkers: LongInputResult['twoWorkers'] = null;
  const second = await service.addWorker();
  try {
    const two = await runJob('bench/long/two-workers.mp4');
    const per = chunksPerWorker(two.timeline);
    const pids = [service.workerPid, second.pid];
    twoWorkers = {
      jobId: two.id,
      jobMs: two.jobMs,
      workerPids: pids,
      chunksPerWorker: per,
      chunksOnBoth: pids.every((pid) => Object.keys(per).some((who) => who.startsWith(`${pid}@`))),
    };
  } finally {
    await second.stop();
  }

  const { serviceMs, workerMs, workerChildrenMs, temporalMs, apiMs } = one.cpu;
  const durationSec = group[0]!.durationSec;
  return {
    source: { description: source.description, command: source.command, durationSec },
    request: requestOf('bench/long/one-worker.mp4'),
    chunking,
    oneWorker: {
      jobId: one.id,
      jobMs: one.jobMs,
      jobCpu: { serviceMs, workerMs, workerChildrenMs, temporalMs, apiMs },
      stages,
      chunksPerWorker: chunksPerWorker(one.timeline),
      activities: one.timeline.activities.map((a) => ({
        id: a.activityId,
        type: a.type,
        identity: a.identity,
        queueMs: a.startedMs === null ? null : Math.round(a.startedMs - a.scheduledMs),
        runMs: a.startedMs === null || a.closedMs === null ? null : Math.round(a.closedMs - a.startedMs),
      })),
    },
    baseline: {
      description:
        "plain ffmpeg, one after another: the worker's decode-once command over the whole input (split to every rung, audio encoded once), the stream-copy remux of each rung, the HLS packaging of each rung (hlsRungArgs)",
      encodeMs,
      remuxMs,
      packageMs,
      ms: baselineMs,
      cpuMs: baselineCpuMs,
      commands: [encode, ...remuxes, ...packages].map(shown),
    },
    wallRatio: ratio(one.jobMs, baselineMs),
    wallRatioEncodeOnly: ratio(one.jobMs, encodeMs),
    cpuRatio: ratio(serviceMs, baselineCpuMs),
    twoWorkers,
    // The chunk length the plan used: CHUNK_SEC rounded up to whole GOPs and segments.
    projection: { model: projectionModel, rows: projectionRows(stages, durationSec, service.concurrency, chunking.maxParallel, alignedChunkSec(group, chunking.chunkSec, Infinity) ?? chunking.chunkSec) },
    loadAverage: { before, after: loadAverage() },
  };
}

/**
 * Scenario 1: a 1080p30 source → 720p/480p/360p H.264 MP4 + the default poster, as one job, against
 * the very same ffmpeg commands run one after another, all at once, as many at once as the worker
 * runs, and as one decode-once process with a split filter.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { median, ratio } from '../stats';
import { runPool, timeCommand, type Command } from '../processes';
import { splitLadderArgs } from '../split-ladder';
import { cpuDelta, type BenchService } from '../service';
import { loadAverage, shown, snapshotCommand, transcodeCommand, type BenchSettings, type CpuUse, type JobRecord, type Source } from './common';

export interface Baseline {
  name: string;
  description: string;
  /** Median over the rounds. */
  ms: number;
  /** Median job wall time ÷ this baseline's median wall time. */
  jobRatio: number | null;
  /** CPU time of its ffmpeg processes (median). */
  cpuMs: number;
  /** Median service CPU time of the job ÷ this baseline's. */
  cpuRatio: number | null;
  commands: string[][];
}

export interface LadderRound {
  jobId: string;
  /** POST sent → the workflow closed (long poll) and a GET answered succeeded. */
  jobMs: number;
  /** POST sent → the snapshot activity completed (from the history; the object exists by then). */
  posterMs: number;
  baselineMs: Record<string, number>;
  /** CPU of the job: worker (with its ffmpeg/ffprobe), Temporal server, API process. */
  jobCpu: CpuUse;
  baselineCpuMs: Record<string, number>;
  /** Each command's own time in the sequential baseline. */
  sequentialCommandMs: Record<string, number>;
}

export interface LadderResult {
  source: { description: string; command: string[]; shortened: boolean };
  request: unknown;
  pollMs: number;
  rounds: LadderRound[];
  /** Medians over the rounds. */
  jobMs: number;
  jobCpuMs: number;
  posterMs: number;
  outputs: { name: string; sizeBytes: number; width: number | null; height: number | null }[];
  baselines: Baseline[];
  /** What the sequential baseline wrote: sizes within a few bytes of the job's show the commands are the same. */
  baselineOutputBytes: Record<string, number>;
  loadAverage: { before: number[]; after: number[] };
}

const POLL_MS = 200;

export async function runLadder(service: BenchService, settings: BenchSettings, source: Source, jobs: JobRecord[]): Promise<LadderResult> {
  const before = loadAverage();
  const outDir = path.join(settings.workDir, 'ladder-baseline');
  await fs.mkdir(outDir, { recursive: true });
  const requestOf = (key: string) => ({
    input: { key },
    outputs: ['720p', '480p', '360p'].map((name) => ({ name, template: `mp4-h264-${name}` })),
    outputPrefix: 'bench/out/',
  });
  const rounds: LadderRound[] = [];
  const described = new Map<string, { description: string; commands: Command[] }>();
  let outputs: LadderResult['outputs'] = [];
  let baselineOutputBytes: Record<string, number> = {};

  for (let round = 1; round <= settings.ladderRounds; round++) {
    // Its own input object per round, so each job's ffmpeg runs can be told apart.
    const inputKey = `bench/ladder/source-${round}.mp4`;
    await service.upload(source.file, inputKey);
    const cpu0 = service.cpu();
    const { id, postMs } = await service.submit(requestOf(inputKey));
    // Waiting on Temporal's long poll, then one GET, as a client told by a webhook would: polling
    // GET or HEAD meanwhile would add the bench's own load to the job's CPU and wall time.
    await service.waitClosed(id);
    const { seenMs, job } = await service.pollUntilFinal(id, POLL_MS);
    const jobCpu = cpuDelta(cpu0, service.cpu());
    const timeline = await service.timeline(id);
    const posterAt = Math.max(...timeline.activities.filter((a) => a.type === 'snapshot').map((a) => a.closedMs ?? NaN));
    jobs.push({ scenario: 'ladder', id, inputKey, postMs, seenMs, timeline });
    outputs = job.outputs.map((o) => ({ name: o.name, sizeBytes: o.sizeBytes, width: o.video?.width ?? null, height: o.video?.height ?? null }));

    // The exact commands the worker ran, rebuilt with the service's builders from the tasks in the history.
    const { transcodes, snapshots } = service.tasksOf(timeline);
    const input = service.inputPath(inputKey);
    const rungs = transcodes.map((t) => transcodeCommand(service, t, input, outDir));
    const posters = snapshots.map((t) => snapshotCommand(service, t, input, outDir));
    const all: Command[] = [...rungs, ...posters];
    const split: Command = { label: 'ladder (split)', binary: service.binaries.ffmpeg, args: splitLadderArgs(rungs.map((r) => r.args)) };

    const baselineMs: Record<string, number> = {};
    const baselineCpuMs: Record<string, number> = {};
    const measure = async (name: string, description: string, commands: Command[], run: () => Promise<number>) => {
      described.set(name, { description, commands });
      const c0 = service.cpu();
      baselineMs[name] = await run();
      baselineCpuMs[name] = cpuDelta(c0, service.cpu()).benchChildrenMs;
    };
    let sequentialCommandMs: Record<string, number> = {};
    await measure('sequential', 'the same commands, one after another', all, async () => {
      const r = await runPool(all, 1);
      sequentialCommandMs = Object.fromEntries(r.runs.map((x) => [x.label, Math.round(x.ms)]));
      return r.ms;
    });
    baselineOutputBytes = Object.fromEntries(await Promise.all(all.map(async (c) => [c.label, (await fs.stat(c.output!)).size] as const)));
    await measure('parallel, all at once', `the same ${all.length} commands started together`, all, async () => (await runPool(all, all.length)).ms);
    await measure(
      `parallel, ${service.concurrency} at a time`,
      `the same commands, ${service.concurrency} at a time (the worker's WORKER_ACTIVITY_CONCURRENCY)`,
      all,
      async () => (await runPool(all, service.concurrency)).ms,
    );
    await measure(
      'one process, split filter',
      'one ffmpeg decodes once and encodes every rung (split filter), then the poster command',
      [split, ...posters],
      async () => (await timeCommand(split)).ms + (await runPool(posters, 1)).ms,
    );
    const { serviceMs, workerMs, workerChildrenMs, temporalMs, apiMs } = jobCpu;
    rounds.push({ jobId: id, jobMs: seenMs - postMs, posterMs: posterAt - postMs, baselineMs, jobCpu: { serviceMs, workerMs, workerChildrenMs, temporalMs, apiMs }, baselineCpuMs, sequentialCommandMs });
  }

  const jobMs = median(rounds.map((r) => r.jobMs));
  const jobCpuMs = median(rounds.map((r) => r.jobCpu.serviceMs));
  const baselines: Baseline[] = [...described].map(([name, { description, commands }]) => {
    const ms = median(rounds.map((r) => r.baselineMs[name]!));
    const cpuMs = median(rounds.map((r) => r.baselineCpuMs[name]!));
    return { name, description, ms, jobRatio: ratio(jobMs, ms), cpuMs, cpuRatio: ratio(jobCpuMs, cpuMs), commands: commands.map(shown) };
  });
  return {
    source: { description: source.description, command: source.command, shortened: settings.ladderSourceSec < 20 },
    request: requestOf('bench/ladder/source-1.mp4'),
    pollMs: POLL_MS,
    rounds,
    jobMs,
    jobCpuMs,
    posterMs: median(rounds.map((r) => r.posterMs)),
    outputs,
    baselines,
    baselineOutputBytes,
    loadAverage: { before, after: loadAverage() },
  };
}

/**
 * Scenario 1: a 1080p30 source → 720p/480p/360p H.264 MP4 + the default poster, as one job, against
 * plain ffmpeg: the per-rendition commands (one per rung, as a user would write them) run one
 * after another, all at once and as many at once as the worker runs; one process with a split
 * filter (bench/split-ladder.ts: decodes once but still encodes the audio once per rung: the
 * target of issue 11); and the worker's own decode-once commands (media/args/encode.ts: one run,
 * audio once, then stream-copy remuxes) run by hand.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { median, ratio } from '../stats';
import { runPool, timeCommand, type Command } from '../processes';
import { splitLadderArgs } from '../split-ladder';
import { cpuDelta, type BenchService } from '../service';
import { loadAverage, sharedEncodeCommands, shown, snapshotCommand, transcodeCommand, type BenchSettings, type CpuUse, type JobRecord, type Source } from './common';

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

/** The baseline issue 11's targets compare with: the single-process split command. */
export const SPLIT_BASELINE = 'one process, split filter';

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

    // The tasks the worker ran, from the history: the per-rendition commands are the plain
    // baseline; the worker's own commands (shared encode + remuxes) are rebuilt with its builders.
    const { transcodes, encodes, snapshots } = service.tasksOf(timeline);
    if (!encodes.length) throw new Error('the ladder job ran no shared encode activity (is the cut-the-work patch in?)');
    const input = service.inputPath(inputKey);
    const rungs = transcodes.map((t) => transcodeCommand(service, t, input, outDir));
    const shared = encodes.map((tasks, g) => sharedEncodeCommands(service, tasks, input, path.join(outDir, `shared-${g}`)));
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
      SPLIT_BASELINE,
      'one ffmpeg decodes once and encodes every rung (split filter; each rung still encodes its own AAC, as bench/split-ladder.ts folds the per-rung commands), then the poster command',
      [split, ...posters],
      async () => (await timeCommand(split)).ms + (await runPool(posters, 1)).ms,
    );
    const sharedCommands = shared.flatMap((x) => [x.encode, ...x.remuxes]);
    await measure(
      "the worker's decode-once commands",
      "the worker's own commands by hand (media/args/encode.ts): one run decodes once, encodes every rung and the audio once, then a stream-copy remux per rung, then the poster command",
      [...sharedCommands, ...posters],
      async () => (await runPool(sharedCommands, 1)).ms + (await runPool(posters, 1)).ms,
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

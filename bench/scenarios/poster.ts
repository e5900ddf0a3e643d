/**
 * Scenario 3: time to poster. A poster-only job on a 1080p source, from POST until HEAD of the
 * poster object answers 200, against plain ffmpeg extracting that same frame with the same command.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { ratio, summarize, type Summary } from '../stats';
import { timeCommand } from '../processes';
import type { BenchService } from '../service';
import { loadAverage, shown, snapshotCommand, type BenchSettings, type JobRecord, type Source } from './common';

export interface PosterResult {
  samples: number;
  source: string;
  request: unknown;
  headPollMs: number;
  /** POST sent → HEAD 200, per job. */
  serviceMs: Summary;
  baseline: { description: string; ms: Summary; command: string[] };
  /** Median service time ÷ median plain ffmpeg time. */
  medianRatio: number | null;
  loadAverage: { before: number[]; after: number[] };
}

const HEAD_POLL_MS = 25;

export async function runPoster(service: BenchService, settings: BenchSettings, source: Source, jobs: JobRecord[]): Promise<PosterResult> {
  const before = loadAverage();
  const outDir = path.join(settings.workDir, 'poster');
  await fs.mkdir(outDir, { recursive: true });
  const requestOf = (key: string) => ({ input: { key }, outputs: [], outputPrefix: 'bench/out/' });
  const serviceMs: number[] = [];
  for (let i = 0; i < settings.posterSamples; i++) {
    // Its own input object per sample, so its ffprobe/ffmpeg runs can be told apart.
    const inputKey = `bench/poster/${i + 1}.mp4`;
    await service.upload(source.file, inputKey);
    const { id, postMs } = await service.submit(requestOf(inputKey));
    const at = await service.waitObject(`bench/out/${id}/poster.jpg`, HEAD_POLL_MS);
    serviceMs.push(at - postMs);
    await service.waitClosed(id);
    const timeline = await service.timeline(id);
    jobs.push({ scenario: 'poster', id, inputKey, postMs, seenMs: timeline.closedMs!, timeline });
  }
  const last = jobs.at(-1)!;
  const task = service.tasksOf(last.timeline).snapshots[0];
  if (!task) throw new Error('the poster job ran no snapshot task');
  const cmd = snapshotCommand(service, task, service.inputPath(last.inputKey), outDir);
  const plain: number[] = [];
  for (let i = 0; i < settings.posterSamples; i++) plain.push((await timeCommand(cmd)).ms);
  const s = summarize(serviceMs);
  const b = summarize(plain);
  return {
    samples: settings.posterSamples,
    source: source.description,
    request: requestOf('bench/poster/1.mp4'),
    headPollMs: HEAD_POLL_MS,
    serviceMs: s,
    baseline: { description: 'the same snapshot command, alone on the machine', ms: b, command: shown(cmd) },
    medianRatio: ratio(s.p50, b.p50),
    loadAverage: { before, after: loadAverage() },
  };
}

/** The transcode activity's body (snapshots: snapshot.ts): run ffmpeg into a scratch file, check it, upload it. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { MediaflowError } from '../model/errors';
import type { OutputState } from '../model/job-state';
import type { JobInput } from '../model/job';
import type { TranscodeTask } from '../media/plan';
import { transcodeArgs } from '../media/args/transcode';
import { parseProbe, streamBitrateKbps } from '../media/probe-parse';
import { iso639_2 } from '../media/subtitles';
import { runFfmpeg } from './ffmpeg-run';
import { ffprobeJson } from './probe';
import { withLocalInput, withLocalInputs } from './local-input';
import { processDirName } from '../storage/input-cache';
import type { ActivityDeps } from './deps';

/** Heartbeat interval: well inside the heartbeat timeout, and how often cancellation can reach us. */
const HEARTBEAT_MS = 1000;

/** Wall-clock limit for one run: generous for slow presets on small machines, never unbounded. */
export function ffmpegTimeoutMs(durationSec: number): number {
  return (300 + durationSec * 20) * 1000;
}

/**
 * Runs `work` while heartbeating the latest progress every second: cancellation reaches an
 * activity only through heartbeats, and a worker that dies is noticed by their absence.
 */
export async function withHeartbeats<T>(work: (report: (p: number) => void, signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  let progress = 0;
  ctx.heartbeat({ progress });
  const ticker = setInterval(() => ctx.heartbeat({ progress }), HEARTBEAT_MS);
  try {
    const result = await work((p) => (progress = Math.round(p * 1000) / 1000), ctx.cancellationSignal);
    ctx.heartbeat({ progress });
    return result;
  } finally {
    clearInterval(ticker);
  }
}

/**
 * Runs `work` in a fresh scratch directory of this worker; the directory is always removed. It lies
 * in this process's own folder (outputs/<host>-<pid>/), which the next worker to start on this host
 * removes when the process was killed before it could clean up (worker/main.ts).
 */
export async function withScratchDir<T>(deps: ActivityDeps, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = path.join(deps.workDir, 'outputs', processDirName(), randomUUID());
  await fs.mkdir(dir, { recursive: true });
  try {
    return await work(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** Runs `work` with a scratch file path and heartbeats; the scratch file is always removed. */
function withScratch<T>(deps: ActivityDeps, ext: string, work: (scratch: string, report: (p: number) => void, signal: AbortSignal) => Promise<T>): Promise<T> {
  return withScratchDir(deps, (dir) => withHeartbeats((report, signal) => work(path.join(dir, `output.${ext}`), report, signal)));
}

/**
 * Checks a finished rendition file (the size limit: -fs stops ffmpeg quietly, so a file that
 * reached it is truncated, not done), reads what it holds, and uploads it under the task's key.
 */
export async function finishOutput(deps: ActivityDeps, task: TranscodeTask, scratch: string): Promise<OutputState> {
  const { config, storage, binaries } = deps;
  const { size } = await fs.stat(scratch);
  if (size >= config.MAX_OUTPUT_BYTES) {
    throw new MediaflowError('OutputTooLarge', `output "${task.name}" reached the ${config.MAX_OUTPUT_BYTES}-byte limit`);
  }
  const json = await ffprobeJson(binaries.ffprobe, scratch);
  const media = parseProbe(json, size, { maxDurationSec: Infinity, maxPixels: Infinity });
  await storage.putFile(task.outputKey, scratch);
  const firstAudio = media.audio[0];
  return {
    name: task.name,
    key: task.outputKey,
    sizeBytes: size,
    durationSec: media.durationSec,
    video: media.video
      ? { codec: media.video.codec, width: media.video.width, height: media.video.height, bitrateKbps: streamBitrateKbps(json, 'video') }
      : null,
    audio: firstAudio
      ? { codec: firstAudio.codec, channels: firstAudio.channels, sampleRate: firstAudio.sampleRate, bitrateKbps: streamBitrateKbps(json, 'audio') }
      : null,
    ...(task.subtitles?.length
      ? { subtitles: task.subtitles.map((s) => ({ language: iso639_2(s.language), name: s.name, default: s.default, forced: s.forced })) }
      : {}),
  };
}

export function createRenderers(deps: ActivityDeps) {
  const { config, binaries } = deps;
  const limits = { threads: config.FFMPEG_THREADS, maxOutputBytes: config.MAX_OUTPUT_BYTES };

  async function transcode(source: JobInput, task: TranscodeTask): Promise<OutputState> {
    const assets = task.video ? task.watermarks.map((w) => w.assetKey) : [];
    return withLocalInputs(deps, [source, ...assets], ([input, ...assetFiles]) =>
      withScratch(deps, task.container === 'fmp4' ? 'mp4' : task.container, async (scratch, report, signal) => {
        await runFfmpeg({
          binary: binaries.ffmpeg,
          args: transcodeArgs(task, input!, scratch, limits, assetFiles),
          durationSec: task.durationSec,
          onProgress: report,
          signal,
          timeoutMs: ffmpegTimeoutMs(task.durationSec),
          stallMs: config.FFMPEG_STALL_SEC * 1000,
        });
        return finishOutput(deps, task, scratch);
      }),
    );
  }

  return { transcode };
}

/**
 * Quality scores (SSIM, PSNR, VMAF when this ffmpeg has libvmaf) of an encoded file against the
 * source range it was made from: a second, light ffmpeg run after the encode (media/args/quality.ts
 * says what is compared). `scoreFile` is the one function both the `measureQuality` activity and
 * the per-title ladder's sample encodes (activities/ladder.ts) use.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { JobInput } from '../model/job';
import type { QualityScore } from '../model/job-state';
import type { QualityTask, TranscodeTask } from '../media/plan';
import { parsePsnrStats, parseSsimStats, parseVmafLog, PSNR_STATS, qualityArgs, SSIM_STATS, VMAF_LOG } from '../media/args/quality';
import { runFfmpeg } from './ffmpeg-run';
import { withLocalInputs } from './local-input';
import { ffmpegTimeoutMs, withHeartbeats, withScratchDir } from './transcode';
import type { ActivityDeps } from './deps';

const filterLists = new Map<string, Promise<boolean>>();

/**
 * Whether `binary` has the libvmaf filter (`ffmpeg -filters`), read once per process and binary.
 * Debian's ffmpeg 5.1 is built without it.
 */
export function hasVmaf(binary: string): Promise<boolean> {
  let known = filterLists.get(binary);
  if (!known) {
    known = execa(binary, ['-hide_banner', '-filters'], { stdin: 'ignore', timeout: 30_000 }).then(
      ({ stdout }) => /^\s*\S+\s+libvmaf\s/m.test(String(stdout)),
      () => false,
    );
    filterLists.set(binary, known);
  }
  return known;
}

export const NO_VMAF_REASON = 'this worker\'s ffmpeg has no libvmaf filter (`ffmpeg -filters`); SSIM and PSNR only';

/** What a score compares, in words, for the job JSON. */
export function methodOf(task: TranscodeTask): string {
  const v = task.video!;
  const range = task.clip ? `the source from ${task.clip.startSec} s for ${task.clip.durationSec} s` : 'the whole source';
  const marks = task.watermarks.length ? `, with the output's ${task.watermarks.length} watermark(s) overlaid on it` : '';
  return (
    `second pass after the encode: the output decoded and compared frame by frame with ${range}, taken through the output's own ` +
    `${v.deinterlace ? 'deinterlace, ' : ''}scale${v.fit === 'pad' || v.fit === 'crop' ? `/${v.fit}` : ''} to ${v.width}x${v.height} and fps=${v.fpsRational ?? v.fps}${marks} ` +
    `(the picture the encoder was given); ffmpeg ssim (mean of per-frame All) and psnr (from the mean MSE of all planes)`
  );
}

/**
 * Scores `distorted` (a local file encoded from `task`) against `source` (local), in `dir`; the
 * run is niced like encodes and stops with `signal`.
 *
 * @example await scoreFile(deps, { distorted, source, task, watermarkFiles: [], dir, signal })
 */
export async function scoreFile(
  deps: Pick<ActivityDeps, 'binaries' | 'config'>,
  run: { distorted: string; source: string; task: TranscodeTask; watermarkFiles: string[]; dir: string; signal?: AbortSignal; onProgress?: (p: number) => void },
): Promise<QualityScore> {
  const { binaries, config } = deps;
  const vmaf = await hasVmaf(binaries.ffmpeg);
  await fs.mkdir(run.dir, { recursive: true });
  await runFfmpeg({
    binary: binaries.ffmpeg,
    args: qualityArgs(run.distorted, run.source, run.task, run.watermarkFiles, { vmaf, threads: config.FFMPEG_THREADS }),
    cwd: run.dir,
    durationSec: run.task.durationSec,
    ...(run.onProgress ? { onProgress: run.onProgress } : {}),
    ...(run.signal ? { signal: run.signal } : {}),
    timeoutMs: ffmpegTimeoutMs(run.task.durationSec),
    stallMs: config.FFMPEG_STALL_SEC * 1000,
    nice: config.ENCODE_NICE,
  });
  const read = (name: string) => fs.readFile(path.join(run.dir, name), 'utf8');
  const { ssim, frames } = parseSsimStats(await read(SSIM_STATS));
  const psnr = parsePsnrStats(await read(PSNR_STATS), run.task.video!.pixFmt === 'yuv420p10le' ? 10 : 8);
  const score: QualityScore = { ssim: Math.round(ssim * 1e6) / 1e6, psnr, vmaf: null, frames, method: methodOf(run.task) };
  if (vmaf) {
    score.vmaf = parseVmafLog(await read(VMAF_LOG));
    if (score.vmaf === null) score.vmafReason = 'libvmaf wrote no pooled score';
  } else {
    score.vmafReason = NO_VMAF_REASON;
  }
  return score;
}

/**
 * The body of the `measureQuality` activity: the output file and the source made local, scored.
 *
 * @example const score = await createQualityMeter(deps)(input, task)
 */
export function createQualityMeter(deps: ActivityDeps) {
  return async function measure(source: JobInput, task: QualityTask): Promise<QualityScore> {
    const target = task.target;
    const assets = target.watermarks.map((w) => w.assetKey);
    return withLocalInputs(deps, [source, target.outputKey, ...assets], ([input, distorted, ...watermarkFiles]) =>
      withScratchDir(deps, (dir) =>
        withHeartbeats((report, signal) => scoreFile(deps, { distorted: distorted!, source: input!, task: target, watermarkFiles, dir, signal, onProgress: report })),
      ),
    );
  };
}

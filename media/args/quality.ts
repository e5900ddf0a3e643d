/**
 * Quality scores of an encoded rendition against its source: one ffmpeg run that decodes the
 * encoded file and the source range it was made from, brings the source to the picture the
 * encoder was given (the rendition's own deinterlace/scale/pad/crop/fps chain and watermarks),
 * and compares them frame by frame with `ssim` and `psnr` (and `libvmaf` when the build has it).
 * Per-frame figures go to stats files in the run's working directory; `parseSsimStats` and
 * `parsePsnrStats` read them. Pure: paths and plans in, argv and numbers out.
 */
import type { TranscodeTask } from '../plan';
import { commonArgs, inputArgs } from './input';
import { watermarkedChains } from './transcode';

/** Where the metric filters write their per-frame figures (relative to the run's cwd: no escaping). */
export const SSIM_STATS = 'ssim.log';
export const PSNR_STATS = 'psnr.log';
export const VMAF_LOG = 'vmaf.json';

/**
 * The argv of a measuring run: input 0 is the encoded file (`distorted`), input 1 the source,
 * read from the rendition's clip start for its duration; inputs 2… its watermark assets. Both
 * sides start at 0, in the rendition's pixel format; the run ends with the shorter of the two.
 *
 * @example qualityArgs('/scratch/out.mp4', '/cache/in.mp4', task, [], { vmaf: false })
 */
export function qualityArgs(distorted: string, source: string, task: TranscodeTask, watermarkAssets: string[], options: { vmaf: boolean; threads?: number }): string[] {
  const v = task.video;
  if (!v) throw new Error(`qualityArgs: ${task.id} has no video to score`);
  if (watermarkAssets.length !== task.watermarks.length) throw new Error(`qualityArgs: ${task.id} has ${task.watermarks.length} watermarks planned, ${watermarkAssets.length} assets given`);
  const fmt = `setpts=PTS-STARTPTS,format=${v.pixFmt}`;
  // The reference: the source through the rendition's own chain, watermarks included, so the
  // score is the encoding's loss alone (the same frames at the same size and rate).
  const { chains, out } = watermarkedChains(v, task.watermarks, '1:v:0', 2, 'ref');
  const metrics = options.vmaf ? 3 : 2;
  const graph = [
    `[0:v:0]${fmt}[dist]`,
    ...chains,
    `[${out}]${fmt},split=${metrics}${Array.from({ length: metrics }, (_, i) => `[r${i}]`).join('')}`,
    // ssim and psnr pass their first input through: one chain, one sink.
    `[dist][r0]ssim=stats_file=${SSIM_STATS}:shortest=1[d1]`,
    `[d1][r1]psnr=stats_file=${PSNR_STATS}:shortest=1[${options.vmaf ? 'd2' : 'scored'}]`,
    ...(options.vmaf ? [`[d2][r2]libvmaf=log_fmt=json:log_path=${VMAF_LOG}:shortest=1[scored]`] : []),
  ];
  return [
    ...commonArgs(),
    ...inputArgs(distorted, undefined, ['mov', 'matroska']),
    // The clip's range of the source (an input option: only those frames are decoded).
    ...(task.clip ? ['-t', task.clip.durationSec.toFixed(3)] : []),
    ...inputArgs(source, task.clip?.startSec),
    ...watermarkAssets.flatMap((a) => inputArgs(a, undefined, ['png_pipe'])),
    '-filter_complex', graph.join(';'),
    '-map', '[scored]',
    ...(options.threads && options.threads > 0 ? ['-threads', String(options.threads)] : []),
    '-f', 'null', '-',
  ];
}

/**
 * The mean of the per-frame `All` SSIM of an `ssim` stats file, and how many frames it covers.
 *
 * @example parseSsimStats('n:1 Y:0.99 U:0.99 V:0.99 All:0.99 (20.0)\n') // { ssim: 0.99, frames: 1 }
 */
export function parseSsimStats(text: string): { ssim: number; frames: number } {
  const values = [...text.matchAll(/\bAll:([0-9.]+)/g)].map((m) => Number(m[1]));
  if (!values.length) throw new Error('the ssim filter compared no frames');
  return { ssim: values.reduce((a, b) => a + b, 0) / values.length, frames: values.length };
}

/**
 * PSNR over the whole run as ffmpeg's own summary states it: from the mean of the per-frame MSE
 * (all planes), not the mean of per-frame dB; capped at 100 dB (identical pictures have none).
 *
 * @example parsePsnrStats('n:1 mse_avg:1.00 psnr_avg:48.13\n', 8) // 48.131
 */
export function parsePsnrStats(text: string, bitDepth: 8 | 10): number {
  const values = [...text.matchAll(/\bmse_avg:([0-9.]+)/g)].map((m) => Number(m[1]));
  if (!values.length) throw new Error('the psnr filter compared no frames');
  const mse = values.reduce((a, b) => a + b, 0) / values.length;
  const max = bitDepth === 10 ? 1023 : 255;
  if (mse <= 0) return 100;
  return Math.min(100, Math.round(10 * Math.log10((max * max) / mse) * 1000) / 1000);
}

/** The pooled mean VMAF of libvmaf's JSON log (v2 `pooled_metrics.vmaf.mean`, v1 `VMAF score`). */
export function parseVmafLog(text: string): number | null {
  const json = JSON.parse(text) as { pooled_metrics?: { vmaf?: { mean?: number } }; 'VMAF score'?: number };
  const score = json.pooled_metrics?.vmaf?.mean ?? json['VMAF score'];
  return typeof score === 'number' && Number.isFinite(score) ? Math.round(score * 1000) / 1000 : null;
}

/**
 * ffmpeg arguments for one transcode task. Pure: task in, argv out. One builder per video and
 * audio codec in exhaustive maps, so a codec added to the model without a builder fails to compile.
 */
import type { AudioCodec, VideoCodec } from '../../model/templates';
import type { AudioPlan, TranscodeTask, VideoPlan, WatermarkPlan } from '../plan';
import { commonArgs, inputArgs } from './input';

export interface RunLimits {
  /** 0 lets ffmpeg choose. */
  threads: number;
  maxOutputBytes: number;
}

type Preset = VideoPlan['preset'];

/** x264/x265 preset names on libvpx's cpu-used scale (good deadline: 0 slowest … 5 fastest). */
const vp9CpuUsed: Record<string, number> = { ultrafast: 5, superfast: 5, veryfast: 5, faster: 4, fast: 4, medium: 3, slow: 2, slower: 1 };
/** … and on SVT-AV1's preset scale (0 slowest … 13 fastest). */
const svtPreset: Record<string, number> = { ultrafast: 12, superfast: 11, veryfast: 10, faster: 9, fast: 8, medium: 6, slow: 4, slower: 2 };

export function videoFilter(v: VideoPlan): string {
  // The input is already auto-rotated by ffmpeg. Fields become frames first (yadif, one frame
  // per frame, only where flagged interlaced), then scale to the planned size.
  const filters = [...(v.deinterlace ? ['yadif=mode=send_frame:deint=interlaced'] : []), `scale=${v.scaleWidth}:${v.scaleHeight}:flags=bicubic`];
  if (v.fit === 'pad') filters.push(`pad=${v.width}:${v.height}:(ow-iw)/2:(oh-ih)/2:color=black`);
  if (v.fit === 'crop') filters.push(`crop=${v.width}:${v.height}`);
  // Square pixels, so players do not stretch the picture a second time; a constant frame rate
  // (VFR sources too), so GOPs and segment boundaries line up. The rate is a fraction (30000/1001):
  // a decimal 29.97 would make 2997/100 streams.
  filters.push('setsar=1', `fps=${v.fpsRational ?? v.fps}`);
  return filters.join(',');
}

/** Capped VBR when a bit rate is given, else constant quality. */
function rateArgs(v: VideoPlan, crfFlags: (crf: number) => string[]): string[] {
  if (v.bitrateKbps === null) return crfFlags(v.crf ?? 23);
  return [
    '-b:v', `${v.bitrateKbps}k`,
    ...(v.maxrateKbps !== null ? ['-maxrate', `${v.maxrateKbps}k`] : []),
    ...(v.bufsizeKbps !== null ? ['-bufsize', `${v.bufsizeKbps}k`] : []),
  ];
}

export const videoEncoders: Record<VideoCodec, (v: VideoPlan) => string[]> = {
  h264: (v) => [
    '-c:v', 'libx264',
    '-profile:v', v.profile,
    ...(v.level ? ['-level:v', v.level] : []),
    '-preset', v.preset,
    ...rateArgs(v, (crf) => ['-crf', String(crf)]),
    // Fixed GOP without scene-cut keyframes: segment boundaries line up across renditions.
    '-g', String(v.gopFrames), '-keyint_min', String(v.gopFrames), '-sc_threshold', '0',
  ],
  h265: (v) => [
    '-c:v', 'libx265',
    '-profile:v', v.profile,
    '-preset', v.preset,
    ...rateArgs(v, (crf) => ['-crf', String(crf)]),
    '-x265-params', [`keyint=${v.gopFrames}`, `min-keyint=${v.gopFrames}`, 'scenecut=0', 'log-level=error', ...(v.level ? [`level-idc=${v.level}`] : [])].join(':'),
    // Apple players only accept HEVC in MP4/MOV tagged hvc1 (ffmpeg's default tag is hev1).
    '-tag:v', 'hvc1',
  ],
  vp9: (v) => [
    '-c:v', 'libvpx-vp9',
    '-profile:v', v.profile,
    // libvpx's constant quality needs -b:v 0; otherwise crf is only a floor under a bit rate.
    ...rateArgs(v, (crf) => ['-crf', String(crf), '-b:v', '0']),
    '-deadline', 'good', '-cpu-used', String(vp9CpuUsed[v.preset as Preset] ?? 4),
    // Row multithreading: several times faster on multi-core machines, same output.
    '-row-mt', '1',
    '-g', String(v.gopFrames), '-keyint_min', String(v.gopFrames),
  ],
  av1: (v) => [
    '-c:v', 'libsvtav1',
    '-preset', String(svtPreset[v.preset as Preset] ?? 8),
    // SVT-AV1 (as built here) does constant quality or average bit rate; no VBV cap.
    ...(v.bitrateKbps !== null ? ['-b:v', `${v.bitrateKbps}k`] : ['-crf', String(v.crf ?? 35)]),
    '-g', String(v.gopFrames),
  ],
};

/** Where the overlay's top-left corner goes, as overlay-filter expressions. */
export function overlayPosition(w: WatermarkPlan): string {
  const x = { L: `${w.dx}`, R: `main_w-overlay_w-${w.dx}`, C: '(main_w-overlay_w)/2' };
  const y = { T: `${w.dy}`, B: `main_h-overlay_h-${w.dy}`, C: '(main_h-overlay_h)/2' };
  if (w.position === 'center') return `x=${x.C}:y=${y.C}`;
  return `x=${x[w.position[1] as 'L' | 'R']}:y=${y[w.position[0] as 'T' | 'B']}`;
}

/**
 * Filter chains taking the stream `from` through the planned scale/pad/crop/fps chain, then each
 * watermark (inputs `firstInput`, `firstInput + 1`, …) sized to its planned width, faded to its
 * opacity and overlaid in its time window: one pass. Labels carry `prefix`, so several renditions
 * can share one graph; returns the chains and the label of the finished picture.
 */
export function watermarkedChains(v: VideoPlan, watermarks: WatermarkPlan[], from: string, firstInput: number, prefix = ''): { chains: string[]; out: string } {
  const chains = [`[${from}]${videoFilter(v)}[${prefix}base]`];
  let last = `${prefix}base`;
  watermarks.forEach((w, i) => {
    const alpha = w.opacity < 1 ? `,colorchannelmixer=aa=${w.opacity}` : '';
    chains.push(`[${firstInput + i}:v:0]scale=${w.widthPx}:-2:flags=lanczos,format=rgba${alpha}[${prefix}wm${i}]`);
    const window = w.endSec !== null ? `between(t,${w.startSec},${w.endSec})` : `gte(t,${w.startSec})`;
    chains.push(`[${last}][${prefix}wm${i}]overlay=${overlayPosition(w)}:enable='${window}'[${prefix}v${i}]`);
    last = `${prefix}v${i}`;
  });
  return { chains, out: last };
}

/** The video graph of a single-rendition run: a plain -vf without watermarks, else the chains above. */
function videoGraph(v: VideoPlan, watermarks: WatermarkPlan[]): string[] {
  if (!watermarks.length) return ['-map', '0:v:0', '-vf', videoFilter(v)];
  const { chains, out } = watermarkedChains(v, watermarks, '0:v:0', 1);
  return ['-filter_complex', chains.join(';'), '-map', `[${out}]`];
}

function videoArgs(v: VideoPlan, watermarks: WatermarkPlan[]): string[] {
  return [...videoGraph(v, watermarks), ...videoEncoders[v.codec](v), '-pix_fmt', v.pixFmt];
}

const audioEncoders: Record<AudioCodec, string> = { aac: 'aac', mp3: 'libmp3lame', opus: 'libopus' };

export function audioArgs(a: AudioPlan): string[] {
  return [
    '-map', `0:a:${a.streamIndex}`,
    // EBU R128: -23 LUFS integrated, -1 dBTP true peak (single pass, dynamic mode).
    ...(a.loudnorm ? ['-af', 'loudnorm=I=-23:TP=-1:LRA=7'] : []),
    '-c:a', audioEncoders[a.codec],
    '-b:a', `${a.bitrateKbps}k`,
    '-ar', String(a.sampleRate),
    // Downmixes surround to the planned channel count.
    '-ac', String(a.channels),
  ];
}

/** Muxer and its options per container. */
export const muxers: Record<TranscodeTask['container'], string[]> = {
  // Moves the moov atom to the front so playback starts before the download ends.
  mp4: ['-movflags', '+faststart', '-f', 'mp4'],
  mov: ['-movflags', '+faststart', '-f', 'mov'],
  m4a: ['-movflags', '+faststart', '-f', 'mp4'],
  webm: ['-f', 'webm'],
  mp3: ['-id3v2_version', '3', '-f', 'mp3'],
  ogg: ['-f', 'ogg'],
  // Streaming rungs, read only by the packager: a plain MP4, whose edit lists carry the encoder
  // delay (B-frame reorder, AAC priming) so video and audio both start at 0. (A fragmented MP4
  // written with empty_moov has no edit list: ffmpeg shifts every stream by the video's reorder
  // delay instead, and the audio priming becomes one long frame at 0.)
  fmp4: ['-f', 'mp4'],
};

/**
 * The full argv (without the binary) that turns `input` into the task's output at `output`.
 *
 * @example execa(ffmpegPath, transcodeArgs(task, '/cache/in.mp4', '/tmp/out.mp4', limits))
 */
export function transcodeArgs(task: TranscodeTask, input: string, output: string, limits: RunLimits, watermarkAssets: string[] = []): string[] {
  if (watermarkAssets.length !== (task.video ? task.watermarks.length : 0)) {
    throw new Error(`transcodeArgs: ${task.watermarks.length} watermarks planned, ${watermarkAssets.length} assets given`);
  }
  return [
    ...commonArgs(),
    ...inputArgs(input, task.clip?.startSec),
    // Our own prepared PNGs, opened as PNG only.
    ...watermarkAssets.flatMap((a) => inputArgs(a, undefined, ['png_pipe'])),
    ...(task.clip ? ['-t', task.clip.durationSec.toFixed(3)] : []),
    ...(task.video ? videoArgs(task.video, task.watermarks) : ['-vn']),
    ...(task.audio ? audioArgs(task.audio) : ['-an']),
    // Drop subtitle/data streams and source metadata we did not ask for.
    '-sn', '-dn', '-map_metadata', '-1',
    ...(limits.threads > 0 ? ['-threads', String(limits.threads)] : []),
    // A hard ceiling on the output size, whatever the input claims.
    '-fs', String(limits.maxOutputBytes),
    ...muxers[task.container],
    output,
  ];
}

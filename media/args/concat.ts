/**
 * The multi-input part of a concatenation run's ffmpeg command: one input per joined file (seeked
 * to its clip), and a filter graph that brings every input to the joined picture (fitted and
 * padded to the frame, square pixels, the joined rate and pixel format, exactly its planned frame
 * count) and the joined sound (resampled to 48 kHz, mono or stereo, exactly as long as its
 * picture; silence for an input without audio, black for one without video), then joins them with
 * the `concat` filter into `[cv]` and `[ca]`. The encode builder (encode.ts) splits those into its
 * per-rendition chains as it splits a single input. Pure: plan in, argv out.
 */
import type { ConcatPlan, ConcatSegment } from '../concat';
import type { AudioPlan } from '../plan';
import { inputArgs } from './input';
import { audioArgs } from './transcode';

/** Labels of the joined streams in the graph. */
export const CONCAT_VIDEO = 'cv';
export const CONCAT_AUDIO = 'ca';

/**
 * Input options for every joined file: seeked to its part, read no further than it.
 *
 * @example concatInputArgs(plan, ['/cache/a.mp4', '/cache/b.mov'])
 */
export function concatInputArgs(plan: ConcatPlan, files: string[]): string[] {
  if (files.length !== plan.segments.length) throw new Error(`concatInputArgs: ${plan.segments.length} inputs planned, ${files.length} files given`);
  return plan.segments.flatMap((s, i) => {
    const args = inputArgs(files[i]!, s.startSec);
    // `-t` is an input option here (before its -i): the demuxer stops at the end of the part.
    return [...args.slice(0, -2), '-t', s.durationSec.toFixed(3), ...args.slice(-2)];
  });
}

function videoChain(plan: ConcatPlan, s: ConcatSegment, i: number): string {
  const { width: w, height: h, rate, pixFmt } = plan;
  const end = `format=${pixFmt},trim=end_frame=${s.frames},setpts=PTS-STARTPTS[v${i}]`;
  // Black frames stand in for an input without a picture.
  if (!s.video) return `color=c=black:s=${w}x${h}:r=${rate},setsar=1,${end}`;
  const filters = [
    // Each part starts at 0 on its own clock; the concat filter lays them end to end.
    'setpts=PTS-STARTPTS',
    ...(s.interlaced ? ['yadif=mode=send_frame:deint=interlaced'] : []),
    // Non-square pixels: stretched to square first, so the fit below keeps the seen aspect.
    ...(s.sar[0] !== s.sar[1] ? ['scale=trunc(iw*sar/2)*2:ih,setsar=1'] : []),
    `scale=${w}:${h}:force_original_aspect_ratio=decrease:force_divisible_by=2:flags=bicubic`,
    `pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2:color=black`,
    'setsar=1',
    `fps=${rate}`,
    // A picture shorter than its part holds its last frame: every part is exactly its frames long.
    'tpad=stop=-1:stop_mode=clone',
  ];
  return `[${i}:v:0]${filters.join(',')},${end}`;
}

function audioChain(plan: ConcatPlan, s: ConcatSegment, i: number): string {
  const layout = plan.channels === 1 ? 'mono' : 'stereo';
  const format = `aformat=sample_fmts=fltp:sample_rates=${plan.sampleRate}:channel_layouts=${layout}`;
  const end = `atrim=end_sample=${s.samples},asetpts=PTS-STARTPTS[a${i}]`;
  // Silence, exactly as long as the part, for an input without audio.
  if (s.audioStream === null) return `anullsrc=r=${plan.sampleRate}:cl=${layout},${format},${end}`;
  return `[${i}:a:${s.audioStream}]asetpts=PTS-STARTPTS,aresample=${plan.sampleRate},${format},apad,${end}`;
}

/**
 * The chains that make `[cv]` (with video) and `[ca]` (with audio) from the run's first
 * `plan.segments.length` inputs.
 *
 * @example ['-filter_complex', [...concatFilter(plan), '[cv]split=2[a][b]', …].join(';')]
 */
export function concatFilter(plan: ConcatPlan): string[] {
  const chains: string[] = [];
  const pads: string[] = [];
  plan.segments.forEach((s, i) => {
    if (plan.withVideo) {
      chains.push(videoChain(plan, s, i));
      pads.push(`[v${i}]`);
    }
    if (plan.withAudio) {
      chains.push(audioChain(plan, s, i));
      pads.push(`[a${i}]`);
    }
  });
  const outs = `${plan.withVideo ? `[${CONCAT_VIDEO}]` : ''}${plan.withAudio ? `[${CONCAT_AUDIO}]` : ''}`;
  chains.push(`${pads.join('')}concat=n=${plan.segments.length}:v=${plan.withVideo ? 1 : 0}:a=${plan.withAudio ? 1 : 0}${outs}`);
  return chains;
}

/**
 * The joined audio shared by the run's distinct audio settings: `[ca]` split once per setting
 * (loudness normalised inside the graph, where a filter_complex output needs it), and each
 * setting's encoder arguments mapping its own branch.
 *
 * @example const { chains, args } = concatAudio(layout.audio)
 */
export function concatAudio(audio: AudioPlan[]): { chains: string[]; args: string[][] } {
  if (!audio.length) return { chains: [], args: [] };
  const branch = (j: number) => (audio.length === 1 ? CONCAT_AUDIO : `${CONCAT_AUDIO}${j}`);
  const chains = audio.length === 1 ? [] : [`[${CONCAT_AUDIO}]asplit=${audio.length}${audio.map((_, j) => `[${branch(j)}]`).join('')}`];
  const args = audio.map((a, j) => {
    let label = branch(j);
    if (a.loudnorm) {
      chains.push(`[${label}]loudnorm=I=-23:TP=-1:LRA=7[${label}n]`);
      label = `${label}n`;
    }
    return [
      '-map', `[${label}]`,
      // The rest of the setting's arguments as a single input has them, without its map and filter.
      ...withoutOptions(audioArgs({ ...a, loudnorm: false }), ['-map', '-af']),
    ];
  });
  return { chains, args };
}

/** An argv with the named options (each followed by one value) removed. */
function withoutOptions(args: string[], names: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (names.includes(args[i]!)) i++;
    else out.push(args[i]!);
  }
  return out;
}

/**
 * Concatenation (a job with `inputs[]`): several probed inputs planned as one timeline. The outputs
 * are planned by the ordinary planner from one joined MediaInfo (the first video input's picture
 * and rate, the sum of the clipped durations); each transcode task then carries a ConcatPlan that
 * says how every input is normalised to that picture and rate and joined (media/args/concat.ts).
 * Snapshots (and the default poster) come from the first input, within its clip. Pure.
 */
import type { ConcatInput, JobSpec } from '../model/job';
import type { MediaInfo } from '../model/job-state';
import { chooseAudioTrack, displaySize, even, planJob, type Plan, type SnapshotTask, type TranscodeTask } from './plan';
import { parseRate, rateText, rateValue, type Rate } from './rate';
import type { ConcatPlan, ConcatSegment } from './concat-types';

export type { ConcatPlan, ConcatSegment };

/** The joined audio's sample rate; each output resamples to its own. */
export const CONCAT_SAMPLE_RATE = 48000;

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** The part of an input a concatenation uses, or why it cannot be used. */
export function concatRange(input: ConcatInput, media: MediaInfo): { startSec: number; durationSec: number } | string {
  if (media.still || media.durationSec <= 0) return 'is a still image (or has no duration): only inputs that play over time can be joined';
  if (!media.video && media.audio.length === 0) return 'has neither video nor audio';
  const startSec = input.clip?.startSec ?? 0;
  if (startSec >= media.durationSec) return `its clip starts at ${startSec} s, at or after its end (${media.durationSec} s)`;
  const rest = media.durationSec - startSec;
  const wanted = input.clip?.durationSec ?? null;
  return { startSec: round3(startSec), durationSec: round3(wanted === null ? rest : Math.min(wanted, rest)) };
}

/**
 * The first input that cannot be joined, by index and reason; null when every input can.
 *
 * @example concatProblem(inputs, medias) // { index: 2, message: 'inputs[2] is a still image …' }
 */
export function concatProblem(inputs: ConcatInput[], medias: MediaInfo[]): { index: number; message: string } | null {
  for (const [i, input] of inputs.entries()) {
    const range = concatRange(input, medias[i]!);
    if (typeof range === 'string') return { index: i, message: `inputs[${i}] ${range}` };
  }
  return null;
}

/** One MediaInfo for the joined timeline: what the ordinary planner plans the outputs from. */
export function joinedMedia(inputs: ConcatInput[], medias: MediaInfo[]): MediaInfo {
  const ranges = inputs.map((input, i) => concatRange(input, medias[i]!) as { startSec: number; durationSec: number });
  const first = medias.find((m) => m.video)?.video ?? null;
  const display = first ? displaySize({ ...medias.find((m) => m.video)!, video: first }) : null;
  const channels = Math.min(2, Math.max(0, ...medias.map((m) => m.audio[chooseAudioTrack(m, null) as number]?.channels ?? 0)));
  return {
    durationSec: round3(ranges.reduce((sum, r) => sum + r.durationSec, 0)),
    still: false,
    container: 'concat',
    sizeBytes: medias.reduce((sum, m) => sum + m.sizeBytes, 0),
    // The first picture, upright and with square pixels: every input is fitted into it.
    video:
      first && display
        ? { ...first, width: even(display.width), height: even(display.height), rotation: 0, sar: [1, 1], interlaced: false }
        : null,
    audio: channels > 0 ? [{ codec: 'concat', channels, sampleRate: CONCAT_SAMPLE_RATE, default: true }] : [],
  };
}

/**
 * Plans a concatenation job: outputs from the joined timeline (every transcode task carries the
 * ConcatPlan of the job), snapshots from the first input within its clip.
 *
 * @example const { tasks, refused } = planConcatJob(spec, medias)
 */
export function planConcatJob(spec: JobSpec, medias: MediaInfo[]): Plan {
  const inputs = spec.inputs!;
  const joined = joinedMedia(inputs, medias);
  const outputs = planJob({ ...spec, snapshots: [] }, joined);
  const transcodes = outputs.tasks.filter((t): t is TranscodeTask => t.kind === 'transcode');
  const concat = concatPlan(inputs, medias, joined, transcodes);
  for (const t of transcodes) {
    t.concat = concat;
    // The length the run really makes: whole frames per input.
    if (concat.withVideo) t.durationSec = round3(concat.segments.reduce((s, g) => s + g.frames, 0) / rateValue(parseRate(concat.rate)!));
  }
  // Snapshots: from the first input, within its clip (times planned on the clip, then moved into the input).
  const range = concatRange(inputs[0]!, medias[0]!) as { startSec: number; durationSec: number };
  const snaps = planJob({ ...spec, outputs: [] }, { ...medias[0]!, durationSec: range.durationSec });
  for (const s of snaps.tasks) {
    if (s.kind !== 'snapshot') continue;
    (s as SnapshotTask).times = s.times.map((t) => round3(t + range.startSec));
  }
  return { tasks: [...outputs.tasks, ...snaps.tasks], refused: [...outputs.refused, ...snaps.refused] };
}

function concatPlan(inputs: ConcatInput[], medias: MediaInfo[], joined: MediaInfo, tasks: TranscodeTask[]): ConcatPlan {
  const videos = tasks.flatMap((t) => (t.video ? [t.video] : []));
  const rates = videos.map((v) => parseRate(v.fpsRational) ?? ({ num: Math.round(v.fps * 1000), den: 1000 } as Rate));
  const rate = rates.reduce<Rate | null>((best, r) => (best === null || rateValue(r) > rateValue(best) ? r : best), null);
  const withVideo = rate !== null && joined.video !== null;
  const withAudio = tasks.some((t) => t.audio);
  const channels = Math.max(1, ...tasks.map((t) => t.audio?.channels ?? 1));
  const segments = inputs.map((input, i): ConcatSegment => {
    const media = medias[i]!;
    const range = concatRange(input, media) as { startSec: number; durationSec: number };
    const frames = withVideo ? Math.max(1, Math.round((range.durationSec * rate!.num) / rate!.den)) : 0;
    const samples = withVideo ? Math.round((frames * rate!.den * CONCAT_SAMPLE_RATE) / rate!.num) : Math.round(range.durationSec * CONCAT_SAMPLE_RATE);
    return {
      input: input.input,
      startSec: range.startSec,
      durationSec: range.durationSec,
      frames,
      samples,
      video: media.video !== null,
      audioStream: media.audio.length ? (chooseAudioTrack(media, null) as number) : null,
      sar: media.video?.sar ?? [1, 1],
      interlaced: media.video?.interlaced === true,
    };
  });
  // The joined picture has the first input's aspect at the size of the largest rendition's scale
  // step: no rendition is upscaled from a smaller joined picture, none pays for a larger one.
  const biggest = videos.filter((v) => v.fit !== 'stretch').reduce<(typeof videos)[number] | null>((b, v) => (b === null || v.scaleWidth * v.scaleHeight > b.scaleWidth * b.scaleHeight ? v : b), null);
  return {
    segments,
    width: biggest?.scaleWidth ?? joined.video?.width ?? 0,
    height: biggest?.scaleHeight ?? joined.video?.height ?? 0,
    rate: rate ? rateText(rate) : '',
    pixFmt: videos.some((v) => v.pixFmt === 'yuv420p10le') ? 'yuv420p10le' : 'yuv420p',
    sampleRate: CONCAT_SAMPLE_RATE,
    channels: Math.min(2, channels),
    withVideo,
    withAudio,
  };
}

/**
 * Chunked encoding of long inputs: where to cut, in frames, so that every chunk starts on a
 * keyframe of every rendition (and, for HLS/DASH, on a segment boundary: packaging stays a stream
 * copy). Pure: the workflow calls it, the unit tests table-drive it.
 */
import type { ChunkSettings } from '../model/job';
import type { TranscodeTask, VideoPlan } from './plan';
import { framesToMs, parseRate, type Rate } from './rate';

export type { ChunkSettings };

/** The defaults (CHUNK_MIN_DURATION_SEC, CHUNK_SEC, CHUNK_MAX_PARALLEL), for jobs whose spec carries none. */
export const defaultChunkSettings: ChunkSettings = { minDurationSec: 90, chunkSec: 30, maxParallel: 4 };

/** One chunk: seconds into the range the tasks read, and each video rendition's frame count. */
export interface Chunk {
  index: number;
  startSec: number;
  /** Null for the last chunk: it runs to the end of the range. */
  durationSec: number | null;
  /** Per task id (video renditions only): frames this chunk must produce (null: to the end). */
  frames: Record<string, number | null>;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * The planned rate as a fraction. Tasks planned from a probe result without the exact rate (a
 * recorded history) keep their decimal, and with it the chunking decision they were made with.
 */
function rateOf(v: VideoPlan): Rate {
  return parseRate(v.fpsRational) ?? { num: Math.round(v.fps * 1000), den: 1000 };
}

/** Whole milliseconds in one GOP, or null. */
function gopMsOf(v: VideoPlan): number | null {
  if (v.fpsRational) return framesToMs(v.gopFrames, rateOf(v));
  const ms = (v.gopFrames / v.fps) * 1000;
  return Math.abs(ms - Math.round(ms)) > 1e-6 ? null : Math.round(ms);
}

/**
 * The chunk length for these renditions: a whole number of every rendition's GOP and segment, in
 * whole frames of every rendition's rate. Null when no length up to `limitSec` fits them all
 * (odd rates): such a group is encoded in one run.
 */
export function alignedChunkSec(tasks: TranscodeTask[], targetSec: number, limitSec: number): number | null {
  const videos = tasks.filter((t) => t.video);
  // Work in milliseconds so segment lengths like 6 and GOPs like 2 s are integers.
  let unit = 1;
  for (const t of videos) {
    const v = t.video!;
    // Exact: 60 frames at 30000/1001 are 2002 ms. A GOP that is not a whole number of ms (25
    // frames at 30000/1001) cannot be placed exactly: no chunking.
    const gopMs = gopMsOf(v);
    if (gopMs === null) return null;
    unit = (unit * gopMs) / gcd(unit, gopMs);
    if (t.rung) {
      const segMs = Math.round(t.rung.segmentSec * 1000);
      unit = (unit * segMs) / gcd(unit, segMs);
    }
  }
  const chunkMs = Math.max(1, Math.ceil((targetSec * 1000) / unit)) * unit;
  return chunkMs / 1000 <= limitSec ? chunkMs / 1000 : null;
}

/**
 * The chunks of a group of renditions reading the same range, or null when the range is short or
 * the renditions cannot be cut on common keyframes.
 *
 * @example planChunks(tasks, { minDurationSec: 90, chunkSec: 30 })?.length // 4 for a 120 s input
 */
export function planChunks(tasks: TranscodeTask[], settings: Pick<ChunkSettings, 'minDurationSec' | 'chunkSec'>): Chunk[] | null {
  const first = tasks[0];
  if (!first || !tasks.some((t) => t.video)) return null;
  // Subtitle tracks are muxed into a whole file, not joined from chunks: such a range runs at once.
  if (tasks.some((t) => t.subtitles?.length)) return null;
  const durationSec = first.durationSec;
  if (durationSec < settings.minDurationSec) return null;
  const chunkSec = alignedChunkSec(tasks, settings.chunkSec, durationSec / 2);
  if (chunkSec === null) return null;
  const count = Math.ceil(durationSec / chunkSec - 1e-9);
  if (count < 2) return null;
  return Array.from({ length: count }, (_, index) => {
    const last = index === count - 1;
    const frames: Record<string, number | null> = {};
    for (const t of tasks) {
      if (!t.video) continue;
      // A whole number of GOPs, so a whole number of frames: exact in integers.
      const rate = rateOf(t.video);
      frames[t.id] = last ? null : Math.round((Math.round(chunkSec * 1000) * rate.num) / (rate.den * 1000));
    }
    return { index, startSec: Math.round(index * chunkSec * 1000) / 1000, durationSec: last ? null : chunkSec, frames };
  });
}

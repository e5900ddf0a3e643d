/**
 * Frame rates as exact fractions (30000/1001, not 29.97): what the probe reads, what the planner
 * chooses, what the fps filter and the GOP use. Pure.
 */

export interface Rate {
  num: number;
  den: number;
}

/** The rates players and TVs expect, lowest first. */
export const STANDARD_RATES: readonly Rate[] = [
  { num: 24000, den: 1001 }, { num: 24, den: 1 }, { num: 25, den: 1 }, { num: 30000, den: 1001 },
  { num: 30, den: 1 }, { num: 50, den: 1 }, { num: 60000, den: 1001 }, { num: 60, den: 1 },
];

/**
 * Closer than this (relative) to a standard rate is that rate: 2997/100 is 30000/1001 rounded,
 * while 23.976 and 24 are 0.1 % apart.
 */
const SAME_RATE = 3e-4;

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

export function reduce(r: Rate): Rate {
  const g = gcd(Math.abs(r.num), Math.abs(r.den)) || 1;
  return { num: r.num / g, den: r.den / g };
}

export const rateValue = (r: Rate): number => r.num / r.den;

/** `30000/1001`; ffmpeg's fps filter, ffprobe and DASH @frameRate all read this form. */
export const rateText = (r: Rate): string => `${r.num}/${r.den}`;

/**
 * Reads `30000/1001`, `25/1` or `25` (ffprobe's r_frame_rate/avg_frame_rate); null for `0/0`,
 * garbage, or anything not positive and finite.
 *
 * @example parseRate('30000/1001') // { num: 30000, den: 1001 }
 */
export function parseRate(text: string | undefined | null): Rate | null {
  const m = /^\s*(\d+)(?:\/(\d+))?\s*$/.exec(text ?? '');
  if (!m) return null;
  const num = Number(m[1]);
  const den = m[2] === undefined ? 1 : Number(m[2]);
  if (!Number.isSafeInteger(num) || !Number.isSafeInteger(den) || num <= 0 || den <= 0) return null;
  return reduce({ num, den });
}

/** A decimal rate (a template's `fps: 29.97`, an old probe result) as a fraction: a standard rate when it is one, else to the thousandth. */
export function rateFromNumber(fps: number): Rate | null {
  if (!Number.isFinite(fps) || fps <= 0) return null;
  return standardNear(fps) ?? reduce({ num: Math.round(fps * 1000), den: 1000 });
}

/** The standard rate `fps` is (within rounding), or null. */
export function standardNear(fps: number): Rate | null {
  return STANDARD_RATES.find((s) => Math.abs(fps / rateValue(s) - 1) <= SAME_RATE) ?? null;
}

/**
 * The constant rate an output of this source gets: a standard rate stays exactly itself
 * (2997/100 becomes 30000/1001); a variable or odd rate becomes the nearest standard rate not above
 * its average (a phone's 33.7 fps average: 30); a source slower than every standard rate (a 15 fps
 * screen capture) keeps its own rate.
 *
 * @example constantRate({ num: 33717, den: 1000 }) // { num: 30, den: 1 }
 */
export function constantRate(average: Rate): Rate {
  const fps = rateValue(average);
  const standard = standardNear(fps);
  if (standard) return standard;
  const below = STANDARD_RATES.filter((s) => rateValue(s) <= fps);
  if (below.length) return below[below.length - 1]!;
  // Kept as given when it is a plain fraction (15/1, 25/2), else to the thousandth.
  return average.den <= 1001 ? reduce(average) : reduce({ num: Math.round(fps * 1000), den: 1000 });
}

/**
 * Whole milliseconds in `frames` frames at `rate`, or null when it is not a whole number
 * (exact integer arithmetic: 60 frames at 30000/1001 are 2002 ms).
 */
export function framesToMs(frames: number, rate: Rate): number | null {
  const scaled = frames * rate.den * 1000;
  return scaled % rate.num === 0 ? scaled / rate.num : null;
}

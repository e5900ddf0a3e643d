/**
 * ffmpeg arguments for snapshots: one decode pass picks every planned frame, scales it to the
 * task's size and writes it as an image, or tiles them all into a sprite sheet.
 */
import path from 'node:path';
import type { SnapshotTask } from '../plan';
import { commonArgs, inputArgs } from './input';

const encoders: Record<SnapshotTask['format'], string[]> = {
  // JPEG quality 2 (of 2–31): visually lossless, still small at poster sizes; full-range 4:2:0.
  jpg: ['-c:v', 'mjpeg', '-q:v', '2', '-pix_fmt', 'yuvj420p'],
  png: ['-c:v', 'png'],
  webp: ['-c:v', 'libwebp', '-quality', '85'],
};

/**
 * A frame this close before a planned time counts as at it: times are planned to the millisecond
 * and frame timestamps are rounded to their time base, so "exactly on a frame" must not miss it.
 */
export const FRAME_TOLERANCE_SEC = 0.001;

/**
 * Decoding starts this long before the first planned time: the input seek lands on the keyframe
 * before it and drops frames up to the seek point, and the margin leaves the choice of the frame
 * at the first time to the select expression, the same rule as every other time.
 */
const SEEK_LEAD_SEC = 1;

/** ffmpeg's expression parser refuses ~100 terms in one sum; sums of sums keep it shallow. */
const TERMS_PER_GROUP = 10;

/** Where one run leaves its files inside the scratch directory. */
export interface SnapshotFiles {
  /** One image per planned time, in order (not for sprites). */
  frames: string[];
  /** The sprite sheet. */
  sheet: string | null;
  /** One line per frame that reached the sheet (ffmpeg's framecrc), to count them. */
  frameLog: string | null;
}

/**
 * @example const files = snapshotFiles(task, '/work/outputs/3f…'); files.frames[0] // '/work/outputs/3f…/00001.jpg'
 */
export function snapshotFiles(task: SnapshotTask, dir: string): SnapshotFiles {
  if (task.sprite) {
    return { frames: [], sheet: path.join(dir, `sheet.${task.format}`), frameLog: path.join(dir, 'frames.crc') };
  }
  return { frames: task.times.map((_, i) => path.join(dir, frameName(i, task.format))), sheet: null, frameLog: null };
}

function frameName(i: number, format: string): string {
  return `${String(i + 1).padStart(5, '0')}.${format}`;
}

/** Where decoding starts: a little before the first planned time. */
export function seekFor(task: SnapshotTask): number {
  const first = task.times[0] ?? 0;
  return first > SEEK_LEAD_SEC ? Math.round((first - SEEK_LEAD_SEC) * 1000) / 1000 : 0;
}

/**
 * The `select` expression that passes, for the i-th planned time, the first frame at or after it:
 * frame by frame, `selected_n` (frames passed so far) says which time is next, and a frame passes
 * when it has reached that time. Times are relative to `seekSec`, where decoding starts. Since a
 * frame can satisfy only the next time, no frame is taken twice even if two times share a frame.
 *
 * @example selectExpr([0, 2, 4], 0) // 'eq(selected_n,0)+eq(selected_n,1)*gte(t,1.999)+eq(selected_n,2)*gte(t,3.999)'
 */
export function selectExpr(times: number[], seekSec: number): string {
  let terms = times.map((time, i) => {
    const from = Math.round((time - seekSec - FRAME_TOLERANCE_SEC) * 1000) / 1000;
    // A time at the start takes the first frame whatever its timestamp (a still image may have none).
    return from <= 0 ? `eq(selected_n,${i})` : `eq(selected_n,${i})*gte(t,${from})`;
  });
  while (terms.length > TERMS_PER_GROUP) {
    const groups: string[] = [];
    for (let i = 0; i < terms.length; i += TERMS_PER_GROUP) groups.push(`(${terms.slice(i, i + TERMS_PER_GROUP).join('+')})`);
    terms = groups;
  }
  return terms.join('+');
}

/** Escapes a filter argument for a filtergraph: its commas are not filter separators. */
function graphEscape(arg: string): string {
  return arg.replaceAll('\\', '\\\\').replaceAll("'", "\\'").replaceAll(',', '\\,');
}

/**
 * The whole run: frames (or the sheet and its frame log) written into `dir`, which must exist and
 * hold nothing else. The output side names files; the input side is only the one local file.
 *
 * @example execa(ffmpegPath, snapshotArgs(task, '/cache/in.input', scratchDir))
 */
export function snapshotArgs(task: SnapshotTask, input: string, dir: string): string[] {
  const seek = seekFor(task);
  const n = task.times.length;
  const pick = `select=${graphEscape(selectExpr(task.times, seek))},scale=${task.width}:${task.height}:flags=bicubic,setsar=1`;
  const common = [...commonArgs(), ...inputArgs(input, seek)];
  // Output timestamps stay the frames' own: no frame is duplicated or dropped to fit a rate.
  const passthrough = ['-fps_mode', 'passthrough'];
  const noExtras = ['-map_metadata', '-1', '-an', '-sn', '-dn'];
  const files = snapshotFiles(task, dir);
  if (task.sprite && files.sheet && files.frameLog) {
    const { columns, rows } = task.sprite;
    return [
      ...common,
      // tile emits the sheet as soon as the n-th frame is in, so decoding stops there.
      '-filter_complex', `[0:v:0]${pick},split=2[cells][counted];[cells]tile=${columns}x${rows}:nb_frames=${n}[sheet]`,
      '-map', '[sheet]', ...passthrough, '-frames:v', '1', ...encoders[task.format], ...noExtras,
      '-f', 'image2', '-update', '1', files.sheet,
      // A checksum line per frame that went into the sheet: how the activity counts them.
      '-map', '[counted]', ...passthrough, '-frames:v', String(n), '-c:v', 'rawvideo', ...noExtras,
      '-f', 'framecrc', files.frameLog,
    ];
  }
  return [
    ...common,
    '-map', '0:v:0',
    '-vf', pick,
    ...passthrough,
    // Stop decoding once the last planned frame is out.
    '-frames:v', String(n),
    ...encoders[task.format],
    ...noExtras,
    // A numbered sequence (00001, 00002, …); `%` in the directory would read as a pattern.
    '-f', 'image2', '-start_number', '1', path.join(dir.replaceAll('%', '%%'), `%05d.${task.format}`),
  ];
}

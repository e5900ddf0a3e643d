/** The WebVTT thumbnails track of a sprite sheet: one cue per frame, pointing at its cell. */
import path from 'node:path';
import type { SnapshotTask } from './plan';

/** `hh:mm:ss.mmm`, the timestamp form every WebVTT parser accepts. */
export function vttTime(sec: number): string {
  const ms = Math.round(sec * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`;
}

/**
 * Cue i runs from frame i's time to the next frame's time (the last to the input's end); the first
 * cue starts at 0 so a player finds a thumbnail anywhere on the timeline. The payload names the
 * sheet relative to the track, which sits beside it: `{sheet}#xywh=x,y,w,h`.
 *
 * @example spriteVtt(task) // 'WEBVTT\n\n00:00:00.000 --> 00:00:10.000\nsp.jpg#xywh=0,0,160,90\n\n…'
 */
export function spriteVtt(task: SnapshotTask): string {
  const sprite = task.sprite;
  if (!sprite) throw new Error(`snapshot "${task.name}" is not a sprite`);
  const sheet = path.posix.basename(sprite.imageKey);
  const cues = task.times.map((time, i) => {
    const start = i === 0 ? 0 : time;
    const next = task.times[i + 1] ?? sprite.endSec;
    // A cue must not end before it starts, even if the input's stated end is off.
    const end = Math.max(next, start + 0.001);
    const x = (i % sprite.columns) * task.width;
    const y = Math.floor(i / sprite.columns) * task.height;
    return `${vttTime(start)} --> ${vttTime(end)}\n${sheet}#xywh=${x},${y},${task.width},${task.height}\n`;
  });
  return ['WEBVTT\n', ...cues].join('\n');
}

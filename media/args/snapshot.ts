/** ffmpeg arguments for a single-frame snapshot. */
import type { SnapshotTask } from '../plan';
import { commonArgs, inputArgs } from './input';

const encoders: Record<SnapshotTask['format'], string[]> = {
  // JPEG quality 2 (of 2–31): visually lossless, still small at poster sizes; full-range 4:2:0.
  jpg: ['-q:v', '2', '-pix_fmt', 'yuvj420p'],
  png: [],
  webp: ['-c:v', 'libwebp', '-quality', '85'],
};

/**
 * The frame at `timeSec`, scaled to the task's size.
 *
 * @example execa(ffmpegPath, snapshotArgs(task, task.times[0], '/cache/in.mp4', '/tmp/poster.jpg'))
 */
export function snapshotArgs(task: SnapshotTask, timeSec: number, input: string, output: string): string[] {
  return [
    ...commonArgs(),
    ...inputArgs(input, timeSec),
    '-map', '0:v:0',
    '-frames:v', '1',
    '-vf', `scale=${task.width}:${task.height}:flags=bicubic,setsar=1`,
    ...encoders[task.format],
    '-an', '-sn', '-dn', '-map_metadata', '-1',
    '-f', 'image2', '-update', '1',
    output,
  ];
}

/** ffmpeg arguments for one snapshot (a single still frame). */
import type { SnapshotTask } from '../plan';
import { commonArgs, inputArgs } from './input';

/**
 * @example execa(ffmpegPath, snapshotArgs(task, '/cache/in.mp4', '/tmp/poster.jpg'))
 */
export function snapshotArgs(task: SnapshotTask, input: string, output: string): string[] {
  return [
    ...commonArgs(),
    ...inputArgs(input, task.timeSec),
    '-map', '0:v:0',
    '-frames:v', '1',
    '-vf', `scale=${task.width}:${task.height}:flags=bicubic,setsar=1`,
    // JPEG quality 2 (of 2–31): visually lossless, still small at poster sizes.
    ...(task.format === 'jpg' ? ['-q:v', '2', '-pix_fmt', 'yuvj420p'] : []),
    '-an', '-sn', '-dn', '-map_metadata', '-1',
    '-f', 'image2', '-update', '1',
    output,
  ];
}

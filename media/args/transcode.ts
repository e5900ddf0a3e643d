/** ffmpeg arguments for one transcode task (H.264/AAC in MP4 for now). Pure: task in, argv out. */
import type { AudioPlan, TranscodeTask, VideoPlan } from '../plan';
import { commonArgs, inputArgs } from './input';

export interface RunLimits {
  /** 0 lets ffmpeg choose. */
  threads: number;
  maxOutputBytes: number;
}

function videoFilter(v: VideoPlan): string {
  const filters = [
    // Scale to the planned display size (the input is already auto-rotated by ffmpeg), then
    // declare square pixels so players do not stretch the picture a second time.
    `scale=${v.width}:${v.height}:flags=bicubic`,
    'setsar=1',
  ];
  if (v.fps !== null) filters.push(`fps=${v.fps}`);
  return filters.join(',');
}

function videoArgs(v: VideoPlan): string[] {
  const rate =
    v.bitrateKbps !== null
      ? [
          '-b:v', `${v.bitrateKbps}k`,
          ...(v.maxrateKbps !== null ? ['-maxrate', `${v.maxrateKbps}k`] : []),
          ...(v.bufsizeKbps !== null ? ['-bufsize', `${v.bufsizeKbps}k`] : []),
        ]
      : ['-crf', String(v.crf ?? 23)];
  return [
    '-map', '0:v:0',
    '-vf', videoFilter(v),
    '-c:v', 'libx264',
    '-profile:v', v.profile,
    '-preset', v.preset,
    // 8-bit 4:2:0 is what every hardware decoder plays, whatever the source was.
    '-pix_fmt', 'yuv420p',
    ...rate,
    // Fixed GOP without scene-cut keyframes: segment boundaries line up across renditions.
    '-g', String(v.gopFrames),
    '-keyint_min', String(v.gopFrames),
    '-sc_threshold', '0',
  ];
}

function audioArgs(a: AudioPlan): string[] {
  return [
    '-map', '0:a:0',
    '-c:a', 'aac',
    '-b:a', `${a.bitrateKbps}k`,
    '-ar', String(a.sampleRate),
    '-ac', String(a.channels),
  ];
}

/**
 * The full argv (without the binary) that turns `input` into the task's output at `output`.
 *
 * @example execa(ffmpegPath, transcodeArgs(task, '/cache/in.mp4', '/tmp/out.mp4', limits))
 */
export function transcodeArgs(task: TranscodeTask, input: string, output: string, limits: RunLimits): string[] {
  return [
    ...commonArgs(),
    ...inputArgs(input),
    ...(task.video ? videoArgs(task.video) : ['-vn']),
    ...(task.audio ? audioArgs(task.audio) : ['-an']),
    // Drop subtitle/data streams and source metadata we did not ask for.
    '-sn', '-dn', '-map_metadata', '-1',
    ...(limits.threads > 0 ? ['-threads', String(limits.threads)] : []),
    // Moves the moov atom to the front so playback starts before the download ends.
    '-movflags', '+faststart',
    // A hard ceiling on the output size, whatever the input claims.
    '-fs', String(limits.maxOutputBytes),
    '-f', 'mp4',
    output,
  ];
}

/** Test media made at test time with ffmpeg's lavfi sources, and an independent ffprobe reader. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { resolveFfmpeg, type FfmpegBinaries } from '../../activities/ffmpeg-path';

const run = promisify(execFile);
let binaries: Promise<FfmpegBinaries> | undefined;

export function testBinaries(): Promise<FfmpegBinaries> {
  binaries ??= resolveFfmpeg(process.env);
  return binaries;
}

export interface ClipOptions {
  width?: number;
  height?: number;
  durationSec?: number;
  fps?: number;
  audio?: boolean;
  video?: boolean;
}

/**
 * Writes an H.264/AAC MP4 test clip (testsrc2 + a sine tone); resolves the command it ran.
 *
 * @example await makeClip('/tmp/a.mp4', { width: 1920, height: 1080, durationSec: 2 })
 */
export async function makeClip(file: string, o: ClipOptions = {}): Promise<string[]> {
  const { width = 640, height = 360, durationSec = 2, fps = 30, audio = true, video = true } = o;
  const { ffmpeg } = await testBinaries();
  const args = ['-hide_banner', '-v', 'error', '-y'];
  if (video) args.push('-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}:duration=${durationSec}`);
  if (audio) args.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${durationSec}`);
  if (video) args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p');
  if (audio) args.push('-c:a', 'aac', '-ac', '2');
  args.push('-t', String(durationSec), file);
  await run(ffmpeg, args);
  return [ffmpeg, ...args];
}

export interface Probed {
  durationSec: number;
  formatName: string;
  streams: { codec_type: string; codec_name: string; codec_tag_string?: string; width?: number; height?: number; pix_fmt?: string; profile?: string; channels?: number }[];
}

/** ffprobe without any of our own parsing, so tests check outputs independently of the code under test. */
export async function probeFile(file: string): Promise<Probed> {
  const { ffprobe } = await testBinaries();
  const { stdout } = await run(ffprobe, ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file]);
  const json = JSON.parse(stdout) as { format: { duration: string; format_name: string }; streams: Probed['streams'] };
  return { durationSec: Number(json.format.duration), formatName: json.format.format_name, streams: json.streams };
}

/** Decodes the whole file; resolves true when ffmpeg finds no error (the file plays). */
export async function decodesCleanly(file: string): Promise<boolean> {
  const { ffmpeg } = await testBinaries();
  const { stderr } = await run(ffmpeg, ['-v', 'error', '-xerror', '-i', file, '-f', 'null', '-']);
  return stderr.trim() === '';
}

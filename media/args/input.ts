/** How every ffmpeg/ffprobe run opens its input: a local file, through an explicit demuxer allow-list. */

/** Demuxers of single still images (snapshot-only inputs and watermark images); never `image2`, whose patterns reach other files. */
export const IMAGE_DEMUXERS = ['png_pipe', 'jpeg_pipe', 'webp_pipe'] as const;

/**
 * Demuxers we accept. Playlist and indirection demuxers (hls, dash, concat, image2 patterns,
 * tee, …) are absent on purpose: they would make ffmpeg open files or URLs named inside the
 * user's input. Names are matched against each demuxer's aliases ("mov" admits mp4/m4a/3gp).
 */
export const ALLOWED_DEMUXERS = [
  'mov', 'matroska', 'avi', 'mpegts', 'mpeg', 'flv', 'mxf', 'asf', 'ogg', 'wav', 'mp3', 'aac', 'flac',
  ...IMAGE_DEMUXERS,
] as const;

/**
 * Input options for a local file: only the `file` protocol, only allowed demuxers.
 *
 * @example ['ffprobe', ...inputArgs('/cache/in.mp4')]
 */
export function inputArgs(path: string, seekSec?: number, demuxers: readonly string[] = ALLOWED_DEMUXERS): string[] {
  return [
    '-protocol_whitelist', 'file',
    '-format_whitelist', demuxers.join(','),
    // Seeking before -i is fast (keyframe index) and, since ffmpeg 2.1, still frame-accurate.
    ...(seekSec !== undefined && seekSec > 0 ? ['-ss', seekSec.toFixed(3)] : []),
    '-i', path,
  ];
}

/** Options every ffmpeg run shares: quiet, no prompts, machine-readable progress on stdout. */
export function commonArgs(): string[] {
  return ['-hide_banner', '-nostdin', '-y', '-v', 'error', '-nostats', '-progress', 'pipe:1'];
}

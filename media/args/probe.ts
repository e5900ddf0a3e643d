/** ffprobe arguments: the whole container and stream description as JSON. */
import { inputArgs } from './input';

/**
 * With `maxPixels`, decoders refuse to allocate larger frames while ffprobe looks for stream
 * parameters: a 100-byte PNG claiming 16000x16000 would otherwise cost ffprobe 800 MB.
 *
 * @example execa(ffprobe, probeArgs('/cache/in.input', 8192 * 4320))
 */
export function probeArgs(path: string, maxPixels?: number): string[] {
  return [
    '-v', 'error', '-print_format', 'json', '-show_format', '-show_streams',
    // The option is a C int: larger limits mean "no limit" to us, and INT_MAX to ffmpeg.
    ...(maxPixels !== undefined ? ['-max_pixels', String(Math.min(maxPixels, 2 ** 31 - 1))] : []),
    ...inputArgs(path),
  ];
}

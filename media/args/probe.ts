/** ffprobe arguments: the whole container and stream description as JSON. */
import { inputArgs } from './input';

export function probeArgs(path: string): string[] {
  return ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', ...inputArgs(path)];
}

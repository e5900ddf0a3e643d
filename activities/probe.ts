/** The probe activity's body: ffprobe on the local copy of the input, normalised to MediaInfo. */
import { execa, type ExecaError } from 'execa';
import { MediaflowError } from '../model/errors';
import type { MediaInfo } from '../model/job-state';
import type { JobInput } from '../model/job';
import { probeArgs } from '../media/args/probe';
import { oversizeInLog, parseProbe, tooManyPixels, type ProbeJson } from '../media/probe-parse';
import type { ActivityDeps } from './deps';
import { withLocalInput } from './local-input';

const PROBE_TIMEOUT_MS = 60_000;

/**
 * Runs ffprobe and returns its parsed JSON; unreadable media becomes a coded, non-retryable error.
 * With `maxPixels` (user inputs), a picture over the limit fails with InputTooLarge before any
 * decoder allocates it.
 */
export async function ffprobeJson(ffprobe: string, file: string, maxPixels?: number): Promise<ProbeJson> {
  const oversize = (stderr: string) => {
    const size = maxPixels !== undefined ? oversizeInLog(stderr) : null;
    return size ? tooManyPixels(size.width, size.height, maxPixels!) : null;
  };
  try {
    const { stdout, stderr } = await execa(ffprobe, probeArgs(file, maxPixels), { timeout: PROBE_TIMEOUT_MS, stdin: 'ignore', maxBuffer: 16 * 1024 * 1024 });
    const tooLarge = oversize(String(stderr ?? ''));
    if (tooLarge) throw tooLarge;
    return JSON.parse(stdout) as ProbeJson;
  } catch (err) {
    if (err instanceof MediaflowError) throw err;
    const e = err as ExecaError;
    if (e.timedOut) throw new MediaflowError('InputUnreadable', `ffprobe could not read the input within ${PROBE_TIMEOUT_MS / 1000} s`);
    const stderr = String(e.stderr ?? '');
    const tooLarge = oversize(stderr);
    if (tooLarge) throw tooLarge;
    if (/not on whitelist/i.test(stderr)) {
      throw new MediaflowError('UnsupportedInput', 'the input is a playlist or a container we do not open (allowed: common audio/video containers)');
    }
    // ffprobe's last line names the problem ("Invalid data found when processing input"); drop the path.
    const reason = stderr.trim().split('\n').pop()?.replace(/^.*?: /, '') || 'unknown reason';
    throw new MediaflowError('InputUnreadable', `the input is not readable media: ${reason}`);
  }
}

export function createProbe(deps: ActivityDeps) {
  /** Missing, empty and oversized inputs are refused while the input is obtained. */
  return async function probe(input: JobInput): Promise<MediaInfo> {
    return withLocalInput(deps, input, async (file, { sizeBytes }) =>
      parseProbe(await ffprobeJson(deps.binaries.ffprobe, file, deps.config.MAX_INPUT_PIXELS), sizeBytes, {
        maxDurationSec: deps.config.MAX_INPUT_DURATION_SEC,
        maxPixels: deps.config.MAX_INPUT_PIXELS,
      }),
    );
  };
}

/**
 * What this worker's ffmpeg can encode: `ffmpeg -encoders` read once per binary, then every run
 * checked against it, so a job asking for an encoder this build lacks fails at once and for good
 * (EncoderMissing) instead of failing the same way on five retries.
 */
import { execa } from 'execa';
import { MediaflowError } from '../model/errors';

/** The encoders our builders name (media/args/transcode.ts); the start-up log says which are here. */
export const TRACKED_ENCODERS = ['libx264', 'libx265', 'libvpx-vp9', 'libsvtav1', 'aac', 'libopus', 'libmp3lame'] as const;

/** `-c copy` and its kin name no encoder. */
const NOT_ENCODERS = new Set(['copy']);

/**
 * The encoder names of `ffmpeg -encoders` output: after the ` ------` rule, one per line as
 * ` V....D libx264   libx264 H.264 / AVC …` (type and flag letters, the name, a description).
 *
 * @example parseEncoders(' ------\n V....D libx264  H.264\n A....D aac  AAC\n') // Set { 'libx264', 'aac' }
 */
export function parseEncoders(text: string): Set<string> {
  const lines = text.split('\n');
  const rule = lines.findIndex((l) => l.trim() === '------');
  const found = new Set<string>();
  for (const line of lines.slice(rule + 1)) {
    const m = /^\s*[VAS][A-Z.]{5}\s+(\S+)/.exec(line);
    if (m) found.add(m[1]!);
  }
  return found;
}

const listed = new Map<string, Promise<Set<string> | null>>();

/**
 * The encoders `binary` has, listed once per process and binary; null when the listing could not
 * be read (then nothing is refused up front: ffmpeg itself reports what it lacks).
 */
export function encodersOf(binary: string): Promise<Set<string> | null> {
  let known = listed.get(binary);
  if (!known) {
    known = execa(binary, ['-hide_banner', '-encoders'], { stdin: 'ignore', timeout: 30_000 }).then(
      ({ stdout }) => {
        const found = parseEncoders(String(stdout));
        return found.size ? found : null;
      },
      () => null,
    );
    listed.set(binary, known);
  }
  return known;
}

/**
 * The encoders an argv selects (`-c:v libx264`, `-c:a aac`, `-codec:v png`, `-vcodec …`), `copy` aside.
 *
 * @example encodersIn(['-i', 'in.mp4', '-c:v', 'libx264', '-c:a', 'aac', 'out.mp4']) // ['libx264', 'aac']
 */
export function encodersIn(args: readonly string[]): string[] {
  const names: string[] = [];
  args.forEach((arg, i) => {
    const value = args[i + 1];
    if (value !== undefined && /^-(?:c|codec|vcodec|acodec|scodec)(?::.*)?$/.test(arg) && !NOT_ENCODERS.has(value) && !names.includes(value)) {
      names.push(value);
    }
  });
  return names;
}

/**
 * Throws EncoderMissing (non-retryable) naming every encoder `args` asks for that `binary` lacks.
 *
 * @example await requireEncoders(binaries.ffmpeg, transcodeArgs(task, input, output, limits))
 */
export async function requireEncoders(binary: string, args: readonly string[]): Promise<void> {
  const have = await encodersOf(binary);
  if (!have) return;
  const missing = encodersIn(args).filter((name) => !have.has(name));
  if (missing.length) {
    throw new MediaflowError(
      'EncoderMissing',
      `this worker's ffmpeg has no ${missing.join(', ')} encoder (${binary}); run the job on a worker whose ffmpeg was built with it`,
      [],
      { missing, argv: [binary, ...args] },
    );
  }
}

/** Which tracked encoders `binary` has and lacks, for the worker's start-up log. */
export async function encoderReport(binary: string): Promise<{ ffmpeg: string; has: string[]; lacks: string[]; listed: boolean }> {
  const have = await encodersOf(binary);
  return {
    ffmpeg: binary,
    has: TRACKED_ENCODERS.filter((e) => have?.has(e)),
    lacks: have ? TRACKED_ENCODERS.filter((e) => !have.has(e)) : [],
    listed: have !== null,
  };
}

/**
 * Reads the encoder list at worker start (later runs reuse it) and logs it: info when every
 * tracked encoder is there, a warning naming the ones jobs will fail without.
 *
 * @example await logEncoders(binaries.ffmpeg, Runtime.instance().logger)
 */
export async function logEncoders(binary: string, logger: { info(msg: string, meta?: Record<string, unknown>): void; warn(msg: string, meta?: Record<string, unknown>): void }): Promise<void> {
  const report = await encoderReport(binary);
  if (!report.listed) logger.warn('could not list ffmpeg encoders (`-encoders`); jobs will not be checked against them', report);
  else if (report.lacks.length) logger.warn(`ffmpeg lacks ${report.lacks.join(', ')}: jobs that need them fail with EncoderMissing`, report);
  else logger.info('ffmpeg encoders', report);
}

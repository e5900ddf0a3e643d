/** Runs ffmpeg: argv array (no shell), progress from `-progress`, stall and wall-clock limits, abort on cancel. */
import os from 'node:os';
import { execa, ExecaError } from 'execa';
import { MediaflowError } from '../model/errors';
import { requireEncoders } from './capabilities';
import { metrics } from '../observability/metrics';

export interface FfmpegRun {
  binary: string;
  args: string[];
  /** Expected output duration, to turn out_time into a 0–1 fraction. */
  durationSec: number;
  onProgress?: (fraction: number) => void;
  signal?: AbortSignal;
  timeoutMs: number;
  /** Kill ffmpeg when its output time has not moved for this long. */
  stallMs: number;
  /** Working directory, for arguments that name scratch files relative to it. */
  cwd?: string;
  /**
   * Scheduling niceness for this run (0 … 19): encodes run niced, so light work on the same
   * worker (a poster, a probe, a package) gets the CPU first and is not slowed by them.
   */
  nice?: number;
}

const KILL_GRACE_MS = 1500;

function tail(text: string | undefined, lines = 15): string {
  return (text ?? '').trim().split('\n').slice(-lines).join('\n');
}

/**
 * @example await runFfmpeg({ binary, args, durationSec: 20, onProgress: (p) => heartbeat({ progress: p }), signal, timeoutMs, stallMs })
 */
export async function runFfmpeg(run: FfmpegRun): Promise<void> {
  // A build without the encoder fails the same way on every attempt: say so once, non-retryably.
  await requireEncoders(run.binary, run.args);
  const child = execa(run.binary, run.args, {
    cancelSignal: run.signal,
    timeout: run.timeoutMs,
    // SIGTERM first so ffmpeg can close files; SIGKILL if it does not go.
    killSignal: 'SIGTERM',
    forceKillAfterDelay: KILL_GRACE_MS,
    stdin: 'ignore',
    lines: false,
    ...(run.cwd ? { cwd: run.cwd } : {}),
  });
  // Only ever nicer than the worker itself: a worker started under `nice -n 19` must not hand its
  // encodes a higher priority than the operator gave it (root may lower niceness).
  const nice = run.nice ? Math.max(run.nice, os.getPriority()) : 0;
  if (nice && child.pid !== undefined) {
    try {
      os.setPriority(child.pid, nice);
    } catch {
      // Not allowed here (a container without the capability): the run goes on at normal priority.
    }
  }
  let lastMove = Date.now();
  let lastOutUs = -1;
  const counters: Record<string, number> = {};
  let stalled = false;
  const watchdog = setInterval(() => {
    if (Date.now() - lastMove > run.stallMs) {
      stalled = true;
      child.kill('SIGTERM');
    }
  }, Math.min(1000, run.stallMs));
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      // `out_time_us` (and the misnamed `out_time_ms`) carry microseconds of output written.
      const m = /^out_time_(?:us|ms)=(\d+)$/.exec(line);
      if (m) {
        const us = Number(m[1]);
        if (us > lastOutUs) {
          lastOutUs = us;
          lastMove = Date.now();
          if (run.durationSec > 0) run.onProgress?.(Math.min(1, us / 1e6 / run.durationSec));
        }
      } else if (line === 'progress=end') {
        run.onProgress?.(1);
      } else {
        // Still images and snapshot runs report frames or bytes rather than time: they count as
        // progress only when they grow (every progress block repeats them, moving or not).
        const counter = /^(frame|total_size)=(\d+)$/.exec(line);
        if (counter) {
          const value = Number(counter[2]);
          if (value > (counters[counter[1]!] ?? -1)) {
            counters[counter[1]!] = value;
            lastMove = Date.now();
          }
        }
      }
    }
  });
  const timer = metrics.ffmpegSeconds.startTimer();
  try {
    await child;
    timer({ outcome: 'ok' });
  } catch (err) {
    timer({ outcome: run.signal?.aborted ? 'canceled' : 'failed' });
    if (run.signal?.aborted) throw run.signal.reason ?? err;
    const e = err as ExecaError;
    // What the Temporal UI shows under the failure's details: the command that failed and how.
    // The argv names only files in this worker's cache and scratch directories (inputs are
    // local files by then), never a URL, credential or the user's text.
    const stderr = tail(String(e.stderr ?? ''));
    const details = { argv: [run.binary, ...run.args], ...(run.cwd ? { cwd: run.cwd } : {}), stderr };
    if (stalled) {
      throw new MediaflowError('EncodeStalled', `ffmpeg made no progress for ${Math.round(run.stallMs / 1000)} s and was stopped`, [], details);
    }
    if (e.timedOut) {
      throw new MediaflowError('EncodeTimeout', `ffmpeg ran longer than ${Math.round(run.timeoutMs / 1000)} s and was stopped`, [], details);
    }
    const reason = e.signal ? `was killed by ${e.signal}` : `exited with code ${e.exitCode}`;
    throw new MediaflowError('EncodeFailed', `ffmpeg ${reason}: ${stderr || 'no message'}`, [], details);
  } finally {
    clearInterval(watchdog);
  }
}

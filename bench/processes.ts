/** Runs plain ffmpeg commands for the baselines and times them: one, a sequence, a bounded pool. */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

export interface Command {
  /** What the command does, for the table and the result file. */
  label: string;
  binary: string;
  args: string[];
  /** The (first) file it writes. */
  output?: string;
}

export interface TimedRun {
  label: string;
  ms: number;
}

/** Runs one command to completion (stdout discarded, stderr kept for the error); resolves its wall time. */
export async function timeCommand(cmd: Command): Promise<TimedRun> {
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(cmd.binary, cmd.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd.label}: ffmpeg exited ${code}: ${stderr.trim().slice(-500)}`))));
  });
  return { label: cmd.label, ms: performance.now() - t0 };
}

/**
 * Runs the commands with at most `parallel` at once, in order, like a worker with that many
 * activity slots. Resolves the wall time of the whole batch and each command's own time.
 *
 * @example await runPool(commands, 2)
 */
export async function runPool(commands: readonly Command[], parallel: number): Promise<{ ms: number; runs: TimedRun[] }> {
  const t0 = performance.now();
  const runs: TimedRun[] = [];
  let next = 0;
  const lane = async () => {
    while (next < commands.length) {
      const cmd = commands[next++]!;
      runs.push(await timeCommand(cmd));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, commands.length)) }, lane));
  return { ms: performance.now() - t0, runs };
}

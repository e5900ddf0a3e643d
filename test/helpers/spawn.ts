/** A script started as its own process, as a user starts it, followed until it says it is up. */
import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Spawns `node --import tsx <args>` in `cwd` and resolves once its output contains `banner`;
 * throws with the output if it exits first or `timeoutMs` passes.
 *
 * @example const { child, output } = await spawnUntil(['scripts/dev.ts'], { cwd: root, env }, 'mediaflow is running', 120_000)
 */
export async function spawnUntil(
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
  banner: string,
  timeoutMs: number,
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + timeoutMs;
  while (!out.includes(banner)) {
    if (child.exitCode !== null) throw new Error(`${args[0]} exited early:\n${out}`);
    if (Date.now() > deadline) throw new Error(`${args[0]} did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, output: () => out };
}

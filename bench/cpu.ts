/**
 * CPU time of the processes a job costs, from /proc (Linux): less sensitive than wall time to
 * other work on a shared machine. A process's children count once they have exited and been
 * waited for, which is how a worker's ffmpeg runs (and the baselines' ffmpeg) get counted.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let tickMs: number | undefined;

/** Milliseconds per clock tick (USER_HZ, 100 on Linux unless built otherwise). */
function msPerTick(): number {
  if (tickMs === undefined) {
    try {
      tickMs = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    } catch {
      tickMs = 10;
    }
  }
  return tickMs;
}

export interface ProcessCpu {
  /** user + system time of the process itself (all its threads). */
  ownMs: number;
  /** user + system time of its exited, waited-for children (and theirs). */
  childrenMs: number;
}

/**
 * Parses /proc/PID/stat text. Pure. The command name may hold spaces and parentheses, so fields
 * are counted from the last ')'.
 */
export function parseProcStat(text: string, ms = 10): ProcessCpu {
  const rest = text.slice(text.lastIndexOf(')') + 2).trim().split(/\s+/);
  // Fields 14–17 of proc(5) (utime, stime, cutime, cstime); `rest` starts at field 3.
  const field = (n: number) => Number(rest[n - 3]);
  return { ownMs: (field(14) + field(15)) * ms, childrenMs: (field(16) + field(17)) * ms };
}

export function processCpu(pid: number | 'self'): ProcessCpu | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'), msPerTick());
  } catch {
    return null;
  }
}

/** The pid of the Temporal dev server listening on `port`, found by its command line. */
export function devServerPid(port: number): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const at = argv.indexOf('--port');
      if (argv.includes('start-dev') && at >= 0 && argv[at + 1] === String(port)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

/** The live children of a process (from /proc). */
export function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * CPU of a process and its whole family in ms: itself, its reaped children, and its live children
 * (as a PostgreSQL postmaster's backends are). 0 when it is gone.
 */
export function familyCpuMs(pid: number): number {
  const own = processCpu(pid);
  return (own ? own.ownMs + own.childrenMs : 0) + childrenOf(pid).reduce((sum, child) => sum + (processCpu(child)?.ownMs ?? 0), 0);
}

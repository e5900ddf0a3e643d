/**
 * Finds (or builds) the Temporal CLI and runs its dev server. Order: $TEMPORAL_CLI_PATH,
 * `temporal` on PATH, our cache, a `go install` build into the cache, and last the SDK's own
 * download (machines with internet). `tsx scripts/temporal-cli.ts` prints the path, building if needed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { whichSync } from '../activities/ffmpeg-path';
import { searchAttributeFlags, searchAttributes, temporalDynamicConfig } from '../workflows/definitions';

export const TEMPORAL_CLI_VERSION = '1.5.1';
const MODULE = 'github.com/temporalio/cli/cmd/temporal';

export function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'mediaflow', `temporal-cli-${TEMPORAL_CLI_VERSION}`);
}

function works(binary: string): boolean {
  return spawnSync(binary, ['--version'], { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

/** Builds the pinned CLI from its Go module, as its release does; null when Go is absent or the build fails. */
function goInstall(): string | null {
  const go = whichSync('go');
  if (!go) return null;
  const bin = cacheDir();
  mkdirSync(bin, { recursive: true });
  console.error(`[temporal-cli] building ${MODULE}@v${TEMPORAL_CLI_VERSION} with go install (a few minutes, once)…`);
  const result = spawnSync(
    go,
    ['install', '-ldflags', `-s -w -X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_CLI_VERSION}`, `${MODULE}@v${TEMPORAL_CLI_VERSION}`],
    { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, GOBIN: bin, CGO_ENABLED: '0' } },
  );
  const built = path.join(bin, 'temporal');
  return result.status === 0 && works(built) ? built : null;
}

/**
 * The path of a working Temporal CLI, or null when only the SDK's download is left.
 *
 * @example const cli = findTemporalCli({ build: true })
 */
export function findTemporalCli({ build = true } = {}): string | null {
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (!works(fromEnv)) throw new Error(`TEMPORAL_CLI_PATH=${fromEnv} is not a working temporal binary`);
    return fromEnv;
  }
  const onPath = whichSync('temporal');
  if (onPath && works(onPath)) return onPath;
  const cached = path.join(cacheDir(), 'temporal');
  if (existsSync(cached) && works(cached)) return cached;
  return build ? goInstall() : null;
}

export interface DevServerOptions {
  ip?: string;
  port: number;
  uiPort?: number;
  /** SQLite file; omitted: in memory. */
  dbFile?: string;
  namespace?: string;
  /** How long to wait for the server to answer. */
  readyTimeoutMs?: number;
  logLevel?: string;
}

export interface DevServer {
  address: string;
  uiUrl: string | null;
  /** The server process (null when the SDK runs a downloaded one). */
  pid: number | null;
  /** Resolves when the server process has exited, for whatever reason. */
  exited: Promise<void>;
  stop(): Promise<void>;
}

/** The server process died while starting (CLI 1.5 panics when an ephemeral port it picked is taken meanwhile). */
class ServerExitedEarly extends Error {}

async function waitReady(address: string, namespace: string, deadline: number, child?: ChildProcess): Promise<void> {
  let last: unknown;
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new ServerExitedEarly(`temporal dev server exited with code ${child.exitCode ?? child.signalCode} before it answered`);
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  throw new Error(`temporal dev server at ${address} not ready in time: ${String(last)}`);
}

/**
 * Starts `temporal server start-dev` with mediaflow's search attributes and waits until it answers.
 *
 * @example const server = await startDevServer({ port: 7233, uiPort: 8233, dbFile: '.data/temporal.sqlite' })
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  // A start that dies early is a race over ports on a busy machine (seen in CI as a Go panic in
  // devserver.Start), not a broken install: try again, at most three times in all.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDevServerOnce(options);
    } catch (err) {
      if (!(err instanceof ServerExitedEarly) || attempt >= 3) throw err;
      process.stderr.write(`${err.message}; starting it again (attempt ${attempt + 1} of 3)\n`);
    }
  }
}

async function startDevServerOnce(options: DevServerOptions): Promise<DevServer> {
  const ip = options.ip ?? '127.0.0.1';
  const namespace = options.namespace ?? 'default';
  const address = `${ip}:${options.port}`;
  const uiUrl = options.uiPort ? `http://${ip}:${options.uiPort}` : null;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
  const cli = findTemporalCli();
  if (!cli) {
    // Last resort on machines with internet: the SDK downloads and runs the CLI itself.
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        ip,
        port: options.port,
        ui: Boolean(options.uiPort),
        ...(options.uiPort ? { uiPort: options.uiPort } : {}),
        ...(options.dbFile ? { dbFilename: options.dbFile } : {}),
        namespace,
        searchAttributes: Object.values(searchAttributes),
        executable: { type: 'cached-download' },
      },
    });
    return { address, uiUrl, pid: null, exited: new Promise<void>(() => undefined), stop: () => env.teardown() };
  }
  const args = [
    'server', 'start-dev',
    '--ip', ip,
    '--port', String(options.port),
    ...(options.uiPort ? ['--ui-port', String(options.uiPort)] : ['--headless']),
    ...(options.dbFile ? ['--db-filename', options.dbFile] : []),
    ...(namespace !== 'default' ? ['--namespace', namespace] : []),
    '--log-level', options.logLevel ?? 'error',
    ...searchAttributeFlags.flatMap((f) => ['--search-attribute', f]),
    // Task queue priority (pipelines' priority) and fairness between tenants (a job's fairness key
    // is its tenant): both need the server's new matcher, off by default in server 1.29.
    ...temporalDynamicConfig.flatMap((v) => ['--dynamic-config-value', v]),
  ];
  // Its own process group: a terminal's Ctrl-C reaches us, and we stop the server after the
  // worker has drained, not before. If we die first, the exit hook still takes it down.
  const child = spawn(cli, args, { stdio: ['ignore', 'ignore', 'inherit'], detached: true });
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
    process.off('exit', killOnExit);
  };
  try {
    await waitReady(address, namespace, deadline, child);
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, uiUrl, pid: child.pid ?? null, exited, stop };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const cli = findTemporalCli();
  if (!cli) {
    console.error('no Temporal CLI: set TEMPORAL_CLI_PATH, put `temporal` on PATH or install Go; with internet the SDK downloads one at start');
    process.exit(1);
  }
  console.log(cli);
}

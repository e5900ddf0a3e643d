/**
 * The real stack for integration tests: a Temporal dev server (in memory, random ports), a worker
 * with the real activities and ffmpeg, and optionally the API over loopback — all on a temp data dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { WorkflowBundle } from '@temporalio/worker';
import { loadConfig, type Config } from '../../model/config';
import { createStorage } from '../../storage/create-storage';
import type { Storage } from '../../storage/storage';
import { startApi, type RunningApi } from '../../api/server';
import { bundleWorkflows, startWorker, type RunningWorker } from '../../worker/main';
import { startDevServer, type DevServer } from '../../scripts/temporal-cli';
import { openDatabase, type Database } from '../../db/database';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A frontend port for the real Temporal server (scripts/temporal-server.ts) whose neighbours are free
 * too, below 33064 (Temporal keeps its membership ports, 300 lower, in a smallint).
 */
export async function temporalServerPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const all = [0, 1, 2, 3, 10, -300, -299, -298, -297].map((d) => port + d);
    if ((await Promise.all(all.map(portFree))).every(Boolean)) return port;
  }
}

/** The first of `n` consecutive free loopback ports (the cluster's APIs listen on consecutive ports). */
export async function freePorts(n: number): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    const all = Array.from({ length: n }, (_, i) => port + i);
    if ((await Promise.all(all.map(portFree))).every(Boolean)) return port;
  }
}

const root = path.resolve(import.meta.dirname, '../..');

/** A worker in its own process group, so a test can kill -9 it and its ffmpeg children like a dying machine. */
export interface WorkerProcess {
  child: ChildProcess;
  /** What the worker printed on stdout so far. */
  output(): string;
  kill9(): void;
  stop(): Promise<void>;
}

/**
 * `args`: how node starts it; the built worker is `['dist/worker/main.js']` (`npm run build`).
 *
 * @example const w = await spawnWorker(stack.config); w.kill9()
 */
export async function spawnWorker(config: Config, env: Record<string, string> = {}, args = ['--import', 'tsx', 'worker/main.ts']): Promise<WorkerProcess> {
  const child = spawn(process.execPath, args, {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: {
      ...process.env,
      DATA_DIR: config.dataDir,
      TEMPORAL_ADDRESS: config.TEMPORAL_ADDRESS,
      TASK_QUEUE_PREFIX: config.TASK_QUEUE_PREFIX,
      FFMPEG_STALL_SEC: String(config.FFMPEG_STALL_SEC),
      MAX_OUTPUT_BYTES: String(config.MAX_OUTPUT_BYTES),
      LOG_LEVEL: 'ERROR',
      ...env,
    },
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  while (!out.includes('worker polling')) {
    if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}: ${out}`);
    if (Date.now() > deadline) throw new Error(`worker did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // already gone
    }
  };
  return {
    child,
    output: () => out,
    kill9: () => signal('SIGKILL'),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface Stack {
  config: Config;
  dataDir: string;
  client: Client;
  storage: Storage;
  db: Database;
  /** The in-process worker; null when the test runs workers as processes (`worker: 'process'`). */
  worker: RunningWorker | null;
  api: RunningApi | null;
  temporal: DevServer;
  /** Stops the Temporal server and starts it again on the same port (and SQLite file, with `persist`). */
  restartTemporal(pauseMs: number): Promise<void>;
  stop(): Promise<void>;
}

let bundle: Promise<WorkflowBundle> | undefined;

// A test process stopped by a signal (a runner killed, a CI timeout) exits through process.exit,
// so the 'exit' hooks of scripts/temporal-cli.ts still take its Temporal dev servers down (they
// run in process groups of their own and would be orphaned by a plain SIGTERM death).
for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130], ['SIGHUP', 129]] as const) {
  if (process.listenerCount(signal) === 0) process.once(signal, () => process.exit(code));
}

/**
 * @example const stack = await startStack({ api: true }); after(() => stack.stop())
 */
export async function startStack(
  options: { api?: boolean; env?: Record<string, string>; worker?: 'inline' | 'none'; persist?: boolean } = {},
): Promise<Stack> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-test-'));
  const serverOptions = {
    port: await freePort(),
    // Two busy cores can make the server slow to come up: wait longer than the SDK's own 5 s.
    readyTimeoutMs: 120_000,
    ...(options.persist ? { dbFile: path.join(dataDir, 'temporal.sqlite') } : {}),
  };
  let temporal = await startDevServer(serverOptions);
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    TEMPORAL_ADDRESS: temporal.address,
    PORT: '0',
    FFMPEG_STALL_SEC: '30',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'WARN',
    ...(process.env.FFMPEG_PATH ? { FFMPEG_PATH: process.env.FFMPEG_PATH } : {}),
    ...(process.env.FFPROBE_PATH ? { FFPROBE_PATH: process.env.FFPROBE_PATH } : {}),
    ...options.env,
  });
  const storage = await createStorage(config);
  // One embedded database shared by this process's worker and API, as in `npm run dev`.
  const db = await openDatabase(config);
  let worker: RunningWorker | null = null;
  if (options.worker !== 'none') {
    bundle ??= bundleWorkflows();
    worker = await startWorker(config, { bundle: await bundle, storage, db });
  }
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const api = options.api ? await startApi(config, { db }) : null;
  return {
    config,
    dataDir,
    client,
    storage,
    db,
    worker,
    api,
    get temporal() {
      return temporal;
    },
    async restartTemporal(pauseMs: number) {
      await temporal.stop();
      await new Promise((r) => setTimeout(r, pauseMs));
      temporal = await startDevServer(serverOptions);
    },
    async stop() {
      await api?.close();
      await worker?.shutdown();
      await connection.close();
      await db.close();
      await temporal.stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

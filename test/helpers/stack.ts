/**
 * The real stack for integration tests: a Temporal dev server (in memory, random ports), a worker
 * with the real activities and ffmpeg, and optionally the API over loopback — all on a temp data dir.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { WorkflowBundle } from '@temporalio/worker';
import { loadConfig, type Config } from '../../model/config';
import { createLocalStorage } from '../../storage/local';
import type { Storage } from '../../storage/storage';
import { startApi, type RunningApi } from '../../api/server';
import { bundleWorkflows, startWorker, type RunningWorker } from '../../worker/main';
import { startDevServer, type DevServer } from '../../scripts/temporal-cli';

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

export interface Stack {
  config: Config;
  dataDir: string;
  client: Client;
  storage: Storage;
  worker: RunningWorker;
  api: RunningApi | null;
  temporal: DevServer;
  stop(): Promise<void>;
}

let bundle: Promise<WorkflowBundle> | undefined;

/**
 * @example const stack = await startStack({ api: true }); after(() => stack.stop())
 */
export async function startStack(options: { api?: boolean; env?: Record<string, string> } = {}): Promise<Stack> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-test-'));
  // Two busy cores can make the server slow to come up: wait longer than the SDK's own 5 s.
  const temporal = await startDevServer({ port: await freePort(), readyTimeoutMs: 120_000 });
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
  const storage = await createLocalStorage(dataDir);
  bundle ??= bundleWorkflows();
  const worker = await startWorker(config, { bundle: await bundle, storage });
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const api = options.api ? await startApi(config) : null;
  return {
    config,
    dataDir,
    client,
    storage,
    worker,
    api,
    temporal,
    async stop() {
      await api?.close();
      await worker.shutdown();
      await connection.close();
      await temporal.stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

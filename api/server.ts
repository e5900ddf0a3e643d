/** The API process: config → Temporal client (lazy, so the API starts before Temporal) → store → HTTP. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { loadConfig, type Config } from '../model/config';
import { createStorage } from '../storage/create-storage';
import { createApp } from './app';
import { openDatabase, type Database } from '../db/database';
import { createPipelineStore } from '../db/pipelines';
import { createTemplateStore } from '../db/templates';
import { createApiKeyStore } from '../db/api-keys';
import { sharedBuckets } from '../db/rate-buckets';
import { openModeWarning } from './auth';
import { settled } from './temporal-rpc';

/** The file that says which process holds the embedded database (scripts/keys.ts reads it). */
export function embeddedDbLockFile(dataDir: string): string {
  return path.join(dataDir, 'db.pid');
}

/** The pid in a data directory's lock file when that process is alive, else null. */
export async function embeddedDbHolder(dataDir: string): Promise<number | null> {
  let pid: number;
  try {
    pid = Number((await fs.readFile(embeddedDbLockFile(dataDir), 'utf8')).trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    // EPERM: alive, someone else's.
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

/** Names the local store gives its temp files (storage/local.ts: `{uuid}.part` in DATA_DIR/tmp). */
const TEMP_UPLOAD = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.part$/;

/**
 * Removes upload temp files left by a process that died mid-upload: only `{uuid}.part` regular files
 * directly in DATA_DIR/tmp, and only those untouched for `idleMs` (a live writer — another process
 * on the same data directory — touches its file at least every BODY_IDLE_TIMEOUT_SEC). Returns how
 * many went.
 */
export async function sweepUploadTemp(dataDir: string, idleMs: number, now = Date.now()): Promise<number> {
  const dir = path.join(dataDir, 'tmp');
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!TEMP_UPLOAD.test(name)) continue;
    const file = path.join(dir, name);
    try {
      const st = await fs.lstat(file);
      if (!st.isFile() || now - st.mtimeMs < idleMs) continue;
      await fs.rm(file, { force: true });
      removed += 1;
    } catch {
      // gone meanwhile
    }
  }
  return removed;
}

export interface RunningApi {
  url: string;
  close(): Promise<void>;
}

/**
 * @example const api = await startApi(loadConfig()); console.log(api.url)
 */
export async function startApi(config: Config, options: { db?: Database } = {}): Promise<RunningApi> {
  const connection = Connection.lazy({ address: config.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const storage = await createStorage(config);
  // The embedded database belongs to one process: `npm run dev` shares it with its worker.
  const db = options.db ?? (await openDatabase(config));
  const keys = createApiKeyStore(db);
  if (!(await keys.any())) {
    if (config.NODE_ENV === 'production') {
      if (!options.db) await db.close();
      throw new Error('NODE_ENV=production and no API key exists: make one first (npx tsx scripts/keys.ts create --tenant <id> --role admin), then start the API');
    }
    console.warn(JSON.stringify({ level: 'warn', msg: openModeWarning() }));
  }
  // Temp files of uploads cut off by a crash: at start (older than one idle timeout, so another
  // process's live upload is safe), then every few minutes.
  const tempIdleMs = config.BODY_IDLE_TIMEOUT_SEC * 1000 + 5_000;
  const swept = await sweepUploadTemp(config.dataDir, tempIdleMs);
  if (swept) console.warn(JSON.stringify({ level: 'warn', msg: 'removed upload temp files left by an earlier run', count: swept }));
  const sweeper = setInterval(() => void sweepUploadTemp(config.dataDir, tempIdleMs), 5 * 60_000);
  sweeper.unref();
  // The embedded database is this process's now: scripts/keys.ts must not write beside it.
  const lockFile = config.DATABASE_URL ? null : embeddedDbLockFile(config.dataDir);
  if (lockFile) await fs.writeFile(lockFile, `${process.pid}\n`);
  // On PostgreSQL several API processes may share the database: the per-key limit is kept there.
  const rateBuckets = db.kind === 'postgres' ? sharedBuckets(db, 'key', config.RATE_LIMIT_PER_SEC, config.RATE_LIMIT_BURST) : undefined;
  const app = createApp({ config, client, storage, templates: createTemplateStore(db), pipelines: createPipelineStore(db), keys, ...(rateBuckets ? { rateBuckets } : {}) });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve(
      {
        fetch: app.fetch,
        hostname: config.HOST,
        port: config.PORT,
        // Slow clients cannot hold sockets open: headers within 20 s, the whole request within the limit.
        serverOptions: { headersTimeout: 20_000, requestTimeout: config.REQUEST_TIMEOUT_SEC * 1000 },
      },
      () => resolve(s),
    );
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  return {
    url: `http://${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${port}`,
    async close() {
      const http = server as import('node:http').Server;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // A keep-alive connection that keeps bringing requests (a busy client's pool) is never idle
      // and would hold close() open as long as the client goes on: each answer from now on closes
      // its connection, so clients reconnect to another replica. Idle ones are closed as they appear.
      http.on('request', (_req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => res.setHeader('connection', 'close'));
      http.closeIdleConnections?.();
      const idle = setInterval(() => http.closeIdleConnections?.(), 250);
      await closed;
      clearInterval(idle);
      clearInterval(sweeper);
      if (lockFile && (await fs.readFile(lockFile, 'utf8').catch(() => '')).trim() === String(process.pid)) await fs.rm(lockFile, { force: true });
      // Calls still in flight (a scrape's counts, a slow describe) would retry on a closed channel.
      await settled(client);
      await connection.close();
      if (!options.db) await db.close();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const api = await startApi(loadConfig());
  console.log(JSON.stringify({ level: 'info', msg: 'mediaflow API listening', url: api.url }));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void api.close().then(() => process.exit(0)));
  }
}

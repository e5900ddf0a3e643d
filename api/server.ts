/** The API process: config → Temporal client (lazy, so the API starts before Temporal) → store → HTTP. */
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
import { openModeWarning } from './auth';

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
  const app = createApp({ config, client, storage, templates: createTemplateStore(db), pipelines: createPipelineStore(db), keys });
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
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle keep-alive sockets would hold close() open forever.
      (server as import("node:http").Server).closeIdleConnections?.();
      await closed;
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

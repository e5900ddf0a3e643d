/**
 * `npm run dev`: the whole service on one machine — Temporal dev server (SQLite in DATA_DIR, Web UI),
 * a worker and the API in this process. Ctrl-C stops all three; the next run keeps earlier jobs.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../model/config';
import { resolveFfmpeg } from '../activities/ffmpeg-path';
import { startApi } from '../api/server';
import { startWorker } from '../worker/main';
import { startDevServer } from './temporal-cli';
import { openDatabase } from '../db/database';
import { webhookSecret } from '../activities/webhook';

const config = loadConfig({ ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'development' });
await fs.mkdir(config.dataDir, { recursive: true });
// Fail before starting anything when ffmpeg is missing: the message says how to get it.
const binaries = await resolveFfmpeg(config);

const [host, portText] = config.TEMPORAL_ADDRESS.split(/:(?=\d+$)/);
const temporal = await startDevServer({
  ip: host ?? '127.0.0.1',
  port: Number(portText ?? 7233),
  uiPort: config.TEMPORAL_UI_PORT,
  dbFile: path.join(config.dataDir, 'temporal.sqlite'),
  namespace: config.TEMPORAL_NAMESPACE,
});
// One process, one embedded database: the worker and the API share it.
const db = await openDatabase(config);
const worker = await startWorker({ ...config, WORKER_PIPELINES: ['*'] }, { db });
const api = await startApi(config, { db });
// Made now rather than at the first callback, so the banner can point at it.
await webhookSecret(config);

console.log(`
mediaflow is running (data in ${config.dataDir})
  API          ${api.url}
  Temporal UI  ${temporal.uiUrl}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows
  Temporal     ${temporal.address} (namespace ${config.TEMPORAL_NAMESPACE})
  ffmpeg       ${binaries.ffmpeg}
  Callbacks    signed with the secret in ${config.WEBHOOK_SECRET ? 'WEBHOOK_SECRET' : path.join(config.dataDir, 'webhook-secret')}

Try it (makes a 10 s 1080p test clip, uploads it, asks for a 720p MP4 and a poster):
  ffmpeg -v error -f lavfi -i testsrc2=size=1920x1080:rate=30:duration=10 -f lavfi -i sine=frequency=440:duration=10 \\
    -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest sample.mp4
  curl -sS -X PUT --data-binary @sample.mp4 ${api.url}/v1/objects/raw/sample.mp4
  curl -sS -X POST ${api.url}/v1/jobs -H 'content-type: application/json' \\
    -d '{"input":{"key":"raw/sample.mp4"},"outputs":[{"name":"720p","template":"mp4-h264-720p"}]}'
  curl -sS ${api.url}/v1/jobs/<id from the answer above>

Ctrl-C stops everything.
`);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the API, the worker, then Temporal…`);
  await api.close();
  await worker.shutdown();
  await db.close();
  await temporal.stop();
  console.log('stopped.');
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
await worker.done;
if (!stopping) await stop('worker stopped');

/**
 * `npm run dev`: the whole service on one machine — Temporal dev server (SQLite in DATA_DIR, Web UI),
 * a worker and the API. Ctrl-C stops all three; the next run keeps earlier jobs.
 *
 * Three processes, supervised by this one:
 * - the Temporal dev server (its own process group);
 * - the API and the worker, together in one child process (its own process group: they share the
 *   embedded database, which belongs to one process), this same script with MEDIAFLOW_DEV_ROLE=service;
 * - this supervisor, which prints the banner and owns the other two.
 * When any of them dies the others are stopped, not restarted (a crash should be seen, not hidden
 * behind a restart loop), and `npm run dev` exits non-zero. Temporal is never left behind: the
 * supervisor stops it when the service dies or on Ctrl-C/SIGTERM, kills it on exit when it crashes,
 * and if the supervisor itself is killed (-9 too) the service sees its IPC channel close and stops
 * Temporal before it goes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../model/config';
import { resolveFfmpeg } from '../activities/ffmpeg-path';
import { startApi } from '../api/server';
import { startWorker } from '../worker/main';
import { startDevServer } from './temporal-cli';
import { openDatabase } from '../db/database';
import { webhookSecret } from '../activities/webhook';

const ROLE = 'MEDIAFLOW_DEV_ROLE';
const TEMPORAL_PID = 'MEDIAFLOW_DEV_TEMPORAL_PID';
const config = loadConfig({ ...process.env, NODE_ENV: process.env.NODE_ENV ?? 'development' });

interface Ready {
  ready: true;
  api: string;
}

function signalGroup(pid: number | null | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** The API and the worker (the child process). */
async function service(): Promise<void> {
  const temporalPid = Number(process.env[TEMPORAL_PID]) || null;
  // One process, one embedded database: the worker and the API share it.
  const db = await openDatabase(config);
  const worker = await startWorker({ ...config, WORKER_PIPELINES: ['*'] }, { db });
  const api = await startApi(config, { db });
  let stopping = false;
  async function stop(why: string, code: number): Promise<never> {
    if (stopping) return new Promise<never>(() => undefined);
    stopping = true;
    console.log(`${why}: stopping the API and the worker…`);
    const killer = setTimeout(() => process.exit(code || 1), (config.WORKER_SHUTDOWN_GRACE_SEC + 15) * 1000);
    killer.unref();
    await api.close().catch(() => undefined);
    await worker.shutdown().catch(() => undefined);
    await db.close().catch(() => undefined);
    process.exit(code);
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stop(signal, 0));
  // The supervisor is gone (killed, even with -9): nobody else will stop Temporal.
  process.on('disconnect', () => {
    signalGroup(temporalPid, 'SIGTERM');
    setTimeout(() => signalGroup(temporalPid, 'SIGKILL'), 10_000).unref();
    void stop('npm run dev (the supervisor) is gone', 1);
  });
  process.send?.({ ready: true, api: api.url } satisfies Ready);
  await worker.done;
  await stop('the worker stopped', 1);
}

/** The supervisor (what `npm run dev` runs). */
async function supervise(): Promise<void> {
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

  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    cwd: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'),
    env: { ...process.env, [ROLE]: 'service', ...(temporal.pid ? { [TEMPORAL_PID]: String(temporal.pid) } : {}) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // Its own group: a terminal's Ctrl-C reaches only this supervisor, which stops things in order.
    detached: true,
  });
  // If this process crashes, its children go with it (Temporal has the same hook in temporal-cli.ts).
  const killOnExit = (): void => signalGroup(child.pid, 'SIGKILL');
  process.once('exit', killOnExit);
  const childExited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

  let stopping = false;
  async function stopAll(why: string, code: number): Promise<void> {
    if (stopping) return;
    stopping = true;
    console.log(`\n${why}: stopping the API, the worker, then Temporal…`);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), (config.WORKER_SHUTDOWN_GRACE_SEC + 20) * 1000);
      await childExited;
      clearTimeout(killer);
    }
    // Whatever the service left in its group (an ffmpeg of a killed worker).
    signalGroup(child.pid, 'SIGKILL');
    await temporal.stop();
    console.log('stopped.');
    process.exit(code);
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stopAll(signal, 0));
  process.on('uncaughtException', (err) => {
    console.error(err);
    void stopAll('the supervisor failed', 1);
  });
  void childExited.then(({ code, signal }) => stopAll(`the API/worker process exited (${signal ?? `code ${code}`})`, 1));
  void temporal.exited.then(() => stopAll('the Temporal dev server exited', 1));

  const ready = await new Promise<Ready | null>((resolve) => {
    child.on('message', (m: Ready) => m?.ready && resolve(m));
    void childExited.then(() => resolve(null));
  });
  if (!ready) return;
  // Made now rather than at the first callback, so the banner can point at it.
  await webhookSecret(config);

  console.log(`
mediaflow is running (data in ${config.dataDir})
  API          ${ready.api}
  Temporal UI  ${temporal.uiUrl}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows
  Temporal     ${temporal.address} (namespace ${config.TEMPORAL_NAMESPACE})
  ffmpeg       ${binaries.ffmpeg}
  Callbacks    signed with the secret in ${config.WEBHOOK_SECRET ? 'WEBHOOK_SECRET' : path.join(config.dataDir, 'webhook-secret')}
  Processes    supervisor ${process.pid}, API+worker ${child.pid}, Temporal ${temporal.pid ?? '(managed by the SDK)'}

Try it (makes a 10 s 1080p test clip, uploads it, asks for a 720p MP4 and a poster):
  ffmpeg -v error -f lavfi -i testsrc2=size=1920x1080:rate=30:duration=10 -f lavfi -i sine=frequency=440:duration=10 \\
    -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest sample.mp4
  curl -sS -X PUT --data-binary @sample.mp4 ${ready.api}/v1/objects/raw/sample.mp4
  curl -sS -X POST ${ready.api}/v1/jobs -H 'content-type: application/json' \\
    -d '{"input":{"key":"raw/sample.mp4"},"outputs":[{"name":"720p","template":"mp4-h264-720p"}]}'
  curl -sS ${ready.api}/v1/jobs/<id from the answer above>

Ctrl-C stops everything; if one of the three dies, the other two are stopped.
`);
}

if (process.env[ROLE] === 'service') await service();
else await supervise();

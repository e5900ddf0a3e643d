/**
 * `npm run cluster`: the multi-process shape of a deployment, on one machine — the step between
 * `npm run dev` and docker-compose / several machines.
 *
 * - PostgreSQL: a private cluster in <dir>/postgres (initdb, then `postgres` in the foreground, on
 *   loopback, passwords in <dir>/passwords.json); run as the `postgres` user when we are root,
 *   because PostgreSQL refuses to run as root. Debian's binaries (/usr/lib/postgresql/N/bin) or PATH.
 * - The real Temporal server (scripts/temporal-server.ts) on that PostgreSQL: schema by
 *   temporal-sql-tool, namespace and search attributes by the Temporal CLI.
 * - mediaflow's database on the same PostgreSQL (DATABASE_URL), migrated once before anyone starts.
 * - N API processes (default 2) on consecutive ports from PORT, M worker processes (default 3,
 *   WORKER_PIPELINES=*), all running the built code (dist/, rebuilt first when the sources are
 *   newer) with the same command and variables as docker-compose.yml; storage: one local DATA_DIR
 *   (<dir>/data) they all share.
 *
 * Every child runs in its own process group. Ctrl-C / SIGTERM: the APIs and workers are stopped
 * (workers drain within WORKER_SHUTDOWN_GRACE_SEC), then Temporal, then PostgreSQL. When any child
 * dies the rest are stopped and this exits 1 (a crash should be seen, as in `npm run dev`). If this
 * supervisor is killed (even -9), a small reaper process that holds an IPC channel to it sees the
 * channel close and stops every group it was told about: nothing is left running.
 *
 * @example npm run cluster -- --apis 2 --workers 3
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { loadConfig, type Config } from '../model/config';
import { resolveFfmpeg, whichSync } from '../activities/ffmpeg-path';
import { webhookSecret } from '../activities/webhook';
import { openDatabase } from '../db/database';
import { findTemporalCli } from './temporal-cli';
import { findTemporalServer, registerNamespace, setupTemporalSchema, startTemporalServer } from './temporal-server';

const root = path.resolve(import.meta.dirname, '..');

export interface ClusterOptions {
  dir: string;
  apis: number;
  workers: number;
  apiPort: number;
  temporalPort: number;
  pgPort: number;
}

function options(): ClusterOptions {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      apis: { type: 'string', default: '2' },
      workers: { type: 'string', default: '3' },
      'api-port': { type: 'string' },
      'temporal-port': { type: 'string' },
      'pg-port': { type: 'string', default: '5433' },
    },
  });
  const [, temporalPort] = (process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233').split(/:(?=\d+$)/);
  return {
    dir: path.resolve(values.dir ?? path.join(process.env.DATA_DIR ?? '.data', 'cluster')),
    apis: Number(values.apis),
    workers: Number(values.workers),
    apiPort: Number(values['api-port'] ?? process.env.PORT ?? 3000),
    temporalPort: Number(values['temporal-port'] ?? temporalPort ?? 7233),
    pgPort: Number(values['pg-port']),
  };
}

// ---------------------------------------------------------------------------------------------
// The reaper: stops every registered process group if the supervisor goes away without doing it.

const REAPER = `
const groups = new Map();
process.on('message', (m) => { if (m.pgid) groups.set(m.pgid, m.signal); if (m.forget) groups.delete(m.forget); if (m.done) process.exit(0); });
const kill = (pgid, sig) => { try { process.kill(-pgid, sig); } catch {} };
process.on('disconnect', () => {
  for (const [pgid, sig] of groups) kill(pgid, sig);
  setTimeout(() => { for (const pgid of groups.keys()) kill(pgid, 'SIGKILL'); process.exit(0); }, 20000);
});
`;

interface Reaper {
  watch(pgid: number, signal?: NodeJS.Signals): void;
  forget(pgid: number): void;
  done(): void;
}

function startReaper(): Reaper {
  const child = spawn(process.execPath, ['-e', REAPER], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], detached: true });
  child.unref();
  (child as unknown as { channel?: { unref(): void } }).channel?.unref();
  const send = (m: object) => {
    if (child.connected) child.send(m);
  };
  return {
    watch: (pgid, signal = 'SIGTERM') => send({ pgid, signal }),
    forget: (pgid) => send({ forget: pgid }),
    done: () => send({ done: true }),
  };
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function exitedPromise(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.signalCode ?? `code ${child.exitCode}`);
    else child.once('exit', (code, signal) => resolve(signal ?? `code ${code}`));
  });
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

interface Postgres {
  child: ChildProcess;
  port: number;
  passwords: Record<'postgres' | 'temporal' | 'mediaflow', string>;
  stop(): Promise<void>;
}

function postgresBinDir(): string {
  const debian = '/usr/lib/postgresql';
  if (fs.existsSync(debian)) {
    const versions = fs.readdirSync(debian).filter((v) => fs.existsSync(path.join(debian, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(debian, versions[0], 'bin');
  }
  const initdb = whichSync('initdb');
  if (initdb) return path.dirname(initdb);
  throw new Error('PostgreSQL is not installed: no initdb in /usr/lib/postgresql/*/bin or on PATH (Debian: apt-get install postgresql)');
}

/** PostgreSQL will not run as root: then it runs as the `postgres` user, which owns its data directory. */
function postgresUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  if (!uid) throw new Error('running as root, and there is no `postgres` user to run PostgreSQL as');
  return { uid, gid: id('-g') };
}

async function startPostgres(dir: string, port: number, logDir: string, reaper: Reaper): Promise<Postgres> {
  const bin = postgresBinDir();
  const data = path.join(dir, 'postgres');
  const user = postgresUser();
  const passwordsFile = path.join(dir, 'passwords.json');
  const passwords = fs.existsSync(passwordsFile)
    ? (JSON.parse(fs.readFileSync(passwordsFile, 'utf8')) as Postgres['passwords'])
    : { postgres: randomBytes(18).toString('base64url'), temporal: randomBytes(18).toString('base64url'), mediaflow: randomBytes(18).toString('base64url') };
  fs.writeFileSync(passwordsFile, JSON.stringify(passwords, null, 2), { mode: 0o600 });
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};
  if (!fs.existsSync(path.join(data, 'PG_VERSION'))) {
    fs.mkdirSync(data, { recursive: true, mode: 0o700 });
    const pwfile = path.join(dir, '.pwfile');
    fs.writeFileSync(pwfile, passwords.postgres, { mode: 0o600 });
    if (user) {
      fs.chownSync(data, user.uid, user.gid);
      fs.chownSync(pwfile, user.uid, user.gid);
    }
    const r = spawnSync(
      path.join(bin, 'initdb'),
      ['-D', data, '-U', 'postgres', `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C'],
      { encoding: 'utf8', ...asUser },
    );
    fs.rmSync(pwfile, { force: true });
    if (r.status !== 0) throw new Error(`initdb failed: ${r.stderr || r.stdout}${user ? ` (as the postgres user: it must be able to reach ${data})` : ''}`);
  }
  const log = fs.openSync(path.join(logDir, 'postgres.log'), 'a');
  if (user) fs.fchownSync(log, user.uid, user.gid);
  const child = spawn(
    path.join(bin, 'postgres'),
    ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${data}`, '-c', 'max_connections=200'],
    { stdio: ['ignore', log, log], detached: true, ...asUser },
  );
  fs.closeSync(log);
  // Fast shutdown: SIGINT.
  reaper.watch(child.pid!, 'SIGINT');
  const exited = exitedPromise(child);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
    }
    reaper.forget(child.pid!);
  };
  const { default: pg } = await import('pg');
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`postgres exited with code ${child.exitCode}: see ${path.join(logDir, 'postgres.log')}`);
    const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: passwords.postgres, database: 'postgres' });
    try {
      await admin.connect();
      for (const role of ['temporal', 'mediaflow'] as const) {
        const exists = (await admin.query('select 1 from pg_roles where rolname = $1', [role])).rowCount;
        // Passwords are ours (random, no quotes in base64url): safe to inline.
        await admin.query(`${exists ? 'alter' : 'create'} role ${role} login createdb password '${passwords[role]}'`);
      }
      if (!(await admin.query("select 1 from pg_database where datname = 'mediaflow'")).rowCount) await admin.query('create database mediaflow owner mediaflow');
      await admin.end();
      break;
    } catch (err) {
      await admin.end().catch(() => undefined);
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`PostgreSQL did not come up on port ${port}: ${String(err)}`);
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  return { child, port, passwords, stop };
}

// ---------------------------------------------------------------------------------------------
// The built code

const SOURCE_DIRS = ['api', 'worker', 'cli', 'activities', 'workflows', 'media', 'model', 'storage', 'observability', 'db', 'scripts', 'console'];

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** dist/ as `npm run build` makes it, rebuilt (emit only: fast) when a source is newer than its bundle. */
async function ensureBuilt(): Promise<void> {
  const bundle = path.join(root, 'dist', 'workflow-bundle.js');
  const builtAt = fs.existsSync(bundle) ? fs.statSync(bundle).mtimeMs : 0;
  const newest = Math.max(...SOURCE_DIRS.map((d) => path.join(root, d)).filter((d) => fs.existsSync(d)).map(newestSource));
  if (builtAt > newest) return;
  console.log(builtAt ? 'sources changed since the last build: rebuilding dist/…' : 'building dist/ (npm run build)…');
  const { build } = await import('./build');
  await build({ check: false });
}

// ---------------------------------------------------------------------------------------------
// mediaflow's processes

interface Service {
  name: string;
  child: ChildProcess;
  log: string;
  exited: Promise<string>;
  url?: string;
}

function startService(name: string, entry: string, env: Record<string, string>, logDir: string, reaper: Reaper): Service {
  const log = path.join(logDir, `${name}.log`);
  const fd = fs.openSync(log, 'a');
  const child = spawn(process.execPath, ['--enable-source-maps', entry], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', fd, fd], detached: true });
  fs.closeSync(fd);
  reaper.watch(child.pid!);
  return { name, child, log, exited: exitedPromise(child) };
}

async function waitFor(what: string, service: Service, ready: () => Promise<boolean> | boolean, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (service.child.exitCode !== null || service.child.signalCode !== null) {
      throw new Error(`${service.name} exited before ${what}:\n${fs.readFileSync(service.log, 'utf8').slice(-3000)}`);
    }
    if (Date.now() > deadline) throw new Error(`${service.name}: no ${what} in ${timeoutMs / 1000} s (log: ${service.log})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function stopService(s: Service, graceSec: number, reaper: Reaper): Promise<void> {
  if (s.child.exitCode === null && s.child.signalCode === null) {
    s.child.kill('SIGTERM');
    const killer = setTimeout(() => signalGroup(s.child.pid, 'SIGKILL'), graceSec * 1000);
    await s.exited;
    clearTimeout(killer);
  }
  // Whatever it left in its group (an ffmpeg).
  signalGroup(s.child.pid, 'SIGKILL');
  reaper.forget(s.child.pid!);
}

// ---------------------------------------------------------------------------------------------

export async function cluster(o: ClusterOptions): Promise<void> {
  const logDir = path.join(o.dir, 'logs');
  const dataDir = path.join(o.dir, 'data');
  fs.mkdirSync(logDir, { recursive: true });
  fs.mkdirSync(dataDir, { recursive: true });
  fs.chmodSync(o.dir, 0o711);
  const address = `127.0.0.1:${o.temporalPort}`;
  // Development rules by default, as `npm run dev`: no key needed until one exists (NODE_ENV=production requires keys).
  const env: Record<string, string> = {
    NODE_ENV: process.env.NODE_ENV ?? 'development',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'INFO',
    DATA_DIR: dataDir,
    TEMPORAL_ADDRESS: address,
    STORAGE_DRIVER: 'local',
  };
  const config: Config = loadConfig({ ...process.env, ...env });
  // Fail before starting anything when a tool is missing.
  const binaries = await resolveFfmpeg(config);
  const temporalBinaries = findTemporalServer();
  if (!temporalBinaries) throw new Error('no temporal-server 1.29.1: install Go (it is built with go install) or set TEMPORAL_SERVER_PATH and TEMPORAL_SQL_TOOL_PATH');
  if (!findTemporalCli()) throw new Error('no Temporal CLI (scripts/temporal-cli.ts builds it with Go)');
  await ensureBuilt();

  const reaper = startReaper();
  const services: Service[] = [];
  let postgres: Postgres | null = null;
  let temporal: Awaited<ReturnType<typeof startTemporalServer>> | null = null;
  let stopping = false;
  const graceSec = config.WORKER_SHUTDOWN_GRACE_SEC + 15;
  const stopAll = async (why: string, code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${why}: stopping the APIs and workers, then Temporal, then PostgreSQL…`);
    await Promise.all(services.map((s) => stopService(s, graceSec, reaper)));
    await temporal?.stop();
    await postgres?.stop();
    reaper.done();
    console.log('stopped.');
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stopAll(signal, 0));
  process.on('exit', () => {
    for (const s of services) signalGroup(s.child.pid, 'SIGKILL');
  });

  try {
    postgres = await startPostgres(o.dir, o.pgPort, logDir, reaper);
    const pgTarget = { host: '127.0.0.1', port: o.pgPort, user: 'temporal', password: postgres.passwords.temporal };
    await setupTemporalSchema(temporalBinaries.sqlTool, pgTarget);
    temporal = await startTemporalServer({ binaries: temporalBinaries, db: pgTarget, port: o.temporalPort, logFile: path.join(logDir, 'temporal.log') });
    reaper.watch(temporal.pid);
    void temporal.exited.then(() => stopAll('the Temporal server exited', 1));
    await registerNamespace(address, config.TEMPORAL_NAMESPACE);

    env.DATABASE_URL = `postgres://mediaflow:${postgres.passwords.mediaflow}@127.0.0.1:${o.pgPort}/mediaflow`;
    // Migrated once here, so the processes start on a current schema; the webhook secret made once, shared.
    await (await openDatabase(loadConfig({ ...process.env, ...env }))).close();
    await webhookSecret(config);

    const apis = Array.from({ length: o.apis }, (_, i) =>
      startService(`api-${i + 1}`, 'dist/api/server.js', { ...env, HOST: '127.0.0.1', PORT: String(o.apiPort + i) }, logDir, reaper),
    );
    const workers = Array.from({ length: o.workers }, (_, i) =>
      startService(`worker-${i + 1}`, 'dist/worker/main.js', { ...env, WORKER_PIPELINES: '*' }, logDir, reaper),
    );
    services.push(...apis, ...workers);
    for (const s of services) void s.exited.then((how) => stopAll(`${s.name} exited (${how})`, 1));
    await Promise.all([
      ...apis.map((s, i) => {
        s.url = `http://127.0.0.1:${o.apiPort + i}`;
        return waitFor('readiness', s, () => fetch(`${s.url}/readyz`).then((r) => r.ok, () => false));
      }),
      ...workers.map((s) => waitFor('polling', s, () => fs.readFileSync(s.log, 'utf8').includes('worker polling'))),
    ]);

    const pgUrl = (user: string) => `postgres://${user}:…@127.0.0.1:${o.pgPort}`;
    console.log(`
mediaflow cluster is running (everything under ${o.dir})
  APIs         ${apis.map((s) => s.url).join('   ')}
  Workers      ${workers.length} processes, every pipeline (WORKER_PIPELINES=*)
  Temporal     ${address} (temporal-server ${temporalBinaries.server}, namespace ${config.TEMPORAL_NAMESPACE})
  PostgreSQL   ${pgUrl('temporal')}/temporal, /temporal_visibility; ${pgUrl('mediaflow')}/mediaflow (passwords in ${path.join(o.dir, 'passwords.json')})
  Storage      local, ${dataDir} (shared by every process)
  ffmpeg       ${binaries.ffmpeg}
  Logs         ${logDir}/{postgres,temporal,api-N,worker-N}.log
  Processes    supervisor ${process.pid}, PostgreSQL ${postgres.child.pid}, Temporal ${temporal.pid}, ${services.map((s) => `${s.name} ${s.child.pid}`).join(', ')}

The README's curl examples work against any of the API ports. Ctrl-C stops everything; if one process dies, the rest are stopped.
`);
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    await stopAll('start failed', 1);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await cluster(options());

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
import { findTemporalServer, registerNamespace, setupTemporalSchema, startTemporalServer, type TemporalServer } from './temporal-server';

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
// mediaflow's processes and the Temporal server: each one stoppable, killable and restartable

/** One process of the cluster (the Temporal server, an API, a worker), as the chaos test drives it. */
export interface ClusterProcess {
  readonly name: string;
  /** The current process id (and process group): a new one after every start. */
  readonly pid: number;
  /** An API's base URL. */
  readonly url?: string;
  readonly log: string;
  running(): boolean;
  /** SIGKILL to its whole group (it and its ffmpeg), like a machine that dies; returns at once. */
  kill9(): void;
  /** SIGTERM, then SIGKILL after the grace time; resolves when it has exited. */
  stop(): Promise<void>;
  /** Starts it again (after stop or kill9) and resolves when it is ready: an API answers /readyz, a worker polls, Temporal's frontend answers. */
  start(): Promise<void>;
}

export interface Cluster {
  dir: string;
  dataDir: string;
  logDir: string;
  /** Temporal's frontend, host:port. */
  address: string;
  namespace: string;
  databaseUrl: string;
  temporal: ClusterProcess;
  apis: ClusterProcess[];
  workers: ClusterProcess[];
  /** Every process running now, the supervisor (this process) first. */
  pids(): number[];
  /** Settles with a description when a process exits that no stop/kill9 asked for. */
  unexpectedExit: Promise<string>;
  /** Stops the APIs and workers, then Temporal, then PostgreSQL. */
  stop(): Promise<void>;
}

interface Spawned {
  child: ChildProcess;
  exited: Promise<string>;
}

/**
 * A restartable process: `spawnIt` starts it (detached: its own group), `ready` says when it serves.
 * Exits that no stop/kill9 asked for are reported to `unexpected`.
 */
function managed(
  name: string,
  log: string,
  reaper: Reaper,
  graceSec: number,
  spawnIt: () => Spawned,
  ready: (p: ClusterProcess) => Promise<boolean>,
  unexpected: (why: string) => void,
  url?: string,
): ClusterProcess {
  let current: Spawned | null = null;
  let expected = false;
  const isRunning = () => current !== null && current.child.exitCode === null && current.child.signalCode === null;
  const p: ClusterProcess = {
    name,
    log,
    ...(url ? { url } : {}),
    get pid() {
      return current?.child.pid ?? 0;
    },
    running: isRunning,
    kill9() {
      if (!current) return;
      expected = true;
      signalGroup(current.child.pid, 'SIGKILL');
    },
    async stop() {
      if (!current) return;
      expected = true;
      const { child, exited } = current;
      if (isRunning()) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => signalGroup(child.pid, 'SIGKILL'), graceSec * 1000);
        await exited;
        clearTimeout(killer);
      }
      await exited;
      // Whatever it left in its group (an ffmpeg).
      signalGroup(child.pid, 'SIGKILL');
      reaper.forget(child.pid!);
    },
    async start() {
      // After kill9() or stop(), the old process may not be reaped yet: SIGKILL cannot be ignored, so wait for it.
      if (current && expected) await current.exited;
      if (isRunning()) throw new Error(`${name} is running`);
      if (current) reaper.forget(current.child.pid!);
      expected = false;
      const started = spawnIt();
      current = started;
      reaper.watch(started.child.pid!);
      void started.exited.then((how) => {
        if (!expected && current === started) unexpected(`${name} exited (${how})`);
      });
      const deadline = Date.now() + 180_000;
      while (!(await ready(p))) {
        if (!isRunning()) throw new Error(`${name} exited before it was ready:\n${fs.readFileSync(log, 'utf8').slice(-3000)}`);
        if (Date.now() > deadline) throw new Error(`${name}: not ready in 180 s (log: ${log})`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
  };
  return p;
}

function spawnNode(entry: string, env: Record<string, string>, log: string): Spawned {
  const fd = fs.openSync(log, 'a');
  const child = spawn(process.execPath, ['--enable-source-maps', entry], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', fd, fd], detached: true });
  fs.closeSync(fd);
  return { child, exited: exitedPromise(child) };
}

/** Bytes of `file` from `offset` on (a restarted worker's own part of its log). */
function logSince(file: string, offset: number): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const buf = Buffer.alloc(Math.max(0, size - offset));
      fs.readSync(fd, buf, 0, buf.length, offset);
      return buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------

export interface StartClusterOptions extends ClusterOptions {
  /** More variables for the APIs and workers (the test's LOG_LEVEL, concurrency…). */
  env?: Record<string, string>;
  /** Called at once with the cluster's stop, so a Ctrl-C during the start stops what has started. */
  onStopper?: (stop: () => Promise<void>) => void;
}

/**
 * Starts PostgreSQL, the Temporal server on it, mediaflow's database, the APIs and the workers, and
 * resolves when every one serves. `npm run cluster` and test/e2e/chaos.test.ts both start it here.
 *
 * @example const c = await startCluster({ dir, apis: 2, workers: 3, apiPort: 3000, temporalPort: 7233, pgPort: 5433 }); c.workers[0].kill9()
 */
export async function startCluster(o: StartClusterOptions): Promise<Cluster> {
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
    ...o.env,
  };
  const config: Config = loadConfig({ ...process.env, ...env });
  // Fail before starting anything when a tool is missing.
  await resolveFfmpeg(config);
  const temporalBinaries = findTemporalServer();
  if (!temporalBinaries) throw new Error('no temporal-server 1.29.1: install Go (it is built with go install) or set TEMPORAL_SERVER_PATH and TEMPORAL_SQL_TOOL_PATH');
  if (!findTemporalCli()) throw new Error('no Temporal CLI (scripts/temporal-cli.ts builds it with Go)');
  await ensureBuilt();

  const reaper = startReaper();
  const services: ClusterProcess[] = [];
  let temporal: ClusterProcess | null = null;
  let postgres: Postgres | null = null;
  let stopped: Promise<void> | undefined;
  let reportUnexpected: (why: string) => void = () => undefined;
  const unexpectedExit = new Promise<string>((resolve) => (reportUnexpected = resolve));
  const unexpected = (why: string) => {
    if (!stopped) reportUnexpected(why);
  };
  const graceSec = config.WORKER_SHUTDOWN_GRACE_SEC + 15;
  const killAll = () => {
    for (const s of services) signalGroup(s.pid, 'SIGKILL');
  };
  const stop = () =>
    (stopped ??= (async () => {
      await Promise.all(services.map((s) => s.stop()));
      await temporal?.stop();
      await postgres?.stop();
      reaper.done();
      process.off('exit', killAll);
    })());
  o.onStopper?.(stop);
  process.on('exit', killAll);

  try {
    postgres = await startPostgres(o.dir, o.pgPort, logDir, reaper);
    void postgres.child.once('exit', (code, signal) => unexpected(`PostgreSQL exited (${signal ?? `code ${code}`})`));
    const pgTarget = { host: '127.0.0.1', port: o.pgPort, user: 'temporal', password: postgres.passwords.temporal };
    await setupTemporalSchema(temporalBinaries.sqlTool, pgTarget);
    const temporalLog = path.join(logDir, 'temporal.log');
    let server: TemporalServer | null = null;
    temporal = {
      name: 'temporal',
      log: temporalLog,
      get pid() {
        return server?.pid ?? 0;
      },
      running: () => server !== null && !serverGone,
      kill9() {
        expectedServerExit = true;
        signalGroup(server?.pid, 'SIGKILL');
      },
      async stop() {
        expectedServerExit = true;
        await server?.stop();
        if (server) reaper.forget(server.pid);
      },
      async start() {
        expectedServerExit = false;
        serverGone = false;
        const started = await startTemporalServer({ binaries: temporalBinaries, db: pgTarget, port: o.temporalPort, logFile: temporalLog });
        server = started;
        reaper.watch(started.pid);
        void started.exited.then(() => {
          if (server === started) serverGone = true;
          if (!expectedServerExit && server === started) unexpected('the Temporal server exited');
        });
      },
    };
    let expectedServerExit = false;
    let serverGone = false;
    await temporal.start();
    await registerNamespace(address, config.TEMPORAL_NAMESPACE);

    const databaseUrl = `postgres://mediaflow:${postgres.passwords.mediaflow}@127.0.0.1:${o.pgPort}/mediaflow`;
    env.DATABASE_URL = databaseUrl;
    // Migrated once here, so the processes start on a current schema; the webhook secret made once, shared.
    await (await openDatabase(loadConfig({ ...process.env, ...env }))).close();
    await webhookSecret(config);

    const apis = Array.from({ length: o.apis }, (_, i) => {
      const name = `api-${i + 1}`;
      const log = path.join(logDir, `${name}.log`);
      const url = `http://127.0.0.1:${o.apiPort + i}`;
      return managed(name, log, reaper, graceSec, () => spawnNode('dist/api/server.js', { ...env, HOST: '127.0.0.1', PORT: String(o.apiPort + i) }, log),
        () => fetch(`${url}/readyz`).then((r) => r.ok, () => false), unexpected, url);
    });
    const workers = Array.from({ length: o.workers }, (_, i) => {
      const name = `worker-${i + 1}`;
      const log = path.join(logDir, `${name}.log`);
      let from = 0;
      return managed(name, log, reaper, graceSec, () => {
        from = fileSize(log);
        return spawnNode('dist/worker/main.js', { ...env, WORKER_PIPELINES: '*' }, log);
      }, async () => logSince(log, from).includes('worker polling'), unexpected);
    });
    services.push(...apis, ...workers);
    await Promise.all(services.map((s) => s.start()));
    return {
      dir: o.dir,
      dataDir,
      logDir,
      address,
      namespace: config.TEMPORAL_NAMESPACE,
      databaseUrl,
      temporal,
      apis,
      workers,
      pids: () => [process.pid, postgres!.child.pid!, temporal!.pid, ...services.map((s) => s.pid)],
      unexpectedExit,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** `npm run cluster`: starts it, prints where everything is, and stops it on Ctrl-C or when a process dies. */
export async function cluster(o: ClusterOptions): Promise<void> {
  let stopCluster: (() => Promise<void>) | null = null;
  let stopping = false;
  const stopAll = async (why: string, code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${why}: stopping the APIs and workers, then Temporal, then PostgreSQL…`);
    await stopCluster?.();
    console.log('stopped.');
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stopAll(signal, 0));
  let c: Cluster;
  try {
    c = await startCluster({ ...o, onStopper: (stop) => (stopCluster = stop) });
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    await stopAll('start failed', 1);
    return;
  }
  void c.unexpectedExit.then((why) => stopAll(why, 1));
  const config = loadConfig({ ...process.env, DATA_DIR: c.dataDir });
  const binaries = await resolveFfmpeg(config);
  const pgUrl = (user: string) => `postgres://${user}:…@127.0.0.1:${o.pgPort}`;
  const [, postgresPid] = c.pids();
  console.log(`
mediaflow cluster is running (everything under ${o.dir})
  APIs         ${c.apis.map((s) => s.url).join('   ')}
  Workers      ${c.workers.length} processes, every pipeline (WORKER_PIPELINES=*)
  Temporal     ${c.address} (temporal-server ${findTemporalServer()!.server}, namespace ${c.namespace})
  PostgreSQL   ${pgUrl('temporal')}/temporal, /temporal_visibility; ${pgUrl('mediaflow')}/mediaflow (passwords in ${path.join(o.dir, 'passwords.json')})
  Storage      local, ${c.dataDir} (shared by every process)
  ffmpeg       ${binaries.ffmpeg}
  Logs         ${c.logDir}/{postgres,temporal,api-N,worker-N}.log
  Processes    supervisor ${process.pid}, PostgreSQL ${postgresPid}, Temporal ${c.temporal.pid}, ${[...c.apis, ...c.workers].map((s) => `${s.name} ${s.pid}`).join(', ')}

The README's curl examples work against any of the API ports. Ctrl-C stops everything; if one process dies, the rest are stopped.
`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await cluster(options());

/**
 * The real Temporal server (not the dev server) on PostgreSQL, for `npm run cluster` and tests.
 *
 * Binaries: `temporal-server` and `temporal-sql-tool` of go.temporal.io/server v1.29.1, found like
 * the Temporal CLI (scripts/temporal-cli.ts): $TEMPORAL_SERVER_PATH / $TEMPORAL_SQL_TOOL_PATH, on
 * PATH, in our cache (~/.cache/mediaflow/temporal-server-1.29.1/), else built there with `go install`
 * (the module has no `replace` directives, so it builds as published; several minutes, once).
 * Configuration: deploy/temporal-server.yaml (a template the server renders from the environment
 * set here), dynamic config deploy/temporal-dynamicconfig.yaml (the same file docker-compose mounts).
 *
 * `tsx scripts/temporal-server.ts` prints both paths, building them if needed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Connection } from '@temporalio/client';
import { whichSync } from '../activities/ffmpeg-path';
import { searchAttributeFlags } from '../workflows/definitions';
import { findTemporalCli } from './temporal-cli';

export const TEMPORAL_SERVER_VERSION = '1.29.1';
const MODULE = 'go.temporal.io/server';
/** Where the repo is (from scripts/ or dist/scripts/): deploy/ lives there. */
const root = [path.resolve(import.meta.dirname, '..'), path.resolve(import.meta.dirname, '../..')].find((d) =>
  existsSync(path.join(d, 'deploy', 'temporal-server.yaml')),
) ?? path.resolve(import.meta.dirname, '..');
export const serverConfigFile = path.join(root, 'deploy', 'temporal-server.yaml');
export const dynamicConfigFile = path.join(root, 'deploy', 'temporal-dynamicconfig.yaml');

export function serverCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'mediaflow', `temporal-server-${TEMPORAL_SERVER_VERSION}`);
}

function versionOf(binary: string): string {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 ? r.stdout : '';
}

/** Builds both binaries from the pinned module into the cache; false when Go is absent or the build fails. */
function goInstall(): boolean {
  const go = whichSync('go');
  if (!go) return false;
  const dir = serverCacheDir();
  mkdirSync(dir, { recursive: true });
  const gobin = mkdtempSync(path.join(dir, 'build-'));
  console.error(`[temporal-server] building ${MODULE} v${TEMPORAL_SERVER_VERSION} (server, sql tool) with go install: several minutes, once…`);
  const result = spawnSync(
    go,
    ['install', '-ldflags', '-s -w', `${MODULE}/cmd/server@v${TEMPORAL_SERVER_VERSION}`, `${MODULE}/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}`],
    { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, GOBIN: gobin, CGO_ENABLED: '0' } },
  );
  try {
    if (result.status !== 0) return false;
    renameSync(path.join(gobin, 'server'), path.join(dir, 'temporal-server'));
    renameSync(path.join(gobin, 'sql'), path.join(dir, 'temporal-sql-tool'));
    return true;
  } finally {
    rmSync(gobin, { recursive: true, force: true });
  }
}

export interface TemporalServerBinaries {
  server: string;
  sqlTool: string;
}

function pick(name: string, fromEnv: string | undefined, envName: string, check: (b: string) => boolean): string | null {
  if (fromEnv) {
    if (!check(fromEnv)) throw new Error(`${envName}=${fromEnv} is not a working ${name} ${TEMPORAL_SERVER_VERSION}`);
    return fromEnv;
  }
  const onPath = whichSync(name);
  if (onPath && check(onPath)) return onPath;
  const cached = path.join(serverCacheDir(), name);
  return existsSync(cached) && check(cached) ? cached : null;
}

/**
 * Paths of a working temporal-server 1.29.1 and its temporal-sql-tool, building them when `build` and Go is here.
 *
 * @example const { server, sqlTool } = findTemporalServer()
 */
export function findTemporalServer({ build = true } = {}): TemporalServerBinaries | null {
  const isServer = (b: string) => versionOf(b).includes(TEMPORAL_SERVER_VERSION);
  const isSqlTool = (b: string) => spawnSync(b, ['--help'], { encoding: 'utf8', timeout: 20_000 }).stdout?.includes('update-schema') ?? false;
  const find = () => {
    const server = pick('temporal-server', process.env.TEMPORAL_SERVER_PATH, 'TEMPORAL_SERVER_PATH', isServer);
    const sqlTool = pick('temporal-sql-tool', process.env.TEMPORAL_SQL_TOOL_PATH, 'TEMPORAL_SQL_TOOL_PATH', isSqlTool);
    return server && sqlTool ? { server, sqlTool } : null;
  };
  return find() ?? (build && goInstall() ? find() : null);
}

export interface PostgresTarget {
  host: string;
  port: number;
  user: string;
  password: string;
}

export const TEMPORAL_DATABASES = { temporal: 'temporal', visibility: 'temporal_visibility' } as const;

/**
 * Creates (when missing) and migrates Temporal's two databases with temporal-sql-tool: the schema
 * versions it embeds for postgresql/v12, persistence and visibility. Safe to run on every start.
 *
 * @example await setupTemporalSchema(sqlTool, { host: '127.0.0.1', port: 5433, user: 'temporal', password })
 */
export async function setupTemporalSchema(sqlTool: string, db: PostgresTarget): Promise<void> {
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ host: db.host, port: db.port, user: db.user, password: db.password, database: 'postgres' });
  await admin.connect();
  try {
    for (const [schema, name] of Object.entries(TEMPORAL_DATABASES)) {
      const common = ['--plugin', 'postgres12', '--endpoint', db.host, '--port', String(db.port), '--user', db.user, '--password', db.password, '--database', name];
      const exists = (await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount;
      if (!exists) run(sqlTool, [...common, 'create-database']);
      // Version 0.0 first (the tool's bookkeeping tables), once; then every versioned step not applied yet.
      const probe = new pg.Client({ host: db.host, port: db.port, user: db.user, password: db.password, database: name });
      await probe.connect();
      const versioned = (await probe.query("select 1 from information_schema.tables where table_name = 'schema_version'")).rowCount;
      await probe.end();
      if (!versioned) run(sqlTool, [...common, 'setup-schema', '--version', '0.0']);
      run(sqlTool, [...common, 'update-schema', '--schema-name', `postgresql/v12/${schema}`]);
    }
  } finally {
    await admin.end();
  }
}

function run(binary: string, args: string[]): void {
  const r = spawnSync(binary, args, { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    const shown = args.map((a, i) => (args[i - 1] === '--password' ? '***' : a)).join(' ');
    throw new Error(`${path.basename(binary)} ${shown} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout}`);
  }
}

export interface TemporalServerOptions {
  binaries: TemporalServerBinaries;
  db: PostgresTarget;
  ip?: string;
  /** Frontend gRPC port; the server's other services take the next ports (deploy/temporal-server.yaml). */
  port: number;
  namespace?: string;
  /** The server's log (JSON lines); omitted: discarded. */
  logFile?: string;
  logLevel?: string;
  readyTimeoutMs?: number;
}

export interface TemporalServer {
  address: string;
  pid: number;
  exited: Promise<void>;
  stop(): Promise<void>;
}

/** The environment deploy/temporal-server.yaml is rendered from. */
export function serverEnvironment(o: Pick<TemporalServerOptions, 'db' | 'ip' | 'port' | 'logLevel'>): Record<string, string> {
  return {
    TEMPORAL_BIND_IP: o.ip ?? '127.0.0.1',
    TEMPORAL_PORT: String(o.port),
    TEMPORAL_LOG_LEVEL: o.logLevel ?? 'warn',
    TEMPORAL_DB_HOST: o.db.host,
    TEMPORAL_DB_PORT: String(o.db.port),
    TEMPORAL_DB_USER: o.db.user,
    TEMPORAL_DB_PASSWORD: o.db.password,
    TEMPORAL_DYNAMIC_CONFIG: dynamicConfigFile,
  };
}

async function waitFor<T>(what: string, deadline: number, attempt: () => Promise<T>, child?: ChildProcess): Promise<T> {
  let last: unknown;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`temporal-server exited with code ${child.exitCode} (${what})`);
    try {
      return await attempt();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw new Error(`${what}: not in time: ${String(last)}`);
}

async function withConnection<T>(address: string, use: (c: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address, connectTimeout: 2000 });
  try {
    return await use(connection);
  } finally {
    await connection.close();
  }
}

/**
 * Registers the namespace (3-day retention) and mediaflow's search attributes with the Temporal
 * CLI, as docker-compose's one-shot does, and waits until the server reports both.
 *
 * @example await registerNamespace('127.0.0.1:7233', 'default')
 */
export async function registerNamespace(address: string, namespace: string, deadline = Date.now() + 120_000): Promise<void> {
  const cli = findTemporalCli();
  if (!cli) throw new Error('the Temporal CLI is needed to register the namespace (scripts/temporal-cli.ts builds it with Go)');
  const temporal = (args: string[]) => spawnSync(cli, [...args, '--address', address], { encoding: 'utf8', timeout: 60_000 });
  const known = await withConnection(address, async (c) =>
    c.workflowService.describeNamespace({ namespace }).then(() => true, () => false),
  );
  if (!known) {
    const r = temporal(['operator', 'namespace', 'create', '--namespace', namespace, '--retention', '72h']);
    if (r.status !== 0 && !/already (exists|registered)/i.test(r.stderr)) throw new Error(`namespace create failed: ${r.stderr}`);
  }
  const wanted = searchAttributeFlags.map((f) => f.split('=')[0]!);
  const registered = async () =>
    withConnection(address, async (c) => {
      const { customAttributes } = await c.operatorService.listSearchAttributes({ namespace });
      return wanted.filter((n) => !(n in (customAttributes ?? {})));
    });
  const missing = await waitFor('namespace visible', deadline, registered);
  if (missing.length) {
    const flags = searchAttributeFlags.filter((f) => missing.includes(f.split('=')[0]!)).flatMap((f) => {
      const [name, type] = f.split('=');
      return ['--name', name!, '--type', type!];
    });
    const r = temporal(['operator', 'search-attribute', 'create', '--namespace', namespace, ...flags]);
    if (r.status !== 0) throw new Error(`search-attribute create failed: ${r.stderr}`);
  }
  await waitFor('search attributes registered', deadline, async () => {
    const left = await registered();
    if (left.length) throw new Error(`missing ${left.join(', ')}`);
  });
}

/**
 * Starts temporal-server (all four services in one process) on PostgreSQL, whose schema must be set
 * up (setupTemporalSchema), and waits until its frontend answers.
 *
 * @example const t = await startTemporalServer({ binaries, db, port: 7233, logFile: '.data/cluster/temporal.log' })
 */
export async function startTemporalServer(options: TemporalServerOptions): Promise<TemporalServer> {
  const ip = options.ip ?? '127.0.0.1';
  const address = `${ip}:${options.port}`;
  // The membership ports (port − 300 … − 297) are stored as a PostgreSQL smallint.
  if (options.port < 1324 || options.port - 297 > 32767) throw new Error(`Temporal port ${options.port}: use 1324–33064 (its membership ports, 300 below, must fit a smallint)`);
  const log = options.logFile ? openSync(options.logFile, 'a') : 'ignore';
  const child = spawn(
    options.binaries.server,
    ['--root', '/', '--config', path.dirname(serverConfigFile), '--env', path.basename(serverConfigFile, '.yaml'), '--allow-no-auth', 'start'],
    { stdio: ['ignore', log, log], detached: true, env: { ...process.env, ...serverEnvironment(options) } },
  );
  if (typeof log === 'number') closeSync(log);
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    }
    process.off('exit', killOnExit);
  };
  try {
    await waitFor('temporal-server frontend', Date.now() + (options.readyTimeoutMs ?? 120_000), () =>
      withConnection(address, (c) => c.workflowService.getSystemInfo({})), child);
  } catch (err) {
    await stop();
    const tail = options.logFile ? readFileSync(options.logFile, 'utf8').split('\n').slice(-6).map((l) => l.slice(0, 400)).join('\n') : '';
    throw new Error(`${String(err)}${options.logFile ? ` (log: ${options.logFile}, last lines:\n${tail})` : ''}`);
  }
  return { address, pid: child.pid!, exited, stop };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const found = findTemporalServer();
  if (!found) {
    console.error(`no temporal-server ${TEMPORAL_SERVER_VERSION}: set TEMPORAL_SERVER_PATH and TEMPORAL_SQL_TOOL_PATH, put them on PATH, or install Go (go install builds them)`);
    process.exit(1);
  }
  console.log(`${found.server}\n${found.sqlTool}`);
}

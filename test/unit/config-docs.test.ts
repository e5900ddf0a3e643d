/** Keeps docker-compose.yml and the README's configuration table in step with the config schema. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { configSchema, loadConfig } from '../../model/config';
import { whichSync } from '../../activities/ffmpeg-path';
import { searchAttributeFlags } from '../../workflows/definitions';
import { needTool } from '../helpers/tools';

const root = path.resolve(import.meta.dirname, '../..');
const known = new Set(Object.keys(configSchema.shape));

test('every variable in the README configuration table is read by the config, and every one the config reads is in it', () => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('## Configuration'));
  const documented = new Set([...table.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]!));
  assert.deepEqual([...documented].filter((k) => !known.has(k)), [], 'documented but not read');
  assert.deepEqual([...known].filter((k) => !documented.has(k)), [], 'read but not documented');
});

test('docker-compose.yml sets only variables mediaflow reads, and the config accepts their values', () => {
  const compose = fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
  // Our own settings: the shared anchor at the top and the api/worker services at the end.
  const ours = compose.slice(0, compose.indexOf('services:')) + compose.slice(compose.indexOf('  api:'));
  const env: Record<string, string> = {};
  for (const m of ours.matchAll(/^\s+([A-Z][A-Z0-9_]+): "?([^"\n]*)"?$/gm)) env[m[1]!] = m[2]!;
  assert.ok(Object.keys(env).length >= 10, `found ${Object.keys(env).join(', ')}`);
  assert.deepEqual(Object.keys(env).filter((k) => !known.has(k)), []);
  // Throws, listing every bad variable, if the config refuses a value.
  assert.equal(loadConfig(env).NODE_ENV, 'production');
});

const dockerCompose = whichSync('docker-compose');
const skipCompose = needTool('docker-compose', dockerCompose !== null, '.ci/run installs it (Debian package docker-compose; no Docker engine needed)');

interface ComposeService {
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  ports?: (string | { target: number; published: number | string })[];
  volumes?: (string | { source: string; target: string })[];
  stop_grace_period?: string;
}

/**
 * The file as docker-compose resolves it (anchors merged, ${VAR:-default} filled in), as JSON:
 * Compose v2 prints JSON itself; v1 (Debian's, what .ci/run installs) prints YAML only, read with
 * the PyYAML that v1 itself runs on.
 */
function composeConfig(): { services: Record<string, ComposeService>; volumes: Record<string, unknown> } {
  const file = path.join(root, 'docker-compose.yml');
  const env = { ...process.env, MEDIAFLOW_DB_PASSWORD: '', TEMPORAL_DB_PASSWORD: '' };
  try {
    return JSON.parse(execFileSync(dockerCompose!, ['-f', file, 'config', '--format', 'json'], { env, stdio: 'pipe' }).toString());
  } catch {
    const yaml = execFileSync(dockerCompose!, ['-f', file, 'config'], { env, stdio: 'pipe' });
    const json = execFileSync('python3', ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: yaml });
    return JSON.parse(json.toString());
  }
}

function mountTargets(s: ComposeService): string[] {
  return (s.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));
}

test('docker-compose.yml, as docker-compose resolves it: the services, commands and settings mediaflow relies on', { skip: skipCompose }, () => {
  const { services, volumes } = composeConfig();
  assert.deepEqual(Object.keys(services).sort(), ['api', 'mediaflow-db', 'postgresql', 'temporal', 'temporal-search-attributes', 'temporal-ui', 'worker']);
  const { api, worker, temporal } = services as Record<'api' | 'worker' | 'temporal', ComposeService>;
  // The built code (the image runs `npm run build`): node on dist/, no tsx at run time.
  assert.deepEqual(api.command, ['node', '--enable-source-maps', 'dist/api/server.js']);
  assert.deepEqual(worker.command, ['node', '--enable-source-maps', 'dist/worker/main.js']);
  for (const entry of [api.command![2]!, worker.command![2]!]) {
    const source = entry.replace(/^dist\//, '').replace(/\.js$/, '.ts');
    assert.ok(fs.existsSync(path.join(root, source)), `${entry} is built from ${source}`);
  }
  const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  assert.match(dockerfile, /^RUN npm run build$/m, 'the image builds dist/');
  assert.match(dockerfile, /^COPY --from=build \/app\/dist \.\/dist$/m);
  for (const [name, s] of Object.entries({ api, worker })) {
    const env = s.environment ?? {};
    // Every value the config would see: accepted, and the production rules apply.
    const config = loadConfig(env);
    assert.equal(config.NODE_ENV, 'production', name);
    assert.equal(env.TEMPORAL_ADDRESS, 'temporal:7233', `${name} reaches the temporal service`);
    assert.equal(env.DATABASE_URL, 'postgres://mediaflow:mediaflow@mediaflow-db:5432/mediaflow', `${name}: the mediaflow-db service, default password filled in`);
    assert.equal(env.STORAGE_DRIVER, 'local', name);
    assert.equal(env.ALLOW_PRIVATE_URLS, 'false', name);
    // The local object store lives under DATA_DIR, which is the volume every container shares.
    assert.equal(env.DATA_DIR, '/data', name);
    assert.ok(mountTargets(s).some((m) => /^objects:\/data(:rw)?$/.test(m)), `${name} mounts objects at /data: ${mountTargets(s).join(', ')}`);
    assert.deepEqual(s.depends_on, {
      'mediaflow-db': { condition: 'service_healthy' },
      'temporal-search-attributes': { condition: 'service_completed_successfully' },
    }, `${name} starts after its database and the search attributes`);
  }
  assert.ok('objects' in volumes);
  assert.equal(api.environment?.PORT, '3000');
  assert.ok(JSON.stringify(api.ports).includes('3000'), `api publishes 3000: ${JSON.stringify(api.ports)}`);
  assert.ok(JSON.stringify(temporal.ports).includes('7233'));
  assert.equal(worker.environment?.WORKER_PIPELINES, '*');
  // Compose must wait longer than the worker's own drain before it kills the container.
  const grace = Number(worker.environment?.WORKER_SHUTDOWN_GRACE_SEC);
  assert.ok(/^\d+s$/.test(worker.stop_grace_period ?? ''), `stop_grace_period ${worker.stop_grace_period}`);
  assert.ok(parseInt(worker.stop_grace_period!, 10) > grace, `stop_grace_period ${worker.stop_grace_period} > ${grace} s`);
  // The one-shot registers every search attribute the workflows set and the API filters on.
  const register = (services['temporal-search-attributes']!.command ?? []).join(' ');
  for (const flag of searchAttributeFlags) {
    const [name, type] = flag.split('=');
    assert.match(register, new RegExp(`--name ${name} --type ${type}\\b`), flag);
  }
});

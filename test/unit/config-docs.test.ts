/** Keeps docker-compose.yml and the README's configuration table in step with the config schema. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { configSchema, loadConfig } from '../../model/config';
import { whichSync } from '../../activities/ffmpeg-path';

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
  assert.doesNotThrow(() => loadConfig(env));
});

test('docker-compose.yml is a valid compose file', { skip: whichSync('docker-compose') ? false : 'docker-compose not installed (.ci/run installs it)' }, () => {
  execFileSync('docker-compose', ['-f', path.join(root, 'docker-compose.yml'), 'config', '-q'], { stdio: 'pipe' });
});

/**
 * Property-based run of schemathesis (PyPI) against /openapi.json on the real stack: every
 * operation with generated valid and invalid input; any 5xx, undocumented status, wrong content
 * type or answer outside its schema fails. `.ci/run` installs schemathesis; without it this fails
 * in CI and skips, saying so, elsewhere.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApiKeyStore } from '../../db/api-keys';
import { startStack, type Stack } from '../helpers/stack';
import { needTool } from '../helpers/tools';

/** Where .ci/run installs it (a venv, pinned version). */
const SCHEMATHESIS_VENV = path.join(os.homedir(), '.cache', 'mediaflow', 'schemathesis');

function findSchemathesis(): string | null {
  const candidates = [
    process.env.SCHEMATHESIS_PATH,
    path.join(SCHEMATHESIS_VENV, 'bin', 'schemathesis'),
    ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'schemathesis')),
  ];
  for (const file of candidates) {
    if (!file) continue;
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not this one
    }
  }
  return null;
}

const bin = findSchemathesis();
const skip = needTool(
  'schemathesis',
  bin !== null,
  `looked at $SCHEMATHESIS_PATH, ${SCHEMATHESIS_VENV}/bin, PATH; .ci/run installs it: python3 -m venv ${SCHEMATHESIS_VENV} && ${SCHEMATHESIS_VENV}/bin/pip install schemathesis`,
);

/** Cases per operation and phase: enough to find the easy breaks, short enough for two cores. */
const MAX_EXAMPLES = process.env.SCHEMATHESIS_MAX_EXAMPLES ?? '10';
/** A fixed seed keeps CI reproducible; set SCHEMATHESIS_SEED to explore further. */
const SEED = process.env.SCHEMATHESIS_SEED ?? '20261127';
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_schema_conformance',
  'response_headers_conformance',
  // What the document says is invalid must be refused: its constraints are the handlers' own.
  'negative_data_rejection',
];

let stack: Stack | undefined;
let adminKey = '';

before(async () => {
  if (skip) return;
  // Small uploads (generated bodies are small anyway); a rate limit out of the way, so every
  // generated request reaches the handlers rather than a 429.
  stack = await startStack({ api: true, env: { MAX_UPLOAD_BYTES: String(1024 * 1024), RATE_LIMIT_PER_SEC: '100000', RATE_LIMIT_BURST: '100000' } });
  // Requests act as an admin of one tenant: with a key, as production runs (a key made by the run
  // itself would otherwise close the open install halfway through).
  adminKey = (await createApiKeyStore(stack.db).create('default', 'admin', 'schemathesis')).secret;
});
after(async () => {
  await stack?.stop();
});

test('schemathesis: no 5xx, only documented statuses, content types and shapes', { skip, timeout: 15 * 60_000 }, async () => {
  const base = stack!.api!.url;
  const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mediaflow-schemathesis-'));
  const args = [
    'run',
    `${base}/openapi.json`,
    '--url', base,
    '--header', `Authorization: Bearer ${adminKey}`,
    // Revoking keys would revoke the run's own (links lead there from the key list).
    '--exclude-operation-id', 'deleteKey',
    '--checks', CHECKS.join(','),
    '--max-examples', MAX_EXAMPLES,
    '--seed', SEED,
    '--workers', '1',
    '--request-timeout', '30',
    '--generation-database', 'none',
    '--report', 'junit',
    '--report-dir', reportDir,
    '--no-color',
  ];
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(bin!, args, { cwd: reportDir, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
  const summary = output.slice(output.lastIndexOf('SUMMARY'));
  const shown = args.slice(1).map((a) => (a.startsWith('Authorization:') ? 'Authorization: Bearer …' : a));
  console.log(`schemathesis ${shown.join(' ')}\n${summary}`);
  assert.equal(code, 0, `schemathesis found problems (report: ${reportDir}):\n${output.slice(-20_000)}`);
  // A run that tested nothing would also exit 0.
  const tested = /Tested:\s+(\d+)/.exec(output);
  assert.ok(tested && Number(tested[1]) >= 20, `operations tested: ${tested?.[1]}`);
  const generated = /(\d+) generated/.exec(output);
  assert.ok(generated && Number(generated[1]) >= 500, `test cases generated: ${generated?.[1]}`);
  fs.rmSync(reportDir, { recursive: true, force: true });
});

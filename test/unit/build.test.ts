/**
 * The production build as a deployment runs it: `npm run build` makes dist/ and the workflow bundle
 * once; `node dist/api/server.js` answers without tsx, and `node dist/worker/main.js` loads the
 * prebuilt bundle (not bundling at start) and runs a real job on a Temporal dev server with ffmpeg.
 * Built with --no-check: the emitted code is the same, and `npm run typecheck` checks the types.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, spawnWorker, startStack, type Stack, type WorkerProcess } from '../helpers/stack';
import { makeClip } from '../helpers/media';
import { putObject, submitJob } from '../helpers/http';
import { isFinal, pollJob, eventually } from '../helpers/jobs';

const root = path.resolve(import.meta.dirname, '../..');
const dist = path.join(root, 'dist');

describe('npm run build', { timeout: 400_000 }, () => {
  let built = '';
  before(async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/build.ts', '--no-check'], { cwd: root, timeout: 300_000 });
    built = stdout;
  });

  test('makes dist/ with the workflow bundle, and the built API answers without tsx', async () => {
    assert.match(built, /built dist\/ in .* dist\/workflow-bundle\.js/);
    for (const f of ['api/server.js', 'worker/main.js', 'scripts/temporal-server.js', 'console/index.html']) await fs.access(path.join(dist, f));
    const bundle = await fs.readFile(path.join(dist, 'workflow-bundle.js'), 'utf8');
    assert.ok(bundle.includes('mediaJob'), 'the bundle holds the mediaJob workflow');
    assert.equal(JSON.parse(await fs.readFile(path.join(dist, 'package.json'), 'utf8')).type, 'module');

    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-dist-api-'));
    const port = await freePort();
    const api = spawn(process.execPath, ['dist/api/server.js'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'ERROR', NODE_OPTIONS: '' },
    });
    let out = '';
    api.stdout!.on('data', (d) => (out += d));
    api.stderr!.on('data', (d) => (out += d));
    try {
      const health = await eventually(
        () => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status, () => 0),
        (s) => s === 200 || api.exitCode !== null,
        'the built API answers /healthz',
        60_000,
      );
      assert.equal(health, 200, out);
      const doc = (await (await fetch(`http://127.0.0.1:${port}/openapi.json`)).json()) as { info: { version: string } };
      const pkg = JSON.parse(await fs.readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
      assert.equal(doc.info.version, pkg.version);
      assert.equal((await fetch(`http://127.0.0.1:${port}/console/`)).status, 200, 'the console is served from dist/console');
    } finally {
      const exited = new Promise((r) => api.once('exit', r));
      api.kill('SIGTERM');
      await exited;
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });

  describe('node dist/worker/main.js', () => {
    let stack: Stack;
    let worker: WorkerProcess | undefined;
    before(async () => {
      stack = await startStack({ api: true, worker: 'none' });
    });
    after(async () => {
      await worker?.stop();
      await stack.stop();
    });

    test('loads the bundle made at build time and runs a job', async () => {
      worker = await spawnWorker(stack.config, { NODE_OPTIONS: '' }, ['dist/worker/main.js']);
      const polling = JSON.parse(worker.output().split('\n').find((l) => l.includes('worker polling'))!) as { workflows: string };
      assert.equal(polling.workflows, path.join(dist, 'workflow-bundle.js'));

      const api = stack.api!.url;
      const clip = path.join(stack.dataDir, 'clip.mp4');
      await makeClip(clip, { width: 320, height: 180, durationSec: 1 });
      await putObject(api, 'raw/clip.mp4', clip);
      const id = await submitJob(api, { input: { key: 'raw/clip.mp4' }, outputs: [{ name: 'small', template: 'mp4-h264-360p' }] });
      const job = await pollJob(api, id, isFinal, { timeoutMs: 120_000, intervalMs: 250 });
      assert.equal(job.status, 'succeeded', JSON.stringify(job));
    });
  });
});

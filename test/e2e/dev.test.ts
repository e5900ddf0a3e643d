/** `npm run dev` as a user runs it: starts all three, runs a job, stops on Ctrl-C, keeps jobs across restarts. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/stack';
import { makeClip } from '../helpers/media';
import { putObject, submitJob } from '../helpers/http';
import { isFinal, pollJob } from '../helpers/jobs';
import { spawnUntil } from '../helpers/spawn';

const root = path.resolve(import.meta.dirname, '../..');
const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-dev-'));
const ports = { api: await freePort(), temporal: await freePort(), ui: await freePort() };
const env = {
  ...process.env,
  DATA_DIR: dataDir,
  PORT: String(ports.api),
  TEMPORAL_ADDRESS: `127.0.0.1:${ports.temporal}`,
  TEMPORAL_UI_PORT: String(ports.ui),
  TEMPORAL_UI_URL: `http://127.0.0.1:${ports.ui}`,
  LOG_LEVEL: 'WARN',
};
const api = `http://127.0.0.1:${ports.api}`;

after(async () => {
  await fs.rm(dataDir, { recursive: true, force: true });
});

async function startDev(): Promise<{ child: ChildProcess; output: () => string }> {
  return spawnUntil(['scripts/dev.ts'], { cwd: root, env }, 'mediaflow is running', 120_000);
}

async function stopDev(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGINT');
  return exited;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** Alive and not a zombie waiting to be reaped. */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function gone(pid: number, timeoutMs = 60_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
  return true;
}

/** The pids the banner lists. */
function pidsOf(output: string): { supervisor: number; service: number; temporal: number } {
  const m = /Processes\s+supervisor (\d+), API\+worker (\d+), Temporal (\d+)/.exec(output);
  assert.ok(m, `no pids in the banner:\n${output}`);
  return { supervisor: Number(m[1]), service: Number(m[2]), temporal: Number(m[3]) };
}

const waitJob = (id: string) => pollJob(api, id, isFinal, { timeoutMs: 60_000, intervalMs: 250 });

describe('npm run dev', { timeout: 300_000 }, () => {
  test('runs a job, stops cleanly on Ctrl-C, and keeps the job across a restart', async () => {
    const first = await startDev();
    assert.match(first.output(), new RegExp(`API\\s+${api}`));
    assert.match(first.output(), new RegExp(`Temporal UI\\s+http://127.0.0.1:${ports.ui}/namespaces/default/workflows`));
    const ui = await fetch(`http://127.0.0.1:${ports.ui}/namespaces/default/workflows`);
    assert.equal(ui.status, 200, 'the Temporal Web UI answers');

    const clip = path.join(dataDir, 'clip.mp4');
    await makeClip(clip, { width: 640, height: 360, durationSec: 1 });
    await putObject(api, 'raw/clip.mp4', clip);
    const id = await submitJob(api, { input: { key: 'raw/clip.mp4' }, outputs: [{ name: 'small', template: 'mp4-h264-360p' }] });
    const job = await waitJob(id);
    assert.equal(job.status, 'succeeded');

    assert.equal(await stopDev(first.child), 0, first.output());
    assert.match(first.output(), /stopped\./);
    assert.equal(await listening(ports.temporal), false, 'Temporal is stopped');
    assert.equal(await listening(ports.api), false, 'the API is stopped');
    await fs.access(path.join(dataDir, 'temporal.sqlite'));

    const second = await startDev();
    try {
      const again = (await (await fetch(`${api}/v1/jobs/${id}`)).json()) as { status: string; outputs: { key: string }[] };
      assert.equal(again.status, 'succeeded', 'the job survived the restart');
      assert.equal(again.outputs[0]?.key, job.outputs[0]?.key);
    } finally {
      assert.equal(await stopDev(second.child), 0, second.output());
    }
  });

  test('kill -9 of the API/worker process: dev stops Temporal and exits non-zero', async () => {
    const dev = await startDev();
    const pids = pidsOf(dev.output());
    assert.equal(pids.supervisor, dev.child.pid);
    assert.ok(await alive(pids.temporal));
    const exited = new Promise<number | null>((resolve) => dev.child.once('exit', (code) => resolve(code)));
    process.kill(pids.service, 'SIGKILL');
    assert.equal(await exited, 1, dev.output());
    assert.match(dev.output(), /the API\/worker process exited \(SIGKILL\)/);
    assert.ok(await gone(pids.temporal, 15_000), `Temporal (pid ${pids.temporal}) is left running`);
    assert.equal(await listening(ports.temporal), false);
    assert.equal(await listening(ports.api), false);
  });

  test('kill -9 of the Temporal dev server: dev stops the API and the worker and exits non-zero', async () => {
    const dev = await startDev();
    const pids = pidsOf(dev.output());
    const exited = new Promise<number | null>((resolve) => dev.child.once('exit', (code) => resolve(code)));
    process.kill(pids.temporal, 'SIGKILL');
    assert.equal(await exited, 1, dev.output());
    assert.match(dev.output(), /the Temporal dev server exited/);
    assert.ok(await gone(pids.service, 15_000), 'the API/worker process is left running');
    assert.equal(await listening(ports.api), false);
  });

  test('kill -9 of dev itself: the API/worker process stops Temporal and itself', async () => {
    const dev = await startDev();
    const pids = pidsOf(dev.output());
    process.kill(pids.supervisor, 'SIGKILL');
    assert.ok(await gone(pids.temporal), `Temporal (pid ${pids.temporal}) is left running`);
    assert.ok(await gone(pids.service), 'the API/worker process is left running');
    assert.equal(await listening(ports.temporal), false);
    assert.equal(await listening(ports.api), false);
  });
});

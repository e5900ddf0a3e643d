/**
 * `npm run cluster` as a user runs it: PostgreSQL, the real Temporal server on it, 2 APIs and 3
 * workers; a job submitted through one API is read through the other and its output downloaded,
 * and the README's "Try it" commands work as written against either API (only the port differs);
 * Ctrl-C stops every process it started, and a second start keeps the job (Temporal's and
 * mediaflow's data live in PostgreSQL).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, freePorts, temporalServerPort } from '../helpers/stack';
import { decodesCleanly, makeClip, probeFile } from '../helpers/media';
import { isFinal, pollJob } from '../helpers/jobs';
import { needTool } from '../helpers/tools';
import { findTemporalServer } from '../../scripts/temporal-server';
import { spawnUntil } from '../helpers/spawn';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const root = path.resolve(import.meta.dirname, '../..');
const hasPostgres = await fs.readdir('/usr/lib/postgresql').then((v) => v.length > 0, () => false);
const skip =
  needTool('PostgreSQL (initdb)', hasPostgres, '.ci/run installs Debian\'s postgresql') ||
  needTool('temporal-server 1.29.1', findTemporalServer({ build: false }) !== null, '.ci/run builds it (npx tsx scripts/temporal-server.ts, go install)');

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-cluster-'));
after(() => fs.rm(dir, { recursive: true, force: true }));

interface Started {
  child: ChildProcess;
  output: () => string;
  pids: number[];
  apis: string[];
}

async function startCluster(ports: { api: number; temporal: number; pg: number }): Promise<Started> {
  const { child, output } = await spawnUntil(
    ['scripts/cluster.ts', '--dir', dir, '--api-port', String(ports.api), '--temporal-port', String(ports.temporal), '--pg-port', String(ports.pg)],
    { cwd: root, env: { ...process.env, LOG_LEVEL: 'WARN' } },
    'mediaflow cluster is running',
    300_000,
  );
  const out = output();
  const line = /Processes\s+(.*)/.exec(out)![1]!;
  const pids = [...line.trim().matchAll(/ (\d+)(?=,|$)/g)].map((m) => Number(m[1]));
  const apis = /APIs\s+(.*)/.exec(out)![1]!.trim().split(/\s+/);
  return { child, output, pids, apis };
}

/** The README's "Try it" block: its commands (continuation lines joined), comments left out. */
async function tryItCommands(): Promise<string[]> {
  const readme = await fs.readFile(path.join(root, 'README.md'), 'utf8');
  const block = /### Try it\n+```sh\n([\s\S]*?)\n```/.exec(readme)?.[1];
  assert.ok(block, 'the README has a Try it block');
  return block.replace(/\\\n\s*/g, '').split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
}

/**
 * Runs the README's "Try it" commands as written, against `upload` (the upload and the POST) and
 * `read` (watching and downloading): only the host:port of the URLs and the job id are replaced.
 */
async function runTryIt(upload: string, read: string, cwd: string): Promise<void> {
  const sh = async (line: string) => (await promisify(execFile)('bash', ['-c', line], { cwd, maxBuffer: 1 << 24 })).stdout;
  const commands = await tryItCommands();
  assert.deepEqual(commands.map((l) => l.split(' ')[0]), ['ffmpeg', 'curl', 'curl', 'curl', 'curl', 'curl'], commands.join('\n'));
  const at = (line: string, base: string, id = '') => line.replaceAll('http://127.0.0.1:3000', base).replaceAll('job_…', id);
  const [clip, put, post, watch, ...downloads] = commands as [string, string, string, string, ...string[]];
  await sh(clip);
  assert.equal(JSON.parse(await sh(at(put, upload))).key, 'raw/sample.mp4');
  const queued = JSON.parse(await sh(at(post, upload))) as { id: string; status: string };
  assert.equal(queued.status, 'queued', JSON.stringify(queued));
  const deadline = Date.now() + 300_000;
  for (;;) {
    const job = JSON.parse(await sh(at(watch, read, queued.id))) as { status: string };
    if (job.status === 'succeeded') break;
    assert.ok(!['failed', 'canceled'].includes(job.status) && Date.now() < deadline, JSON.stringify(job));
    await new Promise((r) => setTimeout(r, 1000));
  }
  for (const line of downloads) await sh(at(line, read, queued.id));
  const video = (await probeFile(path.join(cwd, '720p.mp4'))).streams.find((st) => st.codec_type === 'video');
  assert.equal(video?.height, 720);
  assert.ok(await decodesCleanly(path.join(cwd, '720p.mp4')), '720p.mp4 decodes');
  const poster = await fs.readFile(path.join(cwd, 'poster.jpg'));
  assert.equal(poster.subarray(0, 3).toString('hex'), 'ffd8ff', 'poster.jpg is a JPEG');
}

async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function ctrlC(c: Started): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => c.child.once('exit', (code) => resolve(code)));
  c.child.kill('SIGINT');
  return exited;
}

describe('npm run cluster', { skip, timeout: 900_000 }, () => {
  test('2 APIs and 3 workers on the real Temporal server: a job through either API, Ctrl-C leaves nothing, data kept', async () => {
    // The API ports are consecutive; Temporal's services use the ports just above and below its frontend.
    const ports = { api: await freePorts(2), temporal: await temporalServerPort(), pg: await freePort() };
    const first = await startCluster(ports);
    let job: { id: string; outputs: { key: string }[] };
    try {
      assert.equal(first.apis.length, 2, first.output());
      assert.equal(first.pids.length, 1 + 2 + 2 + 3, `supervisor, PostgreSQL, Temporal, 2 APIs, 3 workers: ${first.output()}`);
      const [a, b] = first.apis as [string, string];
      assert.notEqual(a, b);

      const clip = path.join(dir, 'clip.mp4');
      await makeClip(clip, { width: 640, height: 360, durationSec: 1 });
      assert.equal((await fetch(`${a}/v1/objects/raw/clip.mp4`, { method: 'PUT', body: await fs.readFile(clip) })).status, 201);
      const res = await fetch(`${b}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: { key: 'raw/clip.mp4' }, outputs: [{ name: 'small', template: 'mp4-h264-360p' }] }),
      });
      assert.equal(res.status, 202, await res.clone().text());
      const { id } = (await res.json()) as { id: string };
      const done = await pollJob(a, id, isFinal, { timeoutMs: 180_000, intervalMs: 500 });
      assert.equal(done.status, 'succeeded', JSON.stringify(done));
      job = done as unknown as typeof job;
      const out = await fetch(`${b}/v1/objects/${job.outputs[0]!.key}`);
      assert.equal(out.status, 200);
      const file = path.join(dir, 'out.mp4');
      await fs.writeFile(file, Buffer.from(await out.arrayBuffer()));
      const probed = await probeFile(file);
      assert.equal(probed.streams.find((st) => st.codec_type === 'video')?.height, 360, JSON.stringify(probed));
      assert.ok(await decodesCleanly(file), 'the output decodes');

      // The README's curl lines, unchanged but for the port: in through one API, out through the other.
      const tryIt = path.join(dir, 'try-it');
      await fs.mkdir(tryIt);
      await runTryIt(b, a, tryIt);
    } finally {
      assert.equal(await ctrlC(first), 0, first.output());
    }
    assert.match(first.output(), /stopped\./);
    for (const pid of first.pids) assert.equal(await alive(pid), false, `pid ${pid} is left running:\n${first.output()}`);

    const second = await startCluster(ports);
    try {
      const again = (await (await fetch(`${second.apis[1]}/v1/jobs/${job.id}`)).json()) as { status: string };
      assert.equal(again.status, 'succeeded', 'the job is still there after a restart');
    } finally {
      assert.equal(await ctrlC(second), 0, second.output());
    }
    for (const pid of second.pids) assert.equal(await alive(pid), false, `pid ${pid} is left running`);
  });
});

/**
 * Upload exhaustion (issue 12, items 3 and 9) against the API as its own process, over loopback,
 * with few file descriptors (`ulimit -n 384`): 200 stalled uploads from one key get 429 past the
 * per-key cap, the total cap holds, quiet bodies get 408 and leave no temp file, temp files of a
 * crashed run are swept at start, aborted uploads count as client aborts — and normal requests
 * still work all along. Then the same abort against the OSS driver (the loopback OSS server).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../model/config';
import { openDatabase } from '../../db/database';
import { createApiKeyStore } from '../../db/api-keys';
import { freePort } from '../helpers/stack';
import { startOssServer, type OssServer } from '../helpers/oss-server';

const root = path.resolve(import.meta.dirname, '../..');

interface ApiProcess {
  child: ChildProcess;
  port: number;
  base: string;
  output: () => string;
  stop(): Promise<void>;
}

/** `api/server.ts` as a process of its own, with at most `fds` file descriptors. */
async function spawnApi(dataDir: string, env: Record<string, string>, fds = 384): Promise<ApiProcess> {
  const port = await freePort();
  const child = spawn('sh', ['-c', `ulimit -n ${fds} && exec "${process.execPath}" --import tsx api/server.ts`], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      NODE_ENV: 'test',
      DATA_DIR: dataDir,
      PORT: String(port),
      // Nothing listens there: uploads never need Temporal.
      TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
      LOG_LEVEL: 'WARN',
      ...env,
    },
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + 60_000;
  while (!out.includes('mediaflow API listening')) {
    if (child.exitCode !== null) throw new Error(`the API exited with ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) throw new Error(`the API did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    port,
    base: `http://127.0.0.1:${port}`,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A raw upload that sends its headers and a few bytes of a long body, then only what the test says. */
interface RawUpload {
  socket: net.Socket;
  /** Everything the server answered. */
  answer: () => string;
  answered: () => boolean;
  /** Resolves when the server has answered (and closed, for the refused and timed-out ones). */
  done: Promise<string>;
}

function rawUpload(port: number, urlPath: string, headers: Record<string, string>, declared = 1_000_000, method = 'PUT'): RawUpload {
  const socket = net.connect(port, '127.0.0.1');
  let text = '';
  const t0 = Date.now();
  socket.on('data', (d) => {
    if (process.env.DEBUG_EXHAUST && !text) console.log(urlPath, Date.now() - t0, String(d).slice(0, 12));
    text += d;
  });
  socket.on('error', () => undefined);
  const done = new Promise<string>((resolve) => socket.once('close', () => resolve(text)));
  const head = Object.entries({ host: 'x', 'content-length': String(declared), ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.write(`${method} ${urlPath} HTTP/1.1\r\n${head}\r\n${method === 'PUT' ? 'x'.repeat(10) : ''}`);
  return { socket, answer: () => text, answered: () => text.length > 0, done };
}

/** Sends one byte every 250 ms to each upload not answered yet: busy, never idle. */
function trickle(uploads: RawUpload[]): () => void {
  const timer = setInterval(() => {
    for (const u of uploads) if (!u.answered() && !u.socket.destroyed) u.socket.write('y');
  }, 250);
  return () => clearInterval(timer);
}

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const statusOf = (answer: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
const bodyOf = (answer: string): { code?: string; detail?: string } => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4) || '{}');

async function partFiles(dataDir: string): Promise<string[]> {
  return (await fs.readdir(path.join(dataDir, 'tmp')).catch(() => [] as string[])).filter((n) => n.endsWith('.part'));
}

/** mediaflow_http_requests_total for PUT uploads with this status. */
async function uploadsCounted(base: string, status: number): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('mediaflow_http_requests_total{') && l.includes('method="PUT"') && l.includes(`status="${status}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Sends a part of a body and then resets the connection, as a client that gives up does. */
async function abortMidBody(port: number, urlPath: string, headers: Record<string, string>, sent: Buffer, declared: number): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const head = Object.entries({ host: 'x', 'content-length': String(declared), ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.write(`PUT ${urlPath} HTTP/1.1\r\n${head}\r\n`);
  await new Promise<void>((r) => socket.write(sent, () => r()));
  await new Promise((r) => setTimeout(r, 500));
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.resetAndDestroy();
  await closed;
}

describe('uploads that stall, flood or abort (local store, 384 file descriptors)', { timeout: 240_000 }, () => {
  let dataDir: string;
  let api: ApiProcess;
  const secrets = { a: '', b: '' };
  const planted = { stale: '', fresh: '', foreign: '', notOurs: '' };

  before(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-exhaust-'));
    const db = await openDatabase(loadConfig({ DATA_DIR: dataDir }));
    const keys = createApiKeyStore(db);
    secrets.a = (await keys.create('tenant-a', 'submitter', 'flooder')).secret;
    secrets.b = (await keys.create('tenant-b', 'submitter', 'neighbour')).secret;
    await db.close();
    // What a crashed run leaves behind, and what is not ours to remove.
    const tmp = path.join(dataDir, 'tmp');
    await fs.mkdir(tmp, { recursive: true });
    const old = new Date(Date.now() - 3600_000);
    planted.stale = path.join(tmp, `${randomUUID()}.part`);
    planted.fresh = path.join(tmp, `${randomUUID()}.part`);
    planted.foreign = path.join(tmp, 'notes.txt');
    planted.notOurs = path.join(dataDir, `${randomUUID()}.part`);
    for (const f of Object.values(planted)) await fs.writeFile(f, 'x');
    for (const f of [planted.stale, planted.foreign, planted.notOurs]) await fs.utimes(f, old, old);
    // A live upload of another process on this data directory keeps writing its file: recent, whenever the API starts.
    const recent = new Date(Date.now() + 300_000);
    await fs.utimes(planted.fresh, recent, recent);
    api = await spawnApi(dataDir, {
      BODY_IDLE_TIMEOUT_SEC: '3',
      MAX_UPLOADS_PER_KEY: '4',
      MAX_UPLOADS: '6',
      RATE_LIMIT_PER_SEC: '10000',
      RATE_LIMIT_BURST: '10000',
      METRICS_RATE_LIMIT_PER_SEC: '1000',
      METRICS_RATE_LIMIT_BURST: '1000',
    });
  });
  after(async () => {
    await api?.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  test('temp upload files of a crashed run are swept at start; nothing else is touched', async () => {
    await assert.rejects(fs.access(planted.stale), 'the stale upload temp file is gone');
    for (const f of [planted.fresh, planted.foreign, planted.notOurs]) await fs.access(f);
    assert.match(api.output(), /removed upload temp files left by an earlier run.*"count":1/);
  });

  test('200 stalled uploads from one key: 4 held, 196 refused 429; the neighbour still uploads; the total cap holds; quiet bodies 408 with no temp file left', async () => {
    const auth = (s: string) => ({ authorization: `Bearer ${s}` });
    const flood = Array.from({ length: 200 }, (_, i) => rawUpload(api.port, `/v1/objects/stall/${i}.bin`, auth(secrets.a)));
    const stopFlood = trickle(flood);
    try {
      await until('196 refusals', () => flood.filter((u) => u.answered()).length >= 196);
      await new Promise((r) => setTimeout(r, 1000));
      const answered = flood.filter((u) => u.answered());
      assert.equal(answered.length, 196, 'exactly MAX_UPLOADS_PER_KEY=4 uploads are held');
      for (const u of answered) {
        await u.done;
        assert.equal(statusOf(u.answer()), 429, u.answer());
        assert.match(u.answer(), /\r\nretry-after: 5\r\n/i);
        assert.match(u.answer(), /\r\ncontent-type: application\/problem\+json/i);
        assert.match(bodyOf(u.answer()).detail ?? '', /MAX_UPLOADS_PER_KEY=4/);
      }

      // Another tenant's key is not stuck behind the flood.
      const put = await fetch(`${api.base}/v1/objects/b/ok.bin`, { method: 'PUT', headers: auth(secrets.b), body: 'hello' });
      assert.equal(put.status, 201);
      // 4 held + 2 of these = MAX_UPLOADS=6: the third is refused for the total.
      const more = Array.from({ length: 3 }, (_, i) => rawUpload(api.port, `/v1/objects/b/stall-${i}.bin`, auth(secrets.b)));
      const stopMore = trickle(more);
      try {
        await until('one refusal of three', () => more.some((u) => u.answered()));
        await new Promise((r) => setTimeout(r, 1000));
        const refused = more.filter((u) => u.answered());
        assert.equal(refused.length, 1);
        assert.equal(statusOf(refused[0]!.answer()), 429);
        assert.match(bodyOf(refused[0]!.answer()).detail ?? '', /MAX_UPLOADS=6/);
        // Requests that are not uploads go on as normal.
        assert.equal((await fetch(`${api.base}/v1/objects/b/ok.bin`, { headers: auth(secrets.b) })).status, 200);
        assert.equal((await fetch(`${api.base}/healthz`)).status, 200);
        assert.equal(api.child.exitCode, null, 'the API is alive');
        assert.ok((await partFiles(dataDir)).length >= 6, 'the held uploads are being written');
      } finally {
        stopMore();
      }
      stopFlood();
      // Now all six go quiet: each is answered 408 within the idle timeout and its temp file removed.
      const held = [...flood.filter((u) => !u.answered()), ...more.filter((u) => !u.answered())];
      assert.equal(held.length, 6);
      const answers = await Promise.all(held.map((u) => u.done));
      for (const a of answers) {
        assert.equal(statusOf(a), 408, a);
        assert.equal(bodyOf(a).code, 'BodyTimeout');
        assert.match(a, /\r\nconnection: close\r\n/i);
      }
    } finally {
      stopFlood();
      for (const u of flood) u.socket.destroy();
    }
    const left = (await partFiles(dataDir)).filter((n) => n !== path.basename(planted.fresh));
    assert.deepEqual(left, [], 'no temp file of a timed-out upload is left');
    // And the flooding key can upload again.
    const again = await fetch(`${api.base}/v1/objects/a/after.bin`, { method: 'PUT', headers: auth(secrets.a), body: 'fine' });
    assert.equal(again.status, 201);
    assert.equal(await (await fetch(`${api.base}/v1/objects/a/after.bin`, { headers: auth(secrets.a) })).text(), 'fine');
  });

  test('a JSON body that stops arriving is answered 408', async () => {
    const u = rawUpload(api.port, '/v1/jobs', { authorization: `Bearer ${secrets.a}`, 'content-type': 'application/json' }, 500, 'POST');
    u.socket.write('{"input":');
    const answer = await u.done;
    assert.equal(statusOf(answer), 408, answer);
    assert.equal(bodyOf(answer).code, 'BodyTimeout');
  });

  test('an upload the client aborts mid-body is logged and counted as a client abort; nothing is stored', async () => {
    const before = await uploadsCounted(api.base, 499);
    await abortMidBody(api.port, '/v1/objects/a/aborted.bin', { authorization: `Bearer ${secrets.a}` }, randomBytes(300 * 1024), 10 * 1024 * 1024);
    await until('the abort to be counted', () => api.output().includes('client aborted upload'), 10_000);
    assert.equal(await uploadsCounted(api.base, 499), before + 1);
    assert.equal(await uploadsCounted(api.base, 500), 0);
    assert.doesNotMatch(api.output(), /request failed/);
    assert.equal((await fetch(`${api.base}/v1/objects/a/aborted.bin`, { method: 'HEAD', headers: { authorization: `Bearer ${secrets.a}` } })).status, 404);
    await until('the temp file to go', () => true);
    const left = (await partFiles(dataDir)).filter((n) => n !== path.basename(planted.fresh));
    assert.deepEqual(left, []);
  });
});

describe('an upload the client aborts, against OSS', { timeout: 120_000 }, () => {
  let oss: OssServer;
  let dataDir: string;
  let api: ApiProcess;

  before(async () => {
    oss = await startOssServer({ buckets: ['media'] });
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-abort-oss-'));
    // Multipart from 200 KiB in 100 KiB parts: some parts are stored before the client gives up.
    api = await spawnApi(dataDir, oss.env('media', { OSS_MULTIPART_THRESHOLD_BYTES: String(200 * 1024), OSS_PART_SIZE_BYTES: String(100 * 1024) }));
  });
  after(async () => {
    await api?.stop();
    await oss?.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  test('counted as a client abort (499), not a 503 StorageUnavailable; no object, no multipart upload left', async () => {
    await abortMidBody(api.port, '/v1/objects/raw/aborted.mp4', {}, randomBytes(700 * 1024), 10 * 1024 * 1024);
    await until('the abort to be logged', () => api.output().includes('client aborted upload'), 15_000);
    assert.equal(await uploadsCounted(api.base, 499), 1);
    assert.equal(await uploadsCounted(api.base, 503), 0);
    assert.doesNotMatch(api.output(), /StorageUnavailable|OSS upload/);
    assert.equal((await fetch(`${api.base}/v1/objects/raw/aborted.mp4`, { method: 'HEAD' })).status, 404);
    await until('the multipart upload to be aborted', () => oss.requests.some((r) => r.method === 'DELETE' && r.query.includes('uploadId')), 15_000);
    assert.ok(oss.requests.some((r) => r.method === 'PUT' && r.query.includes('partNumber')), 'parts had been sent');
  });
});

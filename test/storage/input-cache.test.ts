/**
 * The worker's input cache: one fill per identity however many ask at once, ref-counted leases,
 * LRU eviction of idle entries only, cancellation; and through the real activities, one download
 * per job for an OSS object and for a URL, whatever the number of activities reading it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createReadStream } from 'node:fs';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createInputCache } from '../../storage/input-cache';
import { createActivities, type ActivityDeps } from '../../activities';
import { inputCacheOf } from '../../activities/local-input';
import { loadConfig } from '../../model/config';
import { planJob, type SnapshotTask, type TranscodeTask } from '../../media/plan';
import type { JobInput } from '../../model/job';
import { createOssStorage } from '../../storage/oss';
import { makeClip, probeFile, testBinaries } from '../helpers/media';
import { startOssServer, type OssServer } from '../helpers/oss-server';
import { presetOutput, snapshotAt, testSpec } from '../helpers/spec';

let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-cache-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A fill writing `size` bytes after `delayMs`, counting its runs. */
function filler(size: number, delayMs = 20) {
  const state = { runs: 0, signals: [] as AbortSignal[] };
  const fill = async (file: string, signal: AbortSignal) => {
    state.runs += 1;
    state.signals.push(signal);
    await sleep(delayMs);
    signal.throwIfAborted();
    await fs.writeFile(file, Buffer.alloc(size, state.runs));
    return { run: String(state.runs) };
  };
  return { fill, state };
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}

describe('input cache', () => {
  test('concurrent callers of one identity share one fill; leases are counted; hits need no fill', async () => {
    const cache = await createInputCache(path.join(dir, 'c1'), 10_000);
    const { fill, state } = filler(100);
    const leases = await Promise.all(Array.from({ length: 5 }, () => cache.acquire('a', fill)));
    assert.equal(state.runs, 1);
    assert.equal(new Set(leases.map((l) => l.path)).size, 1);
    assert.equal(leases[0]!.sizeBytes, 100);
    for (const l of leases) l.release();
    leases[0]!.release(); // idempotent
    const again = await cache.acquire('a', fill);
    assert.equal(state.runs, 1);
    assert.deepEqual(cache.meta('a'), { run: '1' });
    again.release();
    assert.deepEqual(cache.stats(), { entries: 1, bytes: 100, fills: 1, hits: 1 });
    await cache.close();
  });

  test('LRU eviction drops idle entries only, oldest use first', async () => {
    const cache = await createInputCache(path.join(dir, 'c2'), 250);
    const { fill } = filler(100, 1);
    const a = await cache.acquire('a', fill);
    const b = await cache.acquire('b', fill);
    a.release();
    b.release();
    (await cache.acquire('a', fill)).release(); // a is now more recent than b
    const held = await cache.acquire('c', fill); // 300 bytes: b (idle, oldest) goes
    await sleep(10); // files are removed in the background
    assert.equal(await exists(b.path), false);
    assert.equal(await exists(a.path), true);
    const d = await cache.acquire('d', fill); // over again: a goes; c and d are in use and stay
    await sleep(10);
    assert.equal(await exists(a.path), false);
    assert.equal(await exists(held.path), true);
    assert.equal(cache.stats().bytes, 200);
    // An entry bigger than the whole budget is still served, and goes once released.
    const huge = await cache.acquire('huge', filler(400, 1).fill);
    assert.equal(await exists(huge.path), true);
    huge.release();
    await sleep(10);
    assert.equal(await exists(huge.path), false);
    held.release();
    d.release();
    await cache.close();
  });

  test('invalidate: leases keep their file until released; the next caller fills afresh', async () => {
    const cache = await createInputCache(path.join(dir, 'c3'), 10_000);
    const { fill, state } = filler(10);
    const old = await cache.acquire('u', fill);
    cache.invalidate('u');
    const fresh = await cache.acquire('u', fill);
    assert.equal(state.runs, 2);
    assert.notEqual(fresh.path, old.path);
    assert.equal(await exists(old.path), true);
    old.release();
    await sleep(10);
    assert.equal(await exists(old.path), false);
    fresh.release();
    await cache.close();
  });

  test('cancellation: one waiter leaving keeps the fill going; all leaving aborts it; a failed fill fails its waiters only', async () => {
    const cache = await createInputCache(path.join(dir, 'c4'), 10_000);
    const { fill, state } = filler(10, 100);
    const quitter = new AbortController();
    const stays = cache.acquire('x', fill);
    const leaves = cache.acquire('x', fill, quitter.signal);
    quitter.abort(new Error('activity cancelled'));
    await assert.rejects(leaves, /activity cancelled/);
    (await stays).release();
    assert.equal(state.runs, 1);
    assert.equal(state.signals[0]!.aborted, false);

    const all = [new AbortController(), new AbortController()];
    const both = all.map((c) => cache.acquire('y', fill, c.signal));
    for (const c of all) c.abort(new Error('gone'));
    for (const p of both) await assert.rejects(p, /gone/);
    assert.equal(state.signals[1]!.aborted, true, 'nobody wants it: the download stops');

    let failures = 0;
    const flaky = async (file: string) => {
      if (failures++ === 0) throw new Error('network down');
      await fs.writeFile(file, 'ok');
    };
    const failed = await Promise.allSettled([cache.acquire('z', flaky), cache.acquire('z', flaky)]);
    assert.deepEqual(failed.map((r) => r.status), ['rejected', 'rejected']);
    assert.equal(failures, 1);
    (await cache.acquire('z', flaky)).release();
    assert.equal(await fs.readdir(cache.dir).then((f) => f.length), 2, 'only the two good entries (x, z): no partial files');
    await cache.close();
  });

  test('folders left by dead processes on this host are removed at start; live ones are not', async () => {
    const root = path.join(dir, 'c5');
    const host = os.hostname().replace(/[^A-Za-z0-9.-]/g, '_');
    await fs.mkdir(path.join(root, `${host}-999999999`), { recursive: true });
    await fs.mkdir(path.join(root, `${host}-${process.ppid}`), { recursive: true });
    await fs.mkdir(path.join(root, 'other-host-1'), { recursive: true });
    const cache = await createInputCache(root, 1000);
    assert.deepEqual((await fs.readdir(root)).sort(), [`${host}-${process.pid}`, `${host}-${process.ppid}`, 'other-host-1'].sort());
    await cache.close();
  });
});

describe('activities read each input once per job and worker', { timeout: 180_000 }, () => {
  let oss: OssServer;
  let deps: ActivityDeps;
  let web: http.Server;
  let webUrl: string;
  const webHits: { url: string; conditional: boolean }[] = [];
  let clip: string;

  before(async () => {
    oss = await startOssServer({ buckets: ['media'] });
    clip = path.join(dir, 'clip.mp4');
    await makeClip(clip, { width: 320, height: 240, durationSec: 2 });
    const config = loadConfig({ DATA_DIR: path.join(dir, 'worker'), ALLOW_PRIVATE_URLS: 'true', ...oss.env('media') });
    deps = {
      config,
      storage: createOssStorage({ ...(await import('../../storage/oss')).ossOptionsFrom(config), retry: { attempts: 2, baseMs: 1, maxMs: 1 } }),
      binaries: await testBinaries(),
      workDir: path.join(dir, 'worker', 'work'),
      db: () => Promise.reject(new Error('not needed')),
    };
    await deps.storage.put('raw/clip.mp4', createReadStream(clip));
    const bytes = await fs.readFile(clip);
    web = http.createServer((req, res) => {
      webHits.push({ url: req.url ?? '', conditional: req.headers['if-none-match'] !== undefined });
      if (req.url === '/etag/clip.mp4' && req.headers['if-none-match'] === '"clip-v1"') return void res.writeHead(304).end();
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(bytes.length), ...(req.url === '/etag/clip.mp4' ? { etag: '"clip-v1"' } : {}) });
      res.end(bytes);
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    webUrl = `http://127.0.0.1:${(web.address() as net.AddressInfo).port}`;
  });
  after(async () => {
    web?.closeAllConnections();
    web?.close();
    await oss?.close();
  });

  function env(jobId: string): MockActivityEnvironment {
    return new MockActivityEnvironment({ workflowExecution: { workflowId: jobId, runId: 'r1' } }, { logger: new DefaultLogger('ERROR') });
  }

  /** env.run with the activity's own parameter and result types. */
  function runIn<F extends (...args: never[]) => Promise<unknown>>(jobId: string, fn: F, ...args: Parameters<F>): ReturnType<F> {
    return env(jobId).run(fn as never, ...(args as never[])) as ReturnType<F>;
  }

  /** probe, then a transcode and a snapshot at the same time, as the workflow runs them. */
  async function runJob(input: JobInput, jobId: string): Promise<void> {
    const acts = createActivities(deps);
    const media = (await runIn(jobId, acts.probeInput, input)).value;
    const spec = testSpec('unused', [presetOutput('small', 'mp4-h264-360p')], { id: jobId, input, snapshots: [snapshotAt('still', 1)] });
    const plan = planJob(spec, media);
    const transcode = plan.tasks.find((t): t is TranscodeTask => t.kind === 'transcode')!;
    const snapshot = plan.tasks.find((t): t is SnapshotTask => t.kind === 'snapshot')!;
    const [out] = await Promise.all([runIn(jobId, acts.transcode, { input, task: transcode }), runIn(jobId, acts.snapshot, { input, task: snapshot })]);
    const local = path.join(dir, `${jobId}.mp4`);
    const { body } = await deps.storage.get(out.value.key);
    await fs.writeFile(local, body);
    const probed = await probeFile(local);
    assert.deepEqual(probed.streams.filter((s) => s.codec_type === 'video').map((s) => [s.codec_name, s.height]), [['h264', 240]]);
  }

  test('an OSS object: one GET for probe, transcode and snapshot; another job on the same object hits the cache', async () => {
    const gets = () => oss.requests.filter((r) => r.method === 'GET' && r.key === 'raw/clip.mp4').length;
    await runJob({ key: 'raw/clip.mp4' }, 'job_cache_oss1');
    assert.equal(gets(), 1);
    await runJob({ key: 'raw/clip.mp4' }, 'job_cache_oss2');
    assert.equal(gets(), 1, 'same key, etag and size: the cached copy');
    const before = (await inputCacheOf(deps)).stats();
    assert.ok(before.hits >= 5, `hits ${before.hits}`);
  });

  test('a URL: one download per job; with an ETag, later jobs revalidate (304) instead of downloading', async () => {
    await runJob({ url: `${webUrl}/plain/clip.mp4` }, 'job_cache_url1');
    assert.deepEqual(webHits.filter((h) => h.url === '/plain/clip.mp4').length, 1);
    await runJob({ url: `${webUrl}/plain/clip.mp4` }, 'job_cache_url2');
    assert.deepEqual(webHits.filter((h) => h.url === '/plain/clip.mp4').length, 2, 'no validators: a new job downloads again');

    await runJob({ url: `${webUrl}/etag/clip.mp4` }, 'job_cache_url3');
    await runJob({ url: `${webUrl}/etag/clip.mp4` }, 'job_cache_url4');
    const etagHits = webHits.filter((h) => h.url === '/etag/clip.mp4');
    assert.equal(etagHits.filter((h) => !h.conditional).length, 1, 'one full download');
    assert.ok(etagHits.filter((h) => h.conditional).length >= 1, 'later reads revalidated');
  });
});

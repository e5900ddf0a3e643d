/**
 * Jobs end to end with STORAGE_DRIVER=oss: the API and a worker *process*, both configured only
 * through the environment, against the loopback OSS server (real ali-oss, signatures checked);
 * inputs uploaded through the API, read from another bucket, and fetched from a URL. Outputs are
 * taken from the OSS server itself and checked with ffprobe.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { JobState } from '../../model/job-state';
import { createOssStorage, ossOptionsFrom } from '../../storage/oss';
import { startStack, spawnWorker, type Stack, type WorkerProcess } from '../helpers/stack';
import { decodesCleanly, makeClip, probeFile } from '../helpers/media';
import { startOssServer, type OssServer } from '../helpers/oss-server';

let oss: OssServer;
let stack: Stack;
let worker: WorkerProcess;
let base: string;
let web: http.Server;
let webBase: string;
const webHits: string[] = [];
let clipBytes: Buffer;
const hugeBytes = randomBytes(3 * 1024 * 1024);

before(async () => {
  oss = await startOssServer({ buckets: ['media', 'archive', 'private-stuff'] });
  const env = {
    ...oss.env('media', { OSS_PREFIX: 'mf/', OSS_INPUT_BUCKETS: 'archive', OSS_MULTIPART_THRESHOLD_BYTES: String(1024 * 1024), OSS_PART_SIZE_BYTES: String(512 * 1024) }),
    // The URL inputs below are served from loopback.
    ALLOW_PRIVATE_URLS: 'true',
    MAX_INPUT_BYTES: String(2 * 1024 * 1024),
  };
  stack = await startStack({ api: true, worker: 'none', env });
  base = stack.api!.url;
  worker = await spawnWorker(stack.config, env);

  const dir = stack.dataDir;
  const clip = path.join(dir, 'web-clip.mp4');
  await makeClip(clip, { width: 640, height: 360, durationSec: 2 });
  clipBytes = await fs.readFile(clip);
  web = http.createServer((req, res) => {
    webHits.push(req.url ?? '');
    if (req.url?.startsWith('/media/clip.mp4')) {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(clipBytes.length), etag: '"clip-1"' }).end(clipBytes);
    } else if (req.url === '/media/huge.mp4') {
      // No Content-Length: the limit has to be found by counting.
      res.writeHead(200, { 'content-type': 'video/mp4' });
      res.end(hugeBytes);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  webBase = `http://127.0.0.1:${(web.address() as net.AddressInfo).port}`;
});
after(async () => {
  await worker?.stop();
  await stack?.stop();
  web?.closeAllConnections();
  web?.close();
  await oss?.close();
});

function postJob(body: unknown): Promise<Response> {
  return fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function waitFinal(id: string, timeoutMs = 180_000): Promise<JobState> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const job = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as JobState;
    if (['succeeded', 'failed', 'canceled'].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`job ${id} not final within ${timeoutMs} ms`);
}

async function submit(body: unknown): Promise<string> {
  const res = await postJob(body);
  assert.equal(res.status, 202, await res.clone().text());
  return ((await res.json()) as { id: string }).id;
}

/** An object straight from the OSS server's memory, written to a file for ffprobe. */
async function fromOss(bucket: string, name: string, file: string): Promise<string> {
  const obj = oss.object(bucket, name);
  assert.ok(obj, `no ${bucket}/${name} on the OSS server`);
  await fs.writeFile(file, obj.data);
  return file;
}

describe('STORAGE_DRIVER=oss end to end', { timeout: 600_000 }, () => {
  test('upload through the API → 720p + poster in OSS; the worker reads the input once', async () => {
    const src = path.join(stack.dataDir, 'hd.mp4');
    await makeClip(src, { width: 1280, height: 720, durationSec: 2, fps: 30 });
    const bytes = await fs.readFile(src);
    const put = await fetch(`${base}/v1/objects/raw/hd.mp4`, { method: 'PUT', body: bytes });
    assert.equal(put.status, 201);
    assert.ok(oss.object('media', 'mf/raw/hd.mp4')?.data.equals(bytes), 'stored under OSS_PREFIX, byte for byte');
    assert.ok(bytes.length > 1024 * 1024);
    assert.ok(
      oss.requests.some((r) => r.method === 'POST' && r.key === 'mf/raw/hd.mp4' && r.query.includes('uploads')),
      'over OSS_MULTIPART_THRESHOLD_BYTES: uploaded in parts',
    );

    const id = await submit({ input: { key: 'raw/hd.mp4' }, outputs: [{ name: '480p', template: 'mp4-h264-480p' }], outputPrefix: 'processed/' });
    const job = await waitFinal(id);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error ?? job.tasks));
    assert.equal(job.outputs[0]?.key, `processed/${id}/480p.mp4`);

    const out = await probeFile(await fromOss('media', `mf/processed/${id}/480p.mp4`, path.join(stack.dataDir, 'oss-480p.mp4')));
    const v = out.streams.find((s) => s.codec_type === 'video');
    assert.deepEqual([v?.codec_name, v?.width, v?.height], ['h264', 854, 480]);
    assert.equal(out.streams.find((s) => s.codec_type === 'audio')?.codec_name, 'aac');
    assert.ok(Math.abs(out.durationSec - 2) <= 0.1, `duration ${out.durationSec}`);
    assert.ok(await decodesCleanly(path.join(stack.dataDir, 'oss-480p.mp4')));
    const poster = await probeFile(await fromOss('media', `mf/processed/${id}/poster.jpg`, path.join(stack.dataDir, 'oss-poster.jpg')));
    assert.deepEqual([poster.streams[0]?.codec_name, poster.streams[0]?.width], ['mjpeg', 1280]);

    // The API serves the same bytes from OSS, Range included.
    const viaApi = Buffer.from(await (await fetch(`${base}/v1/objects/${job.outputs[0]!.key}`)).arrayBuffer());
    assert.ok(viaApi.equals(oss.object('media', `mf/processed/${id}/480p.mp4`)!.data));
    const ranged = await fetch(`${base}/v1/objects/${job.outputs[0]!.key}`, { headers: { range: 'bytes=10-19' } });
    assert.equal(ranged.status, 206);
    assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(viaApi.subarray(10, 20)));

    const inputGets = oss.requests.filter((r) => r.method === 'GET' && r.key === 'mf/raw/hd.mp4');
    assert.equal(inputGets.length, 1, 'probe, transcode and poster share one download');
  });

  test('an input in another allowed bucket is read without the prefix; other buckets are refused at submission', async () => {
    const clip = path.join(stack.dataDir, 'archive.mp4');
    await makeClip(clip, { width: 320, height: 240, durationSec: 1 });
    const archive = createOssStorage({ ...ossOptionsFrom(stack.config), bucket: 'archive', prefix: '' });
    await archive.put('cam/2024/clip.mp4', Readable.from([await fs.readFile(clip)]));

    const id = await submit({ input: { bucket: 'archive', key: 'cam/2024/clip.mp4' }, outputs: [], snapshots: [{ name: 'still', time: 0.5, format: 'png' }] });
    const job = await waitFinal(id);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error ?? job.tasks));
    assert.deepEqual({ bucket: 'bucket' in job.input ? job.input.bucket : null, key: 'key' in job.input ? job.input.key : null }, { bucket: 'archive', key: 'cam/2024/clip.mp4' });
    const still = await probeFile(await fromOss('media', `mf/${id}/still.png`, path.join(stack.dataDir, 'still.png')));
    assert.deepEqual([still.streams[0]?.codec_name, still.streams[0]?.width, still.streams[0]?.height], ['png', 320, 240]);

    const refused = await postJob({ input: { bucket: 'private-stuff', key: 'cam/2024/clip.mp4' }, outputs: [], snapshots: [{ name: 's', time: 0 }] });
    assert.equal(refused.status, 400);
    assert.deepEqual(((await refused.json()) as { errors: { path: string }[] }).errors.map((e) => e.path), ['input.bucket']);
    const missing = await postJob({ input: { bucket: 'archive', key: 'cam/none.mp4' }, outputs: [], snapshots: [{ name: 's', time: 0 }] });
    assert.equal(missing.status, 400);
    assert.equal(((await missing.json()) as { code: string }).code, 'InputNotFound');
  });

  test('a URL input: fetched once by the worker, outputs in OSS; the query (a signature) stays out of the Temporal summary', async () => {
    const id = await submit({ input: { url: `${webBase}/media/clip.mp4?signature=s3cr3t` }, outputs: [{ name: 'small', template: 'mp4-h264-360p' }] });
    const job = await waitFinal(id);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error ?? job.tasks));
    assert.equal('url' in job.input && job.input.url, `${webBase}/media/clip.mp4?signature=s3cr3t`);
    assert.equal(job.input.media?.sizeBytes, clipBytes.length);
    assert.equal(webHits.filter((u) => u.startsWith('/media/clip.mp4')).length, 1, 'probe, transcode and poster share one download');
    const out = await probeFile(await fromOss('media', `mf/${id}/small.mp4`, path.join(stack.dataDir, 'url-small.mp4')));
    const v = out.streams.find((s) => s.codec_type === 'video');
    assert.deepEqual([v?.codec_name, v?.width, v?.height], ['h264', 640, 360]);
    assert.ok(Math.abs(out.durationSec - 2) <= 0.1);
    const described = await stack.client.workflow.getHandle(id).describe();
    assert.doesNotMatch(JSON.stringify(described.memo), /s3cr3t/);
    assert.doesNotMatch((await described.staticSummary()) ?? '', /s3cr3t/);
    assert.match((await described.staticSummary()) ?? '', /media\/clip\.mp4\?… → small, poster$/);
    // Fetched by light work into the job's folder; the encode (an encode slot) read the store.
    const scheduled = ((await stack.client.workflow.getHandle(id).fetchHistory()).events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes] : []));
    const stage = scheduled.find((a) => a.activityType?.name === 'stageInput');
    assert.match(stage?.taskQueue?.name ?? '', /:light$/, 'the fetch runs on the light queue');
    const encode = scheduled.find((a) => a.activityType?.name === 'encode');
    const encodeInput = JSON.parse(Buffer.from(encode!.input!.payloads![0]!.data!).toString('utf8')) as { input: { key?: string; url?: string } };
    assert.deepEqual(encodeInput.input, { key: `${id}/.parts/source` }, 'the encode reads the staged copy, not the URL');
    assert.deepEqual([...oss.buckets.get('media')!.keys()].filter((k) => k.includes('.parts')), [], 'the staged copy is gone after success');
  });

  test('a URL input over MAX_INPUT_BYTES fails non-retryably at once, and leaves nothing behind', async () => {
    const id = await submit({ input: { url: `${webBase}/media/huge.mp4` }, outputs: [{ name: 'small', template: 'mp4-h264-360p' }] });
    const job = await waitFinal(id);
    assert.equal(job.status, 'failed');
    assert.deepEqual(job.error && [job.error.code, job.error.retryable], ['InputTooLarge', false]);
    assert.equal(job.tasks.find((t) => t.id === 'probe')?.attempts, 1);
    assert.equal(webHits.filter((u) => u === '/media/huge.mp4').length, 1);
    assert.equal([...oss.buckets.get('media')!.keys()].filter((k) => k.includes(id)).length, 0, 'no outputs');
    const cacheRoot = path.join(stack.dataDir, 'work', 'input-cache');
    const leftovers: string[] = [];
    for (const d of await fs.readdir(cacheRoot).catch(() => [] as string[])) {
      for (const f of await fs.readdir(path.join(cacheRoot, d))) {
        if ((await fs.stat(path.join(cacheRoot, d, f))).size === hugeBytes.length) leftovers.push(f);
      }
    }
    assert.deepEqual(leftovers, [], 'no partial or whole copy of the refused input');
    assert.deepEqual(await fs.readdir(path.join(stack.dataDir, 'work', 'inputs')).catch(() => []), []);
  });
});

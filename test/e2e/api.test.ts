/** The API over loopback against a real worker and dev server: upload → submit → poll → download → ffprobe. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { JobState } from '../../model/job-state';
import { startStack, type Stack } from '../helpers/stack';
import { isSettled, pollJob } from '../helpers/jobs';
import { Webhook } from 'standardwebhooks';
import { signedHeaders } from '../../activities/webhook';

const WEBHOOK_SECRET = `whsec_${Buffer.alloc(32, 42).toString('base64')}`;
import { decodesCleanly, makeClip, probeFile } from '../helpers/media';

let stack: Stack;
let base: string;

before(async () => {
  // ALLOW_PRIVATE_URLS: the callback receiver below listens on loopback.
  stack = await startStack({ api: true, env: { MAX_BODY_BYTES: '4096', MAX_UPLOAD_BYTES: String(20 * 1024 * 1024), ALLOW_PRIVATE_URLS: 'true', WEBHOOK_SECRET } });
  base = stack.api!.url;
});
after(async () => {
  await stack?.stop();
});

async function upload(file: string, key: string): Promise<Response> {
  return fetch(`${base}/v1/objects/${key}`, { method: 'PUT', body: await fs.readFile(file) });
}

function postJob(body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Response> {
  return fetch(`${base}/v1/jobs`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** Polls until the job is final and its notifications are no longer pending; also says which statuses it saw. */
async function waitFinal(id: string): Promise<{ job: JobState; seen: Set<string> }> {
  const seen = new Set<string>();
  const job = await pollJob(base, id, (j) => (seen.add(j.status), isSettled(j)), { timeoutMs: 120_000, intervalMs: 250 });
  return { job, seen };
}

/** A raw request, so paths like /../ reach the server exactly as written. */
function rawGet(rawPath: string): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    http
      .get({ host: url.hostname, port: url.port, path: rawPath }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

interface Problem {
  status: number;
  code: string;
  errors?: { path: string; message: string }[];
}

async function problem(res: Response): Promise<Problem> {
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  return (await res.json()) as Problem;
}

describe('API end to end', { timeout: 300_000 }, () => {
  test('health and readiness', async () => {
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', checks: { temporal: 'ok', storage: 'ok' } });
  });

  test('bad bodies get 4xx problems naming the field, never 500', async () => {
    const wrongType = await postJob('{}', { 'content-type': 'text/plain' });
    assert.equal(wrongType.status, 415);
    assert.equal((await problem(wrongType)).code, 'UnsupportedMediaType');

    const malformed = await postJob('{"input": ', { 'content-type': 'application/json' });
    assert.equal(malformed.status, 400);
    assert.equal((await problem(malformed)).code, 'InvalidInput');

    const unknownField = await postJob({ input: { key: 'raw/a.mp4' }, outputs: [], colour: 'red' });
    assert.equal(unknownField.status, 400);
    assert.deepEqual((await problem(unknownField)).errors, [{ path: 'colour', message: 'unknown field' }]);

    const badKey = await postJob({ input: { key: '../../etc/passwd' }, outputs: [{ name: 'a', template: 'mp4-h264-720p' }] });
    assert.equal(badKey.status, 400);
    assert.equal((await problem(badKey)).errors?.[0]?.path, 'input.key');

    const tooBig = await postJob({ input: { key: 'raw/a.mp4' }, userData: 'x'.repeat(5000) });
    assert.equal(tooBig.status, 413);
    assert.equal((await problem(tooBig)).code, 'PayloadTooLarge');

    const dupNames = await postJob({ input: { key: 'raw/a.mp4' }, outputs: [{ name: 'a', template: 'mp4-h264-720p' }, { name: 'a', template: 'mp4-h264-360p' }] });
    assert.equal(dupNames.status, 400);
    assert.equal((await problem(dupNames)).errors?.[0]?.path, 'outputs.1.name');
  });

  test('an unknown template and a missing input object are refused at submission', async () => {
    const src = path.join(stack.dataDir, 'tiny.mp4');
    await makeClip(src, { width: 320, height: 240, durationSec: 1 });
    assert.equal((await upload(src, 'raw/tiny.mp4')).status, 201);

    const unknown = await postJob({ input: { key: 'raw/tiny.mp4' }, outputs: [{ name: 'a', template: 'mp4-h264-8k' }] });
    assert.equal(unknown.status, 400);
    const p1 = await problem(unknown);
    assert.equal(p1.code, 'UnknownTemplate');
    assert.equal(p1.errors?.[0]?.path, 'outputs.0.template');

    const badOverride = await postJob({ input: { key: 'raw/tiny.mp4' }, outputs: [{ name: 'a', template: 'mp4-h264-720p', overrides: { video: { crf: 20 } } }] });
    assert.equal(badOverride.status, 400, 'crf over a bitrate template is contradictory');
    assert.equal((await problem(badOverride)).errors?.[0]?.path, 'outputs.0.overrides.video.crf');

    const missing = await postJob({ input: { key: 'raw/never-uploaded.mp4' }, outputs: [{ name: 'a', template: 'mp4-h264-720p' }] });
    assert.equal(missing.status, 400);
    const p2 = await problem(missing);
    assert.equal(p2.code, 'InputNotFound');
    assert.deepEqual(p2.errors, [{ path: 'input.key', message: 'no such object' }]);

    const noJob = await fetch(`${base}/v1/jobs/job_doesnotexist`);
    assert.equal(noJob.status, 404);
    assert.equal((await problem(noJob)).code, 'NotFound');
  });

  test('object keys that escape the store are refused; uploads over the limit keep nothing', async () => {
    for (const p of ['/v1/objects/../../etc/passwd', '/v1/objects/..%2F..%2Fetc%2Fpasswd', '/v1/objects/%2Fetc%2Fpasswd', '/v1/objects/a%00b']) {
      const res = await rawGet(p);
      assert.ok(res.status === 400 || res.status === 404, `${p} answered ${res.status}`);
      assert.doesNotMatch(res.body, /root:/);
    }
    const big = Buffer.alloc(21 * 1024 * 1024);
    const res = await fetch(`${base}/v1/objects/raw/big.bin`, { method: 'PUT', body: big });
    assert.equal(res.status, 413);
    assert.equal((await fetch(`${base}/v1/objects/raw/big.bin`, { method: 'HEAD' })).status, 404);
  });

  test('a non-video input ends failed with a non-retryable code, and the system keeps working', async () => {
    const text = path.join(stack.dataDir, 'readme.txt');
    await fs.writeFile(text, 'not a video at all\n'.repeat(100));
    assert.equal((await upload(text, 'raw/fake.mp4')).status, 201);
    const res = await postJob({ input: { key: 'raw/fake.mp4' }, outputs: [{ name: 'a', template: 'mp4-h264-360p' }] });
    assert.equal(res.status, 202);
    const { id } = (await res.json()) as { id: string };
    const { job } = await waitFinal(id);
    assert.equal(job.status, 'failed');
    assert.deepEqual(job.error && { code: job.error.code, retryable: job.error.retryable }, { code: 'InputUnreadable', retryable: false });
    assert.equal(job.tasks.find((t) => t.id === 'probe')?.attempts, 1);
  });

  test('1080p upload → 720p MP4 and JPEG poster, downloaded and probed', async () => {
    const src = path.join(stack.dataDir, 'hd.mp4');
    await makeClip(src, { width: 1920, height: 1080, durationSec: 2, fps: 30 });
    const put = await upload(src, 'raw/hd.mp4');
    assert.equal(put.status, 201);
    const putBody = (await put.json()) as { key: string; sizeBytes: number; etag: string };
    assert.equal(putBody.sizeBytes, (await fs.stat(src)).size);

    const head = await fetch(`${base}/v1/objects/raw/hd.mp4`, { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), String(putBody.sizeBytes));
    assert.equal(head.headers.get('content-type'), 'video/mp4');
    assert.equal(head.headers.get('etag'), putBody.etag);

    const res = await postJob({ input: { key: 'raw/hd.mp4' }, outputs: [{ name: '720p', template: 'mp4-h264-720p' }], outputPrefix: 'processed/', userData: '{"order":42}' });
    assert.equal(res.status, 202);
    const accepted = (await res.json()) as { id: string; status: string; links: { self: string; temporalUi: string } };
    assert.equal(accepted.status, 'queued');
    assert.match(accepted.id, /^job_[a-z0-9]+$/);
    assert.equal(accepted.links.self, `/v1/jobs/${accepted.id}`);
    assert.match(accepted.links.temporalUi, new RegExp(`/namespaces/default/workflows/${accepted.id}$`));

    const { job, seen } = await waitFinal(accepted.id);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    assert.ok(seen.size >= 1);
    assert.equal(job.userData, '{"order":42}');
    assert.equal(job.input.media?.video?.width, 1920);
    assert.equal(job.outputs[0]?.key, `processed/${accepted.id}/720p.mp4`);
    assert.deepEqual(job.snapshots, [{ name: 'poster', keys: [`processed/${accepted.id}/poster.jpg`] }]);
    assert.ok(job.finishedAt && job.startedAt && job.finishedAt >= job.startedAt);

    const download = await fetch(`${base}/v1/objects/${job.outputs[0]!.key}`);
    assert.equal(download.status, 200);
    assert.equal(download.headers.get('content-type'), 'video/mp4');
    const bytes = Buffer.from(await download.arrayBuffer());
    const local = path.join(stack.dataDir, 'downloaded.mp4');
    await fs.writeFile(local, bytes);
    const out = await probeFile(local);
    const v = out.streams.find((s) => s.codec_type === 'video');
    assert.deepEqual([v?.codec_name, v?.width, v?.height], ['h264', 1280, 720]);
    assert.equal(out.streams.find((s) => s.codec_type === 'audio')?.codec_name, 'aac');
    assert.ok(Math.abs(out.durationSec - 2) <= 0.1, `duration ${out.durationSec}`);
    assert.ok(await decodesCleanly(local));

    const ranged = await fetch(`${base}/v1/objects/${job.outputs[0]!.key}`, { headers: { range: 'bytes=100-199' } });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get('content-range'), `bytes 100-199/${bytes.length}`);
    assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), bytes.subarray(100, 200));

    const poster = await fetch(`${base}/v1/objects/${job.snapshots[0]!.keys[0]!}`);
    assert.equal(poster.status, 200);
    assert.equal(poster.headers.get('content-type'), 'image/jpeg');
    const posterFile = path.join(stack.dataDir, 'poster.jpg');
    await fs.writeFile(posterFile, Buffer.from(await poster.arrayBuffer()));
    const p = await probeFile(posterFile);
    assert.deepEqual([p.streams[0]?.codec_name, p.streams[0]?.width, p.streams[0]?.height], ['mjpeg', 1920, 1080]);
  });

  test('the completion callback is signed (Standard Webhooks), retried after two 500s, with a stable webhook-id to de-duplicate by', async () => {
    const received: { id: string | undefined; body: { type: string; data: JobState } }[] = [];
    const processed = new Set<string>();
    let forged = 0;
    const verifier = new Webhook(WEBHOOK_SECRET);
    const receiver = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (d) => (raw += d));
      req.on('end', () => {
        // What a receiver does: verify (signature, and a timestamp within 5 minutes) before reading.
        try {
          verifier.verify(raw, req.headers as Record<string, string>);
        } catch {
          forged++;
          res.writeHead(401).end();
          return;
        }
        const id = req.headers['webhook-id'] as string;
        received.push({ id, body: JSON.parse(raw) });
        // The first two deliveries fail: the job must try again, with the same id.
        if (received.length <= 2) return res.writeHead(500).end();
        processed.add(id);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const { port } = receiver.address() as import('node:net').AddressInfo;
      const res = await postJob({
        input: { key: 'raw/tiny.mp4' },
        outputs: [{ name: 'a', template: 'mp4-h264-360p' }],
        snapshots: [],
        notify: { url: `http://127.0.0.1:${port}/hooks/media` },
        userData: 'cb',
      });
      assert.equal(res.status, 202);
      const { id } = (await res.json()) as { id: string };
      const { job } = await waitFinal(id);
      assert.equal(job.status, 'succeeded');
      assert.deepEqual(job.notifications, [{ event: 'job.succeeded', status: 'delivered', attempts: 3 }]);
      assert.equal(forged, 0, 'every attempt carried a valid signature');
      assert.equal(received.length, 3);
      assert.equal(received[0]!.id, `${id}:job.succeeded:0`);
      assert.ok(received.every((r) => r.id === received[0]!.id), 'the same webhook-id on every attempt');
      assert.deepEqual([...processed], [received[0]!.id], 'processed once');
      const last = received[2]!.body;
      assert.equal(last.type, 'job.succeeded');
      assert.equal(last.data.id, id);
      assert.equal(last.data.userData, 'cb');
      assert.equal(last.data.outputs[0]?.key, `${id}/a.mp4`);

      // A body changed in transit, or signed with another secret, does not verify.
      const headers = signedHeaders(WEBHOOK_SECRET, 'x', '{"a":1}');
      assert.throws(() => verifier.verify('{"a":2}', headers));
      assert.throws(() => verifier.verify('{"a":1}', signedHeaders(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, 'x', '{"a":1}')));
    } finally {
      receiver.close();
    }
  });

  test('Idempotency-Key: the same body gets the same job (200), another body gets 409', async () => {
    const body = { input: { key: 'raw/tiny.mp4' }, outputs: [{ name: 'a', template: 'mp4-h264-360p' }], snapshots: [] };
    const key = { 'content-type': 'application/json', 'idempotency-key': 'order-42-encode' };
    const first = await postJob(body, key);
    assert.equal(first.status, 202);
    const { id } = (await first.json()) as { id: string };
    const again = await postJob(body, key);
    assert.equal(again.status, 200);
    assert.equal(((await again.json()) as { id: string }).id, id);
    const other = await postJob({ ...body, userData: 'different' }, key);
    assert.equal(other.status, 409);
    assert.equal((await problem(other)).code, 'Conflict');
    const fresh = await postJob(body);
    assert.notEqual(((await fresh.json()) as { id: string }).id, id, 'without a key, every POST is a new job');
    const bad = await postJob(body, { 'content-type': 'application/json', 'idempotency-key': 'has spaces' });
    assert.equal(bad.status, 400);
    assert.equal((await problem(bad)).errors?.[0]?.path, 'Idempotency-Key');
    // Once finished, the same key still answers with that job.
    await waitFinal(id);
    const later = await postJob(body, key);
    assert.equal(later.status, 200);
    assert.deepEqual(await later.json(), { id, status: 'succeeded', links: { self: `/v1/jobs/${id}`, temporalUi: `${stack.config.TEMPORAL_UI_URL}/namespaces/default/workflows/${id}` } });
  });

  test('GET /events streams the job as it changes and ends when it is final', async () => {
    const res0 = await postJob({ input: { key: 'raw/tiny.mp4' }, outputs: [{ name: 'a', template: 'mp4-h264-360p' }] });
    const { id } = (await res0.json()) as { id: string };
    const res = await fetch(`${base}/v1/jobs/${id}/events`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const text = await res.text(); // resolves only because the server ends the stream
    const events = text
      .split('\n\n')
      .filter((block) => block.includes('data:'))
      .map((block) => JSON.parse(block.split('\n').find((l) => l.startsWith('data:'))!.slice(5)) as JobState);
    assert.ok(events.length >= 2, `only ${events.length} events`);
    assert.equal(events.at(-1)!.status, 'succeeded');
    assert.ok(events.every((e) => e.id === id));
    const statuses = events.map((e) => e.status);
    const order = ['queued', 'probing', 'processing', 'succeeded'];
    assert.deepEqual([...statuses].sort((a, b) => order.indexOf(a) - order.indexOf(b)), statuses, 'statuses only move forward');
    const unknown = await fetch(`${base}/v1/jobs/job_nope/events`);
    assert.equal(unknown.status, 404);
  });

  test('cancel and retry answer 404 for unknown jobs and 409 for a succeeded one', async () => {
    assert.equal((await fetch(`${base}/v1/jobs/job_nope/cancel`, { method: 'POST' })).status, 404);
    assert.equal((await fetch(`${base}/v1/jobs/job_nope/retry`, { method: 'POST' })).status, 404);
    const res = await postJob({ input: { key: 'raw/tiny.mp4' }, outputs: [], snapshots: [{ name: 's', time: 0 }] });
    const { id } = (await res.json()) as { id: string };
    await waitFinal(id);
    const cancel = await fetch(`${base}/v1/jobs/${id}/cancel`, { method: 'POST' });
    assert.equal(cancel.status, 409);
    assert.equal((await problem(cancel)).code, 'Conflict');
    assert.equal((await fetch(`${base}/v1/jobs/${id}/retry`, { method: 'POST' })).status, 409);
  });

  test('/metrics: requests by route, jobs submitted and by status, worker tasks and ffmpeg time; every answer carries a request id', async () => {
    const res = await fetch(`${base}/metrics`, { headers: { 'x-request-id': 'trace-abc-1' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), 'trace-abc-1', 'a sane caller id is echoed');
    assert.match((await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'not a sane id; '.repeat(3) } })).headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, 'else ours');
    const text = await res.text();
    const value = (series: RegExp): number => {
      const line = text.split('\n').find((l) => series.test(l));
      assert.ok(line, `no series ${series} in /metrics`);
      return Number(line.split(' ').at(-1));
    };
    // Earlier tests in this file submitted jobs that succeeded (the worker runs in this process).
    assert.ok(value(/^mediaflow_jobs_submitted_total\{pipeline="default"\}/) >= 3);
    assert.ok(value(/^mediaflow_http_requests_total\{method="POST",route="\/v1\/jobs",status="202"\}/) >= 3);
    assert.ok(value(/^mediaflow_jobs\{status="succeeded"\}/) >= 3, 'jobs by status, from Temporal visibility');
    assert.ok(value(/^mediaflow_task_duration_seconds_count\{activity="encode",outcome="ok"\}/) >= 1);
    assert.ok(value(/^mediaflow_task_queue_lag_seconds_count\{activity="probeInput"\}/) >= 1);
    assert.ok(value(/^mediaflow_ffmpeg_run_seconds_sum\{outcome="ok"\}/) > 0);
    assert.doesNotMatch(text, /job_[0-9a-z]{10,}/, 'no job ids in labels');
  });
});

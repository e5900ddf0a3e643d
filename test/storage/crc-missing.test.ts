/**
 * A backend that sends no `x-oss-hash-crc64ecma` (issue 12, item 10): uploads and whole downloads
 * go on unchecked, logged once per process and counted in a metric; with OSS_REQUIRE_CRC=true they
 * fail instead, and nothing unchecked is left under the key. Its own file: "once per process" needs
 * a process where nothing was logged yet.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { loadConfig } from '../../model/config';
import { MediaflowError, errorCodes } from '../../model/errors';
import { registry } from '../../observability/metrics';
import { createOssStorage, ossOptionsFrom, type OssOptions } from '../../storage/oss';
import { startOssServer, type OssServer } from '../helpers/oss-server';

let oss: OssServer;
before(async () => {
  oss = await startOssServer({ buckets: ['media'] });
});
after(async () => {
  await oss?.close();
});

function options(extra: Partial<OssOptions> = {}): OssOptions {
  const config = loadConfig({ ...oss.env('media'), OSS_PREFIX: 'mf/' });
  return { ...ossOptionsFrom(config), multipartThresholdBytes: 1024 * 1024, partSizeBytes: 512 * 1024, retry: { attempts: 3, baseMs: 5, maxMs: 20 }, ...extra };
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function missingCount(operation: string): Promise<number> {
  const metric = await registry.getSingleMetric('mediaflow_storage_crc_missing_total')?.get();
  return metric?.values.find((v) => v.labels.operation === operation)?.value ?? 0;
}

async function captureWarnings<T>(fn: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const lines: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => void lines.push(args.map(String).join(' '));
  try {
    return { result: await fn(), lines };
  } finally {
    console.warn = original;
  }
}

test('no CRC from the backend: transfers go on, one warning per process, every one counted', async () => {
  oss.misbehave({ omitCrc: true });
  try {
    const store = createOssStorage(options());
    const small = randomBytes(50_000);
    const large = randomBytes(1536 * 1024);
    const { lines } = await captureWarnings(async () => {
      await store.put('a/small.bin', Readable.from([small]));
      await store.put('a/large.bin', Readable.from([large]));
      assert.deepEqual(await readAll((await store.get('a/small.bin')).body), small);
      assert.deepEqual(await readAll((await store.get('a/large.bin')).body), large);
      // A range is never checked against the whole object's CRC: nothing missing there.
      assert.deepEqual(await readAll((await store.get('a/large.bin', { start: 10, end: 19 })).body), large.subarray(10, 20));
    });
    const crcLines = lines.filter((l) => l.includes('x-oss-hash-crc64ecma'));
    assert.equal(crcLines.length, 1, `one warning: ${JSON.stringify(lines)}`);
    const logged = JSON.parse(crcLines[0]!) as Record<string, unknown>;
    assert.equal(logged.level, 'warn');
    assert.match(String(logged.msg), /OSS_REQUIRE_CRC=true/);
    assert.doesNotMatch(crcLines[0]!, new RegExp(oss.accessKeySecret.replace(/[+/=]/g, '.')), 'no secret in the log');
    assert.equal(await missingCount('upload'), 2);
    assert.equal(await missingCount('download'), 2);
    const text = await registry.metrics();
    assert.match(text, /mediaflow_storage_crc_missing_total\{operation="upload"\} 2/);
  } finally {
    oss.misbehave({ omitCrc: false });
  }
});

test('OSS_REQUIRE_CRC=true: an upload or whole download without a CRC fails for good, and the unchecked object is removed', async () => {
  assert.equal(loadConfig({ ...oss.env('media'), OSS_REQUIRE_CRC: 'true' }).OSS_REQUIRE_CRC, true);
  assert.equal(errorCodes.IntegrityUnverifiable.retryable, false);
  const store = createOssStorage(options({ requireCrc: true }));
  await store.put('b/kept.bin', Readable.from([randomBytes(1000)]));
  oss.misbehave({ omitCrc: true });
  try {
    for (const [key, size] of [['b/small.bin', 50_000], ['b/large.bin', 1536 * 1024]] as const) {
      const err = await store.put(key, Readable.from([randomBytes(size)])).then(
        () => assert.fail('expected a failure'),
        (e: unknown) => e as MediaflowError,
      );
      assert.ok(err instanceof MediaflowError);
      assert.equal(err.code, 'IntegrityUnverifiable', err.message);
      assert.match(err.message, /no x-oss-hash-crc64ecma .*OSS_REQUIRE_CRC=true/);
      assert.equal(oss.object('media', `mf/${key}`), undefined, `${key}: nothing unchecked stays`);
    }
    const err = await store.get('b/kept.bin').then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e as MediaflowError,
    );
    assert.equal(err.code, 'IntegrityUnverifiable');
    // Ranges carry no whole-object CRC in any backend: still served.
    assert.equal((await readAll((await store.get('b/kept.bin', { start: 0, end: 9 })).body)).length, 10);
  } finally {
    oss.misbehave({ omitCrc: false });
  }
  // With the CRC back, the same store works.
  assert.equal((await readAll((await store.get('b/kept.bin')).body)).length, 1000);
});

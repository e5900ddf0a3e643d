/**
 * Both object-store drivers through the same Storage interface: local disk, and OSS through the
 * real ali-oss client against the loopback OSS server (signatures checked, faults injected).
 */
import { rejection } from '../helpers/errors';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { loadConfig } from '../../model/config';
import { createLocalStorage } from '../../storage/local';
import { createOssStorage, type OssOptions } from '../../storage/oss';
import { createStorage } from '../../storage/create-storage';
import { listAll, type Storage } from '../../storage/storage';
import { ossOptionsFor, readAll, startOssServer, type OssServer } from '../helpers/oss-server';

let dir: string;
let oss: OssServer;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-drivers-'));
  oss = await startOssServer({ buckets: ['media', 'archive', 'elsewhere'] });
});
after(async () => {
  await oss?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

function ossOptions(extra: Partial<OssOptions> = {}): OssOptions {
  return ossOptionsFor(oss, { inputBuckets: ['archive'], multipartThresholdBytes: 4 * 1024 * 1024, partSizeBytes: 1024 * 1024, ...extra });
}


/** A stream of `data` in uneven chunks, as a network upload arrives. */
function chunked(data: Buffer, max = 300_000): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; ) {
    const n = 1 + Math.floor(Math.random() * max);
    parts.push(data.subarray(i, i + n));
    i += n;
  }
  return Readable.from(parts);
}


function roundTrips(name: string, make: () => Promise<Storage>) {
  describe(`${name} driver`, () => {
    let storage: Storage;
    before(async () => {
      storage = await make();
    });

    test('put → head → get is binary-exact, with size, etag and content type', async () => {
      const data = randomBytes(200_001);
      const put = await storage.put('rt/bin/a.mp4', chunked(data, 50_000));
      assert.equal(put.sizeBytes, data.length);
      const head = await storage.head('rt/bin/a.mp4');
      assert.ok(head);
      assert.equal(head.sizeBytes, data.length);
      assert.equal(head.contentType, 'video/mp4');
      assert.equal(head.etag, put.etag);
      const { info, body } = await storage.get('rt/bin/a.mp4');
      assert.equal(info.sizeBytes, data.length);
      assert.ok((await readAll(body)).equals(data));
      assert.equal(await storage.head('rt/bin/none.mp4'), null);
      assert.equal((await rejection(storage.get('rt/bin/none.mp4'))).code, 'NotFound');
    });

    test('Range reads: middle, open-ended, last byte', async () => {
      const data = randomBytes(10_000);
      await storage.put('rt/range.bin', Readable.from([data]));
      for (const [start, end] of [[100, 199], [9_000, 9_999], [9_999, 9_999], [0, 0]] as const) {
        const { info, body } = await storage.get('rt/range.bin', { start, end });
        assert.equal(info.sizeBytes, data.length, 'the object size, not the range size');
        assert.ok((await readAll(body)).equals(data.subarray(start, end + 1)), `${start}-${end}`);
      }
    });

    test('putFile, overwrite, delete (absent keys too)', async () => {
      const file = path.join(dir, `${name}-file.bin`);
      await fs.writeFile(file, 'first version');
      await storage.putFile('rt/file.txt', file);
      await storage.put('rt/file.txt', Readable.from([Buffer.from('second')]));
      assert.equal((await readAll((await storage.get('rt/file.txt')).body)).toString(), 'second');
      await storage.delete('rt/file.txt');
      assert.equal(await storage.head('rt/file.txt'), null);
      await storage.delete('rt/file.txt');
    });

    test('list by prefix: key order, page by page, plain string prefixes', async () => {
      const keys = ['ls/a/1.bin', 'ls/a/2.bin', 'ls/a/sub/3.bin', 'ls/ab.bin', 'ls/b/4.bin', 'ls/é.bin'];
      for (const k of keys) await storage.put(k, Readable.from([Buffer.from(k)]));
      const all: string[] = [];
      for await (const o of listAll(storage, 'ls/')) all.push(o.key);
      assert.deepEqual(all, keys);
      assert.deepEqual((await storage.list('ls/a/')).objects.map((o) => o.key), ['ls/a/1.bin', 'ls/a/2.bin', 'ls/a/sub/3.bin']);
      assert.deepEqual((await storage.list('ls/a')).objects.map((o) => o.key), ['ls/a/1.bin', 'ls/a/2.bin', 'ls/a/sub/3.bin', 'ls/ab.bin']);
      const first = await storage.list('ls/', { pageSize: 2 });
      assert.deepEqual(first.objects.map((o) => o.key), ['ls/a/1.bin', 'ls/a/2.bin']);
      assert.ok(first.nextCursor);
      const second = await storage.list('ls/', { pageSize: 4, cursor: first.nextCursor });
      assert.deepEqual(second.objects.map((o) => o.key), ['ls/a/sub/3.bin', 'ls/ab.bin', 'ls/b/4.bin', 'ls/é.bin']);
      assert.equal(second.nextCursor, null);
      const one = (await storage.list('ls/b/')).objects[0]!;
      assert.equal(one.sizeBytes, 'ls/b/4.bin'.length);
      assert.equal((await storage.list('nothing-here/')).objects.length, 0);
      assert.equal((await rejection(storage.list('../'))).code, 'InvalidInput');
    });

    test('bad keys are refused before anything is written', async () => {
      for (const key of ['../../etc/passwd', '/etc/passwd', 'a\u0000b', '..%2f..%2fx']) {
        assert.equal((await rejection(storage.put(key, Readable.from([Buffer.from('x')])))).code, 'InvalidInput', key);
        assert.equal((await rejection(storage.head(key))).code, 'InvalidInput', key);
      }
    });

    test('an upload over maxBytes is refused and keeps nothing (an earlier version stays)', async () => {
      await storage.put('rt/limit.bin', Readable.from([Buffer.from('old')]));
      const err = await rejection(storage.put('rt/limit.bin', chunked(randomBytes(6 * 1024 * 1024)), { maxBytes: 5 * 1024 * 1024 }));
      assert.equal(err.code, 'PayloadTooLarge');
      assert.equal((await readAll((await storage.get('rt/limit.bin')).body)).toString(), 'old');
      assert.equal(await storage.head('rt/never.bin'), null);
      await rejection(storage.put('rt/never.bin', chunked(randomBytes(6 * 1024 * 1024)), { maxBytes: 1024 }));
      assert.equal(await storage.head('rt/never.bin'), null);
    });

    test('check() passes on a usable store', async () => {
      await storage.check();
    });
  });
}

roundTrips('local', () => createLocalStorage(path.join(dir, 'local')));
roundTrips('oss', async () => createOssStorage(ossOptions()));

describe('oss specifics', () => {
  test('a 25 MiB streamed upload goes multipart (1 MiB parts), binary-exact, CRC64-checked', async () => {
    const storage = createOssStorage(ossOptions());
    const data = randomBytes(25 * 1024 * 1024 + 123);
    const before = oss.requests.length;
    const info = await storage.put('big/25mib.bin', chunked(data));
    const reqs = oss.requests.slice(before);
    assert.equal(reqs.filter((r) => r.query.includes('partNumber')).length, 26);
    assert.ok(reqs.some((r) => r.method === 'POST' && r.query.includes('uploads')));
    assert.match(info.etag, /-26"$/);
    assert.ok(oss.object('media', 'mf/big/25mib.bin')!.data.equals(data));
    assert.equal(oss.openUploads(), 0);
    const { body } = await storage.get('big/25mib.bin');
    assert.ok((await readAll(body)).equals(data), 'downloaded whole (and its CRC64 checked on the way)');
    const { body: tail } = await storage.get('big/25mib.bin', { start: data.length - 1000, end: data.length - 1 });
    assert.ok((await readAll(tail)).equals(data.subarray(-1000)));
  });

  test('throttling (503 SlowDown) and 5xx are retried with backoff, parts included', async () => {
    const storage = createOssStorage(ossOptions());
    oss.failNext(2, { status: 503, code: 'SlowDown', match: (r) => r.method === 'PUT' && r.query.has('partNumber') && r.query.get('partNumber') === '3' });
    oss.failNext(1, { status: 500, code: 'InternalError', match: (r) => r.method === 'POST' && r.query.has('uploadId') });
    const data = randomBytes(6 * 1024 * 1024);
    const before = oss.requests.length;
    await storage.put('retry/parts.bin', chunked(data));
    const part3 = oss.requests.slice(before).filter((r) => r.query.includes('partNumber=3'));
    assert.deepEqual(part3.map((r) => r.status), [503, 503, 200]);
    assert.ok(oss.object('media', 'mf/retry/parts.bin')!.data.equals(data));

    oss.failNext(3, { status: 503, code: 'SlowDown', match: (r) => r.method === 'HEAD' });
    assert.ok(await storage.head('retry/parts.bin'));
    oss.failNext(10, { status: 503, code: 'SlowDown', match: (r) => r.method === 'HEAD' });
    const err = await rejection(storage.head('retry/parts.bin'));
    assert.equal(err.code, 'StorageUnavailable');
    assert.match(err.message, /SlowDown/);
    oss.clearFaults();
  });

  test('a wrong secret fails with a clear, non-retryable error naming the settings (and never the secret)', async () => {
    const storage = createOssStorage(ossOptions({ accessKeySecret: 'not-the-secret' }));
    for (const op of [() => storage.put('x.bin', Readable.from([Buffer.from('x')])), () => storage.head('x.bin'), () => storage.get('x.bin'), () => storage.list(''), () => storage.check()]) {
      const err = await rejection(op());
      assert.equal(err.code, 'StorageAccessDenied');
      assert.match(err.message, /SignatureDoesNotMatch/);
      assert.match(err.message, /OSS_ACCESS_KEY_SECRET/);
      assert.doesNotMatch(err.message, /not-the-secret/);
    }
    assert.equal(oss.object('media', 'mf/x.bin'), undefined);
    const unknownKey = await rejection(createOssStorage(ossOptions({ accessKeyId: 'LTAI-nobody' })).head('x.bin'));
    assert.equal(unknownKey.code, 'StorageAccessDenied');
    assert.match(unknownKey.message, /InvalidAccessKeyId/);
  });

  test('bytes damaged on the way in or out fail the integrity check; a damaged upload is removed', async () => {
    const storage = createOssStorage(ossOptions());
    oss.corruptNextStore();
    const small = await rejection(storage.put('crc/small.bin', Readable.from([randomBytes(5000)])));
    assert.equal(small.code, 'IntegrityCheckFailed');
    assert.equal(oss.object('media', 'mf/crc/small.bin'), undefined);
    oss.corruptNextStore();
    const big = await rejection(storage.put('crc/big.bin', chunked(randomBytes(5 * 1024 * 1024))));
    assert.equal(big.code, 'IntegrityCheckFailed');
    assert.equal(oss.object('media', 'mf/crc/big.bin'), undefined);

    const data = randomBytes(100_000);
    await storage.put('crc/ok.bin', Readable.from([data]));
    oss.corruptNextDownload();
    const { body } = await storage.get('crc/ok.bin');
    const err = await rejection(readAll(body));
    assert.equal(err.code, 'IntegrityCheckFailed');
    assert.ok((await readAll((await storage.get('crc/ok.bin')).body)).equals(data));
  });

  test('a multipart upload that fails is aborted: no parts left behind, no object', async () => {
    const storage = createOssStorage(ossOptions({ retry: { attempts: 2, baseMs: 1, maxMs: 1 } }));
    oss.failNext(2, { status: 503, code: 'SlowDown', match: (r) => r.query.get('partNumber') === '2' });
    const err = await rejection(storage.put('abort/x.bin', chunked(randomBytes(6 * 1024 * 1024))));
    assert.equal(err.code, 'StorageUnavailable');
    assert.equal(oss.openUploads(), 0);
    assert.equal(oss.object('media', 'mf/abort/x.bin'), undefined);
  });

  test('OSS_PREFIX keeps keys apart; forBucket opens allowed input buckets only, without the prefix', async () => {
    const storage = createOssStorage(ossOptions());
    const other = createOssStorage(ossOptions({ prefix: 'other/' }));
    await storage.put('p/a.bin', Readable.from([Buffer.from('mine')]));
    assert.equal(await other.head('p/a.bin'), null);
    assert.ok(oss.object('media', 'mf/p/a.bin'));

    const archive = createOssStorage(ossOptions({ bucket: 'archive', prefix: '' }));
    await archive.put('2024/in.bin', Readable.from([Buffer.from('archived')]));
    const view = storage.forBucket!('archive');
    assert.equal((await readAll((await view.get('2024/in.bin')).body)).toString(), 'archived');
    assert.equal(view.location, 'oss://archive/');
    assert.equal((await rejection(Promise.resolve().then(() => storage.forBucket!('elsewhere')))).code, 'InvalidInput');
    const missing = createOssStorage(ossOptions({ bucket: 'no-such-bucket' }));
    assert.equal((await rejection(missing.check())).code, 'StorageUnavailable');
  });

  test('STS credentials: the token is sent and checked', async () => {
    const sts = await startOssServer({ buckets: ['media'], stsToken: 'sts-token-1' });
    try {
      const base = { endpoint: sts.endpoint, accessKeyId: sts.accessKeyId, accessKeySecret: sts.accessKeySecret };
      const withToken = createOssStorage(ossOptions({ ...base, stsToken: 'sts-token-1' }));
      await withToken.put('a.bin', Readable.from([Buffer.from('x')]));
      assert.ok(await withToken.head('a.bin'));
      const stale = createOssStorage(ossOptions({ ...base, stsToken: 'sts-token-0' }));
      assert.equal((await rejection(stale.head('a.bin'))).code, 'StorageAccessDenied');
    } finally {
      await sts.close();
    }
  });

  test('signed URLs: a plain GET with the URL gets the object until it expires', async () => {
    // Signed URLs need a domain endpoint (ali-oss refuses an IP); `localhost` as a bucket-bound domain.
    const storage = createOssStorage(ossOptions({ endpoint: `http://localhost:${oss.port}`, cname: true }));
    const data = randomBytes(1000);
    await storage.put('signed/a.bin', Readable.from([data]));
    const url = await storage.signedUrl!('signed/a.bin', { expiresSec: 60 });
    assert.match(url, /OSSAccessKeyId=.*Signature=/);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(data));
    const tampered = await fetch(url.replace('signed/a.bin', 'signed/b.bin'));
    assert.equal(tampered.status, 403);
    assert.match(await tampered.text(), /SignatureDoesNotMatch/);
    const ipStore = createOssStorage(ossOptions());
    assert.equal((await rejection(ipStore.signedUrl!('signed/a.bin', { expiresSec: 60 }))).code, 'StorageUnavailable');
  });

  test('createStorage picks the driver from the configuration', async () => {
    const local = await createStorage(loadConfig({ DATA_DIR: path.join(dir, 'factory') }));
    assert.equal(local.driver, 'local');
    const remote = await createStorage(loadConfig({ DATA_DIR: dir, ...oss.env('media', { OSS_PREFIX: 'mf/' }) }));
    assert.equal(remote.driver, 'oss');
    assert.equal(remote.location, 'oss://media/mf/');
    assert.equal((await remote.list('p/')).objects[0]?.key, 'p/a.bin');
  });
});

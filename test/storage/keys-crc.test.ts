/** The pure pieces under the stores: key rules (attacks included), tenant prefixes, bucket names, CRC-64. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { bucketProblem, keyProblem, tenantKey, tenantPrefix } from '../../storage/keys';
import { Crc64, crc64 } from '../../storage/crc64';
import { jobSubmitSchema } from '../../model/job';
import { loadConfig } from '../../model/config';

test('keys: clean relative keys pass; traversal, absolute, NUL and encoded variants are refused', () => {
  for (const ok of ['raw/a.mp4', 'a', 'x/y/z.bin', 'report 100%25.mp4', '100% done.mp4', 'ünïcödé/файл.mov', 'a..b/c', '...x']) {
    assert.equal(keyProblem(ok), null, ok);
  }
  const refused: [string, RegExp][] = [
    ['../../etc/passwd', /"\." or "\.\."/],
    ['a/../b', /"\." or "\.\."/],
    ['./a', /"\." or "\.\."/],
    ['/etc/passwd', /relative/],
    ['C:/Windows/win.ini', /drive letter/],
    ['a\u0000b', /control/],
    ['a\\..\\b', /"\/" as separator/],
    ['a//b', /empty segments/],
    ['a/', /empty segments/],
    ['', /empty/],
    ['..%2f..%2fetc/passwd', /percent-encoded/],
    ['..%2F..%2Fetc%2Fpasswd', /percent-encoded/],
    ['%2e%2e/%2e%2e/etc/passwd', /percent-encoded/],
    ['%2E%2E%2Fetc', /percent-encoded/],
    ['%252e%252e%252fetc%252fpasswd', /percent-encoded/],
    ['%2fetc%2fpasswd', /percent-encoded/],
    ['a%00b', /percent-encoded/],
    ['..%5c..%5cwin.ini', /percent-encoded/],
    ['a'.repeat(1025), /at most 1024 bytes/],
  ];
  for (const [key, why] of refused) assert.match(keyProblem(key) ?? 'accepted', why, JSON.stringify(key));
});

test('tenants: the default tenant owns the root, others get tenants/{id}/, and tenants/ is reserved', () => {
  assert.equal(tenantPrefix('default'), '');
  assert.equal(tenantPrefix('acme'), 'tenants/acme/');
  assert.throws(() => tenantPrefix('../x'));
  assert.deepEqual(tenantKey('default', 'raw/a.mp4'), { key: 'raw/a.mp4' });
  assert.deepEqual(tenantKey('acme', 'raw/a.mp4'), { key: 'tenants/acme/raw/a.mp4' });
  assert.match((tenantKey('default', 'tenants/acme/raw/a.mp4') as { problem: string }).problem, /reserved/);
  assert.match((tenantKey('acme', '../default/x') as { problem: string }).problem, /"\." or "\.\."/);
});

test('bucket names follow the OSS rules', () => {
  for (const ok of ['media', 'my-bucket-01', 'a1b']) assert.equal(bucketProblem(ok), null, ok);
  for (const bad of ['ab', 'My_Bucket', '-media', 'media-', 'a'.repeat(64), 'media.example', '../x']) assert.notEqual(bucketProblem(bad), null, bad);
});

test('job input: a key (with an optional bucket) or a url, with the failing field named', () => {
  const parse = (input: unknown) => jobSubmitSchema.safeParse({ input, outputs: [{ name: 'a', template: 'mp4-h264-360p' }] });
  assert.deepEqual(parse({ key: 'raw/a.mp4' }).data?.input, { key: 'raw/a.mp4' });
  assert.deepEqual(parse({ key: 'raw/a.mp4', bucket: 'archive' }).data?.input, { key: 'raw/a.mp4', bucket: 'archive' });
  assert.deepEqual(parse({ url: 'https://cdn.example.com/a.mp4?sig=1' }).data?.input, { url: 'https://cdn.example.com/a.mp4?sig=1' });
  const paths = (input: unknown) => parse(input).error?.issues.map((i) => i.path.join('.'));
  assert.deepEqual(paths({ key: '../../etc/passwd' }), ['input.key']);
  assert.deepEqual(paths({ key: '..%2f..%2fetc/passwd' }), ['input.key']);
  assert.deepEqual(paths({ key: 'a', bucket: 'Bad_Bucket' }), ['input.bucket']);
  assert.deepEqual(paths({ url: 'file:///etc/passwd' }), ['input.url']);
  assert.deepEqual(paths({ url: 'gopher://example.com/' }), ['input.url']);
  assert.deepEqual(paths({ key: 'a', url: 'https://example.com/a.mp4' }), ['input']);
  assert.deepEqual(paths({}), ['input']);
  assert.deepEqual(paths({ url: 'https://example.com/a.mp4', bucket: 'media' }), ['input.bucket']);
});

test('config: STORAGE_DRIVER=oss needs its bucket and credentials, and lists what is missing', () => {
  assert.equal(loadConfig({}).STORAGE_DRIVER, 'local');
  assert.throws(() => loadConfig({ STORAGE_DRIVER: 'oss' }), (err: Error) => {
    for (const k of ['OSS_BUCKET', 'OSS_ACCESS_KEY_ID', 'OSS_ACCESS_KEY_SECRET', 'OSS_REGION']) assert.match(err.message, new RegExp(k));
    return true;
  });
  const ok = loadConfig({ STORAGE_DRIVER: 'oss', OSS_REGION: 'oss-cn-hangzhou', OSS_BUCKET: 'media', OSS_ACCESS_KEY_ID: 'id', OSS_ACCESS_KEY_SECRET: 's', OSS_INPUT_BUCKETS: 'archive, raw-2024' });
  assert.deepEqual(ok.OSS_INPUT_BUCKETS, ['archive', 'raw-2024']);
  assert.throws(() => loadConfig({ OSS_PREFIX: '../x/' }), /OSS_PREFIX/);
  assert.throws(() => loadConfig({ OSS_PART_SIZE_BYTES: '1000' }), /OSS_PART_SIZE_BYTES/);
  assert.throws(() => loadConfig({ OSS_INPUT_BUCKETS: 'ok-bucket,Not_OK' }), /OSS_INPUT_BUCKETS/);
});

/** Bit by bit with BigInt, straight from the definition: slow, but nothing shared with the table-driven code. */
function crc64Reference(data: Uint8Array): string {
  const poly = 0xc96c5795d7870f42n;
  let crc = 0xffffffffffffffffn;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let i = 0; i < 8; i++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return (crc ^ 0xffffffffffffffffn).toString();
}

test('CRC-64/ECMA: the standard check value, a reference implementation, and any chunking', () => {
  // The catalogue check value of CRC-64/XZ (the variant OSS uses): 0x995DC9BBDF1939FA.
  assert.equal(crc64(Buffer.from('123456789')), BigInt('0x995DC9BBDF1939FA').toString());
  assert.equal(crc64(Buffer.alloc(0)), '0');
  for (const n of [1, 7, 8, 9, 63, 64, 1000, 4099]) {
    const data = randomBytes(n);
    assert.equal(crc64(data), crc64Reference(data), `${n} bytes`);
  }
  const data = randomBytes(100_003);
  const whole = crc64(data);
  const c = new Crc64();
  for (let i = 0; i < data.length; ) {
    const n = 1 + Math.floor(Math.random() * 5000);
    c.update(data.subarray(i, i + n));
    i += n;
  }
  assert.equal(c.digest(), whole);
});

/** The pure tenant-scoping rules (model/keys.ts tenantKey) and the notify URL check at submission. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tenantKey } from '../../model/keys';
import { checkNotifyUrl } from '../../api/jobs';
import { MediaflowError } from '../../model/errors';

test('tenantKey: own keys map under the tenant prefix; tenants/ is outside for every tenant; malformed keys are problems, not "outside"', () => {
  assert.deepEqual(tenantKey('default', 'brand/logo.png'), { key: 'brand/logo.png' });
  assert.deepEqual(tenantKey('acme', 'brand/logo.png'), { key: 'tenants/acme/brand/logo.png' });
  for (const tenant of ['default', 'beta']) {
    for (const key of ['tenants', 'tenants/acme/private/x.png']) {
      const r = tenantKey(tenant, key);
      assert.ok('problem' in r && r.outside === true, `${tenant} ${key}`);
    }
    for (const key of ['/etc/passwd', '../acme/x', 'a\u0000b', '']) {
      const r = tenantKey(tenant, key);
      assert.ok('problem' in r && r.outside === undefined, `${tenant} ${JSON.stringify(key)}`);
    }
  }
  // Not reserved: only the folder itself.
  assert.deepEqual(tenantKey('default', 'tenantsx/a'), { key: 'tenantsx/a' });
});

test('tenantKey with prefix: "" is the tenant root, a prefix needs its trailing "/", tenants/ is refused for the default tenant too', () => {
  assert.deepEqual(tenantKey('default', '', { prefix: true }), { key: '' });
  assert.deepEqual(tenantKey('acme', '', { prefix: true }), { key: 'tenants/acme/' });
  assert.deepEqual(tenantKey('acme', 'out/web/', { prefix: true }), { key: 'tenants/acme/out/web/' });
  assert.match((tenantKey('acme', 'out', { prefix: true }) as { problem: string }).problem, /end with "\/"/);
  assert.match((tenantKey('acme', '../x/', { prefix: true }) as { problem: string }).problem, /"\." or "\.\."/);
  for (const tenant of ['default', 'acme']) {
    const r = tenantKey(tenant, 'tenants/acme/', { prefix: true });
    assert.ok('problem' in r && /reserved/.test(r.problem), tenant);
  }
});

test('notify URLs: literal private addresses refused naming the field, unless ALLOW_PRIVATE_URLS; names are left for delivery', () => {
  const refuse = (url: string, allow = false) =>
    assert.throws(() => checkNotifyUrl({ ALLOW_PRIVATE_URLS: allow }, url, 'notify.url'), (err: MediaflowError) => {
      assert.equal(err.code, 'UrlNotAllowed');
      assert.deepEqual(err.errors.map((e) => e.path), ['notify.url']);
      return true;
    }, url);
  for (const url of ['http://127.0.0.1/h', 'http://[::1]/h', 'http://169.254.169.254/', 'http://10.0.0.1/', 'http://[fe80::1]/', 'ftp://example.com/', 'not a url']) refuse(url);
  refuse('http://user:pw@example.com/', true);
  for (const url of ['https://example.com/hook', 'http://hooks.internal.example/h']) checkNotifyUrl({ ALLOW_PRIVATE_URLS: false }, url, 'notify.url');
  for (const url of ['http://127.0.0.1:8080/hook', 'http://[::1]/h']) checkNotifyUrl({ ALLOW_PRIVATE_URLS: true }, url, 'notify.url');
});

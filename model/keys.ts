/**
 * Object keys: the one place that decides which keys are acceptable, which part of the store a
 * tenant may name, and how outputs are named. Pure rules (no I/O): model/ and the workflow bundle
 * use them, and storage/ imports them from here (never the other way round).
 */

const MAX_KEY_BYTES = 1024;

/**
 * Returns the reason a key is unacceptable, or null when it is a clean relative key.
 * No normalising happens here: a key that would need it (`a//b`, `./a`, `a/../b`) is refused,
 * so one object has exactly one key.
 *
 * @example keyProblem('../../etc/passwd') // 'must not contain "." or ".." segments'
 */
export function keyProblem(key: string, { allowTrailingSlash = false } = {}): string | null {
  if (key.length === 0) return 'must not be empty';
  if (new TextEncoder().encode(key).length > MAX_KEY_BYTES) return `must be at most ${MAX_KEY_BYTES} bytes`;
  // Control characters (NUL included) have no place in a key and confuse logs and file systems.
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'must not contain control characters';
  if (key.includes('\\')) return 'must use "/" as separator, not "\\"';
  if (key.startsWith('/')) return 'must be relative (no leading "/")';
  if (/^[A-Za-z]:/.test(key)) return 'must be relative (no drive letter)';
  const body = allowTrailingSlash && key.endsWith('/') ? key.slice(0, -1) : key;
  const segments = body.split('/');
  if (segments.some((s) => s === '.' || s === '..')) return 'must not contain "." or ".." segments';
  if (segments.some((s) => s === '')) return 'must not contain empty segments ("//" or a trailing "/")';
  if (!key.isWellFormed()) return 'must be valid UTF-8';
  if (hidesProblem(body)) return 'must not contain percent-encoded ".", "/", "\\" or control characters';
  return null;
}

/**
 * True when percent-decoding the key (once or repeatedly, as some layer in front of a store might)
 * would turn it into a dangerous one: `..%2f`, `%2e%2e`, `%252e%252e%252f`, `a%00b`. Keys are
 * literal, so a plain `%` (`100%25 done.mp4`) is fine.
 */
function hidesProblem(key: string): boolean {
  let current = key;
  for (let i = 0; i < 3 && current.includes('%'); i++) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(current);
    } catch {
      return false;
    }
    if (decoded === current) return false;
    if (/[\u0000-\u001f\u007f\\]/.test(decoded) || decoded.startsWith('/')) return true;
    if (decoded.split('/').some((s) => s === '.' || s === '..' || s === '')) return true;
    // An encoded "/" is a separator to whoever decodes the key.
    if (decoded.split('/').length !== current.split('/').length) return true;
    current = decoded;
  }
  return false;
}

/**
 * Where a tenant's objects live in the store. The single tenant of this version (`default`) owns
 * the root, so existing keys keep working; other tenants get `tenants/{id}/`, which `default`
 * can never reach because it is refused as a key prefix for the default tenant.
 *
 * @example tenantPrefix('acme') // 'tenants/acme/'
 */
export function tenantPrefix(tenant: string): string {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(tenant)) throw new Error(`not a tenant id: ${JSON.stringify(tenant)}`);
  return tenant === DEFAULT_TENANT_ID ? '' : `tenants/${tenant}/`;
}

const DEFAULT_TENANT_ID = 'default';

/**
 * An object key as its tenant names it (`tenants/acme/a/b` → `a/b`; the default tenant's keys have
 * no prefix). No tenant may name a key under `tenants/`, so the first two parts are the prefix.
 *
 * @example keyForTenant('tenants/acme/job_1/stream/key.bin') // 'job_1/stream/key.bin'
 */
export function keyForTenant(key: string): string {
  return key.replace(/^tenants\/[a-z0-9][a-z0-9-]{0,62}\//, '');
}

/** Why the folder `tenants/` is off limits to every key a tenant names, the default tenant included. */
const RESERVED = 'must not start with "tenants/" (reserved for tenant prefixes)';

/**
 * The answer of {@link tenantKey}: the store key, or why the tenant may not use the key. `outside`
 * marks a clean key that reaches into the reserved `tenants/` folder: a read of it must answer
 * exactly like a missing object (never saying whether something is stored there), a write is refused.
 */
export type ScopedKey = { key: string } | { problem: string; outside?: true };

/**
 * THE tenant-scoping function: maps a key (or, with `prefix`, a key prefix that is empty or ends
 * in "/") a tenant names to the store key, or says why the tenant may not use it. Every key a
 * job or a request names goes through here at submission; the stores check keys again on use.
 *
 * @example tenantKey('acme', 'raw/a.mp4') // { key: 'tenants/acme/raw/a.mp4' }
 * @example tenantKey('default', 'tenants/acme/x.png') // { problem: '… reserved …', outside: true }
 * @example tenantKey('acme', 'out/', { prefix: true }) // { key: 'tenants/acme/out/' }
 */
export function tenantKey(tenant: string, key: string, { prefix = false } = {}): ScopedKey {
  if (prefix && key === '') return { key: tenantPrefix(tenant) };
  if (prefix && !key.endsWith('/')) return { problem: 'must be empty or end with "/"' };
  const problem = keyProblem(key, { allowTrailingSlash: prefix });
  if (problem) return { problem };
  // The reserved folder belongs to the other tenants, even when the default tenant names it.
  if (key === 'tenants' || key.startsWith('tenants/')) return { problem: RESERVED, outside: true };
  return { key: `${tenantPrefix(tenant)}${key}` };
}

/** A listing prefix is acceptable when some clean key could start with it: `raw/`, `raw/a`, or '' for everything. */
export function prefixProblem(prefix: string): string | null {
  if (prefix === '') return null;
  return keyProblem(`${prefix}x`);
}

/**
 * Returns why a bucket name breaks OSS's naming rules, or null: 3-63 lowercase letters, digits
 * and "-", starting and ending with a letter or digit.
 *
 * @example bucketProblem('My_Bucket') // 'must be 3-63 lowercase letters, digits and "-" …'
 */
export function bucketProblem(name: string): string | null {
  return /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(name) ? null : 'must be 3-63 lowercase letters, digits and "-", starting and ending with a letter or digit';
}

/** The deterministic key of an output: `{outputPrefix}{jobId}/{name}.{ext}`; a retry overwrites it. */
export function outputKey(outputPrefix: string, jobId: string, name: string, ext: string): string {
  return `${outputPrefix}${jobId}/${name}.${ext}`;
}

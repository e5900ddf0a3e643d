/**
 * Who is calling: `Authorization: Bearer <key>` → the key's tenant and role. A development install
 * without any key runs open (every request is the admin of tenant `default`, and says so loudly);
 * once a key exists, every request needs one; production refuses to start without one.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { ApiKeyStore } from '../db/api-keys';
import type { AppEnv, Caller } from './env';
import type { Config } from '../model/config';
import { problemError } from './problem';
import { clientAddress, throwRateLimited, TokenBuckets } from './rate-limit';
import { hashKey } from '../db/api-keys';
import { DEFAULT_TENANT } from './routes/tenant';

export type { Caller } from './env';

/** Paths anyone may read: probes, metrics (bind the API to a private address) and the API's own description. */
const PUBLIC = /^\/(healthz|readyz|metrics|openapi\.json|docs(\/.*)?)$/;

const OPEN: Caller = { tenant: DEFAULT_TENANT, role: 'admin', keyId: null };

export function openModeWarning(): string {
  return 'the API is OPEN: no API key exists, so every request acts as the admin of tenant "default". Create a key (POST /v1/keys, or scripts/keys.ts) and keys are required from then on.';
}

/** How many key hashes that verified lately we remember (to let them through an address's empty bucket). */
const KNOWN_GOOD_MAX = 10_000;

/**
 * Requests without a valid key — none while keys exist, a malformed header, an unknown key — take a
 * token from their address's bucket (UNAUTH_RATE_LIMIT_*); once it is empty they are answered 429
 * before any database lookup. A key that verified lately still gets through an empty bucket (it is
 * checked against the database as always), so a flood from a shared address never locks out a
 * client that has a good key.
 *
 * @example app.use('*', authenticate(config, keys))
 */
export function authenticate(config: Pick<Config, 'NODE_ENV' | 'UNAUTH_RATE_LIMIT_PER_SEC' | 'UNAUTH_RATE_LIMIT_BURST'>, keys: ApiKeyStore): MiddlewareHandler<AppEnv> {
  // Once a key has been seen, this process never goes back to open mode, whatever happens to the keys.
  let keysExist = false;
  const failures = new TokenBuckets(config.UNAUTH_RATE_LIMIT_PER_SEC, config.UNAUTH_RATE_LIMIT_BURST);
  const knownGood = new Set<string>();
  const refuse = (c: Context<AppEnv>, address: string, detail: string): never => {
    const wait = failures.take(address);
    if (wait) throwRateLimited(c, wait, `too many requests without a valid API key from this address: at most ${config.UNAUTH_RATE_LIMIT_PER_SEC} a second (bursts of ${config.UNAUTH_RATE_LIMIT_BURST})`);
    c.header('WWW-Authenticate', 'Bearer');
    throw problemError('Unauthorized', detail);
  };
  return async (c, next) => {
    if (PUBLIC.test(c.req.path)) return next();
    const address = clientAddress(c);
    const header = c.req.header('authorization');
    if (header !== undefined) {
      // The scheme is case-insensitive (RFC 9110 §11.1): bearer, BEARER and Bearer are one.
      const m = /^Bearer +([\x21-\x7e]+)$/i.exec(header);
      if (!m) return refuse(c, address, 'the Authorization header must be "Bearer <api key>"');
      const secret = m[1]!;
      const hash = hashKey(secret);
      const blocked = failures.waitFor(address);
      if (blocked && !knownGood.has(hash)) {
        throwRateLimited(c, blocked, `too many requests without a valid API key from this address: at most ${config.UNAUTH_RATE_LIMIT_PER_SEC} a second (bursts of ${config.UNAUTH_RATE_LIMIT_BURST})`);
      }
      const key = await keys.verify(secret);
      if (!key) {
        knownGood.delete(hash);
        return refuse(c, address, 'unknown API key');
      }
      if (knownGood.size >= KNOWN_GOOD_MAX) knownGood.clear();
      knownGood.add(hash);
      keysExist = true;
      c.set('caller', { tenant: key.tenant, role: key.role, keyId: key.id });
      return next();
    }
    // A read, and only until the first key is seen.
    keysExist ||= config.NODE_ENV === 'production' || (await keys.any());
    if (keysExist) return refuse(c, address, 'an API key is required: Authorization: Bearer <api key>');
    c.header('X-Mediaflow-Auth', 'open');
    c.set('caller', OPEN);
    return next();
  };
}

/** The caller of this request (set by authenticate); any Hono context, typed or not, may ask. */
export function callerOf(c: Context): Caller {
  const caller: AppEnv['Variables']['caller'] = c.get('caller');
  if (!caller) throw new Error('no caller on the request: the authenticate middleware is missing');
  return caller;
}

/** The caller, who must be an admin of its tenant (403 otherwise). */
export function adminOf(c: Context): Caller {
  const caller = callerOf(c);
  if (caller.role !== 'admin') throw problemError('Forbidden', 'this needs an admin key; this key may submit and read jobs only');
  return caller;
}

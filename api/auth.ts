/**
 * Who is calling: `Authorization: Bearer <key>` → the key's tenant and role. A development install
 * without any key runs open (every request is the admin of tenant `default`, and says so loudly);
 * once a key exists, every request needs one; production refuses to start without one.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { ApiKeyStore, Role } from '../db/api-keys';
import type { Config } from '../model/config';
import { problemError } from './problem';
import { DEFAULT_TENANT } from './routes/tenant';

export interface Caller {
  tenant: string;
  role: Role;
  /** null in open mode. */
  keyId: string | null;
}

/** Paths anyone may read: probes, metrics (bind the API to a private address) and the API's own description. */
const PUBLIC = /^\/(healthz|readyz|metrics|openapi\.json|docs(\/.*)?)$/;

const OPEN: Caller = { tenant: DEFAULT_TENANT, role: 'admin', keyId: null };

export function openModeWarning(): string {
  return 'the API is OPEN: no API key exists, so every request acts as the admin of tenant "default". Create a key (POST /v1/keys, or scripts/keys.ts) and keys are required from then on.';
}

/**
 * @example app.use('*', authenticate(config, keys))
 */
export function authenticate(config: Pick<Config, 'NODE_ENV'>, keys: ApiKeyStore): MiddlewareHandler {
  // Once a key has been seen, this process never goes back to open mode, whatever happens to the keys.
  let keysExist = false;
  return async (c, next) => {
    if (PUBLIC.test(c.req.path)) return next();
    const header = c.req.header('authorization');
    if (header !== undefined) {
      const m = /^Bearer ([\x21-\x7e]+)$/.exec(header);
      const key = m ? await keys.verify(m[1]!) : null;
      if (!key) {
        c.header('WWW-Authenticate', 'Bearer');
        throw problemError('Unauthorized', m ? 'unknown API key' : 'the Authorization header must be "Bearer <api key>"');
      }
      keysExist = true;
      c.set('caller' as never, { tenant: key.tenant, role: key.role, keyId: key.id } satisfies Caller as never);
      return next();
    }
    keysExist ||= config.NODE_ENV === 'production' || (await keys.any());
    if (keysExist) {
      c.header('WWW-Authenticate', 'Bearer');
      throw problemError('Unauthorized', 'an API key is required: Authorization: Bearer <api key>');
    }
    c.header('X-Mediaflow-Auth', 'open');
    c.set('caller' as never, OPEN as never);
    return next();
  };
}

/** The caller of this request (set by authenticate). */
export function callerOf(c: Context): Caller {
  const caller = c.get('caller' as never) as Caller | undefined;
  if (!caller) throw new Error('no caller on the request: the authenticate middleware is missing');
  return caller;
}

/** The caller, who must be an admin of its tenant (403 otherwise). */
export function adminOf(c: Context): Caller {
  const caller = callerOf(c);
  if (caller.role !== 'admin') throw problemError('Forbidden', 'this needs an admin key; this key may submit and read jobs only');
  return caller;
}

/** What the app's middleware puts on each request's context: `Hono<AppEnv>` types `c.get`/`c.set`. */
import type { RequestIdVariables } from 'hono/request-id';
import type { Role } from '../db/api-keys';

export interface Caller {
  tenant: string;
  role: Role;
  /** null in open mode. */
  keyId: string | null;
}

export interface AppVariables extends RequestIdVariables {
  /** Set by authenticate (api/auth.ts); absent on the public paths. */
  caller: Caller | undefined;
  /** BODY_IDLE_TIMEOUT_SEC, for the body readers of api/body.ts. */
  bodyIdleSec: number;
}

export interface AppEnv {
  Variables: AppVariables;
}

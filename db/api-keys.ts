/**
 * API keys: a key belongs to one tenant and has a role. Only a SHA-256 of each key is stored (keys
 * are 256 random bits, so a fast hash is enough); the key itself is shown once, at creation.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Database } from './database';

export type Role = 'admin' | 'submitter';

export interface ApiKey {
  id: string;
  tenant: string;
  role: Role;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

interface Row {
  id: string;
  tenant: string;
  role: Role;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
}

const KEY_PREFIX = 'mfk_';

function fromRow(r: Row): ApiKey {
  return {
    id: r.id,
    tenant: r.tenant,
    role: r.role,
    name: r.name,
    createdAt: new Date(r.created_at).toISOString(),
    lastUsedAt: r.last_used_at ? new Date(r.last_used_at).toISOString() : null,
  };
}

export function hashKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export type ApiKeyStore = ReturnType<typeof createApiKeyStore>;

/**
 * @example const { key, secret } = await createApiKeyStore(db).create('acme', 'admin', 'ops laptop')
 */
export function createApiKeyStore(db: Database) {
  return {
    /** Makes a key; `secret` is the only copy of the key itself. */
    async create(tenant: string, role: Role, name: string): Promise<{ key: ApiKey; secret: string }> {
      const id = `key_${randomBytes(8).toString('hex')}`;
      const secret = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
      const rows = await db.query<Row>(
        'insert into api_keys (id, tenant, role, name, key_hash) values ($1, $2, $3, $4, $5) returning *',
        [id, tenant, role, name, hashKey(secret)],
      );
      return { key: fromRow(rows[0]!), secret };
    },
    /**
     * The key a Bearer secret belongs to, or null. A read; `last_used_at` is written at most once a
     * minute per key, and never for an unknown key.
     */
    async verify(secret: string): Promise<ApiKey | null> {
      if (!secret.startsWith(KEY_PREFIX) || secret.length > 200) return null;
      const rows = await db.query<Row>('select * from api_keys where key_hash = $1', [hashKey(secret)]);
      const row = rows[0];
      if (!row) return null;
      if (!row.last_used_at || Date.now() - new Date(row.last_used_at).getTime() > 60_000) {
        const touched = await db.query<Row>(
          "update api_keys set last_used_at = now() where id = $1 and (last_used_at is null or last_used_at < now() - interval '1 minute') returning *",
          [row.id],
        );
        return fromRow(touched[0] ?? row);
      }
      return fromRow(row);
    },
    /** Whether any key exists: until one does, a development install runs open. */
    async any(): Promise<boolean> {
      return (await db.query<{ n: number }>('select count(*)::int as n from api_keys')).map((r) => Number(r.n))[0]! > 0;
    },
    async list(tenant: string): Promise<ApiKey[]> {
      return (await db.query<Row>('select * from api_keys where tenant = $1 order by created_at, id', [tenant])).map(fromRow);
    },
    /** Removes a key of this tenant; false when there is none by that id. */
    async remove(tenant: string, id: string): Promise<boolean> {
      return (await db.query<Row>('delete from api_keys where tenant = $1 and id = $2 returning *', [tenant, id])).length > 0;
    },
  };
}

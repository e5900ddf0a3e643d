/** Versioned schema migrations, applied in order at start; each runs once, in its own transaction. */
import type { Database } from './types';

interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Append only: a released migration is never edited, a change is a new version. */
export const migrations: Migration[] = [
  {
    version: 1,
    name: 'templates and pipelines',
    sql: `
      create table templates (
        tenant text not null,
        id text not null,
        kind text not null,
        body jsonb not null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (tenant, id)
      );
      create table pipelines (
        tenant text not null,
        id text not null,
        state text not null check (state in ('active', 'paused')),
        priority integer not null check (priority between 1 and 10),
        notify_url text,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (tenant, id)
      );
    `,
  },
  {
    version: 2,
    name: 'api keys',
    sql: `
      create table api_keys (
        id text primary key,
        tenant text not null,
        role text not null check (role in ('admin', 'submitter')),
        name text not null,
        key_hash text not null unique,
        created_at timestamptz not null default now(),
        last_used_at timestamptz
      );
      create index api_keys_tenant on api_keys (tenant)
    `,
  },
  {
    version: 3,
    name: 'rate buckets shared by API replicas',
    sql: `
      create unlogged table rate_buckets (
        scope text not null,
        id text not null,
        tokens double precision not null,
        at timestamptz not null,
        taken double precision not null,
        primary key (scope, id)
      )
    `,
  },
];

/** Serialises migrations of several processes starting at once (API and workers on one PostgreSQL). */
const MIGRATION_LOCK = 0x6d666c77;

/**
 * Applies the missing migrations in one transaction; returns their versions.
 *
 * @example await migrate(db)
 */
export async function migrate(db: Database): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query(
      'create table if not exists schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())',
    );
    const done = new Set((await tx.query<{ version: number }>('select version from schema_migrations')).map((r) => Number(r.version)));
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      try {
        for (const statement of m.sql.split(';').map((x) => x.trim()).filter(Boolean)) await tx.query(statement);
      } catch (err) {
        throw new Error(`migration ${m.version} (${m.name}) failed: ${(err as Error).message}`);
      }
      await tx.query('insert into schema_migrations (version, name) values ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}

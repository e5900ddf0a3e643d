/**
 * The database for what is not a job (templates, pipelines): PGlite — PostgreSQL compiled to
 * WASM, a directory in DATA_DIR — by default, a PostgreSQL server when DATABASE_URL is set.
 * One SQL dialect, one migration path for both.
 */
import path from 'node:path';
import { migrate } from './migrations';
import type { Database } from './types';

export type { Database, Queryable } from './types';

async function openEmbedded(dir: string): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const pg = await PGlite.create(dir);
  return {
    kind: 'embedded',
    async query<T extends object>(sql: string, params: unknown[] = []) {
      return (await pg.query<T>(sql, params)).rows;
    },
    transaction: (work) =>
      pg.transaction((tx) => work({ query: async <T extends object>(sql: string, params: unknown[] = []) => (await tx.query<T>(sql, params)).rows })),
    close: () => pg.close(),
  };
}

async function openPostgres(url: string): Promise<Database> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: url, max: 5 });
  return {
    kind: 'postgres',
    async query<T extends object>(sql: string, params: unknown[] = []) {
      return (await pool.query(sql, params)).rows as T[];
    },
    async transaction(work) {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const result = await work({ query: async <T extends object>(sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows as T[] });
        await client.query('commit');
        return result;
      } catch (err) {
        await client.query('rollback');
        throw err;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

/**
 * Opens the configured database and brings its schema up to date.
 *
 * @example const db = await openDatabase({ DATABASE_URL: undefined, dataDir: '.data' })
 */
export async function openDatabase(config: { DATABASE_URL?: string | undefined; dataDir: string }): Promise<Database> {
  const db = config.DATABASE_URL ? await openPostgres(config.DATABASE_URL) : await openEmbedded(path.join(config.dataDir, 'db'));
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

/**
 * A throwaway PostgreSQL database per test run, when TEST_DATABASE_URL names a server whose user
 * may create databases (.ci/run sets one up). Without it, the PostgreSQL variants fail in CI and
 * are skipped, saying so, elsewhere.
 */
import { randomBytes } from 'node:crypto';
import { needTool } from './tools';

export const testDatabaseUrl = process.env.TEST_DATABASE_URL;
export const skipPostgres = needTool('PostgreSQL', Boolean(testDatabaseUrl), 'TEST_DATABASE_URL is not set (.ci/run starts a PostgreSQL server and sets it)');

/**
 * @example const pg = await createTestDatabase(); …; await pg.drop()
 */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  if (!testDatabaseUrl) throw new Error('TEST_DATABASE_URL is not set');
  const { default: pg } = await import('pg');
  const name = `mediaflow_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: testDatabaseUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(testDatabaseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: testDatabaseUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

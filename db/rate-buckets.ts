/**
 * Token buckets kept in PostgreSQL, so that a limit holds across every API process on one database
 * (replicas behind a load balancer): a take is one UPSERT that refills the bucket by the time since
 * its last take, on the database's clock (one clock for all replicas), and takes a token when
 * there is one. The table is UNLOGGED: no WAL and no fsync per request; a database crash empties
 * it, which only refills every bucket.
 */
import type { Queryable } from './types';

/** Buckets untouched this long are full again anyway: delete them, so the table stays small. */
const IDLE_SEC = 600;
/** How often one process sweeps idle buckets (a take in between does not). */
const SWEEP_EVERY_MS = 60_000;

export interface SharedBuckets {
  /** Takes a token from bucket `id`: 0 when there was one, else the seconds to wait (nothing taken). */
  take(id: string): Promise<number>;
}

/**
 * @example const buckets = sharedBuckets(db, 'key', 10, 200); if (await buckets.take(keyId)) → 429
 */
export function sharedBuckets(db: Queryable, scope: string, perSec: number, burst: number): SharedBuckets {
  let swept = 0;
  return {
    async take(id) {
      // The bucket refilled up to now; SET sees the row as it was, locked for this statement.
      const refilled = 'least($3::float8, b.tokens + extract(epoch from clock_timestamp() - b.at)::float8 * $4::float8)';
      const rows = await db.query<{ tokens: number; taken: boolean }>(
        `insert into rate_buckets as b (scope, id, tokens, at, taken)
           values ($1, $2, $3::float8 - 1, clock_timestamp(), true)
         on conflict (scope, id) do update set
           tokens = case when ${refilled} >= 1 then ${refilled} - 1 else ${refilled} end,
           taken = ${refilled} >= 1,
           at = clock_timestamp()
         returning b.tokens, b.taken`,
        [scope, id, burst, perSec],
      );
      const now = Date.now();
      if (now - swept > SWEEP_EVERY_MS) {
        swept = now;
        void db.query(`delete from rate_buckets where at < clock_timestamp() - interval '${IDLE_SEC} seconds'`).catch(() => undefined);
      }
      const row = rows[0]!;
      if (row.taken) return 0;
      return Math.max(1, Math.ceil((1 - Number(row.tokens)) / perSec));
    },
  };
}

/**
 * Token buckets kept in PostgreSQL, so that a limit holds across every API process on one database
 * (replicas behind a load balancer). A take is one UPSERT that refills the bucket by the time since
 * its last take, on the database's clock (one clock for all replicas), and takes tokens when there
 * are some. The table is UNLOGGED: no WAL and no fsync per take; a database crash empties it,
 * which only refills every bucket.
 *
 * A process takes up to `lease` tokens at once and spends them locally for up to LEASE_MS, so a
 * busy key costs one database round trip per `lease` requests, not one per request. Tokens a
 * process took and did not spend in time are dropped, never returned: the replicas together never
 * exceed the limit, and a key may get up to `lease - 1` fewer requests per process and lease.
 */
import type { Queryable } from './types';

/** How often one process deletes the buckets that are full again (a take in between does not). */
const SWEEP_EVERY_MS = 60_000;
/** How long a process may spend tokens it took. */
const LEASE_MS = 1000;

export interface SharedBuckets {
  /** Takes a token from bucket `id`: 0 when there was one, else the seconds to wait (nothing taken). */
  take(id: string): Promise<number>;
}

/**
 * `lease`: tokens taken from the database at once (default: a twentieth of the burst, at least 1).
 *
 * @example const buckets = sharedBuckets(db, 'key', 10, 200); if (await buckets.take(keyId)) → 429
 */
export function sharedBuckets(db: Queryable, scope: string, perSec: number, burst: number, lease = Math.max(1, Math.floor(burst / 20))): SharedBuckets {
  let swept = 0;
  /** Tokens this process took and may still spend, per bucket. */
  const held = new Map<string, { tokens: number; until: number }>();
  /** The take from the database in flight, per bucket: concurrent requests share it. */
  const refilling = new Map<string, Promise<number>>();

  /** Takes up to `lease` tokens into `held`: 0 when it got some, else the seconds to wait. */
  async function refill(id: string): Promise<number> {
    // The bucket refilled up to now; SET sees the row as it was, locked for this statement.
    const refilled = 'least($3::float8, b.tokens + extract(epoch from clock_timestamp() - b.at)::float8 * $4::float8)';
    const taking = `case when ${refilled} >= 1 then least($5::float8, floor(${refilled})) else 0 end`;
    const rows = await db.query<{ tokens: number; taken: number }>(
      `insert into rate_buckets as b (scope, id, tokens, at, taken)
         values ($1, $2, $3::float8 - least($5::float8, $3::float8), clock_timestamp(), least($5::float8, $3::float8))
       on conflict (scope, id) do update set
         tokens = ${refilled} - ${taking},
         taken = ${taking},
         at = clock_timestamp()
       returning b.tokens, b.taken`,
      [scope, id, burst, perSec, lease],
    );
    const now = Date.now();
    if (now - swept > SWEEP_EVERY_MS) {
      swept = now;
      for (const [k, v] of held) if (now >= v.until) held.delete(k);
      // A full bucket is the same as none: deleting it keeps the table small and changes nothing.
      void db
        .query('delete from rate_buckets where scope = $1 and tokens + extract(epoch from clock_timestamp() - at)::float8 * $3::float8 >= $2::float8', [scope, burst, perSec])
        .catch(() => undefined);
    }
    const row = rows[0]!;
    const taken = Number(row.taken);
    if (taken < 1) return Math.max(1, Math.ceil((1 - Number(row.tokens)) / perSec));
    held.set(id, { tokens: taken, until: now + LEASE_MS });
    return 0;
  }

  return {
    async take(id) {
      for (;;) {
        const mine = held.get(id);
        if (mine && mine.tokens >= 1 && Date.now() < mine.until) {
          mine.tokens -= 1;
          return 0;
        }
        let pending = refilling.get(id);
        if (!pending) {
          pending = refill(id).finally(() => refilling.delete(id));
          refilling.set(id, pending);
        }
        // Tokens came in: take one (others waiting on the same take may have been first: go round).
        const wait = await pending;
        if (wait > 0) return wait;
      }
    },
  };
}

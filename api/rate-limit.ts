/**
 * Rate limits, all token buckets refilled at a rate up to a burst; an empty bucket answers 429
 * with Retry-After:
 * - per API key (per client address in open mode): RATE_LIMIT_PER_SEC / RATE_LIMIT_BURST; kept in
 *   PostgreSQL when the API runs on one (db/rate-buckets.ts), so the limit holds across replicas;
 *   in this process's memory with the embedded database (one API process);
 * - per client address, for requests without a valid key: UNAUTH_RATE_LIMIT_* (see auth.ts);
 * - per client address, for GET /metrics (it needs no key): METRICS_RATE_LIMIT_*.
 * The last two are shields that answer before any database access, so they stay per process.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { Config } from '../model/config';
import type { SharedBuckets } from '../db/rate-buckets';
import { problemError } from './problem';
import type { AppEnv } from './env';

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets untouched this long are full again anyway: forget them, so memory stays bounded. */
const IDLE_MS = 10 * 60_000;

/**
 * @example const b = new TokenBuckets(1, 20); const wait = b.take('1.2.3.4'); if (wait) → 429, Retry-After: wait
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private swept: number;
  constructor(
    readonly perSec: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.swept = now();
  }

  private refill(id: string): Bucket {
    const t = this.now();
    if (t - this.swept > IDLE_MS) {
      for (const [k, b] of this.buckets) if (t - b.at > IDLE_MS) this.buckets.delete(k);
      this.swept = t;
    }
    const b = this.buckets.get(id) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSec);
    b.at = t;
    this.buckets.set(id, b);
    return b;
  }

  /** Seconds to wait before a token is there (0: there is one now); takes nothing. */
  waitFor(id: string): number {
    const b = this.refill(id);
    return b.tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - b.tokens) / this.perSec));
  }

  /** Takes a token: 0 when there was one, else the seconds to wait (nothing taken). */
  take(id: string): number {
    const wait = this.waitFor(id);
    if (wait === 0) this.buckets.get(id)!.tokens -= 1;
    return wait;
  }
}

/**
 * Who is asking, for per-address limits: the peer address of the connection (no proxy header is
 * trusted). IPv6 peers count by their /64, which one machine usually holds whole; IPv4-mapped
 * addresses count as the IPv4 address.
 */
export function clientAddress(c: Context): string {
  const raw = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket.remoteAddress ?? 'local';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(raw);
  if (mapped) return mapped[1]!;
  if (net.isIPv6(raw)) {
    const address = raw.split('%')[0]!.toLowerCase();
    const [head = '', tail] = address.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
    return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
  }
  return raw;
}

export function throwRateLimited(c: Context, wait: number, detail: string): never {
  c.header('Retry-After', String(wait));
  throw problemError('RateLimited', `${detail}; retry after ${wait} s`);
}

/**
 * The per-key limit; runs after authenticate (public paths have no caller and are not limited here).
 * `shared`: buckets every API replica sees (PostgreSQL); without it, this process's own.
 */
export function rateLimit(config: Pick<Config, 'RATE_LIMIT_PER_SEC' | 'RATE_LIMIT_BURST'>, shared?: SharedBuckets): MiddlewareHandler<AppEnv> {
  const buckets = shared ?? new TokenBuckets(config.RATE_LIMIT_PER_SEC, config.RATE_LIMIT_BURST);
  return async (c, next) => {
    const caller = c.get('caller');
    if (!caller) return next();
    const wait = await buckets.take(caller.keyId ?? `open:${clientAddress(c)}`);
    if (wait) throwRateLimited(c, wait, `too many requests for this key: at most ${config.RATE_LIMIT_PER_SEC} a second (bursts of ${config.RATE_LIMIT_BURST})`);
    return next();
  };
}

/** GET /metrics per client address: a scrape is cheap now, a flood of them is not. */
export function metricsRateLimit(config: Pick<Config, 'METRICS_RATE_LIMIT_PER_SEC' | 'METRICS_RATE_LIMIT_BURST'>): MiddlewareHandler {
  const buckets = new TokenBuckets(config.METRICS_RATE_LIMIT_PER_SEC, config.METRICS_RATE_LIMIT_BURST);
  return async (c, next) => {
    const wait = buckets.take(clientAddress(c));
    if (wait) throwRateLimited(c, wait, `too many scrapes from this address: at most ${config.METRICS_RATE_LIMIT_PER_SEC} a second (bursts of ${config.METRICS_RATE_LIMIT_BURST})`);
    return next();
  };
}

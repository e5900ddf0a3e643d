/**
 * Per-key rate limits: a token bucket per API key (per client address in open mode), refilled at
 * RATE_LIMIT_PER_SEC up to RATE_LIMIT_BURST. An empty bucket answers 429 with Retry-After.
 */
import type { MiddlewareHandler } from 'hono';
import type { IncomingMessage } from 'node:http';
import type { Config } from '../model/config';
import { problemError } from './problem';
import type { Caller } from './auth';

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets untouched this long are full again anyway: forget them, so memory stays bounded. */
const IDLE_MS = 10 * 60_000;

export function rateLimit(config: Pick<Config, 'RATE_LIMIT_PER_SEC' | 'RATE_LIMIT_BURST'>, now: () => number = Date.now): MiddlewareHandler {
  const buckets = new Map<string, Bucket>();
  let swept = now();
  return async (c, next) => {
    const caller = c.get('caller' as never) as Caller | undefined;
    // Public endpoints (no caller) are not limited: probes and scrapers must always get through.
    if (!caller) return next();
    const address = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket.remoteAddress ?? 'local';
    const id = caller.keyId ?? `open:${address}`;
    const t = now();
    if (t - swept > IDLE_MS) {
      for (const [k, b] of buckets) if (t - b.at > IDLE_MS) buckets.delete(k);
      swept = t;
    }
    const b = buckets.get(id) ?? { tokens: config.RATE_LIMIT_BURST, at: t };
    b.tokens = Math.min(config.RATE_LIMIT_BURST, b.tokens + ((t - b.at) / 1000) * config.RATE_LIMIT_PER_SEC);
    b.at = t;
    buckets.set(id, b);
    if (b.tokens < 1) {
      const wait = Math.max(1, Math.ceil((1 - b.tokens) / config.RATE_LIMIT_PER_SEC));
      c.header('Retry-After', String(wait));
      throw problemError('RateLimited', `too many requests for this key: at most ${config.RATE_LIMIT_PER_SEC} a second (bursts of ${config.RATE_LIMIT_BURST}); retry after ${wait} s`);
    }
    b.tokens -= 1;
    return next();
  };
}

/**
 * Outbound HTTP to user-given URLs (callbacks and URL inputs) under the SSRF rules of docs/architecture.md:
 * http/https only, and every address actually connected to — each redirect hop included — must be
 * public. Names are resolved here, checked, and the socket is pinned to the checked address, so a
 * second (rebinding) DNS answer is never used.
 */
import dns from 'node:dns';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MediaflowError } from '../model/errors';
import { isStrongEtag } from './input-cache';

// Two lists: a BlockList matches IPv4 addresses against IPv4-mapped IPv6 rules too, so an
// IPv6 rule like ::ffff:0:0/96 in the same list would block every IPv4 address.
const blockedV4 = new net.BlockList();
for (const [prefix, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blockedV4.addSubnet(prefix, bits, 'ipv4');
const blockedV6 = new net.BlockList();
for (const [prefix, bits] of [
  // 64:ff9b:1::/48 is NAT64 for local use (RFC 8215): whatever it embeds, it is not a public target.
  ['::', 128], ['::1', 128], ['64:ff9b:1::', 48], ['100::', 64], ['2001:db8::', 32],
  ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) blockedV6.addSubnet(prefix, bits, 'ipv6');

/** The 16 bytes of an IPv6 address (the WHATWG URL parser validates it and writes dotted tails as hex), or null. */
function v6Bytes(address: string): Buffer | null {
  let host: string;
  try {
    // A zone (`fe80::1%eth0`) does not change which address it is.
    host = new URL(`http://[${address.replace(/%.*$/, '')}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
  const [head = '', tail] = host.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  if (groups.length !== 8) return null;
  const bytes = Buffer.alloc(16);
  groups.forEach((g, i) => bytes.writeUInt16BE(parseInt(g, 16), i * 2));
  return bytes;
}

function dotted(bytes: Buffer, offset: number, xor = 0): string {
  return [0, 1, 2, 3].map((i) => bytes[offset + i]! ^ xor).join('.');
}

/**
 * The IPv4 addresses an IPv6 address stands for or carries, by the forms that embed one:
 * IPv4-mapped `::ffff:0:0/96`, IPv4-translated `::ffff:0:0:0/96`, IPv4-compatible `::/96`,
 * NAT64 `64:ff9b::/96` (RFC 6052), 6to4 `2002::/16` (RFC 3056) and Teredo `2001::/32`
 * (RFC 4380: the server's address, and the client's, stored inverted). Empty for other addresses.
 *
 * @example embeddedV4('2002:7f00:1::1') // ['127.0.0.1']
 */
export function embeddedV4(address: string): string[] {
  const b = v6Bytes(address);
  if (!b) return [];
  const zeros = (from: number, to: number) => b.subarray(from, to).every((x) => x === 0);
  if (zeros(0, 10) && b.readUInt16BE(10) === 0xffff) return [dotted(b, 12)];
  if (zeros(0, 8) && b.readUInt16BE(8) === 0xffff && b.readUInt16BE(10) === 0) return [dotted(b, 12)];
  // ::/96 takes in :: and ::1 too, which map to 0.0.0.0 and 0.0.0.1: unspecified space, refused either way.
  if (zeros(0, 12)) return [dotted(b, 12)];
  if (b.readUInt32BE(0) === 0x0064ff9b && zeros(4, 12)) return [dotted(b, 12)];
  if (b.readUInt16BE(0) === 0x2002) return [dotted(b, 2)];
  if (b.readUInt32BE(0) === 0x20010000) return [dotted(b, 4), dotted(b, 12, 0xff)];
  return [];
}

/**
 * True when an address is loopback, private, link-local, multicast, reserved or unspecified.
 * IPv6 forms that carry an IPv4 address are judged by it (any carried address non-public: non-public).
 * The API's submission checks use these same rules.
 */
export function isPrivateAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 4) return blockedV4.check(address, 'ipv4');
  if (family === 6) {
    const v4 = embeddedV4(address);
    if (v4.length) return v4.some((a) => blockedV4.check(a, 'ipv4'));
    return blockedV6.check(address.replace(/%.*$/, ''), 'ipv6');
  }
  return true;
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Which targets outbound requests may reach. */
export interface UrlPolicy {
  /** ALLOW_PRIVATE_URLS: loopback and private targets allowed (local development and tests only). */
  allowPrivate: boolean;
  /** Name resolution; DNS (`dns.lookup`, all answers) unless a test injects its own. */
  resolve?: (hostname: string) => Promise<ResolvedAddress[]>;
  /** Addresses treated as public although they are not: lets a test serve one hop from loopback with the rules on. */
  exempt?: ReadonlySet<string>;
}

export interface SafeRequestOptions extends UrlPolicy {
  timeoutMs: number;
}

function systemResolve(hostname: string): Promise<ResolvedAddress[]> {
  return new Promise((resolve, reject) => {
    dns.lookup(hostname, { all: true, verbatim: true }, (err, addresses) => {
      if (err) reject(err);
      else resolve(addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 })));
    });
  });
}

/** Throws UrlNotAllowed unless the URL is http(s) and, by its literal host, may be public. */
export function checkUrl(raw: string, policy: boolean | Pick<UrlPolicy, 'allowPrivate' | 'exempt'>): URL {
  const { allowPrivate, exempt } = typeof policy === 'boolean' ? { allowPrivate: policy, exempt: undefined } : policy;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new MediaflowError('UrlNotAllowed', 'not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new MediaflowError('UrlNotAllowed', 'only http and https URLs are allowed');
  if (url.username || url.password) throw new MediaflowError('UrlNotAllowed', 'URLs must not carry credentials');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivate && net.isIP(host) && isPrivateAddress(host) && !exempt?.has(host)) {
    throw new MediaflowError('UrlNotAllowed', `the URL points at a non-public address (${host})`);
  }
  return url;
}

/**
 * The address to connect to for a URL: its literal IP, or the name resolved now. Refused when any
 * answer is non-public (a name that mixes public and private answers is not trusted either).
 *
 * @example const { address } = await checkedAddress(new URL('https://example.com/a.mp4'), { allowPrivate: false })
 */
export async function checkedAddress(url: URL, policy: UrlPolicy): Promise<ResolvedAddress> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const literal = net.isIP(host);
  let answers: ResolvedAddress[];
  if (literal) {
    answers = [{ address: host, family: literal === 6 ? 6 : 4 }];
  } else {
    try {
      answers = await (policy.resolve ?? systemResolve)(host);
    } catch (err) {
      throw new MediaflowError('InputFetchFailed', `cannot resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (answers.length === 0) throw new MediaflowError('InputFetchFailed', `cannot resolve ${host}: no addresses`);
  }
  if (!policy.allowPrivate) {
    const bad = answers.find((a) => isPrivateAddress(a.address) && !policy.exempt?.has(a.address));
    if (bad) {
      throw new MediaflowError(
        'UrlNotAllowed',
        literal ? `the URL points at a non-public address (${bad.address})` : `the URL's host ${host} resolves to a non-public address (${bad.address})`,
      );
    }
  }
  return answers[0]!;
}

/** A `lookup` that answers with the one address already checked, in whichever shape the socket asks for. */
function pinnedLookup(pinned: ResolvedAddress): net.LookupFunction {
  return ((_hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: pinned.address, family: pinned.family }]);
    else callback(null, pinned.address, pinned.family);
  }) as net.LookupFunction;
}

/** One request to an already-checked address; resolves with the response head. */
function requestPinned(
  url: URL,
  pinned: ResolvedAddress,
  init: { method: string; headers: Record<string, string>; body?: Buffer; idleTimeoutMs: number; signal?: AbortSignal },
): Promise<http.IncomingMessage> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, {
      method: init.method,
      lookup: pinnedLookup(pinned),
      // No pooling: a kept-alive socket could be reused for a host that now resolves elsewhere.
      agent: false,
      timeout: init.idleTimeoutMs,
      headers: { 'user-agent': 'mediaflow', ...init.headers },
      ...(init.signal ? { signal: init.signal } : {}),
    });
    req.on('response', resolve);
    req.on('timeout', () => req.destroy(new MediaflowError('InputFetchFailed', `no data from ${url.host} for ${init.idleTimeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end(init.body);
  });
}

/**
 * POSTs JSON without following redirects; resolves with the response status.
 *
 * @example const status = await postJson(url, { event: 'job.succeeded' }, {}, { allowPrivate: false, timeoutMs: 10_000 })
 */
export async function postJson(raw: string, body: unknown, headers: Record<string, string>, options: SafeRequestOptions): Promise<number> {
  // A string is sent byte for byte (it may be signed); anything else is serialised here.
  const payload = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const url = checkUrl(raw, options);
  const pinned = await checkedAddress(url, options).catch((err: unknown) => {
    // For a callback, an unresolvable host is a failed delivery (retried), not a bad input.
    if (err instanceof MediaflowError && err.code === 'InputFetchFailed') throw new MediaflowError('NotifyFailed', err.message);
    throw err;
  });
  const signal = AbortSignal.timeout(options.timeoutMs);
  try {
    const res = await requestPinned(url, pinned, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(payload.length), ...headers },
      body: payload,
      idleTimeoutMs: options.timeoutMs,
      signal,
    });
    // The body is not ours to keep; drain it so the socket closes.
    res.resume();
    await new Promise<void>((resolve, reject) => {
      res.on('end', resolve);
      res.on('error', reject);
    });
    return res.statusCode ?? 0;
  } catch (err) {
    if (signal.aborted || (err instanceof MediaflowError && err.code === 'InputFetchFailed')) {
      throw new MediaflowError('NotifyFailed', `no answer within ${options.timeoutMs} ms`);
    }
    throw err;
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
const IDLE_TIMEOUT_MS = 30_000;
/** FETCH_MIN_BYTES_PER_SEC and FETCH_MIN_RATE_WINDOW_SEC defaults (model/config.ts), for callers that pass none. */
export const DEFAULT_MIN_BYTES_PER_SEC = 8192;
export const DEFAULT_MIN_RATE_WINDOW_MS = 60_000;

export interface DownloadOptions extends UrlPolicy {
  maxBytes: number;
  /** Wall-clock limit for the whole download, redirects included. */
  timeoutMs: number;
  /** Cancellation (the activity's): aborts the transfer at once. */
  signal?: AbortSignal;
  /** Validators of a copy we already have: a 304 answer means it is still current. */
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  /**
   * Minimum transfer rate (FETCH_MIN_BYTES_PER_SEC; 0: none): once `minRateWindowMs` have passed,
   * a download that received fewer than rate × window bytes over the last window fails with
   * SourceTooSlow (non-retryable). Counted from the first request, so slow headers count too.
   */
  minBytesPerSec?: number;
  /** FETCH_MIN_RATE_WINDOW_SEC, in milliseconds. */
  minRateWindowMs?: number;
}

export type DownloadResult =
  | { status: 'not-modified' }
  | { status: 'downloaded'; sizeBytes: number; etag: string | null; lastModified: string | null; finalUrl: string };

/** Counts bytes and fails the stream past the limit, so nothing oversized is ever kept. */
function limitBytes(maxBytes: number, onCount: (n: number) => void): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      onCount(seen);
      if (seen > maxBytes) done(new MediaflowError('InputTooLarge', `the input is larger than the ${maxBytes}-byte limit (MAX_INPUT_BYTES)`));
      else done(null, chunk);
    },
  });
}

/**
 * Watches a download's byte count and aborts it with SourceTooSlow once a whole window went by
 * below the minimum rate. A timer, not the data events: a source that sends nothing is caught too.
 */
function rateGuard(minBytesPerSec: number, windowMs: number, where: () => string, received: () => number): { signal: AbortSignal; stop(): void } {
  const controller = new AbortController();
  if (minBytesPerSec <= 0) return { signal: controller.signal, stop() {} };
  const tickMs = Math.max(50, Math.min(1000, windowMs / 10));
  const samples = [{ at: performance.now(), bytes: 0 }];
  const timer = setInterval(() => {
    const now = performance.now();
    const bytes = received();
    samples.push({ at: now, bytes });
    // Keep the newest sample at least a window old, and nothing older.
    while (samples.length > 1 && samples[1]!.at <= now - windowMs) samples.shift();
    const oldest = samples[0]!;
    if (now - oldest.at < windowMs) return;
    const seconds = (now - oldest.at) / 1000;
    const rate = (bytes - oldest.bytes) / seconds;
    if (rate >= minBytesPerSec) return;
    clearInterval(timer);
    controller.abort(
      new MediaflowError(
        'SourceTooSlow',
        `${where()} sent ${bytes - oldest.bytes} bytes in the last ${Math.round(seconds)} s (${rate < 10 ? rate.toFixed(1) : Math.round(rate)} bytes/s), ` +
          `below the minimum of ${minBytesPerSec} bytes/s (FETCH_MIN_BYTES_PER_SEC over FETCH_MIN_RATE_WINDOW_SEC)`,
      ),
    );
  }, tickMs);
  timer.unref();
  return { signal: controller.signal, stop: () => clearInterval(timer) };
}

/** Error codes for an answer we cannot use: the server's fault (retry) or the URL's (do not). */
function statusError(status: number, url: URL): MediaflowError {
  const where = `${url.origin}${url.pathname}`;
  if (status === 429 || status >= 500) return new MediaflowError('InputFetchFailed', `${where} answered HTTP ${status}`);
  return new MediaflowError('InputFetchRefused', `${where} answered HTTP ${status}`);
}

/**
 * GETs a URL into `file` under the URL rules: each hop's address checked and pinned, at most
 * five redirects, a byte limit (checked against Content-Length first, then counted) and a time
 * limit, and a minimum transfer rate (SourceTooSlow, final). On any failure the file is removed.
 *
 * @example await downloadUrl('https://cdn.example.com/in.mp4', '/tmp/in', { allowPrivate: false, maxBytes: 1e9, timeoutMs: 3_600_000 })
 */
export async function downloadUrl(raw: string, file: string, options: DownloadOptions): Promise<DownloadResult> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  let received = 0;
  let where = 'the source';
  const slow = rateGuard(
    options.minBytesPerSec ?? DEFAULT_MIN_BYTES_PER_SEC,
    options.minRateWindowMs ?? DEFAULT_MIN_RATE_WINDOW_MS,
    () => where,
    () => received,
  );
  const signal = AbortSignal.any([...(options.signal ? [options.signal] : []), deadline, slow.signal]);
  const conditional: Record<string, string> = {
    ...(options.ifNoneMatch ? { 'if-none-match': options.ifNoneMatch } : {}),
    ...(options.ifModifiedSince ? { 'if-modified-since': options.ifModifiedSince } : {}),
  };
  let current = raw;
  try {
    for (let hop = 0; ; hop++) {
      const url = checkUrl(current, options);
      where = url.host;
      const pinned = await checkedAddress(url, options);
      signal.throwIfAborted();
      const res = await requestPinned(url, pinned, {
        method: 'GET',
        // Identity encoding: the bytes we count and keep are the file itself.
        headers: { accept: '*/*', 'accept-encoding': 'identity', ...conditional },
        idleTimeoutMs: IDLE_TIMEOUT_MS,
        signal,
      });
      const status = res.statusCode ?? 0;
      if (REDIRECTS.has(status) && res.headers.location) {
        res.resume();
        if (hop >= MAX_REDIRECTS) throw new MediaflowError('InputFetchRefused', `more than ${MAX_REDIRECTS} redirects`);
        // Relative locations resolve against the hop that sent them; the next hop is checked like the first.
        current = new URL(res.headers.location, url).href;
        continue;
      }
      if (status === 304 && Object.keys(conditional).length) {
        res.resume();
        return { status: 'not-modified' };
      }
      if (status !== 200) {
        res.resume();
        throw statusError(status, url);
      }
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (declared > options.maxBytes) {
        res.destroy();
        throw new MediaflowError('InputTooLarge', `the input is ${declared} bytes, more than the ${options.maxBytes}-byte limit (MAX_INPUT_BYTES)`);
      }
      await pipeline(res, limitBytes(options.maxBytes, (n) => (received = n)), createWriteStream(file), { signal });
      if (Number.isFinite(declared) && received !== declared) {
        throw new MediaflowError('InputFetchFailed', `${url.host} sent ${received} of ${declared} bytes`);
      }
      return {
        status: 'downloaded',
        sizeBytes: received,
        // Only a strong ETag names these exact bytes; a weak or empty one is no validator for a copy.
        etag: isStrongEtag(res.headers.etag) ? res.headers.etag : null,
        lastModified: typeof res.headers['last-modified'] === 'string' ? res.headers['last-modified'] : null,
        finalUrl: url.href,
      };
    }
  } catch (err) {
    await fs.rm(file, { force: true });
    if (options.signal?.aborted) throw options.signal.reason ?? err;
    // The partial file is gone (above); a retry would hold a worker slot as long again.
    if (slow.signal.aborted) throw slow.signal.reason as MediaflowError;
    if (deadline.aborted) throw new MediaflowError('InputFetchFailed', `the download did not finish within ${options.timeoutMs / 1000} s (INPUT_FETCH_TIMEOUT_SEC)`);
    if (err instanceof MediaflowError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new MediaflowError('InputFetchFailed', `downloading the input failed: ${e.code ?? e.message}`);
  } finally {
    slow.stop();
  }
}

/**
 * Submission-time check of a URL input: scheme, credentials, literal address, and (quickly) what
 * the name resolves to now. The worker checks again on every connection; an unresolvable name
 * is left for it to report.
 *
 * @example await checkUrlTarget('http://169.254.169.254/latest', { allowPrivate: false }) // throws UrlNotAllowed
 */
export async function checkUrlTarget(raw: string, policy: UrlPolicy, resolveTimeoutMs = 2000): Promise<void> {
  const url = checkUrl(raw, policy);
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<'slow'>((resolve) => (timer = setTimeout(() => resolve('slow'), resolveTimeoutMs)));
  try {
    await Promise.race([checkedAddress(url, policy), slow]);
  } catch (err) {
    if (err instanceof MediaflowError && err.code === 'UrlNotAllowed') throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Outbound HTTP to user-given URLs (callbacks and URL inputs) under the SSRF rules of DESIGN.md:
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
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['100::', 64], ['2001:db8::', 32],
  ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) blockedV6.addSubnet(prefix, bits, 'ipv6');

/** The IPv4 address an IPv4-mapped IPv6 address stands for (`::ffff:127.0.0.1`, `::ffff:7f00:1`), else null. */
function mappedV4(address: string): string | null {
  const dotted = /^(?:0{0,4}:){0,4}:?:ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (dotted?.[1]) return dotted[1];
  const hex = /^(?:0{0,4}:){0,4}:?:ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (!hex?.[1] || !hex[2]) return null;
  const hi = parseInt(hex[1], 16);
  const lo = parseInt(hex[2], 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** True when an address is loopback, private, link-local, multicast, reserved or unspecified. */
export function isPrivateAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 4) return blockedV4.check(address, 'ipv4');
  if (family === 6) {
    // IPv4-mapped IPv6 is judged as the IPv4 address it maps.
    const v4 = mappedV4(address);
    return v4 ? blockedV4.check(v4, 'ipv4') : blockedV6.check(address, 'ipv6');
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

export interface DownloadOptions extends UrlPolicy {
  maxBytes: number;
  /** Wall-clock limit for the whole download, redirects included. */
  timeoutMs: number;
  /** Cancellation (the activity's): aborts the transfer at once. */
  signal?: AbortSignal;
  /** Validators of a copy we already have: a 304 answer means it is still current. */
  ifNoneMatch?: string;
  ifModifiedSince?: string;
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

/** Error codes for an answer we cannot use: the server's fault (retry) or the URL's (do not). */
function statusError(status: number, url: URL): MediaflowError {
  const where = `${url.origin}${url.pathname}`;
  if (status === 429 || status >= 500) return new MediaflowError('InputFetchFailed', `${where} answered HTTP ${status}`);
  return new MediaflowError('InputFetchRefused', `${where} answered HTTP ${status}`);
}

/**
 * GETs a URL into `file` under the URL rules: each hop's address checked and pinned, at most
 * five redirects, a byte limit (checked against Content-Length first, then counted) and a time
 * limit. On any failure the file is removed.
 *
 * @example await downloadUrl('https://cdn.example.com/in.mp4', '/tmp/in', { allowPrivate: false, maxBytes: 1e9, timeoutMs: 3_600_000 })
 */
export async function downloadUrl(raw: string, file: string, options: DownloadOptions): Promise<DownloadResult> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  const conditional: Record<string, string> = {
    ...(options.ifNoneMatch ? { 'if-none-match': options.ifNoneMatch } : {}),
    ...(options.ifModifiedSince ? { 'if-modified-since': options.ifModifiedSince } : {}),
  };
  let current = raw;
  try {
    for (let hop = 0; ; hop++) {
      const url = checkUrl(current, options);
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
      let received = 0;
      await pipeline(res, limitBytes(options.maxBytes, (n) => (received = n)), createWriteStream(file));
      if (Number.isFinite(declared) && received !== declared) {
        throw new MediaflowError('InputFetchFailed', `${url.host} sent ${received} of ${declared} bytes`);
      }
      return {
        status: 'downloaded',
        sizeBytes: received,
        etag: typeof res.headers.etag === 'string' ? res.headers.etag : null,
        lastModified: typeof res.headers['last-modified'] === 'string' ? res.headers['last-modified'] : null,
        finalUrl: url.href,
      };
    }
  } catch (err) {
    await fs.rm(file, { force: true });
    if (options.signal?.aborted) throw options.signal.reason ?? err;
    if (deadline.aborted) throw new MediaflowError('InputFetchFailed', `the download did not finish within ${options.timeoutMs / 1000} s (INPUT_FETCH_TIMEOUT_SEC)`);
    if (err instanceof MediaflowError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new MediaflowError('InputFetchFailed', `downloading the input failed: ${e.code ?? e.message}`);
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

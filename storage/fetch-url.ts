/**
 * Outbound HTTP to user-given URLs (callbacks now, URL inputs next) under the SSRF rules of
 * DESIGN.md: http/https only, and the address actually connected to must be public.
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { MediaflowError } from '../model/errors';

const blocked = new net.BlockList();
for (const [prefix, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
  ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(prefix, bits, 'ipv4');
for (const [prefix, bits] of [
  ['::', 128], ['::1', 128], ['::ffff:0:0', 96], ['64:ff9b::', 96], ['100::', 64], ['2001:db8::', 32],
  ['fc00::', 7], ['fe80::', 10], ['ff00::', 8],
] as const) blocked.addSubnet(prefix, bits, 'ipv6');

/** True when an address is loopback, private, link-local, multicast, reserved or unspecified. */
export function isPrivateAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return true;
  if (family === 6) {
    // IPv4-mapped IPv6 (::ffff:127.0.0.1) is judged as the IPv4 address it maps.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped?.[1]) return blocked.check(mapped[1], 'ipv4');
  }
  return blocked.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

export interface SafeRequestOptions {
  allowPrivate: boolean;
  timeoutMs: number;
}

/** A DNS lookup that refuses private answers: the check runs on the very address we connect to. */
function guardedLookup(allowPrivate: boolean): net.LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: false }, (err, address, family) => {
      if (err) return callback(err, '', 0);
      const addr = String(address);
      if (!allowPrivate && isPrivateAddress(addr)) {
        return callback(new MediaflowError('UrlNotAllowed', `the URL's host resolves to a non-public address (${addr})`), '', 0);
      }
      callback(null, addr, family);
    });
  };
}

/** Throws UrlNotAllowed unless the URL is http(s) and, by its literal host, may be public. */
export function checkUrl(raw: string, allowPrivate: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new MediaflowError('UrlNotAllowed', 'not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new MediaflowError('UrlNotAllowed', 'only http and https URLs are allowed');
  if (url.username || url.password) throw new MediaflowError('UrlNotAllowed', 'URLs must not carry credentials');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivate && net.isIP(host) && isPrivateAddress(host)) {
    throw new MediaflowError('UrlNotAllowed', `the URL points at a non-public address (${host})`);
  }
  return url;
}

/**
 * POSTs JSON without following redirects; resolves with the response status.
 *
 * @example const status = await postJson(url, { event: 'job.succeeded' }, {}, { allowPrivate: false, timeoutMs: 10_000 })
 */
export function postJson(
  raw: string,
  body: unknown,
  headers: Record<string, string>,
  options: SafeRequestOptions,
): Promise<number> {
  const url = checkUrl(raw, options.allowPrivate);
  const payload = Buffer.from(JSON.stringify(body));
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      url,
      {
        method: 'POST',
        lookup: guardedLookup(options.allowPrivate),
        timeout: options.timeoutMs,
        headers: { 'content-type': 'application/json', 'content-length': String(payload.length), 'user-agent': 'mediaflow', ...headers },
      },
      (res) => {
        // The body is not ours to keep; drain it so the socket closes.
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new MediaflowError('NotifyFailed', `no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * A worker's disk cache of downloaded inputs, so the activities of one job (probe, every
 * transcode, every snapshot) download the input once. Entries are keyed by an identity that
 * changes when the content does (key + strong ETag + size, or key + CRC-64 + size + modification
 * time; an object with neither is not cached; URL + validators); one download per
 * identity is in flight at a time, entries in use are ref-counted, and the least recently used
 * idle entries go when the cache passes its byte budget. Nothing here is needed by another worker.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ObjectInfo } from './storage';

/**
 * True for an ETag that names one exact content: present, non-empty and strong. A weak one
 * (`W/"…"`) only promises an equivalent representation, and an empty one (some backends' multipart
 * objects) promises nothing.
 */
export function isStrongEtag(etag: string | null | undefined): etag is string {
  return typeof etag === 'string' && etag.replace(/^"|"$/g, '').trim() !== '' && !/^W\//i.test(etag);
}

/**
 * The cache identity of a stored object: one that changes whenever its content does, or null when
 * its head carries nothing that reliably does (then read it without caching). A strong ETag with
 * the size; else the store's CRC-64 with the size and modification time.
 *
 * @example objectIdentity('oss://media/', 'raw/a.mp4', head) // 'object:oss://media/|raw/a.mp4|"9A0…"|7758476'
 */
export function objectIdentity(location: string, key: string, info: ObjectInfo): string | null {
  if (isStrongEtag(info.etag)) return `object:${location}|${key}|${info.etag}|${info.sizeBytes}`;
  if (info.crc64) return `object:${location}|${key}|crc64:${info.crc64}|${info.sizeBytes}|${info.lastModified.getTime()}`;
  return null;
}

/**
 * Whether two heads of one object (before a download and the download's own answer) show the same
 * content, by the same validators as objectIdentity; with none of them, by size and modification time.
 */
export function sameObjectVersion(a: ObjectInfo, b: ObjectInfo): boolean {
  if (a.sizeBytes !== b.sizeBytes) return false;
  if (isStrongEtag(a.etag) || isStrongEtag(b.etag)) return a.etag === b.etag;
  if (a.crc64 || b.crc64) return a.crc64 === b.crc64;
  return a.lastModified.getTime() === b.lastModified.getTime();
}

/** A file an activity may read until it releases the lease. */
export interface InputLease {
  readonly path: string;
  readonly sizeBytes: number;
  /** Idempotent. */
  release(): void;
}

interface Entry {
  identity: string;
  path: string;
  sizeBytes: number;
  meta: Record<string, string>;
  refs: number;
  lastUsed: number;
}

interface Waiter {
  resolve(entry: Entry): void;
  reject(err: unknown): void;
}

interface Flight {
  controller: AbortController;
  waiters: Set<Waiter>;
}

/** Writes the content into `file` (created by the fill) and returns metadata to keep with the entry. */
export type Fill = (file: string, signal: AbortSignal) => Promise<Record<string, string> | void>;

export interface InputCacheStats {
  entries: number;
  bytes: number;
  /** Fills that ran (downloads), since the cache was made. */
  fills: number;
  hits: number;
}

/** This process's own folder name under a shared directory (`inputs/`, `outputs/`): host and pid, so processes sharing DATA_DIR never collide. */
export function processDirName(): string {
  return `${os.hostname().replace(/[^A-Za-z0-9.-]/g, '_')}-${process.pid}`;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * @example const cache = await createInputCache('/data/work/inputs', 10 * 2 ** 30)
 *          const lease = await cache.acquire(`oss:bucket/raw/a.mp4#"etag"`, (file, signal) => download(file, signal))
 */
/**
 * Removes the folders (named by processDirName) under `root` of processes on this host that are
 * gone: a crashed or killed worker's scratch and cache are only litter now. Other hosts' folders
 * (a shared disk) and live processes' are left alone.
 *
 * @example await removeDeadProcessDirs('.data/work/outputs')
 */
export async function removeDeadProcessDirs(root: string): Promise<string[]> {
  const host = `${processDirName().replace(/-\d+$/, '')}-`;
  const removed: string[] = [];
  for (const name of await fs.readdir(root).catch(() => [] as string[])) {
    const pid = Number(name.slice(host.length));
    if (name.startsWith(host) && Number.isInteger(pid) && pid > 0 && pid !== process.pid && !pidAlive(pid)) {
      await fs.rm(path.join(root, name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  return removed;
}

export async function createInputCache(root: string, maxBytes: number) {
  const dir = path.join(root, processDirName());
  await fs.mkdir(dir, { recursive: true });
  await removeDeadProcessDirs(root);

  const entries = new Map<string, Entry>();
  /** Replaced entries still leased by someone: removed on their last release. */
  const retired = new Set<Entry>();
  const flights = new Map<string, Flight>();
  let bytes = 0;
  let clock = 0;
  const stats = { fills: 0, hits: 0 };

  async function remove(entry: Entry): Promise<void> {
    bytes -= entry.sizeBytes;
    await fs.rm(entry.path, { force: true });
  }

  /** Drops idle entries, least recently used first, until the cache fits its budget. */
  function evict(): void {
    if (bytes <= maxBytes) return;
    const idle = [...entries.values()].filter((e) => e.refs === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const e of idle) {
      if (bytes <= maxBytes) break;
      entries.delete(e.identity);
      void remove(e);
    }
  }

  function lease(entry: Entry): InputLease {
    let released = false;
    return {
      path: entry.path,
      sizeBytes: entry.sizeBytes,
      release() {
        if (released) return;
        released = true;
        entry.refs -= 1;
        entry.lastUsed = ++clock;
        if (entry.refs > 0) return;
        if (retired.delete(entry)) void remove(entry);
        else evict();
      },
    };
  }

  function startFlight(identity: string, fill: Fill): Flight {
    const flight: Flight = { controller: new AbortController(), waiters: new Set() };
    flights.set(identity, flight);
    stats.fills += 1;
    const file = path.join(dir, `${createHash('sha256').update(identity).digest('hex').slice(0, 24)}-${randomUUID().slice(0, 8)}.input`);
    void (async () => {
      try {
        const meta = (await fill(file, flight.controller.signal)) ?? {};
        flight.controller.signal.throwIfAborted();
        const { size } = await fs.stat(file);
        if (flights.get(identity) === flight) flights.delete(identity);
        // From here to the end of the block nothing awaits: waiters cannot leave half-way.
        const entry: Entry = { identity, path: file, sizeBytes: size, meta, refs: flight.waiters.size, lastUsed: ++clock };
        const previous = entries.get(identity);
        if (previous) retire(previous);
        entries.set(identity, entry);
        bytes += size;
        for (const w of flight.waiters) w.resolve(entry);
        evict();
      } catch (err) {
        if (flights.get(identity) === flight) flights.delete(identity);
        await fs.rm(file, { force: true });
        for (const w of flight.waiters) w.reject(err);
      }
    })();
    return flight;
  }

  function retire(entry: Entry): void {
    entries.delete(entry.identity);
    if (entry.refs > 0) retired.add(entry);
    else void remove(entry);
  }

  return {
    dir,

    /**
     * A lease on the cached file for `identity`, running `fill` first when there is none. Callers
     * asking for the same identity meanwhile share that one fill; when every one of them has
     * given up (their `signal`), the fill is aborted.
     */
    acquire(identity: string, fill: Fill, signal?: AbortSignal): Promise<InputLease> {
      signal?.throwIfAborted();
      const cached = entries.get(identity);
      if (cached) {
        cached.refs += 1;
        cached.lastUsed = ++clock;
        stats.hits += 1;
        return Promise.resolve(lease(cached));
      }
      let flight = flights.get(identity);
      // A fill everyone abandoned is on its way out: start afresh rather than share its failure.
      if (!flight || flight.controller.signal.aborted) flight = startFlight(identity, fill);
      const joined = flight;
      return new Promise<InputLease>((resolve, reject) => {
        const onAbort = () => {
          joined.waiters.delete(waiter);
          if (joined.waiters.size === 0) joined.controller.abort(signal?.reason);
          reject(signal?.reason);
        };
        const waiter: Waiter = {
          resolve(entry) {
            signal?.removeEventListener('abort', onAbort);
            resolve(lease(entry));
          },
          reject(err) {
            signal?.removeEventListener('abort', onAbort);
            reject(err);
          },
        };
        joined.waiters.add(waiter);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },

    /** What a fill returned for the current entry of `identity` (validators to revalidate with). */
    meta(identity: string): Record<string, string> | null {
      return entries.get(identity)?.meta ?? null;
    },

    /** Merges into the metadata of the current entry (a revalidation: who last confirmed it). */
    updateMeta(identity: string, patch: Record<string, string>): void {
      const entry = entries.get(identity);
      if (entry) entry.meta = { ...entry.meta, ...patch };
    },

    /** Forgets the entry: the content changed. Leases already given keep their file until released. */
    invalidate(identity: string): void {
      const entry = entries.get(identity);
      if (entry) retire(entry);
    },

    stats(): InputCacheStats {
      return { entries: entries.size, bytes, fills: stats.fills, hits: stats.hits };
    },

    /** Removes this process's folder (worker shutdown, tests). */
    async close(): Promise<void> {
      flights.forEach((f) => f.controller.abort());
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

export type InputCache = Awaited<ReturnType<typeof createInputCache>>;

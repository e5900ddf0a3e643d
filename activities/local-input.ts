/**
 * Gives ffmpeg a local file for an input: the object itself on local disk, else a copy in the
 * worker's input cache (an object from OSS, or a URL fetched under the URL rules), downloaded
 * once per job and worker however many activities read it.
 */
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Context } from '@temporalio/activity';
import { MediaflowError } from '../model/errors';
import type { JobInput } from '../model/job';
import { downloadUrl } from '../storage/fetch-url';
import { createInputCache, objectIdentity, processDirName, sameObjectVersion, type InputCache, type InputLease } from '../storage/input-cache';
import type { ObjectInfo, Storage } from '../storage/storage';
import type { ActivityDeps } from './deps';

/**
 * What withLocalInput reads: a job's input (JobInput: cached, size-limited) or, as a plain key, an
 * object the job itself wrote to the configured store (rungs, watermark assets: copied per use).
 */
export type LocalInputSource = JobInput | string;

export interface LocalInputInfo {
  sizeBytes: number;
}

const HEARTBEAT_MS = 1000;

const caches = new Map<string, Promise<InputCache>>();

/** The input cache of a worker's scratch directory (one per process and directory). */
export function inputCacheOf(deps: Pick<ActivityDeps, 'workDir' | 'config'>): Promise<InputCache> {
  const root = path.join(deps.workDir, 'input-cache');
  let cache = caches.get(root);
  if (!cache) {
    cache = createInputCache(root, deps.config.INPUT_CACHE_BYTES);
    caches.set(root, cache);
  }
  return cache;
}

function activityContext(): Context | null {
  try {
    return Context.current();
  } catch {
    return null;
  }
}

/** A name ffmpeg sees without the user's extension: the key's extension is the user's word and would steer format detection (a `.jpg` key picks the image2 pattern demuxer); content decides. */
async function scratchName(deps: ActivityDeps): Promise<string> {
  // This process's own folder: a killed worker's is removed by the next worker to start (worker/main.ts).
  const dir = path.join(deps.workDir, 'inputs', processDirName());
  await fs.mkdir(dir, { recursive: true });
  return path.join(dir, `${randomUUID()}.input`);
}

function plainLease(file: string, sizeBytes: number): InputLease {
  return { path: file, sizeBytes, release: () => void fs.rm(file, { force: true }) };
}

function storeOf(deps: ActivityDeps, input: JobInput | string): Storage {
  if (typeof input === 'string' || !('key' in input) || !input.bucket) return deps.storage;
  if (!deps.storage.forBucket) {
    throw new MediaflowError('InvalidInput', `input.bucket needs STORAGE_DRIVER=oss (this worker uses ${deps.storage.driver})`);
  }
  return deps.storage.forBucket(input.bucket);
}

async function downloadObject(storage: Storage, key: string, head: ObjectInfo, file: string, signal?: AbortSignal): Promise<void> {
  const { info, body } = await storage.get(key);
  if (!sameObjectVersion(info, head)) {
    body.destroy();
    throw new MediaflowError('InputFetchFailed', `the input object "${key}" changed while it was being read; try again`);
  }
  await pipeline(body, createWriteStream(file), ...(signal ? [{ signal }] : []));
  const { size } = await fs.stat(file);
  if (size !== head.sizeBytes) throw new MediaflowError('InputFetchFailed', `read ${size} of the ${head.sizeBytes} bytes of "${key}"`);
}

async function objectLease(deps: ActivityDeps, input: { key: string; bucket?: string } | string, signal?: AbortSignal): Promise<InputLease> {
  const key = typeof input === 'string' ? input : input.key;
  const storage = storeOf(deps, input);
  const head = await storage.head(key);
  const where = typeof input !== 'string' && input.bucket ? `oss://${input.bucket}/${key}` : `"${key}"`;
  if (!head) throw new MediaflowError('InputMissing', `the input object ${where} does not exist`);
  if (typeof input !== 'string') {
    if (head.sizeBytes === 0) throw new MediaflowError('InputEmpty', `the input object ${where} is empty (0 bytes)`);
    if (head.sizeBytes > deps.config.MAX_INPUT_BYTES) {
      throw new MediaflowError('InputTooLarge', `the input object ${where} is ${head.sizeBytes} bytes, more than the ${deps.config.MAX_INPUT_BYTES}-byte limit (MAX_INPUT_BYTES)`);
    }
  }
  const direct = await storage.localPath?.(key);
  if (direct) {
    const link = await scratchName(deps);
    await fs.symlink(direct, link);
    return plainLease(link, head.sizeBytes);
  }
  // No validator that changes with the content (an empty or weak ETag and no CRC): never cached.
  const identity = typeof input === 'string' ? null : objectIdentity(storage.location, key, head);
  if (identity === null) {
    // The job's own intermediate objects are read once: a plain copy, not a cache entry.
    const file = await scratchName(deps);
    try {
      await downloadObject(storage, key, head, file, signal);
    } catch (err) {
      await fs.rm(file, { force: true });
      throw err;
    }
    return plainLease(file, head.sizeBytes);
  }
  const cache = await inputCacheOf(deps);
  return cache.acquire(identity, (file, fillSignal) => downloadObject(storage, key, head, file, fillSignal), signal);
}

async function urlLease(deps: ActivityDeps, url: string, signal?: AbortSignal): Promise<InputLease> {
  const cache = await inputCacheOf(deps);
  const identity = `url:${url}`;
  const jobId = activityContext()?.info.workflowExecution?.workflowId ?? '';
  const options = {
    allowPrivate: deps.config.ALLOW_PRIVATE_URLS,
    maxBytes: deps.config.MAX_INPUT_BYTES,
    timeoutMs: deps.config.INPUT_FETCH_TIMEOUT_SEC * 1000,
    minBytesPerSec: deps.config.FETCH_MIN_BYTES_PER_SEC,
    minRateWindowMs: deps.config.FETCH_MIN_RATE_WINDOW_SEC * 1000,
  };
  const fetchInto = async (file: string, fillSignal: AbortSignal) => {
    const got = await downloadUrl(url, file, { ...options, signal: fillSignal });
    if (got.status !== 'downloaded') throw new Error('unconditional download answered 304');
    return { etag: got.etag ?? '', lastModified: got.lastModified ?? '', jobId };
  };
  const meta = cache.meta(identity);
  // Within one job the copy stands: its activities read the same bytes without asking again.
  if (meta && !(jobId && meta.jobId === jobId)) {
    if (meta.etag || meta.lastModified) {
      // Still the same content? One conditional request; a changed body becomes the new entry.
      const fresh = await scratchName(deps);
      const got = await downloadUrl(url, fresh, {
        ...options,
        ...(meta.etag ? { ifNoneMatch: meta.etag } : {}),
        ...(meta.lastModified ? { ifModifiedSince: meta.lastModified } : {}),
        ...(signal ? { signal } : {}),
      });
      if (got.status === 'not-modified') cache.updateMeta(identity, { jobId });
      else {
        cache.invalidate(identity);
        const newMeta = { etag: got.etag ?? '', lastModified: got.lastModified ?? '', jobId };
        try {
          return await cache.acquire(identity, async (file) => {
            await fs.rename(fresh, file);
            return newMeta;
          }, signal);
        } finally {
          // Unused when another caller's fill got there first.
          await fs.rm(fresh, { force: true });
        }
      }
    } else {
      // Without validators, a copy is trusted only within the job that fetched it.
      cache.invalidate(identity);
    }
  }
  return cache.acquire(identity, (file, fillSignal) => fetchInto(file, fillSignal), signal);
}

/** Gets a lease on a local file for the input, heartbeating meanwhile (a download can take minutes). */
async function obtain(deps: ActivityDeps, input: LocalInputSource): Promise<InputLease> {
  const ctx = activityContext();
  const ticker = ctx ? setInterval(() => ctx.heartbeat({ progress: 0 }), HEARTBEAT_MS) : undefined;
  try {
    const signal = ctx?.cancellationSignal;
    if (typeof input !== 'string' && 'url' in input) {
      const lease = await urlLease(deps, input.url, signal);
      if (lease.sizeBytes === 0) {
        lease.release();
        throw new MediaflowError('InputEmpty', 'the input URL answered with an empty body (0 bytes)');
      }
      return lease;
    }
    return await objectLease(deps, input, signal);
  } finally {
    clearInterval(ticker);
  }
}

/**
 * Runs `fn` with a local file holding the input; the file is released (a cache entry stays for
 * the job's other activities) when `fn` settles.
 *
 * @example await withLocalInput(deps, { key: 'raw/a.mp4' }, (file) => ffprobeJson(ffprobe, file))
 */
export async function withLocalInput<T>(deps: ActivityDeps, input: LocalInputSource, fn: (file: string, info: LocalInputInfo) => Promise<T>): Promise<T> {
  const lease = await obtain(deps, input);
  try {
    return await fn(lease.path, { sizeBytes: lease.sizeBytes });
  } finally {
    lease.release();
  }
}

/**
 * Several inputs at once (a ladder's rungs, a video and its watermark assets), each as in withLocalInput.
 *
 * @example await withLocalInputs(deps, [videoKey, logoKey], ([video, logo]) => run(video, logo))
 */
export async function withLocalInputs<T>(deps: ActivityDeps, inputs: LocalInputSource[], fn: (files: string[]) => Promise<T>): Promise<T> {
  const [first, ...rest] = inputs;
  if (first === undefined) return fn([]);
  return withLocalInput(deps, first, (file) => withLocalInputs(deps, rest, (files) => fn([file, ...files])));
}

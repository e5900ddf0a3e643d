/** Picks the object store the configuration names (STORAGE_DRIVER): one place for the API, workers and tests. */
import type { Config } from '../model/config';
import { createLocalStorage } from './local';
import { createOssStorage, ossOptionsFrom, type OssStorage } from './oss';
import type { Storage } from './storage';

/** The first sweep comes this soon after start (or after one interval, when that is shorter). */
const FIRST_SWEEP_MS = 30_000;

/**
 * Aborts stale multipart uploads every `everyMs` (ListMultipartUploads → AbortMultipartUpload),
 * one sweep at a time. The timer never keeps the process alive; `stop()` ends it.
 *
 * @example const sweep = startUploadSweep(store, { everyMs: 3_600_000, olderThanMs: 86_400_000 }); … sweep.stop()
 */
export function startUploadSweep(store: OssStorage, options: { everyMs: number; olderThanMs: number }): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => void sweep(), ms);
    timer.unref();
  };
  const sweep = async () => {
    try {
      const { aborted, failed } = await store.sweepStaleUploads(options.olderThanMs);
      if (aborted || failed) {
        console.log(JSON.stringify({ level: 'info', msg: 'stale multipart uploads swept', store: store.location, aborted, failed }));
      }
    } catch (err) {
      // e.g. a RAM policy without oss:ListMultipartUploads, or a backend without the operation.
      console.warn(JSON.stringify({ level: 'warn', msg: 'the stale multipart upload sweep failed', store: store.location, error: (err as Error).message }));
    }
    schedule(options.everyMs);
  };
  schedule(Math.min(FIRST_SWEEP_MS, options.everyMs));
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/**
 * The configured store. With OSS, it sweeps stale multipart uploads under OSS_PREFIX every
 * OSS_MULTIPART_SWEEP_SEC (0: never) until `close()`.
 *
 * @example const storage = await createStorage(loadConfig())
 */
export async function createStorage(config: Config): Promise<Storage> {
  switch (config.STORAGE_DRIVER) {
    case 'local':
      return createLocalStorage(config.dataDir);
    case 'oss': {
      const store = createOssStorage(ossOptionsFrom(config));
      if (config.OSS_MULTIPART_SWEEP_SEC === 0) return store;
      const sweep = startUploadSweep(store, { everyMs: config.OSS_MULTIPART_SWEEP_SEC * 1000, olderThanMs: config.OSS_MULTIPART_STALE_SEC * 1000 });
      store.close = async () => sweep.stop();
      return store;
    }
  }
}

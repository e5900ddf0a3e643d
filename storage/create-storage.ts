/** Picks the object store the configuration names (STORAGE_DRIVER): one place for the API, workers and tests. */
import type { Config } from '../model/config';
import { createLocalStorage } from './local';
import { createOssStorage, ossOptionsFrom } from './oss';
import type { Storage } from './storage';

/**
 * @example const storage = await createStorage(loadConfig())
 */
export async function createStorage(config: Config): Promise<Storage> {
  switch (config.STORAGE_DRIVER) {
    case 'local':
      return createLocalStorage(config.dataDir);
    case 'oss':
      return createOssStorage(ossOptionsFrom(config));
  }
}

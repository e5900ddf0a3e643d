/** Gives ffmpeg a local file for an input object: the object itself on local disk, else a downloaded copy. */
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { MediaflowError } from '../model/errors';
import type { ActivityDeps } from './index';

/**
 * @example await withLocalInput(deps, 'raw/a.mp4', (file) => ffprobeJson(ffprobe, file))
 */
export async function withLocalInput<T>(deps: ActivityDeps, key: string, fn: (file: string) => Promise<T>): Promise<T> {
  const direct = await deps.storage.localPath?.(key);
  if (direct) return fn(direct);
  const head = await deps.storage.head(key);
  if (!head) throw new MediaflowError('InputMissing', `the input object "${key}" does not exist`);
  const dir = path.join(deps.workDir, 'inputs');
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${randomUUID()}.input`);
  try {
    const { body } = await deps.storage.get(key);
    await pipeline(body, createWriteStream(file));
    return await fn(file);
  } finally {
    await fs.rm(file, { force: true });
  }
}

/** Local-disk object store: one file per key under a root, written atomically (temp file + rename). */
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomUUID } from 'node:crypto';
import { MediaflowError } from '../model/errors';
import { keyProblem, prefixProblem } from '../model/keys';
import { contentTypeFor, type ByteRange, type ListOptions, type ObjectInfo, type ObjectPage, type PutOptions, type Storage } from './storage';

const MAX_PAGE = 1000;

/** Byte order of the UTF-8 keys, as OSS lists them (JS string order differs beyond the BMP). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}


/**
 * Removes the folders a deleted object leaves empty, from its own folder up to (not including) the
 * store's root: a folder is the trace of the objects in it, so none stays behind empty. A folder
 * that is not empty (or already gone) ends the climb.
 */
async function removeEmptyFolders(root: string, dir: string): Promise<void> {
  for (let d = dir; d.startsWith(root + path.sep); d = path.dirname(d)) {
    try {
      await fs.rmdir(d);
    } catch {
      return;
    }
  }
}

function byteLimit(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > maxBytes) done(new MediaflowError('PayloadTooLarge', `the body is larger than ${maxBytes} bytes`));
      else done(null, chunk);
    },
  });
}

/**
 * A file system error that means the key collides with the tree of objects: one of its folders is
 * an object (`a/b` exists, `a/b/c` is written: ENOTDIR, EEXIST) or the key is a folder of objects
 * (`a/b/c` exists, `a/b` is written: EISDIR, ENOTEMPTY). Refused as KeyConflict with the key only:
 * the server's paths never reach a message.
 */
function collision(err: unknown, key: string): MediaflowError | null {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (!['ENOTDIR', 'EEXIST', 'EISDIR', 'ENOTEMPTY', 'ERR_FS_EISDIR'].includes(code)) return null;
  return new MediaflowError(
    'KeyConflict',
    `the key "${key}" collides with an existing object or folder: an object cannot also be a folder of objects (a/b and a/b/c), choose another key`,
    [{ path: 'key', message: 'collides with an existing object or folder' }],
  );
}

/**
 * @example const storage = await createLocalStorage('/var/lib/mediaflow')
 */
export async function createLocalStorage(dataDir: string): Promise<Storage> {
  const root = path.join(dataDir, 'objects');
  // Temp files live beside the objects (same file system, so rename is atomic) but outside any key.
  const tmp = path.join(dataDir, 'tmp');
  await fs.mkdir(root, { recursive: true });
  await fs.mkdir(tmp, { recursive: true });

  function fileOf(key: string): string {
    const problem = keyProblem(key);
    if (problem) throw new MediaflowError('InvalidInput', `object key ${problem}`, [{ path: 'key', message: problem }]);
    const file = path.resolve(root, key);
    // Belt and braces: whatever keyProblem missed, nothing resolves outside the root.
    if (!file.startsWith(root + path.sep)) throw new MediaflowError('InvalidInput', 'object key escapes the store');
    return file;
  }

  async function head(key: string): Promise<ObjectInfo | null> {
    try {
      const st = await fs.stat(fileOf(key));
      if (!st.isFile()) return null;
      return {
        key,
        sizeBytes: st.size,
        etag: `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`,
        contentType: contentTypeFor(key),
        lastModified: st.mtime,
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
      throw err;
    }
  }

  async function commit(key: string, temp: string): Promise<ObjectInfo> {
    const file = fileOf(key);
    try {
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.rename(temp, file);
    } catch (err) {
      throw collision(err, key) ?? err;
    }
    const info = await head(key);
    if (!info) throw new Error(`object ${key} vanished after writing`);
    return info;
  }

  return {
    driver: 'local',
    location: 'local',
    head,
    async get(key: string, range?: ByteRange) {
      const info = await head(key);
      if (!info) throw new MediaflowError('NotFound', `no object with key "${key}"`);
      const body = createReadStream(fileOf(key), range ? { start: range.start, end: range.end } : {});
      return { info, body };
    },
    async put(key: string, body: Readable, options: PutOptions = {}) {
      fileOf(key);
      const temp = path.join(tmp, `${randomUUID()}.part`);
      try {
        if (options.maxBytes) await pipeline(body, byteLimit(options.maxBytes), createWriteStream(temp));
        else await pipeline(body, createWriteStream(temp));
        return await commit(key, temp);
      } finally {
        await fs.rm(temp, { force: true });
      }
    },
    async putFile(key: string, source: string) {
      fileOf(key);
      const temp = path.join(tmp, `${randomUUID()}.part`);
      try {
        await fs.copyFile(source, temp);
        return await commit(key, temp);
      } finally {
        await fs.rm(temp, { force: true });
      }
    },
    async delete(key: string) {
      try {
        await fs.rm(fileOf(key), { force: true });
      } catch (err) {
        // A folder, or a path through an object, holds no object of this key: nothing to delete.
        if (!collision(err, key)) throw err;
      }
      await removeEmptyFolders(root, path.dirname(fileOf(key)));
    },
    async list(prefix: string, options: ListOptions = {}): Promise<ObjectPage> {
      const problem = prefixProblem(prefix);
      if (problem) throw new MediaflowError('InvalidInput', `prefix ${problem}`, [{ path: 'prefix', message: problem }]);
      const pageSize = Math.min(Math.max(1, options.pageSize ?? MAX_PAGE), MAX_PAGE);
      // Only the folder the prefix reaches into needs walking.
      const dirKey = prefix.slice(0, prefix.lastIndexOf('/') + 1);
      const keys: string[] = [];
      async function walk(dir: string, keyPrefix: string): Promise<void> {
        let entries: import('node:fs').Dirent[];
        try {
          entries = await fs.readdir(dir, { withFileTypes: true });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
          throw err;
        }
        for (const e of entries) {
          const key = `${keyPrefix}${e.name}`;
          if (e.isDirectory()) {
            // Skip folders that cannot hold a matching key.
            if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(path.join(dir, e.name), `${key}/`);
          } else if (e.isFile() && key.startsWith(prefix) && (!options.cursor || compareKeys(key, options.cursor) > 0)) {
            keys.push(key);
          }
        }
      }
      await walk(dirKey ? path.join(root, dirKey) : root, dirKey);
      keys.sort(compareKeys);
      const objects: ObjectInfo[] = [];
      let i = 0;
      for (; i < keys.length && objects.length < pageSize; i++) {
        // A key removed since the walk is simply not listed.
        const info = await head(keys[i]!);
        if (info) objects.push(info);
      }
      return { objects, nextCursor: i < keys.length ? (objects.at(-1)?.key ?? null) : null };
    },
    async localPath(key: string) {
      return (await head(key)) ? fileOf(key) : null;
    },
    async check() {
      await fs.access(root, fs.constants.W_OK);
    },
  };
}

/** The object store interface every driver implements: local disk (default) and Alibaba OSS. */
import type { Readable } from 'node:stream';

export interface ObjectInfo {
  key: string;
  sizeBytes: number;
  etag: string;
  contentType: string;
  lastModified: Date;
  /** The store's CRC-64/ECMA of the content (OSS `x-oss-hash-crc64ecma`), when it sent one. */
  crc64?: string;
}

export interface ByteRange {
  start: number;
  /** Inclusive, as in HTTP. */
  end: number;
}

export interface PutOptions {
  contentType?: string;
  /** Refuse (PayloadTooLarge) and keep nothing once the body passes this many bytes. */
  maxBytes?: number;
}

export interface ListOptions {
  /** At most this many objects per page (default and ceiling: 1000). */
  pageSize?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

export interface ObjectPage {
  /** In key order (byte order of the UTF-8 keys). */
  objects: ObjectInfo[];
  /** null on the last page. */
  nextCursor: string | null;
}

export interface Storage {
  readonly driver: 'local' | 'oss';
  /** Where objects live, for logs and cache identities (`local`, `oss://bucket/prefix/`); never a secret. */
  readonly location: string;
  head(key: string): Promise<ObjectInfo | null>;
  /** Throws MediaflowError NotFound when there is no such object. */
  get(key: string, range?: ByteRange): Promise<{ info: ObjectInfo; body: Readable }>;
  /** Nothing is visible under the key until the whole body is stored (and checked). */
  put(key: string, body: Readable, options?: PutOptions): Promise<ObjectInfo>;
  putFile(key: string, path: string, options?: PutOptions): Promise<ObjectInfo>;
  /** Deleting an absent key is not an error. */
  delete(key: string): Promise<void>;
  /** Objects whose key starts with `prefix` (a plain string prefix, not only whole folders). */
  list(prefix: string, options?: ListOptions): Promise<ObjectPage>;
  /** A path ffmpeg may read directly, when the object already is a local file. */
  localPath?(key: string): Promise<string | null>;
  /** A time-limited URL anyone may GET the object from, when the backend can sign one. */
  signedUrl?(key: string, options: { expiresSec: number }): Promise<string>;
  /** The same store reading another bucket (OSS job inputs naming `bucket`); keys are not prefixed there. */
  forBucket?(bucket: string): Storage;
  /** Throws when the store is unusable (for /readyz). */
  check(): Promise<void>;
  /** Stops the store's background work (OSS: the stale multipart upload sweep); the store stays usable. */
  close?(): Promise<void>;
}

/** Every object under a prefix, page by page. */
export async function* listAll(storage: Storage, prefix: string): AsyncGenerator<ObjectInfo> {
  let cursor: string | undefined;
  do {
    const page = await storage.list(prefix, cursor ? { cursor } : {});
    yield* page.objects;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}

const contentTypes: Record<string, string> = {
  mp4: 'video/mp4', m4v: 'video/mp4', mov: 'video/quicktime', webm: 'video/webm', mkv: 'video/x-matroska',
  ts: 'video/mp2t', m4s: 'video/iso.segment', m3u8: 'application/vnd.apple.mpegurl', mpd: 'application/dash+xml',
  m4a: 'audio/mp4', mp3: 'audio/mpeg', ogg: 'audio/ogg', opus: 'audio/ogg', wav: 'audio/wav', flac: 'audio/flac',
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', vtt: 'text/vtt', json: 'application/json',
};

/** The Content-Type we serve for a key, from its extension. */
export function contentTypeFor(key: string): string {
  const ext = key.slice(key.lastIndexOf('.') + 1).toLowerCase();
  return contentTypes[ext] ?? 'application/octet-stream';
}

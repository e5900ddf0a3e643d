/** The object store interface every driver implements (local disk now, OSS next). */
import type { Readable } from 'node:stream';

export interface ObjectInfo {
  key: string;
  sizeBytes: number;
  etag: string;
  contentType: string;
  lastModified: Date;
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

export interface Storage {
  readonly driver: string;
  head(key: string): Promise<ObjectInfo | null>;
  /** Throws MediaflowError NotFound when there is no such object. */
  get(key: string, range?: ByteRange): Promise<{ info: ObjectInfo; body: Readable }>;
  put(key: string, body: Readable, options?: PutOptions): Promise<ObjectInfo>;
  putFile(key: string, path: string, options?: PutOptions): Promise<ObjectInfo>;
  delete(key: string): Promise<void>;
  /** A path ffmpeg may read directly, when the object already is a local file. */
  localPath?(key: string): Promise<string | null>;
  /** Throws when the store is unusable (for /readyz). */
  check(): Promise<void>;
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

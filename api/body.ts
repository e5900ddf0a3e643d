/** Reads and validates a JSON body: content type, size, syntax and schema, each with its own problem. */
import type { Context } from 'hono';
import type { z } from 'zod';
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { MediaflowError, type FieldError } from '../model/errors';
import { problemError } from './problem';
import type { AppEnv } from './env';

/** zod issues → API field errors (`outputs.0.template`), one per unknown key too. */
export function fieldErrors(issues: z.core.$ZodIssue[], prefix: (string | number)[] = []): FieldError[] {
  return issues.flatMap((issue) => {
    const base = [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: [...base, key].join('.'), message: 'unknown field' }));
    }
    return [{ path: base.join('.') || '(body)', message: issue.message }];
  });
}

/**
 * A request body as a Node stream that (1) fails with BodyTimeout when the client sends no byte for
 * `idleMs` while we are waiting for one (time we spend not reading — backpressure — never counts),
 * and (2) fails with ClientAborted when the client's connection ends before the body does. On a
 * failure the connection is not destroyed here, so a 408 can still be written; the server then
 * drains or closes it.
 */
export class RequestBody extends Readable {
  /** Set once the client closed the connection before the body had arrived. */
  clientAborted = false;
  /** Bytes of the body that arrived. */
  bytesReceived = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly onData = (chunk: Buffer): void => {
    this.disarm();
    this.bytesReceived += chunk.length;
    if (this.push(chunk)) this.arm();
    else this.source.pause();
  };
  private readonly onEnd = (): void => {
    this.disarm();
    this.push(null);
  };
  private readonly onError = (): void => this.abort();
  private readonly onClose = (): void => {
    if (!this.source.readableEnded) this.abort();
  };

  constructor(
    private readonly source: Readable,
    private readonly idleMs: number,
  ) {
    super();
    source.pause();
    source.on('data', this.onData);
    source.on('end', this.onEnd);
    source.on('error', this.onError);
    source.on('close', this.onClose);
    // Gone before we got here: no 'close' is coming any more.
    if (source.destroyed && !source.readableEnded) process.nextTick(() => this.abort());
  }

  private abort(): void {
    if (this.destroyed || this.readableEnded) return;
    this.clientAborted = true;
    this.destroy(new MediaflowError('ClientAborted', 'the client closed the connection before the body had arrived'));
  }

  private arm(): void {
    this.disarm();
    this.timer = setTimeout(() => {
      this.destroy(new MediaflowError('BodyTimeout', `no byte of the request body arrived for ${this.idleMs / 1000} s`));
    }, this.idleMs);
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  override _read(): void {
    if (this.source.readableEnded) return;
    this.arm();
    this.source.resume();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.disarm();
    this.source.off('data', this.onData);
    this.source.off('end', this.onEnd);
    this.source.off('error', this.onError);
    this.source.off('close', this.onClose);
    // Keep the socket: the answer (408, 413, …) still has to be written. node-server drains or closes it.
    this.source.on('error', () => undefined);
    done(err);
  }
}

/**
 * @example const body = requestBody(c, config.BODY_IDLE_TIMEOUT_SEC); await storage.put(key, body)
 */
export function requestBody(c: Context, idleSec: number): RequestBody {
  // The Node request itself when served by @hono/node-server (it tells an abort from an end), else the fetch body.
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  const web = incoming ? null : c.req.raw.body;
  const source = incoming ?? (web ? Readable.fromWeb(web as import('node:stream/web').ReadableStream) : Readable.from([]));
  return new RequestBody(source, idleSec * 1000);
}

/** The app's BODY_IDLE_TIMEOUT_SEC, which createApp puts on every request. */
export function bodyIdleSec(c: Context<AppEnv>): number {
  return c.get('bodyIdleSec') ?? 30;
}

/** Answers that leave a body unread end the connection: the rest of it must not be taken for a request. */
export function closeAfterAnswer(c: Context): void {
  c.header('Connection', 'close');
}

async function readLimited(c: Context, maxBytes: number, idleSec: number): Promise<string> {
  const declared = Number(c.req.header('content-length') ?? NaN);
  if (declared > maxBytes) {
    closeAfterAnswer(c);
    throw problemError('PayloadTooLarge', `the body may be at most ${maxBytes} bytes`);
  }
  const body = requestBody(c, idleSec);
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      total += (chunk as Buffer).length;
      if (total > maxBytes) {
        body.destroy();
        throw problemError('PayloadTooLarge', `the body may be at most ${maxBytes} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    closeAfterAnswer(c);
    throw err;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * @example const job = await readJson(c, jobSubmitSchema, config.MAX_BODY_BYTES)
 */
export async function readJson<S extends z.ZodType>(c: Context, schema: S, maxBytes: number): Promise<z.infer<S>> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json' && !type.endsWith('+json')) {
    throw problemError('UnsupportedMediaType', 'send the body as application/json');
  }
  const text = await readLimited(c, maxBytes, bodyIdleSec(c));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw problemError('InvalidInput', `the body is not valid JSON: ${(err as Error).message}`, [{ path: '(body)', message: 'malformed JSON' }]);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const errors = fieldErrors(parsed.error.issues);
    throw problemError('InvalidInput', `the body has ${errors.length} invalid field${errors.length === 1 ? '' : 's'}`, errors);
  }
  return parsed.data;
}

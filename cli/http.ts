/**
 * The CLI's HTTP side: JSON requests with problem+json errors, a streamed upload that reports its
 * bytes, and the job's server-sent events (`GET /v1/jobs/{id}/events`). Node's own fetch only.
 */
import fs from 'node:fs';
import type { JobState } from '../model/job-state';

/** An RFC 9457 problem as the API sends it (docs/api.md "Errors"). */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  errors?: { path: string; message: string }[];
}

/** The API answered with an error, or could not be reached (`status` 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | null,
    message: string,
  ) {
    super(message);
  }

  /** 503, 429 and connection failures: worth trying again while following a job. */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status === 502 || this.status === 503 || this.status === 504;
  }
}

/** Lines for stderr: status, title, code and detail, then each failing field by its path. */
export function describeApiError(err: ApiError): string[] {
  const p = err.problem;
  if (!p) return [`error: ${err.message}`];
  const head = [err.status ? String(err.status) : '', p.title, p.code ? `(${p.code})` : ''].filter(Boolean).join(' ');
  const lines = [`error: ${head}${p.detail ? `: ${p.detail}` : ''}`];
  for (const e of p.errors ?? []) lines.push(`  ${e.path || '(body)'}: ${e.message}`);
  return lines;
}

export interface UploadResult {
  key: string;
  sizeBytes: number;
  etag: string;
}

export interface ApiOptions {
  /** e.g. http://127.0.0.1:3000 (a path prefix is kept, for an API behind a proxy). */
  url: string;
  key?: string | undefined;
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

export class Api {
  readonly base: string;

  constructor(private readonly options: ApiOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.options.key ? { authorization: `Bearer ${this.options.key}` } : {}), ...extra };
  }

  private async send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.base}${path}`, { ...init, headers: this.headers(init.headers as Record<string, string> | undefined) });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new ApiError(0, null, `cannot reach the API at ${this.base}: ${causeOf(err)}`);
    }
  }

  /** Turns a non-2xx answer into an ApiError carrying the problem (or the first bytes of whatever came). */
  private async failure(res: Response): Promise<ApiError> {
    const text = await res.text().catch(() => '');
    let problem: Problem | null = null;
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed && typeof parsed === 'object') problem = parsed as Problem;
    } catch {
      // not JSON: a proxy's page, say
    }
    const message = problem?.detail ?? (text.trim().slice(0, 200) || res.statusText);
    return new ApiError(res.status, problem ?? { status: res.status, title: res.statusText, detail: message }, message);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(path, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    if (!res.ok) throw await this.failure(res);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  /**
   * PUT /v1/objects/{key}: the file streamed from disk (never read whole), with its length declared
   * so the API can refuse an oversized upload at once; `onBytes` hears how much has been handed over.
   */
  async upload(key: string, file: string, sizeBytes: number, onBytes: (sent: number) => void): Promise<UploadResult> {
    let sent = 0;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for await (const chunk of fs.createReadStream(file, { highWaterMark: 256 * 1024 })) {
        sent += (chunk as Buffer).length;
        yield chunk as Buffer;
        onBytes(sent);
      }
    }
    const res = await this.send(`/v1/objects/${encodeKey(key)}`, {
      method: 'PUT',
      body: chunks(),
      duplex: 'half',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(sizeBytes) },
    } as RequestInit);
    if (!res.ok) throw await this.failure(res);
    return (await res.json()) as UploadResult;
  }

  getJob(id: string): Promise<JobState> {
    return this.request<JobState>('GET', `/v1/jobs/${encodeURIComponent(id)}`);
  }

  /**
   * The job's server-sent events: each `job` event is the job JSON. Resolves null when the API has
   * no such stream (an older server), so the caller polls instead.
   */
  async events(id: string, signal: AbortSignal): Promise<AsyncGenerator<{ event: string; data: string }> | null> {
    const res = await this.send(`/v1/jobs/${encodeURIComponent(id)}/events`, { headers: { accept: 'text/event-stream' }, signal });
    if (!res.ok) {
      if (res.status === 404 || res.status === 405) {
        await res.body?.cancel();
        return null;
      }
      throw await this.failure(res);
    }
    if (!res.body || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      await res.body?.cancel();
      return null;
    }
    return parseEvents(res.body);
  }
}

/** A minimal text/event-stream reader (the parts the API uses: `event`, `data`, comments). */
export async function* parseEvents(body: AsyncIterable<Uint8Array>): AsyncGenerator<{ event: string; data: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = '';
  let data: string[] = [];
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    const lines = buffer.split(/\r\n|\n|\r(?!$)/);
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '') {
        if (data.length) yield { event: event || 'message', data: data.join('\n') };
        event = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
  }
}

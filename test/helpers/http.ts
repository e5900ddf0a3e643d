/** HTTP calls to the API as a client makes them: JSON or bytes in, status + parsed JSON out. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import type { JobState } from '../../model/job-state';

export interface ApiAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read whatever shape the route answers
  json: any;
  text: string;
  type: string;
  headers: Headers;
}

/**
 * One request: a Uint8Array body goes as bytes, anything else as JSON; `key` as a Bearer key.
 *
 * @example const { status, json } = await callApi(base, 'POST', '/v1/jobs', body, key)
 */
export async function callApi(base: string, method: string, url: string, body?: unknown, key?: string | null): Promise<ApiAnswer> {
  const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  let payload: Uint8Array | string | undefined;
  if (body instanceof Uint8Array) payload = body;
  else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(`${base}${url}`, { method, headers, ...(payload ? { body: payload } : {}) });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, json, text, type: res.headers.get('content-type') ?? '', headers: res.headers };
}

/** PUT /v1/objects/{key} of a local file, which must be stored (201). */
export async function putObject(base: string, key: string, file: string): Promise<void> {
  assert.equal((await fetch(`${base}/v1/objects/${key}`, { method: 'PUT', body: await fs.readFile(file) })).status, 201);
}

/** POST /v1/jobs that must be accepted; resolves the job id. */
export async function submitJob(base: string, body: unknown): Promise<string> {
  const res = await fetch(`${base}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 202, await res.clone().text());
  return ((await res.json()) as { id: string }).id;
}

/** GET /v1/jobs/{id} that must answer 200. */
export async function fetchJob(base: string, id: string): Promise<JobState> {
  const res = await fetch(`${base}/v1/jobs/${id}`);
  assert.equal(res.status, 200);
  return (await res.json()) as JobState;
}

// Talking to the API: the key from sessionStorage, problem+json errors, uploads with progress, job events.
const KEY = 'mediaflow.apiKey';

export const apiKey = () => sessionStorage.getItem(KEY);
export const setApiKey = (key) => (key ? sessionStorage.setItem(KEY, key) : sessionStorage.removeItem(KEY));

/** An API answer that was not 2xx: its problem+json (status, detail, field errors). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem ?? {};
  }
  get fieldErrors() {
    return this.problem.errors ?? [];
  }
}

const listeners = new Set();
/** Called with each 401, so the page can ask for a key. */
export const onUnauthorized = (fn) => listeners.add(fn);

function headers(extra = {}) {
  const key = apiKey();
  return { ...(key ? { Authorization: `Bearer ${key}` } : {}), ...extra };
}

async function failed(res) {
  let problem = null;
  try {
    problem = await res.json();
  } catch {
    // not JSON
  }
  if (res.status === 401) for (const fn of listeners) fn();
  return new ApiError(res.status, problem);
}

/** JSON in, JSON out; throws ApiError. */
export async function api(path, { method = 'GET', body } = {}) {
  const res = await fetch(path, {
    method,
    headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await failed(res);
  return res.status === 204 ? null : res.json();
}

/** PUT /v1/objects/{key} with XMLHttpRequest (fetch reports no upload progress); onProgress(0..1). */
export function upload(key, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `/v1/objects/${key.split('/').map(encodeURIComponent).join('/')}`);
    for (const [k, v] of Object.entries(headers({ 'Content-Type': file.type || 'application/octet-stream' }))) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(body);
      } else {
        if (xhr.status === 401) for (const fn of listeners) fn();
        reject(new ApiError(xhr.status, body));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, { detail: 'the upload failed: network error' }));
    xhr.send(file);
  });
}

/**
 * Follows GET /v1/jobs/{id}/events (server-sent events). EventSource cannot send the
 * Authorization header, so this reads the stream with fetch. Returns a stop function.
 */
export function followJob(id, onJob, onEnd = () => {}) {
  const abort = new AbortController();
  (async () => {
    const res = await fetch(`/v1/jobs/${encodeURIComponent(id)}/events`, { headers: headers({ Accept: 'text/event-stream' }), signal: abort.signal });
    if (!res.ok) throw await failed(res);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (event === 'job' && data.length) onJob(JSON.parse(data.join('\n')));
      }
    }
  })()
    .catch((err) => (abort.signal.aborted ? null : onEnd(err)))
    .finally(() => !abort.signal.aborted && onEnd(null));
  return () => abort.abort();
}

/** A signed URL (no key needed to read it) for one object or a folder ending in "/". */
export async function signedUrl(scope, expiresInSec) {
  const body = scope.endsWith('/') ? { prefix: scope } : { key: scope };
  if (expiresInSec) body.expiresInSec = expiresInSec;
  return (await api('/v1/signed-urls', { method: 'POST', body })).url;
}

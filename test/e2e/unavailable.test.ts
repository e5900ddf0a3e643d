/** With Temporal down, the API answers 503 in seconds for job calls and keeps serving everything else. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../model/config';
import { startApi, type RunningApi } from '../../api/server';
import { freePort } from '../helpers/stack';

let api: RunningApi;
let dataDir: string;

before(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-down-'));
  // Nothing listens on this port: Temporal is "down".
  api = await startApi(loadConfig({ DATA_DIR: dataDir, PORT: '0', TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`, TEMPORAL_RPC_TIMEOUT_SEC: '2' }));
});
after(async () => {
  await api.close();
  await fs.rm(dataDir, { recursive: true, force: true });
});

async function timed(input: string, init?: RequestInit): Promise<{ res: Response; ms: number }> {
  const started = Date.now();
  const res = await fetch(`${api.url}${input}`, init);
  return { res, ms: Date.now() - started };
}

test('Temporal unreachable: readiness and job calls answer 503 quickly; health and objects still work', async () => {
  assert.equal((await timed('/healthz')).res.status, 200);
  const put = await timed('/v1/objects/raw/a.mp4', { method: 'PUT', body: 'not really a video' });
  assert.equal(put.res.status, 201, 'uploads do not need Temporal');

  const submit = await timed('/v1/jobs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input: { key: 'raw/a.mp4' }, outputs: [{ name: 'a', template: 'mp4-h264-720p' }] }),
  });
  for (const { res, ms } of [await timed('/readyz'), submit, await timed('/v1/jobs/job_abc123')]) {
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { code: string }).code, 'TemporalUnavailable');
    assert.ok(ms < 8000, `answered after ${ms} ms`);
  }
});

/**
 * Replays every committed history (test/histories/*.json, recorded from real jobs by
 * test/histories/record.ts) against the current workflow code: a change that would make a running
 * job fail with a nondeterminism error on a worker upgrade fails here, in seconds, without a server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import { bundleWorkflows } from '../../worker/main';
import { loadHistory } from '../histories/load';

const root = path.resolve(import.meta.dirname, '../histories');
/**
 * One folder per workflow version still in flight somewhere: v1/ from before patched('cut-the-work')
 * (one activity per rendition), v2/ after it (shared encodes, chunks, the light queue), v3/ the held
 * jobs after patched('held-recheck-backoff') and patched('held-recheck-sparse') (jittered timers).
 */
const versions: Record<string, string[]> = {
  v1: ['succeeded', 'failed-probe-retried', 'failed-watermark-retried', 'failed-window-closed', 'canceled-mid-encode', 'canceled-hls', 'hls', 'watermark-text', 'paused-then-resumed', 'canceled-while-paused'],
  v2: ['succeeded', 'failed-probe-retried', 'failed-watermark-retried', 'failed-window-closed', 'canceled-mid-encode', 'canceled-hls', 'hls', 'watermark-text', 'paused-then-resumed', 'canceled-while-paused', 'chunked'],
  v3: ['paused-then-resumed', 'canceled-while-paused'],
};

test('every recorded job history replays on the current workflow code', { timeout: 120_000 }, async () => {
  const files: string[] = [];
  for (const [version, kinds] of Object.entries(versions)) {
    const present = (await fs.readdir(path.join(root, version))).filter((f) => f.endsWith('.json'));
    // One of every kind of job; a missing file must not pass as "nothing to replay".
    for (const kind of kinds) assert.ok(present.includes(`${kind}.json`), `test/histories/${version}/${kind}.json is missing`);
    files.push(...present.sort().map((f) => `${version}/${f}`));
  }
  const histories = await Promise.all(
    files.map(async (f) => ({ workflowId: f.replace(/\.json$/, ''), history: await loadHistory(path.join(root, f)) })),
  );
  const results = Worker.runReplayHistories({ workflowBundle: await bundleWorkflows(), replayName: 'mediaflow-replay' }, histories);
  const failures: string[] = [];
  let replayed = 0;
  for await (const r of results) {
    replayed += 1;
    if (r.error) failures.push(`${r.workflowId}: ${r.error instanceof DeterminismViolationError ? 'nondeterminism' : 'error'}: ${r.error.message}`);
  }
  assert.equal(replayed, files.length);
  assert.deepEqual(failures, []);
});

/** The Temporal dev server stops and restarts (same SQLite file) in the middle of a job: the job completes. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { taskQueueFor } from '../../model/config';
import type { JobState } from '../../model/job-state';
import { presetOutput, testSpec } from '../helpers/spec';
import { stateQuery, WORKFLOW_TYPE } from '../../workflows/definitions';
import { startStack, type Stack } from '../helpers/stack';
import { decodesCleanly, makeClip, probeFile } from '../helpers/media';

let stack: Stack;

before(async () => {
  stack = await startStack({ persist: true });
});
after(async () => {
  await stack?.stop();
});

test('stop and restart the dev server mid-transcode: the job still completes', { timeout: 300_000 }, async () => {
  const clip = path.join(stack.dataDir, 'src.mp4');
  await makeClip(clip, { width: 1280, height: 720, durationSec: 15 });
  await stack.storage.put('raw/src.mp4', createReadStream(clip));
  const spec = testSpec('raw/src.mp4', [presetOutput('hd', 'mp4-h264-720p', (t) => ({ ...t, video: { ...t.video!, preset: 'medium' } }))], { snapshots: [] });
  const handle = await stack.client.workflow.start(WORKFLOW_TYPE, { workflowId: spec.id, taskQueue: taskQueueFor(stack.config, 'default'), args: [spec] });
  for (;;) {
    const s = await handle.query(stateQuery);
    if (s.tasks.some((t) => t.id === 'transcode:hd' && t.status === 'running')) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const stopped = Date.now();
  await stack.restartTemporal(3000);
  const state = (await handle.result()) as JobState;
  console.log(`# dev server restart: job succeeded ${Date.now() - stopped} ms after the server was stopped`);
  assert.equal(state.status, 'succeeded', JSON.stringify(state.error));
  const file = path.join(stack.dataDir, 'objects', spec.id, 'hd.mp4');
  const out = await probeFile(file);
  assert.ok(Math.abs(out.durationSec - 15) <= 0.1, `duration ${out.durationSec}`);
  assert.ok(await decodesCleanly(file));
});

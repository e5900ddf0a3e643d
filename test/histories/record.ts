/**
 * Records the event histories that test/workflows/replay.test.ts replays: one real job of every
 * kind, run on the real stack (dev server, in-process worker, real activities, real ffmpeg on
 * lavfi clips), each saved as test/histories/<name>.json.
 *
 * Re-record after a deliberate change of the workflow's command sequence (and keep the old files
 * while running workflows of the old shape may still exist: they are what `patched()` protects):
 *   npx tsx test/histories/record.ts            # every kind
 *   npx tsx test/histories/record.ts hls watermark-text   # only these
 */
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { taskQueueFor } from '../../model/config';
import type { JobSpec } from '../../model/job';
import type { JobState } from '../../model/job-state';
import { createPipelineStore } from '../../db/pipelines';
import { cancelSignal, pipelineResumedSignal, retrySignal, retryUpdate, stateQuery, WORKFLOW_TYPE } from '../../workflows/definitions';
import { findTemporalCli } from '../../scripts/temporal-cli';
import { startStack, type Stack } from '../helpers/stack';
import { makeClip, testBinaries } from '../helpers/media';
import { presetOutput, testSpec } from '../helpers/spec';

const run = promisify(execFile);
/**
 * Histories are kept per workflow version: v1/ recorded before patched('cut-the-work'), v2/ after
 * (`npx tsx test/histories/record.ts --out v2 [name…]` records with the current code).
 */
const outFlag = process.argv.indexOf('--out');
const outDir = path.join(import.meta.dirname, outFlag >= 0 ? process.argv[outFlag + 1]! : 'v2');

type Recorder = (stack: Stack) => Promise<WorkflowHandle>;

function start(stack: Stack, spec: JobSpec): Promise<WorkflowHandle> {
  return stack.client.workflow.start(WORKFLOW_TYPE, { workflowId: spec.id, taskQueue: taskQueueFor(stack.config, spec.pipeline), args: [spec] });
}

/** Queries the job until `done` holds. */
async function until(handle: WorkflowHandle, done: (s: JobState) => boolean, timeoutMs = 120_000): Promise<JobState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await handle.query(stateQuery).catch(() => null);
    if (s && done(s)) return s;
    if (Date.now() > deadline) throw new Error(`${handle.workflowId}: condition not reached: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const transcoding = (s: JobState) => s.tasks.some((t) => t.kind === 'transcode' && t.status === 'running');
const ladder = (name: string) => presetOutput(name, 'hls-h264-ladder', (t) => ({ ...t, ladder: { ...t.ladder!, segmentSec: 2 } }));
const slow = (name: string) => presetOutput(name, 'mp4-h264-720p', (t) => ({ ...t, video: { ...t.video!, preset: 'slow' } }));

/** Every kind of job the replay test covers, by file name. */
const recorders: Record<string, Recorder> = {
  // A long input cut into chunks (audio once, chunks, join) with an MP4 and an HLS ladder. v2 only.
  async 'chunked'(stack) {
    return start(stack, testSpec('raw/long.mp4', [presetOutput('small', 'mp4-h264-360p'), ladder('stream')], { chunking: { minDurationSec: 10, chunkSec: 6, maxParallel: 2 } }));
  },
  // MP4 + the default poster; a callback to loopback is refused (a failed notify task).
  async 'succeeded'(stack) {
    return start(stack, testSpec('raw/small.mp4', [presetOutput('small', 'mp4-h264-360p')], { notify: { url: 'http://127.0.0.1:9/hook' } }));
  },
  // A broken input fails the probe; the file is replaced and the `retry` signal re-runs it.
  async 'failed-probe-retried'(stack) {
    await stack.storage.put('raw/fixme.mp4', createReadStream(await junk(stack)));
    const h = await start(stack, testSpec('raw/fixme.mp4', [presetOutput('v', 'mp4-h264-360p')], { retryWindowSec: 600 }));
    await until(h, (s) => s.status === 'failed');
    await stack.storage.put('raw/fixme.mp4', createReadStream(path.join(stack.dataDir, 'small.mp4')));
    await h.signal(retrySignal);
    return h;
  },
  // A watermark image that is not an image fails its task and the transcode that needs it
  // (DependencyFailed); the image is fixed and the API's way, the retry update, re-runs both.
  async 'failed-watermark-retried'(stack) {
    await stack.storage.put('brand/logo.png', createReadStream(path.join(stack.dataDir, 'small.mp4')));
    const spec = testSpec(
      'raw/small.mp4',
      [
        { ...presetOutput('logo', 'mp4-h264-360p'), watermarks: [{ templateId: null, settings: { image: { key: 'brand/logo.png' }, position: 'TL', widthRel: 0.2 } }] },
        presetOutput('plain', 'mp4-h264-360p'),
      ],
      { snapshots: [], retryWindowSec: 600 },
    );
    const h = await start(stack, spec);
    await until(h, (s) => s.status === 'failed');
    await stack.storage.put('brand/logo.png', createReadStream(await logo(stack)));
    await h.executeUpdate(retryUpdate);
    return h;
  },
  // A failed job whose retry window closes: final `failed`.
  async 'failed-window-closed'(stack) {
    await stack.storage.put('raw/junk.mp4', createReadStream(await junk(stack)));
    return start(stack, testSpec('raw/junk.mp4', [presetOutput('v', 'mp4-h264-360p')], { retryWindowSec: 1 }));
  },
  // The cancel signal while ffmpeg encodes.
  async 'canceled-mid-encode'(stack) {
    const h = await start(stack, testSpec('raw/long.mp4', [slow('slow')], { snapshots: [] }));
    await until(h, transcoding);
    await new Promise((r) => setTimeout(r, 2000));
    await h.signal(cancelSignal, { reason: 'the recorder' });
    return h;
  },
  // Temporal's own cancellation (the UI's button) of an HLS ladder while its rungs encode.
  async 'canceled-hls'(stack) {
    const h = await start(stack, testSpec('raw/long.mp4', [ladder('stream')], { snapshots: [] }));
    await until(h, transcoding);
    await new Promise((r) => setTimeout(r, 2000));
    await h.cancel();
    return h;
  },
  // An HLS ladder: rung transcodes, then the package task, then the rungs' files removed.
  async 'hls'(stack) {
    return start(stack, testSpec('raw/small.mp4', [ladder('stream')], { snapshots: [] }));
  },
  // A text watermark, prepared once and burnt in; the asset removed after success.
  async 'watermark-text'(stack) {
    return start(stack, testSpec('raw/small.mp4', [{ ...presetOutput('text', 'mp4-h264-360p'), watermarks: [{ templateId: null, settings: { text: { content: 'mediaflow', color: '#ffffff' }, position: 'BR', widthRel: 0.3 } }] }], { snapshots: [] }));
  },
  // The job's pipeline is paused: the job waits in `queued`; resumed, it runs.
  async 'paused-then-resumed'(stack) {
    const pipelines = createPipelineStore(stack.db);
    await pipelines.update('default', 'default', { state: 'paused' });
    const h = await start(stack, testSpec('raw/small.mp4', [presetOutput('v', 'mp4-h264-360p')], { snapshots: [], waitForPipeline: true }));
    await until(h, (s) => s.status === 'queued');
    await new Promise((r) => setTimeout(r, 1500));
    await pipelines.update('default', 'default', { state: 'active' });
    await h.signal(pipelineResumedSignal);
    return h;
  },
  // Canceled while its pipeline holds it.
  async 'canceled-while-paused'(stack) {
    const pipelines = createPipelineStore(stack.db);
    await pipelines.update('default', 'default', { state: 'paused' });
    const h = await start(stack, testSpec('raw/small.mp4', [presetOutput('v', 'mp4-h264-360p')], { waitForPipeline: true }));
    await new Promise((r) => setTimeout(r, 1500));
    await h.signal(cancelSignal, { reason: 'the recorder' });
    await h.result();
    await pipelines.update('default', 'default', { state: 'active' });
    return h;
  },
};

async function junk(stack: Stack): Promise<string> {
  const file = path.join(stack.dataDir, 'junk.mp4');
  await fs.writeFile(file, 'not a video\n'.repeat(20));
  return file;
}

async function logo(stack: Stack): Promise<string> {
  const { ffmpeg } = await testBinaries();
  const file = path.join(stack.dataDir, 'logo.png');
  await run(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=red:s=100x50', '-frames:v', '1', file]);
  return file;
}

async function main(): Promise<void> {
  const only = process.argv.slice(2).filter((a, i, all) => a !== '--out' && all[i - 1] !== '--out');
  for (const name of only) if (!(name in recorders)) throw new Error(`no recorder "${name}"; known: ${Object.keys(recorders).join(', ')}`);
  const stack = await startStack();
  try {
    await makeClip(path.join(stack.dataDir, 'small.mp4'), { width: 640, height: 360, durationSec: 2 });
    await stack.storage.put('raw/small.mp4', createReadStream(path.join(stack.dataDir, 'small.mp4')));
    await makeClip(path.join(stack.dataDir, 'long.mp4'), { width: 1280, height: 720, durationSec: 20 });
    await stack.storage.put('raw/long.mp4', createReadStream(path.join(stack.dataDir, 'long.mp4')));
    await createPipelineStore(stack.db).list('default');
    for (const [name, record] of Object.entries(recorders)) {
      if (only.length && !only.includes(name)) continue;
      const started = Date.now();
      const handle = await record(stack);
      const state = (await handle.result().catch((err) => ({ status: `closed: ${String(err)}` }))) as JobState;
      // The CLI's JSON, the format every Temporal tool reads (the SDK's historyToJSON trips over
      // two protobufjs copies in this install).
      const { stdout } = await run(findTemporalCli()!, ['workflow', 'show', '--address', stack.config.TEMPORAL_ADDRESS, '--workflow-id', handle.workflowId, '--output', 'json'], { maxBuffer: 64 << 20 });
      const events = (JSON.parse(stdout) as { events: unknown[] }).events.length;
      await fs.mkdir(outDir, { recursive: true });
      await fs.writeFile(path.join(outDir, `${name}.json`), stdout.endsWith('\n') ? stdout : `${stdout}\n`);
      console.log(`${name}: ${state.status}, ${events} events, ${Date.now() - started} ms`);
    }
  } finally {
    await stack.stop();
  }
}

await main();

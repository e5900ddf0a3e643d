/** mediaJob against the real dev server, a real worker and real ffmpeg; outputs checked with ffprobe. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createReadStream } from 'node:fs';
import { taskQueueFor } from '../../model/config';
import type { JobSpec } from '../../model/job';
import type { JobState } from '../../model/job-state';
import { retryJob } from '../../api/jobs';
import { createPipelineStore } from '../../db/pipelines';
import { createTemplateStore } from '../../db/templates';
import { presetOutput, snapshotAt, testSpec } from '../helpers/spec';
import type { MediaflowError } from '../../model/errors';
import { retrySignal, searchAttributes, stateQuery, WORKFLOW_TYPE } from '../../workflows/definitions';
import { startStack, type Stack } from '../helpers/stack';
import { makeClip, probeFile, decodesCleanly } from '../helpers/media';

let stack: Stack;

before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

function spec(inputKey: string, outputs: JobSpec['outputs'], extra: Partial<JobSpec> = {}): JobSpec {
  return testSpec(inputKey, outputs, { outputPrefix: 'out/', userData: 'echo me', retryWindowSec: 1, ...extra });
}

async function upload(file: string, key: string): Promise<void> {
  await stack.storage.put(key, createReadStream(file));
}

function run(s: JobSpec): Promise<JobState> {
  return stack.client.workflow.execute(WORKFLOW_TYPE, {
    workflowId: s.id,
    taskQueue: taskQueueFor(stack.config, s.pipeline),
    args: [s],
  });
}

function objectPath(key: string): string {
  return path.join(stack.dataDir, 'objects', key);
}

/** Every folder under the store's root that holds nothing. */
async function emptyFolders(): Promise<string[]> {
  const root = path.join(stack.dataDir, 'objects');
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true });
  const empty: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const dir = path.join(e.parentPath, e.name);
    if ((await fs.readdir(dir)).length === 0) empty.push(path.relative(root, dir));
  }
  return empty;
}

describe('mediaJob', { timeout: 300_000 }, () => {
  test('a canceled HLS ladder: rungs and package canceled with their attempts, no folder left; a text watermark leaves no watermarks/ folder', async () => {
    const src = path.join(stack.dataDir, 'ladder.mp4');
    await makeClip(src, { width: 1280, height: 720, durationSec: 20 });
    await upload(src, 'raw/ladder.mp4');
    const ladder = presetOutput('stream', 'hls-h264-ladder', (t) => ({ ...t, video: { ...t.video!, preset: 'slow' } }));
    const s = spec('raw/ladder.mp4', [ladder]);
    const handle = await stack.client.workflow.start(WORKFLOW_TYPE, { workflowId: s.id, taskQueue: taskQueueFor(stack.config, 'default'), args: [s] });
    // Canceled once ffmpeg has been encoding a rung for a while.
    for (;;) {
      const now = await handle.query(stateQuery);
      if (now.tasks.some((t) => t.kind === 'transcode' && t.status === 'running')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1500));
    await handle.cancel();
    const state = (await handle.result()) as JobState;
    assert.equal(state.status, 'canceled');
    const pkg = state.tasks.find((t) => t.id === 'package:stream');
    assert.deepEqual([pkg?.status, pkg?.error], ['canceled', null], 'the package never ran: canceled, not DependencyFailed');
    const rungs = state.tasks.filter((t) => t.kind === 'transcode');
    assert.ok(rungs.length >= 2);
    for (const t of rungs) {
      assert.equal(t.status, 'canceled', t.id);
      assert.notEqual(t.progress, 1, t.id);
    }
    // Rungs start at once and both worker slots run them: the attempts they were on, not 0.
    assert.ok(rungs.some((t) => t.attempts === 1), JSON.stringify(rungs));
    assert.ok(state.progress < 1, `progress ${state.progress}`);
    assert.equal(await fs.stat(objectPath(`out/${s.id}`)).catch(() => null), null, 'the job folder is gone');

    const small = path.join(stack.dataDir, 'wm.mp4');
    await makeClip(small, { width: 640, height: 360, durationSec: 2 });
    await upload(small, 'raw/wm.mp4');
    const text = spec('raw/wm.mp4', [{ ...presetOutput('text', 'mp4-h264-360p'), watermarks: [{ templateId: null, settings: { text: { content: 'mediaflow', color: '#ffffff' }, position: 'BR', widthRel: 0.3 } }] }], { snapshots: [] });
    const done = await run(text);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.deepEqual(await fs.readdir(objectPath(`out/${text.id}`)), ['text.mp4'], 'no watermarks/ folder after success');
    assert.deepEqual(await emptyFolders(), []);
  });

  test('720p H.264/AAC source → 360p rendition and poster, probed', async () => {
    const src = path.join(stack.dataDir, 'src.mp4');
    await makeClip(src, { width: 1280, height: 720, durationSec: 3, fps: 30 });
    const source = await probeFile(src);
    await upload(src, 'raw/src.mp4');

    const s = spec('raw/src.mp4', [presetOutput('small', 'mp4-h264-360p')]);
    const state = await run(s);

    assert.equal(state.status, 'succeeded', JSON.stringify(state.error));
    assert.equal(state.userData, 'echo me');
    assert.deepEqual(
      state.tasks.map((t) => [t.id, t.status]),
      [['probe', 'succeeded'], ['transcode:small', 'succeeded'], ['snapshot:poster', 'succeeded'], ['notify', 'skipped']],
    );
    assert.deepEqual(state.notifications, [{ event: 'job.succeeded', status: 'skipped', attempts: 0 }]);
    assert.equal(state.input.media?.video?.width, 1280);

    const outKey = `out/${s.id}/small.mp4`;
    assert.equal(state.outputs[0]?.key, outKey);
    const out = await probeFile(objectPath(outKey));
    const v = out.streams.find((x) => x.codec_type === 'video');
    const a = out.streams.find((x) => x.codec_type === 'audio');
    assert.equal(v?.codec_name, 'h264');
    assert.equal(v?.profile, 'High');
    assert.equal(v?.pix_fmt, 'yuv420p');
    assert.deepEqual([v?.width, v?.height], [640, 360]);
    assert.equal(a?.codec_name, 'aac');
    assert.equal(a?.channels, 2);
    assert.ok(Math.abs(out.durationSec - source.durationSec) <= 0.1, `duration ${out.durationSec} vs source ${source.durationSec}`);
    assert.ok(await decodesCleanly(objectPath(outKey)), 'the output decodes without errors');
    assert.equal(state.outputs[0]?.sizeBytes, (await fs.stat(objectPath(outKey))).size);

    const poster = await probeFile(objectPath(`out/${s.id}/poster.jpg`));
    assert.equal(poster.streams[0]?.codec_name, 'mjpeg');
    assert.deepEqual([poster.streams[0]?.width, poster.streams[0]?.height], [1280, 720]);

    // What the Temporal UI and CLI see: the query and the search attribute.
    const handle = stack.client.workflow.getHandle(s.id);
    assert.equal((await handle.query(stateQuery)).status, 'succeeded');
    const described = await handle.describe();
    assert.equal(described.typedSearchAttributes.get(searchAttributes.status), 'succeeded');
  });

  test('an input without audio gives an output without a fake audio track', async () => {
    const src = path.join(stack.dataDir, 'silent.mp4');
    await makeClip(src, { width: 640, height: 360, durationSec: 2, audio: false });
    await upload(src, 'raw/silent.mp4');
    const s = spec('raw/silent.mp4', [presetOutput('v', 'mp4-h264-360p')], { snapshots: [] });
    const state = await run(s);
    assert.equal(state.status, 'succeeded', JSON.stringify(state.error));
    const out = await probeFile(objectPath(`out/${s.id}/v.mp4`));
    assert.deepEqual(out.streams.map((x) => x.codec_type), ['video']);
    assert.equal(state.outputs[0]?.audio, null);
  });

  test('a file that is not media fails the job at once with InputUnreadable, no retries', async () => {
    const junk = path.join(stack.dataDir, 'notes.mp4');
    await fs.writeFile(junk, 'these are meeting notes, not a video\n'.repeat(50));
    await upload(junk, 'raw/notes.mp4');
    const started = Date.now();
    const s = spec('raw/notes.mp4', [presetOutput('v', 'mp4-h264-720p')]);
    const state = await run(s);
    assert.equal(state.status, 'failed');
    assert.equal(state.error?.code, 'InputUnreadable');
    assert.equal(state.error?.retryable, false);
    const probe = state.tasks.find((t) => t.id === 'probe');
    assert.equal(probe?.status, 'failed');
    assert.equal(probe?.attempts, 1, 'broken media is not retried');
    assert.deepEqual(state.outputs, []);
    assert.deepEqual(state.notifications, [{ event: 'job.failed', status: 'skipped', attempts: 0 }]);
    // With ten retries and backoff this would take minutes; non-retryable takes seconds.
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
    const described = await stack.client.workflow.getHandle(s.id).describe();
    assert.equal(described.typedSearchAttributes.get(searchAttributes.status), 'failed');
  });

  test('a callback to a loopback address is refused without retries; the job itself still succeeds', async () => {
    const src = path.join(stack.dataDir, 'cb.mp4');
    await makeClip(src, { width: 320, height: 240, durationSec: 1 });
    await upload(src, 'raw/cb.mp4');
    const s = spec('raw/cb.mp4', [], { snapshots: [snapshotAt('thumb', 0.5, 'png', 160)], notify: { url: 'http://127.0.0.1:9/hook' } });
    const state = await run(s);
    assert.equal(state.status, 'succeeded');
    assert.deepEqual(state.notifications, [{ event: 'job.succeeded', status: 'failed', attempts: 1 }]);
    const notify = state.tasks.find((t) => t.id === 'notify');
    assert.equal(notify?.error?.code, 'UrlNotAllowed');
    const thumb = await probeFile(objectPath(`out/${s.id}/thumb.png`));
    assert.deepEqual([thumb.streams[0]?.codec_name, thumb.streams[0]?.width, thumb.streams[0]?.height], ['png', 160, 120]);
  });

  test('the retry signal re-runs a failed probe once the input is fixed; after the window, retry is refused', async () => {
    const junk = path.join(stack.dataDir, 'broken.mp4');
    await fs.writeFile(junk, 'not a video');
    await upload(junk, 'raw/fixme.mp4');
    const s = spec('raw/fixme.mp4', [presetOutput('v', 'mp4-h264-360p')], { retryWindowSec: 600 });
    const handle = await stack.client.workflow.start(WORKFLOW_TYPE, { workflowId: s.id, taskQueue: taskQueueFor(stack.config, 'default'), args: [s] });
    for (;;) {
      if ((await handle.query(stateQuery)).status === 'failed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // The fix: the right file under the same key. Then the CLI's way to retry: the `retry` signal.
    const good = path.join(stack.dataDir, 'good.mp4');
    await makeClip(good, { width: 320, height: 240, durationSec: 1 });
    await upload(good, 'raw/fixme.mp4');
    await handle.signal(retrySignal);
    const state = (await handle.result()) as JobState;
    assert.equal(state.status, 'succeeded', JSON.stringify(state.error));
    assert.deepEqual(state.tasks.map((t) => [t.id, t.status]), [['probe', 'succeeded'], ['notify', 'skipped'], ['transcode:v', 'succeeded'], ['snapshot:poster', 'succeeded']]);
    assert.deepEqual(state.notifications.map((n) => n.event), ['job.failed', 'job.succeeded']);

    // A job whose window (1 s here) has passed is closed: the API's retry answers 409.
    const closed = spec('raw/notes.mp4', []);
    const failed = await run(closed);
    assert.equal(failed.status, 'failed');
    await assert.rejects(retryJob({ config: stack.config, client: stack.client, storage: stack.storage, templates: createTemplateStore(stack.db), pipelines: createPipelineStore(stack.db) }, closed.id, 'default'), (err: MediaflowError) => err.code === 'Conflict');
  });
});

/**
 * A worker whose ffmpeg lacks an encoder: jobs that need it fail at once, non-retryably, naming it;
 * ffmpeg failures show their command line and stderr in the activity failure (as the Temporal UI does).
 * The worker's ffmpeg is a wrapper around the real one that behaves like a build without SVT-AV1
 * (absent from `-encoders`, refused when asked for) and whose VP9 encoder crashes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createReadStream } from 'node:fs';
import { taskQueueFor } from '../../model/config';
import type { JobSpec } from '../../model/job';
import type { JobState } from '../../model/job-state';
import { WORKFLOW_TYPE } from '../../workflows/definitions';
import { presetOutput, testSpec } from '../helpers/spec';
import { startStack, type Stack } from '../helpers/stack';
import { makeClip, testBinaries } from '../helpers/media';

let stack: Stack;
let wrapper = '';

before(async () => {
  const real = await testBinaries();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-ffmpeg-wrapper-'));
  wrapper = path.join(dir, 'ffmpeg');
  await fs.writeFile(
    wrapper,
    [
      '#!/bin/sh',
      `real='${real.ffmpeg}'`,
      'for a in "$@"; do',
      '  case "$a" in',
      '    -encoders) "$real" "$@" | grep -v " libsvtav1 "; exit 0 ;;',
      // What a build without SVT-AV1 answers.
      '    libsvtav1) echo "Unknown encoder \'libsvtav1\'" >&2; exit 1 ;;',
      '    libvpx-vp9) echo "vp9 encoder crashed (test wrapper)" >&2; exit 1 ;;',
      '  esac',
      'done',
      'exec "$real" "$@"',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  stack = await startStack({ env: { FFMPEG_PATH: wrapper, FFPROBE_PATH: real.ffprobe } });
  const src = path.join(stack.dataDir, 'src.mp4');
  await makeClip(src, { width: 320, height: 240, durationSec: 1 });
  await stack.storage.put('raw/src.mp4', createReadStream(src));
});
after(async () => {
  await stack?.stop();
});

function spec(outputs: JobSpec['outputs']): JobSpec {
  return testSpec('raw/src.mp4', outputs, { outputPrefix: 'out/', snapshots: [], retryWindowSec: 1 });
}

function start(s: JobSpec) {
  return stack.client.workflow.start(WORKFLOW_TYPE, { workflowId: s.id, taskQueue: taskQueueFor(stack.config, s.pipeline), args: [s] });
}

/** The part of a Temporal failure (history event, pending activity) the UI shows. */
interface FailureView {
  message?: string | null;
  applicationFailureInfo?: { type?: string | null; nonRetryable?: boolean | null; details?: { payloads?: { data?: Uint8Array | null }[] | null } | null } | null;
}

/** The first detail of a failure, decoded as the UI shows it. */
function detailOf(failure: FailureView | null | undefined): Record<string, unknown> {
  const payload = failure?.applicationFailureInfo?.details?.payloads?.[0];
  assert.ok(payload?.data, `no details on ${JSON.stringify(failure?.message)}`);
  return JSON.parse(Buffer.from(payload.data).toString('utf8')) as Record<string, unknown>;
}

describe('encoders', { timeout: 300_000 }, () => {
  test('an AV1 output on a worker without libsvtav1 fails once with EncoderMissing; the H.264 output beside it succeeds', async () => {
    const s = spec([presetOutput('av1', 'mp4-av1-720p'), presetOutput('h264', 'mp4-h264-360p')]);
    const handle = await start(s);
    const state = (await handle.result()) as JobState;
    const av1 = state.tasks.find((t) => t.id.includes('av1'));
    assert.ok(av1, JSON.stringify(state.tasks.map((t) => t.id)));
    assert.equal(av1.status, 'failed');
    assert.equal(av1.error?.code, 'EncoderMissing');
    assert.equal(av1.error?.retryable, false);
    assert.match(av1.error?.message ?? '', /libsvtav1/);
    assert.equal(av1.attempts, 1, 'a missing encoder is not retried');
    assert.deepEqual(state.outputs.map((o) => o.name), ['h264']);
    // Both renditions share one run: the AV1 one fails alone, the run makes the other. An AV1
    // output alone fails the activity itself: its failure in the history (the Temporal UI's view)
    // names the encoder and the command.
    const alone = await start(spec([presetOutput('av1', 'mp4-av1-720p')]));
    assert.equal(((await alone.result()) as JobState).tasks.find((t) => t.id.includes('av1'))?.error?.code, 'EncoderMissing');
    const failure: FailureView | null | undefined = (await alone.fetchHistory()).events?.find((e) => e.activityTaskFailedEventAttributes)?.activityTaskFailedEventAttributes?.failure;
    assert.equal(failure?.applicationFailureInfo?.type, 'EncoderMissing');
    assert.equal(failure?.applicationFailureInfo?.nonRetryable, true);
    const detail = detailOf(failure);
    assert.deepEqual(detail.missing, ['libsvtav1']);
    assert.equal(detail.attempt, 1);
    const argv = detail.argv as string[];
    assert.equal(argv[0], wrapper);
    assert.equal(argv[argv.indexOf('-c:v') + 1], 'libsvtav1');
  });

  test('a failing ffmpeg run shows its argv and the end of its stderr in the activity failure, while it is retried', async () => {
    const s = spec([presetOutput('vp9', 'webm-vp9-720p')]);
    const handle = await start(s);
    try {
      let lastFailure: FailureView | null | undefined;
      const deadline = Date.now() + 120_000;
      while (!lastFailure) {
        assert.ok(Date.now() < deadline, 'no failed attempt within 2 min');
        const pending = (await handle.describe()).raw.pendingActivities ?? [];
        lastFailure = pending.find((a) => a.activityType?.name === 'encode' && a.lastFailure)?.lastFailure;
        if (!lastFailure) await new Promise((r) => setTimeout(r, 250));
      }
      assert.equal(lastFailure.applicationFailureInfo?.type, 'EncodeFailed');
      assert.equal(lastFailure.applicationFailureInfo?.nonRetryable, false);
      const detail = detailOf(lastFailure);
      const argv = detail.argv as string[];
      assert.equal(argv[0], wrapper);
      assert.equal(argv[argv.indexOf('-c:v') + 1], 'libvpx-vp9');
      // The output goes to this worker's scratch directory; the input is a local cached file.
      assert.ok(argv.at(-1)!.startsWith(path.join(stack.dataDir, 'work')), argv.at(-1));
      assert.ok(argv.every((a) => !a.includes('://')), 'no URL in the argv');
      assert.match(String(detail.stderr), /vp9 encoder crashed \(test wrapper\)/);
      assert.equal(detail.attempt, 1);
    } finally {
      await handle.terminate('test done');
    }
  });
});

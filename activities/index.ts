/** The activities of mediaJob, built from their dependencies so tests pass real ones without mocking. */
import { Context, ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { errorCodes, MediaflowError } from '../model/errors';
import type { JobInput } from '../model/job';
import type { JobState, MediaInfo, NotificationState, OutputState, SnapshotState } from '../model/job-state';
import type { SnapshotTask, TranscodeTask } from '../media/plan';
import type { ActivityDeps } from './deps';
import { createProbe } from './probe';
import { createRenderers, withHeartbeats } from './transcode';
import { createEncoder, type RenditionResult } from './encode';
import { createChunkedEncoder, type ChunkedGroup } from './chunks';
import type { Chunk } from '../media/chunks';
import { createSnapshotRenderer } from './snapshot';
import { createPackager, type PackageInput } from './package';
import { createWatermarker, type WatermarkAsset } from './watermark';
import type { WatermarkTask } from '../media/plan';
import { listAll } from '../storage/storage';
import { postJson } from '../storage/fetch-url';
import { signedHeaders, webhookSecret } from './webhook';
import { metrics } from '../observability/metrics';
import { jobForTenant } from '../model/job-view';
import { createPipelineStore } from '../db/pipelines';
import { withLocalInput } from './local-input';
import { createQualityMeter } from './quality';
import { createLadderAnalyzer } from './ladder';
import type { JobSpec } from '../model/job';
import type { AutoLadderState } from '../model/job-state';
import type { QualityTask } from '../media/plan';
import type { QualityScore } from '../model/job-state';

export type { ActivityDeps } from './deps';

/**
 * The job's input as activities take it. `inputKey` is the shape workflows started before URL and
 * bucket inputs existed still send (their histories replay it), so both are accepted.
 */
export type InputArg = { input: JobInput } | { inputKey: string };

/** The JobInput of an activity argument, whichever shape it came in. */
export function inputOf(arg: InputArg | JobInput | string): JobInput {
  if (typeof arg === 'string') return { key: arg };
  if ('inputKey' in arg) return { key: arg.inputKey };
  if ('input' in arg) return arg.input;
  return arg;
}

export type TranscodeInput = InputArg & { task: TranscodeTask };

export type SnapshotInput = InputArg & { task: SnapshotTask };

/** Renditions of one input range, encoded by one ffmpeg process (decode once). */
export type EncodeInput = InputArg & { tasks: TranscodeTask[] };

/** A long input's renditions, encoded in chunks: the audio, one chunk, or the join. */
export type ChunkedInput = InputArg & { group: ChunkedGroup };

export interface NotifyInput {
  url: string;
  /** The job's tenant: the callback shows keys relative to its part of the store (absent: default). */
  tenant?: string;
  /** Stable across attempts of one delivery, so a receiver can drop duplicates. */
  webhookId: string;
  event: NotificationState['event'];
  job: JobState;
}

/** Results carry the attempt that produced them, so the job can show it. */
export interface Attempted<T> {
  value: T;
  attempt: number;
}

/** How long an activity runs before the job is told it is `running` (see `coded`). */
export const ANNOUNCE_AFTER_MS = 1000;

/**
 * Converts what an activity threw into what Temporal should see: our coded errors become
 * ApplicationFailures whose type is the code (non-retryable per the code table), with the
 * attempt number as detail; cancellation passes through untouched.
 */

async function coded<T>(fn: () => Promise<T>, announce?: ActivityDeps['announceStarted']): Promise<T> {
  const { activityType, currentAttemptScheduledTimestampMs, activityId, attempt, workflowExecution } = Context.current().info;
  // Not awaited: a slow signal must not hold up the work; a lost one only delays `running` in the
  // job. Sent once the run has lasted ANNOUNCE_AFTER_MS: an activity that is done by then (a probe,
  // a poster, a small encode) shows its result instead, and costs the workflow no extra task.
  const announcement =
    announce && workflowExecution
      ? setTimeout(() => {
          announce(workflowExecution.workflowId, activityId, attempt).catch((err: unknown) => {
            console.warn(JSON.stringify({ level: 'warn', msg: 'could not announce an activity start', activityId, error: err instanceof Error ? err.message : String(err) }));
          });
        }, ANNOUNCE_AFTER_MS)
      : undefined;
  metrics.queueLag.observe({ activity: activityType }, Math.max(0, Date.now() - currentAttemptScheduledTimestampMs) / 1000);
  const timer = metrics.activityDuration.startTimer({ activity: activityType });
  try {
    const value = await fn();
    timer({ outcome: 'ok' });
    return value;
  } catch (err) {
    timer({ outcome: err instanceof CancelledFailure ? 'canceled' : 'failed' });
    const attempt = Context.current().info.attempt;
    // A canceled run says which attempt it was, so the job shows the attempts a canceled task made.
    if (err instanceof CancelledFailure) throw new CancelledFailure(err.message, [{ attempt }], err.cause);
    if (err instanceof ApplicationFailure) throw err;
    if (err instanceof MediaflowError) {
      throw ApplicationFailure.create({
        type: err.code,
        message: err.message,
        nonRetryable: !errorCodes[err.code].retryable,
        details: [{ ...err.details, attempt }],
      });
    }
    throw ApplicationFailure.create({
      type: 'Internal',
      message: err instanceof Error ? err.message : String(err),
      details: [{ attempt }],
      cause: err instanceof Error ? err : undefined,
    });
  } finally {
    clearTimeout(announcement);
  }
}

/**
 * @example const worker = await Worker.create({ ..., activities: createActivities({ config, storage, binaries, workDir }) })
 */
export function createActivities(deps: ActivityDeps) {
  const probe = createProbe(deps);
  const render = createRenderers(deps);
  const encodeRenditions = createEncoder(deps);
  const chunked = createChunkedEncoder(deps);
  /** Activities that carry a job's tasks announce their start, so those tasks show `running`. */
  const tracked = <T>(fn: () => Promise<T>): Promise<T> => coded(fn, deps.announceStarted);
  const renderSnapshot = createSnapshotRenderer(deps);
  const packageRungs = createPackager(deps);
  const prepareWatermark = createWatermarker(deps);
  const measureQuality = createQualityMeter(deps);
  const analyze = createLadderAnalyzer(deps);
  return {
    async probeInput(input: JobInput | string): Promise<Attempted<MediaInfo>> {
      return tracked(() => withHeartbeats(async () => ({ value: await probe(inputOf(input)), attempt: Context.current().info.attempt })));
    },
    async transcode(input: TranscodeInput): Promise<Attempted<OutputState>> {
      return tracked(async () => ({ value: await render.transcode(inputOf(input), input.task), attempt: Context.current().info.attempt }));
    },
    /**
     * A URL input fetched once (under the URL rules and the minimum transfer rate) and stored
     * under `key` in the job's folder; resolves the input every later activity reads.
     */
    async stageInput(input: { input: JobInput; key: string }): Promise<Attempted<JobInput>> {
      return tracked(() =>
        withHeartbeats(async () => {
          if (!('url' in input.input)) return { value: input.input, attempt: Context.current().info.attempt };
          await withLocalInput(deps, input.input, (file) => deps.storage.putFile(input.key, file));
          return { value: { key: input.key }, attempt: Context.current().info.attempt };
        }),
      );
    },
    /** Outputs in the order of `tasks`. */
    async encode(input: EncodeInput): Promise<Attempted<RenditionResult[]>> {
      return tracked(async () => ({ value: await encodeRenditions(inputOf(input), input.tasks), attempt: Context.current().info.attempt }));
    },
    /** A chunked group's audio, each distinct setting once over the whole range; resolves the stored keys. */
    async encodeAudio(input: ChunkedInput): Promise<Attempted<string[]>> {
      return tracked(async () => ({ value: await chunked.encodeAudio(inputOf(input), input.group), attempt: Context.current().info.attempt }));
    },
    /** One chunk of a chunked group: every video rendition from one decode of its range. */
    async encodeChunk(input: ChunkedInput & { chunk: Chunk }): Promise<Attempted<null>> {
      return tracked(async () => {
        await chunked.encodeChunk(inputOf(input), input.group, input.chunk);
        return { value: null, attempt: Context.current().info.attempt };
      });
    },
    /** A chunked group's renditions joined by stream copy with their audio; outputs in the order of the tasks. */
    async joinRenditions(input: { group: ChunkedGroup; chunkCount: number }): Promise<Attempted<RenditionResult[]>> {
      return tracked(async () => ({ value: await chunked.joinRenditions(input.group, input.chunkCount), attempt: Context.current().info.attempt }));
    },
    async snapshot(input: SnapshotInput): Promise<Attempted<SnapshotState>> {
      return tracked(async () => ({ value: await renderSnapshot(inputOf(input), input.task), attempt: Context.current().info.attempt }));
    },
    async watermark(input: { task: WatermarkTask }): Promise<Attempted<WatermarkAsset>> {
      return tracked(async () => ({ value: await prepareWatermark(input.task), attempt: Context.current().info.attempt }));
    },
    /** SSIM/PSNR (VMAF when this ffmpeg has it) of an encoded rendition against its source frames. */
    async measureQuality(input: InputArg & { task: QualityTask }): Promise<Attempted<QualityScore>> {
      return tracked(async () => ({ value: await measureQuality(inputOf(input), input.task), attempt: Context.current().info.attempt }));
    },
    /** A per-title (`auto: true`) ladder: sample encodes of the input, and each rung's rate for the target. */
    async analyzeLadder(input: InputArg & { spec: JobSpec; media: MediaInfo; output: string }): Promise<Attempted<AutoLadderState>> {
      return tracked(async () => ({ value: await analyze(inputOf(input), input.spec, input.media, input.output), attempt: Context.current().info.attempt }));
    },
    async packageOutput(input: PackageInput): Promise<Attempted<OutputState>> {
      return tracked(async () => ({ value: await packageRungs(input), attempt: Context.current().info.attempt }));
    },
    /** Whether a job held by its pipeline may go; a deleted pipeline holds nothing. */
    async pipelineState(input: { tenant: string; pipeline: string }): Promise<'active' | 'paused'> {
      return coded(async () => {
        const p = await createPipelineStore(await deps.db()).get(input.tenant, input.pipeline);
        return p?.state ?? 'active';
      });
    },
    /**
     * Removes objects: the given keys and everything under the given prefixes (a canceled job's
     * folder, a ladder's intermediate rungs). Already-absent keys are fine (a retried cleanup).
     */
    async removeObjects(keys: string[], prefixes: string[] = []): Promise<void> {
      return coded(async () => {
        for (const key of keys) await deps.storage.delete(key);
        for (const prefix of prefixes) {
          for await (const o of listAll(deps.storage, prefix)) await deps.storage.delete(o.key);
        }
      });
    },
    async notify(input: NotifyInput): Promise<Attempted<null>> {
      return coded(async () => {
        const info = Context.current().info;
        const now = new Date();
        const body = JSON.stringify({ type: input.event, timestamp: now.toISOString(), data: jobForTenant(input.job, input.tenant ?? 'default') });
        const status = await postJson(input.url, body, signedHeaders(await webhookSecret(deps.config), input.webhookId, body, now), {
          allowPrivate: deps.config.ALLOW_PRIVATE_URLS,
          timeoutMs: deps.config.NOTIFY_TIMEOUT_SEC * 1000,
        });
        if (status < 200 || status >= 300) throw new MediaflowError('NotifyFailed', `the callback answered HTTP ${status}`);
        return { value: null, attempt: info.attempt };
      });
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

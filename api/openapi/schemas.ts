/**
 * zod schemas of what the API answers. The job JSON and friends are TypeScript types elsewhere
 * (model/job-state.ts, db/); each schema here is checked against its type at compile time, so a
 * field added there and not here fails `npm run typecheck` rather than drifting from the docs.
 * `meta({ id })` names a schema's component in /openapi.json.
 */
import { z } from 'zod';
import { errorCodes, type ErrorCode } from '../../model/errors';
import type { JobState, JobStatus, TaskKind, TaskStatus } from '../../model/job-state';
import { templateId, templateSchemas, type Template } from '../../model/templates';
import type { Pipeline } from '../../db/pipelines';
import { jobSubmitSchema } from '../../model/job';
import { pipelineCreateSchema, pipelinePatchSchema } from '../../model/pipeline';
import { apiKeyCreateSchema, apiKeyCreatedSchema, apiKeySchema } from '../../model/tenant';

/** True when A and B are assignable both ways (optional vs `| undefined` tolerated). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Compiles only when its type argument is `true`. */
function sameShape<T extends true>(_proof?: T): void {}

export const jobStatuses = ['queued', 'probing', 'processing', 'succeeded', 'failed', 'canceled'] as const satisfies readonly JobStatus[];
sameShape<Same<(typeof jobStatuses)[number], JobStatus>>();
const taskKinds = ['probe', 'watermark', 'transcode', 'snapshot', 'package', 'notify', 'quality', 'analyze'] as const satisfies readonly TaskKind[];
sameShape<Same<(typeof taskKinds)[number], TaskKind>>();
const taskStatuses = ['pending', 'queued', 'running', 'succeeded', 'failed', 'canceled', 'skipped'] as const satisfies readonly TaskStatus[];
sameShape<Same<(typeof taskStatuses)[number], TaskStatus>>();

const time = z.iso.datetime({ offset: true }).meta({ examples: ['2026-11-27T12:00:00.000Z'] });
const nonNegInt = z.number().int().min(0);

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int().min(400).max(599),
    detail: z.string(),
    code: z.enum(Object.keys(errorCodes) as [ErrorCode, ...ErrorCode[]]),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details; `errors` names each failing field' });

const jobError = z.object({ code: z.string(), message: z.string(), retryable: z.boolean() });

const media = z.object({
  durationSec: z.number(),
  still: z.boolean().optional(),
  container: z.string(),
  sizeBytes: nonNegInt,
  video: z
    .object({
      codec: z.string(),
      width: z.number().int(),
      height: z.number().int(),
      fps: z.number(),
      fpsRational: z.string().optional().describe('the average frame rate exactly, as a fraction (`30000/1001`)'),
      rotation: z.number(),
      pixFmt: z.string().nullable(),
      sar: z.tuple([z.number(), z.number()]),
    })
    .nullable(),
  audio: z.array(z.object({ codec: z.string(), channels: z.number().int(), sampleRate: z.number().int() })),
  subtitles: z
    .array(
      z.object({
        index: nonNegInt.describe("its place among the input's subtitle streams (0: the first)"),
        codec: z.string(),
        text: z.boolean().describe('text (carried into outputs) rather than pictures (PGS, DVB: skipped)'),
        language: z.string().nullable(),
        title: z.string().nullable(),
        default: z.boolean().optional(),
        forced: z.boolean().optional(),
      }),
    )
    .optional()
    .describe('subtitle streams of the input; absent when it has none'),
});

const concatClip = z.object({ startSec: z.number(), durationSec: z.number().nullable() }).nullable();
const qualityScore = z
  .object({
    ssim: z.number().min(0).max(1).describe('mean SSIM (ffmpeg ssim `All`) over the compared frames'),
    psnr: z.number().describe('PSNR in dB over all planes, from the mean MSE (capped at 100)'),
    vmaf: z.number().nullable().describe('pooled VMAF when the worker\'s ffmpeg has libvmaf; null otherwise (see vmafReason)'),
    vmafReason: z.string().optional(),
    frames: nonNegInt,
    method: z.string().describe('what was compared with what'),
  })
  .meta({ id: 'QualityScore', description: 'scores of an encoded rendition against the source frames it was made from (`quality: true`)' });

const autoLadder = z
  .object({
    targetSsim: z.number(),
    samples: z.array(z.object({ startSec: z.number(), durationSec: z.number() })),
    checkWindows: z.array(z.object({ startSec: z.number(), durationSec: z.number() })).describe('where the check encodes at the chosen rates went (the whole input when it is short)'),
    crfPoints: z.array(z.number()),
    rungs: z.array(
      z.object({
        name: z.string(),
        width: z.number().int(),
        height: z.number().int(),
        templateKbps: z.number(),
        targetSsim: z.number().describe("the SSIM this rung aims for: the rung's own targetSsim, else the ladder's"),
        chosenKbps: z.number().nullable(),
        measuredSsim: z.number().nullable().describe('SSIM of the check encode at the chosen rate'),
        measuredKbps: z.number().nullable().describe('mean rate the check encode really used'),
        kept: z.boolean(),
        reason: z.string(),
        points: z.array(z.object({ crf: z.number(), kbps: z.number(), ssim: z.number() })),
      }),
    ),
  })
  .meta({ id: 'AutoLadder', description: 'what a per-title (`auto: true`) ladder measured and chose, per rung' });

export const jobSchema = z.object({
  id: z.string(),
  status: z.enum(jobStatuses),
  progress: z.number().min(0).max(1),
  pipeline: z.string(),
  createdAt: time,
  startedAt: time.nullable(),
  finishedAt: time.nullable(),
  input: z.union([
    z.object({ key: z.string(), bucket: z.string().optional(), media: media.nullable() }),
    z.object({ url: z.string(), media: media.nullable() }),
  ]),
  inputs: z
    .array(
      z.union([
        z.object({ key: z.string(), bucket: z.string().optional(), clip: concatClip, media: media.nullable() }),
        z.object({ url: z.string(), clip: concatClip, media: media.nullable() }),
      ]),
    )
    .optional()
    .describe('a concatenation: every input in order, with its clip and probe result (`input` is the first)'),
  tasks: z.array(
    z.object({
      id: z.string(),
      kind: z.enum(taskKinds),
      status: z.enum(taskStatuses),
      progress: z.number().min(0).max(1),
      attempts: nonNegInt,
      error: jobError.nullable(),
      activity: z.string().optional().meta({ description: 'the Temporal activity carrying this task now (one encode may carry several renditions)' }),
      chunks: nonNegInt.optional().meta({ description: 'a rendition encoded in chunks: how many' }),
    }),
  ),
  outputs: z.array(
    z.object({
      name: z.string(),
      key: z.string(),
      sizeBytes: nonNegInt,
      durationSec: z.number(),
      video: z.object({ codec: z.string(), width: z.number().int(), height: z.number().int(), bitrateKbps: z.number().nullable() }).nullable(),
      audio: z
        .object({ codec: z.string(), channels: z.number().int(), sampleRate: z.number().int(), bitrateKbps: z.number().nullable() })
        .nullable(),
      renditions: z
        .array(
          z.object({
            name: z.string(),
            key: z.string(),
            width: z.number().int(),
            height: z.number().int(),
            fps: z.number(),
            codecs: z.string(),
            bandwidth: z.number().nullable().describe('peak bits per second over its segments (HLS BANDWIDTH; DASH: the representation @bandwidth)'),
            quality: qualityScore.optional(),
          }),
        )
        .optional(),
      subtitles: z
        .array(
          z.object({
            language: z.string(),
            name: z.string(),
            default: z.boolean(),
            forced: z.boolean(),
            key: z.string().optional().describe("HLS: the track's playlist; DASH: its WebVTT file"),
          }),
        )
        .optional()
        .describe('subtitle tracks the output carries (MP4: mov_text, WebM: WebVTT, HLS/DASH: WebVTT renditions)'),
      quality: qualityScore.optional(),
      autoLadder: autoLadder.optional(),
    }),
  ),
  snapshots: z.array(z.object({ name: z.string(), keys: z.array(z.string()) })),
  notifications: z.array(
    z.object({
      event: z.enum(['job.succeeded', 'job.failed', 'job.canceled']),
      status: z.enum(['pending', 'delivered', 'failed', 'skipped']),
      attempts: nonNegInt,
    }),
  ),
  error: jobError.nullable(),
  userData: z.string().nullable(),
  notes: z.array(z.object({ at: time, message: z.string() })).optional(),
}).meta({ id: 'Job' });
sameShape<Same<z.infer<typeof jobSchema>, JobState>>();

export const jobAcceptedSchema = z.object({
  id: z.string(),
  status: z.enum(jobStatuses),
  links: z.object({ self: z.string(), temporalUi: z.url() }),
}).meta({ id: 'JobAccepted' });

export const jobSummarySchema = z.object({
  id: z.string(),
  status: z.enum(jobStatuses),
  pipeline: z.string(),
  createdAt: time,
  finishedAt: time.nullable().meta({ description: 'when processing ended, as the job itself says (before its callback; set while a failed job waits out its retry window); null while it runs' }),
}).meta({ id: 'JobSummary' });
export type JobSummary = z.infer<typeof jobSummarySchema>;

export const jobListSchema = z.object({
  jobs: z.array(jobSummarySchema),
  nextPageToken: z.string().nullable().meta({ description: 'pass as `pageToken` for the next page; null on the last page' }),
}).meta({ id: 'JobList' });

export const cancelAcceptedSchema = z.object({
  id: z.string(),
  status: z.enum(jobStatuses).meta({ description: 'the status when the cancellation was requested' }),
  cancelRequested: z.literal(true),
}).meta({ id: 'CancelAccepted' });

export const retryAcceptedSchema = z.object({ id: z.string(), status: z.literal('processing'), tasks: z.array(z.string()) }).meta({ id: 'RetryAccepted' });

const stored = { id: z.string(), system: z.boolean(), createdAt: time.nullable(), updatedAt: time.nullable() };

/** A template as the API shows it: its own fields plus id, system and timestamps. */
export const templateSchema = z.discriminatedUnion('kind', [
  z.object({ ...templateSchemas.transcode.shape, ...stored }),
  z.object({ ...templateSchemas.snapshot.shape, ...stored }),
  z.object({ ...templateSchemas.watermark.shape, ...stored }),
]).meta({ id: 'Template' });
sameShape<Same<z.infer<typeof templateSchema>, Template & { id: string; system: boolean; createdAt: string | null; updatedAt: string | null }>>();

export const templateListSchema = z.object({ templates: z.array(templateSchema) }).meta({ id: 'TemplateList' });

/** POST/PUT /v1/templates: one kind's template (its checks included) plus the id. */
function templateBody<I extends z.ZodType>(id: I) {
  return z.discriminatedUnion('kind', [
    templateSchemas.transcode.safeExtend({ id }),
    templateSchemas.snapshot.safeExtend({ id }),
    templateSchemas.watermark.safeExtend({ id }),
  ]);
}
export const templateCreateSchema = templateBody(templateId).meta({ id: 'TemplateCreate' });
export const templateReplaceSchema = templateBody(z.string().optional().meta({ description: 'the id of the path, or absent' })).meta({ id: 'TemplateReplace' });

/** Request bodies defined in model/, under their component names. */
export const jobSubmitBody = jobSubmitSchema.meta({ id: 'JobSubmit' });
export const pipelineCreateBody = pipelineCreateSchema.meta({ id: 'PipelineCreate' });
export const pipelinePatchBody = pipelinePatchSchema.meta({ id: 'PipelinePatch' });
export const keyCreateBody = apiKeyCreateSchema.meta({ id: 'KeyCreate' });
export const keySchema = apiKeySchema.meta({ id: 'Key' });
export const keyListSchema = z.object({ keys: z.array(keySchema) }).meta({ id: 'KeyList' });
export const keyCreatedSchema = apiKeyCreatedSchema.meta({ id: 'KeyCreated' });

export const pipelineSchema = z.object({
  id: z.string(),
  state: z.enum(['active', 'paused']),
  priority: z.number().int().min(1).max(10),
  notify: z.object({ url: z.string() }).nullable(),
  createdAt: time,
  updatedAt: time,
}).meta({ id: 'Pipeline' });
sameShape<Same<z.infer<typeof pipelineSchema>, Pipeline>>();

export const pipelinePatchedSchema = pipelineSchema.extend({
  released: nonNegInt.meta({ description: 'jobs held in `queued` that this `state: active` released (0 when the body does not set it)' }),
}).meta({ id: 'PipelineUpdated' });

export const pipelineListSchema = z.object({ pipelines: z.array(pipelineSchema) }).meta({ id: 'PipelineList' });

export const objectPutSchema = z.object({ key: z.string(), sizeBytes: nonNegInt, etag: z.string() }).meta({ id: 'ObjectStored' });

export const healthSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });
export const readySchema = z.object({ status: z.literal('ready'), checks: z.record(z.string(), z.string()) }).meta({ id: 'Ready' });

/** The job submission schema (API input) and the resolved spec a workflow runs from. */
import { z } from 'zod';
import { bucketProblem, keyProblem } from './keys';
import {
  snapshotOverrideFields,
  templateId,
  transcodeOverridesSchema,
  watermarkOverrideFields,
  type SnapshotSettings,
  type TranscodeTemplate,
  type WatermarkSettings,
} from './templates';

export const MAX_USER_DATA_BYTES = 1024;

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'letters, digits, "_" and "-", starting with a letter or digit, at most 64');

export const objectKeySchema = z.string().superRefine((key, ctx) => {
  const problem = keyProblem(key);
  if (problem) ctx.addIssue({ code: 'custom', message: `object key ${problem}` });
});

const outputPrefix = z.string().superRefine((prefix, ctx) => {
  if (prefix === '') return;
  if (!prefix.endsWith('/')) {
    ctx.addIssue({ code: 'custom', message: 'must be empty or end with "/"' });
    return;
  }
  const problem = keyProblem(prefix, { allowTrailingSlash: true });
  if (problem) ctx.addIssue({ code: 'custom', message: `prefix ${problem}` });
});

const httpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http or https URL' })
  .max(2048);

const bucketName = z.string().superRefine((bucket, ctx) => {
  const problem = bucketProblem(bucket);
  if (problem) ctx.addIssue({ code: 'custom', message: `bucket name ${problem}` });
});

/** What a job reads: an object in the configured store (or, with OSS, another allowed bucket), or a URL. */
export type JobInput = { key: string; bucket?: string } | { url: string };

/**
 * `input`: one object with optional fields rather than a union, so a bad key is reported as
 * `input.key` (a union would only say `input`), then narrowed to JobInput.
 */
export const jobInputSchema = z
  .strictObject({
    key: objectKeySchema.optional(),
    /** OSS only: read the key from this bucket instead of the configured one. */
    bucket: bucketName.optional(),
    /** http(s) only; fetched by the worker under the URL rules (public addresses, size and time limits). */
    url: httpUrl.optional(),
  })
  .superRefine((input, ctx) => {
    if ((input.key === undefined) === (input.url === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of "key" (an object) or "url"' });
    }
    if (input.bucket !== undefined && input.url !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['bucket'], message: '"bucket" goes with "key", not with "url"' });
    }
  })
  .transform((input): JobInput =>
    input.url !== undefined ? { url: input.url } : { key: input.key!, ...(input.bucket !== undefined ? { bucket: input.bucket } : {}) },
  );

/** The most inputs one concatenation job may join. */
export const MAX_CONCAT_INPUTS = 10;

/** One input of a concatenation: what to read (as `input`) and, optionally, only part of it. */
export const jobConcatInputSchema = z
  .strictObject({
    key: objectKeySchema.optional(),
    bucket: bucketName.optional(),
    url: httpUrl.optional(),
    /** Only this part of this input: from `startSec`, for `durationSec` seconds (default: to its end). */
    clip: z.strictObject({ startSec: z.number().min(0), durationSec: z.number().positive().optional() }).optional(),
  })
  .superRefine((input, ctx) => {
    if ((input.key === undefined) === (input.url === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of "key" (an object) or "url"' });
    }
    if (input.bucket !== undefined && input.url !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['bucket'], message: '"bucket" goes with "key", not with "url"' });
    }
  })
  .transform((i): ConcatInput => {
    const { clip, ...rest } = i;
    const input: JobInput = rest.url !== undefined ? { url: rest.url } : { key: rest.key!, ...(rest.bucket !== undefined ? { bucket: rest.bucket } : {}) };
    return { input, clip: clip ? { startSec: clip.startSec, durationSec: clip.durationSec ?? null } : null };
  });

/** One input of a concatenation job, resolved: its clip (null: the whole input). */
export interface ConcatInput {
  input: JobInput;
  clip: { startSec: number; durationSec: number | null } | null;
}

/** A short, secret-free description of an input for logs and the Temporal UI (URL queries may hold signatures). */
export function describeInput(input: JobInput): string {
  if ('url' in input) {
    const u = new URL(input.url);
    return `${u.origin}${u.pathname}${u.search ? '?…' : ''}`;
  }
  return input.bucket ? `oss://${input.bucket}/${input.key}` : input.key;
}

/** A watermark on an output: a watermark template, inline settings, or a template with inline overrides. */
export const jobWatermarkSchema = z.strictObject({ template: templateId.optional(), ...watermarkOverrideFields });

/** A language as BCP 47 (`en`, `pt-BR`) or ISO 639-2 (`eng`, `ger`) spells it. */
export const languageSchema = z
  .string()
  .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$/, 'a language code such as "en", "pt-BR" or "eng"');

/** An uploaded `.srt` or `.vtt` object attached to a job: a subtitle track of every output that carries subtitles. */
export const jobSubtitleSchema = z.strictObject({
  /** The object (SRT or WebVTT), in the tenant's part of the store like `input.key`; at most SUBTITLE_MAX_BYTES. */
  key: objectKeySchema,
  language: languageSchema,
  /** Shown in players' menus (HLS NAME, DASH Label, the MP4 track's title); default: the language. */
  name: z.string().min(1).max(64).optional(),
  /** The track players select by default. */
  default: z.boolean().optional(),
  /** Forced: shown even with subtitles off. */
  forced: z.boolean().optional(),
});

/**
 * Subtitles burnt into the picture (ffmpeg's `subtitles` filter, libass): one of the input's
 * subtitle tracks (`track`: 0 = its first subtitle stream; or the first with `language`), or an
 * uploaded `.srt`/`.vtt`/`.ass` object (`key`).
 */
export const burnSubtitlesSchema = z
  .strictObject({
    track: z.number().int().min(0).max(63).optional(),
    language: languageSchema.optional(),
    key: objectKeySchema.optional(),
  })
  .superRefine((b, ctx) => {
    const given = [b.track, b.language, b.key].filter((x) => x !== undefined).length;
    if (given !== 1) ctx.addIssue({ code: 'custom', message: 'give exactly one of "track", "language" or "key"' });
  });

export const jobOutputSchema = z.strictObject({
  name,
  template: templateId,
  overrides: transcodeOverridesSchema.optional(),
  /** Only this part of the input: from `start` seconds, for `duration` seconds (default: to the end). */
  clip: z.strictObject({ start: z.number().min(0), duration: z.number().positive().optional() }).optional(),
  watermarks: z.array(jobWatermarkSchema).max(4).optional(),
  /** Which audio track of the input (0 = the first); default: the track marked default, else the first. */
  audioTrack: z.number().int().min(0).max(31).optional(),
  /** Burn a subtitle track into the picture (video outputs). */
  burnSubtitles: burnSubtitlesSchema.optional(),
  /** Score the output against the source (SSIM, PSNR; VMAF when available) in the job JSON; overrides the template's `quality`. */
  quality: z.boolean().optional(),
});

/** A snapshot: a snapshot template, inline settings (time | interval | count, format, size, sprite), or both. */
export const jobSnapshotSchema = z.strictObject({ name, template: templateId.optional(), ...snapshotOverrideFields });

/** POST /v1/jobs body. */
export const jobSubmitSchema = z
  .strictObject({
    /** The input; exactly one of `input` and `inputs`. */
    input: jobInputSchema.optional(),
    /** Several inputs joined, in order, into each output (concatenation); exactly one of `input` and `inputs`. */
    inputs: z.array(jobConcatInputSchema).min(2).max(MAX_CONCAT_INPUTS).optional(),
    pipeline: templateId.default('default'),
    outputs: z.array(jobOutputSchema).max(20).default([]),
    /** Omitted: one `poster` JPEG. An empty list: no snapshots. */
    snapshots: z.array(jobSnapshotSchema).max(20).optional(),
    outputPrefix: outputPrefix.default(''),
    /** Uploaded subtitle files added as tracks to every MP4/MOV/WebM/HLS/DASH output, after the input's own text tracks. */
    subtitles: z.array(jobSubtitleSchema).max(16).optional(),
    notify: z.strictObject({ url: httpUrl }).optional(),
    userData: z
      .string()
      .refine((s) => Buffer.byteLength(s, 'utf8') <= MAX_USER_DATA_BYTES, `must be at most ${MAX_USER_DATA_BYTES} bytes`)
      .optional(),
  })
  .superRefine((job, ctx) => {
    concatRules(job, ctx);
    if (job.outputs.length === 0 && (job.snapshots?.length ?? 0) === 0 && job.snapshots !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['outputs'], message: 'a job needs at least one output or snapshot' });
    }
    const seen = new Map<string, string>();
    const named = [
      ...job.outputs.map((o, i) => [o.name, `outputs.${i}.name`] as const),
      ...(job.snapshots ?? []).map((s, i) => [s.name, `snapshots.${i}.name`] as const),
    ];
    for (const [n, where] of named) {
      const first = seen.get(n);
      if (first) {
        ctx.addIssue({ code: 'custom', path: where.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)), message: `name "${n}" is already used by ${first}` });
      } else seen.set(n, where);
    }
  });

/**
 * Exactly one of `input` and `inputs`; a concatenation takes its ranges from `inputs[].clip` and
 * each input's default audio track, so outputs carry neither `clip` nor `audioTrack`.
 */
function concatRules(
  job: { input?: unknown; inputs?: unknown[] | undefined; outputs: { clip?: unknown; audioTrack?: number | undefined }[] },
  ctx: z.RefinementCtx,
): void {
  if (job.input === undefined && job.inputs === undefined) {
    ctx.addIssue({ code: 'custom', path: ['input'], message: 'give "input" (one input) or "inputs" (2 or more, joined)' });
  }
  if (job.input !== undefined && job.inputs !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['inputs'], message: 'give either "input" or "inputs", not both' });
  }
  if (job.inputs === undefined) return;
  job.outputs.forEach((o, i) => {
    if (o.clip !== undefined) ctx.addIssue({ code: 'custom', path: ['outputs', i, 'clip'], message: 'with "inputs", clip each input (inputs[].clip) instead' });
    if (o.audioTrack !== undefined) ctx.addIssue({ code: 'custom', path: ['outputs', i, 'audioTrack'], message: 'with "inputs", each input\'s default audio track is used' });
  });
}

export type JobSubmit = z.infer<typeof jobSubmitSchema>;
export type JobSnapshotRequest = z.infer<typeof jobSnapshotSchema>;

/** A watermark with its template merged in and validated. */
export interface ResolvedWatermark {
  templateId: string | null;
  settings: WatermarkSettings;
}

/** An output with its template resolved at submission: editing the template later changes nothing. */
export interface ResolvedOutput {
  name: string;
  templateId: string;
  template: TranscodeTemplate;
  clip: { start: number; duration: number | null } | null;
  watermarks: ResolvedWatermark[];
  /** null: the default track. */
  audioTrack?: number | null;
  /** Subtitles burnt into the picture: an input track (by index or language) or a store key; absent: none. */
  burnSubtitles?: { track?: number; language?: string; key?: string };
  /** The job's own `quality` (absent: the template's). */
  quality?: boolean;
}

/** An attached subtitle file, its key scoped to the tenant at submission. */
export interface ResolvedSubtitle {
  key: string;
  language: string;
  name: string | null;
  default: boolean;
  forced: boolean;
}

/** A snapshot with its template merged in and validated (exactly one of time, interval, count). */
export interface ResolvedSnapshot {
  name: string;
  templateId: string | null;
  settings: SnapshotSettings;
}

/** What the mediaJob workflow runs from: everything resolved, nothing looked up later. */
export interface JobSpec {
  id: string;
  tenant: string;
  pipeline: string;
  /** The pipeline's Temporal priority at submission (1 first … 5 last). */
  priorityKey: number;
  createdAt: string;
  /** The input; for a concatenation, the first of `inputs`. */
  input: JobInput;
  /** Set for a concatenation: the inputs joined, in order, into each output. */
  inputs?: ConcatInput[];
  outputs: ResolvedOutput[];
  /** null: the default poster. */
  snapshots: ResolvedSnapshot[] | null;
  outputPrefix: string;
  notify: { url: string } | null;
  userData: string | null;
  /** How long a failed job stays open for a retry before its workflow closes. */
  retryWindowSec: number;
  /** The pipeline was paused at submission: wait in `queued` until it is active. */
  waitForPipeline: boolean;
  /** How long inputs are cut into chunks (the API's configuration at submission); absent: the defaults. */
  chunking?: ChunkSettings;
  /** Attached subtitle files (job field `subtitles`); absent: none. */
  subtitles?: ResolvedSubtitle[];
}

/** How a job cuts long inputs into chunks that any worker may encode. */
export interface ChunkSettings {
  /** Inputs (or clips) at least this long are encoded in chunks; shorter ones in one run. */
  minDurationSec: number;
  /** The chunk length aimed at; rounded up to a whole number of every rendition's GOP and segment. */
  chunkSec: number;
  /** Chunks of one job scheduled at once: the rest wait in the workflow, not in the task queue. */
  maxParallel: number;
}

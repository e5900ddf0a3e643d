/** Template schemas (transcode presets for now) and their inline overrides. */
import { z } from 'zod';

export const templateId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lowercase letters, digits, ".", "_" and "-", at most 64');

const videoFields = {
  codec: z.enum(['h264']),
  /** H.264 profile; High plays on every device sold this decade. */
  profile: z.enum(['baseline', 'main', 'high']),
  /** x264 speed/quality trade-off. */
  preset: z.enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower']),
  crf: z.number().int().min(0).max(51),
  bitrateKbps: z.number().int().min(50).max(200_000),
  maxrateKbps: z.number().int().min(50).max(400_000),
  bufsizeKbps: z.number().int().min(50).max(800_000),
  width: z.number().int().min(16).max(7680),
  height: z.number().int().min(16).max(4320),
  fps: z.number().positive().max(120),
  gopSec: z.number().min(0.25).max(20),
};

const audioFields = {
  codec: z.enum(['aac']),
  bitrateKbps: z.number().int().min(16).max(512),
  sampleRate: z.union([z.literal(22050), z.literal(32000), z.literal(44100), z.literal(48000)]),
  channels: z.union([z.literal(1), z.literal(2)]),
};

const transConfigFields = {
  /** Never scale a source up to the template's size (the default). */
  noUpscale: z.boolean(),
  aspect: z.enum(['keep']),
};

const video = z
  .strictObject({
    ...videoFields,
    profile: videoFields.profile.optional(),
    preset: videoFields.preset.optional(),
    crf: videoFields.crf.optional(),
    bitrateKbps: videoFields.bitrateKbps.optional(),
    maxrateKbps: videoFields.maxrateKbps.optional(),
    bufsizeKbps: videoFields.bufsizeKbps.optional(),
    width: videoFields.width.optional(),
    height: videoFields.height.optional(),
    fps: videoFields.fps.optional(),
    gopSec: videoFields.gopSec.optional(),
  })
  .superRefine((v, ctx) => {
    if (v.crf !== undefined && v.bitrateKbps !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['crf'], message: 'give either crf or bitrateKbps, not both' });
    }
    if (v.maxrateKbps !== undefined && v.bitrateKbps !== undefined && v.maxrateKbps < v.bitrateKbps) {
      ctx.addIssue({ code: 'custom', path: ['maxrateKbps'], message: 'must be at least bitrateKbps' });
    }
  });

const audio = z.strictObject({
  ...audioFields,
  bitrateKbps: audioFields.bitrateKbps.optional(),
  sampleRate: audioFields.sampleRate.optional(),
  channels: audioFields.channels.optional(),
});

/** A transcode template: what one output file looks like. */
export const transcodeTemplateSchema = z
  .strictObject({
    kind: z.literal('transcode'),
    container: z.enum(['mp4']),
    video: video.optional(),
    audio: audio.optional(),
    transConfig: z.strictObject({
      noUpscale: transConfigFields.noUpscale.optional(),
      aspect: transConfigFields.aspect.optional(),
    }).optional(),
  })
  .refine((t) => t.video !== undefined || t.audio !== undefined, {
    message: 'a template needs video, audio or both',
  });

export type TranscodeTemplate = z.infer<typeof transcodeTemplateSchema>;

/** Inline overrides on a job output: any template field, deep-merged, then validated as a whole. */
export const transcodeOverridesSchema = z.strictObject({
  video: z.strictObject(videoFields).partial().optional(),
  audio: z.strictObject(audioFields).partial().optional(),
  transConfig: z.strictObject(transConfigFields).partial().optional(),
});

export type TranscodeOverrides = z.infer<typeof transcodeOverridesSchema>;

/** Plain-object deep merge: objects merge key by key, everything else replaces. */
export function deepMerge<T extends object>(base: T, patch: object | undefined): T {
  if (!patch) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch)) {
    const prev = out[k];
    out[k] =
      isPlainObject(prev) && isPlainObject(v) ? deepMerge(prev, v) : v === undefined ? prev : v;
  }
  return out as T;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

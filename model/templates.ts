/**
 * Template schemas — transcode (files and HLS/DASH ladders), snapshot, watermark — and the
 * inline overrides a job output may apply. The same schemas validate API bodies, type the code
 * and (later) generate the OpenAPI document.
 */
import { z } from 'zod';

export const templateId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lowercase letters, digits, ".", "_" and "-", at most 64');

export const videoCodecs = ['h264', 'h265', 'vp9', 'av1'] as const;
export const audioCodecs = ['aac', 'mp3', 'opus'] as const;
export const containers = ['mp4', 'mov', 'webm', 'm4a', 'mp3', 'ogg', 'hls', 'dash'] as const;
export type VideoCodec = (typeof videoCodecs)[number];
export type AudioCodec = (typeof audioCodecs)[number];
export type Container = (typeof containers)[number];

/** What each container can carry; streaming containers are built from a ladder of rungs. */
export const containerRules: Record<Container, { video: readonly VideoCodec[]; audio: readonly AudioCodec[]; streaming: boolean }> = {
  mp4: { video: ['h264', 'h265', 'av1'], audio: ['aac', 'mp3', 'opus'], streaming: false },
  mov: { video: ['h264', 'h265'], audio: ['aac'], streaming: false },
  webm: { video: ['vp9', 'av1'], audio: ['opus'], streaming: false },
  m4a: { video: [], audio: ['aac'], streaming: false },
  mp3: { video: [], audio: ['mp3'], streaming: false },
  ogg: { video: [], audio: ['opus'], streaming: false },
  hls: { video: ['h264', 'h265'], audio: ['aac'], streaming: true },
  dash: { video: ['h264', 'h265', 'vp9', 'av1'], audio: ['aac', 'opus'], streaming: true },
};

export const videoProfiles: Record<VideoCodec, readonly string[]> = {
  h264: ['baseline', 'main', 'high'],
  h265: ['main', 'main10'],
  vp9: ['0', '2'],
  av1: ['main'],
};

/** Encoder speed, named as x264 names it; mapped to each encoder's own scale by the builders. */
export const encoderPresets = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower'] as const;

const videoFields = {
  codec: z.enum(videoCodecs),
  profile: z.string().max(16),
  level: z.string().regex(/^[1-6](\.[0-3])?$/, 'a level such as "4.1"'),
  preset: z.enum(encoderPresets),
  crf: z.number().int().min(0).max(63),
  bitrateKbps: z.number().int().min(50).max(200_000),
  maxrateKbps: z.number().int().min(50).max(400_000),
  bufsizeKbps: z.number().int().min(50).max(800_000),
  width: z.number().int().min(16).max(7680),
  height: z.number().int().min(16).max(4320),
  fps: z.number().positive().max(120),
  gopSec: z.number().min(0.25).max(20),
  pixFmt: z.enum(['yuv420p', 'yuv420p10le']),
};

const audioFields = {
  codec: z.enum(audioCodecs),
  bitrateKbps: z.number().int().min(16).max(512),
  sampleRate: z.union([z.literal(16000), z.literal(22050), z.literal(24000), z.literal(32000), z.literal(44100), z.literal(48000)]),
  channels: z.union([z.literal(1), z.literal(2)]),
  /** EBU R128 loudness normalisation (integrated -23 LUFS, true peak -1 dBTP). */
  loudnorm: z.boolean(),
};

const transConfigFields = {
  /** Never scale a source up to the template's size (the default). */
  noUpscale: z.boolean(),
  /** keep: fit inside the box; pad: fit and letterbox to the box; crop: fill the box and cut; stretch: fill, distorting. */
  aspect: z.enum(['keep', 'pad', 'crop', 'stretch']),
};

/**
 * The highest target SSIM: five nines, so that a target can ask for an SSIM that shows as 1.0000
 * at four decimals (≥ 0.99995; a still picture at a generous rate reaches it).
 */
export const MAX_TARGET_SSIM = 0.99999;

const rungFields = {
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/),
  width: videoFields.width,
  height: videoFields.height,
  bitrateKbps: videoFields.bitrateKbps,
  maxrateKbps: videoFields.maxrateKbps,
  bufsizeKbps: videoFields.bufsizeKbps,
  /** An auto ladder: this rung's own target SSIM (instead of the ladder's `targetSsim`). */
  targetSsim: z.number().min(0.5).max(MAX_TARGET_SSIM),
};

/** Per-title ladders (issue 15 item 5): the rungs' rates fitted to each input. */
const perTitleFields = {
  /** Measure the input with short sample encodes and choose each rung's rate (at most twice its bitrateKbps) for `targetSsim`; drop rungs that add little. */
  auto: z.boolean().optional(),
  /** The SSIM (0.5…0.99999, at the rung's own size) each rung's rate aims for, unless the rung has its own; default 0.95. */
  targetSsim: z.number().min(0.5).max(MAX_TARGET_SSIM).optional(),
};

/** Scores against the source (SSIM, PSNR, VMAF when available) in the job JSON; video outputs only. */
const qualityField = { quality: z.boolean().optional() };

function partial<T extends z.ZodRawShape>(shape: T) {
  return z.strictObject(shape).partial();
}

const videoSchema = partial(videoFields).required({ codec: true });
const audioSchema = partial(audioFields).required({ codec: true });
const rungSchema = partial(rungFields).required({ name: true, bitrateKbps: true });
const ladderSchema = z.strictObject({
  segmentSec: z.number().min(1).max(20).optional(),
  rungs: z.array(rungSchema).min(1).max(8),
  ...perTitleFields,
});

/** HLS packaging: an audio-only variant, AES-128 encryption of the segments. */
const hlsSchema = z.strictObject({
  /** Also list the audio on its own as a variant (for listeners on a very slow link). */
  audioOnlyVariant: z.boolean().optional(),
  encryption: z
    .strictObject({
      method: z.literal('aes-128'),
      /**
       * The key URI written into the playlists. Default: the key file beside the output, by a
       * relative URI. `{key}` is replaced by the key file's object key (e.g. a key server behind
       * your own auth: `https://keys.example.com/v1/keys?k={key}`).
       */
      keyUri: z.string().min(1).max(1024).regex(/^[^\s"]+$/, 'no spaces or double quotes').optional(),
      /** A new key every this many segments (default: one key for the whole output). */
      rotateEverySegments: z.number().int().min(1).max(10000).optional(),
    })
    .optional(),
});
export type HlsSettings = z.infer<typeof hlsSchema>;

type Ctx = z.core.$RefinementCtx;

/** Default target of a per-title ladder: the SSIM each rung's rate is chosen to reach (see README, Per-title ladders). */
export const DEFAULT_TARGET_SSIM = 0.95;

function checkRate(v: { crf?: number | undefined; bitrateKbps?: number | undefined; maxrateKbps?: number | undefined }, ctx: Ctx, at: (string | number)[]): void {
  if (v.crf !== undefined && v.bitrateKbps !== undefined) {
    ctx.addIssue({ code: 'custom', path: [...at, 'crf'], message: 'give either crf or bitrateKbps, not both' });
  }
  if (v.maxrateKbps !== undefined && v.bitrateKbps !== undefined && v.maxrateKbps < v.bitrateKbps) {
    ctx.addIssue({ code: 'custom', path: [...at, 'maxrateKbps'], message: 'must be at least bitrateKbps' });
  }
}

/** The rules that span fields: container × codec, profiles, bit depth, ladders. */
function checkTranscode(t: TranscodeTemplate, ctx: Ctx): void {
  const rules = containerRules[t.container];
  if (!t.video && !t.audio) ctx.addIssue({ code: 'custom', path: [], message: 'a template needs video, audio or both' });
  if (t.video) {
    if (!rules.video.length) ctx.addIssue({ code: 'custom', path: ['video'], message: `a ${t.container} file carries no video` });
    else if (!rules.video.includes(t.video.codec)) {
      ctx.addIssue({ code: 'custom', path: ['video', 'codec'], message: `${t.container} carries ${rules.video.join(', ')}, not ${t.video.codec}` });
    }
    const profiles = videoProfiles[t.video.codec];
    if (t.video.profile !== undefined && !profiles.includes(t.video.profile)) {
      ctx.addIssue({ code: 'custom', path: ['video', 'profile'], message: `${t.video.codec} profiles: ${profiles.join(', ')}` });
    }
    const tenBit = t.video.pixFmt === 'yuv420p10le';
    const tenBitProfile = { h264: null, h265: 'main10', vp9: '2', av1: 'main' }[t.video.codec];
    if (tenBit && tenBitProfile === null) ctx.addIssue({ code: 'custom', path: ['video', 'pixFmt'], message: '10-bit H.264 does not play on most devices; use h265, vp9 or av1' });
    if (tenBit && t.video.profile !== undefined && tenBitProfile !== null && t.video.profile !== tenBitProfile) {
      ctx.addIssue({ code: 'custom', path: ['video', 'profile'], message: `10-bit ${t.video.codec} needs profile ${tenBitProfile}` });
    }
    if (!tenBit && t.video.profile !== undefined && (t.video.profile === 'main10' || (t.video.codec === 'vp9' && t.video.profile === '2'))) {
      ctx.addIssue({ code: 'custom', path: ['video', 'pixFmt'], message: `profile ${t.video.profile} needs pixFmt yuv420p10le` });
    }
    if (t.video.level !== undefined && t.video.codec !== 'h264' && t.video.codec !== 'h265') {
      ctx.addIssue({ code: 'custom', path: ['video', 'level'], message: 'levels apply to h264 and h265 only' });
    }
    checkRate(t.video, ctx, ['video']);
  }
  if (t.audio && !rules.audio.includes(t.audio.codec)) {
    ctx.addIssue({ code: 'custom', path: ['audio', 'codec'], message: `${t.container} carries ${rules.audio.join(', ')} audio, not ${t.audio.codec}` });
  }
  if (rules.streaming) {
    if (!t.ladder) ctx.addIssue({ code: 'custom', path: ['ladder'], message: `a ${t.container} template needs a ladder of rungs` });
    if (!t.video) ctx.addIssue({ code: 'custom', path: ['video'], message: `a ${t.container} template needs video settings for its rungs` });
    if (t.video && (t.video.width !== undefined || t.video.height !== undefined || t.video.bitrateKbps !== undefined || t.video.crf !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['video'], message: 'sizes and bit rates of a ladder belong to its rungs' });
    }
    const names = new Set<string>();
    t.ladder?.rungs.forEach((r, i) => {
      if (names.has(r.name)) ctx.addIssue({ code: 'custom', path: ['ladder', 'rungs', i, 'name'], message: `rung name "${r.name}" is used twice` });
      names.add(r.name);
      if (r.width === undefined && r.height === undefined) ctx.addIssue({ code: 'custom', path: ['ladder', 'rungs', i], message: 'a rung needs a width, a height or both' });
      checkRate(r, ctx, ['ladder', 'rungs', i]);
    });
  } else if (t.ladder) {
    ctx.addIssue({ code: 'custom', path: ['ladder'], message: 'only hls and dash templates have a ladder' });
  }
  if (t.quality && !t.video) ctx.addIssue({ code: 'custom', path: ['quality'], message: 'quality scores compare pictures: this template has no video' });
  if (t.ladder?.targetSsim !== undefined && !t.ladder.auto) ctx.addIssue({ code: 'custom', path: ['ladder', 'targetSsim'], message: 'targetSsim applies to an auto ladder (auto: true)' });
  t.ladder?.rungs.forEach((r, i) => {
    if (r.targetSsim !== undefined && !t.ladder!.auto) ctx.addIssue({ code: 'custom', path: ['ladder', 'rungs', i, 'targetSsim'], message: 'targetSsim applies to an auto ladder (auto: true)' });
  });
  checkHls(t, ctx);
}

function checkHls(t: TranscodeTemplate, ctx: Ctx): void {
  if (!t.hls) return;
  if (t.container !== 'hls') ctx.addIssue({ code: 'custom', path: ['hls'], message: 'only hls templates have hls settings' });
  const e = t.hls.encryption;
  if (e?.keyUri !== undefined) {
    if (!/^(https?:\/\/|[^:]*$)/i.test(e.keyUri)) ctx.addIssue({ code: 'custom', path: ['hls', 'encryption', 'keyUri'], message: 'an https/http URL or a relative URI' });
    // Several keys behind one URI: a player would fetch the first key for every segment.
    if (e.rotateEverySegments !== undefined && !e.keyUri.includes('{key}')) {
      ctx.addIssue({ code: 'custom', path: ['hls', 'encryption', 'keyUri'], message: 'with rotateEverySegments the key URI must contain {key} (each key has its own URI)' });
    }
  }
}

const transcodeShape = {
  kind: z.literal('transcode'),
  container: z.enum(containers),
  video: videoSchema.optional(),
  audio: audioSchema.optional(),
  transConfig: partial(transConfigFields).optional(),
  ladder: ladderSchema.optional(),
  hls: hlsSchema.optional(),
  ...qualityField,
};

const transcodeBase = z.strictObject(transcodeShape);
export type TranscodeTemplate = z.infer<typeof transcodeBase>;
/** What one output file (or one HLS/DASH presentation) looks like. */
export const transcodeTemplateSchema = transcodeBase.superRefine(checkTranscode);
export type Rung = z.infer<typeof rungSchema>;

/** Inline overrides on a job output: any template field, deep-merged, then validated as a whole. */
export const transcodeOverridesSchema = z.strictObject({
  container: z.enum(containers).optional(),
  video: partial(videoFields).optional(),
  audio: partial(audioFields).optional(),
  transConfig: partial(transConfigFields).optional(),
  // Rungs may be left out: `{ ladder: { auto: true } }` keeps the template's rungs (given, they replace them).
  ladder: ladderSchema.partial({ rungs: true }).optional(),
  hls: hlsSchema.optional(),
  ...qualityField,
});
export type TranscodeOverrides = z.infer<typeof transcodeOverridesSchema>;

const snapshotFields = {
  /** One frame, this many seconds in. */
  time: z.number().min(0).max(7 * 24 * 3600),
  /** One frame every this many seconds. */
  interval: z.number().min(0.1).max(3600),
  /** This many frames, evenly spaced. */
  count: z.number().int().min(1).max(1000),
  format: z.enum(['jpg', 'png', 'webp']),
  width: z.number().int().min(16).max(7680),
  height: z.number().int().min(16).max(4320),
  /** Tile the frames into one image, with a WebVTT track of `#xywh=` cues for player scrubbing. */
  sprite: z.strictObject({ columns: z.number().int().min(1).max(50), rows: z.number().int().min(1).max(50).optional() }),
};

const snapshotSettings = partial(snapshotFields);
export type SnapshotSettings = z.infer<typeof snapshotSettings>;

/** Exactly one of time, interval, count; sprites only from several frames. */
export function checkSnapshot(s: SnapshotSettings, ctx: Ctx, at: (string | number)[] = []): void {
  const modes = (['time', 'interval', 'count'] as const).filter((m) => s[m] !== undefined);
  if (modes.length !== 1) {
    ctx.addIssue({ code: 'custom', path: at, message: `give exactly one of time, interval or count${modes.length ? ` (got ${modes.join(', ')})` : ''}` });
  }
  if (s.sprite && s.time !== undefined) ctx.addIssue({ code: 'custom', path: [...at, 'sprite'], message: 'a sprite needs several frames: use interval or count' });
}

const snapshotBase = z.strictObject({ kind: z.literal('snapshot'), ...snapshotSettings.shape });
export type SnapshotTemplate = z.infer<typeof snapshotBase>;
export const snapshotTemplateSchema = snapshotBase.superRefine((s, ctx) => checkSnapshot(s, ctx));
export const snapshotOverrideFields = snapshotSettings.shape;

const watermarkFields = {
  /** A PNG (alpha respected) or JPEG object in the store. */
  image: z.strictObject({ key: z.string().min(1).max(1024) }),
  text: z.strictObject({
    content: z.string().min(1).max(200),
    color: z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a colour like #ffffff').optional(),
  }),
  position: z.enum(['TL', 'TR', 'BL', 'BR', 'center']),
  /** Offsets from the anchored corner, in output pixels. */
  dx: z.number().int().min(0).max(4000),
  dy: z.number().int().min(0).max(4000),
  /** Watermark width as a fraction of the output width. */
  widthRel: z.number().min(0.01).max(1),
  opacity: z.number().min(0).max(1),
  startSec: z.number().min(0),
  durationSec: z.number().positive(),
};

const watermarkSettings = partial(watermarkFields);
export type WatermarkSettings = z.infer<typeof watermarkSettings>;

export function checkWatermark(w: WatermarkSettings, ctx: Ctx, at: (string | number)[] = []): void {
  if ((w.image === undefined) === (w.text === undefined)) ctx.addIssue({ code: 'custom', path: at, message: 'give exactly one of image or text' });
}

const watermarkBase = z.strictObject({ kind: z.literal('watermark'), ...watermarkSettings.shape });
export type WatermarkTemplate = z.infer<typeof watermarkBase>;
export const watermarkTemplateSchema = watermarkBase.superRefine((w, ctx) => checkWatermark(w, ctx));
export const watermarkOverrideFields = watermarkSettings.shape;

export type Template = TranscodeTemplate | SnapshotTemplate | WatermarkTemplate;
export type TemplateKind = Template['kind'];

/** Any template, by kind: what POST/PUT /v1/templates accept (plus the id). */
export const templateSchemas = {
  transcode: transcodeTemplateSchema,
  snapshot: snapshotTemplateSchema,
  watermark: watermarkTemplateSchema,
} as const;

/** Plain-object deep merge: objects merge key by key, everything else (arrays too) replaces. */
export function deepMerge<T extends object>(base: T, patch: object | undefined): T {
  if (!patch) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch)) {
    const prev = out[k];
    out[k] = isPlainObject(prev) && isPlainObject(v) ? deepMerge(prev, v) : v === undefined ? prev : v;
  }
  return out as T;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

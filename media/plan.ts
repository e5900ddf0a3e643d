/**
 * The planner: job spec (templates resolved) + probe result → tasks with exact encoding
 * parameters. Pure and deterministic; the workflow calls it, the unit tests table-drive it.
 */
import type { JobSpec, ResolvedOutput, ResolvedSnapshot, ResolvedWatermark } from '../model/job';
import type { JobError, MediaInfo } from '../model/job-state';
import type { AudioCodec, Container, HlsSettings, TranscodeTemplate, VideoCodec } from '../model/templates';
import { outputKey } from '../model/keys';
import type { ConcatPlan } from './concat-types';
import { constantRate, parseRate, rateFromNumber, rateText, rateValue, type Rate } from './rate';
import { planBurn, planSubtitles, subtitleNotes, type BurnPlan, type SubtitlePlan } from './subtitles';

export type { BurnPlan, SubtitlePlan };

export type FitMode = 'keep' | 'pad' | 'crop' | 'stretch';

export interface VideoPlan {
  codec: VideoCodec;
  profile: string;
  level: string | null;
  preset: string;
  pixFmt: 'yuv420p' | 'yuv420p10le';
  /** The scale step's size; equals width × height except for pad and crop. */
  scaleWidth: number;
  scaleHeight: number;
  /** The output frame size. */
  width: number;
  height: number;
  fit: FitMode;
  /** Interlaced source: deinterlaced (one frame per frame) before scaling. */
  deinterlace: boolean;
  /** Constant output frame rate, to the thousandth: the source's (VFR normalised) or the template's cap, never higher. */
  fps: number;
  /**
   * The same rate exactly (`30000/1001`): what the fps filter and the GOP use. The planner always
   * sets it; a task scheduled by an older worker (and retried by this one) may lack it.
   */
  fpsRational?: string;
  gopFrames: number;
  crf: number | null;
  bitrateKbps: number | null;
  maxrateKbps: number | null;
  bufsizeKbps: number | null;
}

export interface AudioPlan {
  codec: AudioCodec;
  /** Which audio stream of the input (0: the first, or the default-flagged one when ffprobe says so). */
  streamIndex: number;
  bitrateKbps: number;
  sampleRate: number;
  channels: number;
  loudnorm: boolean;
}

export interface WatermarkPlan {
  /** The watermark task that prepares the overlay asset. */
  taskId: string;
  assetKey: string;
  position: 'TL' | 'TR' | 'BL' | 'BR' | 'center';
  dx: number;
  dy: number;
  widthPx: number;
  opacity: number;
  startSec: number;
  endSec: number | null;
}

export interface TranscodeTask {
  id: string;
  kind: 'transcode';
  name: string;
  /** The file this task writes (for a streaming rung: that rung's file inside the presentation folder). */
  outputKey: string;
  container: Exclude<Container, 'hls' | 'dash'> | 'fmp4';
  video: VideoPlan | null;
  audio: AudioPlan | null;
  clip: { startSec: number; durationSec: number } | null;
  /** Expected output duration, for progress and time limits. */
  durationSec: number;
  watermarks: WatermarkPlan[];
  /** Set for the rungs of an HLS/DASH output. */
  rung: { output: string; name: string; segmentSec: number } | null;
  /** Set for a concatenation job (`inputs[]`): the inputs this task joins, read instead of the job's input. */
  concat?: ConcatPlan;
  /** Subtitle tracks muxed into the file (MP4/MOV: mov_text, WebM: WebVTT); absent: none. */
  subtitles?: SubtitlePlan[];
  /** Subtitles burnt into the picture; absent: none. */
  burn?: BurnPlan;
}

export interface PackageTask {
  id: string;
  kind: 'package';
  name: string;
  format: 'hls' | 'dash';
  /** master.m3u8 or manifest.mpd. */
  outputKey: string;
  segmentSec: number;
  /** Rung transcode task ids, highest first; packaging waits for all of them. */
  rungTaskIds: string[];
  /**
   * The audio tracks of the presentation (absent in tasks planned before audio groups, and when the
   * output has no audio). The track in `audio` is already in every rung (encoded once, shared); the
   * other tracks are encoded once by the package step with the same settings.
   */
  audio?: PackageAudio;
  /** HLS settings of the template (audio-only variant, encryption). */
  hls?: HlsSettings;
  /** WebVTT subtitle renditions beside the rungs; absent: none. */
  subtitles?: SubtitlePlan[];
  /** With subtitles: the part of the input the rungs show, which the tracks are cut to (null: all of it). */
  clip?: { startSec: number; durationSec: number } | null;
  /** The rungs' quality tasks (`quality: true`): they read the rung files, so packaging (which removes them) waits. */
  qualityTaskIds?: string[];
}

export interface PackageAudio {
  /** The rungs' audio: its settings and which input track it is. */
  plan: AudioPlan;
  clip: { startSec: number; durationSec: number } | null;
  /** Every track of the presentation, in input order (one of them is `plan.streamIndex`). */
  tracks: { streamIndex: number; language: string | null; default: boolean }[];
}

/** At most this many audio tracks of one input go into a presentation. */
export const MAX_AUDIO_TRACKS = 8;

/**
 * The audio tracks a streaming output carries: the one it names (alone), else every track of the
 * input (up to MAX_AUDIO_TRACKS, the rungs' own track always among them). The default is the track
 * the input marks default, else the rungs' track.
 */
export function packageAudio(media: MediaInfo, audio: AudioPlan, clip: PackageAudio['clip'], named: boolean): PackageAudio {
  const indexes = named ? [audio.streamIndex] : media.audio.map((_, i) => i).slice(0, MAX_AUDIO_TRACKS);
  if (!indexes.includes(audio.streamIndex)) indexes[indexes.length - 1] = audio.streamIndex;
  const marked = indexes.filter((i) => media.audio[i]?.default);
  const defaultIndex = marked.length === 1 ? marked[0]! : audio.streamIndex;
  return {
    plan: audio,
    clip,
    tracks: indexes.map((i) => ({ streamIndex: i, language: media.audio[i]?.language ?? null, default: i === defaultIndex })),
  };
}

/** Scores one video rendition (an output file or a ladder rung) against the source, after its encode. */
export interface QualityTask {
  id: string;
  kind: 'quality';
  name: string;
  /** The transcode task whose file is scored (its plan says which source frames, size and rate). */
  target: TranscodeTask;
}

export interface SnapshotTask {
  id: string;
  kind: 'snapshot';
  name: string;
  format: 'jpg' | 'png' | 'webp';
  /**
   * Seconds into the input, strictly increasing and at least one frame apart; each gives the
   * first frame at or after it, so no two times give the same frame.
   */
  times: number[];
  /** The size of each frame (of each cell, for a sprite). */
  width: number;
  height: number;
  /** One key per frame, or the sprite sheet and its WebVTT track. */
  keys: string[];
  /** A grid of the frames in order, row by row; `endSec` (the input's end) closes the last cue. */
  sprite: { columns: number; rows: number; imageKey: string; vttKey: string; endSec: number } | null;
  /** What the planner changed, and why (a time past the end, frames capped). */
  adjustments: string[];
}

export interface WatermarkTask {
  id: string;
  kind: 'watermark';
  source: { image: { key: string } } | { text: { content: string; color: string } };
  assetKey: string;
  /** The widest use across outputs: text renders at this width, images are checked against it. */
  widthPx: number;
  /** The tallest the watermark may be for its width (height / width) and still fit every output it is used on. */
  maxHeightRatio: number;
}

export type MediaTask = TranscodeTask | PackageTask | SnapshotTask | WatermarkTask | QualityTask;

/** A task the planner could not make, with the reason; the job reports it as a failed task. */
export interface RefusedTask {
  id: string;
  kind: MediaTask['kind'];
  error: JobError;
}

export interface Plan {
  tasks: MediaTask[];
  refused: RefusedTask[];
  /** What the job leaves out on purpose, and why (a bitmap subtitle track); absent: nothing. */
  notes?: string[];
}

const FALLBACK_FPS = 30;
const MAX_SNAPSHOT_FRAMES = 1000;
/** Sprite cells are thumbnails: this wide unless the snapshot asks for a size. */
const DEFAULT_SPRITE_WIDTH = 160;
/** A sprite sheet is one picture: its encoder's side limit, and a memory bound for the tiling. */
const MAX_SHEET_SIDE: Record<SnapshotTask['format'], number> = { jpg: 65535, png: 65535, webp: 16383 };
const MAX_SHEET_PIXELS = 8192 * 8192;
const DEFAULT_SEGMENT_SEC = 6;
const defaultAudioKbps: Record<AudioCodec, number> = { aac: 128, mp3: 128, opus: 96 };
const defaultCrf: Record<VideoCodec, number> = { h264: 23, h265: 28, vp9: 33, av1: 35 };
/** libopus takes these rates only; anything else is resampled to 48 kHz. */
const opusRates = new Set([48000, 24000, 16000]);

/** Rounds to the nearest even number, at least 2: 4:2:0 chroma needs even sizes. */
export function even(n: number): number {
  return Math.max(2, 2 * Math.round(n / 2));
}

/** The size a viewer sees: non-square pixels stretched, quarter-turn rotations applied. */
export function displaySize(media: MediaInfo): { width: number; height: number } | null {
  const v = media.video;
  if (!v) return null;
  const width = (v.width * v.sar[0]) / v.sar[1];
  return v.rotation === 90 || v.rotation === 270 ? { width: v.height, height: width } : { width, height: v.height };
}

type Box = { width?: number | undefined; height?: number | undefined };
type Size = { width: number; height: number };

/** Fits the display size into the box keeping the aspect ratio (`keep`). */
export function fitSize(display: Size, box: Box, noUpscale: boolean): Size {
  let scale = Math.min(
    box.width !== undefined ? box.width / display.width : Infinity,
    box.height !== undefined ? box.height / display.height : Infinity,
  );
  if (!Number.isFinite(scale)) scale = 1;
  if (noUpscale) scale = Math.min(scale, 1);
  return { width: even(display.width * scale), height: even(display.height * scale) };
}

/** The scale step and the final frame for each aspect mode. pad/crop/stretch need both box sides. */
export function frameFor(display: Size, box: Box, fit: FitMode, noUpscale: boolean): { scale: Size; frame: Size; fit: FitMode } {
  if (fit === 'keep' || box.width === undefined || box.height === undefined) {
    // A "720p" box means 720 lines on the short side: portrait video gets the box turned.
    const turn = box.width !== undefined && box.height !== undefined && display.height > display.width && box.width > box.height;
    const s = fitSize(display, turn ? { width: box.height, height: box.width } : box, noUpscale);
    return { scale: s, frame: s, fit: 'keep' };
  }
  const bw = box.width;
  const bh = box.height;
  if (fit === 'pad') {
    const inner = fitSize(display, box, noUpscale);
    return { scale: inner, frame: { width: even(bw), height: even(bh) }, fit };
  }
  if (fit === 'crop') {
    let scale = Math.max(bw / display.width, bh / display.height);
    if (noUpscale) scale = Math.min(scale, 1);
    const scaled = { width: even(display.width * scale), height: even(display.height * scale) };
    return { scale: scaled, frame: { width: even(Math.min(bw, scaled.width)), height: even(Math.min(bh, scaled.height)) }, fit };
  }
  const stretched = noUpscale
    ? { width: even(Math.min(bw, display.width)), height: even(Math.min(bh, display.height)) }
    : { width: even(bw), height: even(bh) };
  return { scale: stretched, frame: stretched, fit };
}

function refuse(id: string, kind: MediaTask['kind'], message: string): RefusedTask {
  return { id, kind, error: { code: 'OutputNotPossible', message, retryable: false } };
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** The source's average rate as the probe read it (snapshot spacing: the source's own frames). */
function sourceFps(media: MediaInfo): number {
  const fps = media.video?.fps ?? 0;
  return fps > 0 && fps <= 240 ? fps : FALLBACK_FPS;
}

/**
 * The constant rate of a video output: the source's rate exactly when it is a standard one, else
 * the nearest standard rate not above its average; a template's fps is a ceiling, never a raise.
 */
export function outputRate(media: MediaInfo, templateFps: number | undefined): Rate {
  const average = parseRate(media.video?.fpsRational);
  const source = average ? constantRate(average) : { num: FALLBACK_FPS, den: 1 };
  const cap = templateFps !== undefined ? rateFromNumber(templateFps) : null;
  return cap && rateValue(cap) < rateValue(source) ? cap : source;
}

/**
 * The rate of a probe result recorded before the exact rate existed (a replayed history): planned
 * as it was then (the decimal average, the template's cap), so the replay takes the same path.
 */
function recordedRate(media: MediaInfo, templateFps: number | undefined): number {
  const src = sourceFps(media);
  return round3(templateFps !== undefined && templateFps < src ? templateFps : src);
}

function defaultProfile(codec: VideoCodec, tenBit: boolean): string {
  if (codec === 'h264') return 'high';
  if (codec === 'h265') return tenBit ? 'main10' : 'main';
  if (codec === 'vp9') return tenBit ? '2' : '0';
  return 'main';
}

interface VideoBox extends Box {
  bitrateKbps?: number | undefined;
  maxrateKbps?: number | undefined;
  bufsizeKbps?: number | undefined;
  crf?: number | undefined;
}

function planVideo(t: TranscodeTemplate, display: Size, media: MediaInfo, box: VideoBox, gopSec: number): VideoPlan {
  const v = t.video!;
  const { scale, frame, fit } = frameFor(display, box, t.transConfig?.aspect ?? 'keep', t.transConfig?.noUpscale ?? true);
  // Never raise the frame rate: a template's fps is a ceiling.
  const rate = media.video?.fpsRational ? outputRate(media, v.fps) : null;
  const fps = rate ? round3(rateValue(rate)) : recordedRate(media, v.fps);
  const pixFmt = v.pixFmt ?? 'yuv420p';
  const bitrate = box.bitrateKbps ?? null;
  const maxrate = box.maxrateKbps ?? null;
  return {
    codec: v.codec,
    profile: v.profile ?? defaultProfile(v.codec, pixFmt === 'yuv420p10le'),
    level: v.level ?? null,
    preset: v.preset ?? 'veryfast',
    pixFmt,
    scaleWidth: scale.width,
    scaleHeight: scale.height,
    width: frame.width,
    height: frame.height,
    fit,
    deinterlace: media.video?.interlaced === true,
    fps,
    ...(rate ? { fpsRational: rateText(rate) } : {}),
    gopFrames: Math.max(1, Math.round(rate ? (gopSec * rate.num) / rate.den : gopSec * fps)),
    crf: bitrate !== null ? null : (box.crf ?? defaultCrf[v.codec]),
    bitrateKbps: bitrate,
    maxrateKbps: maxrate,
    bufsizeKbps: box.bufsizeKbps ?? (maxrate !== null ? maxrate * 2 : null),
  };
}

/**
 * Which audio track an output takes: the one it names, else the track the container marks as
 * default, else the first. A named track that does not exist is a reason, not a guess.
 */
export function chooseAudioTrack(media: MediaInfo, named: number | null): number | string {
  if (named !== null) {
    return named < media.audio.length ? named : `audio track ${named} does not exist (the input has ${media.audio.length})`;
  }
  const marked = media.audio.findIndex((a) => a.default);
  return marked >= 0 ? marked : 0;
}

function planAudio(t: TranscodeTemplate, media: MediaInfo, streamIndex: number): AudioPlan | null {
  const a = t.audio;
  const track = media.audio[streamIndex];
  // An input without audio gives an output without audio: no fake silent track.
  if (!a || !track) return null;
  const rate = a.sampleRate ?? 48000;
  return {
    codec: a.codec,
    streamIndex,
    bitrateKbps: a.bitrateKbps ?? defaultAudioKbps[a.codec],
    sampleRate: a.codec === 'opus' && !opusRates.has(rate) ? 48000 : rate,
    channels: Math.max(1, Math.min(a.channels ?? 2, track.channels || 2)),
    loudnorm: a.loudnorm ?? false,
  };
}

/** Checks a clip against the input; null when the output takes the whole input. */
function planClip(out: ResolvedOutput, media: MediaInfo): { startSec: number; durationSec: number } | string | null {
  if (!out.clip) return null;
  const { start, duration } = out.clip;
  if (start >= media.durationSec) return `the clip starts at ${start} s, at or after the end of the input (${media.durationSec} s)`;
  const rest = media.durationSec - start;
  return { startSec: round3(start), durationSec: round3(duration === null ? rest : Math.min(duration, rest)) };
}

function planWatermarks(out: ResolvedOutput, frameWidth: number, ids: Map<string, string>, prefix: string): WatermarkPlan[] {
  return out.watermarks.map((w) => {
    const taskId = ids.get(watermarkIdentity(w))!;
    const s = w.settings;
    const start = s.startSec ?? 0;
    return {
      taskId,
      assetKey: `${prefix}watermarks/${taskId.slice('watermark:'.length)}.png`,
      position: s.position ?? 'BR',
      dx: s.dx ?? 16,
      dy: s.dy ?? 16,
      widthPx: even(frameWidth * (s.widthRel ?? 0.15)),
      opacity: s.opacity ?? 1,
      startSec: start,
      endSec: s.durationSec !== undefined ? round3(start + s.durationSec) : null,
    };
  });
}

/** Two uses of the same image or text share one prepared asset. */
function watermarkIdentity(w: ResolvedWatermark): string {
  return JSON.stringify(w.settings.image ?? w.settings.text);
}

interface Context {
  spec: JobSpec;
  media: MediaInfo;
  display: Size | null;
  /** `{outputPrefix}{jobId}/` */
  prefix: string;
  watermarkIds: Map<string, string>;
}

function planTranscode(ctx: Context, out: ResolvedOutput): (TranscodeTask | PackageTask | RefusedTask)[] {
  const { spec, media, display, prefix } = ctx;
  const t = out.template;
  const id = `transcode:${out.name}`;
  if (media.still) {
    return [refuse(id, 'transcode', `output "${out.name}" is a ${t.container} file, which plays over time, and the input is a single still image: only snapshots can be made from it`)];
  }
  if (t.video && !display) return [refuse(id, 'transcode', `output "${out.name}" needs video, and the input has none (audio only)`)];
  const clip = planClip(out, media);
  if (typeof clip === 'string') return [refuse(id, 'transcode', `output "${out.name}": ${clip}`)];
  const track = chooseAudioTrack(media, out.audioTrack ?? null);
  if (typeof track === 'string') return [refuse(id, 'transcode', `output "${out.name}": ${track}`)];
  const audio = planAudio(t, media, track);
  const durationSec = clip?.durationSec ?? media.durationSec;
  const burn = planBurn(out, media);
  if (typeof burn === 'string') return [refuse(id, 'transcode', `output "${out.name}": ${burn}`)];
  if (burn && !t.video) return [refuse(id, 'transcode', `output "${out.name}": burnSubtitles needs a video output`)];
  const subtitles = planSubtitles(spec, media, t.container);
  const extras = { ...(subtitles.length ? { subtitles } : {}) };
  const burnt = burn ? { burn } : {};

  if (t.container === 'hls' || t.container === 'dash') {
    const ladder = t.ladder!;
    let segmentSec = ladder.segmentSec ?? DEFAULT_SEGMENT_SEC;
    // Keyframes must fall on segment boundaries: the GOP divides the segment evenly.
    const gopSec = segmentSec / Math.max(1, Math.ceil(segmentSec / (t.video?.gopSec ?? 2)));
    segmentSec = round3(segmentSec);
    const rungs: TranscodeTask[] = [];
    for (const r of ladder.rungs) {
      const video = planVideo(t, display!, media, { ...r }, gopSec);
      // Rungs that collapse onto one size (a source smaller than the top rungs) add nothing:
      // keep the one whose box fits that size best (the later, smaller box with its lower bit rate).
      const same = rungs.findIndex((x) => x.video!.width === video.width && x.video!.height === video.height);
      if (same >= 0) rungs.splice(same, 1);
      rungs.push({
        id: `transcode:${out.name}/${r.name}`,
        kind: 'transcode',
        name: `${out.name}/${r.name}`,
        outputKey: `${prefix}${out.name}/${r.name}.mp4`,
        container: 'fmp4',
        video,
        audio,
        clip,
        durationSec,
        watermarks: planWatermarks(out, video.width, ctx.watermarkIds, prefix),
        rung: { output: out.name, name: r.name, segmentSec },
        ...burnt,
      });
    }
    const pkg: PackageTask = {
      id: `package:${out.name}`,
      kind: 'package',
      name: out.name,
      format: t.container,
      outputKey: `${prefix}${out.name}/${t.container === 'hls' ? 'master.m3u8' : 'manifest.mpd'}`,
      segmentSec,
      rungTaskIds: rungs.map((r) => r.id),
      ...(audio ? { audio: packageAudio(media, audio, clip, out.audioTrack !== undefined && out.audioTrack !== null) } : {}),
      ...(t.hls ? { hls: t.hls } : {}),
      ...(subtitles.length ? { subtitles, clip } : {}),
    };
    return [...rungs, pkg];
  }

  const video = t.video && display ? planVideo(t, display, media, t.video, t.video.gopSec ?? 2) : null;
  if (!video && !audio) {
    return [refuse(id, 'transcode', `output "${out.name}" is audio only, and the input has no audio`)];
  }
  return [
    {
      id,
      kind: 'transcode',
      name: out.name,
      outputKey: outputKey(spec.outputPrefix, spec.id, out.name, t.container),
      container: t.container,
      video,
      audio,
      clip,
      durationSec,
      watermarks: video ? planWatermarks(out, video.width, ctx.watermarkIds, prefix) : [],
      rung: null,
      ...extras,
      ...burnt,
    },
  ];
}

/** The poster a job gets when it asks for no snapshots: 10 % in (title cards are often black), at most 10 s. */
export function defaultSnapshots(media: MediaInfo): ResolvedSnapshot[] {
  if (!media.video) return [];
  return [{ name: 'poster', templateId: null, settings: { time: round3(Math.min(media.durationSec * 0.1, 10)), format: 'jpg' } }];
}

/** The frame times of one snapshot, or the reason it cannot be made. */
function snapshotTimes(media: MediaInfo, s: ResolvedSnapshot['settings'], adjustments: string[]): number[] | string {
  if (media.still) {
    // One picture stands for every moment: any mode gives that one frame.
    if (s.sprite) return 'a sprite sheet needs several frames, and the input is a single still image';
    if (s.time !== undefined && s.time > 0) adjustments.push(`the input is a still image: its one picture stands for ${s.time} s`);
    if (s.interval !== undefined) adjustments.push(`the input is a still image: one frame, not one every ${s.interval} s`);
    if (s.count !== undefined && s.count > 1) adjustments.push(`the input is a still image: one frame, not ${s.count}`);
    return [0];
  }
  const fps = sourceFps(media);
  const frameSec = 1 / fps;
  // The last moment that still has a picture: two frames before the end.
  const last = round3(Math.max(0, media.durationSec - 2 * frameSec));
  if (s.time !== undefined) {
    if (s.time > last) adjustments.push(`time ${s.time} s is past the last frame; using ${last} s`);
    return [round3(Math.min(s.time, last))];
  }
  if (s.interval !== undefined) {
    const interval = s.interval;
    // Closer than a frame, two times would name the same picture.
    if (interval < frameSec - 1e-9) {
      return `an interval of ${interval} s is shorter than one frame of the input (${round3(frameSec)} s at ${fps} fps)`;
    }
    const n = Math.floor(last / interval + 1e-9) + 1;
    if (n > MAX_SNAPSHOT_FRAMES) {
      return `an interval of ${interval} s gives ${n} frames over ${media.durationSec} s, more than ${MAX_SNAPSHOT_FRAMES}`;
    }
    return Array.from({ length: n }, (_, i) => round3(i * interval));
  }
  // Distinct frames between the start and the last one: no more than that many times.
  const available = Math.floor(last * fps + 1e-9) + 1;
  const n = Math.min(s.count!, available);
  if (n < s.count!) adjustments.push(`${s.count} frames asked; the input has ${available} distinct frames, so ${n}`);
  // Evenly spaced, each in the middle of its share of the timeline; near the end, times that would
  // pass the last frame close up one frame apart instead of all landing on it.
  return Array.from({ length: n }, (_, i) => round3(Math.min((media.durationSec * (i + 0.5)) / n, last - (n - 1 - i) * frameSec)));
}

function planSnapshot(ctx: Context, snap: ResolvedSnapshot): SnapshotTask | RefusedTask {
  const { media, display, prefix } = ctx;
  const id = `snapshot:${snap.name}`;
  const s = snap.settings;
  if (!display) return refuse(id, 'snapshot', `snapshot "${snap.name}" needs video, and the input has none`);
  const format = s.format ?? 'jpg';
  const box = s.sprite && s.width === undefined && s.height === undefined ? { width: DEFAULT_SPRITE_WIDTH } : { width: s.width, height: s.height };
  const size = fitSize(display, box, true);
  const adjustments: string[] = [];
  const planned = snapshotTimes(media, s, adjustments);
  if (typeof planned === 'string') return refuse(id, 'snapshot', `snapshot "${snap.name}": ${planned}`);
  let times = planned;
  let sprite: SnapshotTask['sprite'] = null;
  let keys: string[];
  if (s.sprite) {
    const columns = Math.min(s.sprite.columns, times.length);
    const rows = s.sprite.rows ?? Math.ceil(times.length / columns);
    if (times.length > columns * rows) {
      adjustments.push(`${times.length} frames do not fit ${columns}x${rows}; keeping the first ${columns * rows}`);
      times = times.slice(0, columns * rows);
    }
    const sheetWidth = columns * size.width;
    const sheetHeight = rows * size.height;
    const maxSide = MAX_SHEET_SIDE[format];
    if (sheetWidth > maxSide || sheetHeight > maxSide || sheetWidth * sheetHeight > MAX_SHEET_PIXELS) {
      return refuse(
        id,
        'snapshot',
        `snapshot "${snap.name}": a ${columns}x${rows} sheet of ${size.width}x${size.height} cells is ${sheetWidth}x${sheetHeight} px, ` +
          `over the limit (${maxSide} px a side for ${format}, ${MAX_SHEET_PIXELS} px in all); use fewer columns or rows, or smaller cells`,
      );
    }
    sprite = { columns, rows, imageKey: `${prefix}${snap.name}.${format}`, vttKey: `${prefix}${snap.name}.vtt`, endSec: media.durationSec };
    keys = [sprite.imageKey, sprite.vttKey];
  } else if (times.length === 1) {
    keys = [`${prefix}${snap.name}.${format}`];
  } else {
    keys = times.map((_, i) => `${prefix}${snap.name}/${String(i + 1).padStart(5, '0')}.${format}`);
  }
  return { id, kind: 'snapshot', name: snap.name, format, times, width: size.width, height: size.height, keys, sprite, adjustments };
}

/**
 * Plans every output, snapshot and watermark of a job; what cannot be made is refused with a
 * reason, and the rest still runs.
 *
 * @example const { tasks, refused } = planJob(spec, mediaInfo)
 */
export function planJob(spec: JobSpec, media: MediaInfo): Plan {
  const ctx: Context = { spec, media, display: displaySize(media), prefix: `${spec.outputPrefix}${spec.id}/`, watermarkIds: new Map() };
  const watermarkTasks: WatermarkTask[] = [];
  for (const out of spec.outputs) {
    for (const w of out.watermarks) {
      const identity = watermarkIdentity(w);
      if (!ctx.watermarkIds.has(identity)) ctx.watermarkIds.set(identity, `watermark:${ctx.watermarkIds.size + 1}`);
    }
  }
  const planned = [
    ...spec.outputs.flatMap((o) => planTranscode(ctx, o)),
    ...(spec.snapshots ?? defaultSnapshots(media)).map((s) => planSnapshot(ctx, s)),
  ];
  const tasks: MediaTask[] = [];
  const refused: RefusedTask[] = [];
  for (const p of planned) {
    if ('error' in p) refused.push(p);
    else tasks.push(p);
  }
  // One watermark task per distinct image/text actually used, sized for its widest use.
  for (const [identity, id] of ctx.watermarkIds) {
    const placed = tasks.flatMap((t) => (t.kind === 'transcode' && t.video ? t.watermarks.filter((w) => w.taskId === id).map((w) => ({ w, frameHeight: t.video!.height })) : []));
    const uses = placed.map((p) => p.w);
    if (!uses.length) continue;
    const source = JSON.parse(identity) as { key: string } | { content: string; color?: string };
    watermarkTasks.push({
      id,
      kind: 'watermark',
      source: 'key' in source ? { image: { key: source.key } } : { text: { content: source.content, color: source.color ?? '#ffffff' } },
      assetKey: uses[0]!.assetKey,
      widthPx: Math.max(...uses.map((u) => u.widthPx)),
      maxHeightRatio: round3(Math.min(...placed.map(({ w, frameHeight }) => (frameHeight - (w.position === 'center' ? 0 : w.dy)) / w.widthPx))),
    });
  }
  const notes = subtitleNotes(spec, media);
  return { tasks: [...watermarkTasks, ...tasks, ...qualityTasks(spec, tasks)], refused, ...(notes.length ? { notes } : {}) };
}

/**
 * One quality task per video rendition of an output that asks for `quality: true` (the job's
 * flag, else the template's); a ladder's package waits for its rungs' scores. No task otherwise,
 * so jobs without the flag plan exactly as before.
 */
export function qualityTasks(spec: JobSpec, tasks: MediaTask[]): QualityTask[] {
  const wanted = new Set(spec.outputs.filter((o) => o.quality ?? o.template.quality ?? false).map((o) => o.name));
  const made: QualityTask[] = [];
  for (const t of tasks) {
    if (t.kind !== 'transcode' || !t.video || !wanted.has(t.rung?.output ?? t.name)) continue;
    made.push({ id: `quality:${t.name}`, kind: 'quality', name: t.name, target: t });
  }
  for (const p of tasks) {
    if (p.kind !== 'package') continue;
    const ids = made.filter((q) => p.rungTaskIds.includes(q.target.id)).map((q) => q.id);
    if (ids.length) p.qualityTaskIds = ids;
  }
  return made;
}

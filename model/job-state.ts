/** The job JSON of docs/api.md: kept by the workflow, returned by its `state` query. Types only. */
import type { ErrorCode } from './errors';
import type { JobInput } from './job';

export type JobStatus = 'queued' | 'probing' | 'processing' | 'succeeded' | 'failed' | 'canceled';
export type TaskKind = 'probe' | 'watermark' | 'transcode' | 'snapshot' | 'package' | 'notify' | 'quality' | 'analyze';
/**
 * `queued`: its activity is scheduled and waits for a worker slot; `running`: a worker has started
 * it. Jobs recorded before `queued` existed go straight from pending to running.
 */
export type TaskStatus = 'pending' | 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled' | 'skipped';

export const finalJobStatuses: readonly JobStatus[] = ['succeeded', 'failed', 'canceled'];

export interface JobError {
  code: ErrorCode | string;
  message: string;
  retryable: boolean;
}

export interface VideoInfo {
  codec: string;
  width: number;
  height: number;
  /** The average frame rate, to the thousandth (0 for a still). */
  fps: number;
  /** The same rate exactly, as ffprobe states it (`30000/1001`); results recorded before it existed lack it. */
  fpsRational?: string;
  rotation: number;
  pixFmt: string | null;
  /** Sample (pixel) aspect ratio, [1, 1] for square pixels. */
  sar: [number, number];
  /** Fields rather than frames (broadcast MPEG-2, DV): outputs are deinterlaced. */
  interlaced?: boolean;
}

export interface AudioInfo {
  codec: string;
  channels: number;
  sampleRate: number;
  /** The container marks this track as the one to play (absent: not marked). */
  default?: boolean;
  /** Its language tag as a BCP 47 tag (`eng` in the file → `en`); absent when untagged or `und`. */
  language?: string;
}

/** A subtitle stream of the input (ffprobe's view, normalised). */
export interface SubtitleInfo {
  /** Its place among the input's subtitle streams (0: the first), as ffmpeg's `0:s:N` counts. */
  index: number;
  codec: string;
  /** Text (SRT, ASS, mov_text, WebVTT): carried into outputs. Bitmap (PGS, DVB, VobSub): skipped. */
  text: boolean;
  /** The stream's language tag as the container states it (`eng`), null when it states none. */
  language: string | null;
  title: string | null;
  /** The container marks it as the track to show (absent: not marked). */
  default?: boolean;
  /** Forced (shown even with subtitles off: foreign-language lines). */
  forced?: boolean;
}

/** ffprobe's view of a file, normalised once. */
export interface MediaInfo {
  /** 0 for a still image. */
  durationSec: number;
  /**
   * A single picture (PNG, JPEG, WebP): it has no timeline, so only snapshots can be made from it.
   * The probe always sets it; probe results recorded before it existed (replayed histories) lack it.
   */
  still?: boolean;
  container: string;
  sizeBytes: number;
  video: VideoInfo | null;
  audio: AudioInfo[];
  /** Subtitle streams; absent when the input has none (and in probe results recorded before they were read). */
  subtitles?: SubtitleInfo[];
}

export interface TaskState {
  id: string;
  kind: TaskKind;
  status: TaskStatus;
  progress: number;
  attempts: number;
  error: JobError | null;
  /** The Temporal activity carrying this task now (one activity may carry several renditions). */
  activity?: string;
  /** A rendition encoded in chunks: how many (its progress counts finished chunks). */
  chunks?: number;
}

export interface OutputState {
  name: string;
  key: string;
  sizeBytes: number;
  durationSec: number;
  video: { codec: string; width: number; height: number; bitrateKbps: number | null } | null;
  audio: { codec: string; channels: number; sampleRate: number; bitrateKbps: number | null } | null;
  /** HLS/DASH outputs: one entry per rung (the key is the rung's playlist, or the MPD for DASH). */
  renditions?: RenditionState[];
  /** HLS/DASH outputs: one entry per audio track (HLS: an EXT-X-MEDIA rendition of the audio group). */
  audioTracks?: AudioTrackState[];
  /** An encrypted HLS output: the method and the store keys of its key files (never the key itself). */
  encryption?: { method: 'AES-128'; keyObjects: string[] };
  /** Subtitle tracks the output carries (MP4: mov_text, WebM: WebVTT, HLS/DASH: WebVTT files); absent when none. */
  subtitles?: SubtitleOutputState[];
  /** Outputs that asked for `quality: true`: scores against the source (HLS/DASH: per rendition). */
  quality?: QualityScore;
  /** An `auto: true` ladder: the rungs and rates the per-title analysis chose, and why. */
  autoLadder?: AutoLadderState;
}

export interface AudioTrackState {
  name: string;
  /** Its media playlist (HLS) or the MPD (DASH). */
  key: string;
  /** BCP 47, or null when the input's track had no language tag. */
  language: string | null;
  default: boolean;
  codecs: string;
  channels: number;
  bandwidth: number | null;
}

export interface SubtitleOutputState {
  language: string;
  name: string;
  default: boolean;
  forced: boolean;
  /** HLS: the subtitle playlist; DASH: the WebVTT file; absent for a track inside the output file. */
  key?: string;
}

/** Scores of one encoded rendition against the source frames it was made from. */
export interface QualityScore {
  /** Mean SSIM (ffmpeg's `All`, 0…1) over the compared frames. */
  ssim: number;
  /** PSNR in dB over all planes, from the mean MSE (capped at 100). */
  psnr: number;
  /** Pooled VMAF (0…100) when the worker's ffmpeg has libvmaf; else null, with `vmafReason`. */
  vmaf: number | null;
  vmafReason?: string;
  /** Frames compared. */
  frames: number;
  /** What was compared with what, in words. */
  method: string;
}

/** The per-title ladder's choice (issue 15 item 5). */
export interface AutoLadderState {
  targetSsim: number;
  /** The sample windows of the input the analysis encoded (seconds). */
  samples: { startSec: number; durationSec: number }[];
  /** Where the check encodes at the chosen rates went (the whole input when it is short). */
  checkWindows: { startSec: number; durationSec: number }[];
  /** The CRF points each rung was encoded at. */
  crfPoints: number[];
  rungs: AutoRungState[];
}

export interface AutoRungState {
  name: string;
  width: number;
  height: number;
  /** The template's (fixed) bit rate of this rung. */
  templateKbps: number;
  /** The SSIM this rung aims for: its own `targetSsim`, else the ladder's. */
  targetSsim: number;
  /** The rate chosen for the target; null for a dropped rung. */
  chosenKbps: number | null;
  /** The SSIM the check encode measured at the chosen rate (a capped-VBR encode of the check windows at it). */
  measuredSsim: number | null;
  /** The mean rate that check encode really used (kbps; below the chosen rate when the picture needs fewer bits). */
  measuredKbps: number | null;
  kept: boolean;
  /** Why this rate (or why the rung was dropped). */
  reason: string;
  /** The measured curve: per CRF point, the samples' mean rate and SSIM. */
  points: { crf: number; kbps: number; ssim: number }[];
}

export interface RenditionState {
  name: string;
  key: string;
  width: number;
  height: number;
  fps: number;
  /** RFC 6381, as in the playlist's CODECS. */
  codecs: string;
  /**
   * Peak bits per second over its segments: HLS BANDWIDTH (video and muxed audio), DASH the video
   * representation's @bandwidth (the audio is a representation of its own). Null in jobs packaged
   * before DASH stated it here.
   */
  bandwidth: number | null;
  /** Rungs of an output that asked for `quality: true`: this rendition's scores. */
  quality?: QualityScore;
}

export interface SnapshotState {
  name: string;
  keys: string[];
  /** What the planner changed from what was asked (a time past the end, fewer frames), when it changed anything. */
  adjustments?: string[];
}

export interface NotificationState {
  event: 'job.succeeded' | 'job.failed' | 'job.canceled';
  status: 'pending' | 'delivered' | 'failed' | 'skipped';
  attempts: number;
}

/** One input of a concatenation as the job shows it. */
export type ConcatInputState = JobInput & { clip: { startSec: number; durationSec: number | null } | null; media: MediaInfo | null };

export interface JobState {
  id: string;
  status: JobStatus;
  progress: number;
  pipeline: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** The input as submitted (`key` with an optional `bucket`, or `url`) and what probing found. */
  input: JobInput & { media: MediaInfo | null };
  /** A concatenation: every input in order with its clip and what probing found (`input` is the first). */
  inputs?: ConcatInputState[];
  tasks: TaskState[];
  outputs: OutputState[];
  snapshots: SnapshotState[];
  notifications: NotificationState[];
  error: JobError | null;
  userData: string | null;
  /** Requests the job received and did not act on (e.g. a `retry` signal while nothing had failed); absent when none. */
  notes?: JobNote[];
}

export interface JobNote {
  at: string;
  message: string;
}

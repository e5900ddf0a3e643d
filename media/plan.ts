/**
 * The planner: job spec + probe result → tasks with exact encoding parameters.
 * Pure and deterministic; the workflow calls it, the unit tests table-drive it.
 */
import type { JobSpec, ResolvedOutput, JobSnapshotRequest } from '../model/job';
import type { JobError, MediaInfo } from '../model/job-state';
import { outputKey } from '../storage/keys';

export interface VideoPlan {
  codec: 'h264';
  profile: 'baseline' | 'main' | 'high';
  preset: string;
  width: number;
  height: number;
  /** Output frame rate when the source's must be lowered; null keeps the source rate. */
  fps: number | null;
  gopFrames: number;
  crf: number | null;
  bitrateKbps: number | null;
  maxrateKbps: number | null;
  bufsizeKbps: number | null;
}

export interface AudioPlan {
  codec: 'aac';
  bitrateKbps: number;
  sampleRate: number;
  channels: number;
}

export interface TranscodeTask {
  id: string;
  kind: 'transcode';
  name: string;
  outputKey: string;
  container: 'mp4';
  video: VideoPlan | null;
  audio: AudioPlan | null;
  /** Expected output duration, for progress and time limits. */
  durationSec: number;
}

export interface SnapshotTask {
  id: string;
  kind: 'snapshot';
  name: string;
  outputKey: string;
  format: 'jpg' | 'png';
  timeSec: number;
  width: number;
  height: number;
}

export type MediaTask = TranscodeTask | SnapshotTask;

/** A task the planner could not make, with the reason; the job reports it as a failed task. */
export interface RefusedTask {
  id: string;
  kind: MediaTask['kind'];
  error: JobError;
}

export interface Plan {
  tasks: MediaTask[];
  refused: RefusedTask[];
}

const DEFAULT_CRF = 23;
const FALLBACK_FPS = 30;

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

/** Fits the display size into the template's box, keeping the aspect ratio. */
export function fitSize(
  display: { width: number; height: number },
  box: { width?: number | undefined; height?: number | undefined },
  noUpscale: boolean,
): { width: number; height: number } {
  const scales = [
    box.width !== undefined ? box.width / display.width : Infinity,
    box.height !== undefined ? box.height / display.height : Infinity,
  ];
  let scale = Math.min(...scales);
  if (!Number.isFinite(scale)) scale = 1;
  if (noUpscale) scale = Math.min(scale, 1);
  return { width: even(display.width * scale), height: even(display.height * scale) };
}

function refuse(id: string, kind: MediaTask['kind'], message: string): RefusedTask {
  return { id, kind, error: { code: 'OutputNotPossible', message, retryable: false } };
}

function planTranscode(spec: JobSpec, out: ResolvedOutput, media: MediaInfo): TranscodeTask | RefusedTask {
  const id = `transcode:${out.name}`;
  const t = out.template;
  const display = displaySize(media);
  if (t.video && !display) {
    return refuse(id, 'transcode', `output "${out.name}" needs video, and the input has none (audio only)`);
  }
  const hasAudioIn = media.audio.length > 0;
  if (!t.audio && !display) {
    return refuse(id, 'transcode', `output "${out.name}" has no audio settings and the input has no video`);
  }
  let video: VideoPlan | null = null;
  if (t.video && display) {
    const size = fitSize(display, t.video, t.transConfig?.noUpscale ?? true);
    const srcFps = media.video?.fps || FALLBACK_FPS;
    // Never raise the frame rate: a template's fps is a ceiling.
    const fps = t.video.fps !== undefined && t.video.fps < srcFps ? t.video.fps : null;
    const outFps = fps ?? srcFps;
    const rateControlled = t.video.bitrateKbps !== undefined;
    video = {
      codec: 'h264',
      profile: t.video.profile ?? 'high',
      preset: t.video.preset ?? 'veryfast',
      width: size.width,
      height: size.height,
      fps,
      gopFrames: Math.max(1, Math.round((t.video.gopSec ?? 2) * outFps)),
      crf: rateControlled ? null : (t.video.crf ?? DEFAULT_CRF),
      bitrateKbps: t.video.bitrateKbps ?? null,
      maxrateKbps: t.video.maxrateKbps ?? null,
      bufsizeKbps: t.video.bufsizeKbps ?? (t.video.maxrateKbps ? t.video.maxrateKbps * 2 : null),
    };
  }
  // An input without audio gives an output without audio: no fake silent track.
  const firstAudio = media.audio[0];
  const audio: AudioPlan | null =
    t.audio && hasAudioIn && firstAudio
      ? {
          codec: 'aac',
          bitrateKbps: t.audio.bitrateKbps ?? 128,
          sampleRate: t.audio.sampleRate ?? 48000,
          channels: Math.max(1, Math.min(t.audio.channels ?? 2, firstAudio.channels || 2)),
        }
      : null;
  if (!video && !audio) {
    return refuse(id, 'transcode', `output "${out.name}" is audio only, and the input has no audio`);
  }
  return {
    id,
    kind: 'transcode',
    name: out.name,
    outputKey: outputKey(spec.outputPrefix, spec.id, out.name, t.container),
    container: t.container,
    video,
    audio,
    durationSec: media.durationSec,
  };
}

/** The poster a job gets when it asks for no snapshots: 10 % in (title cards are often black), at most 10 s. */
export function defaultSnapshots(media: MediaInfo): JobSnapshotRequest[] {
  if (!media.video) return [];
  return [{ name: 'poster', time: Math.min(media.durationSec * 0.1, 10), format: 'jpg' }];
}

function planSnapshot(spec: JobSpec, snap: JobSnapshotRequest, media: MediaInfo): SnapshotTask | RefusedTask {
  const id = `snapshot:${snap.name}`;
  const display = displaySize(media);
  if (!display) return refuse(id, 'snapshot', `snapshot "${snap.name}" needs video, and the input has none`);
  const size = fitSize(display, { width: snap.width }, true);
  // A time past the end is clamped to just before the last frame, where there is still a picture.
  const frame = 1 / (media.video?.fps || FALLBACK_FPS);
  const last = Math.max(0, media.durationSec - 2 * frame);
  return {
    id,
    kind: 'snapshot',
    name: snap.name,
    outputKey: outputKey(spec.outputPrefix, spec.id, snap.name, snap.format),
    format: snap.format,
    timeSec: Math.round(Math.min(snap.time, last) * 1000) / 1000,
    width: size.width,
    height: size.height,
  };
}

/**
 * Plans every output and snapshot of a job; what cannot be made is refused with a reason,
 * and the rest still runs.
 *
 * @example const { tasks, refused } = planJob(spec, mediaInfo)
 */
export function planJob(spec: JobSpec, media: MediaInfo): Plan {
  const planned = [
    ...spec.outputs.map((o) => planTranscode(spec, o, media)),
    ...(spec.snapshots ?? defaultSnapshots(media)).map((s) => planSnapshot(spec, s, media)),
  ];
  const tasks: MediaTask[] = [];
  const refused: RefusedTask[] = [];
  for (const p of planned) {
    if ('error' in p) refused.push(p);
    else tasks.push(p);
  }
  return { tasks, refused };
}

/** ffprobe's loose JSON normalised once into MediaInfo, with the input limits checked. */
import { MediaflowError } from '../model/errors';
import type { AudioInfo, MediaInfo, VideoInfo } from '../model/job-state';

interface ProbeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  pix_fmt?: string;
  sample_aspect_ratio?: string;
  channels?: number;
  sample_rate?: string;
  duration?: string;
  bit_rate?: string;
  disposition?: { attached_pic?: number; default?: number };
  tags?: Record<string, string>;
  side_data_list?: { side_data_type?: string; rotation?: number }[];
}

export interface ProbeJson {
  streams?: ProbeStream[];
  format?: { format_name?: string; duration?: string; size?: string; bit_rate?: string };
}

export interface InputLimits {
  maxDurationSec: number;
  maxPixels: number;
}

function ratio(text: string | undefined): number {
  if (!text) return 0;
  const [n, d] = text.split('/').map(Number);
  if (n === undefined || !Number.isFinite(n)) return 0;
  if (d === undefined) return n;
  return d > 0 ? n / d : 0;
}

function parseSar(text: string | undefined): [number, number] {
  const [n, d] = (text ?? '').split(':').map(Number);
  // ffprobe reports 0:1 for "unknown"; treat that (and garbage) as square pixels.
  return n && d && n > 0 && d > 0 ? [n, d] : [1, 1];
}

/** Display rotation in degrees clockwise (0, 90, 180, 270). */
function parseRotation(s: ProbeStream): number {
  const matrix = s.side_data_list?.find((d) => d.side_data_type === 'Display Matrix');
  // The display matrix states a counter-clockwise angle (-90 for a portrait phone clip), the old
  // `rotate` tag a clockwise one (90 for the same clip). We speak clockwise, in quarter turns.
  const clockwise = matrix?.rotation !== undefined ? -Number(matrix.rotation) : Number(s.tags?.rotate ?? 0);
  const quarter = Math.round((Number.isFinite(clockwise) ? clockwise : 0) / 90) * 90;
  return ((quarter % 360) + 360) % 360;
}

function videoOf(streams: ProbeStream[]): VideoInfo | null {
  // Cover art in MP3/M4A files is a "video" stream with attached_pic: it is not the video.
  const s = streams.find((x) => x.codec_type === 'video' && !x.disposition?.attached_pic);
  if (!s || !s.width || !s.height) return null;
  const fps = ratio(s.avg_frame_rate) || ratio(s.r_frame_rate);
  return {
    codec: s.codec_name === 'h265' ? 'hevc' : (s.codec_name ?? 'unknown'),
    width: s.width,
    height: s.height,
    fps: Math.round(fps * 1000) / 1000,
    rotation: parseRotation(s),
    pixFmt: s.pix_fmt ?? null,
    sar: parseSar(s.sample_aspect_ratio),
  };
}

function audioOf(streams: ProbeStream[]): AudioInfo[] {
  return streams
    .filter((s) => s.codec_type === 'audio')
    .map((s) => ({ codec: s.codec_name ?? 'unknown', channels: s.channels ?? 0, sampleRate: Number(s.sample_rate ?? 0) }));
}

/**
 * Turns ffprobe JSON into MediaInfo; throws a coded MediaflowError for media we will not process.
 *
 * @example parseProbe(JSON.parse(stdout), stat.size, { maxDurationSec: 14400, maxPixels: 35389440 })
 */
export function parseProbe(json: ProbeJson, sizeBytes: number, limits: InputLimits): MediaInfo {
  const streams = json.streams ?? [];
  const video = videoOf(streams);
  const audio = audioOf(streams);
  if (!video && audio.length === 0) {
    throw new MediaflowError('UnsupportedInput', 'the input has neither a video nor an audio stream');
  }
  const streamDurations = streams.map((s) => Number(s.duration)).filter((d) => Number.isFinite(d) && d > 0);
  const durationSec = Number(json.format?.duration) || Math.max(0, ...streamDurations);
  const info: MediaInfo = {
    durationSec: Math.round(durationSec * 1000) / 1000,
    container: json.format?.format_name ?? 'unknown',
    sizeBytes,
    video,
    audio,
  };
  checkLimits(info, limits);
  return info;
}

function checkLimits(info: MediaInfo, limits: InputLimits): void {
  if (info.durationSec > limits.maxDurationSec) {
    throw new MediaflowError(
      'InputTooLarge',
      `the input lasts ${info.durationSec} s, more than the limit of ${limits.maxDurationSec} s`,
    );
  }
  if (info.video && info.video.width * info.video.height > limits.maxPixels) {
    throw new MediaflowError(
      'InputTooLarge',
      `the input is ${info.video.width}x${info.video.height} px, more than the limit of ${limits.maxPixels} pixels a frame`,
    );
  }
  if (info.video && info.durationSec <= 0) {
    throw new MediaflowError('InputUnreadable', 'the input has a video stream but no readable duration');
  }
}

/** Overall bit rate of one stream in kb/s, when ffprobe knows it. */
export function streamBitrateKbps(json: ProbeJson, type: 'video' | 'audio'): number | null {
  const s = (json.streams ?? []).find((x) => x.codec_type === type && !x.disposition?.attached_pic);
  const bps = Number(s?.bit_rate);
  return Number.isFinite(bps) && bps > 0 ? Math.round(bps / 1000) : null;
}

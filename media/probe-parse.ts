/** ffprobe's loose JSON normalised once into MediaInfo, with the input limits checked. */
import { MediaflowError } from '../model/errors';
import type { AudioInfo, MediaInfo, SubtitleInfo, VideoInfo } from '../model/job-state';
import { IMAGE_DEMUXERS } from './args/input';
import { parseRate, rateText } from './rate';

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
  nb_frames?: string;
  disposition?: { attached_pic?: number; default?: number; forced?: number };
  tags?: Record<string, string>;
  side_data_list?: { side_data_type?: string; rotation?: number }[];
  field_order?: string;
}

export interface ProbeJson {
  streams?: ProbeStream[];
  format?: { format_name?: string; duration?: string; size?: string; bit_rate?: string };
}

export interface InputLimits {
  maxDurationSec: number;
  maxPixels: number;
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
  // The average rate, exactly: a VFR clip's average, a CFR clip's rate (r_frame_rate when the
  // container states no average).
  const rate = parseRate(s.avg_frame_rate) ?? parseRate(s.r_frame_rate);
  const fps = rate ? rate.num / rate.den : 0;
  return {
    codec: s.codec_name === 'h265' ? 'hevc' : (s.codec_name ?? 'unknown'),
    width: s.width,
    height: s.height,
    fps: Math.round(fps * 1000) / 1000,
    ...(rate ? { fpsRational: rateText(rate) } : {}),
    rotation: parseRotation(s),
    pixFmt: s.pix_fmt ?? null,
    sar: parseSar(s.sample_aspect_ratio),
    // tt/bb/tb/bt: fields in either order; progressive and unknown are taken as frames.
    ...(s.field_order && /^(tt|bb|tb|bt)$/.test(s.field_order) ? { interlaced: true } : {}),
  };
}

function audioOf(streams: ProbeStream[]): AudioInfo[] {
  return streams
    .filter((s) => s.codec_type === 'audio')
    .map((s) => ({
      codec: s.codec_name ?? 'unknown',
      channels: s.channels ?? 0,
      sampleRate: Number(s.sample_rate ?? 0),
      ...(s.disposition?.default ? { default: true } : {}),
      ...languageOf(s.tags?.language),
    }));
}

/** Subtitle codecs ffmpeg can turn into WebVTT and mov_text; the rest (PGS, DVB, VobSub) are pictures. */
export const TEXT_SUBTITLE_CODECS = ['subrip', 'srt', 'ass', 'ssa', 'mov_text', 'webvtt', 'text'] as const;

function subtitlesOf(streams: ProbeStream[]): SubtitleInfo[] {
  return streams
    .filter((s) => s.codec_type === 'subtitle')
    .map((s, index) => {
      const codec = s.codec_name ?? 'unknown';
      const language = s.tags?.language ?? s.tags?.LANGUAGE;
      const title = s.tags?.title ?? s.tags?.TITLE;
      return {
        index,
        codec,
        text: (TEXT_SUBTITLE_CODECS as readonly string[]).includes(codec),
        language: language && language !== 'und' ? language : null,
        title: title ?? null,
        ...(s.disposition?.default ? { default: true } : {}),
        ...(s.disposition?.forced ? { forced: true } : {}),
      };
    });
}

/**
 * A stream's language tag as BCP 47 (ISO 639-2 `eng`/`fre` → `en`/`fr`), or nothing for an
 * untagged, `und` or malformed tag (a tag is user data: only a well-formed one goes into playlists).
 *
 * @example languageOf('ger') // { language: 'de' }
 */
export function languageOf(tag: string | undefined): { language?: string } {
  if (!tag || !/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$/.test(tag)) return {};
  try {
    const canonical = Intl.getCanonicalLocales(tag)[0];
    return canonical && canonical !== 'und' ? { language: canonical } : {};
  } catch {
    return {};
  }
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
  const subtitles = subtitlesOf(streams);
  if (!video && audio.length === 0) {
    throw new MediaflowError('UnsupportedInput', 'the input has neither a video nor an audio stream');
  }
  const streamDurations = streams.map((s) => Number(s.duration)).filter((d) => Number.isFinite(d) && d > 0);
  const durationSec = Number(json.format?.duration) || Math.max(0, ...streamDurations);
  const container = json.format?.format_name ?? 'unknown';
  const still = isStill(container, streams, video, audio, durationSec);
  const info: MediaInfo = {
    durationSec: still ? 0 : Math.round(durationSec * 1000) / 1000,
    container,
    sizeBytes,
    // A picture has no frame rate (the image demuxers report a nominal 25).
    video: still && video ? stillVideo(video) : video,
    audio,
    still,
    ...(subtitles.length ? { subtitles } : {}),
  };
  checkLimits(info, limits);
  return info;
}

function stillVideo(video: VideoInfo): VideoInfo {
  const { fpsRational: _, ...rest } = video;
  return { ...rest, fps: 0 };
}

/**
 * A single picture: read by an image demuxer, or one frame without any duration and no sound.
 * (A JPEG file holding several concatenated pictures counts as its first.)
 */
function isStill(container: string, streams: ProbeStream[], video: VideoInfo | null, audio: AudioInfo[], durationSec: number): boolean {
  if (!video || audio.length > 0) return false;
  if ((IMAGE_DEMUXERS as readonly string[]).includes(container)) return true;
  const s = streams.find((x) => x.codec_type === 'video' && !x.disposition?.attached_pic);
  return durationSec <= 0 && s?.nb_frames === '1';
}

/**
 * ffprobe runs with `-max_pixels` so a tiny file claiming a huge picture never gets its frame
 * buffer allocated; the decoder then logs the claimed size and reports none. This reads it back.
 *
 * @example oversizeInLog('[png @ 0x1] … Picture size 16000x16000 exceeds specified max pixel count …') // { width: 16000, height: 16000 }
 */
export function oversizeInLog(stderr: string): { width: number; height: number } | null {
  const m = /Picture size (\d+)x(\d+) exceeds specified max pixel count/.exec(stderr);
  return m ? { width: Number(m[1]), height: Number(m[2]) } : null;
}

/** The InputTooLarge error for a picture of this size. */
export function tooManyPixels(width: number, height: number, maxPixels: number): MediaflowError {
  return new MediaflowError('InputTooLarge', `the input is ${width}x${height} px, more than the limit of ${maxPixels} pixels a frame`);
}

function checkLimits(info: MediaInfo, limits: InputLimits): void {
  if (info.durationSec > limits.maxDurationSec) {
    throw new MediaflowError(
      'InputTooLarge',
      `the input lasts ${info.durationSec} s, more than the limit of ${limits.maxDurationSec} s`,
    );
  }
  if (info.video && info.video.width * info.video.height > limits.maxPixels) {
    throw tooManyPixels(info.video.width, info.video.height, limits.maxPixels);
  }
  if (info.video && !info.still && info.durationSec <= 0) {
    throw new MediaflowError('InputUnreadable', 'the input has a video stream but no readable duration');
  }
}

/** Overall bit rate of one stream in kb/s, when ffprobe knows it. */
export function streamBitrateKbps(json: ProbeJson, type: 'video' | 'audio'): number | null {
  const s = (json.streams ?? []).find((x) => x.codec_type === type && !x.disposition?.attached_pic);
  const bps = Number(s?.bit_rate);
  return Number.isFinite(bps) && bps > 0 ? Math.round(bps / 1000) : null;
}

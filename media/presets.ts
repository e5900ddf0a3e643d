/** System presets: read-only templates every installation has (listed by GET /v1/templates). */
import type { SnapshotTemplate, Template, TranscodeTemplate, WatermarkTemplate } from '../model/templates';

const aacStereo = { codec: 'aac', bitrateKbps: 128, sampleRate: 48000, channels: 2 } as const;
const keep = { noUpscale: true, aspect: 'keep' } as const;

/** Capped VBR: peaks up to 1.5x the average, a 2x buffer, as streaming CDNs expect. */
function capped(bitrateKbps: number) {
  return { bitrateKbps, maxrateKbps: Math.round(bitrateKbps * 1.5), bufsizeKbps: bitrateKbps * 2 };
}

function mp4H264(width: number, height: number, bitrateKbps: number): TranscodeTemplate {
  return {
    kind: 'transcode',
    container: 'mp4',
    video: { codec: 'h264', profile: 'high', preset: 'veryfast', width, height, ...capped(bitrateKbps), gopSec: 2 },
    audio: aacStereo,
    transConfig: keep,
  };
}

const ladder = [
  { name: '1080p', width: 1920, height: 1080, ...capped(5000) },
  { name: '720p', width: 1280, height: 720, ...capped(2500) },
  { name: '480p', width: 854, height: 480, ...capped(1200) },
  { name: '360p', width: 640, height: 360, ...capped(800) },
];

function streaming(container: 'hls' | 'dash'): TranscodeTemplate {
  return {
    kind: 'transcode',
    container,
    video: { codec: 'h264', profile: 'high', preset: 'veryfast', gopSec: 2 },
    audio: aacStereo,
    transConfig: keep,
    ladder: { segmentSec: 6, rungs: ladder },
  };
}

const transcode: Record<string, TranscodeTemplate> = {
  'mp4-h264-1080p': mp4H264(1920, 1080, 5000),
  'mp4-h264-720p': mp4H264(1280, 720, 2500),
  'mp4-h264-480p': mp4H264(854, 480, 1200),
  'mp4-h264-360p': mp4H264(640, 360, 800),
  'mp4-h265-1080p': {
    kind: 'transcode',
    container: 'mp4',
    video: { codec: 'h265', profile: 'main', preset: 'veryfast', width: 1920, height: 1080, ...capped(3000), gopSec: 2 },
    audio: aacStereo,
    transConfig: keep,
  },
  'webm-vp9-720p': {
    kind: 'transcode',
    container: 'webm',
    video: { codec: 'vp9', profile: '0', preset: 'veryfast', width: 1280, height: 720, crf: 33, gopSec: 2 },
    audio: { codec: 'opus', bitrateKbps: 96, sampleRate: 48000, channels: 2 },
    transConfig: keep,
  },
  'mp4-av1-720p': {
    kind: 'transcode',
    container: 'mp4',
    video: { codec: 'av1', profile: 'main', preset: 'veryfast', width: 1280, height: 720, crf: 35, gopSec: 2 },
    audio: aacStereo,
    transConfig: keep,
  },
  'hls-h264-ladder': streaming('hls'),
  'dash-h264-ladder': streaming('dash'),
  'm4a-aac-128k': { kind: 'transcode', container: 'm4a', audio: aacStereo },
  'mp3-128k': { kind: 'transcode', container: 'mp3', audio: { codec: 'mp3', bitrateKbps: 128, sampleRate: 44100, channels: 2 } },
};

const snapshot: Record<string, SnapshotTemplate> = {
  'poster-jpg': { kind: 'snapshot', time: 2, format: 'jpg', width: 1280 },
  'timeline-sprite': { kind: 'snapshot', interval: 10, format: 'jpg', width: 160, sprite: { columns: 10 } },
};

const watermark: Record<string, WatermarkTemplate> = {
  'sample-text-br': { kind: 'watermark', text: { content: 'mediaflow', color: '#ffffff' }, position: 'BR', dx: 16, dy: 16, widthRel: 0.15, opacity: 0.7 },
};

export const systemPresets: Readonly<Record<string, Template>> = Object.freeze({ ...transcode, ...snapshot, ...watermark });

/** A system preset of one kind, or undefined. */
export function systemPreset<K extends Template['kind']>(id: string, kind: K): Extract<Template, { kind: K }> | undefined {
  const t = Object.hasOwn(systemPresets, id) ? systemPresets[id] : undefined;
  return t?.kind === kind ? (t as Extract<Template, { kind: K }>) : undefined;
}

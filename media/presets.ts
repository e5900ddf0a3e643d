/** System presets: read-only transcode templates every installation has. */
import type { TranscodeTemplate } from '../model/templates';

const aacStereo = { codec: 'aac', bitrateKbps: 128, sampleRate: 48000, channels: 2 } as const;

function mp4H264(width: number, height: number, bitrateKbps: number): TranscodeTemplate {
  return {
    kind: 'transcode',
    container: 'mp4',
    video: {
      codec: 'h264',
      profile: 'high',
      preset: 'veryfast',
      width,
      height,
      bitrateKbps,
      // Capped VBR: peaks up to 1.5x the average, a 2 s buffer, as streaming CDNs expect.
      maxrateKbps: Math.round(bitrateKbps * 1.5),
      bufsizeKbps: bitrateKbps * 2,
      gopSec: 2,
    },
    audio: aacStereo,
    transConfig: { noUpscale: true, aspect: 'keep' },
  };
}

export const systemPresets: Readonly<Record<string, TranscodeTemplate>> = Object.freeze({
  'mp4-h264-1080p': mp4H264(1920, 1080, 5000),
  'mp4-h264-720p': mp4H264(1280, 720, 2500),
  'mp4-h264-480p': mp4H264(854, 480, 1200),
  'mp4-h264-360p': mp4H264(640, 360, 800),
});

/**
 * Golden argv for transcodeArgs: the whole ffmpeg command line per case, written out, so any
 * change to a flag shows up here as a reviewed diff (immich's media.service.spec.ts does the same).
 * Cases: codec (h264/h265/vp9/av1) × container × rate mode (crf / bit rate with maxrate) ×
 * watermarks (none/one/two) × clip (none/with), and the audio-only and streaming-rung muxers.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { transcodeArgs, videoFilter, type RunLimits } from '../../media/args/transcode';
import type { AudioPlan, TranscodeTask, VideoPlan, WatermarkPlan } from '../../media/plan';

/** What every run starts with (media/args/input.ts commonArgs). */
const COMMON = ['-hide_banner', '-nostdin', '-y', '-v', 'error', '-nostats', '-progress', 'pipe:1'];
/** The demuxer allow-list of media inputs (media/args/input.ts ALLOWED_DEMUXERS). */
const ALLOWED = 'mov,matroska,avi,mpegts,mpeg,flv,mxf,asf,ogg,wav,mp3,aac,flac,png_pipe,jpeg_pipe,webp_pipe';

function video(over: Partial<VideoPlan> = {}): VideoPlan {
  return {
    codec: 'h264', profile: 'high', level: '3.1', preset: 'veryfast', pixFmt: 'yuv420p',
    scaleWidth: 1280, scaleHeight: 720, width: 1280, height: 720, fit: 'keep', deinterlace: false,
    fps: 30, fpsRational: '30/1', gopFrames: 60, crf: null, bitrateKbps: 2500, maxrateKbps: 3750, bufsizeKbps: 5000,
    ...over,
  };
}

function audio(over: Partial<AudioPlan> = {}): AudioPlan {
  return { codec: 'aac', streamIndex: 0, bitrateKbps: 128, sampleRate: 48000, channels: 2, loudnorm: false, ...over };
}

function wm(over: Partial<WatermarkPlan> = {}): WatermarkPlan {
  return { taskId: 'watermark:logo', assetKey: 'j/.wm/logo.png', position: 'BR', dx: 16, dy: 16, widthPx: 192, opacity: 0.7, startSec: 0, endSec: null, ...over };
}

function task(over: Partial<TranscodeTask> = {}): TranscodeTask {
  return {
    id: 'transcode:out', kind: 'transcode', name: 'out', outputKey: 'j/out.mp4', container: 'mp4',
    video: video(), audio: audio(), clip: null, durationSec: 20, watermarks: [], rung: null,
    ...over,
  };
}

/** Constant quality instead of the default bit rate + maxrate + bufsize. */
function crf(value: number): Partial<VideoPlan> {
  return { crf: value, bitrateKbps: null, maxrateKbps: null, bufsizeKbps: null };
}

const LIMITS: RunLimits = { threads: 0, maxOutputBytes: 10_000_000_000 };

interface Case {
  name: string;
  task: TranscodeTask;
  assets?: string[];
  limits?: RunLimits;
  want: string[];
}

const cases: Case[] = [
  {
    name: 'h264 mp4, bit rate + maxrate + bufsize, level',
    task: task(),
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-map', '0:v:0',
      '-vf', 'scale=1280:720:flags=bicubic,setsar=1,fps=30/1',
      '-c:v', 'libx264',
      '-profile:v', 'high', '-level:v', '3.1', '-preset', 'veryfast',
      '-b:v', '2500k', '-maxrate', '3750k', '-bufsize', '5000k',
      '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
      '-pix_fmt', 'yuv420p',
      '-map', '0:a:0',
      '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000',
      '-movflags', '+faststart', '-f', 'mp4', '/work/outputs/x/output.mp4',
    ],
  },
  {
    name: 'h264 mp4, crf, no level, main profile, 2 threads',
    task: task({ video: video({ ...crf(20), level: null, profile: 'main', preset: 'medium' }) }),
    limits: { threads: 2, maxOutputBytes: 1_000_000 },
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-map', '0:v:0',
      '-vf', 'scale=1280:720:flags=bicubic,setsar=1,fps=30/1',
      '-c:v', 'libx264',
      '-profile:v', 'main', '-preset', 'medium',
      '-crf', '20',
      '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
      '-pix_fmt', 'yuv420p',
      '-map', '0:a:0',
      '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1', '-threads', '2',
      '-fs', '1000000',
      '-movflags', '+faststart', '-f', 'mp4', '/work/outputs/x/output.mp4',
    ],
  },
  {
    name: 'h264 mov, bit rate without maxrate or bufsize',
    task: task({ container: 'mov', video: video({ maxrateKbps: null, bufsizeKbps: null }) }),
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-map', '0:v:0',
      '-vf', 'scale=1280:720:flags=bicubic,setsar=1,fps=30/1',
      '-c:v', 'libx264',
      '-profile:v', 'high', '-level:v', '3.1', '-preset', 'veryfast',
      '-b:v', '2500k',
      '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
      '-pix_fmt', 'yuv420p',
      '-map', '0:a:0',
      '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000',
      '-movflags', '+faststart', '-f', 'mov', '/work/outputs/x/output.mov',
    ],
  },
  {
    name: 'h265 mp4, crf: x265-params, hvc1 tag',
    task: task({ video: video({ codec: 'h265', profile: 'main', level: null, preset: 'fast', ...crf(28), width: 1920, height: 1080, scaleWidth: 1920, scaleHeight: 1080 }) }),
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-map', '0:v:0',
      '-vf', 'scale=1920:1080:flags=bicubic,setsar=1,fps=30/1',
      '-c:v', 'libx265',
      '-profile:v', 'main', '-preset', 'fast',
      '-crf', '28',
      '-x265-params', 'keyint=60:min-keyint=60:scenecut=0:log-level=error', '-tag:v', 'hvc1',
      '-pix_fmt', 'yuv420p',
      '-map', '0:a:0',
      '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000',
      '-movflags', '+faststart', '-f', 'mp4', '/work/outputs/x/output.mp4',
    ],
  },
  {
    name: 'h265 mov, 10-bit, bit rate + maxrate, level',
    task: task({ container: 'mov', video: video({ codec: 'h265', profile: 'main10', level: '4.1', pixFmt: 'yuv420p10le', bufsizeKbps: null }) }),
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-map', '0:v:0',
      '-vf', 'scale=1280:720:flags=bicubic,setsar=1,fps=30/1',
      '-c:v', 'libx265',
      '-profile:v', 'main10', '-preset', 'veryfast',
      '-b:v', '2500k', '-maxrate', '3750k',
      '-x265-params', 'keyint=60:min-keyint=60:scenecut=0:log-level=error:level-idc=4.1', '-tag:v', 'hvc1',
      '-pix_fmt', 'yuv420p10le',
      '-map', '0:a:0',
      '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000',
      '-movflags', '+faststart', '-f', 'mov', '/work/outputs/x/output.mov',
    ],
  },
  {
    name: 'vp9 webm, crf (-b:v 0), opus',
    task: task({ container: 'webm', video: video({ codec: 'vp9', profile: '0', level: null, preset: 'medium', ...crf(33) }), audio: audio({ codec: 'opus', bitrateKbps: 96 }) }),
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-map', '0:v:0',
      '-vf', 'scale=1280:720:flags=bicubic,setsar=1,fps=30/1',
      '-c:v', 'libvpx-vp9',
      '-profile:v', '0',
      '-crf', '33', '-b:v', '0',
      '-deadline', 'good', '-cpu-used', '3', '-row-mt', '1',
      '-g', '60', '-keyint_min', '60',
      '-pix_fmt', 'yuv420p',
      '-map', '0:a:0',
      '-c:a', 'libopus', '-b:a', '96k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000', '-f', 'webm', '/work/outputs/x/output.webm',
    ],
  },
  {
    name: 'vp9 webm, bit rate + maxrate + bufsize, unknown preset speed 4',
    task: task({ container: 'webm', video: video({ codec: 'vp9', profile: '2', level: null, preset: 'placebo', pixFmt: 'yuv420p10le' }), audio: audio({ codec: 'opus', bitrateKbps: 96 }) }),
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-map', '0:v:0',
      '-vf', 'scale=1280:720:flags=bicubic,setsar=1,fps=30/1',
      '-c:v', 'libvpx-vp9',
      '-profile:v', '2',
      '-b:v', '2500k', '-maxrate', '3750k', '-bufsize', '5000k',
      '-deadline', 'good', '-cpu-used', '4', '-row-mt', '1',
      '-g', '60', '-keyint_min', '60',
      '-pix_fmt', 'yuv420p10le',
      '-map', '0:a:0',
      '-c:a', 'libopus', '-b:a', '96k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000', '-f', 'webm', '/work/outputs/x/output.webm',
    ],
  },
  {
    name: 'av1 mp4, crf',
    task: task({ video: video({ codec: 'av1', profile: 'main', level: null, preset: 'veryfast', ...crf(35) }) }),
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-map', '0:v:0',
      '-vf', 'scale=1280:720:flags=bicubic,setsar=1,fps=30/1',
      '-c:v', 'libsvtav1', '-preset', '10',
      '-crf', '35',
      '-g', '60',
      '-pix_fmt', 'yuv420p',
      '-map', '0:a:0',
      '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000',
      '-movflags', '+faststart', '-f', 'mp4', '/work/outputs/x/output.mp4',
    ],
  },
  {
    name: 'av1 webm, bit rate (maxrate and bufsize not passed)',
    task: task({ container: 'webm', video: video({ codec: 'av1', profile: 'main', level: null, preset: 'slow' }), audio: audio({ codec: 'opus', bitrateKbps: 96 }) }),
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-map', '0:v:0',
      '-vf', 'scale=1280:720:flags=bicubic,setsar=1,fps=30/1',
      '-c:v', 'libsvtav1', '-preset', '4',
      '-b:v', '2500k',
      '-g', '60',
      '-pix_fmt', 'yuv420p',
      '-map', '0:a:0',
      '-c:a', 'libopus', '-b:a', '96k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000', '-f', 'webm', '/work/outputs/x/output.webm',
    ],
  },
  {
    name: 'h264, one watermark (bottom right, 70 %, whole duration)',
    task: task({ watermarks: [wm()] }),
    assets: ['/cache/wm-logo.input'],
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-protocol_whitelist', 'file', '-format_whitelist', 'png_pipe', '-i', '/cache/wm-logo.input',
      '-filter_complex', '[0:v:0]scale=1280:720:flags=bicubic,setsar=1,fps=30/1[base];[1:v:0]scale=192:-2:flags=lanczos,format=rgba,colorchannelmixer=aa=0.7[wm0];[base][wm0]overlay=x=main_w-overlay_w-16:y=main_h-overlay_h-16:enable=\'gte(t,0)\'[v0]',
      '-map', '[v0]',
      '-c:v', 'libx264',
      '-profile:v', 'high', '-level:v', '3.1', '-preset', 'veryfast',
      '-b:v', '2500k', '-maxrate', '3750k', '-bufsize', '5000k',
      '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
      '-pix_fmt', 'yuv420p',
      '-map', '0:a:0',
      '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000',
      '-movflags', '+faststart', '-f', 'mp4', '/work/outputs/x/output.mp4',
    ],
  },
  {
    name: 'h264, two watermarks (top left opaque in a window; centred text)',
    task: task({ watermarks: [wm({ position: 'TL', dx: 10, dy: 20, opacity: 1, startSec: 2, endSec: 8, widthPx: 256 }), wm({ taskId: 'watermark:text', assetKey: 'j/.wm/text.png', position: 'center', opacity: 0.5, startSec: 0, endSec: null, widthPx: 320 })] }),
    assets: ['/cache/wm-logo.input', '/cache/wm-text.input'],
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-protocol_whitelist', 'file', '-format_whitelist', 'png_pipe', '-i', '/cache/wm-logo.input',
      '-protocol_whitelist', 'file', '-format_whitelist', 'png_pipe', '-i', '/cache/wm-text.input',
      '-filter_complex', '[0:v:0]scale=1280:720:flags=bicubic,setsar=1,fps=30/1[base];[1:v:0]scale=256:-2:flags=lanczos,format=rgba[wm0];[base][wm0]overlay=x=10:y=20:enable=\'between(t,2,8)\'[v0];[2:v:0]scale=320:-2:flags=lanczos,format=rgba,colorchannelmixer=aa=0.5[wm1];[v0][wm1]overlay=x=(main_w-overlay_w)/2:y=(main_h-overlay_h)/2:enable=\'gte(t,0)\'[v1]',
      '-map', '[v1]',
      '-c:v', 'libx264',
      '-profile:v', 'high', '-level:v', '3.1', '-preset', 'veryfast',
      '-b:v', '2500k', '-maxrate', '3750k', '-bufsize', '5000k',
      '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
      '-pix_fmt', 'yuv420p',
      '-map', '0:a:0',
      '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000',
      '-movflags', '+faststart', '-f', 'mp4', '/work/outputs/x/output.mp4',
    ],
  },
  {
    name: 'h264, clip from 5 s for 10 s',
    task: task({ clip: { startSec: 5, durationSec: 10 } }),
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-ss', '5.000', '-i', '/cache/in.input',
      '-t', '10.000',
      '-map', '0:v:0',
      '-vf', 'scale=1280:720:flags=bicubic,setsar=1,fps=30/1',
      '-c:v', 'libx264',
      '-profile:v', 'high', '-level:v', '3.1', '-preset', 'veryfast',
      '-b:v', '2500k', '-maxrate', '3750k', '-bufsize', '5000k',
      '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
      '-pix_fmt', 'yuv420p',
      '-map', '0:a:0',
      '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000',
      '-movflags', '+faststart', '-f', 'mp4', '/work/outputs/x/output.mp4',
    ],
  },
  {
    name: 'h264, clip from the start: no seek, only a duration',
    task: task({ clip: { startSec: 0, durationSec: 2.5 } }),
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-t', '2.500',
      '-map', '0:v:0',
      '-vf', 'scale=1280:720:flags=bicubic,setsar=1,fps=30/1',
      '-c:v', 'libx264',
      '-profile:v', 'high', '-level:v', '3.1', '-preset', 'veryfast',
      '-b:v', '2500k', '-maxrate', '3750k', '-bufsize', '5000k',
      '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
      '-pix_fmt', 'yuv420p',
      '-map', '0:a:0',
      '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000',
      '-movflags', '+faststart', '-f', 'mp4', '/work/outputs/x/output.mp4',
    ],
  },
  {
    name: 'vp9 webm, clip and a watermark (the clip seeks the input, not the watermark)',
    task: task({ container: 'webm', clip: { startSec: 12.3456, durationSec: 4 }, watermarks: [wm({ position: 'TR' })], video: video({ codec: 'vp9', profile: '0', level: null, preset: 'medium', ...crf(33) }), audio: audio({ codec: 'opus', bitrateKbps: 96 }) }),
    assets: ['/cache/wm-logo.input'],
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-ss', '12.346', '-i', '/cache/in.input',
      '-protocol_whitelist', 'file', '-format_whitelist', 'png_pipe', '-i', '/cache/wm-logo.input',
      '-t', '4.000',
      '-filter_complex', '[0:v:0]scale=1280:720:flags=bicubic,setsar=1,fps=30/1[base];[1:v:0]scale=192:-2:flags=lanczos,format=rgba,colorchannelmixer=aa=0.7[wm0];[base][wm0]overlay=x=main_w-overlay_w-16:y=16:enable=\'gte(t,0)\'[v0]',
      '-map', '[v0]',
      '-c:v', 'libvpx-vp9',
      '-profile:v', '0',
      '-crf', '33', '-b:v', '0',
      '-deadline', 'good', '-cpu-used', '3', '-row-mt', '1',
      '-g', '60', '-keyint_min', '60',
      '-pix_fmt', 'yuv420p',
      '-map', '0:a:0',
      '-c:a', 'libopus', '-b:a', '96k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000', '-f', 'webm', '/work/outputs/x/output.webm',
    ],
  },
  {
    name: 'deinterlace and pad (letterbox)',
    task: task({ video: video({ deinterlace: true, fit: 'pad', scaleWidth: 960, scaleHeight: 720 }) }),
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-map', '0:v:0',
      '-vf', 'yadif=mode=send_frame:deint=interlaced,scale=960:720:flags=bicubic,pad=1280:720:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,fps=30/1',
      '-c:v', 'libx264',
      '-profile:v', 'high', '-level:v', '3.1', '-preset', 'veryfast',
      '-b:v', '2500k', '-maxrate', '3750k', '-bufsize', '5000k',
      '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
      '-pix_fmt', 'yuv420p',
      '-map', '0:a:0',
      '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000',
      '-movflags', '+faststart', '-f', 'mp4', '/work/outputs/x/output.mp4',
    ],
  },
  {
    name: 'crop',
    task: task({ video: video({ fit: 'crop', width: 720, height: 720, scaleWidth: 1280, scaleHeight: 720 }) }),
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-map', '0:v:0',
      '-vf', 'scale=1280:720:flags=bicubic,crop=720:720,setsar=1,fps=30/1',
      '-c:v', 'libx264',
      '-profile:v', 'high', '-level:v', '3.1', '-preset', 'veryfast',
      '-b:v', '2500k', '-maxrate', '3750k', '-bufsize', '5000k',
      '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
      '-pix_fmt', 'yuv420p',
      '-map', '0:a:0',
      '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000',
      '-movflags', '+faststart', '-f', 'mp4', '/work/outputs/x/output.mp4',
    ],
  },
  {
    name: 'video only: -an',
    task: task({ audio: null }),
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-map', '0:v:0',
      '-vf', 'scale=1280:720:flags=bicubic,setsar=1,fps=30/1',
      '-c:v', 'libx264',
      '-profile:v', 'high', '-level:v', '3.1', '-preset', 'veryfast',
      '-b:v', '2500k', '-maxrate', '3750k', '-bufsize', '5000k',
      '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
      '-pix_fmt', 'yuv420p',
      '-an',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000',
      '-movflags', '+faststart', '-f', 'mp4', '/work/outputs/x/output.mp4',
    ],
  },
  {
    name: 'second audio stream, loudnorm, downmix to stereo',
    task: task({ audio: audio({ streamIndex: 1, loudnorm: true }) }),
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-map', '0:v:0',
      '-vf', 'scale=1280:720:flags=bicubic,setsar=1,fps=30/1',
      '-c:v', 'libx264',
      '-profile:v', 'high', '-level:v', '3.1', '-preset', 'veryfast',
      '-b:v', '2500k', '-maxrate', '3750k', '-bufsize', '5000k',
      '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
      '-pix_fmt', 'yuv420p',
      '-map', '0:a:1',
      '-af', 'loudnorm=I=-23:TP=-1:LRA=7',
      '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000',
      '-movflags', '+faststart', '-f', 'mp4', '/work/outputs/x/output.mp4',
    ],
  },
  {
    name: 'm4a: AAC only',
    task: task({ container: 'm4a', video: null, watermarks: [] }),
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-vn',
      '-map', '0:a:0',
      '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000',
      '-movflags', '+faststart', '-f', 'mp4', '/work/outputs/x/output.m4a',
    ],
  },
  {
    name: 'mp3: ID3v2.3, 44.1 kHz',
    task: task({ container: 'mp3', video: null, audio: audio({ codec: 'mp3', sampleRate: 44100 }) }),
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-vn',
      '-map', '0:a:0',
      '-c:a', 'libmp3lame', '-b:a', '128k', '-ar', '44100', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000',
      '-id3v2_version', '3', '-f', 'mp3', '/work/outputs/x/output.mp3',
    ],
  },
  {
    name: 'ogg: opus mono',
    task: task({ container: 'ogg', video: null, audio: audio({ codec: 'opus', bitrateKbps: 64, channels: 1 }) }),
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-vn',
      '-map', '0:a:0',
      '-c:a', 'libopus', '-b:a', '64k', '-ar', '48000', '-ac', '1',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000', '-f', 'ogg', '/work/outputs/x/output.ogg',
    ],
  },
  {
    name: 'audio only with a clip',
    task: task({ container: 'm4a', video: null, clip: { startSec: 1.5, durationSec: 3 } }),
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-ss', '1.500', '-i', '/cache/in.input',
      '-t', '3.000',
      '-vn',
      '-map', '0:a:0',
      '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000',
      '-movflags', '+faststart', '-f', 'mp4', '/work/outputs/x/output.m4a',
    ],
  },
  {
    name: 'streaming rung: a plain MP4 (its edit lists carry the encoder delay)',
    task: task({ container: 'fmp4', outputKey: 'j/hls/720p.mp4', rung: { output: 'hls', name: '720p', segmentSec: 6 } }),
    want: [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-map', '0:v:0',
      '-vf', 'scale=1280:720:flags=bicubic,setsar=1,fps=30/1',
      '-c:v', 'libx264',
      '-profile:v', 'high', '-level:v', '3.1', '-preset', 'veryfast',
      '-b:v', '2500k', '-maxrate', '3750k', '-bufsize', '5000k',
      '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
      '-pix_fmt', 'yuv420p',
      '-map', '0:a:0',
      '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1',
      '-fs', '10000000000',
      '-f', 'mp4', '/work/outputs/x/output.mp4',
    ],
  },
];

describe('transcodeArgs', () => {
  for (const c of cases) {
    test(c.name, () => {
      const output = `/work/outputs/x/output.${c.task.container === 'fmp4' ? 'mp4' : c.task.container}`;
      assert.deepEqual(transcodeArgs(c.task, '/cache/in.input', output, c.limits ?? LIMITS, c.assets ?? []), c.want);
    });
  }

  test('a watermark asset per planned watermark, none for audio-only tasks', () => {
    assert.throws(() => transcodeArgs(task({ watermarks: [wm()] }), '/cache/in.input', '/o.mp4', LIMITS, []), /1 watermarks planned, 0 assets given/);
    assert.throws(() => transcodeArgs(task(), '/cache/in.input', '/o.mp4', LIMITS, ['/cache/wm.input']), /0 watermarks planned, 1 assets given/);
    assert.throws(() => transcodeArgs(task({ video: null, container: 'm4a', watermarks: [wm()] }), '/cache/in.input', '/o.m4a', LIMITS, ['/cache/wm.input']), /assets given/);
  });

  test('the fps filter takes the exact fraction (a decimal 29.97 made 2997/100 streams); a task planned without it keeps its decimal', () => {
    assert.equal(videoFilter(video({ fps: 29.97, fpsRational: '30000/1001' })), 'scale=1280:720:flags=bicubic,setsar=1,fps=30000/1001');
    assert.equal(videoFilter(video({ fps: 23.976, fpsRational: '24000/1001', width: 640, height: 360, scaleWidth: 640, scaleHeight: 360 })), 'scale=640:360:flags=bicubic,setsar=1,fps=24000/1001');
    assert.equal(videoFilter(video({ fps: 29.97, fpsRational: undefined })), 'scale=1280:720:flags=bicubic,setsar=1,fps=29.97');
  });
});

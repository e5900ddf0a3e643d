/**
 * Golden argv for the decode-once builders (media/args/encode.ts) and the chunk plan
 * (media/chunks.ts): one ffmpeg run for every rendition of a range, the audio once per distinct
 * setting, the remux by stream copy, the chunk and join commands, and where long inputs are cut.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeArgs, encodeLayout, groupByRange, joinArgs, remuxArgs, chunkTasks } from '../../media/args/encode';
import { alignedChunkSec, planChunks } from '../../media/chunks';
import type { AudioPlan, TranscodeTask, VideoPlan, WatermarkPlan } from '../../media/plan';

const COMMON = ['-hide_banner', '-nostdin', '-y', '-v', 'error', '-nostats', '-progress', 'pipe:1'];
const ALLOWED = 'mov,matroska,avi,mpegts,mpeg,flv,mxf,asf,ogg,wav,mp3,aac,flac,png_pipe,jpeg_pipe,webp_pipe';
const LIMITS = { threads: 0, maxOutputBytes: 1000 };

function video(over: Partial<VideoPlan> = {}): VideoPlan {
  return {
    codec: 'h264', profile: 'high', level: null, preset: 'veryfast', pixFmt: 'yuv420p',
    scaleWidth: 1280, scaleHeight: 720, width: 1280, height: 720, fit: 'keep', deinterlace: false,
    fps: 30, fpsRational: '30/1', gopFrames: 60, crf: 23, bitrateKbps: null, maxrateKbps: null, bufsizeKbps: null,
    ...over,
  };
}

function audio(over: Partial<AudioPlan> = {}): AudioPlan {
  return { codec: 'aac', streamIndex: 0, bitrateKbps: 128, sampleRate: 48000, channels: 2, loudnorm: false, ...over };
}

function task(name: string, over: Partial<TranscodeTask> = {}): TranscodeTask {
  return {
    id: `transcode:${name}`, kind: 'transcode', name, outputKey: `j/${name}.mp4`, container: 'mp4',
    video: video(), audio: audio(), clip: null, durationSec: 120, watermarks: [], rung: null,
    ...over,
  };
}

const wm: WatermarkPlan = { taskId: 'watermark:1', assetKey: 'j/watermarks/1.png', position: 'TL', dx: 8, dy: 8, widthPx: 100, opacity: 1, startSec: 40, endSec: 50 };

const H264 = (crf: number, gop = 60) => ['-c:v', 'libx264', '-profile:v', 'high', '-preset', 'veryfast', '-crf', String(crf), '-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0'];

describe('decode once: encodeArgs', () => {
  test('a ladder of two rungs and an audio-only output: one split, one AAC encode shared by all three', () => {
    const tasks = [
      task('720p', { container: 'fmp4' }),
      task('360p', { container: 'fmp4', video: video({ scaleWidth: 640, scaleHeight: 360, width: 640, height: 360, crf: 26 }) }),
      task('sound', { container: 'm4a', video: null }),
    ];
    const layout = encodeLayout(tasks, '/s');
    assert.deepEqual(layout.renditions.map((r) => [r.audio, r.remux, r.videoFile, r.outputFile]), [
      [0, true, '/s/video-0.mp4', '/s/output-0.mp4'],
      [0, true, '/s/video-1.mp4', '/s/output-1.mp4'],
      [0, true, null, '/s/output-2.m4a'],
    ]);
    assert.deepEqual(encodeArgs(layout, '/in', LIMITS, [[], [], []]), [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/in',
      '-filter_complex',
      '[0:v:0]split=2[src0][src1];[src0]scale=1280:720:flags=bicubic,setsar=1,fps=30/1[r0base];[src1]scale=640:360:flags=bicubic,setsar=1,fps=30/1[r1base]',
      '-map', '[r0base]', ...H264(23), '-pix_fmt', 'yuv420p', '-an', '-sn', '-dn', '-map_metadata', '-1', '-fs', '1000', '-f', 'mp4', '/s/video-0.mp4',
      '-map', '[r1base]', ...H264(26), '-pix_fmt', 'yuv420p', '-an', '-sn', '-dn', '-map_metadata', '-1', '-fs', '1000', '-f', 'mp4', '/s/video-1.mp4',
      '-map', '0:a:0', '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2', '-vn', '-sn', '-dn', '-map_metadata', '-1', '-fs', '1000', '-f', 'mp4', '/s/audio-0.mp4',
    ]);
  });

  test('an audio setting only one rendition uses is encoded into that rendition: no audio file, no remux', () => {
    const tasks = [task('a'), task('b', { audio: audio({ bitrateKbps: 64 }) }), task('silent', { container: 'webm', audio: null, video: video({ codec: 'vp9', profile: '0', crf: 33 }) })];
    const layout = encodeLayout(tasks, '/s');
    assert.deepEqual(layout.audio.map((a) => a.bitrateKbps), [128, 64]);
    assert.deepEqual(layout.audioFiles, [null, null]);
    assert.deepEqual(layout.renditions.map((r) => [r.audio, r.remux, r.videoFile]), [[0, false, '/s/output-0.mp4'], [1, false, '/s/output-1.mp4'], [null, false, '/s/output-2.webm']]);
    const args = encodeArgs(layout, '/in', LIMITS, [[], [], []]);
    assert.deepEqual(args.slice(args.indexOf('-filter_complex') + 2), [
      '-map', '[r0base]', ...H264(23), '-pix_fmt', 'yuv420p',
      '-map', '0:a:0', '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1', '-fs', '1000', '-movflags', '+faststart', '-f', 'mp4', '/s/output-0.mp4',
      '-map', '[r1base]', ...H264(23), '-pix_fmt', 'yuv420p',
      '-map', '0:a:0', '-c:a', 'aac', '-b:a', '64k', '-ar', '48000', '-ac', '2',
      '-sn', '-dn', '-map_metadata', '-1', '-fs', '1000', '-movflags', '+faststart', '-f', 'mp4', '/s/output-1.mp4',
      '-map', '[r2base]', '-c:v', 'libvpx-vp9', '-profile:v', '0', '-crf', '33', '-b:v', '0', '-deadline', 'good', '-cpu-used', '5', '-row-mt', '1', '-g', '60', '-keyint_min', '60',
      '-pix_fmt', 'yuv420p', '-an', '-sn', '-dn', '-map_metadata', '-1', '-fs', '1000', '-f', 'webm', '/s/output-2.webm',
    ]);
  });

  test('an audio-only rendition alone with its setting is written in its own container; `always` keeps every audio in a file of its own', () => {
    const tasks = [task('sound', { container: 'mp3', video: null, audio: audio({ codec: 'mp3' }) })];
    const direct = encodeLayout(tasks, '/s');
    assert.deepEqual(direct.audioFiles, [null]);
    const args = encodeArgs(direct, '/in', LIMITS, [[]]);
    assert.deepEqual(args.slice(args.indexOf('/in') + 1), [
      '-map', '0:a:0', '-c:a', 'libmp3lame', '-b:a', '128k', '-ar', '48000', '-ac', '2', '-vn', '-sn', '-dn', '-map_metadata', '-1', '-fs', '1000', '-id3v2_version', '3', '-f', 'mp3', '/s/output-0.mp3',
    ]);
    const always = encodeLayout(tasks, '/s', { audioFiles: 'always' });
    assert.deepEqual(always.audioFiles, ['/s/audio-0.mp4']);
    assert.equal(always.renditions[0]!.remux, true);
    assert.deepEqual(encodeArgs(always, '/in', LIMITS, [[]]).slice(-3), ['-f', 'mp4', '/s/audio-0.mp4']);
  });

  test('a clip: one seek for the run, -t on every output; a watermark is an input of its own per use', () => {
    const clip = { startSec: 5, durationSec: 10 };
    const tasks = [task('a', { clip, audio: null, watermarks: [wm] }), task('b', { clip, audio: null, watermarks: [wm], video: video({ width: 640, height: 360, scaleWidth: 640, scaleHeight: 360 }) })];
    const layout = encodeLayout(tasks, '/s');
    assert.deepEqual(encodeArgs(layout, '/in', LIMITS, [['/wa.png'], ['/wb.png']]), [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-ss', '5.000', '-i', '/in',
      '-protocol_whitelist', 'file', '-format_whitelist', 'png_pipe', '-i', '/wa.png',
      '-protocol_whitelist', 'file', '-format_whitelist', 'png_pipe', '-i', '/wb.png',
      '-filter_complex',
      [
        '[0:v:0]split=2[src0][src1]',
        '[src0]scale=1280:720:flags=bicubic,setsar=1,fps=30/1[r0base]',
        '[1:v:0]scale=100:-2:flags=lanczos,format=rgba[r0wm0]',
        "[r0base][r0wm0]overlay=x=8:y=8:enable='between(t,40,50)'[r0v0]",
        '[src1]scale=640:360:flags=bicubic,setsar=1,fps=30/1[r1base]',
        '[2:v:0]scale=100:-2:flags=lanczos,format=rgba[r1wm0]',
        "[r1base][r1wm0]overlay=x=8:y=8:enable='between(t,40,50)'[r1v0]",
      ].join(';'),
      '-t', '10.000', '-map', '[r0v0]', ...H264(23), '-pix_fmt', 'yuv420p', '-an', '-sn', '-dn', '-map_metadata', '-1', '-fs', '1000', '-movflags', '+faststart', '-f', 'mp4', '/s/output-0.mp4',
      '-t', '10.000', '-map', '[r1v0]', ...H264(23), '-pix_fmt', 'yuv420p', '-an', '-sn', '-dn', '-map_metadata', '-1', '-fs', '1000', '-movflags', '+faststart', '-f', 'mp4', '/s/output-1.mp4',
    ]);
    assert.throws(() => encodeArgs(layout, '/in', LIMITS, [['/wa.png'], []]), /1 watermarks planned, 0 assets given/);
  });

  test('groupByRange: the same clip (or none) shares a run; another range gets its own', () => {
    const a = task('a');
    const b = task('b', { clip: { startSec: 1, durationSec: 2 } });
    const c = task('c');
    assert.deepEqual(groupByRange([a, b, c]).map((g) => g.map((t) => t.name)), [['a', 'c'], ['b']]);
  });

  test('remux: video and the shared audio by stream copy into the rendition container; HEVC tagged hvc1 again', () => {
    const layout = encodeLayout([task('h', { video: video({ codec: 'h265' }) }), task('h2', { video: video({ codec: 'h265', crf: 30 }) })], '/s');
    assert.deepEqual(remuxArgs(layout.renditions[0]!, '/s/audio-0.mp4', LIMITS), [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', 'mov', '-i', '/s/video-0.mp4',
      '-protocol_whitelist', 'file', '-format_whitelist', 'mov', '-i', '/s/audio-0.mp4',
      '-map', '0:v:0', '-map', '1:a:0', '-c', 'copy', '-tag:v', 'hvc1', '-map_metadata', '-1', '-fs', '1000',
      '-movflags', '+faststart', '-f', 'mp4', '/s/output-0.mp4',
    ]);
  });
});

describe('chunks', () => {
  test('a chunk length is a whole number of every GOP and segment', () => {
    const rung = (segmentSec: number) => ({ output: 'hls', name: 'x', segmentSec });
    assert.equal(alignedChunkSec([task('a')], 30, 60), 30);
    assert.equal(alignedChunkSec([task('a', { rung: rung(4) })], 30, 60), 32);
    assert.equal(alignedChunkSec([task('a', { rung: rung(6) }), task('b', { video: video({ gopFrames: 48, fps: 24, fpsRational: '24/1' }) })], 25, 60), 30);
    // Exact arithmetic on the fraction: 60 frames at 30000/1001 are 2002 ms, so 15 GOPs make a chunk…
    assert.equal(alignedChunkSec([task('a', { video: video({ fps: 29.97, fpsRational: '30000/1001' }) })], 30, 60), 30.03);
    // …while 25 frames at 30000/1001 are 834.17 ms: no common cut, one run.
    assert.equal(alignedChunkSec([task('a', { video: video({ fps: 29.97, fpsRational: '30000/1001', gopFrames: 25 }) })], 30, 60), null);
    // A task planned from a probe result without the exact rate (a recorded history) keeps its decimal rule: 60 frames at 29.97 never chunk.
    assert.equal(alignedChunkSec([task('a', { video: video({ fps: 29.97, fpsRational: undefined }) })], 30, 60), null);
  });

  test('planChunks: short inputs run whole; long ones get chunks with exact frame counts, the last one open', () => {
    assert.equal(planChunks([task('a', { durationSec: 60 })], { minDurationSec: 90, chunkSec: 30 }), null);
    assert.equal(planChunks([task('a', { video: null })], { minDurationSec: 90, chunkSec: 30 }), null);
    const tasks = [task('a'), task('b', { video: video({ fps: 15, fpsRational: '15/1', gopFrames: 30 }) }), task('s', { video: null })];
    assert.deepEqual(planChunks(tasks, { minDurationSec: 90, chunkSec: 50 }), [
      { index: 0, startSec: 0, durationSec: 50, frames: { 'transcode:a': 1500, 'transcode:b': 750 } },
      { index: 1, startSec: 50, durationSec: 50, frames: { 'transcode:a': 1500, 'transcode:b': 750 } },
      { index: 2, startSec: 100, durationSec: null, frames: { 'transcode:a': null, 'transcode:b': null } },
    ]);
  });

  test('planChunks at 30000/1001: whole GOPs of 2002 ms, exact frame counts', () => {
    const ntsc = task('a', { durationSec: 100, video: video({ fps: 29.97, fpsRational: '30000/1001' }) });
    assert.deepEqual(planChunks([ntsc], { minDurationSec: 90, chunkSec: 30 })?.map((c) => [c.startSec, c.durationSec, c.frames['transcode:a']]), [
      [0, 30.03, 900], [30.03, 30.03, 900], [60.06, 30.03, 900], [90.09, null, null],
    ]);
  });

  test('a chunk sees video only, over its part of the range, watermark windows on its own clock', () => {
    const [c] = chunkTasks([task('a', { clip: { startSec: 10, durationSec: 100 }, durationSec: 100, watermarks: [wm] }), task('s', { video: null })], {
      index: 1, startSec: 30, durationSec: 30, frames: {},
    });
    assert.deepEqual({ clip: c!.clip, durationSec: c!.durationSec, audio: c!.audio, container: c!.container, wm: [c!.watermarks[0]!.startSec, c!.watermarks[0]!.endSec] }, {
      clip: { startSec: 40, durationSec: 30 }, durationSec: 30, audio: null, container: 'mp4', wm: [10, 20],
    });
  });

  test('join: the chunk list by the concat demuxer, the audio beside it, stream copy', () => {
    assert.deepEqual(joinArgs(task('a', { container: 'fmp4' }), '/s/list.ffconcat', '/s/audio.mp4', '/s/out.mp4', LIMITS), [
      ...COMMON,
      '-f', 'concat', '-protocol_whitelist', 'file', '-format_whitelist', 'concat,mov', '-i', '/s/list.ffconcat',
      '-protocol_whitelist', 'file', '-format_whitelist', 'mov', '-i', '/s/audio.mp4',
      '-map', '0:v:0', '-map', '1:a:0', '-c', 'copy', '-map_metadata', '-1', '-fs', '1000',
      '-f', 'mp4', '/s/out.mp4',
    ]);
    assert.deepEqual(joinArgs(task('s', { container: 'm4a', video: null }), null, '/s/audio.mp4', '/s/out.m4a', LIMITS).slice(COMMON.length), [
      '-protocol_whitelist', 'file', '-format_whitelist', 'mov', '-i', '/s/audio.mp4', '-map', '0:a:0', '-c', 'copy', '-map_metadata', '-1', '-fs', '1000', '-movflags', '+faststart', '-f', 'mp4', '/s/out.m4a',
    ]);
  });
});

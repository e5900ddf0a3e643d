/** The planner's rules, table-driven: job spec × probe result → exact task parameters. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { planJob, type MediaTask, type PackageTask, type SnapshotTask, type TranscodeTask, type WatermarkTask } from '../../media/plan';
import type { MediaInfo, VideoInfo } from '../../model/job-state';
import type { ResolvedOutput, ResolvedSnapshot } from '../../model/job';
import type { TranscodeTemplate } from '../../model/templates';
import { presetOutput, snapshotAt, testSpec } from '../helpers/spec';

function media(video: Partial<VideoInfo> | null, extra: Partial<MediaInfo> = {}): MediaInfo {
  return {
    durationSec: 20,
    container: 'mov,mp4,m4a,3gp,3g2,mj2',
    sizeBytes: 1_000_000,
    video: video === null ? null : { codec: 'h264', width: 1920, height: 1080, fps: 30, fpsRational: '30/1', rotation: 0, pixFmt: 'yuv420p', sar: [1, 1], ...video },
    audio: [{ codec: 'aac', channels: 2, sampleRate: 48000 }],
    ...extra,
  };
}

const noAudio = { audio: [] };
const audioOnly = (channels = 2): Partial<MediaInfo> => ({ audio: [{ codec: 'mp3', channels, sampleRate: 44100 }] });

/** The 720p preset with a template frame rate (a ceiling). */
const fpsCap = (fps: number) => change('mp4-h264-720p', (t) => ({ ...t, video: { ...t.video!, fps } }));

function change(id: string, fn: (t: TranscodeTemplate) => TranscodeTemplate): ResolvedOutput {
  return presetOutput('out', id, fn);
}

function plan(outputs: ResolvedOutput[], m: MediaInfo, extra: Parameters<typeof testSpec>[2] = {}) {
  return planJob(testSpec('raw/in.mp4', outputs, { id: 'job_t', snapshots: [], ...extra }), m);
}

function only<K extends MediaTask['kind']>(tasks: MediaTask[], kind: K): Extract<MediaTask, { kind: K }>[] {
  return tasks.filter((t): t is Extract<MediaTask, { kind: K }> => t.kind === kind);
}

function one(outputs: ResolvedOutput[], m: MediaInfo): TranscodeTask {
  const p = plan(outputs, m);
  assert.deepEqual(p.refused, []);
  const t = only(p.tasks, 'transcode')[0];
  assert.ok(t);
  return t;
}

interface VideoCase {
  name: string;
  output: ResolvedOutput;
  media: MediaInfo;
  want: Partial<NonNullable<TranscodeTask['video']>>;
}

const videoCases: VideoCase[] = [
  { name: '1080p → 720p preset', output: presetOutput('o', 'mp4-h264-720p'), media: media({}), want: { width: 1280, height: 720, scaleWidth: 1280, scaleHeight: 720 } },
  { name: '1080p → 360p preset', output: presetOutput('o', 'mp4-h264-360p'), media: media({}), want: { width: 640, height: 360 } },
  { name: 'no upscaling: 640x360 into 720p stays 640x360', output: presetOutput('o', 'mp4-h264-720p'), media: media({ width: 640, height: 360 }), want: { width: 640, height: 360 } },
  { name: 'upscaling when allowed', output: change('mp4-h264-720p', (t) => ({ ...t, transConfig: { noUpscale: false } })), media: media({ width: 640, height: 360 }), want: { width: 1280, height: 720 } },
  { name: 'odd source 1279x719 gives even sizes', output: presetOutput('o', 'mp4-h264-1080p'), media: media({ width: 1279, height: 719 }), want: { width: 1280, height: 720 } },
  { name: 'odd source 853x481 into 480p box', output: presetOutput('o', 'mp4-h264-480p'), media: media({ width: 853, height: 481 }), want: { width: 852, height: 480 } },
  { name: 'odd 321x241 kept, rounded even', output: presetOutput('o', 'mp4-h264-360p'), media: media({ width: 321, height: 241 }), want: { width: 322, height: 242 } },
  { name: 'portrait phone video (rotation 90) comes out portrait, 720 on the short side', output: presetOutput('o', 'mp4-h264-720p'), media: media({ rotation: 90 }), want: { width: 720, height: 1280 } },
  { name: 'rotation 270 likewise', output: presetOutput('o', 'mp4-h264-1080p'), media: media({ rotation: 270 }), want: { width: 1080, height: 1920 } },
  { name: 'portrait frames (1080x1920, no rotation flag) likewise', output: presetOutput('o', 'mp4-h264-480p'), media: media({ width: 1080, height: 1920 }), want: { width: 480, height: 854 } },
  { name: 'pad keeps the asked frame even for portrait sources', output: change('mp4-h264-720p', (t) => ({ ...t, transConfig: { aspect: 'pad' } })), media: media({ rotation: 90 }), want: { fit: 'pad', scaleWidth: 406, scaleHeight: 720, width: 1280, height: 720 } },
  { name: 'rotation 180 keeps landscape', output: presetOutput('o', 'mp4-h264-720p'), media: media({ rotation: 180 }), want: { width: 1280, height: 720 } },
  { name: 'anamorphic PAL 720x576 SAR 64:45 displays 1024x576', output: presetOutput('o', 'mp4-h264-1080p'), media: media({ width: 720, height: 576, sar: [64, 45] }), want: { width: 1024, height: 576 } },
  { name: 'anamorphic NTSC 720x480 SAR 8:9 into 480p', output: presetOutput('o', 'mp4-h264-480p'), media: media({ width: 720, height: 480, sar: [8, 9] }), want: { width: 640, height: 480 } },
  { name: 'HDV 1440x1080 SAR 4:3 is 16:9', output: presetOutput('o', 'mp4-h264-720p'), media: media({ width: 1440, height: 1080, sar: [4, 3] }), want: { width: 1280, height: 720 } },
  { name: 'width-only box keeps the aspect', output: change('mp4-h264-720p', (t) => ({ ...t, video: { ...t.video!, height: undefined, width: 960 } })), media: media({}), want: { width: 960, height: 540 } },
  { name: 'pad letterboxes 4:3 into 16:9', output: change('mp4-h264-720p', (t) => ({ ...t, transConfig: { aspect: 'pad' } })), media: media({ width: 1440, height: 1080 }), want: { fit: 'pad', scaleWidth: 960, scaleHeight: 720, width: 1280, height: 720 } },
  { name: 'crop fills 16:9 into a square', output: change('mp4-h264-720p', (t) => ({ ...t, video: { ...t.video!, width: 720, height: 720 }, transConfig: { aspect: 'crop' } })), media: media({}), want: { fit: 'crop', scaleWidth: 1280, scaleHeight: 720, width: 720, height: 720 } },
  { name: 'stretch ignores the aspect', output: change('mp4-h264-720p', (t) => ({ ...t, video: { ...t.video!, width: 640, height: 640 }, transConfig: { aspect: 'stretch' } })), media: media({}), want: { fit: 'stretch', width: 640, height: 640 } },
  { name: 'fps cap lowers 60 → 30', output: fpsCap(30), media: media({ fps: 60, fpsRational: '60/1' }), want: { fps: 30, fpsRational: '30/1', gopFrames: 60 } },
  { name: 'fps never raised: 25 stays 25 under a 30 cap', output: fpsCap(30), media: media({ fps: 25, fpsRational: '25/1' }), want: { fps: 25, fpsRational: '25/1', gopFrames: 50 } },
  { name: '30000/1001 stays exactly 30000/1001 (GOP: 2 s of it, 60 frames)', output: presetOutput('o', 'mp4-h264-720p'), media: media({ fps: 29.97, fpsRational: '30000/1001' }), want: { fps: 29.97, fpsRational: '30000/1001', gopFrames: 60 } },
  { name: '24000/1001 stays 24000/1001', output: presetOutput('o', 'mp4-h264-720p'), media: media({ fps: 23.976, fpsRational: '24000/1001' }), want: { fps: 23.976, fpsRational: '24000/1001', gopFrames: 48 } },
  { name: 'a rate stated rounded (2997/100) is 30000/1001', output: presetOutput('o', 'mp4-h264-720p'), media: media({ fps: 29.97, fpsRational: '2997/100' }), want: { fpsRational: '30000/1001' } },
  { name: 'VFR phone clip (60 nominal, 33.717 average) → 30, the nearest standard rate not above the average', output: presetOutput('o', 'mp4-h264-720p'), media: media({ fps: 33.717, fpsRational: '33717/1000' }), want: { fps: 30, fpsRational: '30/1', gopFrames: 60 } },
  { name: 'VFR average 26.4 → 25', output: presetOutput('o', 'mp4-h264-720p'), media: media({ fps: 26.4, fpsRational: '132/5' }), want: { fps: 25, fpsRational: '25/1' } },
  { name: 'VFR average 59.5 → 50 (59.94 is above it)', output: presetOutput('o', 'mp4-h264-720p'), media: media({ fps: 59.5, fpsRational: '119/2' }), want: { fps: 50, fpsRational: '50/1' } },
  { name: 'odd constant 48 fps → 30', output: presetOutput('o', 'mp4-h264-720p'), media: media({ fps: 48, fpsRational: '48/1' }), want: { fpsRational: '30/1' } },
  { name: '120 fps slow motion → 60', output: presetOutput('o', 'mp4-h264-720p'), media: media({ fps: 120, fpsRational: '120/1' }), want: { fpsRational: '60/1', gopFrames: 120 } },
  { name: '59.94 stays 60000/1001', output: presetOutput('o', 'mp4-h264-720p'), media: media({ fps: 59.94, fpsRational: '60000/1001' }), want: { fps: 59.94, fpsRational: '60000/1001', gopFrames: 120 } },
  { name: 'below every standard rate (15 fps capture): its own rate', output: presetOutput('o', 'mp4-h264-720p'), media: media({ fps: 15, fpsRational: '15/1' }), want: { fps: 15, fpsRational: '15/1', gopFrames: 30 } },
  { name: 'a template cap of 29.97 is 30000/1001', output: fpsCap(29.97), media: media({ fps: 60, fpsRational: '60/1' }), want: { fps: 29.97, fpsRational: '30000/1001', gopFrames: 60 } },
  { name: 'a 30 cap over a 30000/1001 source keeps 30000/1001 (a ceiling, not a rate)', output: fpsCap(30), media: media({ fps: 29.97, fpsRational: '30000/1001' }), want: { fpsRational: '30000/1001' } },
  { name: 'a cap of 24 on a VFR 33.7 average: 24', output: fpsCap(24), media: media({ fps: 33.717, fpsRational: '33717/1000' }), want: { fpsRational: '24/1', gopFrames: 48 } },
  { name: 'unknown rate falls back to 30', output: presetOutput('o', 'mp4-h264-720p'), media: media({ fps: 0, fpsRational: undefined }), want: { fps: 30 } },
  { name: 'a probe result recorded before the exact rate (replay): planned as then, decimal and all', output: presetOutput('o', 'mp4-h264-720p'), media: media({ fps: 33.717, fpsRational: undefined }), want: { fps: 33.717, fpsRational: undefined, gopFrames: 67 } },
  { name: '10-bit source → 8-bit 4:2:0 H.264 by default', output: presetOutput('o', 'mp4-h264-720p'), media: media({ pixFmt: 'yuv420p10le' }), want: { pixFmt: 'yuv420p', profile: 'high' } },
  { name: '4:4:4 source → 4:2:0', output: presetOutput('o', 'mp4-h264-720p'), media: media({ pixFmt: 'yuv444p' }), want: { pixFmt: 'yuv420p' } },
  { name: '10-bit H.265 asks for main10', output: change('mp4-h265-1080p', (t) => ({ ...t, video: { ...t.video!, profile: undefined, pixFmt: 'yuv420p10le' } })), media: media({ pixFmt: 'yuv420p10le' }), want: { pixFmt: 'yuv420p10le', profile: 'main10', codec: 'h265' } },
  { name: 'bit rate, maxrate and bufsize carried, no crf', output: presetOutput('o', 'mp4-h264-720p'), media: media({}), want: { bitrateKbps: 2500, maxrateKbps: 3750, bufsizeKbps: 5000, crf: null } },
  { name: 'crf default per codec (VP9 33 from its preset)', output: presetOutput('o', 'webm-vp9-720p'), media: media({}), want: { crf: 33, bitrateKbps: null, codec: 'vp9', profile: '0' } },
  { name: 'crf default when a template gives neither (H.264 23)', output: change('mp4-h264-720p', (t) => ({ ...t, video: { codec: 'h264' } })), media: media({}), want: { crf: 23, preset: 'veryfast', width: 1920, height: 1080 } },
];

describe('planner: video', () => {
  for (const c of videoCases) {
    test(c.name, () => {
      const t = one([c.output], c.media);
      for (const [k, v] of Object.entries(c.want)) assert.deepEqual(t.video?.[k as keyof TranscodeTask['video'] & string], v, `${k}`);
      assert.equal(t.video!.width % 2, 0);
      assert.equal(t.video!.height % 2, 0);
    });
  }
});

describe('planner: audio and inputs', () => {
  test('an input without audio gives a video-only output, not a failure', () => {
    const t = one([presetOutput('o', 'mp4-h264-720p')], media({}, noAudio));
    assert.equal(t.audio, null);
    assert.ok(t.video);
  });
  test('an audio-only input makes audio outputs', () => {
    const t = one([presetOutput('o', 'm4a-aac-128k')], media(null, audioOnly()));
    assert.deepEqual(t.audio, { codec: 'aac', streamIndex: 0, bitrateKbps: 128, sampleRate: 48000, channels: 2, loudnorm: false });
    assert.equal(t.video, null);
    assert.equal(t.outputKey, 'job_t/o.m4a');
  });
  test('an audio-only input refuses video outputs with a reason, non-retryable', () => {
    const p = plan([presetOutput('v', 'mp4-h264-720p'), presetOutput('a', 'mp3-128k')], media(null, audioOnly()));
    assert.deepEqual(p.refused.map((r) => [r.id, r.error.code, r.error.retryable]), [['transcode:v', 'OutputNotPossible', false]]);
    assert.match(p.refused[0]!.error.message, /audio only/);
    assert.deepEqual(only(p.tasks, 'transcode').map((t) => t.id), ['transcode:a']);
  });
  test('an audio-only template on an input without audio is refused', () => {
    const p = plan([presetOutput('a', 'm4a-aac-128k')], media({}, noAudio));
    assert.match(p.refused[0]!.error.message, /no audio/);
  });
  test('mono sources are not upmixed; surround is downmixed to 2', () => {
    assert.equal(one([presetOutput('a', 'm4a-aac-128k')], media(null, audioOnly(1))).audio?.channels, 1);
    assert.equal(one([presetOutput('a', 'm4a-aac-128k')], media(null, audioOnly(6))).audio?.channels, 2);
  });
  test('several audio tracks: the one marked default, else the first; a named one wins; a missing one is refused', () => {
    const tracks = (marked: number | null): Partial<MediaInfo> => ({
      audio: [1, 6, 2].map((channels, i) => ({ codec: 'aac', channels, sampleRate: 48000, ...(i === marked ? { default: true } : {}) })),
    });
    assert.deepEqual([one([presetOutput('o', 'm4a-aac-128k')], media({}, tracks(2))).audio?.streamIndex, one([presetOutput('o', 'm4a-aac-128k')], media({}, tracks(2))).audio?.channels], [2, 2]);
    assert.equal(one([presetOutput('o', 'm4a-aac-128k')], media({}, tracks(null))).audio?.streamIndex, 0);
    const named = one([{ ...presetOutput('o', 'm4a-aac-128k'), audioTrack: 1 }], media({}, tracks(2))).audio;
    assert.deepEqual([named?.streamIndex, named?.channels], [1, 2], 'track 1 (5.1) downmixed to stereo');
    const p = plan([{ ...presetOutput('o', 'm4a-aac-128k'), audioTrack: 3 }], media({}, tracks(null)));
    assert.deepEqual(p.refused.map((r) => [r.id, r.error.code]), [['transcode:o', 'OutputNotPossible']]);
    assert.match(p.refused[0]!.error.message, /audio track 3 does not exist \(the input has 3\)/);
  });
  test('interlaced sources are deinterlaced, progressive ones are not', () => {
    assert.equal(one([presetOutput('o', 'mp4-h264-720p')], media({ interlaced: true })).video?.deinterlace, true);
    assert.equal(one([presetOutput('o', 'mp4-h264-720p')], media({})).video?.deinterlace, false);
  });
  test('Opus gets a rate it supports', () => {
    const t = one([change('webm-vp9-720p', (x) => ({ ...x, audio: { codec: 'opus', sampleRate: 44100 } }))], media({}));
    assert.deepEqual([t.audio?.sampleRate, t.audio?.bitrateKbps], [48000, 96]);
  });
});

describe('planner: clips', () => {
  const clipped = (start: number, duration: number | null) => ({ ...presetOutput('c', 'mp4-h264-360p'), clip: { start, duration } });
  test('a clip inside the input', () => {
    const t = one([clipped(1.5, 10)], media({}));
    assert.deepEqual([t.clip, t.durationSec], [{ startSec: 1.5, durationSec: 10 }, 10]);
  });
  test('a clip running past the end is shortened to the end', () => {
    assert.deepEqual(one([clipped(15, 30)], media({})).clip, { startSec: 15, durationSec: 5 });
  });
  test('a clip without duration runs to the end', () => {
    assert.deepEqual(one([clipped(4, null)], media({})).clip, { startSec: 4, durationSec: 16 });
  });
  test('a clip starting after the end is refused with the reason', () => {
    const p = plan([clipped(25, 2)], media({}));
    assert.equal(p.refused[0]?.error.code, 'OutputNotPossible');
    assert.match(p.refused[0]!.error.message, /starts at 25 s.*20 s/);
  });
});

describe('planner: snapshots', () => {
  const snaps = (m: MediaInfo, s: ResolvedSnapshot[]) => planJob(testSpec('raw/in.mp4', [], { id: 'job_t', snapshots: s }), m);
  test('default poster: 10 % in, at most 10 s, full display size, JPEG', () => {
    const p = planJob(testSpec('raw/in.mp4', [], { id: 'job_t' }), media({}));
    const s = only(p.tasks, 'snapshot')[0]!;
    assert.deepEqual([s.times, s.width, s.height, s.format, s.keys], [[2], 1920, 1080, 'jpg', ['job_t/poster.jpg']]);
    const long = only(planJob(testSpec('raw/in.mp4', [], { id: 'job_t' }), media({}, { durationSec: 3600 })).tasks, 'snapshot')[0]!;
    assert.deepEqual(long.times, [10]);
  });
  test('no default poster for an audio-only input', () => {
    assert.deepEqual(planJob(testSpec('raw/in.mp4', [], {}), media(null, audioOnly())).tasks, []);
  });
  test('a time past the end is clamped to the last frame, and says so', () => {
    const s = only(snaps(media({}), [snapshotAt('late', 99)]).tasks, 'snapshot')[0]!;
    assert.deepEqual(s.times, [19.933]);
    assert.match(s.adjustments[0]!, /past the last frame/);
  });
  test('snapshot width never upscales and follows the display aspect (rotated)', () => {
    const s = only(snaps(media({ width: 640, height: 360, rotation: 90 }), [snapshotAt('p', 1, 'png', 1280)]).tasks, 'snapshot')[0]!;
    assert.deepEqual([s.width, s.height], [360, 640]);
  });
  test('interval frames and their keys', () => {
    const s = only(snaps(media({}), [{ name: 'tl', templateId: null, settings: { interval: 5, format: 'jpg', width: 160 } }]).tasks, 'snapshot')[0]!;
    assert.deepEqual(s.times, [0, 5, 10, 15]);
    assert.deepEqual(s.keys, ['job_t/tl/00001.jpg', 'job_t/tl/00002.jpg', 'job_t/tl/00003.jpg', 'job_t/tl/00004.jpg']);
    assert.deepEqual([s.width, s.height], [160, 90]);
  });
  test('count frames are evenly spaced', () => {
    const s = only(snaps(media({}), [{ name: 'n', templateId: null, settings: { count: 4 } }]).tasks, 'snapshot')[0]!;
    assert.deepEqual(s.times, [2.5, 7.5, 12.5, 17.5]);
  });
  test('a sprite grid with its WebVTT track', () => {
    const s = only(snaps(media({}), [{ name: 'sp', templateId: null, settings: { interval: 1, width: 160, sprite: { columns: 5 } } }]).tasks, 'snapshot')[0]!;
    assert.deepEqual(s.sprite, { columns: 5, rows: 4, imageKey: 'job_t/sp.jpg', vttKey: 'job_t/sp.vtt', endSec: 20 });
    assert.equal(s.times.length, 20);
  });
  test('too many frames are refused with the reason', () => {
    const p = snaps(media({}, { durationSec: 3600 }), [{ name: 'x', templateId: null, settings: { interval: 0.5 } }]);
    assert.match(p.refused[0]!.error.message, /more than 1000/);
  });
  test('snapshots of an audio-only input are refused', () => {
    assert.equal(snaps(media(null, audioOnly()), [snapshotAt('p', 1)]).refused[0]?.error.code, 'OutputNotPossible');
  });
});

/** A PNG/JPEG/WebP input as the probe describes it: one picture, no timeline, no sound. */
function still(width = 800, height = 600): MediaInfo {
  return media({ codec: 'png', width, height, fps: 0, pixFmt: 'rgb24' }, { durationSec: 0, container: 'png_pipe', audio: [], still: true });
}

interface SnapshotCase {
  name: string;
  media: MediaInfo;
  settings: ResolvedSnapshot['settings'];
  want?: Partial<Pick<SnapshotTask, 'times' | 'width' | 'height' | 'keys' | 'sprite'>>;
  /** Every adjustment note, in order. */
  adjustments?: RegExp[];
  refused?: RegExp;
}

const fiveFps = media({ width: 640, height: 360, fps: 5 }, { durationSec: 6 });
const snapshotCases: SnapshotCase[] = [
  { name: 'interval times landing on frames (5 fps, 6 s)', media: fiveFps, settings: { interval: 1.3 }, want: { times: [0, 1.3, 2.6, 3.9, 5.2] }, adjustments: [] },
  { name: 'an interval shorter than one frame is refused: frames would repeat', media: fiveFps, settings: { interval: 0.1 }, refused: /interval of 0\.1 s is shorter than one frame of the input \(0\.2 s at 5 fps\)/ },
  { name: 'an interval of exactly one frame is fine', media: media({ fps: 10 }, { durationSec: 1 }), settings: { interval: 0.1 }, want: { times: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8] } },
  { name: 'count above the distinct frames is lowered to every frame, and says so', media: media({ fps: 10 }, { durationSec: 1 }), settings: { count: 50 }, want: { times: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8] }, adjustments: [/50 frames asked; the input has 9 distinct frames, so 9/] },
  { name: 'count near every frame: the tail closes up one frame apart below the last frame', media: media({ fps: 10 }, { durationSec: 2 }), settings: { count: 15 }, want: { times: [0.067, 0.2, 0.333, 0.467, 0.6, 0.733, 0.867, 1, 1.133, 1.267, 1.4, 1.5, 1.6, 1.7, 1.8] }, adjustments: [] },
  { name: 'sprite cells default to 160 px wide thumbnails', media: media({}), settings: { interval: 5, sprite: { columns: 2 } }, want: { width: 160, height: 90, sprite: { columns: 2, rows: 2, imageKey: 'job_t/s.jpg', vttKey: 'job_t/s.vtt', endSec: 20 } } },
  { name: 'sprite cells follow the display aspect (anamorphic 720x576 at 64:45)', media: media({ width: 720, height: 576, sar: [64, 45] }), settings: { count: 4, width: 256, sprite: { columns: 4 } }, want: { width: 256, height: 144 } },
  { name: 'sprite rows given: the grid keeps them, extra frames are dropped with a note', media: media({}), settings: { interval: 2, sprite: { columns: 2, rows: 2 } }, want: { times: [0, 2, 4, 6], sprite: { columns: 2, rows: 2, imageKey: 'job_t/s.jpg', vttKey: 'job_t/s.vtt', endSec: 20 } }, adjustments: [/10 frames do not fit 2x2; keeping the first 4/] },
  { name: 'a WebP sheet wider than WebP allows is refused', media: media({}), settings: { count: 10, format: 'webp', width: 1920, sprite: { columns: 10 } }, refused: /19200x1080 px, over the limit \(16383 px a side for webp/ },
  { name: 'a sheet over the pixel bound is refused', media: media({}), settings: { count: 50, format: 'png', width: 1920, sprite: { columns: 5 } }, refused: /9600x10800 px, over the limit/ },
  { name: 'still image: a time gives its one picture, noted', media: still(), settings: { time: 5, width: 320 }, want: { times: [0], width: 320, height: 240, keys: ['job_t/s.jpg'] }, adjustments: [/still image: its one picture stands for 5 s/] },
  { name: 'still image: time 0 needs no note', media: still(), settings: { time: 0, format: 'png' }, want: { times: [0], width: 800, height: 600, keys: ['job_t/s.png'] }, adjustments: [] },
  { name: 'still image: an interval gives one frame, noted', media: still(), settings: { interval: 2 }, want: { times: [0], keys: ['job_t/s.jpg'] }, adjustments: [/still image: one frame, not one every 2 s/] },
  { name: 'still image: a count gives one frame, noted', media: still(), settings: { count: 5, format: 'webp' }, want: { times: [0], keys: ['job_t/s.webp'] }, adjustments: [/still image: one frame, not 5/] },
  { name: 'still image: a sprite is refused with the reason', media: still(), settings: { count: 5, sprite: { columns: 5 } }, refused: /sprite sheet needs several frames, and the input is a single still image/ },
  { name: 'still image: pixel aspect respected (1:2 pixels)', media: media({ codec: 'mjpeg', width: 800, height: 600, sar: [1, 2] }, { durationSec: 0, container: 'jpeg_pipe', audio: [], still: true }), settings: { time: 0 }, want: { width: 400, height: 600 } },
];

describe('planner: snapshot rules', () => {
  for (const c of snapshotCases) {
    test(c.name, () => {
      const p = planJob(testSpec('raw/in', [], { id: 'job_t', snapshots: [{ name: 's', templateId: null, settings: c.settings }] }), c.media);
      if (c.refused) {
        assert.deepEqual(p.refused.map((r) => [r.id, r.error.code, r.error.retryable]), [['snapshot:s', 'OutputNotPossible', false]]);
        assert.match(p.refused[0]!.error.message, c.refused);
        return;
      }
      assert.deepEqual(p.refused, []);
      const s = only(p.tasks, 'snapshot')[0]!;
      for (const [k, v] of Object.entries(c.want ?? {})) assert.deepEqual(s[k as keyof SnapshotTask], v, k);
      if (c.adjustments) {
        assert.equal(s.adjustments.length, c.adjustments.length, s.adjustments.join('; '));
        c.adjustments.forEach((re, i) => assert.match(s.adjustments[i]!, re));
      }
      // Distinct frames: strictly increasing, at least one frame apart (to the millisecond).
      const frameSec = 1 / (c.media.video!.fps || 30);
      s.times.slice(1).forEach((t, i) => assert.ok(t - s.times[i]! >= frameSec - 0.001, `times ${s.times[i]} and ${t} are closer than a frame`));
      assert.ok(s.times.every((t) => t >= 0 && t <= Math.max(0, c.media.durationSec - frameSec)), `times inside the input: ${s.times.join(', ')}`);
      if (s.sprite) assert.equal(s.keys.length, 2);
      else assert.equal(s.keys.length, s.times.length);
    });
  }

  test('still image: video and audio outputs are refused, snapshots still made, the default poster too', () => {
    const p = plan([presetOutput('v', 'mp4-h264-720p'), presetOutput('a', 'm4a-aac-128k')], still(), { snapshots: null });
    assert.deepEqual(p.refused.map((r) => [r.id, r.error.code, r.error.retryable]), [
      ['transcode:v', 'OutputNotPossible', false],
      ['transcode:a', 'OutputNotPossible', false],
    ]);
    assert.match(p.refused[0]!.error.message, /output "v" is a mp4 file, which plays over time, and the input is a single still image: only snapshots can be made from it/);
    const poster = only(p.tasks, 'snapshot')[0]!;
    assert.deepEqual([poster.times, poster.width, poster.height, poster.keys], [[0], 800, 600, ['job_t/poster.jpg']]);
  });
});

describe('planner: streaming ladders and watermarks', () => {
  test('HLS ladder: one rung task each (no upscaling; of rungs that collapse, the best-fitting kept) and a package task', () => {
    const p = plan([presetOutput('s', 'hls-h264-ladder')], media({ width: 1280, height: 720 }));
    const rungs = only(p.tasks, 'transcode');
    assert.deepEqual(rungs.map((r) => [r.id, r.video?.width, r.video?.height, r.video?.bitrateKbps]), [
      ['transcode:s/720p', 1280, 720, 2500],
      ['transcode:s/480p', 854, 480, 1200],
      ['transcode:s/360p', 640, 360, 800],
    ]);
    assert.ok(rungs.every((r) => r.container === 'fmp4' && r.rung?.segmentSec === 6 && r.video?.gopFrames === 60));
    const pkg = only(p.tasks, 'package')[0] as PackageTask;
    assert.deepEqual([pkg.format, pkg.outputKey, pkg.rungTaskIds], ['hls', 'job_t/s/master.m3u8', rungs.map((r) => r.id)]);
  });
  test('a GOP that does not divide the segment is shortened so keyframes fall on segment boundaries', () => {
    const out = change('dash-h264-ladder', (t) => ({ ...t, video: { ...t.video!, gopSec: 4 }, ladder: { ...t.ladder!, segmentSec: 6 } }));
    const rung = only(plan([out], media({})).tasks, 'transcode')[0]!;
    assert.equal(rung.video?.gopFrames, 90, '3 s GOPs at 30 fps: two per 6 s segment');
  });
  test('watermarks: one prepare task per distinct image, sized for its widest use, placed per output', () => {
    const wm = { templateId: 'logo', settings: { image: { key: 'brand/logo.png' }, position: 'TR' as const, widthRel: 0.1, opacity: 0.5 } };
    const a = { ...presetOutput('a', 'mp4-h264-720p'), watermarks: [wm] };
    const b = { ...presetOutput('b', 'mp4-h264-360p'), watermarks: [wm] };
    const p = plan([a, b], media({}));
    const prep = only(p.tasks, 'watermark') as WatermarkTask[];
    assert.deepEqual(prep.map((w) => [w.id, w.widthPx, w.source]), [['watermark:1', 128, { image: { key: 'brand/logo.png' } }]]);
    const placed = only(p.tasks, 'transcode').map((t) => t.watermarks[0]);
    assert.deepEqual(placed.map((w) => [w?.widthPx, w?.position, w?.opacity, w?.dx]), [[128, 'TR', 0.5, 16], [64, 'TR', 0.5, 16]]);
  });
});

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

// The workflow plans again on every replay: the plan must come from the spec and the probe alone.
test('the plan depends only on the spec and the probe: not on the clock or Math.random, and neither input is changed', (t) => {
  const outputs = [presetOutput('a', 'mp4-h264-720p'), presetOutput('s', 'hls-h264-ladder')];
  const spec = deepFreeze(testSpec('raw/in.mp4', outputs, { id: 'job_t', snapshots: [snapshotAt('poster', 2)] }));
  const probe = deepFreeze(media({ rotation: 90 }));
  const before = structuredClone({ spec, probe });
  t.mock.timers.enable({ apis: ['Date'], now: 0 });
  const random = t.mock.method(Math, 'random', () => 0);
  const first = planJob(spec, probe);
  t.mock.timers.setTime(Date.UTC(2031, 5, 1));
  random.mock.mockImplementation(() => 0.999);
  const second = planJob(spec, probe);
  assert.deepEqual(second, first);
  assert.deepEqual({ spec, probe }, before);
  // And the plan is the one asked for, not an empty one that would trivially match.
  assert.deepEqual(first.tasks.map((task) => task.kind).sort(), ['package', 'snapshot', 'transcode', 'transcode', 'transcode', 'transcode', 'transcode']);
});

test('output keys are {outputPrefix}{jobId}/{name}.{ext}', () => {
  const t = only(plan([presetOutput('web', 'webm-vp9-720p')], media({}), { outputPrefix: 'processed/' }).tasks, 'transcode')[0] as TranscodeTask;
  assert.equal(t.outputKey, 'processed/job_t/web.webm');
  const s = only(planJob(testSpec('raw/in.mp4', [], { id: 'job_t', outputPrefix: 'p/' }), media({})).tasks, 'snapshot')[0] as SnapshotTask;
  assert.deepEqual(s.keys, ['p/job_t/poster.jpg']);
});

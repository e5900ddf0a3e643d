/**
 * Concatenation planning (media/concat.ts) and its ffmpeg graph (media/args/concat.ts, through
 * encodeArgs): the joined plan, frames and samples per input, silence and black for missing
 * tracks, clips, loudness inside the graph, the broken-input rules, and the 400 rules of the schema.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { concatProblem, planConcatJob } from '../../media/concat';
import { encodeArgs, encodeLayout } from '../../media/args/encode';
import type { TranscodeTask } from '../../media/plan';
import type { MediaInfo, VideoInfo } from '../../model/job-state';
import { jobSubmitSchema, type ConcatInput } from '../../model/job';
import { presetOutput, testSpec } from '../helpers/spec';

const LIMITS = { threads: 0, maxOutputBytes: 1000 };

function video(width: number, height: number, fpsRational: string, over: Partial<VideoInfo> = {}): VideoInfo {
  const [n, d] = fpsRational.split('/').map(Number);
  return { codec: 'h264', width, height, fps: Math.round((n! / d!) * 1000) / 1000, fpsRational, rotation: 0, pixFmt: 'yuv420p', sar: [1, 1], ...over };
}

function media(durationSec: number, v: VideoInfo | null, audio: { channels: number; sampleRate: number }[]): MediaInfo {
  return { durationSec, still: false, container: 'mov,mp4', sizeBytes: 1000, video: v, audio: audio.map((a) => ({ codec: 'aac', ...a })) };
}

const medias = [
  media(2, video(640, 360, '25/1'), []),
  media(2, video(1280, 720, '30000/1001'), [{ channels: 1, sampleRate: 44100 }]),
  media(3, video(360, 640, '60/1'), [{ channels: 2, sampleRate: 48000 }]),
];
const inputs: ConcatInput[] = [
  { input: { key: 'a.mp4' }, clip: null },
  { input: { key: 'b.mp4' }, clip: null },
  { input: { key: 'c.mp4' }, clip: { startSec: 0.5, durationSec: 1 } },
];

function transcodes(spec = testSpec('a.mp4', [presetOutput('mp4', 'mp4-h264-360p')], { inputs })): TranscodeTask[] {
  return planConcatJob(spec, medias).tasks.filter((t): t is TranscodeTask => t.kind === 'transcode');
}

describe('planConcatJob', () => {
  test('the first input sets the picture and rate; every input gets whole frames and matching samples', () => {
    const [t] = transcodes();
    assert.deepEqual([t!.video!.width, t!.video!.height, t!.video!.fpsRational], [640, 360, '25/1']);
    const c = t!.concat!;
    assert.deepEqual([c.width, c.height, c.rate, c.pixFmt, c.sampleRate, c.channels], [640, 360, '25/1', 'yuv420p', 48000, 2]);
    assert.deepEqual(c.segments.map((g) => [g.startSec, g.durationSec, g.frames, g.samples, g.video, g.audioStream]), [
      [0, 2, 50, 96000, true, null],
      [0, 2, 50, 96000, true, 0],
      [0.5, 1, 25, 48000, true, 0],
    ]);
    assert.equal(t!.durationSec, 5);
    assert.equal(t!.clip, null);
  });

  test('the joined picture is as large as the largest rendition needs, in the first input\'s aspect', () => {
    const big = testSpec('a.mp4', [presetOutput('big', 'mp4-h264-1080p', (t) => ({ ...t, transConfig: { aspect: 'keep', noUpscale: false } })), presetOutput('small', 'mp4-h264-360p')], { inputs });
    const [b, s] = transcodes(big);
    assert.deepEqual([b!.video!.width, b!.video!.height, s!.video!.width, s!.video!.height], [1920, 1080, 640, 360]);
    assert.deepEqual([b!.concat!.width, b!.concat!.height], [1920, 1080]);
    // A 4K first input and a 360p output: the inputs are joined at 640x360, not at 4K.
    const uhd = [media(2, video(3840, 2160, '25/1'), []), medias[1]!, medias[2]!];
    const [t] = planConcatJob(testSpec('a.mp4', [presetOutput('mp4', 'mp4-h264-360p')], { inputs }), uhd).tasks.filter((x): x is TranscodeTask => x.kind === 'transcode');
    assert.deepEqual([t!.concat!.width, t!.concat!.height], [640, 360]);
  });

  test('an audio-only output joins sound only, each part as long as its clip', () => {
    const spec = testSpec('a.mp4', [presetOutput('m4a', 'm4a-aac-128k')], { inputs });
    const [t] = transcodes(spec);
    assert.equal(t!.video, null);
    assert.deepEqual([t!.concat!.withVideo, t!.concat!.withAudio], [false, true]);
    assert.deepEqual(t!.concat!.segments.map((g) => g.samples), [96000, 96000, 48000]);
  });

  test('the poster comes from the first input, within its clip', () => {
    const spec = testSpec('a.mp4', [presetOutput('mp4', 'mp4-h264-360p')], { inputs: [{ input: { key: 'a.mp4' }, clip: { startSec: 1, durationSec: null } }, inputs[1]!] });
    const snap = planConcatJob(spec, medias).tasks.find((t) => t.kind === 'snapshot');
    assert.ok(snap && snap.kind === 'snapshot');
    // 10 % of the 1 s clip, moved onto the input's clock.
    assert.deepEqual(snap.times, [1.1]);
  });

  test('a still image, a silent picture-less file and a clip past the end are named by index', () => {
    const still: MediaInfo = { ...media(0, video(100, 100, '25/1'), []), still: true };
    assert.match(concatProblem(inputs, [medias[0]!, still, medias[2]!])!.message, /^inputs\[1\] is a still image/);
    assert.match(concatProblem(inputs, [medias[0]!, medias[1]!, media(3, null, [])])!.message, /^inputs\[2\] has neither video nor audio/);
    const late: ConcatInput[] = [inputs[0]!, { input: { key: 'b' }, clip: { startSec: 5, durationSec: null } }];
    assert.match(concatProblem(late, medias)!.message, /^inputs\[1\] its clip starts at 5 s/);
    assert.equal(concatProblem(inputs, medias), null);
  });
});

describe('the concat graph in encodeArgs', () => {
  test('one input per file (seeked and bounded), normalising chains, silence for the input without audio, concat, split', () => {
    const tasks = transcodes();
    const args = encodeArgs(encodeLayout(tasks, '/s'), ['/in/a', '/in/b', '/in/c'], LIMITS, [[]]);
    const inputsAt = args.flatMap((a, i) => (a === '-i' ? [args.slice(i - 4, i + 2).filter((x) => x === '-ss' || x === '-t' || /^\d|^\/in/.test(x))] : []));
    assert.deepEqual(inputsAt, [
      ['-t', '2.000', '/in/a'],
      ['-t', '2.000', '/in/b'],
      ['-ss', '0.500', '-t', '1.000', '/in/c'],
    ]);
    const graph = args[args.indexOf('-filter_complex') + 1]!.split(';');
    assert.equal(graph[0], '[0:v:0]setpts=PTS-STARTPTS,scale=640:360:force_original_aspect_ratio=decrease:force_divisible_by=2:flags=bicubic,pad=640:360:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,fps=25/1,tpad=stop=-1:stop_mode=clone,format=yuv420p,trim=end_frame=50,setpts=PTS-STARTPTS[v0]');
    assert.equal(graph[1], 'anullsrc=r=48000:cl=stereo,aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo,atrim=end_sample=96000,asetpts=PTS-STARTPTS[a0]');
    assert.equal(graph[3], '[1:a:0]asetpts=PTS-STARTPTS,aresample=48000,aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo,apad,atrim=end_sample=96000,asetpts=PTS-STARTPTS[a1]');
    assert.equal(graph[6], '[v0][a0][v1][a1][v2][a2]concat=n=3:v=1:a=1[cv][ca]');
    assert.equal(graph[7], '[cv]split=1[src0]');
    // The audio encode maps the joined sound.
    const audioMap = args.lastIndexOf('-map');
    assert.equal(args[audioMap + 1], '[ca]');
  });

  test('two audio settings split the joined sound; loudness is normalised inside the graph; watermark inputs come after the joined files', () => {
    const spec = testSpec('a.mp4', [presetOutput('mp4', 'mp4-h264-360p'), presetOutput('loud', 'm4a-aac-128k', (t) => ({ ...t, audio: { ...t.audio!, loudnorm: true, channels: 1 } }))], { inputs });
    const tasks = transcodes(spec);
    tasks[0]!.watermarks = [{ taskId: 'watermark:1', assetKey: 'j/watermarks/1.png', position: 'TL', dx: 8, dy: 8, widthPx: 100, opacity: 1, startSec: 0, endSec: null }];
    const args = encodeArgs(encodeLayout(tasks, '/s'), ['/in/a', '/in/b', '/in/c'], LIMITS, [['/wm.png'], []]);
    // The watermark is the run's fourth input (after the three joined files).
    assert.equal(args[args.indexOf('/wm.png') - 1], '-i');
    assert.ok(args.indexOf('/wm.png') > args.indexOf('/in/c'));
    assert.equal(args.filter((a) => a === '-i').length, 4);
    assert.ok(args[args.indexOf('-filter_complex') + 1]!.includes('[3:v:0]scale=100:-2'));
    const graph = args[args.indexOf('-filter_complex') + 1]!;
    assert.ok(graph.includes('[ca]asplit=2[ca0][ca1]'), graph);
    assert.ok(graph.includes('[ca1]loudnorm=I=-23:TP=-1:LRA=7[ca1n]'), graph);
    assert.ok(!args.includes('-af'), 'no -af on a filter_complex output');
    assert.deepEqual(args.flatMap((a, i) => (a === '-map' && args[i + 1]!.startsWith('[ca') ? [args[i + 1]] : [])), ['[ca0]', '[ca1n]']);
  });
});

describe('jobSubmitSchema inputs', () => {
  const out = [{ name: 'o', template: 'mp4-h264-360p' }];
  const paths = (body: unknown) => {
    const r = jobSubmitSchema.safeParse(body);
    return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
  };
  test('exactly one of input and inputs, 2..10 inputs, no output clip or audioTrack with inputs', () => {
    assert.deepEqual(paths({ inputs: [{ key: 'a' }, { key: 'b', clip: { startSec: 1 } }], outputs: out }), []);
    assert.deepEqual(paths({ outputs: out }), ['input']);
    assert.deepEqual(paths({ input: { key: 'a' }, inputs: [{ key: 'a' }, { key: 'b' }], outputs: out }), ['inputs']);
    assert.deepEqual(paths({ inputs: [{ key: 'a' }], outputs: out }), ['inputs']);
    assert.deepEqual(paths({ inputs: Array.from({ length: 11 }, () => ({ key: 'a' })), outputs: out }), ['inputs']);
    assert.deepEqual(paths({ inputs: [{ key: 'a' }, { key: 'b' }], outputs: [{ ...out[0], audioTrack: 1 }] }), ['outputs.0.audioTrack']);
    assert.deepEqual(paths({ inputs: [{ key: 'a' }, { key: 'b', clip: { startSec: 0, durationSec: 0 } }], outputs: out }), ['inputs.1.clip.durationSec']);
    const parsed = jobSubmitSchema.parse({ inputs: [{ key: 'a' }, { url: 'https://example.com/b.mp4', clip: { startSec: 2 } }], outputs: out });
    assert.deepEqual(parsed.inputs, [
      { input: { key: 'a' }, clip: null },
      { input: { url: 'https://example.com/b.mp4' }, clip: { startSec: 2, durationSec: null } },
    ]);
  });
});

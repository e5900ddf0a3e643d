/** The pure parts of snapshots: frame selection, ffmpeg arguments, the sprite's WebVTT track, still-image probing. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SnapshotTask } from '../../media/plan';
import { selectExpr, snapshotArgs, snapshotFiles } from '../../media/args/snapshot';
import { spriteVtt, vttTime } from '../../media/sprite-vtt';
import { oversizeInLog, parseProbe, type ProbeJson } from '../../media/probe-parse';
import type { MediaflowError } from '../../model/errors';

function task(over: Partial<SnapshotTask> = {}): SnapshotTask {
  return {
    id: 'snapshot:s',
    kind: 'snapshot',
    name: 's',
    format: 'jpg',
    times: [0, 2, 4],
    width: 160,
    height: 90,
    keys: ['j/s/00001.jpg', 'j/s/00002.jpg', 'j/s/00003.jpg'],
    sprite: null,
    adjustments: [],
    ...over,
  };
}

/** The largest number of terms summed at one nesting level of an expression. */
function widestSum(expr: string): number {
  const counts = [1];
  let widest = 1;
  for (const ch of expr) {
    if (ch === '(') counts.push(1);
    else if (ch === ')') widest = Math.max(widest, counts.pop()!);
    else if (ch === '+') counts[counts.length - 1]! += 1;
  }
  return Math.max(widest, counts[0]!);
}

describe('select expression', () => {
  test('one term per time: the i-th selected frame is the first at or after time i (1 ms tolerance)', () => {
    assert.equal(selectExpr([0, 2, 4], 0), 'eq(selected_n,0)+eq(selected_n,1)*gte(t,1.999)+eq(selected_n,2)*gte(t,3.999)');
  });
  test('times are relative to where decoding starts', () => {
    assert.equal(selectExpr([10, 12.5], 9), 'eq(selected_n,0)*gte(t,0.999)+eq(selected_n,1)*gte(t,3.499)');
  });
  test('a time at the start takes the first frame whatever its timestamp', () => {
    assert.equal(selectExpr([0], 0), 'eq(selected_n,0)');
    assert.equal(selectExpr([0.0005], 0), 'eq(selected_n,0)');
  });
  test('1000 times stay within the parser: sums of at most 10 terms, nested', () => {
    const times = Array.from({ length: 1000 }, (_, i) => i * 0.04);
    const expr = selectExpr(times, 0);
    assert.ok(widestSum(expr) <= 10, `a sum of ${widestSum(expr)} terms`);
    assert.equal(expr.match(/selected_n/g)?.length, 1000);
    assert.ok(expr.includes('eq(selected_n,999)*gte(t,39.959)'));
  });
});

describe('snapshot arguments', () => {
  test('a sequence: one local input through the allow-list, one pass, numbered images out', () => {
    const args = snapshotArgs(task({ times: [3, 5, 7] }), '/cache/in.input', '/scratch/x');
    assert.equal(args.filter((a) => a === '-i').length, 1);
    const i = args.indexOf('-i');
    assert.equal(args[i + 1], '/cache/in.input');
    assert.deepEqual(args.slice(args.indexOf('-protocol_whitelist'), args.indexOf('-protocol_whitelist') + 2), ['-protocol_whitelist', 'file']);
    assert.ok(args.indexOf('-format_whitelist') < i);
    assert.deepEqual(args.slice(args.indexOf('-ss'), args.indexOf('-ss') + 2), ['-ss', '2.000'], 'seeks to a second before the first time');
    assert.ok(args.indexOf('-ss') < i, 'input seek');
    const vf = args[args.indexOf('-vf') + 1]!;
    assert.equal(vf, 'select=eq(selected_n\\,0)*gte(t\\,0.999)+eq(selected_n\\,1)*gte(t\\,2.999)+eq(selected_n\\,2)*gte(t\\,4.999),scale=160:90:flags=bicubic,setsar=1');
    assert.deepEqual(args.slice(args.indexOf('-frames:v'), args.indexOf('-frames:v') + 2), ['-frames:v', '3']);
    assert.deepEqual(args.slice(-5), ['-f', 'image2', '-start_number', '1', '/scratch/x/%05d.jpg']);
    assert.deepEqual(snapshotFiles(task(), '/scratch/x').frames, ['/scratch/x/00001.jpg', '/scratch/x/00002.jpg', '/scratch/x/00003.jpg']);
  });
  test('no seek when the first time is within a second of the start', () => {
    assert.ok(!snapshotArgs(task({ times: [0.8] }), '/in', '/d').includes('-ss'));
  });
  test('a % in the scratch path is not read as a pattern', () => {
    assert.equal(snapshotArgs(task(), '/in', '/scr%d/x').at(-1), '/scr%%d/x/%05d.jpg');
  });
  test('each format has its encoder', () => {
    const codec = (format: SnapshotTask['format']) => {
      const a = snapshotArgs(task({ format }), '/in', '/d');
      return a[a.indexOf('-c:v') + 1];
    };
    assert.deepEqual([codec('jpg'), codec('png'), codec('webp')], ['mjpeg', 'png', 'libwebp']);
  });
  test('a sprite: the frames split into a tile and a frame log, both stopping after the planned count', () => {
    const sprite = { columns: 3, rows: 2, imageKey: 'j/sp.png', vttKey: 'j/sp.vtt', endSec: 12 };
    const t = task({ format: 'png', times: [0, 2, 4, 6, 8], sprite, keys: [sprite.imageKey, sprite.vttKey] });
    const args = snapshotArgs(t, '/in', '/d');
    const graph = args[args.indexOf('-filter_complex') + 1]!;
    assert.match(graph, /^\[0:v:0\]select=.*,scale=160:90:flags=bicubic,setsar=1,split=2\[cells\]\[counted\];\[cells\]tile=3x2:nb_frames=5\[sheet\]$/);
    const files = snapshotFiles(t, '/d');
    assert.deepEqual([files.sheet, files.frameLog, files.frames], ['/d/sheet.png', '/d/frames.crc', []]);
    assert.deepEqual(args.slice(args.indexOf(files.sheet!) - 4, args.indexOf(files.sheet!) + 1), ['-f', 'image2', '-update', '1', '/d/sheet.png']);
    assert.deepEqual(args.slice(-3), ['-f', 'framecrc', '/d/frames.crc']);
  });
});

describe('sprite WebVTT track', () => {
  test('timestamps', () => {
    assert.deepEqual([vttTime(0), vttTime(61.5), vttTime(3725.0004)], ['00:00:00.000', '00:01:01.500', '01:02:05.000']);
  });
  test('one cue per frame, in grid order, contiguous from 0 to the input end, naming the sheet beside the track', () => {
    const sprite = { columns: 2, rows: 2, imageKey: 'out/job/sp.jpg', vttKey: 'out/job/sp.vtt', endSec: 9.5 };
    const vtt = spriteVtt(task({ times: [1, 3, 5], sprite, keys: [sprite.imageKey, sprite.vttKey] }));
    assert.equal(
      vtt,
      [
        'WEBVTT',
        '',
        '00:00:00.000 --> 00:00:03.000',
        'sp.jpg#xywh=0,0,160,90',
        '',
        '00:00:03.000 --> 00:00:05.000',
        'sp.jpg#xywh=160,0,160,90',
        '',
        '00:00:05.000 --> 00:00:09.500',
        'sp.jpg#xywh=0,90,160,90',
        '',
      ].join('\n'),
    );
  });
});

describe('probing still images', () => {
  const limits = { maxDurationSec: 14400, maxPixels: 8192 * 4320 };
  const picture = (format: string, codec: string, extra: object = {}): ProbeJson => ({
    streams: [{ codec_type: 'video', codec_name: codec, width: 800, height: 600, avg_frame_rate: '25/1', r_frame_rate: '25/1', pix_fmt: 'rgb24', sample_aspect_ratio: '1:1', ...extra }],
    format: { format_name: format, size: '7015' },
  });
  for (const [format, codec] of [['png_pipe', 'png'], ['jpeg_pipe', 'mjpeg'], ['webp_pipe', 'webp']] as const) {
    test(`${format}: a still, no duration, no frame rate`, () => {
      const info = parseProbe(picture(format, codec), 7015, limits);
      assert.deepEqual([info.still, info.durationSec, info.video?.fps, info.video?.width, info.container], [true, 0, 0, 800, format]);
    });
  }
  test('a single frame without duration in another container is a still too', () => {
    assert.equal(parseProbe(picture('matroska,webm', 'mjpeg', { nb_frames: '1' }), 1, limits).still, true);
  });
  test('video without a duration that is not a single picture stays unreadable', () => {
    assert.throws(() => parseProbe(picture('matroska,webm', 'h264'), 1, limits), (e: MediaflowError) => e.code === 'InputUnreadable');
  });
  test('ordinary media is not a still', () => {
    const json: ProbeJson = { ...picture('mov,mp4,m4a,3gp,3g2,mj2', 'h264'), format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '6.0' } };
    assert.deepEqual([parseProbe(json, 1, limits).still, parseProbe(json, 1, limits).durationSec], [false, 6]);
  });
  test('the pixel limit applies to pictures', () => {
    assert.throws(() => parseProbe(picture('png_pipe', 'png', { width: 16000, height: 16000 }), 126, limits), (e: MediaflowError) => e.code === 'InputTooLarge' && /16000x16000/.test(e.message));
  });
  test('the size a decoder refused under -max_pixels is read back from its log', () => {
    const log = '[png @ 0x5637] [IMGUTILS @ 0x7ffc] Picture size 16000x16000 exceeds specified max pixel count 35389440, see the documentation if you wish to increase it\n';
    assert.deepEqual(oversizeInLog(log), { width: 16000, height: 16000 });
    assert.equal(oversizeInLog('[h264 @ 0x1] decode_slice_header error\n'), null);
  });
});

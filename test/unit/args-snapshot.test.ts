/** Golden argv of snapshotArgs (single frames in each format, a sprite sheet) and the sprite's whole WebVTT track. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SnapshotTask } from '../../media/plan';
import { snapshotArgs } from '../../media/args/snapshot';
import { spriteVtt } from '../../media/sprite-vtt';

const COMMON = ['-hide_banner', '-nostdin', '-y', '-v', 'error', '-nostats', '-progress', 'pipe:1'];
const ALLOWED = 'mov,matroska,avi,mpegts,mpeg,flv,mxf,asf,ogg,wav,mp3,aac,flac,png_pipe,jpeg_pipe,webp_pipe';

function snap(over: Partial<SnapshotTask>): SnapshotTask {
  return { id: 'snapshot:s', kind: 'snapshot', name: 's', format: 'jpg', times: [2], width: 1280, height: 720, keys: ['j/s.jpg'], sprite: null, adjustments: [], ...over };
}

describe('snapshotArgs', () => {
  test('a JPEG poster at 2 s: decoding starts 1 s before, visually lossless JPEG', () => {
    assert.deepEqual(snapshotArgs(snap({}), '/cache/in.input', '/work/outputs/x'), [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-ss', '1.000', '-i', '/cache/in.input',
      '-map', '0:v:0',
      '-vf', 'select=eq(selected_n\\,0)*gte(t\\,0.999),scale=1280:720:flags=bicubic,setsar=1',
      '-fps_mode', 'passthrough',
      '-frames:v', '1',
      '-c:v', 'mjpeg', '-q:v', '2', '-pix_fmt', 'yuvj420p',
      '-map_metadata', '-1', '-an', '-sn', '-dn',
      '-f', 'image2', '-start_number', '1', '/work/outputs/x/%05d.jpg',
    ]);
  });

  test('a PNG at 0 s: no seek, the first frame whatever its timestamp', () => {
    assert.deepEqual(snapshotArgs(snap({ format: 'png', times: [0], width: 320, height: 180 }), '/cache/in.input', '/work/outputs/x'), [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-map', '0:v:0',
      '-vf', 'select=eq(selected_n\\,0),scale=320:180:flags=bicubic,setsar=1',
      '-fps_mode', 'passthrough',
      '-frames:v', '1',
      '-c:v', 'png',
      '-map_metadata', '-1', '-an', '-sn', '-dn',
      '-f', 'image2', '-start_number', '1', '/work/outputs/x/%05d.png',
    ]);
  });

  test('three WebP frames into a directory with a % (escaped so it is not a pattern)', () => {
    assert.deepEqual(snapshotArgs(snap({ format: 'webp', times: [5, 10.5, 20], width: 640, height: 360 }), '/cache/in.input', '/work/outputs/50%'), [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-ss', '4.000', '-i', '/cache/in.input',
      '-map', '0:v:0',
      '-vf', 'select=eq(selected_n\\,0)*gte(t\\,0.999)+eq(selected_n\\,1)*gte(t\\,6.499)+eq(selected_n\\,2)*gte(t\\,15.999),scale=640:360:flags=bicubic,setsar=1',
      '-fps_mode', 'passthrough',
      '-frames:v', '3',
      '-c:v', 'libwebp', '-quality', '85',
      '-map_metadata', '-1', '-an', '-sn', '-dn',
      '-f', 'image2', '-start_number', '1', '/work/outputs/50%%/%05d.webp',
    ]);
  });

  test('twelve frames: the select sum nested in groups of ten', () => {
    const times = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    assert.deepEqual(snapshotArgs(snap({ times, width: 160, height: 90 }), '/cache/in.input', '/work/outputs/x'), [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-map', '0:v:0',
      '-vf',
      'select=(eq(selected_n\\,0)*gte(t\\,0.999)+eq(selected_n\\,1)*gte(t\\,1.999)+eq(selected_n\\,2)*gte(t\\,2.999)+eq(selected_n\\,3)*gte(t\\,3.999)' +
        '+eq(selected_n\\,4)*gte(t\\,4.999)+eq(selected_n\\,5)*gte(t\\,5.999)+eq(selected_n\\,6)*gte(t\\,6.999)+eq(selected_n\\,7)*gte(t\\,7.999)' +
        '+eq(selected_n\\,8)*gte(t\\,8.999)+eq(selected_n\\,9)*gte(t\\,9.999))+(eq(selected_n\\,10)*gte(t\\,10.999)+eq(selected_n\\,11)*gte(t\\,11.999))' +
        ',scale=160:90:flags=bicubic,setsar=1',
      '-fps_mode', 'passthrough',
      '-frames:v', '12',
      '-c:v', 'mjpeg', '-q:v', '2', '-pix_fmt', 'yuvj420p',
      '-map_metadata', '-1', '-an', '-sn', '-dn',
      '-f', 'image2', '-start_number', '1', '/work/outputs/x/%05d.jpg',
    ]);
  });

  test('a 2x2 sprite: one sheet plus a framecrc log that counts the frames in it', () => {
    const sprite = { columns: 2, rows: 2, imageKey: 'j/sp.jpg', vttKey: 'j/sp.vtt', endSec: 35 };
    assert.deepEqual(snapshotArgs(snap({ times: [0, 10, 20, 30], width: 160, height: 90, sprite }), '/cache/in.input', '/work/outputs/x'), [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
      '-filter_complex',
      '[0:v:0]select=eq(selected_n\\,0)+eq(selected_n\\,1)*gte(t\\,9.999)+eq(selected_n\\,2)*gte(t\\,19.999)+eq(selected_n\\,3)*gte(t\\,29.999),' +
        'scale=160:90:flags=bicubic,setsar=1,split=2[cells][counted];[cells]tile=2x2:nb_frames=4[sheet]',
      '-map', '[sheet]', '-fps_mode', 'passthrough', '-frames:v', '1',
      '-c:v', 'mjpeg', '-q:v', '2', '-pix_fmt', 'yuvj420p',
      '-map_metadata', '-1', '-an', '-sn', '-dn',
      '-f', 'image2', '-update', '1', '/work/outputs/x/sheet.jpg',
      '-map', '[counted]', '-fps_mode', 'passthrough', '-frames:v', '4',
      '-c:v', 'rawvideo',
      '-map_metadata', '-1', '-an', '-sn', '-dn',
      '-f', 'framecrc', '/work/outputs/x/frames.crc',
    ]);
  });
});

describe('spriteVtt', () => {
  test('five cells in a 2-column grid: one cue per cell, the first from 0, the last to the end', () => {
    const sprite = { columns: 2, rows: 3, imageKey: 'out/j/sp.jpg', vttKey: 'out/j/sp.vtt', endSec: 45.5 };
    assert.equal(
      spriteVtt(snap({ times: [0, 10, 20, 30, 40], width: 160, height: 90, sprite })),
      [
        'WEBVTT',
        '',
        '00:00:00.000 --> 00:00:10.000',
        'sp.jpg#xywh=0,0,160,90',
        '',
        '00:00:10.000 --> 00:00:20.000',
        'sp.jpg#xywh=160,0,160,90',
        '',
        '00:00:20.000 --> 00:00:30.000',
        'sp.jpg#xywh=0,90,160,90',
        '',
        '00:00:30.000 --> 00:00:40.000',
        'sp.jpg#xywh=160,90,160,90',
        '',
        '00:00:40.000 --> 00:00:45.500',
        'sp.jpg#xywh=0,180,160,90',
        '',
      ].join('\n'),
    );
  });

  test('hours in timestamps; a stated end before the last time still gives a cue that ends after it starts', () => {
    const sprite = { columns: 5, rows: 1, imageKey: 'sheet.webp', vttKey: 'x.vtt', endSec: 3661 };
    assert.equal(
      spriteVtt(snap({ format: 'webp', times: [0.5, 3661.25], width: 100, height: 56, sprite })),
      'WEBVTT\n\n00:00:00.000 --> 01:01:01.250\nsheet.webp#xywh=0,0,100,56\n\n01:01:01.250 --> 01:01:01.251\nsheet.webp#xywh=100,0,100,56\n',
    );
  });
});

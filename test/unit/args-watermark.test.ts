/** Golden argv of the watermark asset builders: a user's image and a text, each to an RGBA PNG. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { imageAssetArgs, textAssetArgs } from '../../media/args/watermark';

const COMMON = ['-hide_banner', '-nostdin', '-y', '-v', 'error', '-nostats', '-progress', 'pipe:1'];

describe('imageAssetArgs', () => {
  test('PNG, JPEG or WebP only, scaled to the planned width, one RGBA PNG frame', () => {
    assert.deepEqual(imageAssetArgs('/cache/logo.input', '/work/outputs/x/asset.png', 192), [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', 'png_pipe,jpeg_pipe,webp_pipe', '-i', '/cache/logo.input',
      '-vf', 'scale=192:-2:flags=lanczos,format=rgba',
      '-frames:v', '1', '-c:v', 'png', '-f', 'image2', '-update', '1', '/work/outputs/x/asset.png',
    ]);
  });
});

describe('textAssetArgs', () => {
  test('9 characters in white: a transparent canvas that fits them (9 × 0.6021 × 64 + 8 = 355 px), no input file at all', () => {
    assert.deepEqual(textAssetArgs('text.txt', 9, '#ffffff', '/work/outputs/x/asset.png', 192), [
      ...COMMON,
      '-filter_complex',
      'color=c=black@0.0:s=355x85,format=rgba,' +
        'drawtext=textfile=text.txt:font=DejaVu Sans Mono:fontsize=64:fontcolor=#ffffff:borderw=3:bordercolor=black@0.6:x=4:y=4:expansion=none,' +
        'scale=192:-2:flags=lanczos',
      '-frames:v', '1', '-c:v', 'png', '-f', 'image2', '-update', '1', '/work/outputs/x/asset.png',
    ]);
  });

  test('one character, a named colour with alpha', () => {
    assert.deepEqual(textAssetArgs('text.txt', 1, 'yellow@0.5', '/work/outputs/x/asset.png', 64), [
      ...COMMON,
      '-filter_complex',
      'color=c=black@0.0:s=47x85,format=rgba,' +
        'drawtext=textfile=text.txt:font=DejaVu Sans Mono:fontsize=64:fontcolor=yellow@0.5:borderw=3:bordercolor=black@0.6:x=4:y=4:expansion=none,' +
        'scale=64:-2:flags=lanczos',
      '-frames:v', '1', '-c:v', 'png', '-f', 'image2', '-update', '1', '/work/outputs/x/asset.png',
    ]);
  });

  test('a text file name with path characters is refused (nothing of a path reaches the filter graph)', () => {
    for (const name of ['../text.txt', '/tmp/text.txt', 'a:b.txt', "it's.txt"]) {
      assert.throws(() => textAssetArgs(name, 3, '#ffffff', '/o.png', 64), /plain file name/, name);
    }
  });
});

/** Golden argv of how every run opens its input (inputArgs, commonArgs) and of ffprobe (probeArgs). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { commonArgs, inputArgs } from '../../media/args/input';
import { probeArgs } from '../../media/args/probe';

const ALLOWED = 'mov,matroska,avi,mpegts,mpeg,flv,mxf,asf,ogg,wav,mp3,aac,flac,png_pipe,jpeg_pipe,webp_pipe';

describe('inputArgs', () => {
  test('a local file: only the file protocol, only the allowed demuxers', () => {
    assert.deepEqual(inputArgs('/cache/in.input'), ['-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input']);
  });

  test('a seek goes before -i, to the millisecond', () => {
    assert.deepEqual(inputArgs('/cache/in.input', 2.5), ['-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-ss', '2.500', '-i', '/cache/in.input']);
    assert.deepEqual(inputArgs('/cache/in.input', 1 / 3), ['-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-ss', '0.333', '-i', '/cache/in.input']);
  });

  test('a seek to 0 is no seek', () => {
    assert.deepEqual(inputArgs('/cache/in.input', 0), ['-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input']);
  });

  test('a narrower demuxer list (our own PNG assets)', () => {
    assert.deepEqual(inputArgs('/cache/wm.input', undefined, ['png_pipe']), ['-protocol_whitelist', 'file', '-format_whitelist', 'png_pipe', '-i', '/cache/wm.input']);
  });
});

test('commonArgs: quiet, no prompts, progress on stdout', () => {
  assert.deepEqual(commonArgs(), ['-hide_banner', '-nostdin', '-y', '-v', 'error', '-nostats', '-progress', 'pipe:1']);
});

describe('probeArgs', () => {
  test('no pixel limit', () => {
    assert.deepEqual(probeArgs('/cache/in.input'), [
      '-v', 'error', '-print_format', 'json', '-show_format', '-show_streams',
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
    ]);
  });

  test('8K pixel limit', () => {
    assert.deepEqual(probeArgs('/cache/in.input', 8192 * 4320), [
      '-v', 'error', '-print_format', 'json', '-show_format', '-show_streams',
      '-max_pixels', '35389440',
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
    ]);
  });

  test('a limit past a C int is capped at INT_MAX', () => {
    assert.deepEqual(probeArgs('/cache/in.input', 2 ** 40), [
      '-v', 'error', '-print_format', 'json', '-show_format', '-show_streams',
      '-max_pixels', '2147483647',
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/in.input',
    ]);
  });
});

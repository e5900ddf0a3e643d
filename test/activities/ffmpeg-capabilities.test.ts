/** The encoder check and failure details of ffmpeg runs, on the real ffmpeg (no Temporal needed). */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { encoderReport, encodersIn, parseEncoders, TRACKED_ENCODERS } from '../../activities/capabilities';
import { runFfmpeg } from '../../activities/ffmpeg-run';
import { MediaflowError } from '../../model/errors';
import type { FfmpegBinaries } from '../../activities/ffmpeg-path';
import { testBinaries } from '../helpers/media';

let real: FfmpegBinaries;
let dir: string;

before(async () => {
  real = await testBinaries();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-caps-'));
});

/** A wrapper around the real ffmpeg whose `-encoders` list lacks `hidden`. */
async function ffmpegWithout(hidden: string): Promise<string> {
  const file = path.join(dir, `ffmpeg-without-${hidden}`);
  const script = `#!/bin/sh\nfor a in "$@"; do [ "$a" = -encoders ] && { '${real.ffmpeg}' "$@" | grep -v " ${hidden} "; exit 0; }; done\nexec '${real.ffmpeg}' "$@"\n`;
  await fs.writeFile(file, script, { mode: 0o755 });
  return file;
}

const run = (binary: string, args: string[]) => runFfmpeg({ binary, args, durationSec: 1, timeoutMs: 60_000, stallMs: 30_000 });

/** A one-second lavfi encode into the scratch dir with the given video encoder. */
function encodeArgs(encoder: string): string[] {
  return ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=64x64:rate=5:duration=1', '-c:v', encoder, path.join(dir, `out-${encoder}.mkv`)];
}

describe('encoder list', () => {
  test('parseEncoders reads the names after the rule, not the legend', () => {
    const text = [
      'Encoders:',
      ' V..... = Video',
      ' A..... = Audio',
      ' ------',
      ' V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)',
      ' VF.... png                  PNG (Portable Network Graphics) image',
      ' A..... aac                  AAC (Advanced Audio Coding)',
      '',
    ].join('\n');
    assert.deepEqual([...parseEncoders(text)], ['libx264', 'png', 'aac']);
  });

  test('encodersIn names every -c/-codec value except copy, once', () => {
    assert.deepEqual(encodersIn(['-i', 'a', '-c:v', 'libx264', '-c:a', 'aac', '-codec:v', 'libx264', '-c', 'copy', '-vcodec', 'png', 'out']), ['libx264', 'aac', 'png']);
    assert.deepEqual(encodersIn(['-i', 'a', '-c', 'copy', 'out']), []);
  });

  test("the real ffmpeg's report lists every tracked encoder it has; a wrapper hiding one reports it missing", async () => {
    const full = await encoderReport(real.ffmpeg);
    assert.equal(full.listed, true);
    // This machine's ffmpeg (the one the e2e suites run) has all of them.
    assert.deepEqual(full.has, [...TRACKED_ENCODERS]);
    const without = await encoderReport(await ffmpegWithout('libsvtav1'));
    assert.deepEqual(without.lacks, ['libsvtav1']);
    assert.deepEqual(without.has, TRACKED_ENCODERS.filter((e) => e !== 'libsvtav1'));
  });
});

describe('runFfmpeg', () => {
  test('a run needing an encoder the binary lacks fails with non-retryable EncoderMissing before ffmpeg starts', async () => {
    const binary = await ffmpegWithout('libx265');
    const args = encodeArgs('libx265');
    await assert.rejects(run(binary, args), (err: unknown) => {
      assert.ok(err instanceof MediaflowError);
      assert.equal(err.code, 'EncoderMissing');
      assert.match(err.message, /no libx265 encoder/);
      assert.deepEqual(err.details, { missing: ['libx265'], argv: [binary, ...args] });
      return true;
    });
    await assert.rejects(fs.stat(path.join(dir, 'out-libx265.mkv')), { code: 'ENOENT' }, 'ffmpeg never ran');
    // The same wrapper still runs what it has.
    await run(binary, encodeArgs('libx264'));
    assert.ok((await fs.stat(path.join(dir, 'out-libx264.mkv'))).size > 0);
  });

  test('a failed run carries its argv and the end of its stderr', async () => {
    const args = ['-hide_banner', '-v', 'error', '-y', '-i', path.join(dir, 'no-such-input.mp4'), '-c:v', 'libx264', path.join(dir, 'never.mp4')];
    await assert.rejects(run(real.ffmpeg, args), (err: unknown) => {
      assert.ok(err instanceof MediaflowError);
      assert.equal(err.code, 'EncodeFailed');
      assert.deepEqual(err.details.argv, [real.ffmpeg, ...args]);
      assert.match(String(err.details.stderr), /no-such-input\.mp4: No such file or directory/);
      return true;
    });
  });
});

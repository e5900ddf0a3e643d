/** Encodes run niced (ENCODE_NICE), so light work on a busy worker gets the CPU first: the real ffmpeg's niceness, read from ps. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import { runFfmpeg } from '../../activities/ffmpeg-run';
import { testBinaries } from '../helpers/media';

const run = promisify(execFile);

test('runFfmpeg with nice: the ffmpeg process runs at that niceness; without it, at ours', async () => {
  const { ffmpeg } = await testBinaries();
  const niceOf = async (marker: string): Promise<number | null> => {
    const { stdout } = await run('ps', ['-eo', 'ni=,args=']);
    const line = stdout.split('\n').find((l) => l.includes(marker) && l.includes('ffmpeg'));
    return line ? Number(line.trim().split(/\s+/)[0]) : null;
  };
  const runOne = async (nice: number | undefined, marker: string): Promise<number | null> => {
    // Three seconds of frames at real time: long enough to be seen in ps.
    const args = ['-hide_banner', '-nostdin', '-v', 'error', '-progress', 'pipe:1', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=64x64:rate=10:duration=3', '-metadata', `title=${marker}`, '-f', 'null', '-'];
    const done = runFfmpeg({ binary: ffmpeg, args, durationSec: 3, timeoutMs: 30_000, stallMs: 20_000, ...(nice !== undefined ? { nice } : {}) });
    let seen: number | null = null;
    for (let i = 0; i < 40 && seen === null; i++) {
      await new Promise((r) => setTimeout(r, 100));
      seen = await niceOf(marker);
    }
    await done;
    return seen;
  };
  const { stdout: own } = await run('ps', ['-o', 'ni=', '-p', String(process.pid)]);
  assert.equal(await runOne(7, 'nice-marker-seven'), 7);
  assert.equal(await runOne(undefined, 'nice-marker-none'), Number(own.trim()));
  // A worker niced further than ENCODE_NICE (an operator's `nice -n 15`) keeps its encodes there:
  // never raised back to 7, which root could do. (This test process stays at 15: it ends here.)
  os.setPriority(15);
  assert.equal(await runOne(7, 'nice-marker-under-15'), 15);
});

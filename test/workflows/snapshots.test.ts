/**
 * Snapshots of every kind (one frame, interval, count, sprite sheets with their WebVTT track) and
 * still-image inputs, through the real workflow, worker and ffmpeg; checked with ffprobe and by
 * reading which frame each image shows.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { taskQueueFor } from '../../model/config';
import type { JobSpec, ResolvedOutput, ResolvedSnapshot } from '../../model/job';
import type { JobState } from '../../model/job-state';
import { WORKFLOW_TYPE } from '../../workflows/definitions';
import { startStack, type Stack } from '../helpers/stack';
import { makeClip, probeFile, testBinaries } from '../helpers/media';
import { presetOutput, testSpec } from '../helpers/spec';
import { scratchLeft } from '../helpers/jobs';

const run = promisify(execFile);
let stack: Stack;
let dir: string;

before(async () => {
  stack = await startStack();
  dir = path.join(stack.dataDir, 'fixtures');
  await fs.mkdir(dir, { recursive: true });
});
after(async () => {
  await stack?.stop();
});

async function ffmpeg(args: string[]): Promise<void> {
  const { ffmpeg } = await testBinaries();
  await run(ffmpeg, ['-hide_banner', '-v', 'error', '-y', ...args]);
}

async function upload(file: string, key: string): Promise<void> {
  await stack.storage.put(key, createReadStream(file));
}

function snap(name: string, settings: ResolvedSnapshot['settings']): ResolvedSnapshot {
  return { name, templateId: null, settings };
}

function job(inputKey: string, snapshots: ResolvedSnapshot[], outputs: ResolvedOutput[] = []): JobSpec {
  // A failed job stays open for its retry window: keep it short.
  return testSpec(inputKey, outputs, { outputPrefix: 'out/', snapshots, retryWindowSec: 1 });
}

function execute(spec: JobSpec): Promise<JobState> {
  return stack.client.workflow.execute(WORKFLOW_TYPE, { workflowId: spec.id, taskQueue: taskQueueFor(stack.config, spec.pipeline), args: [spec] });
}

function objectPath(key: string): string {
  return path.join(stack.dataDir, 'objects', key);
}

function keysOf(state: JobState, name: string): string[] {
  const s = state.snapshots.find((x) => x.name === name);
  assert.ok(s, `snapshot ${name} in ${JSON.stringify(state.snapshots)}`);
  return s.keys;
}

async function picture(key: string): Promise<{ codec: string; width: number; height: number }> {
  const p = await probeFile(objectPath(key));
  const v = p.streams[0]!;
  return { codec: v.codec_name, width: v.width!, height: v.height! };
}

/** The average colour of an image, or of one rectangle of it, as one grey level. */
async function meanGrey(file: string, crop?: { x: number; y: number; w: number; h: number }): Promise<number> {
  const { ffmpeg: bin } = await testBinaries();
  const vf = `${crop ? `crop=${crop.w}:${crop.h}:${crop.x}:${crop.y},` : ''}scale=1:1:flags=area,format=rgb24`;
  const { stdout } = await promisify(execFile)(bin, ['-v', 'error', '-i', file, '-vf', vf, '-frames:v', '1', '-f', 'rawvideo', '-'], { encoding: 'buffer' });
  return (stdout[0]! + stdout[1]! + stdout[2]!) / 3;
}

/** Which frame of the index clip an image shows: the reference frame of the nearest grey level. */
function frameShown(grey: number, reference: number[]): number {
  let best = 0;
  reference.forEach((g, i) => {
    if (Math.abs(g - grey) < Math.abs(reference[best]! - grey)) best = i;
  });
  return best;
}

interface Cue {
  start: number;
  end: number;
  file: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

/** An independent WebVTT reader for thumbnail tracks: header, then `start --> end` and a `file#xywh=` payload per cue. */
function parseThumbnailVtt(text: string): Cue[] {
  const [header, ...blocks] = text.trim().split(/\n\n+/);
  assert.equal(header, 'WEBVTT');
  const seconds = (t: string) => {
    const m = /^(\d{2,}):(\d{2}):(\d{2})\.(\d{3})$/.exec(t);
    assert.ok(m, `timestamp ${t}`);
    return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]) / 1000;
  };
  return blocks.map((block) => {
    const [timing, payload, ...rest] = block.split('\n');
    assert.deepEqual(rest, [], `one payload line in ${block}`);
    const t = /^(\S+) --> (\S+)$/.exec(timing ?? '');
    const p = /^([^#/]+)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(payload ?? '');
    assert.ok(t && p, `cue ${block}`);
    return { start: seconds(t[1]!), end: seconds(t[2]!), file: p[1]!, x: Number(p[2]), y: Number(p[3]), w: Number(p[4]), h: Number(p[5]) };
  });
}

/** Checks a sprite's sheet and track against each other and the input; returns the cues. */
async function checkSprite(state: JobState, name: string, want: { columns: number; rows: number; cell: [number, number]; frames: number; codec: string }): Promise<Cue[]> {
  const [sheetKey, vttKey] = keysOf(state, name);
  assert.ok(sheetKey && vttKey);
  assert.equal(path.posix.dirname(sheetKey), path.posix.dirname(vttKey), 'the track sits beside its sheet');
  assert.match(vttKey, /\.vtt$/);
  const sheet = await picture(sheetKey);
  const [w, h] = want.cell;
  assert.deepEqual(sheet, { codec: want.codec, width: want.columns * w, height: want.rows * h }, `${name} sheet`);
  const cues = parseThumbnailVtt(await fs.readFile(objectPath(vttKey), 'utf8'));
  assert.equal(cues.length, want.frames, `${name}: one cue per frame`);
  assert.equal(cues[0]!.start, 0, 'the track starts at 0');
  const duration = state.input.media!.durationSec;
  assert.ok(Math.abs(cues.at(-1)!.end - duration) < 0.002, `the track ends at the input's end (${cues.at(-1)!.end} vs ${duration})`);
  cues.forEach((c, i) => {
    assert.ok(c.end > c.start, `cue ${i} has a length`);
    if (i > 0) assert.equal(c.start, cues[i - 1]!.end, `cue ${i} follows cue ${i - 1}`);
    assert.equal(c.file, path.posix.basename(sheetKey));
    assert.deepEqual([c.w, c.h], [w, h]);
    // Row by row, in frame order, on the grid and inside the sheet.
    assert.deepEqual([c.x, c.y], [(i % want.columns) * w, Math.floor(i / want.columns) * h], `cue ${i} cell`);
    assert.ok(c.x + c.w <= sheet.width && c.y + c.h <= sheet.height);
  });
  return cues;
}

describe('snapshots', { timeout: 300_000 }, () => {
  test('interval, count and sprites of a 6 s 640x360 clip: counts, sizes, formats, WebVTT tracks', async () => {
    const src = path.join(dir, 'clip.mp4');
    await makeClip(src, { width: 640, height: 360, durationSec: 6, fps: 30 });
    await upload(src, 'raw/clip.mp4');
    const state = await execute(
      job('raw/clip.mp4', [
        snap('every2', { interval: 2, format: 'jpg', width: 320 }),
        snap('five', { count: 5, format: 'png' }),
        snap('strip', { interval: 1, format: 'jpg', width: 160, sprite: { columns: 4 } }),
        snap('grid', { count: 8, format: 'webp', sprite: { columns: 3 } }),
      ]),
    );
    assert.equal(state.status, 'succeeded', JSON.stringify(state.tasks.filter((t) => t.error)));

    const every2 = keysOf(state, 'every2');
    assert.deepEqual(every2, [1, 2, 3].map((i) => `out/${state.id}/every2/0000${i}.jpg`));
    for (const k of every2) assert.deepEqual(await picture(k), { codec: 'mjpeg', width: 320, height: 180 }, k);

    const five = keysOf(state, 'five');
    assert.equal(five.length, 5);
    for (const k of five) assert.deepEqual(await picture(k), { codec: 'png', width: 640, height: 360 }, k);
    // Five different moments of a moving test pattern: five different pictures.
    const digests = await Promise.all(five.map(async (k) => (await run((await testBinaries()).ffmpeg, ['-v', 'error', '-i', objectPath(k), '-f', 'md5', '-'])).stdout.trim()));
    assert.equal(new Set(digests).size, 5, 'five distinct frames');

    const strip = await checkSprite(state, 'strip', { columns: 4, rows: 2, cell: [160, 90], frames: 6, codec: 'mjpeg' });
    assert.deepEqual(strip.map((c) => c.start), [0, 1, 2, 3, 4, 5], 'interval cues start at their frames');
    await checkSprite(state, 'grid', { columns: 3, rows: 3, cell: [160, 90], frames: 8, codec: 'webp' });

    assert.deepEqual(await scratchLeft(path.join(stack.dataDir, 'work', 'outputs')), [], 'scratch directories removed');
  });

  test('each image shows the first frame at or after its planned time (a clip whose frames are numbered by their grey level)', async () => {
    // 5 fps, 4 s: frame k is a flat grey of 16 + 10k, so an image's mean grey says which frame it shows.
    const src = path.join(dir, 'index.mp4');
    await ffmpeg(['-f', 'lavfi', '-i', "nullsrc=s=160x90:r=5:d=4,geq=lum='16+10*N':cb=128:cr=128,format=yuv420p", '-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', src]);
    const { ffmpeg: bin } = await testBinaries();
    const { stdout } = await run(bin, ['-v', 'error', '-i', src, '-vf', 'scale=1:1:flags=area,format=rgb24', '-f', 'rawvideo', '-'], { encoding: 'buffer' });
    const reference = Array.from({ length: stdout.length / 3 }, (_, k) => (stdout[3 * k]! + stdout[3 * k + 1]! + stdout[3 * k + 2]!) / 3);
    assert.equal(reference.length, 20);
    await upload(src, 'raw/index.mp4');

    const state = await execute(
      job('raw/index.mp4', [
        // 1.3 s steps: 0, 1.3, 2.6 → frames 0, 7 (6.5 rounds up), 13 (exactly on a frame).
        snap('steps', { interval: 1.3, format: 'png' }),
        // Three evenly spaced: 0.667, 2, 3.333 → frames 4, 10 (exactly on a frame), 17.
        snap('three', { count: 3, format: 'jpg' }),
        // One frame exactly on a frame time, after an input seek.
        snap('one', { time: 1.4, format: 'webp' }),
        // Every 0.6 s into a 3x3 sheet: frames 0, 3, 6, 9, 12, 15, 18, two empty cells.
        snap('sheet', { interval: 0.6, format: 'png', sprite: { columns: 3 } }),
      ]),
    );
    assert.equal(state.status, 'succeeded', JSON.stringify(state.tasks.filter((t) => t.error)));

    const shown = async (name: string) => Promise.all(keysOf(state, name).map(async (k) => frameShown(await meanGrey(objectPath(k)), reference)));
    assert.deepEqual(await shown('steps'), [0, 7, 13]);
    assert.deepEqual(await shown('three'), [4, 10, 17]);
    assert.deepEqual(await shown('one'), [7]);

    const cues = await checkSprite(state, 'sheet', { columns: 3, rows: 3, cell: [160, 90], frames: 7, codec: 'png' });
    const sheet = objectPath(keysOf(state, 'sheet')[0]!);
    const cells = await Promise.all(cues.map(async (c) => frameShown(await meanGrey(sheet, c), reference)));
    assert.deepEqual(cells, [0, 3, 6, 9, 12, 15, 18], 'cells in frame order, row by row');
  });

  test('non-square pixels: frames come out at the display aspect with square pixels', async () => {
    // 480x360 stored, 4:3 pixels: displayed 640x360.
    const src = path.join(dir, 'anamorphic.mp4');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=480x360:rate=25:duration=4,setsar=4/3', '-c:v', 'libx264', '-preset', 'ultrafast', src]);
    await upload(src, 'raw/anamorphic.mp4');
    const state = await execute(job('raw/anamorphic.mp4', [snap('wide', { count: 3, format: 'jpg', width: 320 }), snap('cells', { interval: 1, format: 'jpg', sprite: { columns: 2 } })]));
    assert.equal(state.status, 'succeeded', JSON.stringify(state.tasks.filter((t) => t.error)));
    for (const k of keysOf(state, 'wide')) {
      const p = await probeFile(objectPath(k));
      assert.deepEqual([p.streams[0]?.width, p.streams[0]?.height], [320, 180], k);
      assert.match(String((p.streams[0] as { sample_aspect_ratio?: string }).sample_aspect_ratio ?? '1:1'), /^(1:1|0:1)$/, 'square pixels');
    }
    await checkSprite(state, 'cells', { columns: 2, rows: 2, cell: [160, 90], frames: 4, codec: 'mjpeg' });
  });

  test('an input whose video ends before its stated duration: the task fails with the frame count, not a sheet with holes', async () => {
    // 2 s of video, 6 s of sound: the file lasts 6 s, its pictures 2 s.
    const src = path.join(dir, 'short-video.mp4');
    await ffmpeg([
      '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25:duration=2',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=6',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', src,
    ]);
    await upload(src, 'raw/short-video.mp4');
    const state = await execute(job('raw/short-video.mp4', [snap('every1', { interval: 1, format: 'jpg' }), snap('early', { time: 1, format: 'jpg' })]));
    assert.equal(state.status, 'failed');
    const failed = state.tasks.find((t) => t.id === 'snapshot:every1');
    assert.equal(failed?.status, 'failed');
    assert.equal(failed?.error?.code, 'OutputNotPossible');
    assert.match(failed!.error!.message, /the input gave \d of the 6 planned frames/);
    assert.equal(failed?.attempts, 1, 'not retried');
    assert.equal(state.tasks.find((t) => t.id === 'snapshot:early')?.status, 'succeeded', 'a sibling still runs');
  });
});

/** A PNG that claims a size in its header without holding the pixels: built by hand, CRCs and all. */
function pngClaiming(width: number, height: number): Buffer {
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (bytes: Buffer) => {
    let c = 0xffffffff;
    for (const b of bytes) c = table[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  // One row of pixel data (filter byte + RGB), compressed: the rest is simply missing.
  const idat = zlib.deflateSync(Buffer.alloc(1 + width * 3));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

describe('still images as input', { timeout: 300_000 }, () => {
  test('PNG, JPEG and WebP inputs: snapshot-only jobs succeed, every mode gives the one picture at the display size', async () => {
    const made: [string, string, string[]][] = [
      ['still.png', 'png', []],
      ['still.jpg', 'jpeg', ['-q:v', '3']],
      ['still.webp', 'webp', ['-c:v', 'libwebp']],
    ];
    const states = await Promise.all(
      made.map(async ([file, , codecArgs]) => {
        const local = path.join(dir, file);
        // The image2 muxer names the codec from the extension; the input is a generated 800x600 picture.
        await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=800x600', '-frames:v', '1', ...codecArgs, '-update', '1', local]);
        await upload(local, `raw/${file}`);
        return execute(
          job(`raw/${file}`, [
            snap('poster', { time: 3, format: 'jpg', width: 400 }),
            snap('many', { count: 4, format: 'png' }),
            snap('tiny', { interval: 5, format: 'webp', width: 80 }),
          ]),
        );
      }),
    );
    for (const [i, state] of states.entries()) {
      const [file, format] = made[i]!;
      assert.equal(state.status, 'succeeded', `${file}: ${JSON.stringify(state.tasks.filter((t) => t.error))}`);
      const media = state.input.media!;
      assert.deepEqual([media.still, media.durationSec, media.video?.width, media.video?.height, media.container], [true, 0, 800, 600, `${format}_pipe`], file);
      assert.deepEqual(await picture(keysOf(state, 'poster')[0]!), { codec: 'mjpeg', width: 400, height: 300 }, file);
      assert.deepEqual(keysOf(state, 'many'), [`out/${state.id}/many.png`], `${file}: one frame, one key`);
      assert.deepEqual(state.snapshots.find((x) => x.name === 'many')?.adjustments, ['the input is a still image: one frame, not 4']);
      assert.equal(state.snapshots.find((x) => x.name === 'poster')?.adjustments?.length, 1);
      assert.deepEqual(await picture(keysOf(state, 'many')[0]!), { codec: 'png', width: 800, height: 600 }, file);
      assert.deepEqual(await picture(keysOf(state, 'tiny')[0]!), { codec: 'webp', width: 80, height: 60 }, file);
    }
  });

  test('a video output from a still image fails that task with OutputNotPossible; the snapshot beside it is made', async () => {
    const state = await execute(job('raw/still.jpg', [snap('poster', { time: 0, format: 'jpg' })], [presetOutput('video', 'mp4-h264-360p')]));
    assert.equal(state.status, 'failed');
    const video = state.tasks.find((t) => t.id === 'transcode:video');
    assert.equal(video?.status, 'failed');
    assert.deepEqual([video?.error?.code, video?.error?.retryable], ['OutputNotPossible', false]);
    assert.match(video!.error!.message, /single still image: only snapshots can be made from it/);
    assert.equal(state.tasks.find((t) => t.id === 'snapshot:poster')?.status, 'succeeded');
    assert.deepEqual(state.outputs, []);
  });

  test('a 126-byte PNG claiming 16000x16000 fails the job with InputTooLarge within seconds', async () => {
    const bomb = pngClaiming(16000, 16000);
    assert.ok(bomb.length < 200);
    const local = path.join(dir, 'bomb.png');
    await fs.writeFile(local, bomb);
    await upload(local, 'raw/bomb.png');
    const started = Date.now();
    const state = await execute(job('raw/bomb.png', [snap('poster', { time: 0 })]));
    const elapsed = Date.now() - started;
    assert.equal(state.status, 'failed');
    const probe = state.tasks.find((t) => t.id === 'probe');
    assert.deepEqual([probe?.status, probe?.error?.code, probe?.error?.retryable, probe?.attempts], ['failed', 'InputTooLarge', false, 1]);
    assert.match(probe!.error!.message, /16000x16000 px, more than the limit of \d+ pixels/);
    // The job waits out its 1 s retry window before it returns.
    assert.ok(elapsed < 15_000, `took ${elapsed} ms`);
  });
});

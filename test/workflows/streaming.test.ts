/**
 * HLS and DASH ladders (rung transcodes + a package step) and watermarks (prepared once, applied
 * in the encode pass), run for real and checked the way a player or a viewer would.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { taskQueueFor } from '../../model/config';
import type { JobSpec, ResolvedWatermark } from '../../model/job';
import type { JobState } from '../../model/job-state';
import { WORKFLOW_TYPE } from '../../workflows/definitions';
import { startStack, type Stack } from '../helpers/stack';
import { decodesCleanly, makeClip, probeFile, testBinaries } from '../helpers/media';
import { presetOutput, testSpec } from '../helpers/spec';

const run = promisify(execFile);
let stack: Stack;
const SOURCE_SEC = 13;
const SEGMENT_SEC = 4;

before(async () => {
  stack = await startStack();
  const src = path.join(stack.dataDir, 'src.mp4');
  await makeClip(src, { width: 854, height: 480, durationSec: SOURCE_SEC });
  await stack.storage.put('raw/src.mp4', createReadStream(src));
});
after(async () => {
  await stack?.stop();
});

async function runJob(spec: JobSpec): Promise<JobState> {
  return (await stack.client.workflow.execute(WORKFLOW_TYPE, { workflowId: spec.id, taskQueue: taskQueueFor(stack.config, 'default'), args: [spec] })) as JobState;
}

const objectPath = (key: string) => path.join(stack.dataDir, 'objects', key);

/** A ladder preset with short segments, so a 13 s source gives several. */
function ladder(name: string, preset: 'hls-h264-ladder' | 'dash-h264-ladder') {
  return presetOutput(name, preset, (t) => ({ ...t, ladder: { ...t.ladder!, segmentSec: SEGMENT_SEC } }));
}

/** `KEY=value` pairs of an HLS attribute list (quoted values unquoted). */
function attributes(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of line.slice(line.indexOf(':') + 1).matchAll(/([A-Z-]+)=("[^"]*"|[^,]*)/g)) out[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  return out;
}

test('HLS: a master playlist that names every rung fully, segments that exist, add up and keep their length', { timeout: 300_000 }, async () => {
  const state = await runJob(testSpec('raw/src.mp4', [ladder('stream', 'hls-h264-ladder')], { snapshots: [] }));
  assert.equal(state.status, 'succeeded', JSON.stringify(state.tasks.filter((t) => t.error)));
  // An 854x480 source: the 1080p and 720p rungs would upscale onto 480p's size; 480p and 360p remain.
  assert.deepEqual(state.tasks.map((t) => [t.id, t.status]).sort(), [
    ['notify', 'skipped'], ['package:stream', 'succeeded'], ['probe', 'succeeded'],
    ['transcode:stream/360p', 'succeeded'], ['transcode:stream/480p', 'succeeded'],
  ]);
  const output = state.outputs.find((o) => o.name === 'stream')!;
  assert.equal(output.key, `${state.id}/stream/master.m3u8`);
  assert.deepEqual(output.renditions?.map((r) => [r.name, r.width, r.height]), [['480p', 854, 480], ['360p', 640, 360]]);

  const folder = objectPath(`${state.id}/stream`);
  const master = await fs.readFile(path.join(folder, 'master.m3u8'), 'utf8');
  const lines = master.trim().split('\n');
  assert.equal(lines[0], '#EXTM3U');
  const variants = lines.flatMap((l, i) => (l.startsWith('#EXT-X-STREAM-INF:') ? [{ attrs: attributes(l), uri: lines[i + 1]! }] : []));
  assert.deepEqual(variants.map((v) => [v.uri, v.attrs.RESOLUTION]), [['480p/index.m3u8', '854x480'], ['360p/index.m3u8', '640x360']]);
  for (const v of variants) {
    assert.match(v.attrs.CODECS ?? '', /^avc1\.64[0-9a-f]{4},mp4a\.40\.2$/, 'CODECS: H.264 High + AAC-LC');
    assert.equal(v.attrs['FRAME-RATE'], '30.000');
    const peak = Number(v.attrs.BANDWIDTH);
    const average = Number(v.attrs['AVERAGE-BANDWIDTH']);
    assert.ok(average > 50_000 && peak >= average, `bandwidths ${peak} ≥ ${average}`);

    const playlist = await fs.readFile(path.join(folder, v.uri), 'utf8');
    assert.match(playlist, /#EXT-X-PLAYLIST-TYPE:VOD/);
    assert.match(playlist, /#EXT-X-ENDLIST/);
    assert.match(playlist, /#EXT-X-MAP:URI="init\.mp4"/);
    const rungDir = path.dirname(path.join(folder, v.uri));
    assert.ok(existsSync(path.join(rungDir, 'init.mp4')));
    const segments = [...playlist.matchAll(/#EXTINF:([\d.]+),\s*\n(\S+)/g)].map((m) => ({ sec: Number(m[1]), uri: m[2]! }));
    assert.ok(segments.length >= 3, `${segments.length} segments`);
    for (const s of segments) assert.ok(existsSync(path.join(rungDir, s.uri)), `${s.uri} exists`);
    const total = segments.reduce((sum, s) => sum + s.sec, 0);
    assert.ok(Math.abs(total - SOURCE_SEC) <= 0.1, `segments add up to ${total} s`);
    for (const s of segments.slice(0, -1)) assert.ok(Math.abs(s.sec - SEGMENT_SEC) <= SEGMENT_SEC * 0.1, `segment ${s.uri}: ${s.sec} s`);

    // What a player does: read the playlist, fetch init + segments, decode.
    const probed = await probeFile(path.join(folder, v.uri));
    const video = probed.streams.find((s) => s.codec_type === 'video');
    assert.equal(`${video?.width}x${video?.height}`, v.attrs.RESOLUTION);
    assert.ok(Math.abs(probed.durationSec - SOURCE_SEC) <= 0.1, `playable duration ${probed.durationSec}`);
    assert.ok(await decodesCleanly(path.join(folder, v.uri)), `${v.uri} decodes`);
  }
  // The rungs' intermediate files were removed once packaged.
  // The audio is its own rendition (one input track: one EXT-X-MEDIA), encoded once for both rungs.
  assert.deepEqual((await fs.readdir(folder)).sort(), ['360p', '480p', 'audio.0', 'master.m3u8']);
});

test('DASH: one MPD, a representation per rung plus audio, every segment it implies exists', { timeout: 300_000 }, async () => {
  const state = await runJob(testSpec('raw/src.mp4', [ladder('dash', 'dash-h264-ladder')], { snapshots: [] }));
  assert.equal(state.status, 'succeeded', JSON.stringify(state.tasks.filter((t) => t.error)));
  const folder = objectPath(`${state.id}/dash`);
  assert.equal(state.outputs[0]?.key, `${state.id}/dash/manifest.mpd`);
  const mpd = await fs.readFile(path.join(folder, 'manifest.mpd'), 'utf8');
  assert.match(mpd, /type="static"/);
  const reps = [...mpd.matchAll(/<Representation ([^>]*)>([\s\S]*?)<\/Representation>/g)].map((m) => ({
    attrs: Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!])),
    body: m[2]!,
  }));
  assert.deepEqual(reps.map((r) => [r.attrs.mimeType, r.attrs.width && `${r.attrs.width}x${r.attrs.height}`]), [['video/mp4', '854x480'], ['video/mp4', '640x360'], ['audio/mp4', undefined]]);
  assert.deepEqual(reps.map((r) => r.attrs.codecs?.split('.')[0]), ['avc1', 'avc1', 'mp4a']);
  // Both rungs in one adaptation set, so players can switch between them.
  assert.equal([...mpd.matchAll(/<AdaptationSet [^>]*contentType="video"/g)].length, 1);
  for (const r of reps) {
    const id = r.attrs.id!;
    const body = r.body;
    const timescale = Number(/timescale="(\d+)"/.exec(body)?.[1]);
    const entries = [...body.matchAll(/<S (?:t="\d+" )?d="(\d+)"(?: r="(\d+)")? \/>/g)].flatMap((m) => Array(1 + Number(m[2] ?? 0)).fill(Number(m[1]) / timescale) as number[]);
    const total = entries.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(total - SOURCE_SEC) <= 0.1, `representation ${id}: segments add up to ${total} s`);
    if (r.attrs.mimeType === 'video/mp4') for (const d of entries.slice(0, -1)) assert.ok(Math.abs(d - SEGMENT_SEC) <= SEGMENT_SEC * 0.1, `segment of ${d} s`);
    assert.ok(existsSync(path.join(folder, `init-${id}.m4s`)));
    entries.forEach((_, i) => assert.ok(existsSync(path.join(folder, `seg-${id}-${String(i + 1).padStart(5, '0')}.m4s`)), `segment ${i + 1} of ${id}`));
  }
  const files = await fs.readdir(folder);
  assert.ok(!files.some((f) => f.endsWith('.mp4')), 'no intermediate rung left');
});

/** The RGB pixel at (x, y) of the frame at `timeSec`. */
async function pixel(file: string, timeSec: number, x: number, y: number, width: number): Promise<[number, number, number]> {
  const { ffmpeg } = await testBinaries();
  const { stdout } = await run(ffmpeg, ['-v', 'error', '-ss', String(timeSec), '-i', file, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer', maxBuffer: 64 << 20 });
  const at = (y * width + x) * 3;
  return [stdout[at]!, stdout[at + 1]!, stdout[at + 2]!];
}

const isRed = ([r, g, b]: number[]) => r! > 180 && g! < 80 && b! < 80;
const isBlue = ([r, g, b]: number[]) => b! > 180 && r! < 80 && g! < 80;

test('watermarks: an image and a text land where asked, sized to the output, only in their time window', { timeout: 300_000 }, async () => {
  const { ffmpeg } = await testBinaries();
  const blue = path.join(stack.dataDir, 'blue.mp4');
  await run(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=blue:s=640x360:r=25:d=3', '-f', 'lavfi', '-i', 'sine=d=3', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', blue]);
  await stack.storage.put('raw/blue.mp4', createReadStream(blue));
  // A 100x50 red logo with a fully transparent right half: alpha must be respected.
  const logo = path.join(stack.dataDir, 'logo.png');
  await run(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=red:s=100x50,format=rgba', '-vf', "geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='if(lt(X,50),255,0)'", '-frames:v', '1', logo]);
  await stack.storage.put('brand/logo.png', createReadStream(logo));
  await stack.storage.put('brand/not-an-image.png', createReadStream(blue));
  const tall = path.join(stack.dataDir, 'tall.png');
  await run(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=red:s=20x200', '-frames:v', '1', tall]);
  await stack.storage.put('brand/tall.png', createReadStream(tall));

  const image = (extra: Partial<ResolvedWatermark['settings']> = {}): ResolvedWatermark => ({
    templateId: null,
    settings: { image: { key: 'brand/logo.png' }, position: 'TL', dx: 20, dy: 10, widthRel: 0.25, opacity: 1, ...extra },
  });
  const spec = testSpec(
    'raw/blue.mp4',
    [
      { ...presetOutput('logo', 'mp4-h264-360p'), watermarks: [image()] },
      { ...presetOutput('timed', 'mp4-h264-360p'), watermarks: [image({ position: 'BR', startSec: 1, durationSec: 1 })] },
      { ...presetOutput('text', 'mp4-h264-360p'), watermarks: [{ templateId: null, settings: { text: { content: 'mediaflow', color: '#ffffff' }, position: 'BR', widthRel: 0.3 } }] },
      { ...presetOutput('broken', 'mp4-h264-360p'), watermarks: [image({ image: { key: 'brand/not-an-image.png' } })] },
      // 160 px wide would make it 1600 px high: it cannot fit a 360-line picture.
      { ...presetOutput('tall', 'mp4-h264-360p'), watermarks: [image({ image: { key: 'brand/tall.png' } })] },
      presetOutput('plain', 'mp4-h264-360p'),
    ],
    // It fails (one broken watermark): a short retry window lets the workflow close soon after.
    { snapshots: [], retryWindowSec: 1 },
  );
  const state = await runJob(spec);
  const byId = Object.fromEntries(state.tasks.map((t) => [t.id, t]));
  // The logo is prepared once for both outputs that use it; the broken image fails alone.
  assert.deepEqual(state.tasks.filter((t) => t.kind === 'watermark').map((t) => [t.id, t.status]).sort(), [
    ['watermark:1', 'succeeded'], ['watermark:2', 'succeeded'], ['watermark:3', 'failed'], ['watermark:4', 'failed'],
  ]);
  assert.equal(byId['watermark:3']?.error?.code, 'WatermarkInvalid');
  assert.match(byId['watermark:3']?.error?.message ?? '', /not a PNG, JPEG or WebP image/);
  assert.equal(byId['watermark:4']?.error?.code, 'WatermarkInvalid');
  assert.match(byId['watermark:4']?.error?.message ?? '', /too tall/);
  assert.equal(byId['transcode:broken']?.error?.code, 'DependencyFailed');
  assert.equal(byId['transcode:tall']?.error?.code, 'DependencyFailed');
  assert.equal(state.status, 'failed');
  for (const name of ['logo', 'timed', 'text', 'plain']) assert.equal(byId[`transcode:${name}`]?.status, 'succeeded', name);

  const file = (name: string) => objectPath(state.outputs.find((o) => o.name === name)!.key);
  // logo: 25 % of 640 = 160 px wide, so 160x80; its opaque half spans x 20..99, y 10..89.
  assert.ok(isRed(await pixel(file('logo'), 1, 40, 50, 640)), 'the opaque half of the logo, top left');
  assert.ok(isBlue(await pixel(file('logo'), 1, 140, 50, 640)), 'the transparent half shows the picture');
  assert.ok(isBlue(await pixel(file('logo'), 1, 40, 120, 640)), 'below the logo');
  assert.ok(isBlue(await pixel(file('logo'), 1, 600, 330, 640)), 'the far corner');
  // timed: bottom right (x 460..539 opaque, y 270..349), only from 1 s to 2 s.
  assert.ok(isBlue(await pixel(file('timed'), 0.4, 480, 300, 640)), 'before its window');
  assert.ok(isRed(await pixel(file('timed'), 1.5, 480, 300, 640)), 'inside its window');
  assert.ok(isBlue(await pixel(file('timed'), 2.6, 480, 300, 640)), 'after its window');
  // text: white glyphs somewhere in the bottom-right box, nothing elsewhere.
  const { stdout } = await run(ffmpeg, ['-v', 'error', '-ss', '1', '-i', file('text'), '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer', maxBuffer: 64 << 20 });
  let inBox = 0;
  let outside = 0;
  for (let y = 0; y < 360; y++) {
    for (let x = 0; x < 640; x++) {
      const at = (y * 640 + x) * 3;
      if (stdout[at]! > 200 && stdout[at + 1]! > 200 && stdout[at + 2]! > 200) {
        if (x >= 640 - 16 - 192 && y >= 280) inBox++;
        else outside++;
      }
    }
  }
  assert.ok(inBox > 200, `${inBox} white text pixels in the bottom-right corner`);
  assert.equal(outside, 0, 'no text anywhere else');
  for (const name of ['logo', 'timed', 'text']) {
    const probed = await probeFile(file(name));
    assert.deepEqual(probed.streams.map((s) => s.codec_name), ['h264', 'aac'], name);
    assert.ok(Math.abs(probed.durationSec - 3) <= 0.1, `${name}: ${probed.durationSec} s`);
  }
});

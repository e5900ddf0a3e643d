/**
 * Exact timing, on real encodes through real jobs: a 30000/1001 source comes out 30000/1001 (MP4,
 * HLS FRAME-RATE, DASH frameRate), a VFR source at the nearest standard rate not above its average,
 * video and audio start together at 0 with the encoder delay in edit lists (MP4 outputs, HLS and
 * DASH init segments + first segments), and the DASH manifest's durations, flags and bandwidths
 * are true. Checked with ffprobe and by reading the MP4 boxes players read.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { taskQueueFor } from '../../model/config';
import type { JobSpec } from '../../model/job';
import type { JobState } from '../../model/job-state';
import { WORKFLOW_TYPE } from '../../workflows/definitions';
import { startStack, type Stack } from '../helpers/stack';
import { decodesCleanly, testBinaries } from '../helpers/media';
import { presetOutput, testSpec } from '../helpers/spec';

const run = promisify(execFile);
let stack: Stack;
const SEGMENT_SEC = 4;
/** 390 frames at 30000/1001: 13.013 s. */
const NTSC_SEC = 13.013;

before(async () => {
  stack = await startStack();
  const { ffmpeg } = await testBinaries();
  const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-ac', '2'];
  const ntsc = path.join(stack.dataDir, 'ntsc.mp4');
  await run(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=s=640x360:r=30000/1001:d=${NTSC_SEC}`, '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:d=${NTSC_SEC}`, ...x264, ntsc]);
  // 4 s at 24 fps, then 4 s at 30 fps: variable rate, 216 frames in 7.97 s (27.1 fps on average).
  const vfr = path.join(stack.dataDir, 'vfr.mp4');
  await run(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=s=640x360:r=24:d=4', '-f', 'lavfi', '-i', 'testsrc2=s=640x360:r=30:d=4', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:d=8',
    '-filter_complex', '[0:v][1:v]concat=n=2:v=1:a=0[v]', '-map', '[v]', '-map', '2:a', '-fps_mode', 'vfr', ...x264, vfr]);
  await stack.storage.put('raw/ntsc.mp4', createReadStream(ntsc));
  await stack.storage.put('raw/vfr.mp4', createReadStream(vfr));
});
after(async () => {
  await stack?.stop();
});

async function runJob(spec: JobSpec): Promise<JobState> {
  const state = (await stack.client.workflow.execute(WORKFLOW_TYPE, { workflowId: spec.id, taskQueue: taskQueueFor(stack.config, 'default'), args: [spec] })) as JobState;
  assert.equal(state.status, 'succeeded', JSON.stringify(state.tasks.filter((t) => t.error)));
  return state;
}

const objectPath = (key: string) => path.join(stack.dataDir, 'objects', key);

function ladder(name: string, preset: 'hls-h264-ladder' | 'dash-h264-ladder') {
  return presetOutput(name, preset, (t) => ({ ...t, ladder: { ...t.ladder!, segmentSec: SEGMENT_SEC } }));
}

interface StreamFacts { codec_type: string; r_frame_rate: string; avg_frame_rate: string; start_time: string }

/** ffprobe's streams, and the first packet's pts of each. */
async function streamsOf(file: string): Promise<{ streams: StreamFacts[]; firstPts: Record<string, number> }> {
  const { ffprobe } = await testBinaries();
  const { stdout } = await run(ffprobe, ['-v', 'error', '-show_entries', 'stream=codec_type,r_frame_rate,avg_frame_rate,start_time', '-of', 'json', file]);
  const streams = (JSON.parse(stdout) as { streams: StreamFacts[] }).streams;
  const firstPts: Record<string, number> = {};
  for (const type of ['v', 'a']) {
    const { stdout: p } = await run(ffprobe, ['-v', 'error', '-select_streams', `${type}:0`, '-show_entries', 'packet=pts_time', '-read_intervals', '%+#1', '-of', 'json', file]);
    const packets = (JSON.parse(p) as { packets?: { pts_time: string }[] }).packets ?? [];
    if (packets[0]) firstPts[type] = Number(packets[0].pts_time);
  }
  return { streams, firstPts };
}

// --- The boxes a player reads: edit lists in the init segment, decode times and offsets in the fragments.

interface Box { type: string; body: Buffer }

function boxes(buf: Buffer): Box[] {
  const out: Box[] = [];
  for (let p = 0; p + 8 <= buf.length; ) {
    let size = buf.readUInt32BE(p);
    let header = 8;
    if (size === 1) {
      size = Number(buf.readBigUInt64BE(p + 8));
      header = 16;
    } else if (size === 0) size = buf.length - p;
    out.push({ type: buf.toString('latin1', p + 4, p + 8), body: buf.subarray(p + header, p + size) });
    p += size;
  }
  return out;
}

const child = (b: Buffer, ...path: string[]): Buffer | undefined => path.reduce<Buffer | undefined>((at, type) => (at ? boxes(at).find((x) => x.type === type)?.body : undefined), b);

interface TrackTiming {
  handler: string;
  timescale: number;
  /** [segment duration, media time] of each edit; media time -1 is an empty edit (a delayed start). */
  edits: [number, number][];
}

/** Per track of an init segment (or a whole MP4's moov): its kind, timescale and edit list. */
function initTracks(file: Buffer): Map<number, TrackTiming> {
  const tracks = new Map<number, TrackTiming>();
  const moov = boxes(file).find((b) => b.type === 'moov')!;
  for (const trak of boxes(moov.body).filter((b) => b.type === 'trak')) {
    const tkhd = child(trak.body, 'tkhd')!;
    const id = tkhd[0] === 1 ? tkhd.readUInt32BE(20) : tkhd.readUInt32BE(12);
    const mdhd = child(trak.body, 'mdia', 'mdhd')!;
    const timescale = mdhd[0] === 1 ? mdhd.readUInt32BE(20) : mdhd.readUInt32BE(12);
    const handler = child(trak.body, 'mdia', 'hdlr')!.toString('latin1', 8, 12);
    const elst = child(trak.body, 'edts', 'elst');
    const edits: [number, number][] = [];
    if (elst) {
      const v1 = elst[0] === 1;
      for (let i = 0, q = 8; i < elst.readUInt32BE(4); i++, q += v1 ? 20 : 12) {
        edits.push(v1 ? [Number(elst.readBigUInt64BE(q)), Number(elst.readBigInt64BE(q + 8))] : [elst.readUInt32BE(q), elst.readInt32BE(q + 4)]);
      }
    }
    tracks.set(id, { handler, timescale, edits });
  }
  return tracks;
}

/** Per track of a media segment: its decode time, first sample's duration and the earliest composition time in the fragment. */
function fragmentTracks(file: Buffer): Map<number, { decodeTime: number; firstDuration: number | null; earliestPts: number }> {
  const out = new Map<number, { decodeTime: number; firstDuration: number | null; earliestPts: number }>();
  for (const moof of boxes(file).filter((b) => b.type === 'moof')) {
    for (const traf of boxes(moof.body).filter((b) => b.type === 'traf')) {
      const tfhd = child(traf.body, 'tfhd')!;
      const id = tfhd.readUInt32BE(4);
      const tfhdFlags = tfhd.readUInt32BE(0) & 0xffffff;
      // tfhd: base data offset (8 bytes), sample description index (4), then the default duration.
      const defaultDuration = tfhdFlags & 0x08 ? tfhd.readUInt32BE(8 + (tfhdFlags & 0x01 ? 8 : 0) + (tfhdFlags & 0x02 ? 4 : 0)) : null;
      const tfdt = child(traf.body, 'tfdt')!;
      const decodeTime = tfdt[0] === 1 ? Number(tfdt.readBigUInt64BE(4)) : tfdt.readUInt32BE(4);
      const trun = child(traf.body, 'trun')!;
      const flags = trun.readUInt32BE(0) & 0xffffff;
      const count = trun.readUInt32BE(4);
      let q = 8 + (flags & 0x01 ? 4 : 0) + (flags & 0x04 ? 4 : 0);
      let dts = decodeTime;
      let earliest = Infinity;
      let firstDuration: number | null = null;
      for (let i = 0; i < count; i++) {
        let duration = defaultDuration ?? 0;
        let cts = 0;
        if (flags & 0x100) (duration = trun.readUInt32BE(q)), (q += 4);
        if (flags & 0x200) q += 4;
        if (flags & 0x400) q += 4;
        if (flags & 0x800) (cts = trun[0] === 1 ? trun.readInt32BE(q) : trun.readUInt32BE(q)), (q += 4);
        if (i === 0) firstDuration = duration;
        earliest = Math.min(earliest, dts + cts);
        dts += duration;
      }
      if (!out.has(id)) out.set(id, { decodeTime, firstDuration, earliestPts: earliest });
    }
  }
  return out;
}

/**
 * The start of a fragmented track on the presentation timeline, as a player maps it: the first
 * fragment's earliest composition time minus the edit's media time. Also checks the edit list is
 * the standard one: a single edit, no empty edit delaying the track.
 */
function presentationStart(init: Buffer, firstSegment: Buffer, handler: 'vide' | 'soun'): { startSec: number; mediaTime: number; timescale: number; firstDuration: number | null } {
  const tracks = [...initTracks(init)].filter(([, t]) => t.handler === handler);
  assert.equal(tracks.length, 1, `one ${handler} track`);
  const [id, track] = tracks[0]!;
  assert.ok(track.edits.length === 1 && track.edits[0]![1] >= 0, `${handler}: one edit, not an empty one delaying the start: ${JSON.stringify(track.edits)}`);
  const mediaTime = track.edits[0]![1];
  const frag = fragmentTracks(firstSegment).get(id);
  assert.ok(frag, `${handler} track ${id} in the first segment`);
  return { startSec: (frag.earliestPts - mediaTime) / track.timescale, mediaTime, timescale: track.timescale, firstDuration: frag.firstDuration };
}

/** Video shows its first frame at 0; audio's priming is cut by its edit list, so its first output sample is at 0. */
function assertStartTogether(init: Buffer, firstSegment: Buffer, what: string, hasVideo = true, hasAudio = true): void {
  if (hasVideo) {
    const v = presentationStart(init, firstSegment, 'vide');
    assert.equal(v.startSec, 0, `${what}: video starts at 0 (edit media time ${v.mediaTime} = first composition time)`);
  }
  if (hasAudio) {
    const a = presentationStart(init, firstSegment, 'soun');
    // AAC: 1024 samples of priming before the first real one, stated in the edit list; frames are
    // 1024 samples (no 3204-sample frame swallowing the video's delay).
    assert.equal(a.mediaTime, 1024, `${what}: AAC priming (1024 samples) signalled in the edit list`);
    assert.equal(a.firstDuration, 1024, `${what}: the first audio frame is one AAC frame`);
    assert.equal(a.startSec, -1024 / a.timescale, `${what}: the priming frame sits just before 0, so audio starts at 0`);
  }
}

const ratio = (r: string) => {
  const [n, d] = r.split('/').map(Number);
  return n! / d!;
};

test('a 30000/1001 source: MP4, HLS and DASH at exactly 30000/1001, video and audio from 0, a true MPD', { timeout: 400_000 }, async () => {
  const state = await runJob(testSpec('raw/ntsc.mp4', [presetOutput('mp4', 'mp4-h264-360p'), ladder('hls', 'hls-h264-ladder'), ladder('dash', 'dash-h264-ladder')], { snapshots: [] }));
  assert.equal(state.input.media?.video?.fpsRational, '30000/1001', 'the probe keeps the exact rate');

  // MP4: the rate, and both streams start at 0 (ffprobe applies the edit lists, as players do).
  const mp4 = objectPath(state.outputs.find((o) => o.name === 'mp4')!.key);
  const probed = await streamsOf(mp4);
  const v = probed.streams.find((s) => s.codec_type === 'video')!;
  const a = probed.streams.find((s) => s.codec_type === 'audio')!;
  assert.deepEqual([v.r_frame_rate, v.avg_frame_rate], ['30000/1001', '30000/1001']);
  assert.deepEqual([Number(v.start_time), Number(a.start_time)], [0, 0], 'video and audio start together');
  assert.equal(probed.firstPts.v, 0, 'first video packet at 0');
  const mp4Tracks = [...initTracks(await fs.readFile(mp4)).values()];
  assert.ok(mp4Tracks.every((t) => t.edits.every(([, mediaTime]) => mediaTime >= 0)), `no empty edit: ${JSON.stringify(mp4Tracks)}`);
  assert.equal(mp4Tracks.find((t) => t.handler === 'soun')?.edits[0]?.[1], 1024, 'AAC priming in the edit list');

  // HLS: FRAME-RATE, and each rung's init + first segment start together.
  const hls = objectPath(`${state.id}/hls`);
  const master = await fs.readFile(path.join(hls, 'master.m3u8'), 'utf8');
  const rates = [...master.matchAll(/FRAME-RATE=([\d.]+)/g)].map((m) => m[1]);
  assert.ok(rates.length >= 1 && rates.every((r) => r === '29.970'), `FRAME-RATE ${rates}`);
  for (const rung of state.outputs.find((o) => o.name === 'hls')!.renditions!) {
    const dir = path.join(hls, rung.name);
    assert.equal(rung.fps, 29.97);
    // Video only: the audio is its own rendition (checked below).
    assertStartTogether(await fs.readFile(path.join(dir, 'init.mp4')), await fs.readFile(path.join(dir, 'seg_00000.m4s')), `HLS ${rung.name}`, true, false);
    const playlist = await streamsOf(path.join(dir, 'index.m3u8'));
    const pv = playlist.streams.find((s) => s.codec_type === 'video')!;
    assert.equal(Number(pv.start_time), 0, `HLS ${rung.name}: ffprobe sees video from 0 (was 0.066)`);
    assert.equal(pv.avg_frame_rate, '30000/1001');
    assert.ok(await decodesCleanly(path.join(dir, 'index.m3u8')), `HLS ${rung.name} decodes`);
  }
  const audioDir = path.join(hls, 'audio.0');
  assertStartTogether(await fs.readFile(path.join(audioDir, 'init.mp4')), await fs.readFile(path.join(audioDir, 'seg_00000.m4s')), 'HLS audio', false, true);

  // DASH: frameRate, flags, durations, bandwidths; each init + first segment start together.
  const dash = objectPath(`${state.id}/dash`);
  const mpd = await fs.readFile(path.join(dash, 'manifest.mpd'), 'utf8');
  assert.match(mpd, /frameRate="30000\/1001"/);
  assert.doesNotMatch(mpd, /bitstreamSwitching="true"/, 'every representation has its own init segment');
  const seconds = (attr: string) => Number(new RegExp(`${attr}="PT([\\d.]+)S"`).exec(mpd)?.[1]);
  const reps = [...mpd.matchAll(/<Representation ([^>]*)>([\s\S]*?)<\/Representation>/g)].map((m) => {
    const attrs = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    const timescale = Number(/timescale="(\d+)"/.exec(m[2]!)?.[1]);
    const segments = [...m[2]!.matchAll(/<S (?:t="\d+" )?d="(\d+)"(?: r="(\d+)")? \/>/g)].flatMap((s) => Array(1 + Number(s[2] ?? 0)).fill(Number(s[1]) / timescale) as number[]);
    return { attrs, segments, total: segments.reduce((x, y) => x + y, 0) };
  });
  assert.ok(reps.length >= 2);
  const longest = Math.max(...reps.flatMap((r) => r.segments));
  assert.ok(seconds('maxSegmentDuration') >= longest, `maxSegmentDuration ${seconds('maxSegmentDuration')} ≥ the longest segment ${longest}`);
  assert.ok(seconds('maxSegmentDuration') - longest < 0.001, 'and no longer than it (to the ms)');
  for (const r of reps) assert.ok(seconds('mediaPresentationDuration') >= r.total, `mediaPresentationDuration ${seconds('mediaPresentationDuration')} ≥ representation ${r.attrs.id}: ${r.total}`);
  assert.ok(seconds('mediaPresentationDuration') >= NTSC_SEC, `mediaPresentationDuration covers the content (${NTSC_SEC} s)`);
  const renditions = state.outputs.find((o) => o.name === 'dash')!.renditions!;
  for (const [i, r] of renditions.entries()) {
    assert.equal(typeof r.bandwidth, 'number', `${r.name}: bandwidth in the job JSON`);
    assert.ok(r.bandwidth! > 50_000, `${r.name}: ${r.bandwidth} b/s`);
    assert.equal(String(r.bandwidth), reps[i]!.attrs.bandwidth, `${r.name}: the MPD states the same bandwidth`);
    assert.equal(r.fps, 29.97);
  }
  for (const r of reps) {
    const id = r.attrs.id!;
    const init = await fs.readFile(path.join(dash, `init-${id}.m4s`));
    const first = await fs.readFile(path.join(dash, `seg-${id}-00001.m4s`));
    const isVideo = r.attrs.mimeType === 'video/mp4';
    assertStartTogether(init, first, `DASH representation ${id}`, isVideo, !isVideo);
  }
});

test('a VFR source (24 then 30 fps, 27.1 on average) comes out at a constant 25, the nearest standard rate not above its average', { timeout: 400_000 }, async () => {
  const state = await runJob(testSpec('raw/vfr.mp4', [presetOutput('mp4', 'mp4-h264-360p'), ladder('hls', 'hls-h264-ladder')], { snapshots: [] }));
  const average = ratio(state.input.media!.video!.fpsRational!);
  assert.ok(average > 27 && average < 27.2, `probe average ${average}`);
  const probed = await streamsOf(objectPath(state.outputs.find((o) => o.name === 'mp4')!.key));
  const v = probed.streams.find((s) => s.codec_type === 'video')!;
  const a = probed.streams.find((s) => s.codec_type === 'audio')!;
  assert.deepEqual([v.r_frame_rate, v.avg_frame_rate], ['25/1', '25/1']);
  assert.deepEqual([Number(v.start_time), Number(a.start_time)], [0, 0]);
  const master = await fs.readFile(objectPath(`${state.id}/hls/master.m3u8`), 'utf8');
  assert.deepEqual([...master.matchAll(/FRAME-RATE=([\d.]+)/g)].map((m) => m[1]), state.outputs.find((o) => o.name === 'hls')!.renditions!.map(() => '25.000'));
  for (const rung of state.outputs.find((o) => o.name === 'hls')!.renditions!) {
    const dir = objectPath(`${state.id}/hls/${rung.name}`);
    assertStartTogether(await fs.readFile(path.join(dir, 'init.mp4')), await fs.readFile(path.join(dir, 'seg_00000.m4s')), `HLS ${rung.name}`, true, false);
  }
  const audioDir = objectPath(`${state.id}/hls/audio.0`);
  assertStartTogether(await fs.readFile(path.join(audioDir, 'init.mp4')), await fs.readFile(path.join(audioDir, 'seg_00000.m4s')), 'HLS audio', false, true);
});

/**
 * Subtitles end to end, over the API against a real worker and dev server: an MKV with two SRT
 * tracks (English default, German) and a PGS (bitmap) track becomes mov_text tracks in MP4,
 * WebVTT tracks in WebM, WebVTT renditions in HLS and DASH; an uploaded .srt is attached; a
 * malformed one fails the job with its code; a track is burnt into the picture. Every check reads
 * the outputs the way a user would: ffprobe, the playlists and manifests, the cues, the pixels.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { JobState } from '../../model/job-state';
import { startStack, type Stack } from '../helpers/stack';
import { callApi, putObject, submitJob } from '../helpers/http';
import { isSettled, pollJob } from '../helpers/jobs';
import { makeClip, testBinaries } from '../helpers/media';
import { needTool } from '../helpers/tools';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const chromiumMissing = needTool('chromium', await fs.access(CHROMIUM).then(() => true, () => false), '.ci/run installs it (Debian package chromium)');
const HLS_JS = path.resolve(import.meta.dirname, '../../node_modules/hls.js/dist/hls.min.js');
/** The HLS master of the first test's job, played in a browser by the last test. */
let hlsMasterKey: string | null = null;

const run = promisify(execFile);
let stack: Stack;
let base: string;
let dir: string;
const SOURCE_SEC = 12;
const SUBTITLE_MAX_BYTES = 4096;

const EN_SRT = '1\n00:00:01,000 --> 00:00:02,500\nHello world\n\n2\n00:00:03,000 --> 00:00:05,000\nSecond line\n';
const DE_SRT = '1\n00:00:01,000 --> 00:00:02,500\nHallo Welt\n\n2\n00:00:07,000 --> 00:00:09,000\nZweite Zeile\n';
const FR_SRT = '1\n00:00:02,000 --> 00:00:04,000\nBonjour le monde\n';

/** A minimal PGS (Blu-ray bitmap subtitle) stream: two display sets, as a .sup file. */
function pgsSup(): Buffer {
  const seg = (pts: number, type: number, payload: Buffer) => {
    const h = Buffer.alloc(13);
    h.write('PG', 0, 'latin1');
    h.writeUInt32BE(pts, 2);
    h.writeUInt32BE(0, 6);
    h.writeUInt8(type, 10);
    h.writeUInt16BE(payload.length, 11);
    return Buffer.concat([h, payload]);
  };
  const displaySet = (pts: number, n: number) => {
    const pcs = Buffer.alloc(11);
    pcs.writeUInt16BE(320, 0);
    pcs.writeUInt16BE(240, 2);
    pcs.writeUInt8(0x10, 4);
    pcs.writeUInt16BE(n, 5);
    pcs.writeUInt8(0x80, 7);
    return Buffer.concat([seg(pts, 0x16, pcs), seg(pts, 0x80, Buffer.alloc(0))]);
  };
  return Buffer.concat([displaySet(90_000, 0), displaySet(270_000, 1)]);
}

before(async () => {
  stack = await startStack({ api: true, env: { SUBTITLE_MAX_BYTES: String(SUBTITLE_MAX_BYTES), MAX_UPLOAD_BYTES: String(20 * 1024 * 1024) } });
  base = stack.api!.url;
  dir = stack.dataDir;
  const { ffmpeg } = await testBinaries();
  await fs.writeFile(path.join(dir, 'en.srt'), EN_SRT);
  await fs.writeFile(path.join(dir, 'de.srt'), DE_SRT);
  await fs.writeFile(path.join(dir, 'fr.srt'), FR_SRT);
  await fs.writeFile(path.join(dir, 'bitmap.sup'), pgsSup());
  await fs.writeFile(path.join(dir, 'broken.srt'), 'this is not\na subtitle file at all\n');
  await fs.writeFile(path.join(dir, 'big.srt'), `${'1\n00:00:01,000 --> 00:00:02,000\nx\n\n'.repeat(200)}`);
  const plain = path.join(dir, 'plain.mp4');
  await makeClip(plain, { width: 320, height: 240, durationSec: SOURCE_SEC });
  // Two text tracks (English marked default, German) and a bitmap one, as an MKV from a disc rip has.
  await run(ffmpeg, [
    '-v', 'error', '-y', '-i', plain, '-i', path.join(dir, 'en.srt'), '-i', path.join(dir, 'de.srt'), '-i', path.join(dir, 'bitmap.sup'),
    '-map', '0', '-map', '1', '-map', '2', '-map', '3', '-c:v', 'copy', '-c:a', 'copy', '-c:s:0', 'srt', '-c:s:1', 'srt', '-c:s:2', 'copy',
    '-metadata:s:s:0', 'language=eng', '-metadata:s:s:1', 'language=ger', '-metadata:s:s:1', 'title=Deutsch', '-metadata:s:s:2', 'language=fre',
    '-disposition:s:0', 'default', '-disposition:s:1', '0', '-disposition:s:2', '0',
    path.join(dir, 'subs.mkv'),
  ]);
  await putObject(base, 'in/subs.mkv', path.join(dir, 'subs.mkv'));
  await putObject(base, 'in/plain.mp4', plain);
  for (const f of ['fr.srt', 'broken.srt', 'big.srt']) await putObject(base, `subs/${f}`, path.join(dir, f));
});
after(async () => {
  await stack?.stop();
});

async function finished(id: string): Promise<JobState> {
  return pollJob(base, id, isSettled, { timeoutMs: 400_000, intervalMs: 500 });
}

const objectPath = (key: string) => path.join(stack.dataDir, 'objects', key);

/** One small rung with 4 s segments, so a 12 s source gives three. */
const smallLadder = { ladder: { segmentSec: 4, rungs: [{ name: '240p', height: 240, bitrateKbps: 400 }] } };

interface SubStream {
  codec_name: string;
  tags?: { language?: string; title?: string; handler_name?: string };
  disposition?: { default?: number; forced?: number };
}

async function subtitleStreams(file: string): Promise<SubStream[]> {
  const { ffprobe } = await testBinaries();
  const { stdout } = await run(ffprobe, ['-v', 'error', '-select_streams', 's', '-show_streams', '-of', 'json', file]);
  return (JSON.parse(stdout) as { streams: SubStream[] }).streams;
}

/** A file's subtitle track N as WebVTT text, read by ffmpeg (independently of our parser). */
async function trackAsVtt(file: string, n: number): Promise<string> {
  const { ffmpeg } = await testBinaries();
  const { stdout } = await run(ffmpeg, ['-v', 'error', '-i', file, '-map', `0:s:${n}`, '-c:s', 'webvtt', '-f', 'webvtt', '-']);
  return stdout;
}

/** `KEY=value` pairs of an HLS attribute list. */
function attributes(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of line.slice(line.indexOf(':') + 1).matchAll(/([A-Z-]+)=("[^"]*"|[^,]*)/g)) out[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  return out;
}

/** The cues of a WebVTT text: start, end (seconds) and text. */
function cuesOf(vtt: string): { start: number; end: number; text: string }[] {
  const sec = (t: string) => t.split(':').map(Number).reduce((a, p) => a * 60 + p, 0);
  return [...vtt.matchAll(/((?:\d+:)?\d{2}:\d{2}\.\d{3}) --> ((?:\d+:)?\d{2}:\d{2}\.\d{3})[^\n]*\n([^\n]+)/g)].map((m) => ({ start: sec(m[1]!), end: sec(m[2]!), text: m[3]! }));
}

test('input text tracks: mov_text in MP4, WebVTT in WebM, WebVTT renditions in HLS and DASH; the bitmap track is skipped with a note', { timeout: 600_000 }, async () => {
  const id = await submitJob(base, {
    input: { key: 'in/subs.mkv' },
    snapshots: [],
    outputs: [
      { name: 'file', template: 'mp4-h264-360p' },
      { name: 'web', template: 'webm-vp9-720p', overrides: { video: { preset: 'ultrafast' } } },
      { name: 'hls', template: 'hls-h264-ladder', overrides: smallLadder },
      { name: 'dash', template: 'dash-h264-ladder', overrides: smallLadder },
    ],
  });
  const job = await finished(id);
  assert.equal(job.status, 'succeeded', JSON.stringify(job.tasks.filter((t) => t.error)));

  // The probe reports every subtitle stream with its codec, language and flags.
  assert.deepEqual(
    job.input.media!.subtitles!.map((s) => [s.index, s.codec, s.text, s.language, s.default ?? false]),
    [[0, 'subrip', true, 'eng', true], [1, 'subrip', true, 'ger', false], [2, 'hdmv_pgs_subtitle', false, 'fre', false]],
  );
  // The bitmap track: a note in the job, not a failure.
  assert.ok(job.notes?.some((n) => /subtitle track 2 \(hdmv_pgs_subtitle, fre\) is a picture format: skipped/.test(n.message)), JSON.stringify(job.notes));

  // MP4: two mov_text tracks with their languages, the English one default.
  const mp4 = objectPath(job.outputs.find((o) => o.name === 'file')!.key);
  const mp4Subs = await subtitleStreams(mp4);
  assert.deepEqual(mp4Subs.map((s) => [s.codec_name, s.tags?.language, s.disposition?.default]), [['mov_text', 'eng', 1], ['mov_text', 'ger', 0]]);
  // MP4 names a track by its handler name.
  assert.equal(mp4Subs[1]!.tags?.handler_name, 'Deutsch');
  const deInMp4 = cuesOf(await trackAsVtt(mp4, 1));
  assert.deepEqual(deInMp4.map((c) => c.text), ['Hallo Welt', 'Zweite Zeile']);
  assert.ok(Math.abs(deInMp4[1]!.start - 7) < 0.1 && Math.abs(deInMp4[1]!.end - 9) < 0.1, JSON.stringify(deInMp4));
  assert.deepEqual(job.outputs.find((o) => o.name === 'file')!.subtitles?.map((s) => [s.language, s.default]), [['eng', true], ['ger', false]]);

  // WebM: WebVTT tracks.
  const webm = objectPath(job.outputs.find((o) => o.name === 'web')!.key);
  assert.deepEqual((await subtitleStreams(webm)).map((s) => [s.codec_name, s.tags?.language]), [['webvtt', 'eng'], ['webvtt', 'ger']]);
  assert.deepEqual(cuesOf(await trackAsVtt(webm, 0)).map((c) => c.text), ['Hello world', 'Second line']);

  // HLS: a SUBTITLES group named by every variant, one segmented WebVTT playlist per track.
  const hlsOut = job.outputs.find((o) => o.name === 'hls')!;
  hlsMasterKey = hlsOut.key;
  const folder = path.dirname(objectPath(hlsOut.key));
  const master = await fs.readFile(objectPath(hlsOut.key), 'utf8');
  const media = master.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=SUBTITLES')).map(attributes);
  assert.deepEqual(
    media.map((m) => [m.TYPE, m['GROUP-ID'], m.LANGUAGE, m.NAME, m.DEFAULT, m.AUTOSELECT]),
    [['SUBTITLES', 'subs', 'en', 'eng', 'YES', 'YES'], ['SUBTITLES', 'subs', 'de', 'Deutsch', 'NO', 'YES']],
  );
  const variants = master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
  assert.ok(variants.length >= 1 && variants.every((v) => attributes(v).SUBTITLES === 'subs'), master);
  const dePlaylist = await fs.readFile(path.join(folder, media[1]!.URI!), 'utf8');
  assert.match(dePlaylist, /#EXT-X-ENDLIST/);
  const segmentsOf = (playlist: string) => [...playlist.matchAll(/#EXTINF:([\d.]+),\n(\S+)/g)].map((m) => ({ duration: Number(m[1]), uri: m[2]! }));
  const segments = segmentsOf(dePlaylist);
  // Cut exactly like the video: the same segment durations as the rung's own playlist.
  const lines = master.split('\n');
  const videoSegments = segmentsOf(await fs.readFile(path.join(folder, lines[lines.indexOf(variants[0]!) + 1]!), 'utf8'));
  assert.deepEqual(segments.map((s) => s.duration), videoSegments.map((s) => s.duration), dePlaylist);
  assert.ok(segments.length >= 3 && Math.abs(segments.reduce((a, s) => a + s.duration, 0) - SOURCE_SEC) < 0.2, dePlaylist);
  const segmentCues = await Promise.all(segments.map(async (s) => cuesOf(await fs.readFile(path.join(folder, path.dirname(media[1]!.URI!), s.uri), 'utf8'))));
  // 0–4 s: "Hallo Welt" (1–2.5); 4–8 s and 8–12 s: "Zweite Zeile" (7–9 s) crosses the boundary, so both carry it.
  assert.deepEqual(segmentCues.slice(0, 3).map((cs) => cs.map((c) => c.text)), [['Hallo Welt'], ['Zweite Zeile'], ['Zweite Zeile']]);
  assert.ok(Math.abs(segmentCues[1]![0]!.start - 7) < 0.1 && Math.abs(segmentCues[1]![0]!.end - 9) < 0.1);
  assert.deepEqual(hlsOut.subtitles?.map((s) => [s.language, s.name, s.key]), [
    ['en', 'eng', `${id}/hls/subs.0.en/index.m3u8`],
    ['de', 'Deutsch', `${id}/hls/subs.1.de/index.m3u8`],
  ]);

  // DASH: a text adaptation set per track, each a WebVTT file that exists.
  const dashOut = job.outputs.find((o) => o.name === 'dash')!;
  const mpd = await fs.readFile(objectPath(dashOut.key), 'utf8');
  const textSets = [...mpd.matchAll(/<AdaptationSet ([^>]*contentType="text"[^>]*)>([\s\S]*?)<\/AdaptationSet>/g)];
  assert.deepEqual(textSets.map((m) => [/mimeType="([^"]*)"/.exec(m[1]!)?.[1], /lang="([^"]*)"/.exec(m[1]!)?.[1]]), [['text/vtt', 'en'], ['text/vtt', 'de']]);
  const enFile = /<BaseURL>([^<]+)<\/BaseURL>/.exec(textSets[0]![2]!)![1]!;
  const enCues = cuesOf(await fs.readFile(path.join(path.dirname(objectPath(dashOut.key)), enFile), 'utf8'));
  assert.deepEqual(enCues.map((c) => [c.text, Math.round(c.start), Math.round(c.end)]), [['Hello world', 1, 3], ['Second line', 3, 5]]);
});

test('an uploaded .srt is attached: a mov_text track in MP4 and a subtitle rendition in HLS', { timeout: 400_000 }, async () => {
  const id = await submitJob(base, {
    input: { key: 'in/plain.mp4' },
    snapshots: [],
    subtitles: [{ key: 'subs/fr.srt', language: 'fr', name: 'Français', default: true }],
    outputs: [
      { name: 'file', template: 'mp4-h264-360p' },
      { name: 'hls', template: 'hls-h264-ladder', overrides: smallLadder },
    ],
  });
  const job = await finished(id);
  assert.equal(job.status, 'succeeded', JSON.stringify(job.tasks.filter((t) => t.error)));
  const mp4 = objectPath(job.outputs.find((o) => o.name === 'file')!.key);
  const subs = await subtitleStreams(mp4);
  assert.deepEqual(subs.map((s) => [s.codec_name, s.tags?.language, s.tags?.handler_name, s.disposition?.default]), [['mov_text', 'fre', 'Français', 1]]);
  assert.deepEqual(cuesOf(await trackAsVtt(mp4, 0)).map((c) => [c.text, Math.round(c.start), Math.round(c.end)]), [['Bonjour le monde', 2, 4]]);
  const hlsOut = job.outputs.find((o) => o.name === 'hls')!;
  const master = await fs.readFile(objectPath(hlsOut.key), 'utf8');
  const media = master.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=SUBTITLES')).map(attributes);
  assert.deepEqual(media.map((m) => [m.TYPE, m.LANGUAGE, m.NAME, m.DEFAULT]), [['SUBTITLES', 'fr', 'Français', 'YES']]);
  const playlist = await fs.readFile(path.join(path.dirname(objectPath(hlsOut.key)), media[0]!.URI!), 'utf8');
  const first = await fs.readFile(path.join(path.dirname(objectPath(hlsOut.key)), path.dirname(media[0]!.URI!), /seg_\d+\.vtt/.exec(playlist)![0]), 'utf8');
  assert.deepEqual(cuesOf(first).map((c) => c.text), ['Bonjour le monde']);
});

test('a malformed .srt fails the job with SubtitleInvalid (not retried); bad subtitle fields are 4xx naming the field', { timeout: 300_000 }, async () => {
  const id = await submitJob(base, {
    input: { key: 'in/plain.mp4' },
    snapshots: [],
    subtitles: [{ key: 'subs/broken.srt', language: 'en' }],
    outputs: [{ name: 'file', template: 'mp4-h264-360p' }],
  });
  const job = await finished(id);
  assert.equal(job.status, 'failed');
  assert.equal(job.error?.code, 'SubtitleInvalid', JSON.stringify(job.error));
  assert.equal(job.error?.retryable, false);
  const task = job.tasks.find((t) => t.id === 'transcode:file')!;
  assert.equal(task.error?.code, 'SubtitleInvalid');
  assert.equal(task.attempts, 1, 'a non-retryable error is not retried');
  assert.match(task.error!.message, /subs\/broken\.srt/);

  const post = (body: object) => callApi(base, 'POST', '/v1/jobs', { input: { key: 'in/plain.mp4' }, outputs: [{ name: 'f', template: 'mp4-h264-360p' }], ...body });
  const traversal = await post({ subtitles: [{ key: '../other/x.srt', language: 'en' }] });
  assert.equal(traversal.status, 400);
  assert.ok(traversal.json.errors.some((e: { path: string }) => e.path === 'subtitles.0.key'), traversal.text);
  const missing = await post({ subtitles: [{ key: 'subs/none.srt', language: 'en' }] });
  assert.equal(missing.status, 400);
  assert.equal(missing.json.code, 'InputNotFound');
  assert.deepEqual(missing.json.errors.map((e: { path: string }) => e.path), ['subtitles.0.key']);
  const big = await post({ subtitles: [{ key: 'subs/big.srt', language: 'en' }] });
  assert.equal(big.status, 400, big.text);
  assert.deepEqual(big.json.errors.map((e: { path: string }) => e.path), ['subtitles.0.key']);
  const language = await post({ subtitles: [{ key: 'subs/fr.srt', language: 'French!' }] });
  assert.equal(language.status, 400);
  assert.ok(language.json.errors.some((e: { path: string }) => e.path === 'subtitles.0.language'), language.text);
  const burnBoth = await post({ outputs: [{ name: 'f', template: 'mp4-h264-360p', burnSubtitles: { track: 0, key: 'subs/fr.srt' } }] });
  assert.equal(burnBoth.status, 400);
  assert.ok(burnBoth.json.errors.some((e: { path: string }) => e.path.startsWith('outputs.0.burnSubtitles')), burnBoth.text);

  // The fields are in the published schema.
  const openapi = await callApi(base, 'GET', '/openapi.json');
  assert.match(openapi.text, /"burnSubtitles"/);
  assert.match(openapi.text, /"subtitles"/);
});

test('ASS and WebVTT tracks in MKV and a mov_text track in MP4 become tracks too (ASS styling reduced to text)', { timeout: 400_000 }, async () => {
  const { ffmpeg } = await testBinaries();
  const ass = [
    '[Script Info]', 'ScriptType: v4.00+', 'PlayResX: 384', 'PlayResY: 288', '',
    '[V4+ Styles]',
    'Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding',
    'Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,1', '',
    '[Events]', 'Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text',
    'Dialogue: 0,0:00:01.00,0:00:03.00,Default,,0,0,0,,{\\i1}Styled line{\\i0}', '',
  ].join('\n');
  await fs.writeFile(path.join(dir, 'a.ass'), ass);
  await fs.writeFile(path.join(dir, 'a.vtt'), 'WEBVTT\n\n00:00:02.000 --> 00:00:04.000\nVTT line\n');
  const src = ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30:duration=6'];
  await run(ffmpeg, ['-v', 'error', '-y', ...src, '-i', path.join(dir, 'a.ass'), '-i', path.join(dir, 'a.vtt'), '-map', '0', '-map', '1', '-map', '2',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-c:s:0', 'ass', '-c:s:1', 'webvtt', '-metadata:s:s:0', 'language=jpn', '-metadata:s:s:1', 'language=ita', path.join(dir, 'styled.mkv')]);
  await run(ffmpeg, ['-v', 'error', '-y', ...src, '-i', path.join(dir, 'a.vtt'), '-map', '0', '-map', '1',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-c:s', 'mov_text', '-metadata:s:s:0', 'language=spa', path.join(dir, 'timed.mp4')]);
  await putObject(base, 'in/styled.mkv', path.join(dir, 'styled.mkv'));
  await putObject(base, 'in/timed.mp4', path.join(dir, 'timed.mp4'));
  const outputs = [{ name: 'file', template: 'mp4-h264-360p' }];
  const [mkvJob, mp4Job] = await Promise.all([
    submitJob(base, { input: { key: 'in/styled.mkv' }, snapshots: [], outputs }).then(finished),
    submitJob(base, { input: { key: 'in/timed.mp4' }, snapshots: [], outputs: [...outputs, { name: 'dash', template: 'dash-h264-ladder', overrides: smallLadder }] }).then(finished),
  ]);
  assert.equal(mkvJob.status, 'succeeded', JSON.stringify(mkvJob.tasks.filter((t) => t.error)));
  assert.equal(mp4Job.status, 'succeeded', JSON.stringify(mp4Job.tasks.filter((t) => t.error)));
  const fromMkv = objectPath(mkvJob.outputs[0]!.key);
  assert.deepEqual((await subtitleStreams(fromMkv)).map((s) => [s.codec_name, s.tags?.language]), [['mov_text', 'jpn'], ['mov_text', 'ita']]);
  assert.deepEqual(cuesOf(await trackAsVtt(fromMkv, 0)).map((c) => [c.text.replace(/<\/?i>/g, ''), Math.round(c.start), Math.round(c.end)]), [['Styled line', 1, 3]]);
  assert.deepEqual(cuesOf(await trackAsVtt(fromMkv, 1)).map((c) => [c.text, Math.round(c.start), Math.round(c.end)]), [['VTT line', 2, 4]]);
  const fromMp4 = objectPath(mp4Job.outputs.find((o) => o.name === 'file')!.key);
  assert.deepEqual((await subtitleStreams(fromMp4)).map((s) => [s.codec_name, s.tags?.language]), [['mov_text', 'spa']]);
  const dash = mp4Job.outputs.find((o) => o.name === 'dash')!;
  const mpd = await fs.readFile(objectPath(dash.key), 'utf8');
  assert.match(mpd, /<AdaptationSet id="\d+" contentType="text" mimeType="text\/vtt" lang="es">/);
  assert.deepEqual(cuesOf(await fs.readFile(objectPath(dash.subtitles![0]!.key!), 'utf8')).map((c) => c.text), ['VTT line']);
});

/** The bottom band of the frame at `sec` as grey pixels (where subtitles are drawn). */
async function bottomBand(file: string, sec: number): Promise<Buffer> {
  const { ffmpeg } = await testBinaries();
  const { stdout } = await run(ffmpeg, ['-v', 'error', '-ss', String(sec), '-i', file, '-frames:v', '1', '-vf', 'crop=iw:ih/4:0:ih*3/4,format=gray', '-f', 'rawvideo', '-'], {
    encoding: 'buffer',
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

/** The share of pixels (in %) whose grey level differs by more than 40 between two same-sized pictures: drawn text, not coding noise. */
function changedShare(a: Buffer, b: Buffer): number {
  assert.equal(a.length, b.length);
  let changed = 0;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) > 40) changed += 1;
  return (changed / a.length) * 100;
}

test('burnSubtitles: the chosen track is drawn into the picture while its cue shows, and only then', { timeout: 400_000 }, async () => {
  const id = await submitJob(base, {
    input: { key: 'in/subs.mkv' },
    snapshots: [],
    outputs: [
      { name: 'plain', template: 'mp4-h264-360p' },
      { name: 'burnt', template: 'mp4-h264-360p', burnSubtitles: { language: 'de' } },
      { name: 'burnt-file', template: 'mp4-h264-360p', burnSubtitles: { key: 'subs/fr.srt' } },
    ],
  });
  const job = await finished(id);
  assert.equal(job.status, 'succeeded', JSON.stringify(job.tasks.filter((t) => t.error)));
  const file = (name: string) => objectPath(job.outputs.find((o) => o.name === name)!.key);
  // German cues: 1–2.5 s and 7–9 s; none at 5.5 s. The French file: 2–4 s.
  const plainAt = async (s: number) => bottomBand(file('plain'), s);
  const during = changedShare(await plainAt(1.5), await bottomBand(file('burnt'), 1.5));
  const later = changedShare(await plainAt(8), await bottomBand(file('burnt'), 8));
  const between = changedShare(await plainAt(5.5), await bottomBand(file('burnt'), 5.5));
  console.log(`burnt-in: ${during.toFixed(2)} % and ${later.toFixed(2)} % of the band changed during cues, ${between.toFixed(2)} % between`);
  assert.ok(during > 1 && later > 1, `the text shows while its cues do (${during.toFixed(2)} %, ${later.toFixed(2)} % of the band changed)`);
  assert.ok(between < 0.2, `nothing is drawn between cues (${between.toFixed(2)} % changed)`);
  const fileDuring = changedShare(await plainAt(3), await bottomBand(file('burnt-file'), 3));
  const fileAfter = changedShare(await plainAt(6), await bottomBand(file('burnt-file'), 6));
  console.log(`burnt-in file: ${fileDuring.toFixed(2)} % during its cue, ${fileAfter.toFixed(2)} % after`);
  assert.ok(fileDuring > 1 && fileAfter < 0.2, `the uploaded file's cue is burnt at 2–4 s only (${fileDuring.toFixed(2)} %, ${fileAfter.toFixed(2)} %)`);
  // A burnt output still carries the soft tracks as well.
  assert.equal((await subtitleStreams(file('burnt'))).length, 2);
});

test('a player: hls.js in chromium lists both subtitle tracks and shows the German cues at their times', { skip: chromiumMissing, timeout: 180_000 }, async () => {
  assert.ok(hlsMasterKey, 'the first test made the HLS output');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] });
  try {
    const page = await browser.newPage();
    // A page and hls.js served from the API's own origin, so the player reads the outputs as a site would.
    await page.route(`${base}/__player.html`, (route) =>
      route.fulfill({ contentType: 'text/html', body: '<!doctype html><video muted playsinline></video><script src="/__hls.js"></script>' }),
    );
    await page.route(`${base}/__hls.js`, async (route) => route.fulfill({ contentType: 'text/javascript', body: await fs.readFile(HLS_JS, 'utf8') }));
    await page.goto(`${base}/__player.html`);
    const tracks = await page.evaluate(async (src) => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the page's globals
      const w = globalThis as any;
      const video = w.document.querySelector('video');
      const hls = new w.Hls({ subtitleDisplay: true });
      w.hls = hls;
      hls.attachMedia(video);
      hls.loadSource(src);
      await new Promise((resolve, reject) => {
        hls.on(w.Hls.Events.MANIFEST_PARSED, resolve);
        hls.on(w.Hls.Events.ERROR, (_e: string, d: { fatal: boolean; details: string }) => d.fatal && reject(new Error(d.details)));
      });
      hls.subtitleTrack = 1;
      await video.play();
      return hls.subtitleTracks.map((t: { lang: string; name: string; default: boolean }) => [t.lang, t.name, t.default]);
    }, `${base}/v1/objects/${hlsMasterKey}`);
    assert.deepEqual(tracks, [['en', 'eng', true], ['de', 'Deutsch', false]]);
    // The cues hls.js put on the showing text track once it has played past the second German cue.
    const cues = await page.waitForFunction(
      () => {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the page's globals
        const video = (globalThis as any).document.querySelector('video');
        const showing = Array.from(video.textTracks as ArrayLike<{ mode: string; cues: ArrayLike<{ startTime: number; endTime: number; text: string }> | null }>).find((t) => t.mode === 'showing');
        const list = showing?.cues ? Array.from(showing.cues).map((c) => [c.startTime, c.endTime, c.text]) : [];
        return video.currentTime > 9 && list.some((c) => c[2] === 'Zweite Zeile') ? list : false;
      },
      null,
      { timeout: 90_000, polling: 250 },
    );
    const list = (await cues.jsonValue()) as [number, number, string][];
    const byText = new Map(list.map((c) => [c[2], c]));
    assert.deepEqual([...byText.keys()].sort(), ['Hallo Welt', 'Zweite Zeile']);
    // On the picture's clock within a frame (the source's cues sit at 1.023 s and 7.023 s in the MKV).
    for (const [text, start, end] of [['Hallo Welt', 1, 2.5], ['Zweite Zeile', 7, 9]] as const) {
      const c = byText.get(text)!;
      assert.ok(Math.abs(c[0] - start) < 0.06 && Math.abs(c[1] - end) < 0.06, `${text}: ${c[0]}–${c[1]} s, expected ${start}–${end} s`);
    }
  } finally {
    await browser.close();
  }
});

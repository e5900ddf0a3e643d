/**
 * HLS audio as its own rendition group (one EXT-X-MEDIA per input audio track, languages and the
 * default from the input, video variants without audio, an audio-only variant), DASH with one
 * audio adaptation set per language, and AES-128 encrypted HLS (keys beside the output, never in
 * the job or its history). Real Temporal, real ffmpeg; the players check in Debian's chromium.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions reach the DOM through globalThis (no DOM lib in this project) */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { taskQueueFor } from '../../model/config';
import type { JobSpec } from '../../model/job';
import type { JobState } from '../../model/job-state';
import { WORKFLOW_TYPE } from '../../workflows/definitions';
import { freePort, startStack, type Stack } from '../helpers/stack';
import { probeFile, testBinaries } from '../helpers/media';
import { presetOutput, testSpec } from '../helpers/spec';
import { needTool } from '../helpers/tools';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const CHROMIUM = '/usr/bin/chromium';
const chromiumMissing = needTool('chromium', await fs.access(CHROMIUM).then(() => true, () => false), '.ci/run installs it (Debian package chromium)');

const SOURCE_SEC = 8;
const FPS = 25;
const SEGMENT_SEC = 2;
let stack: Stack;
let multi: JobState;
let crypt: JobState;
/** Everything the worker (in this process) printed while the encrypted job ran. */
let printed = '';

/** A small two-rung ladder with 2 s segments; `hls` settings when given. */
function ladder(name: string, preset: 'hls-h264-ladder' | 'dash-h264-ladder', hls?: object) {
  return presetOutput(name, preset, (t) => ({
    ...t,
    ladder: { segmentSec: SEGMENT_SEC, rungs: [{ name: '360p', height: 360, bitrateKbps: 500 }, { name: '180p', height: 180, bitrateKbps: 150 }] },
    ...(hls ? { hls } : {}),
  }));
}

async function runJob(spec: JobSpec): Promise<JobState> {
  return (await stack.client.workflow.execute(WORKFLOW_TYPE, { workflowId: spec.id, taskQueue: taskQueueFor(stack.config, 'default'), args: [spec] })) as JobState;
}

const objectPath = (key: string) => path.join(stack.dataDir, 'objects', key);

before(async () => {
  stack = await startStack();
  // Two audio tracks: English at 440 Hz (not marked default), French at 880 Hz (marked default).
  const { ffmpeg } = await testBinaries();
  const src = path.join(stack.dataDir, 'two-languages.mp4');
  await run(ffmpeg, [
    '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=${FPS}:duration=${SOURCE_SEC}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${SOURCE_SEC}`,
    '-f', 'lavfi', '-i', `sine=frequency=880:sample_rate=48000:duration=${SOURCE_SEC}`,
    '-map', '0', '-map', '1', '-map', '2',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-ac', '2',
    '-metadata:s:a:0', 'language=eng', '-metadata:s:a:1', 'language=fre',
    '-disposition:a:0', '0', '-disposition:a:1', 'default',
    src,
  ]);
  await stack.storage.put('raw/two.mp4', createReadStream(src));
  multi = await runJob(testSpec('raw/two.mp4', [ladder('hls', 'hls-h264-ladder', { audioOnlyVariant: true }), ladder('dash', 'dash-h264-ladder')], { snapshots: [] }));
  const write = { out: process.stdout.write, err: process.stderr.write };
  const capture = (orig: typeof process.stdout.write) => ((chunk: unknown, ...rest: unknown[]) => {
    printed += String(chunk);
    return (orig as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
  }) as typeof process.stdout.write;
  process.stdout.write = capture(write.out);
  process.stderr.write = capture(write.err);
  try {
    crypt = await runJob(
      testSpec(
        'raw/two.mp4',
        [
          ladder('enc', 'hls-h264-ladder', { encryption: { method: 'aes-128' } }),
          // The key URI from a template: from `rot/360p/index.m3u8`, three folders up is the store's root.
          ladder('rot', 'hls-h264-ladder', { encryption: { method: 'aes-128', keyUri: '../../../{key}', rotateEverySegments: 2 } }),
        ],
        { snapshots: [] },
      ),
    );
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
  }
});
after(async () => {
  await stack?.stop();
});

/** `KEY=value` pairs of an HLS attribute list (quoted values unquoted). */
function attributes(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of line.slice(line.indexOf(':') + 1).matchAll(/([A-Z-]+)=("[^"]*"|[^,]*)/g)) out[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  return out;
}

/** The tags of a playlist with their attributes, and the URI line after each STREAM-INF. */
function tags(text: string, tag: string): { attrs: Record<string, string>; next: string }[] {
  const lines = text.trim().split('\n');
  return lines.flatMap((l, i) => (l.startsWith(`${tag}:`) ? [{ attrs: attributes(l), next: lines[i + 1] ?? '' }] : []));
}

/** The dominant frequency of a file's audio over its second second, from zero crossings of the decoded samples. */
async function toneHz(file: string, extra: string[] = []): Promise<number> {
  const { ffmpeg } = await testBinaries();
  const { stdout } = await run(ffmpeg, ['-v', 'error', ...extra, '-i', file, '-ss', '1', '-t', '1', '-map', '0:a:0', '-ac', '1', '-ar', '48000', '-f', 's16le', 'pipe:1'], { encoding: 'buffer', maxBuffer: 16 << 20 });
  let crossings = 0;
  for (let i = 2; i + 1 < stdout.length; i += 2) if ((stdout.readInt16LE(i - 2) < 0) !== (stdout.readInt16LE(i) < 0)) crossings++;
  return crossings / 2 / (stdout.length / 2 / 48000);
}

/** Sums of segment bytes and durations in a media playlist, the init segment counted: its average bits per second. */
async function averageBps(playlist: string): Promise<number> {
  const text = await fs.readFile(playlist, 'utf8');
  const dir = path.dirname(playlist);
  let bytes = (await fs.stat(path.join(dir, 'init.mp4'))).size;
  let sec = 0;
  for (const m of text.matchAll(/#EXTINF:([\d.]+),\s*\n(\S+)/g)) {
    sec += Number(m[1]);
    bytes += (await fs.stat(path.join(dir, m[2]!))).size;
  }
  return (bytes * 8) / sec;
}

describe('HLS audio group', () => {
  test('one EXT-X-MEDIA per input track with language, name and default from the input; video variants name the group', { timeout: 600_000 }, async () => {
    assert.equal(multi.status, 'succeeded', JSON.stringify(multi.tasks.filter((t) => t.error)));
    const folder = objectPath(`${multi.id}/hls`);
    const master = await fs.readFile(path.join(folder, 'master.m3u8'), 'utf8');
    const media = tags(master, '#EXT-X-MEDIA');
    assert.deepEqual(
      media.map((m) => [m.attrs.TYPE, m.attrs['GROUP-ID'], m.attrs.LANGUAGE, m.attrs.NAME, m.attrs.DEFAULT, m.attrs.AUTOSELECT, m.attrs.CHANNELS]),
      [['AUDIO', 'audio', 'en', 'English', 'NO', 'YES', '2'], ['AUDIO', 'audio', 'fr', 'French', 'YES', 'YES', '2']],
    );
    const variants = tags(master, '#EXT-X-STREAM-INF');
    const video = variants.filter((v) => v.attrs.RESOLUTION);
    assert.deepEqual(video.map((v) => [v.next, v.attrs.RESOLUTION, v.attrs.AUDIO]), [['360p/index.m3u8', '640x360', 'audio'], ['180p/index.m3u8', '320x180', 'audio']]);
    const audioAvg = Math.max(...(await Promise.all(media.map((m) => averageBps(path.join(folder, m.attrs.URI!))))));
    for (const v of video) {
      assert.match(v.attrs.CODECS ?? '', /^avc1\.64[0-9a-f]{4},mp4a\.40\.2$/);
      // The variant's rate counts its video and the audio that plays with it.
      const videoAvg = await averageBps(path.join(folder, v.next));
      const stated = Number(v.attrs['AVERAGE-BANDWIDTH']);
      assert.ok(Math.abs(stated - (videoAvg + audioAvg)) <= 0.01 * stated, `AVERAGE-BANDWIDTH ${stated} vs video ${videoAvg} + audio ${audioAvg}`);
      assert.ok(Number(v.attrs.BANDWIDTH) >= stated);
      // Video only: no audio stream in the video variant's segments.
      const probed = await probeFile(path.join(folder, v.next));
      assert.deepEqual(probed.streams.map((s) => s.codec_type), ['video']);
    }
    // The audio-only variant (asked for): the default track, no RESOLUTION.
    const audioOnly = variants.filter((v) => !v.attrs.RESOLUTION);
    assert.deepEqual(audioOnly.map((v) => [v.attrs.CODECS, v.attrs.AUDIO, v.next]), [['mp4a.40.2', 'audio', media[1]!.attrs.URI]]);

    // Each audio playlist decodes to its own track: English the 440 Hz tone, French the 880 Hz one.
    for (const [m, hz] of [[media[0]!, 440], [media[1]!, 880]] as const) {
      const file = path.join(folder, m.attrs.URI!);
      const probed = await probeFile(file);
      assert.deepEqual(probed.streams.map((s) => [s.codec_type, s.codec_name, s.channels]), [['audio', 'aac', 2]]);
      assert.ok(Math.abs(probed.durationSec - SOURCE_SEC) <= 0.1, `audio lasts ${probed.durationSec} s`);
      const measured = await toneHz(file);
      assert.ok(Math.abs(measured - hz) < 10, `${m.attrs.NAME}: ${measured} Hz`);
    }
    // The job says the same.
    const out = multi.outputs.find((o) => o.name === 'hls')!;
    assert.deepEqual(out.audioTracks?.map((a) => [a.name, a.language, a.default, a.key]), [
      ['English', 'en', false, `${multi.id}/hls/audio.0/index.m3u8`],
      ['French', 'fr', true, `${multi.id}/hls/audio.1/index.m3u8`],
    ]);
    assert.deepEqual(out.renditions?.map((r) => r.bandwidth), video.map((v) => Number(v.attrs.BANDWIDTH)));
    assert.deepEqual((await fs.readdir(folder)).sort(), ['180p', '360p', 'audio.0', 'audio.1', 'master.m3u8']);
  });

  test('DASH: one audio adaptation set per language, each decoding to its own track', { timeout: 120_000 }, async () => {
    const mpd = await fs.readFile(objectPath(`${multi.id}/dash/manifest.mpd`), 'utf8');
    const sets = [...mpd.matchAll(/<AdaptationSet ([^>]*)>/g)].map((m) => Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!])));
    assert.deepEqual(sets.map((s) => [s.contentType, s.contentType === 'audio' ? s.lang : undefined]), [['video', undefined], ['audio', 'en'], ['audio', 'fr']]);
    // The French set (the input's default) is the main audio.
    assert.match(mpd, /<AdaptationSet [^>]*lang="fr"[^>]*>\s*<Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"\/>/);
    assert.equal(mpd.match(/<Role /g)?.length, 1);
    const out = multi.outputs.find((o) => o.name === 'dash')!;
    assert.deepEqual(out.audioTracks?.map((a) => [a.language, a.default, a.bandwidth !== null && a.bandwidth > 50_000]), [['en', false, true], ['fr', true, true]]);
    // The French set's segments carry the 880 Hz track: init + first segments joined decode.
    const frId = /<AdaptationSet [^>]*lang="fr"[^>]*>[\s\S]*?<Representation id="(\d+)"/.exec(mpd)![1]!;
    const dir = objectPath(`${multi.id}/dash`);
    const joined = path.join(stack.dataDir, 'fr.mp4');
    await fs.writeFile(joined, Buffer.concat([await fs.readFile(path.join(dir, `init-${frId}.m4s`)), await fs.readFile(path.join(dir, `seg-${frId}-00001.m4s`)), await fs.readFile(path.join(dir, `seg-${frId}-00002.m4s`))]));
    assert.ok(Math.abs((await toneHz(joined)) - 880) < 10);
  });
});

describe('HLS AES-128', () => {
  /** Every media playlist of an output folder with its segment files. */
  async function playlists(folder: string) {
    const master = await fs.readFile(path.join(folder, 'master.m3u8'), 'utf8');
    const uris = [...tags(master, '#EXT-X-STREAM-INF').map((v) => v.next), ...tags(master, '#EXT-X-MEDIA').map((m) => m.attrs.URI!)];
    return Promise.all(
      uris.map(async (uri) => {
        const text = await fs.readFile(path.join(folder, uri), 'utf8');
        return { uri, text, segments: [...text.matchAll(/#EXTINF:[\d.]+,\s*\n(\S+)/g)].map((m) => path.join(folder, path.dirname(uri), m[1]!)) };
      }),
    );
  }

  test('segments are not plaintext, the playlists name the keys, ffmpeg decodes every frame with the key', { timeout: 600_000 }, async () => {
    assert.equal(crypt.status, 'succeeded', JSON.stringify(crypt.tasks.filter((t) => t.error)));
    const { ffprobe } = await testBinaries();
    for (const name of ['enc', 'rot'] as const) {
      const folder = objectPath(`${crypt.id}/${name}`);
      const lists = await playlists(folder);
      assert.equal(lists.length, 4, 'two video variants, two audio renditions');
      const most = Math.max(...lists.map((p) => p.segments.length));
      // One key, or a key per 2 segments of the longest playlist.
      const keyFiles = name === 'enc' ? ['key.bin'] : Array.from({ length: Math.ceil(most / 2) }, (_, k) => `key-${k}.bin`);
      assert.ok(name === 'enc' || keyFiles.length >= 2, `${keyFiles.length} keys`);
      for (const k of keyFiles) assert.equal((await fs.stat(path.join(folder, k))).size, 16, `${name}/${k}`);
      assert.deepEqual(crypt.outputs.find((o) => o.name === name)?.encryption, { method: 'AES-128', keyObjects: keyFiles.map((k) => `${crypt.id}/${name}/${k}`) });
      for (const p of lists) {
        assert.ok(p.segments.length >= SOURCE_SEC / SEGMENT_SEC, `${p.uri}: ${p.segments.length} segments`);
        const keyLines = p.text.split('\n').filter((l) => l.startsWith('#EXT-X-KEY:'));
        const expected = name === 'enc' ? ['../key.bin'] : keyFiles.slice(0, Math.ceil(p.segments.length / 2)).map((k) => `../../../${crypt.id}/rot/${k}`);
        assert.deepEqual(keyLines.map((l) => [attributes(l).METHOD, attributes(l).URI]), expected.map((u) => ['AES-128', u]), p.uri);
        // The init segment stays clear (it holds no media); it comes before the first key.
        assert.ok(p.text.indexOf('#EXT-X-MAP') < p.text.indexOf('#EXT-X-KEY'));
        for (const s of p.segments) {
          const bytes = await fs.readFile(s);
          assert.equal(bytes.length % 16, 0, `${s}: whole AES blocks`);
          for (const box of ['ftyp', 'styp', 'moof', 'mdat']) assert.ok(!bytes.includes(box), `${s} shows no ${box} box`);
        }
      }
      // The whole video decodes with the keys: every frame of the source.
      for (const p of lists.filter((l) => !l.uri.startsWith('audio.'))) {
        const { stdout } = await run(ffprobe, ['-v', 'error', '-allowed_extensions', 'ALL', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'json', path.join(folder, p.uri)]);
        const counted = (JSON.parse(stdout) as { streams: { nb_read_frames?: string }[] }).streams.map((x) => Number(x.nb_read_frames));
        assert.deepEqual(counted, [SOURCE_SEC * FPS], `${name}/${p.uri} frames: ${stdout}`);
      }
      for (const p of lists.filter((l) => l.uri.startsWith('audio.'))) {
        const hz = await toneHz(path.join(folder, p.uri), ['-allowed_extensions', 'ALL']);
        assert.ok(hz > 400, `${name}/${p.uri}: ${hz} Hz`);
      }
    }
  });

  test('the key is nowhere in the job, its history or the worker output', { timeout: 120_000 }, async () => {
    const history = await stack.client.workflow.getHandle(crypt.id).fetchHistory();
    const historyBytes = bytesIn(history);
    const state = JSON.stringify(await stack.client.workflow.getHandle(crypt.id).query('state').catch(() => crypt));
    const keyObjects = crypt.outputs.flatMap((o) => o.encryption?.keyObjects ?? []);
    assert.ok(keyObjects.length >= 3, `${keyObjects.length} keys`);
    assert.ok(historyBytes.includes(Buffer.from('package:rot')) && historyBytes.includes(Buffer.from('key-1.bin')), 'the history was read (it names the task and the key objects)');
    for (const file of keyObjects) {
      const key = await fs.readFile(objectPath(file));
      for (const text of [key.toString('hex'), key.toString('hex').toUpperCase(), key.toString('base64'), key.toString('base64url'), JSON.stringify([...key])]) {
        assert.ok(!JSON.stringify(crypt).includes(text), `job JSON holds ${file}`);
        assert.ok(!state.includes(text), `queried state holds ${file}`);
        assert.ok(!historyBytes.includes(Buffer.from(text)), `history holds ${file}`);
        assert.ok(!printed.includes(text), `worker output holds ${file}`);
      }
      assert.ok(!historyBytes.includes(key), `history holds the bytes of ${file}`);
    }
  });
});

/** Every byte array and string inside a history (payload data is JSON bytes), end to end. */
function bytesIn(value: unknown, out: Buffer[] = []): Buffer {
  if (value instanceof Uint8Array) out.push(Buffer.from(value));
  else if (typeof value === 'string') out.push(Buffer.from(value));
  else if (value && typeof value === 'object') for (const v of Object.values(value)) bytesIn(v, out);
  return Buffer.concat(out);
}

/** A page that plays `?src=` with hls.js and reports the audio tracks it found. */
const PAGE = `<!doctype html><meta charset="utf-8"><video id="v" muted playsinline></video><script src="/hls.js"></script><script src="/play.js"></script>`;
const PLAY = `
const video = document.getElementById('v');
window.result = { errors: [], fatal: null, tracks: [] };
const hls = new Hls({ manifestLoadingMaxRetry: 0, levelLoadingMaxRetry: 0, fragLoadingMaxRetry: 0 });
hls.on(Hls.Events.ERROR, (_e, d) => { window.result.errors.push(d.details); if (d.fatal) window.result.fatal = d.details; });
hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, (_e, d) => { window.result.tracks = d.audioTracks.map((t) => ({ lang: t.lang, name: t.name, default: t.default })); });
hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
hls.loadSource(new URLSearchParams(location.search).get('src'));
hls.attachMedia(video);
window.hls = hls;
`;

/** The same with shaka-player for an MPD: its audio languages and which is primary (Role main). */
const SHAKA_PAGE = `<!doctype html><meta charset="utf-8"><video id="v" muted playsinline></video><script src="/shaka.js"></script><script src="/shaka-play.js"></script>`;
const SHAKA_PLAY = `
const video = document.getElementById('v');
window.result = { errors: [], fatal: null, languages: [], primary: [] };
shaka.polyfill.installAll();
const player = new shaka.Player();
player.addEventListener('error', (e) => { window.result.fatal = 'shaka error ' + (e.detail && e.detail.code); });
(async () => {
  try {
    await player.attach(video);
    await player.load(new URLSearchParams(location.search).get('src'));
    window.result.languages = [...new Set(player.getVariantTracks().map((t) => t.language))].sort();
    window.result.primary = [...new Set(player.getVariantTracks().filter((t) => t.primary).map((t) => t.language))];
    await video.play();
  } catch (err) { window.result.fatal = 'shaka error ' + (err.code || err.message); }
})();
`;

describe('players', { skip: chromiumMissing }, () => {
  let browser: Browser;
  let server: http.Server;
  let origin: string;

  before(async () => {
    const hlsFile = path.join(path.dirname(require.resolve('hls.js/package.json')), 'dist/hls.min.js');
    const root = path.join(stack.dataDir, 'objects');
    const shakaFile = path.join(path.dirname(require.resolve('shaka-player/package.json')), 'dist/shaka-player.compiled.js');
    server = http.createServer(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/hls.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(await fs.readFile(hlsFile));
      if (url.pathname === '/play.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(PLAY);
      if (url.pathname === '/shaka.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(await fs.readFile(shakaFile));
      if (url.pathname === '/shaka-play.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(SHAKA_PLAY);
      if (url.pathname === '/shaka') return res.writeHead(200, { 'content-type': 'text/html' }).end(SHAKA_PAGE);
      if (url.pathname === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      // The job's objects, as a plain static server would serve them.
      const file = path.join(root, decodeURIComponent(url.pathname.slice('/o/'.length)));
      if (!url.pathname.startsWith('/o/') || !file.startsWith(root) || !existsSync(file)) return res.writeHead(404).end();
      res.writeHead(200).end(await fs.readFile(file));
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] });
  });
  after(async () => {
    await browser?.close();
    server?.close();
  });

  async function play(master: string, player = '') {
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`${origin}/${player}?${new URLSearchParams({ src: `${origin}/o/${master}` })}`);
    await page.waitForFunction(() => {
      const w = globalThis as any;
      return w.result?.fatal || w.document.getElementById('v').currentTime > 2;
    }, null, { timeout: 90_000 });
    const result = (await page.evaluate(() => {
      const w = globalThis as any;
      return { ...w.result, currentTime: w.document.getElementById('v').currentTime, audioTrack: w.hls?.audioTrack };
    })) as { fatal: string | null; errors: string[]; tracks: { lang: string; name: string; default: boolean }[]; currentTime: number; audioTrack: number; languages: string[]; primary: string[] };
    await page.close();
    return { ...result, requests };
  }

  test('hls.js plays the audio-group stream and lists both languages, the default one selected', { timeout: 180_000 }, async () => {
    const r = await play(`${multi.id}/hls/master.m3u8`);
    assert.equal(r.fatal, null, JSON.stringify(r.errors));
    assert.ok(r.currentTime > 2, `currentTime ${r.currentTime}`);
    assert.deepEqual(r.tracks.map((t) => [t.lang, t.name, t.default]), [['en', 'English', false], ['fr', 'French', true]]);
    assert.equal(r.audioTrack, 1, 'the French track (the default) plays');
    assert.ok(r.requests.some((u) => u.includes('/audio.1/')), 'the French segments were fetched');
  });

  test('hls.js plays the AES-128 stream, fetching the key', { timeout: 180_000 }, async () => {
    const r = await play(`${crypt.id}/enc/master.m3u8`);
    assert.equal(r.fatal, null, JSON.stringify(r.errors));
    assert.ok(r.currentTime > 2, `currentTime ${r.currentTime}`);
    assert.ok(r.requests.some((u) => u.endsWith('/enc/key.bin')), 'the key was fetched');
  });

  test('shaka-player plays the DASH output, lists both languages, the default one primary', { timeout: 180_000 }, async () => {
    const r = await play(`${multi.id}/dash/manifest.mpd`, 'shaka');
    assert.equal(r.fatal, null, JSON.stringify(r.errors));
    assert.ok(r.currentTime > 2, `currentTime ${r.currentTime}`);
    assert.deepEqual(r.languages, ['en', 'fr']);
    // shaka picks by the browser's language first (en-US here); Role main makes French its primary.
    assert.deepEqual(r.primary, ['fr'], 'the Role main set (the input\'s default) is primary');
  });
});

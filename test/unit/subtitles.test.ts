/**
 * The pure subtitle pieces: probe parsing of subtitle streams, planning (which tracks, which burn),
 * language codes, WebVTT cutting into HLS segments, and the master playlist / manifest additions.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProbe, type ProbeJson } from '../../media/probe-parse';
import { planJob, type PackageTask, type TranscodeTask } from '../../media/plan';
import { bcp47, iso639_2 } from '../../media/subtitles';
import { burnFilter, parseVtt, segmentCues, subtitleFileArgs, subtitleMuxArgs, subtitlePlaylist, vttDocument, withSubtitleGroup, withTextAdaptationSets } from '../../media/args/subtitles';
import { encodeArgs, encodeLayout } from '../../media/args/encode';
import { planChunks } from '../../media/chunks';
import type { JobState, MediaInfo } from '../../model/job-state';
import { jobForTenant } from '../../model/job-view';
import { presetOutput, testSpec } from '../helpers/spec';

const probe: ProbeJson = {
  format: { format_name: 'matroska,webm', duration: '12.0' },
  streams: [
    { codec_type: 'video', codec_name: 'h264', width: 320, height: 240, avg_frame_rate: '30/1' },
    { codec_type: 'audio', codec_name: 'aac', channels: 2, sample_rate: '48000' },
    { codec_type: 'subtitle', codec_name: 'subrip', tags: { language: 'eng' }, disposition: { default: 1, forced: 0 } },
    { codec_type: 'subtitle', codec_name: 'ass', tags: { language: 'ger', title: 'Deutsch' }, disposition: { default: 0, forced: 1 } },
    { codec_type: 'subtitle', codec_name: 'hdmv_pgs_subtitle', tags: { language: 'fre' } },
    { codec_type: 'subtitle', codec_name: 'mov_text', tags: { language: 'und' } },
  ],
};
const media: MediaInfo = parseProbe(probe, 1000, { maxDurationSec: 100, maxPixels: 1e9 });

test('probe: every subtitle stream with codec, language, title and flags; bitmap ones marked', () => {
  assert.deepEqual(media.subtitles, [
    { index: 0, codec: 'subrip', text: true, language: 'eng', title: null, default: true },
    { index: 1, codec: 'ass', text: true, language: 'ger', title: 'Deutsch', forced: true },
    { index: 2, codec: 'hdmv_pgs_subtitle', text: false, language: 'fre', title: null },
    { index: 3, codec: 'mov_text', text: true, language: null, title: null },
  ]);
  const none = parseProbe({ ...probe, streams: probe.streams!.slice(0, 2) }, 1000, { maxDurationSec: 100, maxPixels: 1e9 });
  assert.equal('subtitles' in none, false, 'no key at all without subtitle streams (recorded probe results stay equal)');
});

test('language codes: BCP 47 for HLS/DASH, ISO 639-2 for MP4', () => {
  assert.deepEqual(['eng', 'ger', 'deu', 'fre', 'pt-BR', 'und', 'xyz'].map(bcp47), ['en', 'de', 'de', 'fr', 'pt-BR', 'und', 'xyz']);
  assert.deepEqual(['en', 'de', 'pt-BR', 'eng', 'xyz', 'q'].map(iso639_2), ['eng', 'ger', 'por', 'eng', 'xyz', 'und']);
});

describe('planning', () => {
  const outputs = [
    presetOutput('file', 'mp4-h264-360p'),
    presetOutput('audio', 'm4a-aac-128k'),
    presetOutput('hls', 'hls-h264-ladder'),
  ];
  const spec = testSpec('in.mkv', outputs, { subtitles: [{ key: 'subs/fr.srt', language: 'fr', name: null, default: false, forced: false }] });
  const plan = planJob(spec, media);
  const file = plan.tasks.find((t) => t.id === 'transcode:file') as TranscodeTask;
  const audio = plan.tasks.find((t) => t.id === 'transcode:audio') as TranscodeTask;
  const pkg = plan.tasks.find((t) => t.kind === 'package') as PackageTask;

  test('text tracks of the input, then attached files; one default; m4a carries none; rungs carry none', () => {
    assert.deepEqual(file.subtitles!.map((s) => [s.id, s.source, s.language, s.name, s.default, s.forced]), [
      ['subs.0.en', { stream: 0 }, 'eng', 'eng', true, false],
      ['subs.1.de', { stream: 1 }, 'ger', 'Deutsch', false, true],
      ['subs.2.und', { stream: 3 }, 'und', 'Subtitles 4', false, false],
      ['subs.3.fr', { key: 'subs/fr.srt' }, 'fr', 'fr', false, false],
    ]);
    assert.equal(audio.subtitles, undefined);
    assert.deepEqual(pkg.subtitles, file.subtitles);
    assert.equal(pkg.clip, null);
    assert.ok(plan.tasks.every((t) => t.kind !== 'transcode' || !t.rung || t.subtitles === undefined));
  });

  test('a bitmap track is a note, not a refusal', () => {
    assert.deepEqual(plan.notes, ['subtitle track 2 (hdmv_pgs_subtitle, fre) is a picture format: skipped (only text subtitles become tracks)']);
    assert.deepEqual(plan.refused, []);
  });

  test('an input without subtitles and a job without attachments plan exactly as before', () => {
    const { subtitles: _, ...plain } = media;
    const before = planJob(testSpec('in.mp4', outputs), plain);
    assert.equal(before.notes, undefined);
    for (const t of before.tasks) assert.ok(!('subtitles' in t) && !('burn' in t) && !('clip' in t && t.kind === 'package'), t.id);
  });

  test('burnSubtitles: by track, by language, by key; a bitmap or missing track is refused with the reason', () => {
    const burn = (b: object) => planJob(testSpec('in.mkv', [{ ...presetOutput('b', 'mp4-h264-360p'), burnSubtitles: b }]), media);
    assert.deepEqual((burn({ track: 1 }).tasks.find((t) => t.kind === 'transcode') as TranscodeTask).burn, { source: { stream: 1 } });
    assert.deepEqual((burn({ language: 'de' }).tasks.find((t) => t.kind === 'transcode') as TranscodeTask).burn, { source: { stream: 1 } });
    assert.deepEqual((burn({ key: 'tenants/a/x.srt' }).tasks.find((t) => t.kind === 'transcode') as TranscodeTask).burn, { source: { key: 'tenants/a/x.srt' } });
    assert.match(burn({ track: 2 }).refused[0]!.error.message, /hdmv_pgs_subtitle, a picture format/);
    assert.match(burn({ track: 9 }).refused[0]!.error.message, /no subtitle track 9 \(it has 4 subtitle tracks\)/);
    assert.match(burn({ language: 'ja' }).refused[0]!.error.message, /no a subtitle track in language "ja"|in language "ja"/);
  });

  test('a range with subtitle tracks is encoded in one run, not in chunks', () => {
    const long = { ...media, durationSec: 600 };
    const tasks = planJob(testSpec('in.mkv', [presetOutput('file', 'mp4-h264-360p')]), long).tasks.filter((t): t is TranscodeTask => t.kind === 'transcode');
    assert.equal(planChunks(tasks, { minDurationSec: 90, chunkSec: 30 }), null);
    const { subtitles: _, ...plain } = long;
    const without = planJob(testSpec('in.mp4', [presetOutput('file', 'mp4-h264-360p')]), plain).tasks.filter((t): t is TranscodeTask => t.kind === 'transcode');
    assert.ok((planChunks(without, { minDurationSec: 90, chunkSec: 30 })?.length ?? 0) > 1);
  });
});

describe('ffmpeg arguments', () => {
  test('a track to WebVTT: the input through the allow-list, an attached file through the subtitle demuxers only', () => {
    const own = subtitleFileArgs({ file: '/c/in.input', stream: 1, attached: false }, '/s/a.vtt', { startSec: 2, durationSec: 5 });
    assert.deepEqual(own.slice(own.indexOf('-protocol_whitelist')), [
      '-protocol_whitelist', 'file', '-format_whitelist', 'mov,matroska,avi,mpegts,mpeg,flv,mxf,asf,ogg,wav,mp3,aac,flac,png_pipe,jpeg_pipe,webp_pipe',
      '-ss', '2.000', '-i', '/c/in.input', '-t', '5.000', '-map', '0:s:1', '-c:s', 'webvtt', '-map_metadata', '-1', '-f', 'webvtt', '/s/a.vtt',
    ]);
    const attached = subtitleFileArgs({ file: '/c/x.input', stream: 0, attached: true }, '/s/b.ass', null, 'ass');
    assert.deepEqual(attached.slice(attached.indexOf('-format_whitelist'), attached.indexOf('-format_whitelist') + 2), ['-format_whitelist', 'srt,webvtt,ass']);
    assert.deepEqual(attached.slice(-9), ['-map', '0:s:0', '-c:s', 'ass', '-map_metadata', '-1', '-f', 'ass', '/s/b.ass']);
  });

  test('mux: picture and sound copied, tracks as mov_text with language, title, handler name and disposition', () => {
    const plan = (over: object) => ({ source: { stream: 0 }, language: 'en', name: 'English', default: true, forced: false, id: 'subs.0.en', ...over });
    const args = subtitleMuxArgs(
      { container: 'mp4', clip: null, video: null },
      '/s/out.mp4',
      [
        { plan: plan({}), source: { file: '/c/in.input', stream: 0, attached: false } },
        { plan: plan({ language: 'de', name: 'Deutsch', default: false, forced: true }), source: { file: '/c/in.input', stream: 1, attached: false } },
      ],
      '/s/subbed.mp4',
      { maxOutputBytes: 1000 },
    );
    const tail = args.slice(args.indexOf('-map'));
    assert.deepEqual(tail, [
      '-map', '0:v?', '-map', '0:a?', '-map', '1:s:0', '-map', '1:s:1',
      '-c', 'copy', '-c:s', 'mov_text', '-map_metadata', '-1', '-map_chapters', '-1',
      '-metadata:s:s:0', 'language=eng', '-metadata:s:s:0', 'title=English', '-metadata:s:s:0', 'handler_name=English', '-disposition:s:0', 'default',
      '-metadata:s:s:1', 'language=ger', '-metadata:s:s:1', 'title=Deutsch', '-metadata:s:s:1', 'handler_name=Deutsch', '-disposition:s:1', 'forced',
      '-fs', '1000', '-movflags', '+faststart', '-f', 'mp4', '/s/subbed.mp4',
    ]);
    assert.equal(args.filter((a) => a === '/c/in.input').length, 1, 'the input is opened once for all its tracks');
  });

  test('burn: the prepared file drawn last in the rendition chain', () => {
    const spec = testSpec('in.mkv', [{ ...presetOutput('b', 'mp4-h264-360p'), burnSubtitles: { track: 0 } }]);
    const task = planJob(spec, media).tasks.find((t) => t.kind === 'transcode') as TranscodeTask;
    const layout = encodeLayout([task], '/s');
    const args = encodeArgs(layout, '/c/in.input', { threads: 0, maxOutputBytes: 1 }, [[]], {}, ['/s/burn-0.ass']);
    const graph = args[args.indexOf('-filter_complex') + 1]!;
    assert.match(graph, /\[r0base\]subtitles=filename=\/s\/burn-0\.ass\[r0subs\]$/);
    assert.equal(args[args.indexOf('-map') + 1], '[r0subs]');
    // Escaped for the option parser, then for the graph parser (checked against ffmpeg by hand and in the e2e test).
    assert.equal(burnFilter("/d/we ird:dir,x[1];'q/b.ass"), "subtitles=filename=/d/we ird\\\\:dir\\,x\\[1\\]\\;\\\\\\'q/b.ass");
  });
});

describe('WebVTT and playlists', () => {
  const vtt = 'WEBVTT\n\n00:01.000 --> 00:02.500\nHallo Welt\n\n00:07.000 --> 00:09.000 line:90%\nZweite\nZeile\n\n01:00:00.000 --> 01:00:01.000\nLate\n';
  const cues = parseVtt(vtt);

  test('parse: times (with and without hours), settings, multi-line text', () => {
    assert.deepEqual(cues, [
      { startSec: 1, endSec: 2.5, settings: '', text: 'Hallo Welt' },
      { startSec: 7, endSec: 9, settings: 'line:90%', text: 'Zweite\nZeile' },
      { startSec: 3600, endSec: 3601, settings: '', text: 'Late' },
    ]);
  });

  test('segments: cut at the video segment durations, a cue across a boundary in both, late cues in the last', () => {
    const segs = segmentCues(cues, [4, 4, 4.033333]);
    assert.deepEqual(segs.map((s) => [s.durationSec, s.cues.map((c) => c.text)]), [[4, ['Hallo Welt']], [4, ['Zweite\nZeile']], [4.033333, ['Zweite\nZeile', 'Late']]]);
    assert.equal(
      vttDocument(segs[0]!.cues, { hls: true }),
      'WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n00:00:01.000 --> 00:00:02.500\nHallo Welt\n',
    );
    assert.equal(
      subtitlePlaylist(segs),
      '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:5\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n' +
        '#EXTINF:4.000000,\nseg_00000.vtt\n#EXTINF:4.000000,\nseg_00001.vtt\n#EXTINF:4.033333,\nseg_00002.vtt\n#EXT-X-ENDLIST\n',
    );
  });

  const track = (over: object) => ({ source: { stream: 0 }, language: 'eng', name: 'English', default: true, forced: false, id: 'subs.0.en', ...over });

  test('master playlist: EXT-X-MEDIA lines before the variants, SUBTITLES on every variant, names unique', () => {
    const master = '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\n360p/index.m3u8\n';
    const out = withSubtitleGroup(master, [
      { plan: track({}), uri: 'subs.0.en/index.m3u8' },
      { plan: track({ default: false, forced: true, id: 'subs.1.en' }), uri: 'subs.1.en/index.m3u8' },
    ]);
    assert.equal(
      out,
      '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n' +
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,FORCED=NO,URI="subs.0.en/index.m3u8"\n' +
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English (2)",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,FORCED=YES,URI="subs.1.en/index.m3u8"\n' +
        '#EXT-X-STREAM-INF:BANDWIDTH=1,SUBTITLES="subs"\n720p/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2,SUBTITLES="subs"\n360p/index.m3u8\n',
    );
    assert.equal(withSubtitleGroup(master, []), master);
  });

  test('manifest: a text/vtt adaptation set per track at the end of the period, ids after the existing ones', () => {
    const mpd = '<MPD>\n\t<Period id="0">\n\t\t<AdaptationSet id="0" contentType="video"></AdaptationSet>\n\t\t<AdaptationSet id="1" contentType="audio"></AdaptationSet>\n\t</Period>\n</MPD>\n';
    const out = withTextAdaptationSets(mpd, [{ plan: track({ name: 'English & co' }), uri: 'subs.0.en.vtt' }]);
    assert.match(out, /<AdaptationSet id="2" contentType="text" mimeType="text\/vtt" lang="en">\n\t\t\t<Role schemeIdUri="urn:mpeg:dash:role:2011" value="subtitle"\/>\n\t\t\t<Label>English &amp; co<\/Label>\n\t\t\t<Representation id="subs.0.en" bandwidth="256">\n\t\t\t\t<BaseURL>subs.0.en.vtt<\/BaseURL>/);
    assert.ok(out.indexOf('contentType="text"') < out.indexOf('</Period>'));
    assert.equal(withTextAdaptationSets(mpd, []), mpd);
  });
});

test("the job JSON shows a tenant's subtitle keys relative to its part of the store", () => {
  const state = {
    input: { key: 'tenants/acme/in.mkv', media: null },
    outputs: [{ name: 'hls', key: 'tenants/acme/job_1/hls/master.m3u8', subtitles: [{ language: 'en', name: 'English', default: true, forced: false, key: 'tenants/acme/job_1/hls/subs.0.en/index.m3u8' }] }],
    snapshots: [],
  } as unknown as JobState;
  assert.equal(jobForTenant(state, 'acme').outputs[0]!.subtitles![0]!.key, 'job_1/hls/subs.0.en/index.m3u8');
});

/**
 * Golden output of the packaging builders: HLS per rung and DASH argv (whole command lines), the
 * RFC 6381 codec strings and the HLS master playlist (whole text).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { codecsOf, dashArgs, fixMpd, hlsRungArgs, masterPlaylist, parseMpd, type RungFacts } from '../../media/args/package';

const COMMON = ['-hide_banner', '-nostdin', '-y', '-v', 'error', '-nostats', '-progress', 'pipe:1'];
const ALLOWED = 'mov,matroska,avi,mpegts,mpeg,flv,mxf,asf,ogg,wav,mp3,aac,flac,png_pipe,jpeg_pipe,webp_pipe';

describe('hlsRungArgs', () => {
  test('one rung, 6 s segments: copy into fMP4 segments, a VOD playlist, init.mp4', () => {
    assert.deepEqual(hlsRungArgs('/cache/720p.input', '/work/pkg/720p', 6), [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/720p.input',
      '-map', '0',
      '-c', 'copy', '-avoid_negative_ts', 'disabled', '-f', 'hls',
      '-hls_time', '6', '-hls_playlist_type', 'vod',
      '-hls_segment_type', 'fmp4', '-hls_fmp4_init_filename', 'init.mp4',
      '-hls_segment_filename', '/work/pkg/720p/seg_%05d.m4s', '/work/pkg/720p/index.m3u8',
    ]);
  });

  test('4 s segments', () => {
    assert.deepEqual(hlsRungArgs('/cache/1080p.input', '/work/pkg/1080p', 4), [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/1080p.input',
      '-map', '0',
      '-c', 'copy', '-avoid_negative_ts', 'disabled', '-f', 'hls',
      '-hls_time', '4', '-hls_playlist_type', 'vod',
      '-hls_segment_type', 'fmp4', '-hls_fmp4_init_filename', 'init.mp4',
      '-hls_segment_filename', '/work/pkg/1080p/seg_%05d.m4s', '/work/pkg/1080p/index.m3u8',
    ]);
  });
});

describe('dashArgs', () => {
  test('three rungs of one aspect ratio with audio: a video set and an audio set, no aspect override', () => {
    const sizes = [{ width: 1920, height: 1080 }, { width: 1280, height: 720 }, { width: 640, height: 360 }];
    assert.deepEqual(dashArgs(['/cache/1080p.input', '/cache/720p.input', '/cache/360p.input'], true, '/work/pkg', 6, sizes), [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/1080p.input',
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/720p.input',
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/360p.input',
      '-map', '0:v:0', '-map', '1:v:0', '-map', '2:v:0', '-map', '0:a:0',
      '-c', 'copy', '-f', 'dash',
      '-seg_duration', '6', '-use_template', '1', '-use_timeline', '1',
      '-adaptation_sets', 'id=0,streams=v id=1,streams=a',
      '-init_seg_name', 'init-$RepresentationID$.m4s',
      '-media_seg_name', 'seg-$RepresentationID$-$Number%05d$.m4s', '/work/pkg/manifest.mpd',
    ]);
  });

  test('rungs whose even sizes differ slightly in ratio (854x480 beside 1280x720), no audio: labelled with the top ratio', () => {
    assert.deepEqual(dashArgs(['/cache/720p.input', '/cache/480p.input'], false, '/work/pkg', 4, [{ width: 1280, height: 720 }, { width: 854, height: 480 }]), [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/720p.input',
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/480p.input',
      '-map', '0:v:0', '-map', '1:v:0',
      '-c', 'copy',
      '-aspect:v', '1280:720', '-f', 'dash',
      '-seg_duration', '4', '-use_template', '1', '-use_timeline', '1',
      '-adaptation_sets', 'id=0,streams=v',
      '-init_seg_name', 'init-$RepresentationID$.m4s',
      '-media_seg_name', 'seg-$RepresentationID$-$Number%05d$.m4s', '/work/pkg/manifest.mpd',
    ]);
  });

  test('sizes unknown: no aspect override', () => {
    assert.deepEqual(dashArgs(['/cache/720p.input'], true, '/work/pkg', 6), [
      ...COMMON,
      '-protocol_whitelist', 'file', '-format_whitelist', ALLOWED, '-i', '/cache/720p.input',
      '-map', '0:v:0', '-map', '0:a:0',
      '-c', 'copy', '-f', 'dash',
      '-seg_duration', '6', '-use_template', '1', '-use_timeline', '1',
      '-adaptation_sets', 'id=0,streams=v id=1,streams=a',
      '-init_seg_name', 'init-$RepresentationID$.m4s',
      '-media_seg_name', 'seg-$RepresentationID$-$Number%05d$.m4s', '/work/pkg/manifest.mpd',
    ]);
  });
});

function facts(video: Partial<RungFacts['video']>, audio: RungFacts['audio'] = { codec: 'aac', profile: 'LC', channels: 2, sampleRate: 48000 }): RungFacts {
  return { video: { codec: 'h264', profile: 'High', level: 31, width: 1280, height: 720, fps: 30, ...video }, audio };
}

describe('codecsOf', () => {
  const cases: { name: string; facts: RungFacts; want: string }[] = [
    { name: 'H.264 High 3.1 + AAC-LC', facts: facts({}), want: 'avc1.64001f,mp4a.40.2' },
    { name: 'H.264 Main 3.0 + HE-AAC', facts: facts({ profile: 'Main', level: 30 }, { codec: 'aac', profile: 'HE-AAC', channels: 2, sampleRate: 48000 }), want: 'avc1.4d001e,mp4a.40.5' },
    { name: 'H.264 Constrained Baseline 3.0, no audio', facts: facts({ profile: 'Constrained Baseline', level: 30 }, null), want: 'avc1.42e01e' },
    { name: 'H.264 Baseline 2.1', facts: facts({ profile: 'Baseline', level: 21 }), want: 'avc1.420015,mp4a.40.2' },
    { name: 'H.264 High 10 5.1', facts: facts({ profile: 'High 10', level: 51 }), want: 'avc1.6e0033,mp4a.40.2' },
    { name: 'H.264 profile we do not know: High', facts: facts({ profile: 'High 4:4:4 Predictive', level: 40 }), want: 'avc1.640028,mp4a.40.2' },
    { name: 'H.264 level out of range: clamped to one byte', facts: facts({ level: 300 }, null), want: 'avc1.6400ff' },
    { name: 'HEVC Main, level 3.1 (ffprobe says 93)', facts: facts({ codec: 'hevc', profile: 'Main', level: 93 }), want: 'hvc1.1.6.L93.B0,mp4a.40.2' },
    { name: 'HEVC Main 10, level 4 (120)', facts: facts({ codec: 'hevc', profile: 'Main 10', level: 120 }), want: 'hvc1.2.4.L120.B0,mp4a.40.2' },
    { name: 'VP9 + Opus', facts: facts({ codec: 'vp9', profile: 'Profile 0', level: -99 }, { codec: 'opus', profile: '', channels: 2, sampleRate: 48000 }), want: 'vp09.00.31.08,opus' },
    { name: 'AV1 + Opus', facts: facts({ codec: 'av1', profile: 'Main', level: 8 }, { codec: 'opus', profile: '', channels: 2, sampleRate: 48000 }), want: 'av01.0.08M.08,opus' },
    { name: 'H.264 + MP3', facts: facts({}, { codec: 'mp3', profile: '', channels: 2, sampleRate: 44100 }), want: 'avc1.64001f,mp4a.40.34' },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(codecsOf(c.facts), c.want));
  }
});

describe('masterPlaylist', () => {
  test('one EXT-X-STREAM-INF per rung in the given order, every attribute players choose by', () => {
    const text = masterPlaylist([
      { uri: '1080p/index.m3u8', facts: facts({ width: 1920, height: 1080, level: 40 }), bandwidth: { peak: 5_612_345, average: 4_800_001 } },
      { uri: '720p/index.m3u8', facts: facts({ fps: 29.97 }), bandwidth: { peak: 2_900_000, average: 2_500_000 } },
      { uri: '360p/index.m3u8', facts: facts({ width: 640, height: 360, profile: 'Main', level: 30, fps: 24000 / 1001 }, null), bandwidth: { peak: 900_000, average: 700_000 } },
    ]);
    assert.equal(
      text,
      [
        '#EXTM3U',
        '#EXT-X-VERSION:7',
        '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-STREAM-INF:BANDWIDTH=5612345,AVERAGE-BANDWIDTH=4800001,RESOLUTION=1920x1080,FRAME-RATE=30.000,CODECS="avc1.640028,mp4a.40.2"',
        '1080p/index.m3u8',
        '#EXT-X-STREAM-INF:BANDWIDTH=2900000,AVERAGE-BANDWIDTH=2500000,RESOLUTION=1280x720,FRAME-RATE=29.970,CODECS="avc1.64001f,mp4a.40.2"',
        '720p/index.m3u8',
        '#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=700000,RESOLUTION=640x360,FRAME-RATE=23.976,CODECS="avc1.4d001e"',
        '360p/index.m3u8',
        '',
      ].join('\n'),
    );
  });

  test('no rungs: the header alone', () => {
    assert.equal(masterPlaylist([]), '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n');
  });
});

/** An MPD as ffmpeg 5.1's dash muxer writes it for one 30000/1001 rung and AAC audio (13.013 s). */
const FFMPEG_MPD = `<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"
	profiles="urn:mpeg:dash:profile:isoff-live:2011"
	type="static"
	mediaPresentationDuration="PT13.0S"
	maxSegmentDuration="PT4.0S"
	minBufferTime="PT8.0S">
	<Period id="0" start="PT0.0S">
		<AdaptationSet id="0" contentType="video" startWithSAP="1" segmentAlignment="true" bitstreamSwitching="true" frameRate="30000/1001" maxWidth="640" maxHeight="360" par="16:9" lang="und">
			<Representation id="0" mimeType="video/mp4" codecs="avc1.64001e" bandwidth="800751" width="640" height="360" sar="1:1">
				<SegmentTemplate timescale="30000" initialization="init-$RepresentationID$.m4s" media="seg-$RepresentationID$-$Number%05d$.m4s" startNumber="1">
					<SegmentTimeline>
						<S t="0" d="120120" r="2" />
						<S d="30030" />
					</SegmentTimeline>
				</SegmentTemplate>
			</Representation>
		</AdaptationSet>
		<AdaptationSet id="1" contentType="audio" startWithSAP="1" segmentAlignment="true" bitstreamSwitching="true" lang="und">
			<Representation id="1" mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="127993" audioSamplingRate="48000">
				<SegmentTemplate timescale="48000" initialization="init-$RepresentationID$.m4s" media="seg-$RepresentationID$-$Number%05d$.m4s" startNumber="1">
					<SegmentTimeline>
						<S t="0" d="189440" />
						<S d="192512" />
						<S d="191488" />
						<S d="51184" />
					</SegmentTimeline>
				</SegmentTemplate>
			</Representation>
		</AdaptationSet>
	</Period>
</MPD>
`;

describe('DASH manifest', () => {
  test('parseMpd: each representation\'s init, segment files and durations from its timeline', () => {
    const reps = parseMpd(FFMPEG_MPD);
    assert.deepEqual(reps.map((r) => [r.id, r.init, r.segments.length, r.endSec]), [['0', 'init-0.m4s', 4, 13.013], ['1', 'init-1.m4s', 4, 13.013]]);
    assert.deepEqual(reps[0]!.segments.map((s) => [s.uri, s.durationSec]), [['seg-0-00001.m4s', 4.004], ['seg-0-00002.m4s', 4.004], ['seg-0-00003.m4s', 4.004], ['seg-0-00004.m4s', 1.001]]);
    assert.deepEqual(reps[1]!.segments.map((s) => s.uri), ['seg-1-00001.m4s', 'seg-1-00002.m4s', 'seg-1-00003.m4s', 'seg-1-00004.m4s']);
  });

  test('fixMpd: durations from the segments (rounded up, never truncated), no bitstreamSwitching claim, measured bandwidths', () => {
    const fixed = fixMpd(FFMPEG_MPD, parseMpd(FFMPEG_MPD), new Map([['0', 912_345], ['1', 131_072]]));
    assert.match(fixed, /mediaPresentationDuration="PT13\.013S"/);
    // The longest segment is audio: 192512 / 48000 = 4.010666… s.
    assert.match(fixed, /maxSegmentDuration="PT4\.011S"/);
    assert.doesNotMatch(fixed, /bitstreamSwitching/);
    assert.match(fixed, /<Representation id="0" mimeType="video\/mp4" codecs="avc1.64001e" bandwidth="912345" width="640"/);
    assert.match(fixed, /<Representation id="1" mimeType="audio\/mp4" codecs="mp4a.40.2" bandwidth="131072" audioSamplingRate/);
    assert.match(fixed, /frameRate="30000\/1001"/);
    // Nothing else moves.
    assert.equal(fixed.split('\n').length, FFMPEG_MPD.split('\n').length);
    assert.match(fixed, /minBufferTime="PT8\.0S"/);
  });
});

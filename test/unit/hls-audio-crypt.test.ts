/**
 * The pure parts of HLS audio groups and AES-128: the grouped master playlist (whole text), audio
 * track names, the encrypted media playlist, the segment IV, language tags from the probe, which
 * tracks a presentation carries, and the template rules of `hls`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { audioTrackNames, dashTracksArgs, mainAudioRole, encryptPlaylist, groupedMasterPlaylist, mediaSequenceOf, sequenceIv, type AudioEntry, type MasterEntry } from '../../media/args/package';
import { languageOf } from '../../media/probe-parse';
import { packageAudio, type AudioPlan } from '../../media/plan';
import type { JobState, MediaInfo, OutputState } from '../../model/job-state';
import { jobForTenant } from '../../model/job-view';
import { keyForTenant } from '../../model/keys';
import { transcodeTemplateSchema } from '../../model/templates';

const video = (width: number, height: number, peak: number, average: number): MasterEntry => ({
  uri: `${height}p/index.m3u8`,
  facts: { video: { codec: 'h264', profile: 'High', level: 31, width, height, fps: 30 }, audio: { codec: 'aac', profile: 'LC', channels: 2, sampleRate: 48000 } },
  bandwidth: { peak, average },
});
const audio = (k: number, name: string, language: string | null, isDefault: boolean, peak: number): AudioEntry => ({
  uri: `audio.${k}/index.m3u8`, name, language, default: isDefault, channels: 2, codecs: 'mp4a.40.2', bandwidth: { peak, average: peak - 1000 },
});

describe('groupedMasterPlaylist', () => {
  test('EXT-X-MEDIA per track, video variants naming the group with video + largest audio bandwidth, an audio-only variant last', () => {
    const text = groupedMasterPlaylist([video(1280, 720, 2_000_000, 1_800_000), video(640, 360, 600_000, 500_000)], [audio(0, 'English', 'en', false, 130_000), audio(1, 'French', 'fr', true, 140_000)], true);
    assert.equal(
      text,
      [
        '#EXTM3U',
        '#EXT-X-VERSION:7',
        '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="audio.0/index.m3u8"',
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="French",LANGUAGE="fr",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio.1/index.m3u8"',
        '#EXT-X-STREAM-INF:BANDWIDTH=2140000,AVERAGE-BANDWIDTH=1939000,RESOLUTION=1280x720,FRAME-RATE=30.000,CODECS="avc1.64001f,mp4a.40.2",AUDIO="audio"',
        '720p/index.m3u8',
        '#EXT-X-STREAM-INF:BANDWIDTH=740000,AVERAGE-BANDWIDTH=639000,RESOLUTION=640x360,FRAME-RATE=30.000,CODECS="avc1.64001f,mp4a.40.2",AUDIO="audio"',
        '360p/index.m3u8',
        '#EXT-X-STREAM-INF:BANDWIDTH=140000,AVERAGE-BANDWIDTH=139000,CODECS="mp4a.40.2",AUDIO="audio"',
        'audio.1/index.m3u8',
        '',
      ].join('\n'),
    );
  });

  test('no audio: the plain master playlist; an untagged track has no LANGUAGE and is not autoselected unless default', () => {
    assert.doesNotMatch(groupedMasterPlaylist([video(640, 360, 1, 1)], [], true), /EXT-X-MEDIA|AUDIO=/);
    const text = groupedMasterPlaylist([video(640, 360, 1, 1)], [audio(0, 'Audio 1', null, true, 10), audio(1, 'Audio 2', null, false, 10)], false);
    assert.match(text, /NAME="Audio 1",DEFAULT=YES,AUTOSELECT=YES,/);
    assert.match(text, /NAME="Audio 2",DEFAULT=NO,AUTOSELECT=NO,/);
    assert.doesNotMatch(text, /CODECS="mp4a.40.2",AUDIO/);
  });
});

test('audioTrackNames: English names of the languages, numbered when untagged, unique within the group', () => {
  assert.deepEqual(audioTrackNames(['en', 'fr', null, 'en', 'de']), ['English', 'French', 'Audio 3', 'English 2', 'German']);
});

test('languageOf: ISO 639-2 tags in files become BCP 47, und and garbage are no language', () => {
  assert.deepEqual(['eng', 'fre', 'ger', 'spa', 'pt-BR', 'und', '', 'x"y', 'e n'].map((t) => languageOf(t).language ?? null), ['en', 'fr', 'de', 'es', 'pt-BR', null, null, null, null]);
});

describe('encryptPlaylist', () => {
  const playlist = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:VOD', '#EXT-X-MAP:URI="init.mp4"',
    ...[1, 2, 3].flatMap((n) => ['#EXTINF:2.000000,', `seg_0000${n}.m4s`]), '#EXT-X-ENDLIST', ''].join('\n');

  test('one key: a single EXT-X-KEY after the map, before the first segment, without IV', () => {
    const text = encryptPlaylist(playlist, () => '../key.bin', null);
    assert.equal(text.match(/#EXT-X-KEY/g)?.length, 1);
    assert.match(text, /#EXT-X-MAP:URI="init.mp4"\n#EXT-X-KEY:METHOD=AES-128,URI="..\/key.bin"\n#EXTINF:2.000000,\nseg_00001.m4s/);
  });

  test('rotation every 2 segments: key 0 for segments 1-2, key 1 for segment 3', () => {
    const text = encryptPlaylist(playlist, (k) => `https://keys.example.com/k${k}`, 2);
    assert.deepEqual([...text.matchAll(/URI="(https[^"]+)"\n#EXTINF:[\d.]+,\n(\S+)/g)].map((m) => [m[1], m[2]]), [['https://keys.example.com/k0', 'seg_00001.m4s'], ['https://keys.example.com/k1', 'seg_00003.m4s']]);
  });

  test('the IV is the media sequence number, big-endian, as players assume without an IV attribute', () => {
    assert.equal(mediaSequenceOf(playlist), 0);
    assert.equal(sequenceIv(258).toString('hex'), '00000000000000000000000000000102');
    const key = randomBytes(16);
    const plain = Buffer.from('a segment of media');
    const cipher = createCipheriv('aes-128-cbc', key, sequenceIv(5));
    const sealed = Buffer.concat([cipher.update(plain), cipher.final()]);
    const decipher = createDecipheriv('aes-128-cbc', key, Buffer.from('00000000000000000000000000000005', 'hex'));
    assert.deepEqual(Buffer.concat([decipher.update(sealed), decipher.final()]), plain);
  });
});

test('dashTracksArgs: extra audio inputs after the rungs, one adaptation set per track, languages as stream metadata', () => {
  const args = dashTracksArgs(['/c/a.mp4', '/c/b.mp4'], [{ file: null, language: 'en' }, { file: '/s/fr.mp4', language: 'fr' }, { file: '/s/x.mp4', language: null }], '/o', 2);
  const inputs = args.flatMap((a, i) => (a === '-i' ? [args[i + 1]] : []));
  assert.deepEqual(inputs, ['/c/a.mp4', '/c/b.mp4', '/s/fr.mp4', '/s/x.mp4']);
  const maps = args.flatMap((a, i) => (a === '-map' ? [args[i + 1]] : []));
  assert.deepEqual(maps, ['0:v:0', '1:v:0', '0:a:0', '2:a:0', '3:a:0']);
  assert.equal(args[args.indexOf('-adaptation_sets') + 1], 'id=0,streams=v id=1,streams=2 id=2,streams=3 id=3,streams=4');
  assert.deepEqual(args.filter((a) => a.startsWith('-metadata') || a.startsWith('language=')), ['-metadata:s:a:0', 'language=en', '-metadata:s:a:1', 'language=fr']);
});

describe('packageAudio', () => {
  const media = (tracks: { default?: boolean; language?: string }[]): MediaInfo => ({
    durationSec: 10, container: 'mov', sizeBytes: 1, video: null, audio: tracks.map((t) => ({ codec: 'aac', channels: 2, sampleRate: 48000, ...t })),
  });
  const plan = (streamIndex: number): AudioPlan => ({ codec: 'aac', streamIndex, bitrateKbps: 128, sampleRate: 48000, channels: 2, loudnorm: false });

  test('every track of the input, languages and the default from it', () => {
    assert.deepEqual(packageAudio(media([{ language: 'en' }, { language: 'fr', default: true }]), plan(1), null, false).tracks, [
      { streamIndex: 0, language: 'en', default: false },
      { streamIndex: 1, language: 'fr', default: true },
    ]);
  });
  test('none marked: the rungs\' track is the default; a named track goes alone', () => {
    assert.deepEqual(packageAudio(media([{}, {}]), plan(0), null, false).tracks.map((t) => t.default), [true, false]);
    assert.deepEqual(packageAudio(media([{ language: 'en', default: true }, { language: 'fr' }]), plan(1), null, true).tracks, [{ streamIndex: 1, language: 'fr', default: true }]);
  });
});

describe('template rules of hls', () => {
  const base = { kind: 'transcode', container: 'hls', video: { codec: 'h264' }, audio: { codec: 'aac' }, ladder: { rungs: [{ name: '360p', height: 360, bitrateKbps: 600 }] } };
  const issues = (t: object) => {
    const r = transcodeTemplateSchema.safeParse(t);
    return r.success ? [] : r.error.issues.map((i) => [i.path.join('.'), i.message]);
  };
  test('valid: audio-only variant, encryption with defaults, a key URI with {key} and rotation', () => {
    assert.deepEqual(issues({ ...base, hls: { audioOnlyVariant: true, encryption: { method: 'aes-128' } } }), []);
    assert.deepEqual(issues({ ...base, hls: { encryption: { method: 'aes-128', keyUri: 'https://keys.example.com/k?o={key}', rotateEverySegments: 5 } } }), []);
  });
  test('refused, naming the field: rotation behind one fixed URI, another scheme, another method, hls settings on DASH', () => {
    assert.deepEqual(issues({ ...base, hls: { encryption: { method: 'aes-128', keyUri: 'https://keys.example.com/k', rotateEverySegments: 5 } } })[0]?.[0], 'hls.encryption.keyUri');
    assert.deepEqual(issues({ ...base, hls: { encryption: { method: 'aes-128', keyUri: 'javascript:alert(1)' } } })[0]?.[0], 'hls.encryption.keyUri');
    assert.deepEqual(issues({ ...base, hls: { encryption: { method: 'sample-aes' } } })[0]?.[0], 'hls.encryption.method');
    assert.deepEqual(issues({ ...base, container: 'dash', hls: { audioOnlyVariant: true } })[0]?.[0], 'hls');
  });
});

test('a tenant sees its audio track and key objects without the tenant prefix; {key} names them so', () => {
  assert.equal(keyForTenant('tenants/acme/job_1/s/key-0.bin'), 'job_1/s/key-0.bin');
  assert.equal(keyForTenant('job_1/s/key.bin'), 'job_1/s/key.bin');
  const output: OutputState = {
    name: 's', key: 'tenants/acme/job_1/s/master.m3u8', sizeBytes: 1, durationSec: 1, video: null, audio: null,
    audioTracks: [{ name: 'English', key: 'tenants/acme/job_1/s/audio.0/index.m3u8', language: 'en', default: true, codecs: 'mp4a.40.2', channels: 2, bandwidth: 1 }],
    encryption: { method: 'AES-128', keyObjects: ['tenants/acme/job_1/s/key.bin'] },
  };
  const seen = jobForTenant({ input: { key: 'tenants/acme/in.mp4' }, outputs: [output], snapshots: [] } as unknown as JobState, 'acme').outputs[0]!;
  assert.equal(seen.audioTracks?.[0]?.key, 'job_1/s/audio.0/index.m3u8');
  assert.deepEqual(seen.encryption?.keyObjects, ['job_1/s/key.bin']);
});

test('mainAudioRole: the Role main goes into the named audio set only', () => {
  const mpd = '<AdaptationSet id="0" contentType="video" lang="und">\n</AdaptationSet>\n<AdaptationSet id="1" contentType="audio" lang="en">\n</AdaptationSet>\n<AdaptationSet id="2" contentType="audio" lang="fr">\n</AdaptationSet>';
  const out = mainAudioRole(mpd, '2');
  assert.equal(out.match(/<Role /g)?.length, 1);
  assert.match(out, /lang="fr">\n\t\t\t<Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"\/>/);
});

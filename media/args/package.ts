/**
 * Packaging: the rungs of a ladder (fragmented MP4 files with aligned keyframes) cut into HLS or
 * DASH segments without re-encoding, and the HLS master playlist. Pure: arguments and text only.
 */
import type { AudioPlan, PackageAudio } from '../plan';
import { commonArgs, inputArgs } from './input';
import { audioArgs } from './transcode';

/**
 * One rung → its HLS media playlist (`index.m3u8`), `init.mp4` and `seg_NNNNN.m4s` in `dir`.
 *
 * @example hlsRungArgs('/cache/720p.input', '/tmp/pkg/720p', 6)
 */
export function hlsRungArgs(rung: string, dir: string, segmentSec: number, map: '0' | '0:v:0' | '0:a:0' = '0'): string[] {
  return [
    ...commonArgs(),
    ...inputArgs(rung),
    // '0:v:0' for a video variant of an audio group, '0:a:0' for an audio rendition.
    '-map', map, '-c', 'copy',
    // Timestamps as they are (video from 0 with its reorder delay in negative decode times, the
    // audio priming before 0): the segment muxer writes them as edit lists. The default shifts
    // every stream by the earliest decode time, so the video would start 2 frames late.
    '-avoid_negative_ts', 'disabled',
    '-f', 'hls',
    '-hls_time', String(segmentSec),
    '-hls_playlist_type', 'vod',
    '-hls_segment_type', 'fmp4',
    '-hls_fmp4_init_filename', 'init.mp4',
    '-hls_segment_filename', `${dir}/seg_%05d.m4s`,
    `${dir}/index.m3u8`,
  ];
}

/**
 * Every rung → one DASH presentation in `dir`: `manifest.mpd`, one video adaptation set with a
 * representation per rung, and the first rung's audio as its own adaptation set.
 *
 * @example dashArgs(['/cache/1080p.input', '/cache/720p.input'], true, '/tmp/pkg', 6, [{ width: 1920, height: 1080 }, { width: 1280, height: 720 }])
 */
export function dashArgs(
  rungs: string[],
  withAudio: boolean,
  dir: string,
  segmentSec: number,
  sizes: { width: number; height: number }[] = [],
  audioTracks?: { file: string | null; language: string | null }[],
): string[] {
  if (audioTracks?.length) return dashTracksArgs(rungs, audioTracks, dir, segmentSec, sizes);
  // One adaptation set needs one picture aspect ratio. Sizes rounded to even numbers (854x480
  // beside 640x360) differ by a fraction of a percent: then every rung is labelled with the top
  // rung's ratio (a container-level sample aspect, no re-encode) so players may switch freely.
  const top = sizes[0];
  const mixed = top !== undefined && sizes.some((s) => s.width * top.height !== top.width * s.height);
  return [
    ...commonArgs(),
    ...rungs.flatMap((r) => inputArgs(r)),
    ...rungs.flatMap((_, i) => ['-map', `${i}:v:0`]),
    ...(withAudio ? ['-map', '0:a:0'] : []),
    '-c', 'copy',
    ...(mixed ? ['-aspect:v', `${top.width}:${top.height}`] : []),
    '-f', 'dash',
    '-seg_duration', String(segmentSec),
    '-use_template', '1', '-use_timeline', '1',
    '-adaptation_sets', withAudio ? 'id=0,streams=v id=1,streams=a' : 'id=0,streams=v',
    '-init_seg_name', 'init-$RepresentationID$.m4s',
    '-media_seg_name', 'seg-$RepresentationID$-$Number%05d$.m4s',
    `${dir}/manifest.mpd`,
  ];
}

/** What ffprobe tells us about a rung, as far as the master playlist needs it. */
export interface RungFacts {
  video: { codec: string; profile: string; level: number; width: number; height: number; fps: number };
  audio: { codec: string; profile: string; channels: number; sampleRate: number } | null;
}

const h264Profiles: Record<string, string> = {
  'Constrained Baseline': '42e0', Baseline: '4200', Main: '4d00', High: '6400', 'High 10': '6e00',
};

/**
 * RFC 6381 codec strings, as HLS CODECS and DASH @codecs spell them.
 *
 * @example codecsOf({ video: { codec: 'h264', profile: 'High', level: 31, … }, audio: { codec: 'aac', profile: 'LC' } }) // 'avc1.64001f,mp4a.40.2'
 */
export function codecsOf(facts: RungFacts): string {
  const v = facts.video;
  const level = Math.max(0, Math.min(255, Math.round(v.level)));
  let video: string;
  if (v.codec === 'h264') {
    video = `avc1.${h264Profiles[v.profile] ?? '6400'}${level.toString(16).padStart(2, '0')}`;
  } else if (v.codec === 'hevc') {
    // Main: profile 1, compatibility flags 6; Main 10: profile 2, flags 4; main tier, no constraint flags beyond B0.
    video = v.profile === 'Main 10' ? `hvc1.2.4.L${level}.B0` : `hvc1.1.6.L${level}.B0`;
  } else if (v.codec === 'vp9') {
    video = 'vp09.00.31.08';
  } else {
    video = 'av01.0.08M.08';
  }
  if (!facts.audio) return video;
  const a = facts.audio;
  const audio = a.codec === 'aac' ? (a.profile === 'HE-AAC' ? 'mp4a.40.5' : 'mp4a.40.2') : a.codec === 'opus' ? 'opus' : 'mp4a.40.34';
  return `${video},${audio}`;
}

/** One segment of a media playlist: its duration and size in bytes. */
export interface SegmentSize {
  durationSec: number;
  bytes: number;
}

/** Peak and average bits per second over a rung's segments (the init segment counted in the first). */
export function bandwidthOf(segments: SegmentSize[], initBytes: number): { peak: number; average: number } {
  let peak = 0;
  let bytes = initBytes;
  let duration = 0;
  segments.forEach((s, i) => {
    const b = s.bytes + (i === 0 ? initBytes : 0);
    // A very short last segment says little about the rate a player must sustain.
    if (s.durationSec >= 0.5 || segments.length === 1) peak = Math.max(peak, (b * 8) / Math.max(s.durationSec, 0.001));
    bytes += s.bytes;
    duration += s.durationSec;
  });
  const average = duration > 0 ? (bytes * 8) / duration : 0;
  return { peak: Math.ceil(Math.max(peak, average)), average: Math.ceil(average) };
}

/** The segments a media playlist lists, in order: `#EXTINF:<seconds>,` followed by the URI line. */
export function parseMediaPlaylist(text: string): { uri: string; durationSec: number }[] {
  const out: { uri: string; durationSec: number }[] = [];
  let pending: number | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const m = /^#EXTINF:([\d.]+)/.exec(line);
    if (m) pending = Number(m[1]);
    else if (line && !line.startsWith('#') && pending !== null) {
      out.push({ uri: line, durationSec: pending });
      pending = null;
    }
  }
  return out;
}

export interface MasterEntry {
  /** Playlist path relative to the master, e.g. `720p/index.m3u8`. */
  uri: string;
  facts: RungFacts;
  bandwidth: { peak: number; average: number };
}

/**
 * The master playlist: one EXT-X-STREAM-INF per rung, highest first, with every attribute
 * players use to choose (BANDWIDTH, AVERAGE-BANDWIDTH, RESOLUTION, CODECS, FRAME-RATE).
 */
export function masterPlaylist(entries: MasterEntry[]): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS'];
  for (const e of entries) {
    const v = e.facts.video;
    lines.push(
      `#EXT-X-STREAM-INF:BANDWIDTH=${e.bandwidth.peak},AVERAGE-BANDWIDTH=${e.bandwidth.average},RESOLUTION=${v.width}x${v.height},` +
        `FRAME-RATE=${v.fps.toFixed(3)},CODECS="${codecsOf(e.facts)}"`,
      e.uri,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** One representation of an MPD as ffmpeg's dash muxer writes it (SegmentTemplate + SegmentTimeline). */
export interface MpdRepresentation {
  id: string;
  /** The init segment's file name. */
  init: string;
  segments: { uri: string; durationSec: number }[];
  /** Where its last segment ends on the presentation timeline, in seconds. */
  endSec: number;
}

const attrsOf = (text: string): Record<string, string> => Object.fromEntries([...text.matchAll(/([\w:]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));

/** A SegmentTemplate name with its identifiers filled in ($RepresentationID$, $Number$, $Number%05d$). */
function fillTemplate(template: string, id: string, n: number): string {
  return template
    .replaceAll('$RepresentationID$', id)
    .replace(/\$Number(?:%0(\d+)d)?\$/g, (_, width: string | undefined) => String(n).padStart(Number(width ?? 0), '0'));
}

/**
 * The representations of an MPD written by our own ffmpeg run (not a user's file), with each
 * segment's file and duration from its SegmentTimeline.
 *
 * @example parseMpd(await fs.readFile('manifest.mpd', 'utf8')).map((r) => r.segments.length)
 */
export function parseMpd(text: string): MpdRepresentation[] {
  return [...text.matchAll(/<Representation\s([^>]*)>([\s\S]*?)<\/Representation>/g)].map((m) => {
    const id = attrsOf(m[1]!).id ?? '';
    const template = attrsOf(/<SegmentTemplate\s([^>]*)>/.exec(m[2]!)?.[1] ?? '');
    const timescale = Number(template.timescale ?? 1) || 1;
    let number = Number(template.startNumber ?? 1);
    let time = 0;
    let start: number | null = null;
    const segments: MpdRepresentation['segments'] = [];
    for (const s of m[2]!.matchAll(/<S\s([^>]*?)\/>/g)) {
      const a = attrsOf(s[1]!);
      if (a.t !== undefined) time = Number(a.t);
      start ??= time;
      const d = Number(a.d);
      for (let k = 0; k <= Number(a.r ?? 0); k++) {
        segments.push({ uri: fillTemplate(template.media ?? '', id, number++), durationSec: d / timescale });
        time += d;
      }
    }
    return { id, init: fillTemplate(template.initialization ?? '', id, 0), segments, endSec: time / timescale };
  });
}

/** Seconds up to the next millisecond, as an xs:duration (`PT13.013S`). */
function durationUp(sec: number): string {
  return `PT${(Math.ceil(Math.round(sec * 1e6) / 1000) / 1000).toFixed(3)}S`;
}

/**
 * ffmpeg's MPD made true: ffmpeg 5 truncates `mediaPresentationDuration` and `maxSegmentDuration`
 * to a tenth of a second (13.013 s of content became PT13.0S, 6.019 s segments stayed under
 * PT6.0S), and claims `bitstreamSwitching` although every representation has an init segment of
 * its own. Here both durations come from the segments themselves (rounded up to the millisecond),
 * the claim goes, and each representation's @bandwidth is the peak we measured from its segments.
 *
 * @example fixMpd(text, parseMpd(text), new Map([['0', 2_900_000]]))
 */
export function fixMpd(text: string, reps: MpdRepresentation[], bandwidth: Map<string, number>): string {
  const end = Math.max(0, ...reps.map((r) => r.endSec));
  const longest = Math.max(0, ...reps.flatMap((r) => r.segments.map((s) => s.durationSec)));
  return text
    .replace(/mediaPresentationDuration="[^"]*"/, `mediaPresentationDuration="${durationUp(end)}"`)
    .replace(/maxSegmentDuration="[^"]*"/, `maxSegmentDuration="${durationUp(longest)}"`)
    .replace(/\s+bitstreamSwitching="true"/g, '')
    .replace(/<Representation\s[^>]*>/g, (tag) => {
      const peak = bandwidth.get(attrsOf(tag).id ?? '');
      return peak === undefined ? tag : tag.replace(/bandwidth="\d*"/, `bandwidth="${peak}"`);
    });
}


/**
 * Several audio tracks → DASH: the rungs' video in one adaptation set, then one audio adaptation
 * set per track with its `lang`. A track's `file` is its own encode, or null for the rungs' audio
 * (taken from the first rung).
 *
 * @example dashTracksArgs(['/c/720p.mp4'], [{ file: null, language: 'en' }, { file: '/s/audio-1.mp4', language: 'fr' }], '/tmp/pkg', 6)
 */
export function dashTracksArgs(rungs: string[], tracks: { file: string | null; language: string | null }[], dir: string, segmentSec: number, sizes: { width: number; height: number }[] = []): string[] {
  const top = sizes[0];
  const mixed = top !== undefined && sizes.some((s) => s.width * top.height !== top.width * s.height);
  let next = rungs.length;
  const maps = tracks.flatMap((t) => ['-map', t.file ? `${next++}:a:0` : '0:a:0']);
  return [
    ...commonArgs(),
    ...rungs.flatMap((r) => inputArgs(r)),
    ...tracks.flatMap((t) => (t.file ? inputArgs(t.file, undefined, ['mov']) : [])),
    ...rungs.flatMap((_, i) => ['-map', `${i}:v:0`]),
    ...maps,
    '-c', 'copy',
    // dashenc writes a stream's language as its adaptation set's @lang.
    ...tracks.flatMap((t, k) => (t.language ? [`-metadata:s:a:${k}`, `language=${t.language}`] : [])),
    ...(mixed ? ['-aspect:v', `${top.width}:${top.height}`] : []),
    '-f', 'dash',
    '-seg_duration', String(segmentSec),
    '-use_template', '1', '-use_timeline', '1',
    '-adaptation_sets', ['id=0,streams=v', ...tracks.map((_, k) => `id=${k + 1},streams=${rungs.length + k}`)].join(' '),
    '-init_seg_name', 'init-$RepresentationID$.m4s',
    '-media_seg_name', 'seg-$RepresentationID$-$Number%05d$.m4s',
    `${dir}/manifest.mpd`,
  ];
}

/**
 * The audio tracks the rungs do not carry, each encoded once from the input with the rungs' audio
 * settings, into an MP4 of its own (one ffmpeg run, one decode of the input).
 *
 * @example extraAudioArgs('/cache/in.mp4', audio, [{ streamIndex: 1, file: '/s/audio-1.mp4' }], 1 << 30)
 */
export function extraAudioArgs(input: string, audio: PackageAudio, tracks: { streamIndex: number; file: string }[], maxOutputBytes: number): string[] {
  const clip = audio.clip;
  return [
    ...commonArgs(),
    ...inputArgs(input, clip?.startSec),
    ...tracks.flatMap((t) => [
      ...(clip ? ['-t', clip.durationSec.toFixed(3)] : []),
      ...audioArgs({ ...audio.plan, streamIndex: t.streamIndex } satisfies AudioPlan),
      '-vn', '-sn', '-dn', '-map_metadata', '-1',
      '-fs', String(maxOutputBytes),
      '-f', 'mp4',
      t.file,
    ]),
  ];
}

/**
 * The NAME of each audio rendition: its language in English (`fr` → `French`), else `Audio N`;
 * names repeat nowhere in a group (`English`, `English 2`).
 *
 * @example audioTrackNames(['en', 'fr', null]) // ['English', 'French', 'Audio 3']
 */
export function audioTrackNames(languages: (string | null)[]): string[] {
  const names = new Intl.DisplayNames(['en'], { type: 'language', fallback: 'code' });
  const seen = new Map<string, number>();
  return languages.map((l, i) => {
    let name = `Audio ${i + 1}`;
    if (l) {
      try {
        name = names.of(l) ?? l;
      } catch {
        name = l;
      }
    }
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    return n === 1 ? name : `${name} ${n}`;
  });
}

/** One audio rendition of the HLS audio group. */
export interface AudioEntry {
  /** Its media playlist, relative to the master (`audio.0/index.m3u8`). */
  uri: string;
  name: string;
  language: string | null;
  default: boolean;
  channels: number;
  codecs: string;
  bandwidth: { peak: number; average: number };
}

/** The GROUP-ID of the audio renditions. */
export const AUDIO_GROUP = 'audio';

/** RFC 6381 for an audio stream alone (`mp4a.40.2`). */
export function audioCodecOf(a: NonNullable<RungFacts['audio']>): string {
  return a.codec === 'aac' ? (a.profile === 'HE-AAC' ? 'mp4a.40.5' : 'mp4a.40.2') : a.codec === 'opus' ? 'opus' : 'mp4a.40.34';
}

const quoted = (text: string) => text.replace(/["\r\n]/g, '');

/**
 * The master playlist of a presentation whose audio is its own group: an EXT-X-MEDIA per audio
 * track, then one EXT-X-STREAM-INF per rung (video only, naming the group; BANDWIDTH counts the
 * video and the largest audio rendition, CODECS both), then, when asked, an audio-only variant.
 */
export function groupedMasterPlaylist(video: MasterEntry[], audio: AudioEntry[], audioOnlyVariant: boolean): string {
  if (!audio.length) return masterPlaylist(video);
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS'];
  for (const a of audio) {
    lines.push(
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="${AUDIO_GROUP}",NAME="${quoted(a.name)}",` +
        (a.language ? `LANGUAGE="${quoted(a.language)}",` : '') +
        `DEFAULT=${a.default ? 'YES' : 'NO'},AUTOSELECT=${a.default || a.language ? 'YES' : 'NO'},CHANNELS="${a.channels}",URI="${a.uri}"`,
    );
  }
  const audioPeak = Math.max(...audio.map((a) => a.bandwidth.peak));
  const audioAverage = Math.max(...audio.map((a) => a.bandwidth.average));
  const audioCodecs = [...new Set(audio.map((a) => a.codecs))].join(',');
  for (const e of video) {
    const v = e.facts.video;
    lines.push(
      `#EXT-X-STREAM-INF:BANDWIDTH=${e.bandwidth.peak + audioPeak},AVERAGE-BANDWIDTH=${e.bandwidth.average + audioAverage},RESOLUTION=${v.width}x${v.height},` +
        `FRAME-RATE=${v.fps.toFixed(3)},CODECS="${codecsOf({ ...e.facts, audio: null })},${audioCodecs}",AUDIO="${AUDIO_GROUP}"`,
      e.uri,
    );
  }
  if (audioOnlyVariant) {
    const main = audio.find((a) => a.default) ?? audio[0]!;
    lines.push(`#EXT-X-STREAM-INF:BANDWIDTH=${audioPeak},AVERAGE-BANDWIDTH=${audioAverage},CODECS="${audioCodecs}",AUDIO="${AUDIO_GROUP}"`, main.uri);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A media playlist with its segments under AES-128 keys: an EXT-X-KEY before the first segment of
 * each key period (after EXT-X-MAP: the init segment stays clear; it holds no media). No IV
 * attribute: each segment's IV is its media sequence number, as the HLS spec defines it.
 * `keyUriOf(k)` is the URI of key k; segment i uses key floor(i / rotateEvery).
 *
 * @example encryptPlaylist(text, (k) => `../key-${k}.bin`, 10)
 */
export function encryptPlaylist(text: string, keyUriOf: (k: number) => string, rotateEvery: number | null): string {
  let segment = 0;
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXTINF:')) {
      if (segment === 0 || (rotateEvery !== null && segment % rotateEvery === 0)) {
        const k = rotateEvery === null ? 0 : Math.floor(segment / rotateEvery);
        out.push(`#EXT-X-KEY:METHOD=AES-128,URI="${keyUriOf(k)}"`);
      }
      segment++;
    }
    out.push(line);
  }
  return out.join('\n');
}

/** The media sequence number of a playlist's first segment (EXT-X-MEDIA-SEQUENCE, 0 when absent). */
export function mediaSequenceOf(text: string): number {
  return Number(/^#EXT-X-MEDIA-SEQUENCE:(\d+)/m.exec(text)?.[1] ?? 0);
}

/** The 16-byte IV of a segment: its media sequence number, big-endian. */
export function sequenceIv(sequence: number): Buffer {
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(sequence), 8);
  return iv;
}

/**
 * Marks the adaptation set `id` as the main audio (`<Role … value="main"/>`), as DASH players read
 * the default track; dashenc states no role of its own for audio.
 *
 * @example mainAudioRole(mpd, '2')
 */
export function mainAudioRole(mpd: string, id: string): string {
  return mpd.replace(new RegExp(`(<AdaptationSet id="${id}"[^>]*contentType="audio"[^>]*>)`), '$1\n\t\t\t<Role schemeIdUri="urn:mpeg:dash:role:2011" value="main"/>');
}

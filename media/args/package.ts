/**
 * Packaging: the rungs of a ladder (fragmented MP4 files with aligned keyframes) cut into HLS or
 * DASH segments without re-encoding, and the HLS master playlist. Pure: arguments and text only.
 */
import { commonArgs, inputArgs } from './input';

/**
 * One rung → its HLS media playlist (`index.m3u8`), `init.mp4` and `seg_NNNNN.m4s` in `dir`.
 *
 * @example hlsRungArgs('/cache/720p.input', '/tmp/pkg/720p', 6)
 */
export function hlsRungArgs(rung: string, dir: string, segmentSec: number): string[] {
  return [
    ...commonArgs(),
    ...inputArgs(rung),
    '-map', '0', '-c', 'copy',
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
export function dashArgs(rungs: string[], withAudio: boolean, dir: string, segmentSec: number, sizes: { width: number; height: number }[] = []): string[] {
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

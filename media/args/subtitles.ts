/**
 * Subtitle tracks: ffmpeg arguments that turn a text track (the input's own, or an attached
 * `.srt`/`.vtt`) into WebVTT or into tracks of an MP4/WebM file, the WebVTT cut into HLS segments,
 * and the lines the HLS master playlist and the DASH manifest gain for them. Pure: text and argv.
 * Kept apart from package.ts on purpose: the packaging of audio and video changes without it.
 */
import type { SubtitlePlan } from '../plan';
import { bcp47, iso639_2 } from '../subtitles';
import { commonArgs, inputArgs, ALLOWED_DEMUXERS } from './input';
import { muxers } from './transcode';
import type { TranscodeTask } from '../plan';

/** Demuxers of an attached subtitle file: text formats only, nothing that can name another file. */
export const SUBTITLE_FILE_DEMUXERS = ['srt', 'webvtt', 'ass'] as const;

/** Where one track's text comes from, locally: the job's input (its subtitle stream N) or an attached file. */
export interface SubtitleSource {
  file: string;
  /** The subtitle stream of `file` to read (0 for an attached file). */
  stream: number;
  /** true: an attached file (opened with the subtitle demuxers only). */
  attached: boolean;
}

function sourceInput(src: SubtitleSource, startSec?: number): string[] {
  return inputArgs(src.file, startSec, src.attached ? SUBTITLE_FILE_DEMUXERS : ALLOWED_DEMUXERS);
}

/**
 * One track → one WebVTT file (or an ASS file, which keeps an ASS track's styling, for burning in).
 * Attached files are timed like the input's own tracks: a clip shifts both (seek before the input,
 * as the encode does).
 *
 * @example subtitleFileArgs({ file: '/cache/in.input', stream: 1, attached: false }, '/tmp/pkg/subs.1.de.vtt', null)
 */
export function subtitleFileArgs(src: SubtitleSource, output: string, clip: { startSec: number; durationSec: number } | null, format: 'webvtt' | 'ass' = 'webvtt'): string[] {
  return [
    ...commonArgs(),
    ...sourceInput(src, clip?.startSec),
    ...(clip ? ['-t', clip.durationSec.toFixed(3)] : []),
    '-map', `0:s:${src.stream}`,
    '-c:s', format,
    '-map_metadata', '-1',
    '-f', format,
    output,
  ];
}

/**
 * The filter that burns a prepared subtitle file (our own ASS file in the scratch directory) into
 * the picture at the output size. The path is escaped twice, as ffmpeg reads it twice: once as a
 * filter option value (`\\`, `'`, `:`), once as part of the filtergraph (`\\`, `'`, `[`, `]`, `,`, `;`),
 * so a data directory with any of those in its name still works.
 *
 * @example burnFilter('/scratch/run/burn-0.ass') // 'subtitles=filename=/scratch/run/burn-0.ass'
 */
export function burnFilter(file: string): string {
  const option = file.replace(/[\\':]/g, (c) => `\\${c}`);
  const graph = option.replace(/[\\'[\],;]/g, (c) => `\\${c}`);
  return `subtitles=filename=${graph}`;
}

/**
 * A finished rendition file with its subtitle tracks added (stream copy of picture and sound):
 * mov_text in MP4/MOV, WebVTT in WebM, each with its language (ISO 639-2), title and
 * default/forced disposition.
 *
 * @example subtitleMuxArgs(task, '/scratch/output-0.mp4', [{ plan, source }], '/scratch/subbed-0.mp4', limits)
 */
export function subtitleMuxArgs(
  task: Pick<TranscodeTask, 'container' | 'clip' | 'video'>,
  rendition: string,
  tracks: { plan: SubtitlePlan; source: SubtitleSource }[],
  output: string,
  limits: { maxOutputBytes: number },
): string[] {
  const codec = task.container === 'webm' ? 'webvtt' : 'mov_text';
  // Each distinct source file is one input after the rendition (the job's input once for all its tracks).
  const files: SubtitleSource[] = [];
  const inputOf = (src: SubtitleSource) => {
    let i = files.findIndex((f) => f.file === src.file);
    if (i < 0) i = files.push(src) - 1;
    return i + 1;
  };
  const maps = tracks.map((t) => ['-map', `${inputOf(t.source)}:s:${t.source.stream}`]);
  return [
    ...commonArgs(),
    ...inputArgs(rendition, undefined, ['mov', 'matroska']),
    ...files.flatMap((f) => sourceInput(f, task.clip?.startSec)),
    '-map', '0:v?', '-map', '0:a?',
    ...maps.flat(),
    '-c', 'copy', '-c:s', codec,
    ...(task.clip ? ['-t', task.clip.durationSec.toFixed(3)] : []),
    '-map_metadata', '-1', '-map_chapters', '-1',
    ...tracks.flatMap((t, i) => [
      `-metadata:s:s:${i}`, `language=${iso639_2(t.plan.language)}`,
      `-metadata:s:s:${i}`, `title=${t.plan.name}`,
      // MP4/MOV players show a track's handler name.
      ...(codec === 'mov_text' ? [`-metadata:s:s:${i}`, `handler_name=${t.plan.name}`] : []),
      `-disposition:s:${i}`, [t.plan.default ? 'default' : '', t.plan.forced ? 'forced' : ''].filter(Boolean).join('+') || '0',
    ]),
    ...(task.video?.codec === 'h265' ? ['-tag:v', 'hvc1'] : []),
    '-fs', String(limits.maxOutputBytes),
    ...muxers[task.container as keyof typeof muxers],
    output,
  ];
}

/** One WebVTT cue: its times in seconds and its block after the timing line (settings kept). */
export interface Cue {
  startSec: number;
  endSec: number;
  /** Cue settings after the times (`line:90%`), empty when none. */
  settings: string;
  /** The payload lines. */
  text: string;
}

function seconds(stamp: string): number {
  const parts = stamp.split(':').map(Number);
  return parts.reduce((acc, p) => acc * 60 + p, 0);
}

/**
 * The cues of a WebVTT file written by our own ffmpeg run (`mm:ss.ttt` or `hh:mm:ss.ttt` times).
 *
 * @example parseVtt('WEBVTT\n\n00:01.000 --> 00:02.500\nHello\n') // [{ startSec: 1, endSec: 2.5, settings: '', text: 'Hello' }]
 */
export function parseVtt(text: string): Cue[] {
  const cues: Cue[] = [];
  for (const block of text.replace(/\r\n?/g, '\n').split(/\n{2,}/)) {
    const lines = block.split('\n');
    const at = lines.findIndex((l) => l.includes('-->'));
    if (at < 0) continue;
    const m = /^\s*((?:\d+:)?\d{2}:\d{2}\.\d{3})\s+-->\s+((?:\d+:)?\d{2}:\d{2}\.\d{3})(.*)$/.exec(lines[at]!);
    if (!m) continue;
    cues.push({ startSec: seconds(m[1]!), endSec: seconds(m[2]!), settings: m[3]!.trim(), text: lines.slice(at + 1).join('\n').trim() });
  }
  return cues;
}

/** Seconds as a WebVTT timestamp, `hh:mm:ss.ttt`. */
export function vttTime(sec: number): string {
  const ms = Math.max(0, Math.round(sec * 1000));
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(ms % 1000).padStart(3, '0')}`;
}

/**
 * A WebVTT document of these cues, timed on the presentation's clock. An HLS segment states it
 * (`X-TIMESTAMP-MAP`: cue time 0 is media time 0, where our rungs start).
 */
export function vttDocument(cues: Cue[], { hls = false } = {}): string {
  const body = cues.map((c) => `${vttTime(c.startSec)} --> ${vttTime(c.endSec)}${c.settings ? ` ${c.settings}` : ''}\n${c.text}\n`);
  return [hls ? 'WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000' : 'WEBVTT', '', ...body].join('\n');
}

/**
 * The cues cut into HLS segments of the given durations (the video's own segments, so subtitle
 * and video segments line up): each segment holds every cue that shows during it (a cue across a
 * boundary is in both, with its own times, as HLS asks), so a player that joins at any segment
 * shows the right text. Cues past the last boundary go to the last segment.
 *
 * @example segmentCues(cues, [4, 4, 4.034]).map((s) => s.cues.length)
 */
export function segmentCues(cues: Cue[], durations: number[]): { durationSec: number; cues: Cue[] }[] {
  let from = 0;
  return durations.map((durationSec, i) => {
    const to = i === durations.length - 1 ? Infinity : from + durationSec;
    const segment = { durationSec, cues: cues.filter((c) => c.endSec > from && c.startSec < to) };
    from += durationSec;
    return segment;
  });
}

/**
 * The WebVTT media playlist of a track's segments (`seg_00000.vtt`, …).
 *
 * @example subtitlePlaylist([{ durationSec: 6 }, { durationSec: 1 }])
 */
export function subtitlePlaylist(segments: { durationSec: number }[]): string {
  const target = Math.max(1, ...segments.map((s) => Math.ceil(s.durationSec - 1e-9)));
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', `#EXT-X-TARGETDURATION:${target}`, '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:VOD'];
  // Durations as the video's playlists state them (ffmpeg writes microseconds).
  segments.forEach((s, i) => lines.push(`#EXTINF:${s.durationSec.toFixed(6)},`, segmentName(i)));
  lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

export function segmentName(i: number): string {
  return `seg_${String(i).padStart(5, '0')}.vtt`;
}

/** A subtitle rendition as the master playlist and the manifest name it. */
export interface SubtitleRendition {
  plan: SubtitlePlan;
  /** Relative to the master playlist / manifest: `subs.0.en/index.m3u8` (HLS), `subs.0.en.vtt` (DASH). */
  uri: string;
}

const quoted = (s: string) => s.replace(/["\n\r]/g, "'");

/**
 * The master playlist with a SUBTITLES group: one `EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs"` per
 * track before the variants, and `SUBTITLES="subs"` on every `EXT-X-STREAM-INF`. Works on the text
 * of any master playlist (it adds lines, it rewrites none of the others).
 *
 * @example withSubtitleGroup(masterPlaylist(entries), [{ plan, uri: 'subs.0.en/index.m3u8' }])
 */
export function withSubtitleGroup(master: string, tracks: SubtitleRendition[], groupId = 'subs'): string {
  if (!tracks.length) return master;
  const names = new Set<string>();
  const media = tracks.map(({ plan, uri }) => {
    // NAME must be unique within the group.
    let name = quoted(plan.name);
    for (let n = 2; names.has(name); n++) name = `${quoted(plan.name)} (${n})`;
    names.add(name);
    return (
      `#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="${groupId}",NAME="${name}",LANGUAGE="${bcp47(plan.language)}",` +
      `DEFAULT=${plan.default ? 'YES' : 'NO'},AUTOSELECT=YES,FORCED=${plan.forced ? 'YES' : 'NO'},URI="${uri}"`
    );
  });
  const lines = master.replace(/\n$/, '').split('\n');
  const first = lines.findIndex((l) => l.startsWith('#EXT-X-STREAM-INF:'));
  const out = lines.map((l) => (l.startsWith('#EXT-X-STREAM-INF:') ? `${l},SUBTITLES="${groupId}"` : l));
  out.splice(first < 0 ? out.length : first, 0, ...media);
  return `${out.join('\n')}\n`;
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * The manifest with one text adaptation set per track (`contentType="text"`, `mimeType="text/vtt"`,
 * `lang`, a subtitle Role and Label), each a single representation whose BaseURL is the track's
 * WebVTT file; added at the end of the Period.
 *
 * @example withTextAdaptationSets(mpd, [{ plan, uri: 'subs.0.en.vtt' }])
 */
export function withTextAdaptationSets(mpd: string, tracks: SubtitleRendition[]): string {
  if (!tracks.length) return mpd;
  const used = [...mpd.matchAll(/<AdaptationSet\s[^>]*\bid="(\d+)"/g)].map((m) => Number(m[1]));
  let next = Math.max(-1, ...used) + 1;
  const sets = tracks.map(({ plan, uri }) =>
    [
      `\t\t<AdaptationSet id="${next++}" contentType="text" mimeType="text/vtt" lang="${xml(bcp47(plan.language))}">`,
      `\t\t\t<Role schemeIdUri="urn:mpeg:dash:role:2011" value="${plan.forced ? 'forced-subtitle' : 'subtitle'}"/>`,
      `\t\t\t<Label>${xml(plan.name)}</Label>`,
      `\t\t\t<Representation id="${xml(plan.id)}" bandwidth="256">`,
      `\t\t\t\t<BaseURL>${xml(uri)}</BaseURL>`,
      `\t\t\t</Representation>`,
      `\t\t</AdaptationSet>`,
    ].join('\n'),
  );
  return mpd.replace(/(\s*)<\/Period>/, (m, space: string) => `\n${sets.join('\n')}${space}</Period>`);
}

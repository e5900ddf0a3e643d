/**
 * Subtitle planning: which text tracks (the input's own, then attached files) every output carries,
 * which track an output burns into its picture, and the language codes each format wants. Pure:
 * the planner calls it, the unit tests table-drive it.
 */
import type { JobSpec, ResolvedOutput } from '../model/job';
import type { MediaInfo } from '../model/job-state';

/** A subtitle track an output carries: the input's subtitle stream N, or an attached file. */
export interface SubtitlePlan {
  source: { stream: number } | { key: string };
  /** As the input or the job states it (`eng`, `en`, `pt-BR`); `und` when unknown. */
  language: string;
  /** Shown in players' menus. */
  name: string;
  default: boolean;
  forced: boolean;
  /** The track's file name stem inside an HLS/DASH folder (`subs.0.en`): dotted, as no rung name is, so it never meets a rung's folder. */
  id: string;
}

/** Subtitles burnt into a video rendition's picture: the input's subtitle stream N, or a file. */
export interface BurnPlan {
  source: { stream: number } | { key: string };
}

/** Containers whose files carry subtitle tracks (MP4/MOV: mov_text, WebM: WebVTT); HLS/DASH get WebVTT files. */
export const SUBTITLE_CONTAINERS = ['mp4', 'mov', 'webm', 'hls', 'dash'] as const;

/** ISO 639-1 ↔ ISO 639-2 (bibliographic, as MKV and MP4 tags usually hold it; terminologic aliases after). */
const LANGUAGES: [string, string, ...string[]][] = [
  ['en', 'eng'], ['de', 'ger', 'deu'], ['fr', 'fre', 'fra'], ['es', 'spa'], ['it', 'ita'], ['pt', 'por'],
  ['nl', 'dut', 'nld'], ['sv', 'swe'], ['da', 'dan'], ['no', 'nor'], ['nb', 'nob'], ['fi', 'fin'], ['pl', 'pol'],
  ['cs', 'cze', 'ces'], ['sk', 'slo', 'slk'], ['hu', 'hun'], ['ro', 'rum', 'ron'], ['el', 'gre', 'ell'],
  ['tr', 'tur'], ['ru', 'rus'], ['uk', 'ukr'], ['ar', 'ara'], ['he', 'heb'], ['fa', 'per', 'fas'], ['hi', 'hin'],
  ['zh', 'chi', 'zho'], ['ja', 'jpn'], ['ko', 'kor'], ['th', 'tha'], ['vi', 'vie'], ['id', 'ind'], ['ms', 'may', 'msa'],
  ['ca', 'cat'], ['hr', 'hrv'], ['sr', 'srp'], ['bg', 'bul'], ['sl', 'slv'], ['et', 'est'], ['lv', 'lav'], ['lt', 'lit'],
  ['is', 'ice', 'isl'], ['ga', 'gle'], ['cy', 'wel', 'cym'], ['eu', 'baq', 'eus'], ['gl', 'glg'], ['ta', 'tam'],
  ['bn', 'ben'], ['ur', 'urd'], ['sw', 'swa'], ['tl', 'tgl'],
];

/**
 * The language as BCP 47 wants it (HLS LANGUAGE, DASH @lang): two letters where ISO 639-1 has
 * them (`ger` → `de`), else as given; `und` stays `und`.
 *
 * @example bcp47('eng') // 'en'
 */
export function bcp47(language: string): string {
  const [primary, ...rest] = language.split('-');
  const lower = primary!.toLowerCase();
  const found = LANGUAGES.find((l) => l.includes(lower));
  return [found ? found[0] : lower, ...rest].join('-');
}

/**
 * The language as an MP4 track's header holds it: ISO 639-2 (`en` → `eng`, `pt-BR` → `por`);
 * a code we do not know stays as given (three letters) or becomes `und`.
 *
 * @example iso639_2('de') // 'ger'
 */
export function iso639_2(language: string): string {
  const lower = language.split('-')[0]!.toLowerCase();
  const found = LANGUAGES.find((l) => l.includes(lower));
  if (found) return found[1];
  return /^[a-z]{3}$/.test(lower) ? lower : 'und';
}

/** Job-level notes about subtitle streams the outputs leave out (picture formats). */
export function subtitleNotes(spec: JobSpec, media: MediaInfo): string[] {
  const carriers = spec.outputs.some((o) => (SUBTITLE_CONTAINERS as readonly string[]).includes(o.template.container));
  if (!carriers) return [];
  return (media.subtitles ?? [])
    .filter((s) => !s.text)
    .map((s) => `subtitle track ${s.index} (${s.codec}${s.language ? `, ${s.language}` : ''}) is a picture format: skipped (only text subtitles become tracks)`);
}

/**
 * Every subtitle track an output in `container` carries: the input's text tracks in order, then
 * the attached files. Empty for containers without subtitles (m4a, mp3, ogg).
 *
 * @example planSubtitles(spec, media, 'hls').map((s) => s.id) // ['subs.0.en', 'subs.1.de']
 */
export function planSubtitles(spec: JobSpec, media: MediaInfo, container: string): SubtitlePlan[] {
  if (!(SUBTITLE_CONTAINERS as readonly string[]).includes(container)) return [];
  const own = (media.subtitles ?? [])
    .filter((s) => s.text)
    .map((s) => ({
      source: { stream: s.index },
      language: s.language ?? 'und',
      name: s.title ?? s.language ?? `Subtitles ${s.index + 1}`,
      default: s.default === true,
      forced: s.forced === true,
    }));
  const attached = (spec.subtitles ?? []).map((s) => ({ source: { key: s.key }, language: s.language, name: s.name ?? s.language, default: s.default, forced: s.forced }));
  const tracks = [...own, ...attached];
  // One default at most: the first one marked.
  const firstDefault = tracks.findIndex((t) => t.default);
  return tracks.map((t, i) => ({ ...t, default: i === firstDefault, id: `subs.${i}.${bcp47(t.language).replace(/[^A-Za-z0-9-]/g, '')}` }));
}

/**
 * What an output burns into its picture, or why it cannot: the input's track (by index among its
 * subtitle streams, or the first with the language), or an uploaded file; null when it burns nothing.
 *
 * @example planBurn(out, media) // { source: { stream: 1 } }
 */
export function planBurn(out: ResolvedOutput, media: MediaInfo): BurnPlan | string | null {
  const b = out.burnSubtitles;
  if (!b) return null;
  if (b.key !== undefined) return { source: { key: b.key } };
  const subs = media.subtitles ?? [];
  const track =
    b.track !== undefined
      ? subs[b.track]
      : subs.find((s) => s.language !== null && (s.language.toLowerCase() === b.language!.toLowerCase() || bcp47(s.language) === bcp47(b.language!)));
  const named = b.track !== undefined ? `subtitle track ${b.track}` : `a subtitle track in language "${b.language}"`;
  if (!track) return `burnSubtitles: the input has no ${named} (it has ${subs.length} subtitle track${subs.length === 1 ? '' : 's'})`;
  if (!track.text) return `burnSubtitles: ${named} is ${track.codec}, a picture format; only text subtitles can be burnt in`;
  return { source: { stream: track.index } };
}

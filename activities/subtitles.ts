/**
 * Subtitle files made inside the encode and package activities: a track (the input's own, or an
 * attached `.srt`/`.vtt`) turned into WebVTT or ASS under the activity's limits. An attached file
 * that is too large, not a subtitle format, or without a single cue fails the job for good
 * (SubtitleInvalid); the input's own track is trusted as far as the probe read it.
 */
import fs from 'node:fs/promises';
import { MediaflowError } from '../model/errors';
import type { SubtitlePlan } from '../media/plan';
import { parseVtt, subtitleFileArgs, type SubtitleSource } from '../media/args/subtitles';
import type { ActivityDeps } from './deps';

/** Runs one ffmpeg under the activity's signal and limits. */
export type RunFfmpeg = (args: string[], durationSec: number) => Promise<void>;

/** The attached files (store keys) a set of subtitle sources reads. */
export function attachedKeys(sources: (SubtitlePlan['source'] | undefined)[]): string[] {
  return [...new Set(sources.flatMap((s) => (s && 'key' in s ? [s.key] : [])))];
}

/** Where a planned source is on this worker: the job's local input, or the local copy of an attached key. */
export function localSource(source: SubtitlePlan['source'], input: string, files: Map<string, string>): SubtitleSource {
  if ('stream' in source) return { file: input, stream: source.stream, attached: false };
  const file = files.get(source.key);
  if (!file) throw new Error(`localSource: no local copy of ${source.key}`);
  return { file, stream: 0, attached: true };
}

/** The bytes an attached file may have (SUBTITLE_MAX_BYTES), checked again where it is read. */
async function checkSize(deps: ActivityDeps, src: SubtitleSource, what: string): Promise<void> {
  if (!src.attached) return;
  const { size } = await fs.stat(src.file);
  if (size > deps.config.SUBTITLE_MAX_BYTES) {
    throw new MediaflowError('SubtitleInvalid', `${what}: ${size} bytes, more than SUBTITLE_MAX_BYTES (${deps.config.SUBTITLE_MAX_BYTES})`);
  }
}

/**
 * Writes one track as WebVTT (or ASS) to `output` and resolves its cue count. An attached file
 * ffmpeg cannot read as SRT/WebVTT/ASS, or that holds no cue, is SubtitleInvalid.
 *
 * @example await subtitleFile(deps, run, src, '/scratch/subs-0-en.vtt', null, 'webvtt', 'subtitles.0 (subs/en.srt)')
 */
export async function subtitleFile(
  deps: ActivityDeps,
  run: RunFfmpeg,
  src: SubtitleSource,
  output: string,
  clip: { startSec: number; durationSec: number } | null,
  format: 'webvtt' | 'ass',
  what: string,
): Promise<number> {
  await checkSize(deps, src, what);
  try {
    await run(subtitleFileArgs(src, output, clip, format), clip?.durationSec ?? 1);
  } catch (err) {
    if (!src.attached || !(err instanceof MediaflowError) || err.code !== 'EncodeFailed') throw err;
    throw new MediaflowError('SubtitleInvalid', `${what} is not a readable SRT, WebVTT or ASS file: ${err.message}`, [], err.details);
  }
  const text = await fs.readFile(output, 'utf8');
  const cues = format === 'webvtt' ? parseVtt(text).length : text.split('\n').filter((l) => l.startsWith('Dialogue:')).length;
  if (src.attached && cues === 0) throw new MediaflowError('SubtitleInvalid', `${what} holds no subtitle cue (is it an SRT or WebVTT file?)`);
  return cues;
}

/** How a track is named in errors: the attached file's key, or the input's stream. */
export function describeSource(source: SubtitlePlan['source']): string {
  return 'key' in source ? `the subtitle file "${source.key.replace(/^tenants\/[^/]+\//, '')}"` : `subtitle track ${source.stream} of the input`;
}

/**
 * The encode activity's body: every rendition of one input range in ONE ffmpeg run (decode once,
 * `split` to one chain per rendition, each distinct audio setting encoded once), then each
 * rendition that shares its audio muxed with it by stream copy, checked and uploaded. One failure fails the run:
 * the activity (all of its renditions) is retried.
 */
import type { JobError, OutputState } from '../model/job-state';
import { errorCodes, MediaflowError } from '../model/errors';
import type { JobInput } from '../model/job';
import type { TranscodeTask } from '../media/plan';
import { encodeArgs, encodeLayout, remuxArgs, type EncodeLayout } from '../media/args/encode';
import { subtitleMuxArgs, type SubtitleSource } from '../media/args/subtitles';
import { attachedKeys, describeSource, localSource, subtitleFile } from './subtitles';
import path from 'node:path';
import { runFfmpeg } from './ffmpeg-run';
import { requireEncoders } from './capabilities';
import { withLocalInputs } from './local-input';
import { ffmpegTimeoutMs, finishOutput, withHeartbeats, withScratchDir } from './transcode';
import type { ActivityDeps } from './deps';

/**
 * A rendition of a shared run: its output, or why this one rendition cannot be made (a broken
 * rule of its own, e.g. the size limit: the others of the run still count).
 */
export type RenditionResult = OutputState | { failed: JobError };

/**
 * Checks and uploads one finished rendition. A non-retryable error of this rendition alone is its
 * result; anything else fails the run (Temporal retries the whole run).
 */
export async function renditionResult(finish: () => Promise<OutputState>): Promise<RenditionResult> {
  try {
    return await finish();
  } catch (err) {
    if (err instanceof MediaflowError && !errorCodes[err.code].retryable) return { failed: { code: err.code, message: err.message, retryable: false } };
    throw err;
  }
}

/** The remuxes after the encode are stream copies: a small share of the run's progress. */
const ENCODE_SHARE = 0.95;

export function createEncoder(deps: ActivityDeps) {
  const { config, binaries } = deps;
  const limits = { threads: config.FFMPEG_THREADS, maxOutputBytes: config.MAX_OUTPUT_BYTES };

  /**
   * Encodes `tasks` (one input range) and returns their results in the same order. A rendition
   * whose encoder this worker's ffmpeg lacks fails alone (EncoderMissing); the others still run.
   */
  return async function encode(source: JobInput, all: TranscodeTask[]): Promise<RenditionResult[]> {
    const missing = new Map<string, RenditionResult>();
    let firstMissing: MediaflowError | null = null;
    for (const t of all) {
      try {
        await requireEncoders(binaries.ffmpeg, encodeArgs(encodeLayout([t], '.'), t.concat ? t.concat.segments.map(() => 'input') : 'input', limits, [t.video ? t.watermarks.map(() => 'asset') : []]));
      } catch (err) {
        if (!(err instanceof MediaflowError && err.code === 'EncoderMissing')) throw err;
        missing.set(t.id, { failed: { code: err.code, message: err.message, retryable: false } });
        firstMissing ??= err;
      }
    }
    const tasks = all.filter((t) => !missing.has(t.id));
    // Nothing this worker can make: the activity itself fails (the UI shows the encoder and argv).
    if (!tasks.length && firstMissing) throw firstMissing;
    const made = tasks.length ? await encodeTasks(source, tasks) : [];
    return all.map((t) => missing.get(t.id) ?? made[tasks.indexOf(t)]!);
  };

  async function encodeTasks(source: JobInput, tasks: TranscodeTask[]): Promise<RenditionResult[]> {
    return sharedEncode(deps, source, tasks, { share: ENCODE_SHARE }, async (layout, { report, run, subtitleSource }) => {
      const outputs: RenditionResult[] = [];
      for (const [i, r] of layout.renditions.entries()) {
        if (r.remux) await run(remuxArgs(r, layout.audioFiles[r.audio!]!, limits), r.task.durationSec);
        const finished = r.task.subtitles?.length ? await withSubtitles(r, run, subtitleSource) : r.outputFile;
        outputs.push(await renditionResult(() => finishOutput(deps, r.task, finished)));
        report(ENCODE_SHARE + ((1 - ENCODE_SHARE) * (i + 1)) / layout.renditions.length);
      }
      return outputs;
    });
  }

  /**
   * A finished rendition with its subtitle tracks muxed in (a stream copy beside them); an
   * attached file is checked on its way (SubtitleInvalid).
   */
  async function withSubtitles(r: EncodeLayout['renditions'][number], run: SharedEncodeContext['run'], sourceOf: SharedEncodeContext['subtitleSource']): Promise<string> {
    const dir = path.dirname(r.outputFile);
    const tracks = [];
    for (const [k, plan] of r.task.subtitles!.entries()) {
      const source = sourceOf(plan.source);
      // Attached files are read once through the subtitle demuxers into WebVTT of our own.
      const checked: SubtitleSource = source.attached
        ? { file: path.join(dir, `attached-${path.basename(r.outputFile)}-${k}.vtt`), stream: 0, attached: true }
        : source;
      if (source.attached) await subtitleFile(deps, run, source, checked.file, null, 'webvtt', describeSource(plan.source));
      tracks.push({ plan, source: checked });
    }
    const out = path.join(dir, `subtitled-${path.basename(r.outputFile)}`);
    // The checked WebVTT copies are timed like the input: the mux applies the clip to them too.
    await run(subtitleMuxArgs(r.task, r.outputFile, tracks, out, limits), r.task.durationSec);
    return out;
  }
}

/** What `sharedEncode` hands to the work after the encode. */
export interface SharedEncodeContext {
  report: (progress: number) => void;
  /** Runs another ffmpeg (a remux, a join) under the activity's signal and limits. */
  run: (args: string[], durationSec: number) => Promise<void>;
  /** Where a planned subtitle source is on this worker (the local input, or an attached file's copy). */
  subtitleSource: (source: NonNullable<TranscodeTask['subtitles']>[number]['source']) => SubtitleSource;
}

/**
 * One shared ffmpeg run in a scratch directory with heartbeats: the input and every watermark
 * asset made local, `tasks` encoded by one process (encodeLayout/encodeArgs; `frames` for a
 * chunk), its progress scaled to `share`; then `after` with the layout (remux, upload…).
 *
 * @example await sharedEncode(deps, input, tasks, {}, async (layout) => layout.renditions.length)
 */
export async function sharedEncode<T>(
  deps: ActivityDeps,
  source: JobInput,
  tasks: TranscodeTask[],
  options: { frames?: Record<string, number | null>; share?: number; audioFiles?: 'shared' | 'always' },
  after: (layout: EncodeLayout, context: SharedEncodeContext) => Promise<T>,
): Promise<T> {
  const { config, binaries } = deps;
  const limits = { threads: config.FFMPEG_THREADS, maxOutputBytes: config.MAX_OUTPUT_BYTES };
  const assetKeys = tasks.map((t) => (t.video ? t.watermarks.map((w) => w.assetKey) : []));
  // A concatenation reads every input it joins (staged keys), in order; else the job's one input.
  const sources = tasks[0]!.concat?.segments.map((g) => g.input) ?? [source];
  // Attached subtitle files (soft tracks and burnt-in), copied once per run.
  const subtitleKeys = attachedKeys(tasks.flatMap((t) => [...(t.subtitles ?? []).map((s) => s.source), t.burn?.source]));
  return withLocalInputs(deps, [...sources, ...assetKeys.flat(), ...subtitleKeys], (files) =>
    withScratchDir(deps, (dir) =>
      withHeartbeats(async (report, signal) => {
        const inputFiles = files.slice(0, sources.length);
        const localFiles = files.slice(sources.length);
        let next = 0;
        const watermarkFiles = assetKeys.map((keys) => keys.map(() => localFiles[next++]!));
        const subtitleFiles = new Map(subtitleKeys.map((k) => [k, localFiles[next++]!]));
        const subtitleSource: SharedEncodeContext['subtitleSource'] = (s) => localSource(s, inputFiles[0]!, subtitleFiles);
        const layout = encodeLayout(tasks, dir, { audioFiles: options.audioFiles });
        const durationSec = tasks[0]!.durationSec;
        const base = { binary: binaries.ffmpeg, signal, stallMs: config.FFMPEG_STALL_SEC * 1000, nice: config.ENCODE_NICE };
        const share = options.share ?? 1;
        const run = (args: string[], seconds: number) => runFfmpeg({ ...base, args, durationSec: seconds, onProgress: () => undefined, timeoutMs: ffmpegTimeoutMs(seconds) });
        // Subtitles to burn in: each rendition's track written as ASS (styling kept) over its own range.
        const burnFiles: (string | null)[] = [];
        for (const [i, t] of tasks.entries()) {
          if (!t.burn || !t.video) {
            burnFiles.push(null);
            continue;
          }
          const file = path.join(dir, `burn-${i}.ass`);
          await subtitleFile(deps, run, subtitleSource(t.burn.source), file, t.clip, 'ass', `burnSubtitles of "${t.name}" (${describeSource(t.burn.source)})`);
          burnFiles.push(file);
        }
        // One process does the work of every rendition: its wall-clock limit grows with them.
        await runFfmpeg({
          ...base,
          args: encodeArgs(layout, tasks[0]!.concat ? inputFiles : inputFiles[0]!, limits, watermarkFiles, options.frames, burnFiles),
          durationSec,
          onProgress: (p) => report(p * share),
          timeoutMs: ffmpegTimeoutMs(durationSec * tasks.length),
        });
        return after(layout, { report, run, subtitleSource });
      }),
    ),
  );
}

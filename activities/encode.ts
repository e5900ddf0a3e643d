/**
 * The encode activity's body: every rendition of one input range in ONE ffmpeg run (decode once,
 * `split` to one chain per rendition, each distinct audio setting encoded once), then each
 * rendition muxed with its audio by stream copy, checked and uploaded. One failure fails the run:
 * the activity (all of its renditions) is retried.
 */
import type { OutputState } from '../model/job-state';
import type { JobInput } from '../model/job';
import type { TranscodeTask } from '../media/plan';
import { encodeArgs, encodeLayout, remuxArgs } from '../media/args/encode';
import { runFfmpeg } from './ffmpeg-run';
import { withLocalInputs } from './local-input';
import { ffmpegTimeoutMs, finishOutput, withHeartbeats, withScratchDir } from './transcode';
import type { ActivityDeps } from './deps';

/** The remuxes after the encode are stream copies: a small share of the run's progress. */
const ENCODE_SHARE = 0.95;

export function createEncoder(deps: ActivityDeps) {
  const { config, binaries } = deps;
  const limits = { threads: config.FFMPEG_THREADS, maxOutputBytes: config.MAX_OUTPUT_BYTES };

  /** Encodes `tasks` (one input range) and returns their outputs in the same order. */
  return async function encode(source: JobInput, tasks: TranscodeTask[]): Promise<OutputState[]> {
    const assetKeys = tasks.map((t) => (t.video ? t.watermarks.map((w) => w.assetKey) : []));
    return withLocalInputs(deps, [source, ...assetKeys.flat()], ([input, ...assetFiles]) =>
      withScratchDir(deps, (dir) =>
        withHeartbeats(async (report, signal) => {
          let next = 0;
          const watermarkFiles = assetKeys.map((keys) => keys.map(() => assetFiles[next++]!));
          const layout = encodeLayout(tasks, dir);
          const durationSec = tasks[0]!.durationSec;
          const run = { binary: binaries.ffmpeg, durationSec, signal, stallMs: config.FFMPEG_STALL_SEC * 1000 };
          // One process does the work of every rendition: its wall-clock limit grows with them.
          await runFfmpeg({
            ...run,
            args: encodeArgs(layout, input!, limits, watermarkFiles),
            onProgress: (p) => report(p * ENCODE_SHARE),
            timeoutMs: ffmpegTimeoutMs(durationSec * tasks.length),
          });
          const outputs: OutputState[] = [];
          for (const [i, r] of layout.renditions.entries()) {
            if (r.audio !== null) {
              await runFfmpeg({ ...run, args: remuxArgs(r, layout.audioFiles[r.audio]!, limits), onProgress: () => undefined, timeoutMs: ffmpegTimeoutMs(durationSec) });
            }
            outputs.push(await finishOutput(deps, r.task, r.outputFile));
            report(ENCODE_SHARE + ((1 - ENCODE_SHARE) * (i + 1)) / layout.renditions.length);
          }
          return outputs;
        }),
      ),
    );
  };
}

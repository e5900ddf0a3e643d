/** The snapshot activity's body: one ffmpeg pass into a scratch directory, frames counted, then uploaded. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { MediaflowError } from '../model/errors';
import type { SnapshotState } from '../model/job-state';
import type { SnapshotTask } from '../media/plan';
import { seekFor, snapshotArgs, snapshotFiles } from '../media/args/snapshot';
import { spriteVtt } from '../media/sprite-vtt';
import { runFfmpeg } from './ffmpeg-run';
import { ffmpegTimeoutMs, withHeartbeats, withScratchDir } from './transcode';
import { withLocalInput } from './local-input';
import type { ActivityDeps } from './deps';

/** Share of the progress bar for decoding; the rest is the upload. */
const DECODE_SHARE = 0.9;

async function sizeOf(file: string): Promise<number> {
  return fs.stat(file).then((s) => s.size, () => 0);
}

/** Frames that reached the sheet: framecrc writes one line per frame after its `#` header. */
async function countLoggedFrames(file: string): Promise<number> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#')).length;
}

function describeTimes(task: SnapshotTask): string {
  const first = task.times[0];
  const last = task.times.at(-1);
  return first === last ? `${first} s` : `${first}–${last} s`;
}

/**
 * @example const snapshot = createSnapshotRenderer(deps); await snapshot({ key: 'raw/a.mp4' }, task)
 */
export function createSnapshotRenderer(deps: ActivityDeps) {
  const { config, storage, binaries } = deps;

  return async function snapshot(source: Parameters<typeof withLocalInput>[1], task: SnapshotTask): Promise<SnapshotState> {
    const wanted = task.times.length;
    if (wanted === 0) throw new MediaflowError('OutputNotPossible', `snapshot "${task.name}" has no frames planned`);
    return withLocalInput(deps, source, (input) =>
      withHeartbeats((report, signal) => withScratchDir(deps, async (dir) => {
        const files = snapshotFiles(task, dir);
        const lastTime = task.times.at(-1)!;
        await runFfmpeg({
          binary: binaries.ffmpeg,
          args: snapshotArgs(task, input, dir),
          // The output clock runs from the seek point to the last planned frame.
          durationSec: Math.max(0, lastTime - seekFor(task)),
          onProgress: (p) => report(p * DECODE_SHARE),
          signal,
          timeoutMs: ffmpegTimeoutMs(lastTime),
          stallMs: config.FFMPEG_STALL_SEC * 1000,
        });

        // Exactly the planned frames, or a clear failure: never a sheet or a sequence with holes.
        const images = files.sheet ? [files.sheet] : files.frames;
        const sizes = await Promise.all(images.map(sizeOf));
        const got = files.frameLog ? await countLoggedFrames(files.frameLog) : sizes.filter((s) => s > 0).length;
        if (got !== wanted || sizes.some((s) => s === 0)) {
          throw new MediaflowError(
            'OutputNotPossible',
            `snapshot "${task.name}": the input gave ${got} of the ${wanted} planned frames (${describeTimes(task)}); ` +
              'it has fewer decodable frames than its stated duration promises',
          );
        }
        const total = sizes.reduce((a, b) => a + b, 0);
        if (total >= config.MAX_OUTPUT_BYTES) {
          throw new MediaflowError('OutputTooLarge', `snapshot "${task.name}" is ${total} bytes, over the ${config.MAX_OUTPUT_BYTES}-byte limit`);
        }

        // Keys are deterministic: a retried attempt overwrites what an earlier one uploaded.
        if (task.sprite && files.sheet) {
          const vtt = path.join(dir, 'track.vtt');
          await fs.writeFile(vtt, spriteVtt(task));
          await storage.putFile(task.sprite.imageKey, files.sheet);
          await storage.putFile(task.sprite.vttKey, vtt);
        } else {
          for (const [i, file] of files.frames.entries()) {
            await storage.putFile(task.keys[i]!, file);
            report(DECODE_SHARE + ((1 - DECODE_SHARE) * (i + 1)) / files.frames.length);
          }
        }
        report(1);
        return { name: task.name, keys: task.keys, ...(task.adjustments.length ? { adjustments: task.adjustments } : {}) };
      })),
    );
  };
}

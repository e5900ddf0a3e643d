/**
 * Chunked encoding of a long input, in three activities any worker may take:
 * - encodeAudio: each distinct audio setting of the group encoded once over the whole range (no
 *   priming gaps at chunk joins), stored as `{workPrefix}audio-N.mp4`;
 * - encodeChunk: one chunk of the range, decoded once, every video rendition encoded from it
 *   (`split`), stored as `{workPrefix}rI/chunk-K.mp4`;
 * - joinRenditions: each rendition's chunks joined by stream copy and muxed with its audio,
 *   checked and uploaded under the rendition's own key.
 * The intermediate objects live in the job's folder; the workflow removes them once joined.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { OutputState } from '../model/job-state';
import type { JobInput } from '../model/job';
import type { TranscodeTask } from '../media/plan';
import type { Chunk } from '../media/chunks';
import { audioTasks, chunkTasks, distinctAudio, joinArgs } from '../media/args/encode';
import { MediaflowError } from '../model/errors';
import { runFfmpeg } from './ffmpeg-run';
import { withLocalInputs } from './local-input';
import { ffmpegTimeoutMs, finishOutput, withHeartbeats, withScratchDir } from './transcode';
import { renditionResult, sharedEncode, type RenditionResult } from './encode';
import type { ActivityDeps } from './deps';

export interface ChunkedGroup {
  /** Every rendition of the group, in plan order (their index names their chunk folders). */
  tasks: TranscodeTask[];
  /** `{outputPrefix}{jobId}/.parts/{group}/`: where the intermediates go. */
  workPrefix: string;
}

export const audioKey = (g: ChunkedGroup, j: number): string => `${g.workPrefix}audio-${j}.mp4`;
export const chunkKey = (g: ChunkedGroup, taskIndex: number, chunk: number): string => `${g.workPrefix}r${taskIndex}/chunk-${String(chunk).padStart(5, '0')}.mp4`;

export function createChunkedEncoder(deps: ActivityDeps) {
  const { config, binaries, storage } = deps;
  const limits = { threads: config.FFMPEG_THREADS, maxOutputBytes: config.MAX_OUTPUT_BYTES };
  const stallMs = config.FFMPEG_STALL_SEC * 1000;

  async function putChecked(key: string, file: string, what: string): Promise<void> {
    const { size } = await fs.stat(file);
    if (size >= config.MAX_OUTPUT_BYTES) throw new MediaflowError('OutputTooLarge', `${what} reached the ${config.MAX_OUTPUT_BYTES}-byte limit`);
    await storage.putFile(key, file);
  }

  /** Each distinct audio setting of the group, encoded once over the whole range; resolves their keys. */
  async function encodeAudio(source: JobInput, group: ChunkedGroup): Promise<string[]> {
    const tasks = audioTasks(group.tasks);
    if (!tasks.length) return [];
    return sharedEncode(deps, source, tasks, { audioFiles: 'always' }, async (layout) => {
      const keys = layout.audioFiles.map((_, j) => audioKey(group, j));
      for (const [j, file] of layout.audioFiles.entries()) await putChecked(keys[j]!, file!, `the audio of "${group.tasks[0]!.name}"`);
      return keys;
    });
  }

  /** One chunk: every video rendition of the group from one decode of the chunk's range. */
  async function encodeChunk(source: JobInput, group: ChunkedGroup, chunk: Chunk): Promise<void> {
    await sharedEncode(deps, source, chunkTasks(group.tasks, chunk), { frames: chunk.frames }, async (layout) => {
      for (const r of layout.renditions) {
        const i = group.tasks.findIndex((t) => t.id === r.task.id);
        await putChecked(chunkKey(group, i, chunk.index), r.outputFile, `chunk ${chunk.index} of "${r.task.name}"`);
      }
    });
  }

  /** Each rendition's chunks joined by stream copy, with its audio; outputs in the order of `tasks`. */
  async function joinRenditions(group: ChunkedGroup, chunkCount: number): Promise<RenditionResult[]> {
    const { indexOf } = distinctAudio(group.tasks);
    return withHeartbeats(async (report, signal) => {
      const outputs: RenditionResult[] = [];
      for (const [i, task] of group.tasks.entries()) {
        const chunkKeys = task.video ? Array.from({ length: chunkCount }, (_, k) => chunkKey(group, i, k)) : [];
        const a = indexOf.get(task.id) ?? null;
        const keys = [...chunkKeys, ...(a !== null ? [audioKey(group, a)] : [])];
        outputs.push(
          await withLocalInputs(deps, keys, (files) =>
            withScratchDir(deps, async (dir) => {
              let list: string | null = null;
              if (chunkKeys.length) {
                // ffconcat names beside the list: the demuxer's safe mode accepts them.
                const names = chunkKeys.map((_, k) => `chunk-${String(k).padStart(5, '0')}.mp4`);
                await Promise.all(names.map((n, k) => fs.symlink(files[k]!, path.join(dir, n))));
                list = path.join(dir, 'list.ffconcat');
                await fs.writeFile(list, ['ffconcat version 1.0', ...names.map((n) => `file ${n}`), ''].join('\n'));
              }
              const out = path.join(dir, `output.${task.container === 'fmp4' ? 'mp4' : task.container}`);
              await runFfmpeg({
                binary: binaries.ffmpeg,
                args: joinArgs(task, list, a !== null ? files[chunkKeys.length]! : null, out, limits),
                durationSec: task.durationSec,
                onProgress: (p) => report((i + p) / group.tasks.length),
                signal,
                timeoutMs: ffmpegTimeoutMs(task.durationSec),
                stallMs,
              });
              return renditionResult(() => finishOutput(deps, task, out));
            }),
          ),
        );
      }
      return outputs;
    });
  }

  return { encodeAudio, encodeChunk, joinRenditions };
}

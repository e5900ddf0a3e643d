/**
 * Decode once: the renditions of a job that read the same input range are encoded by ONE ffmpeg
 * process. The input is decoded once and `split` into one filter chain + encoder per rendition;
 * each distinct audio setting is encoded once. An audio setting that only one rendition uses is
 * encoded straight into that rendition's file; one that several share is encoded into a file of
 * its own, and each of them is then muxed with it by stream copy (`remuxArgs`). Pure: tasks in,
 * argv out.
 */
import type { Chunk } from '../chunks';
import type { AudioPlan, TranscodeTask } from '../plan';
import { commonArgs, inputArgs } from './input';
import { CONCAT_VIDEO, concatAudio, concatFilter, concatInputArgs } from './concat';
import { audioArgs, muxers, videoEncoders, watermarkedChains, type RunLimits } from './transcode';
import { burnFilter } from './subtitles';

/** What one shared run writes, and what each rendition is made of. */
export interface EncodeLayout {
  /** The distinct audio encodes, in first-use order. */
  audio: AudioPlan[];
  renditions: {
    task: TranscodeTask;
    /** Index into `audio`, or null for a rendition without audio. */
    audio: number | null;
    /** Its audio is shared with other renditions: muxed in after the encode (`remuxArgs`). */
    remux: boolean;
    /** The encode writes the rendition's video here (`video-N.*`); null for an audio-only rendition. */
    videoFile: string | null;
    /** The finished rendition: written by the encode itself, or by its remux. */
    outputFile: string;
  }[];
  /** Per distinct audio setting, the file it is encoded into; null when its one user takes it directly. */
  audioFiles: (string | null)[];
}

function extensionOf(container: TranscodeTask['container']): string {
  return container === 'fmp4' ? 'mp4' : container;
}

/** The same clip (or none): one decode can feed them all. */
export function sameRange(a: TranscodeTask, b: TranscodeTask): boolean {
  return JSON.stringify(a.clip) === JSON.stringify(b.clip);
}

/**
 * Groups transcode tasks into shared runs: one per distinct input range, in plan order.
 *
 * @example groupByRange(tasks).map((g) => g.map((t) => t.id))
 */
export function groupByRange(tasks: TranscodeTask[]): TranscodeTask[][] {
  const groups: TranscodeTask[][] = [];
  for (const t of tasks) {
    const g = groups.find((x) => sameRange(x[0]!, t));
    if (g) g.push(t);
    else groups.push([t]);
  }
  return groups;
}

/**
 * Where each file of a shared run goes inside `dir`. A rendition without audio, or the only user
 * of its audio setting, is written by the encode straight into its own container. One whose audio
 * is shared gets its video in MP4 (which holds every codec we encode) and is muxed with the shared
 * audio file afterwards. `audioFiles: 'always'` writes every audio setting to a file of its own
 * (the audio run of a chunked group, whose files are joined later).
 *
 * @example encodeLayout(tasks, '/scratch/run')
 */
export function encodeLayout(tasks: TranscodeTask[], dir: string, options: { audioFiles?: 'shared' | 'always' } = {}): EncodeLayout {
  if (!tasks.length) throw new Error('encodeLayout: no tasks');
  const { audio, indexOf } = distinctAudio(tasks);
  const users = audio.map((_, j) => tasks.filter((t) => indexOf.get(t.id) === j).length);
  const ownFile = audio.map((_, j) => options.audioFiles === 'always' || users[j]! > 1);
  const renditions = tasks.map((task, i) => {
    const a = indexOf.get(task.id) ?? null;
    const remux = a !== null && ownFile[a]!;
    const outputFile = `${dir}/output-${i}.${extensionOf(task.container)}`;
    const videoFile = task.video ? (remux ? `${dir}/video-${i}.mp4` : outputFile) : null;
    return { task, audio: a, remux, videoFile, outputFile };
  });
  return { audio, renditions, audioFiles: audio.map((_, j) => (ownFile[j] ? `${dir}/audio-${j}.mp4` : null)) };
}

/**
 * The distinct audio settings of `tasks` in first-use order, and which one each task uses: the
 * same setting is encoded once and shared.
 *
 * @example distinctAudio(ladderRungs).audio.length // 1
 */
export function distinctAudio(tasks: TranscodeTask[]): { audio: AudioPlan[]; indexOf: Map<string, number> } {
  const keys: string[] = [];
  const audio: AudioPlan[] = [];
  const indexOf = new Map<string, number>();
  for (const t of tasks) {
    if (!t.audio) continue;
    const key = JSON.stringify(t.audio);
    let a = keys.indexOf(key);
    if (a < 0) {
      a = keys.push(key) - 1;
      audio.push(t.audio);
    }
    indexOf.set(t.id, a);
  }
  return { audio, indexOf };
}

/**
 * One ffmpeg run for every rendition of `layout`: `split` → scale/pad/crop/fps (+ watermarks) →
 * encoder per rendition; each distinct audio setting encoded once. `watermarkAssets[i]` are the
 * local files of rendition i's watermarks (empty for a rendition without video).
 *
 * @example encodeArgs(layout, '/cache/in.mp4', limits, layout.renditions.map(() => []))
 */
export function encodeArgs(
  layout: EncodeLayout,
  input: string | string[],
  limits: RunLimits,
  watermarkAssets: string[][],
  frames: Record<string, number | null> = {},
  /** Per rendition: a prepared subtitle file (ASS, timed to the range) to burn in, or null. */
  burnFiles: (string | null)[] = [],
): string[] {
  const { renditions } = layout;
  const clip = renditions[0]!.task.clip;
  // A concatenation (media/args/concat.ts): its inputs joined into [cv]/[ca] first, split from there.
  const concat = renditions[0]!.task.concat ?? null;
  const inputs = typeof input === 'string' ? [input] : input;
  const joinedAudio = concat ? concatAudio(layout.audio) : null;
  // Audio setting j's map and encoder: from the joined audio of a concatenation, else the input's.
  const audioOf = (j: number): string[] => (joinedAudio ? joinedAudio.args[j]! : audioArgs(layout.audio[j]!));
  renditions.forEach((r, i) => {
    if (!sameRange(r.task, renditions[0]!.task)) throw new Error(`encodeArgs: ${r.task.id} reads another input range`);
    const wanted = r.task.video ? r.task.watermarks.length : 0;
    if ((watermarkAssets[i]?.length ?? 0) !== wanted) throw new Error(`encodeArgs: ${r.task.id} has ${wanted} watermarks planned, ${watermarkAssets[i]?.length ?? 0} assets given`);
  });
  const videos = renditions.filter((r) => r.task.video);
  // Each watermark use is an input of its own (a stream feeds one filter pad), after the source.
  const assetInputs: string[] = [];
  const graph: string[] = concat ? [...concatFilter(concat), ...joinedAudio!.chains] : [];
  if (videos.length) graph.push(`[${concat ? CONCAT_VIDEO : '0:v:0'}]split=${videos.length}${videos.map((_, k) => `[src${k}]`).join('')}`);
  const videoOutputs: string[][] = [];
  renditions.forEach((r, i) => {
    const v = r.task.video;
    if (!v) return;
    const k = videoOutputs.length;
    const { chains, out: picture } = watermarkedChains(v, r.task.watermarks, `src${k}`, inputs.length + assetInputs.length, `r${k}`);
    assetInputs.push(...(watermarkAssets[i] ?? []));
    graph.push(...chains);
    // Subtitles burnt in last, over the scaled picture and its watermarks.
    const burn = burnFiles[i];
    const out = burn ? `r${k}subs` : picture;
    if (burn) graph.push(`[${picture}]${burnFilter(burn)}[${out}]`);
    videoOutputs.push([
      ...(clip ? ['-t', clip.durationSec.toFixed(3)] : []),
      // A chunk ends on an exact frame count: joined chunks lose and repeat no frame.
      ...(typeof frames[r.task.id] === 'number' ? ['-frames:v', String(frames[r.task.id])] : []),
      '-map', `[${out}]`,
      ...videoEncoders[v.codec](v),
      '-pix_fmt', v.pixFmt,
      // Its audio encoded right here when no other rendition shares it.
      ...(r.audio !== null && !r.remux ? audioOf(r.audio) : ['-an']),
      '-sn', '-dn', '-map_metadata', '-1',
      ...(limits.threads > 0 ? ['-threads', String(limits.threads)] : []),
      '-fs', String(limits.maxOutputBytes),
      // The rendition itself, or an MP4 to mux with its shared audio.
      ...(r.remux ? ['-f', 'mp4'] : muxers[r.task.container]),
      r.videoFile!,
    ]);
  });
  // An audio-only rendition that is the one user of its setting is written here, in its container.
  const audioOnly = renditions.filter((r) => !r.task.video && r.audio !== null && !r.remux);
  const audioOutputs = [
    ...layout.audio.flatMap((_, j) => (layout.audioFiles[j] ? [{ j, muxer: ['-f', 'mp4'], file: layout.audioFiles[j]! }] : [])),
    ...audioOnly.map((r) => ({ j: r.audio!, muxer: muxers[r.task.container], file: r.outputFile })),
  ].map(({ j, muxer, file }) => [
    ...(clip ? ['-t', clip.durationSec.toFixed(3)] : []),
    ...audioOf(j),
    '-vn', '-sn', '-dn', '-map_metadata', '-1',
    '-fs', String(limits.maxOutputBytes),
    ...muxer,
    file,
  ]);
  return [
    ...commonArgs(),
    ...(concat ? concatInputArgs(concat, inputs) : inputArgs(inputs[0]!, clip?.startSec)),
    // Our own prepared PNGs, opened as PNG only.
    ...assetInputs.flatMap((a) => inputArgs(a, undefined, ['png_pipe'])),
    ...(graph.length ? ['-filter_complex', graph.join(';')] : []),
    ...videoOutputs.flat(),
    ...audioOutputs.flat(),
  ];
}

/**
 * A rendition's video and its (shared) audio muxed into the rendition's container: stream copy,
 * no second encode. Video-less renditions take the audio alone.
 *
 * @example remuxArgs(layout.renditions[0], layout.audioFiles[0], limits)
 */
export function remuxArgs(r: EncodeLayout['renditions'][number], audioFile: string, limits: Pick<RunLimits, 'maxOutputBytes'>): string[] {
  const v = r.task.video;
  return [
    ...commonArgs(),
    ...(r.videoFile ? inputArgs(r.videoFile, undefined, ['mov']) : []),
    ...inputArgs(audioFile, undefined, ['mov']),
    ...(r.videoFile ? ['-map', '0:v:0', '-map', '1:a:0'] : ['-map', '0:a:0']),
    '-c', 'copy',
    // Apple players only accept HEVC tagged hvc1: the tag is the muxer's choice, so say it again.
    ...(v?.codec === 'h265' ? ['-tag:v', 'hvc1'] : []),
    '-map_metadata', '-1',
    '-fs', String(limits.maxOutputBytes),
    ...muxers[r.task.container],
    r.outputFile,
  ];
}

/**
 * The tasks as one chunk sees them: video only, as MP4 files to be joined, over the chunk's part
 * of the range, with watermark windows moved to the chunk's own clock.
 *
 * @example encodeArgs(encodeLayout(chunkTasks(tasks, chunk), dir), input, limits, assets, chunk.frames)
 */
export function chunkTasks(tasks: TranscodeTask[], chunk: Chunk): TranscodeTask[] {
  return tasks
    .filter((t) => t.video)
    .map((t) => {
      const startSec = Math.round(((t.clip?.startSec ?? 0) + chunk.startSec) * 1000) / 1000;
      const durationSec = chunk.durationSec ?? Math.round((t.durationSec - chunk.startSec) * 1000) / 1000;
      return {
        ...t,
        container: 'mp4',
        audio: null,
        clip: { startSec, durationSec },
        durationSec,
        watermarks: t.watermarks.map((w) => ({ ...w, startSec: w.startSec - chunk.startSec, endSec: w.endSec === null ? null : w.endSec - chunk.startSec })),
      };
    });
}

/** The tasks as the audio run of a chunked group sees them: audio only, over the whole range. */
export function audioTasks(tasks: TranscodeTask[]): TranscodeTask[] {
  return tasks.filter((t) => t.audio).map((t) => ({ ...t, video: null, watermarks: [] }));
}

/**
 * A rendition's chunks (listed in `listFile`, an ffconcat file of names beside it) joined by stream
 * copy, muxed with its audio when it has some, into its own container.
 *
 * @example joinArgs(task, '/scratch/r0/list.ffconcat', '/scratch/audio-0.mp4', '/scratch/out.mp4', limits)
 */
export function joinArgs(task: TranscodeTask, listFile: string | null, audioFile: string | null, output: string, limits: Pick<RunLimits, 'maxOutputBytes'>): string[] {
  if (!listFile && !audioFile) throw new Error(`joinArgs: ${task.id} has neither video chunks nor audio`);
  return [
    ...commonArgs(),
    // Our own list of our own chunk files: the concat demuxer never sees user input.
    ...(listFile ? ['-f', 'concat', ...inputArgs(listFile, undefined, ['concat', 'mov'])] : []),
    ...(audioFile ? inputArgs(audioFile, undefined, ['mov']) : []),
    ...(listFile ? ['-map', '0:v:0'] : []),
    ...(audioFile ? ['-map', `${listFile ? 1 : 0}:a:0`] : []),
    '-c', 'copy',
    ...(task.video?.codec === 'h265' ? ['-tag:v', 'hvc1'] : []),
    '-map_metadata', '-1',
    '-fs', String(limits.maxOutputBytes),
    ...muxers[task.container],
    output,
  ];
}

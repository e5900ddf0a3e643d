/**
 * Decode once: the renditions of a job that read the same input range are encoded by ONE ffmpeg
 * process. The input is decoded once and `split` into one filter chain + encoder per rendition;
 * each distinct audio setting is encoded once into a file of its own, and each rendition is then
 * muxed with its audio by stream copy (`remuxArgs`). Pure: tasks in, argv out.
 */
import type { AudioPlan, TranscodeTask } from '../plan';
import { commonArgs, inputArgs } from './input';
import { audioArgs, muxers, videoEncoders, watermarkedChains, type RunLimits } from './transcode';

/** What one shared run writes, and what each rendition is made of. */
export interface EncodeLayout {
  /** The distinct audio encodes, in first-use order. */
  audio: AudioPlan[];
  renditions: {
    task: TranscodeTask;
    /** Index into `audio`, or null for a rendition without audio. */
    audio: number | null;
    /** The encode writes the rendition's video here (`video-N.*`); null for an audio-only rendition. */
    videoFile: string | null;
    /** The finished rendition: the video file itself when there is no audio to add, else a remux. */
    outputFile: string;
  }[];
  audioFiles: string[];
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
 * Where each file of a shared run goes inside `dir`. A rendition without audio is written by the
 * encode straight into its own container; one with audio gets its video in MP4 (which holds every
 * codec we encode) and is muxed with its audio afterwards.
 *
 * @example encodeLayout(tasks, '/scratch/run')
 */
export function encodeLayout(tasks: TranscodeTask[], dir: string): EncodeLayout {
  if (!tasks.length) throw new Error('encodeLayout: no tasks');
  const keys: string[] = [];
  const audio: AudioPlan[] = [];
  const renditions = tasks.map((task, i) => {
    let a: number | null = null;
    if (task.audio) {
      const key = JSON.stringify(task.audio);
      a = keys.indexOf(key);
      if (a < 0) {
        a = keys.push(key) - 1;
        audio.push(task.audio);
      }
    }
    const ext = extensionOf(task.container);
    const outputFile = `${dir}/output-${i}.${ext}`;
    const videoFile = task.video ? (a === null ? outputFile : `${dir}/video-${i}.mp4`) : null;
    return { task, audio: a, videoFile, outputFile };
  });
  return { audio, renditions, audioFiles: audio.map((_, j) => `${dir}/audio-${j}.mp4`) };
}

/**
 * One ffmpeg run for every rendition of `layout`: `split` → scale/pad/crop/fps (+ watermarks) →
 * encoder per rendition; each distinct audio setting encoded once. `watermarkAssets[i]` are the
 * local files of rendition i's watermarks (empty for a rendition without video).
 *
 * @example encodeArgs(layout, '/cache/in.mp4', limits, layout.renditions.map(() => []))
 */
export function encodeArgs(layout: EncodeLayout, input: string, limits: RunLimits, watermarkAssets: string[][]): string[] {
  const { renditions } = layout;
  const clip = renditions[0]!.task.clip;
  renditions.forEach((r, i) => {
    if (!sameRange(r.task, renditions[0]!.task)) throw new Error(`encodeArgs: ${r.task.id} reads another input range`);
    const wanted = r.task.video ? r.task.watermarks.length : 0;
    if ((watermarkAssets[i]?.length ?? 0) !== wanted) throw new Error(`encodeArgs: ${r.task.id} has ${wanted} watermarks planned, ${watermarkAssets[i]?.length ?? 0} assets given`);
  });
  const videos = renditions.filter((r) => r.task.video);
  // Each watermark use is an input of its own (a stream feeds one filter pad), after the source.
  const assetInputs: string[] = [];
  const graph: string[] = [];
  if (videos.length) graph.push(`[0:v:0]split=${videos.length}${videos.map((_, k) => `[src${k}]`).join('')}`);
  const videoOutputs: string[][] = [];
  renditions.forEach((r, i) => {
    const v = r.task.video;
    if (!v) return;
    const k = videoOutputs.length;
    const { chains, out } = watermarkedChains(v, r.task.watermarks, `src${k}`, 1 + assetInputs.length, `r${k}`);
    assetInputs.push(...(watermarkAssets[i] ?? []));
    graph.push(...chains);
    videoOutputs.push([
      ...(clip ? ['-t', clip.durationSec.toFixed(3)] : []),
      '-map', `[${out}]`,
      ...videoEncoders[v.codec](v),
      '-pix_fmt', v.pixFmt,
      '-an', '-sn', '-dn', '-map_metadata', '-1',
      ...(limits.threads > 0 ? ['-threads', String(limits.threads)] : []),
      '-fs', String(limits.maxOutputBytes),
      // Without audio to add, this is the rendition itself; else an MP4 to mux with its audio.
      ...(r.audio === null ? muxers[r.task.container] : ['-f', 'mp4']),
      r.videoFile!,
    ]);
  });
  const audioOutputs = layout.audio.map((a, j) => [
    ...(clip ? ['-t', clip.durationSec.toFixed(3)] : []),
    ...audioArgs(a),
    '-vn', '-sn', '-dn', '-map_metadata', '-1',
    '-fs', String(limits.maxOutputBytes),
    '-f', 'mp4',
    layout.audioFiles[j]!,
  ]);
  return [
    ...commonArgs(),
    ...inputArgs(input, clip?.startSec),
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

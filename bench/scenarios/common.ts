/** What the scenarios share: the run's settings, the record of each job, source clips, commands. */
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SnapshotTask, TranscodeTask } from '../../media/plan';
import { snapshotArgs, snapshotFiles } from '../../media/args/snapshot';
import { transcodeArgs } from '../../media/args/transcode';
import { encodeArgs, encodeLayout, remuxArgs } from '../../media/args/encode';
import { makeClip } from '../../test/helpers/media';
import type { JobTimeline } from '../history';
import type { Command } from '../processes';
import type { BenchService } from '../service';

export interface BenchSettings {
  quick: boolean;
  ladderSourceSec: number;
  /** Ladder job + baselines, repeated: the table shows medians. */
  ladderRounds: number;
  smallJobs: number;
  posterSamples: number;
  /** The long-input scenario's source (and the head-of-line scenario's long jobs), seconds. */
  longSourceSec: number;
  apiSubmits: number;
  apiGets: number;
  apiClients: number;
  /** The burst scenario's jobs on the cluster (API, then the raw-client baseline). */
  burstJobs: number;
  /** Scratch space for sources and baseline outputs. */
  workDir: string;
}

/** A job the bench ran, kept for the overhead breakdown. */
export interface JobRecord {
  scenario: string;
  id: string;
  inputKey: string;
  postMs: number;
  /** When the client saw the result: a GET answer, or the workflow's close for long-polled jobs. */
  seenMs: number;
  timeline: JobTimeline;
}

/** CPU time a job cost, per process (ms). */
export interface CpuUse {
  serviceMs: number;
  workerMs: number;
  /** Part of workerMs: its ffmpeg/ffprobe processes (the rest is the worker's Node process). */
  workerChildrenMs: number;
  temporalMs: number;
  apiMs: number;
}

export interface Source {
  file: string;
  description: string;
  command: string[];
}

/** A testsrc2 + sine H.264/AAC clip made with the test helper (libx264 ultrafast). */
export async function makeSource(dir: string, name: string, width: number, height: number, durationSec: number): Promise<Source> {
  const file = path.join(dir, name);
  const command = await makeClip(file, { width, height, durationSec, fps: 30 });
  return { file, description: `${durationSec} s ${width}x${height} 30 fps H.264/AAC (lavfi testsrc2 + sine)`, command };
}

/** The service's own command for a transcode task, pointed at the same input and a scratch output. */
export function transcodeCommand(service: BenchService, task: TranscodeTask, input: string, outDir: string, tag = ''): Command {
  const out = path.join(outDir, `${task.name.replace(/\W/g, '_')}${tag}.${task.container === 'fmp4' ? 'mp4' : task.container}`);
  return { label: task.name, binary: service.binaries.ffmpeg, args: transcodeArgs(task, input, out, service.limits), output: out };
}

/**
 * The worker's own commands for one shared encode (media/args/encode.ts, as activities/encode.ts
 * runs them): one ffmpeg run that decodes once and writes every rendition's video and each
 * distinct audio once (straight into the rendition when only one uses it), then a stream-copy remux
 * per rendition that shares its audio. No watermarks (the
 * bench asks for none).
 */
export function sharedEncodeCommands(service: BenchService, tasks: TranscodeTask[], input: string, outDir: string): { encode: Command; remuxes: (Command & { task: TranscodeTask })[] } {
  mkdirSync(outDir, { recursive: true });
  const layout = encodeLayout(tasks, outDir);
  const encode: Command = {
    label: `decode once: ${tasks.map((t) => t.name).join(', ')}`,
    binary: service.binaries.ffmpeg,
    args: encodeArgs(layout, input, service.limits, layout.renditions.map(() => [])),
    output: layout.renditions[0]!.videoFile ?? layout.renditions[0]!.outputFile,
  };
  const remuxes = layout.renditions.flatMap((r) =>
    r.remux ? [{ task: r.task, label: `remux ${r.task.name}`, binary: service.binaries.ffmpeg, args: remuxArgs(r, layout.audioFiles[r.audio!]!, service.limits), output: r.outputFile }] : [],
  );
  return { encode, remuxes };
}

/** The service's own command for a snapshot task; it writes into a directory of its own, as in the worker. */
export function snapshotCommand(service: BenchService, task: SnapshotTask, input: string, outDir: string, tag = ''): Command {
  const dir = path.join(outDir, `${task.name.replace(/\W/g, '_')}${tag}`);
  mkdirSync(dir, { recursive: true });
  const files = snapshotFiles(task, dir);
  return { label: task.name, binary: service.binaries.ffmpeg, args: snapshotArgs(task, input, dir), output: files.sheet ?? files.frames[0]! };
}

/** How a command reads in the result file: the binary and its argv, as run. */
export function shown(cmd: Command): string[] {
  return [cmd.binary, ...cmd.args];
}

export function loadAverage(): number[] {
  return os.loadavg().map((l) => Math.round(l * 100) / 100);
}

/**
 * The package activity: the finished rungs of a ladder cut into HLS or DASH segments (stream copy,
 * no second encode), uploaded beside a master playlist / manifest written last.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { MediaflowError } from '../model/errors';
import type { OutputState, RenditionState } from '../model/job-state';
import type { PackageTask } from '../media/plan';
import { bandwidthOf, codecsOf, dashArgs, fixMpd, hlsRungArgs, masterPlaylist, parseMediaPlaylist, parseMpd, type RungFacts } from '../media/args/package';
import type { ProbeJson } from '../media/probe-parse';
import { runFfmpeg } from './ffmpeg-run';
import { ffprobeJson } from './probe';
import { withLocalInputs } from './local-input';
import { ffmpegTimeoutMs, withHeartbeats, withScratchDir } from './transcode';
import type { ActivityDeps } from './deps';
import type { JobInput } from '../model/job';
import type { SubtitleOutputState } from '../model/job-state';
import { bcp47 } from '../media/subtitles';
import { parseVtt, segmentCues, segmentName, subtitlePlaylist, vttDocument, withSubtitleGroup, withTextAdaptationSets, type SubtitleRendition } from '../media/args/subtitles';
import { attachedKeys, describeSource, localSource, subtitleFile } from './subtitles';

export interface PackageInput {
  task: PackageTask;
  /** The rungs' files in the store, highest first, with the names of their folders. */
  rungs: { name: string; key: string }[];
  /** The job's input, when the task has subtitle tracks (its own tracks are read from it). */
  input?: JobInput;
}

/**
 * The task's subtitle tracks as WebVTT renditions in `dir`: HLS a segmented media playlist per
 * track (`subs.0.en/index.m3u8` + `seg_NNNNN.vtt`, cut like the video), DASH one `.vtt` per track.
 */
async function subtitleRenditions(
  deps: ActivityDeps,
  task: PackageTask,
  local: { input: string | null; files: Map<string, string> },
  dir: string,
  /** HLS: the video's segment durations, which the tracks are cut to. */
  segmentDurations: number[],
  run: (args: string[], seconds: number) => Promise<void>,
): Promise<SubtitleRendition[]> {
  const out: SubtitleRendition[] = [];
  for (const plan of task.subtitles ?? []) {
    const source = localSource(plan.source, local.input ?? '', local.files);
    const vtt = path.join(dir, `${plan.id}.vtt`);
    await subtitleFile(deps, run, source, vtt, task.clip ?? null, 'webvtt', describeSource(plan.source));
    const cues = parseVtt(await fs.readFile(vtt, 'utf8'));
    if (task.format === 'dash') {
      await fs.writeFile(vtt, vttDocument(cues));
      out.push({ plan, uri: `${plan.id}.vtt` });
      continue;
    }
    await fs.rm(vtt);
    const trackDir = path.join(dir, plan.id);
    await fs.mkdir(trackDir);
    const segments = segmentCues(cues, segmentDurations);
    for (const [i, s] of segments.entries()) await fs.writeFile(path.join(trackDir, segmentName(i)), vttDocument(s.cues, { hls: true }));
    await fs.writeFile(path.join(trackDir, 'index.m3u8'), subtitlePlaylist(segments));
    out.push({ plan, uri: `${plan.id}/index.m3u8` });
  }
  return out;
}


function factsOf(json: ProbeJson, name: string): RungFacts & { durationSec: number } {
  const streams = (json.streams ?? []) as Array<Record<string, unknown>>;
  const v = streams.find((s) => s.codec_type === 'video');
  const a = streams.find((s) => s.codec_type === 'audio');
  if (!v) throw new MediaflowError('EncodeFailed', `rung "${name}" has no video stream`);
  const [n, d] = String(v.avg_frame_rate ?? '0/1').split('/').map(Number);
  return {
    video: {
      codec: String(v.codec_name),
      profile: String(v.profile ?? ''),
      level: Number(v.level ?? 0),
      width: Number(v.width),
      height: Number(v.height),
      fps: n && d ? n / d : 0,
    },
    audio: a ? { codec: String(a.codec_name), profile: String(a.profile ?? ''), channels: Number(a.channels ?? 0), sampleRate: Number(a.sample_rate ?? 0) } : null,
    durationSec: Number(json.format?.duration ?? 0),
  };
}

/** Every file under `dir`, as paths relative to it (`720p/seg_00001.m4s`). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
}

export function createPackager(deps: ActivityDeps) {
  const { config, storage, binaries } = deps;

  async function upload(dir: string, folderKey: string, last: string): Promise<number> {
    const files = (await filesUnder(dir)).filter((f) => f !== last);
    let bytes = 0;
    // The playlist/manifest goes last: once it exists, everything it names exists.
    for (const rel of [...files.sort(), last]) bytes += (await storage.putFile(`${folderKey}${rel}`, path.join(dir, rel))).sizeBytes;
    return bytes;
  }

  return async function packageRungs(input: PackageInput): Promise<OutputState> {
    const { task, rungs } = input;
    if (!rungs.length) throw new MediaflowError('OutputNotPossible', `output "${task.name}" has no rung to package`);
    const folderKey = task.outputKey.slice(0, task.outputKey.lastIndexOf('/') + 1);
    const subtitleKeys = attachedKeys((task.subtitles ?? []).map((s) => s.source));
    const withInput = Boolean(input.input && task.subtitles?.some((s) => 'stream' in s.source));
    return withLocalInputs(deps, [...rungs.map((r) => r.key), ...(withInput ? [input.input!] : []), ...subtitleKeys], (all) =>
      withHeartbeats(async (report, signal) =>
        withScratchDir(deps, async (dir) => {
          const files = all.slice(0, rungs.length);
          const local = { input: withInput ? all[rungs.length]! : null, files: new Map(subtitleKeys.map((k, j) => [k, all[rungs.length + (withInput ? 1 : 0) + j]!])) };
          const facts = await Promise.all(files.map(async (f, i) => factsOf(await ffprobeJson(binaries.ffprobe, f), rungs[i]!.name)));
          const durationSec = facts[0]!.durationSec;
          const limits = { durationSec, signal, timeoutMs: ffmpegTimeoutMs(durationSec), stallMs: config.FFMPEG_STALL_SEC * 1000 };
          const renditions: RenditionState[] = [];
          const run = (args: string[], seconds: number) => runFfmpeg({ binary: binaries.ffmpeg, args, ...limits, durationSec: seconds });
          let subtitles: SubtitleRendition[] = [];
          let manifest: string;
          if (task.format === 'hls') {
            const entries = [];
            let firstSegments: number[] = [];
            for (const [i, rung] of rungs.entries()) {
              const rungDir = path.join(dir, rung.name);
              await fs.mkdir(rungDir);
              await runFfmpeg({ binary: binaries.ffmpeg, args: hlsRungArgs(files[i]!, rungDir, task.segmentSec), ...limits, onProgress: (p) => report((i + p) / rungs.length) });
              const segments = parseMediaPlaylist(await fs.readFile(path.join(rungDir, 'index.m3u8'), 'utf8'));
              const sized = await Promise.all(segments.map(async (s) => ({ durationSec: s.durationSec, bytes: (await fs.stat(path.join(rungDir, s.uri))).size })));
              if (i === 0) firstSegments = segments.map((s) => s.durationSec);
              const bandwidth = bandwidthOf(sized, (await fs.stat(path.join(rungDir, 'init.mp4'))).size);
              const uri = `${rung.name}/index.m3u8`;
              entries.push({ uri, facts: facts[i]!, bandwidth });
              renditions.push(renditionOf(rung.name, `${folderKey}${uri}`, facts[i]!, bandwidth.peak));
            }
            manifest = 'master.m3u8';
            // The tracks cut like the top rung's video (every rung has the same boundaries).
            subtitles = await subtitleRenditions(deps, task, local, dir, firstSegments, run);
            await fs.writeFile(path.join(dir, manifest), withSubtitleGroup(masterPlaylist(entries), subtitles));
          } else {
            subtitles = await subtitleRenditions(deps, task, local, dir, [], run);
            await runFfmpeg({ binary: binaries.ffmpeg, args: dashArgs(files, facts[0]!.audio !== null, dir, task.segmentSec, facts.map((f) => f.video)), ...limits, onProgress: report });
            manifest = 'manifest.mpd';
            const mpdFile = path.join(dir, manifest);
            const mpd = await fs.readFile(mpdFile, 'utf8');
            const reps = parseMpd(mpd);
            // Each representation's peak, measured from its own segments as for HLS. The video
            // representations come first, one per rung in rung order (dashArgs maps them so).
            const peaks = new Map<string, number>();
            for (const r of reps) {
              const sized = await Promise.all(r.segments.map(async (s) => ({ durationSec: s.durationSec, bytes: (await fs.stat(path.join(dir, s.uri))).size })));
              peaks.set(r.id, bandwidthOf(sized, (await fs.stat(path.join(dir, r.init))).size).peak);
            }
            await fs.writeFile(mpdFile, withTextAdaptationSets(fixMpd(mpd, reps, peaks), subtitles));
            for (const [i, rung] of rungs.entries()) renditions.push(renditionOf(rung.name, `${folderKey}${manifest}`, facts[i]!, peaks.get(reps[i]?.id ?? '') ?? null));
          }
          const sizeBytes = await upload(dir, folderKey, manifest);
          const top = facts[0]!;
          return {
            name: task.name,
            key: task.outputKey,
            sizeBytes,
            durationSec: Math.round(durationSec * 1000) / 1000,
            video: { codec: top.video.codec, width: top.video.width, height: top.video.height, bitrateKbps: null },
            audio: top.audio ? { codec: top.audio.codec, channels: top.audio.channels, sampleRate: top.audio.sampleRate, bitrateKbps: null } : null,
            renditions,
            ...(subtitles.length ? { subtitles: subtitles.map((s) => subtitleState(s, folderKey)) } : {}),
          };
        }),
      ),
    );
  };
}

function renditionOf(name: string, key: string, facts: RungFacts, bandwidth: number | null): RenditionState {
  const v = facts.video;
  return { name, key, width: v.width, height: v.height, fps: Math.round(v.fps * 1000) / 1000, codecs: codecsOf(facts), bandwidth };
}

function subtitleState(s: SubtitleRendition, folderKey: string): SubtitleOutputState {
  return { language: bcp47(s.plan.language), name: s.plan.name, default: s.plan.default, forced: s.plan.forced, key: `${folderKey}${s.uri}` };
}

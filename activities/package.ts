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

export interface PackageInput {
  task: PackageTask;
  /** The rungs' files in the store, highest first, with the names of their folders. */
  rungs: { name: string; key: string }[];
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
    return withLocalInputs(deps, rungs.map((r) => r.key), (files) =>
      withHeartbeats(async (report, signal) =>
        withScratchDir(deps, async (dir) => {
          const facts = await Promise.all(files.map(async (f, i) => factsOf(await ffprobeJson(binaries.ffprobe, f), rungs[i]!.name)));
          const durationSec = facts[0]!.durationSec;
          const limits = { durationSec, signal, timeoutMs: ffmpegTimeoutMs(durationSec), stallMs: config.FFMPEG_STALL_SEC * 1000 };
          const renditions: RenditionState[] = [];
          let manifest: string;
          if (task.format === 'hls') {
            const entries = [];
            for (const [i, rung] of rungs.entries()) {
              const rungDir = path.join(dir, rung.name);
              await fs.mkdir(rungDir);
              await runFfmpeg({ binary: binaries.ffmpeg, args: hlsRungArgs(files[i]!, rungDir, task.segmentSec), ...limits, onProgress: (p) => report((i + p) / rungs.length) });
              const segments = parseMediaPlaylist(await fs.readFile(path.join(rungDir, 'index.m3u8'), 'utf8'));
              const sized = await Promise.all(segments.map(async (s) => ({ durationSec: s.durationSec, bytes: (await fs.stat(path.join(rungDir, s.uri))).size })));
              const bandwidth = bandwidthOf(sized, (await fs.stat(path.join(rungDir, 'init.mp4'))).size);
              const uri = `${rung.name}/index.m3u8`;
              entries.push({ uri, facts: facts[i]!, bandwidth });
              renditions.push(renditionOf(rung.name, `${folderKey}${uri}`, facts[i]!, bandwidth.peak));
            }
            manifest = 'master.m3u8';
            await fs.writeFile(path.join(dir, manifest), masterPlaylist(entries));
          } else {
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
            await fs.writeFile(mpdFile, fixMpd(mpd, reps, peaks));
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

/**
 * The package activity: the finished rungs of a ladder cut into HLS or DASH segments (stream copy,
 * no second encode), uploaded beside a master playlist / manifest written last.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { MediaflowError } from '../model/errors';
import type { JobInput } from '../model/job';
import { keyForTenant } from '../model/keys';
import type { AudioTrackState, OutputState, RenditionState, SubtitleOutputState } from '../model/job-state';
import type { PackageTask } from '../media/plan';
import {
  audioCodecOf, audioTrackNames, bandwidthOf, codecsOf, dashArgs, encryptPlaylist, extraAudioArgs, fixMpd, groupedMasterPlaylist, hlsRungArgs,
  mainAudioRole, mediaSequenceOf, parseMediaPlaylist, parseMpd, sequenceIv, type AudioEntry, type MasterEntry, type RungFacts,
} from '../media/args/package';
import type { ProbeJson } from '../media/probe-parse';
import { bcp47 } from '../media/subtitles';
import { parseVtt, segmentCues, segmentName, subtitlePlaylist, vttDocument, withSubtitleGroup, withTextAdaptationSets, type SubtitleRendition } from '../media/args/subtitles';
import { attachedKeys, describeSource, localSource, subtitleFile } from './subtitles';
import { runFfmpeg } from './ffmpeg-run';
import { ffprobeJson } from './probe';
import { withLocalInputs } from './local-input';
import { ffmpegTimeoutMs, withHeartbeats, withScratchDir } from './transcode';
import type { ActivityDeps } from './deps';

export interface PackageInput {
  task: PackageTask;
  /** The rungs' files in the store, highest first, with the names of their folders. */
  rungs: { name: string; key: string }[];
  /**
   * The job's input: the audio tracks the rungs do not carry are encoded from it, and its own
   * subtitle tracks read (absent in older histories).
   */
  input?: JobInput;
}

/** One audio track of the presentation, as the package step sees it. */
interface Track {
  streamIndex: number;
  language: string | null;
  default: boolean;
  /** The rungs' own audio (taken from the first rung), else encoded here into `file`. */
  primary: boolean;
  file?: string;
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
    const plan = task.audio;
    const tracks: Track[] = plan
      ? plan.tracks.map((t) => ({ ...t, primary: t.streamIndex === plan.plan.streamIndex }))
      : [{ streamIndex: 0, language: null, default: true, primary: true }];
    const extra = tracks.filter((t) => !t.primary);
    if (extra.length && !input.input) throw new MediaflowError('OutputNotPossible', `output "${task.name}": the input is needed to encode its other audio tracks`);
    const subtitleKeys = attachedKeys((task.subtitles ?? []).map((s) => s.source));
    const fromInput = Boolean(input.input && task.subtitles?.some((s) => 'stream' in s.source));
    const withInput = extra.length > 0 || fromInput;
    const sources = [...rungs.map((r) => r.key), ...(withInput ? [input.input!] : []), ...subtitleKeys];
    return withLocalInputs(deps, sources, (local) =>
      withHeartbeats(async (report, signal) =>
        withScratchDir(deps, async (dir) => {
          const files = local.slice(0, rungs.length);
          const subtitleSources = { input: withInput ? local[rungs.length]! : null, files: new Map(subtitleKeys.map((k, j) => [k, local[rungs.length + (withInput ? 1 : 0) + j]!])) };
          const facts = await Promise.all(files.map(async (f, i) => factsOf(await ffprobeJson(binaries.ffprobe, f), rungs[i]!.name)));
          const durationSec = facts[0]!.durationSec;
          const limits = { durationSec, signal, timeoutMs: ffmpegTimeoutMs(durationSec), stallMs: config.FFMPEG_STALL_SEC * 1000 };
          const withAudio = facts[0]!.audio !== null;
          const audioTracks = withAudio ? tracks : [];
          // The other tracks: encoded once, here, with the rungs' audio settings (outside `dir`,
          // which is uploaded as it is).
          const extraDir = `${dir}.audio`;
          const renditions: RenditionState[] = [];
          const trackStates: AudioTrackState[] = [];
          const names = audioTrackNames(audioTracks.map((t) => t.language));
          let manifest: string;
          let encryption: OutputState['encryption'];
          const run = (args: string[], seconds: number) => runFfmpeg({ binary: binaries.ffmpeg, args, ...limits, durationSec: seconds });
          let subtitles: SubtitleRendition[] = [];
          try {
            const toEncode = withAudio ? extra : [];
            if (toEncode.length) {
              await fs.mkdir(extraDir, { recursive: true });
              toEncode.forEach((t) => (t.file = path.join(extraDir, `audio-${t.streamIndex}.mp4`)));
              await runFfmpeg({
                binary: binaries.ffmpeg,
                args: extraAudioArgs(local[rungs.length]!, plan!, toEncode.map((t) => ({ streamIndex: t.streamIndex, file: t.file! })), config.MAX_OUTPUT_BYTES),
                ...limits,
                timeoutMs: ffmpegTimeoutMs(durationSec * toEncode.length),
                onProgress: () => undefined,
              });
            }
            const trackFile = (t: Track) => t.file ?? files[0]!;
            if (task.format === 'hls') {
              const steps = rungs.length + audioTracks.length;
              const playlists: string[] = [];
              /** One stream → its folder: media playlist, init.mp4, segments; resolves its bandwidth. */
              const segment = async (source: string, folder: string, map: '0' | '0:v:0' | '0:a:0', step: number) => {
                const out = path.join(dir, folder);
                await fs.mkdir(out);
                await runFfmpeg({ binary: binaries.ffmpeg, args: hlsRungArgs(source, out, task.segmentSec, map), ...limits, onProgress: (p) => report((step + p) / steps) });
                const segments = parseMediaPlaylist(await fs.readFile(path.join(out, 'index.m3u8'), 'utf8'));
                const sized = await Promise.all(segments.map(async (s) => ({ durationSec: s.durationSec, bytes: (await fs.stat(path.join(out, s.uri))).size })));
                playlists.push(folder);
                return bandwidthOf(sized, (await fs.stat(path.join(out, 'init.mp4'))).size);
              };
              const entries: MasterEntry[] = [];
              for (const [i, rung] of rungs.entries()) {
                const bandwidth = await segment(files[i]!, rung.name, withAudio ? '0:v:0' : '0', i);
                entries.push({ uri: `${rung.name}/index.m3u8`, facts: facts[i]!, bandwidth });
              }
              const audioEntries: AudioEntry[] = [];
              for (const [k, t] of audioTracks.entries()) {
                // `audio.N`: a rung's name cannot hold a dot, so no folder of a rung collides.
                const folder = `audio.${k}`;
                const bandwidth = await segment(trackFile(t), folder, '0:a:0', rungs.length + k);
                const a = facts[0]!.audio!;
                audioEntries.push({ uri: `${folder}/index.m3u8`, name: names[k]!, language: t.language, default: t.default, channels: a.channels, codecs: audioCodecOf(a), bandwidth });
              }
              // The subtitle tracks cut like the top rung's video (every rung has the same boundaries).
              const firstSegments = parseMediaPlaylist(await fs.readFile(path.join(dir, rungs[0]!.name, 'index.m3u8'), 'utf8')).map((x) => x.durationSec);
              subtitles = await subtitleRenditions(deps, task, subtitleSources, dir, firstSegments, run);
              if (task.hls?.encryption) encryption = await encryptHls(dir, folderKey, playlists, task.hls.encryption);
              const audioPeak = audioEntries.length ? Math.max(...audioEntries.map((a) => a.bandwidth.peak)) : 0;
              for (const [i, e] of entries.entries()) renditions.push(renditionOf(rungs[i]!.name, `${folderKey}${e.uri}`, facts[i]!, e.bandwidth.peak + audioPeak));
              for (const a of audioEntries) {
                trackStates.push({ name: a.name, key: `${folderKey}${a.uri}`, language: a.language, default: a.default, codecs: a.codecs, channels: a.channels, bandwidth: a.bandwidth.peak });
              }
              manifest = 'master.m3u8';
              await fs.writeFile(path.join(dir, manifest), withSubtitleGroup(groupedMasterPlaylist(entries, audioEntries, task.hls?.audioOnlyVariant === true), subtitles));
            } else {
              subtitles = await subtitleRenditions(deps, task, subtitleSources, dir, [], run);
              const sizes = facts.map((f) => f.video);
              const args = plan && withAudio
                ? dashArgs(files, true, dir, task.segmentSec, sizes, audioTracks.map((t) => ({ file: t.primary ? null : trackFile(t), language: t.language })))
                : dashArgs(files, withAudio, dir, task.segmentSec, sizes);
              await runFfmpeg({ binary: binaries.ffmpeg, args, ...limits, onProgress: report });
              manifest = 'manifest.mpd';
              const mpdFile = path.join(dir, manifest);
              const mpd = await fs.readFile(mpdFile, 'utf8');
              const reps = parseMpd(mpd);
              // Each representation's peak, measured from its own segments as for HLS. The video
              // representations come first, one per rung in rung order (dashArgs maps them so),
              // then one audio representation per track.
              const peaks = new Map<string, number>();
              for (const r of reps) {
                const sized = await Promise.all(r.segments.map(async (s) => ({ durationSec: s.durationSec, bytes: (await fs.stat(path.join(dir, s.uri))).size })));
                peaks.set(r.id, bandwidthOf(sized, (await fs.stat(path.join(dir, r.init))).size).peak);
              }
              const main = audioTracks.findIndex((t) => t.default);
              // dashTracksArgs numbers the audio sets from 1, in track order.
              const fixed = plan && withAudio && main >= 0 ? mainAudioRole(fixMpd(mpd, reps, peaks), String(main + 1)) : fixMpd(mpd, reps, peaks);
              await fs.writeFile(mpdFile, withTextAdaptationSets(fixed, subtitles));
              for (const [i, rung] of rungs.entries()) renditions.push(renditionOf(rung.name, `${folderKey}${manifest}`, facts[i]!, peaks.get(reps[i]?.id ?? '') ?? null));
              if (plan && withAudio) {
                const a = facts[0]!.audio!;
                audioTracks.forEach((t, k) => {
                  trackStates.push({ name: names[k]!, key: `${folderKey}${manifest}`, language: t.language, default: t.default, codecs: audioCodecOf(a), channels: a.channels, bandwidth: peaks.get(reps[rungs.length + k]?.id ?? '') ?? null });
                });
              }
            }
          } finally {
            await fs.rm(extraDir, { recursive: true, force: true });
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
            ...(plan && trackStates.length ? { audioTracks: trackStates } : {}),
            ...(encryption ? { encryption } : {}),
            ...(subtitles.length ? { subtitles: subtitles.map((x) => subtitleState(x, folderKey)) } : {}),
          };
        }),
      ),
    );
  };
}

/**
 * AES-128 for every media playlist in `folders` (each `<folder>/index.m3u8` beside its segments):
 * a random key per job (or per `rotateEverySegments` segments), written beside the output as
 * `key.bin` (`key-N.bin` when rotating); each segment encrypted whole (AES-128-CBC, PKCS#7, IV =
 * its media sequence number) and the playlist given its EXT-X-KEY lines. The keys exist only in
 * this activity and in the store: what it returns names their objects, never their bytes.
 */
async function encryptHls(
  dir: string,
  folderKey: string,
  folders: string[],
  settings: NonNullable<NonNullable<PackageTask['hls']>['encryption']>,
): Promise<NonNullable<OutputState['encryption']>> {
  const rotate = settings.rotateEverySegments ?? null;
  const playlists = await Promise.all(folders.map(async (f) => ({ folder: f, text: await fs.readFile(path.join(dir, f, 'index.m3u8'), 'utf8') })));
  const most = Math.max(1, ...playlists.map((p) => parseMediaPlaylist(p.text).length));
  const count = rotate === null ? 1 : Math.ceil(most / rotate);
  const fileOf = (k: number) => (rotate === null ? 'key.bin' : `key-${k}.bin`);
  const keys = Array.from({ length: count }, () => randomBytes(16));
  for (const [k, key] of keys.entries()) await fs.writeFile(path.join(dir, fileOf(k)), key, { mode: 0o600 });
  // The default URI is relative to a media playlist one folder down: `../key.bin`. `{key}` is the
  // key file's object key as the tenant names it (what GET /v1/objects/{key} reads for them).
  const uriOf = (k: number) => (settings.keyUri ? settings.keyUri.replaceAll('{key}', encodeURI(keyForTenant(`${folderKey}${fileOf(k)}`))) : `../${fileOf(k)}`);
  for (const p of playlists) {
    const sequence = mediaSequenceOf(p.text);
    for (const [i, s] of parseMediaPlaylist(p.text).entries()) {
      const file = path.join(dir, p.folder, s.uri);
      const cipher = createCipheriv('aes-128-cbc', keys[rotate === null ? 0 : Math.floor(i / rotate)]!, sequenceIv(sequence + i));
      await fs.writeFile(file, Buffer.concat([cipher.update(await fs.readFile(file)), cipher.final()]));
    }
    await fs.writeFile(path.join(dir, p.folder, 'index.m3u8'), encryptPlaylist(p.text, uriOf, rotate));
  }
  return { method: 'AES-128', keyObjects: keys.map((_, k) => `${folderKey}${fileOf(k)}`) };
}

function renditionOf(name: string, key: string, facts: RungFacts, bandwidth: number | null): RenditionState {
  const v = facts.video;
  return { name, key, width: v.width, height: v.height, fps: Math.round(v.fps * 1000) / 1000, codecs: codecsOf(facts), bandwidth };
}

function subtitleState(s: SubtitleRendition, folderKey: string): SubtitleOutputState {
  return { language: bcp47(s.plan.language), name: s.plan.name, default: s.plan.default, forced: s.plan.forced, key: `${folderKey}${s.uri}` };
}

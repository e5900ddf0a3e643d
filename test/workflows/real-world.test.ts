/**
 * Inputs as phones, cameras, broadcast and editing suites make them: rotated, anamorphic, odd-sized,
 * variable-rate, 10-bit 4:4:4, ProRes, FFV1, VP9, interlaced MPEG-2, several audio tracks. Each is
 * generated with lavfi at test time, run through a real job, and the output checked with ffprobe.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { taskQueueFor } from '../../model/config';
import type { JobState } from '../../model/job-state';
import type { ResolvedOutput } from '../../model/job';
import { WORKFLOW_TYPE } from '../../workflows/definitions';
import { startStack, type Stack } from '../helpers/stack';
import { decodesCleanly, testBinaries } from '../helpers/media';
import { presetOutput, testSpec } from '../helpers/spec';

const run = promisify(execFile);
let stack: Stack;

before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack?.stop();
});

const video = (size: string, extra = '') => ['-f', 'lavfi', '-i', `testsrc2=s=${size}:r=25:d=2${extra}`];
const tone = (extra = '') => ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:d=2${extra}`];

/** Each source: the ffmpeg arguments that make it (after -y), the file name, and a stream-copy pass after. */
const sources: Record<string, { file: string; args: string[]; remux?: string[] }> = {
  // A phone held upright records landscape frames plus a rotation (written on a stream copy).
  portrait: { file: 'portrait.mp4', args: [...video('640x360'), ...tone(), '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac'], remux: ['-metadata:s:v:0', 'rotate=90'] },
  anamorphic: { file: 'anamorphic.mp4', args: [...video('720x480'), ...tone(), '-vf', 'setsar=32/27', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac'] },
  odd444: { file: 'odd444.mkv', args: [...video('641x361'), ...tone(), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv444p10le', '-c:a', 'aac'] },
  vfr: {
    file: 'vfr.mkv',
    // 25 fps for the first second, then 10 fps: timestamps as a screen recorder writes them.
    args: ['-f', 'lavfi', '-i', "testsrc2=s=320x240:r=25:d=2,setpts='if(lt(N,25),N/25,1+(N-25)/10)/TB'", '-fps_mode', 'vfr', '-c:v', 'libx264', '-preset', 'ultrafast', '-t', '3'],
  },
  prores: { file: 'prores.mov', args: [...video('320x240'), ...tone(), '-c:v', 'prores_ks', '-profile:v', '2', '-c:a', 'pcm_s16le'] },
  ffv1: { file: 'ffv1.mkv', args: [...video('320x240'), ...tone(), '-c:v', 'ffv1', '-c:a', 'flac'] },
  vp9: { file: 'vp9.webm', args: [...video('320x240'), ...tone(), '-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-c:a', 'libopus'] },
  interlaced: {
    file: 'interlaced.ts',
    args: [...video('720x576'), ...tone(), '-vf', 'setfield=tff', '-c:v', 'mpeg2video', '-flags', '+ilme+ildct', '-top', '1', '-b:v', '4M', '-c:a', 'mp2'],
  },
  tracks: {
    file: 'tracks.mkv',
    // Track 0: mono, not marked; track 1: stereo, marked default (a dubbed film's usual layout).
    args: [...video('320x240'), ...tone(), ...tone(), '-map', '0:v', '-map', '1:a', '-map', '2:a', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac',
      '-ac:a:0', '1', '-ac:a:1', '2', '-disposition:a:0', '0', '-disposition:a:1', 'default'],
  },
};

interface Stream { codec_type: string; codec_name: string; width?: number; height?: number; pix_fmt?: string; profile?: string; channels?: number;
  sample_aspect_ratio?: string; display_aspect_ratio?: string; r_frame_rate?: string; avg_frame_rate?: string; nb_frames?: string; field_order?: string;
  side_data_list?: { side_data_type?: string }[] }

async function streamsOf(file: string): Promise<{ durationSec: number; streams: Stream[] }> {
  const { ffprobe } = await testBinaries();
  const { stdout } = await run(ffprobe, ['-v', 'error', '-count_frames', '-print_format', 'json', '-show_format', '-show_streams', file]);
  const json = JSON.parse(stdout) as { format: { duration: string }; streams: Stream[] };
  return { durationSec: Number(json.format.duration), streams: json.streams };
}

const ratio = (r = '0/1') => {
  const [n, d] = r.split('/').map(Number);
  return n! / d!;
};

test('real-world inputs come out upright, square-pixelled, constant-rate, 8-bit 4:2:0 and playable', { timeout: 600_000 }, async () => {
  const { ffmpeg } = await testBinaries();
  for (const s of Object.values(sources)) {
    const file = path.join(stack.dataDir, s.file);
    const first = s.remux ? `${file}.pre${path.extname(file)}` : file;
    await run(ffmpeg, ['-hide_banner', '-v', 'error', '-y', ...s.args, first]);
    if (s.remux) await run(ffmpeg, ['-hide_banner', '-v', 'error', '-y', '-i', first, '-map', '0', '-c', 'copy', ...s.remux, file]);
    await stack.storage.put(`raw/${s.file}`, createReadStream(file));
  }
  const outputsFor = (name: string): ResolvedOutput[] =>
    name === 'tracks'
      ? [presetOutput('default', 'mp4-h264-360p'), { ...presetOutput('first', 'mp4-h264-360p'), audioTrack: 0 }, { ...presetOutput('absent', 'mp4-h264-360p'), audioTrack: 5 }]
      : [presetOutput('out', name === 'anamorphic' ? 'mp4-h264-480p' : 'mp4-h264-360p')];
  const states = Object.fromEntries(
    await Promise.all(
      Object.entries(sources).map(async ([name, s]) => {
        const spec = testSpec(`raw/${s.file}`, outputsFor(name), { snapshots: [], retryWindowSec: 1 });
        const state = (await stack.client.workflow.execute(WORKFLOW_TYPE, { workflowId: spec.id, taskQueue: taskQueueFor(stack.config, 'default'), args: [spec] })) as JobState;
        return [name, state] as const;
      }),
    ),
  );
  const out = async (name: string, output = 'out') => {
    const state = states[name]!;
    const o = state.outputs.find((x) => x.name === output);
    assert.ok(o, `${name}/${output}: ${JSON.stringify(state.tasks.filter((t) => t.error))}`);
    const file = path.join(stack.dataDir, 'objects', o.key);
    const probed = await streamsOf(file);
    assert.ok(await decodesCleanly(file), `${name}/${output} decodes`);
    const v = probed.streams.find((x) => x.codec_type === 'video');
    const a = probed.streams.filter((x) => x.codec_type === 'audio');
    if (v) {
      assert.equal(v.codec_name, 'h264', name);
      assert.equal(v.pix_fmt, 'yuv420p', `${name}: 8-bit 4:2:0`);
      assert.equal(v.profile, 'High', name);
      assert.ok(!v.sample_aspect_ratio || v.sample_aspect_ratio === '1:1', `${name}: square pixels (${v.sample_aspect_ratio})`);
      assert.ok(!(v.side_data_list ?? []).some((d) => d.side_data_type === 'Display Matrix'), `${name}: no rotation left for players to apply`);
      assert.equal(v.width! % 2 + v.height! % 2, 0, `${name}: even size`);
    }
    return { v, a, durationSec: probed.durationSec, state };
  };

  for (const name of ['prores', 'ffv1', 'vp9', 'odd444', 'interlaced', 'portrait', 'anamorphic', 'vfr']) {
    assert.equal(states[name]!.status, 'succeeded', `${name}: ${JSON.stringify(states[name]!.tasks.filter((t) => t.error))}`);
  }
  const portrait = await out('portrait');
  assert.deepEqual([portrait.v?.width, portrait.v?.height], [360, 640], 'a phone clip shot upright stays upright: 360p means 360 on the short side');
  const anamorphic = await out('anamorphic');
  assert.deepEqual([anamorphic.v?.width, anamorphic.v?.height], [854, 480], '720x480 at 32:27 pixels is 853⅓x480 on screen');
  const odd = await out('odd444');
  assert.deepEqual([odd.v?.width, odd.v?.height], [640, 360], '641x361 10-bit 4:4:4 → 640x360 4:2:0');
  for (const name of ['prores', 'ffv1', 'vp9']) {
    const r = await out(name);
    assert.deepEqual([r.v?.width, r.v?.height, r.a.map((x) => x.codec_name)], [320, 240, ['aac']], name);
    assert.ok(Math.abs(r.durationSec - 2) <= 0.1, `${name}: ${r.durationSec} s`);
  }
  const interlaced = await out('interlaced');
  assert.equal(states.interlaced!.input.media?.video?.interlaced, true, 'the probe saw fields');
  assert.ok(!interlaced.v?.field_order || interlaced.v.field_order === 'progressive', `deinterlaced: ${interlaced.v?.field_order}`);
  assert.deepEqual([interlaced.v?.width, interlaced.v?.height], [450, 360], '720x576 with square pixels (5:4) fits 640x360 as 450x360');

  // VFR → constant: every frame one tick apart, as many frames as duration × rate.
  const vfr = await out('vfr');
  const fps = ratio(vfr.v?.avg_frame_rate);
  assert.ok(Math.abs(ratio(vfr.v?.r_frame_rate) - fps) < 0.01, `constant rate: r ${vfr.v?.r_frame_rate} = avg ${vfr.v?.avg_frame_rate}`);
  assert.ok(Math.abs(Number(vfr.v?.nb_frames) - vfr.durationSec * fps) <= 1, `${vfr.v?.nb_frames} frames over ${vfr.durationSec} s at ${fps}`);

  // Audio tracks: the default-marked stereo track unless the output names another; a missing one is refused.
  const tracks = states.tracks!;
  assert.equal(tracks.status, 'failed');
  assert.equal(tracks.tasks.find((t) => t.id === 'transcode:absent')?.error?.code, 'OutputNotPossible');
  assert.match(tracks.tasks.find((t) => t.id === 'transcode:absent')?.error?.message ?? '', /audio track 5 does not exist \(the input has 2\)/);
  assert.deepEqual((await out('tracks', 'default')).a.map((x) => x.channels), [2], 'the default track (stereo)');
  assert.deepEqual((await out('tracks', 'first')).a.map((x) => x.channels), [1], 'the named track 0 (mono)');
});

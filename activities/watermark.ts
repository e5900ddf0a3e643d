/**
 * The watermark activity: prepares one watermark per job — fetches and checks the user's image,
 * or renders the text — as an RGBA PNG at the widest size any output needs. The transcodes
 * overlay it in their own encode pass.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { MediaflowError } from '../model/errors';
import type { WatermarkTask } from '../media/plan';
import { imageAssetArgs, textAssetArgs } from '../media/args/watermark';
import { IMAGE_DEMUXERS, inputArgs } from '../media/args/input';
import { runFfmpeg } from './ffmpeg-run';
import { withLocalInput } from './local-input';
import { withHeartbeats, withScratchDir } from './transcode';
import type { ActivityDeps } from './deps';
import { execa } from 'execa';

/** A watermark image is a logo, not a photo: bigger than this is a mistake or an attack. */
const MAX_WATERMARK_PIXELS = 4096 * 4096;
const RUN_LIMIT_MS = 60_000;

export interface WatermarkAsset {
  key: string;
  width: number;
  height: number;
}

export function createWatermarker(deps: ActivityDeps) {
  const { config, storage, binaries } = deps;

  /** The image's size, read with the image demuxers only; anything else is refused by name. */
  async function imageSize(file: string, key: string): Promise<{ width: number; height: number }> {
    const run = await execa(binaries.ffprobe, ['-v', 'error', '-print_format', 'json', '-show_streams', ...inputArgs(file, undefined, IMAGE_DEMUXERS)], {
      reject: false,
      timeout: RUN_LIMIT_MS,
      stdin: 'ignore',
    });
    const stream = run.exitCode === 0 ? (JSON.parse(run.stdout) as { streams?: { width?: number; height?: number }[] }).streams?.[0] : undefined;
    if (!stream?.width || !stream.height) {
      throw new MediaflowError('WatermarkInvalid', `the watermark "${key}" is not a PNG, JPEG or WebP image`);
    }
    if (stream.width * stream.height > MAX_WATERMARK_PIXELS) {
      throw new MediaflowError('WatermarkInvalid', `the watermark "${key}" is ${stream.width}x${stream.height} px, more than ${MAX_WATERMARK_PIXELS} pixels`);
    }
    return { width: stream.width, height: stream.height };
  }

  async function render(args: string[], cwd?: string): Promise<void> {
    await runFfmpeg({ binary: binaries.ffmpeg, args, durationSec: 0, timeoutMs: RUN_LIMIT_MS, stallMs: config.FFMPEG_STALL_SEC * 1000, ...(cwd ? { cwd } : {}) });
  }

  return async function prepareWatermark(task: WatermarkTask): Promise<WatermarkAsset> {
    return withHeartbeats(() =>
      withScratchDir(deps, async (dir) => {
        const out = path.join(dir, 'asset.png');
        if ('image' in task.source) {
          const key = task.source.image.key;
          if (!(await storage.head(key))) throw new MediaflowError('WatermarkInvalid', `the watermark image "${key}" does not exist`);
          await withLocalInput(deps, key, async (file) => {
            await imageSize(file, key);
            await render(imageAssetArgs(file, out, task.widthPx));
          });
        } else {
          const text = task.source.text.content;
          await fs.writeFile(path.join(dir, 'text.txt'), text);
          await render(textAssetArgs('text.txt', [...text].length, task.source.text.color, out, task.widthPx), dir);
        }
        const size = await imageSize(out, task.assetKey);
        if (size.height / size.width > task.maxHeightRatio) {
          throw new MediaflowError(
            'WatermarkInvalid',
            `the watermark is ${size.width}x${size.height} px at its planned width: too tall to fit the output it goes on (at most ${Math.floor(size.width * task.maxHeightRatio)} px high); use a smaller widthRel`,
          );
        }
        await storage.putFile(task.assetKey, out);
        return { key: task.assetKey, ...size };
      }),
    );
  };
}

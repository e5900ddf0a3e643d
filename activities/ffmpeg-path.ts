/** Finds ffmpeg and ffprobe: $FFMPEG_PATH/$FFPROBE_PATH, then ffmpeg-static, then the system's. */
import { existsSync, accessSync, constants } from 'node:fs';
import path from 'node:path';

export interface FfmpegBinaries {
  ffmpeg: string;
  ffprobe: string;
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `name` on PATH, or null. */
export function whichSync(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

async function ffmpegStatic(): Promise<string | null> {
  try {
    // Optional dependency: offline its download fails, npm drops it, and we fall through.
    const mod = (await import('ffmpeg-static' as string)) as { default?: string | null };
    return mod.default && existsSync(mod.default) ? mod.default : null;
  } catch {
    return null;
  }
}

/**
 * Resolves both binaries or throws an error that says how to get them.
 *
 * @example const { ffmpeg, ffprobe } = await resolveFfmpeg({ FFMPEG_PATH: process.env.FFMPEG_PATH })
 */
export async function resolveFfmpeg(env: { FFMPEG_PATH?: string | undefined; FFPROBE_PATH?: string | undefined }): Promise<FfmpegBinaries> {
  const ffmpeg = env.FFMPEG_PATH ?? (await ffmpegStatic()) ?? whichSync('ffmpeg');
  if (!ffmpeg || !executable(ffmpeg)) {
    throw new Error(
      'ffmpeg not found: set FFMPEG_PATH, install with internet access so the ffmpeg-static package can ' +
        'download its binary, or install the system package (Debian/Ubuntu: apt-get install ffmpeg).',
    );
  }
  const sibling = path.join(path.dirname(ffmpeg), 'ffprobe');
  const ffprobe = env.FFPROBE_PATH ?? (executable(sibling) ? sibling : whichSync('ffprobe'));
  if (!ffprobe || !executable(ffprobe)) {
    throw new Error('ffprobe not found: set FFPROBE_PATH or install the system package (apt-get install ffmpeg).');
  }
  return { ffmpeg, ffprobe };
}

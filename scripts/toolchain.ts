/**
 * Makes sure this machine can run mediaflow: ffmpeg/ffprobe (Debian's package when neither
 * $FFMPEG_PATH nor ffmpeg-static nor a system ffmpeg exists, and we may install it) and the
 * Temporal CLI (built from its Go module when missing). Runs before `npm run dev` and `npm test`.
 */
import { spawnSync } from 'node:child_process';
import { resolveFfmpeg, whichSync } from '../activities/ffmpeg-path';
import { findTemporalCli } from './temporal-cli';

function canInstallSystemPackages(): string[] | null {
  if (process.platform !== 'linux' || !whichSync('apt-get')) return null;
  if (process.getuid?.() === 0) return [];
  if (whichSync('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0) return ['sudo', '-n'];
  return null;
}

function installDebianFfmpeg(): boolean {
  const prefix = canInstallSystemPackages();
  if (!prefix) return false;
  console.error('[toolchain] ffmpeg not found: installing Debian\'s ffmpeg package (apt-get)…');
  const run = (args: string[]) =>
    spawnSync(prefix[0] ?? args[0]!, prefix.length ? [...prefix.slice(1), ...args] : args.slice(1), {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    }).status === 0;
  return run(['apt-get', 'update', '-qq']) && run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'ffmpeg']);
}

async function ensureFfmpeg(): Promise<string> {
  try {
    return (await resolveFfmpeg(process.env)).ffmpeg;
  } catch (err) {
    if (!installDebianFfmpeg()) throw err;
    return (await resolveFfmpeg(process.env)).ffmpeg;
  }
}

try {
  const ffmpeg = await ensureFfmpeg();
  const temporal = findTemporalCli();
  console.error(`[toolchain] ffmpeg: ${ffmpeg}`);
  console.error(`[toolchain] temporal: ${temporal ?? "none here; the SDK will download it at start (needs internet)"}`);
} catch (err) {
  console.error(`[toolchain] ${(err as Error).message}`);
  process.exit(1);
}

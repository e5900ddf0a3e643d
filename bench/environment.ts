/** What a benchmark result was measured on: the machine, the versions of everything that ran. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FfmpegBinaries } from '../activities/ffmpeg-path';
import { findTemporalCli } from '../scripts/temporal-cli';

const root = path.resolve(import.meta.dirname, '..');

function firstLine(binary: string, args: string[]): string {
  try {
    return execFileSync(binary, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 }).split('\n')[0]!.trim();
  } catch (err) {
    return `unknown (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`;
  }
}

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  platform: string;
  /** 1-, 5- and 15-minute load averages when the run started: other work on the machine shows here. */
  loadAverageAtStart: number[];
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export interface Versions {
  node: string;
  ffmpeg: string;
  ffmpegPath: string;
  temporalCli: string;
  mediaflowCommit: string;
  /** True when the work tree had uncommitted changes (anyone's) when the run started. */
  workTreeDirty: boolean;
  packages: Record<string, string>;
}

/** The installed version of each dependency named in package.json. */
function packageVersions(): Record<string, string> {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
  const names = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})];
  const out: Record<string, string> = {};
  for (const name of names.sort()) {
    try {
      out[name] = (JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      out[name] = 'not installed';
    }
  }
  return out;
}

export function versions(binaries: FfmpegBinaries): Versions {
  const cli = findTemporalCli({ build: false });
  let dirty = false;
  try {
    dirty = execFileSync('git', ['status', '--porcelain'], { cwd: root, encoding: 'utf8' }).trim() !== '';
  } catch {
    // not a git checkout
  }
  return {
    node: process.version,
    ffmpeg: firstLine(binaries.ffmpeg, ['-version']),
    ffmpegPath: binaries.ffmpeg,
    temporalCli: cli ? `${firstLine(cli, ['--version'])} (${cli})` : "the SDK's downloaded CLI",
    mediaflowCommit: firstLine('git', ['-C', root, 'rev-parse', 'HEAD']),
    workTreeDirty: dirty,
    packages: packageVersions(),
  };
}

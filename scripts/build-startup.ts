/**
 * Worker start time, before and after the production build: from process start to the worker's
 * "mediaflow worker polling" line, for `node --import tsx worker/main.ts` (TypeScript compiled at
 * load, workflow code bundled at start) and `node dist/worker/main.js` (`npm run build` first: the
 * bundle made at build time), alternated, against one Temporal dev server.
 *
 * @example npm run build && npx tsx scripts/build-startup.ts --runs 3
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { startDevServer } from './temporal-cli';

const root = path.resolve(import.meta.dirname, '..');

export interface StartVariant {
  name: string;
  args: string[];
}

export const variants: StartVariant[] = [
  { name: 'tsx, bundled at start', args: ['--import', 'tsx', 'worker/main.ts'] },
  { name: 'dist/, prebuilt bundle', args: ['dist/worker/main.js'] },
];

/**
 * Starts one worker process and resolves with the milliseconds until it logs that it polls; then stops it.
 *
 * @example const ms = await timeWorkerStart(variants[1].args, { TEMPORAL_ADDRESS: '127.0.0.1:7233', DATA_DIR: dir })
 */
export async function timeWorkerStart(args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'ERROR', ...env } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  try {
    return await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "worker polling" in ${timeoutMs} ms: ${out}`)), timeoutMs);
      child.stdout.on('data', () => {
        if (out.includes('worker polling')) {
          clearTimeout(timer);
          resolve(performance.now() - started);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`worker exited with ${code} before polling: ${out}`));
      });
    });
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
  if (!fs.existsSync(path.join(root, 'dist/workflow-bundle.js'))) throw new Error('run `npm run build` first');
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mediaflow-start-'));
  const server = await startDevServer({ port: 17233 + Math.floor(Math.random() * 1000), readyTimeoutMs: 120_000 });
  const env = { TEMPORAL_ADDRESS: server.address, DATA_DIR: dataDir };
  const times = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  try {
    for (let run = 0; run < Number(values.runs); run++) {
      for (const v of variants) {
        const ms = await timeWorkerStart(v.args, env);
        times.get(v.name)!.push(ms);
        console.log(`run ${run + 1}  ${v.name.padEnd(24)} ${(ms / 1000).toFixed(2)} s`);
      }
    }
  } finally {
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  const load = os.loadavg()[0]!.toFixed(1);
  for (const [name, ms] of times) {
    const sorted = [...ms].sort((a, b) => a - b);
    console.log(`${name.padEnd(24)} median ${(sorted[Math.floor(sorted.length / 2)]! / 1000).toFixed(2)} s  (${sorted.map((m) => (m / 1000).toFixed(2)).join(', ')} s; load average ${load}, ${os.cpus().length} cores)`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();

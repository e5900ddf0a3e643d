/** The worker process: polls each pipeline's task queue and runs mediaJob workflows and activities. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client } from '@temporalio/client';
import { activityStartedSignal } from '../workflows/definitions';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkflowBundle, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities } from '../activities';
import { resolveFfmpeg } from '../activities/ffmpeg-path';
import { logEncoders } from '../activities/capabilities';
import { loadConfig, taskQueueFor, type Config } from '../model/config';
import { lightQueueOf } from '../model/queues';
import { createStorage } from '../storage/create-storage';
import { removeDeadProcessDirs } from '../storage/input-cache';
import type { Storage } from '../storage/storage';
import { openDatabase, type Database } from '../db/database';
import { serveMetrics } from '../observability/metrics';

/** Run from dist/ (`npm run build`), this file is JavaScript and so are the workflows beside it. */
const compiled = !import.meta.url.endsWith('.ts');
const workflowsPath = fileURLToPath(new URL(`../workflows/index.${compiled ? 'js' : 'ts'}`, import.meta.url));
/** The workflow bundle `npm run build` makes once (scripts/build.ts): dist/workflow-bundle.js. */
export const prebuiltBundlePath = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));

/** Bundles the workflow code once; every worker in the process (and every test) reuses it. */
export function bundleWorkflows(): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ workflowsPath, logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error } });
}

/** From dist/: the bundle made at build time, when it is there; otherwise (tsx, tests) bundled now. */
function usePrebuiltBundle(): boolean {
  return compiled && existsSync(prebuiltBundlePath);
}

function workflowCode(): Promise<WorkflowBundleOption> | WorkflowBundleOption {
  return usePrebuiltBundle() ? { codePath: prebuiltBundlePath } : bundleWorkflows();
}

let runtimeInstalled = false;

/** The SDK runtime is per process and must exist before the first connection: install it once. */
function installRuntime(config: Config): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger(config.LOG_LEVEL) });
}

export interface RunningWorker {
  /** Resolves when every worker has stopped. */
  done: Promise<void>;
  /** The task queues polled now. */
  queues(): string[];
  shutdown(): Promise<void>;
}

/** How often `WORKER_PIPELINES=*` looks for pipelines created since. */
const PIPELINE_POLL_MS = 15_000;

/**
 * Starts one Worker per pipeline in WORKER_PIPELINES on a shared connection.
 *
 * @example const worker = await startWorker(config); await worker.done
 */
export async function startWorker(
  config: Config,
  options: { bundle?: WorkflowBundleOption; storage?: Storage; connection?: NativeConnection; db?: Database } = {},
): Promise<RunningWorker> {
  installRuntime(config);
  const binaries = await resolveFfmpeg(config);
  // `ffmpeg -encoders`, once: logged here, and every run is checked against it (EncoderMissing).
  await logEncoders(binaries.ffmpeg, Runtime.instance().logger);
  const storage = options.storage ?? (await createStorage(config));
  const connection = options.connection ?? (await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS }));
  const workflowBundle = options.bundle ?? (await workflowCode());
  let opened: Promise<Database> | undefined = options.db ? Promise.resolve(options.db) : undefined;
  const db = () => (opened ??= openDatabase(config));
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const announceStarted = async (workflowId: string, activityId: string, attempt: number) => {
    await client.workflow.getHandle(workflowId).signal(activityStartedSignal, { activityId, attempt });
  };
  const workDir = path.join(config.dataDir, 'work');
  // What killed workers on this host left (scratch outputs, input copies, cached inputs): litter now.
  for (const sub of ['outputs', 'inputs', 'input-cache']) await removeDeadProcessDirs(path.join(workDir, sub));
  const activities = createActivities({ config, storage, binaries, db, workDir, announceStarted });
  const workers = new Map<string, Worker[]>();
  const runs: Promise<void>[] = [];
  const common = {
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    activities,
    // Heartbeats carry progress: send them at least every 2 s, not the SDK's default 30 s.
    maxHeartbeatThrottleInterval: '2s',
    defaultHeartbeatThrottleInterval: '1s',
    shutdownGraceTime: `${config.WORKER_SHUTDOWN_GRACE_SEC}s`,
  } as const;
  const serve = async (pipeline: string): Promise<void> => {
    if (workers.has(pipeline)) return;
    const queue = taskQueueFor(config, pipeline);
    // The pipeline's queue: its workflows and its encodes.
    const worker = await Worker.create({ ...common, taskQueue: queue, workflowBundle, maxConcurrentActivityTaskExecutions: config.WORKER_ACTIVITY_CONCURRENCY });
    // Light work in slots of its own (activities only), so encodes can never starve it.
    const light = await Worker.create({ ...common, taskQueue: lightQueueOf(queue), maxConcurrentActivityTaskExecutions: config.WORKER_LIGHT_CONCURRENCY });
    workers.set(pipeline, [worker, light]);
    runs.push(worker.run(), light.run());
  };
  // `*`: every pipeline in the database, and new ones within a poll interval.
  const all = config.WORKER_PIPELINES.includes('*');
  for (const p of config.WORKER_PIPELINES.filter((p) => p !== '*')) await serve(p);
  const discover = async () => {
    const rows = await (await db()).query<{ id: string }>('select distinct id from pipelines union select $1', ['default']);
    for (const r of rows) await serve(r.id);
  };
  if (all) await discover();
  const poll = all ? setInterval(() => void discover().catch((err) => console.error('pipeline discovery failed:', err)), PIPELINE_POLL_MS) : undefined;
  /** Every worker's run, including workers that join while we wait. */
  const allRuns = async (): Promise<void> => {
    for (let n = 0; n < runs.length; ) {
      const batch = runs.slice(n);
      n = runs.length;
      await Promise.all(batch);
    }
  };
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      clearInterval(poll);
      for (const w of [...workers.values()].flat()) if (w.getState() === 'RUNNING') w.shutdown();
      await allRuns();
      if (!options.connection) await connection.close();
      if (opened && !options.db) await (await opened).close();
    })());
  // The SDK stops workers on SIGINT/SIGTERM itself: then we stop the rest with them.
  const done = allRuns().then(stop);
  return {
    done,
    queues: () => [...workers.keys()].flatMap((p) => [taskQueueFor(config, p), lightQueueOf(taskQueueFor(config, p))]),
    async shutdown() {
      await stop();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const config = loadConfig();
  const worker = await startWorker(config);
  const metricsServer = config.WORKER_METRICS_PORT ? await serveMetrics('0.0.0.0', config.WORKER_METRICS_PORT) : null;
  const workflows = usePrebuiltBundle() ? prebuiltBundlePath : 'bundled at start';
  console.log(JSON.stringify({ level: 'info', msg: 'mediaflow worker polling', queues: worker.queues(), workflows, metricsPort: config.WORKER_METRICS_PORT || null }));
  void worker.done.then(() => metricsServer?.close());
  // The SDK stops workers on SIGINT/SIGTERM by itself; we wait for them to drain.
  await worker.done;
}

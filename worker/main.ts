/** The worker process: polls each pipeline's task queue and runs mediaJob workflows and activities. */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { createActivities } from '../activities';
import { resolveFfmpeg } from '../activities/ffmpeg-path';
import { loadConfig, taskQueueFor, type Config } from '../model/config';
import { createLocalStorage } from '../storage/local';
import type { Storage } from '../storage/storage';

const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** Bundles the workflow code once; every worker in the process (and every test) reuses it. */
export function bundleWorkflows(): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ workflowsPath, logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error } });
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
  shutdown(): Promise<void>;
}

/**
 * Starts one Worker per pipeline in WORKER_PIPELINES on a shared connection.
 *
 * @example const worker = await startWorker(config); await worker.done
 */
export async function startWorker(
  config: Config,
  options: { bundle?: WorkflowBundle; storage?: Storage; connection?: NativeConnection } = {},
): Promise<RunningWorker> {
  installRuntime(config);
  const binaries = await resolveFfmpeg(config);
  const storage = options.storage ?? (await createLocalStorage(config.dataDir));
  const connection = options.connection ?? (await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS }));
  const workflowBundle = options.bundle ?? (await bundleWorkflows());
  const activities = createActivities({ config, storage, binaries, workDir: path.join(config.dataDir, 'work') });
  const workers = await Promise.all(
    config.WORKER_PIPELINES.map((pipeline) =>
      Worker.create({
        connection,
        namespace: config.TEMPORAL_NAMESPACE,
        taskQueue: taskQueueFor(config, pipeline),
        workflowBundle,
        activities,
        maxConcurrentActivityTaskExecutions: config.WORKER_ACTIVITY_CONCURRENCY,
        // Heartbeats carry progress: send them at least every 2 s, not the SDK's default 30 s.
        maxHeartbeatThrottleInterval: '2s',
        defaultHeartbeatThrottleInterval: '1s',
        shutdownGraceTime: `${config.WORKER_SHUTDOWN_GRACE_SEC}s`,
      }),
    ),
  );
  const done = Promise.all(workers.map((w) => w.run())).then(async () => {
    if (!options.connection) await connection.close();
  });
  return {
    done,
    async shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await done;
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const config = loadConfig();
  const worker = await startWorker(config);
  console.log(JSON.stringify({ level: 'info', msg: 'mediaflow worker polling', queues: config.WORKER_PIPELINES.map((p) => taskQueueFor(config, p)) }));
  // The SDK stops workers on SIGINT/SIGTERM by itself; we wait for them to drain.
  await worker.done;
}

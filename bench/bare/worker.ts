/**
 * The bare baseline's worker process: the workflow and encode slots on BARE_QUEUE, light slots on
 * `BARE_QUEUE:light`, with the service's concurrency settings (WORKER_ACTIVITY_CONCURRENCY,
 * WORKER_LIGHT_CONCURRENCY). Prints "worker polling" when both poll; stops on SIGTERM/SIGINT.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { loadConfig } from '../../model/config';
import { bareActivities } from './activities';

const config = loadConfig({ ...process.env });
const queue = process.env.BARE_QUEUE ?? 'bare';
const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
const common = { connection, namespace: config.TEMPORAL_NAMESPACE, activities: bareActivities };
const heavy = await Worker.create({
  ...common,
  taskQueue: queue,
  workflowsPath: new URL('./workflow.ts', import.meta.url).pathname,
  maxConcurrentActivityTaskExecutions: config.WORKER_ACTIVITY_CONCURRENCY,
});
const light = await Worker.create({ ...common, taskQueue: `${queue}:light`, maxConcurrentActivityTaskExecutions: config.WORKER_LIGHT_CONCURRENCY });
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => (heavy.shutdown(), light.shutdown()));
const runs = Promise.all([heavy.run(), light.run()]);
console.log('worker polling');
await runs;
await connection.close();

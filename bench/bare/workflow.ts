/**
 * The small-jobs scenario's "bare Temporal" baseline: the least a Temporal application can do to
 * run the same ffmpeg commands as one workflow per job, as the service cuts them — the probe and
 * the poster on a light queue, the encode and the output check on the encode queue. No state, no
 * queries, no signals, no storage, no search attributes: the cost of the orchestration alone.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { BareActivities } from './activities';

export interface BareJob {
  queue: string;
  probe: string[];
  poster: string[];
  encode: string[];
  check: string[];
}

export async function bareJob(job: BareJob): Promise<void> {
  const options = { startToCloseTimeout: '10 minutes', retry: { maximumAttempts: 1 } } as const;
  const light = proxyActivities<BareActivities>({ ...options, taskQueue: `${job.queue}:light` });
  const heavy = proxyActivities<BareActivities>({ ...options, taskQueue: job.queue });
  await light.run([job.probe]);
  await Promise.all([light.run([job.poster]), heavy.run([job.encode, job.check])]);
}

/**
 * mediaJob: probe → plan → transcodes and snapshots in parallel → notify; a failed job stays open
 * for a retry window, a canceled one removes its outputs. Pure orchestration: no I/O here.
 * The state and every step live in JobRun (job-run.ts); this is only the loop over rounds.
 */
import { CancellationScope, isCancellation } from '@temporalio/workflow';
import type { JobSpec } from '../model/job';
import type { JobState } from '../model/job-state';
import { JobRun } from './job-run';

export async function mediaJob(spec: JobSpec): Promise<JobState> {
  const job = new JobRun(spec);
  job.installHandlers();
  for (;;) {
    await job.cancellable(async () => {
      if (spec.waitForPipeline && job.round === 0) {
        await job.waitForPipeline().catch((err) => {
          if (!isCancellation(err)) throw err;
        });
      }
      if (job.cancelReason() === null) await job.work();
    });
    const reason = job.cancelReason();
    if (reason !== null) {
      await CancellationScope.nonCancellable(() => job.finishCanceled(reason));
      return job.state;
    }
    job.finishRound();
    const succeeded = job.state.status === 'succeeded';
    if (succeeded) await CancellationScope.nonCancellable(() => job.removeIntermediates());
    await CancellationScope.nonCancellable(() => job.notifyOnce(succeeded ? 'job.succeeded' : 'job.failed'));
    if (succeeded) return job.state;
    // Failed: stay open for a retry of the failed tasks until the window closes (or a cancel ends it).
    if (!(await job.awaitRetry())) return job.state;
    job.startRetryRound();
  }
}

/** Following a job over the API, as a client would: GET it until a condition holds. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { finalJobStatuses, type JobState } from '../../model/job-state';

/** The job has reached succeeded, failed or canceled. */
export const isFinal = (j: JobState): boolean => finalJobStatuses.includes(j.status);

/** Final, and no notification is still being delivered. */
export const isSettled = (j: JobState): boolean => isFinal(j) && j.notifications.every((n) => n.status !== 'pending');

/**
 * GETs `/v1/jobs/{id}` every `intervalMs` until `done` holds (every answer must be 200); the
 * error names the job's last state when `timeoutMs` passes first.
 *
 * @example const job = await pollJob(api.url, id, isSettled)
 */
export async function pollJob(
  base: string,
  id: string,
  done: (job: JobState) => boolean,
  { headers = {}, timeoutMs = 180_000, intervalMs = 200 }: { headers?: Record<string, string>; timeoutMs?: number; intervalMs?: number } = {},
): Promise<JobState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${base}/v1/jobs/${id}`, { headers });
    assert.equal(res.status, 200, `GET /v1/jobs/${id}`);
    const job = (await res.json()) as JobState;
    if (done(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} not done within ${timeoutMs} ms: ${JSON.stringify(job)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Reads until `ok` holds (visibility and cached gauges lag a little behind the workflows); fails
 * naming `what` and the last value read once `timeoutMs` passes.
 *
 * @example await eventually(() => list('?status=failed'), (p) => p.jobs.length === 1, 'the failed job')
 */
export async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  do {
    last = await read();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 300));
  } while (Date.now() < deadline);
  assert.fail(`${what}; last: ${JSON.stringify(last)}`);
}

/**
 * What is left under a worker's scratch root (`work/outputs`), as paths: each worker process keeps
 * its own folder there (`<host>-<pid>`), which may stay while the process lives; anything inside
 * it (a job's scratch folder or file) is a leftover.
 *
 * @example assert.deepEqual(await scratchLeft(path.join(dataDir, 'work', 'outputs')), [])
 */
export async function scratchLeft(root: string): Promise<string[]> {
  const entries = await fs.readdir(root, { recursive: true }).catch(() => [] as string[]);
  return entries.filter((e) => e.includes('/'));
}

/**
 * Chaos on the cluster shape (scripts/cluster.ts: the real Temporal server on PostgreSQL, 2 APIs,
 * 3 workers, one shared local store): 200 small jobs go in through both APIs while one worker is
 * killed with -9, one API is restarted and the Temporal server is stopped and started again.
 * Every job must succeed with its one output (non-empty; every 5th decoded in full); no task may have run more often than the
 * faults it lived through explain; the scratch folders must be empty; the times to recover are printed.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { decodesCleanly, makeClip, probeFile } from '../helpers/media';
import { needTool } from '../helpers/tools';
import { findTemporalServer } from '../../scripts/temporal-server';
import type { Cluster } from '../../scripts/cluster';
import { startLocalCluster } from '../helpers/cluster';
import type { JobState } from '../../model/job-state';
import { WORKFLOW_TYPE } from '../../workflows/definitions';

const hasPostgres = await fs.readdir('/usr/lib/postgresql').then((v) => v.length > 0, () => false);
const skip =
  needTool('PostgreSQL (initdb)', hasPostgres, '.ci/run installs Debian\'s postgresql') ||
  needTool('temporal-server 1.29.1', findTemporalServer({ build: false }) !== null, '.ci/run builds it (npx tsx scripts/temporal-server.ts, go install)');

const JOBS = 200;
/** The activities' heartbeat timeout (workflows/job-run.ts) and some: how long a fault may still show after it. */
const FAULT_TAIL_MS = 40_000;

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-chaos-'));
let cluster: Cluster | undefined;
after(async () => {
  await cluster?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (!(await check().catch(() => false))) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(250);
  }
  return Date.now() - start;
}

interface Pending {
  activityId: string;
  started: boolean;
  /** The worker that took its last attempt: `pid@host`. */
  worker: string;
}

/** The activities Temporal has pending for each running job. */
async function pendingActivities(client: Client, ids: string[]): Promise<Map<string, Pending[]>> {
  const found = new Map<string, Pending[]>();
  await Promise.all(
    ids.map(async (id) => {
      // An error (Temporal restarting) fails the whole read: no answer is not an empty list.
      const d = await client.workflow.getHandle(id).describe();
      if (d.status.name !== 'RUNNING') return;
      found.set(id, (d.raw.pendingActivities ?? []).map((a) => ({
        activityId: a.activityId ?? '',
        // PENDING_ACTIVITY_STATE_STARTED
        started: Number(a.state) === 2,
        worker: a.lastWorkerIdentity ?? '',
      })));
    }),
  );
  return found;
}

describe('chaos on the cluster: kill -9 a worker, restart an API, stop/start Temporal during a 200-job burst', { skip, timeout: 480_000 }, () => {
  test('every job succeeds once, its output decodes, retries match the faults, scratch is empty', async () => {
    const t0 = Date.now();
    cluster = await startLocalCluster({
      dir,
      apis: 2,
      workers: 3,
      env: { LOG_LEVEL: 'WARN', NODE_ENV: 'development' },
    });
    const c = cluster;
    console.log(`# cluster up in ${((Date.now() - t0) / 1000).toFixed(1)} s (PostgreSQL, Temporal, 2 APIs, 3 workers)`);
    let unexpected: string | null = null;
    void c.unexpectedExit.then((why) => (unexpected = why));
    const connection = await Connection.connect({ address: c.address });
    const client = new Client({ connection, namespace: c.namespace });
    try {
      const [a, b] = c.apis.map((s) => s.url!) as [string, string];
      const clip = path.join(dir, 'tiny.mp4');
      await makeClip(clip, { width: 160, height: 90, durationSec: 1, fps: 15, audio: false });
      assert.equal((await fetch(`${a}/v1/objects/raw/tiny.mp4`, { method: 'PUT', body: await fs.readFile(clip) })).status, 201);
      const body = JSON.stringify({ input: { key: 'raw/tiny.mp4' }, outputs: [{ name: 'small', template: 'mp4-h264-360p' }], snapshots: [] });

      // ── The burst: paced, so the faults fall inside it; a failed POST is sent again with its Idempotency-Key, to the other API.
      const ids: (string | null)[] = Array.from({ length: JOBS }, () => null);
      const postTimes: number[] = [];
      let submitted = 0;
      let retriedPosts = 0;
      let sameJobAnswers = 0;
      const submit = async (i: number) => {
        const begin = Date.now();
        for (let attempt = 0; ; attempt++) {
          const base = [a, b][(i + attempt) % 2]!;
          const res = await fetch(`${base}/v1/jobs`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': `chaos-${i}` },
            body,
            signal: AbortSignal.timeout(15_000),
          }).catch((err: unknown) => ({ status: 0, err }) as const);
          if ('ok' in res && (res.status === 202 || res.status === 200)) {
            if (res.status === 200) sameJobAnswers += 1;
            ids[i] = ((await res.json()) as { id: string }).id;
            postTimes.push(Date.now() - begin);
            submitted += 1;
            return;
          }
          // Only what an outage explains: no answer, 429 or 5xx (the API says Temporal is unavailable).
          if ('ok' in res && res.status < 500 && res.status !== 429) assert.fail(`POST job ${i}: ${res.status} ${await res.text()}`);
          if ('ok' in res) await res.body?.cancel();
          retriedPosts += 1;
          if (Date.now() - begin > 120_000) assert.fail(`POST job ${i} did not get through in 120 s`);
          await sleep(Math.min(2000, 200 * 2 ** Math.min(attempt, 4)));
        }
      };
      const burstStart = Date.now();
      const burst = (async () => {
        let next = 0;
        // 4 clients, each at most ~1.25 POSTs a second: about 40 s of submissions.
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            while (next < JOBS) {
              const i = next++;
              const started = Date.now();
              await submit(i);
              await sleep(Math.max(0, 800 - (Date.now() - started)));
            }
          }),
        );
      })();
      const burstDone = burst.then(() => Date.now());

      const faults: { what: string; from: number; to: number }[] = [];
      const recovery: Record<string, number> = {};
      const liveIds = () => ids.filter((id): id is string => id !== null);

      // ── 1. kill -9 a worker that is running activities now.
      await waitUntil('20 jobs submitted', async () => submitted >= 20, 120_000);
      let victim = c.workers[0]!;
      let held: { job: string; activityId: string }[] = [];
      for (let tries = 0; tries < 40 && held.length === 0; tries++) {
        const pending = await pendingActivities(client, liveIds());
        for (const w of c.workers) {
          held = [...pending].flatMap(([job, list]) => list.filter((p) => p.started && p.worker.startsWith(`${w.pid}@`)).map((p) => ({ job, activityId: p.activityId })));
          if (held.length) {
            victim = w;
            break;
          }
        }
        if (!held.length) await sleep(250);
      }
      assert.ok(held.length > 0, 'some worker was running an activity when it was killed');
      const killedPid = victim.pid;
      const killedAt = Date.now();
      victim.kill9();
      // Moved: each activity it held is started by another worker, or done (it cannot finish on a dead one).
      // Released: Temporal no longer counts any of them as started on the dead worker (its heartbeat timeout).
      let releasedMs = 0;
      const moved = waitUntil('the killed worker\'s activities moved', async () => {
        const pending = await pendingActivities(client, [...new Set(held.map((h) => h.job))]);
        const now = (job: string, activityId: string) => pending.get(job)?.find((p) => p.activityId === activityId);
        if (!releasedMs && held.every(({ job, activityId }) => !(now(job, activityId)?.started && now(job, activityId)!.worker.startsWith(`${killedPid}@`)))) {
          releasedMs = Date.now() - killedAt;
        }
        return held.every(({ job, activityId }) => {
          const now = pending.get(job)?.find((p) => p.activityId === activityId);
          return !now || (now.started && !now.worker.startsWith(`${killedPid}@`));
        });
      }, 120_000).then(async (ms) => {
        recovery.workerKill = ms;
        faults.push({ what: 'worker kill', from: killedAt, to: Date.now() });
        console.log(`# kill -9 ${victim.name} (pid ${killedPid}) while it ran ${held.length} activities of ${new Set(held.map((h) => h.job)).size} jobs: released for retry after ${(releasedMs / 1000).toFixed(1)} s, all started on another worker (or done, behind the queue) ${(ms / 1000).toFixed(1)} s after the kill`);
        // A supervisor starts it again; the new process removes what the killed one left in scratch.
        await victim.start();
      });

      // ── 2. restart an API (SIGTERM, start): its clients' POSTs go to the other API meanwhile.
      await waitUntil('60 jobs submitted', async () => submitted >= 60, 120_000);
      const api = c.apis[1]!;
      const apiStoppedAt = Date.now();
      await api.stop();
      await api.start();
      recovery.apiRestart = Date.now() - apiStoppedAt;
      faults.push({ what: 'API restart', from: apiStoppedAt, to: Date.now() });
      console.log(`# ${api.name} restarted: serving again (/readyz) ${(recovery.apiRestart / 1000).toFixed(1)} s after SIGTERM`);

      // ── 3. stop the Temporal server and start it again.
      await waitUntil('120 jobs submitted', async () => submitted >= 120, 120_000);
      // Not while the killed worker is starting again: one fault at a time.
      await moved;
      const count = async (query: string) => (await client.workflow.count(query)).count;
      const succeededBefore = await count(`WorkflowType = '${WORKFLOW_TYPE}' AND MediaJobStatus = 'succeeded'`);
      const temporalStoppedAt = Date.now();
      await c.temporal.stop();
      await c.temporal.start();
      const temporalUpAt = Date.now();
      const progressed = await waitUntil('a job succeeds after the Temporal restart', async () =>
        (await count(`WorkflowType = '${WORKFLOW_TYPE}' AND MediaJobStatus = 'succeeded'`)) > succeededBefore, 180_000);
      recovery.temporalDown = temporalUpAt - temporalStoppedAt;
      recovery.temporalProgress = temporalUpAt - temporalStoppedAt + progressed;
      faults.push({ what: 'Temporal restart', from: temporalStoppedAt, to: Date.now() });
      console.log(`# Temporal server stopped and started: frontend back in ${(recovery.temporalDown / 1000).toFixed(1)} s, a job succeeded ${(recovery.temporalProgress / 1000).toFixed(1)} s after the stop`);

      const burstEnd = await burstDone;
      postTimes.sort((x, y) => x - y);
      console.log(`# ${JOBS} POSTs in ${((burstEnd - burstStart) / 1000).toFixed(1)} s; ${retriedPosts} sent again (outage), ${sameJobAnswers} answered with the job an earlier attempt made; POST p50 ${postTimes[Math.floor(JOBS * 0.5)]} ms, max ${postTimes.at(-1)} ms (retries included)`);

      // ── Drain.
      const drained = await waitUntil('all jobs succeeded', async () =>
        (await count(`WorkflowType = '${WORKFLOW_TYPE}' AND MediaJobStatus = 'succeeded'`)) >= JOBS, 300_000);
      console.log(`# drained ${((Date.now() - burstStart) / 1000).toFixed(1)} s after the first POST (${(drained / 1000).toFixed(1)} s after the last)`);
      assert.equal(unexpected, null, 'no process died that the test did not kill');

      // ── One job per key, one workflow per job: nothing was started twice.
      const unique = new Set(liveIds());
      assert.equal(unique.size, JOBS, 'every Idempotency-Key made its own job');
      assert.equal(await count(`WorkflowType = '${WORKFLOW_TYPE}'`), JOBS, 'exactly one workflow per job in Temporal');

      // ── Every job succeeded; every task ran no more often than the faults it lived through explain.
      const jobs: JobState[] = [];
      for (const id of unique) {
        const res = await fetch(`${[a, b][jobs.length % 2]}/v1/jobs/${id}`);
        assert.equal(res.status, 200);
        jobs.push((await res.json()) as JobState);
      }
      let retriedTasks = 0;
      for (const job of jobs) {
        assert.equal(job.status, 'succeeded', JSON.stringify(job));
        const from = Date.parse(job.createdAt);
        const to = Date.parse(job.finishedAt!);
        const lived = faults.filter((f) => from <= f.to + FAULT_TAIL_MS && to >= f.from);
        for (const task of job.tasks) {
          // A job without a callback skips its notify task.
          assert.ok(task.status === 'succeeded' || (task.kind === 'notify' && task.status === 'skipped'), `${job.id} ${task.id}: ${task.status}`);
          if (task.status === 'succeeded') assert.ok(task.attempts >= 1, `${job.id} ${task.id} ran`);
          assert.ok(
            task.attempts <= 1 + lived.length,
            `${job.id} ${task.id} ran ${task.attempts} times, but lived through ${lived.length} fault(s) (${lived.map((f) => f.what).join(', ') || 'none'}): ${job.createdAt} – ${job.finishedAt}`,
          );
          if (task.attempts > 1) retriedTasks += 1;
        }
      }
      console.log(`# ${retriedTasks} tasks ran more than once, all in jobs that lived through a fault`);

      // ── Each output once, non-empty, and it decodes.
      const objects = path.join(c.dataDir, 'objects');
      for (const job of jobs) {
        assert.equal(job.outputs.length, 1);
        const files = await fs.readdir(path.join(objects, job.id), { recursive: true });
        assert.deepEqual(files, ['small.mp4'], `${job.id}: one output, nothing else`);
        assert.equal(job.outputs[0]!.key, `${job.id}/small.mp4`);
        const { size } = await fs.stat(path.join(objects, job.outputs[0]!.key));
        assert.ok(size > 0 && size === job.outputs[0]!.sizeBytes, `${job.id}: ${size} bytes on disk, ${job.outputs[0]!.sizeBytes} in the job`);
      }
      assert.deepEqual((await fs.readdir(objects)).sort(), [...unique, 'raw'].sort(), 'no output of a job that does not exist');
      // Every 5th output decoded in full and probed (all 200 take ~90 s on a busy 2-core machine).
      const decodeStart = Date.now();
      const sample = jobs.filter((_, i) => i % 5 === 0);
      let next = 0;
      await Promise.all(
        [0, 1].map(async () => {
          while (next < sample.length) {
            const file = path.join(objects, sample[next++]!.outputs[0]!.key);
            assert.ok(await decodesCleanly(file), `${file} decodes`);
            const probed = await probeFile(file);
            const video = probed.streams.find((st) => st.codec_type === 'video');
            assert.equal(video?.codec_name, 'h264');
            assert.equal(video?.height, 90, JSON.stringify(probed));
            assert.ok(Math.abs(probed.durationSec - 1) < 0.2, `duration ${probed.durationSec}`);
          }
        }),
      );
      console.log(`# ${sample.length} of the ${jobs.length} outputs decoded and probed in ${((Date.now() - decodeStart) / 1000).toFixed(1)} s`);

      // ── Scratch: the live workers' folders are empty, the killed worker's is gone.
      const work = path.join(c.dataDir, 'work');
      const livePids = new Set(c.workers.map((w) => w.pid));
      for (const sub of ['outputs', 'inputs']) {
        for (const folder of await fs.readdir(path.join(work, sub)).catch(() => [] as string[])) {
          const pid = Number(folder.slice(folder.lastIndexOf('-') + 1));
          assert.ok(livePids.has(pid), `${sub}/${folder}: a folder of a process that is gone (the killed worker was ${killedPid})`);
          assert.deepEqual(await fs.readdir(path.join(work, sub, folder)), [], `${sub}/${folder} is empty`);
        }
      }
      for (const folder of await fs.readdir(path.join(work, 'input-cache')).catch(() => [] as string[])) {
        assert.notEqual(Number(folder.slice(folder.lastIndexOf('-') + 1)), killedPid, 'the killed worker\'s input cache is gone');
      }
      console.log(`# recovery: worker kill → its activities released ${(releasedMs / 1000).toFixed(1)} s, started elsewhere ${(recovery.workerKill! / 1000).toFixed(1)} s; API restart → serving ${(recovery.apiRestart / 1000).toFixed(1)} s; Temporal stop/start → frontend ${(recovery.temporalDown / 1000).toFixed(1)} s, jobs progressing ${(recovery.temporalProgress / 1000).toFixed(1)} s; whole test ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    } finally {
      await connection.close();
    }
  });
});

/**
 * Scenario: small work behind big work. Two long HLS ladders with a slow x264 preset hold every
 * encode slot of the worker; then a small job (5 s 480p → 360p + poster) and a poster-only job
 * are POSTed, both with a callback URL (a receiver in this process). Measured, not asserted:
 * - the small job's probe starts ≤ 1 s after its POST (history: ActivityTaskStarted);
 * - its poster is stored ≤ 2 s after the POST (the snapshot activity closed);
 * - the poster-only job's callback arrives ≤ 1 s after the job is final (its finishedAt), while
 *   the slots are still held.
 * Then the long jobs are canceled, and the small job's own callback is measured once it is done.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { BenchService } from '../service';
import { loadAverage, makeSource, type BenchSettings, type JobRecord, type Source } from './common';

/** temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED. */
const STARTED = 2;
const ENCODE_TYPES = ['encode', 'encodeChunk', 'encodeAudio', 'transcode'];

export const headOfLineTargets = { probeStartMs: 1000, posterStoredMs: 2000, callbackAfterFinalMs: 1000 } as const;

export interface HeadOfLineResult {
  longJobs: { ids: string[]; request: unknown; runningEncodesWhenPosted: number; slots: number };
  smallJob: {
    id: string;
    request: unknown;
    /** POST → the probe activity started. */
    probeStartMs: number;
    /** Probe scheduled → started (the queue wait). */
    probeQueueMs: number;
    /** POST → the snapshot activity closed (the poster is in the store by then). */
    posterStoredMs: number;
    /** The snapshot activity: scheduled → started (queue) and started → closed (run). */
    posterQueueMs: number;
    posterRunMs: number;
    /** Encode activities of the long jobs still running when the poster was stored. */
    encodesRunningAtPoster: number;
    /** After the long jobs were canceled: finishedAt → callback received. */
    callbackAfterFinalMs: number | null;
  };
  posterOnlyJob: {
    id: string;
    request: unknown;
    /** finishedAt → callback received, while the long jobs still held the slots. */
    callbackAfterFinalMs: number;
    /** The notify activity's queue wait (scheduled → started). */
    notifyQueueMs: number | null;
    posterStoredMs: number;
  };
  misses: string[];
  loadAverage: { before: number[]; after: number[] };
}

interface Callback {
  atMs: number;
  type: string;
  jobId: string;
  finishedAt: string | null;
}

/** A loopback receiver for the jobs' callbacks: resolves each job's first final-state callback. */
async function receiver(): Promise<{ url: string; next(jobId: string, timeoutMs: number): Promise<Callback>; close(): Promise<void> }> {
  const got: Callback[] = [];
  const waiters: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const atMs = Date.now();
      try {
        const b = JSON.parse(body) as { type?: string; data?: { id?: string; finishedAt?: string | null } };
        got.push({ atMs, type: b.type ?? '', jobId: b.data?.id ?? '', finishedAt: b.data?.finishedAt ?? null });
      } catch {
        // not ours
      }
      res.writeHead(204).end();
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  return {
    url,
    async next(jobId, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const c = got.find((x) => x.jobId === jobId);
        if (c) return c;
        if (Date.now() > deadline) throw new Error(`no callback for ${jobId} within ${timeoutMs} ms`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 500);
        });
      }
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export async function runHeadOfLine(service: BenchService, settings: BenchSettings, longSource: Source, jobs: JobRecord[]): Promise<HeadOfLineResult> {
  const before = loadAverage();
  const hook = await receiver();
  const client = service.stack.client;
  const runningEncodes = async (ids: string[]): Promise<number> => {
    let n = 0;
    for (const id of ids) {
      const d = await client.workflow.getHandle(id).describe();
      for (const p of d.raw.pendingActivities ?? []) if (p.state === STARTED && ENCODE_TYPES.includes(p.activityType?.name ?? '')) n += 1;
    }
    return n;
  };
  const timelineWhen = async (id: string, done: (t: Awaited<ReturnType<BenchService['timeline']>>) => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const t = await service.timeline(id);
      if (done(t)) return t;
      if (Date.now() > deadline) throw new Error(`job ${id}: not there within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const longRequest = (key: string) => ({
    input: { key },
    outputs: [{ name: 'hls', template: 'hls-h264-ladder', overrides: { video: { preset: 'slow' } } }],
    outputPrefix: 'bench/out/',
  });
  const longIds: string[] = [];
  try {
    for (const k of [1, 2]) {
      const key = `bench/hol/long-${k}.mp4`;
      await service.upload(longSource.file, key);
      longIds.push((await service.submit(longRequest(key))).id);
    }
    // Every encode slot of the worker busy with the long jobs' chunks.
    const deadline = Date.now() + 120_000;
    let running = 0;
    while ((running = await runningEncodes(longIds)) < service.concurrency) {
      if (Date.now() > deadline) throw new Error(`the long jobs hold ${running} of ${service.concurrency} encode slots after 120 s`);
      await new Promise((r) => setTimeout(r, 250));
    }

    const small = await makeSource(path.join(settings.workDir), 'hol-small.mp4', 854, 480, 5);
    await service.upload(small.file, 'bench/hol/small.mp4');
    await service.upload(small.file, 'bench/hol/poster.mp4');
    const notify = { url: hook.url };
    const smallRequest = { input: { key: 'bench/hol/small.mp4' }, outputs: [{ name: '360p', template: 'mp4-h264-360p' }], outputPrefix: 'bench/out/', notify };
    const posterRequest = { input: { key: 'bench/hol/poster.mp4' }, outputs: [], outputPrefix: 'bench/out/', notify };
    const s = await service.submit(smallRequest);
    const p = await service.submit(posterRequest);

    const snapshotDone = (t: Awaited<ReturnType<BenchService['timeline']>>) => t.activities.some((a) => a.type === 'snapshot' && a.closedMs !== null);
    const sTimeline = await timelineWhen(s.id, snapshotDone, 120_000);
    const encodesRunningAtPoster = await runningEncodes(longIds);
    const probe = sTimeline.activities.find((a) => a.type === 'probeInput')!;
    const snap = sTimeline.activities.find((a) => a.type === 'snapshot')!;

    const pCallback = await hook.next(p.id, 120_000);
    const stillRunning = await runningEncodes(longIds);
    // The notify activity's events are in the history once it closed, after the callback went out.
    await service.waitClosed(p.id);
    const pTimeline = await service.timeline(p.id);
    const pNotify = pTimeline.activities.find((a) => a.type === 'notify');
    const pSnap = pTimeline.activities.find((a) => a.type === 'snapshot');

    // Free the slots; the small job's encode runs now.
    for (const id of longIds) await service.cancel(id);
    for (const id of longIds) await client.workflow.getHandle(id).result().catch(() => undefined);
    await service.waitClosed(s.id);
    const sCallback = await hook.next(s.id, 120_000).catch(() => null);
    const sFinal = await service.timeline(s.id);
    jobs.push({ scenario: 'headOfLine', id: s.id, inputKey: 'bench/hol/small.mp4', postMs: s.postMs, seenMs: sFinal.closedMs!, timeline: sFinal });

    const since = (c: Callback | null) => (c?.finishedAt ? c.atMs - Date.parse(c.finishedAt) : null);
    const result: HeadOfLineResult = {
      longJobs: { ids: longIds, request: longRequest('bench/hol/long-1.mp4'), runningEncodesWhenPosted: running, slots: service.concurrency },
      smallJob: {
        id: s.id,
        request: smallRequest,
        probeStartMs: Math.round(probe.startedMs! - s.postMs),
        probeQueueMs: Math.round(probe.startedMs! - probe.scheduledMs),
        posterStoredMs: Math.round(snap.closedMs! - s.postMs),
        posterQueueMs: Math.round(snap.startedMs! - snap.scheduledMs),
        posterRunMs: Math.round(snap.closedMs! - snap.startedMs!),
        encodesRunningAtPoster,
        callbackAfterFinalMs: since(sCallback),
      },
      posterOnlyJob: {
        id: p.id,
        request: posterRequest,
        callbackAfterFinalMs: since(pCallback) ?? NaN,
        notifyQueueMs: pNotify?.startedMs != null ? Math.round(pNotify.startedMs - pNotify.scheduledMs) : null,
        posterStoredMs: pSnap?.closedMs != null ? Math.round(pSnap.closedMs - p.postMs) : NaN,
      },
      misses: [],
      loadAverage: { before, after: loadAverage() },
    };
    const t = headOfLineTargets;
    if (!(result.smallJob.probeStartMs <= t.probeStartMs)) result.misses.push(`probe started ${result.smallJob.probeStartMs} ms after POST (target ≤ ${t.probeStartMs} ms)`);
    if (!(result.smallJob.posterStoredMs <= t.posterStoredMs)) result.misses.push(`poster stored ${result.smallJob.posterStoredMs} ms after POST (target ≤ ${t.posterStoredMs} ms)`);
    if (!(result.posterOnlyJob.callbackAfterFinalMs <= t.callbackAfterFinalMs)) {
      result.misses.push(`callback ${result.posterOnlyJob.callbackAfterFinalMs} ms after the job was final (target ≤ ${t.callbackAfterFinalMs} ms)`);
    }
    if (stillRunning < service.concurrency) result.misses.push(`only ${stillRunning} of ${service.concurrency} encode slots were still held by the long jobs when the callback arrived`);
    return result;
  } finally {
    // On a failure midway, do not leave slow encodes running into the next scenario.
    for (const id of longIds) await service.cancel(id).catch(() => undefined);
    await hook.close();
  }
}

/**
 * Chunked jobs, read from their timeline, and what they would take on more workers. Pure.
 *
 * The critical-path model (stated in the README): a chunked job publishes after
 *
 *   probe + max(audio, ceil(chunks / P) × chunk) + join + package,   P = min(W × slots, maxParallel)
 *
 * where W is the number of worker machines like the one measured, `slots` each one's
 * WORKER_ACTIVITY_CONCURRENCY, `maxParallel` the job's own bound on chunks at once
 * (CHUNK_MAX_PARALLEL), and probe / audio / chunk / join / package the measured activity times
 * (chunk: the median chunk). It ignores the audio's own slot, queueing and workflow round trips,
 * and assumes chunks do not get slower with more machines (each machine has its own cores).
 */
import { median } from './stats';
import type { ActivitySpan, JobTimeline } from './history';

export interface StageTimes {
  probeMs: number;
  /** The audio of the group, encoded once over the whole input (0 without audio). */
  audioMs: number;
  /** One chunk, all renditions (the median of the measured chunks). */
  chunkMs: number;
  chunks: number;
  joinMs: number;
  packageMs: number;
}

/**
 * The projected time to publish on `workers` machines with `slots` encode slots each.
 *
 * @example projectedMs({ probeMs: 100, audioMs: 5000, chunkMs: 20000, chunks: 4, joinMs: 500, packageMs: 800 }, 1, 2, 4) // 41400
 */
export function projectedMs(t: StageTimes, workers: number, slots: number, maxParallel = Infinity): number {
  if (!(workers >= 1 && slots >= 1 && maxParallel >= 1)) throw new Error('workers, slots and maxParallel must be at least 1');
  const parallel = Math.min(workers * slots, maxParallel);
  const waves = Math.ceil(t.chunks / parallel);
  return t.probeMs + Math.max(t.audioMs, waves * t.chunkMs) + t.joinMs + t.packageMs;
}

const span = (a: ActivitySpan): number => (a.startedMs !== null && a.closedMs !== null ? a.closedMs - a.startedMs : NaN);
/** The activity id without its `#round` suffix. */
const base = (id: string): string => id.replace(/#\d+$/, '');

/** The activities of one kind in a chunked job's timeline, by their activity ids. */
export function chunkActivities(timeline: JobTimeline): { chunks: ActivitySpan[]; audio: ActivitySpan[]; join: ActivitySpan[]; probe: ActivitySpan[]; package: ActivitySpan[] } {
  const done = timeline.activities.filter((a) => a.outcome === 'completed');
  return {
    chunks: done.filter((a) => /\/chunk-\d+$/.test(base(a.activityId))),
    audio: done.filter((a) => base(a.activityId).endsWith('/audio')),
    join: done.filter((a) => base(a.activityId).endsWith('/join')),
    probe: done.filter((a) => a.type === 'probeInput'),
    package: done.filter((a) => a.type === 'packageOutput'),
  };
}

/**
 * The measured stage times of a chunked job (started → closed of each activity).
 *
 * @example stageTimes(timelineOf(history)).chunks // 4
 */
export function stageTimes(timeline: JobTimeline): StageTimes {
  const a = chunkActivities(timeline);
  if (!a.chunks.length) throw new Error('the job ran no chunk activities');
  const sum = (list: ActivitySpan[]) => list.reduce((s, x) => s + span(x), 0);
  return {
    probeMs: sum(a.probe),
    audioMs: sum(a.audio),
    chunkMs: median(a.chunks.map(span)),
    chunks: a.chunks.length,
    joinMs: sum(a.join),
    packageMs: sum(a.package),
  };
}

/** How many chunks each worker started (by the identity in ActivityTaskStarted). */
export function chunksPerWorker(timeline: JobTimeline): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of chunkActivities(timeline).chunks) {
    const who = c.identity ?? 'unknown';
    out[who] = (out[who] ?? 0) + 1;
  }
  return out;
}

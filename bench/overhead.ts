/**
 * Where a job's wall time goes besides ffmpeg: each instant between the POST and the moment the
 * client saw the result is given to exactly one category, so the parts add up to the wall time.
 * Pure: it works on the job's Temporal timeline and the timing shim's log of ffmpeg/ffprobe runs.
 */
import type { ActivitySpan, JobTimeline } from './history';

/** One run of ffmpeg or ffprobe as the timing shim (bench/ffmpeg-shim.sh) logged it. */
export interface ProcessRun {
  tool: 'ffmpeg' | 'ffprobe';
  startMs: number;
  endMs: number;
  exitCode: number;
  /** The file after -i with symlinks resolved: the stored object a job's input link points to. */
  input: string;
  args: string[];
}

/** The shim's separator between arguments: never inside a path or an ffmpeg option. */
export const ARG_SEPARATOR = '\x1f';

/** Bash prints EPOCHREALTIME with the locale's decimal separator. */
function seconds(text: string): number {
  return Number(text.replace(',', '.'));
}

/**
 * Parses the shim's log: `tool TAB start TAB end TAB exit-code TAB input TAB args` per line,
 * times in seconds since the epoch with microseconds.
 */
export function parseRunLog(text: string): ProcessRun[] {
  const runs: ProcessRun[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const [tool, start, end, code, input, args] = line.split('\t');
    if ((tool !== 'ffmpeg' && tool !== 'ffprobe') || start === undefined || end === undefined || code === undefined || input === undefined || args === undefined) {
      throw new Error(`unreadable line in the ffmpeg run log: ${JSON.stringify(line)}`);
    }
    runs.push({ tool, startMs: seconds(start) * 1000, endMs: seconds(end) * 1000, exitCode: Number(code), input, args: args.split(ARG_SEPARATOR) });
  }
  return runs;
}

/** The file after `-i` (every ffmpeg and ffprobe command of the service names its input so). */
export function inputOf(args: readonly string[]): string | null {
  const i = args.indexOf('-i');
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : null;
}

export interface JobRuns {
  /** ffmpeg runs reading the job's input: the encodes and snapshots. */
  ffmpeg: ProcessRun[];
  /** ffprobe runs on the job's input: the probe activity. */
  probe: ProcessRun[];
  /** ffprobe runs on the files those ffmpeg runs wrote: the activities checking their outputs. */
  outputCheck: ProcessRun[];
}

/**
 * The runs that belong to one job, recognised by its input object (give each job its own) and by
 * the files its runs wrote: a run that reads a file a job's ffmpeg wrote (a remux of a shared
 * encode's video, an ffprobe output check) is the job's too, transitively.
 */
export function runsOfJob(runs: readonly ProcessRun[], inputPath: string): JobRuns {
  const reads = (r: ProcessRun) => [r.input, inputOf(r.args) ?? ''];
  const writes = (r: ProcessRun) => r.args.filter((a, i) => a.startsWith('/') && r.args[i - 1] !== '-i');
  const ffmpeg = new Set(runs.filter((r) => r.tool === 'ffmpeg' && r.input === inputPath));
  const written = new Set([...ffmpeg].flatMap(writes));
  for (let grew = true; grew; ) {
    grew = false;
    for (const r of runs) {
      if (r.tool !== 'ffmpeg' || ffmpeg.has(r) || !reads(r).some((f) => written.has(f))) continue;
      ffmpeg.add(r);
      for (const w of writes(r)) written.add(w);
      grew = true;
    }
  }
  return {
    ffmpeg: runs.filter((r) => ffmpeg.has(r)),
    probe: runs.filter((r) => r.tool === 'ffprobe' && r.input === inputPath),
    outputCheck: runs.filter((r) => r.tool === 'ffprobe' && reads(r).some((f) => written.has(f))),
  };
}

/**
 * In priority order: an instant covered by several goes to the first. What each one means is
 * in `categoryMeaning`.
 */
export const categories = ['ffmpeg', 'probe', 'outputCheck', 'storage', 'otherActivity', 'queueing', 'scheduling', 'submit', 'reporting'] as const;
export type Category = (typeof categories)[number];

export const categoryMeaning: Record<Category, string> = {
  ffmpeg: 'at least one ffmpeg process of the job is running (from the timing shim)',
  probe: 'the probe activity runs (store lookup + ffprobe of the input) and no ffmpeg does',
  outputCheck: 'an encode activity runs ffprobe on the file ffmpeg just wrote, and no ffmpeg of the job runs',
  storage: 'an encode (encode, chunk, audio, join, package, transcode) or snapshot activity runs outside ffmpeg and ffprobe: input lookup, scratch file, copy into the store, result',
  otherActivity: 'any other activity runs (notify, cleanup, pipeline check)',
  queueing: 'an activity or workflow task is scheduled and no worker has started it yet (busy slots, poll latency)',
  scheduling: 'the workflow runs but none of the above: workflow tasks, and the round trips between an activity ending and the next being scheduled',
  submit: 'from sending POST /v1/jobs until Temporal records the workflow as started (validation, template resolution, store check, start RPC)',
  reporting: 'from the workflow closing until the client saw the final state (its polling interval + GET)',
};

export interface Breakdown {
  wallMs: number;
  /** Milliseconds per category; they add up to wallMs. */
  parts: Record<Category, number>;
  /** wallMs − parts.ffmpeg. */
  overheadMs: number;
  /** The sum of the job's ffmpeg process durations (counts parallel runs twice, unlike parts.ffmpeg). */
  ffmpegProcessMs: number;
}

interface Interval {
  from: number;
  to: number;
  category: Category;
}

function activityCategory(a: ActivitySpan): Category {
  if (a.type === 'probeInput') return 'probe';
  if (['transcode', 'encode', 'encodeChunk', 'encodeAudio', 'joinRenditions', 'packageOutput', 'snapshot'].includes(a.type)) return 'storage';
  return 'otherActivity';
}

/**
 * Splits the wall time [postMs, seenMs] of one job into categories.
 *
 * @example breakdown({ postMs, seenMs, timeline: timelineOf(history), runs: runsOfJob(log, inputPath) })
 */
export function breakdown(job: { postMs: number; seenMs: number; timeline: JobTimeline; runs: JobRuns }): Breakdown {
  const { postMs, seenMs, timeline, runs } = job;
  const closedMs = timeline.closedMs ?? seenMs;
  const intervals: Interval[] = [];
  const add = (from: number | null, to: number | null, category: Category) => {
    if (from === null || to === null) return;
    const a = Math.max(from, postMs);
    const b = Math.min(to, seenMs);
    if (b > a) intervals.push({ from: a, to: b, category });
  };
  for (const r of runs.ffmpeg) add(r.startMs, r.endMs, 'ffmpeg');
  for (const r of runs.probe) add(r.startMs, r.endMs, 'probe');
  for (const r of runs.outputCheck) add(r.startMs, r.endMs, 'outputCheck');
  for (const a of timeline.activities) {
    add(a.startedMs, a.closedMs ?? seenMs, activityCategory(a));
    add(a.scheduledMs, a.startedMs ?? a.closedMs ?? seenMs, 'queueing');
  }
  for (const t of timeline.workflowTasks) {
    add(t.scheduledMs, t.startedMs ?? t.closedMs ?? seenMs, 'queueing');
    add(t.startedMs, t.closedMs ?? seenMs, 'scheduling');
  }
  const rank = (c: Category) => categories.indexOf(c);
  const region = (t: number): Category => (t < timeline.startedMs ? 'submit' : t < closedMs ? 'scheduling' : 'reporting');

  const parts = Object.fromEntries(categories.map((c) => [c, 0])) as Record<Category, number>;
  const edges = [...new Set([postMs, seenMs, ...intervals.flatMap((i) => [i.from, i.to])])].sort((a, b) => a - b);
  for (let k = 0; k + 1 < edges.length; k++) {
    const from = edges[k]!;
    const to = edges[k + 1]!;
    if (from < postMs || to > seenMs) continue;
    const mid = (from + to) / 2;
    let best: Category = region(mid);
    for (const i of intervals) if (i.from <= mid && mid < i.to && rank(i.category) < rank(best)) best = i.category;
    parts[best] += to - from;
  }
  const wallMs = Math.max(0, seenMs - postMs);
  return {
    wallMs,
    parts,
    overheadMs: wallMs - parts.ffmpeg,
    ffmpegProcessMs: runs.ffmpeg.reduce((sum, r) => sum + (r.endMs - r.startMs), 0),
  };
}

/** The mean of several jobs' breakdowns, category by category (means, unlike medians, still add up). */
export function meanBreakdown(list: readonly Breakdown[]): Breakdown {
  if (list.length === 0) throw new Error('no breakdowns to average');
  const mean = (f: (b: Breakdown) => number) => list.reduce((sum, b) => sum + f(b), 0) / list.length;
  return {
    wallMs: mean((b) => b.wallMs),
    parts: Object.fromEntries(categories.map((c) => [c, mean((b) => b.parts[c])])) as Record<Category, number>,
    overheadMs: mean((b) => b.overheadMs),
    ffmpegProcessMs: mean((b) => b.ffmpegProcessMs),
  };
}

/**
 * One mediaJob execution's state and the pieces that change it: the task table, the generic task
 * runner ("run this activity for these task ids, record the outcome on each"), dependency order by
 * task id, cancel, the retry window's bookkeeping, notification and cleanup. Pure orchestration:
 * every piece of I/O is an activity. The workflow function (media-job.ts) is only the loop.
 *
 * The commands this code issues, and their order, are what recorded histories replay
 * (test/workflows/replay.test.ts): change them only behind `patched()`.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  CancellationScope,
  TimeoutFailure,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { RenditionResult } from '../activities/encode';
import { errorCodes, isErrorCode, nonRetryableCodes } from '../model/errors';
import type { ConcatInput, JobInput, JobSpec } from '../model/job';
import { autoLadderOutputs, withChosenLadders } from '../media/per-title';
import type { AutoLadderState, JobError, JobState, JobStatus, MediaInfo, NotificationState, OutputState, QualityScore, TaskKind, TaskState } from '../model/job-state';
import { planJob, type MediaTask, type PackageTask, type Plan, type QualityTask, type TranscodeTask } from '../media/plan';
import { groupByRange } from '../media/args/encode';
import { defaultChunkSettings, planChunks, type Chunk } from '../media/chunks';
import { concatProblem, planConcatJob } from '../media/concat';
import { lightQueueOf } from '../model/queues';
import { activityStartedSignal, cancelSignal, pipelineResumedSignal, retrySignal, retryUpdate, searchAttributes, stateQuery } from './definitions';

const retry = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  maximumAttempts: 5,
  // Broken media and bad settings fail the same way every time: do not retry them.
  nonRetryableErrorTypes: nonRetryableCodes,
};

/** A dead worker is noticed within the heartbeat timeout, and its task moves to another worker. */
const heartbeating = { heartbeatTimeout: '10s', cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED };

/** How often a job held by a paused pipeline checks on its own, in case a resume signal missed it. */
const PIPELINE_RECHECK = '30s';

/**
 * The version marker of the held job's backoff: the resume signal (api/jobs.ts releasePipeline) is
 * how a held job learns its pipeline is active again; the job's own re-check is only the fallback
 * for a signal that was missed, so its interval doubles from 30 s up to PIPELINE_RECHECK_MAX_MS
 * (superseded by HELD_SPARSE_PATCH below). Histories recorded before it replay the fixed 30 s timer
 * they were recorded with.
 */
export const HELD_BACKOFF_PATCH = 'held-recheck-backoff';
export const PIPELINE_RECHECK_FIRST_MS = 30_000;
export const PIPELINE_RECHECK_MAX_MS = 3_600_000;

/**
 * The version marker of the sparse re-check. A held job's own re-check is the fallback for a
 * resume signal that missed it, and a signal can miss a job in two ways: the resume's listing
 * (Temporal visibility) did not show the job yet, because it started a moment before the resume;
 * or the resume was cut off midway (PATCH it again: it releases what is left). So the first
 * re-check comes 1 min after the first check — by then a job started before the resume is
 * visible to it, or the re-check itself reads `active` — and the later ones at 30 min, then
 * every hour. Each timer is cut by up to half at random, so jobs held together do not check
 * together. A signal that arrives while a check runs is kept (the flag is cleared before the
 * check, not after). Before it, 10,000 held jobs checking at 30 s, 90 s, 210 s, … kept two cores
 * busy for a quarter of an hour (README, Performance). Histories recorded before it replay the
 * backoff they were recorded with.
 */
export const HELD_SPARSE_PATCH = 'held-recheck-sparse';
/** The sparse re-checks' timers before the jitter: 1 min, 30 min, then 1 h each. */
export const PIPELINE_RECHECK_SPARSE_MS = [60_000, 1_800_000, 3_600_000] as const;
/** Each sparse timer is its nominal length times a factor in (1 - this, 1]. */
export const PIPELINE_RECHECK_JITTER = 0.5;

/**
 * The version marker of the `MediaFinishedAt` search attribute. Its upserts are commands that
 * histories recorded before it do not have: `patched()` is false while such a history replays (so
 * it replays as recorded) and true, with a marker in the history, for every run after it.
 */
export const FINISHED_AT_PATCH = 'finished-at-attribute';

/**
 * The version marker of cutting the work right (issue "Cut the work right"): renditions of one
 * input range share one encode activity (long ranges: chunk activities + a join), and light work
 * runs on the light task queue. Histories recorded before it replay the one-activity-per-rendition
 * path they were recorded with.
 */
export const CUT_PATCH = 'cut-the-work';

/**
 * The version marker of concatenation (`inputs[]`): only jobs with inputs take its path (every
 * input staged and probed in parallel, one encode that joins them), so no earlier history meets it.
 */
export const CONCAT_PATCH = 'concat-inputs';

const options: Record<'probe' | 'media' | 'cleanup' | 'notify' | 'pipeline', ActivityOptions> = {
  pipeline: { startToCloseTimeout: '30s', retry, cancellationType: ActivityCancellationType.TRY_CANCEL },
  probe: { startToCloseTimeout: '30m', retry, ...heartbeating },
  media: { startToCloseTimeout: '12h', retry, ...heartbeating },
  cleanup: { startToCloseTimeout: '5m', retry, cancellationType: ActivityCancellationType.TRY_CANCEL },
  notify: {
    startToCloseTimeout: '1m',
    retry: { ...retry, initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 6 },
    cancellationType: ActivityCancellationType.TRY_CANCEL,
  },
};

/** What every activity of ours resolves to: its value and the attempt that produced it. */
type Attempted<T> = { value: T; attempt: number };

/** One task of a round's graph: started once every task it depends on (by id) is done. */
export interface GraphStep {
  id: string;
  /** The tasks this step settles (default: the one task named `id`); dependents wait on task ids. */
  taskIds?: string[];
  /** Every task the step waits for (for a shared step: the union of its tasks' needs). */
  dependsOn: string[];
  /** Per task of a shared step, the tasks it needs itself (default: all of `dependsOn`). */
  needs?: Record<string, string[]>;
  /** Runs the step's tasks whose own needs succeeded (the others are settled already). */
  run(ready: string[]): Promise<void>;
}

/** Which slots an activity takes: encodes, or light work that never waits behind them. */
type WorkClass = 'encode' | 'light';

const classOf: Record<keyof typeof options, WorkClass> = { pipeline: 'light', probe: 'light', media: 'encode', cleanup: 'light', notify: 'light' };

/** What an activity's failure means for the tasks it carried. */
type Outcome = { status: 'canceled'; attempts: number | null } | { status: 'failed'; error: JobError; attempts: number | null };

/** Reads the code, message and attempt out of an activity failure (or its cancellation). */
export function outcomeOf(err: unknown): Outcome {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (isCancellation(err)) {
    // An activity that was running when canceled says which attempt it was (absent: it never ran).
    const detail = cause instanceof CancelledFailure ? (cause.details?.[0] as { attempt?: number } | undefined) : undefined;
    return { status: 'canceled', attempts: typeof detail?.attempt === 'number' ? detail.attempt : null };
  }
  if (cause instanceof ApplicationFailure) {
    const code = cause.type ?? 'Internal';
    const detail = cause.details?.[0] as { attempt?: number } | undefined;
    return {
      status: 'failed',
      error: { code, message: cause.message, retryable: isErrorCode(code) ? errorCodes[code].retryable : true },
      attempts: detail?.attempt ?? null,
    };
  }
  if (cause instanceof TimeoutFailure) {
    return { status: 'failed', error: { code: 'TaskTimeout', message: `the task timed out (${cause.timeoutType})`, retryable: true }, attempts: null };
  }
  return { status: 'failed', error: { code: 'Internal', message: err instanceof Error ? err.message : String(err), retryable: true }, attempts: null };
}

function now(): string {
  return new Date().toISOString();
}

/** A promise with its resolve function, made before anyone waits on it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** The tasks whose results a media task uses: its watermarks' assets, a package's rungs. */
export function dependenciesOf(m: MediaTask): string[] {
  if (m.kind === 'transcode') return [...new Set(m.watermarks.map((w) => w.taskId))];
  if (m.kind === 'package') return m.qualityTaskIds ? [...m.rungTaskIds, ...m.qualityTaskIds] : m.rungTaskIds;
  if (m.kind === 'quality') return [m.target.id];
  return [];
}

/** The probe's result and the plan made from it: both or neither. */
interface Planned {
  media: MediaInfo;
  plan: Plan;
}

export class JobRun {
  readonly state: JobState;
  /** Which retry this is (0: the first run); part of activity ids and webhook ids. */
  round = 0;
  private planned: Planned | null = null;
  private cancelRequest: { reason: string } | null = null;
  private retryRequested = false;
  private pipelineResumed = false;
  private scope: CancellationScope | null = null;
  /** Runs started after CUT_PATCH: shared encodes, chunks, work classes. */
  readonly cut: boolean;
  /** What the media activities read: the job's input, or its staged copy in the store (URL inputs). */
  private input: JobInput;
  /** A URL input's copy in the job's folder (`.parts/source`), removed once the job succeeds. */
  private staged: string | null = null;
  /** A concatenation's URL inputs, copied into the job's folder (`.parts/source-N`), removed once the job succeeds. */
  private stagedInputs: string[] = [];
  /** Scores of ladder rungs (by rendition name `output/rung`), shown on the package's renditions. */
  private rungScores = new Map<string, QualityScore>();
  /** Per-title ladders: what the analysis chose, by output name. */
  private ladderChoices = new Map<string, AutoLadderState>();

  constructor(readonly spec: JobSpec) {
    this.cut = patched(CUT_PATCH);
    this.input = spec.input;
    this.state = {
      id: spec.id,
      status: 'queued',
      progress: 0,
      pipeline: spec.pipeline,
      createdAt: spec.createdAt,
      startedAt: null,
      finishedAt: null,
      input: { ...spec.input, media: null },
      ...(spec.inputs ? { inputs: spec.inputs.map((i) => ({ ...i.input, clip: i.clip, media: null })) } : {}),
      tasks: [],
      outputs: [],
      snapshots: [],
      notifications: [],
      error: null,
      userData: spec.userData,
    };
  }

  // ── Control: signals, the update, Temporal's own cancellation ─────────────────────────────

  /** The state query, the cancel/retry/pipelineResumed signals, the retry update, Temporal's cancel. */
  installHandlers(): void {
    setHandler(stateQuery, () => this.state);
    setHandler(cancelSignal, (args) => this.requestCancel(args?.reason ?? 'the cancel signal'));
    setHandler(activityStartedSignal, ({ activityId }) => this.activityStarted(activityId));
    setHandler(pipelineResumedSignal, () => {
      this.pipelineResumed = true;
    });
    setHandler(retrySignal, () => {
      if (this.canRetry()) this.retryRequested = true;
      else this.noteIgnoredRetry();
    });
    setHandler(
      retryUpdate,
      () => {
        this.retryRequested = true;
        return { tasks: this.failedTasks().map((t) => t.id) };
      },
      {
        validator: () => {
          if (!this.canRetry()) throw new Error(this.state.status === 'failed' ? 'a retry is already under way' : `the job is ${this.state.status}, not failed: nothing to retry`);
        },
      },
    );
    // Temporal's own cancellation (handle.cancel(), the UI's button) takes the signal's path.
    CancellationScope.current().cancelRequested.catch(() => this.requestCancel('a workflow cancellation request'));
  }

  /**
   * A worker started an activity: the tasks it carries are `running` now. A chunk's activity
   * (`…/chunk-3`) starts the tasks of its group.
   */
  private activityStarted(activityId: string): void {
    const base = (id: string) => id.replace(/#\d+$/, '');
    const started = base(activityId);
    let changed = false;
    for (const t of this.state.tasks) {
      if (t.status !== 'queued' || !t.activity) continue;
      const carried = base(t.activity);
      if (started === carried || started.startsWith(`${carried}/`)) {
        t.status = 'running';
        changed = true;
      }
    }
    if (changed) this.showProgress();
  }

  requestCancel(reason: string): void {
    if (this.cancelRequest || this.isFinal()) return;
    this.cancelRequest = { reason };
    this.scope?.cancel();
  }

  /** Why the job is being canceled; null while it is not. */
  cancelReason(): string | null {
    return this.cancelRequest?.reason ?? null;
  }

  isFinal(): boolean {
    const s = this.state.status;
    return s === 'succeeded' || s === 'canceled' || (s === 'failed' && !this.retryRequested);
  }

  failedTasks(): TaskState[] {
    return this.state.tasks.filter((t) => t.kind !== 'notify' && (t.status === 'failed' || t.status === 'canceled'));
  }

  canRetry(): boolean {
    return this.state.status === 'failed' && !this.retryRequested && !this.cancelRequest && this.failedTasks().length > 0;
  }

  /**
   * A `retry` signal has no answer (the update has its validator): when there is nothing to retry,
   * the worker log and the job itself say that it was received and ignored.
   */
  private noteIgnoredRetry(): void {
    const why =
      this.state.status === 'failed'
        ? this.retryRequested
          ? 'a retry is already under way'
          : this.cancelRequest
            ? 'the job is being canceled'
            : 'no task failed'
        : `the job is ${this.state.status}, not failed`;
    const message = `retry signal ignored: ${why}`;
    log.warn(message, { jobId: this.spec.id, status: this.state.status });
    (this.state.notes ??= []).push({ at: now(), message });
  }

  // ── The task table ─────────────────────────────────────────────────────────────────────

  /** The task with this id, added (pending) if the job has none yet. */
  task(id: string, kind: TaskKind): TaskState {
    let t = this.state.tasks.find((x) => x.id === id);
    if (!t) {
      t = { id, kind, status: 'pending', progress: 0, attempts: 0, error: null };
      this.state.tasks.push(t);
    }
    return t;
  }

  private findTask(id: string): TaskState | undefined {
    return this.state.tasks.find((x) => x.id === id);
  }

  /** Job progress: the share of its work that is settled (canceled work is not done work). */
  showProgress(): void {
    const work = this.state.tasks.filter((t) => t.kind !== 'notify');
    const done = work.filter((t) => t.status === 'succeeded' || t.status === 'failed' || t.status === 'skipped').length;
    this.state.progress = work.length ? Math.round((done / work.length) * 1000) / 1000 : 0;
    const queued = work.filter((t) => t.status === 'queued').length;
    const running = work.filter((t) => t.status === 'running').length;
    const waiting = queued || running ? ` · ${running} running, ${queued} queued` : '';
    setCurrentDetails(`${this.state.status} · ${done}/${work.length} tasks done${waiting} · ${Math.round(this.state.progress * 100)}%${this.round ? ` · retry ${this.round}` : ''}`);
  }

  setStatus(status: JobStatus): void {
    this.state.status = status;
    upsertSearchAttributes([{ key: searchAttributes.status, value: status }]);
    this.showProgress();
  }

  /** The end of processing: `finishedAt` in the job and, for runs after the patch, in visibility. */
  private finish(status: JobStatus): void {
    this.state.finishedAt = now();
    this.state.status = status;
    if (patched(FINISHED_AT_PATCH)) {
      upsertSearchAttributes([
        { key: searchAttributes.status, value: status },
        { key: searchAttributes.finishedAt, value: new Date(this.state.finishedAt) },
      ]);
    } else {
      upsertSearchAttributes([{ key: searchAttributes.status, value: status }]);
    }
    this.showProgress();
  }

  // ── The task runner ────────────────────────────────────────────────────────────────────

  /** The activity id of a task in this round (`#round` on retries). */
  activityId(taskId: string, round = this.round): string {
    return round ? `${taskId}#${round}` : taskId;
  }

  /**
   * Proxies for one kind of activity, under the activity id of a task. Light work goes to the
   * light queue beside the job's own (runs after CUT_PATCH), with an optional UI summary.
   */
  activities(kind: keyof typeof options, taskId: string, round = this.round, more: { work?: WorkClass; summary?: string } = {}) {
    const work = more.work ?? classOf[kind];
    return proxyActivities<Activities>({
      ...options[kind],
      activityId: this.activityId(taskId, round),
      ...(this.cut && work === 'light' ? { taskQueue: lightQueueOf(workflowInfo().taskQueue) } : {}),
      ...(this.cut && more.summary ? { summary: more.summary } : {}),
    });
  }

  /**
   * Runs one activity on behalf of the given tasks (registered already) and records its outcome
   * on each of them: running, then succeeded with the attempt that did it, failed with the error,
   * or canceled. Resolves the activity's value, or null when it did not succeed; never throws.
   */
  async runActivity<T>(taskIds: string[], call: () => Promise<Attempted<T>>, activity?: string): Promise<T | null> {
    const tasks = this.tasksOf(taskIds);
    this.markStarted(tasks, activity);
    const result = await this.settle(call);
    if ('value' in result) this.markSucceeded(tasks, result.attempt);
    else this.markOutcome(tasks, result.outcome);
    return 'value' in result ? result.value : null;
  }

  private tasksOf(taskIds: string[]): TaskState[] {
    return taskIds.map((id) => this.findTask(id)).filter((t): t is TaskState => t !== undefined);
  }

  /**
   * The tasks' activity is scheduled: `queued` until a worker starts it (runs after CUT_PATCH; the
   * API shows `running` from the pending activity's state), `running` in runs recorded before.
   */
  private markStarted(tasks: TaskState[], activity?: string): void {
    for (const t of tasks) {
      Object.assign(t, { status: this.cut ? 'queued' : 'running', progress: 0, error: null });
      if (this.cut && activity) t.activity = activity;
    }
    this.showProgress();
  }

  private markSucceeded(tasks: TaskState[], attempt: number): void {
    for (const t of tasks) {
      Object.assign(t, { status: 'succeeded', progress: 1, attempts: attempt });
      delete t.activity;
    }
    this.showProgress();
  }

  private markOutcome(tasks: TaskState[], outcome: Outcome): void {
    for (const t of tasks) {
      t.attempts = outcome.attempts ?? t.attempts;
      t.status = outcome.status;
      if (outcome.status === 'failed') t.error = outcome.error;
      delete t.activity;
    }
    this.showProgress();
  }

  /** An activity's value and attempt, or what its failure means; never throws. */
  private async settle<T>(call: () => Promise<Attempted<T>>): Promise<Attempted<T> | { outcome: Outcome }> {
    try {
      return await call();
    } catch (err) {
      return { outcome: outcomeOf(err) };
    }
  }

  /**
   * Runs a round's steps concurrently, each once the tasks it depends on are done. Every step's
   * "done" promise exists before any step starts, so order never depends on microtask timing.
   * A task whose dependency did not succeed does not run: it is canceled when the job is being
   * canceled or the dependency was canceled, else it fails with DependencyFailed (a retry re-runs
   * both). A shared step runs the tasks whose own needs succeeded.
   */
  async runGraph(steps: GraphStep[]): Promise<void> {
    const idsOf = (s: GraphStep) => s.taskIds ?? [s.id];
    const done = new Map(steps.flatMap((s) => idsOf(s).map((id) => [id, deferred()] as const)));
    await Promise.all(
      steps.map(async (s) => {
        try {
          await Promise.all(s.dependsOn.map((id) => done.get(id)?.promise));
          const ready: string[] = [];
          for (const t of this.tasksOf(idsOf(s))) {
            const blockerId = (s.needs?.[t.id] ?? s.dependsOn).find((id) => this.findTask(id)?.status !== 'succeeded');
            if (blockerId === undefined) {
              ready.push(t.id);
              continue;
            }
            const blocker = this.findTask(blockerId);
            if (this.cancelRequest || blocker?.status === 'canceled') {
              t.status = 'canceled';
            } else {
              const needs = blocker ? `${blocker.id}, which failed` : `${blockerId}, a task the job does not have`;
              Object.assign(t, { status: 'failed', error: { code: 'DependencyFailed', message: `needs ${needs}`, retryable: false } });
            }
          }
          if (ready.length) await s.run(ready);
        } finally {
          for (const id of idsOf(s)) done.get(id)?.resolve();
        }
      }),
    );
  }

  // ── The work of a round ────────────────────────────────────────────────────────────────

  /** Probes the input and plans the job; null when the probe did not succeed. */
  private async probeAndPlan(): Promise<Planned | null> {
    if (this.spec.inputs) return this.probeAndPlanInputs(this.spec.inputs);
    this.setStatus('probing');
    const { probeInput } = this.activities('probe', 'probe');
    this.task('probe', 'probe');
    if (this.cut && 'url' in this.spec.input) {
      // A URL is fetched once, by light work, into the job's folder: encodes (on any worker)
      // read the store and never spend an encode slot on a slow source.
      const key = `${this.spec.outputPrefix}${this.spec.id}/.parts/source`;
      const { stageInput } = this.activities('probe', 'stage');
      const staged = await this.runActivity(['probe'], () => stageInput({ input: this.spec.input, key }), this.activityId('stage'));
      if (!staged) return null;
      this.input = staged;
      this.staged = key;
    }
    const media = await this.runActivity(['probe'], () => probeInput(this.input), this.activityId('probe'));
    if (!media) return null;
    this.state.input.media = media;
    const spec = await this.fitLadders(media);
    if (!spec) return null;
    const plan = planJob(spec, media);
    this.planned = { media, plan };
    this.applyRefusals(plan);
    // What the plan leaves out on purpose (a bitmap subtitle track) is said in the job, not failed.
    for (const message of plan.notes ?? []) (this.state.notes ??= []).push({ at: now(), message });
    return this.planned;
  }

  /**
   * A concatenation: every input staged (URLs) and probed in parallel under the one probe task;
   * the first broken input fails it, named by its index. Planned from all the probes at once.
   */
  private async probeAndPlanInputs(inputs: ConcatInput[]): Promise<Planned | null> {
    patched(CONCAT_PATCH);
    this.setStatus('probing');
    const tasks = this.tasksOf([this.task('probe', 'probe').id]);
    this.markStarted(tasks, this.activityId('probe'));
    const probeOne = async (c: ConcatInput, i: number): Promise<{ input: ConcatInput; media: MediaInfo; attempt: number } | { outcome: Outcome }> => {
      let input = c.input;
      if ('url' in input) {
        const key = `${this.spec.outputPrefix}${this.spec.id}/.parts/source-${i}`;
        const from = input;
        const staged = await this.settle(() => this.activities('probe', `probe/stage-${i}`).stageInput({ input: from, key }));
        if ('outcome' in staged) return staged;
        input = staged.value;
        this.stagedInputs[i] = key;
      }
      const read = input;
      const probed = await this.settle(() => this.activities('probe', `probe/${i}`).probeInput(read));
      if ('outcome' in probed) return probed;
      return { input: { ...c, input }, media: probed.value, attempt: probed.attempt };
    };
    const results = await Promise.all(inputs.map(probeOne));
    const broken = results.findIndex((r) => 'outcome' in r);
    if (broken >= 0) {
      const { outcome } = results[broken] as { outcome: Outcome };
      const named: Outcome = outcome.status === 'failed' ? { ...outcome, error: { ...outcome.error, message: `inputs[${broken}]: ${outcome.error.message}` } } : outcome;
      this.markOutcome(tasks, named);
      return null;
    }
    const probed = results as { input: ConcatInput; media: MediaInfo; attempt: number }[];
    const medias = probed.map((r) => r.media);
    probed.forEach((r, i) => {
      if (this.state.inputs?.[i]) this.state.inputs[i]!.media = r.media;
    });
    this.state.input.media = medias[0]!;
    const problem = concatProblem(inputs, medias);
    if (problem) {
      this.markOutcome(tasks, { status: 'failed', error: { code: 'UnsupportedInput', message: problem.message, retryable: false }, attempts: 1 });
      return null;
    }
    this.markSucceeded(tasks, Math.max(...probed.map((r) => r.attempt)));
    // Every later activity reads the staged copies; snapshots read the first input.
    this.input = probed[0]!.input.input;
    const media = medias[0]!;
    const plan = planConcatJob({ ...this.spec, inputs: probed.map((r) => r.input) }, medias);
    this.planned = { media, plan };
    this.applyRefusals(plan);
    return this.planned;
  }

  /**
   * Per-title ladders (`auto: true`): an `analyze` task per such output measures the input and
   * chooses its rungs' rates, before the plan. Jobs without one issue no command here. Null when
   * an analysis did not succeed (the job fails with its error; a retry runs it again).
   */
  private async fitLadders(media: MediaInfo): Promise<JobSpec | null> {
    const auto = autoLadderOutputs(this.spec);
    if (!auto.length) return this.spec;
    const fitted = await Promise.all(
      auto.map(async (o) => {
        if (this.ladderChoices.has(o.name)) return true;
        const id = `analyze:${o.name}`;
        this.task(id, 'analyze');
        // Sample encodes: encode-class work.
        const { analyzeLadder } = this.activities('media', id, this.round, { work: 'encode', summary: `per-title analysis of ${o.name}` });
        const choice = await this.runActivity([id], () => analyzeLadder({ input: this.input, spec: { ...this.spec, outputs: [o], snapshots: [] }, media, output: o.name }), this.activityId(id));
        if (choice) this.ladderChoices.set(o.name, choice);
        return choice !== null;
      }),
    );
    return fitted.every(Boolean) ? withChosenLadders(this.spec, this.ladderChoices) : null;
  }

  /** The planner's refusals are failed tasks (the same spec and media refuse the same way on a retry). */
  private applyRefusals(plan: Plan): void {
    for (const r of plan.refused) Object.assign(this.task(r.id, r.kind), { status: 'failed', error: r.error });
  }

  /** One round: probe (unless done), plan, then every task not yet succeeded, in dependency order. */
  async work(): Promise<void> {
    this.state.startedAt ??= now();
    const planned = this.planned ?? (await this.probeAndPlan());
    if (!planned) return;
    this.setStatus('processing');
    const todo = planned.plan.tasks.filter((m) => this.task(m.id, m.kind).status !== 'succeeded');
    await this.runGraph(this.cut ? this.cutSteps(todo, planned.plan) : todo.map((m) => ({ id: m.id, dependsOn: dependenciesOf(m), run: () => this.runMediaTask(m, planned.plan) })));
  }

  /**
   * The steps of a round, cut right: the renditions of one input range in one encode step (decode
   * once; long ranges in chunks), everything else one step per task, as before.
   */
  private cutSteps(todo: MediaTask[], plan: Plan): GraphStep[] {
    const transcodes = todo.filter((m): m is TranscodeTask => m.kind === 'transcode');
    const steps: GraphStep[] = todo.filter((m) => m.kind !== 'transcode').map((m) => ({ id: m.id, dependsOn: dependenciesOf(m), run: () => this.runMediaTask(m, plan) }));
    groupByRange(transcodes).forEach((group, g) => {
      const id = `encode:${group[0]!.id}`;
      steps.push({
        id,
        taskIds: group.map((t) => t.id),
        dependsOn: [...new Set(group.flatMap(dependenciesOf))],
        needs: Object.fromEntries(group.map((t) => [t.id, dependenciesOf(t)])),
        // A rendition whose watermark failed stays out; the others of the range still share a run.
        run: (ready) => this.runEncodeGroup(id, group.filter((t) => ready.includes(t.id)), g),
      });
    });
    return steps;
  }

  /**
   * Keeps what an encode made (a ladder's rungs are the package's material, not outputs of their
   * own); a rendition that failed alone (its own limit) fails its task only.
   */
  private keepOutputs(group: TranscodeTask[], results: RenditionResult[]): void {
    group.forEach((t, i) => {
      const r = results[i];
      if (!r) return;
      if ('failed' in r) Object.assign(this.task(t.id, 'transcode'), { status: 'failed', progress: 0, error: r.failed });
      else if (!t.rung) this.state.outputs.push(r);
    });
    this.showProgress();
  }

  /** One ffmpeg run for the whole group, or chunks + join when the range is long. */
  private async runEncodeGroup(id: string, group: TranscodeTask[], index: number): Promise<void> {
    const ids = group.map((t) => t.id);
    const settings = this.spec.chunking ?? defaultChunkSettings;
    // A concatenation is encoded in one run: its inputs are never cut into chunks.
    const chunks = group[0]!.concat ? null : planChunks(group, settings);
    if (chunks) return this.runChunked(id, group, index, chunks, settings.maxParallel);
    const { encode } = this.activities('media', id, this.round, { summary: `encode ${group.map((t) => t.name).join(', ')}` });
    const outputs = await this.runActivity(ids, () => encode({ input: this.input, tasks: group }), this.activityId(id));
    if (outputs) this.keepOutputs(group, outputs);
  }

  /**
   * A long range: the audio once, every chunk as an activity of its own (at most `maxParallel` of
   * the job's at once, so one job never fills every slot of the cluster), then the join. The first
   * failure cancels the chunks still running; a chunk retried by Temporal re-runs alone.
   */
  private async runChunked(id: string, group: TranscodeTask[], index: number, chunks: Chunk[], maxParallel: number): Promise<void> {
    const tasks = this.tasksOf(group.map((t) => t.id));
    const names = group.map((t) => t.name).join(', ');
    const workPrefix = `${this.spec.outputPrefix}${this.spec.id}/.parts/${this.round}-${index}/`;
    const input = { input: this.input, group: { tasks: group, workPrefix } };
    for (const t of tasks) t.chunks = chunks.length;
    this.markStarted(tasks, this.activityId(id));
    const withAudio = group.some((t) => t.audio);
    // Progress counts settled activities: the audio, every chunk, and the join.
    const steps = chunks.length + (withAudio ? 1 : 0) + 1;
    let finished = 0;
    let running = 0;
    let failure: Outcome | null = null;
    const scope = new CancellationScope();
    const limited = async <T>(call: () => Promise<Attempted<T>>): Promise<void> => {
      // Re-checked after every wake-up: several waiters may wake in one activation. A cancel
      // ends the wait (never rejects: every started chunk must settle before the group does, so
      // a canceled job waits for its ffmpeg runs to stop).
      try {
        while (running >= maxParallel && failure === null) await condition(() => running < maxParallel || failure !== null);
      } catch (err) {
        if (isCancellation(err)) return;
        throw err;
      }
      if (failure || scope.consideredCancelled) return;
      running += 1;
      const result = await this.settle(call);
      running -= 1;
      if ('outcome' in result) {
        // The first failure is the group's; the chunks it cancels are not.
        if (!failure) {
          failure = result.outcome;
          scope.cancel();
        }
        return;
      }
      finished += 1;
      for (const t of tasks) t.progress = Math.round((finished / steps) * 1000) / 1000;
    };
    await scope
      .run(() =>
        Promise.all([
          ...(withAudio ? [limited(() => this.activities('media', `${id}/audio`, this.round, { summary: `audio of ${names}` }).encodeAudio(input))] : []),
          ...chunks.map((c) =>
            limited(() => this.activities('media', `${id}/chunk-${c.index}`, this.round, { summary: `chunk ${c.index + 1}/${chunks.length} of ${names}` }).encodeChunk({ ...input, chunk: c })),
          ),
        ]),
      )
      .catch((err: unknown) => {
        if (!isCancellation(err)) throw err;
      });
    if (failure !== null || this.cancelRequest) {
      this.markOutcome(tasks, failure ?? { status: 'canceled', attempts: null });
      return;
    }
    const join = this.activities('media', `${id}/join`, this.round, { work: 'light', summary: `join ${chunks.length} chunks of ${names}` });
    const outputs = await this.runActivity(group.map((t) => t.id), () => join.joinRenditions({ group: input.group, chunkCount: chunks.length }), this.activityId(`${id}/join`));
    if (outputs) this.keepOutputs(group, outputs);
    // The chunks and the audio are in the outputs now.
    await this.removeObjects(`cleanup:${id}`, [], [workPrefix], `the chunks of ${names}`);
  }

  /** Runs one media task's activity and keeps what it made. */
  private async runMediaTask(m: MediaTask, plan: Plan): Promise<void> {
    // Snapshots and watermark assets are light work: a poster is ready long before the encodes.
    // Quality scores decode two streams at the output's size: encode-class work.
    const acts = this.activities('media', m.id, this.round, { work: m.kind === 'transcode' || m.kind === 'quality' ? 'encode' : 'light' });
    switch (m.kind) {
      case 'quality': {
        const score = await this.runActivity([m.id], () => acts.measureQuality({ input: this.input, task: m }));
        if (score) this.keepScore(m, score);
        return;
      }
      case 'transcode': {
        const output = await this.runActivity([m.id], () => acts.transcode({ input: this.input, task: m }));
        // A ladder's rungs are the package's material, not outputs of their own.
        if (output && !m.rung) this.state.outputs.push(output);
        return;
      }
      case 'snapshot': {
        const snap = await this.runActivity([m.id], () => acts.snapshot({ input: this.input, task: m }));
        if (snap) this.state.snapshots.push(snap);
        return;
      }
      case 'watermark':
        await this.runActivity([m.id], () => acts.watermark({ task: m }));
        return;
      case 'package':
        return this.runPackage(m, plan);
    }
  }

  /** A file output's score goes on the output; a rung's waits for its package's renditions. */
  private keepScore(m: QualityTask, score: QualityScore): void {
    if (m.target.rung) {
      this.rungScores.set(m.target.name, score);
      return;
    }
    const output = this.state.outputs.find((o) => o.name === m.target.name);
    if (output) output.quality = score;
  }

  private async runPackage(m: PackageTask, plan: Plan): Promise<void> {
    const rungs = plan.tasks.flatMap((r) => (r.kind === 'transcode' && r.rung && m.rungTaskIds.includes(r.id) ? [{ name: r.rung.name, key: r.outputKey }] : []));
    // Packaging is a stream copy: light work.
    const { packageOutput } = this.activities('media', m.id, this.round, { work: 'light' });
    const output = await this.runActivity([m.id], () => packageOutput({ task: m, rungs, input: this.input }));
    if (!output) return;
    for (const r of output.renditions ?? []) {
      const score = this.rungScores.get(`${m.name}/${r.name}`);
      if (score) r.quality = score;
    }
    const choice = this.ladderChoices.get(m.name);
    if (choice) output.autoLadder = choice;
    this.state.outputs.push(output);
    // The segments now hold the rungs' media: the intermediate files can go.
    await this.removeObjects(`cleanup:${m.name}`, rungs.map((r) => r.key), [], `the rung files of ${m.id}`);
  }

  /** A cleanup that may fail without failing the job: the failure is logged, never thrown. */
  private async removeObjects(activityId: string, keys: string[], prefixes: string[], what: string): Promise<void> {
    const { removeObjects } = this.activities('cleanup', activityId);
    await removeObjects(keys, prefixes).catch((err: unknown) => {
      log.warn(`cleanup failed: ${what} stay in the store`, { jobId: this.spec.id, keys, prefixes, error: err instanceof Error ? err.message : String(err) });
    });
  }

  /** A paused pipeline holds the job in `queued` until it is active again (or the job is canceled). */
  async waitForPipeline(): Promise<void> {
    const { pipelineState } = this.activities('pipeline', 'pipeline', 0);
    setCurrentDetails(`queued · pipeline ${this.spec.pipeline} is paused`);
    const backoff = patched(HELD_BACKOFF_PATCH);
    const sparse = backoff && patched(HELD_SPARSE_PATCH);
    let wait = PIPELINE_RECHECK_FIRST_MS;
    for (let round = 0; ; round++) {
      // A resume signal from now on counts even if the check below still reads the old state.
      if (sparse) this.pipelineResumed = false;
      if ((await pipelineState({ tenant: this.spec.tenant, pipeline: this.spec.pipeline })) !== 'paused') return;
      if (!sparse) this.pipelineResumed = false;
      // Workflow Math.random is seeded per run: the jitter replays as it ran.
      const nominal = PIPELINE_RECHECK_SPARSE_MS[Math.min(round, PIPELINE_RECHECK_SPARSE_MS.length - 1)]!;
      const timer = !backoff ? PIPELINE_RECHECK : sparse ? Math.round(nominal * (1 - PIPELINE_RECHECK_JITTER * Math.random())) : wait;
      await condition(() => this.pipelineResumed, timer);
      wait = Math.min(wait * 2, PIPELINE_RECHECK_MAX_MS);
    }
  }

  /** Runs `fn` in a scope that a cancel request cancels. */
  async cancellable(fn: () => Promise<void>): Promise<void> {
    this.scope = new CancellationScope();
    await this.scope.run(fn);
  }

  // ── Ends of a round ────────────────────────────────────────────────────────────────────

  /** The round's outcome: succeeded, or failed with the first failed task's error. */
  finishRound(): void {
    const failed = this.failedTasks();
    const first = failed[0];
    this.state.error = first?.error
      ? {
          code: first.error.code,
          message:
            failed.length === 1
              ? `${first.id}: ${first.error.message}`
              : `${failed.length} of ${this.state.tasks.filter((t) => t.kind !== 'notify').length} tasks failed; first ${first.id}: ${first.error.message}`,
          retryable: failed.every((t) => t.error?.retryable),
        }
      : null;
    this.finish(first ? 'failed' : 'succeeded');
  }

  /** Everything a canceled job leaves behind: nothing in the store, every open task canceled. */
  async finishCanceled(reason: string): Promise<void> {
    for (const t of this.state.tasks) if (t.status === 'pending' || t.status === 'running') t.status = 'canceled';
    if (this.state.tasks.some((t) => t.kind !== 'probe')) {
      // Everything a job writes lives in its own folder: outputs, segments, snapshots, assets.
      const folder = `${this.spec.outputPrefix}${this.spec.id}/`;
      await this.removeObjects('cleanup', [], [folder], `objects under ${folder}`);
    }
    this.state.outputs = [];
    this.state.snapshots = [];
    this.state.error = { code: 'Canceled', message: `canceled by ${reason}`, retryable: false };
    this.finish('canceled');
    await this.notifyOnce('job.canceled');
  }

  /** Watermark assets served the transcodes; a succeeded job's folder holds only what was asked for. */
  async removeIntermediates(): Promise<void> {
    const keys = this.planned?.plan.tasks.flatMap((m) => (m.kind === 'watermark' ? [m.assetKey] : [])) ?? [];
    if (this.staged) keys.push(this.staged);
    keys.push(...this.stagedInputs.filter((k) => k !== undefined));
    if (!keys.length) return;
    await this.removeObjects('cleanup:watermarks', keys, [], 'watermark assets');
  }

  async notifyOnce(event: NotificationState['event']): Promise<void> {
    const t = this.task('notify', 'notify');
    if (!this.spec.notify) {
      t.status = 'skipped';
      this.state.notifications.push({ event, status: 'skipped', attempts: 0 });
      return;
    }
    const url = this.spec.notify.url;
    // Visible while delivery (and its retries) run: the job is already final by then.
    const record: NotificationState = { event, status: 'pending', attempts: 0 };
    this.state.notifications.push(record);
    const { notify } = this.activities('notify', 'notify');
    // One id per event and round: receivers drop duplicate attempts, not a later retry's news.
    const webhookId = `${this.spec.id}:${event}:${this.round}`;
    await this.runActivity(['notify'], () => notify({ url, event, tenant: this.spec.tenant, webhookId, job: this.state }));
    Object.assign(record, { status: t.status === 'succeeded' ? 'delivered' : 'failed', attempts: t.attempts });
  }

  /**
   * A failed job stays open for a retry of its failed tasks until the window closes: true when a
   * retry was asked for, false when the window closed or a cancel ended it.
   */
  async awaitRetry(): Promise<boolean> {
    try {
      const asked = await condition(() => this.retryRequested || this.cancelRequest !== null, this.spec.retryWindowSec * 1000);
      return asked && this.retryRequested;
    } catch (err) {
      if (isCancellation(err)) return false;
      throw err;
    }
  }

  /** The next round: only failed tasks run again (and probing, if the probe failed). */
  startRetryRound(): void {
    this.round += 1;
    this.retryRequested = false;
    this.state.finishedAt = null;
    if (patched(FINISHED_AT_PATCH)) upsertSearchAttributes([{ key: searchAttributes.finishedAt, value: null }]);
    this.state.error = null;
    for (const t of this.failedTasks()) Object.assign(t, { status: 'pending', progress: 0, error: null });
    if (this.task('probe', 'probe').status === 'pending') {
      // A failed probe means probing and planning start over (the input may have been replaced).
      this.planned = null;
    } else if (this.planned) {
      // Same spec, same media: the planner's refusals stand.
      this.applyRefusals(this.planned.plan);
    }
  }
}

/**
 * A job's timeline from its Temporal workflow history: when the workflow started and closed,
 * and when each activity and workflow task was scheduled, started and closed. Pure: it reads the
 * plain objects that `handle.fetchHistory()` returns.
 */

/** A protobuf int64 as the SDK hands it over (a Long object), or a plain number/string. */
type Int64 = number | string | { toNumber(): number } | null | undefined;

interface Timestamp {
  seconds?: Int64;
  nanos?: number | null;
}

/** The subset of temporal.api.history.v1.HistoryEvent this module reads. */
export interface HistoryEventLike {
  eventId?: Int64;
  eventTime?: Timestamp | null;
  workflowExecutionStartedEventAttributes?: object | null;
  workflowExecutionCompletedEventAttributes?: object | null;
  workflowExecutionFailedEventAttributes?: object | null;
  workflowExecutionTerminatedEventAttributes?: object | null;
  workflowExecutionCanceledEventAttributes?: object | null;
  workflowExecutionTimedOutEventAttributes?: object | null;
  workflowTaskScheduledEventAttributes?: object | null;
  workflowTaskStartedEventAttributes?: { scheduledEventId?: Int64 } | null;
  workflowTaskCompletedEventAttributes?: { scheduledEventId?: Int64 } | null;
  workflowTaskFailedEventAttributes?: { scheduledEventId?: Int64 } | null;
  workflowTaskTimedOutEventAttributes?: { scheduledEventId?: Int64 } | null;
  activityTaskScheduledEventAttributes?: {
    activityId?: string | null;
    activityType?: { name?: string | null } | null;
    taskQueue?: { name?: string | null } | null;
    input?: { payloads?: unknown[] | null } | null;
  } | null;
  activityTaskStartedEventAttributes?: { scheduledEventId?: Int64; attempt?: number | null; identity?: string | null } | null;
  activityTaskCompletedEventAttributes?: { scheduledEventId?: Int64 } | null;
  activityTaskFailedEventAttributes?: { scheduledEventId?: Int64 } | null;
  activityTaskTimedOutEventAttributes?: { scheduledEventId?: Int64 } | null;
  activityTaskCanceledEventAttributes?: { scheduledEventId?: Int64 } | null;
}

export interface ActivitySpan {
  /** As the workflow named it: `encode:<first task id>`, `…/audio`, `…/chunk-3`, `…/join` (`#round` on retries). */
  activityId: string;
  /** The activity function: probeInput, encode, encodeChunk, encodeAudio, joinRenditions, snapshot, notify, … */
  type: string;
  /** The task queue it was scheduled on (`<queue>:light` for light work). */
  taskQueue: string | null;
  /** The worker that started the attempt that closed it (`pid@host` by default). */
  identity: string | null;
  scheduledMs: number;
  /** The start of the attempt that closed it (Temporal records retried attempts only at the end). */
  startedMs: number | null;
  closedMs: number | null;
  outcome: 'completed' | 'failed' | 'timedOut' | 'canceled' | 'open';
  attempt: number;
  /** The raw input payloads, for the caller to decode with its payload converter. */
  inputPayloads: unknown[];
}

export interface WorkflowTaskSpan {
  scheduledMs: number;
  startedMs: number | null;
  closedMs: number | null;
}

export interface JobTimeline {
  startedMs: number;
  closedMs: number | null;
  activities: ActivitySpan[];
  workflowTasks: WorkflowTaskSpan[];
}

function int(v: Int64): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  return v.toNumber();
}

/** Milliseconds since the epoch, keeping the sub-millisecond part. */
export function timestampMs(t: Timestamp | null | undefined): number {
  if (!t) throw new Error('history event without a time');
  return int(t.seconds) * 1000 + (t.nanos ?? 0) / 1e6;
}

/**
 * @example const timeline = timelineOf(await client.workflow.getHandle(id).fetchHistory())
 */
export function timelineOf(history: { events?: HistoryEventLike[] | null }): JobTimeline {
  const events = history.events ?? [];
  let startedMs: number | null = null;
  let closedMs: number | null = null;
  const activities = new Map<number, ActivitySpan>();
  const tasks = new Map<number, WorkflowTaskSpan>();
  const activityOf = (id: Int64): ActivitySpan | undefined => activities.get(int(id));
  for (const e of events) {
    const id = int(e.eventId);
    const at = timestampMs(e.eventTime);
    if (e.workflowExecutionStartedEventAttributes) startedMs = at;
    if (
      e.workflowExecutionCompletedEventAttributes ||
      e.workflowExecutionFailedEventAttributes ||
      e.workflowExecutionTerminatedEventAttributes ||
      e.workflowExecutionCanceledEventAttributes ||
      e.workflowExecutionTimedOutEventAttributes
    ) {
      closedMs = at;
    }
    if (e.workflowTaskScheduledEventAttributes) tasks.set(id, { scheduledMs: at, startedMs: null, closedMs: null });
    if (e.workflowTaskStartedEventAttributes) {
      const t = tasks.get(int(e.workflowTaskStartedEventAttributes.scheduledEventId));
      if (t) t.startedMs = at;
    }
    const wftClosed = e.workflowTaskCompletedEventAttributes ?? e.workflowTaskFailedEventAttributes ?? e.workflowTaskTimedOutEventAttributes;
    if (wftClosed) {
      const t = tasks.get(int(wftClosed.scheduledEventId));
      if (t) t.closedMs = at;
    }
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) {
      activities.set(id, {
        activityId: scheduled.activityId ?? String(id),
        type: scheduled.activityType?.name ?? 'unknown',
        taskQueue: scheduled.taskQueue?.name ?? null,
        identity: null,
        scheduledMs: at,
        startedMs: null,
        closedMs: null,
        outcome: 'open',
        attempt: 0,
        inputPayloads: scheduled.input?.payloads ?? [],
      });
    }
    if (e.activityTaskStartedEventAttributes) {
      const a = activityOf(e.activityTaskStartedEventAttributes.scheduledEventId);
      if (a) {
        a.startedMs = at;
        a.attempt = e.activityTaskStartedEventAttributes.attempt ?? 1;
        a.identity = e.activityTaskStartedEventAttributes.identity ?? null;
      }
    }
    const closings = [
      ['completed', e.activityTaskCompletedEventAttributes],
      ['failed', e.activityTaskFailedEventAttributes],
      ['timedOut', e.activityTaskTimedOutEventAttributes],
      ['canceled', e.activityTaskCanceledEventAttributes],
    ] as const;
    for (const [outcome, attrs] of closings) {
      if (!attrs) continue;
      const a = activityOf(attrs.scheduledEventId);
      if (a) Object.assign(a, { closedMs: at, outcome });
    }
  }
  if (startedMs === null) throw new Error('history without a WorkflowExecutionStarted event');
  return { startedMs, closedMs, activities: [...activities.values()], workflowTasks: [...tasks.values()] };
}

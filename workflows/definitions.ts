/** The Temporal surface of mediaJob shared by the workflow and its clients: query and search attributes. */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey } from '@temporalio/common';
import type { JobState } from '../model/job-state';

/** The job JSON of docs/api.md (without live progress, which comes from activity heartbeats). */
export const stateQuery = defineQuery<JobState>('state');

/** Stops the job: running activities are cancelled, ffmpeg killed, outputs removed; same path as Temporal's own cancel. */
export const cancelSignal = defineSignal<[{ reason?: string }?]>('cancel');

/** Re-runs the failed tasks of a failed job in its retry window (fire-and-forget, for the CLI). */
export const retrySignal = defineSignal('retry');

/** The same as `retry`, for the API: its validator says at once whether there is anything to retry. */
export const retryUpdate = defineUpdate<{ tasks: string[] }>('retryFailedTasks');

/**
 * Sent by a worker when it starts an activity of the job: the tasks that activity carries go
 * from `queued` to `running` (in the state query and the UI's details, not only in the API).
 */
export const activityStartedSignal = defineSignal<[{ activityId: string; attempt: number }]>('activityStarted');

/** The job's pipeline became active: a job held in `queued` checks and goes. */
export const pipelineResumedSignal = defineSignal('pipelineResumed');

export const searchAttributes = {
  status: defineSearchAttributeKey('MediaJobStatus', 'KEYWORD'),
  pipeline: defineSearchAttributeKey('MediaPipeline', 'KEYWORD'),
  tenant: defineSearchAttributeKey('MediaTenant', 'KEYWORD'),
  templates: defineSearchAttributeKey('MediaTemplates', 'KEYWORD_LIST'),
  /**
   * When the job's processing ended (the job's `finishedAt`): set when it succeeds, fails or is
   * canceled, cleared when a retry starts. Jobs started before it existed never set it.
   */
  finishedAt: defineSearchAttributeKey('MediaFinishedAt', 'DATETIME'),
} as const;

/** `temporal server start-dev --search-attribute` values, so the dev server knows them at boot. */
export const searchAttributeFlags = ['MediaJobStatus=Keyword', 'MediaPipeline=Keyword', 'MediaTenant=Keyword', 'MediaTemplates=KeywordList', 'MediaFinishedAt=Datetime'];

export const WORKFLOW_TYPE = 'mediaJob';

/**
 * Dynamic config mediaflow needs from a Temporal server 1.29: the matcher that honours task
 * priority (a pipeline's priority) and fairness keys (the job's tenant), so one tenant's long job
 * does not hold every encode slot while another's waits. `start-dev --dynamic-config-value` values.
 */
export const temporalDynamicConfig = ['matching.useNewMatcher=true', 'matching.enableFairness=true'];

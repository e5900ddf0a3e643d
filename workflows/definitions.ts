/** The Temporal surface of mediaJob shared by the workflow and its clients: query and search attributes. */
import { defineQuery } from '@temporalio/workflow';
import { defineSearchAttributeKey } from '@temporalio/common';
import type { JobState } from '../model/job-state';

/** The job JSON of API.md (without live progress, which comes from activity heartbeats). */
export const stateQuery = defineQuery<JobState>('state');

export const searchAttributes = {
  status: defineSearchAttributeKey('MediaJobStatus', 'KEYWORD'),
  pipeline: defineSearchAttributeKey('MediaPipeline', 'KEYWORD'),
  tenant: defineSearchAttributeKey('MediaTenant', 'KEYWORD'),
  templates: defineSearchAttributeKey('MediaTemplates', 'KEYWORD_LIST'),
} as const;

/** `temporal server start-dev --search-attribute` values, so the dev server knows them at boot. */
export const searchAttributeFlags = ['MediaJobStatus=Keyword', 'MediaPipeline=Keyword', 'MediaTenant=Keyword', 'MediaTemplates=KeywordList'];

export const WORKFLOW_TYPE = 'mediaJob';

/**
 * What each route does, takes and answers, for the OpenAPI document. Each route attaches its
 * entry with `documented(…)` in its router; bodies and query strings use the very zod schemas
 * the handlers validate with.
 */
import { z } from 'zod';
import { jobSubmitSchema } from '../../model/job';
import { jobListQuerySchema } from '../job-list';
import { pipelineCreateSchema, pipelinePatchSchema } from '../../model/pipeline';
import type { OperationDoc } from './registry';
import {
  cancelAcceptedSchema,
  healthSchema,
  jobAcceptedSchema,
  jobListSchema,
  jobSchema,
  objectPutSchema,
  pipelineListSchema,
  pipelinePatchedSchema,
  pipelineSchema,
  readySchema,
  retryAcceptedSchema,
  templateCreateSchema,
  templateListSchema,
  templateReplaceSchema,
  templateSchema,
} from './schemas';

const jobIdParams = z.object({ id: z.string().meta({ description: 'a job id (`job_…`)', examples: ['job_mfd3k2x0a1b2c3d4e5f6a7b8'] }) });
const templateIdParams = z.object({ id: z.string().meta({ description: 'a template id (system presets included)', examples: ['mp4-h264-720p'] }) });
const pipelineIdParams = z.object({ id: z.string().meta({ description: 'a pipeline id', examples: ['default'] }) });
const objectKeyParams = z.object({
  key: z
    .string()
    .min(1)
    // Relative, no control characters or backslashes; `.`/`..`/empty segments are refused too.
    .regex(/^[^/\u0000-\u001f\u007f\\][^\u0000-\u001f\u007f\\]*$/)
    .meta({ description: 'the object key: relative, `/`-separated, at most 1024 bytes, no `.`, `..` or empty segments', examples: ['raw/sample.mp4'] }),
});

const location = { Location: { description: 'the URL of what was created', schema: { type: 'string' } } };
const binary = { type: 'string', format: 'binary' };
const objectHeaders = {
  ETag: { description: 'entity tag of the stored object', schema: { type: 'string' } },
  'Content-Length': { description: 'bytes in this answer', schema: { type: 'integer' } },
  'Accept-Ranges': { description: 'always `bytes`', schema: { type: 'string' } },
};

export const serviceOps = {
  health: { operationId: 'getHealth', tag: 'service', summary: 'The process is up', responses: { 200: { description: 'up', schema: healthSchema } } },
  ready: {
    operationId: 'getReady',
    tag: 'service',
    summary: 'Temporal and the object store are reachable',
    responses: { 200: { description: 'ready to take jobs', schema: readySchema } },
    problems: ['TemporalUnavailable'],
  },
  openapi: {
    operationId: 'getOpenApi',
    tag: 'service',
    summary: 'This document (OpenAPI 3.1), generated from the zod schemas the handlers validate with',
    responses: { 200: { description: 'the OpenAPI document', content: { 'application/json': { type: 'object' } } } },
  },
  docs: {
    operationId: 'getDocs',
    tag: 'service',
    summary: 'A browsable API reference (Swagger UI, served from local assets)',
    responses: { 200: { description: 'an HTML page', content: { 'text/html': { type: 'string' } } } },
  },
  docsAsset: {
    operationId: 'getDocsAsset',
    tag: 'service',
    summary: 'A script or style sheet of the API reference page',
    params: z.object({ file: z.string().meta({ description: 'an asset named by the /docs page', examples: ['swagger-ui.css'] }) }),
    responses: {
      200: {
        description: 'the asset',
        content: { 'text/css': { type: 'string' }, 'text/javascript': { type: 'string' }, 'image/png': { type: 'string', format: 'binary' } },
        headers: { ETag: { description: 'changes with the installed version', schema: { type: 'string' } } },
      },
      304: { description: 'unchanged since the `If-None-Match` entity tag' },
    },
    problems: ['NotFound'],
  },
} satisfies Record<string, OperationDoc>;

export const objectOps = {
  put: {
    operationId: 'putObject',
    tag: 'objects',
    summary: 'Upload an object (streamed, atomic; limit MAX_UPLOAD_BYTES)',
    path: '/v1/objects/{key}',
    params: objectKeyParams,
    body: { content: { 'application/octet-stream': binary }, description: 'the bytes, streamed; no body stores an empty object', optional: true },
    responses: {
      201: { description: 'stored', schema: objectPutSchema, headers: { ...location, ETag: objectHeaders.ETag } },
    },
    problems: ['InvalidInput', 'PayloadTooLarge', 'BodyTimeout', 'KeyConflict', 'StorageUnavailable'],
  },
  get: {
    operationId: 'getObject',
    tag: 'objects',
    summary: 'Download an object, whole or a byte range; HEAD answers the headers only',
    path: '/v1/objects/{key}',
    params: objectKeyParams,
    headers: {
      Range: { description: 'one `bytes=start-end` range (others are ignored: the whole object is sent)', schema: { type: 'string' } },
      'If-None-Match': { description: 'an entity tag from an earlier answer', schema: { type: 'string' } },
    },
    responses: {
      200: { description: 'the object; its Content-Type comes from the key\'s extension', content: { '*/*': binary }, headers: objectHeaders },
      206: {
        description: 'the requested range',
        content: { '*/*': binary },
        headers: { ...objectHeaders, 'Content-Range': { description: '`bytes start-end/size`', schema: { type: 'string' } } },
      },
      304: { description: 'unchanged since the `If-None-Match` entity tag' },
      416: { description: 'the range lies outside the object', problem: true },
    },
    problems: ['InvalidInput', 'NotFound', 'StorageUnavailable'],
  },
} satisfies Record<string, OperationDoc>;

export const jobOps = {
  submit: {
    operationId: 'submitJob',
    tag: 'jobs',
    summary: 'Submit a job: templates are resolved and frozen into the job now',
    headers: {
      'Idempotency-Key': {
        description: 'the same key with the same body returns the same job (200); with another body, 409',
        schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
      },
    },
    body: { schema: jobSubmitSchema },
    responses: {
      202: { description: 'accepted; the job is queued', schema: jobAcceptedSchema, headers: location },
      200: { description: 'the job this Idempotency-Key already made from the same body', schema: jobAcceptedSchema, headers: location },
    },
    problems: ['InvalidInput', 'UnknownTemplate', 'UnsupportedOutput', 'InputNotFound', 'UrlNotAllowed', 'Conflict', 'PayloadTooLarge', 'UnsupportedMediaType', 'StorageUnavailable', 'TemporalUnavailable'],
  },
  list: {
    operationId: 'listJobs',
    tag: 'jobs',
    summary: "List the tenant's jobs (from Temporal visibility), filtered and paged",
    description: 'Newest first, running jobs before closed ones. Follow `nextPageToken` with the same filters.',
    query: jobListQuerySchema,
    responses: { 200: { description: 'one page of job summaries', schema: jobListSchema } },
    problems: ['InvalidInput', 'TemporalUnavailable'],
  },
  get: {
    operationId: 'getJob',
    tag: 'jobs',
    summary: 'A job: status, progress (live), tasks, input media, outputs, snapshots, notifications',
    params: jobIdParams,
    responses: { 200: { description: 'the job', schema: jobSchema } },
    problems: ['NotFound', 'TemporalUnavailable'],
  },
  events: {
    operationId: 'getJobEvents',
    tag: 'jobs',
    summary: 'Server-sent events: the job JSON each time it changes, until it is final and notified',
    params: jobIdParams,
    responses: {
      200: {
        description: '`event: job` with the job JSON as data; `event: error` with a problem if the job can no longer be read',
        // OpenAPI 3.1 has no item schema for streams: this schema describes one event.
        content: {
          'text/event-stream': {
            type: 'object',
            required: ['data'],
            properties: {
              event: { enum: ['job', 'error'] },
              id: { type: 'string', description: 'sequence number of `job` events' },
              data: {
                type: 'string',
                contentMediaType: 'application/json',
                contentSchema: { anyOf: [{ $ref: '#/components/schemas/Job' }, { $ref: '#/components/schemas/Problem' }] },
              },
            },
          },
        },
      },
    },
    problems: ['NotFound', 'TemporalUnavailable'],
  },
  cancel: {
    operationId: 'cancelJob',
    tag: 'jobs',
    summary: 'Cancel a job that is not final: ffmpeg is stopped and its outputs removed',
    params: jobIdParams,
    responses: { 202: { description: 'cancellation requested', schema: cancelAcceptedSchema } },
    problems: ['NotFound', 'Conflict', 'TemporalUnavailable'],
  },
  retry: {
    operationId: 'retryJob',
    tag: 'jobs',
    summary: 'Re-run the failed tasks of a failed job within its retry window',
    params: jobIdParams,
    responses: { 202: { description: 'the tasks that run again', schema: retryAcceptedSchema } },
    problems: ['NotFound', 'Conflict', 'TemporalUnavailable'],
  },
} satisfies Record<string, OperationDoc>;

export const templateOps = {
  list: {
    operationId: 'listTemplates',
    tag: 'templates',
    summary: 'System presets (read-only) and your templates',
    query: z.object({ kind: z.enum(['transcode', 'snapshot', 'watermark']).optional().meta({ description: 'only templates of this kind' }) }),
    responses: { 200: { description: 'the templates', schema: templateListSchema } },
    problems: ['InvalidInput'],
  },
  get: {
    operationId: 'getTemplate',
    tag: 'templates',
    summary: 'A template or system preset',
    params: templateIdParams,
    responses: { 200: { description: 'the template', schema: templateSchema } },
    problems: ['NotFound'],
  },
  create: {
    operationId: 'createTemplate',
    admin: true,
    tag: 'templates',
    summary: 'Create a template (every failing field is listed on 400)',
    body: { schema: templateCreateSchema },
    responses: { 201: { description: 'created', schema: templateSchema, headers: location } },
    problems: ['InvalidInput', 'Forbidden', 'Conflict', 'PayloadTooLarge', 'UnsupportedMediaType'],
  },
  replace: {
    operationId: 'replaceTemplate',
    admin: true,
    tag: 'templates',
    summary: 'Replace a template (submitted jobs keep the values they were resolved with)',
    params: templateIdParams,
    body: { schema: templateReplaceSchema },
    responses: { 200: { description: 'replaced', schema: templateSchema } },
    problems: ['InvalidInput', 'Forbidden', 'NotFound', 'PayloadTooLarge', 'UnsupportedMediaType'],
  },
  remove: {
    operationId: 'deleteTemplate',
    admin: true,
    tag: 'templates',
    summary: 'Delete a template',
    params: templateIdParams,
    responses: { 204: { description: 'deleted' } },
    problems: ['Forbidden', 'NotFound'],
  },
} satisfies Record<string, OperationDoc>;

export const pipelineOps = {
  list: {
    operationId: 'listPipelines',
    tag: 'pipelines',
    summary: 'The pipelines (default always exists)',
    responses: { 200: { description: 'the pipelines', schema: pipelineListSchema } },
  },
  get: {
    operationId: 'getPipeline',
    tag: 'pipelines',
    summary: 'A pipeline',
    params: pipelineIdParams,
    responses: { 200: { description: 'the pipeline', schema: pipelineSchema } },
    problems: ['NotFound'],
  },
  create: {
    operationId: 'createPipeline',
    admin: true,
    tag: 'pipelines',
    summary: 'Create a pipeline (its own task queue; workers with WORKER_PIPELINES=* pick it up)',
    body: { schema: pipelineCreateSchema },
    responses: { 201: { description: 'created', schema: pipelineSchema, headers: location } },
    problems: ['InvalidInput', 'UrlNotAllowed', 'Conflict', 'PayloadTooLarge', 'UnsupportedMediaType'],
  },
  patch: {
    operationId: 'updatePipeline',
    admin: true,
    tag: 'pipelines',
    summary: 'Change state, priority or callback; resuming a paused pipeline releases the jobs it held',
    params: pipelineIdParams,
    body: { schema: pipelinePatchSchema },
    responses: { 200: { description: 'the pipeline as it is now', schema: pipelinePatchedSchema } },
    problems: ['InvalidInput', 'UrlNotAllowed', 'NotFound', 'PayloadTooLarge', 'UnsupportedMediaType', 'TemporalUnavailable'],
  },
  remove: {
    operationId: 'deletePipeline',
    admin: true,
    tag: 'pipelines',
    summary: 'Delete a pipeline (not default)',
    params: pipelineIdParams,
    responses: { 204: { description: 'deleted' } },
    problems: ['NotFound', 'Conflict'],
  },
} satisfies Record<string, OperationDoc>;

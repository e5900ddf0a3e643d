/** Request schemas of /v1/pipelines: create (id plus optional settings) and patch (any settings). */
import { z } from 'zod';
import { templateId } from './templates';

const fields = {
  state: z.enum(['active', 'paused']),
  priority: z.number().int().min(1).max(10),
  notify: z.strictObject({ url: z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }).max(2048) }).nullable(),
};

/** POST /v1/pipelines: state defaults to active, priority to 5, notify to none. */
export const pipelineCreateSchema = z.strictObject({ id: templateId, ...fields }).partial({ state: true, priority: true, notify: true });

/** PATCH /v1/pipelines/{id}: only the fields given change. */
export const pipelinePatchSchema = z.strictObject(fields).partial();

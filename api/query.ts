/** Reads and validates a query string: one value per parameter, unknown parameters named in the 400. */
import type { Context } from 'hono';
import type { z } from 'zod';
import { fieldErrors } from './body';
import { problemError } from './problem';

/**
 * @example const q = readQuery(c, jobListQuerySchema)
 */
export function readQuery<S extends z.ZodObject>(c: Context, schema: S): z.infer<S> {
  const flat: Record<string, string> = {};
  const repeated: string[] = [];
  for (const [name, values] of Object.entries(c.req.queries())) {
    if (values.length > 1) repeated.push(name);
    flat[name] = values[values.length - 1] ?? '';
  }
  const parsed = schema.safeParse(flat);
  const errors = [
    ...repeated.map((name) => ({ path: name, message: 'give this parameter once' })),
    ...(parsed.success ? [] : fieldErrors(parsed.error.issues).map((e) => (e.message === 'unknown field' ? { ...e, message: 'unknown query parameter' } : e))),
  ];
  if (errors.length || !parsed.success) {
    throw problemError('InvalidInput', `the query has ${errors.length} invalid parameter${errors.length === 1 ? '' : 's'}: ${errors.map((e) => e.path).join(', ')}`, errors);
  }
  return parsed.data;
}

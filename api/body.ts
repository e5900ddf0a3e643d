/** Reads and validates a JSON body: content type, size, syntax and schema, each with its own problem. */
import type { Context } from 'hono';
import type { z } from 'zod';
import type { FieldError } from '../model/errors';
import { problemError } from './problem';

/** zod issues → API field errors (`outputs.0.template`), one per unknown key too. */
export function fieldErrors(issues: z.core.$ZodIssue[], prefix: (string | number)[] = []): FieldError[] {
  return issues.flatMap((issue) => {
    const base = [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: [...base, key].join('.'), message: 'unknown field' }));
    }
    return [{ path: base.join('.') || '(body)', message: issue.message }];
  });
}

async function readLimited(c: Context, maxBytes: number): Promise<string> {
  const declared = Number(c.req.header('content-length') ?? NaN);
  if (declared > maxBytes) throw problemError('PayloadTooLarge', `the body may be at most ${maxBytes} bytes`);
  const reader = c.req.raw.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel();
      throw problemError('PayloadTooLarge', `the body may be at most ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * @example const job = await readJson(c, jobSubmitSchema, config.MAX_BODY_BYTES)
 */
export async function readJson<S extends z.ZodType>(c: Context, schema: S, maxBytes: number): Promise<z.infer<S>> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json' && !type.endsWith('+json')) {
    throw problemError('UnsupportedMediaType', 'send the body as application/json');
  }
  const text = await readLimited(c, maxBytes);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw problemError('InvalidInput', `the body is not valid JSON: ${(err as Error).message}`, [{ path: '(body)', message: 'malformed JSON' }]);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const errors = fieldErrors(parsed.error.issues);
    throw problemError('InvalidInput', `the body has ${errors.length} invalid field${errors.length === 1 ? '' : 's'}`, errors);
  }
  return parsed.data;
}

/** problem+json (RFC 9457): the one place API errors are shaped. */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { errorCodes, isErrorCode, MediaflowError, type ErrorCode, type FieldError } from '../model/errors';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: FieldError[];
}

/**
 * @example throw problemError('NotFound', `no job "${id}"`)
 */
export function problemError(code: ErrorCode, detail: string, errors: FieldError[] = []): MediaflowError {
  return new MediaflowError(code, detail, errors);
}

export function problemOf(code: ErrorCode, detail: string, errors: FieldError[] = []): Problem {
  const info = errorCodes[code];
  return {
    type: `urn:mediaflow:problem:${code}`,
    title: info.title,
    status: info.status,
    detail,
    code,
    ...(errors.length ? { errors } : {}),
  };
}

/** True when a Temporal client call failed because the server could not be reached. */
export function isTemporalUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    // gRPC UNAVAILABLE (14) and DEADLINE_EXCEEDED (4) from the connection itself.
    if (code === 14 || code === 4) return true;
    if ((e as Error).name === 'TransportError') return true;
  }
  return false;
}

/** Sends a problem with the right status and content type, keeping headers already set. */
export function sendProblem(c: Context, problem: Problem): Response {
  c.header('Content-Type', 'application/problem+json');
  return c.body(JSON.stringify(problem), problem.status as 400);
}

/** Turns anything thrown by a handler into a problem response; never leaks a stack. */
export function problemForError(err: unknown): Problem {
  if (err instanceof MediaflowError) {
    return problemOf(err.code, err.message, err.errors);
  }
  if (isTemporalUnavailable(err)) {
    return problemOf('TemporalUnavailable', 'the workflow service cannot be reached; try again shortly');
  }
  // hono's own refusals (a validator's malformed JSON, a media-type gate), should one get past ours.
  if (err instanceof HTTPException) {
    const byStatus: Partial<Record<number, ErrorCode>> = { 400: 'InvalidInput', 413: 'PayloadTooLarge', 415: 'UnsupportedMediaType' };
    const known = byStatus[err.status];
    if (known) return problemOf(known, err.message || errorCodes[known].title);
  }
  const code = (err as { code?: unknown }).code;
  if (isErrorCode(code)) return problemOf(code, (err as Error).message);
  return problemOf('Internal', 'an internal error occurred; it has been logged');
}

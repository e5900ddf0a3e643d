/** The one table of error codes: HTTP status for the API, retryability for Temporal failures. */

export interface ErrorCodeInfo {
  status: number;
  title: string;
  /** false: Temporal must not retry an activity that failed with this code. */
  retryable: boolean;
}

export const errorCodes = {
  // API input
  InvalidInput: { status: 400, title: 'The request is invalid', retryable: false },
  UnknownTemplate: { status: 400, title: 'The request names an unknown template', retryable: false },
  InputNotFound: { status: 400, title: 'The input object does not exist', retryable: false },
  Unauthorized: { status: 401, title: 'Missing or unknown API key', retryable: false },
  Forbidden: { status: 403, title: 'Not allowed', retryable: false },
  NotFound: { status: 404, title: 'Not found', retryable: false },
  Conflict: { status: 409, title: 'Conflict with the current state', retryable: false },
  /** A key where an object and a folder collide (`a/b` is an object and `a/b/c` is written, or the reverse). */
  KeyConflict: { status: 409, title: 'The key collides with an object or a folder of objects', retryable: false },
  PayloadTooLarge: { status: 413, title: 'Body too large', retryable: false },
  UnsupportedMediaType: { status: 415, title: 'Unsupported content type', retryable: false },
  /** The request body stopped arriving (BODY_IDLE_TIMEOUT_SEC without a byte). */
  BodyTimeout: { status: 408, title: 'The request body stopped arriving', retryable: true },
  /** The client closed the connection before its body arrived (nginx's 499): logged and counted, never an answer anyone reads. */
  ClientAborted: { status: 499, title: 'The client closed the request', retryable: false },
  RateLimited: { status: 429, title: 'Too many requests', retryable: true },
  TemporalUnavailable: { status: 503, title: 'Temporal is unreachable', retryable: true },
  Internal: { status: 500, title: 'Internal error', retryable: true },
  // Media (job errors)
  InputEmpty: { status: 422, title: 'The input is empty', retryable: false },
  InputUnreadable: { status: 422, title: 'The input is not readable media', retryable: false },
  UnsupportedInput: { status: 422, title: 'The input is of an unsupported kind', retryable: false },
  InputTooLarge: { status: 422, title: 'The input exceeds the configured limits', retryable: false },
  InputMissing: { status: 422, title: 'The input object is gone', retryable: false },
  OutputNotPossible: { status: 422, title: 'This output cannot be made from this input', retryable: false },
  UnsupportedOutput: { status: 400, title: 'This kind of output is not supported by this version', retryable: false },
  EncodeFailed: { status: 500, title: 'The encoder failed', retryable: true },
  EncodeStalled: { status: 500, title: 'The encoder stopped making progress', retryable: true },
  EncodeTimeout: { status: 500, title: 'The encoder ran past its time limit', retryable: true },
  /** This worker's ffmpeg lacks an encoder the task needs: another attempt on it fails the same way. */
  EncoderMissing: { status: 500, title: 'This worker has no encoder for the requested codec', retryable: false },
  OutputTooLarge: { status: 422, title: 'The output exceeds the size limit', retryable: false },
  WatermarkInvalid: { status: 422, title: 'The watermark cannot be used', retryable: false },
  /** An attached or burnt-in subtitle file that is not SRT/WebVTT/ASS, has no cue, or is larger than SUBTITLE_MAX_BYTES. */
  SubtitleInvalid: { status: 422, title: 'The subtitle file cannot be used', retryable: false },
  /** A task whose input is another task's output, which did not succeed; a job retry re-runs both. */
  DependencyFailed: { status: 422, title: 'A task this one needs did not succeed', retryable: false },
  NotifyFailed: { status: 502, title: 'The notification could not be delivered', retryable: true },
  UrlNotAllowed: { status: 400, title: 'The URL is not allowed', retryable: false },
  // Inputs fetched from URLs and the object store
  InputFetchFailed: { status: 502, title: 'The input could not be downloaded', retryable: true },
  InputFetchRefused: { status: 422, title: 'The input URL refused the download', retryable: false },
  /** Below FETCH_MIN_BYTES_PER_SEC over a whole FETCH_MIN_RATE_WINDOW_SEC: a retry would hold a slot as long again. */
  SourceTooSlow: { status: 422, title: 'The input URL sends too slowly', retryable: false },
  IntegrityCheckFailed: { status: 502, title: 'Data did not match its checksum', retryable: true },
  /** OSS_REQUIRE_CRC=true and the backend sent no x-oss-hash-crc64ecma: asking again gets the same answer. */
  IntegrityUnverifiable: { status: 502, title: 'The object store gave no checksum to verify', retryable: false },
  StorageUnavailable: { status: 503, title: 'The object store is unavailable', retryable: true },
  StorageAccessDenied: { status: 503, title: 'The object store refused our credentials', retryable: false },
  Canceled: { status: 409, title: 'Canceled', retryable: false },
  /** The job's workflow was ended from outside (`temporal workflow terminate`): no cleanup ran, nothing can be retried. */
  Terminated: { status: 409, title: 'The job was terminated', retryable: false },
  /** The job's workflow ran past a workflow timeout set from outside: it ended as a terminate does. */
  TimedOut: { status: 409, title: 'The job ran past its workflow timeout', retryable: false },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof errorCodes;

/** Codes Temporal must never retry: listed on activity retry policies as failure types. */
export const nonRetryableCodes: ErrorCode[] = (Object.keys(errorCodes) as ErrorCode[]).filter(
  (code) => !errorCodes[code].retryable,
);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCodes, value);
}

export interface FieldError {
  path: string;
  message: string;
}

/**
 * An error that knows its code: thrown by pure code and activities, turned into problem+json
 * by the API and into a Temporal ApplicationFailure (type = code) by the activities.
 *
 * @example throw new MediaflowError('InputEmpty', 'the input object has 0 bytes')
 */
export class MediaflowError extends Error {
  readonly code: ErrorCode;
  readonly errors: FieldError[];
  /** Facts for whoever debugs the failure (e.g. the ffmpeg argv): the activity failure's details carry them. */
  readonly details: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, errors: FieldError[] = [], details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'MediaflowError';
    this.code = code;
    this.errors = errors;
    this.details = details;
  }
}

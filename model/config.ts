/** Service configuration: one zod schema over the environment, parsed once at start. */
import path from 'node:path';
import { z } from 'zod';
import { bucketProblem, keyProblem } from './keys';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const bucketName = z.string().refine((b) => bucketProblem(b) === null, 'an OSS bucket name (3-63 lowercase letters, digits and "-")');

/** Every environment variable mediaflow reads (the README's configuration table mirrors it). */
export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  DATA_DIR: z.string().min(1).default('./.data'),
  /** PostgreSQL for templates and pipelines; unset: the embedded database in DATA_DIR/db. */
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// URL').optional(),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.default(3000),
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_UI_URL: z.url().default('http://127.0.0.1:8233'),
  TEMPORAL_UI_PORT: port.default(8233),
  TEMPORAL_RPC_TIMEOUT_SEC: positiveInt.default(5),
  TASK_QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9._-]+$/).default('mediaflow'),
  WORKER_PIPELINES: z
    .string()
    .default('default')
    .transform((s) => s.split(',').map((p) => p.trim()).filter(Boolean)),
  WORKER_ACTIVITY_CONCURRENCY: positiveInt.default(2),
  /** Slots for light work (probe, snapshots, packaging, cleanup, pipeline checks, callbacks): never shared with encodes. */
  WORKER_LIGHT_CONCURRENCY: positiveInt.default(8),
  /** Niceness of encode runs (0: none): light work on the same worker gets the CPU first. */
  ENCODE_NICE: z.coerce.number().int().min(0).max(19).default(10),
  /** Inputs (or clips) at least this long are encoded in chunks that any worker may take. */
  CHUNK_MIN_DURATION_SEC: positiveInt.default(90),
  /** The chunk length aimed at (rounded up to whole GOPs and HLS/DASH segments). */
  CHUNK_SEC: positiveInt.default(30),
  /** Chunks of one job scheduled at once: the rest wait in the workflow, so one job cannot fill a cluster's queue. */
  CHUNK_MAX_PARALLEL: positiveInt.default(4),
  WORKER_SHUTDOWN_GRACE_SEC: positiveInt.default(30),
  /** A worker process's own /metrics listener (the API serves /metrics itself); 0: none. */
  WORKER_METRICS_PORT: port.default(0),
  FFMPEG_PATH: z.string().min(1).optional(),
  FFPROBE_PATH: z.string().min(1).optional(),
  FFMPEG_THREADS: z.coerce.number().int().min(0).default(0),
  FFMPEG_STALL_SEC: positiveInt.default(60),
  MAX_BODY_BYTES: positiveInt.default(64 * 1024),
  /** Per API key (per client address while the API runs open): sustained requests a second, and the burst allowed. */
  RATE_LIMIT_PER_SEC: z.coerce.number().positive().default(50),
  RATE_LIMIT_BURST: positiveInt.default(200),
  /** Requests without a valid key (none, malformed, unknown), per client address: the sustained rate and burst before 429. */
  UNAUTH_RATE_LIMIT_PER_SEC: z.coerce.number().positive().default(1),
  UNAUTH_RATE_LIMIT_BURST: positiveInt.default(20),
  /** GET /metrics per client address (it needs no key): the sustained rate and burst before 429. */
  METRICS_RATE_LIMIT_PER_SEC: z.coerce.number().positive().default(1),
  METRICS_RATE_LIMIT_BURST: positiveInt.default(10),
  /** How long /metrics reuses the job counts it read from Temporal visibility (one refresh at a time, shared by concurrent scrapes). */
  METRICS_COUNT_CACHE_SEC: positiveInt.default(15),
  /** A request body (upload or JSON) that sends no byte for this long is answered 408 and dropped. */
  BODY_IDLE_TIMEOUT_SEC: positiveInt.default(30),
  /** Uploads (PUT /v1/objects) at once per API key (per client address while open), and in the whole process; over either: 429. */
  MAX_UPLOADS_PER_KEY: positiveInt.default(8),
  MAX_UPLOADS: positiveInt.default(64),
  /** The longest one request may take to arrive in full (uploads included); headers must come within 20 s. */
  REQUEST_TIMEOUT_SEC: positiveInt.default(3600),
  MAX_UPLOAD_BYTES: positiveInt.default(2 * 1024 ** 3),
  /** Largest subtitle file (`.srt`/`.vtt`) a job may attach or burn in. */
  SUBTITLE_MAX_BYTES: positiveInt.default(5 * 1024 ** 2),
  MAX_OUTPUT_BYTES: positiveInt.default(8 * 1024 ** 3),
  MAX_INPUT_DURATION_SEC: positiveInt.default(4 * 3600),
  MAX_INPUT_PIXELS: positiveInt.default(8192 * 4320),
  ALLOW_PRIVATE_URLS: z.stringbool().default(false),
  /** Largest input a worker downloads (object or URL) before refusing it. */
  MAX_INPUT_BYTES: positiveInt.default(8 * 1024 ** 3),
  /** Wall-clock limit for downloading one URL input. */
  INPUT_FETCH_TIMEOUT_SEC: positiveInt.default(3600),
  /** A URL input slower than this (bytes a second, over FETCH_MIN_RATE_WINDOW_SEC) fails for good; 0: no minimum. */
  FETCH_MIN_BYTES_PER_SEC: z.coerce.number().int().min(0).default(8192),
  FETCH_MIN_RATE_WINDOW_SEC: positiveInt.default(60),
  /** Disk a worker may keep downloaded inputs on between the activities of a job. */
  INPUT_CACHE_BYTES: z.coerce.number().int().min(0).default(10 * 1024 ** 3),
  STORAGE_DRIVER: z.enum(['local', 'oss']).default('local'),
  /** e.g. https://oss-cn-hangzhou.aliyuncs.com; unset: derived from OSS_REGION. */
  OSS_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  /** OSS_ENDPOINT is a custom domain bound to the bucket. */
  OSS_CNAME: z.stringbool().default(false),
  OSS_REGION: z.string().regex(/^[a-z0-9-]+$/, 'an OSS region such as oss-cn-hangzhou').optional(),
  OSS_BUCKET: bucketName.optional(),
  OSS_ACCESS_KEY_ID: z.string().min(1).optional(),
  OSS_ACCESS_KEY_SECRET: z.string().min(1).optional(),
  /** With temporary (STS) credentials. */
  OSS_STS_TOKEN: z.string().min(1).optional(),
  /** Every key lives under this prefix in the bucket (empty or ending in "/"). */
  OSS_PREFIX: z
    .string()
    .default('')
    .refine((p) => p === '' || (p.endsWith('/') && keyProblem(p, { allowTrailingSlash: true }) === null), 'empty, or a clean relative prefix ending in "/"'),
  /** Further buckets a job may name for its input (comma-separated). */
  OSS_INPUT_BUCKETS: z
    .string()
    .default('')
    .transform((s) => s.split(',').map((b) => b.trim()).filter(Boolean))
    .pipe(z.array(bucketName)),
  OSS_MULTIPART_THRESHOLD_BYTES: positiveInt.default(16 * 1024 ** 2),
  /** OSS parts are 100 KiB to 5 GiB (the last one may be smaller). */
  OSS_PART_SIZE_BYTES: z.coerce.number().int().min(100 * 1024).max(5 * 1024 ** 3).default(8 * 1024 ** 2),
  OSS_TIMEOUT_SEC: positiveInt.default(60),
  /** Fail an upload or whole download the backend gives no x-oss-hash-crc64ecma for (else: warn once, count, go on). */
  OSS_REQUIRE_CRC: z.stringbool().default(false),
  /** Multipart uploads under OSS_PREFIX older than this are aborted by the periodic sweep. */
  OSS_MULTIPART_STALE_SEC: positiveInt.default(24 * 3600),
  /** How often a process using OSS sweeps stale multipart uploads; 0: never. */
  OSS_MULTIPART_SWEEP_SEC: z.coerce.number().int().min(0).default(3600),
  NOTIFY_TIMEOUT_SEC: positiveInt.default(10),
  /** Standard Webhooks signing secret (`whsec_` + base64 of 24–64 random bytes); unset: one generated in DATA_DIR. */
  WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/, 'whsec_ followed by the base64 of 24 to 64 random bytes')
    .optional(),
  JOB_RETRY_WINDOW_SEC: positiveInt.default(24 * 3600),
  /**
   * Origins (scheme://host[:port], comma-separated, or "*") whose pages may read objects
   * (GET/HEAD /v1/objects/…, signed URLs) across origins; empty: the console's own origin only.
   */
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((s) => s.split(',').map((o) => o.trim()).filter(Boolean))
    .pipe(z.array(z.union([z.literal('*'), z.string().regex(/^https?:\/\/[^/?#\s]+$/, 'an origin such as https://player.example.com (scheme, host and port only), or *')]))),
  /** The longest lifetime a signed object URL (POST /v1/signed-urls) may be given. */
  SIGNED_URL_MAX_SEC: positiveInt.default(24 * 3600),
  /** Read by scripts/temporal-cli.ts before any config exists; listed here to be validated and documented. */
  TEMPORAL_CLI_PATH: z.string().min(1).optional(),
});

/** Settings that only make sense together, checked after each variable is valid on its own. */
function crossChecks(c: z.infer<typeof configSchema>): string[] {
  const problems: string[] = [];
  if (c.STORAGE_DRIVER === 'oss') {
    for (const k of ['OSS_BUCKET', 'OSS_ACCESS_KEY_ID', 'OSS_ACCESS_KEY_SECRET'] as const) {
      if (!c[k]) problems.push(`  ${k}: required when STORAGE_DRIVER=oss`);
    }
    if (!c.OSS_ENDPOINT && !c.OSS_REGION) problems.push('  OSS_REGION: OSS_REGION or OSS_ENDPOINT is required when STORAGE_DRIVER=oss');
  }
  return problems;
}

export type Config = z.infer<typeof configSchema> & { dataDir: string };

/**
 * Parses the environment once; throws one error that lists every bad variable.
 *
 * @example const config = loadConfig(process.env)
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  const lines = parsed.success ? crossChecks(parsed.data) : parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  if (!parsed.success || lines.length) throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  return { ...parsed.data, dataDir: path.resolve(parsed.data.DATA_DIR) };
}

/** The Temporal task queue that serves one pipeline. */
export function taskQueueFor(config: Pick<Config, 'TASK_QUEUE_PREFIX'>, pipeline: string): string {
  return `${config.TASK_QUEUE_PREFIX}-${pipeline}`;
}

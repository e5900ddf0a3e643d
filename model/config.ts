/** Service configuration: one zod schema over the environment, parsed once at start. */
import path from 'node:path';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();

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
  WORKER_SHUTDOWN_GRACE_SEC: positiveInt.default(30),
  FFMPEG_PATH: z.string().min(1).optional(),
  FFPROBE_PATH: z.string().min(1).optional(),
  FFMPEG_THREADS: z.coerce.number().int().min(0).default(0),
  FFMPEG_STALL_SEC: positiveInt.default(60),
  MAX_BODY_BYTES: positiveInt.default(64 * 1024),
  MAX_UPLOAD_BYTES: positiveInt.default(2 * 1024 ** 3),
  MAX_OUTPUT_BYTES: positiveInt.default(8 * 1024 ** 3),
  MAX_INPUT_DURATION_SEC: positiveInt.default(4 * 3600),
  MAX_INPUT_PIXELS: positiveInt.default(8192 * 4320),
  ALLOW_PRIVATE_URLS: z.stringbool().default(false),
  NOTIFY_TIMEOUT_SEC: positiveInt.default(10),
  JOB_RETRY_WINDOW_SEC: positiveInt.default(24 * 3600),
  /** Read by scripts/temporal-cli.ts before any config exists; listed here to be validated and documented. */
  TEMPORAL_CLI_PATH: z.string().min(1).optional(),
});

export type Config = z.infer<typeof configSchema> & { dataDir: string };

/**
 * Parses the environment once; throws one error that lists every bad variable.
 *
 * @example const config = loadConfig(process.env)
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  return { ...parsed.data, dataDir: path.resolve(parsed.data.DATA_DIR) };
}

/** The Temporal task queue that serves one pipeline. */
export function taskQueueFor(config: Pick<Config, 'TASK_QUEUE_PREFIX'>, pipeline: string): string {
  return `${config.TASK_QUEUE_PREFIX}-${pipeline}`;
}

/**
 * `mediaflow`: the command line for the mediaflow API (submit with upload, follow, list, cancel,
 * retry, templates, pipelines). Arguments by Node's own `util.parseArgs`, HTTP by Node's fetch.
 * Run through bin/mediaflow.js (`npx mediaflow …`).
 *
 * Exit codes: 0 done (a followed job succeeded), 1 the job failed, 2 the job was canceled,
 * 3 a usage error, an HTTP error or an unreachable API, 130 interrupted while following.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { JobState, TaskState } from '../model/job-state';
import { Api, ApiError, describeApiError, type UploadResult } from './http';
import { humanBytes, percent, ProgressBar, table, type Out } from './progress';

export const EXIT = { ok: 0, failed: 1, canceled: 2, error: 3, interrupted: 130 } as const;
export const DEFAULT_API_URL = 'http://127.0.0.1:3000';

const FINAL = ['succeeded', 'failed', 'canceled'];
const POLL_MS = 1000;
/** Consecutive transient failures (API restarting, Temporal unreachable) tolerated while following a job. */
const MAX_TRANSIENT = 30;

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

const globalOptions = {
  'api-url': { type: 'string' },
  'api-key': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

const GLOBAL_HELP = `Options for every command:
  --api-url URL      the API (default $MEDIAFLOW_API_URL, else ${DEFAULT_API_URL})
  --api-key KEY      an API key (default $MEDIAFLOW_API_KEY; none for an open install)
  --json             machine-readable JSON on stdout, nothing else there
  -h, --help         this help, or a command's with "mediaflow COMMAND --help"`;

export interface Io {
  stdout: Out;
  stderr: Out;
  env: Record<string, string | undefined>;
}

interface Ctx {
  api: Api;
  json: boolean;
  out: Out;
  err: Out;
}

class UsageError extends Error {}

interface Command {
  summary: string;
  usage: string;
  details: string;
  options: Options;
  /** Positional arguments after the command's name: [min, max]. */
  positionals: [number, number];
  run(ctx: Ctx, args: string[], values: Values): Promise<number>;
}

const isFinal = (job: JobState) => FINAL.includes(job.status);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function print(out: Out, text: string): void {
  out.write(text.endsWith('\n') ? text : `${text}\n`);
}

function printJson(ctx: Ctx, value: unknown): void {
  ctx.out.write(`${JSON.stringify(value, null, 2)}\n`);
}

function strings(v: Values[string]): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}

function str(v: Values[string]): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

// ---------------------------------------------------------------------------------------------
// Following a job

/** What a person sees while a job runs: `status X` and a bar (or `progress N%` lines). */
class JobView {
  private status = '';
  private readonly bar: ProgressBar;

  constructor(private readonly out: Out) {
    this.bar = new ProgressBar(out, 'progress');
  }

  show(job: JobState): void {
    // The job's progress means something once its tasks are planned (processing); before that, the status says it all.
    const measured = job.status === 'processing' || job.status === 'succeeded';
    const fraction = job.status === 'succeeded' ? 1 : job.progress;
    if (job.status !== this.status) {
      this.status = job.status;
      // Off a terminal, `progress 100%` comes before `status succeeded`.
      if (!this.bar.tty && job.status === 'succeeded') this.bar.update(1);
      if (this.bar.tty) this.bar.relabel(job.status.padEnd(10));
      else {
        this.bar.finish();
        print(this.out, `status ${job.status}`);
      }
      if (job.status === 'processing') this.bar.restart();
      if (measured) this.bar.update(fraction, taskDetail(job.tasks), true);
      else if (this.bar.tty && !isFinal(job)) this.bar.update(0, taskDetail(job.tasks), true);
      return;
    }
    if (measured) this.bar.update(fraction, taskDetail(job.tasks));
  }

  finish(): void {
    this.bar.finish();
  }
}

function taskDetail(tasks: TaskState[]): string {
  const running = tasks.filter((t) => t.status === 'running');
  const done = tasks.filter((t) => t.status === 'succeeded' || t.status === 'skipped').length;
  const now = running.map((t) => `${t.id} ${percent(t.progress)}%`).join(', ');
  return `${done}/${tasks.length} tasks${now ? `  ${now}` : ''}`;
}

/** Resolves the job once it is final: server-sent events when the API has them, else a poll each second. */
async function follow(ctx: Ctx, id: string): Promise<JobState> {
  let job = await ctx.api.getJob(id);
  const view = ctx.json ? null : new JobView(ctx.out);
  view?.show(job);
  if (isFinal(job)) {
    view?.finish();
    return job;
  }
  const abort = new AbortController();
  const interrupted = new Promise<never>((_, reject) => {
    const onSigint = () => reject(new Interrupted(id));
    process.once('SIGINT', onSigint);
    abort.signal.addEventListener('abort', () => process.off('SIGINT', onSigint));
  });
  interrupted.catch(() => {});
  let useEvents = true;
  let transient = 0;
  const tolerate = async (err: unknown) => {
    if (!(err instanceof ApiError) || !err.transient || ++transient > MAX_TRANSIENT) throw err;
    await sleep(POLL_MS);
  };
  const seen = (next: JobState) => {
    job = next;
    transient = 0;
    view?.show(job);
  };
  const loop = async () => {
    while (!isFinal(job) && !abort.signal.aborted) {
      if (useEvents) {
        let events: Awaited<ReturnType<Api['events']>>;
        try {
          events = await ctx.api.events(id, abort.signal);
        } catch (err) {
          await tolerate(err);
          continue;
        }
        if (!events) {
          useEvents = false;
          continue;
        }
        try {
          for await (const ev of events) {
            // An `error` event carries a problem (e.g. Temporal briefly unreachable): poll, then reconnect.
            if (ev.event !== 'job') break;
            seen(JSON.parse(ev.data) as JobState);
            if (isFinal(job)) return;
          }
        } catch (err) {
          if (abort.signal.aborted) throw err;
          // the stream broke (API restarted): fall through to a poll, then reconnect
        }
      }
      await sleep(POLL_MS);
      try {
        seen(await ctx.api.getJob(id));
      } catch (err) {
        await tolerate(err);
      }
    }
  };
  const following = loop();
  // After Ctrl-C the loop ends on the aborted request; nothing waits for it any more.
  following.catch(() => {});
  try {
    await Promise.race([following, interrupted]);
    return job;
  } finally {
    abort.abort();
    view?.finish();
  }
}

class Interrupted extends Error {
  constructor(readonly id: string) {
    super('interrupted');
  }
}

/** Exit code and stderr lines for a job's final state; outputs and snapshots go to stdout. */
function report(ctx: Ctx, job: JobState): number {
  if (!ctx.json && (job.outputs.length || job.snapshots.length)) {
    for (const o of job.outputs) {
      const v = o.video ? `, ${o.video.width}x${o.video.height} ${o.video.codec}` : o.audio ? `, ${o.audio.codec}` : '';
      print(ctx.out, `output ${o.name} ${o.key} (${humanBytes(o.sizeBytes)}${v})`);
    }
    for (const s of job.snapshots) for (const key of s.keys) print(ctx.out, `snapshot ${s.name} ${key}`);
  }
  if (job.status === 'succeeded') {
    if (!ctx.json) print(ctx.out, `succeeded ${job.id}${elapsed(job)}`);
    return EXIT.ok;
  }
  if (!isFinal(job)) return EXIT.ok;
  const e = job.error;
  print(ctx.err, `${job.status} ${job.id}${e ? `: ${e.code}: ${e.message}` : ''}`);
  for (const t of job.tasks) {
    if (t.error && (t.status === 'failed' || (job.status === 'failed' && t.status !== 'succeeded'))) {
      print(ctx.err, `  ${t.id}: ${t.error.code}: ${t.error.message}`);
    }
  }
  return job.status === 'failed' ? EXIT.failed : EXIT.canceled;
}

function elapsed(job: JobState): string {
  if (!job.startedAt || !job.finishedAt) return '';
  const sec = (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000;
  return Number.isFinite(sec) ? ` in ${sec.toFixed(1)} s` : '';
}

/** Follows the job when asked, then prints it (JSON or lines) and answers the exit code. */
async function waitAndReport(ctx: Ctx, id: string): Promise<number> {
  const job = await follow(ctx, id);
  if (ctx.json) printJson(ctx, job);
  return report(ctx, job);
}

// ---------------------------------------------------------------------------------------------
// Describing things

function describeMedia(job: JobState): string {
  const input = 'url' in job.input ? job.input.url : job.input.bucket ? `oss://${job.input.bucket}/${job.input.key}` : job.input.key;
  const m = job.input.media;
  if (!m) return input;
  const parts = [m.container, m.still ? 'still image' : `${m.durationSec.toFixed(1)} s`, humanBytes(m.sizeBytes)];
  if (m.video) parts.push(`${m.video.width}x${m.video.height} ${m.video.codec}${m.video.fps ? ` ${Math.round(m.video.fps * 100) / 100} fps` : ''}`);
  for (const a of m.audio) parts.push(`${a.codec} ${a.channels}ch ${a.sampleRate} Hz`);
  return `${input}  (${parts.join(', ')})`;
}

function describeJob(job: JobState): string {
  const rows: string[][] = [
    ['job', `${job.id}  ${job.status}${job.status === 'processing' ? `  ${percent(job.progress)}%` : ''}`],
    ['pipeline', job.pipeline],
    ['created', job.createdAt],
  ];
  if (job.startedAt) rows.push(['started', job.startedAt]);
  if (job.finishedAt) rows.push(['finished', `${job.finishedAt}${elapsed(job)}`]);
  rows.push(['input', describeMedia(job)]);
  if (job.error) rows.push(['error', `${job.error.code}: ${job.error.message}`]);
  let text = table(rows);
  if (job.tasks.length) {
    text += 'tasks\n';
    text += indent(
      table(
        job.tasks.map((t) => [
          t.id,
          t.status,
          `${percent(t.progress)}%`,
          `attempts ${t.attempts}`,
          t.error ? `${t.error.code}: ${t.error.message}` : '',
        ]),
      ),
    );
  }
  if (job.outputs.length) {
    text += 'outputs\n';
    text += indent(
      table(
        job.outputs.map((o) => [
          o.name,
          o.key,
          humanBytes(o.sizeBytes),
          o.video ? `${o.video.width}x${o.video.height} ${o.video.codec}` : o.audio ? o.audio.codec : '',
        ]),
      ),
    );
  }
  if (job.snapshots.length) {
    text += 'snapshots\n';
    text += indent(table(job.snapshots.flatMap((s) => s.keys.map((k) => [s.name, k]))));
  }
  for (const n of job.notes ?? []) text += `note      ${n.at} ${n.message}\n`;
  return text;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => (l ? `  ${l}` : l))
    .join('\n');
}

interface TemplateView {
  id: string;
  kind: string;
  system: boolean;
  container?: string;
  video?: { codec?: string; width?: number; height?: number; bitrateKbps?: number; crf?: number };
  audio?: { codec?: string; bitrateKbps?: number };
  time?: number;
  interval?: number;
  count?: number;
  format?: string;
  width?: number;
  text?: { content?: string };
  image?: unknown;
}

function describeTemplate(t: TemplateView): string {
  if (t.kind === 'transcode') {
    const v = t.video;
    const video = v ? [v.codec, v.width && v.height ? `${v.width}x${v.height}` : '', v.bitrateKbps ? `${v.bitrateKbps} kb/s` : v.crf ? `crf ${v.crf}` : ''] : [];
    const audio = t.audio ? [t.audio.codec, t.audio.bitrateKbps ? `${t.audio.bitrateKbps} kb/s` : ''] : [];
    return [t.container, ...video, ...audio].filter(Boolean).join(' ');
  }
  if (t.kind === 'snapshot') {
    const when = t.time !== undefined ? `at ${t.time} s` : t.interval !== undefined ? `every ${t.interval} s` : t.count !== undefined ? `${t.count} frames` : '';
    return [t.format, when, t.width ? `width ${t.width}` : ''].filter(Boolean).join(' ');
  }
  return t.text?.content !== undefined ? `text "${t.text.content}"` : t.image ? 'image' : '';
}

// ---------------------------------------------------------------------------------------------
// Commands

const submit: Command = {
  summary: 'upload a file (or name a URL) and start a job',
  usage: 'mediaflow submit FILE|URL --template T [--template T2 …] [options]',
  details: `A local FILE is uploaded first (PUT /v1/objects/uploads/<file name>, streamed, with a
progress bar); an http(s) URL is fetched by the worker instead. Then the job is submitted.

  -t, --template T       a transcode template for one output (repeat for more); see "mediaflow templates"
  --name NAME            the output's name, paired with the --template in the same position
                         (default: the template's id)
  --snapshot T           a snapshot template (repeat for more); without any, the job makes its
                         default poster
  --output-prefix P      where outputs go, ending in "/" (outputs: P<job id>/<name>.<ext>)
  --pipeline P           the pipeline (default: "default")
  --key KEY              the object key for the upload (default: uploads/<file name>)
  --wait                 follow the job's progress until it is final, then print its outputs;
                         exit 0 succeeded, 1 failed, 2 canceled`,
  options: {
    template: { type: 'string', short: 't', multiple: true },
    name: { type: 'string', multiple: true },
    snapshot: { type: 'string', multiple: true },
    'output-prefix': { type: 'string' },
    pipeline: { type: 'string' },
    key: { type: 'string' },
    wait: { type: 'boolean' },
  },
  positionals: [1, 1],
  async run(ctx, [source], values) {
    const templates = strings(values.template);
    const names = strings(values.name);
    const snapshots = strings(values.snapshot);
    if (!templates.length && !snapshots.length) throw new UsageError('give at least one --template (or --snapshot)');
    if (names.length > templates.length) throw new UsageError(`${names.length} --name for ${templates.length} --template: each --name names the --template in its position`);
    const isUrl = /^https?:\/\//i.test(source!);
    let input: { key: string } | { url: string };
    let upload: UploadResult | undefined;
    if (isUrl) {
      if (values.key !== undefined) throw new UsageError('--key names the upload of a local file, not a URL input');
      input = { url: source! };
    } else {
      let stat: fs.Stats;
      try {
        stat = fs.statSync(source!);
      } catch {
        throw new UsageError(`no such file: ${source} (a URL must start with http:// or https://)`);
      }
      if (!stat.isFile()) throw new UsageError(`not a file: ${source}`);
      const key = str(values.key) ?? `uploads/${path.basename(source!)}`;
      const bar = ctx.json ? null : new ProgressBar(ctx.out, 'upload');
      if (!ctx.json) print(ctx.out, `uploading ${source} (${humanBytes(stat.size)}) to ${key}`);
      bar?.update(0, '', true);
      try {
        upload = await ctx.api.upload(key, source!, stat.size, (sent) => bar?.update(stat.size ? sent / stat.size : 1, `${humanBytes(sent)} of ${humanBytes(stat.size)}`));
        bar?.update(1, `${humanBytes(stat.size)} of ${humanBytes(stat.size)}`, true);
      } finally {
        bar?.finish();
      }
      if (!ctx.json) print(ctx.out, `uploaded ${upload.key} (${humanBytes(upload.sizeBytes)})`);
      input = { key: upload.key };
    }
    const body = {
      input,
      outputs: templates.map((template, i) => ({ name: names[i] ?? template, template })),
      ...(snapshots.length ? { snapshots: snapshots.map((template) => ({ name: template, template })) } : {}),
      ...(values.pipeline !== undefined ? { pipeline: str(values.pipeline) } : {}),
      ...(values['output-prefix'] !== undefined ? { outputPrefix: str(values['output-prefix']) } : {}),
    };
    const created = await ctx.api.request<{ id: string; status: string; links?: Record<string, string> }>('POST', '/v1/jobs', body);
    if (!values.wait) {
      if (ctx.json) printJson(ctx, { ...created, ...(upload ? { upload } : {}) });
      else {
        print(ctx.out, `submitted ${created.id} (${created.status})`);
        print(ctx.out, `follow it with: mediaflow job ${created.id} --wait`);
      }
      return EXIT.ok;
    }
    if (!ctx.json) print(ctx.out, `submitted ${created.id}`);
    return waitAndReport(ctx, created.id);
  },
};

const jobs: Command = {
  summary: "list the tenant's jobs, newest first",
  usage: 'mediaflow jobs [--status S] [--pipeline P] [--limit N]',
  details: `  --status S     queued, probing, processing, succeeded, failed or canceled
  --pipeline P   only this pipeline's jobs
  --limit N      at most N jobs (default 20; pages of up to 100 are fetched as needed)`,
  options: {
    status: { type: 'string' },
    pipeline: { type: 'string' },
    limit: { type: 'string' },
  },
  positionals: [0, 0],
  async run(ctx, _args, values) {
    const limitText = str(values.limit) ?? '20';
    const limit = Number(limitText);
    if (!/^\d+$/.test(limitText) || limit < 1) throw new UsageError(`--limit must be a whole number from 1, not "${limitText}"`);
    type Summary = { id: string; status: string; pipeline: string; createdAt: string; finishedAt: string | null };
    const list: Summary[] = [];
    let pageToken: string | undefined;
    do {
      const q = new URLSearchParams({ pageSize: String(Math.min(100, limit - list.length)) });
      if (values.status !== undefined) q.set('status', str(values.status)!);
      if (values.pipeline !== undefined) q.set('pipeline', str(values.pipeline)!);
      if (pageToken) q.set('pageToken', pageToken);
      const page = await ctx.api.request<{ jobs: Summary[]; nextPageToken?: string | null }>('GET', `/v1/jobs?${q}`);
      list.push(...page.jobs);
      pageToken = page.nextPageToken ?? undefined;
    } while (pageToken && list.length < limit);
    if (ctx.json) {
      printJson(ctx, { jobs: list, ...(pageToken ? { nextPageToken: pageToken } : {}) });
      return EXIT.ok;
    }
    if (!list.length) {
      print(ctx.out, 'no jobs');
      return EXIT.ok;
    }
    ctx.out.write(table([['ID', 'STATUS', 'PIPELINE', 'CREATED', 'FINISHED'], ...list.map((j) => [j.id, j.status, j.pipeline, j.createdAt, j.finishedAt ?? ''])]));
    if (pageToken) print(ctx.out, `(more jobs: raise --limit)`);
    return EXIT.ok;
  },
};

const job: Command = {
  summary: 'show one job: status, tasks, input, outputs, errors',
  usage: 'mediaflow job ID [--wait]',
  details: `  --wait   follow the job until it is final (exit 0 succeeded, 1 failed, 2 canceled)`,
  options: { wait: { type: 'boolean' } },
  positionals: [1, 1],
  async run(ctx, [id], values) {
    if (values.wait) return waitAndReport(ctx, id!);
    const state = await ctx.api.getJob(id!);
    if (ctx.json) printJson(ctx, state);
    else ctx.out.write(describeJob(state));
    return EXIT.ok;
  },
};

const cancel: Command = {
  summary: 'cancel a job (running ffmpeg is stopped, partial outputs removed)',
  usage: 'mediaflow cancel ID [--wait]',
  details: `  --wait   follow the job until it is final (exit 2 once it is canceled)`,
  options: { wait: { type: 'boolean' } },
  positionals: [1, 1],
  async run(ctx, [id], values) {
    const res = await ctx.api.request<{ id: string; status: string }>('POST', `/v1/jobs/${encodeURIComponent(id!)}/cancel`);
    if (values.wait) return waitAndReport(ctx, id!);
    if (ctx.json) printJson(ctx, res);
    else print(ctx.out, `cancel requested for ${res.id} (it was ${res.status})`);
    return EXIT.ok;
  },
};

const retry: Command = {
  summary: 'run the failed tasks of a failed job again (within its retry window)',
  usage: 'mediaflow retry ID [--wait]',
  details: `  --wait   follow the job until it is final (exit 0 succeeded, 1 failed, 2 canceled)`,
  options: { wait: { type: 'boolean' } },
  positionals: [1, 1],
  async run(ctx, [id], values) {
    const res = await ctx.api.request<{ id: string; status: string; tasks: (TaskState | string)[] }>('POST', `/v1/jobs/${encodeURIComponent(id!)}/retry`);
    if (values.wait) {
      if (!ctx.json) print(ctx.out, `retrying ${res.id}`);
      return waitAndReport(ctx, id!);
    }
    if (ctx.json) printJson(ctx, res);
    else print(ctx.out, `retrying ${res.id}: ${res.tasks.map((t) => (typeof t === 'string' ? t : t.id)).join(', ')}`);
    return EXIT.ok;
  },
};

const templates: Command = {
  summary: 'list templates (system presets and your own)',
  usage: 'mediaflow templates [--kind transcode|snapshot|watermark]',
  details: `  --kind K   only templates of this kind`,
  options: { kind: { type: 'string' } },
  positionals: [0, 0],
  async run(ctx, _args, values) {
    const q = values.kind !== undefined ? `?${new URLSearchParams({ kind: str(values.kind)! })}` : '';
    const res = await ctx.api.request<{ templates: TemplateView[] }>('GET', `/v1/templates${q}`);
    if (ctx.json) printJson(ctx, res);
    else ctx.out.write(table([['ID', 'KIND', 'OWNER', 'SETTINGS'], ...res.templates.map((t) => [t.id, t.kind, t.system ? 'system' : 'own', describeTemplate(t)])]));
    return EXIT.ok;
  },
};

const pipelines: Command = {
  summary: 'list pipelines with their state and priority',
  usage: 'mediaflow pipelines',
  details: '',
  options: {},
  positionals: [0, 0],
  async run(ctx) {
    const res = await ctx.api.request<{ pipelines: { id: string; state: string; priority: number; notify: { url: string } | null }[] }>('GET', '/v1/pipelines');
    if (ctx.json) printJson(ctx, res);
    else ctx.out.write(table([['ID', 'STATE', 'PRIORITY', 'NOTIFY'], ...res.pipelines.map((p) => [p.id, p.state, String(p.priority), p.notify?.url ?? ''])]));
    return EXIT.ok;
  },
};

const commands: Record<string, Command> = { submit, jobs, job, cancel, retry, templates, pipelines };

export function toolHelp(): string {
  const names = Object.keys(commands);
  const width = Math.max(...names.map((n) => n.length));
  return `mediaflow: submit and follow media jobs on a mediaflow API

Usage: mediaflow COMMAND [options]

Commands:
${names.map((n) => `  ${n.padEnd(width)}  ${commands[n]!.summary}`).join('\n')}

${GLOBAL_HELP}

Exit codes: 0 ok (a followed job succeeded), 1 the job failed, 2 the job was canceled,
3 usage, HTTP or connection error.

Examples:
  mediaflow submit clip.mp4 --template mp4-h264-720p --template hls-h264-ladder --wait
  mediaflow jobs --status failed --json
`;
}

function commandHelp(name: string, c: Command): string {
  return `mediaflow ${name}: ${c.summary}

Usage: ${c.usage}
${c.details ? `\n${c.details}\n` : ''}
${GLOBAL_HELP}
`;
}

function version(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The command's name: the first argument that is not an option (nor a global option's value). */
function commandName(argv: string[]): { name: string | undefined; index: number } {
  const { tokens } = parseArgs({ args: argv, options: { ...globalOptions, version: { type: 'boolean' } }, strict: false, allowPositionals: true, tokens: true });
  const first = tokens.find((t) => t.kind === 'positional');
  return first && first.kind === 'positional' ? { name: first.value, index: first.index } : { name: undefined, index: -1 };
}

/**
 * Runs one command line; resolves the exit code (never calls process.exit).
 *
 * @example process.exitCode = await main(process.argv.slice(2))
 */
export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  const { stdout, stderr, env } = io;
  let { name, index } = commandName(argv);
  let args = argv;
  if (name === 'help') {
    // `mediaflow help [COMMAND]` is `mediaflow [COMMAND] --help`
    args = [...argv.slice(0, index), ...argv.slice(index + 1), '--help'];
    ({ name } = commandName(args));
  }
  if (name === undefined) {
    let values: Values;
    try {
      ({ values } = parseArgs({ args, options: { ...globalOptions, version: { type: 'boolean' } }, strict: true, allowPositionals: true }));
    } catch (err) {
      return usageError(stderr, (err as Error).message);
    }
    if (values.version) {
      print(stdout, version());
      return EXIT.ok;
    }
    print(values.help ? stdout : stderr, toolHelp());
    return values.help ? EXIT.ok : EXIT.error;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) return usageError(stderr, `unknown command "${name}" (commands: ${Object.keys(commands).join(', ')})`);

  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, options: { ...globalOptions, ...command.options }, strict: true, allowPositionals: true }));
  } catch (err) {
    return usageError(stderr, (err as Error).message, name);
  }
  if (values.help) {
    print(stdout, commandHelp(name, command));
    return EXIT.ok;
  }
  const rest = positionals.slice(1);
  const [min, max] = command.positionals;
  if (rest.length < min || rest.length > max) {
    return usageError(stderr, `${rest.length < min ? 'missing' : 'too many'} arguments; usage: ${command.usage}`, name);
  }
  const apiUrl = str(values['api-url']) ?? (env.MEDIAFLOW_API_URL || DEFAULT_API_URL);
  if (!/^https?:\/\/[^/]/i.test(apiUrl) || !URL.canParse(apiUrl)) return usageError(stderr, `the API URL must be an http(s) URL, not "${apiUrl}"`, name);
  const apiKey = str(values['api-key']) ?? (env.MEDIAFLOW_API_KEY || undefined);
  const ctx: Ctx = { api: new Api({ url: apiUrl, key: apiKey }), json: Boolean(values.json), out: stdout, err: stderr };
  try {
    return await command.run(ctx, rest, values);
  } catch (err) {
    if (err instanceof UsageError) return usageError(stderr, err.message, name);
    if (err instanceof ApiError) {
      for (const line of describeApiError(err)) print(stderr, line);
      if (ctx.json && err.problem) printJson(ctx, { error: err.problem });
      return EXIT.error;
    }
    if (err instanceof Interrupted) {
      print(stderr, `\nstopped following ${err.id}; the job keeps running (stop it with: mediaflow cancel ${err.id})`);
      return EXIT.interrupted;
    }
    print(stderr, `error: ${(err as Error).message ?? String(err)}`);
    return EXIT.error;
  }
}

function usageError(stderr: Out, message: string, command?: string): number {
  print(stderr, `error: ${message}`);
  print(stderr, `run "mediaflow ${command ? `${command} ` : ''}--help" for usage`);
  return EXIT.error;
}

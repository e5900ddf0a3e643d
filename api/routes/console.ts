/**
 * The web console: a static app of plain ES modules (console/) served at /console/, with its
 * players from installed npm packages (hls.js, shaka-player) under /console/vendor/. Same-origin,
 * no CDN, nothing read from disk outside an allow-list built at start. The pages need no key to
 * load; the API calls they make carry the key the user entered (sessionStorage).
 *
 * Also the console's one read the public API has no route for: when each task of a job was
 * queued, started and ended (from the workflow's history in Temporal), and the job's Temporal UI link.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { z } from 'zod';
import { optionalTsToDate } from '@temporalio/common/lib/time';
import { getJob, temporalUiLink, type JobsDeps } from '../jobs';
import { callerOf } from '../auth';
import { documentedRoute, json, operation, router } from '../openapi/route';
import { problemError } from '../problem';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(import.meta.dirname, '../../console');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** What the console may load: this origin, blob: media (MSE) and workers (hls.js), data: images. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface Asset {
  file: string;
  type: string;
}

/** Files of installed packages the console loads, by the name it asks for. */
function vendorAssets(): Record<string, Asset> {
  const dist = (pkg: string, file: string) => path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'dist', file);
  return {
    'vendor/hls.mjs': { file: dist('hls.js', 'hls.min.mjs'), type: TYPES['.mjs']! },
    'vendor/shaka-player.js': { file: dist('shaka-player', 'shaka-player.compiled.js'), type: TYPES['.js']! },
  };
}

/** Every file under console/ with a known type, by its path relative to it. */
function ownAssets(): Record<string, Asset> {
  const out: Record<string, Asset> = {};
  for (const entry of fs.readdirSync(ROOT, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const type = TYPES[path.extname(entry.name)];
    if (!type) continue;
    const file = path.join(entry.parentPath, entry.name);
    out[path.relative(ROOT, file).split(path.sep).join('/')] = { file, type };
  }
  return out;
}

const html = { 'text/html': { schema: { type: 'string' as const } } };
const ops = {
  root: operation({
    method: 'get', path: '/', operationId: 'getRoot', tag: 'service',
    summary: 'Redirects to the web console',
    responses: { 302: { description: 'to /console/', headers: { Location: { description: '/console/', schema: { type: 'string' } } } } },
  }),
  consoleRedirect: operation({
    method: 'get', path: '/console', operationId: 'getConsoleRedirect', tag: 'service',
    summary: 'Redirects to the web console',
    responses: { 302: { description: 'to /console/', headers: { Location: { description: '/console/', schema: { type: 'string' } } } } },
  }),
  console: operation({
    method: 'get', path: '/console/', operationId: 'getConsole', tag: 'service',
    summary: 'The web console (jobs, a job with its players, submit, templates, pipelines); it asks for an API key once per browser session',
    responses: { 200: { description: 'the console page', content: html } },
  }),
  asset: operation({
    method: 'get', path: '/console/{file}', operationId: 'getConsoleAsset', tag: 'service',
    summary: "The console's scripts, styles and players (from installed npm packages), same-origin",
    request: { params: z.object({ file: z.string().meta({ description: 'an asset path, e.g. app.js or vendor/hls.mjs' }) }) },
    responses: {
      200: { description: 'the asset', content: { '*/*': { schema: { type: 'string' } } } },
      304: { description: 'unchanged since the `If-None-Match` entity tag' },
    },
    problems: ['NotFound'],
  }),
  timeline: operation({
    method: 'get', path: '/jobs/{id}/timeline', operationId: 'getConsoleJobTimeline', tag: 'jobs',
    summary: "For the console: when each of a job's tasks was queued, started and ended (the workflow's history), and its Temporal UI link",
    request: { params: z.object({ id: z.string().meta({ description: 'a job id (`job_…`)' }) }) },
    responses: {
      200: {
        description: 'the timeline',
        content: json(z.object({
          temporalUi: z.string(),
          activities: z.array(
            z.object({
              activityId: z.string(),
              type: z.string(),
              scheduledAt: z.string(),
              startedAt: z.string().nullable(),
              endedAt: z.string().nullable(),
              outcome: z.enum(['running', 'completed', 'failed', 'canceled', 'timedOut']),
            }),
          ),
        })),
      },
    },
    problems: ['NotFound', 'TemporalUnavailable'],
  }),
};

/**
 * GET /, /console, /console/{file}: public, so mount it before authentication.
 *
 * @example app.route('/', consoleRoutes())
 */
export function consoleRoutes() {
  const assets: Record<string, Asset> = { ...ownAssets(), ...vendorAssets() };
  const loaded = new Map<string, { body: Buffer; etag: string }>();
  const app = router();
  const send = (c: import('hono').Context, name: string) => {
    const asset = Object.hasOwn(assets, name) ? assets[name] : undefined;
    if (!asset) throw problemError('NotFound', `no console asset "${name}"`);
    let file = loaded.get(name);
    if (!file) {
      const body = fs.readFileSync(asset.file);
      file = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
      loaded.set(name, file);
    }
    const headers = { ETag: file.etag, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': CSP };
    if (c.req.header('if-none-match') === file.etag) return c.body(null, 304, headers);
    return c.body(new Uint8Array(file.body), 200, { ...headers, 'Content-Type': asset.type });
  };
  documentedRoute(app, [ops.root], '/', (c) => c.redirect('/console/', 302));
  documentedRoute(app, [ops.consoleRedirect], '/console', (c) => c.redirect('/console/', 302));
  documentedRoute(app, [ops.console], '/console/', (c) => send(c, 'index.html'));
  documentedRoute(app, [ops.asset], '/console/:file{.+}', async (c, next) => {
    const name = c.req.param('file');
    // The timeline is an API call (mounted after authentication): on to it.
    if (name.startsWith('api/')) return next();
    return send(c, name);
  });
  return app;
}

/**
 * GET /console/api/jobs/{id}/timeline: needs a key like the job itself (mount it after authentication).
 *
 * @example app.route('/console/api', consoleApiRoutes(deps))
 */
export function consoleApiRoutes(deps: JobsDeps) {
  const app = router();
  documentedRoute(app, [ops.timeline], '/jobs/:id/timeline', async (c) => {
    const id = c.req.param('id');
    if (!/^job_[a-z0-9]{1,64}$/.test(id)) throw problemError('NotFound', `no job "${id}"`);
    // 404 for unknown ids and other tenants' jobs, as for the job itself.
    await getJob(deps, id, callerOf(c).tenant);
    const history = await deps.client.workflow.getHandle(id).fetchHistory();
    type Row = { activityId: string; type: string; scheduledAt: string; startedAt: string | null; endedAt: string | null; outcome: 'running' | 'completed' | 'failed' | 'canceled' | 'timedOut' };
    const bySchedule = new Map<string, Row>();
    const at = (e: { eventTime?: Parameters<typeof optionalTsToDate>[0] }) => optionalTsToDate(e.eventTime)?.toISOString() ?? null;
    // Each event carries exactly one attributes field, which says what it is.
    for (const e of history.events ?? []) {
      const row = (attrs: { scheduledEventId?: unknown } | null | undefined) => bySchedule.get(String(attrs?.scheduledEventId ?? ''));
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled) {
        bySchedule.set(String(e.eventId), { activityId: scheduled.activityId ?? '', type: scheduled.activityType?.name ?? '', scheduledAt: at(e)!, startedAt: null, endedAt: null, outcome: 'running' });
        continue;
      }
      const started = row(e.activityTaskStartedEventAttributes);
      if (started) started.startedAt = at(e);
      const ends = [
        ['completed', e.activityTaskCompletedEventAttributes],
        ['failed', e.activityTaskFailedEventAttributes],
        ['canceled', e.activityTaskCanceledEventAttributes],
        ['timedOut', e.activityTaskTimedOutEventAttributes],
      ] as const;
      for (const [outcome, attrs] of ends) {
        const ended = attrs ? row(attrs) : undefined;
        if (!ended) continue;
        ended.endedAt = at(e);
        ended.outcome = outcome;
      }
    }
    return c.json({ temporalUi: temporalUiLink(deps.config, id), activities: [...bySchedule.values()] });
  });
  return app;
}

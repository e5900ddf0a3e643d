/** Builds the Hono app from its dependencies; no listening socket here, so tests can call app.request. */
import type { Client } from '@temporalio/client';
import type { Config } from '../model/config';
import type { Storage } from '../storage/storage';
import type { PipelineStore } from '../db/pipelines';
import type { TemplateStore } from '../db/templates';
import { problemForError, problemOf, sendProblem } from './problem';
import { jobRoutes } from './routes/jobs';
import { dotSegmentGuard, objectRoutes } from './routes/objects';
import { pipelineRoutes } from './routes/pipelines';
import { templateRoutes } from './routes/templates';
import { serviceRoutes } from './routes/service';
import { docsRoutes, openApiDocument } from './routes/docs';
import { randomUUID } from 'node:crypto';
import { requestId } from 'hono/request-id';
import { metrics, metricsText, scrapeGauge } from '../observability/metrics';
import { z } from 'zod';
import { operation, router } from './openapi/route';
import { authenticate } from './auth';
import { keyRoutes } from './routes/keys';
import { metricsRateLimit, rateLimit } from './rate-limit';
import type { ApiKeyStore } from '../db/api-keys';
import type { SharedBuckets } from '../db/rate-buckets';
import { countJobsByStatus } from './jobs';
import { objectCors } from './cors';
import { signedObjectRoutes, signedUrlRoutes } from './signed-url';
import { consoleApiRoutes, consoleRoutes } from './routes/console';

export interface AppDeps {
  config: Config;
  client: Client;
  storage: Storage;
  templates: TemplateStore;
  pipelines: PipelineStore;
  keys: ApiKeyStore;
  /** The per-key rate limit's buckets when they are shared by replicas (PostgreSQL); else in memory. */
  rateBuckets?: SharedBuckets;
  log?: (line: Record<string, unknown>) => void;
}

/**
 * @example const app = createApp({ config, client, storage }); serve({ fetch: app.fetch, port: 3000 })
 */
export function createApp(deps: AppDeps) {
  const log = deps.log ?? ((line) => console.log(JSON.stringify(line)));
  const logRequests = ['TRACE', 'DEBUG', 'INFO'].includes(deps.config.LOG_LEVEL);
  const app = router();
  // Every request: an id (the caller's X-Request-Id when sane, else ours), echoed back. hono's
  // check takes [A-Za-z0-9_=-]; the generator keeps the `.` and `:` ids we always accepted.
  app.use(
    requestId({
      limitLength: 128,
      generator: (c) => {
        const given = c.req.header('x-request-id');
        return given && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
      },
    }),
  );
  // One JSON log line and the request metrics once answered. Never headers, bodies or query strings.
  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    const route = c.req.routePath || 'unmatched';
    metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    metrics.httpDuration.observe({ method: c.req.method, route }, seconds);
    if (logRequests) {
      const caller = c.get('caller');
      log({ ts: new Date().toISOString(), level: 'info', msg: 'request', requestId: c.get('requestId'), tenant: caller?.tenant ?? null, method: c.req.method, route, path: c.req.path, status: c.res.status, ms: Math.round(seconds * 1000) });
    }
  });
  app.use('*', async (c, next) => {
    c.set('bodyIdleSec', deps.config.BODY_IDLE_TIMEOUT_SEC);
    await next();
  });
  app.use('*', dotSegmentGuard);
  // Before authentication: CORS preflights for object reads, signed object URLs, the console's static files.
  app.use('*', objectCors(deps.config));
  app.route('/', signedObjectRoutes({ ...deps, log }));
  app.route('/', consoleRoutes());
  app.use('*', authenticate(deps.config, deps.keys));
  app.use('*', rateLimit(deps.config, deps.rateBuckets));
  scrapeGauge('mediaflow_jobs', 'Jobs by status (from Temporal visibility, read at scrape time)', 'status', () => countJobsByStatus(deps));
  app.openapi(
    operation({
      method: 'get',
      path: '/metrics',
      operationId: 'metrics',
      summary: 'Prometheus metrics of this process',
      tag: 'service',
      middleware: [metricsRateLimit(deps.config)],
      problems: ['RateLimited'],
      responses: { 200: { description: 'Prometheus text exposition', content: { 'text/plain': { schema: z.string() } } } },
    }),
    async (c) => {
      const { contentType, body } = await metricsText();
      return c.text(body, 200, { 'content-type': contentType });
    },
  );
  app.route('/', serviceRoutes(deps));
  app.route('/v1/objects', objectRoutes({ ...deps, log }));
  app.route('/v1/jobs', jobRoutes(deps));
  app.route('/v1/templates', templateRoutes(deps));
  app.route('/v1/pipelines', pipelineRoutes(deps));
  app.route('/v1/keys', keyRoutes(deps));
  app.route('/v1/signed-urls', signedUrlRoutes(deps));
  app.route('/console/api', consoleApiRoutes(deps));
  app.route('/', docsRoutes(() => openApiDocument(app)));
  app.notFound((c) => sendProblem(c, problemOf('NotFound', `no route for ${c.req.method} ${c.req.path}`)));
  app.onError((err, c) => {
    const problem = problemForError(err);
    if (problem.code === 'Internal') {
      log({ level: 'error', msg: 'request failed', method: c.req.method, path: c.req.path, status: problem.status, error: String((err as Error).stack ?? err) });
    } else if (problem.status >= 500) {
      log({ level: 'warn', msg: problem.detail, method: c.req.method, path: c.req.path, status: problem.status });
    }
    return sendProblem(c, problem);
  });
  return app;
}

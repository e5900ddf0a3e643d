/** Builds the Hono app from its dependencies; no listening socket here, so tests can call app.request. */
import { Hono } from 'hono';
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

export interface AppDeps {
  config: Config;
  client: Client;
  storage: Storage;
  templates: TemplateStore;
  pipelines: PipelineStore;
  log?: (line: Record<string, unknown>) => void;
}

/**
 * @example const app = createApp({ config, client, storage }); serve({ fetch: app.fetch, port: 3000 })
 */
export function createApp(deps: AppDeps) {
  const log = deps.log ?? ((line) => console.log(JSON.stringify(line)));
  const app = new Hono();
  app.use('*', dotSegmentGuard);
  app.route('/', serviceRoutes(deps));
  app.route('/v1/objects', objectRoutes(deps));
  app.route('/v1/jobs', jobRoutes(deps));
  app.route('/v1/templates', templateRoutes(deps));
  app.route('/v1/pipelines', pipelineRoutes(deps));
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

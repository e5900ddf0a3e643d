/** /healthz (process up) and /readyz (Temporal and the store reachable). */
import type { Client } from '@temporalio/client';
import type { Config } from '../../model/config';
import type { Storage } from '../../storage/storage';
import { problemOf, sendProblem } from '../problem';
import { documentedRoute, json, operation, router } from '../openapi/route';
import { healthSchema, readySchema } from '../openapi/schemas';
import { rpc } from '../temporal-rpc';

export function serviceRoutes(deps: { client: Client; storage: Storage; config: Config }) {
  const app = router();
  app.openapi(
    operation({ method: 'get', path: '/healthz', operationId: 'getHealth', tag: 'service', summary: 'The process is up', responses: { 200: { description: 'up', content: json(healthSchema) } } }),
    (c) => c.json({ status: 'ok' as const }, 200),
  );
  // Answers its 503 by hand: the problem's title says which check failed.
  documentedRoute(
    app,
    [operation({
      method: 'get', path: '/readyz', operationId: 'getReady', tag: 'service',
      summary: 'Temporal and the object store are reachable',
      responses: { 200: { description: 'ready to take jobs', content: json(readySchema) } },
      problems: ['TemporalUnavailable'],
    })],
    '/readyz',
    async (c) => {
      const checks: Record<string, string> = {};
      await rpc(deps, () => deps.client.connection.workflowService.getSystemInfo({})).then(() => (checks.temporal = 'ok'), (err: Error) => (checks.temporal = `unreachable: ${err.message.split('\n')[0]}`));
      await deps.storage.check().then(() => (checks.storage = 'ok'), (err: Error) => (checks.storage = `unusable: ${err.message}`));
      const ready = Object.values(checks).every((v) => v === 'ok');
      if (ready) return c.json({ status: 'ready', checks });
      return sendProblem(c, { ...problemOf('TemporalUnavailable', `not ready: ${JSON.stringify(checks)}`), ...(checks.temporal === 'ok' ? { title: 'The object store is unusable' } : {}) });
    },
  );
  return app;
}

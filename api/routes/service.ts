/** /healthz (process up) and /readyz (Temporal and the store reachable). */
import { Hono } from 'hono';
import type { Client } from '@temporalio/client';
import type { Config } from '../../model/config';
import type { Storage } from '../../storage/storage';
import { problemOf, sendProblem } from '../problem';
import { serviceOps } from '../openapi/operations';
import { documented } from '../openapi/registry';


export function serviceRoutes(deps: { client: Client; storage: Storage; config: Config }) {
  const app = new Hono();
  app.get('/healthz', documented(serviceOps.health), (c) => c.json({ status: 'ok' }));
  app.get('/readyz', documented(serviceOps.ready), async (c) => {
    const checks: Record<string, string> = {};
    await deps.client.connection
      .withDeadline(Date.now() + deps.config.TEMPORAL_RPC_TIMEOUT_SEC * 1000, () => deps.client.connection.workflowService.getSystemInfo({}))
      .then(() => (checks.temporal = 'ok'), (err: Error) => (checks.temporal = `unreachable: ${err.message.split('\n')[0]}`));
    await deps.storage.check().then(() => (checks.storage = 'ok'), (err: Error) => (checks.storage = `unusable: ${err.message}`));
    const ready = Object.values(checks).every((v) => v === 'ok');
    if (ready) return c.json({ status: 'ready', checks });
    return sendProblem(c, { ...problemOf('TemporalUnavailable', `not ready: ${JSON.stringify(checks)}`), ...(checks.temporal === 'ok' ? { title: 'The object store is unusable' } : {}) });
  });
  return app;
}

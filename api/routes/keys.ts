/** /v1/keys: the tenant's API keys (admin). A new key's secret is answered once and never again. */
import type { AppEnv } from '../env';
import { Hono } from 'hono';
import { z } from 'zod';
import type { ApiKeyStore } from '../../db/api-keys';
import type { Config } from '../../model/config';
import { apiKeyCreateSchema, apiKeyCreatedSchema, apiKeySchema } from '../../model/tenant';
import { adminOf } from '../auth';
import { readJson } from '../body';
import { problemError } from '../problem';
import { documented } from '../openapi/registry';

const keyIdParams = z.object({ id: z.string().describe('key id (`key_…`)') });

export function keyRoutes(deps: { config: Config; keys: ApiKeyStore }) {
  const app = new Hono<AppEnv>();

  app.get(
    '/',
    documented({ operationId: 'listKeys', tag: 'keys', admin: true, summary: "The tenant's API keys (never their secrets)", responses: { 200: { description: 'the keys', schema: z.object({ keys: z.array(apiKeySchema) }) } } }),
    async (c) => c.json({ keys: await deps.keys.list(adminOf(c).tenant) }),
  );

  app.post(
    '/',
    documented({
      operationId: 'createKey',
      tag: 'keys',
      admin: true,
      summary: 'Make a key for this tenant; the answer holds its secret, shown this once',
      body: { schema: apiKeyCreateSchema },
      responses: { 201: { description: 'the key and its secret', schema: apiKeyCreatedSchema } },
    }),
    async (c) => {
      const { tenant } = adminOf(c);
      const body = await readJson(c, apiKeyCreateSchema, deps.config.MAX_BODY_BYTES);
      const { key, secret } = await deps.keys.create(tenant, body.role, body.name);
      c.header('Cache-Control', 'no-store');
      return c.json({ ...key, secret }, 201);
    },
  );

  app.delete(
    '/:id',
    documented({ operationId: 'deleteKey', tag: 'keys', admin: true, summary: 'Revoke a key at once', params: keyIdParams, responses: { 204: { description: 'revoked' } }, problems: ['NotFound'] }),
    async (c) => {
      if (!(await deps.keys.remove(adminOf(c).tenant, c.req.param('id')))) throw problemError('NotFound', `no key "${c.req.param('id')}"`);
      return c.body(null, 204);
    },
  );

  return app;
}

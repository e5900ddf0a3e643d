/** /v1/keys: the tenant's API keys (admin). A new key's secret is answered once and never again. */
import { z } from 'zod';
import type { ApiKeyStore } from '../../db/api-keys';
import type { Config } from '../../model/config';
import { adminOf } from '../auth';
import { problemError } from '../problem';
import { json, jsonBody, operation, router } from '../openapi/route';
import { keyCreateBody, keyCreatedSchema, keyListSchema } from '../openapi/schemas';

const params = z.object({ id: z.string().meta({ description: 'key id (`key_…`)' }) });

export function keyRoutes(deps: { config: Config; keys: ApiKeyStore }) {
  const app = router();

  app.openapi(
    operation({
      method: 'get', path: '/', operationId: 'listKeys', tag: 'keys',
      admin: true,
      summary: "The tenant's API keys (never their secrets)",
      responses: { 200: { description: 'the keys', content: json(keyListSchema) } },
    }),
    async (c) => c.json({ keys: await deps.keys.list(adminOf(c).tenant) }, 200),
  );

  app.openapi(
    operation({
      method: 'post', path: '/', operationId: 'createKey', tag: 'keys',
      admin: true,
      summary: 'Make a key for this tenant; the answer holds its secret, shown this once',
      request: { body: jsonBody(keyCreateBody) },
      maxBodyBytes: deps.config.MAX_BODY_BYTES,
      responses: { 201: { description: 'the key and its secret', content: json(keyCreatedSchema) } },
    }),
    async (c) => {
      const { tenant } = adminOf(c);
      const body = c.req.valid('json');
      const { key, secret } = await deps.keys.create(tenant, body.role, body.name);
      c.header('Cache-Control', 'no-store');
      return c.json({ ...key, secret }, 201);
    },
  );

  app.openapi(
    operation({
      method: 'delete', path: '/{id}', operationId: 'deleteKey', tag: 'keys',
      admin: true,
      summary: 'Revoke a key at once',
      request: { params },
      responses: { 204: { description: 'revoked' } },
      problems: ['NotFound'],
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      if (!(await deps.keys.remove(adminOf(c).tenant, id))) throw problemError('NotFound', `no key "${id}"`);
      return c.body(null, 204);
    },
  );

  return app;
}

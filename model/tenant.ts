/** Tenant ids and API key bodies: the schemas of the keys endpoints and the keys CLI. */
import { z } from 'zod';

/** Lowercase letters, digits and "-": safe in object key prefixes and search attribute values. */
export const tenantIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and "-", at most 63');

export const apiKeyCreateSchema = z.strictObject({
  role: z.enum(['admin', 'submitter']),
  /** What the key is for, to recognise it in the list later. */
  name: z.string().max(100).default(''),
});

export const apiKeySchema = z.object({
  id: z.string(),
  tenant: z.string(),
  role: z.enum(['admin', 'submitter']),
  name: z.string(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
});

/** POST /v1/keys answers with the key and, this once, its secret. */
export const apiKeyCreatedSchema = apiKeySchema.extend({ secret: z.string() });

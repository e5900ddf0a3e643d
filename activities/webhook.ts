/**
 * Signed completion callbacks, per the Standard Webhooks spec: the body is signed with the
 * service's secret over `{webhook-id}.{webhook-timestamp}.{body}` (HMAC-SHA256), so receivers
 * can check that a notification is ours, recent, and the same delivery as one already seen.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { Config } from '../model/config';

const SECRET_FILE = 'webhook-secret';

/**
 * WEBHOOK_SECRET when set; otherwise one generated once and kept in DATA_DIR (every process of a
 * one-machine install shares it). Clusters set WEBHOOK_SECRET so every worker signs alike.
 *
 * @example const secret = await webhookSecret(config) // 'whsec_…'
 */
export async function webhookSecret(config: Pick<Config, 'WEBHOOK_SECRET' | 'dataDir'>): Promise<string> {
  if (config.WEBHOOK_SECRET) return config.WEBHOOK_SECRET;
  // Read (or made) once per data directory and process, not on every callback or page token.
  let secret = generated.get(config.dataDir);
  if (!secret) {
    secret = secretFromFile(config.dataDir);
    generated.set(config.dataDir, secret);
    secret.catch(() => generated.delete(config.dataDir));
  }
  return secret;
}

const generated = new Map<string, Promise<string>>();

async function secretFromFile(dataDir: string): Promise<string> {
  const file = path.join(dataDir, SECRET_FILE);
  const existing = await fs.readFile(file, 'utf8').catch(() => null);
  if (existing?.trim()) return existing.trim();
  await fs.mkdir(dataDir, { recursive: true });
  const fresh = `whsec_${randomBytes(32).toString('base64')}`;
  // `wx`: of two processes starting at once, the first one's secret wins and both use it.
  await fs.writeFile(file, `${fresh}\n`, { flag: 'wx', mode: 0o600 }).catch(() => undefined);
  return (await fs.readFile(file, 'utf8')).trim();
}

/** The three headers of one delivery attempt: the id stays, timestamp and signature are per attempt. */
export function signedHeaders(secret: string, webhookId: string, body: string, now = new Date()): Record<string, string> {
  return {
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(webhookId, now, body),
  };
}

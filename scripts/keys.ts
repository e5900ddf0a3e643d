/**
 * API keys from the command line, against the configured database (DATABASE_URL, or the embedded
 * one in DATA_DIR while no server holds it — refused, exit 1, while an API holds it): the way to
 * make the first key of a production install.
 *
 *   npx tsx scripts/keys.ts create --tenant acme --role admin --name "ops"
 *   npx tsx scripts/keys.ts list --tenant acme
 *   npx tsx scripts/keys.ts delete --tenant acme --id key_…
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../model/config';
import { openDatabase } from '../db/database';
import { createApiKeyStore } from '../db/api-keys';
import { tenantIdSchema } from '../model/tenant';
import { embeddedDbHolder, embeddedDbLockFile } from '../api/server';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { tenant: { type: 'string' }, role: { type: 'string', default: 'submitter' }, name: { type: 'string', default: '' }, id: { type: 'string' } },
});
const [command] = positionals;
const tenant = tenantIdSchema.safeParse(values.tenant);
if (!command || !['create', 'list', 'delete'].includes(command) || !tenant.success) {
  console.error('usage: keys.ts create|list|delete --tenant <id> [--role admin|submitter] [--name text] [--id key_…]');
  process.exit(2);
}
const config = loadConfig();
if (!config.DATABASE_URL) {
  // The embedded database belongs to one process. Writing beside a running API loses the key: the
  // API never sees it (and the next start may not either).
  const holder = await embeddedDbHolder(config.dataDir);
  if (holder !== null) {
    console.error(
      `refusing to ${command} keys: the embedded database in ${config.dataDir} is held by a running mediaflow API (pid ${holder}, ${embeddedDbLockFile(config.dataDir)}).\n` +
        'Stop the API and run this again, or use the API itself: POST /v1/keys with an admin key (or in open mode).',
    );
    process.exit(1);
  }
}
const db = await openDatabase(config);
try {
  const keys = createApiKeyStore(db);
  if (command === 'create') {
    if (values.role !== 'admin' && values.role !== 'submitter') throw new Error('--role must be admin or submitter');
    const { key, secret } = await keys.create(tenant.data, values.role, values.name ?? '');
    console.log(JSON.stringify({ ...key, secret }, null, 2));
    console.error('The secret is shown this once; only its hash is stored.');
  } else if (command === 'list') {
    console.log(JSON.stringify(await keys.list(tenant.data), null, 2));
  } else {
    if (!values.id || !(await keys.remove(tenant.data, values.id))) throw new Error(`no key "${values.id}" in tenant "${tenant.data}"`);
    console.log(`deleted ${values.id}`);
  }
} finally {
  await db.close();
}

/** Pipelines per tenant: state (active | paused), priority, default callback; `default` always exists. */
import { MediaflowError } from '../model/errors';
import type { Database } from './database';

export interface Pipeline {
  id: string;
  state: 'active' | 'paused';
  /** 1 (first) … 10 (last). */
  priority: number;
  notify: { url: string } | null;
  createdAt: string;
  updatedAt: string;
}

export const DEFAULT_PIPELINE = 'default';

interface Row {
  id: string;
  state: Pipeline['state'];
  priority: number;
  notify_url: string | null;
  created_at: Date;
  updated_at: Date;
}

function fromRow(r: Row): Pipeline {
  return {
    id: r.id,
    state: r.state,
    priority: Number(r.priority),
    notify: r.notify_url ? { url: r.notify_url } : null,
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

/** Temporal's priority keys run 1 (first) … 5; pipelines speak 1 … 10. */
export function priorityKeyOf(priority: number): number {
  return Math.min(5, Math.max(1, Math.ceil(priority / 2)));
}

export type PipelineStore = ReturnType<typeof createPipelineStore>;

/**
 * @example const pipelines = createPipelineStore(db); await pipelines.get('default', 'default')
 */
export function createPipelineStore(db: Database) {
  async function ensureDefault(tenant: string): Promise<void> {
    await db.query(
      `insert into pipelines (tenant, id, state, priority) values ($1, $2, 'active', 5) on conflict (tenant, id) do nothing`,
      [tenant, DEFAULT_PIPELINE],
    );
  }
  return {
    async list(tenant: string): Promise<Pipeline[]> {
      await ensureDefault(tenant);
      return (await db.query<Row>('select * from pipelines where tenant = $1 order by id', [tenant])).map(fromRow);
    },
    async get(tenant: string, id: string): Promise<Pipeline | null> {
      if (id === DEFAULT_PIPELINE) await ensureDefault(tenant);
      const [row] = await db.query<Row>('select * from pipelines where tenant = $1 and id = $2', [tenant, id]);
      return row ? fromRow(row) : null;
    },
    async create(tenant: string, p: { id: string; state: Pipeline['state']; priority: number; notify: { url: string } | null }): Promise<Pipeline> {
      if (p.id === DEFAULT_PIPELINE) await ensureDefault(tenant);
      const [row] = await db.query<Row>(
        'insert into pipelines (tenant, id, state, priority, notify_url) values ($1, $2, $3, $4, $5) on conflict (tenant, id) do nothing returning *',
        [tenant, p.id, p.state, p.priority, p.notify?.url ?? null],
      );
      if (!row) throw new MediaflowError('Conflict', `a pipeline "${p.id}" already exists; use PATCH to change it`);
      return fromRow(row);
    },
    async update(tenant: string, id: string, patch: { state?: Pipeline['state']; priority?: number; notify?: { url: string } | null }): Promise<{ before: Pipeline; after: Pipeline }> {
      if (id === DEFAULT_PIPELINE) await ensureDefault(tenant);
      return db.transaction(async (tx) => {
        const [old] = await tx.query<Row>('select * from pipelines where tenant = $1 and id = $2 for update', [tenant, id]);
        if (!old) throw new MediaflowError('NotFound', `no pipeline "${id}"`);
        const [row] = await tx.query<Row>(
          'update pipelines set state = $3, priority = $4, notify_url = $5, updated_at = now() where tenant = $1 and id = $2 returning *',
          [tenant, id, patch.state ?? old.state, patch.priority ?? old.priority, patch.notify === undefined ? old.notify_url : (patch.notify?.url ?? null)],
        );
        return { before: fromRow(old), after: fromRow(row!) };
      });
    },
    async remove(tenant: string, id: string): Promise<void> {
      if (id === DEFAULT_PIPELINE) throw new MediaflowError('Conflict', 'the default pipeline cannot be deleted');
      const rows = await db.query('delete from pipelines where tenant = $1 and id = $2 returning id', [tenant, id]);
      if (!rows.length) throw new MediaflowError('NotFound', `no pipeline "${id}"`);
    },
  };
}

/** Templates per tenant in the database, with the read-only system presets listed first. */
import { MediaflowError } from '../model/errors';
import type { Template, TemplateKind } from '../model/templates';
import { systemPresets } from '../media/presets';
import type { Database } from './database';

export interface StoredTemplate {
  id: string;
  kind: TemplateKind;
  /** System presets ship with mediaflow and cannot be changed. */
  system: boolean;
  template: Template;
  createdAt: string | null;
  updatedAt: string | null;
}

interface Row {
  id: string;
  kind: TemplateKind;
  body: Template;
  created_at: Date;
  updated_at: Date;
}

function fromRow(r: Row): StoredTemplate {
  return { id: r.id, kind: r.kind, system: false, template: r.body, createdAt: new Date(r.created_at).toISOString(), updatedAt: new Date(r.updated_at).toISOString() };
}

function preset(id: string): StoredTemplate | undefined {
  const t = Object.hasOwn(systemPresets, id) ? systemPresets[id] : undefined;
  return t && { id, kind: t.kind, system: true, template: t, createdAt: null, updatedAt: null };
}

function readOnly(id: string): never {
  throw new MediaflowError('Forbidden', `"${id}" is a system preset and read-only; create a template with another id`);
}

export type TemplateStore = ReturnType<typeof createTemplateStore>;

/**
 * @example const templates = createTemplateStore(db); await templates.get('default', 'mp4-h264-720p')
 */
export function createTemplateStore(db: Database) {
  return {
    async list(tenant: string, kind?: TemplateKind): Promise<StoredTemplate[]> {
      const rows = await db.query<Row>('select * from templates where tenant = $1 order by id', [tenant]);
      const all = [...Object.keys(systemPresets).map((id) => preset(id)!), ...rows.map(fromRow)];
      return kind ? all.filter((t) => t.kind === kind) : all;
    },
    async get(tenant: string, id: string): Promise<StoredTemplate | null> {
      const p = preset(id);
      if (p) return p;
      const [row] = await db.query<Row>('select * from templates where tenant = $1 and id = $2', [tenant, id]);
      return row ? fromRow(row) : null;
    },
    async create(tenant: string, id: string, template: Template): Promise<StoredTemplate> {
      if (preset(id)) readOnly(id);
      const [row] = await db.query<Row>(
        'insert into templates (tenant, id, kind, body) values ($1, $2, $3, $4) on conflict (tenant, id) do nothing returning *',
        [tenant, id, template.kind, JSON.stringify(template)],
      );
      if (!row) throw new MediaflowError('Conflict', `a template "${id}" already exists; use PUT to replace it`);
      return fromRow(row);
    },
    async replace(tenant: string, id: string, template: Template): Promise<StoredTemplate> {
      if (preset(id)) readOnly(id);
      const [row] = await db.query<Row>(
        'update templates set kind = $3, body = $4, updated_at = now() where tenant = $1 and id = $2 returning *',
        [tenant, id, template.kind, JSON.stringify(template)],
      );
      if (!row) throw new MediaflowError('NotFound', `no template "${id}"`);
      return fromRow(row);
    },
    async remove(tenant: string, id: string): Promise<void> {
      if (preset(id)) readOnly(id);
      const rows = await db.query('delete from templates where tenant = $1 and id = $2 returning id', [tenant, id]);
      if (!rows.length) throw new MediaflowError('NotFound', `no template "${id}"`);
    },
  };
}

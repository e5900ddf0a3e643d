/** The job JSON as its tenant sees it: object keys relative to the tenant's part of the store. */
import type { JobState } from './job-state';
import { tenantPrefix } from './keys';

/**
 * Strips the tenant's prefix from every object key in the job (input, outputs, renditions,
 * snapshots), so each key is the one `GET /v1/objects/{key}` answers for that tenant.
 *
 * @example jobForTenant(state, 'acme').outputs[0].key // 'processed/job_…/720p.mp4', stored under tenants/acme/
 */
export function jobForTenant(state: JobState, tenant: string): JobState {
  const prefix = tenantPrefix(tenant);
  if (!prefix) return state;
  const strip = (key: string) => (key.startsWith(prefix) ? key.slice(prefix.length) : key);
  return {
    ...state,
    input: 'key' in state.input && !('bucket' in state.input && state.input.bucket) ? { ...state.input, key: strip(state.input.key) } : state.input,
    outputs: state.outputs.map((o) => ({ ...o, key: strip(o.key), ...(o.renditions ? { renditions: o.renditions.map((r) => ({ ...r, key: strip(r.key) })) } : {}) })),
    snapshots: state.snapshots.map((s) => ({ ...s, keys: s.keys.map(strip) })),
  };
}

/**
 * Resolves a job body at submission: templates (system presets or the tenant's) merged with
 * inline overrides and validated as a whole, the pipeline looked up. The job carries the result,
 * so editing a template later never changes it.
 */
import { z } from 'zod';
import type { FieldError } from '../model/errors';
import type { JobSubmit, ResolvedOutput, ResolvedSnapshot, ResolvedWatermark } from '../model/job';
import {
  deepMerge,
  snapshotTemplateSchema,
  transcodeTemplateSchema,
  watermarkTemplateSchema,
  type Template,
  type TemplateKind,
} from '../model/templates';
import type { TemplateStore } from '../db/templates';
import { fieldErrors } from './body';
import { problemError } from './problem';

type Path = (string | number)[];

class Collector {
  readonly errors: FieldError[] = [];
  readonly unsupported: FieldError[] = [];
  unknownTemplate = false;
  add(path: Path, message: string): void {
    this.errors.push({ path: path.join('.'), message });
  }
}

async function lookup<K extends TemplateKind>(
  store: TemplateStore,
  tenant: string,
  id: string,
  kind: K,
  at: Path,
  out: Collector,
): Promise<Extract<Template, { kind: K }> | null> {
  const found = await store.get(tenant, id);
  if (!found) {
    out.unknownTemplate = true;
    out.add(at, `unknown template "${id}"`);
    return null;
  }
  if (found.kind !== kind) {
    out.add(at, `template "${id}" is a ${found.kind} template; a ${kind} template is needed here`);
    return null;
  }
  return found.template as Extract<Template, { kind: K }>;
}

function validate<S extends z.ZodType>(schema: S, value: unknown, at: Path, out: Collector): z.infer<S> | null {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  out.errors.push(...fieldErrors(parsed.error.issues, at));
  return null;
}

async function resolveWatermark(store: TemplateStore, tenant: string, w: NonNullable<JobSubmit['outputs'][number]['watermarks']>[number], at: Path, out: Collector): Promise<ResolvedWatermark | null> {
  const { template: id, ...inline } = w;
  const base = id ? await lookup(store, tenant, id, 'watermark', [...at, 'template'], out) : { kind: 'watermark' as const };
  if (!base) return null;
  const merged = validate(watermarkTemplateSchema, deepMerge(base, inline), at, out);
  if (!merged) return null;
  const { kind: _, ...settings } = merged;
  return { templateId: id ?? null, settings };
}

async function resolveOutputs(store: TemplateStore, tenant: string, body: JobSubmit, out: Collector): Promise<ResolvedOutput[]> {
  const resolved: ResolvedOutput[] = [];
  for (const [i, o] of body.outputs.entries()) {
    const at: Path = ['outputs', i];
    const base = await lookup(store, tenant, o.template, 'transcode', [...at, 'template'], out);
    if (!base) continue;
    const template = validate(transcodeTemplateSchema, deepMerge(base, o.overrides), [...at, 'overrides'], out);
    const watermarks: ResolvedWatermark[] = [];
    for (const [j, w] of (o.watermarks ?? []).entries()) {
      const r = await resolveWatermark(store, tenant, w, [...at, 'watermarks', j], out);
      if (r) watermarks.push(r);
    }
    if (!template) continue;
    resolved.push({ name: o.name, templateId: o.template, template, clip: o.clip ? { start: o.clip.start, duration: o.clip.duration ?? null } : null, watermarks, audioTrack: o.audioTrack ?? null });
  }
  return resolved;
}

function withoutMode<T extends { time?: number; interval?: number; count?: number }>(t: T): Omit<T, 'time' | 'interval' | 'count'> {
  const { time: _t, interval: _i, count: _c, ...rest } = t;
  return rest;
}

async function resolveSnapshots(store: TemplateStore, tenant: string, body: JobSubmit, out: Collector): Promise<ResolvedSnapshot[] | null> {
  if (!body.snapshots) return null;
  const resolved: ResolvedSnapshot[] = [];
  for (const [i, s] of body.snapshots.entries()) {
    const at: Path = ['snapshots', i];
    const { name, template: id, ...inline } = s;
    const base = id ? await lookup(store, tenant, id, 'snapshot', [...at, 'template'], out) : { kind: 'snapshot' as const };
    if (!base) continue;
    // Inline fields win; an inline time, interval or count replaces the template's mode (one mode only).
    const modeGiven = inline.time !== undefined || inline.interval !== undefined || inline.count !== undefined;
    const merged = validate(snapshotTemplateSchema, deepMerge(modeGiven ? withoutMode(base) : base, inline), at, out);
    if (!merged) continue;
    const { kind: _, ...settings } = merged;
    resolved.push({ name, templateId: id ?? null, settings });
  }
  return resolved;
}

/**
 * @example const { outputs, snapshots } = await resolveTemplates(templates, 'default', body)
 */
export async function resolveTemplates(store: TemplateStore, tenant: string, body: JobSubmit): Promise<{ outputs: ResolvedOutput[]; snapshots: ResolvedSnapshot[] | null }> {
  const out = new Collector();
  const outputs = await resolveOutputs(store, tenant, body, out);
  const snapshots = await resolveSnapshots(store, tenant, body, out);
  if (out.errors.length) {
    throw problemError(out.unknownTemplate ? 'UnknownTemplate' : 'InvalidInput', out.errors.map((e) => `${e.path}: ${e.message}`).join('; '), out.errors);
  }
  if (out.unsupported.length) {
    throw problemError('UnsupportedOutput', out.unsupported.map((e) => `${e.path}: ${e.message}`).join('; '), out.unsupported);
  }
  return { outputs, snapshots };
}

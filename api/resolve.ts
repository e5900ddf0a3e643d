/**
 * Resolves a job body at submission: templates (system presets or the tenant's) merged with
 * inline overrides and validated as a whole, the pipeline looked up, and every object key the job
 * names scoped to the tenant (model/keys.ts tenantKey). The job carries the result, so editing a
 * template later never changes it.
 */
import { z } from 'zod';
import type { FieldError } from '../model/errors';
import type { JobSubmit, ResolvedOutput, ResolvedSnapshot, ResolvedSubtitle, ResolvedWatermark } from '../model/job';
import {
  deepMerge,
  snapshotTemplateSchema,
  transcodeTemplateSchema,
  watermarkTemplateSchema,
  type Template,
  type TemplateKind,
} from '../model/templates';
import type { TemplateStore } from '../db/templates';
import { tenantKey } from '../model/keys';
import type { Storage } from '../storage/storage';
import { fieldErrors } from './body';
import { problemError } from './problem';

type Path = (string | number)[];

/**
 * A key a job reads from the store, as the tenant may see it: its store key, a malformed key
 * (`invalid`: refused by field), or `missing`. A key outside the tenant's part of the store is
 * `missing` without being looked up, so the answer never tells whether something is stored there.
 *
 * @example await readableKey(storage, 'beta', 'tenants/acme/logo.png') // { missing: true }
 */
export async function readableKey(storage: Pick<Storage, 'head'>, tenant: string, key: string): Promise<{ key: string } | { invalid: string } | { missing: true }> {
  const scoped = tenantKey(tenant, key);
  if ('key' in scoped) return (await storage.head(scoped.key)) ? scoped : { missing: true };
  return scoped.outside ? { missing: true } : { invalid: scoped.problem };
}

/** The one "not found" of a key a job reads: the same code, shape and words for a missing key and for one the tenant may not name. */
export function keyNotFound(key: string, path: string): FieldError & { detail: string } {
  return { path, message: 'no such object', detail: `${path}: no object with key ${JSON.stringify(key)}; upload it first with PUT /v1/objects/{key}` };
}

/** Throws the problem of a key a job reads: InvalidInput for a malformed one, InputNotFound for a missing or foreign one. */
export async function checkReadableKey(storage: Pick<Storage, 'head'>, tenant: string, key: string, path: string): Promise<string> {
  const found = await readableKey(storage, tenant, key);
  if ('key' in found) return found.key;
  if ('invalid' in found) throw problemError('InvalidInput', `${path} ${found.invalid}`, [{ path, message: found.invalid }]);
  const { detail, ...error } = keyNotFound(key, path);
  throw problemError('InputNotFound', detail, [error]);
}

class Collector {
  readonly errors: FieldError[] = [];
  readonly unsupported: FieldError[] = [];
  readonly missing: (FieldError & { detail: string })[] = [];
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

interface Scope {
  store: TemplateStore;
  storage: Pick<Storage, 'head'>;
  tenant: string;
}

async function resolveWatermark(scope: Scope, w: NonNullable<JobSubmit['outputs'][number]['watermarks']>[number], at: Path, out: Collector): Promise<ResolvedWatermark | null> {
  const { template: id, ...inline } = w;
  const base = id ? await lookup(scope.store, scope.tenant, id, 'watermark', [...at, 'template'], out) : { kind: 'watermark' as const };
  if (!base) return null;
  const merged = validate(watermarkTemplateSchema, deepMerge(base, inline), at, out);
  if (!merged) return null;
  const { kind: _, ...settings } = merged;
  if (settings.image) {
    // The image key (inline or from the template) is the tenant's; the job carries the store key.
    const where = [...at, 'image', 'key'].join('.');
    const found = await readableKey(scope.storage, scope.tenant, settings.image.key);
    if ('invalid' in found) out.add([...at, 'image', 'key'], found.invalid);
    else if ('missing' in found) out.missing.push(keyNotFound(settings.image.key, where));
    else return { templateId: id ?? null, settings: { ...settings, image: { key: found.key } } };
    return null;
  }
  return { templateId: id ?? null, settings };
}

async function resolveOutputs(scope: Scope, body: JobSubmit, out: Collector): Promise<ResolvedOutput[]> {
  const { store, tenant } = scope;
  const resolved: ResolvedOutput[] = [];
  for (const [i, o] of body.outputs.entries()) {
    const at: Path = ['outputs', i];
    const base = await lookup(store, tenant, o.template, 'transcode', [...at, 'template'], out);
    if (!base) continue;
    const template = validate(transcodeTemplateSchema, deepMerge(base, o.overrides), [...at, 'overrides'], out);
    const watermarks: ResolvedWatermark[] = [];
    for (const [j, w] of (o.watermarks ?? []).entries()) {
      const r = await resolveWatermark(scope, w, [...at, 'watermarks', j], out);
      if (r) watermarks.push(r);
    }
    const burn = await resolveBurn(scope, o.burnSubtitles, [...at, 'burnSubtitles', 'key'], out);
    if (!template) continue;
    if (o.quality && !template.video) {
      out.add([...at, 'quality'], 'quality scores compare pictures: this output has no video');
      continue;
    }
    resolved.push({
      name: o.name,
      templateId: o.template,
      template,
      clip: o.clip ? { start: o.clip.start, duration: o.clip.duration ?? null } : null,
      watermarks,
      audioTrack: o.audioTrack ?? null,
      ...burn,
      ...(o.quality !== undefined ? { quality: o.quality } : {}),
    });
  }
  return resolved;
}

/** An output's `burnSubtitles`, its key (if any) scoped to the tenant like a watermark image's. */
async function resolveBurn(scope: Scope, burn: JobSubmit['outputs'][number]['burnSubtitles'], at: Path, out: Collector): Promise<Pick<ResolvedOutput, 'burnSubtitles'>> {
  if (!burn) return {};
  if (burn.key === undefined) return { burnSubtitles: burn };
  const found = await readableKey(scope.storage, scope.tenant, burn.key);
  if ('invalid' in found) out.add(at, found.invalid);
  else if ('missing' in found) out.missing.push(keyNotFound(burn.key, at.join('.')));
  else return { burnSubtitles: { key: found.key } };
  return {};
}

/**
 * The job's attached subtitle files: each key scoped to the tenant (missing or foreign:
 * InputNotFound naming `subtitles.N.key`), each object at most `maxBytes` (else InvalidInput).
 *
 * @example const subtitles = await resolveSubtitles(storage, 'default', body.subtitles, 5 * 1024 ** 2)
 */
export async function resolveSubtitles(storage: Pick<Storage, 'head'>, tenant: string, subtitles: JobSubmit['subtitles'], maxBytes: number): Promise<ResolvedSubtitle[]> {
  const resolved: ResolvedSubtitle[] = [];
  for (const [i, s] of (subtitles ?? []).entries()) {
    const path = `subtitles.${i}.key`;
    const key = await checkReadableKey(storage, tenant, s.key, path);
    const info = await storage.head(key);
    if (info && info.sizeBytes > maxBytes) {
      throw problemError('InvalidInput', `${path}: the subtitle file has ${info.sizeBytes} bytes, more than SUBTITLE_MAX_BYTES (${maxBytes})`, [
        { path, message: `larger than ${maxBytes} bytes` },
      ]);
    }
    resolved.push({ key, language: s.language, name: s.name ?? null, default: s.default ?? false, forced: s.forced ?? false });
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
 * Templates merged and validated; watermark image keys scoped to the tenant (a missing image, or
 * one outside the tenant's part of the store, is InputNotFound naming the field).
 *
 * @example const { outputs, snapshots } = await resolveTemplates(templates, storage, 'default', body)
 */
export async function resolveTemplates(
  store: TemplateStore,
  storage: Pick<Storage, 'head'>,
  tenant: string,
  body: JobSubmit,
): Promise<{ outputs: ResolvedOutput[]; snapshots: ResolvedSnapshot[] | null }> {
  const out = new Collector();
  const outputs = await resolveOutputs({ store, storage, tenant }, body, out);
  const snapshots = await resolveSnapshots(store, tenant, body, out);
  if (out.errors.length) {
    throw problemError(out.unknownTemplate ? 'UnknownTemplate' : 'InvalidInput', out.errors.map((e) => `${e.path}: ${e.message}`).join('; '), out.errors);
  }
  if (out.unsupported.length) {
    throw problemError('UnsupportedOutput', out.unsupported.map((e) => `${e.path}: ${e.message}`).join('; '), out.unsupported);
  }
  if (out.missing.length) {
    throw problemError('InputNotFound', out.missing.map((e) => e.detail).join('; '), out.missing.map(({ path, message }) => ({ path, message })));
  }
  return { outputs, snapshots };
}

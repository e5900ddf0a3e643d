/**
 * Builds the OpenAPI 3.1 document from Hono's route table: each route's method and path come
 * from the router, its parameters, bodies and answers from the `documented(…)` entry in its
 * handler chain, and every schema from zod (`z.toJSONSchema`, JSON Schema 2020-12, which is
 * OpenAPI 3.1's dialect).
 */
import { z } from 'zod';
import { errorCodes, type ErrorCode } from '../../model/errors';
import { jobSubmitSchema } from '../../model/job';
import { pipelineCreateSchema, pipelinePatchSchema } from '../../model/pipeline';
import { operationOf, type OperationDoc, type ResponseDoc } from './registry';
import * as responses from './schemas';

export interface Route {
  method: string;
  path: string;
  handler: unknown;
}

type JsonSchema = Record<string, unknown>;

/** Components with chosen names; other schemas used by operations are named after their operation. */
const named: [z.ZodType, string, 'input' | 'output'][] = [
  [jobSubmitSchema, 'JobSubmit', 'input'],
  [responses.templateCreateSchema, 'TemplateCreate', 'input'],
  [responses.templateReplaceSchema, 'TemplateReplace', 'input'],
  [pipelineCreateSchema, 'PipelineCreate', 'input'],
  [pipelinePatchSchema, 'PipelinePatch', 'input'],
  [responses.problemSchema, 'Problem', 'output'],
  [responses.jobSchema, 'Job', 'output'],
  [responses.jobAcceptedSchema, 'JobAccepted', 'output'],
  [responses.jobSummarySchema, 'JobSummary', 'output'],
  [responses.jobListSchema, 'JobList', 'output'],
  [responses.cancelAcceptedSchema, 'CancelAccepted', 'output'],
  [responses.retryAcceptedSchema, 'RetryAccepted', 'output'],
  [responses.templateSchema, 'Template', 'output'],
  [responses.templateListSchema, 'TemplateList', 'output'],
  [responses.pipelineSchema, 'Pipeline', 'output'],
  [responses.pipelinePatchedSchema, 'PipelineUpdated', 'output'],
  [responses.pipelineListSchema, 'PipelineList', 'output'],
  [responses.objectPutSchema, 'ObjectStored', 'output'],
];

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** `/v1/jobs/:id/events` → `/v1/jobs/{id}/events` (Hono's optional regex suffixes dropped). */
export function openApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?\??/g, '{$1}');
}

/**
 * Tuples of one item type (`sar: [number, number]`) as `items` + length: the same constraint,
 * and one that tools without `prefixItems` support read too.
 */
const override: NonNullable<Parameters<typeof z.toJSONSchema>[1]>['override'] = ({ jsonSchema }) => {
  const items = jsonSchema.prefixItems;
  if (!Array.isArray(items) || !items.length || jsonSchema.items !== false) return;
  const first = JSON.stringify(items[0]);
  if (!items.every((i) => JSON.stringify(i) === first)) return;
  delete jsonSchema.prefixItems;
  Object.assign(jsonSchema, { items: items[0], minItems: items.length, maxItems: items.length });
};

/** Two sets of components: requests are described as accepted (defaults optional), responses as sent. */
class Components {
  private readonly input = z.registry<{ id: string }>();
  private readonly output = z.registry<{ id: string }>();

  constructor() {
    for (const [schema, id, io] of named) this.registry(io).add(schema, { id });
  }

  private registry(io: 'input' | 'output') {
    return io === 'input' ? this.input : this.output;
  }

  /** A reference to the schema's component, registering it under `fallback` if it has no name yet. */
  use(schema: z.ZodType, io: 'input' | 'output', fallback: string): JsonSchema {
    const known = this.registry(io).get(schema)?.id;
    if (known) return ref(known);
    const other = this.registry(io === 'input' ? 'output' : 'input').get(schema)?.id;
    const id = other ? `${other}${io === 'input' ? 'Input' : 'Output'}` : fallback;
    this.registry(io).add(schema, { id });
    return ref(id);
  }

  build(): Record<string, JsonSchema> {
    const out: Record<string, JsonSchema> = {};
    for (const [registry, io] of [
      [this.input, 'input'],
      [this.output, 'output'],
    ] as const) {
      const { schemas } = z.toJSONSchema(registry, {
        target: 'draft-2020-12',
        io,
        unrepresentable: 'any',
        override,
        uri: (id) => `#/components/schemas/${id}`,
      });
      for (const [id, schema] of Object.entries(schemas)) {
        if (out[id]) throw new Error(`two OpenAPI components named ${id}`);
        const { $schema: _s, $id: _i, ...rest } = schema as JsonSchema;
        out[id] = rest;
      }
    }
    return out;
  }
}

/** One parameter's JSON Schema, described as accepted; strips the draft marker. */
function parameterSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any', override }) as JsonSchema;
  return rest;
}

function isOptional(schema: z.ZodType): boolean {
  return schema.safeParse(undefined).success;
}

function parameters(op: OperationDoc): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const [where, object] of [
    ['path', op.params],
    ['query', op.query],
  ] as const) {
    for (const [name, schema] of Object.entries(object?.shape ?? {})) {
      const { description, ...rest } = parameterSchema(schema as z.ZodType);
      out.push({
        name,
        in: where,
        required: where === 'path' || !isOptional(schema as z.ZodType),
        ...(typeof description === 'string' ? { description } : {}),
        schema: rest,
      });
    }
  }
  for (const [name, h] of Object.entries(op.headers ?? {})) {
    out.push({ name, in: 'header', required: h.required ?? false, description: h.description, schema: h.schema });
  }
  return out;
}

/** Problem answers grouped by status, each with the codes it may carry. */
function problemResponses(codes: ErrorCode[]): Record<string, JsonSchema> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = errorCodes[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, JsonSchema> = {};
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    out[String(status)] = {
      description: list.map((c) => `\`${c}\`: ${errorCodes[c].title}`).join('; '),
      content: { 'application/problem+json': { schema: { allOf: [ref('Problem'), { properties: { code: { enum: list } } }] } } },
    };
  }
  return out;
}

function response(doc: ResponseDoc, components: Components, name: string, head: boolean): JsonSchema {
  let content: JsonSchema | undefined;
  if (doc.schema) content = { 'application/json': { schema: components.use(doc.schema, 'output', name) } };
  else if (doc.problem) content = { 'application/problem+json': { schema: ref('Problem') } };
  else if (doc.content) content = Object.fromEntries(Object.entries(doc.content).map(([type, schema]) => [type, { schema }]));
  return {
    description: doc.description,
    ...(doc.headers ? { headers: doc.headers } : {}),
    // A HEAD answer has the headers of the GET answer and no body.
    ...(content && !head ? { content } : {}),
  };
}

function upperFirst(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function operation(op: OperationDoc, method: string, components: Components): JsonSchema {
  const head = method === 'head';
  const operationId = head ? op.operationId.replace(/^get/, 'head') : op.operationId;
  const codes: ErrorCode[] = [...(op.problems ?? [])];
  // A body is read by readJson (415, 413, 408, 400); a path with dot segments is refused (400) by the app's guard.
  if (op.body && 'schema' in op.body) codes.push('InvalidInput', 'PayloadTooLarge', 'UnsupportedMediaType', 'BodyTimeout');
  if (op.params || op.path) codes.push('InvalidInput');
  // Everything but the service endpoints takes an API key (api/auth.ts); admin operations a key of that role.
  const secured = op.tag !== 'service';
  if (secured) codes.push('Unauthorized', 'RateLimited');
  if (op.admin) codes.push('Forbidden');
  const answers: Record<string, JsonSchema> = {};
  for (const [status, doc] of Object.entries(op.responses)) {
    if (doc) answers[status] = response(doc, components, `${upperFirst(operationId)}${status}`, head);
  }
  for (const [status, problem] of Object.entries(problemResponses(codes))) {
    if (head) delete problem.content;
    answers[status] ??= problem;
  }
  let requestBody: JsonSchema | undefined;
  if (op.body) {
    const content =
      'schema' in op.body
        ? { 'application/json': { schema: components.use(op.body.schema, 'input', `${upperFirst(operationId)}Body`) } }
        : Object.fromEntries(Object.entries(op.body.content).map(([type, schema]) => [type, { schema }]));
    requestBody = { required: !('optional' in op.body && op.body.optional), ...(op.body.description ? { description: op.body.description } : {}), content };
  }
  const params = parameters(op);
  return {
    operationId,
    tags: [op.tag],
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    ...(params.length ? { parameters: params } : {}),
    ...(requestBody ? { requestBody } : {}),
    ...(secured ? {} : { security: [] }),
    responses: answers,
  };
}

export interface BuiltDocument {
  document: JsonSchema & { paths: Record<string, Record<string, JsonSchema>> };
  /** `METHOD path` of routes without a `documented(…)` entry (middleware on every method excluded). */
  undocumented: string[];
}

/**
 * @example const { document } = buildOpenApi(app.routes, { version: '0.1.0' })
 */
export function buildOpenApi(routes: readonly Route[], info: { version: string; title?: string }): BuiltDocument {
  const components = new Components();
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const seen = new Map<string, OperationDoc | undefined>();
  for (const r of routes) {
    // `app.use(…)` middleware is registered for every method; it is no operation of its own.
    if (r.method === 'ALL') continue;
    const key = `${r.method} ${r.path}`;
    seen.set(key, seen.get(key) ?? operationOf(r.handler));
  }
  const undocumented: string[] = [];
  for (const [key, op] of seen) {
    if (!op) {
      undocumented.push(key);
      continue;
    }
    const [method, honoPath] = key.split(' ') as [string, string];
    const path = op.path ?? openApiPath(honoPath);
    (paths[path] ??= {})[method.toLowerCase()] = operation(op, method.toLowerCase(), components);
  }
  return {
    document: {
      openapi: '3.1.0',
      info: {
        title: info.title ?? 'mediaflow',
        version: info.version,
        description:
          'Self-hosted media processing: jobs on Temporal workflows with ffmpeg. Errors are `application/problem+json` (RFC 9457) naming each failing field in `errors`.',
      },
      tags: [
        { name: 'jobs', description: 'submit, list, follow, cancel and retry jobs' },
        { name: 'templates', description: 'transcode, snapshot and watermark templates; system presets are read-only' },
        { name: 'pipelines', description: 'queues with state and priority' },
        { name: 'objects', description: 'the object store the server is configured with' },
        { name: 'keys', description: 'API keys of the tenant (admin); a key is shown once, at creation' },
        { name: 'service', description: 'health, readiness and this reference' },
      ],
      paths,
      // `Authorization: Bearer <api key>`; a development install without keys runs open.
      security: [{ apiKey: [] }],
      components: { schemas: components.build(), securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'an API key (mfk_…) of one tenant, role admin or submitter' } } },
    },
    undocumented,
  };
}

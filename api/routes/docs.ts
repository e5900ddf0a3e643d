/**
 * /openapi.json (@hono/zod-openapi's document of every route declared with `operation(…)`) and
 * /docs: Swagger UI from the installed swagger-ui-dist package plus a page and a start script of
 * ours, all same-origin, no CDN.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { z } from 'zod';
import { json, operation, router, securitySchemes, tags } from '../openapi/route';
import { problemSchema } from '../openapi/schemas';
import { problemError } from '../problem';

const require = createRequire(import.meta.url);
const VERSION = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The page: relative URLs only, so it works under a path prefix and never leaves the origin. */
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mediaflow API reference</title>
<link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
<noscript>This reference needs JavaScript; the raw document is at <a href="openapi.json">openapi.json</a>.</noscript>
<div id="reference"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/assets/start.js"></script>
</body>
</html>
`;

/** Starts Swagger UI on our document; no validator badge (it would call an outside service). */
const START = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: new URL('openapi.json', document.baseURI).href,
    dom_id: '#reference',
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    defaultModelsExpandDepth: 0,
  });
});
`;

/** What a browser may load for /docs: this origin only (Swagger UI sets inline styles and data: images). */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface Asset {
  type: string;
  read(): Buffer;
}

const fromPackage = (file: string, type: string): Asset => ({
  type,
  read: () => fs.readFileSync(path.join(path.dirname(require.resolve('swagger-ui-dist/package.json')), file)),
});

/** The /docs assets by name: nothing else is ever read from disk. */
const ASSETS: Record<string, Asset> = {
  'swagger-ui.css': fromPackage('swagger-ui.css', 'text/css; charset=utf-8'),
  'swagger-ui-bundle.js': fromPackage('swagger-ui-bundle.js', 'text/javascript; charset=utf-8'),
  'favicon-32x32.png': fromPackage('favicon-32x32.png', 'image/png'),
  'start.js': { type: 'text/javascript; charset=utf-8', read: () => Buffer.from(START) },
};

/** The document of `app` (an OpenAPIHono with every route mounted), as served. */
export function openApiDocument(app: ReturnType<typeof router>): Record<string, unknown> {
  // Referenced (by hand, with each operation's codes) by every problem answer, used by no route as a schema: added as a component here.
  // zod puts a schema with an id under $defs and answers a $ref to it: the component is that definition.
  const converted = z.toJSONSchema(problemSchema, { target: 'draft-2020-12' }) as { $defs?: Record<string, object> };
  const problem = converted.$defs?.Problem;
  if (!problem) throw new Error('the Problem schema lost its id');
  app.openAPIRegistry.registerComponent('schemas', 'Problem', problem);
  for (const [name, scheme] of Object.entries(securitySchemes)) app.openAPIRegistry.registerComponent('securitySchemes', name, scheme);
  return {
    ...app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'mediaflow',
      version: VERSION,
      description:
        'Self-hosted media processing: jobs on Temporal workflows with ffmpeg. Errors are `application/problem+json` (RFC 9457) naming each failing field in `errors`.',
    },
      tags,
      security: [{ apiKey: [] }],
    }),
  };
}

/**
 * @example app.route('/', docsRoutes(() => openApiDocument(app)))
 */
export function docsRoutes(build: () => Record<string, unknown>) {
  const app = router();
  let document: Record<string, unknown> | undefined;
  const loaded = new Map<string, { body: Buffer; etag: string }>();

  app.openapi(
    operation({
      method: 'get', path: '/openapi.json', operationId: 'getOpenApi', tag: 'service',
      summary: 'This document (OpenAPI 3.1), generated from the zod schemas the handlers validate with',
      responses: { 200: { description: 'the OpenAPI document', content: json(z.record(z.string(), z.unknown())) } },
    }),
    (c) => {
      // Every route is mounted once the app is built; the first request builds the document.
      document ??= build();
      return c.json(document, 200);
    },
  );

  app.openapi(
    operation({
      method: 'get', path: '/docs', operationId: 'getDocs', tag: 'service',
      summary: 'A browsable API reference (Swagger UI, served from local assets)',
      responses: { 200: { description: 'an HTML page', content: { 'text/html': { schema: { type: 'string' } } } } },
    }),
    (c) => c.body(PAGE, 200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff' }),
  );

  app.openapi(
    operation({
      method: 'get', path: '/docs/assets/{file}', operationId: 'getDocsAsset', tag: 'service',
      summary: 'A script or style sheet of the API reference page',
      request: { params: z.object({ file: z.string().meta({ description: 'an asset named by the /docs page', examples: ['swagger-ui.css'] }) }) },
      responses: {
        200: {
          description: 'the asset',
          content: { 'text/css': { schema: { type: 'string' } }, 'text/javascript': { schema: { type: 'string' } }, 'image/png': { schema: { type: 'string', format: 'binary' } } },
          headers: { ETag: { description: 'changes with the installed version', schema: { type: 'string' } } },
        },
        304: { description: 'unchanged since the `If-None-Match` entity tag' },
      },
      problems: ['NotFound'],
    }),
    (c) => {
      const name = c.req.valid('param').file;
      const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
      if (!asset) throw problemError('NotFound', `no asset "${name}"`);
      let file = loaded.get(name);
      if (!file) {
        const body = asset.read();
        file = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
        loaded.set(name, file);
      }
      const headers = { ETag: file.etag, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' };
      if (c.req.header('if-none-match') === file.etag) return c.body(null, 304, headers);
      return c.body(new Uint8Array(file.body), 200, { ...headers, 'Content-Type': asset.type });
    },
  );

  return app;
}

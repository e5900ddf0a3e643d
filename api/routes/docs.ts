/**
 * /openapi.json (built from the app's own route table) and /docs: Swagger UI from the installed
 * swagger-ui-dist package plus a page and a start script of ours, all same-origin, no CDN.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Hono } from 'hono';
import { buildOpenApi, type Route } from '../openapi/document';
import { serviceOps } from '../openapi/operations';
import { documented } from '../openapi/registry';
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

/**
 * @example app.route('/', docsRoutes(() => app.routes))
 */
export function docsRoutes(routes: () => readonly Route[]) {
  const app = new Hono();
  let document: string | undefined;
  const loaded = new Map<string, { body: Buffer; etag: string }>();

  app.get('/openapi.json', documented(serviceOps.openapi), (c) => {
    // The route table is complete once the app is built; the first request builds the document.
    document ??= JSON.stringify(buildOpenApi(routes(), { version: VERSION }).document);
    return c.body(document, 200, { 'Content-Type': 'application/json' });
  });

  app.get('/docs', documented(serviceOps.docs), (c) =>
    c.body(PAGE, 200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff' }),
  );

  app.get('/docs/assets/:file', documented(serviceOps.docsAsset), (c) => {
    const name = c.req.param('file');
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
  });

  return app;
}

/**
 * Players on other sites: a page served from another origin (a tiny HTTP server on another port)
 * plays an HLS output with hls.js in Debian's chromium when its origin is in CORS_ORIGINS — with
 * the API key (Authorization forces a preflight) or with a signed folder URL and no key — and is
 * refused when it is not listed. Signed URLs read without the key; tampered, expired, foreign or
 * out-of-scope ones are 403. Real stack (API + worker + Temporal dev server), real ffmpeg.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions reach the DOM through globalThis (no DOM lib in this project) */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium, type Browser } from 'playwright-core';
import { freePort, startStack, type Stack } from '../helpers/stack';
import { makeClip } from '../helpers/media';
import { isFinal, pollJob } from '../helpers/jobs';
import { needTool } from '../helpers/tools';

const require = createRequire(import.meta.url);
const CHROMIUM = '/usr/bin/chromium';
const chromiumMissing = needTool('chromium', await fs.access(CHROMIUM).then(() => true, () => false), '.ci/run installs it (Debian package chromium)');

/** The other site's page: hls.js (its own copy, from its own origin) playing `?src=`, with `&key=` as a Bearer header. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>a player elsewhere</title>
<video id="v" muted playsinline></video>
<script src="/hls.js"></script>
<script src="/play.js"></script>`;
const PLAY = `
const params = new URLSearchParams(location.search);
const key = params.get('key');
const video = document.getElementById('v');
window.result = { errors: [], fatal: null, requests: [] };
const hls = new Hls({
  xhrSetup(xhr, url) { window.result.requests.push(url); if (key) xhr.setRequestHeader('Authorization', 'Bearer ' + key); },
  manifestLoadingMaxRetry: 0, levelLoadingMaxRetry: 0, fragLoadingMaxRetry: 0,
});
hls.on(Hls.Events.ERROR, (_e, d) => { window.result.errors.push(d.details); if (d.fatal) window.result.fatal = d.details; });
hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
hls.loadSource(params.get('src'));
hls.attachMedia(video);
`;

function site(): Promise<{ server: http.Server; origin: string }> {
  const hlsFile = path.join(path.dirname(require.resolve('hls.js/package.json')), 'dist/hls.min.js');
  return new Promise(async (resolve) => {
    const port = await freePort();
    const server = http.createServer(async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/hls.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(await fs.readFile(hlsFile));
      else if (url.pathname === '/play.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(PLAY);
      else if (url.pathname === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      else res.writeHead(404).end();
    });
    server.listen(port, '127.0.0.1', () => resolve({ server, origin: `http://127.0.0.1:${port}` }));
  });
}

describe('players across origins', { skip: chromiumMissing }, () => {
  let stack: Stack;
  let base: string;
  let browser: Browser;
  let allowed: { server: http.Server; origin: string };
  let denied: { server: http.Server; origin: string };
  let auth: Record<string, string>;
  /** The HLS output's master playlist key, and the folder it lives in. */
  let master: string;
  let folder: string;
  let jobFolder: string;

  before(async () => {
    allowed = await site();
    denied = await site();
    stack = await startStack({ api: true, env: { CORS_ORIGINS: `${allowed.origin}, https://player.example.com`, SIGNED_URL_MAX_SEC: '600' } });
    base = stack.api!.url;
    const made = await fetch(`${base}/v1/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'submitter', name: 'players' }) });
    assert.equal(made.status, 201);
    auth = { authorization: `Bearer ${((await made.json()) as { secret: string }).secret}` };
    const clip = path.join(stack.dataDir, 'clip.mp4');
    await makeClip(clip, { width: 640, height: 360, durationSec: 5 });
    assert.equal((await fetch(`${base}/v1/objects/in/clip.mp4`, { method: 'PUT', headers: auth, body: await fs.readFile(clip) })).status, 201);
    const submitted = await fetch(`${base}/v1/jobs`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ input: { key: 'in/clip.mp4' }, outputs: [{ name: 'stream', template: 'hls-h264-ladder' }], snapshots: [] }),
    });
    assert.equal(submitted.status, 202);
    const { id } = (await submitted.json()) as { id: string };
    const job = await pollJob(base, id, isFinal, { headers: auth, timeoutMs: 240_000 });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    master = job.outputs[0]!.key;
    folder = master.slice(0, master.lastIndexOf('/') + 1);
    jobFolder = `${id}/`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] });
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
    allowed?.server.close();
    denied?.server.close();
  });

  async function mint(body: Record<string, unknown>): Promise<Response> {
    return fetch(`${base}/v1/signed-urls`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  /** Opens the other site's page on `origin`, plays `src`, and reports after playing or failing. */
  async function play(origin: string, src: string, key?: string) {
    const page = await browser.newPage();
    const seen: { url: string; authorization?: string }[] = [];
    page.on('request', (r) => r.url().startsWith(base) && seen.push({ url: r.url(), authorization: r.headers()['authorization'] }));
    const q = new URLSearchParams({ src, ...(key ? { key } : {}) });
    await page.goto(`${origin}/?${q}`);
    await page.waitForFunction(() => {
      const w = globalThis as any;
      return w.result?.fatal || w.document.getElementById('v').currentTime > 2;
    }, null, { timeout: 60_000 });
    const result = (await page.evaluate(() => {
      const w = globalThis as any;
      return { fatal: w.result.fatal, errors: w.result.errors, currentTime: w.document.getElementById('v').currentTime };
    })) as { fatal: string | null; errors: string[]; currentTime: number };
    await page.close();
    return { ...result, seen };
  }

  test('object reads answer CORS for the listed origins only: preflight, headers players read, GET/HEAD only', async () => {
    const url = `${base}/v1/objects/${master}`;
    const preflight = (origin: string, method = 'GET') =>
      fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization,range' } });
    const ok = await preflight(allowed.origin);
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get('access-control-allow-origin'), allowed.origin);
    assert.match(ok.headers.get('access-control-allow-methods') ?? '', /GET/);
    assert.doesNotMatch(ok.headers.get('access-control-allow-methods') ?? '', /PUT|POST|DELETE/);
    assert.match(ok.headers.get('access-control-allow-headers') ?? '', /authorization/i);
    assert.match(ok.headers.get('access-control-allow-headers') ?? '', /range/i);
    assert.equal((await preflight('https://player.example.com')).headers.get('access-control-allow-origin'), 'https://player.example.com');
    // Another origin gets no permission, for reads or anything else.
    assert.equal((await preflight(denied.origin)).headers.get('access-control-allow-origin'), null);

    const ranged = await fetch(url, { headers: { ...auth, origin: allowed.origin, range: 'bytes=0-9' } });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get('access-control-allow-origin'), allowed.origin);
    const exposed = (ranged.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(/\s*,\s*/);
    for (const h of ['content-range', 'content-length', 'etag', 'accept-ranges']) assert.ok(exposed.includes(h), `${h} exposed: ${exposed}`);
    assert.match(ranged.headers.get('vary') ?? '', /origin/i);
    assert.equal((await fetch(url, { headers: { ...auth, origin: denied.origin } })).headers.get('access-control-allow-origin'), null);
    // Other routes do not answer across origins.
    assert.equal((await fetch(`${base}/v1/jobs`, { headers: { ...auth, origin: allowed.origin } })).headers.get('access-control-allow-origin'), null);
  });

  test('a page on an allowed origin plays the output with hls.js, sending the API key', async () => {
    const r = await play(allowed.origin, `${base}/v1/objects/${master}`, auth.authorization!.slice('Bearer '.length));
    assert.equal(r.fatal, null, JSON.stringify(r.errors));
    assert.ok(r.currentTime > 2, `currentTime ${r.currentTime}`);
    assert.ok(r.seen.some((s) => /\.(ts|m4s)$/.test(s.url)), 'segments fetched');
  });

  test('a page on an origin not listed is refused: hls.js cannot load the playlist', async () => {
    const r = await play(denied.origin, `${base}/v1/objects/${master}`, auth.authorization!.slice('Bearer '.length));
    assert.equal(r.fatal, 'manifestLoadError');
    assert.equal(r.currentTime, 0);
  });

  test('a signed folder URL plays on an allowed origin without any Authorization header, and is refused elsewhere', async () => {
    const res = await mint({ prefix: folder, expiresInSec: 300 });
    assert.equal(res.status, 201);
    const signed = (await res.json()) as { url: string; prefix: string; expiresAt: string };
    assert.equal(signed.prefix, folder);
    assert.ok(Date.parse(signed.expiresAt) > Date.now() + 250_000);
    const src = `${base}${signed.url}${master.slice(folder.length)}`;
    const r = await play(allowed.origin, src);
    assert.equal(r.fatal, null, JSON.stringify(r.errors));
    assert.ok(r.currentTime > 2, `currentTime ${r.currentTime}`);
    assert.ok(r.seen.length >= 3 && r.seen.some((s) => /\.(ts|m4s)$/.test(s.url)), JSON.stringify(r.seen));
    for (const s of r.seen) {
      assert.equal(s.authorization, undefined, s.url);
      assert.ok(s.url.startsWith(`${base}${signed.url}`), s.url);
    }
    assert.equal((await play(denied.origin, src)).fatal, 'manifestLoadError');
  });

  test('signed URLs: read without a key; tampered, out of scope, another tenant, expired: 403; minting is checked', async () => {
    // Without a key the object itself is refused...
    assert.equal((await fetch(`${base}/v1/objects/${master}`)).status, 401);
    // ...and its signed URL is not.
    const one = (await (await mint({ key: master })).json()) as { url: string };
    const got = await fetch(`${base}${one.url}`);
    assert.equal(got.status, 200);
    assert.match(await got.text(), /^#EXTM3U/);
    const head = await fetch(`${base}${one.url}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.ok(head.headers.get('etag'));
    const ranged = await fetch(`${base}${one.url}`, { headers: { range: 'bytes=0-6' } });
    assert.equal(ranged.status, 206);
    assert.equal(await ranged.text(), '#EXTM3U');

    const tokenOf = (url: string) => url.split('/')[3]!;
    const withToken = (url: string, token: string) => url.replace(tokenOf(url), token);
    const token = tokenOf(one.url);
    const [tenant, exp, scope, sig] = token.split('.') as [string, string, string, string];
    const flipped = `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    const refused = async (url: string, why: RegExp) => {
      const res = await fetch(`${base}${url}`);
      assert.equal(res.status, 403, url);
      assert.match(((await res.json()) as { detail: string }).detail, why);
    };
    await refused(withToken(one.url, `${tenant}.${exp}.${scope}.${flipped}`), /signature/);
    await refused(withToken(one.url, `${tenant}.${Number(exp) + 3600}.${scope}.${sig}`), /signature/);
    await refused(withToken(one.url, `acme.${exp}.${scope}.${sig}`), /signature/);
    // A key signed alone does not open its neighbours.
    await refused(one.url.replace(/master\.m3u8$/, '360p/index.m3u8'), /signature/);
    // A folder's signature covers its folder only, and a deeper scope cannot be claimed.
    const job = (await (await mint({ prefix: jobFolder })).json()) as { url: string };
    assert.equal((await fetch(`${base}${job.url}${master.slice(jobFolder.length)}`)).status, 200);
    const stream = (await (await mint({ prefix: folder })).json()) as { url: string };
    await refused(`${stream.url.replace(/[^/]+\/$/, '')}other.txt`, /signature|prefix/);
    await refused(`${stream.url.split('/').slice(0, 4).join('/')}/in/clip.mp4`, /signature|prefix/);
    // Expired.
    const brief = (await (await mint({ key: master, expiresInSec: 1 })).json()) as { url: string };
    await new Promise((r) => setTimeout(r, 2100));
    await refused(brief.url, /expired/);
    // Minting: one of key and prefix, a lifetime within SIGNED_URL_MAX_SEC, the caller's own keys.
    const problem = async (body: Record<string, unknown>, field: string) => {
      const res = await mint(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      const p = (await res.json()) as { errors: { path: string }[] };
      assert.ok(p.errors.some((e) => e.path === field), JSON.stringify(p));
    };
    await problem({ key: master, expiresInSec: 601 }, 'expiresInSec');
    await problem({ key: master, prefix: folder }, 'key');
    await problem({ prefix: 'no-slash' }, 'prefix');
    await problem({ key: '../etc/passwd' }, 'key');
    await problem({ key: 'tenants/acme/x.mp4' }, 'key');
    assert.equal((await fetch(`${base}/v1/signed-urls`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: master }) })).status, 401);
  });
});

/**
 * The web console in a real browser (Debian's chromium driven by playwright-core, which downloads
 * nothing) against the real stack: API + worker + Temporal dev server over loopback, real ffmpeg.
 * With API keys on, as a user: the console asks for a key once, a clip is uploaded through the
 * submit page with the HLS ladder, the job's progress bar reaches 100 %, the HLS output plays in
 * hls.js over signed URLs (no Authorization header on any media request), and screenshots of
 * the jobs page and the job page are kept in test-output/console/ (the job page also as
 * docs/console-job.png for the README).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions reach the DOM through globalThis (no DOM lib in this project) */
import { chromium, type Browser, type Page } from 'playwright-core';
import { startStack, type Stack } from '../helpers/stack';
import { makeClip } from '../helpers/media';
import { needTool } from '../helpers/tools';

const root = path.resolve(import.meta.dirname, '../..');
const out = path.join(root, 'test-output/console');
const CHROMIUM = '/usr/bin/chromium';
const chromiumMissing = needTool('chromium', await fs.access(CHROMIUM).then(() => true, () => false), '.ci/run installs it (Debian package chromium)');

describe('web console in chromium', { skip: chromiumMissing }, () => {
  let stack: Stack;
  let base: string;
  let browser: Browser;
  let page: Page;
  let secret: string;
  let clip: string;
  const mediaRequests: { url: string; authorization: string | undefined }[] = [];
  const pageErrors: string[] = [];

  before(async () => {
    stack = await startStack({ api: true });
    base = stack.api!.url;
    // The first key, made while the API is still open; from then on every call needs one.
    const res = await fetch(`${base}/v1/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'admin', name: 'console test' }) });
    assert.equal(res.status, 201);
    secret = ((await res.json()) as { secret: string }).secret;
    await fs.mkdir(out, { recursive: true });
    clip = path.join(stack.dataDir, 'clip.mp4');
    await makeClip(clip, { width: 640, height: 360, durationSec: 5 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    page.on('request', (req) => {
      if (/\/v1\/(signed|objects)\//.test(req.url()) && req.method() === 'GET') mediaRequests.push({ url: req.url(), authorization: req.headers()['authorization'] });
    });
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  test('/ leads to the console, which asks for the API key once and keeps it for the session', async () => {
    await page.goto(`${base}/`);
    assert.equal(new URL(page.url()).pathname, '/console/');
    // Keys exist: the jobs list answered 401, so the key form shows.
    await page.locator('#api-key').waitFor({ timeout: 15_000 });
    await page.fill('#api-key', secret);
    await page.click('.key-form button[type=submit]');
    await page.getByText('key set for this session').waitFor();
    assert.equal(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('mediaflow.apiKey')), secret);
    await page.getByText('No jobs here yet.').waitFor();
    // Every asset came from this origin (the page's CSP allows nothing else).
    const csp = (await fetch(`${base}/console/`)).headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self';/);
  });

  let jobId: string;

  test('submit page: upload with a progress bar, HLS ladder and a poster, lands on the job page', async () => {
    await page.click('a[data-nav=submit]');
    await page.locator('input[value="hls-h264-ladder"]').check();
    await page.locator('input[value="poster-jpg"]').check();
    await page.setInputFiles('input[name=file]', clip);
    await page.click('form.submit button[type=submit]');
    await page.waitForURL(/#\/jobs\/job_[a-z0-9]+$/, { timeout: 60_000 });
    jobId = /#\/jobs\/(job_[a-z0-9]+)$/.exec(page.url())![1]!;
    // The upload went to the store under the tenant, whole.
    const job = (await (await fetch(`${base}/v1/jobs/${jobId}`, { headers: { authorization: `Bearer ${secret}` } })).json()) as { input: { key: string } };
    const stored = await fetch(`${base}/v1/objects/${job.input.key}`, { method: 'HEAD', headers: { authorization: `Bearer ${secret}` } });
    assert.equal(Number(stored.headers.get('content-length')), (await fs.stat(clip)).size);
  });

  test("job page: the progress bar reaches 100 %, tasks show progress and a timeline, the poster shows", async () => {
    await page.locator('.job[data-status=succeeded]').waitFor({ timeout: 240_000 });
    await page.locator('.job-progress[data-value="100"]').waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('.job-progress .pct').textContent(), '100 %');
    // One row per task, each at 100 %, and the ones that ran drawn on the timeline.
    const tasks = page.locator('tr[data-task]');
    assert.ok((await tasks.count()) >= 3, 'probe, renditions, package, snapshot');
    for (const row of await tasks.all()) {
      if ((await row.locator('.badge').textContent()) === 'skipped') continue; // notify: no callback asked for
      assert.equal(await row.locator('.progress').getAttribute('data-value'), '100', (await row.getAttribute('data-task')) ?? '');
    }
    await page.locator('tr[data-task^="transcode"] .timeline .ran.completed').first().waitFor({ timeout: 15_000 });
    assert.match((await page.locator('.temporal-link').getAttribute('href')) ?? '', new RegExp(`/workflows/${jobId}`));
    // Input media info from the probe.
    assert.match((await page.locator('dl.media').textContent()) ?? '', /640×360/);
    // The poster, loaded through a signed URL.
    const poster = page.locator('figure[data-snapshot] img').first();
    await poster.waitFor();
    await page.waitForFunction(() => (globalThis as any).document.querySelector('figure[data-snapshot] img')?.naturalWidth > 0, null, { timeout: 15_000 });
    assert.match((await poster.getAttribute('src')) ?? '', /^\/v1\/signed\//);
  });

  test('job page: the HLS output plays in hls.js for 3 s with no player error, over signed URLs only', async () => {
    const video = page.locator('video[data-output="hls-h264-ladder"]');
    await video.waitFor();
    assert.equal(await video.getAttribute('data-player'), 'hls.js');
    // Functions run in the page (strings would need 'unsafe-eval', which the console's CSP refuses).
    await page.waitForFunction(() => Boolean((globalThis as any).document.querySelector('video[data-output="hls-h264-ladder"]')?.hls), null, { timeout: 15_000 });
    // Every error the media element or hls.js reports from now on (hls.js: the fatal ones).
    await page.evaluate(() => {
      const w = globalThis as any;
      const v = w.document.querySelector('video[data-output="hls-h264-ladder"]');
      w.playerErrors = [];
      v.addEventListener('error', () => w.playerErrors.push(`media error ${v.error?.code}`));
      v.hls.on('hlsError', (_e: string, d: { fatal: boolean; details: string }) => d.fatal && w.playerErrors.push(`hls.js ${d.details}`));
      v.muted = true;
      return v.play();
    });
    const started = Date.now();
    await page.waitForFunction(() => (globalThis as any).document.querySelector('video[data-output="hls-h264-ladder"]').currentTime > 2, null, { timeout: 60_000 });
    // Three seconds of playing, as a viewer would watch it.
    await new Promise((r) => setTimeout(r, Math.max(0, 3000 - (Date.now() - started))));
    const state = (await page.evaluate(() => {
      const w = globalThis as any;
      const v = w.document.querySelector('video[data-output="hls-h264-ladder"]');
      return { currentTime: v.currentTime, errors: w.playerErrors, playerError: v.dataset.playerError ?? null, width: v.videoWidth };
    })) as { currentTime: number; errors: string[]; playerError: string | null; width: number };
    assert.ok(state.currentTime > 2, `currentTime ${state.currentTime}`);
    assert.deepEqual(state.errors, []);
    assert.equal(state.playerError, null);
    assert.ok(state.width > 0, 'decoded frames');
    // The playlists and segments came through the signed folder URL, without the API key.
    const media = mediaRequests.filter((r) => /\.(m3u8|ts|m4s|mp4)(\?|$)/.test(r.url));
    assert.ok(media.some((r) => r.url.endsWith('master.m3u8')) && media.some((r) => /\.(ts|m4s)$/.test(r.url)), JSON.stringify(media.map((r) => r.url)));
    for (const r of media) {
      assert.match(new URL(r.url).pathname, /^\/v1\/signed\//);
      assert.equal(r.authorization, undefined, r.url);
    }
    await page.screenshot({ path: path.join(out, 'job.png'), fullPage: true });
    await fs.copyFile(path.join(out, 'job.png'), path.join(root, 'docs/console-job.png'));
  });

  test('jobs page lists the job with its status and a full progress bar; filters narrow it', async () => {
    await page.click('a[data-nav=jobs]');
    const row = page.locator(`tr[data-job="${jobId}"]`);
    await row.waitFor();
    assert.equal(await row.locator('.badge').textContent(), 'succeeded');
    assert.equal(await row.locator('.progress').getAttribute('data-value'), '100');
    await page.screenshot({ path: path.join(out, 'jobs.png'), fullPage: true });
    await page.selectOption('select[name=status]', 'failed');
    await page.getByText('No jobs here yet.').waitFor();
    await page.selectOption('select[name=status]', 'succeeded');
    await row.waitFor();
    assert.deepEqual(pageErrors, []);
  });
});

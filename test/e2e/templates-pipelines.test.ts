/**
 * Templates and pipelines over HTTP, the same suite on the embedded database and on PostgreSQL:
 * CRUD with field-level errors, read-only presets, jobs frozen at submission, paused pipelines.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { JobState } from '../../model/job-state';
import { systemPresets } from '../../media/presets';
import { startStack, type Stack } from '../helpers/stack';
import { createPipelineStore } from '../../db/pipelines';
import { makeClip, probeFile } from '../helpers/media';
import { isFinal, pollJob } from '../helpers/jobs';
import { createTestDatabase, skipPostgres } from '../helpers/postgres';

const variants: { name: string; skip: string | false; database: () => Promise<{ url: string; drop(): Promise<void> } | null> }[] = [
  { name: 'embedded database', skip: false, database: async () => null },
  { name: 'PostgreSQL', skip: skipPostgres, database: createTestDatabase },
];

for (const variant of variants) {
  describe(`templates and pipelines (${variant.name})`, { skip: variant.skip, timeout: 300_000 }, () => {
    let stack: Stack;
    let base: string;
    let pg: { url: string; drop(): Promise<void> } | null = null;

    before(async () => {
      pg = await variant.database();
      stack = await startStack({ api: true, env: { WORKER_PIPELINES: 'default,batch', ...(pg ? { DATABASE_URL: pg.url } : {}) } });
      base = stack.api!.url;
      const clip = path.join(stack.dataDir, 'clip.mp4');
      await makeClip(clip, { width: 640, height: 360, durationSec: 2 });
      assert.equal((await fetch(`${base}/v1/objects/raw/clip.mp4`, { method: 'PUT', body: await fs.readFile(clip) })).status, 201);
    });
    after(async () => {
      await stack?.stop();
      await pg?.drop();
    });

    async function call(method: string, url: string, body?: unknown): Promise<{ status: number; json: any }> {
      const res = await fetch(`${base}${url}`, {
        method,
        ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : null };
    }

    const waitFinal = (id: string): Promise<JobState> => pollJob(base, id, isFinal, { timeoutMs: 120_000 });

    test('system presets are listed, readable and read-only', async () => {
      const { status, json } = await call('GET', '/v1/templates');
      assert.equal(status, 200);
      const ids = json.templates.filter((t: { system: boolean }) => t.system).map((t: { id: string }) => t.id);
      for (const id of ['mp4-h264-1080p', 'mp4-h264-720p', 'mp4-h264-480p', 'mp4-h264-360p', 'mp4-h265-1080p', 'webm-vp9-720p', 'mp4-av1-720p', 'hls-h264-ladder', 'dash-h264-ladder', 'm4a-aac-128k', 'mp3-128k', 'poster-jpg', 'timeline-sprite', 'sample-text-br']) {
        assert.ok(ids.includes(id), `preset ${id} listed`);
      }
      assert.deepEqual(ids.sort(), Object.keys(systemPresets).sort());
      const one = await call('GET', '/v1/templates/hls-h264-ladder');
      assert.equal(one.json.kind, 'transcode');
      assert.deepEqual(one.json.ladder.rungs.map((r: { name: string }) => r.name), ['1080p', '720p', '480p', '360p']);
      assert.equal((await call('GET', '/v1/templates?kind=snapshot')).json.templates.every((t: { kind: string }) => t.kind === 'snapshot'), true);
      assert.equal((await call('PUT', '/v1/templates/mp4-h264-720p', { kind: 'transcode', container: 'mp4', audio: { codec: 'aac' } })).status, 403);
      assert.equal((await call('DELETE', '/v1/templates/mp4-h264-720p')).status, 403);
      assert.equal((await call('POST', '/v1/templates', { id: 'mp4-h264-720p', kind: 'transcode', container: 'mp4', audio: { codec: 'aac' } })).status, 403);
    });

    test('invalid templates are refused with every failing field', async () => {
      const cases: [unknown, string[]][] = [
        [{ id: 'x1', kind: 'transcode', container: 'webm', video: { codec: 'h264' } }, ['video.codec']],
        [{ id: 'x2', kind: 'transcode', container: 'hls', video: { codec: 'h264' }, audio: { codec: 'aac' } }, ['ladder']],
        [{ id: 'x3', kind: 'transcode', container: 'mp3', video: { codec: 'h264' }, audio: { codec: 'aac' } }, ['video', 'audio.codec']],
        [{ id: 'x4', kind: 'transcode', container: 'mp4', video: { codec: 'h264', crf: 20, bitrateKbps: 900, colour: 1 } }, ['video.colour', 'video.crf']],
        [{ id: 'x5', kind: 'transcode', container: 'mp4', video: { codec: 'h264', pixFmt: 'yuv420p10le' } }, ['video.pixFmt']],
        [{ id: 'x6', kind: 'snapshot', time: 1, interval: 5 }, ['(body)']],
        [{ id: 'x7', kind: 'snapshot', time: 1, sprite: { columns: 4 } }, ['sprite']],
        [{ id: 'x8', kind: 'watermark', position: 'BR' }, ['(body)']],
        [{ id: 'Bad Id', kind: 'watermark', text: { content: 'x' } }, ['id']],
        [{ id: 'x9', kind: 'teleport' }, ['kind']],
      ];
      for (const [body, paths] of cases) {
        const { status, json } = await call('POST', '/v1/templates', body);
        assert.equal(status, 400, JSON.stringify(body));
        assert.deepEqual(json.errors.map((e: { path: string }) => e.path).sort(), paths.sort(), JSON.stringify(json.errors));
      }
    });

    test('create, read, replace, delete a template', async () => {
      const body = { id: 'web-small', kind: 'transcode', container: 'webm', video: { codec: 'vp9', width: 320, crf: 36 }, audio: { codec: 'opus', bitrateKbps: 64 } };
      const created = await call('POST', '/v1/templates', body);
      assert.equal(created.status, 201);
      assert.equal(created.json.system, false);
      assert.ok(created.json.createdAt);
      assert.equal((await call('POST', '/v1/templates', body)).status, 409, 'the id is taken');
      const got = await call('GET', '/v1/templates/web-small');
      assert.deepEqual(got.json.video, { codec: 'vp9', width: 320, crf: 36 });
      const replaced = await call('PUT', '/v1/templates/web-small', { kind: 'transcode', container: 'webm', video: { codec: 'vp9', width: 256, crf: 40 } });
      assert.equal(replaced.status, 200);
      assert.equal(replaced.json.video.width, 256);
      assert.equal(replaced.json.audio, undefined, 'PUT replaces the whole template');
      assert.equal((await call('PUT', '/v1/templates/nope', { kind: 'snapshot', time: 1 })).status, 404);
      assert.equal((await call('DELETE', '/v1/templates/web-small')).status, 204);
      assert.equal((await call('GET', '/v1/templates/web-small')).status, 404);
      assert.equal((await call('DELETE', '/v1/templates/web-small')).status, 404);
    });

    test('pipelines: default exists, CRUD with field errors, the default cannot go', async () => {
      const list = await call('GET', '/v1/pipelines');
      assert.deepEqual(list.json.pipelines.map((p: { id: string }) => p.id), ['default']);
      assert.equal(list.json.pipelines[0].state, 'active');
      const bad = await call('POST', '/v1/pipelines', { id: 'x', priority: 11, state: 'sleeping' });
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.json.errors.map((e: { path: string }) => e.path).sort(), ['priority', 'state']);
      const created = await call('POST', '/v1/pipelines', { id: 'batch', state: 'paused', priority: 8 });
      assert.equal(created.status, 201);
      assert.deepEqual([created.json.id, created.json.state, created.json.priority, created.json.notify], ['batch', 'paused', 8, null]);
      assert.equal((await call('POST', '/v1/pipelines', { id: 'batch' })).status, 409);
      const patched = await call('PATCH', '/v1/pipelines/batch', { notify: { url: 'https://example.com/hook' } });
      assert.deepEqual([patched.json.state, patched.json.notify], ['paused', { url: 'https://example.com/hook' }]);
      assert.equal((await call('PATCH', '/v1/pipelines/batch', { notify: null })).json.notify, null);
      assert.equal((await call('PATCH', '/v1/pipelines/nope', { state: 'active' })).status, 404);
      assert.equal((await call('DELETE', '/v1/pipelines/default')).status, 409);
      assert.equal((await call('GET', '/v1/pipelines/batch')).json.priority, 8);
    });

    test('a paused pipeline holds a job in queued; resuming releases it; the job keeps the template it was submitted with', async () => {
      assert.equal((await call('POST', '/v1/templates', { id: 'tiny', kind: 'transcode', container: 'mp4', video: { codec: 'h264', width: 320, crf: 30 }, audio: { codec: 'aac' } })).status, 201);
      assert.equal((await call('GET', '/v1/pipelines/batch')).json.state, 'paused');
      const sub = await call('POST', '/v1/jobs', { input: { key: 'raw/clip.mp4' }, pipeline: 'batch', outputs: [{ name: 'v', template: 'tiny' }], snapshots: [] });
      assert.equal(sub.status, 202, JSON.stringify(sub.json));
      const id = sub.json.id as string;
      await new Promise((r) => setTimeout(r, 3000));
      const held = (await call('GET', `/v1/jobs/${id}`)).json as JobState;
      assert.equal(held.status, 'queued');
      assert.equal(held.startedAt, null);
      assert.deepEqual(held.tasks, []);
      // Changing and deleting the template now must not change the job.
      assert.equal((await call('PUT', '/v1/templates/tiny', { kind: 'transcode', container: 'mp4', video: { codec: 'h264', width: 160, crf: 30 } })).status, 200);
      assert.equal((await call('DELETE', '/v1/templates/tiny')).status, 204);
      const resumed = await call('PATCH', '/v1/pipelines/batch', { state: 'active' });
      assert.equal(resumed.status, 200);
      assert.equal(resumed.json.released, 1);
      const job = await waitFinal(id);
      assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
      const out = await probeFile(path.join(stack.dataDir, 'objects', job.outputs[0]!.key));
      const v = out.streams.find((s) => s.codec_type === 'video');
      assert.deepEqual([v?.width, v?.height], [320, 180], 'the job used the template as it was at submission');
      assert.equal(out.streams.some((s) => s.codec_type === 'audio'), true);
    });

    test('a resume cut off after writing the state (no job signalled) is finished by sending state active again', async () => {
      assert.equal((await call('PATCH', '/v1/pipelines/batch', { state: 'paused' })).json.released, 0);
      const sub = await call('POST', '/v1/jobs', { input: { key: 'raw/clip.mp4' }, pipeline: 'batch', outputs: [{ name: 'v', template: 'mp4-h264-360p' }], snapshots: [] });
      assert.equal(sub.status, 202, JSON.stringify(sub.json));
      const id = sub.json.id as string;
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal((await call('GET', `/v1/jobs/${id}`)).json.status, 'queued');
      // What an API that died midway through the resume leaves: the pipeline active, the job not told.
      await createPipelineStore(stack.db).update('default', 'batch', { state: 'active' });
      const started = Date.now();
      const again = await call('PATCH', '/v1/pipelines/batch', { state: 'active' });
      assert.equal(again.status, 200);
      assert.equal(again.json.released, 1);
      // A priority change alone releases nothing.
      assert.equal((await call('PATCH', '/v1/pipelines/batch', { priority: 8 })).json.released, 0);
      const job = await waitFinal(id);
      assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
      // Released by the PATCH, not by the job's own re-check 5 min later.
      assert.ok(Date.now() - started < 120_000, `succeeded ${(Date.now() - started) / 1000} s after the PATCH`);
    });

    test('jobs refuse unknown pipelines, wrong template kinds, and overrides that break the template', async () => {
      const unknownPipeline = await call('POST', '/v1/jobs', { input: { key: 'raw/clip.mp4' }, pipeline: 'nope', outputs: [{ name: 'a', template: 'mp4-h264-360p' }] });
      assert.equal(unknownPipeline.status, 400);
      assert.equal(unknownPipeline.json.errors[0].path, 'pipeline');
      const wrongKind = await call('POST', '/v1/jobs', { input: { key: 'raw/clip.mp4' }, outputs: [{ name: 'a', template: 'poster-jpg' }] });
      assert.equal(wrongKind.status, 400);
      assert.match(wrongKind.json.errors[0].message, /snapshot template/);
      // HLS takes AAC only: the merged template is checked as a whole, and the override is named.
      const hls = await call('POST', '/v1/jobs', { input: { key: 'raw/clip.mp4' }, outputs: [{ name: 's', template: 'hls-h264-ladder', overrides: { audio: { codec: 'opus' } } }] });
      assert.equal(hls.status, 400);
      assert.equal(hls.json.code, 'InvalidInput');
      assert.match(hls.json.errors[0].path, /^outputs\.0\.overrides/);
    });
  });
}

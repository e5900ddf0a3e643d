/**
 * The CLI as a user runs it (`node bin/mediaflow.js …`, and once `npx mediaflow`), a child process
 * against the real stack: API + worker + Temporal dev server over loopback, real ffmpeg. Its stdout
 * is a pipe here, so it must print plain lines: no escape codes anywhere.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { JobState } from '../../model/job-state';
import { startStack, type Stack } from '../helpers/stack';
import { decodesCleanly, makeClip, probeFile } from '../helpers/media';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/mediaflow.js');

let stack: Stack;
let base: string;
let dir: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in the test's folder with the API URL from the environment (as a user would set it). */
function cli(args: string[], options: { env?: Record<string, string>; command?: string[]; cwd?: string } = {}): Promise<Run> {
  const [file, ...pre] = options.command ?? [process.execPath, bin];
  return new Promise((resolve) => {
    execFile(
      file!,
      [...pre, ...args],
      { cwd: options.cwd ?? dir, env: { ...process.env, MEDIAFLOW_API_URL: base, MEDIAFLOW_API_KEY: '', ...options.env }, maxBuffer: 16 * 1024 * 1024, timeout: 300_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        const run = { code, stdout: String(stdout), stderr: String(stderr) };
        assert.doesNotMatch(run.stdout + run.stderr, /\x1b/, `no escape codes when stdout is not a terminal: ${JSON.stringify(run)}`);
        resolve(run);
      },
    );
  });
}

async function api<T>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}${url}`, { method, ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  assert.ok(res.ok, `${method} ${url}: ${res.status} ${await res.clone().text()}`);
  return (await res.json()) as T;
}

/** Downloads an object over the API, as a user fetching an output would. */
async function download(key: string): Promise<string> {
  const res = await fetch(`${base}/v1/objects/${key.split('/').map(encodeURIComponent).join('/')}`);
  assert.equal(res.status, 200, `GET ${key}`);
  const file = path.join(dir, 'downloads', key);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, Buffer.from(await res.arrayBuffer()));
  return file;
}

function parseJson<T>(run: Run): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    assert.fail(`stdout is not one JSON document: ${JSON.stringify(run)}`);
  }
}

before(async () => {
  stack = await startStack({ api: true });
  base = stack.api!.url;
  dir = await fs.mkdtemp(path.join(stack.dataDir, 'cli-'));
  await makeClip(path.join(dir, 'clip.mp4'), { durationSec: 2 });
  await fs.writeFile(path.join(dir, 'notes.mp4'), 'these are meeting notes, not a video\n'.repeat(50));
});
after(async () => {
  await stack?.stop();
});

describe('mediaflow CLI', { timeout: 900_000 }, () => {
  let succeededId = '';
  let failedId = '';

  test('--help for the tool (also through npx) and for each command', async () => {
    const help = await cli(['--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const c of ['submit', 'jobs', 'job', 'cancel', 'retry', 'templates', 'pipelines', '--api-url', '--api-key', '--json']) {
      assert.ok(help.stdout.includes(c), `--help mentions ${c}`);
    }
    // In the project folder `npx` finds the package's own bin; --offline: never ask the registry.
    const npx = await cli(['--help'], { command: ['npx', '--offline', '--no-install', 'mediaflow'], cwd: root });
    assert.equal(npx.code, 0, npx.stderr);
    assert.equal(npx.stdout, help.stdout, 'npx mediaflow runs the same CLI (package.json bin)');

    const submitHelp = await cli(['submit', '--help']);
    assert.equal(submitHelp.code, 0);
    assert.match(submitHelp.stdout, /Usage: mediaflow submit FILE\|URL --template T/);
    assert.match(submitHelp.stdout, /--wait/);
    const jobsHelp = await cli(['help', 'jobs']);
    assert.equal(jobsHelp.code, 0);
    assert.match(jobsHelp.stdout, /Usage: mediaflow jobs \[--status S\]/);

    const usage = await cli(['submit', 'clip.mp4']);
    assert.equal(usage.code, 3, 'a usage error exits 3');
    assert.match(usage.stderr, /--template/);
    assert.equal(usage.stdout, '');
    const unknown = await cli(['submit', 'clip.mp4', '--templat', 'x']);
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /--templat/);
  });

  test('submit FILE --template T --wait uploads, follows the job and prints the output key; the output decodes', async () => {
    const run = await cli(['submit', 'clip.mp4', '--template', 'mp4-h264-360p', '--wait']);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n');
    assert.ok(lines.includes('upload 100%'), run.stdout);
    assert.match(run.stdout, /^uploaded uploads\/clip\.mp4 \(/m);
    assert.ok(lines.includes('status succeeded'), run.stdout);
    assert.ok(lines.includes('progress 100%'), run.stdout);
    const progress = lines.filter((l) => l.startsWith('progress ')).map((l) => Number(/(\d+)%/.exec(l)![1]));
    assert.equal(new Set(progress.map((p) => Math.floor(p / 10))).size, progress.length, `at most one progress line per 10 % step: ${progress}`);

    const id = /^submitted (job_\w+)/m.exec(run.stdout)?.[1];
    assert.ok(id, run.stdout);
    succeededId = id;
    const outputKey = new RegExp(`^output mp4-h264-360p (${id}/mp4-h264-360p\\.mp4) `, 'm').exec(run.stdout)?.[1];
    assert.ok(outputKey, `the output key is printed: ${run.stdout}`);

    // What the CLI printed is what the API says, and the object is a playable 640x360 H.264 file.
    const job = await api<JobState>('GET', `/v1/jobs/${id}`);
    assert.equal(job.status, 'succeeded');
    assert.deepEqual(job.outputs.map((o) => o.key), [outputKey]);
    assert.deepEqual(job.input, { key: 'uploads/clip.mp4', media: job.input.media });
    const file = await download(outputKey);
    const probed = await probeFile(file);
    const video = probed.streams.find((s) => s.codec_type === 'video');
    assert.equal(video?.codec_name, 'h264');
    assert.equal(video?.width, 640);
    assert.ok(Math.abs(probed.durationSec - 2) < 0.2, `duration ${probed.durationSec}`);
    assert.ok(await decodesCleanly(file));
    for (const s of job.snapshots) for (const key of s.keys) assert.ok(run.stdout.includes(`snapshot ${s.name} ${key}`), `snapshot ${key} printed`);
  });

  test('--json: one JSON document on stdout with the job id and status succeeded', async () => {
    const run = await cli(['--json', 'submit', 'clip.mp4', '-t', 'mp4-h264-360p', '--name', 'small', '--snapshot', 'poster-jpg', '--key', 'raw/json-clip.mp4', '--output-prefix', 'cli/', '--wait']);
    assert.equal(run.code, 0, run.stderr);
    const job = parseJson<JobState>(run);
    assert.match(job.id, /^job_/);
    assert.equal(job.status, 'succeeded');
    assert.deepEqual(job.input, { key: 'raw/json-clip.mp4', media: job.input.media });
    assert.deepEqual(job.outputs.map((o) => [o.name, o.key]), [['small', `cli/${job.id}/small.mp4`]]);
    assert.deepEqual(job.snapshots.map((s) => s.name), ['poster-jpg']);

    const shown = await cli(['job', job.id, '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(parseJson<JobState>(shown).status, 'succeeded');
    const human = await cli(['job', job.id]);
    assert.equal(human.code, 0);
    assert.match(human.stdout, new RegExp(`^job +${job.id} +succeeded`, 'm'));
    assert.ok(human.stdout.includes(`cli/${job.id}/small.mp4`));

    const templates = parseJson<{ templates: { id: string }[] }>(await cli(['templates', '--json']));
    assert.ok(templates.templates.some((t) => t.id === 'mp4-h264-360p'));
    const pipelines = parseJson<{ pipelines: { id: string; state: string }[] }>(await cli(['pipelines', '--json']));
    assert.deepEqual(pipelines.pipelines.map((p) => [p.id, p.state]), [['default', 'active']]);
  });

  test('a job that fails exits 1 with its error code on stderr', async () => {
    const run = await cli(['submit', 'notes.mp4', '--template', 'mp4-h264-360p', '--wait']);
    assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
    const id = /^submitted (job_\w+)/m.exec(run.stdout)?.[1];
    assert.ok(id);
    failedId = id;
    const job = await api<JobState>('GET', `/v1/jobs/${id}`);
    assert.equal(job.status, 'failed');
    assert.equal(job.error?.code, 'InputUnreadable');
    assert.match(run.stderr, new RegExp(`^failed ${id}: InputUnreadable: `, 'm'));
    assert.ok(run.stdout.includes('status failed'));

    const json = await cli(['submit', 'notes.mp4', '--template', 'mp4-h264-360p', '--wait', '--json']);
    assert.equal(json.code, 1);
    assert.equal(parseJson<JobState>(json).error?.code, 'InputUnreadable');
    assert.match(json.stderr, /InputUnreadable/);
  });

  test('retry: fix the input, retry the failed job, and it succeeds', async () => {
    // The user fixes what failed: the real clip under the key the job reads.
    const fixed = await fs.readFile(path.join(dir, 'clip.mp4'));
    const put = await fetch(`${base}/v1/objects/uploads/notes.mp4`, { method: 'PUT', body: fixed });
    assert.equal(put.status, 201);
    const run = await cli(['retry', failedId, '--wait']);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.ok(run.stdout.includes(`output mp4-h264-360p ${failedId}/mp4-h264-360p.mp4`), run.stdout);
    const again = await cli(['retry', failedId]);
    assert.equal(again.code, 3, 'nothing left to retry');
    assert.match(again.stderr, /^error: 409 /m);
  });

  test('problem+json errors are printed with their field errors and exit 3', async () => {
    const run = await cli(['submit', 'clip.mp4', '--template', 'no-such-template']);
    assert.equal(run.code, 3);
    assert.match(run.stderr, /^error: 400 .*UnknownTemplate/m);
    assert.match(run.stderr, /^ {2}outputs\.0\.template: .*no-such-template/m);
    const json = await cli(['--json', 'jobs', '--status', 'sleeping']);
    assert.equal(json.code, 3);
    const problem = parseJson<{ error: { status: number; errors: { path: string }[] } }>(json);
    assert.equal(problem.error.status, 400);
    assert.ok(problem.error.errors.some((e) => e.path === 'status'), json.stdout);
    const missing = await cli(['job', 'job_doesnotexist']);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /404/);
    const down = await cli(['jobs'], { env: { MEDIAFLOW_API_URL: 'http://127.0.0.1:9' } });
    assert.equal(down.code, 3);
    assert.match(down.stderr, /cannot reach the API at http:\/\/127\.0\.0\.1:9/);
  });

  test('jobs --json lists the jobs; --status and --limit filter', async () => {
    // Temporal's visibility catches up within moments of a change: ask again until it has.
    let listed: { id: string; status: string }[] = [];
    for (let i = 0; i < 60; i++) {
      const run = await cli(['jobs', '--json', '--limit', '100']);
      assert.equal(run.code, 0, run.stderr);
      listed = parseJson<{ jobs: { id: string; status: string }[] }>(run).jobs;
      if (listed.some((j) => j.id === succeededId && j.status === 'succeeded') && listed.some((j) => j.id === failedId && j.status === 'succeeded')) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(listed.some((j) => j.id === succeededId && j.status === 'succeeded'), JSON.stringify(listed));
    assert.ok(listed.some((j) => j.id === failedId && j.status === 'succeeded'), JSON.stringify(listed));
    const failed = parseJson<{ jobs: { id: string; status: string }[] }>(await cli(['jobs', '--json', '--status', 'failed']));
    assert.ok(failed.jobs.length >= 1 && failed.jobs.every((j) => j.status === 'failed'), JSON.stringify(failed));
    const one = parseJson<{ jobs: unknown[]; nextPageToken?: string }>(await cli(['jobs', '--json', '--limit', '1']));
    assert.equal(one.jobs.length, 1);
    assert.ok(one.nextPageToken, 'more jobs than the limit: the page token is passed on');
    const human = await cli(['jobs']);
    assert.match(human.stdout, /^ID +STATUS +PIPELINE +CREATED +FINISHED$/m);
    assert.match(human.stdout, new RegExp(`^${succeededId} +succeeded +default `, 'm'));
  });

  test('cancel on a running job ends it canceled', async () => {
    // A slow preset on 20 s of 720p keeps ffmpeg busy long enough to cancel it mid-encode.
    const preset = await api<Record<string, unknown> & { video: Record<string, unknown> }>('GET', '/v1/templates/mp4-h264-720p');
    const { id: _id, system: _s, createdAt: _c, updatedAt: _u, ...fields } = preset;
    await api('POST', '/v1/templates', { ...fields, id: 'slow-720p', video: { ...fields.video, preset: 'slow' } });
    await makeClip(path.join(dir, 'long.mp4'), { width: 1280, height: 720, durationSec: 20 });

    const submitted = await cli(['submit', 'long.mp4', '--template', 'slow-720p', '--json']);
    assert.equal(submitted.code, 0, submitted.stderr);
    const { id, status } = parseJson<{ id: string; status: string }>(submitted);
    assert.equal(status, 'queued');
    let job: JobState | undefined;
    for (let i = 0; i < 240; i++) {
      job = parseJson<JobState>(await cli(['job', id, '--json']));
      // Processing, past the probe and the poster, with the encode not done: the slow encode is what runs now.
      if (job.status === 'processing' && job.tasks.every((t) => t.kind === 'transcode' || t.kind === 'notify' || t.status === 'succeeded')) break;
      assert.notEqual(job.status, 'succeeded', 'the encode must still be running when it is canceled');
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(job?.status, 'processing');
    assert.ok(!['succeeded', 'failed'].includes(job.tasks.find((t) => t.kind === 'transcode')!.status), JSON.stringify(job.tasks));

    const cancel = await cli(['cancel', id]);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stdout, new RegExp(`^cancel requested for ${id}`, 'm'));
    const waited = await cli(['job', id, '--wait']);
    assert.equal(waited.code, 2, `a canceled job exits 2: ${waited.stdout}\n${waited.stderr}`);
    assert.match(waited.stderr, new RegExp(`^canceled ${id}: Canceled`, 'm'));
    const final = await api<JobState>('GET', `/v1/jobs/${id}`);
    assert.equal(final.status, 'canceled');
    assert.deepEqual(final.outputs, []);
    const late = await cli(['cancel', id]);
    assert.equal(late.code, 3, 'canceling a final job is a 409');
    assert.match(late.stderr, /^error: 409 /m);
  });

  test('API key from --api-key or MEDIAFLOW_API_KEY; without one a keyed install answers 401', async () => {
    const { secret } = await api<{ secret: string }>('POST', '/v1/keys', { role: 'admin', name: 'cli-test' });
    const refused = await cli(['jobs']);
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /^error: 401 /m);
    const byFlag = await cli(['jobs', '--json', '--api-key', secret, '--api-url', base], { env: { MEDIAFLOW_API_URL: 'http://127.0.0.1:9' } });
    assert.equal(byFlag.code, 0, byFlag.stderr);
    assert.ok(parseJson<{ jobs: { id: string }[] }>(byFlag).jobs.some((j) => j.id === succeededId));
    const byEnv = await cli(['job', succeededId, '--json'], { env: { MEDIAFLOW_API_KEY: secret } });
    assert.equal(byEnv.code, 0, byEnv.stderr);
    assert.equal(parseJson<JobState>(byEnv).status, 'succeeded');
  });
});

/**
 * `npm run bench [-- --quick] [-- --only=ladder,smallJobs,poster,longInput,headOfLine,api,burst]`: what users pay for, against
 * plain ffmpeg in the same run. Starts the real stack (Temporal dev server, the API, a worker
 * process), runs the scenarios in bench/scenarios/, prints a table and writes
 * bench/results/latest.json plus a dated copy.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { machine, versions } from '../bench/environment';
import { breakdown, categoryMeaning, meanBreakdown, runsOfJob, type Breakdown } from '../bench/overhead';
import { duration, overheadTable, p50p99, renderTable, times } from '../bench/report';
import { makeSource, type BenchSettings, type CpuUse, type JobRecord } from '../bench/scenarios/common';
import { runApi, type ApiResult } from '../bench/scenarios/api';
import { runLadder, SPLIT_BASELINE, type LadderResult } from '../bench/scenarios/ladder';
import { runLongInput, type LongInputResult } from '../bench/scenarios/long-input';
import { headOfLineTargets, runHeadOfLine, type HeadOfLineResult } from '../bench/scenarios/head-of-line';
import { runPoster, type PosterResult } from '../bench/scenarios/poster';
import { runSmallJobs, type SmallJobsResult } from '../bench/scenarios/small-jobs';
import { runBurst, type BurstResult } from '../bench/scenarios/burst';
import { startService } from '../bench/service';

const scenarioNames = ['ladder', 'smallJobs', 'poster', 'longInput', 'headOfLine', 'api', 'burst'] as const;
type ScenarioName = (typeof scenarioNames)[number];

const argv = process.argv.slice(2);
const unknown = argv.filter((a) => a !== '--quick' && !a.startsWith('--only='));
if (unknown.length) {
  console.error(`unknown arguments: ${unknown.join(' ')}\nusage: npm run bench [-- --quick] [-- --only=${scenarioNames.join(',')}]`);
  process.exit(2);
}
const quick = argv.includes('--quick');
const only = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',') ?? [...scenarioNames];
const bad = only.filter((s) => !(scenarioNames as readonly string[]).includes(s));
if (bad.length) {
  console.error(`unknown scenarios: ${bad.join(', ')} (known: ${scenarioNames.join(', ')})`);
  process.exit(2);
}
const selected = (s: ScenarioName) => only.includes(s);
const concurrency = Number(process.env.WORKER_ACTIVITY_CONCURRENCY ?? 2);

const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mediaflow-bench-'));
const settings: BenchSettings = quick
  ? { quick, ladderSourceSec: 8, ladderRounds: 1, smallJobs: 16, posterSamples: 3, longSourceSec: 120, apiSubmits: 300, apiGets: 500, apiClients: 50, burstJobs: 100, workDir }
  : { quick, ladderSourceSec: 20, ladderRounds: 3, smallJobs: 100, posterSamples: 5, longSourceSec: 600, apiSubmits: 2000, apiGets: 2000, apiClients: 50, burstJobs: 1000, workDir };

const notes: string[] = [];
if (quick) {
  notes.push(
    `--quick: the ladder source is ${settings.ladderSourceSec} s (not 20 s) and runs once (not 3 rounds), ${settings.smallJobs} small jobs (not 100), ` +
      `the long input is ${settings.longSourceSec / 60} minutes (not 10), ` +
      `${settings.posterSamples} poster samples (not 5), ${settings.apiSubmits} submissions and ${settings.apiGets} GETs (not 2000 each), ` +
      `a burst of ${settings.burstJobs} jobs on the cluster (not 1000).`,
  );
}
notes.push(
  'CPU time comes from /proc: the worker process with its exited ffmpeg/ffprobe children, the Temporal server, the API process (which also runs the bench\'s polling); ' +
    'plain ffmpeg: the bench process\'s exited children. Wall time suffers from other work on the machine, CPU time much less. ' +
    'The stack: Temporal dev server (SQLite file, as `npm run dev`), the API in the bench process, one worker process; ' +
    "the worker's ffmpeg/ffprobe run through bench/ffmpeg-shim.sh, which logs each run's start and end (a bash wrapper: no fork inside the timed part). " +
    'Baselines run the real ffmpeg directly, with the argv the service builds (media/args/) from the very tasks found in each job\'s workflow history.',
);

const started = new Date();
const env = machine();
if (env.loadAverageAtStart[0]! > env.cores * 0.5) {
  notes.push(
    `The machine was busy when the run started (1-minute load ${env.loadAverageAtStart[0]} on ${env.cores} cores): other work shares the CPU ` +
      'with both mediaflow and the baselines, so ratios are noisier than on an idle machine (see each scenario\'s loadAverage).',
  );
}
console.log(`mediaflow bench${quick ? ' (--quick)' : ''}: starting Temporal, the API and a worker…`);
const service = await startService({ concurrency, persist: true });
const ver = versions(service.binaries);
const jobs: JobRecord[] = [];
const results: { ladder?: LadderResult; smallJobs?: SmallJobsResult; poster?: PosterResult; longInput?: LongInputResult; headOfLine?: HeadOfLineResult; api?: ApiResult; burst?: BurstResult } = {};
const errors: Record<string, string> = {};
let overhead: { method: Record<string, string>; jobs: { id: string; scenario: string; breakdown: Breakdown }[] } | null = null;

async function step<T>(name: ScenarioName, run: () => Promise<T>): Promise<T | undefined> {
  if (!selected(name)) return undefined;
  console.log(`… ${name}`);
  const t0 = Date.now();
  try {
    const r = await run();
    console.log(`  done in ${duration(Date.now() - t0)}`);
    return r;
  } catch (err) {
    errors[name] = err instanceof Error ? (err.stack ?? err.message) : String(err);
    console.error(`  ${name} failed: ${errors[name]}`);
    return undefined;
  }
}

try {
  const hd = selected('ladder') || selected('poster') ? await makeSource(workDir, 'source-1080p.mp4', 1920, 1080, settings.ladderSourceSec) : null;
  if (hd) results.ladder = await step('ladder', () => runLadder(service, settings, hd, jobs));
  results.smallJobs = await step('smallJobs', () => runSmallJobs(service, settings, jobs));
  if (hd) results.poster = await step('poster', () => runPoster(service, settings, hd, jobs));
  const long = selected('longInput') ? await makeSource(workDir, 'source-long-1080p.mp4', 1920, 1080, settings.longSourceSec) : null;
  if (long) results.longInput = await step('longInput', () => runLongInput(service, settings, long, jobs));
  // The long jobs here only have to hold every encode slot while the small ones arrive: 2 minutes
  // of 1080p at preset slow do that in both modes (the full run's 10-minute source is ~10× the bytes to upload).
  const holdSec = 120;
  const hold = selected('headOfLine') ? (long && settings.longSourceSec === holdSec ? long : await makeSource(workDir, 'source-hold-1080p.mp4', 1920, 1080, holdSec)) : null;
  if (hold) results.headOfLine = await step('headOfLine', () => runHeadOfLine(service, settings, hold, jobs));
  results.api = await step('api', () => runApi(service, settings, jobs));
  // Its own cluster (real Temporal server on PostgreSQL), not the dev-server stack above.
  results.burst = await step('burst', () => runBurst(settings));

  const runs = await service.runs();
  overhead = {
    method: categoryMeaning,
    jobs: jobs.map((j) => ({
      id: j.id,
      scenario: j.scenario,
      breakdown: breakdown({ postMs: j.postMs, seenMs: j.seenMs, timeline: j.timeline, runs: runsOfJob(runs, service.inputPath(j.inputKey)) }),
    })),
  };
} finally {
  await service.stop();
  await fs.rm(workDir, { recursive: true, force: true });
}

const result = {
  schema: 1,
  startedAt: started.toISOString(),
  finishedAt: new Date().toISOString(),
  command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
  mode: quick ? 'quick' : 'full',
  machine: env,
  loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100),
  versions: ver,
  settings: { ...settings, workDir: undefined, WORKER_ACTIVITY_CONCURRENCY: concurrency, FFMPEG_THREADS: service.limits.threads },
  notes,
  scenarios: results,
  overhead,
  errors,
};

// ---- the printed report ----
const cpuParts = (c: CpuUse) =>
  `ffmpeg/ffprobe ${duration(c.workerChildrenMs)}, worker's Node process ${duration(c.workerMs - c.workerChildrenMs)}, Temporal server ${duration(c.temporalMs)}, API process ${duration(c.apiMs)}`;
const out: string[] = [];
out.push(`mediaflow bench${quick ? ' --quick' : ''} · ${env.cores} × ${env.cpuModel} · load ${env.loadAverageAtStart.join(' ')} at start, ${result.loadAverageAtEnd.join(' ')} at end`);
out.push(`node ${ver.node} · ${ver.ffmpeg.split(' Copyright')[0]} · ${ver.temporalCli.split(' (')[0]} · @temporalio ${ver.packages['@temporalio/worker']} · worker concurrency ${concurrency}`);
for (const n of notes) out.push(`note: ${n}`);

const L = results.ladder;
if (L) {
  const rounds = L.rounds.length > 1 ? `, median of ${L.rounds.length} rounds` : ', one round';
  out.push('', `1. Ladder: ${L.source.description} → 720p/480p/360p H.264 MP4 + poster${L.source.shortened ? ' (shortened source: --quick)' : ''}${rounds}`);
  out.push(
    renderTable(
      ['what', 'wall time', 'job ÷ this', 'CPU time', 'job CPU ÷ this'],
      [
        ['mediaflow job (POST → closed, then GET)', duration(L.jobMs), '', duration(L.jobCpuMs), ''],
        ...L.baselines.map((b) => [`plain ffmpeg: ${b.name}`, duration(b.ms), times(b.jobRatio), duration(b.cpuMs), times(b.cpuRatio)]),
      ],
    ),
  );
  const split = L.baselines.find((b) => b.name === SPLIT_BASELINE);
  if (split) {
    const flag = (r: number | null) => (r !== null && r <= 1.05 ? 'met' : 'MISSED');
    out.push(
      `   issue 11 target (≤ 1.05× the split command): wall ${times(split.jobRatio)} ${flag(split.jobRatio)}, CPU ${times(split.cpuRatio)} ${flag(split.cpuRatio)}` +
        ' (the split command still encodes the AAC once per rung; the worker encodes it once)',
    );
  }
  const c = L.rounds[0]!.jobCpu;
  out.push(`   job CPU (round 1): ${cpuParts(c)}`);
  out.push(`   the job's poster was stored ${duration(L.posterMs)} after POST (snapshot activity done); output sizes job/plain: ${L.outputs.map((o) => `${o.name} ${o.sizeBytes}/${L.baselineOutputBytes[o.name] ?? '?'}`).join(', ')} bytes`);
}
const S = results.smallJobs;
if (S) {
  out.push('', `2. Many small jobs: ${S.jobs} × ${S.source.description} → 360p MP4 + poster, submitted at once`);
  out.push(
    renderTable(
      ['what', 'wall time', 'jobs/min', 'mediaflow ÷ plain', 'CPU time', 'CPU ÷ plain'],
      [
        ['mediaflow (first POST → last job closed)', duration(S.serviceMs), String(S.serviceJobsPerMin), times(S.throughputRatio), duration(S.serviceCpu.serviceMs), times(S.cpuRatio)],
        [`plain ffmpeg loop, ${S.baseline.parallel} at a time`, duration(S.baseline.ms), String(S.baseline.jobsPerMin), '', duration(S.baseline.cpuMs), ''],
        ['bare Temporal workflow per job, same commands + 2 ffprobes', duration(S.bare.ms), String(S.bare.jobsPerMin), times(S.bare.throughputRatio), duration(S.bare.cpu.totalMs), times(S.bare.cpuRatio)],
      ],
    ),
  );
  out.push(`   one job's POST → closed: p50/p99 ${p50p99(S.jobLatencyMs)} (all ${S.jobs} arrive together)`);
  out.push(`   mediaflow CPU: ${cpuParts(S.serviceCpu)}`);
  out.push(
    `   bare Temporal CPU: ffmpeg/ffprobe ${duration(S.bare.cpu.workerChildrenMs)}, worker's Node process ${duration(S.bare.cpu.workerMs)}, Temporal server ${duration(S.bare.cpu.temporalMs)};` +
      ` mediaflow ÷ bare: ${times(S.serviceVsBare)} the jobs/min (the orchestration floor is the bare row)`,
  );
}
const P = results.poster;
if (P) {
  out.push('', `3. Time to poster: poster-only job on ${P.source}, ${P.samples} samples`);
  out.push(
    renderTable(
      ['what', 'p50', 'min', 'max', 'mediaflow ÷ plain (p50)'],
      [
        [`mediaflow: POST → HEAD poster 200 (polled every ${P.headPollMs} ms)`, duration(P.serviceMs.p50), duration(P.serviceMs.min), duration(P.serviceMs.max), times(P.medianRatio)],
        ['plain ffmpeg: the same snapshot command', duration(P.baseline.ms.p50), duration(P.baseline.ms.min), duration(P.baseline.ms.max), ''],
      ],
    ),
  );
}
const LI = results.longInput;
if (LI) {
  const flag = (r: number | null) => (r !== null && r <= 1.05 ? 'met' : 'MISSED');
  const st = LI.oneWorker.stages;
  out.push(
    '',
    `4. Long input: ${LI.source.description} → hls-h264-ladder (1080p/720p/480p/360p HLS), chunked: ${st.chunks} chunks ` +
      `(CHUNK_MIN_DURATION_SEC ${LI.chunking.minDurationSec}, CHUNK_SEC ${LI.chunking.chunkSec}, CHUNK_MAX_PARALLEL ${LI.chunking.maxParallel})`,
  );
  out.push(
    renderTable(
      ['what', 'wall time', 'job ÷ this', 'CPU time', 'job CPU ÷ this'],
      [
        ['mediaflow job, one worker process (POST → closed)', duration(LI.oneWorker.jobMs), '', duration(LI.oneWorker.jobCpu.serviceMs), ''],
        ['plain ffmpeg: one decode-once process + remux + HLS package', duration(LI.baseline.ms), times(LI.wallRatio), duration(LI.baseline.cpuMs), times(LI.cpuRatio)],
        ['  of which the one decode-once process', duration(LI.baseline.encodeMs), times(LI.wallRatioEncodeOnly), '', ''],
        ...(LI.twoWorkers ? [[`mediaflow job, two worker processes on these ${env.cores} cores`, duration(LI.twoWorkers.jobMs), '', '', '']] : []),
      ],
    ),
  );
  out.push(`   issue 11 target (one worker ≤ 1.05× the split command + remux + package): ${times(LI.wallRatio)} ${flag(LI.wallRatio)}`);
  out.push(
    `   stages (one worker): probe ${duration(st.probeMs)}, audio ${duration(st.audioMs)}, chunk ${duration(st.chunkMs)} (median of ${st.chunks}), join ${duration(st.joinMs)}, package ${duration(st.packageMs)}`,
  );
  if (LI.twoWorkers) {
    const per = Object.entries(LI.twoWorkers.chunksPerWorker).map(([who, n]) => `${who}: ${n}`).join(', ');
    out.push(`   two workers (pids ${LI.twoWorkers.workerPids.join(', ')}): chunks per worker ${per} → ${LI.twoWorkers.chunksOnBoth ? 'chunks on both (met)' : 'NOT on both (MISSED)'}`);
  }
  out.push(`   projected time to publish on W workers like this one (${LI.chunking.slotsPerWorker} encode slots each), source ${duration(LI.source.durationSec * 1000)}:`);
  out.push(
    renderTable(
      ['W', `this source (max ${LI.chunking.maxParallel} chunks at once)`, 'no chunk bound', '10-min source (bound)', '10-min, no bound'],
      LI.projection.rows.map((r) => [String(r.workers), duration(r.boundedMs), duration(r.unboundedMs), duration(r.tenMinuteMs), duration(r.tenMinuteUnboundedMs)]),
    ).replace(/^/gm, '   '),
  );
  out.push(`   model: ${LI.projection.model}`);
}
const H = results.headOfLine;
if (H) {
  const t = headOfLineTargets;
  const mark = (v: number | null, max: number) => `${v === null || Number.isNaN(v) ? '–' : duration(v)}${v !== null && v <= max ? '' : ' MISSED'}`;
  out.push('', `5. Head of line: two long ladders (x264 preset slow) hold ${H.longJobs.runningEncodesWhenPosted} of ${H.longJobs.slots} encode slots; then a small job and a poster-only job with callbacks`);
  out.push(
    renderTable(
      ['what', 'measured', 'target'],
      [
        ["small job: POST → its probe started", mark(H.smallJob.probeStartMs, t.probeStartMs), `≤ ${duration(t.probeStartMs)}`],
        ["small job: POST → poster stored (snapshot closed)", mark(H.smallJob.posterStoredMs, t.posterStoredMs), `≤ ${duration(t.posterStoredMs)}`],
        ['poster-only job: final → callback received (slots still held)', mark(H.posterOnlyJob.callbackAfterFinalMs, t.callbackAfterFinalMs), `≤ ${duration(t.callbackAfterFinalMs)}`],
        ['small job, after the long jobs were canceled: final → callback', H.smallJob.callbackAfterFinalMs === null ? '–' : duration(H.smallJob.callbackAfterFinalMs), ''],
      ],
    ),
  );
  out.push(
    `   probe queue wait ${duration(H.smallJob.probeQueueMs)}; snapshot queue wait ${duration(H.smallJob.posterQueueMs)}, run ${duration(H.smallJob.posterRunMs)}; ${H.smallJob.encodesRunningAtPoster} long encodes still running when the poster was stored; ` +
      `poster-only job: poster ${duration(H.posterOnlyJob.posterStoredMs)} after POST, notify queue wait ${H.posterOnlyJob.notifyQueueMs === null ? '–' : duration(H.posterOnlyJob.notifyQueueMs)}`,
  );
  for (const m of H.misses) out.push(`   MISSED: ${m}`);
}
const A = results.api;
if (A) {
  out.push('', `6. API: closed-loop clients in a separate process (keep-alive); submissions go to pipeline "${A.pipeline}", which no worker serves: jobs only queue`);
  const row = (label: string, l: typeof A.submit) => [label, String(l.clients), String(l.requests), p50p99(l.latencyMs), String(l.requestsPerSec), JSON.stringify(l.statuses)];
  const rows = [row('POST /v1/jobs', A.submitOneClient), row('POST /v1/jobs', A.submit)];
  if (A.getFinished) rows.push(row('GET /v1/jobs/{id} (finished jobs)', A.getFinished));
  rows.push(['GET /v1/jobs/{id} (job no worker picked up)', String(A.getQueued.samples), String(A.getQueued.samples), p50p99(A.getQueued.latencyMs), '', '']);
  out.push(renderTable(['request', 'clients', 'n', 'p50 / p99', 'req/s', 'statuses'], rows));
}
const B = results.burst;
if (B) {
  const flag = (ok: boolean) => (ok ? 'met' : 'MISSED');
  out.push('', `8. Burst on the cluster (real Temporal server on PostgreSQL, 2 APIs, 3 workers): ${B.jobs} tiny jobs (1 s 160x90 → one MP4) to a paused pipeline against the same number of raw client starts, ${B.rounds} round(s) of raw then API (n: all rounds)${B.pinned ? '; pinned: Temporal, PostgreSQL and workers on CPU 0, APIs and load processes on CPU 1' : ''}`);
  out.push(
    renderTable(
      ['what', 'clients', 'n', 'jobs/min', 'p50 / p99', 'statuses'],
      [
        ['POST /v1/jobs, both APIs', String(B.api.clients), String(B.api.jobs), String(B.api.jobsPerMin), p50p99(B.api.latencyMs), JSON.stringify(B.api.statuses)],
        ['raw client.workflow.start', String(B.raw.clients), String(B.raw.jobs), String(B.raw.jobsPerMin), p50p99(B.raw.latencyMs), ''],
      ],
    ),
  );
  out.push(`   API ÷ raw: throughput ${times(B.throughputRatio)} (target ≥ 0.9×: ${flag(B.throughputRatio >= 0.9)}), p99 ${times(B.p99Ratio)} (target ≤ 1.2×: ${flag(B.p99Ratio <= 1.2)})`);
  const cpu = (x: typeof B.cpuPerJobMs.raw) => `APIs ${x.apis}, Temporal ${x.temporal}, PostgreSQL ${x.postgres}, workers ${x.workers}, load ${x.load}`;
  out.push(`   CPU per job (ms) · raw: ${cpu(B.cpuPerJobMs.raw)} · API: ${cpu(B.cpuPerJobMs.api)}`);
  out.push(`   drain: pipeline resumed (${B.drain.released} jobs signalled) → all ${B.jobs} succeeded in ${duration(B.drain.ms)} (${B.drain.jobsPerMin} jobs/min); load ${B.loadAverage.before.join(' ')} → ${B.loadAverage.after.join(' ')}`);
}
if (overhead && overhead.jobs.length) {
  out.push('', '7. Orchestration overhead: wall time split by what the job was doing (ffmpeg wins when several overlap; groups: mean per job)');
  const group = (scenario: string) => overhead!.jobs.filter((j) => j.scenario === scenario).map((j) => j.breakdown);
  const rows: { label: string; b: Breakdown }[] = [];
  const ladderJobs = group('ladder');
  if (ladderJobs[0]) rows.push({ label: 'ladder job', b: ladderJobs[0] });
  const posterJobs = group('poster');
  if (posterJobs.length) rows.push({ label: `poster-only job (mean of ${posterJobs.length})`, b: meanBreakdown(posterJobs) });
  const smallJobs = group('smallJobs');
  if (smallJobs.length) rows.push({ label: `small job, ${smallJobs.length} at once (mean)`, b: meanBreakdown(smallJobs) });
  out.push(overheadTable(rows));
  out.push('   check = ffprobe of each output; storage = activity time outside ffmpeg/ffprobe; queue = scheduled, not yet started; sched = workflow tasks and round trips; see overhead.method in the JSON.');
}
for (const [name, err] of Object.entries(errors)) out.push('', `${name} FAILED: ${err.split('\n')[0]}`);
const text = out.join('\n');
console.log(`\n${text}\n`);

const resultsDir = path.resolve(import.meta.dirname, '../bench/results');
await fs.mkdir(resultsDir, { recursive: true });
const stamp = started.toISOString().slice(0, 16).replace(':', '-');
const json = `${JSON.stringify({ ...result, table: text }, null, 2)}\n`;
await fs.writeFile(path.join(resultsDir, 'latest.json'), json);
await fs.writeFile(path.join(resultsDir, `${stamp}.json`), json);
console.log(`results: bench/results/latest.json and bench/results/${stamp}.json`);
process.exit(Object.keys(errors).length ? 1 : 0);

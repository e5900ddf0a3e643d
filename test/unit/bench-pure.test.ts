/**
 * The bench's pure pieces: percentiles, history → timeline → overhead breakdown, the shim's log,
 * the split ladder, chunked jobs' stage times and the critical-path projection.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { percentile, ratio, summarize } from '../../bench/stats';
import { timelineOf, type HistoryEventLike } from '../../bench/history';
import { breakdown, categories, meanBreakdown, parseRunLog, runsOfJob, type ProcessRun } from '../../bench/overhead';
import { splitLadderArgs } from '../../bench/split-ladder';
import { renderTable } from '../../bench/report';
import { parseProcStat } from '../../bench/cpu';
import { chunksPerWorker, projectedMs, stageTimes } from '../../bench/projection';
import { projectionRows } from '../../bench/scenarios/long-input';
import { planJob, type TranscodeTask } from '../../media/plan';
import { transcodeArgs } from '../../media/args/transcode';
import type { MediaInfo } from '../../model/job-state';
import { presetOutput, testSpec } from '../helpers/spec';

describe('stats', () => {
  test('percentile interpolates between closest ranks and ignores input order', () => {
    assert.equal(percentile([4, 1, 3, 2], 50), 2.5);
    assert.equal(percentile([10], 99), 10);
    assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), 9.1);
    assert.equal(percentile([5, 1], 0), 1);
    assert.equal(percentile([5, 1], 100), 5);
    assert.throws(() => percentile([], 50));
    assert.throws(() => percentile([1], 101));
  });

  test('summarize and ratio', () => {
    const s = summarize(Array.from({ length: 100 }, (_, i) => i + 1));
    assert.deepEqual(s, { n: 100, min: 1, p50: 50.5, p90: 90.1, p99: 99, max: 100, mean: 50.5 });
    assert.equal(ratio(3, 2), 1.5);
    assert.equal(ratio(1, 0), null);
  });

  test('tables align columns', () => {
    assert.equal(renderTable(['a', 'bb'], [['xyz', '1'], ['q', '22']]), 'a    bb\n---  --\nxyz   1\nq    22');
  });
});

/** A history event at `ms` after t0, the way the SDK hands it over (seconds as a Long-like object). */
const T0 = 1_700_000_000_000;
let nextId = 1;
function ev(ms: number, attrs: Omit<HistoryEventLike, 'eventId' | 'eventTime'>): HistoryEventLike {
  const t = T0 + ms;
  return { eventId: { toNumber: () => nextId++ } as never, eventTime: { seconds: { toNumber: () => Math.floor(t / 1000) }, nanos: (t % 1000) * 1e6 }, ...attrs };
}

/**
 * One job: started at 100, first workflow task 100–110 (picked up at 105), probe scheduled at 110,
 * started 130, done 230; transcode scheduled 240, started 250, done 1250; closed at 1270.
 */
function history(): { events: HistoryEventLike[] } {
  nextId = 1;
  const events = [
    ev(100, { workflowExecutionStartedEventAttributes: {} }), // 1
    ev(100, { workflowTaskScheduledEventAttributes: {} }), // 2
    ev(105, { workflowTaskStartedEventAttributes: { scheduledEventId: 2 } }), // 3
    ev(110, { workflowTaskCompletedEventAttributes: { scheduledEventId: 2 } }), // 4
    ev(110, { activityTaskScheduledEventAttributes: { activityId: 'probe', activityType: { name: 'probeInput' }, input: { payloads: [] } } }), // 5
    ev(130, { activityTaskStartedEventAttributes: { scheduledEventId: 5, attempt: 1 } }), // 6
    ev(230, { activityTaskCompletedEventAttributes: { scheduledEventId: 5 } }), // 7
    ev(232, { workflowTaskScheduledEventAttributes: {} }), // 8
    ev(234, { workflowTaskStartedEventAttributes: { scheduledEventId: 8 } }), // 9
    ev(240, { workflowTaskCompletedEventAttributes: { scheduledEventId: 8 } }), // 10
    ev(240, { activityTaskScheduledEventAttributes: { activityId: 'transcode:360p', activityType: { name: 'transcode' }, input: { payloads: ['p'] } } }), // 11
    ev(250, { activityTaskStartedEventAttributes: { scheduledEventId: 11, attempt: 2 } }), // 12
    ev(1250, { activityTaskCompletedEventAttributes: { scheduledEventId: 11 } }), // 13
    ev(1255, { workflowTaskScheduledEventAttributes: {} }), // 14
    ev(1260, { workflowTaskStartedEventAttributes: { scheduledEventId: 14 } }), // 15
    ev(1270, { workflowTaskCompletedEventAttributes: { scheduledEventId: 14 } }), // 16
    ev(1270, { workflowExecutionCompletedEventAttributes: {} }), // 17
  ];
  return { events };
}

function run(tool: ProcessRun['tool'], from: number, to: number, input: string, args: string[]): ProcessRun {
  return { tool, startMs: T0 + from, endMs: T0 + to, exitCode: 0, input, args };
}

describe('history → timeline', () => {
  test('pairs scheduled, started and closed events by scheduled event id', () => {
    const t = timelineOf(history());
    assert.equal(t.startedMs, T0 + 100);
    assert.equal(t.closedMs, T0 + 1270);
    assert.deepEqual(
      t.activities.map((a) => [a.activityId, a.type, a.scheduledMs - T0, a.startedMs! - T0, a.closedMs! - T0, a.outcome, a.attempt]),
      [
        ['probe', 'probeInput', 110, 130, 230, 'completed', 1],
        ['transcode:360p', 'transcode', 240, 250, 1250, 'completed', 2],
      ],
    );
    assert.deepEqual(t.activities[1]!.inputPayloads, ['p']);
    assert.deepEqual(t.workflowTasks.map((w) => [w.scheduledMs - T0, w.startedMs! - T0, w.closedMs! - T0]), [[100, 105, 110], [232, 234, 240], [1255, 1260, 1270]]);
  });

  test('a chunked job: activity ids, task queues, the worker that started each attempt', () => {
    nextId = 1;
    const sched = (ms: number, activityId: string, type: string, queue = 'mediaflow-default') =>
      ev(ms, { activityTaskScheduledEventAttributes: { activityId, activityType: { name: type }, taskQueue: { name: queue }, input: { payloads: [] } } });
    const t = timelineOf({
      events: [
        ev(0, { workflowExecutionStartedEventAttributes: {} }), // 1
        sched(10, 'probe', 'probeInput', 'mediaflow-default:light'), // 2
        ev(20, { activityTaskStartedEventAttributes: { scheduledEventId: 2, attempt: 1, identity: '11@host' } }), // 3
        ev(120, { activityTaskCompletedEventAttributes: { scheduledEventId: 2 } }), // 4
        sched(130, 'encode:t1/audio', 'encodeAudio'), // 5
        sched(130, 'encode:t1/chunk-0', 'encodeChunk'), // 6
        sched(130, 'encode:t1/chunk-1', 'encodeChunk'), // 7
        ev(140, { activityTaskStartedEventAttributes: { scheduledEventId: 6, attempt: 1, identity: '11@host' } }), // 8
        ev(150, { activityTaskStartedEventAttributes: { scheduledEventId: 7, attempt: 1, identity: '22@host' } }), // 9
        ev(160, { activityTaskStartedEventAttributes: { scheduledEventId: 5, attempt: 1, identity: '22@host' } }), // 10
        ev(2140, { activityTaskCompletedEventAttributes: { scheduledEventId: 6 } }), // 11
        ev(2650, { activityTaskCompletedEventAttributes: { scheduledEventId: 7 } }), // 12
        ev(1160, { activityTaskCompletedEventAttributes: { scheduledEventId: 5 } }), // 13
        sched(2700, 'encode:t1/chunk-2#1', 'encodeChunk'), // 14: a retry round's chunk
        ev(2710, { activityTaskStartedEventAttributes: { scheduledEventId: 14, attempt: 1, identity: '11@host' } }), // 15
        ev(4010, { activityTaskCompletedEventAttributes: { scheduledEventId: 14 } }), // 16
        sched(4020, 'encode:t1/join', 'joinRenditions', 'mediaflow-default:light'), // 17
        ev(4030, { activityTaskStartedEventAttributes: { scheduledEventId: 17, attempt: 1, identity: '22@host' } }), // 18
        ev(4330, { activityTaskCompletedEventAttributes: { scheduledEventId: 17 } }), // 19
        sched(4340, 'package:hls', 'packageOutput', 'mediaflow-default:light'), // 20
        ev(4350, { activityTaskStartedEventAttributes: { scheduledEventId: 20, attempt: 1, identity: '11@host' } }), // 21
        ev(4750, { activityTaskCompletedEventAttributes: { scheduledEventId: 20 } }), // 22
        sched(4760, 'encode:t1/chunk-9', 'encodeChunk'), // 23: never finished: not a stage
        ev(4800, { workflowExecutionCompletedEventAttributes: {} }),
      ],
    });
    assert.deepEqual(t.activities[0]!.taskQueue, 'mediaflow-default:light');
    assert.deepEqual(
      t.activities.map((a) => [a.activityId, a.identity]),
      [
        ['probe', '11@host'],
        ['encode:t1/audio', '22@host'],
        ['encode:t1/chunk-0', '11@host'],
        ['encode:t1/chunk-1', '22@host'],
        ['encode:t1/chunk-2#1', '11@host'],
        ['encode:t1/join', '22@host'],
        ['package:hls', '11@host'],
        ['encode:t1/chunk-9', null],
      ],
    );
    // Chunks: 2000, 2500, 1300 ms → median 2000.
    assert.deepEqual(stageTimes(t), { probeMs: 100, audioMs: 1000, chunkMs: 2000, chunks: 3, joinMs: 300, packageMs: 400 });
    assert.deepEqual(chunksPerWorker(t), { '11@host': 2, '22@host': 1 });
    assert.throws(() => stageTimes({ ...t, activities: t.activities.filter((a) => a.type !== 'encodeChunk') }), /no chunk activities/);
  });

  test('a history without a start is refused', () => {
    assert.throws(() => timelineOf({ events: [] }), /WorkflowExecutionStarted/);
  });
});

describe('overhead breakdown', () => {
  const input = '/data/objects/bench/a.mp4';
  const scratch = '/data/work/outputs/x.mp4';
  const runs = [
    run('ffprobe', 140, 200, input, ['-v', 'error', '-i', '/data/work/inputs/1.input']),
    run('ffmpeg', 260, 1200, input, ['-i', '/data/work/inputs/2.input', '-f', 'mp4', scratch]),
    run('ffprobe', 1210, 1230, scratch, ['-v', 'error', '-i', scratch]),
    // Another job's runs: ignored.
    run('ffmpeg', 300, 900, '/data/objects/bench/b.mp4', ['-i', '/data/work/inputs/3.input', '/data/work/outputs/y.mp4']),
    run('ffprobe', 950, 960, '/data/work/outputs/y.mp4', ['-i', '/data/work/outputs/y.mp4']),
  ];

  test('runs are matched to the job by resolved input, output checks by the file its ffmpeg wrote', () => {
    const mine = runsOfJob(runs, input);
    assert.deepEqual([mine.ffmpeg.length, mine.probe.length, mine.outputCheck.length], [1, 1, 1]);
    assert.equal(mine.outputCheck[0]!.startMs, T0 + 1210);
  });

  test('a shared encode: its remuxes and their output checks are the job\'s too (by the files its runs wrote)', () => {
    const dir = '/data/work/scratch/run1';
    const shared = [
      run('ffmpeg', 260, 1000, input, ['-i', '/data/work/inputs/2.input', '-filter_complex', '[0:v:0]split=2[a][b]', '-f', 'mp4', `${dir}/video-0.mp4`, '-f', 'mp4', `${dir}/video-1.mp4`, '-f', 'mp4', `${dir}/audio-0.mp4`]),
      run('ffmpeg', 1000, 1050, `${dir}/video-0.mp4`, ['-i', `${dir}/video-0.mp4`, '-i', `${dir}/audio-0.mp4`, '-c', 'copy', `${dir}/output-0.mp4`]),
      run('ffprobe', 1050, 1060, `${dir}/output-0.mp4`, ['-i', `${dir}/output-0.mp4`]),
      // Another job's remux of its own scratch files: not ours.
      run('ffmpeg', 1000, 1050, '/data/work/scratch/run2/video-0.mp4', ['-i', '/data/work/scratch/run2/video-0.mp4', '/data/work/scratch/run2/output-0.mp4']),
    ];
    const mine = runsOfJob(shared, input);
    assert.deepEqual([mine.ffmpeg.length, mine.probe.length, mine.outputCheck.length], [2, 0, 1]);
    assert.equal(mine.outputCheck[0]!.startMs, T0 + 1050);
  });

  test('every instant goes to one category, and the parts add up to the wall time', () => {
    const b = breakdown({ postMs: T0 + 90, seenMs: T0 + 1300, timeline: timelineOf(history()), runs: runsOfJob(runs, input) });
    assert.equal(b.wallMs, 1210);
    assert.deepEqual(b.parts, {
      ffmpeg: 940, // 260–1200
      probe: 100, // probe activity 130–230 (its ffprobe inside it)
      outputCheck: 20, // 1210–1230
      storage: 10 + 10 + 20, // transcode activity outside ffmpeg/ffprobe: 250–260, 1200–1210, 1230–1250
      otherActivity: 0,
      queueing: 5 + 20 + 2 + 10 + 5, // workflow tasks 100–105, 232–234, 1255–1260; activities 110–130, 240–250
      scheduling: 5 + 2 + 6 + 5 + 10, // workflow tasks 105–110, 234–240, 1260–1270; gaps 230–232, 1250–1255
      submit: 10, // 90–100
      reporting: 30, // 1270–1300
    });
    assert.equal(Object.values(b.parts).reduce((a, c) => a + c, 0), b.wallMs);
    assert.equal(b.overheadMs, 1210 - 940);
    assert.equal(b.ffmpegProcessMs, 940);
    assert.deepEqual(Object.keys(b.parts), [...categories]);
  });

  test('overlapping ffmpeg runs count once in the wall time; means keep the parts adding up', () => {
    const two = [run('ffmpeg', 260, 800, input, ['-i', 'a', scratch]), run('ffmpeg', 500, 1200, input, ['-i', 'a', '/o2.mp4'])];
    const b = breakdown({ postMs: T0 + 100, seenMs: T0 + 1270, timeline: timelineOf(history()), runs: runsOfJob(two, input) });
    assert.equal(b.parts.ffmpeg, 940);
    assert.equal(b.ffmpegProcessMs, 540 + 700);
    const m = meanBreakdown([b, { ...b, wallMs: b.wallMs + 100, parts: { ...b.parts, reporting: b.parts.reporting + 100 }, overheadMs: b.overheadMs + 100 }]);
    assert.equal(m.wallMs, b.wallMs + 50);
    assert.equal(Object.values(m.parts).reduce((a, c) => a + c, 0), m.wallMs);
  });

  test("the shim's log parses, locale decimal commas included", () => {
    const line = ['ffmpeg', '1700000000.250000', '1700000001,750000', '0', input, ['-i', '/in', '-y', '/out.mp4'].join('\x1f')].join('\t');
    const [r] = parseRunLog(`${line}\n\n`);
    assert.deepEqual(r, { tool: 'ffmpeg', startMs: 1700000000250, endMs: 1700000001750, exitCode: 0, input, args: ['-i', '/in', '-y', '/out.mp4'] });
    assert.throws(() => parseRunLog('sox\t1\t2\t0\tx\ty\n'), /unreadable/);
  });
});

describe('split-filter ladder', () => {
  const media: MediaInfo = {
    durationSec: 20,
    container: 'mov,mp4,m4a,3gp,3g2,mj2',
    sizeBytes: 1,
    video: { codec: 'h264', width: 1920, height: 1080, fps: 30, rotation: 0, pixFmt: 'yuv420p', sar: [1, 1] },
    audio: [{ codec: 'aac', channels: 2, sampleRate: 48000 }],
  };
  const outputs = ['720p', '480p', '360p'].map((n) => presetOutput(n, `mp4-h264-${n}`));
  const tasks = planJob(testSpec('raw/in.mp4', outputs, { snapshots: [] }), media).tasks as TranscodeTask[];
  const limits = { threads: 0, maxOutputBytes: 1e9 };
  const rungs = tasks.map((t) => transcodeArgs(t, '/in.mp4', `/out/${t.name}.mp4`, limits));

  test('one input, one split, each rung keeps its own filters, encoder, audio and muxer options', () => {
    const args = splitLadderArgs(rungs);
    assert.equal(args.filter((a) => a === '-i').length, 1);
    const graph = args[args.indexOf('-filter_complex') + 1]!;
    const filters = rungs.map((r) => r[r.indexOf('-vf') + 1]);
    assert.equal(graph, `[0:v:0]split=3[s0][s1][s2];[s0]${filters[0]}[v0];[s1]${filters[1]}[v1];[s2]${filters[2]}[v2]`);
    assert.ok(!args.includes('-vf'));
    // Each rung's section is its own argv after the input, with the video taken from the graph.
    let at = args.indexOf('-filter_complex') + 2;
    rungs.forEach((r, i) => {
      const section = r.slice(r.indexOf('-i') + 2).filter((_, k, s) => s[k] !== '-vf' && s[k - 1] !== '-vf').map((a) => (a === '0:v:0' ? `[v${i}]` : a));
      assert.deepEqual(args.slice(at, at + section.length), section);
      at += section.length;
    });
    assert.equal(at, args.length);
    assert.equal(args.at(-1), '/out/360p.mp4');
  });

  test('rungs on other inputs or with clips cannot share a decode', () => {
    assert.throws(() => splitLadderArgs([rungs[0]!, transcodeArgs(tasks[1]!, '/other.mp4', '/o.mp4', limits)]), /another input/);
    const clipped = { ...tasks[0]!, clip: { startSec: 1, durationSec: 2 } };
    assert.throws(() => splitLadderArgs([transcodeArgs(clipped, '/in.mp4', '/o.mp4', limits)]), /clipped/);
    assert.throws(() => splitLadderArgs([]), /no rungs/);
  });
});

test('/proc/PID/stat: CPU fields are counted from the last parenthesis, whatever the command name holds', () => {
  const stat = '4242 (node (worker) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 25 300 45 20 0 11 0 1000 0 0';
  assert.deepEqual(parseProcStat(stat, 10), { ownMs: (150 + 25) * 10, childrenMs: (300 + 45) * 10 });
});

describe('critical-path projection', () => {
  const stages = { probeMs: 100, audioMs: 5000, chunkMs: 20_000, chunks: 4, joinMs: 500, packageMs: 800 };

  test('probe + max(audio, waves × chunk) + join + package, waves = ceil(chunks / min(W × slots, maxParallel))', () => {
    assert.equal(projectedMs(stages, 1, 1), 100 + 4 * 20_000 + 1300);
    assert.equal(projectedMs(stages, 1, 2, 4), 100 + 2 * 20_000 + 1300);
    assert.equal(projectedMs(stages, 2, 2, 4), 100 + 20_000 + 1300);
    // More workers than chunks gain nothing; nor does a bound below the workers' slots.
    assert.equal(projectedMs(stages, 16, 2, 4), projectedMs(stages, 2, 2, 4));
    assert.equal(projectedMs({ ...stages, chunks: 20 }, 16, 2, 4), 100 + 5 * 20_000 + 1300);
    assert.equal(projectedMs({ ...stages, chunks: 20 }, 16, 2), 100 + 20_000 + 1300);
    // The audio runs beside the chunks: it is the critical path when chunks finish first.
    assert.equal(projectedMs({ ...stages, audioMs: 30_000 }, 2, 2, 4), 100 + 30_000 + 1300);
    assert.throws(() => projectedMs(stages, 0, 2), /at least 1/);
  });

  test('rows for W = 1…16, and a 10-minute source with chunks and linear stages scaled by duration', () => {
    const rows = projectionRows(stages, 120, 2, 4, 30);
    assert.deepEqual(rows.map((r) => r.workers), [1, 2, 4, 8, 16]);
    assert.deepEqual(rows.map((r) => r.boundedMs), [41_400, 21_400, 21_400, 21_400, 21_400]);
    // 10 minutes: 20 chunks; audio 25 s, join 2.5 s, package 4 s.
    assert.equal(rows[0]!.tenMinuteMs, 100 + 10 * 20_000 + 2500 + 4000);
    assert.equal(rows[4]!.tenMinuteMs, 100 + 5 * 20_000 + 2500 + 4000);
    assert.equal(rows[4]!.tenMinuteUnboundedMs, 100 + 25_000 + 2500 + 4000);
  });
});

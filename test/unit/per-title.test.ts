/** The pure parts of quality scores and per-title ladders: stats parsing, sample windows, rate choice, rung dropping, the re-planned spec. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePsnrStats, parseSsimStats, parseVmafLog } from '../../media/args/quality';
import { checkAndFit, checkWindows, chooseRates, dropRungs, MAX_STEPS, rateFor, sampleWindows, withChosenLadders, type MeasuredRung } from '../../media/per-title';
import { transcodeTemplateSchema } from '../../model/templates';
import type { AutoRungState } from '../../model/job-state';
import { planJob, type TranscodeTask } from '../../media/plan';
import { systemPreset } from '../../media/presets';
import type { AutoLadderState, MediaInfo } from '../../model/job-state';
import { testSpec } from '../helpers/spec';

describe('metric stats', () => {
  test('SSIM: the mean of the per-frame All; PSNR: from the mean MSE', () => {
    const s = parseSsimStats('n:1 Y:0.9 U:0.9 V:0.9 All:0.90 (10.0)\nn:2 Y:1 U:1 V:1 All:0.80 (7.0)\n');
    assert.equal(s.frames, 2);
    assert.ok(Math.abs(s.ssim - 0.85) < 1e-12);
    // mean MSE 2 → 10·log10(255²/2) = 45.121 dB (not the mean of the per-frame dB).
    assert.equal(parsePsnrStats('n:1 mse_avg:1.00 psnr_avg:48.13\nn:2 mse_avg:3.00 psnr_avg:43.36\n', 8), 45.121);
    assert.equal(parsePsnrStats('n:1 mse_avg:0.00 psnr_avg:inf\n', 8), 100);
    assert.throws(() => parseSsimStats(''), /no frames/);
    assert.equal(parseVmafLog('{"pooled_metrics":{"vmaf":{"mean":93.12345}}}'), 93.123);
  });
});

describe('per-title choice', () => {
  test('sample windows spread over the input, fewer for short inputs', () => {
    assert.deepEqual(sampleWindows(20).map((w) => w.startSec), [2.333, 9, 15.667]);
    assert.equal(sampleWindows(5).length, 2);
    assert.deepEqual(sampleWindows(1.5), [{ startSec: 0, durationSec: 1.5 }]);
  });

  test('the check encodes cover the whole of a short input, else three 6 s windows (not 2 s ones)', () => {
    // Capped VBR learns a still picture's cost over the encode: a 2 s window measured 0.9983 where the
    // whole 8 s rendition at the same rate reached 0.9995 (the bench's slide).
    assert.deepEqual(checkWindows(8), [{ startSec: 0, durationSec: 8 }]);
    assert.deepEqual(checkWindows(18), [{ startSec: 0, durationSec: 18 }]);
    assert.deepEqual(checkWindows(60), [
      { startSec: 7, durationSec: 6 },
      { startSec: 27, durationSec: 6 },
      { startSec: 47, durationSec: 6 },
    ]);
  });

  test('the rate for a target: interpolated on log rate; the cheapest point; none', () => {
    const pts = [
      { crf: 30, kbps: 500, ssim: 0.94 },
      { crf: 24, kbps: 1000, ssim: 0.97 },
    ];
    assert.equal(Math.round(rateFor(pts, 0.955)!.kbps), 707);
    assert.equal(rateFor(pts, 0.9)!.kbps, 500);
    assert.equal(rateFor(pts, 0.99), null);
  });

  test('rates are clamped, each rung aims at its own target, none dropped before the checks', () => {
    const rung = (name: string, templateKbps: number, kbps: number, ssim: number, targetSsim?: number): MeasuredRung => ({
      name,
      width: 1,
      height: 1,
      templateKbps,
      targetSsim,
      points: [
        { crf: 40, kbps, ssim },
        { crf: 22, kbps: kbps * 4, ssim: 0.999 },
      ],
    });
    const chosen = chooseRates([rung('1080p', 5000, 900, 0.96), rung('720p', 2500, 800, 0.96), rung('360p', 800, 200, 0.96, 0.999), rung('240p', 400, 10, 0.96)], 0.95);
    assert.deepEqual(chosen.map((r) => [r.name, r.kept, r.chosenKbps, r.targetSsim]), [
      ['1080p', true, 990, 0.95],
      // 880 kbps is within 20 % of 1080p's 990, but dropping waits for the checks' final rates.
      ['720p', true, 880, 0.95],
      // Its own target, 0.999: the top of its curve (800 kbps) + 10 %, not the ladder's 0.95.
      ['360p', true, 880, 0.999],
      ['240p', true, 50, 0.95],
    ]);
    assert.match(chosen[3]!.reason, /floor/);
    // Unreachable: the ceiling, 2x the template rate.
    const capped = chooseRates([rung('1080p', 5000, 900, 0.5)], 0.9999)[0]!;
    assert.equal(capped.chosenKbps, 10000);
    assert.match(capped.reason, /ceiling/);
  });

  test('dropping: a rate within 20 % of the kept rung above, or a rung above that really fits in this one\'s template rate', () => {
    const r = (name: string, templateKbps: number, chosenKbps: number, measuredKbps: number): AutoRungState => ({ name, width: 1, height: 1, templateKbps, targetSsim: 0.95, chosenKbps, measuredSsim: 0.95, measuredKbps, kept: true, reason: 'x', points: [] });
    // High motion: every rung needs its bits: all kept.
    assert.deepEqual(dropRungs([r('1080p', 5000, 5000, 4900), r('720p', 2500, 2600, 2500), r('360p', 800, 900, 850)]).map((x) => x.kept), [true, true, true]);
    // 720p at 880 is within 20 % of 1080p's 990: dropped; 360p is compared with 1080p, the last kept.
    const close = dropRungs([r('1080p', 5000, 990, 900), r('720p', 2500, 880, 800), r('360p', 800, 220, 200)]);
    assert.deepEqual(close.map((x) => x.kept), [true, false, true]);
    assert.match(close[1]!.reason, /within 20% of 1080p's 990 kbps/);
    // A still slide: 1080p capped at 800 kbps really used 95 (peak ~143): it fits every lower rung's template rate.
    const slide = dropRungs([r('1080p', 5000, 800, 95), r('720p', 2500, 100, 80), r('480p', 1200, 100, 55), r('360p', 800, 60, 43)]);
    assert.deepEqual(slide.map((x) => [x.kept, x.chosenKbps]), [[true, 800], [false, null], [false, null], [false, null]]);
    assert.match(slide[3]!.reason, /1080p really used 95 kbps in its check encode \(peak ~143 kbps\), within this rung's template 800 kbps/);
    // A peak above the lower rung's template rate: it stays (its viewers cannot play the bigger one).
    assert.deepEqual(dropRungs([r('360p', 1000, 400, 324), r('180p', 400, 90, 80)]).map((x) => x.kept), [true, true]);
  });

  test('the check encodes decide: a short rung is raised (more when further short), re-checked, then the rate between the last short and the first good one is tried', async () => {
    // The 1080p static slide of the bench: the curve put SSIM 0.999 at ~39 kbps, but capped VBR
    // starves the keyframes at low rates: the check encode measures what a rate really reaches.
    const slide = (kbps: number) => (kbps < 60 ? 0.982 : kbps < 90 ? 0.9957 : kbps < 150 ? 0.9986 : 0.9995);
    const rung = (name: string, templateKbps: number, chosenKbps: number, targetSsim = 0.999): AutoRungState => ({ name, width: 1, height: 1, templateKbps, targetSsim, chosenKbps, measuredSsim: null, measuredKbps: null, kept: true, reason: 'curve', points: [] });
    const calls: string[][] = [];
    // What the slide really uses is far below the cap: 1080p's 60 kbps peak ~90 fits 360p's 800.
    const measure = async (which: AutoRungState[]) => {
      calls.push(which.map((c) => `${c.name}@${c.chosenKbps}`));
      return new Map(which.map((c) => [c.name, { ssim: c.name === '1080p' ? slide(c.chosenKbps!) : 0.9999, kbps: Math.min(60, c.chosenKbps!) }]));
    };
    const { rungs, checks } = await checkAndFit([rung('1080p', 5000, 50), rung('360p', 800, 50)], measure);
    const top = rungs[0]!;
    assert.ok(top.measuredSsim! >= 0.999, `1080p meets the target in the check encode: ${top.measuredSsim} at ${top.chosenKbps} kbps (${top.reason})`);
    assert.equal(checks, 1 + MAX_STEPS);
    // Only the short rung is encoded again; the one that met the target is checked once.
    assert.deepEqual(calls[0], ['1080p@50', '360p@50']);
    assert.ok(calls.slice(1).every((c) => c.length === 1 && c[0]!.startsWith('1080p@')), JSON.stringify(calls));
    assert.equal(calls[1]![0], "1080p@100", "far short (18x the target distortion): doubled");
    // 0.9986 is 1.4x the target distortion: raised 1.4x.
    assert.equal(calls[2]![0], "1080p@140");
    assert.match(top.reason, /check 1 at 50 kbps measured SSIM 0\.9820 < 0\.999: raised 2x to 100 kbps/);
    // 196 kbps met it, 140 did not: between them (log rate, by SSIM), 163 kbps, which meets it too.
    assert.equal(calls[4]![0], '1080p@163');
    assert.equal(top.chosenKbps, 163);
    assert.match(top.reason, /check 4: 0\.999 lies between 140 kbps \(0\.9986\) and 196 kbps \(0\.9995\): tried 163 kbps; chosen: 163 kbps, the lowest rate checked that met 0\.999 \(SSIM 0\.9995, 60 kbps real\)$/);
    // Dropping is decided on the final rates: 360p's 50 kbps was within 20 % of 1080p's first 50
    // (the old rule dropped it then), but the slide's 1080p really uses 60 kbps (peak ~90), within
    // 360p's template 800 kbps: 360p adds nothing its viewers need.
    assert.equal(top.measuredKbps, 60);
    assert.deepEqual(rungs.map((r) => r.kept), [true, false]);
    assert.match(rungs[1]!.reason, /1080p really used 60 kbps/);
    // Where the top rung's real peak (196 kbps × 1.5) is above the lower rung's template rate, the lower rung stays.
    const busy = await checkAndFit([rung('1080p', 5000, 50), rung('360p', 200, 50)], async (w) => new Map(w.map((c) => [c.name, { ssim: c.name === '1080p' ? slide(c.chosenKbps!) : 0.9999, kbps: c.chosenKbps! }])));
    assert.deepEqual(busy.rungs.map((r) => [r.kept, r.chosenKbps]), [[true, 163], [true, 50]]);
    // Each rung meets its own target: 360p at 0.9999 is raised, 1080p at 0.99 is not.
    const own = await checkAndFit([rung('1080p', 5000, 1000, 0.99), rung('360p', 800, 100, 0.9999)], async (w) =>
      new Map(w.map((c) => [c.name, { ssim: c.name === '1080p' ? 0.9905 : c.chosenKbps! >= 400 ? 0.99995 : 0.9995, kbps: c.chosenKbps! }])),
    );
    assert.deepEqual(own.rungs.map((r) => [r.chosenKbps, r.measuredSsim]), [[1000, 0.9905], [400, 0.99995]]);

    // A rung well above its target is lowered towards it (the curve of 2 s samples can be
    // pessimistic: the Mandelbrot zoom's 480p at its 2400 kbps ceiling measured 0.9927 for a target
    // of 0.98819). Distortion falling as rate^-0.8: the target needs 1285 kbps.
    const zoom = (kbps: number) => 1 - 0.0117 * (1300 / kbps) ** 0.8;
    const lowered = await checkAndFit([rung('480p', 1200, 2400, 0.98819)], async (w) => new Map(w.map((c) => [c.name, { ssim: zoom(c.chosenKbps!), kbps: c.chosenKbps! }])));
    const low = lowered.rungs[0]!;
    assert.ok(low.chosenKbps! >= 1285 && low.chosenKbps! <= 1285 * (1 + 0.15), `${low.chosenKbps} kbps (${low.reason})`);
    assert.ok(low.measuredSsim! >= 0.98819);
    assert.match(low.reason, /check 1 at 2400 kbps measured SSIM 0\.992[78]\d\d ≥ 0\.98819 with room: lowered 0\.61x to 1464 kbps/);
    // Lowered too far (distortion falling as rate^-2): back up between the two, and the lowest rate that met it is kept.
    const steep = (kbps: number) => 1 - 0.0117 * (1300 / kbps) ** 2;
    const back = (await checkAndFit([rung('480p', 1200, 2400, 0.98819)], async (w) => new Map(w.map((c) => [c.name, { ssim: steep(c.chosenKbps!), kbps: c.chosenKbps! }])))).rungs[0]!;
    assert.ok(steep(back.chosenKbps!) >= 0.98819 && back.chosenKbps! < 2400, `${back.chosenKbps} kbps (${back.reason})`);
    assert.match(back.reason, /lies between/);

    // Bounded: a rung that never gets there stops after MAX_STEPS raises (or at its ceiling), and says so.
    const never = await checkAndFit([rung('1080p', 5000, 50)], async (w) => new Map(w.map((c) => [c.name, { ssim: 0.99, kbps: 50 }])));
    assert.equal(never.checks, 1 + MAX_STEPS);
    assert.match(never.rungs[0]!.reason, new RegExp(`still short of 0\\.999 \\(SSIM 0\\.9900\\) after ${MAX_STEPS} steps`));
    const ceiling = await checkAndFit([rung('360p', 800, 1000)], async (w) => new Map(w.map((c) => [c.name, { ssim: 0.99, kbps: 1000 }])));
    assert.equal(ceiling.rungs[0]!.chosenKbps, 1600);
    assert.match(ceiling.rungs[0]!.reason, /at its ceiling/);
  });

  test('targets up to 0.99999 (an SSIM that shows as 1.0000), per ladder or per rung, on auto ladders only', () => {
    const hls = systemPreset('hls-h264-ladder', 'transcode')!;
    const withLadder = (ladder: object) => transcodeTemplateSchema.safeParse({ ...hls, ladder: { ...hls.ladder!, ...ladder } });
    assert.ok(withLadder({ auto: true, targetSsim: 0.9999 }).success);
    assert.ok(withLadder({ auto: true, targetSsim: 0.99999 }).success);
    assert.equal(withLadder({ auto: true, targetSsim: 0.999995 }).success, false);
    const perRung = (auto: boolean) => withLadder({ auto, rungs: hls.ladder!.rungs.map((r, i) => ({ ...r, targetSsim: [0.99995, 0.998, 0.99, 0.98][i] })) });
    assert.ok(perRung(true).success);
    const refused = perRung(false);
    assert.equal(refused.success, false);
    assert.deepEqual(refused.error!.issues.map((i) => i.path.join('.')), ['ladder.rungs.0.targetSsim', 'ladder.rungs.1.targetSsim', 'ladder.rungs.2.targetSsim', 'ladder.rungs.3.targetSsim']);
  });

  test('the chosen ladder is what the planner plans: kept rungs at their rates, ratios kept', () => {
    const hls = systemPreset('hls-h264-ladder', 'transcode')!;
    const spec = testSpec('in.mp4', [{ name: 's', templateId: 'x', template: { ...hls, ladder: { ...hls.ladder!, auto: true } }, clip: null, watermarks: [] }]);
    const media: MediaInfo = { durationSec: 10, container: 'mov', sizeBytes: 1, still: false, video: { codec: 'h264', width: 1920, height: 1080, fps: 30, fpsRational: '30/1', rotation: 0, pixFmt: 'yuv420p', sar: [1, 1] }, audio: [] };
    const choice: AutoLadderState = {
      targetSsim: 0.95,
      samples: [],
      checkWindows: [],
      crfPoints: [],
      rungs: [
        { name: '1080p', width: 1920, height: 1080, templateKbps: 5000, chosenKbps: 2000, measuredSsim: 0.95, kept: true, reason: '', points: [], targetSsim: 0.95, measuredKbps: null },
        { name: '720p', width: 1280, height: 720, templateKbps: 2500, chosenKbps: null, measuredSsim: null, kept: false, reason: 'dropped', points: [], targetSsim: 0.95, measuredKbps: null },
        { name: '480p', width: 854, height: 480, templateKbps: 1200, chosenKbps: 600, measuredSsim: 0.95, kept: true, reason: '', points: [], targetSsim: 0.95, measuredKbps: null },
        { name: '360p', width: 640, height: 360, templateKbps: 800, chosenKbps: 300, measuredSsim: 0.95, kept: true, reason: '', points: [], targetSsim: 0.95, measuredKbps: null },
      ],
    };
    const plan = planJob(withChosenLadders(spec, new Map([['s', choice]])), media);
    const rungs = plan.tasks.filter((t): t is TranscodeTask => t.kind === 'transcode');
    assert.deepEqual(rungs.map((t) => [t.rung!.name, t.video!.bitrateKbps, t.video!.maxrateKbps, t.video!.bufsizeKbps]), [
      ['1080p', 2000, 3000, 4000],
      ['480p', 600, 900, 1200],
      ['360p', 300, 450, 600],
    ]);
    // Without a choice the spec is the same object: nothing changes for other jobs.
    const plain = testSpec('in.mp4', []);
    assert.equal(withChosenLadders(plain, new Map()).outputs.length, 0);
  });
});

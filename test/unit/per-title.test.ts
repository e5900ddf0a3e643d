/** The pure parts of quality scores and per-title ladders: stats parsing, sample windows, rate choice, rung dropping, the re-planned spec. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePsnrStats, parseSsimStats, parseVmafLog } from '../../media/args/quality';
import { checkAndRaise, chooseRates, MAX_RAISES, rateFor, sampleWindows, withChosenLadders, type MeasuredRung } from '../../media/per-title';
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

  test('the rate for a target: interpolated on log rate; the cheapest point; none', () => {
    const pts = [
      { crf: 30, kbps: 500, ssim: 0.94 },
      { crf: 24, kbps: 1000, ssim: 0.97 },
    ];
    assert.equal(Math.round(rateFor(pts, 0.955)!.kbps), 707);
    assert.equal(rateFor(pts, 0.9)!.kbps, 500);
    assert.equal(rateFor(pts, 0.99), null);
  });

  test('rates are clamped, close rungs dropped, the top one kept', () => {
    const rung = (name: string, templateKbps: number, kbps: number, ssim: number): MeasuredRung => ({
      name,
      width: 1,
      height: 1,
      templateKbps,
      points: [
        { crf: 40, kbps, ssim },
        { crf: 22, kbps: kbps * 4, ssim: 0.999 },
      ],
    });
    const chosen = chooseRates([rung('1080p', 5000, 900, 0.96), rung('720p', 2500, 800, 0.96), rung('360p', 800, 200, 0.96), rung('240p', 400, 10, 0.96)], 0.95);
    assert.deepEqual(chosen.map((r) => [r.name, r.kept, r.chosenKbps]), [
      ['1080p', true, 990],
      // 880 kbps is within 20 % of 1080p's 990: dropped.
      ['720p', false, null],
      ['360p', true, 220],
      ['240p', true, 50],
    ]);
    assert.match(chosen[1]!.reason, /within 20% of 1080p/);
    assert.match(chosen[3]!.reason, /floor/);
    // Unreachable: the ceiling, 2x the template rate.
    const capped = chooseRates([rung('1080p', 5000, 900, 0.5)], 0.9999)[0]!;
    assert.equal(capped.chosenKbps, 10000);
    assert.match(capped.reason, /ceiling/);
  });

  test('the check encodes decide: a short rung is raised (more when further short) and re-checked until it meets the target', async () => {
    // The 1080p static slide of the bench: the curve put SSIM 0.999 at ~39 kbps, but capped VBR
    // starves the keyframes at low rates: the check encode measures what a rate really reaches.
    const slide = (kbps: number) => (kbps < 60 ? 0.982 : kbps < 90 ? 0.9957 : kbps < 150 ? 0.9986 : 0.9995);
    const rung = (name: string, templateKbps: number, chosenKbps: number) => ({ name, width: 1, height: 1, templateKbps, chosenKbps, measuredSsim: null, kept: true, reason: 'curve', points: [] });
    const calls: string[][] = [];
    const measure = async (which: { name: string; chosenKbps: number | null }[]) => {
      calls.push(which.map((c) => `${c.name}@${c.chosenKbps}`));
      return new Map(which.map((c) => [c.name, c.name === '1080p' ? slide(c.chosenKbps!) : 0.9999]));
    };
    const { rungs, checks } = await checkAndRaise([rung('1080p', 5000, 50), rung('360p', 800, 50)], 0.999, measure);
    const top = rungs[0]!;
    assert.ok(top.measuredSsim! >= 0.999, `1080p meets the target in the check encode: ${top.measuredSsim} at ${top.chosenKbps} kbps (${top.reason})`);
    assert.ok(checks <= 1 + MAX_RAISES);
    // Only the short rung is encoded again; the one that met the target is checked once.
    assert.deepEqual(calls[0], ['1080p@50', '360p@50']);
    assert.ok(calls.slice(1).every((c) => c.length === 1 && c[0]!.startsWith('1080p@')), JSON.stringify(calls));
    assert.equal(calls[1]![0], "1080p@100", "far short (18x the target distortion): doubled");
    // 0.9986 is 1.4x the target distortion: raised 1.4x.
    assert.equal(calls[2]![0], "1080p@140");
    assert.match(top.reason, /check 1 at 50 kbps measured SSIM 0\.9820 < 0\.999: raised 2x to 100 kbps/);
    assert.match(top.reason, /≥ 0\.999$/);
    // 360p now sits far below 1080p's rate: kept.
    assert.deepEqual(rungs.map((r) => r.kept), [true, true]);

    // Bounded: a rung that never gets there stops after MAX_RAISES raises (or at its ceiling), and says so.
    const never = await checkAndRaise([rung('1080p', 5000, 50)], 0.999, async (w) => new Map(w.map((c) => [c.name, 0.99])));
    assert.equal(never.checks, 1 + MAX_RAISES);
    assert.match(never.rungs[0]!.reason, new RegExp(`still short of 0\\.999 \\(SSIM 0\\.9900\\) after ${MAX_RAISES} raises`));
    const ceiling = await checkAndRaise([rung('360p', 800, 1000)], 0.999, async (w) => new Map(w.map((c) => [c.name, 0.99])));
    assert.equal(ceiling.rungs[0]!.chosenKbps, 1600);
    assert.match(ceiling.rungs[0]!.reason, /at its ceiling/);
  });

  test('the chosen ladder is what the planner plans: kept rungs at their rates, ratios kept', () => {
    const hls = systemPreset('hls-h264-ladder', 'transcode')!;
    const spec = testSpec('in.mp4', [{ name: 's', templateId: 'x', template: { ...hls, ladder: { ...hls.ladder!, auto: true } }, clip: null, watermarks: [] }]);
    const media: MediaInfo = { durationSec: 10, container: 'mov', sizeBytes: 1, still: false, video: { codec: 'h264', width: 1920, height: 1080, fps: 30, fpsRational: '30/1', rotation: 0, pixFmt: 'yuv420p', sar: [1, 1] }, audio: [] };
    const choice: AutoLadderState = {
      targetSsim: 0.95,
      samples: [],
      crfPoints: [],
      rungs: [
        { name: '1080p', width: 1920, height: 1080, templateKbps: 5000, chosenKbps: 2000, measuredSsim: 0.95, kept: true, reason: '', points: [] },
        { name: '720p', width: 1280, height: 720, templateKbps: 2500, chosenKbps: null, measuredSsim: null, kept: false, reason: 'dropped', points: [] },
        { name: '480p', width: 854, height: 480, templateKbps: 1200, chosenKbps: 600, measuredSsim: 0.95, kept: true, reason: '', points: [] },
        { name: '360p', width: 640, height: 360, templateKbps: 800, chosenKbps: 300, measuredSsim: 0.95, kept: true, reason: '', points: [] },
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

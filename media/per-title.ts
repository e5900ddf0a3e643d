/**
 * Per-title ladders (issue 15 item 5), the pure part: where the sample windows go, which rate of a
 * measured rate/SSIM curve reaches the target, which rungs add too little to keep, and the spec
 * the planner then plans with. The sample encodes and their scores are activities/ladder.ts.
 */
import type { JobSpec, ResolvedOutput } from '../model/job';
import type { AutoLadderState, AutoRungState } from '../model/job-state';
import type { Rung } from '../model/templates';

/** Sample windows spread over the input: this many, this long (shorter inputs: fewer, or the whole). */
export const SAMPLE_COUNT = 3;
export const SAMPLE_SEC = 2;
/** Constant-quality points each rung's samples are encoded at, to draw its rate/SSIM curve. */
export const CRF_POINTS = [22, 28, 34, 40] as const;
/** A rung's rate is at most this many times its template rate, and never below the schema's floor. */
export const CEILING_FACTOR = 2;
export const FLOOR_KBPS = 50;
/** Capped VBR at a rate reaches a little less than CRF at the same mean rate: aim this much higher. */
export const VBR_MARGIN = 1.1;
/** A lower rung whose rate is within this share of the kept rung above it is dropped. */
export const DROP_WITHIN = 0.2;
/** A rung's peak rate, estimated from its mean: the presets' maxrate is 1.5x the rate. */
export const PEAK_FACTOR = 1.5;
/** The check encodes: windows this long; an input up to SAMPLE_COUNT × CHECK_SEC is checked whole. */
export const CHECK_SEC = 6;

/**
 * Where the samples of an input of `durationSec` go: SAMPLE_COUNT windows of SAMPLE_SEC, each
 * centred in its share of the timeline; an input too short for that gives fewer, or one window of
 * the whole input.
 *
 * @example sampleWindows(20) // [{ startSec: 2.333, durationSec: 2 }, { startSec: 9, … }, { startSec: 15.667, … }]
 */
export function sampleWindows(durationSec: number, count = SAMPLE_COUNT, lengthSec = SAMPLE_SEC): { startSec: number; durationSec: number }[] {
  const r3 = (n: number) => Math.round(n * 1000) / 1000;
  if (durationSec <= lengthSec) return [{ startSec: 0, durationSec: r3(durationSec) }];
  const n = Math.max(1, Math.min(count, Math.floor(durationSec / lengthSec)));
  return Array.from({ length: n }, (_, i) => ({ startSec: r3((durationSec / n) * (i + 0.5) - lengthSec / 2), durationSec: lengthSec }));
}

/**
 * Where the check encodes go: the whole input when it is at most SAMPLE_COUNT × CHECK_SEC long
 * (then the check is the rendition's own encode), else SAMPLE_COUNT windows of CHECK_SEC. Longer
 * than the curve's samples: capped VBR starts each encode with a guessed quantiser and learns the
 * picture's cost as it goes, so a 2 s window (one GOP) measures less than the rendition reaches
 * at the same rate, most on a still picture (the bench's slide: 0.9983 in 2 s windows at 400 kbps,
 * 0.9995 for the whole rendition).
 *
 * @example checkWindows(8) // [{ startSec: 0, durationSec: 8 }]
 */
export function checkWindows(durationSec: number, count = SAMPLE_COUNT, lengthSec = CHECK_SEC): { startSec: number; durationSec: number }[] {
  if (durationSec <= count * lengthSec) return [{ startSec: 0, durationSec: Math.round(durationSec * 1000) / 1000 }];
  return sampleWindows(durationSec, count, lengthSec);
}

/** One point of a rung's curve: the samples' mean rate and SSIM at one CRF. */
export interface CurvePoint {
  crf: number;
  kbps: number;
  ssim: number;
}

/**
 * The rate a curve needs for `target` SSIM: interpolated on log(rate) between the two points
 * around it; the cheapest point when all reach it; null when none does (then: the ceiling).
 *
 * @example rateFor([{ crf: 30, kbps: 500, ssim: 0.94 }, { crf: 24, kbps: 1000, ssim: 0.97 }], 0.955) // ≈ 707
 */
export function rateFor(points: CurvePoint[], target: number): { kbps: number; how: string } | null {
  const byRate = [...points].sort((a, b) => a.kbps - b.kbps);
  const first = byRate[0];
  if (!first) return null;
  if (first.ssim >= target) return { kbps: first.kbps, how: `every CRF point reached SSIM ${target}: the cheapest (crf ${first.crf}, ${Math.round(first.kbps)} kbps, SSIM ${first.ssim.toFixed(4)})` };
  for (let i = 1; i < byRate.length; i++) {
    const lo = byRate[i - 1]!;
    const hi = byRate[i]!;
    if (hi.ssim >= target && lo.ssim < target) {
      const f = (target - lo.ssim) / (hi.ssim - lo.ssim);
      const kbps = Math.exp(Math.log(lo.kbps) + f * (Math.log(hi.kbps) - Math.log(lo.kbps)));
      return { kbps, how: `SSIM ${target} lies between crf ${lo.crf} (${Math.round(lo.kbps)} kbps, ${lo.ssim.toFixed(4)}) and crf ${hi.crf} (${Math.round(hi.kbps)} kbps, ${hi.ssim.toFixed(4)})` };
    }
  }
  return null;
}

/** A rung as the analysis sees it: the planned size and the template's rate. */
export interface MeasuredRung {
  name: string;
  width: number;
  height: number;
  templateKbps: number;
  /** The rung's own target; else the ladder's. */
  targetSsim?: number | undefined;
  points: CurvePoint[];
}

/**
 * Each rung's first rate for its target (its own `targetSsim`, else the ladder's `target`):
 * VBR_MARGIN above the curve's rate, between FLOOR_KBPS and CEILING_FACTOR × its template rate.
 * Every rung is kept here: which rungs add little is decided on the final rates, after the check
 * encodes (checkAndFit, dropRungs).
 *
 * @example chooseRates(rungs, 0.95).map((r) => r.chosenKbps)
 */
export function chooseRates(rungs: MeasuredRung[], ladderTarget: number): AutoRungState[] {
  return rungs.map((r) => {
    const target = r.targetSsim ?? ladderTarget;
    const ceiling = r.templateKbps * CEILING_FACTOR;
    const fit = rateFor(r.points, target);
    let kbps: number;
    let reason: string;
    if (!fit) {
      kbps = ceiling;
      const best = [...r.points].sort((a, b) => b.ssim - a.ssim)[0];
      reason = `no CRF point reached SSIM ${target} (best ${best ? best.ssim.toFixed(4) : '?'}): the ceiling, ${CEILING_FACTOR}x the template's ${r.templateKbps} kbps`;
    } else {
      const aimed = fit.kbps * VBR_MARGIN;
      kbps = Math.min(ceiling, Math.max(FLOOR_KBPS, aimed));
      const clamp = aimed > ceiling ? `, capped at ${CEILING_FACTOR}x the template rate` : aimed < FLOOR_KBPS ? `, raised to the ${FLOOR_KBPS} kbps floor` : '';
      reason = `${fit.how}; +${Math.round((VBR_MARGIN - 1) * 100)}% for capped VBR${clamp}`;
    }
    return { name: r.name, width: r.width, height: r.height, templateKbps: r.templateKbps, targetSsim: target, chosenKbps: Math.round(kbps), measuredSsim: null, measuredKbps: null, kept: true, reason, points: r.points };
  });
}

/**
 * The rungs that add little, dropped, on the final rates: going down the ladder, a rung is dropped
 * when the last kept rung above it (more pixels) either
 * - has a chosen rate within DROP_WITHIN of this one's (about the same bits), or
 * - really used, in its check encode, so few bits that its estimated peak (PEAK_FACTOR × the mean)
 *   fits in this rung's template rate: the viewers this rung was made for can play the bigger one
 *   (a still slide's 1080p at ~100 kbps serves the 360p rung's 800 kbps viewers).
 * The top rung is always kept.
 *
 * @example dropRungs(checked).filter((r) => r.kept).map((r) => r.name) // ['1080p'] for a still slide
 */
export function dropRungs(rungs: AutoRungState[]): AutoRungState[] {
  let last: AutoRungState | null = null;
  return rungs.map((r) => {
    if (!r.kept || r.chosenKbps === null) return r;
    if (last && last.chosenKbps !== null) {
      const close = last.chosenKbps <= r.chosenKbps * (1 + DROP_WITHIN);
      const peak = last.measuredKbps === null ? null : Math.round(last.measuredKbps * PEAK_FACTOR);
      const why = close
        ? `${r.chosenKbps} kbps is within ${Math.round(DROP_WITHIN * 100)}% of ${last.name}'s ${last.chosenKbps} kbps, which has more pixels`
        : peak !== null && peak <= r.templateKbps
          ? `${last.name} really used ${last.measuredKbps} kbps in its check encode (peak ~${peak} kbps), within this rung's template ${r.templateKbps} kbps: its viewers can play ${last.name}`
          : null;
      if (why) return { ...r, kept: false, chosenKbps: null, reason: `dropped: ${why} (${r.reason})` };
    }
    last = r;
    return r;
  });
}

/** The template's rung with a chosen rate: maxrate and bufsize keep their ratios to the rate. */
export function rungAt(r: Rung, kbps: number): Rung {
  const ratio = (v: number | undefined) => (v === undefined ? undefined : Math.max(kbps, Math.round((v / r.bitrateKbps) * kbps)));
  const maxrateKbps = ratio(r.maxrateKbps);
  const bufsizeKbps = ratio(r.bufsizeKbps);
  return { ...r, bitrateKbps: kbps, ...(maxrateKbps !== undefined ? { maxrateKbps } : {}), ...(bufsizeKbps !== undefined ? { bufsizeKbps } : {}) };
}

/** Outputs whose ladder is `auto: true`: they need an analysis before they can be planned. */
export function autoLadderOutputs(spec: JobSpec): ResolvedOutput[] {
  return spec.outputs.filter((o) => o.template.ladder?.auto === true && o.template.video);
}

/**
 * The spec the planner plans with: each analysed output's ladder holds its kept rungs at their
 * chosen rates (names, sizes and the rest of the template as they were).
 *
 * @example planJob(withChosenLadders(spec, choices), media)
 */
export function withChosenLadders(spec: JobSpec, choices: Map<string, AutoLadderState>): JobSpec {
  return {
    ...spec,
    outputs: spec.outputs.map((o) => {
      const choice = choices.get(o.name);
      const ladder = o.template.ladder;
      if (!choice || !ladder) return o;
      const rungs = ladder.rungs.flatMap((r) => {
        const c = choice.rungs.find((x) => x.name === r.name);
        // A rung the analysis did not see was merged away by the planner (same size as a later one).
        if (!c) return [];
        return c.kept && c.chosenKbps !== null ? [rungAt(r, c.chosenKbps)] : [];
      });
      return { ...o, template: { ...o.template, ladder: { ...ladder, rungs } } };
    }),
  };
}

/** The check encodes: after the first, at most this many more per rung (raises, lowerings, steps between the two). */
export const MAX_STEPS = 4;
/** A rung whose check SSIM leaves less than this share of its target's distortion (1 − SSIM) is tried lower. */
export const LOWER_BELOW = 0.9;
/** The search ends when the lowest rate that met the target is within this share of the highest that did not. */
export const BRACKET_WITHIN = 0.1;

/**
 * How much a rung that measured `measured` SSIM against `target` is raised: by the ratio of its
 * distortion (1 − SSIM) to the target's, between 1.1x and 2x. Near SSIM 1 a small SSIM gap is a
 * large distortion ratio, and at low rates capped VBR starves the keyframes, so a fixed small raise
 * barely moves the SSIM there (the bench's static slide: 0.982 at 50 kbps for a target of 0.999).
 *
 * @example raiseFactor(0.982, 0.999) // 2 (18x the target's distortion)
 */
export function raiseFactor(measured: number, target: number): number {
  const ratio = (1 - measured) / Math.max(1e-6, 1 - target);
  return Math.round(Math.min(2, Math.max(1.1, ratio)) * 100) / 100;
}

/** What a check encode measured of one rung: its SSIM and the mean rate it really used. */
export interface CheckResult {
  ssim: number;
  kbps: number;
}

interface CheckPoint {
  kbps: number;
  ssim: number;
  realKbps: number;
}

/**
 * The check encodes decide, both ways: the rungs are measured at their chosen rates (`measure`,
 * one check encode of the given rungs: their SSIM and real rate by name), then, per rung, up to
 * MAX_STEPS more checks:
 * - no rate met its target yet: raised by raiseFactor (up to its ceiling);
 * - a rate met it with room to spare (less than LOWER_BELOW of the target's distortion left), and
 *   none fell short: lowered by that share (at most halved, not below FLOOR_KBPS);
 * - rates on both sides of the target: the rate between them, interpolated on log(rate), until they
 *   are within BRACKET_WITHIN.
 * The curve of 2 s samples is only a first guess (off either way: the Mandelbrot zoom's 480p curve
 * reached no more than 0.9869, while the whole rendition at 2400 kbps reached 0.9927); the check,
 * when it covers the whole input, is the rendition's own encode, so its SSIM is the one the
 * rendition will have. Each rung ends at the lowest rate that met its target (else the last,
 * highest one tried, and its reason says it is short); only rungs that move are encoded again,
 * each step is in the rung's reason, and dropRungs then decides on these final rates.
 *
 * @example const { rungs, checks } = await checkAndFit(chooseRates(measured, 0.95), encodeAtRates)
 */
export async function checkAndFit(
  chosen: AutoRungState[],
  measure: (rungs: AutoRungState[]) => Promise<Map<string, CheckResult>>,
  maxSteps = MAX_STEPS,
): Promise<{ rungs: AutoRungState[]; checks: number }> {
  let rungs = chosen;
  let checks = 0;
  const pass = new Map<string, CheckPoint>();
  const fail = new Map<string, CheckPoint>();
  const apply = async (which: AutoRungState[]) => {
    checks++;
    const got = await measure(which);
    for (const c of which) {
      const m = got.get(c.name);
      if (!m || c.chosenKbps === null) continue;
      const pt = { kbps: c.chosenKbps, ssim: Math.round(m.ssim * 1e6) / 1e6, realKbps: Math.round(m.kbps * 10) / 10 };
      if (pt.ssim >= c.targetSsim) {
        if (!pass.has(c.name) || pt.kbps < pass.get(c.name)!.kbps) pass.set(c.name, pt);
      } else if (!fail.has(c.name) || pt.kbps > fail.get(c.name)!.kbps) fail.set(c.name, pt);
    }
  };
  const ceiling = (c: AutoRungState) => c.templateKbps * CEILING_FACTOR;
  // One decimal more than the target has (at least 4): 1.0000 on both sides of 0.99999 says nothing.
  const f4 = (x: number, t: number) => x.toFixed(Math.max(4, (String(t).split('.')[1]?.length ?? 0) + 1));
  await apply(rungs.filter((c) => c.kept && c.chosenKbps !== null));
  for (let step = 1; step <= maxSteps; step++) {
    const next = new Map<string, { kbps: number; note: string }>();
    for (const c of rungs) {
      if (!c.kept || c.chosenKbps === null) continue;
      const p = pass.get(c.name);
      const f = fail.get(c.name);
      const t = c.targetSsim;
      if (!p && f) {
        if (f.kbps >= ceiling(c)) continue;
        const factor = raiseFactor(f.ssim, t);
        const kbps = Math.min(ceiling(c), Math.round(f.kbps * factor));
        next.set(c.name, { kbps, note: `check ${step} at ${f.kbps} kbps measured SSIM ${f4(f.ssim, t)} < ${t}: raised ${factor}x to ${kbps} kbps` });
      } else if (p && f) {
        if (p.kbps <= f.kbps * (1 + BRACKET_WITHIN)) continue;
        const share = (t - f.ssim) / (p.ssim - f.ssim);
        const between = Math.exp(Math.log(f.kbps) + share * (Math.log(p.kbps) - Math.log(f.kbps)));
        const kbps = Math.round(Math.min(p.kbps / 1.02, Math.max(f.kbps * 1.02, between)));
        next.set(c.name, { kbps, note: `check ${step}: ${t} lies between ${f.kbps} kbps (${f4(f.ssim, t)}) and ${p.kbps} kbps (${f4(p.ssim, t)}): tried ${kbps} kbps` });
      } else if (p) {
        const left = (1 - p.ssim) / Math.max(1e-6, 1 - t);
        if (left >= LOWER_BELOW || p.kbps <= FLOOR_KBPS) continue;
        const factor = Math.round(Math.max(0.5, left) * 100) / 100;
        const kbps = Math.max(FLOOR_KBPS, Math.round(p.kbps * factor));
        next.set(c.name, { kbps, note: `check ${step} at ${p.kbps} kbps measured SSIM ${f4(p.ssim, t)} ≥ ${t} with room: lowered ${factor}x to ${kbps} kbps` });
      }
    }
    if (!next.size) break;
    rungs = rungs.map((c) => {
      const n = next.get(c.name);
      return n ? { ...c, chosenKbps: n.kbps, reason: `${c.reason}; ${n.note}` } : c;
    });
    await apply(rungs.filter((c) => next.has(c.name)));
  }
  rungs = rungs.map((c) => {
    if (!c.kept || c.chosenKbps === null) return c;
    const p = pass.get(c.name);
    const f = fail.get(c.name);
    if (p) return { ...c, chosenKbps: p.kbps, measuredSsim: p.ssim, measuredKbps: p.realKbps, reason: `${c.reason}; chosen: ${p.kbps} kbps, the lowest rate checked that met ${c.targetSsim} (SSIM ${f4(p.ssim, c.targetSsim)}, ${p.realKbps} kbps real)` };
    if (!f) return c;
    return { ...c, chosenKbps: f.kbps, measuredSsim: f.ssim, measuredKbps: f.realKbps, reason: `${c.reason}; still short of ${c.targetSsim} (SSIM ${f4(f.ssim, c.targetSsim)}) ${f.kbps >= ceiling(c) ? 'at its ceiling' : `after ${maxSteps} steps`}` };
  });
  return { rungs: dropRungs(rungs), checks };
}

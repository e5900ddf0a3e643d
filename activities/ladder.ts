/**
 * The per-title analysis (issue 15 item 5): short sample windows of the input, each encoded at
 * every rung's planned size at a few CRF points (one ffmpeg run per window: decode once, the
 * shared-encode argv of media/args/encode.ts) and scored with the quality scorer of item 6; the
 * rate/SSIM curves give each rung's rate for its target (media/per-title.ts), and a check encode
 * at the chosen rates (of the whole input when it is short, else of longer windows: checkWindows)
 * measures the SSIM and the rate they really reach; a rung short of its target is raised, one with
 * room to spare lowered, and checked again, a few times at most; then the rungs that add little
 * are dropped (checkAndFit).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { JobInput, JobSpec } from '../model/job';
import type { AutoLadderState, AutoRungState, MediaInfo } from '../model/job-state';
import { DEFAULT_TARGET_SSIM } from '../model/templates';
import { planJob, type TranscodeTask, type VideoPlan } from '../media/plan';
import { encodeArgs, encodeLayout } from '../media/args/encode';
import { checkAndFit, checkWindows, chooseRates, CRF_POINTS, MAX_STEPS, sampleWindows, type CheckResult, type CurvePoint } from '../media/per-title';
import { MediaflowError } from '../model/errors';
import { runFfmpeg } from './ffmpeg-run';
import { scoreFile } from './quality';
import { withLocalInput } from './local-input';
import { ffmpegTimeoutMs, withHeartbeats, withScratchDir } from './transcode';
import type { ActivityDeps } from './deps';

type Window = { startSec: number; durationSec: number };

/** A rung's task cut to one sample window, video only, as a plain MP4 with the given rate settings. */
function sampleTask(r: TranscodeTask, w: Window, label: string, video: VideoPlan): TranscodeTask {
  const startSec = Math.round(((r.clip?.startSec ?? 0) + w.startSec) * 1000) / 1000;
  return { ...r, id: `${r.id}@${label}`, name: `${r.name}@${label}`, container: 'mp4', video, audio: null, watermarks: [], clip: { startSec, durationSec: w.durationSec }, durationSec: w.durationSec, rung: null };
}

/** The rung's video at a capped VBR rate: maxrate and bufsize keep their ratios to the rate. */
function atRate(v: VideoPlan, kbps: number): VideoPlan {
  const base = v.bitrateKbps ?? kbps;
  const scale = (x: number | null) => (x === null ? null : Math.max(kbps, Math.round((x / base) * kbps)));
  return { ...v, crf: null, bitrateKbps: kbps, maxrateKbps: scale(v.maxrateKbps), bufsizeKbps: scale(v.bufsizeKbps) };
}

/** Per task: the summed bits, seconds, SSIM × frames and frames of its samples. */
interface Tally {
  bits: number;
  seconds: number;
  ssimFrames: number;
  frames: number;
}

export function createLadderAnalyzer(deps: ActivityDeps) {
  const { config, binaries } = deps;
  const limits = { threads: config.FFMPEG_THREADS, maxOutputBytes: config.MAX_OUTPUT_BYTES };

  /**
   * Measures `outputName`'s ladder on the input and chooses its rungs' rates.
   *
   * @example const choice = await analyze({ key: 'raw/a.mp4' }, spec, media, 'stream')
   */
  return async function analyze(source: JobInput, spec: JobSpec, media: MediaInfo, outputName: string): Promise<AutoLadderState> {
    const out = spec.outputs.find((o) => o.name === outputName);
    if (!out?.template.ladder) throw new MediaflowError('OutputNotPossible', `output "${outputName}" has no ladder to fit`);
    const targetSsim = out.template.ladder.targetSsim ?? DEFAULT_TARGET_SSIM;
    // The rungs as the planner makes them from this input (sizes, rate, GOP), watermarks aside.
    const plan = planJob({ ...spec, outputs: [{ ...out, watermarks: [], quality: false }], snapshots: [] }, media);
    const rungs = plan.tasks.filter((t): t is TranscodeTask => t.kind === 'transcode' && t.rung !== null && t.video !== null);
    const templateKbps = (r: TranscodeTask) => out.template.ladder!.rungs.find((x) => x.name === r.rung!.name)!.bitrateKbps;
    // Nothing to measure (the planner refuses the output): the plan says why, as for any ladder.
    if (!rungs.length) return { targetSsim, samples: [], checkWindows: [], crfPoints: [...CRF_POINTS], rungs: [] };
    const windows = sampleWindows(rungs[0]!.durationSec);
    const checks = checkWindows(rungs[0]!.durationSec);
    const rungTarget = (r: TranscodeTask) => out.template.ladder!.rungs.find((x) => x.name === r.rung!.name)!.targetSsim;

    return withLocalInput(deps, source, (input) =>
      withScratchDir(deps, (dir) =>
        withHeartbeats(async (report, signal) => {
          // The CRF pass's windows and the check windows × (the check + up to MAX_STEPS more), for progress.
          const steps = windows.length + checks.length * (1 + MAX_STEPS);
          let done = 0;
          let runs = 0;
          /** One ffmpeg run encoding `tasks` (one window), then each scored; tallies by task label. */
          const encodeAndScore = async (tasks: TranscodeTask[], into: Map<string, Tally>, keyOf: (t: TranscodeTask) => string) => {
            const runDir = path.join(dir, `run-${runs++}`);
            await fs.mkdir(runDir);
            const layout = encodeLayout(tasks, runDir);
            const seconds = tasks[0]!.durationSec;
            await runFfmpeg({
              binary: binaries.ffmpeg,
              args: encodeArgs(layout, input, limits, tasks.map(() => [])),
              durationSec: seconds,
              signal,
              timeoutMs: ffmpegTimeoutMs(seconds * tasks.length),
              stallMs: config.FFMPEG_STALL_SEC * 1000,
              nice: config.ENCODE_NICE,
            });
            for (const [k, r] of layout.renditions.entries()) {
              const score = await scoreFile(deps, { distorted: r.outputFile, source: input, task: r.task, watermarkFiles: [], dir: path.join(runDir, `score-${k}`), signal });
              const { size } = await fs.stat(r.outputFile);
              const t = into.get(keyOf(r.task)) ?? { bits: 0, seconds: 0, ssimFrames: 0, frames: 0 };
              t.bits += size * 8;
              t.seconds += seconds;
              t.ssimFrames += score.ssim * score.frames;
              t.frames += score.frames;
              into.set(keyOf(r.task), t);
            }
            report(Math.min(0.99, ++done / steps));
          };

          // 1. The curves: every rung at every CRF point, per window.
          const curve = new Map<string, Tally>();
          for (const [i, w] of windows.entries()) {
            const tasks = rungs.flatMap((r) => CRF_POINTS.map((crf) => sampleTask(r, w, `w${i}-crf${crf}`, { ...r.video!, crf, bitrateKbps: null, maxrateKbps: null, bufsizeKbps: null })));
            await encodeAndScore(tasks, curve, (t) => t.id.replace(/@w\d+-/, '@'));
          }
          const measured = rungs.map((r) => ({
            name: r.rung!.name,
            width: r.video!.width,
            height: r.video!.height,
            templateKbps: templateKbps(r),
            targetSsim: rungTarget(r),
            points: CRF_POINTS.map((crf): CurvePoint => {
              const t = curve.get(`${r.id}@crf${crf}`)!;
              return { crf, kbps: Math.round((t.bits / t.seconds / 1000) * 10) / 10, ssim: Math.round((t.ssimFrames / t.frames) * 1e6) / 1e6 };
            }),
          }));
          let chosen: AutoRungState[] = chooseRates(measured, targetSsim);

          // 2. The check encodes (media/per-title.ts checkAndFit): the rungs at their chosen rates,
          // capped VBR as the job will encode them, over the check windows; a rung below its target is
          // raised, one well above lowered, and checked again; then the rungs that add little are dropped.
          let pass = 0;
          const measure = async (which: AutoRungState[]): Promise<Map<string, CheckResult>> => {
            const tally = new Map<string, Tally>();
            const p = pass++;
            for (const [i, w] of checks.entries()) {
              const tasks = which.map((c) => {
                const r = rungs.find((x) => x.rung!.name === c.name)!;
                return sampleTask(r, w, `check${p}-w${i}`, atRate(r.video!, c.chosenKbps!));
              });
              await encodeAndScore(tasks, tally, (t) => t.id.replace(/@.*$/, ''));
            }
            return new Map(
              which.flatMap((c) => {
                const t = tally.get(rungs.find((x) => x.rung!.name === c.name)!.id);
                return t ? [[c.name, { ssim: t.ssimFrames / t.frames, kbps: t.bits / t.seconds / 1000 }] as const] : [];
              }),
            );
          };
          chosen = (await checkAndFit(chosen, measure)).rungs;
          report(1);
          return { targetSsim, samples: windows, checkWindows: checks, crfPoints: [...CRF_POINTS], rungs: chosen };
        }),
      ),
    );
  };
}

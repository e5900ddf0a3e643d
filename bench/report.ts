/** The bench's printed report: plain-text tables with ratios. Pure: result in, text out. */
import { categories, type Breakdown, type Category } from './overhead';
import type { Summary } from './stats';

/**
 * Aligns rows into columns: the first left-aligned, the others right-aligned.
 *
 * @example renderTable(['what', 'time'], [['job', '1.2 s']])
 */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Milliseconds as the table shows them: ms under a second, else seconds. */
export function duration(ms: number): string {
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function times(r: number | null): string {
  return r === null ? '–' : `${r.toFixed(2)}×`;
}

export function p50p99(s: Summary): string {
  return `${duration(s.p50)} / ${duration(s.p99)}`;
}

const short: Record<Category, string> = {
  ffmpeg: 'ffmpeg',
  probe: 'probe',
  outputCheck: 'check',
  storage: 'storage',
  otherActivity: 'other',
  queueing: 'queue',
  scheduling: 'sched',
  submit: 'submit',
  reporting: 'report',
};

/** One row per job (or group mean): wall, each category, and the overhead as a share of the wall. */
export function overheadTable(rows: readonly { label: string; b: Breakdown }[]): string {
  const used = categories.filter((c) => rows.some((r) => r.b.parts[c] >= 0.5));
  return renderTable(
    ['job', 'wall', ...used.map((c) => short[c]), 'wall − ffmpeg'],
    rows.map(({ label, b }) => [
      label,
      duration(b.wallMs),
      ...used.map((c) => duration(b.parts[c])),
      `${duration(b.overheadMs)} (${b.wallMs > 0 ? Math.round((b.overheadMs / b.wallMs) * 100) : 0} %)`,
    ]),
  );
}

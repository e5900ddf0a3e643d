/**
 * Progress for people: a bar redrawn in place on a terminal, plain `label 40%` lines (at most one
 * per 10 % step, no escape codes) when stdout is a file or a pipe.
 */

export interface Out {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const WIDTH = 24;
const REDRAW_MS = 100;

export function percent(fraction: number): number {
  return Math.max(0, Math.min(100, Math.floor(fraction * 100)));
}

export class ProgressBar {
  private step = -1;
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly out: Out,
    private label: string,
  ) {}

  get tty(): boolean {
    return Boolean(this.out.isTTY);
  }

  /** The label in front of the bar (the job's status), e.g. `processing`. */
  relabel(label: string): void {
    this.label = label;
  }

  /** `fraction` 0..1; `detail` follows the bar on a terminal (plain lines leave it out). */
  update(fraction: number, detail = '', force = false): void {
    const pct = percent(fraction);
    if (!this.tty) {
      const step = Math.floor(pct / 10);
      if (step > this.step) {
        this.step = step;
        this.out.write(`${this.label} ${pct}%\n`);
      }
      return;
    }
    const now = Date.now();
    if (!force && pct < 100 && now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    const filled = Math.round((pct / 100) * WIDTH);
    let line = `${this.label} [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${String(pct).padStart(3)}%${detail ? `  ${detail}` : ''}`;
    const columns = this.out.columns || 80;
    if (line.length > columns - 1) line = line.slice(0, Math.max(0, columns - 1));
    this.out.write(`\r\x1b[2K${line}`);
    this.drawn = true;
  }

  /** Counts 10 % steps afresh (a job that starts processing again after a retry). */
  restart(): void {
    this.step = -1;
  }

  /** Ends the bar's line on a terminal, so what follows starts on a fresh one. */
  finish(): void {
    if (this.tty && this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}

export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

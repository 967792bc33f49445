/**
 * A one-line progress bar for long benchmark steps (downloads, epochs).
 *
 * On a terminal it redraws itself in place with `\r`; anywhere else (CI logs, pipes, files) it prints a
 * fresh line only at each 10 % of progress plus one final line, so a log of a long run stays a few
 * lines long instead of thousands of carriage-return frames.
 * @module
 */

/** What the bar writes to: `process.stderr` fits, and so does a small fake in tests. */
export interface ProgressStream {
  write(text: string): unknown;
  /** True on a terminal: the bar then redraws one line in place. */
  readonly isTTY?: boolean;
  /** Terminal width; the line is cut to fit, because a wrapped line cannot be redrawn with `\r`. */
  readonly columns?: number;
}

export interface ProgressBarOptions {
  /** Shown before the bar: what is progressing (a file name, `epoch 3`). */
  label: string;
  /** Count at 100 %. Zero is allowed: the bar is then complete from the start. */
  total: number;
  /** Default `process.stderr`, so progress never mixes with results printed on stdout. */
  stream?: ProgressStream;
  /** Characters between the brackets (default 30). */
  width?: number;
  /** `'bytes'` prints sizes and speeds as kB/MB/GB instead of raw counts with `it/s`. */
  unit?: 'items' | 'bytes';
  /** Clock in milliseconds (default `performance.now`); injectable so tests get exact rates. */
  now?: () => number;
}

/** Redraws on a terminal at most this often: redrawing per byte of a download would cost more than it. */
const ttyRedrawMs = 100;
/** Non-terminal output: one line per tenth of progress. */
const logSteps = 10;

export class ProgressBar {
  readonly label: string;
  readonly total: number;
  private readonly stream: ProgressStream;
  private readonly width: number;
  private readonly unit: 'items' | 'bytes';
  private readonly now: () => number;
  private readonly startedAt: number;
  private done = 0;
  private extra: string | undefined;
  private finished = false;
  private finalLinePrinted = false;
  private lastDrawAt = -Infinity;
  private lastStepPrinted = 0;

  constructor(options: ProgressBarOptions) {
    const total = options.total;
    if (!Number.isFinite(total) || total < 0) {
      throw new RangeError(`ProgressBar: total must be a finite number >= 0, got ${String(total)}`);
    }
    this.label = options.label;
    this.total = total;
    this.stream = options.stream ?? process.stderr;
    this.width = Math.max(1, Math.floor(options.width ?? 30));
    this.unit = options.unit ?? 'items';
    this.now = options.now ?? (() => performance.now());
    this.startedAt = this.now();
    if (this.stream.isTTY === true) this.draw();
  }

  /** Adds `n` (default 1) to the count; `extra` replaces the text shown after the bar (a loss, say). */
  tick(n = 1, extra?: string): void {
    this.update(this.done + n, extra);
  }

  /** Sets the count to `done`. Calls after {@link finish} are ignored. */
  update(done: number, extra?: string): void {
    if (this.finished) return;
    this.done = Math.max(0, done);
    if (extra !== undefined) this.extra = extra;
    if (this.stream.isTTY === true) {
      const t = this.now();
      if (t - this.lastDrawAt >= ttyRedrawMs || this.done >= this.total) this.draw(t);
      return;
    }
    if (this.done >= this.total) {
      this.printFinalLine();
      return;
    }
    const step = Math.floor((logSteps * this.done) / this.total);
    if (step > this.lastStepPrinted) {
      this.lastStepPrinted = step;
      this.stream.write(`${this.render(this.now())}\n`);
    }
  }

  /** Prints the final state (elapsed time instead of the ETA) and ends the line. Idempotent. */
  finish(extra?: string): void {
    if (this.finished) return;
    if (extra !== undefined) this.extra = extra;
    this.finished = true;
    if (this.stream.isTTY === true) {
      this.draw();
      this.stream.write('\n');
    } else {
      this.printFinalLine();
    }
  }

  /** The line as it would be printed now (without `\r` or newline). */
  render(at: number = this.now()): string {
    const fraction = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const filled = Math.floor(fraction * this.width);
    const bar = '#'.repeat(filled) + '.'.repeat(this.width - filled);
    const seconds = Math.max(0, (at - this.startedAt) / 1000);
    const rate = seconds > 0 ? this.done / seconds : undefined;
    const count =
      this.unit === 'bytes'
        ? `${formatBytes(this.done, this.total)}/${formatBytes(this.total, this.total)} ${byteUnit(this.total)}`
        : `${this.done}/${this.total}`;
    let speed: string;
    if (this.unit === 'bytes') speed = rate === undefined ? '? B/s' : `${formatBytes(rate, rate)} ${byteUnit(rate)}/s`;
    else speed = rate === undefined ? '? it/s' : `${rate.toFixed(1)} it/s`;
    let time: string;
    if (this.finished || this.done >= this.total) time = `in ${seconds < 10 ? `${seconds.toFixed(1)}s` : formatDuration(seconds)}`;
    else if (rate === undefined || rate === 0) time = 'ETA ?';
    else time = `ETA ${formatDuration((this.total - this.done) / rate)}`;
    const parts = [this.label, `[${bar}]`, count, speed, time];
    if (this.extra !== undefined && this.extra !== '') parts.push(this.extra);
    return parts.join(' ');
  }

  private draw(at: number = this.now()): void {
    this.lastDrawAt = at;
    let line = this.render(at);
    const columns = this.stream.columns;
    if (columns !== undefined && columns > 1 && line.length > columns - 1) line = line.slice(0, columns - 1);
    // `\x1b[K` clears what a longer previous frame left at the end of the line.
    this.stream.write(`\r${line}\x1b[K`);
  }

  private printFinalLine(): void {
    if (this.finalLinePrinted) return;
    this.finalLinePrinted = true;
    this.stream.write(`${this.render(this.now())}\n`);
  }
}

const byteScales: readonly [number, string][] = [
  [1e9, 'GB'],
  [1e6, 'MB'],
  [1e3, 'kB'],
];

/** The unit that `formatBytes(_, scaleBy)` uses: chosen from one reference size so `4.2/9.9 MB` share it. */
function byteUnit(scaleBy: number): string {
  for (const [size, name] of byteScales) if (scaleBy >= size) return name;
  return 'B';
}

function formatBytes(bytes: number, scaleBy: number): string {
  for (const [size] of byteScales) if (scaleBy >= size) return (bytes / size).toFixed(1);
  return String(Math.round(bytes));
}

/** `7s`, `2m05s`, `1h03m`: whole seconds rounded up, so an ETA never reads 0s while work remains. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.ceil(Math.max(0, seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

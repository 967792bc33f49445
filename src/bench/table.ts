/**
 * Tables for benchmark reports: GitHub-flavoured markdown whose columns are padded to a common width,
 * so the same text reads well in a terminal and renders as a table when pasted into a README or an issue.
 * @module
 */
import { listOptimizers } from '../tfjs/registry.js';
import type { Aggregate, ComparisonSummary, Stat } from './results.js';
import type { MetricInfo } from './tasks/types.js';

/** Column alignment. */
export type Align = 'left' | 'right';

export interface Column {
  header: string;
  /** Default `'left'`; numbers read best right-aligned. */
  align?: Align;
}

/** Escapes what would break a markdown table cell: `|` and line breaks. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Display width, counting each code point as one column (enough for the text these tables hold). */
function width(text: string): number {
  return [...text].length;
}

function pad(text: string, w: number, align: Align): string {
  const fill = ' '.repeat(Math.max(0, w - width(text)));
  return align === 'right' ? fill + text : text + fill;
}

/**
 * A markdown table with padded columns; a column given as a string is its header, left-aligned. Rows shorter than the header are filled with empty cells;
 * longer ones are an error.
 *
 * @example
 * formatTable([{header: 'optimizer'}, {header: 'loss', align: 'right'}], [['muon', '0.31']]);
 * // | optimizer | loss |
 * // | :-------- | ---: |
 * // | muon      | 0.31 |
 */
export function formatTable(columnsOrHeaders: readonly (Column | string)[], rows: readonly (readonly string[])[]): string {
  const columns = columnsOrHeaders.map((c): Column => (typeof c === 'string' ? { header: c } : c));
  rows.forEach((r, i) => {
    if (r.length > columns.length) {
      throw new RangeError(`formatTable: row ${i} has ${r.length} cells, but there are ${columns.length} columns`);
    }
  });
  const cells = rows.map((r) => columns.map((_, c) => cell(r[c] ?? '')));
  const headers = columns.map((c) => cell(c.header));
  const widths = columns.map((_, c) => Math.max(3, width(headers[c]), ...cells.map((r) => width(r[c]))));
  const aligns = columns.map((c) => c.align ?? 'left');
  const line = (parts: string[]) => `| ${parts.join(' | ')} |`;
  const rule = widths.map((w, c) => (aligns[c] === 'right' ? `${'-'.repeat(w - 1)}:` : `:${'-'.repeat(w - 1)}`));
  return [
    line(headers.map((h, c) => pad(h, widths[c], aligns[c]))),
    line(rule),
    ...cells.map((r) => line(r.map((t, c) => pad(t, widths[c], aligns[c])))),
  ].join('\n');
}

/** A number with `digits` decimals; `n/a` for NaN and ±Inf. */
export function formatNumber(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

/** `mean ± std` (just the mean for one value), `n/a` when there is none. */
export function formatStat(st: Stat, digits: number, scale = 1): string {
  if (st.n === 0) return 'n/a';
  const m = (st.mean * scale).toFixed(digits);
  return st.n > 1 ? `${m} ± ${(st.std * scale).toFixed(digits)}` : m;
}

/** A metric's value as text: accuracies as percentages, others with 4 decimals. */
export function formatMetric(metric: MetricInfo, st: Stat): string {
  return metric.name === 'accuracy' ? (st.n === 0 ? 'n/a' : `${formatStat(st, 2, 100)}%`) : formatStat(st, 4);
}

/**
 * The summary table of a comparison, one row per optimizer (mean ± std over seeds): learning rate,
 * final training loss (mean of the last 10 % of steps), validation loss and metric, test metric,
 * steps and wall-clock seconds to the target loss (with how many seeds reached it), ms per step in total and
 * in the optimizer.
 */
export function comparisonTable(summary: Pick<ComparisonSummary, 'aggregates' | 'metric' | 'seeds'>): string {
  const seeds = summary.seeds.length;
  return formatTable(
    [
      { header: 'optimizer' },
      { header: 'lr', align: 'right' },
      { header: 'train loss', align: 'right' },
      { header: 'val loss', align: 'right' },
      { header: `val ${summary.metric.name}`, align: 'right' },
      { header: `test ${summary.metric.name}`, align: 'right' },
      { header: 'steps to target', align: 'right' },
      { header: 's to target', align: 'right' },
      { header: 'ms/step', align: 'right' },
      { header: 'optimizer ms/step', align: 'right' },
    ],
    summary.aggregates.map((a) => [
      a.label,
      a.learningRate === null ? 'default' : String(Number(a.learningRate.toPrecision(3))),
      formatStat(a.trainLoss, 4),
      formatStat(a.validationLoss, 4),
      formatMetric(summary.metric, a.validationMetric),
      formatMetric(summary.metric, a.testMetric),
      a.stepsToTarget.n === 0 ? 'not reached' : `${formatStat(a.stepsToTarget, 0)}${a.stepsToTarget.n < seeds ? ` (${a.stepsToTarget.n}/${seeds})` : ''}`,
      a.secondsToTarget.n === 0 ? '—' : formatStat(a.secondsToTarget, 1),
      formatStat(a.msPerStep, 1),
      formatStat(a.msPerStepOptimizer, 1),
    ]),
  );
}

/** True for optimizers that orthogonalize with Newton–Schulz (their options include `nsSteps`). */
function usesNewtonSchulz(optimizer: string): boolean {
  try {
    return listOptimizers().find((o) => o.name === optimizer)?.options.includes('nsSteps') ?? false;
  } catch {
    return false;
  }
}

/** The part of a summary the caption and the verdict read. */
export type CaptionSummary = Pick<
  ComparisonSummary,
  'task' | 'aggregates' | 'metric' | 'seeds' | 'dataSource' | 'model' | 'steps' | 'batch' | 'backend' | 'engine' | 'target'
> &
  Partial<Pick<ComparisonSummary, 'data' | 'fallback' | 'requestedTask'>>;

/** What the data was, in one phrase: the task's own description, else its source. */
export function describeData(summary: CaptionSummary): string {
  if (summary.data != null) return summary.data.description;
  if (summary.dataSource === 'synthetic' || summary.dataSource === 'generated') return 'generated from the seed (no files)';
  return summary.dataSource;
}

/**
 * The caption printed above the console table: which data (full set or embedded subset, and how many
 * examples), the model and run length, each optimizer's learning rate, and the Newton–Schulz engine
 * each optimizer used and why (`describeEngine`, e.g. `auto → onnxruntime on backend wasm`;
 * optimizers without an orthogonalization use none), and what "steps to target" counts.
 */
export function comparisonCaption(summary: CaptionSummary): string {
  const seeds = summary.seeds.length === 1 ? `seed ${summary.seeds[0]}` : `seeds ${summary.seeds.join(', ')}`;
  const lines = [
    `${summary.task}: ${summary.steps} steps × batch ${summary.batch}, ${seeds}, backend ${summary.backend}`,
    `  data: ${describeData(summary)}`,
  ];
  if (summary.fallback != null) lines.push(`  instead of ${summary.requestedTask ?? 'the requested task'}: ${summary.fallback}`);
  lines.push(`  model: ${summary.model}`);
  const rate = (lr: number | null): string => (lr === null ? "the optimizer's default" : String(Number(lr.toPrecision(3))));
  lines.push(`  learning rates: ${summary.aggregates.map((a) => `${a.label} ${rate(a.learningRate)}`).join(', ')}`);
  lines.push(
    `  engine: ${summary.aggregates
      .map((a) => `${a.label} ${usesNewtonSchulz(a.optimizer) ? summary.engine : 'none (no Newton–Schulz step)'}`)
      .join('; ')}`,
  );
  if (summary.target !== null) {
    lines.push(`  steps to target: first step whose smoothed training loss is ≤ ${summary.target.value.toFixed(4)} (${summary.target.rule})`);
  }
  return lines.join('\n');
}

/** Who is best on one measure: the labels tied for best (at the table's precision), or none when no value. */
function best(
  aggregates: readonly Aggregate[],
  value: (a: Aggregate) => Stat,
  higherIsBetter: boolean,
  shown: (v: number) => string,
): string[] {
  const scored = aggregates.filter((a) => value(a).n > 0 && Number.isFinite(value(a).mean));
  if (scored.length === 0) return [];
  const pick = higherIsBetter ? Math.max : Math.min;
  const top = shown(pick(...scored.map((a) => value(a).mean)));
  return scored.filter((a) => shown(value(a).mean) === top).map((a) => a.label);
}

/**
 * Says in words which optimizer wins on which measure — lowest training loss, fewest steps and seconds
 * to the target, lowest validation loss, best validation metric, best test metric — and never names one
 * winner that another measure contradicts: when the training measures or the validation loss favour
 * another optimizer than the validation metric, it says so. Ties are judged at the table's precision. Empty for a single optimizer.
 */
export function comparisonVerdict(summary: Pick<ComparisonSummary, 'aggregates' | 'metric'>): string {
  const aggs = summary.aggregates;
  if (aggs.length < 2) return '';
  const m = summary.metric;
  const metricText = (v: number): string => formatMetric(m, { mean: v, std: 0, min: v, max: v, n: 1 });
  const loss = (v: number): string => v.toFixed(4);
  const measures = [
    { what: 'lowest train loss', winners: best(aggs, (a) => a.trainLoss, false, loss) },
    { what: 'fewest steps to target', winners: best(aggs, (a) => a.stepsToTarget, false, (v) => v.toFixed(0)) },
    { what: 'fewest seconds to target', winners: best(aggs, (a) => a.secondsToTarget, false, (v) => v.toFixed(1)) },
    { what: 'lowest validation loss', winners: best(aggs, (a) => a.validationLoss, false, loss) },
    { what: `best validation ${m.name}`, winners: best(aggs, (a) => a.validationMetric, m.higherIsBetter, metricText) },
    { what: `best test ${m.name}`, winners: best(aggs, (a) => a.testMetric, m.higherIsBetter, metricText) },
  ].filter((x) => x.winners.length > 0);
  const names = (w: string[]): string => (w.length === aggs.length ? `tie (${w.join(', ')})` : w.join(' and '));
  const parts = measures.map((x) => `${x.what}: ${names(x.winners)}`);
  const validation = measures.find((x) => x.what === `best validation ${m.name}`);
  // The measures that can contradict the validation metric: training loss, steps and seconds to target,
  // validation loss.
  const contest = measures.filter((x) => x !== validation && !x.what.startsWith('best test'));
  let conclusion: string;
  if (validation === undefined) {
    conclusion = `No validation ${m.name} to judge by`;
  } else if (validation.winners.length > 1) {
    conclusion = `No winner on validation ${m.name} (a tie)`;
  } else {
    const v = validation.winners[0];
    // A tie on a measure contradicts nobody; a single other winner does.
    const others = contest.filter((x) => x.winners.length === 1 && x.winners[0] !== v);
    conclusion =
      others.length === 0
        ? `Winner: ${v}, on validation ${m.name} and on every other measure it is not tied on`
        : `No single winner: ${others.map((x) => `${x.what} goes to ${names(x.winners)}`).join(', ')}, but validation ${m.name} favours ${v}`;
  }
  return `${parts.join('; ')}.\n${conclusion}.`;
}

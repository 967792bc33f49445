/**
 * Tables for benchmark reports: GitHub-flavoured markdown whose columns are padded to a common width,
 * so the same text reads well in a terminal and renders as a table when pasted into a README or an issue.
 * @module
 */
import type { ComparisonSummary, Stat } from './results.js';
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
 * A markdown table with padded columns. Rows shorter than the header are filled with empty cells;
 * longer ones are an error.
 *
 * @example
 * formatTable([{header: 'optimizer'}, {header: 'loss', align: 'right'}], [['muon', '0.31']]);
 * // | optimizer | loss |
 * // | :-------- | ---: |
 * // | muon      | 0.31 |
 */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
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
 * steps to the target loss (with how many seeds reached it), ms per step in total and in the optimizer.
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
      formatStat(a.msPerStep, 1),
      formatStat(a.msPerStepOptimizer, 1),
    ]),
  );
}

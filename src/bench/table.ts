/**
 * Tables for benchmark reports: GitHub-flavoured markdown whose columns are padded to a common width,
 * so the same text reads well in a terminal and renders as a table when pasted into a README or an issue.
 * @module
 */
import type { ComparisonResult } from './runner.js';

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

/**
 * The summary table of a comparison: per optimizer the final training loss (mean of the last 10 % of
 * steps), test accuracy and loss, and milliseconds per step in total and inside the optimizer.
 */
export function comparisonTable(result: Pick<ComparisonResult, 'runs'>): string {
  return formatTable(
    [
      { header: 'optimizer' },
      { header: 'train loss (last 10%)', align: 'right' },
      { header: 'test acc', align: 'right' },
      { header: 'test loss', align: 'right' },
      { header: 'ms/step', align: 'right' },
      { header: 'optimizer ms/step', align: 'right' },
    ],
    result.runs.map((r) => [
      r.optimizer,
      formatNumber(r.final.trainLoss, 4),
      Number.isFinite(r.final.testAccuracy) ? `${(100 * r.final.testAccuracy).toFixed(2)}%` : 'n/a',
      formatNumber(r.final.testLoss, 4),
      formatNumber(r.timing.msPerStep, 1),
      formatNumber(r.timing.msPerStepOptimizer, 1),
    ]),
  );
}

/**
 * `orthoptim report`: a Markdown report and a self-contained HTML page, with SVG and PNG plots, from a
 * results directory written by `orthoptim bench` (layout in `src/bench/results.ts`).
 *
 * Plots are Vega-Lite specs (`specs.ts`) compiled by `vega-lite`, drawn to SVG by `vega` and to PNG by
 * `@resvg/resvg-js`; these are loaded only when a report is written (install them with
 * `npm install --save-dev vega vega-lite @resvg/resvg-js`).
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildDocument, type Figure } from './document.js';
import { renderHtml } from './html.js';
import { renderMarkdown } from './markdown.js';
import { readResults } from './read.js';
import { loadRenderers, renderSvg, svgToPng } from './render.js';

export { ResultsFormatError, readResults, parseLog, type ResultsData, type ComparisonData, type ExtraData } from './read.js';
export { formatNumber, formatStat, formatSteps } from './format.js';

export interface ReportOptions {
  /** Output folder (default `<resultsDir>/report`). */
  out?: string;
  /** Also write a PNG of every plot (default true; false: `@resvg/resvg-js` is not needed). */
  png?: boolean;
  /** Page title (default `'orthoptim benchmark report'`). */
  title?: string;
  /** Where the one line about skipped PNGs goes (default `console.log`). */
  log?: (line: string) => void;
}

export interface ReportOutput {
  /** Absolute paths of every file written. */
  files: string[];
  markdown: string;
  html: string;
  /** Set when PNGs were wanted but `@resvg/resvg-js` cannot load here: what is missing and how to get it. */
  pngSkipped: string | null;
}

/**
 * Reads `resultsDir` and writes `report.md`, `report.html` and `plots/<name>.svg` (+ `.png`) into
 * `options.out`. Throws when the directory holds no results or a file in the wrong format (the error
 * names the file, and the line of a log), or when a plotting package is missing (naming it).
 * A plot that cannot be drawn (only possible for specs written by other experiments) is reported in
 * the page instead.
 */
export async function writeReport(resultsDir: string, options: ReportOptions = {}): Promise<ReportOutput> {
  const png = options.png ?? true;
  const data = readResults(resultsDir);
  const out = resolve(options.out ?? join(data.dir, 'report'));
  const renderers = await loadRenderers(png);
  if (renderers.pngSkipped !== null) (options.log ?? ((line: string) => console.log(line)))(renderers.pngSkipped);
  const pngOut = renderers.resvg !== null;
  const doc = buildDocument(data, options.title ?? 'orthoptim benchmark report');

  const plotsDir = join(out, 'plots');
  mkdirSync(plotsDir, { recursive: true });
  const files: string[] = [];
  const write = (path: string, content: string | Buffer) => {
    writeFileSync(path, content);
    files.push(path);
  };
  const figures: Figure[] = doc.sections.flatMap((s) => s.blocks.flatMap((b) => (b.kind === 'figure' ? [b.figure] : [])));
  for (const figure of figures) {
    try {
      figure.svg = await renderSvg(renderers, figure.spec, figure.baseDir);
    } catch (error) {
      // Our own specs are tested; one written by another experiment may not compile.
      if (figure.baseDir === undefined) throw error;
      figure.error = (error as Error).message;
      continue;
    }
    write(join(plotsDir, `${figure.name}.svg`), figure.svg);
    if (pngOut) write(join(plotsDir, `${figure.name}.png`), svgToPng(renderers, figure.svg));
  }
  const markdown = renderMarkdown(doc, { png: pngOut });
  const html = renderHtml(doc);
  write(join(out, 'report.md'), markdown);
  write(join(out, 'report.html'), html);
  return { files, markdown, html, pngSkipped: renderers.pngSkipped };
}

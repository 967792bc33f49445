/**
 * The report as a document — sections of facts, notices, tables and figures (figures as Vega-Lite
 * specs) — built from the data read by `read.ts`. `markdown.ts` and `html.ts` write the same
 * document; `index.ts` renders its figures.
 * @module
 */
import type { ClaimsFile } from '../bench/claims.js';
import type { Aggregate, ComparisonSummary, NsTimingSummary } from '../bench/results.js';
import { colorScale, describeSmoothing, evalCurves, lossCurves, restrictScale, smoothingFor, type BandPoint, type ColorScale, type LabelledLog } from './curves.js';
import { formatNumber, formatRate, formatSeconds, formatStat, formatSteps } from './format.js';
import type { ComparisonData, ExtraData, ResultsData } from './read.js';
import { bandLineSpec, logDomain, nsTimingSpec, stepsToTargetSpec, type AxisOptions, type TargetBar, type TimingPoint } from './specs.js';
import { orthogonalityBlocks } from './orthogonality.js';

/** A table cell; `strong` marks the best value of a column. */
export interface Cell {
  text: string;
  strong?: boolean;
}

export interface Table {
  caption?: string;
  columns: { header: string; align?: 'left' | 'right' }[];
  rows: Cell[][];
}

/** A plot: its spec, and once rendered its SVG (or why it could not be drawn). */
export interface Figure {
  /** File stem under `plots/`. */
  name: string;
  title: string;
  caption: string;
  spec: Record<string, unknown>;
  /** Folder data URLs in the spec resolve against (specs written by other experiments). */
  baseDir?: string;
  svg?: string;
  error?: string;
}

export type Block = { kind: 'table'; table: Table } | { kind: 'figure'; figure: Figure } | { kind: 'text'; text: string };

export interface Section {
  id: string;
  title: string;
  facts: [string, string][];
  /** Warnings shown prominently (e.g. the synthetic fallback). */
  notices: string[];
  blocks: Block[];
}

export interface ReportDocument {
  title: string;
  resultsDir: string;
  generatedAt: string;
  warnings: string[];
  sections: Section[];
}

/** A file-name-safe stem. */
export function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'x';
}

function machineText(m: ComparisonSummary['machine'] | undefined): string {
  if (!m) return '—';
  return `${m.cpu} (${m.cores} cores, ${formatNumber(m.memoryGiB)} GiB), ${m.platform}/${m.arch}, Node ${m.node}, tfjs ${m.tfjs}`;
}

/** Indices of the best finite value in a column (lowest, or highest when `higher`). */
function best(values: (number | null | undefined)[], higher: boolean): Set<number> {
  const finite = values.map((v, i) => ({ v, i })).filter((e): e is { v: number; i: number } => typeof e.v === 'number' && Number.isFinite(e.v));
  if (finite.length < 2) return new Set();
  const target = higher ? Math.max(...finite.map((e) => e.v)) : Math.min(...finite.map((e) => e.v));
  return new Set(finite.filter((e) => e.v === target).map((e) => e.i));
}

function aggregateTable(summary: ComparisonSummary): Table {
  const aggs = summary.aggregates;
  const m = summary.metric;
  const arrow = m.higherIsBetter ? '↑' : '↓';
  const mean = (get: (a: Aggregate) => { mean: number; n: number } | undefined) => aggs.map((a) => (get(a)?.n ? get(a)?.mean : null));
  const bestVal = best(mean((a) => a.validationLoss), false);
  const bestMetric = best(mean((a) => a.validationMetric), m.higherIsBetter);
  const bestTest = best(mean((a) => a.testMetric), m.higherIsBetter);
  const bestSteps = best(mean((a) => a.stepsToTarget), false);
  const bestSeconds = best(mean((a) => a.secondsToTarget), false);
  const seedsOf = (label: string) => summary.runs.filter((r) => r.label === label).length || summary.seeds.length;
  return {
    caption: `Mean ± standard deviation over seeds (${summary.seeds.length}); bold: best of the column. Training loss: mean over the last 10 % of steps.`,
    columns: [
      { header: 'optimizer' },
      { header: 'lr', align: 'right' },
      { header: 'train loss ↓', align: 'right' },
      { header: 'validation loss ↓', align: 'right' },
      { header: `validation ${m.name} ${arrow}`, align: 'right' },
      { header: `test ${m.name} ${arrow}`, align: 'right' },
      { header: 'ms/step', align: 'right' },
      { header: 'optimizer ms/step', align: 'right' },
      { header: 'steps to target', align: 'right' },
      { header: 's to target', align: 'right' },
    ],
    rows: aggs.map((a, i) => [
      { text: a.label === a.optimizer || !a.optimizer ? a.label : `${a.label} (${a.optimizer})` },
      { text: formatRate(a.learningRate) },
      { text: formatStat(a.trainLoss) },
      { text: formatStat(a.validationLoss), strong: bestVal.has(i) },
      { text: formatStat(a.validationMetric), strong: bestMetric.has(i) },
      { text: formatStat(a.testMetric), strong: bestTest.has(i) },
      { text: formatStat(a.msPerStep) },
      { text: formatStat(a.msPerStepOptimizer) },
      { text: summary.target ? formatSteps(a.stepsToTarget, seedsOf(a.label)) : '—', strong: bestSteps.has(i) },
      { text: summary.target && a.secondsToTarget?.n ? formatStat(a.secondsToTarget) : '—', strong: bestSeconds.has(i) },
    ]),
  };
}

/**
 * The learning-rate sweep: the runner tries each optimizer at its default rate times each factor of
 * `summary.sweep.grid` (points in grid order), so a column is a factor and a cell names its rate.
 */
function sweepTable(summary: ComparisonSummary): Table | null {
  if (!summary.sweep || !summary.aggregates.some((a) => a.sweep && a.sweep.length > 0)) return null;
  const grid = summary.sweep.grid;
  const width = Math.max(grid.length, ...summary.aggregates.map((a) => a.sweep?.length ?? 0));
  const aligned = summary.aggregates.every((a) => !a.sweep || a.sweep.length === grid.length);
  return {
    caption:
      `Learning-rate sweep: validation loss after ${summary.sweep.steps} steps on seed ${summary.seeds[0]}, ` +
      `at each optimizer's default rate times each factor; bold: the rate chosen for the full runs; "diverged": non-finite loss.`,
    columns: [
      { header: 'optimizer' },
      ...Array.from({ length: width }, (_, i) => ({ header: aligned ? `lr × ${formatRate(grid[i])}` : `trial ${i + 1}`, align: 'right' as const })),
    ],
    rows: summary.aggregates.map((a) => [
      { text: a.label },
      ...Array.from({ length: width }, (_, i) => {
        const point = a.sweep?.[i];
        if (!point) return { text: '—' };
        const loss = point.validationLoss === null ? 'diverged' : formatNumber(point.validationLoss);
        return { text: `${loss} (lr ${formatRate(point.learningRate)})`, strong: a.learningRate === point.learningRate };
      }),
    ]),
  };
}

/** Runs that stopped on a non-finite loss, and optimizers whose every sweep trial diverged. */
function divergenceNotes(summary: ComparisonSummary): string[] {
  const notes = summary.runs
    .filter((r) => typeof r.diverged === 'number')
    .map((r) => `${r.label} (seed ${r.seed}) stopped at step ${r.diverged}: the training loss was not finite.`);
  for (const a of summary.aggregates) {
    if (a.sweep && a.sweep.length > 0 && a.sweep.every((p) => p.validationLoss === null) && !summary.runs.some((r) => r.label === a.label)) {
      notes.push(`${a.label}: every learning rate of the sweep diverged, so it was not run.`);
    }
  }
  return notes;
}

function comparisonFacts(s: ComparisonSummary): [string, string][] {
  const facts: [string, string][] = [
    ['task', s.requestedTask && s.requestedTask !== s.task ? `${s.task} (requested: ${s.requestedTask})` : s.task],
  ];
  if (s.taskSummary) facts.push(['about', s.taskSummary]);
  facts.push(
    ['data source', s.dataSource ?? '—'],
    ['model', s.parameters ? `${s.model} (${s.parameters.toLocaleString('en-US')} parameters)` : s.model],
    ['splits', `train ${s.splits.train}, validation ${s.splits.validation}, test ${s.splits.test}`],
    ['steps', String(s.steps)],
    ['batch', String(s.batch)],
    ['seeds', s.seeds.join(', ')],
    ['evaluation', s.evalEvery ? `every ${s.evalEvery} steps` : 'at the end'],
  );
  if (s.sweep) facts.push(['learning-rate sweep', `default rate × ${s.sweep.grid.map(formatRate).join(', ')}, ${s.sweep.steps} steps each`]);
  if (s.target) {
    const window = s.target.smoothing > 1 ? `, loss smoothed over ${s.target.smoothing} steps` : '';
    facts.push(['target', `training loss ≤ ${formatNumber(s.target.value)} (${s.target.rule}${window})`]);
  }
  facts.push(['backend', s.backend], ['engine', s.engine ?? '—'], ['machine', machineText(s.machine)]);
  if (s.timingMethod) facts.push(['timing', s.timingMethod]);
  if (s.startedAt) facts.push(['started', s.startedAt]);
  if (typeof s.wallSeconds === 'number') facts.push(['wall time', formatSeconds(s.wallSeconds)]);
  if (Array.isArray(s.command) && s.command.length > 0) facts.push(['command', s.command.join(' ')]);
  return facts;
}

/**
 * The y axis of a loss plot: a log scale (loss spans decades; a linear axis flattens everything after
 * the first drop) whose domain holds the curves, their bands and the target line, so the rule is always
 * drawn inside the frame. A linear axis (still holding the target) when some value is not positive.
 */
export function lossAxis(title: string, points: readonly BandPoint[], target: number | undefined): AxisOptions & { log: boolean } {
  const values = points.flatMap((p) => [p.mean, p.min, p.max]);
  if (target !== undefined) values.push(target);
  const log = logDomain(values);
  if (log) return { title, log: true, domain: log };
  const finite = values.filter((v) => Number.isFinite(v));
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  const pad = 0.05 * (hi - lo || Math.abs(hi) || 1);
  return { title, log: false, domain: finite.length > 0 ? [lo - pad, hi + pad] : undefined };
}

function comparisonSection(c: ComparisonData, colors: ColorScale): Section {
  const s = c.summary;
  const stem = slug(c.folder);
  const runs: LabelledLog[] = s.runs.flatMap((r) => {
    const lines = c.logs.get(r.id);
    return lines ? [{ label: r.label, lines }] : [];
  });
  const labels = [...new Set([...s.aggregates.map((a) => a.label), ...s.runs.map((r) => r.label)])];
  const color = restrictScale(colors, labels);
  const smoothing = smoothingFor(s);
  const curves = lossCurves(runs, smoothing);
  const seedsText = s.seeds.length >= 2 ? `mean over ${s.seeds.length} seeds (line) with the min–max over seeds (band)` : 'one seed';
  const lossTitle = smoothing.kind === 'window' && smoothing.size <= 1 ? 'training loss' : 'training loss (smoothed)';
  const rule = s.target ? { y: s.target.value, label: `target ${formatNumber(s.target.value)}` } : undefined;
  const ruleText = s.target ? ' Dashed: the loss target of steps-to-target (how it was chosen: see "target" above).' : '';
  const stepAxis = lossAxis(lossTitle, curves.byStep, s.target?.value);
  const timeAxis = lossAxis(lossTitle, curves.byTime, s.target?.value);
  const scaleText = (a: { log: boolean }) => (a.log ? 'log-scale loss axis' : 'linear loss axis (some loss is not positive)');
  const blocks: Block[] = [{ kind: 'table', table: aggregateTable(s) }];
  const figure = (figure: Figure) => blocks.push({ kind: 'figure', figure });
  if (curves.byStep.length > 0) {
    figure({
      name: `${stem}-loss-vs-step`,
      title: 'Training loss vs step',
      caption: `Training loss against step, ${seedsText}; loss ${describeSmoothing(smoothing)}; ${scaleText(stepAxis)}.${ruleText}`,
      spec: bandLineSpec({ title: `${s.task}: training loss vs step`, x: { title: 'step' }, y: stepAxis, points: curves.byStep, color, rule }),
    });
  }
  if (curves.byTime.length > 0) {
    figure({
      name: `${stem}-loss-vs-time`,
      title: 'Training loss vs wall-clock',
      caption: `Training loss against training wall-clock seconds (evaluations excluded; x is the mean over seeds of the time at each step), ${seedsText}; loss ${describeSmoothing(smoothing)}; ${scaleText(timeAxis)}.${ruleText}`,
      spec: bandLineSpec({ title: `${s.task}: training loss vs wall-clock`, x: { title: 'training wall-clock (s)' }, y: timeAxis, points: curves.byTime, color, rule }),
    });
  }
  const metric = evalCurves(runs, 'validation', 'metric');
  if (metric.length > 0) {
    figure({
      name: `${stem}-validation-metric`,
      title: `Validation ${s.metric.name} vs step`,
      caption: `Validation ${s.metric.name} (${s.metric.higherIsBetter ? 'higher' : 'lower'} is better) at each evaluation on the validation split, ${seedsText}; not smoothed.`,
      spec: bandLineSpec({
        title: `${s.task}: validation ${s.metric.name} vs step`,
        x: { title: 'step' },
        y: { title: `validation ${s.metric.name}` },
        points: metric,
        color,
        markers: true,
      }),
    });
  } else if (runs.length > 0) {
    blocks.push({ kind: 'text', text: 'No validation evaluations in the logs (run with an evaluation interval to get the validation curve).' });
  }
  if (s.target) {
    const bars: TargetBar[] = s.aggregates.map((a) => {
      const st = a.stepsToTarget;
      const reached = st && st.n > 0 && Number.isFinite(st.mean);
      return {
        label: a.label,
        mean: reached ? st.mean : null,
        min: reached ? st.min : null,
        max: reached ? st.max : null,
        seeds: s.runs.filter((r) => r.label === a.label).map((r) => r.stepsToTarget),
      };
    });
    figure({
      name: `${stem}-steps-to-target`,
      title: 'Steps to target',
      caption: `Steps until a run's smoothed training loss first reaches the target ${formatNumber(s.target.value)}: bar = mean over the seeds that reached it, dots = seeds, line = min–max; "not reached" when no seed did.`,
      spec: stepsToTargetSpec({ title: `${s.task}: steps to training loss ≤ ${formatNumber(s.target.value)}`, bars, color, xTitle: 'steps to target' }),
    });
  } else {
    blocks.push({ kind: 'text', text: 'No steps-to-target: the comparison set no loss target.' });
  }
  for (const note of divergenceNotes(s)) blocks.push({ kind: 'text', text: note });
  // Only when the logs hold orthogonality lines (orthoptim bench --orthogonality-every).
  blocks.push(...orthogonalityBlocks(c, stem, color));
  const sweep = sweepTable(s);
  if (sweep) blocks.push({ kind: 'table', table: sweep });
  return { id: stem, title: s.task === c.folder ? s.task : `${s.task} (${c.folder})`, facts: comparisonFacts(s), notices: s.fallback ? [s.fallback] : [], blocks };
}

function nsSection(ns: NsTimingSummary): Section {
  const rows = ns.rows.filter((r) => typeof r.ms === 'number' && Number.isFinite(r.ms) && r.ms > 0);
  const square = rows.every((r) => r.rows === r.cols);
  const points: TimingPoint[] = rows.map((r) => ({ method: r.method, size: square ? r.rows : r.rows * r.cols, ms: r.ms, shape: `${r.rows}×${r.cols}` }));
  const color = colorScale(rows.map((r) => r.method));
  const sorted = [...ns.rows].sort((a, b) => a.method.localeCompare(b.method) || a.rows * a.cols - b.rows * b.cols);
  const blocks: Block[] = [];
  if (points.length > 0) {
    blocks.push({
      kind: 'figure',
      figure: {
        name: 'ns-time-vs-size',
        title: 'Newton–Schulz time vs matrix size',
        caption: `Time per call against matrix size, log–log, one line per method (${ns.backend}, engine ${ns.engine}).`,
        spec: nsTimingSpec({ title: 'Orthogonalization time vs matrix size', points, color, xTitle: square ? 'matrix size n (n × n)' : 'matrix entries (rows × cols)' }),
      },
    });
  }
  blocks.push({
    kind: 'table',
    table: {
      caption: 'Orthogonality error: ‖XXᵀ − I‖_F / √k of the result.',
      columns: [{ header: 'method' }, { header: 'shape' }, { header: 'ms', align: 'right' }, { header: 'orthogonality error', align: 'right' }],
      rows: sorted.map((r) => [{ text: r.method }, { text: `${r.rows}×${r.cols}` }, { text: formatNumber(r.ms) }, { text: formatNumber(r.error) }]),
    },
  });
  return {
    id: 'ns',
    title: 'Newton–Schulz timing',
    facts: [
      ['backend', ns.backend ?? '—'],
      ['engine', ns.engine ?? '—'],
      ['machine', machineText(ns.machine)],
    ],
    notices: [],
    blocks,
  };
}

function cellText(value: unknown): string {
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '—';
  return JSON.stringify(value);
}

function genericTable(rows: unknown[], caption?: string): Table | null {
  const records = rows.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null && !Array.isArray(r));
  if (records.length === 0) return null;
  const keys = [...new Set(records.flatMap((r) => Object.keys(r)))];
  return {
    caption,
    columns: keys.map((k) => ({ header: k, align: records.every((r) => typeof r[k] === 'number' || r[k] === null) ? ('right' as const) : ('left' as const) })),
    rows: records.map((r) => keys.map((k) => ({ text: cellText(r[k]) }))),
  };
}

function isPrimitive(v: unknown): v is string | number | boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** Rows that make a readable table: objects of primitives (or null), at most `maxRows` of them. */
function isFlatRows(v: unknown, maxRows: number): v is Record<string, unknown>[] {
  return (
    Array.isArray(v) &&
    v.length > 0 &&
    v.length <= maxRows &&
    v.every((r) => typeof r === 'object' && r !== null && !Array.isArray(r) && Object.values(r).every((x) => x === null || isPrimitive(x)))
  );
}

/**
 * A section for a summary another experiment wrote (e.g. `deep-tanh/summary.json`), read loosely:
 * its scalar fields (and those one level down) as facts, long text fields as paragraphs, each entry
 * of `plots` (a Vega-Lite spec, or `{title, caption, spec}`) as a figure named by its `name`, `table`
 * and `tables: [{title, rows}]` as tables, and other short arrays of flat records as tables too.
 */
function extraSection(extra: ExtraData): Section {
  const d = extra.data;
  const stem = slug(extra.folder);
  const textKeys = new Set(['description', 'notes', 'summary', 'conclusion']);
  const facts: [string, string][] = [];
  for (const [k, v] of Object.entries(d)) {
    if (k === 'format' || k === 'title') continue;
    if (isPrimitive(v) && (!textKeys.has(k) || String(v).length < 200)) facts.push([k, cellText(v)]);
    else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v)) if (isPrimitive(v2) || v2 === null) facts.push([`${k}.${k2}`, cellText(v2)]);
    }
  }
  const blocks: Block[] = [];
  for (const key of textKeys) {
    const v = d[key];
    if (typeof v === 'string' && v.length >= 200) blocks.push({ kind: 'text', text: v });
  }
  const plots = Array.isArray(d.plots) ? d.plots : [];
  plots.forEach((p, i) => {
    if (typeof p !== 'object' || p === null) return;
    const entry = p as Record<string, unknown>;
    // `{title, caption, spec}` wraps a spec; a facet or repeat spec has its own inner `spec`.
    const wrapped = typeof entry.spec === 'object' && entry.spec !== null && !('facet' in entry) && !('repeat' in entry);
    const spec = (wrapped ? entry.spec : entry) as Record<string, unknown>;
    const specTitle = typeof spec.title === 'string' ? spec.title : isTitleObject(spec.title) ? spec.title.text : undefined;
    const title = typeof entry.title === 'string' ? entry.title : (specTitle ?? `${extra.folder} plot ${i + 1}`);
    const caption = typeof entry.caption === 'string' ? entry.caption : typeof spec.description === 'string' ? spec.description : title;
    const named = typeof entry.name === 'string' ? entry.name : typeof spec.name === 'string' ? spec.name : null;
    const name = named !== null ? slug(named) : `${stem}-${i + 1}`;
    blocks.push({ kind: 'figure', figure: { name, title, caption, spec: { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', ...spec }, baseDir: extra.dir } });
  });
  if (Array.isArray(d.table)) {
    const t = genericTable(d.table);
    if (t) blocks.push({ kind: 'table', table: t });
  }
  if (Array.isArray(d.tables)) {
    for (const t of d.tables) {
      if (typeof t !== 'object' || t === null) continue;
      const entry = t as Record<string, unknown>;
      const table = genericTable(Array.isArray(entry.rows) ? entry.rows : [], typeof entry.title === 'string' ? entry.title : undefined);
      if (table) blocks.push({ kind: 'table', table });
    }
  }
  for (const [k, v] of Object.entries(d)) {
    if (k === 'table' || k === 'tables' || k === 'plots' || !isFlatRows(v, 30)) continue;
    const t = genericTable(v, k);
    if (t) blocks.push({ kind: 'table', table: t });
  }
  const title = typeof d.title === 'string' ? d.title : extra.folder;
  return { id: stem, title, facts, notices: [], blocks };
}

function isTitleObject(v: unknown): v is { text: string } {
  return typeof v === 'object' && v !== null && typeof (v as { text?: unknown }).text === 'string';
}

/** The claims section: the verdict table, then why each verdict. */
function claimsSection(claims: ClaimsFile): Section {
  const table: Table = {
    caption: `Claims of the seed papers, rerun by ${claims.command} (CLAIMS.md in this folder has the settings).`,
    columns: [{ header: 'claim' }, { header: 'paper' }, { header: 'ours' }, { header: 'verdict' }],
    rows: claims.rows.map((r) => [
      { text: r.claim },
      { text: r.paperShort ?? r.paper },
      { text: (r.headline ?? '') === '' ? '—' : r.headline },
      { text: r.verdict, strong: r.verdict === 'reproduced' },
    ]),
  };
  return {
    id: 'claims',
    title: 'Claims of the seed papers',
    facts: [],
    notices: [],
    blocks: [{ kind: 'table', table }, ...claims.rows.map((r): Block => ({ kind: 'text', text: `${r.claim} — ${r.verdict}: ${r.why}.` }))],
  };
}

/** The document of a whole results directory (figures not yet rendered). */
export function buildDocument(data: ResultsData, title: string): ReportDocument {
  const labels = data.comparisons.flatMap((c) => [...c.summary.aggregates.map((a) => a.label), ...c.summary.runs.map((r) => r.label)]);
  const colors = colorScale(labels);
  const sections = [
    ...(data.claims ? [claimsSection(data.claims)] : []),
    ...data.comparisons.map((c) => comparisonSection(c, colors)), ...(data.ns ? [nsSection(data.ns)] : []), ...data.extras.map(extraSection)];
  // One file per figure: a name met again (plots named by another experiment) gets a suffix.
  const seen = new Set<string>();
  for (const section of sections) {
    for (const b of section.blocks) {
      if (b.kind !== 'figure') continue;
      let name = b.figure.name;
      for (let k = 2; seen.has(name); k++) name = `${b.figure.name}-${k}`;
      b.figure.name = name;
      seen.add(name);
    }
  }
  return { title, resultsDir: data.dir, generatedAt: new Date().toISOString(), warnings: data.warnings, sections };
}

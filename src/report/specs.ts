/**
 * Vega-Lite specifications of the report's plots, as plain JSON data built by typed functions; the
 * compile and render step lives in `render.ts`. Every spec carries its data inline (no loading) and an
 * explicit colour scale, so one optimizer has one colour across all plots.
 * @module
 */
import type { BandPoint, ColorScale } from './curves.js';

/** A Vega-Lite top-level specification (plain JSON). */
export type VegaLiteSpec = { $schema: string } & Record<string, unknown>;

const schema = 'https://vega.github.io/schema/vega-lite/v6.json';

/** Plot size in CSS pixels (the PNG is rendered at twice this). */
export const plotSize = { width: 560, height: 320 };

/** Shared look: white background, the default sans-serif font (resolved by the PNG renderer). */
const config = {
  background: 'white',
  font: 'sans-serif',
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 220 },
  title: { fontSize: 14, anchor: 'start' },
};

export interface AxisOptions {
  title: string;
  /** Log scale (values must be positive). */
  log?: boolean;
  /** Include zero in the domain (default false: fit the data). */
  zero?: boolean;
  /** An explicit domain `[lo, hi]` (e.g. one that holds a reference line as well as the data). */
  domain?: readonly [number, number];
}

export interface BandLineOptions {
  title: string;
  x: AxisOptions;
  y: AxisOptions;
  points: readonly BandPoint[];
  color: ColorScale;
  /** Title of the colour legend (default `'optimizer'`). */
  legendTitle?: string;
  /** Draw a marker at each point (sparse curves such as evaluations). */
  markers?: boolean;
  /** A horizontal reference line (e.g. the steps-to-target loss target) with its label. */
  rule?: { y: number; label: string };
}

function scaleOf(axis: AxisOptions): Record<string, unknown> {
  const domain = axis.domain ? { domain: [...axis.domain], nice: false } : {};
  return axis.log ? { type: 'log', ...domain } : { zero: axis.zero ?? false, ...domain };
}

/**
 * A log-scale domain holding every value and every reference line: from the smallest to the largest,
 * widened by 5 % of the decades spanned on each side (at least a factor 1.1) so that neither the curves
 * nor the rule sit on the frame. `null` when a value is not positive (no log scale then).
 */
export function logDomain(values: readonly number[]): [number, number] | null {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0 || finite.some((v) => v <= 0)) return null;
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  const pad = Math.max(Math.log10(1.1), 0.05 * Math.log10(hi / lo));
  return [lo / 10 ** pad, hi * 10 ** pad];
}

/**
 * Mean over seeds as a line per label, with the min–max over seeds as a translucent band where at
 * least two seeds contribute.
 */
export function bandLineSpec(o: BandLineOptions): VegaLiteSpec {
  const color = {
    field: 'label',
    type: 'nominal',
    title: o.legendTitle ?? 'optimizer',
    scale: { domain: o.color.domain, range: o.color.range },
    legend: { symbolType: 'stroke', symbolStrokeWidth: 2.5 },
  };
  const x = { field: 'x', type: 'quantitative', title: o.x.title, scale: scaleOf(o.x) };
  const layers: Record<string, unknown>[] = [];
  if (o.points.some((p) => p.n >= 2)) {
    layers.push({
      // A field of its own: a legend-less scale on the same field would suppress the lines' legend.
      transform: [{ filter: 'datum.n >= 2' }, { calculate: 'datum.label', as: 'band' }],
      mark: { type: 'area', opacity: 0.18 },
      // Its own fill scale (same pairs) without a legend: the legend shows the lines' strokes.
      encoding: {
        x,
        y: { field: 'min', type: 'quantitative', scale: scaleOf(o.y), title: o.y.title },
        y2: { field: 'max' },
        fill: { field: 'band', type: 'nominal', scale: { domain: o.color.domain, range: o.color.range }, legend: null },
      },
    });
  }
  layers.push({
    mark: { type: 'line', strokeWidth: 1.8, ...(o.markers ? { point: { size: 28 } } : {}) },
    encoding: {
      x,
      y: { field: 'mean', type: 'quantitative', scale: scaleOf(o.y), title: o.y.title },
      color,
      tooltip: [
        { field: 'label', type: 'nominal', title: o.legendTitle ?? 'optimizer' },
        { field: 'x', type: 'quantitative', title: o.x.title },
        { field: 'mean', type: 'quantitative', title: `${o.y.title} (mean)` },
        { field: 'n', type: 'quantitative', title: 'seeds' },
      ],
    },
  });
  if (o.rule) {
    layers.push({
      data: { values: [{ y: o.rule.y, text: o.rule.label }] },
      layer: [
        { mark: { type: 'rule', strokeDash: [4, 4], color: '#555' }, encoding: { y: { field: 'y', type: 'quantitative', scale: scaleOf(o.y) } } },
        {
          mark: { type: 'text', align: 'right', baseline: 'bottom', dy: -2, x: 'width', color: '#555', fontSize: 10 },
          encoding: { y: { field: 'y', type: 'quantitative', scale: scaleOf(o.y) }, text: { field: 'text' } },
        },
      ],
    });
  }
  return {
    $schema: schema,
    title: o.title,
    ...plotSize,
    config,
    data: { values: o.points.map((p) => ({ ...p })) },
    layer: layers,
  };
}

/** One bar of the steps-to-target plot. */
export interface TargetBar {
  label: string;
  /** Mean over the seeds that reached the target (`null`: none did). */
  mean: number | null;
  min: number | null;
  max: number | null;
  /** Each seed's steps (`null`: that seed did not reach the target). */
  seeds: (number | null)[];
}

/**
 * Horizontal bars of steps-to-target per label (mean over the seeds that reached it), a rule from the
 * fastest to the slowest seed, one dot per seed, and the rounded mean (with `k/n reached` when only some
 * seeds reached it) or `not reached` right of the bar.
 */
export function stepsToTargetSpec(o: { title: string; bars: readonly TargetBar[]; color: ColorScale; xTitle: string }): VegaLiteSpec {
  const rows = o.bars.map((b) => {
    const reached = b.seeds.filter((s) => s !== null).length;
    const note = b.mean === null ? 'not reached' : reached < b.seeds.length ? `${Math.round(b.mean)} (${reached}/${b.seeds.length} reached)` : `${Math.round(b.mean)}`;
    return { label: b.label, mean: b.mean, min: b.min, max: b.max, note, at: Math.max(b.mean ?? 0, b.max ?? 0) };
  });
  const dots = o.bars.flatMap((b) => b.seeds.filter((s): s is number => s !== null).map((s) => ({ label: b.label, steps: s })));
  const y = { field: 'label', type: 'nominal', title: 'optimizer', sort: o.color.domain };
  const color = { field: 'label', type: 'nominal', title: 'optimizer', scale: { domain: o.color.domain, range: o.color.range }, legend: null };
  const xMax = Math.max(1, ...rows.map((r) => r.max ?? 0), ...dots.map((d) => d.steps));
  const x = { type: 'quantitative', title: o.xTitle, scale: { domain: [0, xMax * 1.25] } };
  return {
    $schema: schema,
    title: o.title,
    width: plotSize.width,
    height: Math.max(60, 34 * rows.length),
    config,
    data: { values: rows },
    layer: [
      { transform: [{ filter: 'datum.mean != null' }], mark: { type: 'bar', height: 18 }, encoding: { y, x: { ...x, field: 'mean' }, color } },
      {
        transform: [{ filter: 'datum.min != null && datum.max > datum.min' }],
        mark: { type: 'rule', color: '#333' },
        encoding: { y, x: { ...x, field: 'min' }, x2: { field: 'max' } },
      },
      { data: { values: dots }, mark: { type: 'point', filled: true, color: '#222', size: 24 }, encoding: { y, x: { ...x, field: 'steps' } } },
      {
        mark: { type: 'text', align: 'left', dx: 6, fontSize: 11, color: '#222' },
        encoding: { y, x: { ...x, field: 'at' }, text: { field: 'note' } },
      },
    ],
  };
}

/** One point of the Newton–Schulz timing plot. */
export interface TimingPoint {
  method: string;
  size: number;
  ms: number;
  shape: string;
}

/** Time against matrix size, both on log scales, one line with markers per method. */
export function nsTimingSpec(o: { title: string; points: readonly TimingPoint[]; color: ColorScale; xTitle: string }): VegaLiteSpec {
  return {
    $schema: schema,
    title: o.title,
    ...plotSize,
    config,
    data: { values: o.points.map((p) => ({ ...p })) },
    mark: { type: 'line', point: { size: 30 }, strokeWidth: 1.8 },
    encoding: {
      x: { field: 'size', type: 'quantitative', title: o.xTitle, scale: { type: 'log' } },
      y: { field: 'ms', type: 'quantitative', title: 'time per call (ms)', scale: { type: 'log' } },
      color: { field: 'method', type: 'nominal', title: 'method', scale: { domain: o.color.domain, range: o.color.range } },
      tooltip: [
        { field: 'method', type: 'nominal' },
        { field: 'shape', type: 'nominal' },
        { field: 'ms', type: 'quantitative' },
      ],
    },
  };
}

/** One singular value of one run's sampled update: `sigma` = σ_index / σ_max at `step`. */
export interface SpectrumPoint {
  label: string;
  step: number;
  /** 1-based rank of the singular value (1 = largest). */
  index: number;
  sigma: number;
}

/**
 * Singular-value spectra of one weight matrix's update over training: one panel per sampled step
 * (columns), σ_i / σ_max against i on a log axis, one line per optimizer — a flat line at 1 is an
 * orthogonal update (Muon's ideal), a falling one a low-stable-rank update.
 */
export function spectrumSpec(o: { title: string; points: readonly SpectrumPoint[]; color: ColorScale; k: number }): VegaLiteSpec {
  const panels = new Set(o.points.map((p) => p.step)).size;
  return {
    $schema: schema,
    title: o.title,
    config,
    data: { values: o.points.map((p) => ({ ...p })) },
    facet: { column: { field: 'step', type: 'ordinal', title: 'update of step', sort: 'ascending' } },
    spec: {
      width: Math.max(120, Math.round((plotSize.width - 40 * (panels - 1)) / Math.max(1, panels))),
      height: plotSize.height - 60,
      mark: { type: 'line', strokeWidth: 1.8 },
      encoding: {
        x: { field: 'index', type: 'quantitative', title: 'i', scale: { domain: [1, o.k], nice: false } },
        y: { field: 'sigma', type: 'quantitative', title: 'σᵢ / σ_max', scale: { type: 'log' } },
        color: { field: 'label', type: 'nominal', title: 'optimizer', scale: { domain: o.color.domain, range: o.color.range } },
        tooltip: [
          { field: 'label', type: 'nominal', title: 'optimizer' },
          { field: 'step', type: 'quantitative' },
          { field: 'index', type: 'quantitative', title: 'i' },
          { field: 'sigma', type: 'quantitative', title: 'σᵢ / σ_max' },
        ],
      },
    },
  };
}

/** One diagnostic of one matrix's update at one sampled step of one run. */
export interface DiagnosticPoint {
  label: string;
  matrix: string;
  step: number;
  value: number;
}

/**
 * A per-matrix diagnostic against step: one panel per weight matrix (columns), one line per optimizer
 * (mean over seeds at each sampled step).
 */
export function diagnosticOverStepSpec(o: { title: string; points: readonly DiagnosticPoint[]; color: ColorScale; yTitle: string; log?: boolean }): VegaLiteSpec {
  const panels = new Set(o.points.map((p) => p.matrix)).size;
  return {
    $schema: schema,
    title: o.title,
    config,
    data: { values: o.points.map((p) => ({ ...p })) },
    facet: { column: { field: 'matrix', type: 'nominal', title: 'weight matrix' } },
    spec: {
      width: Math.max(140, Math.round((plotSize.width - 40 * (panels - 1)) / Math.max(1, panels))),
      height: plotSize.height - 80,
      mark: { type: 'line', point: { size: 20 }, strokeWidth: 1.8 },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'step' },
        y: { aggregate: 'mean', field: 'value', type: 'quantitative', title: o.yTitle, scale: o.log ? { type: 'log' } : { zero: false } },
        color: { field: 'label', type: 'nominal', title: 'optimizer', scale: { domain: o.color.domain, range: o.color.range } },
      },
    },
  };
}

/**
 * Curves for the report's plots, computed from the run logs: training loss smoothed per run, then the
 * mean and min–max over seeds at each step; validation metric over seeds at each evaluation; and one
 * colour per optimizer for the whole report.
 * @module
 */
import type { ComparisonSummary, LogLine } from '../bench/results.js';

/** How training loss is smoothed before it is averaged over seeds. */
export type Smoothing = { kind: 'ema'; beta: number } | { kind: 'window'; size: number };

/**
 * The smoothing of the report's loss curves: the one the runner used for steps-to-target when the
 * summary records it (`target.smoothing`: an integer is a trailing window of that many steps, as
 * `smooth` in `src/bench/runner.ts`; a fraction in (0, 1) an EMA coefficient), so a run's curve
 * crosses the target line where its steps-to-target says; without a target, the runner's default
 * window of 5 % of the steps (at least 1).
 */
export function smoothingFor(summary: Pick<ComparisonSummary, 'target' | 'steps'>): Smoothing {
  const s = summary.target?.smoothing;
  if (typeof s === 'number' && s > 0 && s < 1) return { kind: 'ema', beta: s };
  if (typeof s === 'number' && Number.isInteger(s) && s >= 1) return { kind: 'window', size: s };
  return { kind: 'window', size: Math.max(1, Math.round(summary.steps / 20)) };
}

/** A caption fragment saying how the loss was smoothed. */
export function describeSmoothing(s: Smoothing): string {
  return s.kind === 'ema'
    ? `smoothed per run by a debiased exponential moving average (β = ${s.beta})`
    : s.size <= 1
      ? 'not smoothed'
      : `smoothed per run by a trailing ${s.size}-step window mean`;
}

/**
 * Smooths a sequence. `null` (a non-finite loss) stays `null` and does not enter the average.
 * EMA: `m ← β·m + (1−β)·x`, divided by `1 − β^k` after `k` values (as Adam debiases), so the first
 * points are not pulled toward zero. Window: mean of the finite values among the last `size`.
 */
export function smooth(values: readonly (number | null)[], s: Smoothing): (number | null)[] {
  const out: (number | null)[] = [];
  if (s.kind === 'ema') {
    let m = 0;
    let k = 0;
    for (const v of values) {
      if (v === null || !Number.isFinite(v)) {
        out.push(null);
        continue;
      }
      m = s.beta * m + (1 - s.beta) * v;
      k++;
      out.push(m / (1 - s.beta ** k));
    }
    return out;
  }
  for (let i = 0; i < values.length; i++) {
    let sum = 0;
    let n = 0;
    for (let j = Math.max(0, i - s.size + 1); j <= i; j++) {
      const v = values[j];
      if (v !== null && Number.isFinite(v)) {
        sum += v;
        n++;
      }
    }
    const v = values[i];
    out.push(v === null || !Number.isFinite(v) || n === 0 ? null : sum / n);
  }
  return out;
}

/** One point of a curve over seeds: mean, min and max of the seeds that have a value at `x`. */
export interface BandPoint {
  label: string;
  x: number;
  mean: number;
  min: number;
  max: number;
  /** Seeds contributing. */
  n: number;
}

/** Accumulates values at keys and returns mean/min/max per key, in key order. */
function band(label: string, byKey: Map<number, number[]>, xOf: (key: number) => number): BandPoint[] {
  return [...byKey.keys()]
    .sort((a, b) => a - b)
    .map((key) => {
      const vs = byKey.get(key) ?? [];
      const mean = vs.reduce((a, b) => a + b, 0) / vs.length;
      return { label, x: xOf(key), mean, min: Math.min(...vs), max: Math.max(...vs), n: vs.length };
    });
}

function push(map: Map<number, number[]>, key: number, value: number): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Keeps at most `max` points, evenly by index, always keeping the last one. */
export function thin<T>(points: readonly T[], max: number): T[] {
  if (points.length <= max) return [...points];
  const stride = Math.ceil(points.length / max);
  const out = points.filter((_, i) => i % stride === 0);
  if ((points.length - 1) % stride !== 0) out.push(points[points.length - 1]);
  return out;
}

/** A run's label and its log, as the curve builders take them. */
export interface LabelledLog {
  label: string;
  lines: readonly LogLine[];
}

/** Training-loss curves of one comparison, against step and against training wall-clock seconds. */
export interface LossCurves {
  byStep: BandPoint[];
  byTime: BandPoint[];
}

/**
 * Smoothed training loss per label: each run's loss is smoothed, then mean/min/max over the seeds at
 * each step. Against time, x is the mean over seeds of the training wall clock at that step (seconds).
 * Each label's curve is thinned to `maxPoints` points.
 */
export function lossCurves(runs: readonly LabelledLog[], smoothing: Smoothing, maxPoints = 400): LossCurves {
  const labels = [...new Set(runs.map((r) => r.label))];
  const byStep: BandPoint[] = [];
  const byTime: BandPoint[] = [];
  for (const label of labels) {
    const losses = new Map<number, number[]>();
    const walls = new Map<number, number[]>();
    for (const run of runs.filter((r) => r.label === label)) {
      const steps = run.lines.filter((l) => l.type === 'step');
      const smoothed = smooth(
        steps.map((l) => l.loss),
        smoothing,
      );
      steps.forEach((l, i) => {
        const v = smoothed[i];
        if (v === null) return;
        push(losses, l.step, v);
        if (l.wallMs !== null && Number.isFinite(l.wallMs)) push(walls, l.step, l.wallMs / 1000);
      });
    }
    const points = band(label, losses, (step) => step);
    const thinned = thin(points, maxPoints);
    byStep.push(...thinned);
    for (const p of thinned) {
      const w = walls.get(p.x);
      if (!w || w.length === 0) continue;
      byTime.push({ ...p, x: w.reduce((a, b) => a + b, 0) / w.length });
    }
  }
  return { byStep, byTime };
}

/** Validation metric (or loss) per label at each evaluation step, mean/min/max over seeds. */
export function evalCurves(runs: readonly LabelledLog[], split: 'validation' | 'test', value: 'metric' | 'loss'): BandPoint[] {
  const labels = [...new Set(runs.map((r) => r.label))];
  const out: BandPoint[] = [];
  for (const label of labels) {
    const byStep = new Map<number, number[]>();
    for (const run of runs.filter((r) => r.label === label)) {
      for (const l of run.lines) {
        if (l.type !== 'eval' || l.split !== split) continue;
        const v = l[value];
        if (v !== null && Number.isFinite(v)) push(byStep, l.step, v);
      }
    }
    out.push(...band(label, byStep, (step) => step));
  }
  return out;
}

/** A categorical colour scale (Vega-Lite `scale.domain` / `scale.range`). */
export interface ColorScale {
  domain: string[];
  range: string[];
}

/** Tableau 10 then the lighter half of Tableau 20: readable on white, distinct for up to 20 optimizers. */
const palette = [
  '#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac',
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
];

/**
 * One colour per name for the whole report: names are sorted, then coloured in order, so an
 * optimizer keeps its colour in every plot of every task (a scale restricted to the names a plot
 * shows keeps the same pairs).
 */
export function colorScale(names: Iterable<string>): ColorScale {
  const domain = [...new Set(names)].sort();
  return { domain, range: domain.map((_, i) => palette[i % palette.length]) };
}

/** The part of a scale that covers `names`, in the scale's order (legends list only what is drawn). */
export function restrictScale(scale: ColorScale, names: Iterable<string>): ColorScale {
  const wanted = new Set(names);
  const domain: string[] = [];
  const range: string[] = [];
  scale.domain.forEach((name, i) => {
    if (wanted.has(name)) {
      domain.push(name);
      range.push(scale.range[i]);
    }
  });
  for (const name of wanted) {
    if (!domain.includes(name)) {
      domain.push(name);
      range.push(palette[(scale.domain.length + domain.length) % palette.length]);
    }
  }
  return { domain, range };
}

/**
 * A small SVG chart: lines and dot clouds on linear or log axes, with ticks, axis labels and a legend.
 * Enough for the playground's curves; redrawn whole on each update (a few hundred points).
 */
const SVG = 'http://www.w3.org/2000/svg';

export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
  /** 'line' (default) or 'dots'. */
  readonly kind?: 'line' | 'dots';
  readonly dash?: string;
  readonly width?: number;
}

export interface ChartOptions {
  readonly title?: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly logX?: boolean;
  readonly logY?: boolean;
  readonly x?: readonly [number, number];
  readonly y?: readonly [number, number];
  /** Horizontal shaded band [lo, hi] (e.g. the accepted singular-value range). */
  readonly band?: readonly [number, number];
  /** Horizontal reference lines. */
  readonly hlines?: readonly number[];
  readonly legend?: boolean;
  readonly width?: number;
  readonly height?: number;
}

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, parent?: Element): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  parent?.appendChild(e);
  return e;
}

function niceTicks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function logTicks(lo: number, hi: number): number[] {
  // Powers of ten; over less than two decades 1-2-5 steps too; over less than one, linear ticks.
  for (const mantissas of [[1], [1, 2, 5]]) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of mantissas) {
        const v = m * 10 ** e;
        if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
      }
    }
    if (out.length >= 3) return out;
  }
  const linear = niceTicks(lo, hi, 4).filter((v) => v > 0);
  return linear.length >= 2 ? linear : [lo, hi];
}

export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}

function extent(values: number[], log: boolean): [number, number] {
  const vs = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  if (vs.length === 0) return log ? [1e-3, 1] : [0, 1];
  let lo = Math.min(...vs);
  let hi = Math.max(...vs);
  if (lo === hi) {
    lo = log ? lo / 2 : lo - 0.5;
    hi = log ? hi * 2 : hi + 0.5;
  }
  if (!log) {
    const pad = (hi - lo) * 0.05;
    return [lo - pad, hi + pad];
  }
  return [lo, hi];
}

/** Draws `series` into `svg` (replacing what was there). */
export function drawChart(svg: SVGSVGElement, series: readonly Series[], o: ChartOptions): void {
  const W = o.width ?? 420;
  const H = o.height ?? 240;
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${o.title ?? ''} ${o.yLabel} by ${o.xLabel}`.trim());
  const m = { l: 52, r: 10, t: o.title === undefined ? 10 : 24, b: 36 };
  const legendRows = o.legend === false ? 0 : Math.ceil(series.length / 3);
  m.b += legendRows * 14;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).concat(o.band === undefined ? [] : [...o.band]);
  const [x0, x1] = o.x ?? extent(xs, o.logX === true);
  const [y0, y1] = o.y ?? extent(ys, o.logY === true);
  const fx = o.logX === true ? (v: number) => Math.log10(v) : (v: number) => v;
  const fy = o.logY === true ? (v: number) => Math.log10(Math.max(v, 1e-300)) : (v: number) => v;
  // Pixels clamped to ±1e5: far-off points (a polynomial's 1e247 outside its range) stay clipped lines
  // instead of numbers that toFixed writes in exponent form, which SVG paths reject.
  const clamp = (p: number) => Math.min(1e5, Math.max(-1e5, p));
  const px = (v: number) => clamp(m.l + ((fx(v) - fx(x0)) / (fx(x1) - fx(x0) || 1)) * (W - m.l - m.r));
  const py = (v: number) => clamp(H - m.b - ((fy(v) - fy(y0)) / (fy(y1) - fy(y0) || 1)) * (H - m.t - m.b));
  if (o.title !== undefined) el('text', { x: m.l, y: 15, class: 'chart-title' }, svg).textContent = o.title;
  if (o.band !== undefined) {
    el('rect', { x: m.l, y: py(o.band[1]), width: W - m.l - m.r, height: Math.max(0, py(o.band[0]) - py(o.band[1])), class: 'chart-band' }, svg);
  }
  const axes = el('g', { class: 'chart-axes' }, svg);
  for (const t of o.logX === true ? logTicks(x0, x1) : niceTicks(x0, x1, 5)) {
    el('line', { x1: px(t), x2: px(t), y1: m.t, y2: H - m.b, class: 'chart-grid' }, axes);
    el('text', { x: px(t), y: H - m.b + 13, 'text-anchor': 'middle' }, axes).textContent = formatTick(t);
  }
  for (const t of o.logY === true ? logTicks(y0, y1) : niceTicks(y0, y1, 4)) {
    el('line', { x1: m.l, x2: W - m.r, y1: py(t), y2: py(t), class: 'chart-grid' }, axes);
    el('text', { x: m.l - 4, y: py(t) + 4, 'text-anchor': 'end' }, axes).textContent = formatTick(t);
  }
  for (const h of o.hlines ?? []) el('line', { x1: m.l, x2: W - m.r, y1: py(h), y2: py(h), class: 'chart-ref' }, axes);
  el('rect', { x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b, class: 'chart-frame' }, axes);
  el('text', { x: (m.l + W - m.r) / 2, y: H - m.b + 28, 'text-anchor': 'middle', class: 'chart-label' }, axes).textContent = o.xLabel;
  const yl = el('text', { x: 12, y: (m.t + H - m.b) / 2, 'text-anchor': 'middle', class: 'chart-label', transform: `rotate(-90 12 ${(m.t + H - m.b) / 2})` }, axes);
  yl.textContent = o.yLabel;
  const clipId = `clip${Math.random().toString(36).slice(2)}`;
  const clip = el('clipPath', { id: clipId }, svg);
  el('rect', { x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b }, clip);
  const plot = el('g', { 'clip-path': `url(#${clipId})` }, svg);
  for (const s of series) {
    const pts = s.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]) && (o.logY !== true || p[1] > 0));
    if (s.kind === 'dots' || pts.length === 1) {
      const g = el('g', { fill: s.color }, plot);
      for (const [x, y] of pts) el('circle', { cx: px(x), cy: py(y), r: 2.2 }, g);
    } else if (pts.length > 0) {
      const d = pts.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join('');
      el('path', { d, stroke: s.color, fill: 'none', 'stroke-width': s.width ?? 1.8, ...(s.dash === undefined ? {} : { 'stroke-dasharray': s.dash }) }, plot);
    }
  }
  if (o.legend !== false) {
    const g = el('g', { class: 'chart-legend' }, svg);
    series.forEach((s, i) => {
      const x = m.l + (i % 3) * ((W - m.l) / 3);
      const y = H - legendRows * 14 + Math.floor(i / 3) * 14 + 4;
      el('rect', { x, y: y - 8, width: 10, height: 10, fill: s.color }, g);
      el('text', { x: x + 14, y: y + 1 }, g).textContent = s.name;
    });
  }
}

/** Colors for up to eight series (Okabe–Ito, readable for colour-blind viewers). */
export const palette = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

/** A new <svg> element with the chart class. */
export function chartElement(): SVGSVGElement {
  const s = document.createElementNS(SVG, 'svg');
  s.classList.add('chart');
  return s;
}

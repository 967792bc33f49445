/**
 * The Newton–Schulz view: pick a matrix (Gaussian, ill-conditioned, low-rank, or the race's live
 * gradient of its last hidden layer) and coefficient tables; see, for each table, the singular values
 * after every iteration of the library's `newtonSchulz` beside the exact polar factor (all singular
 * values 1; distance from the float64 polar factor per step), the orthogonality error per step, the
 * scalar polynomial p(σ) composed over the steps, and the time per iteration on the page's backend.
 * The numbers come from web/src/nsCore.ts.
 */
import { chartElement, drawChart, palette, type Series } from './chart.js';
import { button, checkboxGroup, fmt, h, numberControl, selectControl } from './dom.js';
import type { App, View3 } from './main.js';
import { composedCurve, makeMatrix, runNewtonSchulz, tableLabels, type HostMatrix, type NsResult } from './nsCore.js';
import { matrixKinds, tableNames, type MatrixKind } from './settings.js';

const matrixLabels: Record<MatrixKind, string> = {
  gaussian: 'Gaussian',
  illConditioned: 'ill-conditioned (κ = 1e4)',
  lowRank: 'low-rank + noise',
  gradient: 'live gradient (race)',
};

/** The band Jordan's quintic lands singular values in (its coefficients trade exactness for speed). */
export const jordanBand = [0.68, 1.14] as const;

export class NsView implements View3 {
  /** The latest result (read by the tests). */
  result: NsResult | null = null;
  busy = false;
  error: string | null = null;
  private runs = 0;
  private readonly status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  private readonly out = h('div', {});
  private readonly customBox: HTMLTextAreaElement;
  private pending: Promise<void> | null = null;
  private stale = true;

  constructor(private readonly app: App, private readonly root: HTMLElement) {
    const s = app.settings;
    const rerun = () => {
      this.stale = true;
      void this.run();
    };
    const matrix = selectControl('Matrix', matrixKinds.map((k) => [k, matrixLabels[k]] as const), s.matrix, (v) => {
      app.update({ matrix: v as MatrixKind });
      rerun();
    }, 'ns-matrix');
    const rows = numberControl('Rows', s.rows, 2, 512, (v) => {
      app.update({ rows: v });
      rerun();
    }, 'ns-rows');
    const cols = numberControl('Columns', s.cols, 2, 512, (v) => {
      app.update({ cols: v });
      rerun();
    }, 'ns-cols');
    const seed = numberControl('Seed', s.seed, 0, 2 ** 31 - 1, (v) => {
      app.update({ seed: v });
      rerun();
    }, 'ns-seed');
    const steps = numberControl('Steps (0 = each table’s own)', s.steps, 0, 20, (v) => {
      app.update({ steps: v });
      rerun();
    }, 'ns-steps');
    const tables = checkboxGroup('Coefficient tables', tableNames.map((t) => [t, tableLabels[t]] as const), s.tables, (v) => {
      app.update({ tables: v as typeof s.tables });
      rerun();
    }, 'ns-table');
    this.customBox = h('textarea', { id: 'ns-custom', spellcheck: 'false' }) as HTMLTextAreaElement;
    this.customBox.value = s.custom;
    this.customBox.addEventListener('change', () => {
      app.update({ custom: this.customBox.value });
      if (app.settings.tables.includes('custom')) rerun();
    });
    const customLabel = h('label', { for: 'ns-custom' }, 'Your rows “a,b,c; a,b,c; …” (one per step, used by “your rows”)', this.customBox);
    root.append(
      h('h2', {}, 'Newton–Schulz, step by step'),
      h('p', { class: 'lead' },
        'Muon replaces a gradient G by the nearest semi-orthogonal matrix, the polar factor U·Vᵀ of G = U·Σ·Vᵀ — every singular value set to 1. ',
        'Newton–Schulz gets there with a few matrix products: each step maps every singular value σ ↦ aσ + bσ³ + cσ⁵. ',
        'Below, each dot is one singular value of the library’s own newtonSchulz output after k steps on this page’s backend; ',
        'the dashed line at 1 is the exact polar factor (float64 SVD).'),
      h('div', { class: 'controls' }, matrix.root, rows.root, cols.root, seed.root, steps.root, tables.root, customLabel,
        h('div', { class: 'buttons' }, button('Run', () => rerun(), { class: 'primary', id: 'ns-run' }))),
      this.status,
      this.out,
    );
  }

  show(): void {
    if (this.stale) void this.run();
  }

  hide(): void {}

  reset(): void {
    this.stale = true;
  }

  /** Recomputes (one run at a time; a change during a run queues one more). */
  async run(): Promise<void> {
    if (this.pending !== null) {
      await this.pending;
      if (!this.stale) return;
    }
    this.stale = false;
    this.pending = this.compute().finally(() => {
      this.pending = null;
    });
    await this.pending;
  }

  private async matrix(): Promise<HostMatrix> {
    const s = this.app.settings;
    if (s.matrix !== 'gradient') return makeMatrix(s.matrix, s.rows, s.cols, s.seed);
    const rc = this.app.race;
    const race = await rc.ensure();
    if (race.lastGradient === null) await rc.steps(1);
    const g = race.lastGradient!;
    return { rows: g.rows, cols: g.cols, data: g.data, label: `gradient of ${g.layer} at race step ${race.step} (${race.racers[0].label}, ${g.rows}×${g.cols})` };
  }

  private async compute(): Promise<void> {
    this.busy = true;
    const run = ++this.runs;
    const s = this.app.settings;
    this.status.textContent = 'computing…';
    try {
      const m = await this.matrix();
      const result = await runNewtonSchulz(m, s.tables, s.steps, s.custom);
      if (run !== this.runs) return;
      this.result = result;
      this.error = null;
      this.render(result);
      this.status.textContent = `${result.matrix} on ${result.backend}: ${result.tables.length} table${result.tables.length === 1 ? '' : 's'}.`;
    } catch (e) {
      this.error = `${(e as Error).name}: ${(e as Error).message}`;
      this.status.replaceChildren(h('span', { class: 'error' }, this.error));
    } finally {
      this.busy = false;
    }
  }

  private render(r: NsResult): void {
    const good = r.tables.filter((t) => t.error === undefined);
    const summary = h('table', { class: 'data' },
      h('thead', {}, h('tr', {}, ...['table', 'steps', 'ms / iteration', 'final σ min', 'final σ max', '‖XXᵀ−I‖/√k', '‖X−UVᵀ‖/‖UVᵀ‖'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...r.tables.map((t) => {
        if (t.error !== undefined) return h('tr', {}, h('td', {}, t.label), h('td', { colspan: 6, class: 'error' }, t.error));
        const last = t.sigmas[t.sigmas.length - 1];
        return h('tr', { 'data-table': t.name },
          h('td', {}, t.label + (t.aol ? ' (AOL-scaled start)' : '')),
          h('td', {}, String(t.steps)),
          h('td', {}, fmt(t.msPerIteration)),
          h('td', {}, fmt(Math.min(...last))),
          h('td', {}, fmt(Math.max(...last))),
          h('td', {}, fmt(t.orthogonalityError[t.steps])),
          h('td', {}, fmt(t.polarDistance[t.steps])));
      })));
    const cards: HTMLElement[] = [];
    good.forEach((t, ti) => {
      const svg = chartElement();
      const series: Series[] = t.sigmas.map((sig, k) => ({
        name: `k=${k}`,
        color: palette[ti % palette.length],
        kind: 'dots',
        points: sig.map((v, i) => [k + ((i % 9) / 8 - 0.5) * 0.3, v] as const),
      }));
      drawChart(svg, series, {
        xLabel: 'iteration k',
        yLabel: 'singular value σ',
        logY: true,
        x: [-0.5, t.steps + 0.5],
        y: [1e-5, 2],
        hlines: [1],
        band: [...jordanBand],
        legend: false,
      });
      const rows = h('details', {}, h('summary', {}, 'coefficients (a, b, c) per step'),
        h('table', { class: 'data' }, h('thead', {}, h('tr', {}, ...['step', 'a', 'b', 'c'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, ...t.rows.map((c, i) => h('tr', {}, h('td', {}, String(i + 1)), ...c.map((v) => h('td', {}, fmt(v, 5))))))));
      const last = t.sigmas[t.sigmas.length - 1];
      cards.push(h('div', { class: 'card', 'data-table': t.name },
        h('h3', {}, t.label),
        h('p', { class: 'meta' }, `after ${t.steps} steps σ ∈ [${fmt(Math.min(...last))}, ${fmt(Math.max(...last))}] · ${fmt(t.msPerIteration)} ms per iteration on ${r.backend}`),
        svg, rows));
    });
    const orth = chartElement();
    drawChart(orth, good.map((t, i) => ({ name: t.label, color: palette[i % palette.length], points: t.orthogonalityError.map((v, k) => [k, v] as const) })), {
      title: 'orthogonality error per step', xLabel: 'iteration k', yLabel: '‖XXᵀ − I‖_F / √k', logY: true,
    });
    const polar = chartElement();
    drawChart(polar, good.map((t, i) => ({ name: t.label, color: palette[i % palette.length], points: t.polarDistance.map((v, k) => [k, v] as const) })), {
      title: 'distance to the exact polar factor', xLabel: 'iteration k', yLabel: '‖X − UVᵀ‖_F / ‖UVᵀ‖_F', logY: true,
    });
    const curve = chartElement();
    drawChart(curve, good.map((t, i) => ({ name: t.label, color: palette[i % palette.length], points: composedCurve(t.rows) })), {
      title: 'p(σ) composed over the steps', xLabel: 'input σ (after normalization)', yLabel: 'output σ', logX: true, x: [1e-4, 1], y: [0, 1.3], hlines: [1], band: [...jordanBand],
    });
    const inputSvg = chartElement();
    drawChart(inputSvg, [{ name: 'input', color: '#444', kind: 'dots', points: r.inputSigmas.map((v, i) => [i + 1, v] as const) }], {
      title: `singular values of the input (${r.matrix})`, xLabel: 'index i', yLabel: 'σ_i', logY: true, legend: false,
    });
    this.out.replaceChildren(
      h('div', { class: 'scroll card' }, summary),
      h('div', { class: 'grid', style: 'margin-top:12px' },
        ...cards,
        h('div', { class: 'card' }, orth),
        h('div', { class: 'card' }, polar),
        h('div', { class: 'card' }, curve, h('p', { class: 'meta' }, 'The scalar map each σ goes through; tables with an AOL start (Turbo) also rescale the input first, which this curve leaves out.')),
        h('div', { class: 'card' }, inputSvg)),
    );
  }
}

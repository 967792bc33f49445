/**
 * The spectra view: the singular values of each hidden layer's update ΔW = W_after − W_before, Muon vs
 * AdamW, over the race's training (recorded by web/src/raceCore.ts every 10 steps, float64 SVD). Muon's
 * update is an orthogonalized momentum, so its singular values sit together near one level; AdamW's
 * fall off like the gradient's. Beside the latest spectra, the stable rank ‖ΔW‖²_F/‖ΔW‖²₂ over steps.
 */
import { chartElement, drawChart, type Series } from './chart.js';
import { button, fmt, h } from './dom.js';
import type { App, View3 } from './main.js';
import { racerColor, type RacerRun, type SpectrumRecord } from './raceCore.js';


/** ‖·‖²_F / ‖·‖²₂ from the singular values. */
export function stableRank(sigmas: readonly number[]): number {
  const top = sigmas[0] ?? 0;
  if (!(top > 0)) return 0;
  return sigmas.reduce((a, s) => a + s * s, 0) / (top * top);
}

export class SpectraView implements View3 {
  private readonly status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  private readonly out = h('div', { class: 'grid' });
  private visible = false;
  private lastDraw = 0;
  private scheduled = false;

  constructor(private readonly app: App, root: HTMLElement) {
    const rc = app.race;
    root.append(
      h('h2', {}, 'Spectra of the hidden layers’ updates'),
      h('p', { class: 'lead' },
        'The singular values of each hidden layer’s update ΔW (what one optimizer step changes), Muon vs AdamW, from the race’s run (same initialization, same batches). ',
        'Muon’s update is orthogonalized momentum: its singular values sit close together, so every direction moves by about the same amount; AdamW’s are spread like the gradient’s, a few directions dominating.'),
      h('div', { class: 'controls' }, h('div', { class: 'buttons' },
        button('Train 50 steps', () => void rc.steps(50), { class: 'primary', id: 'spectra-train' }),
        button('Play / pause the race', () => (rc.playing ? rc.pause() : rc.play()), { id: 'spectra-play' }))),
      this.status,
      this.out,
    );
    rc.subscribe(() => {
      if (!this.visible || this.scheduled) return;
      this.scheduled = true;
      setTimeout(() => {
        this.scheduled = false;
        this.lastDraw = performance.now();
        this.draw();
      }, Math.max(0, 250 - (performance.now() - this.lastDraw)));
    });
  }

  show(): void {
    this.visible = true;
    void this.app.race.ensure().then(() => this.draw(), () => this.draw());
  }

  hide(): void {
    this.visible = false;
  }

  reset(): void {}

  /** The racers compared: Muon and AdamW when in the race. */
  private compared(): RacerRun[] {
    return this.app.race.race?.racers.filter((r) => r.name === 'muon' || r.name === 'adamw') ?? [];
  }

  draw(): void {
    const race = this.app.race.race;
    if (race === null) {
      this.status.textContent = this.app.race.error ?? 'preparing…';
      return;
    }
    const runs = this.compared();
    if (runs.length === 0) {
      this.status.textContent = 'Add Muon and AdamW to the race (Optimizer race tab) to compare their updates.';
      this.out.replaceChildren();
      return;
    }
    const layers = [...new Set(runs.flatMap((r) => r.spectra.map((s) => s.layer)))];
    this.status.textContent = layers.length === 0 ? `step ${race.step}: no update recorded yet — train a few steps.` : `step ${race.step}; updates recorded every ${race.spectraEvery} steps.`;
    const cards: HTMLElement[] = [];
    for (const layer of layers) {
      const latest = runs.map((r) => [r, [...r.spectra].reverse().find((s) => s.layer === layer)] as const).filter((x): x is readonly [RacerRun, SpectrumRecord] => x[1] !== undefined);
      const normalized: Series[] = latest.map(([r, s]) => ({ name: `${r.label} (step ${s.step})`, color: racerColor(r.name), kind: 'dots', points: s.sigmas.map((v, i) => [i + 1, v / (s.sigmas[0] || 1)] as const) }));
      const spec = chartElement();
      drawChart(spec, normalized, { title: `${layer}: σ_i(ΔW) / σ_1(ΔW), latest`, xLabel: 'index i', yLabel: 'σ_i / σ_1', logY: true, y: [1e-3, 1.5] });
      const rank = chartElement();
      drawChart(rank, runs.map((r) => ({ name: r.label, color: racerColor(r.name), points: r.spectra.filter((s) => s.layer === layer).map((s) => [s.step, stableRank(s.sigmas)] as const) })), {
        title: `${layer}: stable rank of ΔW over training`, xLabel: 'step', yLabel: '‖ΔW‖²_F / ‖ΔW‖²₂', y: [0, Math.max(1, ...latest.map(([, s]) => s.sigmas.length))],
      });
      const top = chartElement();
      drawChart(top, runs.map((r) => ({ name: r.label, color: racerColor(r.name), points: r.spectra.filter((s) => s.layer === layer).map((s) => [s.step, s.sigmas[0]] as const) })), {
        title: `${layer}: largest singular value σ_1(ΔW)`, xLabel: 'step', yLabel: 'σ_1', logY: true,
      });
      const meta = latest.map(([r, s]) => `${r.label}: stable rank ${fmt(stableRank(s.sigmas))} of ${s.sigmas.length}, σ_1 ${fmt(s.sigmas[0])}`).join(' · ');
      cards.push(h('div', { class: 'card', 'data-layer': layer }, h('h3', {}, layer), h('p', { class: 'meta' }, meta), spec, rank, top));
    }
    this.out.replaceChildren(...cards);
  }

  /** Stable ranks of the latest update per racer and layer (read by the tests). */
  summary(): { racer: string; layer: string; step: number; stableRank: number; size: number }[] {
    return this.compared().flatMap((r) => {
      const layers = [...new Set(r.spectra.map((s) => s.layer))];
      return layers.map((layer) => {
        const s = [...r.spectra].reverse().find((x) => x.layer === layer)!;
        return { racer: r.name, layer, step: s.step, stableRank: stableRank(s.sigmas), size: s.sigmas.length };
      });
    });
  }
}

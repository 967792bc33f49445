/**
 * The optimizer race: the same MLP from the same initialization, fed the same batches, trained live by
 * each chosen optimizer (any registered one). Loss by step and by wall-clock, test accuracy, the
 * decision boundary of each racer on the 2-D sets, learning-rate sliders (a change restarts the race
 * from the same initialization), play / pause / step / reset. The training itself is web/src/raceCore.ts.
 */
import { chartElement, drawChart, type Series } from './chart.js';
import { button, checkboxGroup, fmt, h, numberControl, selectControl } from './dom.js';
import type { App, View3 } from './main.js';
import { racerColor, racerLabel, type Race } from './raceCore.js';
import { datasets, racers, type DatasetName } from './settings.js';

const dataLabels: Record<DatasetName, string> = { spiral: 'two-arm spiral (2-D)', moons: 'two moons (2-D)', fashion: 'Fashion-MNIST subset (784-D)' };

/** Exponential moving average of a curve (the batch loss is noisy). */
function smooth(points: readonly (readonly [number, number])[], beta = 0.9): [number, number][] {
  let m = 0;
  return points.map(([x, y], i) => {
    m = beta * m + (1 - beta) * y;
    return [x, m / (1 - beta ** (i + 1))];
  });
}

export class RaceView implements View3 {
  private readonly status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
  private readonly lossStep = chartElement();
  private readonly lossWall = chartElement();
  private readonly testLoss = chartElement();
  private readonly accuracy = chartElement();
  private readonly boundaries = h('div', { class: 'boundaries' });
  private readonly boundaryCard: HTMLElement;
  private readonly lrBox = h('div', { class: 'lr' });
  private readonly playButton: HTMLButtonElement;
  private visible = false;
  private lastDraw = 0;
  private scheduled = false;
  private lastBoundaryStep = -1;
  private lastBoundaryTime = 0;

  constructor(private readonly app: App, root: HTMLElement) {
    const s = app.settings;
    const rc = app.race;
    const restart = () => void rc.reset(this.visible);
    const data = selectControl('Data', datasets.map((d) => [d, dataLabels[d]] as const), s.data, (v) => {
      app.update({ data: v as DatasetName });
      restart();
    }, 'race-data');
    const batch = numberControl('Batch', s.batch, 8, 512, (v) => {
      app.update({ batch: v });
      restart();
    }, 'race-batch');
    const seed = numberControl('Seed', s.seed, 0, 2 ** 31 - 1, (v) => {
      app.update({ seed: v });
      restart();
    }, 'race-seed');
    const who = checkboxGroup('Optimizers (every registered one)', racers.map((r) => [r, racerLabel(r)] as const), s.racers, (v) => {
      app.update({ racers: v });
      this.renderSliders();
      restart();
    }, 'race-opt');
    this.playButton = button('Play', () => (rc.playing ? rc.pause() : rc.play()), { class: 'primary', id: 'race-play' });
    const step = button('Step', () => void rc.steps(1), { id: 'race-step' });
    const reset = button('Reset', () => restart(), { id: 'race-reset' });
    this.boundaryCard = h('div', { class: 'card wide' }, h('h3', {}, 'Decision boundaries (P(class 1), test points)'), this.boundaries);
    root.append(
      h('h2', {}, 'Optimizer race'),
      h('p', { class: 'lead' },
        'One small ReLU MLP per optimizer, all from the same initialization and fed the same batches, trained live in this page with the library’s optimizers (createOptimizer → applyGradients). ',
        'The Muon family orthogonalizes the hidden layers’ updates and sends the output layer and biases to its auxiliary AdamW (at AdamW’s learning rate), as its authors prescribe; SGD uses momentum 0.9.'),
      h('div', { class: 'controls' }, data.root, batch.root, seed.root, who.root,
        h('div', { class: 'buttons' }, this.playButton, step, reset)),
      h('details', { class: 'lrs', open: true }, h('summary', {}, 'Learning rates (a change restarts the race from the same initialization)'), this.lrBox),
      this.status,
      h('div', { class: 'grid' },
        h('div', { class: 'card' }, this.lossStep),
        h('div', { class: 'card' }, this.lossWall),
        h('div', { class: 'card' }, this.testLoss),
        h('div', { class: 'card' }, this.accuracy),
        this.boundaryCard),
    );
    this.renderSliders();
    rc.subscribe(() => this.schedule());
  }

  /** Redraws at most every 150 ms (the race steps faster than that is worth drawing), last state included. */
  private schedule(delay = 150): void {
    if (!this.visible || this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      this.lastDraw = performance.now();
      this.draw();
    }, Math.max(0, delay - (performance.now() - this.lastDraw)));
  }

  private renderSliders(): void {
    const s = this.app.settings;
    this.lrBox.replaceChildren();
    for (const r of s.racers) {
      const id = `lr-${r}`;
      const lr = s.lr[r];
      const input = h('input', { id, type: 'range', min: -4, max: 0, step: 0.05, value: Math.log10(lr).toFixed(2), 'aria-valuetext': fmt(lr) });
      const out = h('output', { for: id }, fmt(lr));
      input.addEventListener('input', () => {
        const v = Number(Number(10 ** Number(input.value)).toPrecision(2));
        out.textContent = fmt(v);
        input.setAttribute('aria-valuetext', fmt(v));
      });
      input.addEventListener('change', () => {
        const v = Number(Number(10 ** Number(input.value)).toPrecision(2));
        this.app.update({ lr: { ...this.app.settings.lr, [r]: v } });
        void this.app.race.reset(this.visible);
      });
      this.lrBox.append(h('label', { for: id }, racerLabel(r)), input, out);
    }
  }

  show(): void {
    this.visible = true;
    void this.app.race.ensure().then(() => this.draw(), () => this.draw());
  }

  hide(): void {
    this.visible = false;
  }

  reset(): void {
    this.lastBoundaryStep = -1;
  }

  /** Step of the decision boundaries drawn last (read by the tests). */
  get boundaryStep(): number {
    return this.lastBoundaryStep;
  }

  private draw(): void {
    const rc = this.app.race;
    this.playButton.textContent = rc.playing ? 'Pause' : 'Play';
    this.playButton.setAttribute('aria-pressed', String(rc.playing));
    const race = rc.race;
    if (race === null) {
      this.status.textContent = rc.error ?? 'preparing…';
      return;
    }
    const backend = this.app.backend?.running ?? '?';
    const errors = race.racers.filter((r) => r.error !== undefined).map((r) => `${r.label}: ${r.error}`);
    this.status.replaceChildren(
      `${race.data.label} · MLP ${race.sizes.join('–')} · step ${race.step} · ${backend}${race.data.note === undefined ? '' : ` · ${race.data.note}`}`,
      ...errors.map((e) => h('span', { class: 'error' }, ` · ${e}`)),
    );
    const color = (i: number) => racerColor(race.racers[i].name);
    const batchSeries: Series[] = race.racers.map((r, i) => ({ name: r.label, color: color(i), points: smooth(r.batchLoss) }));
    drawChart(this.lossStep, batchSeries, { title: 'training loss by step (smoothed)', xLabel: 'step', yLabel: 'cross-entropy', logY: true });
    drawChart(this.lossWall, race.racers.map((r, i) => ({ name: r.label, color: color(i), points: r.evals.map((e) => [e.wallMs / 1000, e.loss] as const) })), {
      title: 'test loss by wall-clock (each optimizer’s own step time)', xLabel: 'seconds', yLabel: 'cross-entropy', logY: true,
    });
    drawChart(this.testLoss, race.racers.map((r, i) => ({ name: r.label, color: color(i), points: r.evals.map((e) => [e.step, e.loss] as const) })), {
      title: 'test loss by step', xLabel: 'step', yLabel: 'cross-entropy', logY: true,
    });
    drawChart(this.accuracy, race.racers.map((r, i) => ({ name: r.label, color: color(i), points: r.evals.map((e) => [e.step, e.accuracy] as const) })), {
      title: 'test accuracy by step', xLabel: 'step', yLabel: 'accuracy', y: [0, 1],
    });
    this.boundaryCard.hidden = race.data.features !== 2;
    // The boundaries cost a forward pass per racer on a grid: at most every 600 ms, and the final state.
    if (race.data.features === 2 && race.step !== this.lastBoundaryStep) {
      const wait = 600 - (performance.now() - this.lastBoundaryTime);
      if (wait <= 0 || this.lastBoundaryStep < 0) {
        this.lastBoundaryStep = race.step;
        this.lastBoundaryTime = performance.now();
        this.drawBoundaries(race);
      } else {
        this.schedule(wait);
      }
    }
  }

  private drawBoundaries(race: Race): void {
    const n = 48;
    const figures = race.racers.map((r, i) => {
      const canvas = h('canvas', { width: n * 4, height: n * 4, role: 'img', 'aria-label': `decision boundary of ${r.label} at step ${race.step}` });
      const ctx = canvas.getContext('2d')!;
      const p = race.grid(i, n);
      const cell = 4;
      for (let a = 0; a < n; a++) {
        for (let b = 0; b < n; b++) {
          const v = p[a * n + b];
          // class 0 blue, class 1 orange, pale near 0.5
          const t = Math.abs(v - 0.5) * 2;
          const [r0, g0, b0] = v > 0.5 ? [230, 159, 0] : [0, 114, 178];
          ctx.fillStyle = `rgb(${255 - (255 - r0) * t * 0.55},${255 - (255 - g0) * t * 0.55},${255 - (255 - b0) * t * 0.55})`;
          ctx.fillRect(b * cell, a * cell, cell, cell);
        }
      }
      const te = race.data.test;
      const scale = (n * cell) / 2.4;
      for (let k = 0; k < te.count; k++) {
        ctx.fillStyle = te.y[k] === 1 ? '#8a5a00' : '#003a66';
        ctx.beginPath();
        ctx.arc((te.x[2 * k] + 1.2) * scale, (1.2 - te.x[2 * k + 1]) * scale, 1.6, 0, 2 * Math.PI);
        ctx.fill();
      }
      const last = r.evals[r.evals.length - 1];
      return h('figure', {}, canvas, h('figcaption', {}, `${r.label}${last === undefined ? '' : ` · acc ${fmt(last.accuracy)}`}`));
    });
    this.boundaries.replaceChildren(...figures);
  }
}

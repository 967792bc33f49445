/**
 * The optimizer race: one ReLU MLP per optimizer, all from the same Glorot-uniform initialization
 * (`glorotUniformInit`, one seed) and fed the same batches (one `BatchSampler`), trained with the
 * library's optimizers through `createOptimizer` exactly as an app would: `tf.variableGrads` of the
 * softmax cross-entropy, then `optimizer.applyGradients`. As in the benchmark runner
 * (src/bench/runner.ts `runnerOptions`), the Muon family sends the output layer (and the biases) to its
 * auxiliary AdamW at the AdamW racer's learning rate, and SGD uses momentum 0.9.
 *
 * Besides the curves it records, for Muon and AdamW, the singular values of each hidden kernel's update
 * ΔW = W_after − W_before (float64 SVD of src/linalg/reference.ts), and keeps the latest gradient of the
 * last hidden kernel for the Newton–Schulz view.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createOptimizer, glorotUniformInit, listOptimizers, type TransformOptimizer } from '../../src/index.js';
import { matrix64, singularValues64 } from '../../src/reference.js';
import { BatchSampler, deriveSeed } from '../../src/core/random.js';
import { countCorrect, dense, sparseSoftmaxCrossEntropy } from '../../src/bench/tasks/ops.js';
import type { Dataset } from './data.js';
import type { Racer } from './settings.js';

const racerLabels: Record<string, string> = {
  muon: 'Muon', turboMuon: 'Turbo-Muon', norMuon: 'NorMuon', adaMuon: 'AdaMuon', adamw: 'AdamW', sgd: 'SGD',
};

/** Each racer keeps its colour in every chart and view (Okabe–Ito; the others cycle through the rest). */
const racerColors: Record<string, string> = {
  muon: '#0072B2', adamw: '#D55E00', turboMuon: '#009E73', norMuon: '#CC79A7', adaMuon: '#E69F00', sgd: '#56B4E9',
};
const otherColors = ['#000000', '#8C6D1F', '#7F7F7F', '#B2182B', '#5E3C99', '#1B7837'];

/** A racer's colour: fixed for the default racers, else by its place in the registry. */
export function racerColor(name: Racer): string {
  const known = racerColors[name];
  if (known !== undefined) return known;
  const others = listOptimizers().map((o) => o.name).filter((n) => racerColors[n] === undefined);
  return otherColors[Math.max(0, others.indexOf(name)) % otherColors.length];
}

/** A racer's display name: the table above, else its registry name. */
export function racerLabel(name: Racer): string {
  return racerLabels[name] ?? name;
}

export interface EvalPoint {
  readonly step: number;
  /** Milliseconds this racer has spent in its steps so far. */
  readonly wallMs: number;
  readonly loss: number;
  readonly accuracy: number;
}

export interface SpectrumRecord {
  readonly step: number;
  /** Parameter name, e.g. 'hidden2/kernel'. */
  readonly layer: string;
  /** Singular values of ΔW, descending. */
  readonly sigmas: number[];
}

export interface RacerRun {
  readonly name: Racer;
  readonly label: string;
  readonly learningRate: number;
  readonly vars: tf.Variable[];
  readonly optimizer: TransformOptimizer;
  /** Training-batch loss by step. */
  readonly batchLoss: [number, number][];
  readonly evals: EvalPoint[];
  readonly spectra: SpectrumRecord[];
  wallMs: number;
  /** Set when a step failed (e.g. a non-finite gradient); the racer then stops. */
  error?: string;
}

let raceCounter = 0;

/** Names of the MLP's parameters, kernels and biases alternating; the last kernel is the head. */
function paramNames(layers: number): string[] {
  const out: string[] = [];
  for (let l = 0; l < layers; l++) {
    const layer = l === layers - 1 ? 'logits' : `hidden${l + 1}`;
    out.push(`${layer}/kernel`, `${layer}/bias`);
  }
  return out;
}

export class Race {
  readonly racers: RacerRun[];
  readonly sizes: number[];
  readonly names: string[];
  readonly evalEvery = 10;
  readonly spectraEvery = 10;
  step = 0;
  /** The latest gradient of the last hidden kernel (first racer), for the NS view. */
  lastGradient: { rows: number; cols: number; data: Float32Array; layer: string } | null = null;
  private readonly sampler: BatchSampler;
  private readonly testX: tf.Tensor2D;
  private readonly testY: tf.Tensor1D;
  private disposed = false;

  constructor(
    readonly data: Dataset,
    names: readonly Racer[],
    learningRates: Readonly<Record<Racer, number>>,
    batch: number,
    readonly seed: number,
  ) {
    this.sizes = [data.features, ...data.hidden, data.classes];
    const layers = this.sizes.length - 1;
    this.names = paramNames(layers);
    const initial: { shape: number[]; values: Float32Array }[] = [];
    for (let l = 0; l < layers; l++) {
      const shape = [this.sizes[l], this.sizes[l + 1]];
      initial.push({ shape, values: glorotUniformInit(shape, { seed: deriveSeed(seed, `playground/init/${l}`) }) });
      initial.push({ shape: [this.sizes[l + 1]], values: new Float32Array(this.sizes[l + 1]) });
    }
    const id = ++raceCounter;
    this.racers = names.map((name) => {
      const vars = initial.map((p, i) => tf.variable(tf.tensor(p.values, p.shape), true, `race${id}/${name}/${this.names[i]}`));
      const info = listOptimizers().find((o) => o.name === name);
      const options: Record<string, unknown> = { learningRate: learningRates[name] };
      if (name === 'sgd') options.momentum = 0.9;
      if (info?.options.includes('adamwLearningRate') === true) options.adamwLearningRate = learningRates.adamw;
      if (info?.options.includes('exclude') === true) options.exclude = [new RegExp(`^race${id}/${name}/logits/kernel$`)];
      return {
        name, label: racerLabel(name), learningRate: learningRates[name], vars,
        optimizer: createOptimizer(name, options), batchLoss: [], evals: [], spectra: [], wallMs: 0,
      };
    });
    this.sampler = new BatchSampler(data.train.count, Math.min(batch, data.train.count), deriveSeed(seed, 'playground/batches'));
    this.testX = tf.tensor2d(data.test.x, [data.test.count, data.features]);
    this.testY = tf.tensor1d(data.test.y, 'int32');
    this.evaluate();
  }

  private logits(vars: readonly tf.Variable[], x: tf.Tensor2D): tf.Tensor2D {
    let h = x;
    const layers = vars.length / 2;
    for (let l = 0; l < layers; l++) {
      h = dense(h, vars[2 * l] as tf.Tensor2D, vars[2 * l + 1] as tf.Tensor1D, l > 0);
      if (l < layers - 1) h = tf.relu(h);
    }
    return h;
  }

  /** Test loss and accuracy of every racer at the current step. */
  evaluate(): void {
    for (const r of this.racers) {
      if (r.error !== undefined) continue;
      const [loss, correct] = tf.tidy(() => {
        const z = this.logits(r.vars, this.testX);
        return [sparseSoftmaxCrossEntropy(z, this.testY).dataSync()[0], countCorrect(z, this.testY).dataSync()[0]];
      });
      r.evals.push({ step: this.step, wallMs: r.wallMs, loss, accuracy: correct / this.data.test.count });
    }
  }

  private batch(): { x: tf.Tensor2D; y: tf.Tensor1D } {
    const idx = this.sampler.next();
    const f = this.data.features;
    const x = new Float32Array(idx.length * f);
    const y = new Int32Array(idx.length);
    idx.forEach((e, i) => {
      x.set(this.data.train.x.subarray(e * f, e * f + f), i * f);
      y[i] = this.data.train.y[e];
    });
    return { x: tf.tensor2d(x, [idx.length, f]), y: tf.tensor1d(y, 'int32') };
  }

  /** One step of every racer on the same batch. */
  async advance(): Promise<void> {
    if (this.disposed) return;
    const { x, y } = this.batch();
    const record = (this.step + 1) % this.spectraEvery === 0 || this.step === 0;
    const hiddenKernels = this.names.map((n, i) => (n.startsWith('hidden') && n.endsWith('/kernel') ? i : -1)).filter((i) => i >= 0);
    try {
      for (const r of this.racers) {
        if (r.error !== undefined) continue;
        const t0 = performance.now();
        const { value, grads } = tf.variableGrads(() => sparseSoftmaxCrossEntropy(this.logits(r.vars, x), y), r.vars);
        const keepSpectra = record && (r.name === 'muon' || r.name === 'adamw');
        const before = keepSpectra ? hiddenKernels.map((i) => r.vars[i].dataSync().slice()) : [];
        if (r === this.racers[0]) {
          const i = hiddenKernels[hiddenKernels.length - 1];
          const g = grads[r.vars[i].name] as tf.Tensor2D;
          this.lastGradient = { rows: g.shape[0], cols: g.shape[1], data: (await g.data()) as Float32Array, layer: this.names[i] };
        }
        try {
          // the loss goes along for the loss-aware optimizers (alrSmag, polyakSgd); the others ignore it
          r.optimizer.applyGradients(grads, { loss: value });
        } catch (e) {
          r.error = `${(e as Error).name}: ${(e as Error).message}`;
        }
        const loss = (await value.data())[0];
        r.wallMs += performance.now() - t0;
        tf.dispose([value, ...Object.values(grads)]);
        r.batchLoss.push([this.step + 1, loss]);
        if (keepSpectra) {
          hiddenKernels.forEach((vi, j) => {
            const after = r.vars[vi].dataSync();
            const [rows, cols] = r.vars[vi].shape;
            const d = new Float64Array(after.length);
            for (let k = 0; k < d.length; k++) d[k] = after[k] - before[j][k];
            r.spectra.push({ step: this.step + 1, layer: this.names[vi], sigmas: Array.from(singularValues64(matrix64(rows, cols, d))) });
          });
        }
      }
    } finally {
      tf.dispose([x, y]);
    }
    this.step++;
    if (this.step % this.evalEvery === 0) this.evaluate();
  }

  /** P(class 1) of a racer's model on a `n × n` grid over [-1.2, 1.2]² (2-D sets), row-major from the top. */
  grid(racer: number, n: number, extent = 1.2): Float32Array {
    const pts = new Float32Array(n * n * 2);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        pts[2 * (i * n + j)] = -extent + (2 * extent * (j + 0.5)) / n;
        pts[2 * (i * n + j) + 1] = extent - (2 * extent * (i + 0.5)) / n;
      }
    }
    return tf.tidy(() => {
      const z = this.logits(this.racers[racer].vars, tf.tensor2d(pts, [n * n, 2]));
      return tf.slice(tf.softmax(z), [0, 1], [n * n, 1]).dataSync() as Float32Array;
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const r of this.racers) {
      tf.dispose(r.vars);
      r.optimizer.dispose();
    }
    tf.dispose([this.testX, this.testY]);
  }
}

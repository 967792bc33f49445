/**
 * `deep-tanh-init`: Gaussian versus orthogonal initialization of deep tanh MLPs at criticality — the
 * experiment of Day, Kahn, Roberts, "Feature Learning and Generalization in Deep Networks with
 * Orthogonal Weights" (arXiv 2310.07765; Mach. Learn.: Sci. Technol. 2025). Their claim (abstract):
 * with i.i.d. Gaussian weights tuned to criticality, preactivation fluctuations still "grow linearly with
 * the depth"; with orthogonal weights and tanh they are "independent of depth, to leading order in
 * inverse width", and NTK correlators saturate around depth ~20; deep orthogonal networks train better
 * under full-batch gradient descent (MNIST, CIFAR-10).
 *
 * **Part 1 — fluctuations at initialization.** Networks of width `N` with square `N × N` layers (the
 * input is a vector of dimension `N` too), no biases (`C_b = 0`), `z₁ = x·W₁`, `z_{ℓ+1} = tanh(z_ℓ)·W_{ℓ+1}`.
 * Gaussian: `W_ij ~ N(0, 1/N)` (`C_W = 1`, criticality for tanh); orthogonal: the Haar orthogonal factor
 * (gain 1) of the same seeded Gaussian matrix (a paired comparison, {@link haarOrthogonal64}). For every
 * layer ℓ and input x the second moment `q_ℓ = |z_ℓ|²/N` is recorded over `draws` independent networks;
 * the table gives its mean `E[q]` (the kernel K_ℓ, identical for both at leading order), its relative
 * variance across draws `Var(q)/E[q]²`, and the normalized four-point vertex
 * `V/(N K²) = Cov(z_i², z_j²)/K²` (`i ≠ j`, one input; Roberts, Yaida, Hanin, "The Principles of Deep
 * Learning Theory", 2022, ch. 4–5), estimated per draw from `((Σz²)² − Σz⁴)/(N(N−1))`. For Gaussian
 * weights `Var(q)/K² = 2/N + V/(N K²) + O(1/N²)` and the vertex is predicted to grow as `≈ 2ℓ/(3N)` at
 * large depth for tanh (§5.4); this is the quantity the paper shows saturating for orthogonal weights.
 * For orthogonal layers `|z_{ℓ+1}| = |tanh(z_ℓ)|` exactly (and `q₁` does not fluctuate at all), so
 * fluctuations enter only through the tanh; the vertex starts near `−2/N` and stays there.
 *
 * Preactivation statistics at layer ℓ do not depend on layers after it, so one network of the largest
 * depth gives every depth: the depth-L row of {@link DeepTanhSummary.table} is layer L of those networks
 * (literally the depth-L network drawn from the same seeds). Part 1 is float64 JavaScript (the matrices
 * must be drawn on the host anyway; with N ≤ 128 and a few inputs the forward pass is ~0.05 ms per layer,
 * less than one tfjs op dispatch), and its cost is the QR of each orthogonal matrix (≈ 2 ms at N = 64,
 * 8 ms at N = 128, measured in Node 20 here).
 *
 * **Part 2 — short full-batch training.** For each initialization and seed, a tanh MLP
 * `d → N → … → N → 1` with `depth` hidden layers is trained full-batch (default Adam, lr 1e-3, L = N = 32;
 * the paper used plain gradient descent, `optimizer: 'sgd'` here, which barely moves this task in 100
 * steps; any registered optimizer by name) on `examples` points of the
 * `function-regression` data ({@link generateRegressionData}; MSE on standardized targets), and the
 * validation MSE on held-out points is recorded at the end. The first layer `d × N` is orthogonal with
 * gain `√(N/d)` (orthonormal rows: this gives `E|z₁|²` the Gaussian `C_W = 1` value), hidden layers gain 1,
 * the `N × 1` output layer gain 1 (a random unit vector, the same `E z²` as Gaussian `1/N` variance).
 * Part 2 uses tfjs ops on the current backend, and trains through the comparison runner
 * ({@link deepTanhTask}: one full-batch comparison per initialization and seed).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { deriveSeed, gaussian, mulberry32 } from '../../core/random.js';
import { haarOrthogonal64 } from '../../nn/init.js';
import { generateRegressionData, mlpForward } from '../tasks/regression.js';
import type { TaskDefinition, TaskInstance } from '../tasks/types.js';
import { runComparison } from '../runner.js';
import { bandLineSpec, logDomain, type VegaLiteSpec } from '../../report/specs.js';
import { colorScale, type BandPoint } from '../../report/curves.js';

/** The two initializations compared. */
export type DeepTanhInit = 'gaussian' | 'orthogonal';

const INITS: readonly DeepTanhInit[] = ['gaussian', 'orthogonal'];

/** Settings of the short full-batch training (part 2). */
export interface DeepTanhTrainingSettings {
  /** Hidden tanh layers of width `width`. */
  depth: number;
  width: number;
  /** Training examples (the whole batch). */
  examples: number;
  /** Held-out examples evaluated at the end. */
  validation: number;
  /** Input dimension of the regression data. */
  inputDim: number;
  /** Frequency scale of the regression target (`function-regression`'s `frequencyScale`). */
  frequencyScale: number;
  steps: number;
  /** Registered optimizer name (`createOptimizer`). */
  optimizer: string;
  learningRate: number;
  /** Independent seeds per initialization (network and data both change with the seed). */
  seeds: number;
}

/** Everything a run used (recorded in the summary). */
export interface DeepTanhSettings {
  preset: 'quick' | 'full' | 'custom';
  seed: number;
  /** Widths N of part 1. */
  widths: number[];
  /** Depths L reported in the table (the networks have `max(depths)` layers). */
  depths: number[];
  /** Independent networks per initialization and width. */
  draws: number;
  /** Fixed inputs, each `N(0, I_N)` rescaled to `|x|²/N = 1`. */
  inputs: number;
  /** Part 2, or `null` to skip it. */
  training: DeepTanhTrainingSettings | null;
}

/** Options of {@link runDeepTanh}: a preset and any settings to override. */
export interface DeepTanhOptions {
  seed?: number;
  widths?: readonly number[];
  depths?: readonly number[];
  draws?: number;
  inputs?: number;
  /** `'quick'` (default; ≈ 30 s on wasm on an idle 2-core machine here) or `'full'`. */
  preset?: 'quick' | 'full';
  /** Part 2 overrides, or `false` to skip it. */
  training?: Partial<DeepTanhTrainingSettings> | false;
  /** Called with one line per finished stage. */
  onProgress?: (message: string) => void;
}

/** Statistics of `q_ℓ = |z_ℓ|²/N` at one layer. */
export interface DeepTanhLayerRow {
  init: DeepTanhInit;
  width: number;
  layer: number;
  /** Mean of q over draws and inputs (the kernel K_ℓ). */
  meanQ: number;
  /** `Var(q)/E[q]²` across draws (unbiased variance), averaged over the inputs. */
  relVarQ: number;
  /** Jackknife standard error of `relVarQ` over the draws. */
  relVarQStdErr: number;
  /**
   * Normalized four-point vertex `V/(N K²) = Cov(z_i², z_j²)/K²` (`i ≠ j`), averaged over inputs
   * (K² estimated without bias: `mean(q)² − Var(q)/draws`).
   */
  vertex: number;
}

/** A row of the depth table: layer L of a depth-L network. */
export interface DeepTanhTableRow extends DeepTanhLayerRow {
  depth: number;
  /** Large-depth Gaussian prediction of the vertex, `2L/(3N)` (Roberts–Yaida–Hanin §5.4). */
  gaussianVertexTheory: number;
}

/** Per width: the comparison the claim is about. */
export interface DeepTanhFinding {
  width: number;
  depth: number;
  gaussianRelVarQ: number;
  orthogonalRelVarQ: number;
  /** Gaussian / orthogonal relative variance at this depth. */
  ratio: number;
}

/** Least-squares slope of `N·vertex` against ℓ over the deeper half of the layers. */
export interface DeepTanhSlope {
  init: DeepTanhInit;
  width: number;
  fromLayer: number;
  toLayer: number;
  /** Gaussian theory: ≈ 2/3 at large depth; orthogonal (paper): ≈ 0. */
  slope: number;
}

/** One training run of part 2. */
export interface DeepTanhTrainingRun {
  init: DeepTanhInit;
  seed: number;
  /** Full-batch loss before each step (length `steps`), then the final loss. */
  losses: number[];
  finalLoss: number;
  validationMse: number;
  wallSeconds: number;
}

/** Mean over seeds per initialization. */
export interface DeepTanhTrainingSummary {
  init: DeepTanhInit;
  initialLoss: number;
  finalLoss: number;
  finalLossMin: number;
  finalLossMax: number;
  validationMse: number;
}

/** What {@link runDeepTanh} returns (written as `deep-tanh/summary.json`). */
export interface DeepTanhSummary {
  format: 'orthoptim-deep-tanh/1';
  settings: DeepTanhSettings;
  /** Layer L of depth-L networks, per init, width and depth. */
  table: DeepTanhTableRow[];
  /** Every layer 1…max(depths), per init and width. */
  layers: DeepTanhLayerRow[];
  findings: DeepTanhFinding[];
  slopes: DeepTanhSlope[];
  training: DeepTanhTrainingRun[];
  trainingSummary: DeepTanhTrainingSummary[];
  /** Vega-Lite v5 specs (plain objects, data inline). */
  /** Vega-Lite v6 specs (src/report/specs.ts), each with its `name` and `description`. */
  plots: VegaLiteSpec[];
  backend: string;
  wallSeconds: number;
}

const QUICK: DeepTanhSettings = {
  preset: 'quick',
  seed: 1,
  widths: [64],
  depths: [8, 16, 32, 64],
  draws: 32,
  inputs: 4,
  // Depth comparable to width (L/N = 1), the regime the paper is about. Full-batch Adam: plain GD (the
  // paper's optimizer, `optimizer: 'sgd'`) hardly moves this regression task in 100 steps (measured:
  // MSE 1.0 → 0.55–0.65 for lr 0.02–0.05 with either init; lr 0.2 diverges).
  training: {
    depth: 32,
    width: 32,
    examples: 512,
    validation: 1024,
    inputDim: 8,
    frequencyScale: 1,
    steps: 100,
    optimizer: 'adam',
    learningRate: 1e-3,
    seeds: 2,
  },
};

const FULL: DeepTanhSettings = {
  preset: 'full',
  seed: 1,
  widths: [32, 64, 128],
  depths: [8, 16, 32, 64, 128],
  draws: 200,
  inputs: 8,
  training: { ...(QUICK.training as DeepTanhTrainingSettings), depth: 64, width: 64, steps: 300, seeds: 5 },
};

function checkInts(name: string, values: readonly number[], min: number): void {
  if (values.length === 0) throw new RangeError(`deep-tanh: ${name} must not be empty`);
  for (const v of values) {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`deep-tanh: ${name} must be integers >= ${min}, got ${v}`);
  }
}

/** The settings of a preset with overrides applied and validated. */
export function deepTanhSettings(options: Omit<DeepTanhOptions, 'onProgress'> = {}): DeepTanhSettings {
  const base = options.preset === 'full' ? FULL : QUICK;
  const { preset: _p, training, ...rest } = options;
  const overridden = Object.keys(rest).length > 0 || training !== undefined;
  const s: DeepTanhSettings = {
    ...base,
    ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)),
    widths: [...(rest.widths ?? base.widths)],
    depths: [...(rest.depths ?? base.depths)],
    preset: overridden ? 'custom' : base.preset,
    training: training === false ? null : { ...(base.training as DeepTanhTrainingSettings), ...(training ?? {}) },
  };
  checkInts('widths', s.widths, 2);
  checkInts('depths', s.depths, 1);
  checkInts('draws', [s.draws], 3);
  checkInts('inputs', [s.inputs], 1);
  if (!Number.isInteger(s.seed)) throw new RangeError(`deep-tanh: seed must be an integer, got ${s.seed}`);
  const t = s.training;
  if (t !== null) {
    checkInts('training depth/width/examples/validation/inputDim/steps/seeds', [t.depth, t.width, t.examples, t.validation, t.inputDim, t.steps, t.seeds], 1);
    if (!(t.learningRate > 0 && Number.isFinite(t.learningRate))) {
      throw new RangeError(`deep-tanh: training learningRate must be > 0, got ${t.learningRate}`);
    }
  }
  return s;
}

/** Seed of the weight matrix of one layer of one network draw (shared by both inits: paired draws). */
function layerSeed(seed: number, width: number, draw: number, layer: number): number {
  return deriveSeed(seed, `deep-tanh/N${width}/draw${draw}/layer${layer}`);
}

/** A square `N × N` layer of one init from `rand` (row-major, `[fanIn, fanOut]`). */
function squareLayer(init: DeepTanhInit, n: number, rand: () => number): Float64Array {
  if (init === 'orthogonal') return haarOrthogonal64(n, n, rand);
  const w = new Float64Array(n * n);
  const std = 1 / Math.sqrt(n);
  for (let i = 0; i < w.length; i++) w[i] = std * gaussian(rand);
  return w;
}

/** `out = h·W` for `h` `[b, n]`, `W` `[n, n]` row-major, float64. */
function multiply(h: Float64Array, w: Float64Array, b: number, n: number, out: Float64Array): void {
  out.fill(0);
  for (let r = 0; r < b; r++) {
    const ro = r * n;
    for (let i = 0; i < n; i++) {
      const hi = h[ro + i];
      if (hi === 0) continue;
      const wi = i * n;
      for (let j = 0; j < n; j++) out[ro + j] += hi * w[wi + j];
    }
  }
}

/**
 * `q = Σz²/N` and `p = ((Σz²)² − Σz⁴)/(N(N−1))` (the mean of `z_i² z_j²` over pairs `i ≠ j`) per
 * `[draw][layer][input]` for one init and width, float64.
 */
function sampleSecondMoments(
  init: DeepTanhInit,
  n: number,
  maxDepth: number,
  draws: number,
  x: Float64Array,
  inputs: number,
  seed: number,
): { q: Float64Array; p: Float64Array } {
  const q = new Float64Array(draws * maxDepth * inputs);
  const p = new Float64Array(draws * maxDepth * inputs);
  const z = new Float64Array(inputs * n);
  const h = new Float64Array(inputs * n);
  for (let d = 0; d < draws; d++) {
    h.set(x);
    for (let l = 0; l < maxDepth; l++) {
      const w = squareLayer(init, n, mulberry32(layerSeed(seed, n, d, l + 1)));
      multiply(h, w, inputs, n, z);
      for (let b = 0; b < inputs; b++) {
        let s2 = 0;
        let s4 = 0;
        for (let j = 0; j < n; j++) {
          const v = z[b * n + j];
          const v2 = v * v;
          s2 += v2;
          s4 += v2 * v2;
          h[b * n + j] = Math.tanh(v);
        }
        q[(d * maxDepth + l) * inputs + b] = s2 / n;
        p[(d * maxDepth + l) * inputs + b] = (s2 * s2 - s4) / (n * (n - 1));
      }
    }
  }
  return { q, p };
}

/** `Var(q)/E[q]²` per input, averaged over inputs, from the draws `use` (all when null). */
function relVar(q: Float64Array, draws: number, maxDepth: number, inputs: number, layer: number, skip: number): number {
  let total = 0;
  for (let b = 0; b < inputs; b++) {
    let s1 = 0;
    let s2 = 0;
    let count = 0;
    for (let d = 0; d < draws; d++) {
      if (d === skip) continue;
      const v = q[(d * maxDepth + layer) * inputs + b];
      s1 += v;
      s2 += v * v;
      count++;
    }
    const mean = s1 / count;
    const variance = Math.max(0, (s2 - count * mean * mean) / (count - 1));
    total += variance / (mean * mean);
  }
  return total / inputs;
}

function layerRows(
  init: DeepTanhInit,
  n: number,
  { q, p }: { q: Float64Array; p: Float64Array },
  draws: number,
  maxDepth: number,
  inputs: number,
): DeepTanhLayerRow[] {
  const rows: DeepTanhLayerRow[] = [];
  for (let l = 0; l < maxDepth; l++) {
    let sum = 0;
    let vertex = 0;
    for (let b = 0; b < inputs; b++) {
      let s1 = 0;
      let s2 = 0;
      let sp = 0;
      for (let d = 0; d < draws; d++) {
        const i = (d * maxDepth + l) * inputs + b;
        s1 += q[i];
        s2 += q[i] * q[i];
        sp += p[i];
      }
      const mq = s1 / draws;
      const varQ = Math.max(0, (s2 - draws * mq * mq) / (draws - 1));
      const k2 = mq * mq - varQ / draws;
      vertex += (sp / draws - k2) / k2;
      sum += s1;
    }
    const full = relVar(q, draws, maxDepth, inputs, l, -1);
    // Jackknife over draws: SE² = (D−1)/D · Σ (θ₋ᵢ − θ̄)².
    const loo = Array.from({ length: draws }, (_, d) => relVar(q, draws, maxDepth, inputs, l, d));
    const looMean = loo.reduce((a, v) => a + v, 0) / draws;
    const se = Math.sqrt(((draws - 1) / draws) * loo.reduce((a, v) => a + (v - looMean) ** 2, 0));
    rows.push({
      init,
      width: n,
      layer: l + 1,
      meanQ: sum / (draws * inputs),
      relVarQ: full,
      relVarQStdErr: se,
      vertex: vertex / inputs,
    });
  }
  return rows;
}

function slopeOf(rows: readonly DeepTanhLayerRow[], n: number): { slope: number; from: number; to: number } {
  const from = Math.max(1, Math.ceil(rows.length / 2));
  const pts = rows.filter((r) => r.layer >= from);
  const mx = pts.reduce((a, r) => a + r.layer, 0) / pts.length;
  const my = pts.reduce((a, r) => a + n * r.vertex, 0) / pts.length;
  let sxy = 0;
  let sxx = 0;
  for (const r of pts) {
    sxy += (r.layer - mx) * (n * r.vertex - my);
    sxx += (r.layer - mx) ** 2;
  }
  return { slope: sxx > 0 ? sxy / sxx : Number.NaN, from, to: rows.length };
}

/** Initial parameters `[W₁, b₁, …, W_out, b_out]` of the part-2 network, float32. */
export function deepTanhTrainingParams(init: DeepTanhInit, t: DeepTanhTrainingSettings, seed: number): { shape: number[]; values: Float32Array }[] {
  const widths = [t.inputDim, ...Array.from({ length: t.depth }, () => t.width), 1];
  const out: { shape: number[]; values: Float32Array }[] = [];
  for (let l = 0; l + 1 < widths.length; l++) {
    const [fanIn, fanOut] = [widths[l], widths[l + 1]];
    const rand = mulberry32(deriveSeed(seed, `deep-tanh/train/layer${l + 1}`));
    let w: Float64Array;
    if (init === 'orthogonal') {
      // Orthonormal rows (wide first layer) or columns; the first layer's gain √(N/d) matches C_W = 1.
      const gain = l === 0 ? Math.sqrt(Math.max(1, fanOut / fanIn)) : 1;
      w = haarOrthogonal64(fanIn, fanOut, rand).map((v) => gain * v);
    } else {
      const std = 1 / Math.sqrt(fanIn);
      w = Float64Array.from({ length: fanIn * fanOut }, () => std * gaussian(rand));
    }
    out.push({ shape: [fanIn, fanOut], values: Float32Array.from(w) });
    out.push({ shape: [fanOut], values: new Float32Array(fanOut) });
  }
  return out;
}

/**
 * Part 2 for one initialization and seed as a task of the comparison runner (src/bench/runner.ts):
 * full batch — every step is the whole training set in its order (`batch` ignores the sampler's
 * indices) — MSE loss, the validation split the held-out points, and the `test` split the training set
 * itself, so the runner's final test loss is the training loss after the last step.
 */
export function deepTanhTask(init: DeepTanhInit, t: DeepTanhTrainingSettings, seed: number): TaskDefinition {
  const name = `deep-tanh-${init}`;
  return {
    name,
    summary: `deep-tanh part 2: full-batch ${t.depth}-layer width-${t.width} tanh MLP, ${init} initialization`,
    needsData: false,
    defaults: { steps: t.steps, batch: t.examples, evalEvery: 0 },
    load: () => {
      const data = generateRegressionData(deriveSeed(seed, 'deep-tanh/train/data'), {
        inputDim: t.inputDim,
        frequencyScale: t.frequencyScale,
        trainCount: t.examples,
        validationCount: t.validation,
        testCount: 0,
      });
      const x = tf.tensor2d(data.train.x, [t.examples, t.inputDim]);
      const y = tf.tensor2d(data.train.y, [t.examples, 1]);
      const vx = tf.tensor2d(data.validation.x, [t.validation, t.inputDim]);
      const vy = tf.tensor2d(data.validation.y, [t.validation, 1]);
      const mse = (params: readonly tf.Tensor[], a: tf.Tensor2D, b: tf.Tensor2D): tf.Scalar => tf.mean(tf.square(tf.sub(mlpForward(params, a), b)));
      const instance: TaskInstance = {
        name,
        source: 'generated (function-regression data, seeded)',
        trainCount: t.examples,
        splits: { train: t.examples, validation: t.validation, test: t.examples },
        metric: { name: 'mse', label: 'MSE', higherIsBetter: false },
        model: `tanh MLP ${t.inputDim}→${t.width}×${t.depth}→1, ${init} initialization`,
        initialParams: (s) =>
          deepTanhTrainingParams(init, t, s).map((p, i) => ({ name: `deep-tanh/${init}/${i}`, shape: p.shape, values: p.values, role: p.shape.length === 2 ? 'hidden' : 'vector' })),
        // Full batch, in order; the runner disposes a batch's tensors after its step.
        batch: () => ({ tensors: [tf.clone(x), tf.clone(y)] }),
        loss: (params, b) => mse(params, b.tensors[0] as tf.Tensor2D, b.tensors[1] as tf.Tensor2D),
        evaluate: (params, split) => {
          const loss = tf.tidy(() => (split === 'validation' ? mse(params, vx, vy) : mse(params, x, y)).dataSync()[0]);
          return { loss, metric: loss };
        },
        dispose: () => tf.dispose([x, y, vx, vy]),
      };
      return Promise.resolve(instance);
    },
  };
}

/** One part-2 run through the runner: its loss curve, the training loss after the last step, the validation MSE. */
async function trainOnce(init: DeepTanhInit, t: DeepTanhTrainingSettings, seed: number): Promise<DeepTanhTrainingRun> {
  const start = performance.now();
  const { summary, curves } = await runComparison({
    task: deepTanhTask(init, t, seed),
    // The runner gives sgd momentum 0.9 by default; the paper's (and this experiment's) sgd is plain GD.
    optimizers: [{ name: t.optimizer, options: { learningRate: t.learningRate, ...(t.optimizer === 'sgd' ? { momentum: 0 } : {}) } }],
    seeds: [seed],
  });
  const run = summary.runs[0];
  return {
    init,
    seed,
    losses: curves[run.id].losses,
    finalLoss: run.final.testLoss,
    validationMse: run.final.validationLoss,
    wallSeconds: (performance.now() - start) / 1000,
  };
}

function mean(values: readonly number[]): number {
  return values.reduce((a, v) => a + v, 0) / values.length;
}

/**
 * Vega-Lite v6 specs of the summary, built by the report's own spec functions (src/report/specs.ts:
 * {@link bandLineSpec}, data inline, one colour per initialization), each with the `name` and
 * `description` the report uses for its file name and caption.
 */
function makePlots(s: DeepTanhSettings, layers: readonly DeepTanhLayerRow[], table: readonly DeepTanhTableRow[], runs: readonly DeepTanhTrainingRun[]): VegaLiteSpec[] {
  const multiWidth = s.widths.length > 1;
  const label = (init: DeepTanhInit, width: number): string => (multiWidth ? `${init}, N = ${width}` : init);
  const labels = s.widths.flatMap((w) => INITS.map((init) => label(init, w)));
  const color = colorScale(labels);
  const depthDomain = logDomain(s.depths);
  const plots: VegaLiteSpec[] = [
    {
      ...bandLineSpec({
        title: 'Preactivation fluctuation Var(q)/E[q]² vs layer (tanh, criticality)',
        x: { title: 'layer ℓ' },
        y: { title: 'Var(q)/E[q]²', zero: true },
        points: layers.map((r) => ({ label: label(r.init, r.width), x: r.layer, mean: r.relVarQ, min: r.relVarQ, max: r.relVarQ, n: 1 })),
        color,
        legendTitle: 'initialization',
      }),
      name: 'deep-tanh-relvar-vs-layer',
      description: `q = |z|²/N over ${s.draws} network draws per init; Gaussian grows ~ linearly in ℓ/N, orthogonal stays flat (Day, Kahn, Roberts).`,
    },
    {
      ...bandLineSpec({
        title: 'Fluctuation at the last layer of a depth-L network',
        x: { title: 'depth L', log: true, ...(depthDomain === null ? {} : { domain: depthDomain }) },
        y: { title: 'Var(q)/E[q]² at layer L', zero: true },
        // The band: ± 2 standard errors of the estimate over the draws.
        points: table.map((r) => ({
          label: label(r.init, r.width),
          x: r.depth,
          mean: r.relVarQ,
          min: r.relVarQ - 2 * r.relVarQStdErr,
          max: r.relVarQ + 2 * r.relVarQStdErr,
          n: s.draws,
        })),
        color,
        legendTitle: 'initialization',
        markers: true,
      }),
      name: 'deep-tanh-relvar-vs-depth',
      description: `Var(q)/E[q]² at layer L over ${s.draws} draws; the band is ± 2 standard errors.`,
    },
  ];
  if (runs.length > 0 && s.training !== null) {
    const t = s.training;
    const points: BandPoint[] = [];
    for (const init of INITS) {
      const own = runs.filter((r) => r.init === init);
      if (own.length === 0) continue;
      const length = Math.min(...own.map((r) => r.losses.length));
      for (let step = 0; step < length; step++) {
        const at = own.map((r) => r.losses[step]);
        points.push({ label: init, x: step, mean: mean(at), min: Math.min(...at), max: Math.max(...at), n: at.length });
      }
    }
    const lossDomain = logDomain(points.flatMap((p) => [p.min, p.max]));
    plots.push({
      ...bandLineSpec({
        title: `Full-batch training loss, depth ${t.depth} width ${t.width} tanh MLP (${t.optimizer}, lr ${t.learningRate})`,
        x: { title: 'step' },
        y: { title: 'training MSE', log: true, ...(lossDomain === null ? {} : { domain: lossDomain }) },
        points,
        color: colorScale(INITS),
        legendTitle: 'initialization',
      }),
      name: 'deep-tanh-training-loss',
      description: `Mean over ${t.seeds} seeds (band: min–max); ${t.examples} function-regression examples (MSE on standardized targets).`,
    });
  }
  return plots;
}

/**
 * Runs the experiment (part 1, then part 2 unless `training: false`) and returns its summary. Part 2
 * needs an optimizer registry (import the library's `index.js` or the optimizer modules first) and tfjs
 * gradients (`@tensorflow/tfjs-layers` in Node).
 */
export async function runDeepTanh(options: DeepTanhOptions = {}): Promise<DeepTanhSummary> {
  const { onProgress, ...rest } = options;
  const s = deepTanhSettings(rest);
  const start = performance.now();
  const maxDepth = Math.max(...s.depths);
  const layers: DeepTanhLayerRow[] = [];
  const table: DeepTanhTableRow[] = [];
  const slopes: DeepTanhSlope[] = [];
  const findings: DeepTanhFinding[] = [];
  for (const n of s.widths) {
    // Fixed inputs: N(0, I_N) rescaled to |x|²/N = 1.
    const rand = mulberry32(deriveSeed(s.seed, `deep-tanh/N${n}/inputs`));
    const x = new Float64Array(s.inputs * n);
    for (let b = 0; b < s.inputs; b++) {
      let sq = 0;
      for (let j = 0; j < n; j++) {
        x[b * n + j] = gaussian(rand);
        sq += x[b * n + j] ** 2;
      }
      const f = Math.sqrt(n / sq);
      for (let j = 0; j < n; j++) x[b * n + j] *= f;
    }
    const byInit = new Map<DeepTanhInit, DeepTanhLayerRow[]>();
    for (const init of INITS) {
      const t0 = performance.now();
      const q = sampleSecondMoments(init, n, maxDepth, s.draws, x, s.inputs, s.seed);
      const rows = layerRows(init, n, q, s.draws, maxDepth, s.inputs);
      byInit.set(init, rows);
      layers.push(...rows);
      for (const depth of [...s.depths].sort((a, b) => a - b)) {
        table.push({ ...rows[depth - 1], depth, gaussianVertexTheory: (2 * depth) / (3 * n) });
      }
      const fit = slopeOf(rows, n);
      slopes.push({ init, width: n, fromLayer: fit.from, toLayer: fit.to, slope: fit.slope });
      onProgress?.(`deep-tanh: N=${n} ${init}: ${s.draws} draws × ${maxDepth} layers in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      await Promise.resolve();
    }
    for (const depth of [...s.depths].sort((a, b) => a - b)) {
      const g = (byInit.get('gaussian') as DeepTanhLayerRow[])[depth - 1].relVarQ;
      const o = (byInit.get('orthogonal') as DeepTanhLayerRow[])[depth - 1].relVarQ;
      findings.push({ width: n, depth, gaussianRelVarQ: g, orthogonalRelVarQ: o, ratio: g / o });
    }
  }

  const training: DeepTanhTrainingRun[] = [];
  const trainingSummary: DeepTanhTrainingSummary[] = [];
  if (s.training !== null) {
    const t = s.training;
    for (const init of INITS) {
      for (let k = 0; k < t.seeds; k++) {
        const run = await trainOnce(init, t, deriveSeed(s.seed, `deep-tanh/train/seed${k}`));
        training.push(run);
        onProgress?.(
          `deep-tanh: training ${init} seed ${k + 1}/${t.seeds}: loss ${run.losses[0]?.toFixed(4)} → ${run.finalLoss.toFixed(4)} ` +
            `(validation ${run.validationMse.toFixed(4)}) in ${run.wallSeconds.toFixed(1)} s`,
        );
        await Promise.resolve();
      }
      const own = training.filter((r) => r.init === init);
      const finals = own.map((r) => r.finalLoss);
      trainingSummary.push({
        init,
        initialLoss: mean(own.map((r) => r.losses[0])),
        finalLoss: mean(finals),
        finalLossMin: Math.min(...finals),
        finalLossMax: Math.max(...finals),
        validationMse: mean(own.map((r) => r.validationMse)),
      });
    }
  }

  return {
    format: 'orthoptim-deep-tanh/1',
    settings: s,
    table,
    layers,
    findings,
    slopes,
    training,
    trainingSummary,
    plots: makePlots(s, layers, table, training),
    backend: tf.getBackend(),
    wallSeconds: (performance.now() - start) / 1000,
  };
}

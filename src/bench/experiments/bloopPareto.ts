/**
 * Bloop's Pareto front against gradient surgery without an EMA (issue 14 item 7, the claim "Bloop beats
 * surgery without an EMA"): Hsieh, Thornton, Ndiaye, Klein, Cuturi, Ablin, "Careful with that Scalpel:
 * Improving Gradient Surgery with an EMA" (ICML 2024, arXiv 2402.02998, §5.2), as in the reference's
 * example apple/ml-bloop `examples/smooth_mnist/train_smooth_mnist.py`: a 784-256-128-10 ReLU MLP, the
 * main loss the batch's softmax cross-entropy, the auxiliary loss the log of the squared-spectral-norm
 * product `log Π_l ‖W_l‖₂²` (an upper bound on the network's Lipschitz constant, squared), Adam, one run
 * per method and λ; the result is the Pareto front of (main, aux) over λ.
 *
 * Methods (`bloop()` of src/tfjs/bloop.ts, init 'grad'): `bloop` with the reference example's EMA
 * ρ = 0.01; `bloop-ema-0.1` with the library's default ρ = 0.1 (a shorter memory, for runs as short as
 * these: 1/ρ = 100 steps is half of the default run); `bloop-no-ema` — the same projection onto the *current* batch's main gradient (ρ = 1);
 * `pcgrad-no-ema` and `dynamic-barrier-no-ema` (ρ = 1, the example's settings of those variants);
 * `mixed` (g + λa, no surgery, the example's baseline). The spectral norms' gradients `u·vᵀ` come from power-iteration
 * vectors carried from step to step (two iterations a step on the current weights, as
 * spectral-normalization layers do), constant inside the tape; the reported aux loss uses 100 iterations.
 *
 * Departures from the example, to fit a CPU: `steps` Adam steps (default 200) at lr 1e-3 instead of
 * 25 epochs at 3e-4, on a seeded draw of `examples` training images (default 10,000); pixels in [0, 1]
 * (the example standardizes). MNIST when it is on disk, else Fashion-MNIST (embedded subset at worst).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { deriveSeed, mulberry32, shuffledIndices, uniformArray } from '../../core/random.js';
import { bloop, type BloopOptions } from '../../tfjs/bloop.js';
import { DataNotFoundError, loadMnist, mnistImagePixels, type MnistData } from '../data/index.js';

/** The methods of the study: label → bloop() options (λ added per run). */
export const bloopStudyMethods: Readonly<Record<string, Omit<BloopOptions, 'lambda'>>> = {
  bloop: { ema: 0.01 },
  'bloop-ema-0.1': { ema: 0.1 },
  'bloop-no-ema': { ema: 1 },
  'pcgrad-no-ema': { ema: 1, variant: 'pcgrad' },
  'dynamic-barrier-no-ema': { ema: 1, variant: 'dynamicBarrier' },
  mixed: { ema: 1, variant: 'mixed' },
};

/**
 * The methods run unless told otherwise: the dynamic barrier without an EMA is left out — its clip
 * `c ≤ 1/λ` never bound in trial runs here, so its points were bloop-no-ema's to the last digit.
 */
export const bloopStudyDefaultMethods: readonly string[] = ['bloop', 'bloop-ema-0.1', 'bloop-no-ema', 'pcgrad-no-ema', 'mixed'];

/** One run: a method at a λ and a seed, measured after the last step. */
export interface BloopParetoRun {
  method: string;
  lambda: number;
  seed: number;
  /** Mean cross-entropy over the training draw. */
  trainLoss: number;
  /** Mean cross-entropy over the test images. */
  testLoss: number;
  testAccuracy: number;
  /** log Π_l ‖W_l‖₂² (100 power iterations). */
  auxLoss: number;
  msPerStep: number;
}

/** `bloop-pareto/measurement.json` in a claims results folder. */
export interface BloopParetoSummary {
  format: 'orthoptim-bloop-pareto/1';
  setting: string;
  backend: string;
  dataset: string;
  steps: number;
  batch: number;
  lambdas: number[];
  seeds: number[];
  /** The methods run, label → options. */
  methods: Record<string, Omit<BloopOptions, 'lambda'>>;
  runs: BloopParetoRun[];
}

export interface BloopParetoOptions {
  /** Adam steps per run (default 200). */
  steps?: number;
  /** Batch size (default 256, the example's). */
  batch?: number;
  /** Training images drawn (default 10,000). */
  examples?: number;
  /** Test images (default 2000). */
  testExamples?: number;
  /** λ values (default 0.1, 0.3, 1, 3: below 0.1 the methods differed in the fourth digit in trial runs). */
  lambdas?: readonly number[];
  /** Method labels of {@link bloopStudyMethods} (default {@link bloopStudyDefaultMethods}). */
  methods?: readonly string[];
  /** Seeds 0 … seeds − 1 (default 2). */
  seeds?: number;
  /** Adam's learning rate (default 1e-3). */
  lr?: number;
  dataDir?: string;
  onProgress?: (message: string) => void;
}

const LAYERS = [mnistImagePixels, 256, 128, 10] as const;

/** A seeded MLP as variables [W1, b1, W2, b2, W3, b3] (Glorot-uniform, zero biases). */
function mlpParams(seed: number, tag: string): tf.Variable[] {
  const vars: tf.Variable[] = [];
  for (let l = 0; l + 1 < LAYERS.length; l++) {
    const [i, o] = [LAYERS[l], LAYERS[l + 1]];
    const w = uniformArray(i * o, Math.sqrt(6 / (i + o)), mulberry32(deriveSeed(seed, `bloop-pareto/w${l}`)));
    // A variable shares its initial tensor's data: the initial tensors are disposed, the variables keep it.
    const [wt, bt] = [tf.tensor2d(w, [i, o]), tf.zeros([o])];
    vars.push(tf.variable(wt, true, `${tag}/w${l}`), tf.variable(bt, true, `${tag}/b${l}`));
    tf.dispose([wt, bt]);
  }
  return vars;
}

function logits(params: readonly tf.Variable[], x: tf.Tensor2D): tf.Tensor2D {
  let h: tf.Tensor2D = x;
  for (let l = 0; l < params.length; l += 2) {
    h = tf.add(tf.matMul(h, params[l] as tf.Tensor2D), params[l + 1]);
    if (l + 2 < params.length) h = tf.relu(h);
  }
  return h;
}

/** `iterations` power-iteration steps on W from v (unit, length cols): the new unit u (rows) and v. */
function powerStep(w: tf.Tensor2D, v: tf.Tensor1D, iterations: number): { u: tf.Tensor1D; v: tf.Tensor1D } {
  return tf.tidy(() => {
    let vv = v;
    let u = tf.zeros([w.shape[0]]) as tf.Tensor1D;
    for (let k = 0; k < iterations; k++) {
      const wu = tf.squeeze(tf.matMul(w, tf.expandDims(vv, 1)), [1]);
      u = tf.div(wu, tf.add(tf.norm(wu), 1e-12)) as tf.Tensor1D;
      const wtv = tf.squeeze(tf.matMul(tf.expandDims(u, 0), w), [0]);
      vv = tf.div(wtv, tf.add(tf.norm(wtv), 1e-12)) as tf.Tensor1D;
    }
    return { u, v: vv };
  });
}

/** Σ_l 2·log(uᵀ W_l v): the auxiliary loss with the power vectors held constant. */
function auxLoss(params: readonly tf.Variable[], uv: readonly { u: tf.Tensor1D; v: tf.Tensor1D }[]): tf.Scalar {
  const terms = uv.map(({ u, v }, k) => {
    const sigma = tf.sum(tf.mul(tf.squeeze(tf.matMul(params[2 * k] as tf.Tensor2D, tf.expandDims(v, 1)), [1]), u));
    return tf.mul(2, tf.log(sigma));
  });
  return tf.addN(terms) as tf.Scalar;
}

async function loadData(dataDir: string | undefined): Promise<{ data: MnistData; name: string }> {
  try {
    const data = await loadMnist({ dataset: 'mnist', dataDir });
    return { data, name: 'MNIST' };
  } catch (e) {
    if (!(e instanceof DataNotFoundError) || dataDir !== undefined) throw e;
  }
  const data = await loadMnist({ dataset: 'fashionMnist', embeddedSubset: true });
  return { data, name: data.embedded ? 'Fashion-MNIST (embedded subset; MNIST not found)' : 'Fashion-MNIST (MNIST not found)' };
}

/** Runs every method × λ × seed (see the module comment). */
export async function runBloopPareto(options: BloopParetoOptions = {}): Promise<BloopParetoSummary> {
  const steps = options.steps ?? 200;
  const batch = options.batch ?? 256;
  const lambdas = [...(options.lambdas ?? [0.1, 0.3, 1, 3])];
  const labels = [...(options.methods ?? bloopStudyDefaultMethods)];
  const unknown = labels.filter((m) => !(m in bloopStudyMethods));
  if (unknown.length > 0) throw new RangeError(`runBloopPareto: unknown method ${unknown.join(', ')} (known: ${Object.keys(bloopStudyMethods).join(', ')})`);
  const seeds = Array.from({ length: options.seeds ?? 2 }, (_, i) => i);
  const lr = options.lr ?? 1e-3;
  const log = options.onProgress ?? (() => undefined);
  const { data, name } = await loadData(options.dataDir);
  const examples = Math.min(options.examples ?? 10_000, data.train.count);
  const nTest = Math.min(options.testExamples ?? 2000, data.test.count);
  const xTest = tf.tensor2d(data.test.images.subarray(0, nTest * mnistImagePixels), [nTest, mnistImagePixels]);
  const yTest = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(data.test.labels.subarray(0, nTest)), 'int32'), 10), 'float32') as tf.Tensor2D);
  const runs: BloopParetoRun[] = [];
  try {
    for (const seed of seeds) {
      const rows = Array.from(shuffledIndices(data.train.count, mulberry32(deriveSeed(seed, 'bloop-pareto/subset')))).slice(0, examples);
      const images = new Float32Array(examples * mnistImagePixels);
      rows.forEach((r, i) => images.set(data.train.images.subarray(r * mnistImagePixels, (r + 1) * mnistImagePixels), i * mnistImagePixels));
      const x = tf.tensor2d(images, [examples, mnistImagePixels]);
      const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(rows, (r) => data.train.labels[r]), 'int32'), 10), 'float32') as tf.Tensor2D);
      const random = mulberry32(deriveSeed(seed, 'bloop-pareto/batches'));
      const batches = Array.from({ length: steps }, () => Int32Array.from({ length: batch }, () => Math.floor(random() * examples)));
      try {
        for (const lambda of lambdas) {
          for (const method of labels) {
            const params = mlpParams(seed, `bloop-pareto-${method}-${lambda}-${seed}`);
            const adam = tf.train.adam(lr);
            const surgery = bloop({ ...bloopStudyMethods[method], lambda });
            let uv = params
              .filter((_, i) => i % 2 === 0)
              .map((w) => {
                const cols = (w as tf.Tensor2D).shape[1];
                const v0 = tf.fill([cols], 1 / Math.sqrt(cols)) as tf.Tensor1D;
                const p = powerStep(w as tf.Tensor2D, v0, 1);
                v0.dispose();
                return p;
              });
            let ms = 0;
            try {
              for (let s = 0; s < steps; s++) {
                const t0 = performance.now();
                const next = uv.map(({ v }, k) => powerStep(params[2 * k] as tf.Tensor2D, v, 2));
                tf.dispose(uv.flatMap((p) => [p.u, p.v]));
                uv = next;
                const idx = tf.tensor1d(batches[s], 'int32');
                const xb = tf.gather(x, idx);
                const yb = tf.gather(y, idx);
                surgery.step(
                  {
                    main: () => tf.losses.softmaxCrossEntropy(yb, logits(params, xb)) as tf.Scalar,
                    aux: () => auxLoss(params, uv),
                  },
                  adam,
                  { varList: params, missingGradients: 'zero' },
                );
                tf.dispose([idx, xb, yb]);
                ms += performance.now() - t0;
              }
              const final = uv.map(({ v }, k) => powerStep(params[2 * k] as tf.Tensor2D, v, 100));
              let run: BloopParetoRun | undefined;
              tf.tidy(() => {
                const trainLoss = tf.losses.softmaxCrossEntropy(y, logits(params, x)).dataSync()[0];
                const testLogits = logits(params, xTest);
                const testLoss = tf.losses.softmaxCrossEntropy(yTest, testLogits).dataSync()[0];
                const pred = tf.argMax(testLogits, 1).dataSync();
                let right = 0;
                for (let i = 0; i < nTest; i++) if (pred[i] === data.test.labels[i]) right++;
                const aux = auxLoss(params, final).dataSync()[0];
                run = { method, lambda, seed, trainLoss, testLoss, testAccuracy: right / nTest, auxLoss: aux, msPerStep: ms / steps };
              });
              tf.dispose(final.flatMap((p) => [p.u, p.v]));
              if (run === undefined) throw new Error('runBloopPareto: no measurement');
              runs.push(run);
              log(
                `seed ${seed} λ ${lambda} ${method}: train loss ${run.trainLoss.toFixed(4)}, aux ${run.auxLoss.toFixed(3)}, test ${(100 * run.testAccuracy).toFixed(1)} %, ${run.msPerStep.toFixed(1)} ms/step`,
              );
            } finally {
              tf.dispose(uv.flatMap((p) => [p.u, p.v]));
              surgery.dispose();
              adam.dispose();
              tf.dispose(params);
            }
          }
        }
      } finally {
        tf.dispose([x, y]);
      }
    }
  } finally {
    tf.dispose([xTest, yTest]);
  }
  const methods = Object.fromEntries(labels.map((m) => [m, bloopStudyMethods[m]]));
  return {
    format: 'orthoptim-bloop-pareto/1',
    setting:
      `${name}: ${examples} training images (a seeded draw per seed), ${nTest} test images; 784-256-128-10 ReLU MLP (seeded Glorot-uniform); ` +
      `main = softmax cross-entropy, aux = log Π‖W_l‖₂²; Adam lr ${lr}, ${steps} steps × batch ${batch}; λ ∈ {${lambdas.join(', ')}}; ` +
      `methods ${labels.map((m) => `${m} (${JSON.stringify(bloopStudyMethods[m])})`).join(', ')}`,
    backend: tf.getBackend(),
    dataset: name,
    steps,
    batch,
    lambdas,
    seeds,
    methods,
    runs,
  };
}

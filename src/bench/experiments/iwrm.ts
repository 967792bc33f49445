/**
 * Instance-wise risk minimization against minimizing the average loss (issue 14 item 7, the claim
 * "UPGrad's IWRM beats minimizing the average loss"): Quinton & Rey, "Jacobian Descent for
 * Multi-Objective Optimization" (arXiv 2406.16232, §5 IWRM: small subsets of image datasets, mini-batches,
 * stochastic sub-Jacobian descent with UPGrad against SGD on the batch's mean loss, the learning rate
 * of each tuned, compared by training loss); reference TorchJD/torchjd `docs/source/examples/iwrm.rst`
 * (one objective per example of the batch, `backward(losses, UPGrad())`, then `optimizer.step()`).
 *
 * Protocol here: a seeded draw of `examples` Fashion-MNIST training images (the embedded subset when the
 * full set is not on disk), a 784-`hidden`-10 ReLU MLP (tfjs-layers, seeded Glorot-uniform init, the same
 * for both methods at a seed), `epochs` epochs of batches of `batch` in one seeded order per seed (the same
 * for both methods), plain SGD (`tf.train.sgd`) at each learning rate of `lrs`:
 *
 * - `upgrad`: `modelJacobianDescent(model, x, y, sgd, {objectives: 'examples', aggregator: upgrad()})` —
 *   one gradient per example, the UPGrad direction;
 * - `mean`: `sgd.minimize(mean softmax cross-entropy of the batch)` — the average-loss step (equal to the
 *   `mean()` aggregator's, test/tfjs/jacobianDescent.test.ts).
 *
 * After every epoch: the mean cross-entropy over all `examples` training images (the paper's metric) and
 * the accuracy on `testExamples` test images. Each method's learning rate is the one with the lowest
 * final training loss averaged over the seeds (the paper tuned on training loss too).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { deriveSeed, mulberry32, shuffledIndices, uniformArray } from '../../core/random.js';
import { mean as meanAggregator, upgrad } from '../../transforms/aggregators.js';
import { modelJacobianDescent } from '../../tfjs/jacobianDescent.js';
import { loadMnist, mnistImagePixels } from '../data/index.js';

/** The two ways of stepping on a batch. */
export type IwrmMethod = 'upgrad' | 'mean';

/** One run: a method at a learning rate and a seed. */
export interface IwrmRun {
  method: IwrmMethod;
  lr: number;
  seed: number;
  /** Mean cross-entropy over the training subset after each epoch (index 0: before training). */
  trainLoss: number[];
  /** Test accuracy after each epoch (index 0: before training). */
  testAccuracy: number[];
  /** Milliseconds per step (mean over the run). */
  msPerStep: number;
}

/** `iwrm/measurement.json` in a claims results folder. */
export interface IwrmSummary {
  format: 'orthoptim-iwrm/1';
  /** What was run, in words (data, model, batches, optimizer). */
  setting: string;
  backend: string;
  examples: number;
  testExamples: number;
  batch: number;
  epochs: number;
  steps: number;
  lrs: number[];
  seeds: number[];
  runs: IwrmRun[];
}

export interface IwrmOptions {
  /** Training examples (default 1024, as the paper's subsets). */
  examples?: number;
  /** Test examples (default 2000). */
  testExamples?: number;
  /** Hidden width (default 64). */
  hidden?: number;
  /** Examples per batch = objectives per Jacobian (default 16). */
  batch?: number;
  /** Epochs (default 4). */
  epochs?: number;
  /** SGD learning rates tried by each method (default [0.03, 0.1, 0.3]). */
  lrs?: readonly number[];
  /** Seeds 0 … seeds − 1 (default 2). */
  seeds?: number;
  dataDir?: string;
  onProgress?: (message: string) => void;
}

/** Softmax cross-entropy per example from logits: shape [batch]. */
function perExampleLoss(yTrue: tf.Tensor, logits: tf.Tensor): tf.Tensor {
  return tf.losses.softmaxCrossEntropy(yTrue, logits, undefined, 0, tf.Reduction.NONE);
}

function glorot(fanIn: number, fanOut: number, seed: number): tf.Tensor[] {
  return [tf.tensor2d(uniformArray(fanIn * fanOut, Math.sqrt(6 / (fanIn + fanOut)), mulberry32(seed)), [fanIn, fanOut]), tf.zeros([fanOut])];
}

function mlp(hidden: number, seed: number): tfl.Sequential {
  const h = tfl.layers.dense({ units: hidden, activation: 'relu', inputShape: [mnistImagePixels] });
  const out = tfl.layers.dense({ units: 10 });
  const model = tfl.sequential({ layers: [h, out] });
  const w = [...glorot(mnistImagePixels, hidden, deriveSeed(seed, 'iwrm/w1')), ...glorot(hidden, 10, deriveSeed(seed, 'iwrm/w2'))];
  model.setWeights(w);
  tf.dispose(w);
  return model;
}

function evaluate(model: tfl.Sequential, x: tf.Tensor2D, y: tf.Tensor2D, xTest: tf.Tensor2D, labels: Uint8Array): { loss: number; accuracy: number } {
  return tf.tidy(() => {
    const loss = tf.mean(perExampleLoss(y, model.apply(x, { training: false }) as tf.Tensor)).dataSync()[0];
    const pred = tf.argMax(model.apply(xTest, { training: false }) as tf.Tensor, 1).dataSync();
    let right = 0;
    for (let i = 0; i < labels.length; i++) if (pred[i] === labels[i]) right++;
    return { loss, accuracy: right / labels.length };
  });
}

/** Runs every method × learning rate × seed (see the module comment). */
export async function runIwrm(options: IwrmOptions = {}): Promise<IwrmSummary> {
  const examples = options.examples ?? 1024;
  const testExamples = options.testExamples ?? 2000;
  const hidden = options.hidden ?? 64;
  const batch = options.batch ?? 16;
  const epochs = options.epochs ?? 4;
  const lrs = [...(options.lrs ?? [0.03, 0.1, 0.3])];
  const seeds = Array.from({ length: options.seeds ?? 2 }, (_, i) => i);
  const log = options.onProgress ?? (() => undefined);
  const data = await loadMnist({ dataset: 'fashionMnist', embeddedSubset: true, dataDir: options.dataDir });
  const perEpoch = Math.floor(examples / batch);
  const runs: IwrmRun[] = [];
  const nTest = Math.min(testExamples, data.test.count);
  const xTest = tf.tensor2d(data.test.images.subarray(0, nTest * mnistImagePixels), [nTest, mnistImagePixels]);
  const testLabels = data.test.labels.subarray(0, nTest);
  try {
    for (const seed of seeds) {
      const rows = Array.from(shuffledIndices(data.train.count, mulberry32(deriveSeed(seed, 'iwrm/subset')))).slice(0, examples);
      const images = new Float32Array(examples * mnistImagePixels);
      rows.forEach((r, i) => images.set(data.train.images.subarray(r * mnistImagePixels, (r + 1) * mnistImagePixels), i * mnistImagePixels));
      const x = tf.tensor2d(images, [examples, mnistImagePixels]);
      const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(rows, (r) => data.train.labels[r]), 'int32'), 10), 'float32') as tf.Tensor2D);
      const orders = Array.from({ length: epochs }, (_, e) => Int32Array.from(shuffledIndices(examples, mulberry32(deriveSeed(seed, `iwrm/epoch${e}`)))));
      try {
        for (const method of ['upgrad', 'mean'] as const) {
          for (const lr of lrs) {
            const model = mlp(hidden, seed);
            const sgd = tf.train.sgd(lr);
            const aggregator = method === 'upgrad' ? upgrad() : meanAggregator();
            const first = evaluate(model, x, y, xTest, testLabels);
            const run: IwrmRun = { method, lr, seed, trainLoss: [first.loss], testAccuracy: [first.accuracy], msPerStep: 0 };
            let ms = 0;
            for (let e = 0; e < epochs; e++) {
              for (let s = 0; s < perEpoch; s++) {
                const idx = tf.tensor1d(orders[e].subarray(s * batch, (s + 1) * batch), 'int32');
                const xb = tf.gather(x, idx);
                const yb = tf.gather(y, idx);
                const t0 = performance.now();
                if (method === 'upgrad') {
                  modelJacobianDescent(model, xb, yb, sgd, { loss: perExampleLoss, objectives: 'examples', aggregator });
                } else {
                  sgd.minimize(() => tf.mean(perExampleLoss(yb, model.apply(xb, { training: true }) as tf.Tensor)) as tf.Scalar);
                }
                ms += performance.now() - t0;
                tf.dispose([idx, xb, yb]);
              }
              const r = evaluate(model, x, y, xTest, testLabels);
              run.trainLoss.push(r.loss);
              run.testAccuracy.push(r.accuracy);
            }
            run.msPerStep = ms / (epochs * perEpoch);
            runs.push(run);
            log(
              `seed ${seed} ${method} lr ${lr}: train loss ${run.trainLoss[epochs].toFixed(4)}, test accuracy ${(100 * run.testAccuracy[epochs]).toFixed(1)} %, ${run.msPerStep.toFixed(1)} ms/step`,
            );
            sgd.dispose();
            model.dispose();
          }
        }
      } finally {
        tf.dispose([x, y]);
      }
    }
  } finally {
    xTest.dispose();
  }
  const where = data.embedded ? 'the embedded Fashion-MNIST subset' : 'Fashion-MNIST';
  return {
    format: 'orthoptim-iwrm/1',
    setting:
      `${where}: ${examples} training images (a seeded draw per seed), ${nTest} test images; 784-${hidden}-10 ReLU MLP (seeded Glorot-uniform), softmax cross-entropy; ` +
      `${epochs} epochs × ${perEpoch} batches of ${batch} (the same order for both methods); plain SGD, lr per method from {${lrs.join(', ')}} by final training loss`,
    backend: tf.getBackend(),
    examples,
    testExamples: nTest,
    batch,
    epochs,
    steps: epochs * perEpoch,
    lrs,
    seeds,
    runs,
  };
}

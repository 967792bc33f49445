/** Small deterministic models and data for adapter tests. */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { gaussian } from './random.js';

/** A 3-class problem: 256 points in 8-D labelled by a fixed random linear teacher. */
export function blobs(seed = 0): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const n = 256;
  const d = 8;
  const xs = gaussian(n * d, seed + 1);
  const w = gaussian(d * 3, seed + 2);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestV = -Infinity;
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (let j = 0; j < d; j++) v += xs[i * d + j] * w[j * 3 + c];
      if (v > bestV) {
        bestV = v;
        best = c;
      }
    }
    labels[i] = best;
  }
  return tf.tidy(() => ({ x: tf.tensor2d(xs, [n, d]), y: tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 3), 'float32') as tf.Tensor2D }));
}

/** 8 → 32 → 32 → 3 MLP with seeded initializers (identical weights for the same seed). */
export function mlp(seed = 0): tfl.Sequential {
  const model = tfl.sequential();
  model.add(tfl.layers.dense({ inputShape: [8], units: 32, activation: 'relu', kernelInitializer: tfl.initializers.glorotNormal({ seed: seed + 10 }) }));
  model.add(tfl.layers.dense({ units: 32, activation: 'relu', kernelInitializer: tfl.initializers.glorotNormal({ seed: seed + 11 }) }));
  model.add(tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotNormal({ seed: seed + 12 }) }));
  return model;
}

/** Values of every trainable weight, as plain arrays. */
export function weightValues(model: tfl.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

/** Largest absolute difference between two lists of arrays. */
export function maxDifference(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  let m = 0;
  a.forEach((x, i) => {
    for (let j = 0; j < x.length; j++) m = Math.max(m, Math.abs(x[j] - b[i][j]));
  });
  return m;
}

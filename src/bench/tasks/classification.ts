/**
 * Shared plumbing of classification tasks: splitting a training set into train and validation with a
 * seeded permutation, batches of integer labels, chunked evaluation of loss and accuracy.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { deriveSeed, mulberry32, shuffledIndices } from '../../core/random.js';
import { countCorrect, sparseSoftmaxCrossEntropy } from './ops.js';
import type { Batch, EvalMetrics, ParamInit, TaskInstance } from './types.js';

/** Rows of `inputSize` floats (an image flattened, or any feature vector) and their class labels. */
export interface Split {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

/** The rows `indices` of a split, copied into a new split. */
export function takeRows(split: Split, indices: ArrayLike<number>, inputSize: number): Split {
  const n = indices.length;
  const images = new Float32Array(n * inputSize);
  const labels = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    const i = indices[r];
    images.set(split.images.subarray(i * inputSize, (i + 1) * inputSize), r * inputSize);
    labels[r] = split.labels[i];
  }
  return { images, labels, count: n };
}

/**
 * Splits a training set: `validationCount` rows chosen by a permutation drawn from `seed` become the
 * validation split, the rest (in their original order) the training split.
 */
export function holdOut(train: Split, validationCount: number, inputSize: number, seed: number): { train: Split; validation: Split } {
  if (!Number.isInteger(validationCount) || validationCount < 1 || validationCount >= train.count) {
    throw new RangeError(`holdOut: validationCount must be an integer in [1, ${train.count - 1}], got ${validationCount}`);
  }
  const order = shuffledIndices(train.count, mulberry32(deriveSeed(seed, 'validation-split')));
  const held = order.subarray(0, validationCount);
  const isHeld = new Uint8Array(train.count);
  for (const i of held) isHeld[i] = 1;
  const rest: number[] = [];
  for (let i = 0; i < train.count; i++) if (isHeld[i] === 0) rest.push(i);
  const sortedHeld = Array.from(held).sort((a, b) => a - b);
  return { train: takeRows(train, rest, inputSize), validation: takeRows(train, sortedHeld, inputSize) };
}

/** What a classification task supplies; {@link classificationInstance} does the rest. */
export interface ClassificationSpec {
  name: string;
  source: string;
  model: string;
  /** Shape of one example, e.g. `[784]` or `[32, 32, 3]` (rows of the splits are this, flattened). */
  exampleShape: number[];
  numClasses: number;
  train: Split;
  validation: Split;
  test: Split;
  initialParams(seed: number): ParamInit[];
  /** Logits `[n, numClasses]` of a batch `x` of shape `[n, ...exampleShape]`. */
  logits(params: readonly tf.Tensor[], x: tf.Tensor): tf.Tensor2D;
  /** Examples per evaluation chunk (default 1000). */
  evalChunk?: number;
}

/** A {@link TaskInstance} for softmax classification with accuracy as its metric. */
export function classificationInstance(spec: ClassificationSpec): TaskInstance {
  const inputSize = spec.exampleShape.reduce((a, b) => a * b, 1);
  const chunk = spec.evalChunk ?? 1000;
  const makeBatch = (split: Split, indices: ArrayLike<number>): Batch => {
    const n = indices.length;
    const xs = new Float32Array(n * inputSize);
    const ys = new Int32Array(n);
    for (let r = 0; r < n; r++) {
      const i = indices[r];
      xs.set(split.images.subarray(i * inputSize, (i + 1) * inputSize), r * inputSize);
      ys[r] = split.labels[i];
    }
    return { tensors: [tf.tensor(xs, [n, ...spec.exampleShape]), tf.tensor1d(ys, 'int32')] };
  };
  return {
    name: spec.name,
    source: spec.source,
    trainCount: spec.train.count,
    splits: { train: spec.train.count, validation: spec.validation.count, test: spec.test.count },
    metric: { name: 'accuracy', label: 'accuracy', higherIsBetter: true },
    model: spec.model,
    initialParams: (seed) => spec.initialParams(seed),
    batch: (indices) => makeBatch(spec.train, indices),
    loss(params, batch) {
      const [x, y] = batch.tensors;
      return sparseSoftmaxCrossEntropy(spec.logits(params, x), y as tf.Tensor1D);
    },
    evaluate(params, which, limit): EvalMetrics {
      const split = which === 'validation' ? spec.validation : spec.test;
      const count = Math.min(split.count, limit ?? split.count);
      let lossSum = 0;
      let correct = 0;
      for (let start = 0; start < count; start += chunk) {
        const end = Math.min(count, start + chunk);
        const batch = makeBatch(split, Array.from({ length: end - start }, (_, k) => start + k));
        const [l, c] = tf.tidy(() => {
          const logits = spec.logits(params, batch.tensors[0]);
          const labels = batch.tensors[1] as tf.Tensor1D;
          return [sparseSoftmaxCrossEntropy(logits, labels, 'sum'), countCorrect(logits, labels)];
        });
        lossSum += l.dataSync()[0];
        correct += c.dataSync()[0];
        tf.dispose([l, c, ...batch.tensors]);
      }
      return { loss: lossSum / count, metric: correct / count };
    },
    dispose() {},
  };
}

/**
 * The golden set's format and replay, with no Node module: the tensor types, PyTorch ↔ TensorFlow.js
 * layout, the README's normwise deviation, and replays of a golden file object — shared by the Node
 * tests (through golden.ts, which reads the files) and the browser test page, which fetches them.
 * Format and tolerances: test/fixtures/golden/README.md.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface GoldenTensor { shape: number[]; data: number[] }
export interface GoldenStep { grads: Record<string, GoldenTensor>; params: Record<string, GoldenTensor> }
export interface GoldenFile {
  method: string;
  source: string;
  hyperparams?: Record<string, unknown>;
  effective_hyperparams?: unknown;
  injected?: Record<string, unknown>;
  param_order?: string[];
  grad_scale?: number;
  params?: Record<string, GoldenTensor>;
  steps?: GoldenStep[];
  args?: Record<string, unknown>;
  inputs?: GoldenTensor[];
  outputs?: GoldenTensor[];
  notes: string;
  state_init?: Record<string, Record<string, unknown>>;
}

/** float32 tensor in PyTorch layout (values rounded with Math.fround, as the README says). */
export function torchTensor(t: GoldenTensor): tf.Tensor {
  return tf.tensor(Float32Array.from(t.data, (v) => Math.fround(v)), t.shape, 'float32');
}

/** PyTorch layout → TensorFlow.js layout. */
export function toTfjsLayout(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    if (x.rank === 2) return tf.transpose(x);
    if (x.rank === 4) return tf.transpose(x, [2, 3, 1, 0]);
    return tf.clone(x);
  });
}

/** TensorFlow.js layout → PyTorch layout. */
export function toTorchLayout(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    if (x.rank === 2) return tf.transpose(x);
    if (x.rank === 4) return tf.transpose(x, [3, 2, 0, 1]);
    return tf.clone(x);
  });
}

/** The README's normwise deviation: max|got − want| / max|want| (0/0 → 0). */
export function normwiseDeviation(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  let maxDiff = 0;
  let maxWant = 0;
  for (let i = 0; i < want.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - Math.fround(want[i])));
    maxWant = Math.max(maxWant, Math.abs(Math.fround(want[i])));
  }
  if (Number.isNaN(maxDiff)) return Number.NaN;
  return maxWant === 0 ? maxDiff : maxDiff / maxWant;
}

let counter = 0;

export interface ReplayResult {
  /** Worst normwise deviation over every step and parameter. */
  maxDeviation: number;
  /** Worst deviation per step. */
  perStep: number[];
}

/**
 * Replays a golden optimizer trajectory through an orthoptim optimizer (in TensorFlow.js layout) and
 * returns the worst normwise deviation over all steps and parameters, without re-syncing.
 */
export function replayGoldenFile(g: GoldenFile, makeOptimizer: (g: GoldenFile) => tf.Optimizer): ReplayResult {
  const order = g.param_order!;
  const prefix = `golden${counter++}`;
  const vars = order.map((p) =>
    tf.tidy(() => tf.variable(toTfjsLayout(torchTensor(g.params![p])), true, `${prefix}/${p}`)),
  );
  const opt = makeOptimizer(g);
  const perStep: number[] = [];
  try {
    for (const step of g.steps!) {
      const grads = order.map((p, i) => ({
        name: vars[i].name,
        tensor: tf.tidy(() => toTfjsLayout(torchTensor(step.grads[p]))),
      }));
      opt.applyGradients(grads);
      tf.dispose(grads.map((x) => x.tensor));
      let worst = 0;
      order.forEach((p, i) => {
        const got = tf.tidy(() => toTorchLayout(vars[i]));
        worst = Math.max(worst, normwiseDeviation(got.dataSync(), step.params[p].data));
        got.dispose();
      });
      perStep.push(worst);
    }
  } finally {
    opt.dispose();
    tf.dispose(vars);
  }
  return { maxDeviation: Math.max(...perStep), perStep };
}

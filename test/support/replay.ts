/**
 * Replays a golden optimizer trajectory through an orthoptim optimizer (in TensorFlow.js layout) and
 * returns the worst normwise deviation over all steps and parameters, without re-syncing.
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadGolden, normwiseDeviation, toTfjsLayout, toTorchLayout, torchTensor, type GoldenFile } from './golden.js';

let counter = 0;

export interface ReplayResult {
  /** Worst normwise deviation over every step and parameter. */
  maxDeviation: number;
  /** Worst deviation per step. */
  perStep: number[];
}

export function replayGolden(
  name: string,
  makeOptimizer: (g: GoldenFile) => tf.Optimizer,
): ReplayResult {
  const g = loadGolden(name);
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

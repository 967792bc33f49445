/**
 * Step sizes.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { stateless, type GradientTransformation } from '../core/transform.js';
import type { Schedule } from '../schedules/index.js';

/**
 * Multiplies the update by `−η(step)`: the last stage of a descent recipe (updates are added to the
 * parameters). `η` is a schedule evaluated at the number of steps already applied.
 */
export function scaleByLearningRate(learningRate: Schedule): GradientTransformation {
  return stateless((u, _p, _m, ctx) => tf.mul(u, -learningRate(ctx.step)));
}

/** Multiplies the update by a constant. */
export function scale(factor: number): GradientTransformation {
  return stateless((u) => tf.mul(u, factor));
}

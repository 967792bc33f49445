/**
 * Gradient clipping.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradientTransformation } from '../core/transform.js';

/**
 * Global-norm clipping (Pascanu et al., arXiv 1211.5063; optax `clip_by_global_norm`, torch
 * `clip_grad_norm_`): when `‖g‖ = √Σᵢ‖gᵢ‖²` over all parameters exceeds `maxNorm`, every update is
 * multiplied by `maxNorm / ‖g‖`. Stays on the device (no read-back). A zero gradient is left as is.
 */
export function clipByGlobalNorm(maxNorm: number): GradientTransformation {
  return {
    init: () => null,
    update(updates, state) {
      if (updates.length === 0) return { updates: [], state };
      const sq = tf.addN(updates.map((u) => tf.sum(tf.square(u))));
      const norm = tf.sqrt(sq);
      const factor = tf.div(maxNorm, tf.maximum(norm, maxNorm));
      return { updates: updates.map((u) => tf.mul(u, factor)), state };
    },
  };
}

/**
 * Cautious masking: updates that disagree with the current gradient are dropped.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { stateless, type GradientTransformation } from '../core/transform.js';

/** Options of {@link cautious}. */
export interface CautiousOptions {
  /**
   * In the rescaling `n/(Σφ + ε)`. The paper's code uses 1 (the default: fewer surviving coordinates
   * also damp the update a little); optax uses 1e-8 (exactly the inner direction when all agree).
   */
  readonly epsilon?: number;
}

/**
 * Cautious optimizers (Liang, Chen, Liu, Liu, "Cautious Optimizers: Improving Training with One Line
 * of Code", arXiv 2411.16085; reference kyleliang919/C-Optim, optax `contrib/_cautious.py`). Wraps
 * the *direction* part of a chain — what comes before the step size, whose output `u` descends when
 * subtracted (`θ ← θ − η·u`, as `scaleByLearningRate` does next): per parameter tensor,
 * `φ = 1[u ⊙ g > 0]` with `g` the updates this wrapper receives (the gradient when it comes first),
 * and the output is `φ ⊙ u · n/(Σφ + ε)`, `n` the tensor's size — so `⟨output, g⟩ ≥ 0` always.
 * State: the inner transform's.
 */
export function cautious(direction: GradientTransformation, options: CautiousOptions = {}): GradientTransformation {
  const epsilon = options.epsilon ?? 1;
  return {
    needsLoss: direction.needsLoss === true,
    init: (metas) => direction.init(metas),
    update(updates, state, ctx) {
      const inner = direction.update(updates, state, ctx);
      const out = inner.updates.map((u, i) => {
        if (u.size === 0) return u;
        const keep = tf.cast(tf.greater(tf.mul(u, updates[i]), 0), u.dtype);
        return tf.mul(tf.mul(u, keep), tf.div(u.size, tf.add(tf.sum(keep), epsilon)));
      });
      return { updates: out, state: inner.state };
    },
  };
}

/**
 * Cautious weight decay (Chen et al., "Cautious Weight Decay", arXiv 2510.12402; microsoft/dion
 * `cautious_wd`): decoupled weight decay `λ·W` added only where the update `u` and the weight have the
 * same sign (`u ⊙ W ≥ 0`, so decay and update both pull that weight towards 0). Placed like
 * `addDecayedWeights` after the geometry and before `scaleByLearningRate`. `λ = 0` is the identity.
 */
export function addCautiousDecayedWeights(weightDecay: number): GradientTransformation {
  if (weightDecay === 0) return stateless((u) => u);
  return stateless((u, p) => {
    const mask = tf.cast(tf.greaterEqual(tf.mul(u, p), 0), p.dtype);
    return tf.add(u, tf.mul(tf.mul(p, mask), weightDecay));
  });
}

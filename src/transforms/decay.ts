/**
 * Weight decay.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { stateless, type GradientTransformation } from '../core/transform.js';

/**
 * Adds `λ·W` to the update. Placed *after* the geometry and before {@link scaleByLearningRate} it is
 * decoupled weight decay (Loshchilov & Hutter, arXiv 1711.05101): `W ← W − η(u + λW)`, the decay
 * multiplied by the base learning rate as every reference does (KellerJordan/Muon, torch AdamW,
 * Moonlight, dion). Placed *before* the moments it is classic L2 regularization (torch SGD / Adam
 * `weight_decay`). `λ = 0` is the identity.
 */
export function addDecayedWeights(weightDecay: number): GradientTransformation {
  if (weightDecay === 0) return stateless((u) => u);
  return stateless((u, p) => tf.add(u, tf.mul(p, weightDecay)));
}

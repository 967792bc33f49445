/**
 * Momentum transforms.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradientTransformation, StateTree } from '../core/transform.js';

function zerosSlots(metas: readonly { shape: readonly number[] }[]): tf.Tensor[] {
  return metas.map((m) => tf.zeros([...m.shape]));
}

/**
 * EMA momentum with optional Nesterov look-ahead, as in KellerJordan/Muon `muon.py` `muon_update`:
 * `M ← βM + (1−β)G`, output `(1−β)G + βM` (Nesterov, `grad.lerp_(buf, β)`) or `M`.
 * With a zero-initialized buffer this is `(1−β)` times the `M ← βM + G` convention of Moonlight and Dion,
 * which any scale-invariant geometry (Newton–Schulz) cannot tell apart (spec §1.1).
 * State: `{ mu: [M per parameter] }`.
 */
export function emaMomentum(options: { beta: number; nesterov: boolean }): GradientTransformation {
  const { beta, nesterov } = options;
  return {
    init: (metas) => ({ mu: zerosSlots(metas) }),
    update(updates, state) {
      const mu = (state as { mu: tf.Tensor[] }).mu;
      const nextMu = updates.map((g, i) => tf.add(tf.mul(mu[i], beta), tf.mul(g, 1 - beta)));
      const out = nesterov
        ? updates.map((g, i) => tf.add(tf.mul(g, 1 - beta), tf.mul(nextMu[i], beta)))
        : nextMu;
      return { updates: out, state: { mu: nextMu } };
    },
  };
}

/**
 * Heavy-ball momentum with dampening and Nesterov, exactly torch.optim.SGD (torch 1.13 `sgd.py`):
 * the first step sets `buf = g`; later `buf ← μ·buf + (1−dampening)·g`; output `g + μ·buf` (Nesterov)
 * or `buf`. State: `{ trace: [buf per parameter] }`.
 */
export function trace(options: { momentum: number; dampening: number; nesterov: boolean }): GradientTransformation {
  const { momentum, dampening, nesterov } = options;
  return {
    init: (metas) => ({ trace: zerosSlots(metas) }),
    update(updates, state, ctx) {
      const buf = (state as { trace: tf.Tensor[] }).trace;
      const next = updates.map((g, i) =>
        ctx.step === 0 ? tf.clone(g) : tf.add(tf.mul(buf[i], momentum), tf.mul(g, 1 - dampening)),
      );
      const out = nesterov ? updates.map((g, i) => tf.add(g, tf.mul(next[i], momentum))) : next;
      return { updates: out, state: { trace: next } satisfies StateTree };
    },
  };
}

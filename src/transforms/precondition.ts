/**
 * ASGO's one-sided preconditioner and the RMS rescale that follows it.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { stateless, type GradientTransformation, type ParamMeta } from '../core/transform.js';
import { matrixShape } from '../linalg/newtonSchulz.js';
import {
  finiteOrIdentity,
  inverseSquareRoot,
  resolveInverseSquareRoot,
  type InverseSquareRootOptions,
} from '../linalg/inverseRoot.js';

/**
 * Which side of the `[fanIn, fanOut]` matrix the preconditioner acts on: always the smaller one, so the
 * preconditioner is k×k with `k = min(fanIn, fanOut)`.
 * - `'input'` (fanIn ≤ fanOut): `V` is `G·Gᵀ` (fanIn×fanIn), the update is `P·M`.
 * - `'output'` (fanOut < fanIn): `V` is `Gᵀ·G` (fanOut×fanOut), the update is `M·P`.
 *
 * The reference (`infinity-stars/ASGO:optimizers/asgo.py`) works on the PyTorch weight `[out, in]` = `Gᵀ`
 * here: "left, `G Gᵀ`" when `out < in` is our `'output'` side, and "right, `Gᵀ G`" when `out ≥ in` is our
 * `'input'` side (ties, square matrices, go to the input side in both).
 */
export type PreconditionSide = 'input' | 'output';

/** The side and size of the preconditioner of a parameter (rank ≥ 2; conv kernels as `[kh·kw·in, out]`). */
export function preconditionerSide(shape: readonly number[]): { side: PreconditionSide; k: number; fanIn: number; fanOut: number } {
  const [fanIn, fanOut] = matrixShape(shape);
  return fanOut < fanIn ? { side: 'output', k: fanOut, fanIn, fanOut } : { side: 'input', k: fanIn, fanIn, fanOut };
}

/** Options of {@link oneSidedPrecondition}. */
export interface OneSidedPreconditionOptions extends InverseSquareRootOptions {
  /** EMA coefficient of the momentum `M` (ASGO's `momentum`, default 0.9). */
  readonly beta1: number;
  /** EMA coefficient of the preconditioner statistic `V` (default 0.8). */
  readonly beta2: number;
}

function transposeOf(x: tf.Tensor2D): tf.Tensor2D {
  return tf.transpose(x);
}

/**
 * ASGO's one-sided preconditioning (An et al., arXiv 2503.20762; `infinity-stars/ASGO:optimizers/asgo.py`):
 * per matrix `G` (`[fanIn, fanOut]`, see {@link PreconditionSide}):
 * ```
 * M ← M + (1−β₁)(G − M)                    (torch lerp_)
 * V ← V + (1−β₂)(GGᵀ − V)  or  (GᵀG − V)   (k×k, the smaller side)
 * P ← (V + εI)^{−1/2}                      (coupled Polar Express iteration, identity if non-finite)
 * U ← P·M  or  M·P
 * ```
 * With β₁ = β₂ = 0 this is `(GGᵀ)^{−1/2}G = polar(G)`: Muon without momentum. The transposes are explicit
 * (wasm's matMul transpose flags leave XNNPACK). Rank < 2 is an error (route vectors elsewhere).
 * State: `{ mu: [M per parameter], precond: [V (k×k) per parameter] }`.
 */
export function oneSidedPrecondition(options: OneSidedPreconditionOptions, owner = 'oneSidedPrecondition'): GradientTransformation {
  const { beta1, beta2 } = options;
  const inverseRoot = resolveInverseSquareRoot(options, owner);
  const check = (meta: ParamMeta): void => {
    if (meta.shape.length < 2) {
      throw new Error(
        `${owner}: parameter '${meta.name}' has shape [${meta.shape.join(', ')}]; the one-sided preconditioner ` +
          `needs a matrix (rank >= 2). Route vectors and scalars to AdamW.`,
      );
    }
  };
  return {
    init: (metas) => {
      metas.forEach(check);
      return {
        mu: metas.map((m) => tf.zeros([...m.shape])),
        precond: metas.map((m) => {
          const { k } = preconditionerSide(m.shape);
          return tf.zeros([k, k]);
        }),
      };
    },
    update(updates, state, ctx) {
      const s = state as { mu: tf.Tensor[]; precond: tf.Tensor[] };
      const mu: tf.Tensor[] = [];
      const precond: tf.Tensor[] = [];
      const out = updates.map((g, i) => {
        const meta = ctx.metas[i];
        check(meta);
        const { side, fanIn, fanOut } = preconditionerSide(meta.shape);
        if (g.size === 0) {
          // a zero-size parameter: an empty update, the state as it was (no 0×0 products)
          mu.push(s.mu[i]);
          precond.push(s.precond[i]);
          return g;
        }
        const m = tf.add(s.mu[i], tf.mul(tf.sub(g, s.mu[i]), 1 - beta1));
        const g2 = tf.reshape(g, [fanIn, fanOut]) as tf.Tensor2D;
        const gramG = side === 'input' ? tf.matMul(g2, transposeOf(g2)) : tf.matMul(transposeOf(g2), g2);
        const v = tf.add(s.precond[i], tf.mul(tf.sub(gramG, s.precond[i]), 1 - beta2)) as tf.Tensor2D;
        const p = finiteOrIdentity(inverseSquareRoot(v, inverseRoot));
        const m2 = tf.reshape(m, [fanIn, fanOut]) as tf.Tensor2D;
        const u = side === 'input' ? tf.matMul(p, m2) : tf.matMul(m2, p);
        mu.push(m);
        precond.push(v);
        return tf.reshape(u, meta.shape as number[]);
      });
      return { updates: out, state: { mu, precond } };
    },
  };
}

/**
 * Rescales each update to a fixed RMS: `U · rms·√(size) / ‖U‖_F` (ASGO's `0.2·√(m·n)/‖U‖_F`). Stays on
 * the device (the reference reads the norm back with `.item()`). The norm is taken of `U / max|U|`, so
 * tiny updates (whose squares underflow float32) still get the exact RMS; an all-zero update stays zero
 * (the reference divides 0 by 0 and writes NaN).
 */
export function scaleToRms(rms: number): GradientTransformation {
  return stateless((u) => {
    const safe = (x: tf.Tensor): tf.Tensor => tf.where(tf.greater(x, 0), x, tf.onesLike(x));
    const unit = tf.div(u, safe(tf.max(tf.abs(u))));
    const norm = tf.sqrt(tf.sum(tf.square(unit)));
    return tf.mul(unit, tf.div(rms * Math.sqrt(u.size), safe(norm)));
  });
}

/**
 * DCT-AdamW's scaling: Adam on the gradient projected onto dynamically selected DCT columns.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradientTransformation, ParamMeta, StateTree } from '../core/transform.js';
import { backprojectDct, dctBasis, dctRotation, indicesAsFloat32, projectDct, selectDctColumns, type DctSide } from '../linalg/dct.js';
import { saturate } from '../linalg/scale.js';

/** Options of {@link scaleByDctAdam}. */
export interface ScaleByDctAdamOptions {
  /** Number r of DCT columns kept per matrix (capped at the matrix's short side n). */
  readonly rank: number;
  /** When set, `r = min(n, ⌈rankFraction·n⌉)` per matrix instead of `rank`. */
  readonly rankFraction?: number | null;
  /** Re-select the columns at step 1 and every `updateProjGap` steps (`t % gap = 0`); 1: every step. */
  readonly updateProjGap: number;
  /** Rotate m and v into the new columns when they change (`R = Q[:, prev]ᵀQ[:, cur]`, then `v ← |v|`). */
  readonly rotateSubspace: boolean;
  /** Keep `E = A − back-projection(a)` (full size) and add it to the next gradient. */
  readonly errorFeedback: boolean;
  /** Norm that scores the columns of `A·Q`: 1 (the reference's default `ell_norm`) or 2. */
  readonly norm: 1 | 2;
  /** A matrix with a side ≥ this gets full AdamW (the reference's `max_shape`, embeddings and heads). */
  readonly maxShape: number;
  readonly beta1: number;
  readonly beta2: number;
  /** ε of the denominator, in torch Adam's place: `(m/(1−β₁ᵗ)) / (√v/√(1−β₂ᵗ) + ε)`. */
  readonly epsilon: number;
}

/** How one parameter is handled: low-rank on one side of its matrix, or full Adam. */
export interface DctLayout {
  /** `null`: full AdamW (not a matrix, a side ≥ maxShape, or zero-size). */
  readonly side: DctSide | null;
  /** The basis size n (the projected side). */
  readonly n: number;
  /** The kept rank r = min(rank, n). */
  readonly rank: number;
  /** Shape of m and v. */
  readonly stateShape: readonly number[];
}

/**
 * The layout of a parameter of shape `shape` (TensorFlow.js layout, a Dense kernel `[fanIn, fanOut]`).
 * The reference reads the torch weight `[fanOut, fanIn]` and projects its columns (the fan-in side) when
 * `fanOut ≥ fanIn`, else its rows: here the fan-in side is projected when `fanIn ≤ fanOut` — `'rows'` of
 * the `[fanIn, fanOut]` matrix, state `[r, fanOut]` — else the fan-out side (`'columns'`, state
 * `[fanIn, r]`). Either way the short side, n = min(fanIn, fanOut). (The reference's special case for
 * Llama-3-8B / Qwen2.5-7B shapes is not reproduced.) Tensors that are not 2-D get full AdamW: the
 * reference updates only 1-D and 2-D parameters.
 */
export function dctLayout(shape: readonly number[], rank: number, maxShape: number, rankFraction: number | null = null): DctLayout {
  const size = shape.reduce((a, b) => a * b, 1);
  if (shape.length !== 2 || size === 0 || shape[0] >= maxShape || shape[1] >= maxShape) {
    return { side: null, n: 0, rank: 0, stateShape: [...shape] };
  }
  const [fanIn, fanOut] = shape;
  const side: DctSide = fanIn <= fanOut ? 'rows' : 'columns';
  const n = Math.min(fanIn, fanOut);
  const r = Math.min(n, rankFraction === null ? rank : Math.max(1, Math.ceil(rankFraction * n)));
  return { side, n, rank: r, stateShape: side === 'rows' ? [r, fanOut] : [fanIn, r] };
}

interface DctState {
  mu: tf.Tensor[];
  nu: tf.Tensor[];
  /** The selected columns per low-rank parameter, ascending, as float32 (exact below 2²⁴); null for full AdamW. */
  indices: (tf.Tensor1D | null)[];
  /** Error feedback per low-rank parameter (with errorFeedback), null for full AdamW. */
  error?: (tf.Tensor | null)[];
}

/**
 * DCT-AdamW (Modoranu, Safaryan, Schultheis, Ryabinin, Chumachenko, Alistarh, "FFT-based Dynamic Subspace
 * Selection for Low-Rank Adaptive Optimization of Large Language Models", arXiv 2505.17967, v1 "SVD-Free
 * Low-Rank Adaptive Gradient Optimization…"), as IST-DASLab/ISTA-DASLab-Optimizers
 * `ista_daslab_optimizers/fft_low_rank/dct_adamw.py` `DCTAdamW.dct_low_rank_step` with `proj = 'dct'`,
 * `sim_type = 'matmul'` and `fft_projector.py` `FFTLowRankProjector`. For a matrix parameter (see
 * {@link dctLayout}), at step t (from 1), with Q the shared n×n DCT-II basis (linalg/dct.ts):
 * 1. `A = g (+ E)` with error feedback;
 * 2. at t = 1 or `t % updateProjGap = 0`: `S = A·Q` (or `QᵀA`), keep the r columns (rows) of largest
 *    ℓ1 norm, `a = S[:, idx]`; else `a = A·Q[:, idx]` with the stored indices;
 * 3. error feedback: `E ← A − a·Q[:, idx]ᵀ` (kept in full precision; the reference's 4/8-bit EF
 *    quantisation is not implemented);
 * 4. with rotateSubspace, at a re-selection after step 1: `m ← m·R`, `v ← |v·R|`, `R = Q[:, prev]ᵀQ[:, cur]`;
 *    without it (the reference's default) m and v keep their coordinates while the columns they refer
 *    to change — reproduced as the reference does it;
 * 5. `m ← β₁m + (1−β₁)a`, `v ← β₂v + (1−β₂)a²`, output `(m/(1−β₁ᵗ)) / (√v/√(1−β₂ᵗ) + ε)·Q[:, idx]ᵀ`
 *    — the reference's `m/(ε√(1−β₂ᵗ) + √v)` times `√(1−β₂ᵗ)/(1−β₁ᵗ)`, rearranged.
 * Other parameters get that Adam step on the full gradient. The indices are kept ascending (the reference's
 * `topk(sorted=False)` leaves their order to the device), so r = n is Adam in the DCT basis, `Q·Adam(QᵀG)`.
 *
 * State: `{ mu, nu, indices, error? }`, per low-rank m×n parameter with short side n and the other side
 * N: 2·N·r (m, v) + r (indices) floats (+ m·n with error feedback); per other parameter 2·size. The basis
 * (n² floats per distinct n) is shared and lives in linalg/dct.ts's cache, outside the optimizer state.
 */
export function scaleByDctAdam(options: ScaleByDctAdamOptions): GradientTransformation {
  const { rank, updateProjGap, rotateSubspace, errorFeedback, norm, maxShape, beta1, beta2, epsilon } = options;
  const fraction = options.rankFraction ?? null;
  let cache: { metas: readonly ParamMeta[]; layouts: DctLayout[] } | undefined;
  const layoutsFor = (metas: readonly ParamMeta[]) => {
    if (cache?.metas !== metas) cache = { metas, layouts: metas.map((m) => dctLayout(m.shape, rank, maxShape, fraction)) };
    return cache.layouts;
  };
  return {
    init(metas) {
      const layouts = metas.map((m) => dctLayout(m.shape, rank, maxShape, fraction));
      const state: { [key: string]: StateTree } = {
        mu: layouts.map((l) => tf.zeros([...l.stateShape])),
        nu: layouts.map((l) => tf.zeros([...l.stateShape])),
        indices: layouts.map((l) => (l.side === null ? null : tf.range(0, l.rank, 1, 'float32'))),
      };
      if (errorFeedback) state.error = metas.map((m, i) => (layouts[i].side === null ? null : tf.zeros([...m.shape])));
      return state;
    },
    update(updates, state, ctx) {
      const s = state as unknown as DctState;
      const layouts = layoutsFor(ctx.metas);
      const t = ctx.step + 1;
      const bc1 = 1 - beta1 ** t;
      const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
      const reselect = t === 1 || t % updateProjGap === 0;
      const mu: tf.Tensor[] = [];
      const nu: tf.Tensor[] = [];
      const indices: (tf.Tensor1D | null)[] = [];
      const error: (tf.Tensor | null)[] = [];
      const adam = (m: tf.Tensor, v: tf.Tensor) => tf.div(tf.div(m, bc1), tf.add(tf.div(tf.sqrt(v), bc2Sqrt), epsilon));
      const out = updates.map((g, i) => {
        const l = layouts[i];
        if (l.side === null) {
          const m = tf.add(tf.mul(s.mu[i], beta1), tf.mul(g, 1 - beta1));
          const v = saturate(tf.add(tf.mul(s.nu[i], beta2), tf.mul(tf.square(g), 1 - beta2)));
          mu.push(m);
          nu.push(v);
          indices.push(null);
          error.push(null);
          return adam(m, v);
        }
        const q = dctBasis(l.n);
        const a2 = (errorFeedback ? tf.add(g, s.error![i]!) : g) as tf.Tensor2D;
        const previous = tf.cast(s.indices[i]!, 'int32') as tf.Tensor1D;
        let idx = previous;
        let low: tf.Tensor2D;
        if (reselect) {
          const sel = selectDctColumns(a2, q, l.rank, l.side, norm);
          idx = sel.indices;
          low = sel.projected;
        } else {
          low = projectDct(a2, q, idx, l.side);
        }
        if (errorFeedback) error.push(tf.sub(a2, backprojectDct(low, q, idx, l.side)));
        let m0 = s.mu[i];
        let v0 = s.nu[i];
        if (rotateSubspace && reselect && t > 1) {
          const r = dctRotation(previous, idx);
          const rotate = (x: tf.Tensor) => (l.side === 'columns' ? tf.matMul(x as tf.Tensor2D, r) : tf.matMul(tf.transpose(r), x as tf.Tensor2D));
          m0 = rotate(m0);
          v0 = tf.abs(rotate(v0));
        }
        const m = tf.add(tf.mul(m0, beta1), tf.mul(low, 1 - beta1));
        const v = saturate(tf.add(tf.mul(v0, beta2), tf.mul(tf.square(low), 1 - beta2)));
        mu.push(m);
        nu.push(v);
        indices.push(indicesAsFloat32(idx));
        return tf.reshape(backprojectDct(adam(m, v) as tf.Tensor2D, q, idx, l.side), g.shape);
      });
      const next: { [key: string]: StateTree } = { mu, nu, indices };
      if (errorFeedback) next.error = error;
      return { updates: out, state: next };
    },
  };
}

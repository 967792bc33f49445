/**
 * Adaptive normalizations applied after orthogonalization: NorMuon's neuron-wise second moment with its
 * norm-preserving rescale, AdaMuon's element-wise second moment, the RMS rescale both papers use to
 * reuse AdamW's learning rate, and the sign that AdaMuon orthogonalizes.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { stateless, type GradientTransformation, type ParamMeta } from '../core/transform.js';
import { matrixShape } from '../linalg/newtonSchulz.js';
import { saturate } from '../linalg/scale.js';

/**
 * Which axis NorMuon's second moment reduces (spec §4): `'neuron'` — one statistic per output neuron,
 * i.e. per column of a TensorFlow.js Dense kernel `[fanIn, fanOut]` (the mean of `O²` over the fan-in
 * axis; a PyTorch row) as zichongli5/NorMuon and microsoft/dion do; `'longerSide'` — one statistic per
 * entry of the longer side (per output neuron when `fanOut ≥ fanIn`, else per input), as
 * KellerJordan/modded-nanogpt's `_apply_normuon_variance_reduction` does.
 */
export type NeuronStatistics = 'neuron' | 'longerSide';

/**
 * How a rank-4 kernel `[kh, kw, in, out]` is read: `'flattened'` (default) as its `[kh·kw·in, out]`
 * matrix; `'kernel'` the way the reference PyTorch code reads its 4-D `[out, in, kh, kw]` tensor — for
 * NorMuon statistics over `kw` only and the norm preserved per `kh×kw` slice, for AdaMuon's rescale
 * `min(shape)·max(shape)`. `'kernel'` exists only to replay the references exactly.
 */
export type ConvLayout = 'flattened' | 'kernel';

/** Options of {@link scaleByNeuronSecondMoment}. */
export interface ScaleByNeuronSecondMomentOptions {
  /** EMA rate of the second moment (NorMuon's β₂, default 0.95 in the recipes). */
  readonly beta2: number;
  /** Added to `√v` and to the norm in the rescale (official code: 1e-10; dion: 1e-8). Must be > 0. */
  readonly epsilon: number;
  /** Reduction axis (default `'neuron'`). */
  readonly statistics?: NeuronStatistics;
  /** Rescale the result to the Frobenius norm of the input (default true, the official code). */
  readonly preserveNorm?: boolean;
  /** Rank-4 reading (default `'flattened'`; `'kernel'` replays the reference's 4-D quirk). */
  readonly convLayout?: ConvLayout;
}

/**
 * How one parameter is viewed: the update reshaped to `[p, r, q]`, the statistic a mean over `r`
 * (shape `[p, 1, q]`, stored as `stateShape`), the norm taken over the whole tensor or per `q` entry.
 */
interface NeuronLayout {
  readonly view: [number, number, number];
  readonly stateShape: number[];
  readonly normPerColumn: boolean;
}

function neuronLayout(
  meta: ParamMeta,
  statistics: NeuronStatistics,
  convLayout: ConvLayout,
  owner: string,
): NeuronLayout {
  const shape = meta.shape;
  if (shape.length < 2) {
    throw new Error(
      `${owner}: parameter '${meta.name}' has shape [${shape.join(', ')}]; neuron-wise normalization needs a ` +
        `matrix (rank >= 2). Route vectors and scalars to AdamW.`,
    );
  }
  if (shape.length === 4 && convLayout === 'kernel') {
    // PyTorch [out, in, kh, kw]: mean over kw → buffer (out, in, kh, 1); ‖·‖ over (kh, kw) per (out, in).
    // In TensorFlow.js layout [kh, kw, in, out] that is a mean over axis 1 and a norm per (in, out).
    const [kh, kw, cin, cout] = shape;
    return { view: [kh, kw, cin * cout], stateShape: [kh, 1, cin, cout], normPerColumn: true };
  }
  const [fanIn, fanOut] = matrixShape(shape);
  if (statistics === 'longerSide' && fanIn > fanOut) {
    return { view: [fanIn, fanOut, 1], stateShape: [fanIn, 1], normPerColumn: false };
  }
  return { view: [1, fanIn, fanOut], stateShape: [1, fanOut], normPerColumn: false };
}

/**
 * NorMuon's neuron-wise adaptive scaling (Li et al., "NorMuon: Making Muon more efficient and
 * scalable", arXiv 2510.05491; code zichongli5/NorMuon `normuon.py` `normuon_update`). For an
 * orthogonalized update `O` (TensorFlow.js layout `[fanIn, fanOut]`):
 * `r = mean over fan-in of O⊙O` (one value per output neuron), `v ← β₂v + (1−β₂)r` (v starts at 0),
 * `Ô = O / (√v + ε)` broadcast over the fan-in axis, then with `preserveNorm`
 * `Ô ← Ô · ‖O‖_F / (‖Ô‖_F + ε)`: the update keeps Muon's Frobenius norm, redistributed so that every
 * output neuron (a column of the kernel) moves at about the same RMS. With `ε > 0` an all-zero update
 * stays zero (no 0/0, the NaN that microsoft/dion PR #24 fixed). Conv kernels are read as their `[kh·kw·in, out]` matrix (one
 * statistic per output channel) unless `convLayout: 'kernel'`.
 *
 * Both norms come from the per-neuron sums of squares (`‖O‖² = Σ r·fanIn`, `‖Ô‖² = Σ (√(r·fanIn)/(√v+ε))²`),
 * so the step makes one reduction pass and one scaling pass over the matrix.
 * State: `{ nu: [v per parameter] }`, `[1, fanOut]` (`[fanIn, 1]` for `'longerSide'` with
 * `fanIn > fanOut`; `[kh, 1, in, out]` for a `'kernel'` conv).
 */
export function scaleByNeuronSecondMoment(
  options: ScaleByNeuronSecondMomentOptions,
  owner = 'scaleByNeuronSecondMoment',
): GradientTransformation {
  const { beta2, epsilon } = options;
  const statistics = options.statistics ?? 'neuron';
  const preserveNorm = options.preserveNorm ?? true;
  const convLayout = options.convLayout ?? 'flattened';
  const layouts = (metas: readonly ParamMeta[]) =>
    metas.map((m) => neuronLayout(m, statistics, convLayout, owner));
  return {
    init: (metas) => ({ nu: layouts(metas).map((l) => tf.zeros(l.stateShape)) }),
    update(updates, state, ctx) {
      const nu = (state as { nu: tf.Tensor[] }).nu;
      const ls = layouts(ctx.metas);
      const nextNu: tf.Tensor[] = [];
      const out = updates.map((u, i) => {
        const { view, stateShape, normPerColumn } = ls[i];
        if (u.size === 0) {
          // a zero-size parameter: an empty update, the statistic unchanged (tfjs-wasm's sums over an
          // empty axis read uninitialized memory)
          nextNu.push(nu[i]);
          return u;
        }
        const x = tf.reshape(u, view);
        const sumSq = tf.sum(tf.square(x), 1, true); // [p, 1, q]
        // (a zero-size parameter: an empty mean is 0, not 0/0)
        const mean = tf.div(sumSq, Math.max(view[1], 1));
        const v = tf.add(tf.mul(tf.reshape(nu[i], [view[0], 1, view[2]]), beta2), tf.mul(mean, 1 - beta2));
        nextNu.push(tf.reshape(v, stateShape));
        let factor = tf.div(1, tf.add(tf.sqrt(v), epsilon));
        if (preserveNorm) {
          // ‖O‖ and ‖Ô‖ over the whole matrix, or per (kh×kw) slice for the reference's conv reading.
          const axes = normPerColumn ? [0] : [0, 2];
          const before = tf.sqrt(tf.sum(sumSq, axes, true));
          // (√sumSq·f)², not sumSq·f²: f = 1/ε on an all-zero column must not overflow to 0·Inf.
          const after = tf.sqrt(tf.sum(tf.square(tf.mul(tf.sqrt(sumSq), factor)), axes, true));
          factor = tf.mul(factor, tf.div(before, tf.add(after, epsilon)));
        }
        return tf.reshape(tf.mul(x, factor), u.shape);
      });
      return { updates: out, state: { nu: nextNu } };
    },
  };
}

/** Options of {@link scaleByElementSecondMoment}. */
export interface ScaleByElementSecondMomentOptions {
  /** EMA rate of the second moment (AdaMuon: the momentum's β, 0.95). */
  readonly beta: number;
  /** Added to `√V` (AdaMuon: 1e-8). */
  readonly epsilon: number;
}

/**
 * AdaMuon's element-wise second moment (Si et al., "AdaMuon: Adaptive Muon Optimizer", arXiv
 * 2507.11005; code Chongjie-Si/AdaMuon `gpt2/models/optimizers/adamuon.py`): `V ← βV + (1−β)O⊙O`
 * (V starts at 0, no bias correction — the RMS rescale that follows cancels any global factor),
 * output `O / (√V + ε)`. At the first step `V = (1−β)O²`, so the output is `≈ sign(O)/√(1−β)`.
 * State: `{ nu: [V per parameter] }`, the parameter's shape.
 */
export function scaleByElementSecondMoment(options: ScaleByElementSecondMomentOptions): GradientTransformation {
  const { beta, epsilon } = options;
  return {
    init: (metas) => ({ nu: metas.map((m) => tf.zeros([...m.shape])) }),
    update(updates, state) {
      const nu = (state as { nu: tf.Tensor[] }).nu;
      // saturated instead of Inf for |O| ≳ 1.8e19 (linalg/scale.ts `saturate`)
      const next = updates.map((o, i) => saturate(tf.add(tf.mul(nu[i], beta), tf.mul(tf.square(o), 1 - beta))));
      const out = updates.map((o, i) => tf.div(o, tf.add(tf.sqrt(next[i]), epsilon)));
      return { updates: out, state: { nu: next } };
    },
  };
}

/** Options of {@link rmsRescale}. */
export interface RmsRescaleOptions {
  /** Target RMS of the update (default 0.2, AdamW's typical update RMS per the Moonlight report). */
  readonly rms?: number;
  /** Added to the Frobenius norm (AdaMuon: 1e-8). Must be > 0 for an all-zero update to stay zero. */
  readonly epsilon: number;
  /**
   * The element count `m·n` of a rank ≥ 3 tensor: `'flattened'` (default) its `[fanIn, fanOut]` matrix,
   * i.e. every element; `'kernel'` the AdaMuon reference's `min(shape)·max(shape)` over all axes.
   */
  readonly convLayout?: ConvLayout;
}

/** The `m·n` that {@link rmsRescale} uses for a shape. */
export function rmsRescaleCount(shape: readonly number[], convLayout: ConvLayout = 'flattened'): number {
  if (shape.length >= 3 && convLayout === 'kernel') return Math.min(...shape) * Math.max(...shape);
  const [m, n] = matrixShape(shape);
  return m * n;
}

/**
 * RMS-aligned rescale: `U ← U · rms·√(m·n) / (‖U‖_F + ε)`, so every matrix's update has RMS `rms`
 * and AdamW's learning rate and weight decay carry over (AdaMuon, arXiv 2507.11005, official GPT-2
 * code; the NorMuon paper's `η̂ = 0.2·η·√(mn)/‖Ô‖_F`, arXiv 2510.05491). Rank < 2 updates are
 * rescaled as a 1×n matrix.
 */
export function rmsRescale(options: RmsRescaleOptions): GradientTransformation {
  const rms = options.rms ?? 0.2;
  const { epsilon } = options;
  const convLayout = options.convLayout ?? 'flattened';
  return stateless((u, _p, meta) => {
    const count = meta.shape.length < 2 ? u.size : rmsRescaleCount(meta.shape, convLayout);
    const norm = tf.sqrt(tf.sum(tf.square(u)));
    return tf.mul(u, tf.div(rms * Math.sqrt(count), tf.add(norm, epsilon)));
  });
}

/**
 * Element-wise sign with `sign(0) = 0` and the sign of every non-zero value kept, as torch's.
 *
 * tfjs-backend-wasm's `Sign` returns 0 for every `|x| <` float32 epsilon `≈ 1.19e-7` (tensorflow/tfjs
 * `tfjs-backend-wasm/src/cc/kernels/Sign.cc`; measured on 4.22), which silently zeroes entries of a
 * small momentum (a 2.9e-3 miss on the `adamuon__nesterov_wd_g1e-3` golden file); on wasm the sign is
 * therefore computed as `[x > 0] − [x < 0]`.
 */
export function exactSign(x: tf.Tensor): tf.Tensor {
  return tf.getBackend() === 'wasm'
    ? tf.sub(tf.cast(tf.greater(x, 0), 'float32'), tf.cast(tf.less(x, 0), 'float32'))
    : tf.sign(x);
}

/**
 * Element-wise sign (see {@link exactSign}): AdaMuon's sign stabilization, orthogonalizing `sign(M)`
 * instead of `M` (AdaMuon v2/v3, arXiv 2507.11005; optax `scale_by_sign`).
 */
export function scaleBySign(): GradientTransformation {
  return stateless((u) => exactSign(u));
}

/**
 * Linear minimization oracles (LMOs) of the norms used by Scion, and the steps built on them.
 *
 * For a norm ‖·‖ with unit ball 𝔅, `lmo(d) = argmin_{s ∈ 𝔅} ⟨d, s⟩`, so `⟨d, lmo(d)⟩ = −‖d‖_*` (the
 * dual norm) and `‖lmo(d)‖ = 1`. With momentum `d`, step size γ and radius ρ (spec `muon-family.md`
 * §10.1; Pethick et al., "Training Deep Learning Models with Norm-Constrained LMOs", arXiv 2502.07529;
 * Kovalev, "Understanding Gradient Orthogonalization for Deep Learning via Non-Euclidean Trust-Region
 * Optimization", arXiv 2503.12645):
 *
 * ```
 * x ← x + γρ·lmo(d)             unconstrained (uScion; Kovalev's trust-region step)
 * x ← (1−γ)x + γρ·lmo(d)        constrained (Scion; Frank–Wolfe): stays in the ball ‖x‖ ≤ ρ
 * ```
 *
 * The spectral ball gives Muon, the Frobenius ball normalized SGD, the ℓ∞ ball signSGD / Signum.
 *
 * **Layout.** LIONS-EPFL/scion `scion.py` works on PyTorch weights `[d_out, d_in]`; TensorFlow.js stores
 * a Dense kernel `[fanIn, fanOut]` — the transpose — and a conv kernel `[kh, kw, in, out]`, whose matrix
 * is `[kh·kw·in, out]`. Every norm below is stated on that `[fanIn, fanOut]` matrix (see
 * {@link lmoMatrixShape}; a bias `[n]` is the `[1, n]` weight of a constant input):
 * - Scion's `ColNorm` normalizes each PyTorch *column* = one input feature = one **row** of the TF.js
 *   matrix (the reduction runs over the fan-out axis);
 * - Scion's `RowNorm` normalizes each PyTorch *row* = one output unit = one **column** of the TF.js
 *   matrix (the reduction runs over the fan-in axis);
 * - `d_in` is `fanIn` and `d_out` is `fanOut` in every scale factor.
 * TF.js `Embedding` weights are `[inputDim, outputDim]` = `[fanIn, fanOut]` already, so Scion's
 * `transpose=True` (for PyTorch's `[vocab, dim]` embeddings) has no counterpart here.
 *
 * The functions named `lmo…` return the oracle itself (pointing *down*: `⟨d, lmo(d)⟩ < 0`). The transform
 * {@link lmoDirection} returns `−ρ·lmo(d)`, the descent direction, so that it chains like every other
 * geometry stage in front of {@link lmoStep} (which multiplies by `−γ`).
 * @module
 */
import { exactSign } from './normalize.js';
import * as tf from '@tensorflow/tfjs-core';
import {
  chain,
  type GradientTransformation,
  type ParamMeta,
} from '../core/transform.js';
import {
  matrixShape,
  newtonSchulz,
  resolveNewtonSchulz,
  type NewtonSchulzOptions,
  type ResolvedNewtonSchulz,
} from '../linalg/newtonSchulz.js';
import { rescaleByPowerOfTwo } from '../linalg/scale.js';
import { addDecayedWeights } from './decay.js';
import { scaleByLearningRate } from './stepsize.js';
import type { Schedule } from '../schedules/index.js';

/** The norms with an LMO here (single camelCase words: they survive tfjs-layers config reloads). */
export type LmoNorm = 'spectral' | 'spectralConv' | 'colNorm' | 'rowNorm' | 'sign' | 'biasRms' | 'frobenius';

/** A norm, or `'auto'`: picked from the parameter's rank by {@link autoNorm}. */
export type LmoChoice = LmoNorm | 'auto';

/** Every {@link LmoNorm}. */
export const lmoNorms: readonly LmoNorm[] = ['spectral', 'spectralConv', 'colNorm', 'rowNorm', 'sign', 'biasRms', 'frobenius'];

/** Every {@link LmoChoice}. */
export const lmoChoices: readonly LmoChoice[] = ['auto', ...lmoNorms];

/** The norms that read a `normalized` flag (see {@link defaultNormalized}). */
export const normalizableNorms: readonly LmoNorm[] = ['spectral', 'colNorm', 'rowNorm', 'sign'];

/** Added to the row / column / RMS / Frobenius norm before dividing, as `scion.py` (1e-8). */
export const LMO_EPSILON = 1e-8;

/** One parameter's geometry, fully resolved. */
export interface LmoSettings {
  /** The norm (never `'auto'`). */
  readonly norm: LmoNorm;
  /** Radius ρ of the norm ball the step moves in. */
  readonly radius: number;
  /** Scion's `normalized` flag (only `spectral`, `colNorm`, `rowNorm`, `sign` read it). */
  readonly normalized: boolean;
  /** Scion's `max` flag of `Spectral`: scale `max(1, ·)` (only `spectral` reads it). */
  readonly max: boolean;
}

/**
 * `[fanIn, fanOut]` of the matrix a tensor stands for: rank ≥ 2 as {@link matrixShape} (a conv kernel
 * `[kh, kw, in, out]` → `[kh·kw·in, out]`), a vector `[n]` → `[1, n]` (a bias is the weight of a
 * constant input), a scalar → `[1, 1]`.
 */
export function lmoMatrixShape(shape: readonly number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  if (shape.length === 1) return [1, shape[0]];
  return matrixShape(shape);
}

/**
 * Scion's `Auto` norm (`scion.py` `Auto`): rank 3–4 (conv kernels) → `spectralConv`, rank 2 → `spectral`,
 * rank 0–1 (biases, gains) → `biasRms`. Higher ranks are not convolutions Scion knows: `spectral` on the
 * flattened matrix.
 */
export function autoNorm(shape: readonly number[]): 'spectralConv' | 'spectral' | 'biasRms' {
  if (shape.length <= 1) return 'biasRms';
  if (shape.length === 2) return 'spectral';
  if (shape.length <= 4) return 'spectralConv';
  return 'spectral';
}

/** `norm`, or {@link autoNorm} of the shape when it is `'auto'`. */
export function resolveLmoChoice(choice: LmoChoice, shape: readonly number[]): LmoNorm {
  return choice === 'auto' ? autoNorm(shape) : choice;
}

/**
 * The `normalized` default of each Scion norm class: `Spectral` true, `ColNorm` false (its docstring:
 * "Use True only for non-input layers"), `RowNorm` true ("Use False only for the input layer"), `Sign`
 * true; the others have no flag (false).
 */
export function defaultNormalized(norm: LmoNorm): boolean {
  return norm === 'spectral' || norm === 'rowNorm' || norm === 'sign';
}

/** Throws unless the norm can handle a tensor of this shape (`spectralConv` needs a rank-3 or rank-4 kernel). */
export function checkLmoShape(norm: LmoNorm, meta: ParamMeta, owner = 'lmo'): void {
  if (norm === 'spectralConv' && meta.shape.length !== 3 && meta.shape.length !== 4) {
    throw new Error(
      `${owner}: parameter '${meta.name}' has shape [${meta.shape.join(', ')}]; the 'spectralConv' norm needs a ` +
        `conv kernel ([k, in, out] or [kh, kw, in, out]). Use 'spectral' for matrices or 'auto'.`,
    );
  }
}

/**
 * The factor Scion's `Spectral` multiplies the orthogonalized matrix by: `√(fanOut/fanIn)` when
 * `normalized` (the RMS→RMS operator-norm ball), `√fanOut` otherwise; `max(1, ·)` of that with `max`.
 */
export function spectralScale(shape: readonly number[], normalized = true, max = false): number {
  const [fanIn, fanOut] = lmoMatrixShape(shape);
  const s = normalized ? Math.sqrt(fanOut / fanIn) : Math.sqrt(fanOut);
  return max ? Math.max(1, s) : s;
}

/**
 * The factor of Scion's `SpectralConv`: `√(out/in)/k²` for a 2-D kernel, `√(out/in)/k` for a 1-D one,
 * with `in`, `out` the channel counts (not the flattened fan-in). TF.js layouts: Conv2D `[kh, kw, in, out]`
 * (k² read as `kh·kw`, which is `scion.py`'s `k²` for the square kernels it supports — it reads `k` from
 * one axis), Conv1D `[k, in, out]`.
 */
export function spectralConvScale(shape: readonly number[]): number {
  if (shape.length === 4) {
    const [kh, kw, cin, cout] = shape;
    return Math.sqrt(cout / cin) / (kh * kw);
  }
  if (shape.length === 3) {
    const [k, cin, cout] = shape;
    return Math.sqrt(cout / cin) / k;
  }
  throw new RangeError(`spectralConvScale: need a rank-3 or rank-4 kernel, got shape [${shape.join(', ')}]`);
}

function asMatrix(d: tf.Tensor): tf.Tensor2D {
  return tf.reshape(d, lmoMatrixShape(d.shape)) as tf.Tensor2D;
}

/**
 * The `[fanIn, fanOut]` matrix of `d` divided by a power of two when max|d| is extreme, with the ε that
 * goes with it (`LMO_EPSILON/s`): `m/(‖m‖ + ε/s)` is `d/(‖d‖ + ε)` exactly, and its sums of squares
 * stay finite for every finite `d` (`linalg/scale.ts`; for everyday inputs s = 1 and nothing changes).
 */
function rescaledMatrix(d: tf.Tensor): { m: tf.Tensor2D; eps: tf.Scalar } {
  const { x, scale } = rescaleByPowerOfTwo(asMatrix(d));
  return { m: x as tf.Tensor2D, eps: tf.div(LMO_EPSILON, scale) as tf.Scalar };
}

function l2(x: tf.Tensor, axis: number): tf.Tensor {
  return tf.sqrt(tf.sum(tf.square(x), axis, true));
}

/**
 * `factor × (the Scion map of d)` — the maps of `scion.py` (which subtracts them), i.e. `−lmo(d)` times
 * `factor`. Folding the radius and the sign into one multiply keeps each map at a single k×n pass.
 */
function scaledMap(
  d: tf.Tensor,
  s: Omit<LmoSettings, 'radius'>,
  ns: ResolvedNewtonSchulz | undefined,
  factor: number,
): tf.Tensor {
  const shape = d.shape;
  switch (s.norm) {
    case 'spectral': {
      const nsr = ns ?? resolveNewtonSchulz();
      const o = d.rank >= 2 ? newtonSchulz(d, nsr) : tf.reshape(newtonSchulz(asMatrix(d), nsr), shape);
      return tf.mul(o, factor * spectralScale(shape, s.normalized, s.max));
    }
    case 'spectralConv':
      return tf.mul(newtonSchulz(d, ns ?? resolveNewtonSchulz()), factor * spectralConvScale(shape));
    case 'colNorm': {
      // scion.py ColNorm on [d_out, d_in]: column / (‖column‖₂/√d_out · (d_in if normalized) + eps).
      // A PyTorch column is one input feature: a ROW of the TF.js [fanIn, fanOut] matrix.
      const { m, eps } = rescaledMatrix(d);
      const [fanIn, fanOut] = m.shape;
      const c = (s.normalized ? fanIn : 1) / Math.sqrt(fanOut);
      const denom = tf.add(tf.mul(l2(m, 1), c), eps);
      return tf.reshape(tf.div(tf.mul(m, factor), denom), shape);
    }
    case 'rowNorm': {
      // scion.py RowNorm on [d_out, d_in]: row / (‖row‖₂ · (√d_in if normalized) + eps).
      // A PyTorch row is one output unit: a COLUMN of the TF.js [fanIn, fanOut] matrix.
      const { m, eps } = rescaledMatrix(d);
      const [fanIn] = m.shape;
      const c = s.normalized ? Math.sqrt(fanIn) : 1;
      const denom = tf.add(tf.mul(l2(m, 0), c), eps);
      return tf.reshape(tf.div(tf.mul(m, factor), denom), shape);
    }
    case 'sign': {
      const [fanIn] = lmoMatrixShape(shape);
      return tf.mul(exactSign(d), factor * (s.normalized ? 1 / fanIn : 1));
    }
    case 'biasRms': {
      // scion.py BiasRMS: g / (RMS over dim 0 + eps). dim 0 of PyTorch is the fan-out axis: the last
      // axis of the TF.js matrix; for a vector ([1, n]) this is the RMS of the whole vector.
      const { m, eps } = rescaledMatrix(d);
      const denom = tf.add(tf.sqrt(tf.mean(tf.square(m), 1, true)), eps);
      return tf.reshape(tf.div(tf.mul(m, factor), denom), shape);
    }
    case 'frobenius': {
      const { m, eps } = rescaledMatrix(d);
      const denom = tf.add(tf.sqrt(tf.sum(tf.square(m))), eps);
      return tf.reshape(tf.div(tf.mul(m, factor), denom), shape);
    }
  }
}

/** Options of the `lmo…` functions that orthogonalize. */
export interface SpectralLmoOptions {
  /** Newton–Schulz settings (default: Jordan's 5 steps, as `scion.py`). */
  readonly ns?: NewtonSchulzOptions | ResolvedNewtonSchulz;
}

function resolveNs(ns: NewtonSchulzOptions | ResolvedNewtonSchulz | undefined): ResolvedNewtonSchulz {
  if (ns !== undefined && 'table' in ns) return ns;
  return resolveNewtonSchulz(ns ?? {}, 'lmo');
}

function oracle(d: tf.Tensor, s: Omit<LmoSettings, 'radius'>, ns?: ResolvedNewtonSchulz): tf.Tensor {
  return tf.tidy(() => scaledMap(d, s, ns, -1));
}

/**
 * LMO of the (scaled) spectral norm, Scion's `Spectral`: `−s·UVᵀ` for `d = UΣVᵀ` (Newton–Schulz on the
 * `[fanIn, fanOut]` matrix; a vector is a `[1, n]` matrix), with `s` = {@link spectralScale}. The ball is
 * `‖W‖₂ ≤ s`, the dual norm `s·‖d‖_nuclear`. With Newton–Schulz instead of an exact polar factor, the
 * singular values of the result are those of the schedule (Jordan: ≈ [0.68, 1.13]), not exactly s.
 */
export function lmoSpectral(d: tf.Tensor, options: SpectralLmoOptions & { normalized?: boolean; max?: boolean } = {}): tf.Tensor {
  return oracle(d, { norm: 'spectral', normalized: options.normalized ?? true, max: options.max ?? false }, resolveNs(options.ns));
}

/**
 * LMO of Scion's `SpectralConv`: `−s·UVᵀ` of the flattened `[kh·kw·in, out]` kernel (the TF.js
 * counterpart of `scion.py`'s `[out, in·k·k]`: the same matrix up to a row permutation, so the same polar
 * factor), with `s` = {@link spectralConvScale}. Needs a rank-3 or rank-4 kernel.
 */
export function lmoSpectralConv(d: tf.Tensor, options: SpectralLmoOptions = {}): tf.Tensor {
  if (d.rank !== 3 && d.rank !== 4) {
    throw new RangeError(`lmoSpectralConv: need a rank-3 or rank-4 kernel, got shape [${d.shape.join(', ')}]`);
  }
  return oracle(d, { norm: 'spectralConv', normalized: false, max: false }, resolveNs(options.ns));
}

/**
 * LMO of Scion's `ColNorm` in TF.js layout: each **row** of the `[fanIn, fanOut]` matrix (one input
 * feature; a PyTorch column) becomes `−r·row/‖row‖₂` with `r = √fanOut`, divided by `fanIn` when
 * `normalized` (default false, as `scion.py`). Ball: `max_i ‖row_i‖₂ ≤ r` (the ℓ1→ℓ2 operator norm);
 * dual: `r·Σ_i ‖row_i‖₂`.
 */
export function lmoColNorm(d: tf.Tensor, options: { normalized?: boolean } = {}): tf.Tensor {
  return oracle(d, { norm: 'colNorm', normalized: options.normalized ?? false, max: false });
}

/**
 * LMO of Scion's `RowNorm` in TF.js layout: each **column** of the `[fanIn, fanOut]` matrix (one output
 * unit; a PyTorch row) becomes `−r·col/‖col‖₂` with `r = 1/√fanIn` when `normalized` (default true, as
 * `scion.py`), else 1. Ball: `max_j ‖col_j‖₂ ≤ r` (the ℓ2→ℓ∞ operator norm); dual: `r·Σ_j ‖col_j‖₂`.
 */
export function lmoRowNorm(d: tf.Tensor, options: { normalized?: boolean } = {}): tf.Tensor {
  return oracle(d, { norm: 'rowNorm', normalized: options.normalized ?? true, max: false });
}

/**
 * LMO of the (scaled) ℓ∞ norm, Scion's `Sign`: `−r·sign(d)` with `r = 1/fanIn` when `normalized` (default
 * true, as `scion.py`), else 1 (signSGD / Signum). Ball: `max|W| ≤ r`; dual: `r·‖d‖₁`.
 */
export function lmoSign(d: tf.Tensor, options: { normalized?: boolean } = {}): tf.Tensor {
  return oracle(d, { norm: 'sign', normalized: options.normalized ?? true, max: false });
}

/**
 * LMO of Scion's `BiasRMS`: `−d/RMS(d)` for a vector (ball: `RMS(b) ≤ 1`, i.e. `‖b‖₂ ≤ √n`; dual
 * `√n·‖d‖₂`). On a matrix it normalizes each row of `[fanIn, fanOut]` to unit RMS, as `scion.py` reduces
 * over PyTorch's dim 0 — the same map as `lmoColNorm` without `normalized`.
 */
export function lmoBiasRms(d: tf.Tensor): tf.Tensor {
  return oracle(d, { norm: 'biasRms', normalized: false, max: false });
}

/** LMO of the Frobenius (ℓ2) norm: `−d/‖d‖_F` per tensor (normalized SGD). Ball `‖W‖_F ≤ 1`; dual `‖d‖_F`. */
export function lmoFrobenius(d: tf.Tensor): tf.Tensor {
  return oracle(d, { norm: 'frobenius', normalized: false, max: false });
}

/**
 * The LMO of any norm (`'auto'` picks by rank, {@link autoNorm}); `normalized` defaults per norm
 * ({@link defaultNormalized}).
 */
export function lmo(
  d: tf.Tensor,
  options: SpectralLmoOptions & { norm: LmoChoice; normalized?: boolean; max?: boolean },
): tf.Tensor {
  const norm = resolveLmoChoice(options.norm, d.shape);
  if (norm === 'spectralConv') return lmoSpectralConv(d, options);
  return oracle(
    d,
    { norm, normalized: options.normalized ?? defaultNormalized(norm), max: options.max ?? false },
    resolveNs(options.ns),
  );
}

/** Scion's `Auto` LMO: {@link lmo} with the norm picked by rank (Newton–Schulz: Jordan ×5 by default). */
export function lmoAuto(d: tf.Tensor, options: SpectralLmoOptions = {}): tf.Tensor {
  return lmo(d, { ...options, norm: 'auto' });
}

/**
 * The LMO geometry stage: `d ↦ −ρ·lmo(d)` per parameter, with the norm, radius and flags that
 * `settingsFor(meta, index)` gives (asked once per parameter list). The output is a descent direction,
 * like `orthogonalize`'s; follow it with {@link lmoStep}. Stateless.
 *
 * @param ns Newton–Schulz settings of the spectral norms.
 * @param owner Names the optimizer in errors.
 */
export function lmoDirection(
  settingsFor: (meta: ParamMeta, index: number) => LmoSettings,
  ns: ResolvedNewtonSchulz,
  owner = 'lmoDirection',
): GradientTransformation {
  let cache: { metas: readonly ParamMeta[]; settings: LmoSettings[] } | undefined;
  const settingsOf = (metas: readonly ParamMeta[]): LmoSettings[] => {
    if (cache?.metas !== metas) {
      const settings = metas.map((m, i) => {
        const s = settingsFor(m, i);
        checkLmoShape(s.norm, m, owner);
        return s;
      });
      cache = { metas, settings };
    }
    return cache.settings;
  };
  return {
    init(metas) {
      settingsOf(metas);
      return null;
    },
    update(updates, state, ctx) {
      const settings = settingsOf(ctx.metas);
      return { updates: updates.map((u, i) => scaledMap(u, settings[i], ns, settings[i].radius)), state };
    },
  };
}

/**
 * The step after {@link lmoDirection} (whose output is `u = −ρ·lmo(d)`), with step size γ = `learningRate`:
 * - unconstrained: `x ← x − γu = x + γρ·lmo(d)`;
 * - constrained: `x ← x − γ(u + x) = (1−γ)x + γρ·lmo(d)` — a convex combination of `x` and a point of
 *   the radius-ρ ball, so `‖x‖ ≤ ρ` holds forever once it holds (for γ ∈ [0, 1]). It is decoupled weight
 *   decay with coefficient 1 in learning-rate units (spec §10.3), and is `scion.py`'s default
 *   (`unconstrained=False`: `p ← p·(1−lr) − lr·update`).
 */
export function lmoStep(options: { learningRate: Schedule; constrained: boolean }): GradientTransformation {
  const step = scaleByLearningRate(options.learningRate);
  return options.constrained ? chain(addDecayedWeights(1), step) : step;
}

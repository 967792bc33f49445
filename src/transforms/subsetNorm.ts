/**
 * Subset-Norm (one second moment per subset of coordinates) and Subspace-Momentum (momentum in a rank-r
 * subspace, plain SGD in its complement).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { stateless, type GradientTransformation, type ParamMeta, type StateTree } from '../core/transform.js';
import { deriveSeed, mulberry32 } from '../core/random.js';
import { dctBasis, indicesAsFloat32, selectDctColumns, topIndicesAscending, type DctSide } from '../linalg/dct.js';
import type { Schedule } from '../schedules/index.js';
import { saturate } from '../linalg/scale.js';
import { RANGE_FINDER_DEFAULTS, rangeFinder } from '../linalg/rangeFinder.js';
import { dctLayout } from './dct.js';

// ------------------------------------------------------------------------------------------- Subset-Norm

/**
 * A subset size: an integer `k > 0` (subsets of k coordinates), `−c` (k = ⌊√numel / c⌋), or `'heuristics'`
 * (one subset per row or column of a matrix), as timmytonga/sn-sm `subset_norm.py`.
 */
export type SubsetSize = number | 'heuristics';

/** How Subset-Norm groups one parameter's coordinates. */
export interface SubsetNormLayout {
  /**
   * `'elementwise'`: Adam's per-coordinate second moment (not a matrix, or zero-size); `'heuristics'`:
   * the sums over `axis`; `'subsets'`: consecutive runs of `subsetSize` coordinates of the torch-order
   * weight `[fanOut, fanIn]` (the transpose of the TensorFlow.js kernel).
   */
  readonly kind: 'elementwise' | 'heuristics' | 'subsets';
  /** Shape of the second-moment state. */
  readonly stateShape: readonly number[];
  /** `'heuristics'`: the axis of `[fanIn, fanOut]` summed over. */
  readonly axis?: 0 | 1;
  /** `'subsets'`: the subset size k (a divisor of numel). */
  readonly subsetSize?: number;
}

/**
 * The largest divisor of n that is at most k (timmytonga/sn-sm `closest_smaller_divisor_of_n_to_k`; k is
 * first brought into [1, n] — the reference asserts k ≤ n and fails at k = 0).
 */
export function closestSmallerDivisor(n: number, k: number): number {
  let d = Math.max(1, Math.min(n, Math.floor(k)));
  while (n % d !== 0) d--;
  return d;
}

/**
 * The Subset-Norm layout of a parameter of shape `shape` (TensorFlow.js layout). Only matrices are grouped
 * (the authors apply SN to linear-layer weights; every other parameter keeps Adam's per-coordinate second
 * moment, as GenericOptim's groups without `subset_size`). `'heuristics'`: the reference sums the torch
 * weight `[fanOut, fanIn]` over fan-in when fanOut ≥ fanIn, else over fan-out — one accumulator per
 * coordinate of the longer side (`max(m, n)` accumulators, subsets of length `min(m, n)`); here axis 0 of
 * `[fanIn, fanOut]` (state `[1, fanOut]`) or axis 1 (state `[fanIn, 1]`). An integer k: the torch-order
 * weight flattened into `(numel/k, k)` with k rounded down to a divisor of numel (`−c`: k = ⌊√numel/c⌋).
 */
export function subsetNormLayout(shape: readonly number[], subsetSize: SubsetSize): SubsetNormLayout {
  const size = shape.reduce((a, b) => a * b, 1);
  if (shape.length !== 2 || size === 0) return { kind: 'elementwise', stateShape: [...shape] };
  const [fanIn, fanOut] = shape;
  if (subsetSize === 'heuristics') {
    return fanOut >= fanIn ? { kind: 'heuristics', axis: 0, stateShape: [1, fanOut] } : { kind: 'heuristics', axis: 1, stateShape: [fanIn, 1] };
  }
  const want = subsetSize > 0 ? subsetSize : Math.floor(Math.sqrt(size) / -subsetSize);
  const k = closestSmallerDivisor(size, want);
  // k = 1 is Adam's per-coordinate second moment: kept in the parameter's own shape
  return k === 1 ? { kind: 'elementwise', stateShape: [...shape] } : { kind: 'subsets', subsetSize: k, stateShape: [size / k, 1] };
}

/** Options of {@link scaleBySubsetNorm}. */
export interface ScaleBySubsetNormOptions {
  readonly subsetSize: SubsetSize;
  /** β₁ of the numerator's momentum, for the bias correction `1 − β₁ᵗ` only. */
  readonly beta1: number;
  /** EMA of the subset sums, in [0, 1]: 1 accumulates (AdaGrad-style), 0 turns the denominator off. */
  readonly beta2: number;
  /** Added to `√v` (not bias-corrected, as GenericOptim). */
  readonly epsilon: number;
  /** Scale by `√(1−β₂ᵗ)/(1−β₁ᵗ)` (GenericOptim `correct_bias`). */
  readonly correctBias: boolean;
  /** The numerator: EMA momentum (AdamSN) or {@link subspaceEmaMomentum} (AdamSNSM), run on the raw gradient. */
  readonly numerator: GradientTransformation;
}

/**
 * Subset-Norm step size (Nguyen & Nguyen, "Lean and Mean Adaptive Optimization via Subset-Norm and
 * Subspace-Momentum with Convergence Guarantees", ICML 2025, openreview j4HpE61Zcv; arXiv 2411.07120), as
 * timmytonga/sn-sm `GenericOptim.py` with `second_moment_type = 'sn'` and `subset_norm.py`
 * `get_and_update_subset_norm_denom`: per parameter, `v ← β₂v + (1−β₂)·Σ_subset g²` over each subset of
 * {@link subsetNormLayout} (β₂ = 1: `v ← v + Σ g²`), then the output `c_t·n / (√v + ε)`, the denominator
 * broadcast over its subset, with `n` the numerator transform's output on the raw gradient and
 * `c_t = √(1−β₂ᵗ)/(1−β₁ᵗ)` (`correctBias`; 1 otherwise). With β₂ = 0 there is no denominator (the
 * reference's "base lr only"): the output is `c_t·n`. One deviation: with β₂ = 1 the reference's
 * `√(1−β₂ᵗ)` is 0 and every step vanishes; here that factor is 1 (AdaGrad needs no correction).
 *
 * Subset size 1 is GenericOptim's Adam (`ε` added to `√v`, not to `√v̂`), one subset (k = numel) a
 * single second moment per tensor. State: `{ nu: [v per parameter], numerator }`: `numel/k` floats per
 * matrix (`max(m, n)` with heuristics), `size` per other parameter, plus the numerator's.
 */
export function scaleBySubsetNorm(options: ScaleBySubsetNormOptions): GradientTransformation {
  const { subsetSize, beta1, beta2, epsilon, correctBias, numerator } = options;
  let cache: { metas: readonly ParamMeta[]; layouts: SubsetNormLayout[] } | undefined;
  const layoutsFor = (metas: readonly ParamMeta[]) => {
    if (cache?.metas !== metas) cache = { metas, layouts: metas.map((m) => subsetNormLayout(m.shape, subsetSize)) };
    return cache.layouts;
  };
  return {
    needsLoss: numerator.needsLoss,
    init: (metas) => ({
      nu: metas.map((m) => tf.zeros([...subsetNormLayout(m.shape, subsetSize).stateShape])),
      numerator: numerator.init(metas),
    }),
    update(updates, state, ctx) {
      const s = state as { nu: tf.Tensor[]; numerator: StateTree };
      const layouts = layoutsFor(ctx.metas);
      const t = ctx.step + 1;
      const bc2 = beta2 === 1 ? 1 : Math.sqrt(1 - beta2 ** t);
      const factor = correctBias ? bc2 / (1 - beta1 ** t) : 1;
      const num = numerator.update(updates, s.numerator, ctx);
      const nu: tf.Tensor[] = [];
      const out = updates.map((g, i) => {
        const l = layouts[i];
        const n = num.updates[i];
        // torch order [fanOut, fanIn] flattened into (numel/k, k)
        const subsets = (x: tf.Tensor) => tf.reshape(tf.transpose(x), [l.stateShape[0], l.subsetSize!]);
        const sq =
          l.kind === 'elementwise' ? tf.square(g) : l.kind === 'heuristics' ? tf.sum(tf.square(g), l.axis!, true) : tf.sum(tf.square(subsets(g)), 1, true);
        const v = beta2 === 0 ? s.nu[i] : saturate(beta2 === 1 ? tf.add(s.nu[i], sq) : tf.add(tf.mul(s.nu[i], beta2), tf.mul(sq, 1 - beta2)));
        nu.push(v);
        if (beta2 === 0) return tf.mul(n, factor);
        const denom = tf.add(tf.sqrt(v), epsilon);
        if (l.kind !== 'subsets') return tf.mul(tf.div(n, denom), factor);
        const [fanIn, fanOut] = g.shape;
        return tf.mul(tf.transpose(tf.reshape(tf.div(subsets(n), denom), [fanOut, fanIn])), factor);
      });
      return { updates: out, state: { nu, numerator: num.state } };
    },
  };
}

// -------------------------------------------------------------------------------------- Subspace-Momentum

/**
 * How the subspace is chosen: the r rows/columns of largest ℓ2 norm, a random subset, the top-r DCT columns,
 * or the top-r singular vectors (by the randomized range finder).
 */
export type SubspaceProjection = 'topk' | 'uniform' | 'dct' | 'svd';

/**
 * What a projector refresh does to the momentum: `'afterStep'` — the refresh step still updates and uses
 * the old m̂ with the new ĝ, and the stored m̂ is zero afterwards (what `subspace_momentum.py` does: it
 * rebinds `state['exp_avg']` to zeros after taking its local reference); `'beforeStep'` — m̂ is zeroed,
 * then updated (`m̂ = (1−β₁)ĝ` at the refresh); `'none'` — kept (`overlap_state`).
 */
export type MomentumReset = 'afterStep' | 'beforeStep' | 'none';

/** Options of {@link subspaceEmaMomentum}. */
export interface SubspaceMomentumOptions {
  /** Subspace rank r per matrix, capped at its short side; 0: no momentum on matrices (SGD). */
  readonly rank: number;
  /** When set, `r = min(n, ⌈rankFraction·n⌉)` instead of `rank`. */
  readonly rankFraction?: number | null;
  readonly beta1: number;
  /** Refresh the subspace at step 1 and every `updateProjGap` steps (`t % gap = 0`). */
  readonly updateProjGap: number;
  readonly projection: SubspaceProjection;
  readonly reset: MomentumReset;
  /** Seed of the `'uniform'` draws and the `'svd'` range finder's probes: step t, parameter i uses `deriveSeed(seed, 'subspaceMomentum/t/i')`. */
  readonly seed: number;
}

/** The layout of Subspace-Momentum on one parameter: the short side of a matrix (as DCT-AdamW), or full EMA. */
function smLayout(shape: readonly number[], o: SubspaceMomentumOptions) {
  const l = dctLayout(shape, o.rank, Infinity, o.rankFraction ?? null);
  return o.rank === 0 && (o.rankFraction ?? null) === null && l.side !== null ? { ...l, rank: 0, stateShape: [] } : l;
}

/** The n×r one-hot matrix E with `E[idx[t], t] = 1`: `Eᵀg` gathers rows idx, `E·x` scatters them back. */
function selectionMatrix(idx: tf.Tensor1D, n: number): tf.Tensor2D {
  // tf.oneHot needs a depth ≥ 2: a 1-wide side has the one index 0
  if (n === 1) return tf.ones([1, 1]) as tf.Tensor2D;
  return tf.transpose(tf.cast(tf.oneHot(idx, n), 'float32')) as tf.Tensor2D;
}

/** r distinct indices of [0, n), ascending, from a seeded partial Fisher–Yates shuffle. */
function uniformSubset(n: number, r: number, rand: () => number): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < r; i++) {
    const j = i + Math.floor(rand() * (n - i));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, r).sort((a, b) => a - b);
}

/**
 * Subspace-Momentum (Nguyen & Nguyen, ICML 2025, openreview j4HpE61Zcv), as timmytonga/sn-sm
 * `subspace_momentum.py` `get_and_update_subspace_momentum`: for a matrix, with a rank-r projector P
 * refreshed at step 1 and every `updateProjGap` steps, `ĝ = P(g)`, `m̂ ← β₁m̂ + (1−β₁)ĝ`, output
 * `Pᵀ(m̂) + (g − Pᵀ(ĝ))` — momentum inside the subspace, the raw gradient in its complement. Other
 * parameters: the EMA `m ← β₁m + (1−β₁)g`. The side is the matrix's short one, as the reference's GaLore
 * projector picks it (the fan-in side when fanIn ≤ fanOut, see `dctLayout`). Projectors:
 * - `'topk'`: the r rows (columns) of g with the largest ℓ2 norm (the spec's GRASS-like selection; the
 *   reference's `topk_norm_projector.py` was not in the snapshot read) — P picks them, so the output is g
 *   with those rows replaced by m̂ (one-hot matmuls, exact);
 * - `'uniform'`: r rows (columns) drawn uniformly without replacement (seeded);
 * - `'dct'`: the top-r DCT columns by ℓ1 norm (linalg/dct.ts), an orthonormal P without an SVD;
 * - `'svd'`: the reference's `SVDProjector` (`projectors/svd_projector.py`, `proj_type = 'svd'`): the top-r
 *   left (rows) or right (columns) singular vectors of g, by the seeded randomized range finder
 *   (linalg/rangeFinder.ts, q = 2, p = 5) in place of `torch.linalg.svd`.
 * Selected indices are kept ascending in the state (float32), the `'svd'` basis as an n×r matrix, so a
 * resume continues exactly. `reset` says what a refresh does to m̂ (default `'afterStep'`, the reference's
 * behaviour, see {@link MomentumReset}).
 * State: `{ mu, indices, basis? }`: per matrix N·r floats (N the long side) + r indices (`'svd'`: + n·r
 * basis instead); per other parameter `size`.
 */
export function subspaceEmaMomentum(options: SubspaceMomentumOptions): GradientTransformation {
  const { beta1, updateProjGap, projection, reset, seed } = options;
  let cache: { metas: readonly ParamMeta[]; layouts: ReturnType<typeof smLayout>[] } | undefined;
  const layoutsFor = (metas: readonly ParamMeta[]) => {
    if (cache?.metas !== metas) cache = { metas, layouts: metas.map((m) => smLayout(m.shape, options)) };
    return cache.layouts;
  };
  return {
    init(metas) {
      const layouts = metas.map((m) => smLayout(m.shape, options));
      return {
        mu: layouts.map((l) => (l.side !== null && l.rank === 0 ? null : tf.zeros([...l.stateShape]))),
        indices: layouts.map((l) => (l.side === null || l.rank === 0 || projection === 'svd' ? null : tf.range(0, l.rank, 1, 'float32'))),
        ...(projection === 'svd' ? { basis: layouts.map((l) => (l.side === null || l.rank === 0 ? null : tf.zeros([l.n, l.rank]))) } : {}),
      };
    },
    update(updates, state, ctx) {
      const s = state as { mu: (tf.Tensor | null)[]; indices: (tf.Tensor1D | null)[]; basis?: (tf.Tensor2D | null)[] };
      const layouts = layoutsFor(ctx.metas);
      const t = ctx.step + 1;
      const refresh = t === 1 || t % updateProjGap === 0;
      const mu: (tf.Tensor | null)[] = [];
      const indices: (tf.Tensor1D | null)[] = [];
      const bases: (tf.Tensor2D | null)[] = [];
      const out = updates.map((g, i) => {
        const l = layouts[i];
        if (l.side === null || l.rank === 0) {
          indices.push(null);
          bases.push(null);
          if (l.side !== null) {
            mu.push(null);
            return g;
          }
          const m = tf.add(tf.mul(s.mu[i]!, beta1), tf.mul(g, 1 - beta1));
          mu.push(m);
          return m;
        }
        const side: DctSide = l.side;
        const g2 = g as tf.Tensor2D;
        const axis = side === 'rows' ? 0 : 1;
        let idx = projection === 'svd' ? null : (tf.cast(s.indices[i]!, 'int32') as tf.Tensor1D);
        let low: tf.Tensor2D | undefined;
        let basis = projection === 'svd' ? s.basis![i]! : null;
        if (refresh) {
          if (projection === 'svd') {
            const source = side === 'rows' ? g2 : (tf.transpose(g2) as tf.Tensor2D);
            basis = rangeFinder(source, l.rank, { ...RANGE_FINDER_DEFAULTS, seed: deriveSeed(seed, `subspaceMomentum/${t}/${i}`) });
          } else if (projection === 'dct') {
            const sel = selectDctColumns(g2, dctBasis(l.n), l.rank, side, 1);
            idx = sel.indices;
            low = sel.projected;
          } else if (projection === 'topk') {
            idx = topIndicesAscending(tf.sqrt(tf.sum(tf.square(g2), 1 - axis)) as tf.Tensor1D, l.rank);
          } else {
            idx = tf.tensor1d(uniformSubset(l.n, l.rank, mulberry32(deriveSeed(seed, `subspaceMomentum/${t}/${i}`))), 'int32');
          }
        }
        // the projector as an n×r matrix: the DCT columns Q[:, idx], or the one-hot selection (a matmul by
        // it is exact in float32 and, on wasm, several times faster than gather + scatter)
        const p =
          basis ?? (projection === 'dct' ? (tf.gather(dctBasis(l.n), idx!, 1) as tf.Tensor2D) : selectionMatrix(idx!, l.n));
        const project = (x: tf.Tensor2D): tf.Tensor2D => (side === 'columns' ? tf.matMul(x, p) : tf.matMul(tf.transpose(p), x));
        const back = (x: tf.Tensor2D) => (side === 'columns' ? tf.matMul(x, tf.transpose(p)) : tf.matMul(p, x));
        const ghat = low ?? project(g2);
        const restart = refresh && t > 1;
        const m0 = restart && reset === 'beforeStep' ? tf.zerosLike(s.mu[i]!) : s.mu[i]!;
        const m = tf.add(tf.mul(m0, beta1), tf.mul(ghat, 1 - beta1)) as tf.Tensor2D;
        mu.push(restart && reset === 'afterStep' ? tf.zerosLike(m) : m);
        indices.push(idx === null ? null : indicesAsFloat32(idx));
        bases.push(basis);
        // Pᵀ(m̂) + (g − Pᵀ(ĝ)) as g + Pᵀ(m̂ − ĝ): outside the subspace g exactly (selection projectors)
        return tf.add(g2, back(tf.sub(m, ghat) as tf.Tensor2D));
      });
      const next: { [key: string]: StateTree } = { mu, indices };
      if (projection === 'svd') next.basis = bases;
      return { updates: out, state: next };
    },
  };
}

/**
 * Decoupled weight decay applied after the step, as GenericOptim ("fixed version"): `W ← W − η·u`, then
 * `W ← W − ηλ·W` — placed after `scaleByLearningRate`, it turns the update `Δ = −ηu` into
 * `Δ − ηλ(W + Δ)`. (AdamW decays the old weights instead; the two differ by `η²λ·u`.) λ = 0: identity.
 */
export function addDecayAfterStep(weightDecay: number, learningRate: Schedule): GradientTransformation {
  if (weightDecay === 0) return stateless((u) => u);
  return stateless((u, p, _m, ctx) => tf.sub(u, tf.mul(tf.add(p, u), learningRate(ctx.step) * weightDecay)));
}

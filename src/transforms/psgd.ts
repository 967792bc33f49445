/**
 * PSGD Kron: gradient whitening by a Kronecker-product preconditioner fitted online.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradientTransformation, StateTree } from '../core/transform.js';
import { deriveSeed, mulberry32 } from '../core/random.js';
import {
  applyKronFactors,
  initKronFactors,
  kronPreconditionerFactors,
  kronLayout,
  updateKronWhitening,
  type KronLayout,
  type NormBoundOptions,
} from '../linalg/psgd.js';
import { frobeniusNorm } from './auon.js';
import { hostScalar, hostScalars } from './hostScalar.js';

/** When the preconditioner is updated: with a constant probability, or kozistr's annealed one. */
export type PsgdUpdateSchedule = 'constant' | 'anneal';

/** Options of {@link scaleByPsgdKron}. */
export interface PsgdKronOptions {
  /** Learning rate of the preconditioner fit (psgd_torch `lr_preconditioner`). */
  readonly preconditionerLr: number;
  /** EMA factor of the Lipschitz estimates L (psgd_torch `betaL`). */
  readonly betaL: number;
  /** Damping of the fitted gradient (psgd_torch `damping`): P ≲ I/damping. */
  readonly damping: number;
  /** Momentum μ: an EMA `m ← β·m + (1−β)·g` with `β = min(t/(1+t), μ)` is preconditioned (0: the gradient). */
  readonly momentum: number;
  /** The preconditioned update is scaled down to this RMS when above it (psgd_torch `grad_clip_max_amps[0]`). */
  readonly clipRms: number;
  /** Then clamped to `±clipMax` element-wise (`grad_clip_max_amps[1]`). */
  readonly clipMax: number;
  /** Probability of a preconditioner update per step (`'constant'`), or its maximum (`'anneal'`). */
  readonly updateProbability: number;
  /** `'constant'` (psgd_torch) or `'anneal'`: `clamp(p·exp(−0.001·(t − 500)), 0.03, p)` (kozistr/pytorch_optimizer). */
  readonly updateSchedule: PsgdUpdateSchedule;
  /** A dim larger than this gets a diagonal factor (`null`: no limit). */
  readonly maxSize: number | null;
  /** A dim `d` with `d² > maxSkew·size` gets a diagonal factor. */
  readonly maxSkew: number;
  /** `Q₀ = initScale·I`; `null`: `(max_params mean|g|⁴ + damping⁴)^(−1/8)` from the first gradients. */
  readonly initScale: number | null;
  /** Seed of every random draw (an integer in [0, 2²⁴], kept in the state as a float32). */
  readonly seed: number;
  /** Update the preconditioner before preconditioning this step's gradient (psgd_torch default true). */
  readonly updateFirst?: boolean;
  /** Probability of balancing the factors after an update (psgd_torch: 0.01). */
  readonly balanceProbability?: number;
  /** Subspace size and iterations of the norm bounds (psgd_torch: k = 32, 2 half-iterations). */
  readonly normBound?: NormBoundOptions;
}

/** The largest seed and step count a float32 state slot holds exactly. */
export const PSGD_MAX_SEED = 2 ** 24;

/** kozistr/pytorch_optimizer's `precond_update_prob_schedule`: 1 for 500 steps, then down to 0.03 by ≈4000. */
export function annealedUpdateProbability(step: number, maxProbability = 1): number {
  return Math.min(maxProbability, Math.max(0.03, maxProbability * Math.exp(-0.001 * (step - 500))));
}

interface PsgdState {
  /** Steps this transform has taken (float32 scalar). */
  count: tf.Scalar;
  /** The seed of the draws (float32 scalar): step t draws from `mulberry32(deriveSeed(seed, 'psgdKron/t'))`. */
  seed: tf.Scalar;
  /** Per parameter, its factors (dense d×d or diagonal d), empty for a zero-size parameter. */
  q: tf.Tensor[][];
  /** Per parameter, P's factors of q: `QᵀQ` (dense) or `q²` (diagonal), kept so each `QᵀQ` is formed once per fit. */
  p: tf.Tensor[][];
  /** Per parameter, one Lipschitz estimate per factor. */
  l: tf.Scalar[][];
  /** Per parameter, the momentum EMA (present only with momentum > 0). */
  mu?: tf.Tensor[];
}

/** The initial scale from the first gradients, in float64 on the host: `(max mean|g|⁴ + damping⁴)^(−1/8)`. */
function firstGradientScale(grads: readonly tf.Tensor[], damping: number): number {
  const nonEmpty = grads.filter((g) => g.size > 0);
  let maxMoment = 0;
  if (nonEmpty.length > 0) {
    // mean|g|⁴ = a⁴·mean|g/a|⁴ with a = max|g|: no float32 over- or underflow at any finite scale
    const values = tf.tidy(() =>
      tf.stack(nonEmpty.flatMap((g) => {
        const a = tf.max(tf.abs(g));
        const safe = tf.where(tf.greater(a, 0), a, tf.onesLike(a));
        return [a, tf.mean(tf.pow(tf.div(tf.abs(g), safe), 4))];
      })).dataSync(),
    );
    for (let i = 0; i < nonEmpty.length; i++) maxMoment = Math.max(maxMoment, values[2 * i] ** 4 * values[2 * i + 1]);
  }
  const scale = (maxMoment + damping ** 4) ** (-1 / 8);
  // a zero first gradient with damping 0 has no scale (psgd_torch would divide by zero): start from I
  return Number.isFinite(scale) && scale > 0 ? scale : 1;
}

/** `u` scaled to RMS ≤ clipRms (when above), then clamped to ±clipMax. Not tidied. */
function clipUpdate(u: tf.Tensor, clipRms: number, clipMax: number): tf.Tensor {
  if (u.size === 0) return u;
  const rms = tf.div(frobeniusNorm(u), Math.sqrt(u.size));
  const factor = tf.where(tf.greater(rms, clipRms), tf.div(clipRms, rms), tf.scalar(1));
  return tf.clipByValue(tf.mul(u, factor), -clipMax, clipMax);
}

/**
 * PSGD with the Kronecker-product whitening preconditioner (Li, "Preconditioned Stochastic Gradient
 * Descent", arXiv 1512.04202; Li, "Stochastic Hessian Fittings with Lie Groups", arXiv 2402.11858;
 * Pooladzandi & Li, "Curvature-Informed SGD via General Purpose Lie-Group Preconditioners", arXiv
 * 2402.04553), as lixilinx/psgd_torch `psgd.py` class `KronWhiten` with `dQ = "Q0.5EQ1.5"` and
 * `whiten_grad = True`. Each step, for each parameter (squeezed to its working shape, see
 * linalg/psgd.ts):
 * 1. with momentum μ > 0: `m ← β·m + (1−β)·g`, `β = min(t/(1+t), μ)` (t = steps before this one);
 * 2. with probability p (`updateProbability`, or kozistr's `'anneal'` schedule), the factors Q and
 *    Lipschitz estimates L are fitted to g (`updateKronWhitening`: `dQ = Q^0.5·E·Q^1.5`, one Procrustes
 *    step per dense factor) — before step 3 (`updateFirst`, the reference's default) or after it;
 * 3. `u = P·m` (or `P·g`), `P = ⊗ QᵢᵀQᵢ`;
 * 4. `u` is scaled to RMS ≤ clipRms, then clamped to ±clipMax (`grad_clip_max_amps = (2, 10)`).
 * The output is `u`; the recipe multiplies it by −lr. Q starts as `initScale·I`, or, when not set, as
 * `(max_params mean|g|⁴ + damping⁴)^(−1/8)·I` from the first step's gradients (computed in float64 from a
 * read-back at step 0) — split evenly over the factors, as `init_kron`.
 *
 * Randomness: step t draws from `mulberry32(deriveSeed(seed, 'psgdKron/t'))` (core/random.ts) — the
 * update coin, then per parameter the damping noise and the norm-bound subspaces, and the balancing coin.
 * The seed and t are state slots, so a restored checkpoint continues the uninterrupted run exactly. Their
 * values are kept on the host too (./hostScalar.ts): a step reads nothing back for them, except the first
 * step after a restore (one 2-element read).
 *
 * State: `{ count, seed, q: [[factor…] per parameter], p: [[QᵀQ or q² per factor] per parameter], l: [[L per
 * factor] per parameter], mu? }`. Memory per m×n parameter with both factors dense: 2(m² + n²) (+ mn with
 * momentum): P's factors are kept beside Q's, so a step forms each `QᵀQ` once (after the fit, for this
 * step's update and the next fit) rather than twice, and a step without a fit forms none — a d×d matmul
 * per dense factor and step saved for d² more floats (psgd_torch recomputes them inside its einsum).
 * Float32 notes: t and the seed are exact up to 2²⁴ (≈16.7M steps). The update-probability coin, taken
 * on the host, decides whether the factors change this step.
 */
export function scaleByPsgdKron(options: PsgdKronOptions): GradientTransformation {
  const { momentum, clipRms, clipMax, updateProbability, updateSchedule, initScale, seed } = options;
  const updateFirst = options.updateFirst ?? true;
  const layoutOptions = { maxSize: options.maxSize, maxSkew: options.maxSkew };
  let layouts: { metas: unknown; layouts: KronLayout[] } | undefined;
  const layoutsFor = (metas: readonly { shape: readonly number[] }[]): KronLayout[] => {
    if (layouts?.metas !== metas) layouts = { metas, layouts: metas.map((m) => kronLayout(m.shape, layoutOptions)) };
    return layouts.layouts;
  };
  const probability = (t: number) => (updateSchedule === 'anneal' ? annealedUpdateProbability(t, updateProbability) : updateProbability);
  return {
    init(metas) {
      const ls = metas.map((m) => kronLayout(m.shape, layoutOptions));
      const q = ls.map((layout) => initKronFactors(layout, initScale ?? 1));
      const state: { [key: string]: StateTree } = {
        count: hostScalar(0),
        seed: hostScalar(seed),
        q,
        p: q.map((factors, i) => kronPreconditionerFactors(factors, ls[i])),
        l: ls.map((layout) => layout.dims.map(() => tf.scalar(0))),
      };
      if (momentum > 0) state.mu = metas.map((m) => tf.zeros([...m.shape]));
      return state;
    },
    update(updates, state, ctx) {
      const s = state as unknown as PsgdState;
      const ls = layoutsFor(ctx.metas);
      const [count, storedSeed] = hostScalars([s.count, s.seed]);
      const rand = mulberry32(deriveSeed(storedSeed, `psgdKron/${count}`));
      let q = s.q;
      let p = s.p;
      if (count === 0 && initScale === null) {
        const start = firstGradientScale(updates, options.damping);
        q = q.map((factors, i) => {
          const order = ls[i].dims.length;
          return factors.map((f) => tf.mul(f, start ** (1 / order)));
        });
        p = q.map((factors, i) => kronPreconditionerFactors(factors, ls[i]));
      }
      const working = updates.map((g, i) => (ls[i].size === 0 ? g : tf.reshape(g, [...ls[i].dims])));
      let mu: tf.Tensor[] | undefined;
      if (momentum > 0) {
        const beta = Math.min(count / (1 + count), momentum);
        mu = updates.map((g, i) => tf.add(tf.mul(s.mu![i], beta), tf.mul(g, 1 - beta)));
      }
      const fitting = rand() < probability(count);
      let l = s.l;
      const fit = () => {
        const fitted = working.map((g, i) =>
          ls[i].size === 0
            ? { qs: q[i], ls: l[i] }
            : updateKronWhitening(q[i], l[i], ls[i], g, {
              lr: options.preconditionerLr,
              betaL: options.betaL,
              damping: options.damping,
              balanceProbability: options.balanceProbability,
              normBound: options.normBound,
              rand,
              factors: p[i],
            }),
        );
        q = fitted.map((f) => f.qs);
        l = fitted.map((f) => f.ls);
        p = q.map((factors, i) => kronPreconditionerFactors(factors, ls[i]));
      };
      if (fitting && updateFirst) fit();
      const out = updates.map((g, i) => {
        if (ls[i].size === 0) return tf.zerosLike(g);
        const source = mu ? tf.reshape(mu[i], [...ls[i].dims]) : working[i];
        const pre = applyKronFactors(p[i], ls[i], source);
        return tf.reshape(clipUpdate(pre, clipRms, clipMax), g.shape);
      });
      if (fitting && !updateFirst) fit();
      const next: { [key: string]: StateTree } = { count: hostScalar(count + 1), seed: s.seed, q, p, l };
      if (mu) next.mu = mu;
      return { updates: out, state: next };
    },
  };
}

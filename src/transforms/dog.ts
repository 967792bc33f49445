/**
 * Distance-over-gradients step sizes (DoG, L-DoG).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradientTransformation, StateTree } from '../core/transform.js';
import type { Schedule } from '../schedules/index.js';
import { frobeniusNorm } from './auon.js';

/** Options of {@link scaleByDistanceOverGradients}. */
export interface DistanceOverGradientsOptions {
  /**
   * `'global'` (DoG): one step size for all parameters, from the distance and gradient norm of the whole
   * parameter vector. `'perTensor'` (L-DoG): one step size per parameter tensor, from its own.
   */
  readonly granularity: 'global' | 'perTensor';
  /** `r_ε = repsRel·(1 + ‖x₀‖)`, the first step's length (ignored when `initEta` is given). */
  readonly repsRel: number;
  /** When given, the first step size η₀ itself (DoG's `init_eta`); `r̄` then starts at 0. */
  readonly initEta?: number;
  /** Added once to the sum of squared gradient norms (DoG `eps`). */
  readonly epsilon: number;
  /**
   * The multiplier `c` (DoG's `lr`, 1 by default) that the recipe applies after this transform with
   * `scaleByLearningRate`; read here only so that `initEta` is the first step's size itself, as in DoG.
   */
  readonly learningRate: Schedule;
}

/**
 * DoG and L-DoG (Ivgi, Hinder, Carmon, "DoG is SGD's Best Friend: A Parameter-Free Dynamic Step Size
 * Schedule", ICML 2023, arXiv 2302.12022; reference formll/dog `src/dog/dog.py`, classes `DoG` and
 * `LDoG`; optax `contrib/_dog.py` `scale_by_dog`).
 *
 * With `x₀` the parameters at the first step and `gₜ` the updates this transform receives (the gradient,
 * with L2 weight decay already added when the recipe asks for it):
 * `r̄₀ = r_ε = repsRel·(1 + ‖x₀‖)`, `r̄ₜ = max(r̄ₜ₋₁, ‖xₜ − x₀‖)` (the parameters before this step's
 * update), `Gₜ = ε + Σ_{i≤t} ‖gᵢ‖²`, step size `ηₜ = c·r̄ₜ/√Gₜ`. Norms are over the whole parameter
 * vector (`'global'`) or per tensor (`'perTensor'`). With `initEta`, `r̄₀ = 0` and `η₀ = initEta`.
 *
 * Units, as `adaGradNormStep` (stepsize.ts): the output is `(ηₜ/c)·gₜ = (r̄ₜ/√Gₜ)·gₜ`, to be followed by
 * `scaleByLearningRate(c)`; the first step with `initEta` outputs `(initEta/c)·g` (0 when c is 0).
 * Everything stays on the device (no read-back). State:
 * `{ x0: [tensor per parameter], rbar: [scalar per group], rootSumSq: [√Gₜ per group] }`, one group
 * (`'global'`) or one per parameter (`'perTensor'`). `√Gₜ` is kept (grown as a norm) instead of `Gₜ`,
 * which would overflow float32 for gradient norms above ≈1.8e19; every finite gradient whose norm is a
 * finite float32 gives finite state.
 */
export function scaleByDistanceOverGradients(options: DistanceOverGradientsOptions): GradientTransformation {
  const { granularity, repsRel, initEta, epsilon, learningRate } = options;
  const perTensor = granularity === 'perTensor';
  return {
    init: (metas) => {
      const groups = perTensor ? metas.length : 1;
      return {
        x0: metas.map((m) => tf.zeros([...m.shape])),
        rbar: Array.from({ length: groups }, () => tf.scalar(0)),
        rootSumSq: Array.from({ length: groups }, () => tf.scalar(0)),
      };
    },
    update(updates, state, ctx) {
      const s = state as { x0: tf.Tensor[]; rbar: tf.Scalar[]; rootSumSq: tf.Scalar[] };
      const first = ctx.step === 0;
      const x0 = first ? ctx.params.map((p) => tf.clone(p)) : s.x0;
      // √G is kept rather than G, and grown as a norm (√(√G² + ‖g‖²), rescaled by a power of two in
      // frobeniusNorm): G itself would overflow float32 for gradient norms above ≈1.8e19
      const gradNorms = updates.map((g) => frobeniusNorm(g));
      const dist = first ? ctx.params.map((p) => frobeniusNorm(p)) : ctx.params.map((p, i) => frobeniusNorm(tf.sub(p, x0[i])));
      const distances = perTensor ? dist : [globalNorm(dist)];
      const rbar = distances.map((d, k): tf.Scalar => {
        if (!first) return tf.maximum(s.rbar[k], d);
        return initEta === undefined ? tf.mul(tf.add(d, 1), repsRel) : tf.scalar(0);
      });
      const previous = (k: number): tf.Scalar => (first ? tf.scalar(Math.sqrt(epsilon)) : s.rootSumSq[k]);
      const rootSumSq = perTensor
        ? gradNorms.map((n, i) => globalNorm([previous(i), n]))
        : [globalNorm([previous(0), ...gradNorms])];
      let steps: tf.Scalar[];
      if (first && initEta !== undefined) {
        const c = learningRate(0);
        steps = rbar.map(() => tf.scalar(c > 0 ? initEta / c : 0));
      } else {
        steps = rbar.map((r, k) => tf.div(r, rootSumSq[k]));
      }
      const out = updates.map((g, i) => tf.mul(g, steps[perTensor ? i : 0]));
      const next: StateTree = { x0, rbar, rootSumSq };
      return { updates: out, state: next };
    },
  };
}

/** `√Σ dᵢ²` of per-tensor norms, without overflow for norms near float32's maximum. */
function globalNorm(norms: tf.Scalar[]): tf.Scalar {
  if (norms.length === 0) return tf.scalar(0);
  return frobeniusNorm(tf.stack(norms));
}

/** Options of {@link scaleByDowg}. */
export interface DowgOptions {
  /** The initial estimate `r̄₀²` of the squared distance to the solution; `epsilon` when not given. */
  readonly initSquaredDistance?: number;
  /** Added to `√vₜ` in the step size (and the default `r̄₀²`); optax's default 1e-4. */
  readonly epsilon: number;
}

/**
 * DoWG, distance over weighted gradients (Khaled, Mishchenko, Jin, "DoWG Unleashed: An Efficient
 * Universal Parameter-Free Gradient Descent Method", NeurIPS 2023, arXiv 2305.16284; reference optax
 * `contrib/_dog.py` `scale_by_dowg`). With `x₀` the parameters at the first step:
 * `r̄ₜ² = max(r̄ₜ₋₁², ‖xₜ − x₀‖²)`, `vₜ = vₜ₋₁ + r̄ₜ²·‖gₜ‖²` (v₀ = 0), output `(r̄ₜ²/(√vₜ + ε))·gₜ`,
 * followed by `scaleByLearningRate(c)` (c = 1). Norms over the whole parameter vector; on device.
 * State: `{ x0: [tensor per parameter], rbar: [r̄ₜ], rootWeighted: [√vₜ] }` (the roots, so that no
 * intermediate overflows float32 before the parameters would).
 */
export function scaleByDowg(options: DowgOptions): GradientTransformation {
  const { epsilon } = options;
  const init = options.initSquaredDistance ?? epsilon;
  return {
    init: (metas) => ({ x0: metas.map((m) => tf.zeros([...m.shape])), rbar: [tf.scalar(Math.sqrt(init))], rootWeighted: [tf.scalar(0)] }),
    update(updates, state, ctx) {
      const s = state as { x0: tf.Tensor[]; rbar: tf.Scalar[]; rootWeighted: tf.Scalar[] };
      const first = ctx.step === 0;
      const x0 = first ? ctx.params.map((p) => tf.clone(p)) : s.x0;
      const dist = first ? tf.scalar(0) : globalNorm(ctx.params.map((p, i) => frobeniusNorm(tf.sub(p, x0[i]))));
      // r̄ and √v are kept instead of r̄² and v (grown as norms), which would overflow float32 first
      const rbar: tf.Scalar = tf.maximum(s.rbar[0], dist);
      const gradNorm = globalNorm(updates.map((g) => frobeniusNorm(g)));
      const rootWeighted = globalNorm([s.rootWeighted[0], tf.mul(rbar, gradNorm)]);
      // r̄²/(√v + ε) as r̄·(r̄/(√v + ε)): no r̄² formed
      const step = tf.mul(rbar, tf.div(rbar, tf.add(rootWeighted, epsilon)));
      return { updates: updates.map((g) => tf.mul(g, step)), state: { x0, rbar: [rbar], rootWeighted: [rootWeighted] } };
    },
  };
}

/**
 * Gradient surgery with an EMA of the main gradient: Bloop and its variants, PCGrad with EMAs, and ODICE's
 * orthogonal-gradient update (ρ = 1). Pure tensor functions over a list of gradients (one tensor per
 * parameter, every statistic *global*: one scalar over all parameters, as apple/ml-bloop's `tree_dot`),
 * plus {@link GradientEma}, the EMA state holder.
 *
 * Papers: Hsieh, Thornton, Ndiaye, Klein, Cuturi, Ablin, "Careful with that Scalpel: Improving Gradient
 * Surgery with an EMA" (ICML 2024, arXiv 2402.02998) — reference apple/ml-bloop `src/bloop/optim.py`
 * (`bloop_direction`, `dynamic_barrier_direction`, `pcgrad_direction`, `mixed_direction`) and
 * `src/bloop/utils.py` (`tree_dot`, `tree_proj`, `update_ema`); Mao, Xu, Zhang, Zhan, "ODICE: Revealing
 * the Mystery of Distribution Correction Estimation via Orthogonal-gradient Update" (ICLR 2024) —
 * reference maoliyuan/ODICE-Pytorch `odice.py` (`orthogonal_true_g_update`). Spec: seed-methods.md A3.
 *
 * With g the main gradient, a the auxiliary one, e the EMA of g and λ the auxiliary weight:
 * - EMA: `e ← e + ρ·(g − e)` (ρ is the weight of the *new* gradient: ρ = 1 keeps no memory);
 * - ratio: `c = ⟨e, a⟩ / (‖e‖² + eps)` (ODICE: `/ max(‖e‖², eps)`), clipped above at `1/λ` by the
 *   dynamic barrier and at 0 by PCGrad;
 * - Bloop: `d = g + λ·(a − c·e)`, so `⟨d − g, e⟩ = λ·(⟨a, e⟩ − c·‖e‖²) ≈ 0` (exactly 0 but for eps);
 *   ratio only: `d = (1 − λc)·g + λ·a`;
 * - PCGrad with EMAs (e_a the EMA of a): `d = (g − min(c_g, 0)·e_a) + λ·(a − min(c, 0)·e)`, with
 *   `c_g = ⟨e_a, g⟩ / (‖e_a‖² + eps)`;
 * - mixed (the baseline without surgery): `d = g + λ·a`.
 * `rescale` multiplies d by `1/(1 + λ)`. The reference's `bloop_direction` writes `(1.0 / 1.0 + lbda)`,
 * which Python evaluates to `1 + λ`; its PCGrad and mixed paths use `1/(1 + λ)`, which is what is meant
 * (the option is off by default there and here), so every variant here uses `1/(1 + λ)`.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { matrixShape } from '../linalg/newtonSchulz.js';

/**
 * `⟨x, y⟩ = Σ_params Σ xᵢyᵢ` over all tensors, a scalar tensor. Summed per row of each flattened
 * `[fanIn, fanOut]` matrix first, then over rows (the two-level sum `sumOfSquares` uses: wasm's one-level
 * float32 sums drift by ~1e-4 relative on large tensors).
 */
export function globalDot(x: readonly tf.Tensor[], y: readonly tf.Tensor[]): tf.Scalar {
  if (x.length !== y.length) throw new RangeError(`globalDot: ${x.length} tensors against ${y.length}`);
  return tf.tidy(() => {
    const terms = x
      .map((a, i) => {
        if (a.size === 0) return null;
        const p = tf.mul(a, y[i]);
        return a.rank < 2 ? tf.sum(p) : tf.sum(tf.sum(tf.reshape(p, matrixShape(a.shape)), 1));
      })
      .filter((t): t is tf.Scalar => t !== null);
    return terms.length === 0 ? tf.scalar(0) : (tf.addN(terms) as tf.Scalar);
  });
}

/**
 * apple/ml-bloop `update_ema`: `e + ρ·(g − e)` for each tensor (new tensors). The extremes are exact
 * copies — ρ = 1 gives `g`, ρ = 0 gives `e` — where float32's `e + (g − e)` could be an ulp off `g`
 * (ODICE, ρ = 1, projects against the gradient itself).
 */
export function updateEma(ema: readonly tf.Tensor[], grads: readonly tf.Tensor[], rho: number): tf.Tensor[] {
  if (rho === 1) return grads.map((g) => tf.clone(g));
  if (rho === 0) return ema.map((e) => tf.clone(e));
  return tf.tidy(() => ema.map((e, i) => tf.add(e, tf.mul(tf.sub(grads[i], e), rho))));
}

/** How the projection ratio's denominator guards a zero `‖e‖²`. */
export type EpsMode = 'add' | 'max';

/** Options of {@link projectOut}. */
export interface ProjectOutOptions {
  /** The guard (apple/ml-bloop default 1e-7; ODICE 1e-10). */
  readonly eps: number;
  /** `'add'`: `‖e‖² + eps` (Bloop); `'max'`: `max(‖e‖², eps)` (ODICE). */
  readonly epsMode?: EpsMode;
  /** Clip the ratio from above (dynamic barrier: `1/λ`; PCGrad: 0). */
  readonly ratioUpperBound?: number;
}

/**
 * apple/ml-bloop `tree_proj(onto, x)`: `x − c·onto` with `c = ⟨onto, x⟩ / (‖onto‖² + eps)` (clipped above at
 * `ratioUpperBound` when given). Returns the projected tensors and `c` (the reference returns `−c`, "the
 * factor of g_ema in the direction").
 */
export function projectOut(
  onto: readonly tf.Tensor[],
  x: readonly tf.Tensor[],
  options: ProjectOutOptions,
): { projected: tf.Tensor[]; ratio: tf.Scalar } {
  return tf.tidy(() => {
    const sq = globalDot(onto, onto);
    const denominator = options.epsMode === 'max' ? tf.maximum(sq, options.eps) : tf.add(sq, options.eps);
    let ratio = tf.div(globalDot(onto, x), denominator) as tf.Scalar;
    if (options.ratioUpperBound !== undefined) ratio = tf.minimum(ratio, options.ratioUpperBound);
    const projected = x.map((t, i) => tf.sub(t, tf.mul(ratio, onto[i])));
    return { projected, ratio };
  });
}

/** Options of {@link bloopDirection}. */
export interface BloopDirectionOptions extends ProjectOutOptions {
  /** The weight λ of the auxiliary gradient. */
  readonly lambda: number;
  /** `d = (1 − λc)·g + λ·a` instead of `g + λ·(a − c·e)` (apple/ml-bloop `use_ratio_only`). */
  readonly ratioOnly?: boolean;
  /** Multiply the direction by `1/(1 + λ)`. */
  readonly rescale?: boolean;
}

/**
 * The Bloop direction from the main gradient `g`, the auxiliary gradient `a` and the *updated* EMA `e`:
 * `g + λ·(a − c·e)` (or the ratio-only form), `c` as in {@link projectOut}. Returns `d` and `c`.
 */
export function bloopDirection(
  g: readonly tf.Tensor[],
  a: readonly tf.Tensor[],
  e: readonly tf.Tensor[],
  options: BloopDirectionOptions,
): { direction: tf.Tensor[]; ratio: tf.Scalar } {
  return tf.tidy(() => {
    const { projected, ratio } = projectOut(e, a, options);
    const scale = options.rescale === true ? 1 / (1 + options.lambda) : 1;
    const direction =
      options.ratioOnly === true
        ? g.map((gi, i) => tf.mul(tf.add(tf.mul(tf.sub(1, tf.mul(options.lambda, ratio)), gi), tf.mul(options.lambda, a[i])), scale))
        : g.map((gi, i) => tf.mul(tf.add(gi, tf.mul(options.lambda, projected[i])), scale));
    return { direction, ratio };
  });
}

/**
 * PCGrad with EMAs (apple/ml-bloop `pcgrad_direction`; Yu et al., "Gradient Surgery for Multi-Task
 * Learning", NeurIPS 2020, with each gradient projected against the other's EMA, ratios clipped at ≤ 0):
 * `(g − min(c_g, 0)·eAux) + λ·(a − min(c_a, 0)·eMain)`, eMain/eAux the *updated* EMAs. Returns `d` and
 * `c_a` (the auxiliary gradient's ratio).
 */
export function pcgradDirection(
  g: readonly tf.Tensor[],
  a: readonly tf.Tensor[],
  eMain: readonly tf.Tensor[],
  eAux: readonly tf.Tensor[],
  options: { readonly lambda: number; readonly eps: number; readonly rescale?: boolean },
): { direction: tf.Tensor[]; ratio: tf.Scalar } {
  return tf.tidy(() => {
    const aux = projectOut(eMain, a, { eps: options.eps, ratioUpperBound: 0 });
    const main = projectOut(eAux, g, { eps: options.eps, ratioUpperBound: 0 });
    const scale = options.rescale === true ? 1 / (1 + options.lambda) : 1;
    const direction = main.projected.map((m, i) => tf.mul(tf.add(m, tf.mul(options.lambda, aux.projected[i])), scale));
    return { direction, ratio: aux.ratio };
  });
}

/** The mixed baseline (apple/ml-bloop `mixed_direction`): `g + λ·a` (times `1/(1 + λ)` with `rescale`). */
export function mixedDirection(
  g: readonly tf.Tensor[],
  a: readonly tf.Tensor[],
  options: { readonly lambda: number; readonly rescale?: boolean },
): tf.Tensor[] {
  const scale = options.rescale === true ? 1 / (1 + options.lambda) : 1;
  return tf.tidy(() => g.map((gi, i) => tf.mul(tf.add(gi, tf.mul(options.lambda, a[i])), scale)));
}

/** How a {@link GradientEma} starts: from the first gradient it sees, or from zeros. */
export type EmaInit = 'grad' | 'zeros';

/**
 * The EMA of a gradient list, kept in non-trainable `tf.Variable`s (one per parameter position, made at the
 * first {@link GradientEma.next}). `next(g)` returns the updated EMA *without* writing it; `commit`
 * writes it, so a step that fails after `next` leaves the state as it was.
 */
export class GradientEma {
  private slots: tf.Variable[] | null = null;

  constructor(
    readonly owner: string,
    readonly init: EmaInit,
  ) {}

  /** The EMA variables (null before the first commit or {@link GradientEma.restore}). */
  get variables(): readonly tf.Variable[] | null {
    return this.slots;
  }

  /**
   * `e + ρ·(g − e)` with `e` the held EMA, or — before the first commit — `init` (`'grad'`: `g` itself,
   * so the first EMA is `g`; `'zeros'`: 0, so it is `ρ·g`). Checks that `g` has the held shapes.
   */
  next(grads: readonly tf.Tensor[], rho: number, source: readonly tf.Tensor[] = grads): tf.Tensor[] {
    if (this.slots === null) {
      return tf.tidy(() => updateEma(this.init === 'grad' ? source : source.map((s) => tf.zerosLike(s)), grads, rho));
    }
    this.check(grads);
    return updateEma(this.slots, grads, rho);
  }

  /** Writes `values` (same shapes) as the EMA; makes the variables on the first call. Disposes nothing. */
  commit(values: readonly tf.Tensor[]): void {
    if (this.slots === null) {
      this.slots = values.map((v) => tf.variable(v, false));
      return;
    }
    this.check(values);
    values.forEach((v, i) => this.slots![i].assign(v));
  }

  /** Replaces the EMA by copies of `values` (a checkpoint's); the next step checks their shapes. */
  restore(values: readonly tf.Tensor[]): void {
    const copies = values.map((v) => tf.variable(v, false));
    if (this.slots !== null) tf.dispose(this.slots);
    this.slots = copies;
  }

  /** Frees the variables; the next step starts from `init` again. */
  dispose(): void {
    if (this.slots !== null) tf.dispose(this.slots);
    this.slots = null;
  }

  private check(grads: readonly tf.Tensor[]): void {
    const slots = this.slots!;
    if (grads.length !== slots.length) {
      throw new RangeError(`${this.owner}: the EMA holds ${slots.length} tensors, the step brings ${grads.length}`);
    }
    grads.forEach((g, i) => {
      if (!tf.util.arraysEqual(g.shape, slots[i].shape)) {
        throw new RangeError(`${this.owner}: gradient ${i} has shape [${g.shape.join(', ')}], the EMA [${slots[i].shape.join(', ')}]`);
      }
    });
  }
}

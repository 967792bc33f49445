/**
 * PSGD Kron: SGD on a gradient whitened by a Kronecker-product preconditioner fitted online.
 * @module
 */
import { chain } from '../core/transform.js';
import { checkNumber, type Interval } from '../core/options.js';
import { choice, integer, nonNegative, number, option, positive, unit, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { PSGD_MAX_SEED, scaleByPsgdKron } from '../transforms/psgd.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import { decayedSchedule, learningRate, recipe, recipeTransform, type OptimizerDefinition } from './definition.js';

/** Where the defaults come from: lixilinx/psgd_torch `KronWhiten` or kozistr/pytorch_optimizer `Kron`. */
export type PsgdDefaults = 'lixilinx' | 'kozistr';

const kozistr = (r: Readonly<Record<string, unknown>>) => r.defaults === 'kozistr';

/** A number in `interval` or `null` ("not set"), with a default that may depend on earlier entries. */
function nullableWithDefault(def: (r: Readonly<Record<string, unknown>>) => number | null, interval: Interval) {
  return option<number | null>(def, (owner, key, v) => (v === null ? null : checkNumber(owner, key, v, interval)));
}

const schema = {
  /**
   * Which reference's defaults fill the options not given: `'lixilinx'` (psgd_torch `KronWhiten`, the
   * default) or `'kozistr'` (pytorch_optimizer `Kron`: momentum 0.9, the annealed update probability,
   * initScale 1, maxSize 8192, clipRms 1.1). Only defaults change: the update is always `dQ = Q^0.5·E·Q^1.5`.
   */
  defaults: choice<PsgdDefaults>(['lixilinx', 'kozistr'], 'lixilinx'),
  /** Learning rate of the parameters or schedule (default 1e-3, both references). */
  learningRate: learningRate(1e-3),
  /**
   * Learning rate in (0, 1] of the preconditioner fit (default 0.1, both references): each factor moves by
   * `I − lr·(T − τ)/L` with `‖(T − τ)/L‖ < 1` when the norm bound is tight, so above 1 a factor can become
   * singular or indefinite (the whitening check anneals it from 0.5).
   */
  preconditionerLr: number(0.1, { min: 0, minInclusive: false, max: 1 }),
  /** EMA factor of the factors' Lipschitz estimates, in [0, 1) (default 0.9; the authors advise 0.999 for very sparse gradients). */
  betaL: unit(0.9),
  /** Damping ≥ 0 of the fitted gradient, which bounds P ≲ I/damping (default 1e-9). */
  damping: nonNegative(1e-9),
  /** Momentum μ in [0, 1): the EMA `β = min(t/(1+t), μ)` is preconditioned (default 0; kozistr 0.9). */
  momentum: unit((r) => (kozistr(r) ? 0.9 : 0)),
  /** Scale the preconditioned update down to this RMS when above it (default 2; kozistr 1.1). */
  clipRms: positive((r) => (kozistr(r) ? 1.1 : 2)),
  /** Then clamp it to ±clipMax element-wise (default 10; kozistr has no such clamp). */
  clipMax: positive(10),
  /** Probability in (0, 1] of a preconditioner update per step, or the schedule's maximum (default 1). */
  updateProbability: number(1, { min: 0, minInclusive: false, max: 1 }),
  /** `'constant'` (default) or `'anneal'`: `clamp(p·exp(−0.001·(t − 500)), 0.03, p)` (kozistr's default). */
  updateSchedule: choice(['constant', 'anneal'] as const, (r) => (kozistr(r) ? 'anneal' : 'constant')),
  /** A dim larger than this integer gets a diagonal factor (default null: no limit; kozistr 8192). */
  maxSize: nullableWithDefault((r) => (kozistr(r) ? 8192 : null), { min: 1, integer: true }),
  /** A dim `d` with `d² > maxSkew·size` gets a diagonal factor (default 1: a matrix's larger side is diagonal). */
  maxSkew: positive(1),
  /**
   * `Q₀ = initScale·I` (default null: from the first gradients, `(max mean|g|⁴ + damping⁴)^(−1/8)`; kozistr 1).
   * At most `1/√damping`: the damping bounds the fitted `P ≲ I/damping`, and `P₀ = initScale²·I`.
   */
  initScale: nullableWithDefault((r) => (kozistr(r) ? 1 : null), { min: 0, minInclusive: false }),
  /** Seed of the random draws, an integer in [0, 2²⁴] (default 0); it is saved with the state. */
  seed: integer(0, 0, PSGD_MAX_SEED),
  /** Decoupled weight decay ≥ 0, multiplied by the learning rate (default 0; psgd_torch has none). */
  weightDecay: nonNegative(0),
  schedule: decayedSchedule(),
};

/** Options of {@link psgdKron}. */
export interface PsgdKronOptions extends OptionsOf<typeof schema> {}
/** {@link PsgdKronOptions} with every default filled in. */
export interface ResolvedPsgdKron extends ResolvedOf<typeof schema> {}

/**
 * PSGD Kron (Li, arXiv 1512.04202 and 2402.11858; Pooladzandi & Li, "Curvature-Informed SGD via General
 * Purpose Lie-Group Preconditioners", arXiv 2402.04553), as lixilinx/psgd_torch `psgd.py` `KronWhiten`
 * (`dQ = "Q0.5EQ1.5"`, whitening the gradient): `W ← W − η·(clip(P·m) + λW)` with `P = ⊗ QᵢᵀQᵢ` fitted
 * each step (with probability p) so that `P·g` is white — see `scaleByPsgdKron`. Dense factors on dims
 * with `d² ≤ maxSkew·size` and `d ≤ maxSize`, diagonal ones elsewhere (vectors, a matrix's larger side).
 * `defaults: 'kozistr'` takes kozistr/pytorch_optimizer `Kron`'s defaults (its own update, `dQ = EQ` with
 * triangular Q and solves, is not implemented; its momentum is bias-corrected, ours is psgd_torch's
 * `min(t/(1+t), μ)` EMA).
 */
export const psgdKronDefinition: OptimizerDefinition<PsgdKronOptions, ResolvedPsgdKron> = recipe({
  name: 'psgdKron',
  className: 'orthoptim.PsgdKron',
  summary: 'PSGD Kron: gradient whitening by a Kronecker-factored preconditioner fitted online (dQ = Q^0.5·E·Q^1.5, matmuls only)',
  paper: 'Pooladzandi & Li, "Curvature-Informed SGD via General Purpose Lie-Group Preconditioners" (arXiv 2402.04553); Li, "Stochastic Hessian Fittings with Lie Groups" (arXiv 2402.11858)',
  reference: 'lixilinx/psgd_torch:psgd.py#KronWhiten (dQ = Q0.5EQ1.5, Oct. 2025); kozistr/pytorch_optimizer:pytorch_optimizer/optimizer/psgd.py#Kron (defaults)',
  schema,
  check(r) {
    if (r.initScale !== null && r.damping > 0 && r.initScale > 1 / Math.sqrt(r.damping)) {
      throw new RangeError(
        `psgdKron: initScale must be at most 1/√damping = ${1 / Math.sqrt(r.damping)} (the damping bounds P ≲ I/damping, and P₀ = initScale²·I), got ${r.initScale}`,
      );
    }
  },
  build: (r) =>
    chain(
      scaleByPsgdKron({
        preconditionerLr: r.preconditionerLr,
        betaL: r.betaL,
        damping: r.damping,
        momentum: r.momentum,
        clipRms: r.clipRms,
        clipMax: r.clipMax,
        updateProbability: r.updateProbability,
        updateSchedule: r.updateSchedule,
        maxSize: r.maxSize,
        maxSkew: r.maxSkew,
        initScale: r.initScale,
        seed: r.seed,
      }),
      addDecayedWeights(r.weightDecay),
      scaleByLearningRate(r.schedule),
    ),
});

/** PSGD Kron's transform (no tf.Optimizer), validated as {@link psgdKronDefinition}. */
export const psgdKronTransform = recipeTransform(psgdKronDefinition);

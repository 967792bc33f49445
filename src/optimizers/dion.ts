/**
 * Dion and Dion2 (microsoft/dion): low-rank orthonormalized updates with error feedback, and Muon on a
 * top-k submatrix; AdamW (and optionally Lion) for everything else.
 * @module
 */
import { chain, partition, type GradientTransformation, type ParamMeta } from '../core/transform.js';
import { checkChoice, checkNumber, nonNegative, positive } from '../core/options.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByShape, type ShapeRule } from '../transforms/orthogonalize.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import { scaleByDion, scaleByDion2, scaleByLion, type DionOrientation } from '../transforms/dion.js';
import { qrMethods, type QrMethod } from '../linalg/qr.js';
import { type ResolvedNewtonSchulz } from '../linalg/newtonSchulz.js';
import type { CoefficientPreset, QuinticCoefficients } from '../linalg/coefficients.js';
import type { LearningRate } from '../schedules/index.js';
import {
  checkUnit,
  decayedLearningRate,
  decodeLearningRate,
  decodePatterns,
  encodeLearningRate,
  encodePatterns,
  matchesAny,
  resolveRecipeNewtonSchulz,
  type ConfigValue,
  type NamePattern,
  type OptimizerConfig,
  type OptimizerDefinition,
} from './definition.js';
import {
  auxiliaryAdamw,
  auxiliaryFromConfig,
  auxiliaryKeys,
  auxiliaryToConfig,
  resolveAuxiliary,
  routeMatrices,
  withoutAuxiliary,
  type AuxiliaryOptions,
  type ResolvedAuxiliary,
} from './auxiliary.js';
import { defineOptimizer } from '../tfjs/registry.js';

/**
 * The scalar-parameter options microsoft/dion adds to the shared auxiliary AdamW: its `algorithm='lion'`
 * groups. Lion shares AdamW's betas and weight decay, as the reference's single `betas` and
 * `weight_decay` serve both.
 */
export interface DionScalarOptions extends AuxiliaryOptions {
  /**
   * Parameters that get Lion instead of AdamW (name patterns: a string matches as a substring, a RegExp
   * by `test`). They are taken out of the matrix chain too (dion's README suggests Lion for the
   * embedding and LM head). Default none.
   */
  readonly lion?: readonly NamePattern[];
  /** Learning rate of the Lion parameters (default: `adamwLearningRate`). */
  readonly lionLearningRate?: LearningRate;
}

/** {@link DionScalarOptions} resolved. */
export interface ResolvedDionScalars {
  readonly aux: ResolvedAuxiliary;
  readonly lion: readonly NamePattern[];
  readonly lionLearningRate: LearningRate;
}

const scalarKeys = [...auxiliaryKeys, 'lion', 'lionLearningRate'] as const;

/**
 * microsoft/dion's scalar groups inherit the optimizer's `lr`, `weight_decay` and `epsilon` unless a group
 * sets its own; so do these defaults.
 */
function resolveScalars(
  owner: string,
  o: DionScalarOptions,
  inherited: { learningRate: LearningRate; weightDecay: number; epsilon: number },
): ResolvedDionScalars {
  const aux = resolveAuxiliary(owner, o, {
    adamwLearningRate: inherited.learningRate,
    adamwWeightDecay: inherited.weightDecay,
    adamwEpsilon: inherited.epsilon,
  });
  const lion = o.lion ?? [];
  if (!Array.isArray(lion) || !lion.every((p) => typeof p === 'string' || p instanceof RegExp)) {
    throw new RangeError(`${owner}: lion must be a list of strings and RegExps, got ${JSON.stringify(lion)}`);
  }
  const lionLearningRate = o.lionLearningRate ?? aux.adamwLearningRate;
  lionLearningRateSchedule(owner, lionLearningRate, aux);
  return { aux, lion, lionLearningRate };
}

/** Lion's learning rate, bounded by the AdamW decay it shares (see {@link decayedLearningRate}). */
function lionLearningRateSchedule(owner: string, lr: LearningRate, aux: ResolvedAuxiliary) {
  return decayedLearningRate(owner, 'lionLearningRate', lr, 'adamwWeightDecay', aux.adamwWeightDecay);
}

/** Routes matrices to `matrix`, Lion patterns to Lion, the rest to the auxiliary AdamW. */
function routeDion(owner: string, matrix: GradientTransformation, s: ResolvedDionScalars): GradientTransformation {
  if (s.lion.length === 0) return routeMatrices(owner, matrix, s.aux);
  const { aux, lion } = s;
  const isLion = (meta: ParamMeta) => matchesAny(meta.name, lion);
  const exclude = aux.exclude;
  const routing: ResolvedAuxiliary = {
    ...aux,
    exclude: typeof exclude === 'function' ? (m) => isLion(m) || exclude(m) : [...exclude, ...lion],
  };
  const lionChain = chain(
    scaleByLion({ beta1: aux.adamwBeta1, beta2: aux.adamwBeta2 }),
    addDecayedWeights(aux.adamwWeightDecay),
    scaleByLearningRate(lionLearningRateSchedule(owner, s.lionLearningRate, aux)),
  );
  const scalars = partition({ adamw: auxiliaryAdamw(owner, aux), lion: lionChain }, (m) => (isLion(m) ? 'lion' : 'adamw'));
  return routeMatrices(owner, matrix, routing, scalars);
}

function scalarsToConfig(s: ResolvedDionScalars, params: readonly ParamMeta[] | null, owner: string): OptimizerConfig {
  return {
    ...auxiliaryToConfig(s.aux, params, owner),
    lion: encodePatterns(s.lion),
    lionLearningRate: encodeLearningRate(s.lionLearningRate),
  };
}

function scalarsFromConfig(c: OptimizerConfig): DionScalarOptions {
  return {
    ...auxiliaryFromConfig(c),
    lion: decodePatterns(c.lion),
    lionLearningRate: decodeLearningRate(c.lionLearningRate),
  };
}

function withoutScalars(c: OptimizerConfig): OptimizerConfig {
  const rest = withoutAuxiliary(c);
  delete rest.lion;
  delete rest.lionLearningRate;
  return rest;
}

const integerAtLeastOne = { min: 1, integer: true } as const;

// ---------------------------------------------------------------------------------------------- Dion

/** Options of {@link dion}. Defaults follow microsoft/dion `dion_reference.py` `Dion`. */
export interface DionOptions extends DionScalarOptions {
  /** Learning rate of the Dion matrices (default 0.01), scaled per matrix by `√(fanOut/fanIn)`. */
  readonly learningRate?: LearningRate;
  /** Momentum μ in [0, 1) (default 0.95): the error feedback keeps `B − (1−μ)·P·Rᵀ`. */
  readonly momentum?: number;
  /** Decoupled weight decay, multiplied by the base learning rate (default 0.01). */
  readonly weightDecay?: number;
  /** Rank as a fraction of min(fanIn, fanOut), in (0, 1] (default 1). */
  readonly rankFraction?: number;
  /** Round the rank up to a multiple of this integer (default 1). */
  readonly rankMultipleOf?: number;
  /** Absolute rank (dion_simple's `rank`), capped at min(fanIn, fanOut); overrides `rankFraction` (default null). */
  readonly rank?: number | null;
  /** Power iterations per step (default 1). */
  readonly powerIters?: number;
  /** Column-normalization ε, also the default AdamW ε (default 1e-8). */
  readonly epsilon?: number;
  /**
   * Column orthonormalization of P: `'cholesky'` (default; CholeskyQR2 with a Householder fallback, the
   * deterministic counterpart of the reference's default randomized Cholesky QR `'rcqr'`) or
   * `'householder'` (the reference's `qr_method='qr'`).
   */
  readonly qrMethod?: QrMethod;
  /** `'tall'` (default, dion_reference / the paper) or `'fanOut'` (dion_simple), see {@link DionOrientation}. */
  readonly orientation?: DionOrientation;
  /** Seed of the random initial Q (default 0). */
  readonly seed?: number;
}

/** {@link DionOptions} with every default filled in. */
export interface ResolvedDion {
  readonly learningRate: LearningRate;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly rankFraction: number;
  readonly rankMultipleOf: number;
  readonly rank: number | null;
  readonly powerIters: number;
  readonly epsilon: number;
  readonly qrMethod: QrMethod;
  readonly orientation: DionOrientation;
  readonly seed: number;
  readonly scalars: ResolvedDionScalars;
}

const DION = 'dion';

/** The definition behind {@link dion}. */
export const dionDefinition: OptimizerDefinition<DionOptions, ResolvedDion> = {
  name: DION,
  className: 'orthoptim.Dion',
  summary: 'Dion: low-rank power iteration with error feedback and column-normalized Q; AdamW/Lion for non-matrices',
  paper: 'Ahn et al., "Dion: Distributed Orthonormalized Updates" (arXiv 2504.05295)',
  reference: 'microsoft/dion@0a059a45:dion/dion_reference.py#Dion',
  keys: [
    'learningRate', 'momentum', 'weightDecay', 'rankFraction', 'rankMultipleOf', 'rank', 'powerIters', 'epsilon',
    'qrMethod', 'orientation', 'seed', ...scalarKeys,
  ],
  resolve(o) {
    const learningRate = o.learningRate ?? 0.01;
    const weightDecay = checkNumber(DION, 'weightDecay', o.weightDecay ?? 0.01, nonNegative);
    // Checked before the scalar groups, which inherit both: an error names what the user wrote.
    decayedLearningRate(DION, 'learningRate', learningRate, 'weightDecay', weightDecay);
    const epsilon = checkNumber(DION, 'epsilon', o.epsilon ?? 1e-8, positive);
    const rank = o.rank ?? null;
    return {
      learningRate,
      momentum: checkUnit(DION, 'momentum', o.momentum ?? 0.95),
      weightDecay,
      rankFraction: checkNumber(DION, 'rankFraction', o.rankFraction ?? 1, { min: 0, max: 1, minInclusive: false }),
      rankMultipleOf: checkNumber(DION, 'rankMultipleOf', o.rankMultipleOf ?? 1, integerAtLeastOne),
      rank: rank === null ? null : checkNumber(DION, 'rank', rank, integerAtLeastOne),
      powerIters: checkNumber(DION, 'powerIters', o.powerIters ?? 1, { min: 1, max: 100, integer: true }),
      epsilon,
      qrMethod: checkChoice(DION, 'qrMethod', o.qrMethod ?? 'cholesky', qrMethods),
      orientation: checkChoice(DION, 'orientation', o.orientation ?? 'tall', ['tall', 'fanOut'] as const),
      seed: checkNumber(DION, 'seed', o.seed ?? 0, { min: 0, integer: true }),
      scalars: resolveScalars(DION, o, { learningRate, weightDecay, epsilon }),
    };
  },
  build(r) {
    return routeDion(
      DION,
      chain(
        scaleByDion({
          mu: r.momentum,
          epsilon: r.epsilon,
          powerIters: r.powerIters,
          qrMethod: r.qrMethod,
          orientation: r.orientation,
          rankFraction: r.rankFraction,
          rankMultipleOf: r.rankMultipleOf,
          rank: r.rank,
          seed: r.seed,
          owner: DION,
        }),
        scaleByShape('spectral'),
        addDecayedWeights(r.weightDecay),
        scaleByLearningRate(decayedLearningRate(DION, 'learningRate', r.learningRate, 'weightDecay', r.weightDecay)),
      ),
      r.scalars,
    );
  },
  toConfig(r, params) {
    return {
      learningRate: encodeLearningRate(r.learningRate),
      momentum: r.momentum,
      weightDecay: r.weightDecay,
      rankFraction: r.rankFraction,
      rankMultipleOf: r.rankMultipleOf,
      rank: r.rank,
      powerIters: r.powerIters,
      epsilon: r.epsilon,
      qrMethod: r.qrMethod,
      orientation: r.orientation,
      seed: r.seed,
      ...scalarsToConfig(r.scalars, params, DION),
    };
  },
  fromConfig(c: OptimizerConfig) {
    return {
      ...(withoutScalars(c) as unknown as DionOptions),
      learningRate: decodeLearningRate(c.learningRate),
      ...scalarsFromConfig(c),
    };
  },
};

/**
 * Dion (Ahn et al., "Dion: Distributed Orthonormalized Updates", arXiv 2504.05295), following
 * microsoft/dion `dion/dion_reference.py` `Dion` (the paper's algorithm; the golden `dion_reference`
 * files) by default. For each matrix, with `X = [fanIn, fanOut]` (conv kernels flattened) oriented so the
 * working matrix `B` is tall (P on the longer of fan-in/fan-out) and rank
 * `r = ⌈rankFraction·min(fanIn, fanOut)⌉` (rounded up to `rankMultipleOf`):
 * ```
 * B ← M + G;  repeat powerIters: P ← QR(B·Q).Q,  Q ← Bᵀ·P;  R = Q
 * (B all zero: P ← 0, R ← Q)
 * M ← B − (1−μ)·P·Rᵀ;   Q ← R ⊘ (‖R_{:,j}‖ + ε)
 * W ← W·(1 − ηλ) − η·√(fanOut/fanIn)·P·Qᵀ          (no max(1, ·): wide matrices get < 1)
 * ```
 * Vectors, scalars and `exclude`d matrices get AdamW (`adamw*` options; lr, weight decay and ε default
 * to Dion's, betas (0.9, 0.95), as the reference's `algorithm='adamw'` groups), or Lion for `lion`
 * patterns (`algorithm='lion'`).
 *
 * Variants: `orientation: 'fanOut'` and an absolute `rank` reproduce `dion/dion_simple.py` (P always on
 * fan-out, no transposition; the golden `dion_simple` files). `qrMethod: 'householder'` is the
 * reference's `qr_method='qr'` (the golden files); the default `'cholesky'` is CholeskyQR2 — the
 * reference's default `'rcqr'` draws a random sketch from torch's generator every step, which no port can
 * reproduce, and CholeskyQR2 computes the same Q (up to column signs, which cancel in the update).
 * Initial Q: N(0, 1) from `seed` (the reference uses `torch.randn`); to start from a given Q, write the
 * `…/q/i` state slots with `stageState`. Hyper-parameters enter as float32 where the reference wraps them
 * in float32 tensors (`1 − μ`).
 *
 * Differences from the reference, on purpose: rank ≥ 3 kernels are flattened to `[fanIn, fanOut]`
 * (dion_reference rejects them); a sharded run is available at the transform level
 * (`scaleByDion({sharding})`, `dionStepSharded` over a `Collective`), not through the replicated meshes
 * of the reference.
 *
 * State per m×n matrix: momentum (m·n) and Q (r·min(m, n) with orientation `'tall'`; r·fanIn with
 * `'fanOut'`). Cost per step: 4 rank-r products (B·Q, Bᵀ·P, P·Rᵀ, P·Qᵀ; 8·m·n·r FLOPs, plus 4·m·n·r per
 * extra power iteration) and the QR of the max(m, n)×r matrix P (CholeskyQR2: 4 max(m,n)×r×r products and
 * two r×r host Cholesky factorizations, each reading back r×r floats).
 *
 * @example
 * model.compile({ optimizer: dion({ learningRate: 0.01, rankFraction: 0.25, exclude: adamwParamNames(model) }), loss: 'categoricalCrossentropy' });
 */
export const dion = defineOptimizer(dionDefinition);

// --------------------------------------------------------------------------------------------- Dion2

/** Options of {@link dion2}. Defaults follow microsoft/dion `dion/dion2.py` `Dion2`. */
export interface Dion2Options extends DionScalarOptions {
  /** Learning rate of the Dion2 matrices (default 0.01), scaled per matrix by `scaleRule`. */
  readonly learningRate?: LearningRate;
  /** Fraction of the shorter dimension's slices updated per step, in (0, 1] (default 0.25). */
  readonly fraction?: number;
  /** Factor applied to the selected slices of the momentum, in [0, 1] (default 0.95). */
  readonly efDecay?: number;
  /** Decoupled weight decay on all matrix entries, multiplied by the base learning rate (default 0.01). */
  readonly weightDecay?: number;
  /** ε of the orthogonalizer's normalization, also the default AdamW ε (default 1e-8). */
  readonly epsilon?: number;
  /** Orthogonalizer coefficients (default `'polarExpress5'`, the reference's `use_polar_express=True`). */
  readonly coefficients?: CoefficientPreset | readonly QuinticCoefficients[];
  /** Orthogonalizer steps (default: the table's, 5). */
  readonly nsSteps?: number;
  /**
   * Update scale (reference `adjust_lr`): `'spectral'` `√(fanOut/fanIn)` (default, `"spectral_norm"`),
   * `'moonlight'` `0.2·√max(fanIn, fanOut)` (`"rms_norm"`), `'none'` (`None`).
   */
  readonly scaleRule?: Extract<ShapeRule, 'spectral' | 'moonlight' | 'none'>;
}

/** {@link Dion2Options} with every default filled in. */
export interface ResolvedDion2 {
  readonly learningRate: LearningRate;
  readonly fraction: number;
  readonly efDecay: number;
  readonly weightDecay: number;
  readonly epsilon: number;
  readonly coefficients: CoefficientPreset | readonly QuinticCoefficients[];
  readonly ns: ResolvedNewtonSchulz;
  readonly scaleRule: 'spectral' | 'moonlight' | 'none';
  readonly scalars: ResolvedDionScalars;
}

const DION2 = 'dion2';

/** The definition behind {@link dion2}. */
export const dion2Definition: OptimizerDefinition<Dion2Options, ResolvedDion2> = {
  name: DION2,
  className: 'orthoptim.Dion2',
  summary: 'Dion2: momentum sum, Polar Express on the top-k L1 slices, error-feedback decay; AdamW/Lion for non-matrices',
  paper: 'Ahn et al., "Dion2: A Simple Method to Shrink Matrix in Muon" (arXiv 2512.16928)',
  reference: 'microsoft/dion:dion/dion2.py#Dion2',
  keys: [
    'learningRate', 'fraction', 'efDecay', 'weightDecay', 'epsilon', 'coefficients', 'nsSteps', 'scaleRule',
    ...scalarKeys,
  ],
  resolve(o) {
    const learningRate = o.learningRate ?? 0.01;
    const weightDecay = checkNumber(DION2, 'weightDecay', o.weightDecay ?? 0.01, nonNegative);
    // Checked before the scalar groups, which inherit both: an error names what the user wrote.
    decayedLearningRate(DION2, 'learningRate', learningRate, 'weightDecay', weightDecay);
    const epsilon = checkNumber(DION2, 'epsilon', o.epsilon ?? 1e-8, positive);
    const coefficients = o.coefficients ?? 'polarExpress5';
    return {
      learningRate,
      fraction: checkNumber(DION2, 'fraction', o.fraction ?? 0.25, { min: 0, max: 1, minInclusive: false }),
      efDecay: checkNumber(DION2, 'efDecay', o.efDecay ?? 0.95, { min: 0, max: 1 }),
      weightDecay,
      epsilon,
      coefficients,
      ns: resolveRecipeNewtonSchulz(DION2, { coefficients, nsSteps: o.nsSteps, nsEpsilon: epsilon }, {}, { nsEpsilon: 'epsilon' }),
      scaleRule: checkChoice(DION2, 'scaleRule', o.scaleRule ?? 'spectral', ['spectral', 'moonlight', 'none'] as const),
      scalars: resolveScalars(DION2, o, { learningRate, weightDecay, epsilon }),
    };
  },
  build(r) {
    return routeDion(
      DION2,
      chain(
        scaleByDion2({ fraction: r.fraction, efDecay: r.efDecay, ns: r.ns, owner: DION2 }),
        scaleByShape(r.scaleRule),
        addDecayedWeights(r.weightDecay),
        scaleByLearningRate(decayedLearningRate(DION2, 'learningRate', r.learningRate, 'weightDecay', r.weightDecay)),
      ),
      r.scalars,
    );
  },
  toConfig(r, params) {
    return {
      learningRate: encodeLearningRate(r.learningRate),
      fraction: r.fraction,
      efDecay: r.efDecay,
      weightDecay: r.weightDecay,
      epsilon: r.epsilon,
      coefficients: r.coefficients as unknown as ConfigValue,
      nsSteps: r.ns.steps,
      scaleRule: r.scaleRule,
      ...scalarsToConfig(r.scalars, params, DION2),
    };
  },
  fromConfig(c: OptimizerConfig) {
    return {
      ...(withoutScalars(c) as unknown as Dion2Options),
      learningRate: decodeLearningRate(c.learningRate),
      ...scalarsFromConfig(c),
    };
  },
};

/**
 * Dion2 (Ahn et al., "Dion2: A Simple Method to Shrink Matrix in Muon", arXiv 2512.16928), following
 * microsoft/dion `dion/dion2.py` `Dion2` on a single device (no golden file exists). For each matrix
 * `X = [fanIn, fanOut]` (conv kernels flattened):
 * ```
 * M ← M + G
 * select the k = max(1, ⌈fraction·n⌉) slices along the shorter of fan-in/fan-out (output units — rows of
 *   the PyTorch weight — when fanOut ≤ fanIn, else input units) with the largest L1 norm
 * O ← PolarExpress(M[selected])                 (k × max(fanIn, fanOut))
 * M[selected] ← efDecay·M[selected]
 * W ← W·(1 − ηλ);   W[selected] ← W[selected] − η·√(fanOut/fanIn)·O
 * ```
 * Unselected slices only decay. The orthogonalizer runs in float32 (the reference: bfloat16) with
 * Polar Express's 5-step table and input ÷ (1.02‖X‖_F + ε). Scalars: AdamW / Lion as in {@link dion}.
 * Differences on purpose: rank ≥ 3 kernels are flattened (the reference's default `flatten=False`
 * orthogonalizes them as batches); only the single-device (`selection_scope` irrelevant) path exists.
 *
 * State per m×n matrix: momentum (m·n). Cost: Polar Express on a k×max(m,n) submatrix (≈ fraction² of
 * Muon's k²·N term) plus one n×k×L selection product to scatter the result back.
 */
export const dion2 = defineOptimizer(dion2Definition);

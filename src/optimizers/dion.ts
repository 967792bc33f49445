/**
 * Dion and Dion2 (microsoft/dion): low-rank orthonormalized updates with error feedback, and Muon on a
 * top-k submatrix; AdamW (and optionally Lion) for everything else.
 * @module
 */
import { chain, partition, type GradientTransformation, type ParamMeta } from '../core/transform.js';
import { choice, derived, integer, nonNegative, nullableNumber, number, positive, unit, type Option, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByShape } from '../transforms/orthogonalize.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import { scaleByDion, scaleByDion2, scaleByLion, type DionInitialQ } from '../transforms/dion.js';
import { qrMethods } from '../linalg/qr.js';
import type { LearningRate } from '../schedules/index.js';
import {
  coefficients, decayedLearningRate, decayedSchedule, learningRate, matchesAny, newtonSchulz, nsSteps, patterns, recipe,
  recipeTransform, type NamePattern, type OptimizerDefinition,
} from './definition.js';
import { auxiliaryAdamw, auxiliaryOptions, routeMatrices, type ResolvedAuxiliary } from './auxiliary.js';

/** {@link DionScalarOptions} resolved. */
export interface ResolvedDionScalars {
  readonly aux: ResolvedAuxiliary;
  readonly lion: readonly NamePattern[];
  readonly lionLearningRate: LearningRate;
}

/** Lion's learning rate, bounded by the AdamW decay it shares (see {@link decayedLearningRate}). */
function lionLearningRateSchedule(owner: string, lr: LearningRate, aux: ResolvedAuxiliary) {
  return decayedLearningRate(owner, 'lionLearningRate', lr, 'adamwWeightDecay', aux.adamwWeightDecay);
}

/**
 * The scalar-parameter options microsoft/dion adds to the shared auxiliary AdamW: its `algorithm='lion'`
 * groups. Lion shares AdamW's betas and weight decay, as the reference's single `betas` and
 * `weight_decay` serve both. microsoft/dion's scalar groups inherit the optimizer's `lr`, `weight_decay`
 * and `epsilon` unless a group sets its own; so do these defaults.
 */
function dionScalarOptions() {
  return {
    ...auxiliaryOptions({ adamwLearningRate: { from: 'learningRate' }, adamwWeightDecay: { from: 'weightDecay' }, adamwEpsilon: { from: 'epsilon' } }),
    /**
     * Parameters that get Lion instead of AdamW (name patterns: a string matches as a substring, a RegExp
     * by `test`). They are taken out of the matrix chain too (dion's README suggests Lion for the
     * embedding and LM head). Default none.
     */
    lion: patterns(),
    /** Learning rate of the Lion parameters (default: `adamwLearningRate`). */
    lionLearningRate: learningRate({ from: 'adamwLearningRate' }),
    scalars: derived((r, owner): ResolvedDionScalars => {
      const s = r as unknown as ResolvedDionScalars;
      lionLearningRateSchedule(owner, s.lionLearningRate, s.aux);
      return { aux: s.aux, lion: s.lion, lionLearningRate: s.lionLearningRate };
    }),
  };
}

/** The scalar-parameter options of Dion and Dion2: the auxiliary AdamW's, plus Lion's. */
export interface DionScalarOptions extends OptionsOf<ReturnType<typeof dionScalarOptions>> {}

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

/** The options shared by Dion and Dion2 before their own: lr, decay (checked together), ε. */
function dionBase(defaultLearningRate: number) {
  return {
    /** Learning rate of the matrices (default 0.01), scaled per matrix (Dion: `√(fanOut/fanIn)`; Dion2: `scaleRule`). */
    learningRate: learningRate(defaultLearningRate),
    /** Decoupled weight decay, multiplied by the base learning rate (default 0.01). */
    weightDecay: nonNegative(0.01),
    // Checked before the scalar groups, which inherit both: an error names what the user wrote.
    schedule: decayedSchedule(),
    /** Dion: column-normalization ε; Dion2: the orthogonalizer's ε; also the default AdamW ε (default 1e-8). */
    epsilon: positive(1e-8),
  };
}

// ---------------------------------------------------------------------------------------------- Dion

const DION = 'dion';

const dionSchema = {
  ...dionBase(0.01),
  /** Momentum μ in [0, 1) (default 0.95): the error feedback keeps `B − (1−μ)·P·Rᵀ`. */
  momentum: unit(0.95),
  /** Rank as a fraction of min(fanIn, fanOut), in (0, 1] (default 1). */
  rankFraction: number(1, { min: 0, max: 1, minInclusive: false }),
  /** Round the rank up to a multiple of this integer (default 1). */
  rankMultipleOf: integer(1, 1),
  /** Absolute rank (dion_simple's `rank`), capped at min(fanIn, fanOut); overrides `rankFraction` (default null). */
  rank: nullableNumber({ min: 1, integer: true }),
  /** Power iterations per step (default 1). */
  powerIters: integer(1, 1, 100),
  /**
   * Column orthonormalization of P: `'cholesky'` (default; CholeskyQR2 with a Householder fallback, the
   * deterministic counterpart of the reference's default randomized Cholesky QR `'rcqr'`) or
   * `'householder'` (the reference's `qr_method='qr'`).
   */
  qrMethod: choice(qrMethods, 'cholesky'),
  /** `'tall'` (default, dion_reference / the paper) or `'fanOut'` (dion_simple), see `DionOrientation`. */
  orientation: choice(['tall', 'fanOut'] as const, 'tall'),
  /** Seed of the random initial Q ~ N(0, 1) (default 0; parameter i uses tfjs seed `seed + i + 1`). */
  seed: integer(0, 0),
  /**
   * The initial Q of each matrix instead of the seeded draw: `(meta, shape, index) => values` with
   * `shape = [qDim, rank]` (see `DionInitialQ`). Used when the state is made; not saved in a config (the
   * state, which `model.save` and checkpoints keep, holds Q from then on).
   */
  initialQ: {
    entry: 'option',
    resolve(value, { owner }) {
      if (value !== undefined && value !== null && typeof value !== 'function') {
        throw new RangeError(`${owner}: initialQ must be a function (meta, shape, index) => values, got ${typeof value}`);
      }
      return (value ?? null) as DionInitialQ | null;
    },
    encode: () => undefined,
  } as Option<DionInitialQ | null, DionInitialQ>,
  ...dionScalarOptions(),
};

/** Options of {@link dion}. Defaults follow microsoft/dion `dion_reference.py` `Dion`. */
export interface DionOptions extends OptionsOf<typeof dionSchema> {}
/** {@link DionOptions} with every default filled in. */
export interface ResolvedDion extends ResolvedOf<typeof dionSchema> {}

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
 * Initial Q: N(0, 1) from `seed` (the reference uses `torch.randn`), or the `initialQ` option's (to
 * replay a run that started from a known Q); a restored checkpoint or `model.save` brings its own Q. Hyper-parameters enter as float32 where the reference wraps them
 * in float32 tensors (`1 − μ`).
 *
 * Differences from the reference, on purpose: rank ≥ 3 kernels are flattened to `[fanIn, fanOut]`
 * (dion_reference rejects them); a sharded run is available at the transform level
 * (`scaleByDion({sharding})`, `dionStepSharded` over a `Collective`), not through the replicated meshes
 * of the reference. Data parallel: `distributed(dion(…), comm)` runs the reference's DDP path
 * (`replicate_mesh` a process group, `compressed_all_reduce`): each rank's momentum from its own
 * gradient, P and R all-reduced (mean) instead of the gradient for every matrix where
 * `powerIters·(m + n)·r < m·n` (the reference: `(m + n)·r < m·n`), the gradient all-reduced for the
 * others and for the AdamW/Lion parameters (`dionStepsDataParallel` in transforms/dion.ts). The
 * all-zero test of the momentum is over all ranks (the reference tests each rank's own). A checkpoint
 * of rank r holds rank r's momentum (the reference's `synchronize_for_checkpoint` averages them first;
 * not here).
 *
 * State per m×n matrix: momentum (m·n) and Q (r·min(m, n) with orientation `'tall'`; r·fanIn with
 * `'fanOut'`). Cost per step: 4 rank-r products (B·Q, Bᵀ·P, P·Rᵀ, P·Qᵀ; 8·m·n·r FLOPs, plus 4·m·n·r per
 * extra power iteration) and the QR of the max(m, n)×r matrix P (CholeskyQR2: 4 max(m,n)×r×r products and
 * two r×r host Cholesky factorizations, each reading back r×r floats).
 */
export const dionDefinition: OptimizerDefinition<DionOptions, ResolvedDion> = recipe({
  name: DION,
  className: 'orthoptim.Dion',
  summary: 'Dion: low-rank power iteration with error feedback and column-normalized Q; AdamW/Lion for non-matrices',
  paper: 'Ahn et al., "Dion: Distributed Orthonormalized Updates" (arXiv 2504.05295)',
  reference: 'microsoft/dion@0a059a45:dion/dion_reference.py#Dion',
  schema: dionSchema,
  build: (r) =>
    routeDion(
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
          initialQ: r.initialQ ?? undefined,
          owner: DION,
        }),
        scaleByShape('spectral'),
        addDecayedWeights(r.weightDecay),
        scaleByLearningRate(r.schedule),
      ),
      r.scalars,
    ),
});

// --------------------------------------------------------------------------------------------- Dion2

const DION2 = 'dion2';

const dion2Schema = {
  ...dionBase(0.01),
  /** Fraction of the shorter dimension's slices updated per step, in (0, 1] (default 0.25). */
  fraction: number(0.25, { min: 0, max: 1, minInclusive: false }),
  /** Factor applied to the selected slices of the momentum, in [0, 1] (default 0.95). */
  efDecay: number(0.95, { min: 0, max: 1 }),
  /** Orthogonalizer coefficients (default `'polarExpress5'`, the reference's `use_polar_express=True`). */
  coefficients: coefficients('polarExpress5'),
  /** Orthogonalizer steps (default: the table's, 5). */
  nsSteps: nsSteps(),
  ns: newtonSchulz(undefined, { nsEpsilon: 'epsilon' }),
  /**
   * Update scale (reference `adjust_lr`): `'spectral'` `√(fanOut/fanIn)` (default, `"spectral_norm"`),
   * `'moonlight'` `0.2·√max(fanIn, fanOut)` (`"rms_norm"`), `'none'` (`None`).
   */
  scaleRule: choice(['spectral', 'moonlight', 'none'] as const, 'spectral'),
  ...dionScalarOptions(),
};

/** Options of {@link dion2}. Defaults follow microsoft/dion `dion/dion2.py` `Dion2`. */
export interface Dion2Options extends OptionsOf<typeof dion2Schema> {}
/** {@link Dion2Options} with every default filled in. */
export interface ResolvedDion2 extends ResolvedOf<typeof dion2Schema> {}

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
export const dion2Definition: OptimizerDefinition<Dion2Options, ResolvedDion2> = recipe({
  name: DION2,
  className: 'orthoptim.Dion2',
  summary: 'Dion2: momentum sum, Polar Express on the top-k L1 slices, error-feedback decay; AdamW/Lion for non-matrices',
  paper: 'Ahn et al., "Dion2: A Simple Method to Shrink Matrix in Muon" (arXiv 2512.16928)',
  reference: 'microsoft/dion:dion/dion2.py#Dion2',
  schema: dion2Schema,
  build: (r) =>
    routeDion(
      DION2,
      chain(
        scaleByDion2({ fraction: r.fraction, efDecay: r.efDecay, ns: r.ns, owner: DION2 }),
        scaleByShape(r.scaleRule),
        addDecayedWeights(r.weightDecay),
        scaleByLearningRate(r.schedule),
      ),
      r.scalars,
    ),
});

/** Dion's transform (no tf.Optimizer). */
export const dionTransform = recipeTransform(dionDefinition);
/** Dion2's transform (no tf.Optimizer). */
export const dion2Transform = recipeTransform(dion2Definition);

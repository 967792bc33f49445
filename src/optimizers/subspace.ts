/**
 * GaLore and Online Subspace Descent: Adam on a rank-r projection of each hidden matrix's gradient; the
 * projector refreshed every `updateGap` steps (GaLore) or moved online by its own AdamW (OSD).
 * @module
 */
import { chain, partition, type GradientTransformation, type ParamMeta } from '../core/transform.js';
import { integer, nonNegative, nullableNumber, positive, unit, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { matrixShape } from '../linalg/newtonSchulz.js';
import { RANGE_FINDER_DEFAULTS } from '../linalg/rangeFinder.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import { scaleByAdamTransformersForm, scaleBySubspaceAdam, subspaceRank, SUBSPACE_MAX_SEED, type ProjectorUpdate } from '../transforms/subspace.js';
import { scheduleRange, type Schedule } from '../schedules/index.js';
import { decayedSchedule, learningRate, matchesAny, patterns, recipe, recipeTransform, type NamePattern, type OptimizerDefinition } from './definition.js';

/** The options GaLore and OSD share (defaults: the GaLore / OSD README's LLaMA-60M runs). */
function subspaceSchema() {
  return {
    /** Learning rate or schedule (default 0.01, the READMEs' LLaMA-60M runs), for every parameter. */
    learningRate: learningRate(0.01),
    /** Rank r of each hidden matrix's projector, an integer ≥ 1 (default 128, the READMEs'). */
    rank: integer(128, 1),
    /** When set, in (0, 1]: rank `⌈rankFraction·min(fanIn, fanOut)⌉` per matrix instead of `rank` (default null). */
    rankFraction: nullableNumber({ min: 0, minInclusive: false, max: 1 }),
    /** GaLore: steps between projector refreshes; OSD: P's learning rate is `1/updateGap` (default 200, `update_proj_gap`). */
    updateGap: integer(200, 1),
    /** Multiplies the back-projected update (default 0.25, `galore_scale` / `scale`). */
    scale: positive(0.25),
    /** Adam β₁ in [0, 1) (default 0.9). */
    beta1: unit(0.9),
    /** Adam β₂ in [0, 1) (default 0.999). */
    beta2: unit(0.999),
    /** Adam ε > 0, added to `√v` before the bias correction (default 1e-6, galore_torch's AdamW). */
    epsilon: positive(1e-6),
    /** Decoupled weight decay ≥ 0 on every parameter, times the learning rate (default 0, galore_torch's AdamW). */
    weightDecay: nonNegative(0),
    /** Power iterations of the range finder that replaces the references' SVD, in [0, 100] (default 2). */
    powerIters: integer(RANGE_FINDER_DEFAULTS.powerIters, 0, 100),
    /** Extra random probes of the range finder, an integer ≥ 0 (default 5). */
    oversample: integer(RANGE_FINDER_DEFAULTS.oversample, 0),
    /** Seed of the range finder's probes, an integer in [0, 2²⁴] (default 0); it is saved with the state. */
    seed: integer(0, 0, SUBSPACE_MAX_SEED),
    /**
     * Matrices that get plain Adam instead of the projection (name patterns: a string matches as a
     * substring, a RegExp by `test`) — the references project only the attention and MLP matrices.
     * Vectors, scalars and matrices whose smaller side is at most the rank always get plain Adam.
     */
    exclude: patterns(),
    schedule: decayedSchedule(),
  };
}

const galoreSchema = subspaceSchema();

const osdSchema = {
  ...subspaceSchema(),
  /** β₁ of P's AdamW in [0, 1) (default 0.9, torch.optim.AdamW's, as the reference). */
  projectorBeta1: unit(0.9),
  /** β₂ of P's AdamW in [0, 1) (default 0.999). */
  projectorBeta2: unit(0.999),
  /** ε of P's AdamW (default 1e-8). */
  projectorEpsilon: positive(1e-8),
  /** Decoupled weight decay of P's AdamW (default 0.01, torch's default the reference keeps), at most `updateGap`. */
  projectorWeightDecay: nonNegative(0.01),
};

/** Options of {@link galore}. */
export interface GaloreOptions extends OptionsOf<typeof galoreSchema> {}
/** {@link GaloreOptions} with every default filled in. */
export interface ResolvedGalore extends ResolvedOf<typeof galoreSchema> {}
/** Options of {@link onlineSubspaceDescent}. */
export interface OnlineSubspaceDescentOptions extends OptionsOf<typeof osdSchema> {}
/** {@link OnlineSubspaceDescentOptions} with every default filled in. */
export interface ResolvedOnlineSubspaceDescent extends ResolvedOf<typeof osdSchema> {}

/** Whether a parameter is projected: a matrix, not excluded, whose smaller side exceeds its rank. */
export function isProjected(meta: ParamMeta, o: { rank: number; rankFraction: number | null; exclude: readonly NamePattern[] }): boolean {
  if (meta.shape.length < 2 || matchesAny(meta.name, o.exclude)) return false;
  const [fanIn, fanOut] = matrixShape(meta.shape);
  return subspaceRank(fanIn, fanOut, o) < Math.min(fanIn, fanOut);
}

/**
 * OSD's P learning rate at a step: `(1/updateGap)·(η_t/η₀)` (the reference's
 * `update_proj_stepsize_ratio = lr / init_lr`), η₀ the schedule's largest value — the lr the optimizer
 * was made with, which a transformers schedule scales by a factor ≤ 1. 0 throughout when η is 0.
 */
export function projectorLearningRate(schedule: Schedule, updateGap: number): (step: number) => number {
  const base = scheduleRange(schedule.spec).max;
  return (step) => (base > 0 ? schedule(step) / base : 0) / updateGap;
}

function build(owner: string, r: ResolvedGalore, projector: ProjectorUpdate, extra: Partial<ResolvedOnlineSubspaceDescent> = {}): GradientTransformation {
  const common = { beta1: r.beta1, beta2: r.beta2, epsilon: r.epsilon };
  const matrix = chain(
    scaleBySubspaceAdam({
      ...common,
      rank: r.rank,
      rankFraction: r.rankFraction,
      projector,
      updateGap: r.updateGap,
      scale: r.scale,
      powerIters: r.powerIters,
      oversample: r.oversample,
      seed: r.seed,
      projectorBeta1: extra.projectorBeta1,
      projectorBeta2: extra.projectorBeta2,
      projectorEpsilon: extra.projectorEpsilon,
      projectorWeightDecay: extra.projectorWeightDecay,
      projectorLearningRate: projector === 'online' ? projectorLearningRate(r.schedule, r.updateGap) : undefined,
      owner,
    }),
    addDecayedWeights(r.weightDecay),
    scaleByLearningRate(r.schedule),
  );
  const adamw = chain(scaleByAdamTransformersForm(common), addDecayedWeights(r.weightDecay), scaleByLearningRate(r.schedule));
  return partition({ matrix, adamw }, (meta) => (isProjected(meta, r) ? 'matrix' : 'adamw'));
}

/**
 * GaLore (Zhao et al., "GaLore: Memory-Efficient LLM Training by Gradient Low-Rank Projection", ICML 2024,
 * arXiv 2403.03507), as jiaweizzhao/GaLore `galore_torch/adamw.py` with `GaLoreProjector`
 * (`proj_type='std'`): for each hidden matrix, Adam on `R = PᵀG` (P on the smaller side, d×r),
 * `W ← W − η·(scale·P·Adam(R) + λW)`, P refreshed from the gradient every `updateGap` steps by the
 * seeded range finder in place of the reference's SVD (its Adam moments kept across refreshes, as the
 * reference) — see `scaleBySubspaceAdam`. Everything else (vectors, excluded and small matrices) gets
 * the same Adam unprojected, as the reference's non-GaLore parameter group. Adam is transformers'
 * AdamW form (ε before the bias correction); the decay is torch AdamW's placement (on the weights
 * before the step; the reference decays after it, a difference of η²λ·u).
 */
export const galoreDefinition: OptimizerDefinition<GaloreOptions, ResolvedGalore> = recipe({
  name: 'galore',
  className: 'orthoptim.Galore',
  summary: 'GaLore: Adam on a rank-r projection of each gradient, the projector refreshed every updateGap steps (randomized range finder for the SVD)',
  paper: 'Zhao, Zhang, Chen, Wang, Anandkumar, Tian, "GaLore: Memory-Efficient LLM Training by Gradient Low-Rank Projection" (ICML 2024, arXiv 2403.03507)',
  reference: "jiaweizzhao/GaLore:galore_torch/adamw.py#AdamW + galore_torch/galore_projector.py#GaLoreProjector (proj_type='std')",
  schema: galoreSchema,
  build: (r) => build('galore', r, 'refresh'),
});

/**
 * Online Subspace Descent (Liang, Liu, Chen, Liu, "Memory-Efficient LLM Training with Online Subspace
 * Descent", NeurIPS 2024, arXiv 2408.12857), as kyleliang919/Online-Subspace-Descent
 * `galore_torch/galore_projector.py` (`proj_type='continuous'`) with `adamw.py`: GaLore's projected Adam,
 * but P is made once (range finder of the first gradient) and then moved each step by torch AdamW on the
 * online-PCA loss `‖PPᵀĜ − Ĝ‖²` (`Ĝ = G/‖G‖`, closed-form gradient), with learning rate
 * `(1/updateGap)·(η_t/η₀)` — spec `seed-methods.md` B4. As the reference: no orthogonality penalty,
 * P's AdamW at torch's defaults (weight decay 0.01 included).
 */
export const onlineSubspaceDescentDefinition: OptimizerDefinition<OnlineSubspaceDescentOptions, ResolvedOnlineSubspaceDescent> = recipe({
  name: 'onlineSubspaceDescent',
  className: 'orthoptim.OnlineSubspaceDescent',
  summary: 'Online Subspace Descent: GaLore-style projected Adam with the projector updated every step by AdamW on an online-PCA loss',
  paper: 'Liang, Liu, Chen, Liu, "Memory-Efficient LLM Training with Online Subspace Descent" (NeurIPS 2024, arXiv 2408.12857)',
  reference: "kyleliang919/Online-Subspace-Descent:galore_torch/galore_projector.py#GaLoreProjector (proj_type='continuous') + galore_torch/adamw.py#AdamW",
  schema: osdSchema,
  check(r) {
    if (r.projectorWeightDecay > r.updateGap) {
      throw new RangeError(
        `onlineSubspaceDescent: projectorWeightDecay must be at most updateGap (P's learning rate 1/updateGap × projectorWeightDecay ≤ 1), got projectorWeightDecay ${r.projectorWeightDecay} with updateGap ${r.updateGap}`,
      );
    }
  },
  build: (r) => build('onlineSubspaceDescent', r, 'online', r),
});

/** GaLore's transform (no tf.Optimizer), validated as {@link galoreDefinition}. */
export const galoreTransform = recipeTransform(galoreDefinition);
/** Online Subspace Descent's transform (no tf.Optimizer), validated as {@link onlineSubspaceDescentDefinition}. */
export const onlineSubspaceDescentTransform = recipeTransform(onlineSubspaceDescentDefinition);

/**
 * Parameter-free step sizes: DoG, L-DoG and DoWG over an SGD direction.
 * @module
 */
import { chain } from '../core/transform.js';
import { derived, nonNegative, nullableNumber, positive, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { asSchedule, type LearningRate } from '../schedules/index.js';
import { positive as positiveInterval } from '../core/options.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByDistanceOverGradients, scaleByDowg } from '../transforms/dog.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import { learningRate, recipe, recipeTransform, type OptimizerDefinition } from './definition.js';

/**
 * The largest multiplier c: DoG's step is c times the distance travelled, so with c > 1 the distance
 * and the step grow geometrically (c = 1e30 overflows float32 within 5 steps). formll/dog advises
 * c = 1 ("changing it is not recommended"); 10 leaves room to experiment. With L2 weight decay λ,
 * also c·λ ≤ 1, as every recipe's `learningRate × weightDecay`.
 */
const MAX_MULTIPLIER = 10;

/** The multiplier's schedule, bounded by {@link MAX_MULTIPLIER} and by the weight decay. */
const multiplierSchedule = () =>
  derived((r, owner) => {
    const wd = r.weightDecay as number;
    const max = wd > 0 ? Math.min(MAX_MULTIPLIER, 1 / wd) : MAX_MULTIPLIER;
    return asSchedule(r.learningRate as LearningRate, owner, 'learningRate', {
      max,
      explain: (v) =>
        v > MAX_MULTIPLIER
          ? `learningRate (the multiplier c of the distance-over-gradients step) must be at most ${MAX_MULTIPLIER} (the step grows geometrically with c > 1; the authors advise 1), got ${v}`
          : `learningRate × weightDecay must be at most 1, got learningRate ${v} × weightDecay ${wd}`,
    });
  });

const dogSchema = {
  /** The multiplier c of DoG's step size `c·r̄/√G` (default 1; the authors advise against changing it). */
  learningRate: learningRate(1),
  /** `r_ε = repsRel·(1 + ‖x₀‖)`, the first step's length (default 1e-6; the authors use 1e-4 with batch norm). */
  repsRel: positive(1e-6),
  /** The first step size itself, instead of `repsRel` (DoG's `init_eta`; default: not set). */
  initEta: nullableNumber(positiveInterval),
  /** Added once to the sum of squared gradient norms (default 1e-8). */
  epsilon: positive(1e-8),
  /** L2 penalty added to the gradient, `g + λW` (DoG's `weight_decay`, default 0). */
  weightDecay: nonNegative(0),
  schedule: multiplierSchedule(),
};

/** Options of {@link dog} and {@link ldog}. */
export interface DogOptions extends OptionsOf<typeof dogSchema> {}
/** {@link DogOptions} with every default filled in. */
export interface ResolvedDog extends ResolvedOf<typeof dogSchema> {}

const dogPaper = 'Ivgi, Hinder, Carmon, "DoG is SGD\'s Best Friend: A Parameter-Free Dynamic Step Size Schedule" (ICML 2023, arXiv 2302.12022)';
const dogBuild = (granularity: 'global' | 'perTensor') => (r: ResolvedDog) =>
  chain(
    addDecayedWeights(r.weightDecay),
    scaleByDistanceOverGradients({ granularity, repsRel: r.repsRel, initEta: r.initEta ?? undefined, epsilon: r.epsilon, learningRate: r.schedule }),
    scaleByLearningRate(r.schedule),
  );

/**
 * DoG: SGD with the step size `ηₜ = c·max_{i≤t}‖xᵢ − x₀‖ / √(Σ_{i≤t}‖gᵢ‖² + ε)` over the whole
 * parameter vector (see `scaleByDistanceOverGradients`). Replays formll/dog's trajectories.
 */
export const dogDefinition: OptimizerDefinition<DogOptions, ResolvedDog> = recipe({
  name: 'dog',
  className: 'orthoptim.Dog',
  summary: 'DoG: parameter-free SGD, step size = distance travelled over the root sum of squared gradient norms',
  paper: dogPaper,
  reference: 'formll/dog@8d45cf56:src/dog/dog.py#DoG',
  schema: dogSchema,
  build: dogBuild('global'),
});

/** L-DoG: DoG with one step size per parameter tensor (layer-wise). */
export const ldogDefinition: OptimizerDefinition<DogOptions, ResolvedDog> = recipe({
  name: 'ldog',
  className: 'orthoptim.Ldog',
  summary: 'L-DoG: DoG with one step size per parameter tensor',
  paper: dogPaper,
  reference: 'formll/dog@8d45cf56:src/dog/dog.py#LDoG',
  schema: dogSchema,
  build: dogBuild('perTensor'),
});

const dowgSchema = {
  /** A multiplier of the step size (default 1). */
  learningRate: learningRate(1),
  /** The initial estimate of the squared distance to the solution (default: `epsilon`). */
  initSquaredDistance: nullableNumber(positiveInterval),
  /** Added to `√v` in the step size, and the default initial squared distance (default 1e-4, optax's). */
  epsilon: positive(1e-4),
  /** L2 penalty added to the gradient, `g + λW` (default 0). */
  weightDecay: nonNegative(0),
  schedule: multiplierSchedule(),
};

/** Options of {@link dowg}. */
export interface DowgOptions extends OptionsOf<typeof dowgSchema> {}
/** {@link DowgOptions} with every default filled in. */
export interface ResolvedDowg extends ResolvedOf<typeof dowgSchema> {}

/** DoWG: distance over weighted gradients (see `scaleByDowg`), as optax's `contrib.dowg`. */
export const dowgDefinition: OptimizerDefinition<DowgOptions, ResolvedDowg> = recipe({
  name: 'dowg',
  className: 'orthoptim.Dowg',
  summary: 'DoWG: parameter-free SGD, step size = squared distance over the root of distance-weighted squared gradient norms',
  paper: 'Khaled, Mishchenko, Jin, "DoWG Unleashed: An Efficient Universal Parameter-Free Gradient Descent Method" (NeurIPS 2023, arXiv 2305.16284)',
  reference: 'google-deepmind/optax:optax/contrib/_dog.py#scale_by_dowg',
  schema: dowgSchema,
  build: (r) =>
    chain(
      addDecayedWeights(r.weightDecay),
      scaleByDowg({ initSquaredDistance: r.initSquaredDistance ?? undefined, epsilon: r.epsilon }),
      scaleByLearningRate(r.schedule),
    ),
});

/** DoG's, L-DoG's and DoWG's transforms (no tf.Optimizer). */
export const dogTransform = recipeTransform(dogDefinition);
export const ldogTransform = recipeTransform(ldogDefinition);
export const dowgTransform = recipeTransform(dowgDefinition);

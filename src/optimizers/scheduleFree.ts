/**
 * Schedule-free SGD and AdamW.
 * @module
 */
import { asSchedule, type LearningRate } from '../schedules/index.js';
import { derived, integer, nonNegative, number, positive, unit, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { scheduleFree } from '../transforms/scheduleFree.js';
import { decayBound, learningRate, recipe, recipeTransform, type OptimizerDefinition } from './definition.js';

const paper = 'Defazio, Yang, Mehta, Mishchenko, Khaled, Cutkosky, "The Road Less Scheduled" (NeurIPS 2024, arXiv 2405.15682)';

/** The interpolation β in (0, 1): the references refuse 0 (optax divides by it) and 1 (y = x never moves z's gradient point). */
const interpolation = (def: number) => number(def, { min: 0, max: 1, minInclusive: false, maxInclusive: false });

/** Options both recipes share after their own (warmup and the averaging weights). */
const averagingOptions = () => ({
  /** Steps of linear learning-rate warmup, an integer ≥ 0 (default 0). */
  warmupSteps: integer(0, 0),
  /** Polynomial weighting power r ≥ 0 of the average (default 0). */
  r: nonNegative(0),
  /** The average weighs step t by `(max lr so far)^weightLrPower` (default 2; 0: uniform). */
  weightLrPower: nonNegative(2),
  schedule: derived((res, owner) =>
    asSchedule(res.learningRate as LearningRate, owner, 'learningRate', decayBound('learningRate', 'weightDecay', res.weightDecay as number)),
  ),
});

const sgdSchema = {
  /** Learning rate γ (default 1.0, the reference's). */
  learningRate: learningRate(1),
  /** Interpolation β in (0, 1): gradients are taken at `β·x + (1−β)·z` (the reference's `momentum`, default 0.9). */
  momentum: interpolation(0.9),
  /** L2 penalty added to the gradient at y, `g + λy` (default 0). */
  weightDecay: nonNegative(0),
  ...averagingOptions(),
};

/** Options of {@link scheduleFreeSgd}. */
export interface ScheduleFreeSgdOptions extends OptionsOf<typeof sgdSchema> {}
/** {@link ScheduleFreeSgdOptions} with every default filled in. */
export interface ResolvedScheduleFreeSgd extends ResolvedOf<typeof sgdSchema> {}

/**
 * Schedule-free SGD as facebookresearch/schedule_free's `SGDScheduleFreeReference` (see
 * `transforms/scheduleFree.ts`). The parameters train at y; evaluate at the average x with
 * `withAveragedWeights(optimizer, fn)`.
 */
export const scheduleFreeSgdDefinition: OptimizerDefinition<ScheduleFreeSgdOptions, ResolvedScheduleFreeSgd> = recipe({
  name: 'scheduleFreeSgd',
  className: 'orthoptim.ScheduleFreeSgd',
  summary: 'Schedule-free SGD: gradients at an interpolation of the SGD iterate and its average, no decay schedule',
  paper,
  reference: 'facebookresearch/schedule_free@59ed9b66:schedulefree/sgd_schedulefree_reference.py#SGDScheduleFreeReference',
  schema: sgdSchema,
  build: (r) =>
    scheduleFree({
      base: 'sgd',
      learningRate: r.schedule,
      beta: r.momentum,
      beta2: 0,
      epsilon: 0,
      weightDecay: r.weightDecay,
      warmupSteps: r.warmupSteps,
      r: r.r,
      weightLrPower: r.weightLrPower,
    }),
});

const adamwSchema = {
  /** Learning rate γ (default 0.0025, the reference's). */
  learningRate: learningRate(0.0025),
  /** Interpolation β₁ in (0, 1): gradients are taken at `β₁·x + (1−β₁)·z` (default 0.9). */
  beta1: interpolation(0.9),
  /** Second-moment decay β₂ in [0, 1) (default 0.999). */
  beta2: unit(0.999),
  /** Added to `√v` (default 1e-8). */
  epsilon: positive(1e-8),
  /** Decoupled weight decay λ at y, `z ← z − γₜλ·y` (default 0). */
  weightDecay: nonNegative(0),
  ...averagingOptions(),
};

/** Options of {@link scheduleFreeAdamw}. */
export interface ScheduleFreeAdamwOptions extends OptionsOf<typeof adamwSchema> {}
/** {@link ScheduleFreeAdamwOptions} with every default filled in. */
export interface ResolvedScheduleFreeAdamw extends ResolvedOf<typeof adamwSchema> {}

/**
 * Schedule-free AdamW as facebookresearch/schedule_free's `AdamWScheduleFreeReference` (the
 * learning rate carries Adam's `√(1−β₂ᵗ)` bias correction, ε is added to the uncorrected `√v`, the
 * decay is applied to z at y with that learning rate). Evaluate with `withAveragedWeights(optimizer, fn)`.
 */
export const scheduleFreeAdamwDefinition: OptimizerDefinition<ScheduleFreeAdamwOptions, ResolvedScheduleFreeAdamw> = recipe({
  name: 'scheduleFreeAdamw',
  className: 'orthoptim.ScheduleFreeAdamw',
  summary: 'Schedule-free AdamW: RMS-scaled steps on z, gradients at an interpolation of z and its average, no decay schedule',
  paper,
  reference: 'facebookresearch/schedule_free@1fb6be51:schedulefree/adamw_schedulefree_reference.py#AdamWScheduleFreeReference',
  schema: adamwSchema,
  build: (r) =>
    scheduleFree({
      base: 'adam',
      learningRate: r.schedule,
      beta: r.beta1,
      beta2: r.beta2,
      epsilon: r.epsilon,
      weightDecay: r.weightDecay,
      warmupSteps: r.warmupSteps,
      r: r.r,
      weightLrPower: r.weightLrPower,
    }),
});

/** Schedule-free SGD's transform (no tf.Optimizer). */
export const scheduleFreeSgdTransform = recipeTransform(scheduleFreeSgdDefinition);
/** Schedule-free AdamW's transform (no tf.Optimizer). */
export const scheduleFreeAdamwTransform = recipeTransform(scheduleFreeAdamwDefinition);

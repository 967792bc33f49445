/**
 * Stochastic gradient descent with momentum, torch semantics.
 * @module
 */
import { chain } from '../core/transform.js';
import { boolean, nonNegative, number, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { trace } from '../transforms/momentum.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import { decayedSchedule, learningRate, recipe, recipeTransform, type OptimizerDefinition } from './definition.js';

const schema = {
  /** Learning rate or schedule (default 0.01). */
  learningRate: learningRate(0.01),
  /** Heavy-ball momentum μ in [0, 1) (default 0: plain SGD). */
  momentum: number(0, { min: 0, max: 1, maxInclusive: false }),
  /** Dampening in [0, 1] applied to the gradient inside the momentum buffer (default 0). */
  dampening: number(0, { min: 0, max: 1 }),
  /** Nesterov momentum (default false); needs momentum > 0 and dampening 0, as in torch. */
  nesterov: boolean(false),
  /** L2 penalty added to the gradient, `g + λW` (torch's coupled `weight_decay`, default 0). */
  weightDecay: nonNegative(0),
  schedule: decayedSchedule(),
};

/** Options of {@link sgd}. */
export interface SgdOptions extends OptionsOf<typeof schema> {}
/** {@link SgdOptions} with every default filled in. */
export interface ResolvedSgd extends ResolvedOf<typeof schema> {}

/** torch's rule for Nesterov momentum (shared with orthogonalSgdm). */
export function checkNesterov(owner: string, r: { nesterov: boolean; momentum: number; dampening: number }): void {
  if (r.nesterov && (r.momentum <= 0 || r.dampening !== 0)) {
    throw new RangeError(
      `${owner}: nesterov needs momentum > 0 and dampening = 0, got momentum ${r.momentum}, dampening ${r.dampening}`,
    );
  }
}

/**
 * SGD exactly as torch.optim.SGD (torch 1.13): `g ← g + λW`; `buf ← g` on the first step, then
 * `buf ← μ·buf + (1−dampening)·g`; direction `g + μ·buf` (Nesterov) or `buf`; `W ← W − η·direction`.
 * State: one momentum buffer per parameter when momentum > 0.
 */
export const sgdDefinition: OptimizerDefinition<SgdOptions, ResolvedSgd> = recipe({
  name: 'sgd',
  className: 'orthoptim.Sgd',
  summary: 'SGD with momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD semantics)',
  paper: 'Sutskever et al., "On the importance of initialization and momentum in deep learning" (ICML 2013)',
  reference: 'pytorch/pytorch@v1.13.1:torch/optim/sgd.py#SGD',
  schema,
  check: (r) => checkNesterov('sgd', r),
  build: (r) =>
    chain(
      addDecayedWeights(r.weightDecay),
      ...(r.momentum > 0 ? [trace({ momentum: r.momentum, dampening: r.dampening, nesterov: r.nesterov })] : []),
      scaleByLearningRate(r.schedule),
    ),
});

/** SGD's transform (no tf.Optimizer). */
export const sgdTransform = recipeTransform(sgdDefinition);

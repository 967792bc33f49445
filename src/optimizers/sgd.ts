/**
 * Stochastic gradient descent with momentum, torch semantics.
 * @module
 */
import { chain } from '../core/transform.js';
import { checkBoolean, checkNumber, nonNegative } from '../core/options.js';
import { trace } from '../transforms/momentum.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import { type LearningRate } from '../schedules/index.js';
import {
  decayedLearningRate,
  decodeLearningRate,
  encodeLearningRate,
  type OptimizerDefinition,
} from './definition.js';
import { defineOptimizer } from '../tfjs/registry.js';

/** Options of {@link sgd}. */
export interface SgdOptions {
  /** Learning rate or schedule (default 0.01). */
  readonly learningRate?: LearningRate;
  /** Heavy-ball momentum μ in [0, 1) (default 0: plain SGD). */
  readonly momentum?: number;
  /** Dampening in [0, 1] applied to the gradient inside the momentum buffer (default 0). */
  readonly dampening?: number;
  /** Nesterov momentum (default false); needs momentum > 0 and dampening 0, as in torch. */
  readonly nesterov?: boolean;
  /** L2 penalty added to the gradient, `g + λW` (torch's coupled `weight_decay`, default 0). */
  readonly weightDecay?: number;
}

/** {@link SgdOptions} with every default filled in. */
export type ResolvedSgd = Required<SgdOptions>;

const NAME = 'sgd';

/** The definition behind {@link sgd}. */
export const sgdDefinition: OptimizerDefinition<SgdOptions, ResolvedSgd> = {
  name: NAME,
  className: 'orthoptim.Sgd',
  summary: 'SGD with momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD semantics)',
  paper: 'Sutskever et al., "On the importance of initialization and momentum in deep learning" (ICML 2013)',
  reference: 'pytorch/pytorch@v1.13.1:torch/optim/sgd.py#SGD',
  keys: ['learningRate', 'momentum', 'dampening', 'nesterov', 'weightDecay'],
  resolve(o) {
    const r: ResolvedSgd = {
      learningRate: o.learningRate ?? 0.01,
      momentum: checkNumber(NAME, 'momentum', o.momentum ?? 0, { min: 0, max: 1, maxInclusive: false }),
      dampening: checkNumber(NAME, 'dampening', o.dampening ?? 0, { min: 0, max: 1 }),
      nesterov: checkBoolean(NAME, 'nesterov', o.nesterov ?? false),
      weightDecay: checkNumber(NAME, 'weightDecay', o.weightDecay ?? 0, nonNegative),
    };
    decayedLearningRate(NAME, 'learningRate', r.learningRate, 'weightDecay', r.weightDecay);
    if (r.nesterov && (r.momentum <= 0 || r.dampening !== 0)) {
      throw new RangeError(
        `${NAME}: nesterov needs momentum > 0 and dampening = 0, got momentum ${r.momentum}, dampening ${r.dampening}`,
      );
    }
    return r;
  },
  build(r) {
    return chain(
      addDecayedWeights(r.weightDecay),
      ...(r.momentum > 0 ? [trace({ momentum: r.momentum, dampening: r.dampening, nesterov: r.nesterov })] : []),
      scaleByLearningRate(decayedLearningRate(NAME, 'learningRate', r.learningRate, 'weightDecay', r.weightDecay)),
    );
  },
  toConfig: (r) => ({ ...r, learningRate: encodeLearningRate(r.learningRate) }),
  fromConfig: (c) => ({ ...(c as SgdOptions), learningRate: decodeLearningRate(c.learningRate) }),
};

/**
 * SGD exactly as torch.optim.SGD (torch 1.13): `g ← g + λW`; `buf ← g` on the first step, then
 * `buf ← μ·buf + (1−dampening)·g`; direction `g + μ·buf` (Nesterov) or `buf`; `W ← W − η·direction`.
 * State: one momentum buffer per parameter when momentum > 0.
 *
 * @example
 * model.compile({ optimizer: sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true }), loss: 'meanSquaredError' });
 */
export const sgd = defineOptimizer(sgdDefinition);

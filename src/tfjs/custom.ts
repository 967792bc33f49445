/**
 * A user's own chain of transforms as a `tf.Optimizer`: {@link transformOptimizer}. The optimizer is the
 * same {@link TransformOptimizer} every recipe makes — one tidy per step, non-finite policy, global-norm
 * clipping, engine choice, `getWeights`/`setWeights`, checkpoints — around a chain the library did not
 * write.
 *
 * How a saved model finds the chain again: a chain is code, not data, so a save records only its name
 * (the class name `orthoptim.custom.<name>`) and the common options. The name is registered, like every
 * recipe's, with `tf.serialization.registerClass`; to load a model saved with a custom optimizer, the
 * loading program first calls `transformOptimizer(sameChain, {name})` (or
 * {@link defineTransformOptimizer}) under the same name, and `tf.loadLayersModel` then rebuilds the
 * optimizer from that chain. The restored state is matched to the chain's slots by path and shape, so a
 * different chain under the old name is refused when its state does not fit, saying which slot differs.
 * @module
 */
import type { GradientTransformation } from '../core/transform.js';
import { checkKnownKeys, showValue } from '../core/options.js';
import { commonKeys, resolveCommon, type CommonOptions, type OptimizerDefinition } from '../optimizers/definition.js';
import { defineOptimizer, registeredDefinitions, type OptimizerFactory } from './registry.js';
import type { TransformOptimizer } from './optimizer.js';

/** A chain, or a function that makes one (called once per optimizer made). */
export type ChainSource = GradientTransformation | (() => GradientTransformation);

/** Options of {@link transformOptimizer}: a name, and the options every optimizer accepts. */
export interface TransformOptimizerOptions extends CommonOptions {
  /**
   * Registry name: letters and digits, starting with a letter (`'myAdam'`). It names the optimizer in
   * errors, checkpoints and `createOptimizer(name)`, and the saved class `orthoptim.custom.<name>`.
   */
  readonly name: string;
  /** One line for `listOptimizers()` (default: `'custom chain'`). */
  readonly summary?: string;
}

/** The custom chains registered in this process: name → what was registered, and its factory. */
const customs = new Map<string, { source: ChainSource; factory: OptimizerFactory<object, object> }>();

const NAME = /^[A-Za-z][A-Za-z0-9]*$/;

function isTransformation(value: unknown): value is GradientTransformation {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as GradientTransformation).init === 'function' &&
    typeof (value as GradientTransformation).update === 'function'
  );
}

function build(owner: string, source: ChainSource): GradientTransformation {
  const t = typeof source === 'function' ? source() : source;
  if (!isTransformation(t)) {
    throw new TypeError(`${owner}: the chain factory must return a gradient transformation ({init, update}), got ${showValue(t)}`);
  }
  return t;
}

/**
 * Registers a chain under `name` and returns its factory: `factory(commonOptions)` makes an optimizer,
 * `createOptimizer(name)` and `tf.loadLayersModel` find it. Registering the same `source` again under
 * the same name returns the same factory; another source under a taken name (a built-in optimizer's,
 * or another chain's) is a `RangeError`, as is a malformed name. Nothing is registered before an error.
 */
export function defineTransformOptimizer(name: string, source: ChainSource, summary = 'custom chain'): OptimizerFactory<object, object> {
  return register('defineTransformOptimizer', name, source, summary);
}

function register(owner: string, name: string, source: ChainSource, summary = 'custom chain'): OptimizerFactory<object, object> {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new RangeError(`${owner}: name must be letters and digits starting with a letter (e.g. 'myAdam'), got ${showValue(name)}`);
  }
  if (typeof source !== 'function' && !isTransformation(source)) {
    throw new TypeError(
      `${owner}: '${name}': the chain must be a gradient transformation ({init, update}) or a function returning one, got ${showValue(source)}`,
    );
  }
  if (typeof summary !== 'string') throw new TypeError(`${owner}: '${name}': summary must be a string, got ${showValue(summary)}`);
  const known = customs.get(name);
  if (known !== undefined) {
    if (known.source === source) return known.factory;
    throw new RangeError(
      `${owner}: the name '${name}' is already registered for another chain; register each chain once ` +
        `(keep its factory or pass the same chain object) or choose another name`,
    );
  }
  if (registeredDefinitions.find(name) !== undefined) {
    throw new RangeError(`${owner}: the name '${name}' is a built-in optimizer's; choose another name`);
  }
  if (typeof source !== 'function') build(owner, source);
  const definition: OptimizerDefinition<object, object> = {
    name,
    className: `orthoptim.custom.${name}`,
    summary,
    paper: '',
    reference: '',
    keys: [],
    resolve: () => ({}),
    build: () => build(name, source),
    toConfig: () => ({}),
    fromConfig: () => ({}),
  };
  const factory = defineOptimizer(definition);
  customs.set(name, { source, factory });
  return factory;
}

/**
 * Any chain of transforms as a `tf.Optimizer` for `model.compile`, `optimizer.minimize` or
 * `applyGradients`, with the common options `nonFinite` and `clipGlobalNorm` (the Newton–Schulz engine is chosen in the
 * chain's own settings: `resolveNewtonSchulz({engine})`). The chain's
 * updates are added to the parameters: end a descent chain with `scaleByLearningRate`. The first call
 * with a name registers the chain under it ({@link defineTransformOptimizer}); later calls with the same
 * chain make more optimizers of it, and another chain under the same name is a `RangeError`.
 * @example
 * const opt = transformOptimizer(chain(scaleByAdam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad: false }), scaleByLearningRate(constant(1e-3))), { name: 'myAdam' });
 * model.compile({ optimizer: opt, loss: 'meanSquaredError' });
 */
export function transformOptimizer(source: ChainSource, options: TransformOptimizerOptions): TransformOptimizer {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`transformOptimizer: options must be an object with a name, got ${showValue(options)}`);
  }
  checkKnownKeys('transformOptimizer', options, ['name', 'summary', ...commonKeys]);
  const { name, summary, ...common } = options;
  // The common options are checked before the name is registered: a refused call registers nothing.
  const resolved = resolveCommon(`transformOptimizer '${String(name)}'`, common);
  if (resolved.engine !== null) {
    // A recipe's engine is written into the Newton–Schulz settings it builds its chain from; a user's
    // chain is built already, so its engine is chosen where its Newton–Schulz settings are made.
    throw new RangeError(
      `transformOptimizer '${String(name)}': engine cannot be set on a built chain, got '${resolved.engine}'; ` +
        `pass it to the chain's Newton–Schulz settings (e.g. orthogonalize(resolveNewtonSchulz({ engine: '${resolved.engine}' })))`,
    );
  }
  return register('transformOptimizer', name, source, summary)(common);
}

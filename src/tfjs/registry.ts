/**
 * The registry of named optimizers: each definition becomes a `tf.Optimizer` subclass registered with
 * `tf.serialization.registerClass` (so `tf.loadLayersModel` can rebuild it from a saved model), a factory
 * function (`muon(options)`), and an entry for `createOptimizer(name, options)` / `listOptimizers()`.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { CommonOptions, OptimizerDefinition } from '../optimizers/definition.js';
import { TransformOptimizer } from './optimizer.js';

/** A factory for one optimizer: `muon({learningRate: 0.02})`. */
export interface OptimizerFactory<O extends object, R extends object> {
  (options?: O & CommonOptions): TransformOptimizer<O, R>;
  /** The definition behind it. */
  readonly definition: OptimizerDefinition<O, R>;
  /** The registered `tf.Optimizer` subclass. */
  readonly optimizerClass: new (options?: O & CommonOptions) => TransformOptimizer<O, R>;
}

/** What `listOptimizers()` tells about each optimizer. */
export interface OptimizerInfo {
  readonly name: string;
  readonly className: string;
  readonly summary: string;
  readonly paper: string;
  readonly reference: string;
  /** The option names it accepts besides the common ones (`nonFinite`, `clipGlobalNorm`, `engine`). */
  readonly options: readonly string[];
}

const registry = new Map<string, OptimizerFactory<object, object>>();

/** Turns a definition into a registered optimizer class and factory. */
export function defineOptimizer<O extends object, R extends object>(
  definition: OptimizerDefinition<O, R>,
): OptimizerFactory<O, R> {
  const Named = class extends TransformOptimizer<O, R> {
    /** @nocollapse */
    static get className(): string {
      return definition.className;
    }

    constructor(options?: O & CommonOptions) {
      super(definition, options ?? ({} as O & CommonOptions));
    }

    static override fromConfig<T extends tf.serialization.Serializable>(
      cls: tf.serialization.SerializableConstructor<T>,
      config: tf.serialization.ConfigDict,
    ): T {
      const c = { ...(config) };
      delete c.customObjects;
      const common: CommonOptions = {
        nonFinite: (c.nonFinite as CommonOptions['nonFinite']) ?? undefined,
        clipGlobalNorm: (c.clipGlobalNorm as number | null) ?? null,
        engine: (c.engine as CommonOptions['engine']) ?? null,
      };
      delete c.nonFinite;
      delete c.clipGlobalNorm;
      delete c.engine;
      return new cls({ ...definition.fromConfig(c), ...common });
    }
  };
  tf.serialization.registerClass(Named);
  const factory = Object.assign((options?: O & CommonOptions) => new Named(options), {
    definition,
    optimizerClass: Named,
  });
  registry.set(definition.name, factory as unknown as OptimizerFactory<object, object>);
  return factory;
}

/**
 * Makes an optimizer by its registry name, e.g. `createOptimizer('muon', {learningRate: 0.02})`.
 * Names are case-sensitive camelCase as listed by {@link listOptimizers}.
 */
export function createOptimizer(name: string, options: object = {}): TransformOptimizer {
  const factory = registry.get(name);
  if (factory === undefined) {
    throw new RangeError(`createOptimizer: unknown optimizer '${name}' (known: ${[...registry.keys()].join(', ')})`);
  }
  return factory(options);
}

/**
 * Makes an optimizer from a saved config (what `getConfig()` returns: schedules as specs, name patterns
 * as `{name}` objects), the way `tf.loadLayersModel` does.
 */
export function optimizerFromConfig(name: string, config: object): TransformOptimizer {
  const factory = registry.get(name);
  if (factory === undefined) {
    throw new RangeError(`optimizerFromConfig: unknown optimizer '${name}' (known: ${[...registry.keys()].join(', ')})`);
  }
  const cls = factory.optimizerClass as unknown as tf.serialization.SerializableConstructor<TransformOptimizer> & {
    fromConfig: typeof TransformOptimizer.fromConfig;
  };
  return cls.fromConfig(cls, config as tf.serialization.ConfigDict);
}

/** The registered definitions by name: how a wrapper (`lookahead`, `accumulate`, …) finds its inner optimizer. */
export const registeredDefinitions = {
  find: (name: string): OptimizerDefinition | undefined => registry.get(name)?.definition,
  names: (): string[] => [...registry.keys()],
};

/** Every registered optimizer, in registration order. */
export function listOptimizers(): OptimizerInfo[] {
  return [...registry.values()].map(({ definition: d }) => ({
    name: d.name,
    className: d.className,
    summary: d.summary,
    paper: d.paper,
    reference: d.reference,
    options: [...d.keys],
  }));
}

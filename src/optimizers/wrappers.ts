/**
 * Wrappers over any named optimizer: lookahead, gradient accumulation, cautious masking and iterate
 * averaging (polynomial decay or debiased EMA). Each is a named optimizer of its own whose options
 * name the inner one — `{inner: 'adamw', innerOptions: {learningRate: 3e-4}, k: 5, alpha: 0.5}` —
 * so the config (with the inner optimizer's config nested in it) survives `model.save` and reload,
 * and the inner state sits in the wrapper's state (under `inner`), in checkpoints with it.
 * @module
 */
import { chain, type GradientTransformation } from '../core/transform.js';
import { checkKnownKeys, showValue } from '../core/options.js';
import {
  choice,
  decodeSchema,
  derived,
  option,
  integer,
  nonNegative,
  number,
  unit,
  type Option,
  type OptionsOf,
  type ResolvedOf,
  type Schema,
} from '../core/schema.js';
import { cautious } from '../transforms/cautious.js';
import { scale } from '../transforms/stepsize.js';
import {
  accumulate,
  averageIterates,
  debiasedEmaWeight,
  lookahead,
  polynomialDecayWeight,
} from '../transforms/wrappers.js';
import { recipe, type OptimizerDefinition, type RecipeSpec } from './definition.js';

/** How a wrapper finds the optimizer it wraps by name (the registry, `tfjs/registry.ts`, provides it). */
export interface DefinitionLookup {
  find(name: string): OptimizerDefinition | undefined;
  names(): readonly string[];
}

/** An orthoptim optimizer given as `inner` (e.g. `adamw({learningRate: 3e-4})`): its definition and options. */
export interface InnerOptimizer {
  readonly definition: OptimizerDefinition;
  readonly resolved: object;
  /** Its common options: they belong on the wrapper, so the inner one must keep the defaults. */
  readonly common?: { readonly nonFinite: string; readonly clipGlobalNorm: number | null; readonly engine: string | null };
}

/** The resolved inner optimizer. */
export interface ResolvedInner {
  readonly name: string;
  readonly definition: OptimizerDefinition;
  readonly resolved: object;
}

function isInnerOptimizer(value: unknown): value is InnerOptimizer {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as InnerOptimizer).definition?.name === 'string' &&
    typeof (value as InnerOptimizer).resolved === 'object'
  );
}

/** Resolves `inner` / `innerOptions`; errors name the wrapper, the option and the inner optimizer. */
export function resolveInner(owner: string, inner: unknown, innerOptions: unknown, lookup: DefinitionLookup): ResolvedInner {
  if (isInnerOptimizer(inner)) {
    if (innerOptions !== undefined && innerOptions !== null) {
      throw new RangeError(`${owner}: innerOptions must not be given with an optimizer as inner (its options are its own)`);
    }
    const { definition, common } = inner;
    if (lookup.find(definition.name) !== definition) {
      throw new RangeError(`${owner}: inner must be a registered optimizer (known: ${lookup.names().join(', ')}), got '${definition.name}'`);
    }
    if (common && (common.clipGlobalNorm !== null || common.nonFinite !== 'throw' || common.engine !== null)) {
      throw new RangeError(
        `${owner}: the inner ${definition.name} has nonFinite/clipGlobalNorm/engine set; give them to ${owner} instead, ` +
          `got ${showValue({ nonFinite: common.nonFinite, clipGlobalNorm: common.clipGlobalNorm, engine: common.engine })}`,
      );
    }
    return { name: definition.name, definition, resolved: inner.resolved };
  }
  const name = inner ?? 'adamw';
  const definition = typeof name === 'string' ? lookup.find(name) : undefined;
  if (definition === undefined) {
    throw new RangeError(
      `${owner}: inner must be the name of a registered optimizer or an orthoptim optimizer (known: ${lookup.names().join(', ')}), got ${showValue(name)}`,
    );
  }
  const o = innerOptions ?? {};
  if (typeof o !== 'object' || Array.isArray(o)) {
    throw new RangeError(`${owner}: innerOptions must be an object of ${definition.name}'s options, got ${showValue(o)}`);
  }
  const where = `${owner}: innerOptions: ${definition.name}`;
  checkKnownKeys(where, o, definition.keys, definition.renamed);
  try {
    return { name: definition.name, definition, resolved: definition.resolve(o) };
  } catch (e) {
    if (e instanceof RangeError) throw new RangeError(`${owner}: innerOptions: ${e.message}`, { cause: e });
    throw e;
  }
}

/** What a wrapper file declares: who it is, its own option schema, and how it wraps the inner chain. */
export interface WrapperSpec<S extends Schema> extends Pick<RecipeSpec<S>, 'name' | 'className' | 'summary' | 'paper' | 'reference' | 'schema'> {
  build(inner: GradientTransformation, resolved: ResolvedOf<S>): GradientTransformation;
}

/**
 * The schema entries every wrapper starts with: `inner`, `innerOptions` (checked by the derived
 * `innerRecipe`, which also writes both into the config: the name, and the inner optimizer's own config).
 */
function innerEntries(lookup: DefinitionLookup) {
  return {
    /** The optimizer wrapped: a registered name (default `'adamw'`) or an orthoptim optimizer (`adamw({...})`). */
    inner: option<string | InnerOptimizer>('adamw', (_owner, _key, v) => v as string | InnerOptimizer, { encode: () => undefined }),
    /** The inner optimizer's options, when `inner` is a name (default: its defaults). */
    innerOptions: {
      entry: 'option',
      resolve: (v: unknown) => v as object | undefined,
      encode: () => undefined,
    } as Option<object | undefined, object>,
    innerRecipe: derived<ResolvedInner>(
      (r, owner) => resolveInner(owner, r.inner, r.innerOptions, lookup),
      (inner, params) => ({ inner: inner.name, innerOptions: inner.definition.toConfig(inner.resolved, params) }),
    ),
  };
}

/** The full schema of a wrapper: `inner`, `innerOptions`, `innerRecipe`, then its own entries. */
export type WrapperSchema<S extends Schema> = ReturnType<typeof innerEntries> & S;

/** A wrapper's definition, with its schema. */
export type WrapperDefinition<S extends Schema> = OptimizerDefinition<OptionsOf<WrapperSchema<S>>, ResolvedOf<WrapperSchema<S>>> & {
  readonly schema: WrapperSchema<S>;
};

/**
 * The definition of a wrapper: options, defaults and validation from its schema, the inner optimizer
 * found by name through `lookup` when the options resolve (so every registered optimizer can be
 * wrapped, wrappers included). The config holds the wrapper's options, `inner` (the name) and
 * `innerOptions` (the inner optimizer's own config, decoded by the inner definition on reload).
 */
export function wrapperRecipe<S extends Schema>(spec: WrapperSpec<S>, lookup: DefinitionLookup): WrapperDefinition<S> {
  const schema = { ...innerEntries(lookup), ...spec.schema } as WrapperSchema<S>;
  const base = recipe({
    ...spec,
    schema,
    build(r) {
      const inner = (r as { readonly innerRecipe: ResolvedInner }).innerRecipe;
      return spec.build(inner.definition.build(inner.resolved), r as unknown as ResolvedOf<S>);
    },
  });
  return {
    ...base,
    fromConfig(config) {
      const { inner, innerOptions, ...rest } = config;
      const definition = typeof inner === 'string' ? lookup.find(inner) : undefined;
      const decoded =
        definition !== undefined && innerOptions !== null && typeof innerOptions === 'object' && !Array.isArray(innerOptions)
          ? definition.fromConfig(innerOptions)
          : innerOptions;
      return { ...decodeSchema(schema, rest), inner, innerOptions: decoded } as OptionsOf<WrapperSchema<S>>;
    },
  };
}

// ------------------------------------------------------------------------------------------ wrappers

const lookaheadSchema = {
  /** Synchronization period k, an integer ≥ 1: the slow weights move after every k inner steps (default 5, the paper's). */
  k: integer(5, 1),
  /** Slow step size α in (0, 1]: `φ ← φ + α·(θ − φ)` (default 0.5, the paper's). */
  alpha: number(0.5, { min: 0, max: 1, minInclusive: false }),
};

/**
 * Lookahead over any optimizer (Zhang, Lucas, Hinton, Ba, "Lookahead Optimizer: k steps forward, 1
 * step back", NeurIPS 2019, arXiv 1907.08610; optax `lookahead`): see `transforms/wrappers.ts`.
 */
export function lookaheadDefinition(lookup: DefinitionLookup) {
  return wrapperRecipe(
    {
      name: 'lookahead',
      className: 'orthoptim.Lookahead',
      summary: 'Lookahead over any optimizer: k fast steps, then the slow weights move α of the way and the fast ones restart there',
      paper: 'Zhang, Lucas, Hinton, Ba, "Lookahead Optimizer: k steps forward, 1 step back" (NeurIPS 2019, arXiv 1907.08610)',
      reference: 'google-deepmind/optax:optax/_src/lookahead.py#lookahead',
      schema: lookaheadSchema,
      build: (inner, r) => lookahead(inner, { k: r.k, alpha: r.alpha }),
    },
    lookup,
  );
}

const accumulateSchema = {
  /** The inner optimizer steps once every `every` calls (an integer ≥ 1), on the mean of their gradients (default 2). */
  every: integer(2, 1),
};

/** Gradient accumulation over any optimizer (optax `MultiSteps`): see `transforms/wrappers.ts`. */
export function accumulateDefinition(lookup: DefinitionLookup) {
  return wrapperRecipe(
    {
      name: 'accumulate',
      className: 'orthoptim.Accumulate',
      summary: 'Gradient accumulation over any optimizer: one inner step every k calls, on the mean gradient',
      paper: 'gradient accumulation, as optax MultiSteps (no paper)',
      reference: 'google-deepmind/optax:optax/_src/wrappers.py#MultiSteps',
      schema: accumulateSchema,
      build: (inner, r) => accumulate(inner, { every: r.every }),
    },
    lookup,
  );
}

const cautiousSchema = {
  /** In the rescaling `n/(Σφ + ε)`, ≥ 0 (default 1, the paper code's; optax uses 1e-8). */
  epsilon: nonNegative(1),
};

/**
 * Cautious masking of any optimizer's whole update (Liang, Chen, Liu, Liu, "Cautious Optimizers",
 * arXiv 2411.16085; kyleliang919/C-Optim): where the update `u` (added to the weights) does not descend
 * along the gradient (`−u ⊙ g ≤ 0`) it is dropped, and the rest is rescaled by `n/(Σφ + ε)` per
 * tensor — `cautious()` of `transforms/cautious.ts` on the negated update. Unlike C-Optim, which masks
 * Adam's direction and then applies decoupled decay, the inner optimizer's weight decay is masked too;
 * for decay outside the mask, compose `cautious()` into a chain yourself.
 */
export function cautiousDefinition(lookup: DefinitionLookup) {
  return wrapperRecipe(
    {
      name: 'cautious',
      className: 'orthoptim.Cautious',
      summary: 'Cautious masking over any optimizer: update coordinates that disagree with the gradient are dropped',
      paper: 'Liang, Chen, Liu, Liu, "Cautious Optimizers: Improving Training with One Line of Code" (arXiv 2411.16085)',
      reference: 'kyleliang919/C-Optim:c_adamw.py#AdamW',
      schema: cautiousSchema,
      // cautious() takes a direction (descent when subtracted): the inner update negated, and back.
      build: (inner, r) => chain(cautious(chain(inner, scale(-1)), { epsilon: r.epsilon }), scale(-1)),
    },
    lookup,
  );
}

const averagedSchema = {
  /** `'polynomial'` (default: polynomial-decay averaging, DoG's) or `'ema'` (debiased exponential moving average). */
  average: choice(['polynomial', 'ema'] as const, 'polynomial'),
  /** γ ≥ 0 of polynomial-decay averaging, `cₜ = (γ+1)/(t+γ)` (default 8, formll/dog's; 0: the running mean). */
  gamma: nonNegative(8),
  /** Decay d in [0, 1) of the EMA, `cₜ = (1−d)/(1−dᵗ)` (default 0.999). */
  decay: unit(0.999),
};

/**
 * Iterate averaging over any optimizer: trains as the inner optimizer, and keeps in its state the
 * polynomial-decay average (formll/dog `averager.py`, γ = 8) or the debiased EMA (optax `ema`) of the
 * weights after each step, for evaluation through `withAveragedWeights(optimizer, fn)`.
 */
export function averagedDefinition(lookup: DefinitionLookup) {
  return wrapperRecipe(
    {
      name: 'averaged',
      className: 'orthoptim.Averaged',
      summary: 'Iterate averaging over any optimizer: polynomial-decay (γ = 8) or debiased EMA weights for evaluation',
      paper: 'Shamir & Zhang, "Stochastic Gradient Descent for Non-smooth Optimization" (ICML 2013); Ivgi, Hinder, Carmon, "DoG is SGD\'s Best Friend" (ICML 2023)',
      reference: 'formll/dog@8d45cf56:src/dog/averager.py#PolynomialDecayAverager; google-deepmind/optax:optax/_src/transform.py#ema',
      schema: averagedSchema,
      build: (inner, r) =>
        averageIterates(inner, r.average === 'polynomial' ? polynomialDecayWeight(r.gamma) : debiasedEmaWeight(r.decay)),
    },
    lookup,
  );
}

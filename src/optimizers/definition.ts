/**
 * What a named optimizer is: a recipe (options → chain of transforms) with its defaults, validation and
 * a config encoding that survives a tfjs-layers save/reload. The TensorFlow.js face
 * (`tfjs/optimizer.ts`) turns a definition into a registered `tf.Optimizer` subclass.
 * @module
 */
import type { GradientTransformation, ParamMeta } from '../core/transform.js';
import type { EngineChoice } from '../engines/engine.js';
import { checkChoice, checkNumber, nonNegative, positive, showValue } from '../core/options.js';
import {
  asSchedule,
  scheduleFromSpec,
  type LearningRate,
  type LearningRateBound,
  type Schedule,
  type ScheduleSpec,
} from '../schedules/index.js';
import {
  resolveNewtonSchulz,
  type NewtonSchulzOptions,
  type ResolvedNewtonSchulz,
} from '../linalg/newtonSchulz.js';

/** A JSON value in an optimizer config. */
export type ConfigValue = number | boolean | string | null | ConfigValue[] | { [key: string]: ConfigValue };
/** An optimizer config: flat camelCase keys, JSON values. */
export type OptimizerConfig = { [key: string]: ConfigValue };

/** What to do with a NaN or ±Inf in a gradient. */
export type NonFinitePolicy = 'throw' | 'skip' | 'ignore';

/** Options every orthoptim optimizer accepts, besides its own. */
export interface CommonOptions {
  /**
   * A NaN or ±Inf in any gradient: `'throw'` (default) raises an error before any parameter or state is
   * written; `'skip'` leaves everything untouched, counts the step in `skippedSteps` and goes on;
   * `'ignore'` does not check (saves one device read-back per step).
   */
  readonly nonFinite?: NonFinitePolicy;
  /** Clip the gradients to this global L2 norm before everything else (`null`: no clipping). */
  readonly clipGlobalNorm?: number | null;
  /**
   * Engine of this optimizer's Newton–Schulz iterations: `'tfjs'`, `'workers'`, `'onnxruntime'` (Node, CPU
   * backends, after importing `orthoptim/engines`) or `'auto'`. `null` (default): the global default.
   */
  readonly engine?: EngineChoice | null;
}

/** Resolved common options. */
export interface ResolvedCommon {
  readonly nonFinite: NonFinitePolicy;
  readonly clipGlobalNorm: number | null;
  readonly engine: EngineChoice | null;
}

/** The keys of {@link CommonOptions}. */
export const commonKeys = ['nonFinite', 'clipGlobalNorm', 'engine'] as const;

/** Validates the common options. */
export function resolveCommon(name: string, o: CommonOptions): ResolvedCommon {
  const nonFinite = checkChoice(name, 'nonFinite', o.nonFinite ?? 'throw', ['throw', 'skip', 'ignore'] as const);
  const clip = o.clipGlobalNorm ?? null;
  if (clip !== null) checkNumber(name, 'clipGlobalNorm', clip, positive);
  const engine = o.engine ?? null;
  if (engine !== null) checkChoice(name, 'engine', engine, ['tfjs', 'workers', 'onnxruntime', 'auto'] as const);
  return { nonFinite, clipGlobalNorm: clip, engine };
}

/**
 * A named optimizer. `O` is its options object (all optional for the user), `R` the resolved form with
 * every default filled in.
 */
export interface OptimizerDefinition<O extends object = object, R extends object = object> {
  /** Registry name (`createOptimizer(name)`), e.g. `'muon'`. */
  readonly name: string;
  /** Serialization class name written into saved models, e.g. `'orthoptim.Muon'`. */
  readonly className: string;
  /** One line: what it is. */
  readonly summary: string;
  /** Paper (title, arXiv id). */
  readonly paper: string;
  /** Reference code followed (`repo:path#symbol`). */
  readonly reference: string;
  /** Keys of `O` (unknown keys are rejected). */
  readonly keys: readonly string[];
  /** Fills in defaults and validates; throws `RangeError` naming the optimizer and the option. */
  resolve(options: O): R;
  /** The chain of transforms. */
  build(resolved: R): GradientTransformation;
  /**
   * A JSON config that survives tfjs-layers' camelCasing of string values. `params` (known after the first
   * step) lets a recipe record what a non-serializable option (a predicate) resolved to.
   */
  toConfig(resolved: R, params: readonly ParamMeta[] | null): OptimizerConfig;
  /** Options from a config written by `toConfig` (after a reload). */
  fromConfig(config: OptimizerConfig): O;
}

/** Encodes a learning rate: a number stays a number, a schedule becomes its spec. */
export function encodeLearningRate(lr: LearningRate): ConfigValue {
  return typeof lr === 'number' ? lr : (lr.spec);
}

/** Decodes {@link encodeLearningRate}. */
export function decodeLearningRate(value: ConfigValue | undefined): LearningRate | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') return value;
  return scheduleFromSpec(value as unknown as ScheduleSpec);
}

/**
 * A name pattern: a string matches as a substring of the variable name, a RegExp by `test`.
 * Substring matching keeps working after a same-process reload renames `kernel` to `kernel_1`.
 */
export type NamePattern = string | RegExp;

/** Whether a name matches any pattern. */
export function matchesAny(name: string, patterns: readonly NamePattern[]): boolean {
  return patterns.some((p) => (typeof p === 'string' ? name.includes(p) : p.test(name)));
}

/**
 * Encodes patterns as `{name: …}` objects: tfjs-layers camelCases every string in a reloaded config
 * except the value of a `name` key, and variable names contain underscores.
 */
export function encodePatterns(patterns: readonly NamePattern[]): ConfigValue {
  return patterns.map((p): ConfigValue =>
    typeof p === 'string' ? { name: p } : { name: p.source, flags: p.flags, regex: true },
  );
}

/** Decodes {@link encodePatterns}. */
export function decodePatterns(value: ConfigValue | undefined): NamePattern[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.map((v) => {
    const o = v as { name: string; flags?: string; regex?: boolean };
    return o.regex ? new RegExp(o.name, o.flags ?? '') : o.name;
  });
}

/** A probability-like option in [0, 1). */
export function checkUnit(owner: string, option: string, v: number): number {
  return checkNumber(owner, option, v, { min: 0, max: 1, maxInclusive: false });
}

/**
 * The bound weight decay λ puts on the learning rate η that multiplies it: `η·λ ≤ 1`, no more decay in
 * one step than the weights themselves. Decoupled decay (`W ← W − η(u + λW)`: AdamW and every
 * orthogonalized recipe) and torch SGD's L2 term multiply the weights by `1 − η·λ` each step, which flips
 * their sign past 1 and blows them up past 2; Adam's L2 term `g + λW` overflows float32's second moment
 * long before (λ = 1e30 gave NaN weights in five steps in every one of them, with no error). No reference
 * trains anywhere near it. Checked when the optimizer is made (over a schedule's whole range) and at
 * every step of a foreign schedule; `undefined` (no bound) when λ = 0.
 */
export function decayBound(lrOption: string, decayOption: string, weightDecay: number): LearningRateBound | undefined {
  if (!(weightDecay > 0)) return undefined;
  return {
    max: 1 / weightDecay,
    explain: (value) =>
      `${lrOption} × ${decayOption} must be at most 1 (no more decay in one step than the weights themselves), ` +
      `got ${lrOption} ${value} × ${decayOption} ${weightDecay}`,
  };
}

/**
 * A recipe's learning rate as a schedule, bounded by the weight decay it multiplies (see
 * {@link decayBound}); every error names `owner` and the options as the user wrote them. Call it in
 * `resolve` (to fail when the optimizer is made) and in `build` (for the schedule).
 */
export function decayedLearningRate(
  owner: string,
  lrOption: string,
  lr: LearningRate,
  decayOption: string,
  weightDecay: number,
): Schedule {
  return asSchedule(lr, owner, lrOption, decayBound(lrOption, decayOption, weightDecay));
}

/** A recipe's Newton–Schulz options, as the user wrote them. */
export interface RecipeNewtonSchulzOptions {
  readonly coefficients: unknown;
  readonly nsSteps?: unknown;
  readonly nsEpsilon?: unknown;
}

/**
 * {@link resolveNewtonSchulz} for a recipe: first checks `coefficients` (a preset name or a list of rows),
 * `nsSteps` (an integer in [0, 100], as resolveNewtonSchulz allows) and `nsEpsilon` (≥ 0) under the names
 * the recipe gives them (`names`; dion2's epsilon is its NS epsilon), so that the error says `nsSteps`
 * where resolveNewtonSchulz would say `steps`. `null` or `undefined` means the table's default.
 * `extra` passes the other NS options (precondition, form, …).
 */
export function resolveRecipeNewtonSchulz(
  owner: string,
  o: RecipeNewtonSchulzOptions,
  extra: Omit<NewtonSchulzOptions, 'coefficients' | 'steps' | 'eps'> = {},
  names: { readonly nsSteps?: string; readonly nsEpsilon?: string } = {},
): ResolvedNewtonSchulz {
  const c = o.coefficients;
  if (typeof c !== 'string' && !Array.isArray(c)) {
    throw new RangeError(
      `${owner}: coefficients must be a preset name ('jordan', 'you', 'polarExpress5', …) or a list of [a, b, c] rows, ` +
        `got ${showValue(c)}`,
    );
  }
  const steps =
    o.nsSteps === undefined || o.nsSteps === null
      ? undefined
      : checkNumber(owner, names.nsSteps ?? 'nsSteps', o.nsSteps, { min: 0, max: 100, integer: true });
  const eps =
    o.nsEpsilon === undefined || o.nsEpsilon === null
      ? undefined
      : checkNumber(owner, names.nsEpsilon ?? 'nsEpsilon', o.nsEpsilon, nonNegative);
  return resolveNewtonSchulz({ ...extra, coefficients: c as NewtonSchulzOptions['coefficients'], steps, eps }, owner);
}

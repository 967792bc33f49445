/**
 * What a named optimizer is: a recipe (options → chain of transforms) with its defaults, validation and
 * a config encoding that survives a tfjs-layers save/reload. The TensorFlow.js face
 * (`tfjs/optimizer.ts`) turns a definition into a registered `tf.Optimizer` subclass.
 * @module
 */
import type { GradientTransformation, ParamMeta } from '../core/transform.js';
import type { EngineChoice } from '../linalg/engine.js';
import { checkChoice, checkKnownKeys, checkNumber, nonNegative, positive, showValue } from '../core/options.js';
import {
  decodeSchema,
  derived,
  encodeSchema,
  choice,
  resolveSchema,
  schemaKeys,
  type ConfigValue,
  type Derived,
  type Option,
  type OptimizerConfig,
  type OptionsOf,
  type ResolvedOf,
  type Schema,
} from '../core/schema.js';
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
  type NewtonSchulzForm,
  type NewtonSchulzOptions,
  type ResolvedNewtonSchulz,
} from '../linalg/newtonSchulz.js';
import type { CoefficientPreset, QuinticCoefficients } from '../linalg/coefficients.js';
import type { ShapeRule } from '../transforms/orthogonalize.js';

export type { ConfigValue, OptimizerConfig } from '../core/schema.js';

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
  /** Options from a config written by `toConfig` (after a reload), or by an older version. */
  fromConfig(config: OptimizerConfig): O;
  /** Old option names → new ones: passing an old name is a `RangeError` that names the new one. */
  readonly renamed?: Readonly<Record<string, string>>;
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
  /** `form` of the iteration (`'auto'`, `'standard'`, `'gram'`; `null`/absent: `'auto'`). */
  readonly nsForm?: unknown;
}

/** The values of a recipe's `nsForm` option, in the order error messages list them. */
export const nsForms: readonly NewtonSchulzForm[] = ['auto', 'standard', 'gram'];

/**
 * {@link resolveNewtonSchulz} for a recipe: first checks `coefficients` (a preset name or a list of rows),
 * `nsSteps` (an integer in [0, 100], as resolveNewtonSchulz allows) and `nsEpsilon` (≥ 0) under the names
 * the recipe gives them (`names`; dion2's epsilon is its NS epsilon), so that the error says `nsSteps`
 * where resolveNewtonSchulz would say `steps`. `null` or `undefined` means the table's default.
 * `nsForm` is the iteration's `form` (default `'auto'`); `'gram'` with an AOL table (Turbo-Muon) is
 * refused under that name (tfjs's Gram form is Frobenius-only; `'auto'` runs AOL in onnxruntime's Gram
 * graph). `extra` passes the other NS options (precondition, …).
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
  const form = o.nsForm === undefined || o.nsForm === null ? undefined : checkChoice(owner, 'nsForm', o.nsForm, nsForms);
  const options: NewtonSchulzOptions = { ...extra, coefficients: c as NewtonSchulzOptions['coefficients'], steps, eps };
  if (form === 'gram') {
    const standard = resolveNewtonSchulz({ ...options, form: 'standard' }, owner);
    if (standard.precondition === 'aol') {
      throw new RangeError(
        `${owner}: nsForm 'gram' needs the Frobenius normalization, not AOL preconditioning; nsForm 'auto' runs AOL in ` +
          `onnxruntime's Gram form where it is cheaper`,
      );
    }
  }
  return resolveNewtonSchulz(form === undefined ? options : { ...options, form }, owner);
}

// ------------------------------------------------------------------------------------------ recipes

/** What a recipe file declares: who it is, its option schema, and the chain its resolved options build. */
export interface RecipeSpec<S extends Schema> {
  readonly name: string;
  readonly className: string;
  readonly summary: string;
  readonly paper: string;
  readonly reference: string;
  /** Every option, declared once (see `core/schema.ts`). */
  readonly schema: S;
  /** Checks across options, after every entry resolved; throws `RangeError` naming the options. */
  check?(resolved: ResolvedOf<S>): void;
  /** The chain of transforms (pure: no tfjs-layers, no registration). */
  build(resolved: ResolvedOf<S>): GradientTransformation;
  /** Old option names → new ones (refused with the new name). */
  readonly renamed?: Readonly<Record<string, string>>;
  /**
   * Config version written as `configVersion` when above 1 (a key whose meaning changed); `legacy` gets
   * configs of older versions (and of this one) with the version they were written at (absent: 1).
   */
  readonly version?: number;
  /** Rewrites a config saved by an older orthoptim into this version's keys and values. */
  legacy?(config: OptimizerConfig, version: number): OptimizerConfig;
}

/** A recipe's definition, with its schema. */
export interface Recipe<S extends Schema> extends OptimizerDefinition<OptionsOf<S>, ResolvedOf<S>> {
  readonly schema: S;
}

/** The definition of a recipe: keys, validation, defaults and config encoding all from its schema. */
export function recipe<S extends Schema>(spec: RecipeSpec<S>): Recipe<S> {
  const { name, schema, version = 1 } = spec;
  return {
    name,
    className: spec.className,
    summary: spec.summary,
    paper: spec.paper,
    reference: spec.reference,
    schema,
    keys: schemaKeys(schema),
    renamed: spec.renamed ?? {},
    resolve(options) {
      const r = resolveSchema(name, schema, options);
      spec.check?.(r);
      return r;
    },
    build: (r) => spec.build(r),
    toConfig: (r, params) => ({
      ...encodeSchema(name, schema, r, params),
      ...(version > 1 ? { configVersion: version } : {}),
    }),
    fromConfig(config) {
      const { configVersion, ...rest } = config;
      const at = typeof configVersion === 'number' ? configVersion : 1;
      return decodeSchema(schema, spec.legacy ? spec.legacy(rest, at) : rest);
    },
  };
}

/**
 * The pure transform of a definition: `muonTransform(options)` validates the options as `muon(options)`
 * does (unknown keys, ranges) and returns the chain, with no tf.Optimizer around it.
 */
export function recipeTransform<O extends object, R extends object>(
  definition: OptimizerDefinition<O, R>,
): (options?: O) => GradientTransformation {
  return (options = {} as O) => {
    if (options === null || typeof options !== 'object') {
      throw new RangeError(`${definition.name}: options must be an object, got ${String(options)}`);
    }
    checkKnownKeys(definition.name, options, definition.keys, definition.renamed);
    return definition.build(definition.resolve(options));
  };
}

// -------------------------------------------------------------------------------- recipe option kinds

/** A default read from an entry resolved before (`{from: 'learningRate'}`: ROOT's AdamW shares ROOT's lr). */
export interface Inherited {
  readonly from: string;
}

/** A learning rate: a number ≥ 0 or a schedule; saved as the number or the schedule's spec. */
export function learningRate(def: LearningRate | Inherited): Option<LearningRate> {
  return {
    entry: 'option',
    resolve(value, ctx) {
      const lr = value !== undefined && value !== null ? value : typeof def === 'object' && 'from' in def ? ctx.resolved[def.from] : def;
      asSchedule(lr as LearningRate, ctx.owner, ctx.key);
      return lr as LearningRate;
    },
    encode: encodeLearningRate,
    decode: decodeLearningRate,
  };
}

/**
 * The schedule of a learning rate bounded by the weight decay it multiplies (see {@link decayBound});
 * errors name both options as the user wrote them.
 */
export function decayedSchedule(lrKey = 'learningRate', decayKey = 'weightDecay'): Derived<Schedule> {
  return derived((r, owner) => decayedLearningRate(owner, lrKey, r[lrKey] as LearningRate, decayKey, r[decayKey] as number));
}

/** Name patterns (strings match as substrings, RegExps by `test`); saved as `{name}` objects. */
export function patterns(): Option<readonly NamePattern[]> {
  return {
    entry: 'option',
    resolve(value, ctx) {
      const v = value ?? [];
      if (!Array.isArray(v) || !v.every((p) => typeof p === 'string' || p instanceof RegExp)) {
        throw new RangeError(`${ctx.owner}: ${ctx.key} must be a list of strings and RegExps, got ${JSON.stringify(v)}`);
      }
      return v as readonly NamePattern[];
    },
    encode: (v) => encodePatterns(v),
    decode: (c) => decodePatterns(c),
  };
}

/** The shape rules of `scaleByShape`, in the order error messages list them. */
export const shapeRules: readonly ShapeRule[] = ['jordan', 'moonlight', 'spectral', 'none'];

/** Newton–Schulz coefficients as the user writes them: a preset name or rows `[a, b, c]`. */
export type RecipeCoefficients = CoefficientPreset | readonly QuinticCoefficients[];

/** A pass-through option checked by a later derived entry (`newtonSchulz`), under its own name. */
function checkedLater<T>(def: T): Option<T, T> {
  return { entry: 'option', resolve: (v) => (v === undefined || v === null ? def : (v as T)) };
}

/** The Newton–Schulz table, checked when `ns` resolves. */
export function coefficients<C extends RecipeCoefficients | null = RecipeCoefficients>(def: C): Option<C | RecipeCoefficients> {
  return checkedLater<C | RecipeCoefficients>(def);
}

/** Newton–Schulz steps (`undefined`: the table's), checked when `ns` resolves. */
export function nsSteps(def?: number | ((r: Readonly<Record<string, unknown>>) => number)): Option<number | undefined, number> {
  return {
    entry: 'option',
    resolve: (v, ctx) => (v !== undefined && v !== null ? (v as number) : typeof def === 'function' ? def(ctx.resolved) : def),
  };
}

/** Newton–Schulz epsilon (`undefined`: the table's), checked when `ns` resolves. */
export function nsEpsilon(def?: number): Option<number | undefined, number> {
  return checkedLater<number | undefined>(def) as Option<number | undefined, number>;
}

/** The Newton–Schulz form (`'auto'` by default), checked when `ns` resolves. */
export function nsForm(def: NewtonSchulzForm = 'auto'): Option<NewtonSchulzForm> {
  return choice(nsForms, def);
}

/**
 * The resolved Newton–Schulz of `coefficients`, `nsSteps`, `nsEpsilon` and `nsForm` (see
 * {@link resolveRecipeNewtonSchulz}); the config records the table's steps and epsilon. `keys` renames
 * the epsilon (dion2's NS epsilon is its `epsilon`; it is not written then).
 */
export function newtonSchulz(
  extra: (r: Readonly<Record<string, unknown>>) => Omit<NewtonSchulzOptions, 'coefficients' | 'steps' | 'eps'> = () => ({}),
  keys: { readonly nsEpsilon?: string } = {},
): Derived<ResolvedNewtonSchulz> {
  const epsKey = keys.nsEpsilon ?? 'nsEpsilon';
  return derived(
    (r, owner) =>
      resolveRecipeNewtonSchulz(
        owner,
        { coefficients: r.coefficients, nsSteps: r.nsSteps, nsEpsilon: r[epsKey], nsForm: r.nsForm },
        extra(r),
        { nsEpsilon: epsKey },
      ),
    (ns): OptimizerConfig => (epsKey === 'nsEpsilon' ? { nsSteps: ns.steps, nsEpsilon: ns.eps } : { nsSteps: ns.steps }),
  );
}

/** The Newton–Schulz options of a recipe, with the recipe's defaults. */
export function newtonSchulzOptions(
  defaults: {
    readonly coefficients?: RecipeCoefficients;
    readonly nsSteps?: number | ((r: Readonly<Record<string, unknown>>) => number);
    readonly nsEpsilon?: number;
  } = {},
) {
  return {
    /**
     * Newton–Schulz coefficients: a preset — `'jordan'`, `'you'`, `'polarExpress5'`, `'polarExpress8'`,
     * `'turbo'` (AOL preconditioning + You's last four rows), `'root'` (ROOT's per-shape table) — or rows
     * `[[a, b, c], …]` (default: the method's, see its documentation; `'jordan'` for most).
     */
    coefficients: coefficients(defaults.coefficients ?? 'jordan'),
    /** Newton–Schulz steps, an integer in [0, 100] (default: the method's or the table's, 5 for Jordan). */
    nsSteps: nsSteps(defaults.nsSteps),
    /** Newton–Schulz normalization epsilon ≥ 0 (default: the method's or the table's, 1e-7 for Jordan). */
    nsEpsilon: nsEpsilon(defaults.nsEpsilon),
    /**
     * How Newton–Schulz is organized: `'auto'` (default) — Gram Newton–Schulz (Dao-AILab/gram-newton-schulz)
     * where the engine runs it (onnxruntime) and it does fewer flops (wide matrices: long side over 1.5× the
     * short one for 5 steps), the standard iteration elsewhere (always on the tfjs and workers engines);
     * `'standard'`; `'gram'` (every engine that has it, tfjs included; Frobenius normalization only).
     */
    nsForm: nsForm(),
    ns: newtonSchulz(),
  };
}

/**
 * How a method reads a conv kernel `[kh, kw, in, out]` where its reference reads the PyTorch tensor
 * `[out, in, kh, kw]` differently from a matrix: `'flattened'` — as its `[kh·kw·in, out]` matrix (the
 * default, this library's rule); `'torchKernel'` — as the reference reads the 4-D tensor (its quirk:
 * `kh/kw` as fan-out/fan-in, statistics over `kw`, `kh×kw` matrices …, see each method), for exact replays.
 */
export type ConvScaleChoice = 'flattened' | 'torchKernel';

/** The {@link ConvScaleChoice} option (default `'flattened'`); 0.1.0's `'kernel'` / `'spatial'` are refused. */
export function convScale(): Option<ConvScaleChoice> {
  return {
    entry: 'option',
    resolve(value, ctx) {
      if (value === 'kernel' || value === 'spatial') {
        throw new RangeError(
          `${ctx.owner}: ${ctx.key} must be one of 'flattened', 'torchKernel', got '${value}' (renamed: did you mean 'torchKernel'?)`,
        );
      }
      return checkChoice(ctx.owner, ctx.key, value ?? 'flattened', ['flattened', 'torchKernel'] as const);
    },
  };
}

/**
 * A 0.1.0 config's conv option (`convScale`/`convRule: 'kernel'`, `convMatrix: 'spatial'`) as `convScale`,
 * other keys unchanged.
 */
export function legacyConvScale(config: OptimizerConfig, oldKey = 'convScale'): OptimizerConfig {
  const { [oldKey]: old, ...rest } = config;
  if (old === undefined) return config;
  return { ...rest, convScale: old === 'kernel' || old === 'spatial' ? 'torchKernel' : old };
}

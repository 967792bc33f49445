/**
 * Option schemas: each option of a recipe is declared once — its kind, default and range, with its
 * documentation as the TSDoc comment on the entry — and from that one declaration come the TypeScript
 * option type ({@link OptionsOf}: an interface that extends it keeps every entry's comment, so TypeDoc
 * shows it), the resolved type ({@link ResolvedOf}), the validation (`RangeError: muon: momentum must be
 * in [0, 1), got 1.2`, see `options.ts`), the defaults, the list of known keys, and the JSON config that
 * survives a tfjs-layers save and reload.
 *
 * ```ts
 * const schema = {
 *   /** EMA momentum β (default 0.95). *\/
 *   momentum: unit(0.95),
 *   scaleRule: choice(shapeRules, 'jordan'),
 *   ...newtonSchulzOptions(),
 * };
 * export interface MuonOptions extends OptionsOf<typeof schema> {}
 * ```
 *
 * Entries resolve in declaration order; a default or a {@link derived} entry may read the entries before
 * it (`default: (r) => r.momentum`). A derived entry is no option: it computes something the recipe needs
 * from the options (a resolved Newton–Schulz table, a learning-rate schedule) and may write config keys.
 * In the spirit of optax's `optax.tree_utils`-free recipes and torch.optim's flat, validated options.
 * @module
 */
import { checkBoolean, checkChoice, checkNumber, type Interval } from './options.js';

/** A JSON value in an optimizer config. */
export type ConfigValue = number | boolean | string | null | ConfigValue[] | { [key: string]: ConfigValue };
/** An optimizer config: flat camelCase keys, JSON values. */
export type OptimizerConfig = { [key: string]: ConfigValue };

/** What a resolver sees: the owner (optimizer name, for messages), the option's key, the entries before. */
export interface ResolveContext {
  readonly owner: string;
  readonly key: string;
  /** The entries resolved so far (declaration order). */
  readonly resolved: Readonly<Record<string, unknown>>;
}

/** A default: a value, or a function of the entries resolved before it. */
export type Default<T> = T | ((resolved: Readonly<Record<string, unknown>>) => T);

/**
 * One option: `In` is what the user may pass, `T` its resolved form. `resolve` gets the raw value
 * (`undefined` or `null`: use the default) and throws a `RangeError` naming the owner and the key.
 */
export interface Option<T, In = T> {
  readonly entry: 'option';
  resolve(value: unknown, ctx: ResolveContext): T;
  /** The config value (`undefined`: leave the key out). Default: the value itself. */
  encode?(value: T): ConfigValue | undefined;
  /** The option back from its config value. Default: the value itself. */
  decode?(value: ConfigValue | undefined): In | undefined;
  /** Phantom: the input type. */
  readonly __in?: In;
}

/** A value computed from the options; `config` may write (or overwrite) config keys. */
export interface Derived<T> {
  readonly entry: 'derived';
  resolve(resolved: Readonly<Record<string, unknown>>, owner: string): T;
  config?(
    value: T,
    params: readonly { readonly name: string; readonly shape: readonly number[] }[] | null,
    owner: string,
    resolved: Readonly<Record<string, unknown>>,
  ): OptimizerConfig;
}

/** A schema: option and derived entries by key. */
export type Schema = { readonly [key: string]: Option<unknown, unknown> | Derived<unknown> };

/** The options object a schema accepts: every option optional, derived entries absent. */
export type OptionsOf<S> = {
  readonly [K in keyof S as S[K] extends Option<unknown, unknown> ? K : never]?: S[K] extends Option<unknown, infer In> ? In : never;
};

/** The resolved form of a schema: every option with its default filled in, and every derived value. */
export type ResolvedOf<S> = {
  readonly [K in keyof S]: S[K] extends Option<infer T, unknown> ? T : S[K] extends Derived<infer D> ? D : never;
};

function fallback<T>(value: unknown, def: Default<T>, ctx: ResolveContext): unknown {
  if (value !== undefined && value !== null) return value;
  return typeof def === 'function' ? (def as (r: Readonly<Record<string, unknown>>) => T)(ctx.resolved) : def;
}

/** An option resolved by `check(owner, key, value)` after the default is filled in. */
export function option<T, In = T>(
  def: Default<T>,
  check: (owner: string, key: string, value: unknown) => T,
  codec: Pick<Option<T, In>, 'encode' | 'decode'> = {},
): Option<T, In> {
  return { entry: 'option', resolve: (v, ctx) => check(ctx.owner, ctx.key, fallback(v, def, ctx)), ...codec };
}

/** A finite number in `interval`. */
export function number(def: Default<number>, interval: Interval): Option<number> {
  return option(def, (owner, key, v) => checkNumber(owner, key, v, interval));
}

/** A number in [0, 1) — a momentum, an EMA rate. */
export function unit(def: Default<number>): Option<number> {
  return number(def, { min: 0, max: 1, maxInclusive: false });
}

/** A number > 0. */
export function positive(def: Default<number>): Option<number> {
  return number(def, { min: 0, minInclusive: false });
}

/** A number ≥ 0. */
export function nonNegative(def: Default<number>): Option<number> {
  return number(def, { min: 0 });
}

/** An integer in [min, max]. */
export function integer(def: Default<number>, min: number, max?: number): Option<number> {
  return number(def, { min, max, integer: true });
}

/** A number in `interval`, or `null` (the default): "not set". */
export function nullableNumber(interval: Interval): Option<number | null> {
  return {
    entry: 'option',
    resolve: (v, ctx) => (v === undefined || v === null ? null : checkNumber(ctx.owner, ctx.key, v, interval)),
  };
}

/** `true` or `false`. */
export function boolean(def: Default<boolean>): Option<boolean> {
  return option(def, checkBoolean);
}

/** One of `values` (single camelCase words: tfjs-layers camelCases string config values on reload). */
export function choice<const V extends string>(values: readonly V[], def: Default<V>): Option<V> {
  return option(def, (owner, key, v) => checkChoice(owner, key, v, values));
}

/** A value computed from the entries before it. */
export function derived<T>(
  resolve: (resolved: Readonly<Record<string, unknown>>, owner: string) => T,
  config?: Derived<T>['config'],
): Derived<T> {
  return { entry: 'derived', resolve, config };
}

/** The option keys of a schema, in declaration order. */
export function schemaKeys(schema: Schema): string[] {
  return Object.keys(schema).filter((k) => schema[k].entry === 'option');
}

/** Resolves `options` against `schema`, entry by entry in declaration order (unknown keys: see `checkKnownKeys`). */
export function resolveSchema<S extends Schema>(owner: string, schema: S, options: object): ResolvedOf<S> {
  const o = options as Record<string, unknown>;
  const resolved: Record<string, unknown> = {};
  for (const key of Object.keys(schema)) {
    const e = schema[key];
    resolved[key] = e.entry === 'option' ? e.resolve(o[key], { owner, key, resolved }) : e.resolve(resolved, owner);
  }
  return resolved as ResolvedOf<S>;
}

/** The config of a resolved schema: every option encoded, then what derived entries write. */
export function encodeSchema(
  owner: string,
  schema: Schema,
  resolved: object,
  params: readonly { readonly name: string; readonly shape: readonly number[] }[] | null,
): OptimizerConfig {
  const r = resolved as Record<string, unknown>;
  const config: OptimizerConfig = {};
  for (const key of Object.keys(schema)) {
    const e = schema[key];
    if (e.entry === 'option') {
      const value = e.encode ? e.encode(r[key]) : (r[key] as ConfigValue);
      if (value !== undefined) config[key] = value;
    } else if (e.config) {
      Object.assign(config, e.config(r[key], params, owner, r));
    }
  }
  return config;
}

/** The options back from a config written by {@link encodeSchema}; keys the schema does not know are kept (and refused later). */
export function decodeSchema<S extends Schema>(schema: S, config: OptimizerConfig): OptionsOf<S> {
  const out: Record<string, unknown> = { ...config };
  for (const key of Object.keys(schema)) {
    const e = schema[key];
    if (e.entry === 'derived') continue;
    if (e.decode) out[key] = e.decode(config[key]);
  }
  return out as OptionsOf<S>;
}

/**
 * LMO optimizers: Scion (a norm per layer), normalized SGD (Frobenius ball) and Signum (ℓ∞ ball) — each
 * `momentum → lmoDirection → lmoStep` (spec `muon-family.md` §10).
 * @module
 */
import { chain, type ParamMeta } from '../core/transform.js';
import { checkBoolean, checkChoice, checkNumber, positive as positiveInterval } from '../core/options.js';
import { boolean, choice, derived, positive, unit, type Option, type OptionsOf, type ResolvedOf } from '../core/schema.js';
import { emaMomentum, trace } from '../transforms/momentum.js';
import {
  defaultNormalized,
  lmoChoices,
  lmoDirection,
  lmoNorms,
  lmoStep,
  normalizableNorms,
  resolveLmoChoice,
  type LmoChoice,
  type LmoNorm,
  type LmoSettings,
} from '../transforms/lmo.js';
import { resolveNewtonSchulz } from '../linalg/newtonSchulz.js';
import { asSchedule, type LearningRate, type LearningRateBound } from '../schedules/index.js';
import {
  decodePatterns,
  encodePatterns,
  learningRate,
  matchesAny,
  newtonSchulzOptions,
  recipe,
  recipeTransform,
  type ConfigValue,
  type NamePattern,
  type OptimizerConfig,
  type OptimizerDefinition,
} from './definition.js';

// ---------------------------------------------------------------------------------------------------
// Scion
// ---------------------------------------------------------------------------------------------------

/** A layer's geometry in {@link ScionOptions}; every field is optional. */
export interface ScionLayer {
  /** The norm (default: the optimizer's `norm`). */
  readonly norm?: LmoChoice;
  /** Radius ρ, Scion's per-group `scale` (default: the optimizer's `radius`). */
  readonly radius?: number;
  /**
   * Scion's `normalized` flag of `spectral` (default true: `√(fanOut/fanIn)`, else `√fanOut`), `colNorm`
   * (default false; true divides by fanIn), `rowNorm` (default true: divides by `√fanIn`) and `sign`
   * (default true: `1/fanIn`). Not inherited from the optimizer's options: unset means the norm's default.
   */
  readonly normalized?: boolean;
  /** Scion's `max` flag of `spectral`: scale `max(1, ·)` (default false). */
  readonly max?: boolean;
}

/** A Scion parameter group: the layers whose variable names match, and their geometry. */
export interface ScionGroup extends ScionLayer {
  /** Name patterns: a string matches as a substring of the variable name, a RegExp by `test`. */
  readonly match: readonly NamePattern[];
}

/** A {@link ScionLayer} validated; `null` = unset. */
export interface ResolvedScionLayer {
  readonly norm: LmoChoice | null;
  readonly radius: number | null;
  readonly normalized: boolean | null;
  readonly max: boolean | null;
}

const SCION = 'scion';

/**
 * The learning rate γ of an LMO step. Constrained, the step `(1−γ)x + γρ·lmo` is a convex combination
 * only for γ ∈ [0, 1], so γ ≤ 1 — for a number, over a schedule's whole range, and at each step of a
 * foreign schedule.
 */
function lmoLearningRate(owner: string, lr: LearningRate, constrained: boolean) {
  const bound: LearningRateBound | undefined = constrained
    ? {
        max: 1,
        explain: (v) =>
          `learningRate must be at most 1 with constrained: true (the step (1 − learningRate)·x + learningRate·radius·lmo ` +
          `is a convex combination only for learningRate in [0, 1]), got ${v}`,
      }
    : undefined;
  return asSchedule(lr, owner, 'learningRate', bound);
}

/** An LMO step's learning rate γ: `learningRate` bounded by 1 when `constrained` (see {@link lmoLearningRate}). */
const lmoSchedule = () => derived((r, owner) => lmoLearningRate(owner, r.learningRate as LearningRate, r.constrained as boolean));

function nullableBoolean(): Option<boolean | null> {
  return { entry: 'option', resolve: (v, ctx) => (v === undefined || v === null ? null : checkBoolean(ctx.owner, ctx.key, v)) };
}

function layerOf(l: OptimizerConfig): ScionLayer {
  return {
    norm: nullToUndefined<LmoChoice>(l.norm),
    radius: nullToUndefined<number>(l.radius),
    normalized: nullToUndefined<boolean>(l.normalized),
    max: nullToUndefined<boolean>(l.max),
  };
}

/** A Scion group, validated. */
export type ResolvedScionGroup = ResolvedScionLayer & { readonly match: readonly NamePattern[] };
/** Scion's `normFor` option. */
export type ScionNormFor = (meta: ParamMeta, index: number) => ScionLayer | LmoChoice | undefined;

const scionSchema = {
  /** `x ← (1−γ)x + γρ·lmo(d)` (default true, `scion.py`'s `unconstrained=False`) or `x ← x + γρ·lmo(d)`. */
  constrained: boolean(true),
  /** Step size γ (default 1e-3, `scion.py`); in [0, 1] when `constrained` (a convex combination). */
  learningRate: learningRate(1e-3),
  schedule: lmoSchedule(),
  /**
   * EMA momentum β in [0, 1): `d ← βd + (1−β)g` (default 0.9 — Scion's α = 1 − β = 0.1, "a good default"
   * in the Scion README and in every example; `scion.py`'s signature default α = 1 is β = 0: no momentum
   * and no state). The buffer starts as the first gradient, as `scion.py@fed3b0e2` and the airbench
   * example (another revision, a86f93e6, starts it at zero, which weights the first gradient by 1 − β).
   */
  momentum: unit(0.9),
  /** The norm of every parameter no group claims (default `'auto'`: by rank, see `autoNorm`). */
  norm: choice(lmoChoices, 'auto'),
  /** Radius ρ of every parameter no group claims (default 1, `scion.py`'s `scale`). */
  radius: positive(1),
  /** `normalized` flag of the default norm (unset: the norm's own default). */
  normalized: nullableBoolean(),
  /** `max` flag of the default norm (`spectral` only; default false). */
  max: nullableBoolean(),
  layer: derived((r, owner) => {
    const layer = { norm: r.norm as LmoChoice, radius: r.radius as number, normalized: r.normalized as boolean | null, max: r.max as boolean | null };
    checkFlags(owner, '', layer, 'auto');
    return layer;
  }),
  /** Per-layer geometry, first matching group wins (Scion's parameter groups). */
  groups: {
    entry: 'option',
    resolve(value, { owner, resolved }) {
      const groupsIn = value ?? [];
      if (!Array.isArray(groupsIn)) throw new RangeError(`${owner}: groups must be a list of groups, got ${typeof groupsIn}`);
      return (groupsIn as readonly ScionGroup[]).map((g, i) => {
        const where = `groups[${i}].`;
        const l = resolveLayer(owner, where, g);
        checkFlags(owner, where, l, resolved.norm as LmoChoice);
        const match = g.match;
        if (!Array.isArray(match) || !(match as unknown[]).every((p) => typeof p === 'string' || p instanceof RegExp)) {
          throw new RangeError(`${owner}: ${where}match must be a list of strings / RegExps`);
        }
        return { ...l, match: [...(match as readonly NamePattern[])] };
      });
    },
    encode: (groups) => groups.map((g) => ({ match: encodePatterns(g.match), ...layerConfig(g) })),
    decode: (c) =>
      Array.isArray(c) ? c.map((g) => ({ ...layerOf(g as OptimizerConfig), match: decodePatterns((g as OptimizerConfig).match) ?? [] })) : undefined,
  } as Option<readonly ResolvedScionGroup[], readonly ScionGroup[]>,
  /**
   * Per-layer geometry as a function of the parameter (overrides `groups`; `undefined` falls through to
   * them). Saved configs record what it returned as `paramNorms` once the parameters are known.
   */
  normFor: {
    entry: 'option',
    resolve(value, { owner }) {
      const normFor = value ?? null;
      if (normFor !== null && typeof normFor !== 'function') throw new RangeError(`${owner}: normFor must be a function, got ${typeof normFor}`);
      return normFor as ScionNormFor | null;
    },
    encode: () => undefined,
  } as Option<ScionNormFor | null, ScionNormFor>,
  /** Fully resolved geometry per parameter position (overrides everything; what saved configs hold). */
  paramNorms: {
    entry: 'option',
    resolve(value, { owner }) {
      if (value === undefined || value === null) return null;
      if (!Array.isArray(value)) throw new RangeError(`${owner}: paramNorms must be a list, got ${typeof value}`);
      return (value as readonly LmoSettings[]).map((s, i) => resolveSettings(owner, `paramNorms[${i}]`, s));
    },
    encode: (v) => (v === null ? undefined : v.map((s) => ({ ...s }))),
  } as Option<readonly LmoSettings[] | null, readonly LmoSettings[]>,
  // Jordan ×5, ε 1e-7, as scion.py (Scion's CNN example uses 9 steps for conv layers).
  ...newtonSchulzOptions(),
  savedNorms: derived(
    () => null,
    (_v, params, owner, r): OptimizerConfig =>
      r.paramNorms === null && r.normFor !== null && params !== null
        ? { paramNorms: params.map((m, i) => ({ ...scionSettings(r as unknown as ResolvedScion, m, i, owner) })) }
        : {},
  ),
};

/** Options of {@link scion}. Defaults: `LIONS-EPFL/scion` `scion.py` `Scion`, except `momentum` (see there). */
export interface ScionOptions extends OptionsOf<typeof scionSchema> {}
/** {@link ScionOptions} with every default filled in. */
export interface ResolvedScion extends ResolvedOf<typeof scionSchema> {}

function resolveLayer(owner: string, where: string, l: ScionLayer): ResolvedScionLayer {
  if (l === null || typeof l !== 'object') {
    throw new RangeError(`${owner}: ${where} must be an object, got ${String(l)}`);
  }
  const norm = l.norm === undefined ? null : checkChoice(owner, `${where}norm`, l.norm, lmoChoices);
  const radius = l.radius === undefined ? null : checkNumber(owner, `${where}radius`, l.radius, positiveInterval);
  const normalized = l.normalized === undefined ? null : checkBoolean(owner, `${where}normalized`, l.normalized);
  const max = l.max === undefined ? null : checkBoolean(owner, `${where}max`, l.max);
  return { norm, radius, normalized, max };
}

/** Throws when a flag is set for a norm that does not read it (`norm` null: checked when it is known). */
function checkFlags(owner: string, where: string, l: ResolvedScionLayer, fallbackNorm: LmoChoice): void {
  const norm = l.norm ?? fallbackNorm;
  if (l.normalized !== null && norm !== 'auto' && !normalizableNorms.includes(norm)) {
    throw new RangeError(
      `${owner}: ${where}normalized applies to the norms ${normalizableNorms.map((n) => `'${n}'`).join(', ')} ` +
        `and 'auto', not '${norm}'`,
    );
  }
  if (l.max !== null && norm !== 'auto' && norm !== 'spectral') {
    throw new RangeError(`${owner}: ${where}max applies to the 'spectral' norm (and 'auto'), not '${norm}'`);
  }
}

function resolveSettings(owner: string, where: string, s: LmoSettings): LmoSettings {
  if (s === null || typeof s !== 'object') throw new RangeError(`${owner}: ${where} must be an object, got ${String(s)}`);
  return {
    norm: checkChoice(owner, `${where}.norm`, s.norm, lmoNorms),
    radius: checkNumber(owner, `${where}.radius`, s.radius, positiveInterval),
    normalized: checkBoolean(owner, `${where}.normalized`, s.normalized),
    max: checkBoolean(owner, `${where}.max`, s.max),
  };
}

/** A layer's geometry for one parameter: `auto` resolved by rank, unset flags at the norm's default. */
function finalize(l: ResolvedScionLayer, defaults: ResolvedScion['layer'], meta: ParamMeta): LmoSettings {
  const norm = resolveLmoChoice(l.norm ?? defaults.norm, meta.shape);
  return {
    norm,
    radius: l.radius ?? defaults.radius,
    normalized: normalizableNorms.includes(norm) ? (l.normalized ?? defaultNormalized(norm)) : false,
    max: norm === 'spectral' ? (l.max ?? false) : false,
  };
}

/**
 * The geometry Scion gives parameter `index`: `paramNorms`, else `normFor`, else the first matching group,
 * else the defaults.
 */
export function scionSettings(r: ResolvedScion, meta: ParamMeta, index: number, owner = SCION): LmoSettings {
  if (r.paramNorms !== null) {
    const s = r.paramNorms[index];
    if (s === undefined) {
      throw new RangeError(`${owner}: paramNorms has ${r.paramNorms.length} entries, but parameter ${index} ('${meta.name}') exists`);
    }
    return s;
  }
  if (r.normFor !== null) {
    const got = r.normFor(meta, index);
    if (got !== undefined) {
      const where = `normFor('${meta.name}').`;
      const layer = resolveLayer(owner, where, typeof got === 'string' ? { norm: got } : got);
      checkFlags(owner, where, layer, r.layer.norm);
      return finalize(layer, r.layer, meta);
    }
  }
  const group = r.groups.find((g) => matchesAny(meta.name, g.match));
  return finalize(group ?? r.layer, r.layer, meta);
}

function layerConfig(l: ResolvedScionLayer): OptimizerConfig {
  return { norm: l.norm, radius: l.radius, normalized: l.normalized, max: l.max };
}

function nullToUndefined<T>(v: ConfigValue | undefined): T | undefined {
  return v === null || v === undefined ? undefined : (v as T);
}

/**
 * Scion (Pethick, Xie, Antonakopoulos, Zhu, Silveti-Falls, Cevher, "Training Deep Learning Models with
 * Norm-Constrained LMOs", arXiv 2502.07529; reference `LIONS-EPFL/scion@fed3b0e2:scion.py#Scion`).
 * Every parameter gets a norm ball of radius ρ (Scion's `scale`) and steps along its linear
 * minimization oracle:
 *
 * ```
 * d ← β·d + (1−β)·g                      (momentum β = 1 − Scion's α; d starts at the first gradient; β = 0: d = g, no state)
 * x ← (1−γ)·x + γρ·lmo(d)                constrained (default), or x ← x + γρ·lmo(d)
 * ```
 *
 * Norms (`norm`, per layer through `groups` / `normFor`), in TF.js fan-in/fan-out terms (`lmo.ts`):
 * `spectral` (Newton–Schulz, `√(fanOut/fanIn)`, or `√fanOut` without `normalized`, `max(1, ·)` with
 * `max`), `spectralConv` (`√(out/in)/(kh·kw)` of the flattened kernel), `colNorm` (per input feature, a
 * row of the Dense kernel), `rowNorm` (per output unit, a column), `sign` (`1/fanIn` when `normalized`),
 * `biasRms`, `frobenius`, and `auto` (rank 3–4 → spectralConv, 2 → spectral, ≤ 1 → biasRms; the default).
 * There is no auxiliary AdamW: every parameter, biases included, takes an LMO step, as in Scion.
 *
 * Defaults follow `scion.py`'s `Scion` signature (lr 1e-3, radius 1, norm Auto, `unconstrained=False`,
 * Jordan NS ×5) except momentum: β 0.9 (Scion's α = 0.1, the README's "good default" used by every
 * example; the class default α = 1.0 switches momentum off). Scion writes the momentum as α, the weight
 * of the new gradient; this library's `momentum` is always β, the weight of the past (0.1.0 took α here:
 * configs saved by it are converted on load). The paper's tuned settings are per architecture; e.g. the README's
 * nanoGPT: `{learningRate: 2 ** -12, momentum: 0.9, norm: 'spectral', radius: 50, groups: [{match:
 * ['lm_head'], norm: 'sign', radius: 3000}]}`; CNN: `{learningRate: 2 ** -4, momentum: 0.5, radius: 8,
 * groups: [{match: [outputKernel], norm: 'sign', normalized: true, radius: 128}]}`.
 *
 * Differences from the reference, on purpose: Newton–Schulz runs in float32 (the reference: bfloat16);
 * `spectral` on a conv kernel uses its flattened `[kh·kw·in, out]` matrix (the reference's `Spectral`
 * rejects non-2-D tensors); `colNorm`/`rowNorm`/`sign` on a conv kernel also read the flattened matrix
 * (the reference reduces over the 4-D axes); vectors count as `[1, n]` matrices for the matrix norms (the
 * reference's `Sign` rejects them); `spectralConv` reads `k²` as `kh·kw`.
 * State per m×n matrix: one momentum buffer (mn floats); none with `momentum: 0`.
 */
export const scionDefinition: OptimizerDefinition<ScionOptions, ResolvedScion> = recipe({
  name: SCION,
  className: 'orthoptim.Scion',
  summary: 'Scion: EMA momentum, a norm-ball LMO per layer (spectral, colNorm, rowNorm, sign, biasRms), constrained step',
  paper: 'Pethick et al., "Training Deep Learning Models with Norm-Constrained LMOs" (arXiv 2502.07529)',
  reference: 'LIONS-EPFL/scion@fed3b0e2:scion.py#Scion',
  schema: scionSchema,
  build: (r) =>
    chain(
      // scion.py: the buffer starts as the first gradient, then buf ← (1−α)·buf + α·g — torch SGD's
      // trace with momentum = dampening = β = 1 − α.
      ...(r.momentum > 0 ? [trace({ momentum: r.momentum, dampening: r.momentum, nesterov: false })] : []),
      lmoDirection((meta, i) => scionSettings(r, meta, i), r.ns, SCION),
      lmoStep({ learningRate: r.schedule, constrained: r.constrained }),
    ),
  // 0.1.0 saved Scion's α as `momentum`: β = 1 − α.
  version: 2,
  legacy: (c, version) => (version < 2 && typeof c.momentum === 'number' ? { ...c, momentum: 1 - c.momentum } : c),
});

/** Scion's transform (no tf.Optimizer). */
export const scionTransform = recipeTransform(scionDefinition);

// ---------------------------------------------------------------------------------------------------
// normalizedSgd and signum: one norm for every parameter
// ---------------------------------------------------------------------------------------------------

const singleNormSchema = {
  /** Step size γ (default 0.01); in [0, 1] when `constrained`. */
  learningRate: learningRate(0.01),
  /** EMA momentum β in [0, 1): `m ← βm + (1−β)g` (default 0.9; 0: no momentum, no state). Scion's α = 1 − β. */
  momentum: unit(0.9),
  /** Radius ρ of the norm ball (default 1): the step moves each tensor by γρ. */
  radius: positive(1),
  /** `x ← (1−γ)x + γρ·lmo(m)`, keeping every tensor in the radius-ρ ball (default false: `x ← x + γρ·lmo(m)`). */
  constrained: boolean(false),
  schedule: lmoSchedule(),
};

/** Options of {@link normalizedSgd} and {@link signum}. */
export interface SingleNormLmoOptions extends OptionsOf<typeof singleNormSchema> {}
/** {@link SingleNormLmoOptions} resolved. */
export interface ResolvedSingleNormLmo extends ResolvedOf<typeof singleNormSchema> {}

function singleNormDefinition(
  spec: { name: string; className: string; summary: string; paper: string; reference: string },
  norm: LmoNorm,
): OptimizerDefinition<SingleNormLmoOptions, ResolvedSingleNormLmo> {
  return recipe({
    ...spec,
    schema: singleNormSchema,
    build(r) {
      const settings: LmoSettings = { norm, radius: r.radius, normalized: false, max: false };
      return chain(
        ...(r.momentum > 0 ? [emaMomentum({ beta: r.momentum, nesterov: false })] : []),
        lmoDirection(() => settings, resolveNewtonSchulz({}, spec.name), spec.name),
        lmoStep({ learningRate: r.schedule, constrained: r.constrained }),
      );
    },
  });
}

/**
 * Normalized SGD with momentum — the LMO step of the Frobenius (ℓ2) ball (Cutkosky & Mehta, "Momentum
 * Improves Normalized SGD", arXiv 2002.03305; recovered as an LMO method by Kovalev, arXiv 2503.12645,
 * and Pethick et al., arXiv 2502.07529 §1):
 * `m ← βm + (1−β)g`; `x ← x − γρ·m/‖m‖_F` (or, `constrained`, `x ← (1−γ)x − γρ·m/‖m‖_F`).
 *
 * The norm is taken **per tensor** (the LMO of the layer-wise product norm, as every norm in Scion),
 * whereas Cutkosky & Mehta normalize the whole parameter vector; ‖m‖_F gets ε = 1e-8, so a zero gradient
 * gives a zero step. No authors' code exists to follow; defaults (lr 0.01, β 0.9) are ours, matching
 * {@link signum}. State per m×n matrix: one momentum buffer (mn floats; none with `momentum: 0`).
 */
export const normalizedSgdDefinition = singleNormDefinition(
  {
    name: 'normalizedSgd',
    className: 'orthoptim.NormalizedSgd',
    summary: 'Normalized SGD with momentum: the Frobenius-ball LMO −m/‖m‖_F per tensor',
    paper: 'Cutkosky & Mehta, "Momentum Improves Normalized SGD" (arXiv 2002.03305); as an LMO: Kovalev (arXiv 2503.12645)',
    reference: 'none (no authors\' code); the Frobenius row of spec muon-family.md §10.1',
  },
  'frobenius',
);

/**
 * Signum — signSGD with momentum, the LMO step of the ℓ∞ ball (Bernstein, Wang, Azizzadenesheli &
 * Anandkumar, "signSGD: Compressed Optimisation for Non-Convex Problems", arXiv 1802.04434; reference
 * `apache/mxnet@b49b4313:python/mxnet/optimizer/signum.py#Signum`, the authors' implementation):
 * `m ← βm + (1−β)g`; `x ← x − γρ·sign(m)`. `momentum: 0` is signSGD.
 *
 * Defaults are MXNet's (lr 0.01, β 0.9, no weight decay). `constrained: true` is
 * `x ← (1−γ)x − γρ·sign(m)`, which keeps `max|x| ≤ ρ`; it equals MXNet's decoupled `wd_lh = 1/ρ` with
 * learning rate γρ. MXNet's coupled `wd` (added to the gradient) is not offered. State per m×n matrix:
 * one momentum buffer (mn floats; none with `momentum: 0`).
 */
export const signumDefinition = singleNormDefinition(
  {
    name: 'signum',
    className: 'orthoptim.Signum',
    summary: 'Signum (signSGD with momentum): the ℓ∞-ball LMO −sign(m)',
    paper: 'Bernstein, Wang, Azizzadenesheli & Anandkumar, "signSGD: Compressed Optimisation for Non-Convex Problems" (arXiv 1802.04434)',
    reference: 'apache/mxnet@b49b4313:python/mxnet/optimizer/signum.py#Signum',
  },
  'sign',
);

/** Normalized SGD's transform (no tf.Optimizer). */
export const normalizedSgdTransform = recipeTransform(normalizedSgdDefinition);
/** Signum's transform (no tf.Optimizer). */
export const signumTransform = recipeTransform(signumDefinition);

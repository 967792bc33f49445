/**
 * LMO optimizers: Scion (a norm per layer), normalized SGD (Frobenius ball) and Signum (ℓ∞ ball) — each
 * `momentum → lmoDirection → lmoStep` (spec `muon-family.md` §10).
 * @module
 */
import { chain, type GradientTransformation, type ParamMeta } from '../core/transform.js';
import { checkBoolean, checkChoice, checkNumber, positive } from '../core/options.js';
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
import { resolveNewtonSchulz, type ResolvedNewtonSchulz } from '../linalg/newtonSchulz.js';
import type { CoefficientPreset, QuinticCoefficients } from '../linalg/coefficients.js';
import { asSchedule, type LearningRate, type LearningRateBound } from '../schedules/index.js';
import {
  checkUnit,
  decodeLearningRate,
  decodePatterns,
  encodeLearningRate,
  encodePatterns,
  matchesAny,
  resolveRecipeNewtonSchulz,
  type ConfigValue,
  type NamePattern,
  type OptimizerConfig,
  type OptimizerDefinition,
} from './definition.js';
import { defineOptimizer } from '../tfjs/registry.js';

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

/** Options of {@link scion}. Defaults: `LIONS-EPFL/scion` `scion.py` `Scion`, except `momentum` (see there). */
export interface ScionOptions {
  /** Step size γ (default 1e-3, `scion.py`); in [0, 1] when `constrained` (a convex combination). */
  readonly learningRate?: LearningRate;
  /**
   * Scion's momentum α in (0, 1]: `d ← (1−α)d + α·g`, i.e. an EMA with β = 1 − α (default 0.1, "a good
   * default" in the Scion README and in every example; `scion.py`'s signature default 1 means no momentum
   * and no state). The buffer starts as the first gradient, as `scion.py@fed3b0e2` and the airbench example
   * (another revision, a86f93e6, starts it at zero, which weights the first gradient by α).
   */
  readonly momentum?: number;
  /** The norm of every parameter no group claims (default `'auto'`: by rank, see `autoNorm`). */
  readonly norm?: LmoChoice;
  /** Radius ρ of every parameter no group claims (default 1, `scion.py`'s `scale`). */
  readonly radius?: number;
  /** `normalized` flag of the default norm (unset: the norm's own default). */
  readonly normalized?: boolean;
  /** `max` flag of the default norm (`spectral` only; default false). */
  readonly max?: boolean;
  /** `x ← (1−γ)x + γρ·lmo(d)` (default true, `scion.py`'s `unconstrained=False`) or `x ← x + γρ·lmo(d)`. */
  readonly constrained?: boolean;
  /** Per-layer geometry, first matching group wins (Scion's parameter groups). */
  readonly groups?: readonly ScionGroup[];
  /**
   * Per-layer geometry as a function of the parameter (overrides `groups`; `undefined` falls through to
   * them). Saved configs record what it returned as `paramNorms` once the parameters are known.
   */
  readonly normFor?: (meta: ParamMeta, index: number) => ScionLayer | LmoChoice | undefined;
  /** Fully resolved geometry per parameter position (overrides everything; what saved configs hold). */
  readonly paramNorms?: readonly LmoSettings[];
  /** Newton–Schulz coefficients of the spectral norms (default `'jordan'`, as `scion.py`). */
  readonly coefficients?: CoefficientPreset | readonly QuinticCoefficients[];
  /** Newton–Schulz steps (default 5; Scion's CNN example uses 9 for conv layers). */
  readonly nsSteps?: number;
  /** Newton–Schulz normalization epsilon (default 1e-7, as `scion.py`). */
  readonly nsEpsilon?: number;
}

/** A {@link ScionLayer} validated; `null` = unset. */
export interface ResolvedScionLayer {
  readonly norm: LmoChoice | null;
  readonly radius: number | null;
  readonly normalized: boolean | null;
  readonly max: boolean | null;
}

/** {@link ScionOptions} with every default filled in. */
export interface ResolvedScion {
  readonly learningRate: LearningRate;
  readonly momentum: number;
  readonly constrained: boolean;
  /** The default geometry (`norm` and `radius` always set). */
  readonly layer: ResolvedScionLayer & { readonly norm: LmoChoice; readonly radius: number };
  readonly groups: readonly (ResolvedScionLayer & { readonly match: readonly NamePattern[] })[];
  readonly normFor: ((meta: ParamMeta, index: number) => ScionLayer | LmoChoice | undefined) | null;
  readonly paramNorms: readonly LmoSettings[] | null;
  readonly coefficients: CoefficientPreset | readonly QuinticCoefficients[];
  readonly ns: ResolvedNewtonSchulz;
}

const SCION = 'scion';

function resolveLayer(owner: string, where: string, l: ScionLayer): ResolvedScionLayer {
  if (l === null || typeof l !== 'object') {
    throw new RangeError(`${owner}: ${where} must be an object, got ${String(l)}`);
  }
  const norm = l.norm === undefined ? null : checkChoice(owner, `${where}norm`, l.norm, lmoChoices);
  const radius = l.radius === undefined ? null : checkNumber(owner, `${where}radius`, l.radius, positive);
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
    radius: checkNumber(owner, `${where}.radius`, s.radius, positive),
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

/** The definition behind {@link scion}. */
export const scionDefinition: OptimizerDefinition<ScionOptions, ResolvedScion> = {
  name: SCION,
  className: 'orthoptim.Scion',
  summary: 'Scion: EMA momentum, a norm-ball LMO per layer (spectral, colNorm, rowNorm, sign, biasRms), constrained step',
  paper: 'Pethick et al., "Training Deep Learning Models with Norm-Constrained LMOs" (arXiv 2502.07529)',
  reference: 'LIONS-EPFL/scion@fed3b0e2:scion.py#Scion',
  keys: [
    'learningRate', 'momentum', 'norm', 'radius', 'normalized', 'max', 'constrained', 'groups', 'normFor',
    'paramNorms', 'coefficients', 'nsSteps', 'nsEpsilon',
  ],
  resolve(o) {
    const constrained = checkBoolean(SCION, 'constrained', o.constrained ?? true);
    const learningRate = o.learningRate ?? 1e-3;
    lmoLearningRate(SCION, learningRate, constrained);
    const top = resolveLayer(SCION, '', { norm: o.norm ?? 'auto', radius: o.radius ?? 1, normalized: o.normalized, max: o.max });
    checkFlags(SCION, '', top, 'auto');
    const layer = { ...top, norm: top.norm ?? 'auto', radius: top.radius ?? 1 };
    const groupsIn = o.groups ?? [];
    if (!Array.isArray(groupsIn)) throw new RangeError(`${SCION}: groups must be a list of groups, got ${typeof groupsIn}`);
    const groups = (groupsIn as readonly ScionGroup[]).map((g, i) => {
      const where = `groups[${i}].`;
      const l = resolveLayer(SCION, where, g);
      checkFlags(SCION, where, l, layer.norm);
      const match = g.match;
      if (!Array.isArray(match) || !(match as unknown[]).every((p) => typeof p === 'string' || p instanceof RegExp)) {
        throw new RangeError(`${SCION}: ${where}match must be a list of strings / RegExps`);
      }
      return { ...l, match: [...(match as readonly NamePattern[])] };
    });
    const normFor = o.normFor ?? null;
    if (normFor !== null && typeof normFor !== 'function') {
      throw new RangeError(`${SCION}: normFor must be a function, got ${typeof normFor}`);
    }
    let paramNorms: LmoSettings[] | null = null;
    if (o.paramNorms !== undefined && o.paramNorms !== null) {
      if (!Array.isArray(o.paramNorms)) throw new RangeError(`${SCION}: paramNorms must be a list, got ${typeof o.paramNorms}`);
      paramNorms = (o.paramNorms as readonly LmoSettings[]).map((s, i) => resolveSettings(SCION, `paramNorms[${i}]`, s));
    }
    const coefficients = o.coefficients ?? 'jordan';
    return {
      learningRate,
      momentum: checkNumber(SCION, 'momentum', o.momentum ?? 0.1, { min: 0, minInclusive: false, max: 1 }),
      constrained,
      layer,
      groups,
      normFor,
      paramNorms,
      coefficients,
      ns: resolveRecipeNewtonSchulz(SCION, { coefficients, nsSteps: o.nsSteps, nsEpsilon: o.nsEpsilon }),
    };
  },
  build(r) {
    return chain(
      // scion.py: the buffer starts as the first gradient, then buf ← (1−α)·buf + α·g — torch SGD's
      // trace with momentum = dampening = 1 − α.
      ...(r.momentum < 1 ? [trace({ momentum: 1 - r.momentum, dampening: 1 - r.momentum, nesterov: false })] : []),
      lmoDirection((meta, i) => scionSettings(r, meta, i), r.ns, SCION),
      lmoStep({ learningRate: lmoLearningRate(SCION, r.learningRate, r.constrained), constrained: r.constrained }),
    );
  },
  toConfig(r, params) {
    const config: OptimizerConfig = {
      learningRate: encodeLearningRate(r.learningRate),
      momentum: r.momentum,
      constrained: r.constrained,
      ...layerConfig(r.layer),
      groups: r.groups.map((g) => ({ match: encodePatterns(g.match), ...layerConfig(g) })),
      coefficients: r.coefficients as unknown as ConfigValue,
      nsSteps: r.ns.steps,
      nsEpsilon: r.ns.eps,
    };
    const paramNorms =
      r.paramNorms ?? (r.normFor !== null && params !== null ? params.map((m, i) => scionSettings(r, m, i)) : null);
    if (paramNorms !== null) config.paramNorms = paramNorms.map((s) => ({ ...s }));
    return config;
  },
  fromConfig(c: OptimizerConfig) {
    const layerOf = (l: OptimizerConfig): ScionLayer => ({
      norm: nullToUndefined<LmoChoice>(l.norm),
      radius: nullToUndefined<number>(l.radius),
      normalized: nullToUndefined<boolean>(l.normalized),
      max: nullToUndefined<boolean>(l.max),
    });
    const groups = Array.isArray(c.groups)
      ? c.groups.map((g) => {
          const o = g as OptimizerConfig;
          return { ...layerOf(o), match: decodePatterns(o.match) ?? [] };
        })
      : undefined;
    return {
      learningRate: decodeLearningRate(c.learningRate),
      momentum: nullToUndefined<number>(c.momentum),
      constrained: nullToUndefined<boolean>(c.constrained),
      ...layerOf(c),
      groups,
      paramNorms: nullToUndefined<LmoSettings[]>(c.paramNorms),
      coefficients: nullToUndefined<CoefficientPreset | QuinticCoefficients[]>(c.coefficients),
      nsSteps: nullToUndefined<number>(c.nsSteps),
      nsEpsilon: nullToUndefined<number>(c.nsEpsilon),
    };
  },
};

/**
 * Scion (Pethick, Xie, Antonakopoulos, Zhu, Silveti-Falls, Cevher, "Training Deep Learning Models with
 * Norm-Constrained LMOs", arXiv 2502.07529; reference `LIONS-EPFL/scion@fed3b0e2:scion.py#Scion`).
 * Every parameter gets a norm ball of radius ρ (Scion's `scale`) and steps along its linear
 * minimization oracle:
 *
 * ```
 * d ← (1−α)·d + α·g                      (momentum α; d starts at the first gradient; α = 1: d = g, no state)
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
 * Jordan NS ×5) except momentum: 0.1, the README's "good default" used by every example (the class
 * default 1.0 switches momentum off). The paper's tuned settings are per architecture; e.g. the README's
 * nanoGPT: `{learningRate: 2 ** -12, momentum: 0.1, norm: 'spectral', radius: 50, groups: [{match:
 * ['lm_head'], norm: 'sign', radius: 3000}]}`; CNN: `{learningRate: 2 ** -4, momentum: 0.5, radius: 8,
 * groups: [{match: [outputKernel], norm: 'sign', normalized: true, radius: 128}]}`.
 *
 * Differences from the reference, on purpose: Newton–Schulz runs in float32 (the reference: bfloat16);
 * `spectral` on a conv kernel uses its flattened `[kh·kw·in, out]` matrix (the reference's `Spectral`
 * rejects non-2-D tensors); `colNorm`/`rowNorm`/`sign` on a conv kernel also read the flattened matrix
 * (the reference reduces over the 4-D axes); vectors count as `[1, n]` matrices for the matrix norms (the
 * reference's `Sign` rejects them); `spectralConv` reads `k²` as `kh·kw`.
 * State per m×n matrix: one momentum buffer (mn floats); none with `momentum: 1`.
 *
 * @example
 * model.compile({ optimizer: scion({ learningRate: 0.05, groups: [{ match: ['dense_Dense3/kernel'], norm: 'sign', radius: 16 }] }), loss: 'categoricalCrossentropy' });
 */
export const scion = defineOptimizer(scionDefinition);

// ---------------------------------------------------------------------------------------------------
// normalizedSgd and signum: one norm for every parameter
// ---------------------------------------------------------------------------------------------------

/** Options of {@link normalizedSgd} and {@link signum}. */
export interface SingleNormLmoOptions {
  /** Step size γ (default 0.01); in [0, 1] when `constrained`. */
  readonly learningRate?: LearningRate;
  /** EMA momentum β in [0, 1): `m ← βm + (1−β)g` (default 0.9; 0: no momentum, no state). Scion's α = 1 − β. */
  readonly momentum?: number;
  /** Radius ρ of the norm ball (default 1): the step moves each tensor by γρ. */
  readonly radius?: number;
  /** `x ← (1−γ)x + γρ·lmo(m)`, keeping every tensor in the radius-ρ ball (default false: `x ← x + γρ·lmo(m)`). */
  readonly constrained?: boolean;
}

/** {@link SingleNormLmoOptions} resolved. */
export interface ResolvedSingleNormLmo {
  readonly learningRate: LearningRate;
  readonly momentum: number;
  readonly radius: number;
  readonly constrained: boolean;
}

function singleNormDefinition(spec: {
  name: string;
  className: string;
  summary: string;
  paper: string;
  reference: string;
  norm: LmoNorm;
  normalized: boolean;
}): OptimizerDefinition<SingleNormLmoOptions, ResolvedSingleNormLmo> {
  const { name } = spec;
  return {
    name,
    className: spec.className,
    summary: spec.summary,
    paper: spec.paper,
    reference: spec.reference,
    keys: ['learningRate', 'momentum', 'radius', 'constrained'],
    resolve(o) {
      const constrained = checkBoolean(name, 'constrained', o.constrained ?? false);
      const learningRate = o.learningRate ?? 0.01;
      lmoLearningRate(name, learningRate, constrained);
      return {
        learningRate,
        momentum: checkUnit(name, 'momentum', o.momentum ?? 0.9),
        radius: checkNumber(name, 'radius', o.radius ?? 1, positive),
        constrained,
      };
    },
    build(r): GradientTransformation {
      const settings: LmoSettings = { norm: spec.norm, radius: r.radius, normalized: spec.normalized, max: false };
      return chain(
        ...(r.momentum > 0 ? [emaMomentum({ beta: r.momentum, nesterov: false })] : []),
        lmoDirection(() => settings, resolveNewtonSchulz({}, name), name),
        lmoStep({ learningRate: lmoLearningRate(name, r.learningRate, r.constrained), constrained: r.constrained }),
      );
    },
    toConfig: (r) => ({ ...r, learningRate: encodeLearningRate(r.learningRate) }),
    fromConfig: (c) => ({ ...(c as SingleNormLmoOptions), learningRate: decodeLearningRate(c.learningRate) }),
  };
}

/** The definition behind {@link normalizedSgd}. */
export const normalizedSgdDefinition = singleNormDefinition({
  name: 'normalizedSgd',
  className: 'orthoptim.NormalizedSgd',
  summary: 'Normalized SGD with momentum: the Frobenius-ball LMO −m/‖m‖_F per tensor',
  paper: 'Cutkosky & Mehta, "Momentum Improves Normalized SGD" (arXiv 2002.03305); as an LMO: Kovalev (arXiv 2503.12645)',
  reference: 'none (no authors\' code); the Frobenius row of spec muon-family.md §10.1',
  norm: 'frobenius',
  normalized: false,
});

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
 *
 * @example
 * model.compile({ optimizer: normalizedSgd({ learningRate: 0.1 }), loss: 'meanSquaredError' });
 */
export const normalizedSgd = defineOptimizer(normalizedSgdDefinition);

/** The definition behind {@link signum}. */
export const signumDefinition = singleNormDefinition({
  name: 'signum',
  className: 'orthoptim.Signum',
  summary: 'Signum (signSGD with momentum): the ℓ∞-ball LMO −sign(m)',
  paper: 'Bernstein, Wang, Azizzadenesheli & Anandkumar, "signSGD: Compressed Optimisation for Non-Convex Problems" (arXiv 1802.04434)',
  reference: 'apache/mxnet@b49b4313:python/mxnet/optimizer/signum.py#Signum',
  norm: 'sign',
  normalized: false,
});

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
 *
 * @example
 * model.compile({ optimizer: signum({ learningRate: 0.001 }), loss: 'meanSquaredError' });
 */
export const signum = defineOptimizer(signumDefinition);

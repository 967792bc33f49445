/**
 * Routing shared by every orthogonalized optimizer: hidden matrices go to the method's own chain, and
 * vectors, scalars and `exclude`d matrices (embeddings, the output layer, the first conv) go to an
 * auxiliary AdamW, as KellerJordan/Muon's `SingleDeviceMuonWithAuxAdam` does (and NorMuon, Turbo-Muon,
 * ROOT after it). One flat set of `adamw*` options configures that AdamW.
 * @module
 */
import { chain, partition, type GradientTransformation, type ParamMeta } from '../core/transform.js';
import { checkNumber, nonNegative, positive, showValue } from '../core/options.js';
import { scaleByAdam } from '../transforms/adam.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import { type LearningRate } from '../schedules/index.js';
import {
  checkUnit,
  decayedLearningRate,
  decodeLearningRate,
  decodePatterns,
  encodeLearningRate,
  encodePatterns,
  matchesAny,
  type ConfigValue,
  type NamePattern,
  type OptimizerConfig,
} from './definition.js';

/** Where a parameter goes: the method's matrix chain, or the auxiliary AdamW. */
export type ParamRoute = 'matrix' | 'adamw';

/** The auxiliary-AdamW and routing options every orthogonalized optimizer accepts. */
export interface AuxiliaryOptions {
  /** Learning rate of the AdamW parameters (default 3e-4 unless the method says otherwise). */
  readonly adamwLearningRate?: LearningRate;
  /** AdamW β₁ (default 0.9). */
  readonly adamwBeta1?: number;
  /** AdamW β₂ (default 0.95). */
  readonly adamwBeta2?: number;
  /** AdamW ε, added to `√v̂` (default 1e-10, as KellerJordan/Muon's auxiliary Adam). */
  readonly adamwEpsilon?: number;
  /** AdamW decoupled weight decay (default 0). */
  readonly adamwWeightDecay?: number;
  /**
   * Matrices to send to AdamW instead of the matrix chain: name patterns (a string matches as a substring
   * of the variable name, a RegExp by `test`) or a predicate. Embeddings, the output layer and the first
   * conv layer belong here (KellerJordan/Muon README); `adamwParamNames(model)` lists them for a layers
   * model. Vectors and scalars always go to AdamW.
   */
  readonly exclude?: readonly NamePattern[] | ((meta: ParamMeta) => boolean);
  /** Explicit route per parameter position (overrides `exclude`); saved configs record predicates this way. */
  readonly paramLabels?: readonly ParamRoute[];
}

/** {@link AuxiliaryOptions} resolved. */
export interface ResolvedAuxiliary {
  readonly adamwLearningRate: LearningRate;
  readonly adamwBeta1: number;
  readonly adamwBeta2: number;
  readonly adamwEpsilon: number;
  readonly adamwWeightDecay: number;
  readonly exclude: readonly NamePattern[] | ((meta: ParamMeta) => boolean);
  readonly paramLabels: readonly ParamRoute[] | null;
}

/** The keys of {@link AuxiliaryOptions}. */
export const auxiliaryKeys = [
  'adamwLearningRate', 'adamwBeta1', 'adamwBeta2', 'adamwEpsilon', 'adamwWeightDecay', 'exclude', 'paramLabels',
] as const;

/** Defaults a method may change (e.g. ROOT's AdamW shares the method's lr). */
export interface AuxiliaryDefaults {
  readonly adamwLearningRate?: LearningRate;
  readonly adamwBeta1?: number;
  readonly adamwBeta2?: number;
  readonly adamwEpsilon?: number;
  readonly adamwWeightDecay?: number;
}

/** The auxiliary AdamW's learning rate, bounded by its decoupled decay (see {@link decayBound}). */
export function auxiliaryLearningRate(owner: string, aux: Pick<ResolvedAuxiliary, 'adamwLearningRate' | 'adamwWeightDecay'>) {
  return decayedLearningRate(owner, 'adamwLearningRate', aux.adamwLearningRate, 'adamwWeightDecay', aux.adamwWeightDecay);
}

/** Validates the auxiliary options; `owner` names the optimizer in errors. */
export function resolveAuxiliary(owner: string, o: AuxiliaryOptions, defaults: AuxiliaryDefaults = {}): ResolvedAuxiliary {
  const r: ResolvedAuxiliary = {
    adamwLearningRate: o.adamwLearningRate ?? defaults.adamwLearningRate ?? 3e-4,
    adamwBeta1: checkUnit(owner, 'adamwBeta1', o.adamwBeta1 ?? defaults.adamwBeta1 ?? 0.9),
    adamwBeta2: checkUnit(owner, 'adamwBeta2', o.adamwBeta2 ?? defaults.adamwBeta2 ?? 0.95),
    adamwEpsilon: checkNumber(owner, 'adamwEpsilon', o.adamwEpsilon ?? defaults.adamwEpsilon ?? 1e-10, positive),
    adamwWeightDecay: checkNumber(owner, 'adamwWeightDecay', o.adamwWeightDecay ?? defaults.adamwWeightDecay ?? 0, nonNegative),
    exclude: o.exclude ?? [],
    paramLabels: o.paramLabels ?? null,
  };
  auxiliaryLearningRate(owner, r);
  if (typeof r.exclude !== 'function' && !Array.isArray(r.exclude)) {
    throw new RangeError(`${owner}: exclude must be a list of strings / RegExps or a function, got ${typeof r.exclude}`);
  }
  if (Array.isArray(r.exclude) && !r.exclude.every((p) => typeof p === 'string' || p instanceof RegExp)) {
    throw new RangeError(`${owner}: exclude must contain only strings and RegExps`);
  }
  if (r.paramLabels !== null && !Array.isArray(r.paramLabels)) {
    throw new RangeError(`${owner}: paramLabels must be a list of 'matrix' / 'adamw', one per parameter, got ${showValue(r.paramLabels)}`);
  }
  if (r.paramLabels !== null && !r.paramLabels.every((l) => l === 'matrix' || l === 'adamw')) {
    throw new RangeError(`${owner}: paramLabels entries must be 'matrix' or 'adamw', got ${JSON.stringify(r.paramLabels)}`);
  }
  return r;
}

/** The route of one parameter: explicit labels, else vectors and excluded matrices → AdamW. */
export function routeOf(aux: Pick<ResolvedAuxiliary, 'exclude' | 'paramLabels'>, meta: ParamMeta, index: number, owner = 'optimizer'): ParamRoute {
  if (aux.paramLabels !== null) {
    const label = aux.paramLabels[index];
    if (label === undefined) {
      throw new RangeError(`${owner}: paramLabels has ${aux.paramLabels.length} entries, but parameter ${index} ('${meta.name}') exists`);
    }
    return label;
  }
  if (meta.shape.length < 2) return 'adamw';
  const excluded = typeof aux.exclude === 'function' ? aux.exclude(meta) : matchesAny(meta.name, aux.exclude);
  return excluded ? 'adamw' : 'matrix';
}

/** The auxiliary AdamW chain (torch AdamW semantics: bias-corrected, ε after the correction, decoupled decay). */
export function auxiliaryAdamw(owner: string, aux: ResolvedAuxiliary): GradientTransformation {
  return chain(
    scaleByAdam({ beta1: aux.adamwBeta1, beta2: aux.adamwBeta2, epsilon: aux.adamwEpsilon, amsgrad: false }),
    addDecayedWeights(aux.adamwWeightDecay),
    scaleByLearningRate(auxiliaryLearningRate(owner, aux)),
  );
}

/**
 * `partition({matrix, adamw})` by {@link routeOf}: the method's matrix chain for hidden matrices, the
 * auxiliary AdamW (or `adamwTransform`, for methods whose auxiliary optimizer differs) for the rest.
 */
export function routeMatrices(
  owner: string,
  matrix: GradientTransformation,
  aux: ResolvedAuxiliary,
  adamwTransform: GradientTransformation = auxiliaryAdamw(owner, aux),
): GradientTransformation {
  return partition({ matrix, adamw: adamwTransform }, (meta, i) => routeOf(aux, meta, i, owner));
}

/** Config entries of the auxiliary options (predicates saved as `paramLabels` by position once known). */
export function auxiliaryToConfig(aux: ResolvedAuxiliary, params: readonly ParamMeta[] | null, owner: string): OptimizerConfig {
  const config: OptimizerConfig = {
    adamwLearningRate: encodeLearningRate(aux.adamwLearningRate),
    adamwBeta1: aux.adamwBeta1,
    adamwBeta2: aux.adamwBeta2,
    adamwEpsilon: aux.adamwEpsilon,
    adamwWeightDecay: aux.adamwWeightDecay,
    exclude: typeof aux.exclude === 'function' ? [] : encodePatterns(aux.exclude),
  };
  const labels =
    aux.paramLabels ??
    (typeof aux.exclude === 'function' && params !== null ? params.map((m, i) => routeOf(aux, m, i, owner)) : null);
  if (labels !== null) config.paramLabels = [...labels] as ConfigValue[];
  return config;
}

/** Options back from {@link auxiliaryToConfig}'s entries. */
export function auxiliaryFromConfig(c: OptimizerConfig): AuxiliaryOptions {
  return {
    adamwLearningRate: decodeLearningRate(c.adamwLearningRate),
    adamwBeta1: c.adamwBeta1 as number | undefined,
    adamwBeta2: c.adamwBeta2 as number | undefined,
    adamwEpsilon: c.adamwEpsilon as number | undefined,
    adamwWeightDecay: c.adamwWeightDecay as number | undefined,
    exclude: decodePatterns(c.exclude),
    paramLabels: (c.paramLabels as ParamRoute[] | undefined) ?? undefined,
  };
}

/** Removes the auxiliary keys from a config (what is left belongs to the method). */
export function withoutAuxiliary(c: OptimizerConfig): OptimizerConfig {
  const rest = { ...c };
  for (const k of auxiliaryKeys) delete rest[k];
  return rest;
}

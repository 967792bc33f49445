/**
 * Routing shared by every orthogonalized optimizer: hidden matrices go to the method's own chain, and
 * vectors, scalars and `exclude`d matrices (embeddings, the output layer, the first conv) go to an
 * auxiliary AdamW, as KellerJordan/Muon's `SingleDeviceMuonWithAuxAdam` does (and NorMuon, Turbo-Muon,
 * ROOT after it). One flat set of `adamw*` options configures that AdamW: {@link auxiliaryOptions}, spread
 * into a recipe's schema.
 * @module
 */
import { chain, partition, type GradientTransformation, type ParamMeta } from '../core/transform.js';
import { showValue } from '../core/options.js';
import { derived, nonNegative, positive, unit, type Default, type OptionsOf, type Option } from '../core/schema.js';
import { scaleByAdam } from '../transforms/adam.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import { type LearningRate } from '../schedules/index.js';
import {
  decayedLearningRate,
  decodePatterns,
  encodePatterns,
  learningRate,
  matchesAny,
  type Inherited,
  type ConfigValue,
  type NamePattern,
  type OptimizerConfig,
} from './definition.js';

/** Where a parameter goes: the method's matrix chain, or the auxiliary AdamW. */
export type ParamRoute = 'matrix' | 'adamw';

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

/** Defaults a method may change (e.g. ROOT's AdamW shares the method's lr: a function of the entries before). */
export interface AuxiliaryDefaults {
  readonly adamwLearningRate?: LearningRate | Inherited;
  readonly adamwBeta1?: number;
  readonly adamwBeta2?: number;
  readonly adamwEpsilon?: number | Inherited;
  readonly adamwWeightDecay?: number | Inherited;
}

/** The auxiliary AdamW's learning rate, bounded by its decoupled decay (see {@link decayBound}). */
export function auxiliaryLearningRate(owner: string, aux: Pick<ResolvedAuxiliary, 'adamwLearningRate' | 'adamwWeightDecay'>) {
  return decayedLearningRate(owner, 'adamwLearningRate', aux.adamwLearningRate, 'adamwWeightDecay', aux.adamwWeightDecay);
}

function inherit(def: number | Inherited): Default<number> {
  return typeof def === 'number' ? def : (r) => r[def.from] as number;
}

function excludeOption(): Option<readonly NamePattern[] | ((meta: ParamMeta) => boolean)> {
  return {
    entry: 'option',
    resolve(value, { owner }) {
      const v = value ?? [];
      if (typeof v !== 'function' && !Array.isArray(v)) {
        throw new RangeError(`${owner}: exclude must be a list of strings / RegExps or a function, got ${typeof v}`);
      }
      if (Array.isArray(v) && !v.every((p) => typeof p === 'string' || p instanceof RegExp)) {
        throw new RangeError(`${owner}: exclude must contain only strings and RegExps`);
      }
      return v as readonly NamePattern[] | ((meta: ParamMeta) => boolean);
    },
    // A predicate cannot be saved: the `aux` entry saves its decisions as paramLabels.
    encode: (v) => (typeof v === 'function' ? [] : encodePatterns(v)),
    decode: (c) => decodePatterns(c),
  };
}

function paramLabelsOption(): Option<readonly ParamRoute[] | null> {
  return {
    entry: 'option',
    resolve(value, { owner }) {
      const v = value ?? null;
      if (v !== null && !Array.isArray(v)) {
        throw new RangeError(`${owner}: paramLabels must be a list of 'matrix' / 'adamw', one per parameter, got ${showValue(v)}`);
      }
      if (v !== null && !v.every((l) => l === 'matrix' || l === 'adamw')) {
        throw new RangeError(`${owner}: paramLabels entries must be 'matrix' or 'adamw', got ${JSON.stringify(v)}`);
      }
      return v as readonly ParamRoute[] | null;
    },
    encode: (v) => (v === null ? undefined : ([...v] as ConfigValue[])),
  };
}

/**
 * The auxiliary-AdamW and routing options every orthogonalized optimizer accepts, with the method's
 * defaults; `aux` collects them (and checks the AdamW's learning rate against its decay).
 */
export function auxiliaryOptions(defaults: AuxiliaryDefaults = {}) {
  return {
    /** Learning rate of the AdamW parameters (default 3e-4 unless the method says otherwise). */
    adamwLearningRate: learningRate(defaults.adamwLearningRate ?? 3e-4),
    /** AdamW β₁ in [0, 1) (default 0.9 unless the method says otherwise). */
    adamwBeta1: unit(defaults.adamwBeta1 ?? 0.9),
    /** AdamW β₂ in [0, 1) (default 0.95). */
    adamwBeta2: unit(defaults.adamwBeta2 ?? 0.95),
    /** AdamW ε, added to `√v̂` (default 1e-10, as KellerJordan/Muon's auxiliary Adam, unless the method says otherwise). */
    adamwEpsilon: positive(inherit(defaults.adamwEpsilon ?? 1e-10)),
    /** AdamW decoupled weight decay (default 0 unless the method says otherwise). */
    adamwWeightDecay: nonNegative(inherit(defaults.adamwWeightDecay ?? 0)),
    /**
     * Matrices to send to AdamW instead of the matrix chain: name patterns (a string matches as a substring
     * of the variable name, a RegExp by `test`) or a predicate. Embeddings, the output layer and the first
     * conv layer belong here (KellerJordan/Muon README); `adamwParamNames(model)` lists them for a layers
     * model. Vectors and scalars always go to AdamW.
     */
    exclude: excludeOption(),
    /** Explicit route per parameter position (overrides `exclude`); saved configs record predicates this way. */
    paramLabels: paramLabelsOption(),
    aux: derived(
      (r, owner): ResolvedAuxiliary => {
        const aux = r as unknown as ResolvedAuxiliary;
        auxiliaryLearningRate(owner, aux);
        return {
          adamwLearningRate: aux.adamwLearningRate,
          adamwBeta1: aux.adamwBeta1,
          adamwBeta2: aux.adamwBeta2,
          adamwEpsilon: aux.adamwEpsilon,
          adamwWeightDecay: aux.adamwWeightDecay,
          exclude: aux.exclude,
          paramLabels: aux.paramLabels,
        };
      },
      (aux, params, owner): OptimizerConfig =>
        aux.paramLabels === null && typeof aux.exclude === 'function' && params !== null
          ? { paramLabels: params.map((m, i) => routeOf(aux, m, i, owner)) }
          : {},
    ),
  };
}

/** The auxiliary-AdamW and routing options every orthogonalized optimizer accepts. */
export interface AuxiliaryOptions extends OptionsOf<ReturnType<typeof auxiliaryOptions>> {}

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


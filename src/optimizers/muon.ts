/**
 * Muon: momentum → Newton–Schulz orthogonalization → shape scale, for hidden matrices; AdamW for
 * everything else.
 * @module
 */
import { chain, partition, type ParamMeta } from '../core/transform.js';
import { checkBoolean, checkChoice, checkNumber, nonNegative, positive } from '../core/options.js';
import { emaMomentum } from '../transforms/momentum.js';
import { scaleByAdam } from '../transforms/adam.js';
import { orthogonalize, scaleByShape, type ConvScale, type ShapeRule } from '../transforms/orthogonalize.js';
import { addDecayedWeights } from '../transforms/decay.js';
import { scaleByLearningRate } from '../transforms/stepsize.js';
import { resolveNewtonSchulz, type ResolvedNewtonSchulz } from '../linalg/newtonSchulz.js';
import type { CoefficientPreset, QuinticCoefficients } from '../linalg/coefficients.js';
import { asSchedule, type LearningRate } from '../schedules/index.js';
import {
  checkUnit,
  decodeLearningRate,
  decodePatterns,
  encodeLearningRate,
  encodePatterns,
  matchesAny,
  type ConfigValue,
  type NamePattern,
  type OptimizerConfig,
  type OptimizerDefinition,
} from './definition.js';
import { defineOptimizer } from '../tfjs/registry.js';

/** Which transform a parameter goes to. */
export type MuonLabel = 'muon' | 'adamw';

/** Options of {@link muon}. Defaults follow KellerJordan/Muon `SingleDeviceMuonWithAuxAdam`. */
export interface MuonOptions {
  /** Learning rate of the Muon matrices, in units of spectral norm per step (default 0.02). */
  readonly learningRate?: LearningRate;
  /** EMA momentum β in [0, 1) (default 0.95). */
  readonly momentum?: number;
  /** Nesterov look-ahead `(1−β)G + βM` (default true, as the reference). */
  readonly nesterov?: boolean;
  /** Newton–Schulz coefficients: `'jordan'` (default), `'you'`, `'polarExpress5'`, `'polarExpress8'`, or rows. */
  readonly coefficients?: CoefficientPreset | readonly QuinticCoefficients[];
  /** Newton–Schulz steps (default: the table's, 5 for Jordan). */
  readonly nsSteps?: number;
  /** Newton–Schulz normalization epsilon (default: the table's, 1e-7 for Jordan). */
  readonly nsEpsilon?: number;
  /**
   * Shape scale of the orthogonalized update (spec §1.3): `'jordan'` `max(1, fanOut/fanIn)^½` (default),
   * `'moonlight'` `rms·√max(fanIn, fanOut)`, `'spectral'` `√(fanOut/fanIn)`, `'none'`.
   */
  readonly scaleRule?: ShapeRule;
  /** Target RMS of the `'moonlight'` rule (default 0.2). */
  readonly rms?: number;
  /**
   * Fan-in/out of conv kernels for the `'jordan'` rule: `'flattened'` (default, from `[kh·kw·in, out]`) or
   * `'kernel'` (the reference's `kh/kw` bug, for exact replays only).
   */
  readonly convScale?: ConvScale;
  /** Decoupled weight decay of the Muon matrices, multiplied by the base learning rate (default 0). */
  readonly weightDecay?: number;
  /** Learning rate of the AdamW parameters (default 3e-4). */
  readonly adamwLearningRate?: LearningRate;
  /** AdamW β₁ (default 0.9). */
  readonly adamwBeta1?: number;
  /** AdamW β₂ (default 0.95). */
  readonly adamwBeta2?: number;
  /** AdamW ε (default 1e-10, as the reference's auxiliary Adam). */
  readonly adamwEpsilon?: number;
  /** AdamW decoupled weight decay (default 0). */
  readonly adamwWeightDecay?: number;
  /**
   * Matrices to send to AdamW instead of Muon: name patterns (a string matches as a substring of the
   * variable name, a RegExp by `test`) or a predicate. Embeddings, the output layer and the first conv
   * layer belong here (KellerJordan/Muon README); `adamwParamNames(model)` lists them for a layers model.
   * Vectors and scalars always go to AdamW.
   */
  readonly exclude?: readonly NamePattern[] | ((meta: ParamMeta) => boolean);
  /** Explicit label per parameter position (overrides `exclude`); written to saved configs for predicates. */
  readonly paramLabels?: readonly MuonLabel[];
}

/** {@link MuonOptions} with every default filled in. */
export interface ResolvedMuon {
  readonly learningRate: LearningRate;
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly coefficients: CoefficientPreset | readonly QuinticCoefficients[];
  readonly ns: ResolvedNewtonSchulz;
  readonly scaleRule: ShapeRule;
  readonly rms: number;
  readonly convScale: ConvScale;
  readonly weightDecay: number;
  readonly adamwLearningRate: LearningRate;
  readonly adamwBeta1: number;
  readonly adamwBeta2: number;
  readonly adamwEpsilon: number;
  readonly adamwWeightDecay: number;
  readonly exclude: readonly NamePattern[] | ((meta: ParamMeta) => boolean);
  readonly paramLabels: readonly MuonLabel[] | null;
}

const NAME = 'muon';

/** The label rule of {@link muon}: explicit labels, else vectors and excluded matrices → AdamW. */
export function muonLabel(r: Pick<ResolvedMuon, 'exclude' | 'paramLabels'>, meta: ParamMeta, index: number): MuonLabel {
  if (r.paramLabels !== null) {
    const label = r.paramLabels[index];
    if (label === undefined) {
      throw new RangeError(`${NAME}: paramLabels has ${r.paramLabels.length} entries, but parameter ${index} ('${meta.name}') exists`);
    }
    return label;
  }
  if (meta.shape.length < 2) return 'adamw';
  const excluded = typeof r.exclude === 'function' ? r.exclude(meta) : matchesAny(meta.name, r.exclude);
  return excluded ? 'adamw' : 'muon';
}

/** The definition behind {@link muon}. */
export const muonDefinition: OptimizerDefinition<MuonOptions, ResolvedMuon> = {
  name: NAME,
  className: 'orthoptim.Muon',
  summary: 'Muon: EMA momentum, Newton–Schulz orthogonalization, shape scale; AdamW for non-matrices',
  paper: 'Jordan et al., "Muon: An optimizer for hidden layers in neural networks" (2024)',
  reference: 'KellerJordan/Muon@857d1adc:muon.py#SingleDeviceMuonWithAuxAdam',
  keys: [
    'learningRate', 'momentum', 'nesterov', 'coefficients', 'nsSteps', 'nsEpsilon', 'scaleRule', 'rms',
    'convScale', 'weightDecay', 'adamwLearningRate', 'adamwBeta1', 'adamwBeta2', 'adamwEpsilon',
    'adamwWeightDecay', 'exclude', 'paramLabels',
  ],
  resolve(o) {
    const coefficients = o.coefficients ?? 'jordan';
    const r: ResolvedMuon = {
      learningRate: o.learningRate ?? 0.02,
      momentum: checkUnit(NAME, 'momentum', o.momentum ?? 0.95),
      nesterov: checkBoolean(NAME, 'nesterov', o.nesterov ?? true),
      coefficients,
      ns: resolveNewtonSchulz({ coefficients, steps: o.nsSteps, eps: o.nsEpsilon }, NAME),
      scaleRule: checkChoice(NAME, 'scaleRule', o.scaleRule ?? 'jordan', ['jordan', 'moonlight', 'spectral', 'none'] as const),
      rms: checkNumber(NAME, 'rms', o.rms ?? 0.2, positive),
      convScale: checkChoice(NAME, 'convScale', o.convScale ?? 'flattened', ['flattened', 'kernel'] as const),
      weightDecay: checkNumber(NAME, 'weightDecay', o.weightDecay ?? 0, nonNegative),
      adamwLearningRate: o.adamwLearningRate ?? 3e-4,
      adamwBeta1: checkUnit(NAME, 'adamwBeta1', o.adamwBeta1 ?? 0.9),
      adamwBeta2: checkUnit(NAME, 'adamwBeta2', o.adamwBeta2 ?? 0.95),
      adamwEpsilon: checkNumber(NAME, 'adamwEpsilon', o.adamwEpsilon ?? 1e-10, positive),
      adamwWeightDecay: checkNumber(NAME, 'adamwWeightDecay', o.adamwWeightDecay ?? 0, nonNegative),
      exclude: o.exclude ?? [],
      paramLabels: o.paramLabels ?? null,
    };
    asSchedule(r.learningRate, NAME, 'learningRate');
    asSchedule(r.adamwLearningRate, NAME, 'adamwLearningRate');
    if (typeof r.exclude !== 'function' && !Array.isArray(r.exclude)) {
      throw new RangeError(`${NAME}: exclude must be a list of strings / RegExps or a function, got ${typeof r.exclude}`);
    }
    if (Array.isArray(r.exclude) && !r.exclude.every((p) => typeof p === 'string' || p instanceof RegExp)) {
      throw new RangeError(`${NAME}: exclude must contain only strings and RegExps`);
    }
    if (r.paramLabels !== null && !r.paramLabels.every((l) => l === 'muon' || l === 'adamw')) {
      throw new RangeError(`${NAME}: paramLabels entries must be 'muon' or 'adamw', got ${JSON.stringify(r.paramLabels)}`);
    }
    return r;
  },
  build(r) {
    const muonChain = chain(
      emaMomentum({ beta: r.momentum, nesterov: r.nesterov }),
      orthogonalize(r.ns, NAME),
      scaleByShape(r.scaleRule, { rms: r.rms, convScale: r.convScale }),
      addDecayedWeights(r.weightDecay),
      scaleByLearningRate(asSchedule(r.learningRate, NAME, 'learningRate')),
    );
    const adamwChain = chain(
      scaleByAdam({ beta1: r.adamwBeta1, beta2: r.adamwBeta2, epsilon: r.adamwEpsilon, amsgrad: false }),
      addDecayedWeights(r.adamwWeightDecay),
      scaleByLearningRate(asSchedule(r.adamwLearningRate, NAME, 'adamwLearningRate')),
    );
    return partition({ muon: muonChain, adamw: adamwChain }, (meta, i) => muonLabel(r, meta, i));
  },
  toConfig(r, params) {
    const { ns: _ns, exclude, paramLabels, ...rest } = r;
    const config: OptimizerConfig = {
      ...(rest as unknown as OptimizerConfig),
      coefficients: r.coefficients as unknown as ConfigValue,
      nsSteps: r.ns.steps,
      nsEpsilon: r.ns.eps,
      learningRate: encodeLearningRate(r.learningRate),
      adamwLearningRate: encodeLearningRate(r.adamwLearningRate),
      exclude: typeof exclude === 'function' ? [] : encodePatterns(exclude),
    };
    // A predicate cannot be saved: record what it decided, by position.
    const labels =
      paramLabels ?? (typeof exclude === 'function' && params !== null ? params.map((m, i) => muonLabel(r, m, i)) : null);
    if (labels !== null) config.paramLabels = [...labels];
    return config;
  },
  fromConfig(c) {
    return {
      ...(c as unknown as MuonOptions),
      learningRate: decodeLearningRate(c.learningRate),
      adamwLearningRate: decodeLearningRate(c.adamwLearningRate),
      exclude: decodePatterns(c.exclude),
      paramLabels: (c.paramLabels as MuonLabel[] | undefined) ?? undefined,
    };
  },
};

/**
 * Muon (Jordan et al. 2024; KellerJordan/Muon `muon.py`, `SingleDeviceMuonWithAuxAdam`). For each
 * matrix (conv kernels flattened to `[kh·kw·in, out]`):
 * `M ← βM + (1−β)G`; `U = (1−β)G + βM` (Nesterov) or `M`; `O = NS₅(U)`;
 * `W ← W − η·(s·O + λW)` with the shape scale `s = max(1, fanOut/fanIn)^½`.
 * Vectors, scalars and `exclude`d matrices get AdamW (`adamw*` options; defaults lr 3e-4, betas
 * (0.9, 0.95), ε 1e-10, as the reference's auxiliary Adam).
 *
 * Differences from the reference, on purpose: Newton–Schulz runs in float32 (the reference: bfloat16);
 * the conv shape scale reads the flattened matrix (the reference reads `kh/kw`; `convScale: 'kernel'`
 * restores it). State: one momentum buffer per matrix; m and v per AdamW parameter.
 *
 * @example
 * model.compile({ optimizer: muon({ learningRate: 0.02, exclude: adamwParamNames(model) }), loss: 'categoricalCrossentropy' });
 */
export const muon = defineOptimizer(muonDefinition);

/**
 * Orthogonal fine-tuning adapters as tfjs-layers layers: {@link HraDense} (Householder reflection
 * adaptation) and {@link Oftv2Dense} (block-diagonal Cayley–Neumann orthogonal fine-tuning) each hold a
 * **frozen** copy of a Dense layer's kernel and bias (non-trainable weights) and a small trainable
 * adapter, and compute `activation(x · (M·K) + b)` with `M` orthogonal (HRA exactly, OFTv2 up to the
 * Neumann truncation): the adapted kernel keeps the frozen kernel's singular values and the angles
 * between its output neurons. The math is `nn/adapters.ts` (papers and reference files there):
 *
 * | layer | adapter | trainable parameters | reference |
 * |---|---|---|---|
 * | {@link HraDense} (`hraDense`) | `U ∈ R^{d×r}`, `M = H_r⋯H_1` | `d·r` | huggingface/peft `tuners/hra/layer.py` `HRALinear` |
 * | {@link Oftv2Dense} (`oftv2Dense`) | packed skew blocks, `M = diag(R_k)` | `(d/b)·b(b−1)/2` | huggingface/peft `tuners/oft/layer.py` `Linear` |
 *
 * Both layers form the adapted kernel once per call (`O(d·fanOut·r)` or `O(d·fanOut·b)`, independent of
 * the batch) rather than rotating the activations: PEFT's HRA forward does the same, and the result is
 * what merging writes ({@link HraDense.adaptedKernel}). Both are registered with
 * `tf.serialization.registerClass` (class names `orthoptim.HraDense`, `orthoptim.Oftv2Dense`), so a
 * model that holds them round-trips through `model.save` / `tf.loadLayersModel` (the frozen kernel and
 * bias travel as weights, not in the config).
 *
 * This module imports `@tensorflow/tfjs-layers` (a layer must extend its `Layer`), so it is not part of
 * the main entry, where tfjs-layers stays an optional peer dependency; import it from its own entry.
 * Conv2D is not wrapped yet: `hraKernel`/`oftKernel` already adapt conv kernels.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { checkKnownKeys } from '../core/options.js';
import { boolean, choice, integer, nonNegative, nullableNumber, option, resolveSchema, schemaKeys, type OptionsOf, type ResolvedOf, type Schema } from '../core/schema.js';
import {
  hraInitialVectors,
  hraKernel,
  hraOrthogonality,
  oftBlocks,
  oftInitialParameters,
  oftKernel,
} from '../nn/adapters.js';

/** tfjs-layers' `LayerArgs` (name, inputShape, trainable, …), which its package does not export by name. */
export type AdapterLayerArgs = NonNullable<ConstructorParameters<typeof tfl.layers.Layer>[0]>;
const layerArgKeys = ['inputShape', 'batchInputShape', 'batchSize', 'dtype', 'name', 'trainable', 'weights', 'inputDType'];

/** What both adapter layers take besides their adapter's options: the frozen Dense layer's shape and values. */
export interface FrozenDenseArgs extends AdapterLayerArgs {
  /** Output units of the frozen Dense layer. */
  readonly units: number;
  /** The frozen layer's activation identifier (`'linear'`, `'relu'`, `'softmax'`, …; default `'linear'`). */
  readonly activation?: string;
  /** Whether the frozen layer has a bias (default true). */
  readonly useBias?: boolean;
  /**
   * The frozen kernel `[d, units]`, copied at construction (a reloaded layer gets it from the saved
   * weights instead). Absent: zeros until weights are set.
   */
  readonly kernel?: tf.Tensor;
  /** The frozen bias `[units]`, copied at construction. */
  readonly bias?: tf.Tensor | null;
}

const frozenSchema = {
  units: integer(1, 1),
  activation: option<string>('linear', (owner, _key, v) => checkActivation(owner, v)),
  useBias: boolean(true),
};

function checkActivation(owner: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new RangeError(`${owner}: activation must be an activation identifier string, got ${JSON.stringify(value)}`);
  }
  return value;
}

const hraLayerSchema = {
  ...frozenSchema,
  /** Reflections r (PEFT default 8). */
  rank: integer(8, 1),
  /** PEFT `apply_GS`. */
  gramSchmidt: boolean(false),
  /** `'identity'` (paired columns, the adapter starts as the identity; r even) or `'random'`. */
  init: choice(['identity', 'random'] as const, 'identity'),
  /** Seed of the initial reflection vectors. */
  seed: integer(0, 0),
  /** λ of the reflection-plane penalty `λ‖I − ÛᵀÛ‖²_F` added to the model's loss (0: off; the authors' LLaMA run: 1e-4). */
  orthogonalityWeight: nonNegative(0),
};
/** Options of {@link HraDense} besides the frozen layer's. */
export interface HraDenseOptions extends Omit<OptionsOf<typeof hraLayerSchema>, 'units' | 'activation' | 'useBias'> {}
/** Arguments of the {@link HraDense} constructor. */
export interface HraDenseArgs extends FrozenDenseArgs, HraDenseOptions {}

const oftLayerSchema = {
  ...frozenSchema,
  /** Block size b (PEFT default 32); must divide the input dimension. */
  blockSize: nullableNumber({ min: 2, integer: true }),
  /** Number of blocks (PEFT's `r`), instead of `blockSize`. */
  blocks: nullableNumber({ min: 1, integer: true }),
  /** Neumann terms (PEFT default 5). */
  neumannTerms: integer(5, 1),
  /** One shared rotation block (PEFT `block_share`). */
  blockShare: boolean(false),
  /** `'zeros'` (R = I exactly at start, PEFT's default) or `'random'` (normal, std 0.1). */
  init: choice(['zeros', 'random'] as const, 'zeros'),
  /** Seed of the `'random'` init. */
  seed: integer(0, 0),
};
/** Options of {@link Oftv2Dense} besides the frozen layer's. */
export interface Oftv2DenseOptions extends Omit<OptionsOf<typeof oftLayerSchema>, 'units' | 'activation' | 'useBias'> {}
/** Arguments of the {@link Oftv2Dense} constructor. */
export interface Oftv2DenseArgs extends FrozenDenseArgs, Oftv2DenseOptions {}

function resolveLayer<S extends Schema>(owner: string, schema: S, args: object): ResolvedOf<S> {
  if (args === undefined || args === null || typeof args !== 'object') throw new TypeError(`${owner}: arguments must be an object, got ${typeof args}`);
  checkKnownKeys(owner, args, [...schemaKeys(schema), 'kernel', 'bias', ...layerArgKeys, 'customObjects']);
  if ((args as { units?: unknown }).units === undefined) throw new RangeError(`${owner}: units is required (the frozen Dense layer's output units)`);
  return resolveSchema(owner, schema, args);
}

/** Counters of the default layer names (`hra_dense_<n>`, `oftv2_dense_<n>`), one per layer kind. */
const adapterNames = [0, 0];

/** The part of both layers that holds the frozen Dense: weights, call, config. */
abstract class FrozenDenseAdapter extends tfl.layers.Layer {
  readonly units: number;
  readonly activation: string;
  readonly useBias: boolean;
  private readonly activationLayer: tfl.layers.Layer;
  private initialKernel: tf.Tensor | null;
  private initialBias: tf.Tensor | null;
  protected frozenKernel: tfl.LayerVariable | null = null;
  protected frozenBias: tfl.LayerVariable | null = null;

  constructor(owner: string, resolved: { units: number; activation: string; useBias: boolean }, args: FrozenDenseArgs) {
    const layerArgs: Record<string, unknown> = {};
    for (const k of layerArgKeys) if ((args as unknown as Record<string, unknown>)[k] !== undefined) layerArgs[k] = (args as unknown as Record<string, unknown>)[k];
    // tfjs-layers names a layer from its class name ('orthoptim.HraDense' → 'orthoptim._hra_dense_…');
    // a plain `hra_dense_1`, `oftv2_dense_1`, … reads as the stock layers' names do.
    layerArgs.name ??= `${owner === 'hraDense' ? 'hra_dense' : 'oftv2_dense'}_${++adapterNames[owner === 'hraDense' ? 0 : 1]}`;
    super(layerArgs as AdapterLayerArgs);
    this.units = resolved.units;
    this.activation = resolved.activation;
    this.useBias = resolved.useBias;
    this.activationLayer = tfl.layers.activation({ activation: this.activation as never });
    const { kernel, bias } = args;
    if (kernel !== undefined && (kernel.rank !== 2 || kernel.shape[1] !== this.units)) {
      throw new RangeError(`${owner}: kernel must be [d, units = ${this.units}], got shape [${kernel.shape.join(', ')}]`);
    }
    if (bias !== undefined && bias !== null) {
      if (!this.useBias) throw new RangeError(`${owner}: a bias was given but useBias is false`);
      if (bias.rank !== 1 || bias.shape[0] !== this.units) throw new RangeError(`${owner}: bias must be [units = ${this.units}], got shape [${bias.shape.join(', ')}]`);
    }
    this.initialKernel = kernel === undefined ? null : tf.keep(tf.clone(kernel));
    this.initialBias = bias === undefined || bias === null ? null : tf.keep(tf.clone(bias));
    this.supportsMasking = true;
  }

  /** Adds the frozen kernel/bias (non-trainable) for input dimension `d` and writes the copied values. */
  protected buildFrozen(owner: string, d: number): void {
    if (this.initialKernel !== null && this.initialKernel.shape[0] !== d) {
      throw new RangeError(`${owner}: the frozen kernel has ${this.initialKernel.shape[0]} input rows but the input has ${d} features`);
    }
    this.frozenKernel = this.addWeight('kernel', [d, this.units], 'float32', tfl.initializers.zeros(), undefined, false);
    if (this.useBias) this.frozenBias = this.addWeight('bias', [this.units], 'float32', tfl.initializers.zeros(), undefined, false);
    if (this.initialKernel !== null) this.frozenKernel.write(this.initialKernel);
    if (this.initialBias !== null && this.frozenBias !== null) this.frozenBias.write(this.initialBias);
    tf.dispose([this.initialKernel, this.initialBias].filter((t): t is tf.Tensor => t !== null));
    this.initialKernel = null;
    this.initialBias = null;
  }

  /** The adapted kernel `M·K` (`[d, units]`), a new tensor: what a merge writes into a plain Dense layer. */
  abstract adaptedKernel(): tf.Tensor;

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    return [...s.slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const d = x.shape[x.rank - 1];
      const k = this.adaptedKernel();
      let y: tf.Tensor = tf.matMul(tf.reshape(x, [-1, d]), k);
      if (this.frozenBias !== null) y = tf.add(y, this.frozenBias.read());
      y = tf.reshape(y, [...x.shape.slice(0, -1), this.units]);
      return this.activationLayer.apply(y) as tf.Tensor;
    });
  }

  protected frozenConfig(): tf.serialization.ConfigDict {
    return { units: this.units, activation: this.activation, useBias: this.useBias };
  }

  override dispose(): ReturnType<tfl.layers.Layer['dispose']> {
    tf.dispose([this.initialKernel, this.initialBias].filter((t): t is tf.Tensor => t !== null));
    this.initialKernel = null;
    this.initialBias = null;
    return super.dispose();
  }
}

function inputDim(owner: string, inputShape: tfl.Shape | tfl.Shape[]): number {
  const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
  const d = s[s.length - 1];
  if (typeof d !== 'number' || d < 1) throw new RangeError(`${owner}: the last input dimension must be known, got shape [${s.join(', ')}]`);
  return d;
}

/**
 * A frozen Dense layer adapted by HRA: `y = activation(x · H_r⋯H_1·K + b)`, `H_i = I − 2û_iû_iᵀ`, with
 * only `U ∈ R^{d×r}` trainable (`d·r` parameters). PEFT `HRALinear` defaults: r = 8, no Gram–Schmidt,
 * the paired identity init. With `orthogonalityWeight` λ > 0 the layer adds `λ‖I − ÛᵀÛ‖²_F` to the
 * model's loss (the paper's regularizer; its exact site in the authors' code is unconfirmed).
 */
export class HraDense extends FrozenDenseAdapter {
  /** @nocollapse */
  static readonly className = 'orthoptim.HraDense';
  readonly options: Readonly<Omit<ResolvedOf<typeof hraLayerSchema>, 'units' | 'activation' | 'useBias'>>;
  private u: tfl.LayerVariable | null = null;

  constructor(args: HraDenseArgs) {
    const owner = 'hraDense';
    const r = resolveLayer(owner, hraLayerSchema, args);
    super(owner, r, args);
    const { units: _u, activation: _a, useBias: _b, ...options } = r;
    this.options = options;
    if (options.init === 'identity' && options.rank % 2 !== 0) {
      throw new RangeError(`${owner}: the identity init pairs equal reflections, so rank must be even, got ${options.rank} (use init 'random')`);
    }
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const owner = 'hraDense';
    const d = inputDim(owner, inputShape);
    const { rank, init, seed, orthogonalityWeight } = this.options;
    if (rank > d) throw new RangeError(`${owner}: rank ${rank} exceeds the input dimension ${d}`);
    this.buildFrozen(owner, d);
    const u = this.addWeight('hra_u', [d, rank], 'float32', tfl.initializers.zeros(), undefined, true);
    tf.tidy(() => {
      u.write(tf.tensor2d(hraInitialVectors(d, rank, init, seed), [d, rank]));
    });
    this.u = u;
    if (orthogonalityWeight > 0) {
      this.addLoss(() => tf.tidy(() => tf.mul(hraOrthogonality(u.read() as tf.Tensor2D), orthogonalityWeight)));
    }
    this.built = true;
  }

  adaptedKernel(): tf.Tensor {
    if (this.u === null || this.frozenKernel === null) throw new Error(`hraDense: layer '${this.name}' is not built yet`);
    return hraKernel(this.frozenKernel.read(), this.u.read() as tf.Tensor2D, { gramSchmidt: this.options.gramSchmidt });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.frozenConfig(), ...this.options, ...super.getConfig() };
  }
}

/**
 * A frozen Dense layer adapted by OFTv2: `y = activation(x · diag(R_1…R_k)·K + b)`, each `R` the
 * Cayley–Neumann rotation of a skew-symmetric block, with only the packed upper triangles trainable
 * (`k·b(b−1)/2` parameters; `b(b−1)/2` with `blockShare`). PEFT `OFTConfig` defaults: b = 32, 5 Neumann
 * terms, zero init (R = I exactly, so the layer starts bit-identical to the frozen Dense).
 */
export class Oftv2Dense extends FrozenDenseAdapter {
  /** @nocollapse */
  static readonly className = 'orthoptim.Oftv2Dense';
  readonly options: Readonly<Omit<ResolvedOf<typeof oftLayerSchema>, 'units' | 'activation' | 'useBias'>>;
  private q: tfl.LayerVariable | null = null;
  private layout: { blocks: number; blockSize: number } | null = null;

  constructor(args: Oftv2DenseArgs) {
    const owner = 'oftv2Dense';
    const r = resolveLayer(owner, oftLayerSchema, args);
    super(owner, r, args);
    const { units: _u, activation: _a, useBias: _b, ...options } = r;
    this.options = options;
    const k = args.kernel;
    if (k !== undefined) oftBlocks(k.shape[0], options, owner);
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const owner = 'oftv2Dense';
    const d = inputDim(owner, inputShape);
    const layout = oftBlocks(d, this.options, owner);
    this.buildFrozen(owner, d);
    const rows = this.options.blockShare ? 1 : layout.blocks;
    const n = (layout.blockSize * (layout.blockSize - 1)) / 2;
    const q = this.addWeight('oft_q', [rows, n], 'float32', tfl.initializers.zeros(), undefined, true);
    if (this.options.init === 'random') {
      tf.tidy(() => {
        q.write(tf.tensor2d(oftInitialParameters(rows, layout.blockSize, 'random', this.options.seed), [rows, n]));
      });
    }
    this.q = q;
    this.layout = layout;
    this.built = true;
  }

  adaptedKernel(): tf.Tensor {
    if (this.q === null || this.frozenKernel === null || this.layout === null) throw new Error(`oftv2Dense: layer '${this.name}' is not built yet`);
    const { neumannTerms, blockShare } = this.options;
    return oftKernel(this.frozenKernel.read(), this.q.read() as tf.Tensor2D, { blockSize: this.layout.blockSize, neumannTerms, blockShare });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.frozenConfig(), ...this.options, ...super.getConfig() };
  }
}

tf.serialization.registerClass(HraDense);
tf.serialization.registerClass(Oftv2Dense);

/** The parts of a built tfjs-layers Dense layer the factories read. */
interface DenseLike {
  readonly name: string;
  getClassName(): string;
  getConfig(): tf.serialization.ConfigDict;
  getWeights(): tf.Tensor[];
  readonly built: boolean;
}

function frozenFrom(owner: string, dense: DenseLike): FrozenDenseArgs {
  if (dense === null || typeof dense !== 'object' || typeof dense.getClassName !== 'function' || dense.getClassName() !== 'Dense') {
    throw new TypeError(`${owner}: expected a tfjs-layers Dense layer, got ${dense === null || typeof dense !== 'object' ? String(dense) : typeof dense.getClassName === 'function' ? dense.getClassName() : typeof dense}`);
  }
  if (!dense.built) throw new RangeError(`${owner}: the Dense layer '${dense.name}' is not built (it has no kernel yet): build or apply it first`);
  const config = dense.getConfig();
  const [kernel, bias] = dense.getWeights();
  const activation = typeof config.activation === 'string' ? config.activation : 'linear';
  return { units: config.units as number, activation, useBias: config.useBias !== false, kernel, bias: config.useBias === false ? null : bias };
}

/**
 * An {@link HraDense} wrapping a copy of a built Dense layer (its kernel, bias and activation; the
 * original is left untouched). Pass layer arguments (`name`, `inputShape`, …) with the options.
 * @example
 * const adapted = tfl.sequential({ layers: [hraDense(pretrained.layers[0], { rank: 8, inputShape: [784] }), ...] });
 */
export function hraDense(dense: DenseLike, options: HraDenseOptions & AdapterLayerArgs = {}): HraDense {
  return new HraDense({ ...frozenFrom('hraDense', dense), ...options });
}

/**
 * An {@link Oftv2Dense} wrapping a copy of a built Dense layer.
 * @example
 * oftv2Dense(pretrained.layers[0], { blockSize: 16, inputShape: [784] });
 */
export function oftv2Dense(dense: DenseLike, options: Oftv2DenseOptions & AdapterLayerArgs = {}): Oftv2Dense {
  return new Oftv2Dense({ ...frozenFrom('oftv2Dense', dense), ...options });
}

/**
 * A plain, built Dense layer holding the merged kernel `M·K` and the frozen bias of an adapter layer
 * (PEFT's `merge`): the same outputs without the adapter's per-call cost, for inference or export.
 * All its weights are trainable again, as in any new Dense layer.
 * @example
 * const deployed = tfl.sequential({ layers: [mergeAdapter(adapted.layers[0] as HraDense, { inputShape: [784] }), ...] });
 */
export function mergeAdapter(layer: HraDense | Oftv2Dense, args: AdapterLayerArgs = {}): tfl.layers.Layer {
  if (!(layer instanceof FrozenDenseAdapter)) throw new TypeError('mergeAdapter: expected an HraDense or Oftv2Dense layer');
  const kernel = layer.adaptedKernel();
  const d = kernel.shape[0];
  const dense = tfl.layers.dense({ units: layer.units, activation: layer.activation as never, useBias: layer.useBias, ...args });
  dense.build([null, d]);
  const bias = layer.useBias ? [layer.getWeights()[2]] : [];
  dense.setWeights([kernel, ...bias]);
  kernel.dispose();
  return dense;
}

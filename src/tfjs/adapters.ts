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
 * | {@link HraConv2D} (`hraConv2D`) | as HraDense, `d = in·kh·kw` | `d·r` | huggingface/peft `tuners/hra/layer.py` `HRAConv2d` |
 * | {@link Oftv2Conv2D} (`oftv2Conv2D`) | as Oftv2Dense, `d = in·kh·kw` | `(d/b)·b(b−1)/2` | huggingface/peft `tuners/oft/layer.py` `Conv2d` |
 *
 * The conv adapters act, as PEFT's do, on the kernel flattened to `[in·kh·kw, out]` with its rows in
 * PyTorch's `(in, kh, kw)` order (`convKernelRows`): HRA reflects that side (PEFT `HRAConv2d`: `W·H` on
 * `weight.view(out, in·kh·kw)`), OFTv2's blocks are runs of `b` consecutive rows in that order (PEFT
 * `Conv2d.merge`: `R·Wᵀ` on the same view), so PEFT's `hra_u` / `oft_R.weight` of a Conv2d carry over as
 * they are. Both convolve with the adapted kernel, i.e. compute what PEFT's merged layer computes. (PEFT's
 * unmerged OFT Conv2d forward instead rotates unfolded stride-1 patches and folds them back, summing
 * overlapping patches; that is not its merged layer's output when patches overlap, and it refuses
 * dilation > 1. Here merged and unmerged agree, for any stride, padding and dilation.)
 *
 * All four form the adapted kernel once per call (`O(d·fanOut·r)` or `O(d·fanOut·b)`, independent of
 * the batch) rather than rotating the activations: PEFT's HRA forward does the same, and the result is
 * what merging writes ({@link HraDense.adaptedKernel}). All are registered with
 * `tf.serialization.registerClass` (class names `orthoptim.HraDense`, `orthoptim.Oftv2Dense`,
 * `orthoptim.HraConv2D`, `orthoptim.Oftv2Conv2D`), so a model that holds them round-trips through
 * `model.save` / `tf.loadLayersModel` (the frozen kernel and bias travel as weights, not in the config).
 *
 * This module imports `@tensorflow/tfjs-layers` (a layer must extend its `Layer`), so it is not part of
 * the main entry, where tfjs-layers stays an optional peer dependency; import it from its own entry.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { checkKnownKeys } from '../core/options.js';
import { boolean, choice, integer, nonNegative, nullableNumber, option, resolveSchema, schemaKeys, type OptionsOf, type ResolvedOf, type Schema } from '../core/schema.js';
import {
  convKernelFromRows,
  convKernelRows,
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

/** What both Dense adapter layers take besides their adapter's options: the frozen Dense layer's shape and values. */
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

/** What both Conv2D adapter layers take besides their adapter's options: the frozen Conv2D layer's shape and values. */
export interface FrozenConv2DArgs extends AdapterLayerArgs {
  /** Output channels of the frozen Conv2D layer. */
  readonly filters: number;
  /** `kh` (square) or `[kh, kw]`. */
  readonly kernelSize: number | readonly number[];
  /** Strides, one number or `[sh, sw]` (default 1). */
  readonly strides?: number | readonly number[];
  /** `'valid'` (default) or `'same'`. */
  readonly padding?: 'valid' | 'same';
  /** Only `'channelsLast'` (NHWC, the default). */
  readonly dataFormat?: 'channelsLast';
  /** Dilation, one number or `[dh, dw]` (default 1; strides and dilation cannot both exceed 1, as in TensorFlow.js). */
  readonly dilationRate?: number | readonly number[];
  /** The frozen layer's activation identifier (default `'linear'`). */
  readonly activation?: string;
  /** Whether the frozen layer has a bias (default true). */
  readonly useBias?: boolean;
  /** The frozen kernel `[kh, kw, in, filters]`, copied at construction. Absent: zeros until weights are set. */
  readonly kernel?: tf.Tensor;
  /** The frozen bias `[filters]`, copied at construction. */
  readonly bias?: tf.Tensor | null;
}

function checkActivation(owner: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new RangeError(`${owner}: activation must be an activation identifier string, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A positive integer or a pair of them, as `[a, b]` (tfjs-layers' `kernelSize`, `strides`, `dilationRate`). */
function pair(def: number): ReturnType<typeof option<number[], number | readonly number[]>> {
  return option<number[], number | readonly number[]>([def, def], (owner, key, v) => {
    const list = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 1 ? [v[0], v[0]] : v;
    if (!Array.isArray(list) || list.length !== 2 || list.some((n) => typeof n !== 'number' || !Number.isInteger(n) || n < 1)) {
      throw new RangeError(`${owner}: ${key} must be a positive integer or a pair of them, got ${JSON.stringify(v)}`);
    }
    return [...(list as number[])];
  });
}

const frozenSchema = {
  units: integer(1, 1),
  activation: option<string>('linear', (owner, _key, v) => checkActivation(owner, v)),
  useBias: boolean(true),
};

const frozenConvSchema = {
  filters: integer(1, 1),
  kernelSize: pair(1),
  strides: pair(1),
  padding: choice(['valid', 'same'] as const, 'valid'),
  dataFormat: choice(['channelsLast'] as const, 'channelsLast'),
  dilationRate: pair(1),
  activation: option<string>('linear', (owner, _key, v) => checkActivation(owner, v)),
  useBias: boolean(true),
};

const hraAdapterSchema = {
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
const hraLayerSchema = { ...frozenSchema, ...hraAdapterSchema };
const hraConvSchema = { ...frozenConvSchema, ...hraAdapterSchema };
/** Options of the HRA adapter layers besides the frozen layer's. */
export interface HraAdapterOptions extends OptionsOf<typeof hraAdapterSchema> {}
/** Options of {@link HraDense} besides the frozen layer's. */
export interface HraDenseOptions extends HraAdapterOptions {}
/** Arguments of the {@link HraDense} constructor. */
export interface HraDenseArgs extends FrozenDenseArgs, HraDenseOptions {}
/** Options of {@link HraConv2D} besides the frozen layer's. */
export interface HraConv2DOptions extends HraAdapterOptions {}
/** Arguments of the {@link HraConv2D} constructor. */
export interface HraConv2DArgs extends FrozenConv2DArgs, HraConv2DOptions {}

const oftAdapterSchema = {
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
const oftLayerSchema = { ...frozenSchema, ...oftAdapterSchema };
const oftConvSchema = { ...frozenConvSchema, ...oftAdapterSchema };
/** Options of the OFTv2 adapter layers besides the frozen layer's. */
export interface Oftv2AdapterOptions extends OptionsOf<typeof oftAdapterSchema> {}
/** Options of {@link Oftv2Dense} besides the frozen layer's. */
export interface Oftv2DenseOptions extends Oftv2AdapterOptions {}
/** Arguments of the {@link Oftv2Dense} constructor. */
export interface Oftv2DenseArgs extends FrozenDenseArgs, Oftv2DenseOptions {}
/** Options of {@link Oftv2Conv2D} besides the frozen layer's. */
export interface Oftv2Conv2DOptions extends Oftv2AdapterOptions {}
/** Arguments of the {@link Oftv2Conv2D} constructor. */
export interface Oftv2Conv2DArgs extends FrozenConv2DArgs, Oftv2Conv2DOptions {}

type ResolvedHraAdapter = ResolvedOf<typeof hraAdapterSchema>;
type ResolvedOftAdapter = ResolvedOf<typeof oftAdapterSchema>;

function resolveLayer<S extends Schema>(owner: string, schema: S, args: object, required: readonly [string, string][]): ResolvedOf<S> {
  if (args === undefined || args === null || typeof args !== 'object') throw new TypeError(`${owner}: arguments must be an object, got ${typeof args}`);
  checkKnownKeys(owner, args, [...schemaKeys(schema), 'kernel', 'bias', ...layerArgKeys, 'customObjects']);
  for (const [key, what] of required) {
    if ((args as Record<string, unknown>)[key] === undefined) throw new RangeError(`${owner}: ${key} is required (${what})`);
  }
  return resolveSchema(owner, schema, args);
}

/** The resolved options without the frozen layer's keys. */
function adapterPart<R extends object, A>(resolved: R): A {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(resolved)) if (!(k in frozenSchema) && !(k in frozenConvSchema)) out[k] = v;
  return out as A;
}

/** The activations tfjs-layers' Dense and Conv2D fuse into their product / convolution (`mapActivationToFusedKernel`). */
const FUSED_ACTIVATIONS: ReadonlyMap<string, 'relu' | 'linear' | 'elu'> = new Map([['relu', 'relu'], ['linear', 'linear'], ['elu', 'elu']]);

/** Counters of the default layer names (`hra_dense_<n>`, `oftv2_conv2d_<n>`, …), one per layer kind. */
const adapterNames = new Map<string, number>();

/** The part of every adapter layer that holds the frozen layer: its kernel and bias as non-trainable weights, its activation. */
abstract class FrozenAdapter extends tfl.layers.Layer {
  /** Output units (Dense) or filters (Conv2D). */
  readonly units: number;
  readonly activation: string;
  readonly useBias: boolean;
  protected readonly activationLayer: tfl.layers.Layer;
  private initialKernel: tf.Tensor | null;
  private initialBias: tf.Tensor | null;
  protected frozenKernel: tfl.LayerVariable | null = null;
  protected frozenBias: tfl.LayerVariable | null = null;

  constructor(
    protected readonly owner: string,
    defaultName: string,
    resolved: { activation: string; useBias: boolean },
    units: number,
    args: { kernel?: tf.Tensor; bias?: tf.Tensor | null },
    checkKernel: (kernel: tf.Tensor) => void,
  ) {
    const layerArgs: Record<string, unknown> = {};
    for (const k of layerArgKeys) if ((args as unknown as Record<string, unknown>)[k] !== undefined) layerArgs[k] = (args as unknown as Record<string, unknown>)[k];
    // tfjs-layers names a layer from its class name ('orthoptim.HraDense' → 'orthoptim._hra_dense_…');
    // a plain `hra_dense_1`, `oftv2_conv2d_1`, … reads as the stock layers' names do.
    if (layerArgs.name === undefined) {
      const n = (adapterNames.get(defaultName) ?? 0) + 1;
      adapterNames.set(defaultName, n);
      layerArgs.name = `${defaultName}_${n}`;
    }
    super(layerArgs as AdapterLayerArgs);
    this.units = units;
    this.activation = resolved.activation;
    this.useBias = resolved.useBias;
    this.activationLayer = tfl.layers.activation({ activation: this.activation as never });
    const { kernel, bias } = args;
    if (kernel !== undefined) checkKernel(kernel);
    if (bias !== undefined && bias !== null) {
      if (!this.useBias) throw new RangeError(`${owner}: a bias was given but useBias is false`);
      if (bias.rank !== 1 || bias.shape[0] !== units) throw new RangeError(`${owner}: bias must be [${this.unitsName} = ${units}], got shape [${bias.shape.join(', ')}]`);
    }
    this.initialKernel = kernel === undefined ? null : tf.keep(tf.clone(kernel));
    this.initialBias = bias === undefined || bias === null ? null : tf.keep(tf.clone(bias));
    this.supportsMasking = true;
  }

  /** `units` or `filters`, for messages. */
  protected get unitsName(): string {
    return 'units';
  }

  /** The shape of the kernel given at construction, if any (it is written at build). */
  protected get givenKernelShape(): number[] | null {
    return this.initialKernel === null ? null : [...this.initialKernel.shape];
  }

  /** Adds the frozen kernel (non-trainable, shape `kernelShape`) and bias, and writes the copied values. */
  protected buildFrozen(kernelShape: number[]): void {
    const given = this.givenKernelShape;
    if (given !== null && !tf.util.arraysEqual(given, kernelShape)) {
      throw new RangeError(`${this.owner}: the frozen kernel has shape [${given.join(', ')}] but the input needs [${kernelShape.join(', ')}]`);
    }
    this.frozenKernel = this.addWeight('kernel', kernelShape, 'float32', tfl.initializers.zeros(), undefined, false);
    if (this.useBias) this.frozenBias = this.addWeight('bias', [this.units], 'float32', tfl.initializers.zeros(), undefined, false);
    if (this.initialKernel !== null) this.frozenKernel.write(this.initialKernel);
    if (this.initialBias !== null && this.frozenBias !== null) this.frozenBias.write(this.initialBias);
    this.disposeInitial();
  }

  /** A trainable adapter weight (for the HRA / OFTv2 parts below, which `addWeight`'s protection keeps out). */
  protected addAdapterWeight(name: string, shape: number[]): tfl.LayerVariable {
    return this.addWeight(name, shape, 'float32', tfl.initializers.zeros(), undefined, true);
  }

  /** Registers a loss term of the layer (tfjs-layers' `addLoss`, protected too). */
  protected addAdapterLoss(loss: () => tf.Scalar): void {
    this.addLoss(loss);
  }

  /** The adapted kernel `M·K` in the frozen kernel's shape, a new tensor: what a merge writes into a plain layer. */
  abstract adaptedKernel(): tf.Tensor;

  protected frozenKernelValue(): tf.Tensor {
    if (this.frozenKernel === null) throw new Error(`${this.owner}: layer '${this.name}' is not built yet`);
    return this.frozenKernel.read();
  }

  /** Bias, then activation, on the pre-activation `y`. */
  protected finish(y: tf.Tensor): tf.Tensor {
    if (this.frozenBias !== null) y = tf.add(y, this.frozenBias.read());
    return this.activationLayer.apply(y) as tf.Tensor;
  }

  private disposeInitial(): void {
    tf.dispose([this.initialKernel, this.initialBias].filter((t): t is tf.Tensor => t !== null));
    this.initialKernel = null;
    this.initialBias = null;
  }

  override dispose(): ReturnType<tfl.layers.Layer['dispose']> {
    this.disposeInitial();
    return super.dispose();
  }
}

/** The part of both Dense adapter layers that holds the frozen Dense: shapes, call, config. */
abstract class FrozenDenseAdapter extends FrozenAdapter {
  constructor(owner: string, defaultName: string, resolved: { units: number; activation: string; useBias: boolean }, args: FrozenDenseArgs) {
    super(owner, defaultName, resolved, resolved.units, args, (kernel) => {
      if (kernel.rank !== 2 || kernel.shape[1] !== resolved.units) {
        throw new RangeError(`${owner}: kernel must be [d, units = ${resolved.units}], got shape [${kernel.shape.join(', ')}]`);
      }
    });
  }

  /** The input dimension `d` of a built layer's input shape (checked against a given kernel). */
  protected inputDimension(inputShape: tfl.Shape | tfl.Shape[]): number {
    const d = inputDim(this.owner, inputShape);
    const given = this.givenKernelShape;
    if (given !== null && given[0] !== d) {
      throw new RangeError(`${this.owner}: the frozen kernel has ${given[0]} input rows but the input has ${d} features`);
    }
    return d;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    return [...s.slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const d = x.shape[x.rank - 1];
      const k = this.adaptedKernel() as tf.Tensor2D;
      const shape = [...x.shape.slice(0, -1), this.units];
      const rows = tf.reshape(x, [-1, d]) as tf.Tensor2D;
      // As tfjs-layers' Dense computes it (one fused product + bias + activation where the activation
      // fuses; else product, bias add, activation), so the same kernel gives the same bits as the frozen
      // layer on every backend (wasm's fused product rounds otherwise than a product and an add).
      const fused = FUSED_ACTIVATIONS.get(this.activation);
      if (fused !== undefined) {
        const bias = this.frozenBias === null ? undefined : this.frozenBias.read();
        return tf.reshape(tf.fused.matMul({ a: rows, b: k, bias, activation: fused }), shape);
      }
      return this.finish(tf.reshape(tf.matMul(rows, k), shape));
    });
  }

  protected frozenConfig(): tf.serialization.ConfigDict {
    return { units: this.units, activation: this.activation, useBias: this.useBias };
  }
}

/** tfjs-layers' `convOutputLength`: the output length of one spatial axis (null stays null). */
function convOutputLength(length: number | null, size: number, padding: 'valid' | 'same', stride: number, dilation: number): number | null {
  if (length === null) return null;
  const dilated = size + (size - 1) * (dilation - 1);
  const out = padding === 'same' ? length : length - dilated + 1;
  return Math.floor((out + stride - 1) / stride);
}

/** The part of both Conv2D adapter layers that holds the frozen Conv2D (NHWC): shapes, call, config. */
abstract class FrozenConvAdapter extends FrozenAdapter {
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: 'valid' | 'same';
  readonly dataFormat = 'channelsLast' as const;
  readonly dilationRate: [number, number];

  constructor(owner: string, defaultName: string, resolved: ResolvedOf<typeof frozenConvSchema>, args: FrozenConv2DArgs) {
    const [kh, kw] = resolved.kernelSize;
    super(owner, defaultName, resolved, resolved.filters, args, (kernel) => {
      if (kernel.rank !== 4 || kernel.shape[0] !== kh || kernel.shape[1] !== kw || kernel.shape[3] !== resolved.filters) {
        throw new RangeError(`${owner}: kernel must be [kh = ${kh}, kw = ${kw}, in, filters = ${resolved.filters}], got shape [${kernel.shape.join(', ')}]`);
      }
    });
    this.kernelSize = [kh, kw];
    this.strides = resolved.strides as [number, number];
    this.padding = resolved.padding;
    this.dilationRate = resolved.dilationRate as [number, number];
    if (this.strides.some((s) => s > 1) && this.dilationRate.some((r) => r > 1)) {
      throw new RangeError(`${owner}: strides [${this.strides.join(', ')}] and dilationRate [${this.dilationRate.join(', ')}] cannot both exceed 1 (TensorFlow.js conv2d)`);
    }
    this.inputSpec = [{ ndim: 4 }];
  }

  protected override get unitsName(): string {
    return 'filters';
  }

  /** The frozen kernel shape `[kh, kw, in, filters]` for a built layer's input shape `[batch, h, w, in]`. */
  protected convKernelShape(inputShape: tfl.Shape | tfl.Shape[]): number[] {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    if (s.length !== 4) throw new RangeError(`${this.owner}: the input must be [batch, height, width, channels], got shape [${s.join(', ')}]`);
    const cin = inputDim(this.owner, s);
    const given = this.givenKernelShape;
    if (given !== null && given[2] !== cin) {
      throw new RangeError(`${this.owner}: the frozen kernel has ${given[2]} input channels but the input has ${cin}`);
    }
    return [this.kernelSize[0], this.kernelSize[1], cin, this.units];
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    return [
      s[0],
      convOutputLength(s[1], this.kernelSize[0], this.padding, this.strides[0], this.dilationRate[0]),
      convOutputLength(s[2], this.kernelSize[1], this.padding, this.strides[1], this.dilationRate[1]),
      this.units,
    ];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      if (x.rank !== 4) throw new RangeError(`${this.owner}: the input must be [batch, height, width, channels], got shape [${x.shape.join(', ')}]`);
      const k = this.adaptedKernel() as tf.Tensor4D;
      // As tfjs-layers' Conv2D computes it (fused conv + bias, and the activation fused where it can be),
      // so the same kernel gives the same bits as the frozen layer on every backend (wasm's fused conv
      // adds the bias inside the accumulation).
      const fused = FUSED_ACTIVATIONS.get(this.activation);
      const y = tf.fused.conv2d({
        x: x as tf.Tensor4D,
        filter: k,
        strides: this.strides,
        pad: this.padding,
        dilations: this.dilationRate,
        dataFormat: 'NHWC',
        bias: this.frozenBias === null ? undefined : this.frozenBias.read(),
        activation: fused ?? 'linear',
      });
      return fused === undefined ? (this.activationLayer.apply(y) as tf.Tensor) : y;
    });
  }

  protected frozenConfig(): tf.serialization.ConfigDict {
    return {
      filters: this.units,
      kernelSize: [...this.kernelSize],
      strides: [...this.strides],
      padding: this.padding,
      dataFormat: this.dataFormat,
      dilationRate: [...this.dilationRate],
      activation: this.activation,
      useBias: this.useBias,
    };
  }
}

function inputDim(owner: string, inputShape: tfl.Shape | tfl.Shape[]): number {
  const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
  const d = s[s.length - 1];
  if (typeof d !== 'number' || d < 1) throw new RangeError(`${owner}: the last input dimension must be known, got shape [${s.join(', ')}]`);
  return d;
}

function checkHraInit(owner: string, options: ResolvedHraAdapter): void {
  if (options.init === 'identity' && options.rank % 2 !== 0) {
    throw new RangeError(`${owner}: the identity init pairs equal reflections, so rank must be even, got ${options.rank} (use init 'random')`);
  }
}

/** HRA's trainable `hra_u` (`[d, r]`, initialized), and its regularizer as a layer loss when λ > 0. */
function buildHra(owner: string, d: number, options: ResolvedHraAdapter, add: (name: string, shape: number[]) => tfl.LayerVariable, addLoss: (loss: () => tf.Scalar) => void): tfl.LayerVariable {
  const { rank, init, seed, orthogonalityWeight } = options;
  if (rank > d) throw new RangeError(`${owner}: rank ${rank} exceeds the input dimension ${d}`);
  const u = add('hra_u', [d, rank]);
  tf.tidy(() => {
    u.write(tf.tensor2d(hraInitialVectors(d, rank, init, seed), [d, rank]));
  });
  if (orthogonalityWeight > 0) {
    addLoss(() => tf.tidy(() => tf.mul(hraOrthogonality(u.read() as tf.Tensor2D), orthogonalityWeight)));
  }
  return u;
}

/** OFTv2's trainable `oft_q` (`[blocks or 1, b(b−1)/2]`, zeros or random) and the block layout for `d`. */
function buildOft(owner: string, d: number, options: ResolvedOftAdapter, add: (name: string, shape: number[]) => tfl.LayerVariable): { q: tfl.LayerVariable; layout: { blocks: number; blockSize: number } } {
  const layout = oftBlocks(d, options, owner);
  const rows = options.blockShare ? 1 : layout.blocks;
  const n = (layout.blockSize * (layout.blockSize - 1)) / 2;
  const q = add('oft_q', [rows, n]);
  if (options.init === 'random') {
    tf.tidy(() => {
      q.write(tf.tensor2d(oftInitialParameters(rows, layout.blockSize, 'random', options.seed), [rows, n]));
    });
  }
  return { q, layout };
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
  readonly options: Readonly<ResolvedHraAdapter>;
  private u: tfl.LayerVariable | null = null;

  constructor(args: HraDenseArgs) {
    const owner = 'hraDense';
    const r = resolveLayer(owner, hraLayerSchema, args, [['units', "the frozen Dense layer's output units"]]);
    super(owner, 'hra_dense', r, args);
    this.options = adapterPart(r);
    checkHraInit(owner, this.options);
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const d = this.inputDimension(inputShape);
    if (this.options.rank > d) throw new RangeError(`${this.owner}: rank ${this.options.rank} exceeds the input dimension ${d}`);
    this.buildFrozen([d, this.units]);
    this.u = buildHra(this.owner, d, this.options, (n, s) => this.addAdapterWeight(n, s), (l) => this.addAdapterLoss(l));
    this.built = true;
  }

  adaptedKernel(): tf.Tensor {
    if (this.u === null) throw new Error(`hraDense: layer '${this.name}' is not built yet`);
    return hraKernel(this.frozenKernelValue(), this.u.read() as tf.Tensor2D, { gramSchmidt: this.options.gramSchmidt });
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
  readonly options: Readonly<ResolvedOftAdapter>;
  private q: tfl.LayerVariable | null = null;
  private layout: { blocks: number; blockSize: number } | null = null;

  constructor(args: Oftv2DenseArgs) {
    const owner = 'oftv2Dense';
    const r = resolveLayer(owner, oftLayerSchema, args, [['units', "the frozen Dense layer's output units"]]);
    super(owner, 'oftv2_dense', r, args);
    this.options = adapterPart(r);
    const k = args.kernel;
    if (k !== undefined) oftBlocks(k.shape[0], this.options, owner);
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const d = this.inputDimension(inputShape);
    oftBlocks(d, this.options, this.owner);
    this.buildFrozen([d, this.units]);
    ({ q: this.q, layout: this.layout } = buildOft(this.owner, d, this.options, (n, s) => this.addAdapterWeight(n, s)));
    this.built = true;
  }

  adaptedKernel(): tf.Tensor {
    if (this.q === null || this.layout === null) throw new Error(`oftv2Dense: layer '${this.name}' is not built yet`);
    const { neumannTerms, blockShare } = this.options;
    return oftKernel(this.frozenKernelValue(), this.q.read() as tf.Tensor2D, { blockSize: this.layout.blockSize, neumannTerms, blockShare });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.frozenConfig(), ...this.options, ...super.getConfig() };
  }
}

/**
 * A frozen Conv2D layer (NHWC) adapted by HRA — PEFT `HRAConv2d` (huggingface/peft
 * `src/peft/tuners/hra/layer.py`; Yuan, Liu, Xu, NeurIPS 2024): the kernel flattened to
 * `K ∈ R^{d×filters}`, `d = in·kh·kw`, rows in PyTorch's `(in, kh, kw)` order (`convKernelRows`), is
 * reflected on its input side, `K′ = H_r⋯H_1·K` (PEFT's `W·H_1⋯H_r` on `weight.view(out, in·kh·kw)`),
 * and the layer convolves with `K′`: `y = activation(conv2d(x, K′) + b)`. Only `U ∈ R^{d×r}` trains
 * (`d·r` parameters; PEFT's `hra_u` of the same layer, row for row). Options as {@link HraDense}. PEFT
 * reads only `kernel_size[0]`, `stride[0]`, `padding[0]` (square kernels, uniform strides); here
 * `[kh, kw]`, `[sh, sw]`, dilation and `'same'` padding are all taken as the frozen layer has them.
 */
export class HraConv2D extends FrozenConvAdapter {
  /** @nocollapse */
  static readonly className = 'orthoptim.HraConv2D';
  readonly options: Readonly<ResolvedHraAdapter>;
  private u: tfl.LayerVariable | null = null;

  constructor(args: HraConv2DArgs) {
    const owner = 'hraConv2D';
    const r = resolveLayer(owner, hraConvSchema, args, [['filters', "the frozen Conv2D layer's output channels"], ['kernelSize', "the frozen Conv2D layer's kernel size"]]);
    super(owner, 'hra_conv2d', r, args);
    this.options = adapterPart(r);
    checkHraInit(owner, this.options);
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = this.convKernelShape(inputShape);
    const d = shape[0] * shape[1] * shape[2];
    if (this.options.rank > d) throw new RangeError(`${this.owner}: rank ${this.options.rank} exceeds the input dimension ${d} (in·kh·kw)`);
    this.buildFrozen(shape);
    this.u = buildHra(this.owner, d, this.options, (n, s) => this.addAdapterWeight(n, s), (l) => this.addAdapterLoss(l));
    this.built = true;
  }

  /** The adapted kernel `[kh, kw, in, filters]`: `H_r⋯H_1` on the `(in, kh, kw)`-ordered rows. */
  adaptedKernel(): tf.Tensor {
    if (this.u === null) throw new Error(`hraConv2D: layer '${this.name}' is not built yet`);
    const kernel = this.frozenKernelValue();
    const u = this.u.read() as tf.Tensor2D;
    const { gramSchmidt } = this.options;
    return tf.tidy(() => convKernelFromRows(hraKernel(convKernelRows(kernel), u, { gramSchmidt }) as tf.Tensor2D, kernel.shape));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.frozenConfig(), ...this.options, ...super.getConfig() };
  }
}

/**
 * A frozen Conv2D layer (NHWC) adapted by OFTv2 — PEFT OFT `Conv2d` (huggingface/peft
 * `src/peft/tuners/oft/layer.py`, `Conv2d.update_layer` / `merge`; Qiu, Liu, Weller, Schölkopf,
 * "Orthogonal Finetuning Made Scalable", arXiv 2506.19847): the block-diagonal Cayley–Neumann rotation
 * `diag(R_1…R_k)` multiplies the kernel's flattened input side, `d = in·kh·kw` rows in PyTorch's
 * `(in, kh, kw)` order (PEFT's `conv_filter_dim`; block `k` is rows `k·b … k·b + b − 1` of that order),
 * `K′ = diag(R)·K` (PEFT's merge `R·Wᵀ` on `weight.view(out, in·kh·kw)`), and the layer convolves with
 * `K′`. `(d/b)·b(b−1)/2` trainable parameters. Options as {@link Oftv2Dense}; the zero init is
 * bit-identical to the frozen layer. PEFT refuses dilation > 1 (its unmerged forward unfolds stride-1
 * patches); convolving with the adapted kernel needs no such limit.
 */
export class Oftv2Conv2D extends FrozenConvAdapter {
  /** @nocollapse */
  static readonly className = 'orthoptim.Oftv2Conv2D';
  readonly options: Readonly<ResolvedOftAdapter>;
  private q: tfl.LayerVariable | null = null;
  private layout: { blocks: number; blockSize: number } | null = null;

  constructor(args: Oftv2Conv2DArgs) {
    const owner = 'oftv2Conv2D';
    const r = resolveLayer(owner, oftConvSchema, args, [['filters', "the frozen Conv2D layer's output channels"], ['kernelSize', "the frozen Conv2D layer's kernel size"]]);
    super(owner, 'oftv2_conv2d', r, args);
    this.options = adapterPart(r);
    const k = args.kernel;
    if (k !== undefined) oftBlocks(k.shape.slice(0, 3).reduce((a, b) => a * b, 1), this.options, owner);
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = this.convKernelShape(inputShape);
    const d = shape[0] * shape[1] * shape[2];
    oftBlocks(d, this.options, this.owner);
    this.buildFrozen(shape);
    ({ q: this.q, layout: this.layout } = buildOft(this.owner, d, this.options, (n, s) => this.addAdapterWeight(n, s)));
    this.built = true;
  }

  /** The adapted kernel `[kh, kw, in, filters]`: `diag(R_k)` on the `(in, kh, kw)`-ordered rows. */
  adaptedKernel(): tf.Tensor {
    if (this.q === null || this.layout === null) throw new Error(`oftv2Conv2D: layer '${this.name}' is not built yet`);
    const kernel = this.frozenKernelValue();
    const q = this.q.read() as tf.Tensor2D;
    const { neumannTerms, blockShare } = this.options;
    const { blockSize } = this.layout;
    return tf.tidy(() => convKernelFromRows(oftKernel(convKernelRows(kernel), q, { blockSize, neumannTerms, blockShare }) as tf.Tensor2D, kernel.shape));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...this.frozenConfig(), ...this.options, ...super.getConfig() };
  }
}

tf.serialization.registerClass(HraDense);
tf.serialization.registerClass(Oftv2Dense);
tf.serialization.registerClass(HraConv2D);
tf.serialization.registerClass(Oftv2Conv2D);

/** The parts of a built tfjs-layers Dense or Conv2D layer the factories read. */
interface LayerLike {
  readonly name: string;
  getClassName(): string;
  getConfig(): tf.serialization.ConfigDict;
  getWeights(): tf.Tensor[];
  readonly built: boolean;
}
type DenseLike = LayerLike;

function checkBuilt(owner: string, layer: LayerLike, className: string): tf.serialization.ConfigDict {
  if (layer === null || typeof layer !== 'object' || typeof layer.getClassName !== 'function' || layer.getClassName() !== className) {
    const got = layer === null || typeof layer !== 'object' ? String(layer) : typeof layer.getClassName === 'function' ? layer.getClassName() : typeof layer;
    throw new TypeError(`${owner}: expected a tfjs-layers ${className} layer, got ${got}`);
  }
  if (!layer.built) throw new RangeError(`${owner}: the ${className} layer '${layer.name}' is not built (it has no kernel yet): build or apply it first`);
  return layer.getConfig();
}

function frozenFrom(owner: string, dense: DenseLike): FrozenDenseArgs {
  const config = checkBuilt(owner, dense, 'Dense');
  const [kernel, bias] = dense.getWeights();
  const activation = typeof config.activation === 'string' ? config.activation : 'linear';
  return { units: config.units as number, activation, useBias: config.useBias !== false, kernel, bias: config.useBias === false ? null : bias };
}

function frozenConvFrom(owner: string, conv: LayerLike): FrozenConv2DArgs {
  const config = checkBuilt(owner, conv, 'Conv2D');
  if (config.dataFormat !== undefined && config.dataFormat !== 'channelsLast') {
    throw new RangeError(`${owner}: only channelsLast Conv2D layers can be adapted, '${conv.name}' is ${JSON.stringify(config.dataFormat)}`);
  }
  const [kernel, bias] = conv.getWeights();
  const activation = typeof config.activation === 'string' ? config.activation : 'linear';
  return {
    filters: config.filters as number,
    kernelSize: config.kernelSize as number[],
    strides: config.strides as number[],
    padding: config.padding as 'valid' | 'same',
    dilationRate: config.dilationRate as number[],
    activation,
    useBias: config.useBias !== false,
    kernel,
    bias: config.useBias === false ? null : bias,
  };
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
 * An {@link HraConv2D} wrapping a copy of a built Conv2D layer (kernel, bias, kernel size, strides,
 * padding, dilation, activation; the original is left untouched).
 * @example
 * hraConv2D(pretrained.layers[0], { rank: 8, inputShape: [28, 28, 1] });
 */
export function hraConv2D(conv: LayerLike, options: HraConv2DOptions & AdapterLayerArgs = {}): HraConv2D {
  return new HraConv2D({ ...frozenConvFrom('hraConv2D', conv), ...options });
}

/**
 * An {@link Oftv2Conv2D} wrapping a copy of a built Conv2D layer.
 * @example
 * oftv2Conv2D(pretrained.layers[0], { blockSize: 9, inputShape: [28, 28, 1] }); // a 3×3 tap block per input channel
 */
export function oftv2Conv2D(conv: LayerLike, options: Oftv2Conv2DOptions & AdapterLayerArgs = {}): Oftv2Conv2D {
  return new Oftv2Conv2D({ ...frozenConvFrom('oftv2Conv2D', conv), ...options });
}

/**
 * A plain, built layer holding the merged kernel `M·K` and the frozen bias of an adapter layer (PEFT's
 * `merge`): a Dense for {@link HraDense} / {@link Oftv2Dense}, a Conv2D (same kernel size, strides,
 * padding, dilation, activation) for {@link HraConv2D} / {@link Oftv2Conv2D} — the same outputs without
 * the adapter's per-call cost, for inference or export. All its weights are trainable again, as in any
 * new layer.
 * @example
 * const deployed = tfl.sequential({ layers: [mergeAdapter(adapted.layers[0] as HraDense, { inputShape: [784] }), ...] });
 */
export function mergeAdapter(layer: HraDense | Oftv2Dense | HraConv2D | Oftv2Conv2D, args: AdapterLayerArgs = {}): tfl.layers.Layer {
  if (!(layer instanceof FrozenAdapter)) throw new TypeError('mergeAdapter: expected an HraDense, Oftv2Dense, HraConv2D or Oftv2Conv2D layer');
  const kernel = layer.adaptedKernel();
  const bias = layer.useBias ? [layer.getWeights()[2]] : [];
  let merged: tfl.layers.Layer;
  if (layer instanceof FrozenConvAdapter) {
    merged = tfl.layers.conv2d({
      filters: layer.units,
      kernelSize: [...layer.kernelSize],
      strides: [...layer.strides],
      padding: layer.padding,
      dataFormat: 'channelsLast',
      dilationRate: [...layer.dilationRate],
      activation: layer.activation as never,
      useBias: layer.useBias,
      ...args,
    });
    merged.build([null, null, null, kernel.shape[2]!]);
  } else {
    merged = tfl.layers.dense({ units: layer.units, activation: layer.activation as never, useBias: layer.useBias, ...args });
    merged.build([null, kernel.shape[0]!]);
  }
  merged.setWeights([kernel, ...bias]);
  kernel.dispose();
  return merged;
}

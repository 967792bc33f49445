/**
 * The orthogonality regularizers of `nn/regularizers.ts` as tfjs-layers regularizers: pass one as a
 * layer's `kernelRegularizer` and tfjs-layers adds `weight × penalty(kernel)` to the training loss; the
 * layer's config names it (`{className: 'orthoptim.GroupOrthogonality', config: {...}}`) and
 * `tf.loadLayersModel` rebuilds it (each class is registered with `tf.serialization.registerClass`).
 *
 * | factory | penalty | default weight | reference |
 * |---|---|---|---|
 * | {@link softOrthogonalityRegularizer} | `‖WᵀW − I‖²_F`, smaller side | 1 | deel-lip `OrthDenseRegularizer` (`lambda_orth = 1`) |
 * | {@link groupOrthogonalityRegularizer} | GOR, inter or intra | 1e-2 | YoavKurtz/GOR `train_cifar10.py` (`--ortho-decay`) |
 * | {@link lorthRegularizer} | Lorth of a Conv2D kernel | 1 | deel-lip `LorthRegularizer` (`lambda_lorth = 1`) |
 * | {@link lambdaOrthogonalityRegularizer} | `max(0, D − λ)`, unconfirmed reading | 1 | Ricci et al. 2025 (no code read) |
 *
 * tfjs-layers stays an optional peer dependency, so these classes extend tfjs-core's
 * `serialization.Serializable`, not tfjs-layers' (unexported) `Regularizer`. A layer's constructor
 * (`getRegularizer`) takes a non-`Regularizer` object for a Keras config `{className, config}` and
 * deserializes it through the registered class: each instance therefore also reads as its own config
 * (`className` and `config` getters), and the layer holds an equal copy. The classes match
 * `Regularizer`'s type (`apply(x): Scalar`, `getClassName`, `getConfig`), so `kernelRegularizer:
 * groupOrthogonalityRegularizer()` type-checks against tfjs-layers' `LayerArgs`.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkKnownKeys, checkNumber, nonNegative } from '../core/options.js';
import {
  groupOrthogonality,
  lambdaOrthogonality,
  lorth,
  resolveGroupOrthogonality,
  resolveLambdaOrthogonality,
  resolveLorth,
  softOrthogonality,
  type GroupOrthogonalityOptions,
  type LambdaOrthogonalityOptions,
  type LorthOptions,
  type ResolvedGroupOrthogonality,
  type ResolvedLambdaOrthogonality,
  type ResolvedLorth,
} from '../nn/regularizers.js';

/** The option every regularizer takes besides its penalty's: the multiplier of the penalty in the loss. */
export interface RegularizerWeight {
  /** Multiplies the penalty added to the loss (λ of `L_task + λ·penalty`; ≥ 0). */
  readonly weight?: number;
}

function splitWeight<O extends RegularizerWeight>(owner: string, options: O | undefined, def: number): [number, Omit<O, 'weight'>] {
  if (options === undefined || options === null) options = {} as O;
  if (typeof options !== 'object') throw new TypeError(`${owner}: options must be an object, got ${typeof options}`);
  const { weight, ...rest } = options;
  return [checkNumber(owner, 'weight', weight ?? def, nonNegative), rest];
}

/**
 * The shared part of the orthogonality regularizers: `apply` in one tidy, the config, and the Keras
 * config view (`className`, `config`) through which tfjs-layers takes the instance.
 */
export abstract class OrthogonalityRegularizer extends tf.serialization.Serializable {
  /** The regularizer's value for a kernel: `weight × penalty`, a scalar. */
  apply(x: tf.Tensor): tf.Scalar {
    return tf.tidy(() => this.penalty(x));
  }

  /** The weighted penalty (inside `apply`'s tidy). */
  protected abstract penalty(x: tf.Tensor): tf.Scalar;

  /** The registered class name: with {@link config}, the Keras config tfjs-layers deserializes. */
  get className(): string {
    return this.getClassName();
  }

  /** {@link getConfig}'s value: with {@link className}, the Keras config tfjs-layers deserializes. */
  get config(): tf.serialization.ConfigDict {
    return this.getConfig();
  }

  /** @nocollapse */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    // tfjs-layers adds `customObjects` to the config it hands over.
    const c = { ...config };
    delete c.customObjects;
    return new cls(c);
  }
}

/** Options of {@link softOrthogonalityRegularizer} (default weight 1). */
export interface SoftOrthogonalityRegularizerOptions extends RegularizerWeight {}

/** `weight · ‖WᵀW − I‖²_F` on the smaller side ({@link softOrthogonality}). */
export class SoftOrthogonalityRegularizer extends OrthogonalityRegularizer {
  /** @nocollapse */
  static readonly className = 'orthoptim.SoftOrthogonality';
  readonly weight: number;

  constructor(options?: SoftOrthogonalityRegularizerOptions) {
    super();
    const owner = 'softOrthogonalityRegularizer';
    const [weight, rest] = splitWeight(owner, options, 1);
    checkKnownKeys(owner, rest, []);
    this.weight = weight;
  }

  protected penalty(x: tf.Tensor): tf.Scalar {
    return tf.mul(softOrthogonality(x), this.weight);
  }

  getConfig(): tf.serialization.ConfigDict {
    return { weight: this.weight };
  }
}

/** Options of {@link groupOrthogonalityRegularizer} (default weight 1e-2, GOR's `--ortho-decay`). */
export interface GroupOrthogonalityRegularizerOptions extends GroupOrthogonalityOptions, RegularizerWeight {}

/** `weight · GOR(W)` ({@link groupOrthogonality}). */
export class GroupOrthogonalityRegularizer extends OrthogonalityRegularizer {
  /** @nocollapse */
  static readonly className = 'orthoptim.GroupOrthogonality';
  readonly weight: number;
  readonly options: ResolvedGroupOrthogonality;

  constructor(options?: GroupOrthogonalityRegularizerOptions) {
    super();
    const owner = 'groupOrthogonalityRegularizer';
    const [weight, rest] = splitWeight(owner, options, 1e-2);
    this.weight = weight;
    this.options = resolveGroupOrthogonality(rest, owner);
  }

  protected penalty(x: tf.Tensor): tf.Scalar {
    return tf.mul(groupOrthogonality(x, this.options), this.weight);
  }

  getConfig(): tf.serialization.ConfigDict {
    return { weight: this.weight, ...this.options };
  }
}

/** Options of {@link lorthRegularizer} (default weight 1, deel-lip's `lambda_lorth`). */
export interface LorthRegularizerOptions extends LorthOptions, RegularizerWeight {}

/** `weight · Lorth(K)` of a Conv2D kernel ({@link lorth}); give the layer's stride as `stride`. */
export class LorthRegularizer extends OrthogonalityRegularizer {
  /** @nocollapse */
  static readonly className = 'orthoptim.Lorth';
  readonly weight: number;
  readonly options: ResolvedLorth;

  constructor(options?: LorthRegularizerOptions) {
    super();
    const owner = 'lorthRegularizer';
    const [weight, rest] = splitWeight(owner, options, 1);
    this.weight = weight;
    this.options = resolveLorth(rest, owner);
  }

  protected penalty(x: tf.Tensor): tf.Scalar {
    return tf.mul(lorth(x, this.options), this.weight);
  }

  getConfig(): tf.serialization.ConfigDict {
    return { weight: this.weight, ...this.options };
  }
}

/** Options of {@link lambdaOrthogonalityRegularizer}: {@link LambdaOrthogonalityOptions} (its `weight` default 1). */
export interface LambdaOrthogonalityRegularizerOptions extends LambdaOrthogonalityOptions {}

/** `weight · max(0, D(W) − λ)` ({@link lambdaOrthogonality}; the penalty's exact form is unconfirmed). */
export class LambdaOrthogonalityRegularizer extends OrthogonalityRegularizer {
  /** @nocollapse */
  static readonly className = 'orthoptim.LambdaOrthogonality';
  readonly options: ResolvedLambdaOrthogonality;

  constructor(options: LambdaOrthogonalityRegularizerOptions) {
    super();
    this.options = resolveLambdaOrthogonality(options, 'lambdaOrthogonalityRegularizer');
  }

  get weight(): number {
    return this.options.weight;
  }

  protected penalty(x: tf.Tensor): tf.Scalar {
    return lambdaOrthogonality(x, this.options);
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...this.options };
  }
}

tf.serialization.registerClass(SoftOrthogonalityRegularizer);
tf.serialization.registerClass(GroupOrthogonalityRegularizer);
tf.serialization.registerClass(LorthRegularizer);
tf.serialization.registerClass(LambdaOrthogonalityRegularizer);

/**
 * Soft orthogonality `weight·‖WᵀW − I‖²_F` as a `kernelRegularizer` (Dense or conv).
 * @example
 * tfl.layers.dense({ units: 64, inputShape: [64], kernelRegularizer: softOrthogonalityRegularizer({ weight: 1e-3 }) });
 */
export function softOrthogonalityRegularizer(options?: SoftOrthogonalityRegularizerOptions): SoftOrthogonalityRegularizer {
  return new SoftOrthogonalityRegularizer(options);
}

/**
 * GOR as a `kernelRegularizer` (defaults: weight 1e-2, 32 groups, 4 filters per group at least, inter).
 * @example
 * tfl.layers.conv2d({ filters: 64, kernelSize: 3, kernelRegularizer: groupOrthogonalityRegularizer({ variant: 'intra' }) });
 */
export function groupOrthogonalityRegularizer(options?: GroupOrthogonalityRegularizerOptions): GroupOrthogonalityRegularizer {
  return new GroupOrthogonalityRegularizer(options);
}

/**
 * Lorth as a Conv2D `kernelRegularizer` (odd square kernels; pass the layer's stride).
 * @example
 * tfl.layers.conv2d({ filters: 32, kernelSize: 3, strides: 2, kernelRegularizer: lorthRegularizer({ stride: 2 }) });
 */
export function lorthRegularizer(options?: LorthRegularizerOptions): LorthRegularizer {
  return new LorthRegularizer(options);
}

/**
 * λ-orthogonality as a `kernelRegularizer` (the threshold λ is required; see {@link lambdaOrthogonality}).
 * @example
 * tfl.layers.dense({ units: 64, inputShape: [64], kernelRegularizer: lambdaOrthogonalityRegularizer({ threshold: 0.1 }) });
 */
export function lambdaOrthogonalityRegularizer(options: LambdaOrthogonalityRegularizerOptions): LambdaOrthogonalityRegularizer {
  return new LambdaOrthogonalityRegularizer(options);
}

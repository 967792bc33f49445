/**
 * The TensorFlow.js face of every orthoptim optimizer: a `tf.Optimizer` subclass that runs a gradient
 * transformation. It works in `model.compile({optimizer})` + `model.fit`, in `optimizer.minimize(f)`, and
 * with `applyGradients` in both its forms (name → tensor map, or `{name, tensor}` list).
 *
 * Contract with tfjs (tfjs-core `optimizers/optimizer.ts`, tfjs-layers `engine/training.ts`):
 * - one `tf.tidy` per step; state lives in non-trainable `tf.Variable`s updated with `assign`;
 * - state is bound to the variables of the first step: later steps must bring the same variables in the
 *   same order (by identity, or by name for a variable disposed and made again under its name), so two
 *   same-shaped variables can never take each other's state; a different set or order is an error. State
 *   restored from a save is matched by position and shape (a reloaded layers model renames its
 *   variables), and refused when its parameter names are the same set in another order;
 * - `getWeights()` = `[iter, …state slots in a fixed order]`, `setWeights` reads them back in that order
 *   (through `model.save(…, {includeOptimizer: true})` → `tf.loadLayersModel`);
 * - every gradient and variable is checked (tensor, not disposed, shape, float32, each variable once)
 *   before anything is computed, and every step computes all new parameters and state first and assigns
 *   them only at the end, so a step that throws (bad input, non-finite gradient) writes nothing;
 * - restored state (`setWeights`, a checkpoint) is staged with its step count until the first step has
 *   checked that it fits, and both are applied together or not at all.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { chain, LossRequiredError, reducedGradients, type DataParallelGroup, type GradientTransformation, type ParamMeta, type StateTree } from '../core/transform.js';
import { checkKnownKeys } from '../core/options.js';
import { clipByGlobalNorm } from '../transforms/clip.js';
import { bindNewtonSchulzEngine } from '../linalg/newtonSchulz.js';
import { defaultEngine, type EngineChoice } from '../linalg/engine.js';
import {
  commonKeys,
  resolveCommon,
  type CommonOptions,
  type OptimizerConfig,
  type OptimizerDefinition,
  type ResolvedCommon,
} from '../optimizers/definition.js';

/** `{name, tensor}` — tfjs-core 4.22 does not export its `NamedTensor` type. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** One state slot: where it sits in the state tree, and its variable. */
export interface StateSlot {
  /** Path in the state tree, e.g. `muon/0/mu/2` (label / stage / slot / parameter position). */
  readonly path: string;
  readonly variable: tf.Variable;
}

/** Bytes one element of a tensor of this dtype takes (as `tf.memory().numBytes` counts it); 0 for strings. */
export function bytesPerElement(dtype: tf.DataType): number {
  switch (dtype) {
    case 'float32':
    case 'int32':
      return 4;
    case 'bool':
      return 1;
    case 'complex64':
      return 8;
    default:
      return 0;
  }
}

/** Bytes a tensor holds: its size × {@link bytesPerElement} of its dtype. */
export function tensorBytes(t: { readonly size: number; readonly dtype: tf.DataType }): number {
  return t.size * bytesPerElement(t.dtype);
}

/** One state slot in {@link StateBytesReport}: where it sits, its shape, dtype and bytes. */
export interface SlotBytes {
  readonly path: string;
  readonly shape: readonly number[];
  readonly dtype: tf.DataType;
  readonly bytes: number;
}

/** One parameter's share of the state in {@link StateBytesReport}. */
export interface ParameterStateBytes {
  readonly name: string;
  readonly shape: readonly number[];
  /** Elements of the parameter itself (so `bytes / (4 · size)` is state per float32 weight). */
  readonly size: number;
  /** Bytes of the state that belongs to this parameter alone. */
  readonly bytes: number;
}

/** What `stateBytes({ perParameter: true })` returns. */
export interface StateBytesReport {
  /** Bytes of every state tensor held (the same number as `stateBytes()`). */
  readonly total: number;
  /** Per parameter, in the order of the first step; empty while the parameters are not known. */
  readonly perParameter: readonly ParameterStateBytes[];
  /**
   * State that belongs to no one parameter: global scalars (a step counter, DoG's distance, PSGD's seed), and
   * per-parameter state a transform sizes by the length of the parameter list instead of by parameter.
   * `total = Σ perParameter.bytes + shared`.
   */
  readonly shared: number;
  /** Every slot, in `getWeights` order. */
  readonly slots: readonly SlotBytes[];
}

/** Flattens a state tree into `[path, tensor]` pairs in a fixed (depth-first, key-order) order; `null`s are skipped. */
export function flattenState(tree: StateTree, prefix = ''): [string, tf.Tensor][] {
  if (tree === null) return [];
  if (tree instanceof tf.Tensor) return [[prefix, tree]];
  const out: [string, tf.Tensor][] = [];
  const join = (k: string) => (prefix === '' ? k : `${prefix}/${k}`);
  if (Array.isArray(tree)) tree.forEach((t, i) => out.push(...flattenState(t, join(String(i)))));
  else for (const k of Object.keys(tree)) out.push(...flattenState(tree[k], join(k)));
  return out;
}

/** Replaces every tensor leaf of a tree by `fn(leaf)`. */
function mapState(tree: StateTree, fn: (t: tf.Tensor) => tf.Tensor): StateTree {
  if (tree === null) return null;
  if (tree instanceof tf.Tensor) return fn(tree);
  if (Array.isArray(tree)) return tree.map((t) => mapState(t, fn));
  const out: { [k: string]: StateTree } = {};
  for (const k of Object.keys(tree)) out[k] = mapState(tree[k], fn);
  return out;
}

/** The loss as the float32 scalar a transform reads (`ctx.loss`). */
function asLossScalar(loss: tf.Tensor | number): tf.Scalar {
  if (typeof loss === 'number') return tf.scalar(loss);
  const scalar = loss.rank === 0 ? loss : tf.reshape(loss, []);
  return (scalar.dtype === 'float32' ? scalar : tf.cast(scalar, 'float32')) as tf.Scalar;
}

function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Thrown by a step whose gradients hold NaN or ±Inf (policy `'throw'`); nothing was written. */
export class NonFiniteGradientError extends Error {
  constructor(
    readonly optimizer: string,
    readonly params: readonly string[],
  ) {
    super(
      `${optimizer}: non-finite gradient (NaN or Inf) for ${params.map((p) => `'${p}'`).join(', ')}; ` +
        `no parameter or optimizer state was changed. Pass nonFinite: 'skip' to skip such steps instead.`,
    );
    this.name = 'NonFiniteGradientError';
  }
}

/** Thrown by a loss-aware step whose loss is NaN or ±Inf (policy `'throw'`); nothing was written. */
export class NonFiniteLossError extends Error {
  constructor(readonly optimizer: string) {
    super(
      `${optimizer}: non-finite loss (NaN or Inf); no parameter or optimizer state was changed. ` +
        `Pass nonFinite: 'skip' to skip such steps instead.`,
    );
    this.name = 'NonFiniteLossError';
  }
}

/**
 * The body of a `minimize` that hands the loss to the step: gradients of `f` (over `varList`, in its
 * order, or every trainable variable `f` reads), then `optimizer.applyGradients(grads, { loss })`. The
 * gradients are disposed, and the loss unless `returnCost` — also when the step throws. Shared by
 * {@link TransformOptimizer} and the distributed wrapper.
 */
export function minimizeWithLoss(
  optimizer: tf.Optimizer & { applyGradients(g: tf.NamedTensorMap | NamedTensor[], options: ApplyGradientsOptions): void },
  f: () => tf.Scalar,
  returnCost: boolean,
  varList?: tf.Variable[],
): tf.Scalar | null {
  const { value, grads } = optimizer.computeGradients(f, varList);
  try {
    const list = varList != null ? varList.map((v) => ({ name: v.name, tensor: grads[v.name] })) : grads;
    optimizer.applyGradients(list, { loss: value });
  } catch (e) {
    value.dispose();
    throw e;
  } finally {
    tf.dispose(grads);
  }
  if (returnCost) return value;
  value.dispose();
  return null;
}

/** What `applyGradients` takes besides the gradients. */
export interface ApplyGradientsOptions {
  /**
   * The loss the gradients are of (a scalar tensor, or a number): what a loss-aware optimizer
   * (`needsLoss`, e.g. `alrSmag`, `polyakSgd`) reads; ignored by the others. `minimize(f)` passes it.
   */
  readonly loss?: tf.Tensor | number;
  /**
   * The data-parallel ranks, given by `distributed()` when this optimizer reduces some gradients itself
   * ({@link TransformOptimizer.reducesOwnGradients}): those gradients are this rank's own, the others
   * already averaged. Handed to the transforms as `ctx.dataParallel`.
   */
  readonly dataParallel?: DataParallelGroup;
}

/** Weights staged by `setWeights` / a checkpoint before the first step has created the state. */
interface PendingState {
  readonly tensors: tf.Tensor[];
  readonly source: string;
  /** Slot paths as saved (checked against this optimizer's when known). */
  readonly paths?: readonly string[];
  /** Parameters the state was saved for (checked at the first step). */
  readonly params?: readonly ParamMeta[];
  /** The step count and skipped steps that come with the state (applied with it). */
  readonly step: number;
  readonly skippedSteps: number;
}

/** What saved state says about itself, for the checks of {@link TransformOptimizer.stageState}. */
export interface StagedStateInfo {
  /** Where the state comes from, for messages (e.g. `checkpoint /tmp/ck`). */
  readonly source: string;
  readonly paths?: readonly string[];
  readonly params?: readonly ParamMeta[];
  /** The step count saved with the state; applied together with it (default: leave the count as it is). */
  readonly step?: number;
  /** The skipped-step count saved with the state (default: leave it as it is). */
  readonly skippedSteps?: number;
}

/**
 * Whether `value` is an orthoptim optimizer. Not `instanceof`: tfjs gives `tf.Optimizer` (and so every
 * subclass) a duck-typed `Symbol.hasInstance` that accepts any object with `minimize`, and throws on null.
 */
export function isTransformOptimizer(value: unknown): value is TransformOptimizer {
  return value !== null && typeof value === 'object' && Object.prototype.isPrototypeOf.call(TransformOptimizer.prototype, value);
}

/**
 * Base class of every orthoptim optimizer. Make one with a recipe function (`muon()`, `adamw()`, …) or
 * `createOptimizer(name, options)`.
 */
export class TransformOptimizer<O extends object = object, R extends object = object> extends tf.Optimizer {
  /** The registered definition (name, recipe, defaults). */
  readonly definition: OptimizerDefinition<O, R>;
  /** The options with every default filled in. */
  readonly resolved: R;
  /** Options shared by all optimizers (non-finite policy, clipping). */
  readonly common: ResolvedCommon;
  /** The whole pipeline this optimizer runs (clipping included). */
  readonly transform: GradientTransformation;
  /** Whether the options hold a Newton–Schulz (so that the engine choice applies). */
  private readonly orthogonalizes: boolean;
  private skipped = 0;
  private metas: ParamMeta[] | null = null;
  /** The variables the state is bound to (those of the first step), in order. */
  private bound: tf.Variable[] = [];
  private stateTree: StateTree = null;
  private slots: StateSlot[] = [];
  private pending: PendingState | null = null;

  constructor(definition: OptimizerDefinition<O, R>, options: O & CommonOptions = {} as O & CommonOptions) {
    super();
    this.definition = definition;
    if (options === null || typeof options !== 'object') {
      throw new RangeError(`${definition.name}: options must be an object, got ${String(options)}`);
    }
    checkKnownKeys(definition.name, options, [...definition.keys, ...commonKeys], definition.renamed);
    const own = { ...options } as Record<string, unknown>;
    for (const k of commonKeys) delete own[k];
    this.common = resolveCommon(definition.name, options);
    this.resolved = definition.resolve(own as O);
    this.orthogonalizes = bindNewtonSchulzEngine(this.resolved, 'tfjs') !== this.resolved;
    this.transform = this.buildTransform();
  }

  /** The whole pipeline, built afresh from the options (clipping included). */
  private buildTransform(): GradientTransformation {
    // The engine option reaches Newton–Schulz through the options the chain is built from.
    const inner = this.definition.build(bindNewtonSchulzEngine(this.resolved, this.common.engine));
    return this.common.clipGlobalNorm === null ? inner : chain(clipByGlobalNorm(this.common.clipGlobalNorm), inner);
  }

  /** Registry name, e.g. `'muon'`. */
  get name(): string {
    return this.definition.name;
  }

  /** Number of steps applied so far (skipped steps not counted); a staged checkpoint's step before the first step. */
  get step(): number {
    return this.iterations;
  }

  /** The step count tfjs sees: a staged state's count until the first step applies or refuses it. */
  override get iterations(): number {
    return this.pending?.step ?? super.iterations;
  }

  /** Steps skipped because a gradient was not finite (policy `'skip'`). */
  get skippedSteps(): number {
    return this.pending?.skippedSteps ?? this.skipped;
  }

  /** Names and shapes of the parameters the state was created for (null before the first step). */
  get parameters(): readonly ParamMeta[] | null {
    return this.metas;
  }

  /** The state slots (path and variable), in `getWeights` order. Empty before the first step. */
  get stateSlots(): readonly StateSlot[] {
    return this.slots;
  }

  /**
   * Bytes of optimizer state this optimizer holds: the sum over its state tensors of size × bytes per
   * element (float32 and int32: 4), scalars included. The step count is a JavaScript number, not a
   * tensor, and is not counted; nor are caches shared by every optimizer (Newton–Schulz engines, DCT bases).
   *
   * State is created lazily, at the first step (its shapes come from the parameters it trains): before
   * it, this is 0 — or the bytes of a restored state waiting for that step (`setWeights`, a checkpoint).
   *
   * With `{ perParameter: true }`, a {@link StateBytesReport}: every slot, and each parameter's share,
   * found by initializing a fresh copy of the pipeline for each parameter alone at its position (a list
   * holding only that parameter, so routing by name, shape or position — `exclude`, `paramLabels` —
   * resolves as in the whole list) less the state an empty list gets; what is left is `shared` (a pipeline
   * whose init cannot take a list with gaps gets each parameter alone in a list of one instead). That
   * costs one `init` per parameter (its tensors are made and disposed at once); `stateBytes()` alone reads
   * only the shapes of the slots. Memory accounting of issue 13 (seed-methods spec B4–B6: low-rank
   * methods keep states of size r where AdamW keeps 2·m·n).
   */
  stateBytes(): number;
  stateBytes(options: { readonly perParameter: true }): StateBytesReport;
  stateBytes(options?: { readonly perParameter?: boolean }): number | StateBytesReport;
  stateBytes(options: { readonly perParameter?: boolean } = {}): number | StateBytesReport {
    const held: { path: string; tensor: tf.Tensor }[] =
      this.pending !== null
        ? this.pending.tensors.map((t, i) => ({ path: this.pending?.paths?.[i] ?? '', tensor: t }))
        : this.slots.map((slot) => ({ path: slot.path, tensor: slot.variable }));
    const slots: SlotBytes[] = held.map(({ path, tensor }) => ({
      path,
      shape: [...tensor.shape],
      dtype: tensor.dtype,
      bytes: tensorBytes(tensor),
    }));
    const total = slots.reduce((a, slot) => a + slot.bytes, 0);
    if (options.perParameter !== true) return total;
    const metas = this.metas ?? this.pending?.params ?? null;
    if (metas === null || metas.length === 0) return { total, perParameter: [], shared: total, slots };
    const fresh = this.buildTransform();
    const initBytes = (list: readonly ParamMeta[]): number =>
      tf.tidy(() => {
        const leaves = flattenState(fresh.init(list));
        const bytes = leaves.reduce((a, [, t]) => a + tensorBytes(t), 0);
        tf.dispose(leaves.map(([, t]) => t));
        return bytes;
      });
    // A list with holes: only `only` is there, at its own position (map and forEach skip holes).
    const inPlace = (only: number | null): ParamMeta[] => {
      const list = new Array<ParamMeta>(metas.length);
      if (only !== null) list[only] = metas[only];
      return list;
    };
    let shares: number[];
    try {
      const empty = initBytes(inPlace(null));
      shares = metas.map((_, i) => initBytes(inPlace(i)) - empty);
    } catch {
      // A pipeline whose init reads the list by index (holes are undefined there): each parameter alone in
      // a list of one (routing by position then sees position 0).
      const empty = initBytes([]);
      shares = metas.map((m) => initBytes([m]) - empty);
    }
    const perParameter = metas.map((m, i) => ({
      name: m.name,
      shape: [...m.shape],
      size: m.shape.reduce((a, b) => a * b, 1),
      bytes: shares[i],
    }));
    const shared = total - perParameter.reduce((a, p) => a + p.bytes, 0);
    return { total, perParameter, shared, slots };
  }

  /**
   * Whether this optimizer reads the loss each step (`alrSmag`, `polyakSgd`, or a chain holding a
   * loss-aware transform): then `applyGradients` needs `{ loss }`; `minimize(f)` and `model.fit` pass it.
   */
  get needsLoss(): boolean {
    return this.transform.needsLoss === true;
  }

  /**
   * Which of these parameters' gradients this optimizer reduces across data-parallel ranks itself
   * (`GradientTransformation.reducesOwnGradients`; Dion's compressed matrices): `distributed()` leaves
   * those local and passes its communicator as `applyGradients(grads, { dataParallel })`. All false for
   * an optimizer without such a transform, and under `clipGlobalNorm` (the clip reads every gradient).
   */
  reducesOwnGradients(metas: readonly ParamMeta[]): boolean[] {
    return reducedGradients(this.transform, metas);
  }

  /**
   * `tf.Optimizer.minimize`, passing the loss `f()` on to the step (`applyGradients(grads, { loss })`,
   * kept on the device), so loss-aware optimizers work in `minimize` and in tfjs-layers' `model.fit`,
   * which calls it. The gradients are disposed, and the loss unless `returnCost` — also when the step throws.
   */
  override minimize(f: () => tf.Scalar, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    return minimizeWithLoss(this, f, returnCost, varList);
  }

  /**
   * One step from the gradients (a name → tensor map, or a `{name, tensor}` list). `options.loss` is the
   * loss they are of: a loss-aware optimizer ({@link needsLoss}) throws `LossRequiredError` without
   * it, before anything is written; the others ignore it.
   */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[], options: ApplyGradientsOptions = {}): void {
    const entries = this.collect(variableGradients);
    const loss = this.checkLoss(options);
    // An empty first step binds nothing (and is not counted): the state is made for the first real list.
    if (this.metas === null && entries.length === 0) return;
    if (this.metas === null) this.createState(entries);
    else this.checkParams(entries);
    const metas = this.metas!;

    if (this.common.nonFinite !== 'ignore' && entries.length > 0) {
      const bad = this.nonFiniteParams(entries.map((e) => e.grad), loss);
      if (bad !== null) {
        if (this.common.nonFinite === 'throw') {
          throw bad.length > 0
            ? new NonFiniteGradientError(this.name, bad.map((i) => metas[i].name))
            : new NonFiniteLossError(this.name);
        }
        this.skipped++;
        return;
      }
    }

    tf.tidy(() => {
      const params = entries.map((e) => e.variable);
      const state = mapState(this.stateTree, (v) => v);
      const r = this.transform.update(
        entries.map((e) => (e.grad.dtype === 'float32' ? e.grad : tf.cast(e.grad, 'float32'))),
        state,
        {
          step: this.iterations,
          params,
          metas,
          ...(loss === undefined ? {} : { loss: asLossScalar(loss) }),
          ...(options.dataParallel !== undefined ? { dataParallel: options.dataParallel } : {}),
        },
      );
      const newParams = params.map((p, i) => {
        const u = r.updates[i];
        if (!sameShape(u.shape, p.shape)) {
          throw new Error(
            `${this.name}: internal error: update for '${metas[i].name}' has shape ${shapeString(u.shape)}, ` +
              `parameter has ${shapeString(p.shape)}`,
          );
        }
        return tf.add(p, u);
      });
      const newState = flattenState(r.state);
      if (newState.length !== this.slots.length) {
        throw new Error(`${this.name}: internal error: the state changed its structure during a step`);
      }
      // Everything is computed: only now write.
      newState.forEach(([, t], i) => {
        if (t !== this.slots[i].variable) this.slots[i].variable.assign(t);
      });
      newParams.forEach((p, i) => params[i].assign(p));
    });
    this.incrementIterations();
  }

  /**
   * Normalizes both `applyGradients` forms to `{name, variable, grad}` in order, checking every entry
   * before anything is computed: a registered float32 variable, named once, and a live tensor of its shape.
   */
  private collect(input: tf.NamedTensorMap | NamedTensor[]) {
    if (input === null || typeof input !== 'object') {
      throw new TypeError(`${this.name}: applyGradients takes a map or a list of {name, tensor}, got ${String(input)}`);
    }
    const list: NamedTensor[] = Array.isArray(input)
      ? input
      : Object.keys(input).map((name) => ({ name, tensor: input[name] }));
    const registered = tf.engine().registeredVariables;
    const seen = new Set<string>();
    return list.map((entry) => {
      if (entry === null || typeof entry !== 'object') {
        throw new TypeError(`${this.name}: applyGradients list entries must be {name, tensor}, got ${String(entry)}`);
      }
      const { name, tensor } = entry;
      const variable = registered[name];
      if (variable === undefined) {
        throw new Error(`${this.name}: no variable named '${name}' is registered (got a gradient for it)`);
      }
      if (seen.has(name)) throw new Error(`${this.name}: two gradients for '${name}' in one step`);
      seen.add(name);
      if (tensor == null) {
        throw new Error(`${this.name}: the gradient for '${name}' is missing (null)`);
      }
      if (!(tensor instanceof tf.Tensor)) {
        const got = Array.isArray(tensor) ? 'an array' : typeof tensor === 'object' ? 'an object' : `a ${typeof tensor}`;
        throw new TypeError(`${this.name}: the gradient for '${name}' must be a tf.Tensor, got ${got}`);
      }
      if (tensor.isDisposed) throw new Error(`${this.name}: the gradient for '${name}' has been disposed`);
      if (variable.isDisposed) throw new Error(`${this.name}: the variable '${name}' has been disposed`);
      if (variable.dtype !== 'float32') {
        throw new TypeError(
          `${this.name}: variable '${name}' has dtype ${variable.dtype}; only float32 variables can be trained`,
        );
      }
      if (tensor.dtype === 'string' || tensor.dtype === 'complex64') {
        throw new TypeError(`${this.name}: the gradient for '${name}' has dtype ${tensor.dtype}, expected a number type`);
      }
      if (!sameShape(tensor.shape, variable.shape)) {
        throw new Error(
          `${this.name}: the gradient for '${name}' has shape ${shapeString(tensor.shape)}, ` +
            `but the variable has shape ${shapeString(variable.shape)}`,
        );
      }
      return { name, variable, grad: tensor };
    });
  }

  /**
   * The loss of `applyGradients`' options, checked: a number, or a live numeric tensor of one element.
   * Returns undefined when there is none — and throws {@link LossRequiredError} then if this optimizer
   * reads the loss. A loss given to an optimizer that does not read it is ignored (not checked).
   */
  private checkLoss(options: ApplyGradientsOptions): tf.Tensor | number | undefined {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`${this.name}: applyGradients' second argument must be an object ({ loss }), got ${String(options)}`);
    }
    const loss = options.loss;
    if (!this.needsLoss) return undefined;
    if (loss === undefined || loss === null) throw new LossRequiredError(this.name);
    if (typeof loss === 'number') return loss;
    if (!(loss instanceof tf.Tensor)) {
      throw new TypeError(`${this.name}: the loss must be a number or a scalar tf.Tensor, got ${typeof loss === 'object' ? 'an object' : `a ${typeof loss}`}`);
    }
    if (loss.isDisposed) throw new Error(`${this.name}: the loss tensor has been disposed`);
    if (loss.size !== 1) throw new Error(`${this.name}: the loss must be one number, got a tensor of shape ${shapeString(loss.shape)}`);
    if (loss.dtype === 'string' || loss.dtype === 'complex64') {
      throw new TypeError(`${this.name}: the loss has dtype ${loss.dtype}, expected a number type`);
    }
    return loss;
  }

  private createState(entries: { name: string; variable: tf.Variable }[]): void {
    const metas = entries.map((e) => ({ name: e.name, shape: [...e.variable.shape] }));
    let initial: StateTree = null;
    const leaves = tf.tidy(() => {
      initial = this.transform.init(metas);
      return flattenState(initial).map(([, t]) => t);
    });
    const flat = flattenState(initial);
    const pending = this.pending;
    if (pending !== null) {
      try {
        if (pending.params) this.checkParamsAgainst(metas, pending.params, pending.source);
        this.checkAgainst(
          flat.map(([path, t]) => ({ path, shape: t.shape })),
          { tensors: pending.tensors, paths: pending.paths, source: pending.source },
        );
      } catch (e) {
        // Refused: neither the state nor its step count is applied; the optimizer stays as it was.
        tf.dispose(leaves);
        this.disposePending();
        throw e;
      }
    }
    const slots: StateSlot[] = flat.map(([path, t], i) => {
      const source = pending?.tensors[i] ?? t;
      return { path, variable: tf.variable(source, false) };
    });
    // Rebuild the tree with the variables in place of the initial tensors.
    let k = 0;
    this.stateTree = mapState(initial, () => slots[k++].variable);
    tf.dispose(leaves);
    if (pending !== null) {
      this.iterations_ = pending.step;
      this.skipped = pending.skippedSteps;
    }
    this.disposePending();
    this.metas = metas;
    this.bound = entries.map((e) => e.variable);
    this.slots = slots;
  }

  /**
   * Checks that a step brings the variables the state is bound to, in the same order. A variable that is
   * not the bound one is accepted only when the bound one was disposed and this one carries its name and
   * shape (the same parameter made again); anything else is refused before any write, saying which.
   */
  private checkParams(entries: { name: string; variable: tf.Variable }[]): void {
    const metas = this.metas!;
    if (entries.length !== metas.length) {
      throw new Error(
        `${this.name}: got ${entries.length} gradients, but the optimizer state was created for ` +
          `${metas.length} parameters (${metas.map((m) => m.name).join(', ')}). One optimizer instance ` +
          `trains one fixed list of variables, in the same order.`,
      );
    }
    const rebind: [number, tf.Variable][] = [];
    entries.forEach((e, i) => {
      if (e.variable === this.bound[i]) return;
      if (this.bound[i].isDisposed && e.name === metas[i].name && sameShape(e.variable.shape, metas[i].shape)) {
        rebind.push([i, e.variable]);
        return;
      }
      const elsewhere = this.bound.findIndex((v, j) => j !== i && (v === e.variable || metas[j].name === e.name));
      const where =
        elsewhere >= 0
          ? ` ('${e.name}' was at position ${elsewhere})`
          : ` (${shapeString(e.variable.shape)}, a variable this optimizer has not trained)`;
      throw new Error(
        `${this.name}: parameter ${i} is '${e.name}', but the optimizer state at position ${i} belongs to ` +
          `'${metas[i].name}'${where}. One optimizer instance trains one fixed list of variables, in the ` +
          `order of its first step (${metas.map((m) => m.name).join(', ')}); make another optimizer for another list.`,
      );
    });
    for (const [i, v] of rebind) this.bound[i] = v;
  }

  /**
   * Positions whose gradient holds a NaN or ±Inf; an empty list when only the loss does; null when all
   * is finite. One scalar is read back per step: `Σᵢ sum(gᵢ·0)` (plus `loss·0` when the loss is read)
   * is 0 when every value is finite and NaN otherwise (no overflow, unlike summing the gradients); only
   * then are the parameters checked one by one, to name them.
   */
  private nonFiniteParams(grads: tf.Tensor[], loss?: tf.Tensor | number): number[] | null {
    if (typeof loss === 'number' && !Number.isFinite(loss)) {
      const bad = this.nonFiniteParams(grads);
      return bad ?? [];
    }
    const probe = tf.tidy(() => {
      const terms = grads.map((g) => tf.sum(tf.mul(g, 0)));
      if (loss instanceof tf.Tensor) terms.push(tf.sum(tf.mul(tf.cast(loss, 'float32'), 0)));
      return tf.addN(terms);
    });
    const ok = Number.isFinite(probe.dataSync()[0]);
    probe.dispose();
    if (ok) return null;
    const flags = tf.tidy(() => tf.stack(grads.map((g) => tf.any(tf.logicalNot(tf.isFinite(g))))));
    const values = flags.dataSync();
    flags.dispose();
    const bad: number[] = [];
    values.forEach((v, i) => {
      if (v) bad.push(i);
    });
    return bad;
  }

  /**
   * Stages saved state (from `setWeights` or a checkpoint), with its step count, until the first step has
   * created the slots and checked that it fits; or, when the slots exist, checks it and writes it at
   * once. Throws, saying what differs, when the parameters, slot paths, count or shapes do not match;
   * nothing is written then. Empty state (saved before a first step, `info.params` null or empty) makes
   * the optimizer start afresh at `info.step`.
   */
  stageState(tensors: tf.Tensor[], info: StagedStateInfo): void {
    const step = info.step ?? this.iterations;
    const skippedSteps = info.skippedSteps ?? this.skippedSteps;
    if (!Array.isArray(tensors) || tensors.some((t) => !(t instanceof tf.Tensor) || t.isDisposed)) {
      throw new TypeError(`${this.name}: ${info.source}: the state must be a list of live tensors`);
    }
    if (tensors.length === 0 && (info.params == null || info.params.length === 0)) {
      // State from before a first step: nothing to fit; the optimizer starts afresh.
      this.resetState();
      this.iterations_ = step;
      this.skipped = skippedSteps;
      return;
    }
    if (this.metas !== null) {
      if (info.params) this.checkParamsAgainst(this.metas, info.params, info.source);
      this.checkAgainst(
        this.slots.map((s) => ({ path: s.path, shape: s.variable.shape })),
        { tensors, paths: info.paths, source: info.source },
      );
      tensors.forEach((t, i) => this.slots[i].variable.assign(t));
      this.iterations_ = step;
      this.skipped = skippedSteps;
      return;
    }
    const kept = tensors.map((t) => tf.keep(tf.clone(t)));
    this.disposePending();
    this.pending = { tensors: kept, source: info.source, paths: info.paths, params: info.params, step, skippedSteps };
  }

  private checkParamsAgainst(here: readonly ParamMeta[], saved: readonly ParamMeta[], source: string): void {
    if (here.length !== saved.length) {
      throw new Error(
        `${this.name}: ${source} was saved for ${saved.length} parameters, this optimizer trains ${here.length}`,
      );
    }
    // Names may differ (a reloaded layers model renames its variables); the same names in another order
    // would hand each parameter another one's state.
    const savedNames = saved.map((m) => m.name);
    if (here.some((m, i) => m.name !== savedNames[i]) && here.every((m) => savedNames.includes(m.name))) {
      throw new Error(
        `${this.name}: ${source} was saved for the parameters ${savedNames.join(', ')} in that order; ` +
          `here they come as ${here.map((m) => m.name).join(', ')}`,
      );
    }
    here.forEach((m, i) => {
      if (!sameShape(m.shape, saved[i].shape)) {
        throw new Error(
          `${this.name}: ${source}: parameter ${i} was '${saved[i].name}' with shape ${shapeString(saved[i].shape)}, ` +
            `here it is '${m.name}' with shape ${shapeString(m.shape)}`,
        );
      }
    });
  }

  private checkAgainst(
    expected: { path: string; shape: readonly number[] }[],
    saved: { tensors: readonly tf.Tensor[]; paths?: readonly string[]; source: string },
  ): void {
    const { tensors, paths, source } = saved;
    if (expected.length !== tensors.length) {
      throw new Error(
        `${this.name}: ${source} holds ${tensors.length} state tensors, but this optimizer keeps ` +
          `${expected.length} for these parameters (${expected.map((e) => e.path).join(', ') || 'none'})`,
      );
    }
    expected.forEach((e, i) => {
      if (paths && paths[i] !== e.path) {
        throw new Error(`${this.name}: ${source}: state slot ${i} is '${paths[i]}' there, '${e.path}' here`);
      }
      if (tensors[i].dtype !== 'float32') {
        throw new TypeError(`${this.name}: ${source}: state slot ${i} ('${e.path}') has dtype ${tensors[i].dtype}, expected float32`);
      }
      if (!sameShape(e.shape, tensors[i].shape)) {
        throw new Error(
          `${this.name}: ${source}: state slot ${i} ('${e.path}') has shape ${shapeString(tensors[i].shape)}, ` +
            `expected ${shapeString(e.shape)}`,
        );
      }
    });
  }

  private disposePending(): void {
    if (this.pending !== null) tf.dispose(this.pending.tensors);
    this.pending = null;
  }

  /** Drops the state, its binding and anything staged: the next step starts as a fresh optimizer's. */
  private resetState(): void {
    tf.dispose(this.slots.map((s) => s.variable));
    this.slots = [];
    this.stateTree = null;
    this.metas = null;
    this.bound = [];
    this.disposePending();
  }

  /**
   * What a save of this optimizer holds: the step count, skipped steps, parameters and state slots — the
   * staged state when a restore waits for the first step. `params` is null when the parameters are not
   * known (no state, or state staged by `setWeights`), a slot's `path` '' when its path is not known.
   * The tensors are clones, taken now: dispose them.
   */
  snapshotState(): { step: number; skippedSteps: number; params: ParamMeta[] | null; slots: { path: string; tensor: tf.Tensor }[] } {
    const staged = this.pending;
    if (staged !== null) {
      return {
        step: staged.step,
        skippedSteps: staged.skippedSteps,
        params: staged.params ? staged.params.map((p) => ({ name: p.name, shape: [...p.shape] })) : null,
        // '' when the paths are not known (setWeights of weights not named by getWeights).
        slots: staged.tensors.map((t, i) => ({ path: staged.paths?.[i] ?? '', tensor: tf.clone(t) })),
      };
    }
    return {
      step: this.iterations,
      skippedSteps: this.skipped,
      params: this.metas === null ? null : this.metas.map((p) => ({ name: p.name, shape: [...p.shape] })),
      slots: this.slots.map((s) => ({ path: s.path, tensor: tf.clone(s.variable) })),
    };
  }

  override getWeights(): Promise<NamedTensor[]> {
    const staged = this.pending;
    return Promise.resolve([
      { name: 'iter', tensor: tf.scalar(this.iterations, 'int32') },
      ...(staged !== null
        ? staged.tensors.map((t, i) => ({ name: `orthoptim/${staged.paths?.[i] ?? i}`, tensor: t }))
        : this.slots.map((s) => ({ name: `orthoptim/${s.path}`, tensor: s.variable }))),
    ]);
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    if (!Array.isArray(weightValues) || weightValues.length === 0 || !(weightValues[0]?.tensor instanceof tf.Tensor)) {
      const got = Array.isArray(weightValues) ? `a list of ${weightValues.length}` : weightValues === null ? 'null' : typeof weightValues;
      throw new TypeError(`${this.name}: setWeights takes the list getWeights gives ([iter, ...state]), got ${got}`);
    }
    // Read the step without setting it (tfjs's extractIterations would): it is staged with the state.
    const step = (await weightValues[0].tensor.data())[0];
    const rest = weightValues.slice(1);
    const paths = rest.every((w) => typeof w.name === 'string' && w.name.startsWith('orthoptim/'))
      ? rest.map((w) => w.name.slice('orthoptim/'.length))
      : undefined;
    this.stageState(
      rest.map((w) => w.tensor),
      { source: 'the weights given to setWeights', step, paths },
    );
  }

  override getConfig(): tf.serialization.ConfigDict {
    // Before the first step, a staged checkpoint's parameter list stands in for the real one.
    const config: OptimizerConfig = { ...this.definition.toConfig(this.resolved, this.metas ?? this.pending?.params ?? null) };
    config.nonFinite = this.common.nonFinite;
    config.clipGlobalNorm = this.common.clipGlobalNorm;
    config.engine = this.engine;
    return config;
  }

  /**
   * The engine choice its Newton–Schulz runs with: the `engine` option, else the global default now
   * (`setDefaultEngine`; `'auto'` unless changed: onnxruntime or workers once `orthoptim/engines` is
   * loaded, tfjs otherwise — `describeEngine(choice, backend)` says which). `null` when it runs no
   * Newton–Schulz (AdamW, SGD, a user's chain: its engine is in its own settings). Written to the config.
   */
  get engine(): EngineChoice | null {
    return this.common.engine ?? (this.orthogonalizes ? defaultEngine() : null);
  }

  override dispose(): void {
    this.resetState();
  }
}

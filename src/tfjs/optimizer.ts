/**
 * The TensorFlow.js face of every orthoptim optimizer: a `tf.Optimizer` subclass that runs a gradient
 * transformation. It works in `model.compile({optimizer})` + `model.fit`, in `optimizer.minimize(f)`, and
 * with `applyGradients` in both its forms (name → tensor map, or `{name, tensor}` list).
 *
 * Contract with tfjs (tfjs-core `optimizers/optimizer.ts`, tfjs-layers `engine/training.ts`):
 * - one `tf.tidy` per step; state lives in non-trainable `tf.Variable`s updated with `assign`;
 * - state is keyed by parameter *position*: tfjs-layers always hands the trainable weights over in the
 *   same order, while a reloaded model renames its variables;
 * - `getWeights()` = `[iter, …state slots in a fixed order]`, `setWeights` reads them back in that order
 *   (through `model.save(…, {includeOptimizer: true})` → `tf.loadLayersModel`);
 * - every step computes all new parameters and state first and assigns them only at the end, so a step
 *   that throws (bad shape, non-finite gradient) writes nothing.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { chain, type GradientTransformation, type ParamMeta, type StateTree } from '../core/transform.js';
import { checkKnownKeys } from '../core/options.js';
import { clipByGlobalNorm } from '../transforms/clip.js';
import { withEngine } from '../engines/engine.js';
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

/** Weights staged by `setWeights` / a checkpoint before the first step has created the state. */
interface PendingState {
  readonly tensors: tf.Tensor[];
  readonly source: string;
  /** Slot paths as saved (checked against this optimizer's when known). */
  readonly paths?: readonly string[];
  /** Parameters the state was saved for (checked at the first step). */
  readonly params?: readonly ParamMeta[];
}

/** What saved state says about itself, for the checks of {@link TransformOptimizer.stageState}. */
export interface StagedStateInfo {
  /** Where the state comes from, for messages (e.g. `checkpoint /tmp/ck`). */
  readonly source: string;
  readonly paths?: readonly string[];
  readonly params?: readonly ParamMeta[];
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
  /** Steps skipped because a gradient was not finite (policy `'skip'`). */
  skippedSteps = 0;

  private metas: ParamMeta[] | null = null;
  private stateTree: StateTree = null;
  private slots: StateSlot[] = [];
  private pending: PendingState | null = null;

  constructor(definition: OptimizerDefinition<O, R>, options: O & CommonOptions = {} as O & CommonOptions) {
    super();
    this.definition = definition;
    if (options === null || typeof options !== 'object') {
      throw new RangeError(`${definition.name}: options must be an object, got ${String(options)}`);
    }
    checkKnownKeys(definition.name, options, [...definition.keys, ...commonKeys]);
    const own = { ...options } as Record<string, unknown>;
    for (const k of commonKeys) delete own[k];
    this.common = resolveCommon(definition.name, options);
    this.resolved = definition.resolve(own as O);
    const inner = definition.build(this.resolved);
    this.transform =
      this.common.clipGlobalNorm === null ? inner : chain(clipByGlobalNorm(this.common.clipGlobalNorm), inner);
  }

  /** Registry name, e.g. `'muon'`. */
  get name(): string {
    return this.definition.name;
  }

  /** Number of steps applied so far (skipped steps not counted). */
  get step(): number {
    return this.iterations;
  }

  /** Names and shapes of the parameters the state was created for (null before the first step). */
  get parameters(): readonly ParamMeta[] | null {
    return this.metas;
  }

  /** The state slots (path and variable), in `getWeights` order. Empty before the first step. */
  get stateSlots(): readonly StateSlot[] {
    return this.slots;
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const entries = this.collect(variableGradients);
    if (this.metas === null) this.createState(entries);
    else this.checkParams(entries);
    const metas = this.metas!;

    if (this.common.nonFinite !== 'ignore' && entries.length > 0) {
      const bad = this.nonFiniteParams(entries.map((e) => e.grad));
      if (bad.length > 0) {
        if (this.common.nonFinite === 'throw') {
          throw new NonFiniteGradientError(this.name, bad.map((i) => metas[i].name));
        }
        this.skippedSteps++;
        return;
      }
    }

    tf.tidy(() => {
      const params = entries.map((e) => e.variable);
      const state = mapState(this.stateTree, (v) => v);
      const r = withEngine(this.common.engine ?? undefined, () =>
        this.transform.update(
          entries.map((e) => (e.grad.dtype === 'float32' ? e.grad : tf.cast(e.grad, 'float32'))),
          state,
          { step: this.iterations, params, metas },
        ),
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

  /** Normalizes both `applyGradients` forms to `{name, variable, grad}` in order, checking shapes. */
  private collect(input: tf.NamedTensorMap | NamedTensor[]) {
    const list: NamedTensor[] = Array.isArray(input)
      ? input
      : Object.keys(input).map((name) => ({ name, tensor: input[name] }));
    const registered = tf.engine().registeredVariables;
    return list.map(({ name, tensor }) => {
      const variable = registered[name];
      if (variable === undefined) {
        throw new Error(`${this.name}: no variable named '${name}' is registered (got a gradient for it)`);
      }
      if (tensor == null) {
        throw new Error(`${this.name}: the gradient for '${name}' is missing (null)`);
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

  private createState(entries: { name: string; variable: tf.Variable }[]): void {
    const metas = entries.map((e) => ({ name: e.name, shape: [...e.variable.shape] }));
    let initial: StateTree = null;
    const leaves = tf.tidy(() => {
      initial = this.transform.init(metas);
      return flattenState(initial).map(([, t]) => t);
    });
    const flat = flattenState(initial);
    if (this.pending !== null) {
      try {
        if (this.pending.params) this.checkParamsAgainst(metas, this.pending.params, this.pending.source);
        this.checkAgainst(
          flat.map(([path, t]) => ({ path, shape: t.shape })),
          { tensors: this.pending.tensors, paths: this.pending.paths, source: this.pending.source },
        );
      } catch (e) {
        tf.dispose(leaves);
        this.disposePending();
        throw e;
      }
    }
    const slots: StateSlot[] = flat.map(([path, t], i) => {
      const source = this.pending?.tensors[i] ?? t;
      return { path, variable: tf.variable(source, false) };
    });
    // Rebuild the tree with the variables in place of the initial tensors.
    let k = 0;
    this.stateTree = mapState(initial, () => slots[k++].variable);
    tf.dispose(leaves);
    this.disposePending();
    this.metas = metas;
    this.slots = slots;
  }

  private checkParams(entries: { name: string; variable: tf.Variable }[]): void {
    const metas = this.metas!;
    if (entries.length !== metas.length) {
      throw new Error(
        `${this.name}: got ${entries.length} gradients, but the optimizer state was created for ` +
          `${metas.length} parameters (${metas.map((m) => m.name).join(', ')}). One optimizer instance ` +
          `trains one fixed list of variables, in the same order.`,
      );
    }
    entries.forEach((e, i) => {
      if (!sameShape(e.variable.shape, metas[i].shape)) {
        throw new Error(
          `${this.name}: parameter ${i} ('${e.name}') has shape ${shapeString(e.variable.shape)}, but the ` +
            `optimizer state was created for '${metas[i].name}' with shape ${shapeString(metas[i].shape)}`,
        );
      }
    });
  }

  /**
   * Positions whose gradient holds a NaN or ±Inf. One scalar is read back per step: `Σᵢ sum(gᵢ·0)` is 0
   * when every value is finite and NaN otherwise (no overflow, unlike summing the gradients); only then
   * are the parameters checked one by one, to name them.
   */
  private nonFiniteParams(grads: tf.Tensor[]): number[] {
    const probe = tf.tidy(() => tf.addN(grads.map((g) => tf.sum(tf.mul(g, 0)))));
    const ok = Number.isFinite(probe.dataSync()[0]);
    probe.dispose();
    if (ok) return [];
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
   * Stages saved state (from `setWeights` or a checkpoint) until the first step creates the slots, or
   * writes it at once when they exist. Throws, saying what differs, when the parameters, slot paths,
   * count or shapes do not match; nothing is written then.
   */
  stageState(tensors: tf.Tensor[], info: StagedStateInfo): void {
    if (this.metas !== null) {
      if (info.params) this.checkParamsAgainst(this.metas, info.params, info.source);
      this.checkAgainst(
        this.slots.map((s) => ({ path: s.path, shape: s.variable.shape })),
        { tensors, paths: info.paths, source: info.source },
      );
      tensors.forEach((t, i) => this.slots[i].variable.assign(t));
      return;
    }
    this.disposePending();
    this.pending = { tensors: tensors.map((t) => tf.keep(tf.clone(t))), ...info };
  }

  private checkParamsAgainst(here: readonly ParamMeta[], saved: readonly ParamMeta[], source: string): void {
    if (here.length !== saved.length) {
      throw new Error(
        `${this.name}: ${source} was saved for ${saved.length} parameters, this optimizer trains ${here.length}`,
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

  /** Sets the step counter (checkpoint loading). */
  setStep(step: number): void {
    this.iterations_ = step;
  }

  override async getWeights(): Promise<NamedTensor[]> {
    return [
      await this.saveIterations(),
      ...this.slots.map((s) => ({ name: `orthoptim/${s.path}`, tensor: s.variable })),
    ];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    this.stageState(
      rest.map((w) => w.tensor),
      { source: 'the weights given to setWeights' },
    );
  }

  override getConfig(): tf.serialization.ConfigDict {
    // Before the first step, a staged checkpoint's parameter list stands in for the real one.
    const config: OptimizerConfig = { ...this.definition.toConfig(this.resolved, this.metas ?? this.pending?.params ?? null) };
    config.nonFinite = this.common.nonFinite;
    config.clipGlobalNorm = this.common.clipGlobalNorm;
    config.engine = this.common.engine;
    return config;
  }

  override dispose(): void {
    tf.dispose(this.slots.map((s) => s.variable));
    this.slots = [];
    this.stateTree = null;
    this.metas = null;
    this.disposePending();
  }
}

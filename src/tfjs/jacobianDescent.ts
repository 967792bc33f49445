/**
 * Jacobian descent for custom training loops and tfjs-layers models: several objectives, one gradient
 * each, one aggregated step (Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization",
 * arXiv 2406.16232; reference TorchJD/torchjd `src/torchjd/autojac/_backward.py` — `backward(losses,
 * aggregator)` then `optimizer.step()` — and its IWRM example, `docs/source/examples/iwrm.rst`).
 *
 * `jacobianDescent(losses, optimizer, {aggregator})` runs one `tf.variableGrads` per loss over the same
 * variables, flattens each loss's gradients (variable by variable) into one row of the Jacobian `J`
 * (m × d, read back and widened to float64), hands `J` to the aggregator (`upgrad()` by default:
 * `transforms/aggregators.ts`), cuts the direction `Jᵀw` back into one float32 tensor per variable and
 * applies it with `optimizer.applyGradients` — any orthoptim optimizer or a plain `tf.Optimizer`. An
 * orthoptim optimizer is also handed the mean of the objectives' values as the step's loss (what a
 * loss-aware one such as `polyakSgd` reads; with the `mean` aggregator that makes the step exactly the
 * average-loss step). Every tensor it makes is disposed before it returns, and on bad input (an empty list,
 * a non-scalar loss, objectives over different variables) it throws a named error before anything is
 * written.
 *
 * `modelJacobianDescent(model, x, y, optimizer, {loss})` is the same step for a tfjs-layers model (duck-typed:
 * `apply` and `trainableWeights`, so tfjs-layers stays an optional dependency), with the objectives
 * either the examples of the batch (IWRM, instance-wise risk minimization: objective i is example i's
 * loss) or the model's outputs (objective k is output k's batch-mean loss).
 *
 * Cost: m forward/backward passes and a read-back of the m·d Jacobian per step (a pipeline stall on
 * webgl/webgpu); the aggregation itself is O(m²d) host flops for the Gramian plus the m×m QPs.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkChoice, checkKnownKeys, checkBoolean, showValue } from '../core/options.js';
import { upgrad, type Aggregator } from '../transforms/aggregators.js';
import { isTransformOptimizer } from './optimizer.js';

/** Thrown for an empty list of objectives. Nothing was computed or written. */
export class EmptyObjectivesError extends Error {
  constructor(readonly owner: string) {
    super(`${owner}: the list of objectives is empty (give at least one loss)`);
    this.name = 'EmptyObjectivesError';
  }
}

/** Thrown when a loss is not a scalar. Nothing was written. */
export class NonScalarLossError extends Error {
  constructor(
    readonly owner: string,
    readonly index: number,
    readonly shape: readonly number[],
  ) {
    super(`${owner}: loss ${index} must return a scalar, got shape [${shape.join(', ')}] (reduce it first, e.g. tf.mean)`);
    this.name = 'NonScalarLossError';
  }
}

/**
 * Thrown when the objectives have gradients for different variables (every objective must depend on the
 * same set; pass `varList` and `missingGradients: 'zero'` to differentiate a fixed set and count a
 * variable an objective does not reach as a zero gradient). Nothing was written.
 */
export class ObjectiveVariablesMismatchError extends Error {
  constructor(
    readonly owner: string,
    readonly index: number,
    readonly missing: readonly string[],
    readonly extra: readonly string[],
  ) {
    const parts = [
      missing.length > 0 ? `no gradient for ${missing.map((n) => `'${n}'`).join(', ')}` : '',
      extra.length > 0 ? `a gradient for ${extra.map((n) => `'${n}'`).join(', ')} that loss 0 lacks` : '',
    ].filter((p) => p !== '');
    super(`${owner}: loss ${index} depends on other variables than loss 0: ${parts.join('; ')}`);
    this.name = 'ObjectiveVariablesMismatchError';
  }
}

/** A scalar loss closure (it may return a one-element tensor of any rank only if it is rank 0). */
export type LossFunction = () => tf.Scalar;

/** Objectives: a list of loss closures, or a `{main, aux}` pair (main first). */
export type Objectives = readonly LossFunction[] | { readonly main: LossFunction; readonly aux: LossFunction };

/** How a variable that some objective does not reach is treated. */
export type MissingGradients = 'error' | 'zero';

/** One gradient per objective over one list of variables, as {@link objectiveGradients} computes them. */
export interface ObjectiveGradients {
  /** Variable names, in the order of the gradients (the Jacobian's column blocks). */
  readonly names: string[];
  readonly shapes: number[][];
  /** `grads[i][k]`: objective i's gradient for variable k (a zero tensor where it does not reach it). */
  readonly grads: tf.Tensor[][];
  /** Each objective's value. */
  readonly values: number[];
}

/** The losses of {@link Objectives} as a list (a pair as `[main, aux]`). */
export function objectiveList(owner: string, objectives: Objectives): LossFunction[] {
  if (Array.isArray(objectives)) {
    const list = objectives as readonly unknown[];
    if (list.length === 0) throw new EmptyObjectivesError(owner);
    list.forEach((f, i) => {
      if (typeof f !== 'function') throw new TypeError(`${owner}: loss ${i} must be a function returning a scalar, got ${showValue(f)}`);
    });
    return [...(list as LossFunction[])];
  }
  if (objectives !== null && typeof objectives === 'object' && 'main' in objectives && 'aux' in objectives) {
    const { main, aux } = objectives as { main: unknown; aux: unknown };
    if (typeof main !== 'function' || typeof aux !== 'function') {
      throw new TypeError(`${owner}: main and aux must be functions returning a scalar, got ${showValue(main)} and ${showValue(aux)}`);
    }
    return [main as LossFunction, aux as LossFunction];
  }
  throw new TypeError(`${owner}: objectives must be a list of loss functions or a {main, aux} pair, got ${showValue(objectives)}`);
}

/**
 * One `tf.variableGrads` per loss over `varList` (default: every trainable variable). Checks that every
 * loss is a scalar and (with `missing = 'error'`) that every loss reaches the same variables; throws
 * {@link NonScalarLossError} / {@link ObjectiveVariablesMismatchError} with every tensor it made disposed.
 * The caller owns the returned gradients.
 */
export function objectiveGradients(
  owner: string,
  losses: readonly LossFunction[],
  varList: tf.Variable[] | undefined,
  missing: MissingGradients,
): ObjectiveGradients {
  const maps: tf.NamedTensorMap[] = [];
  const values: number[] = [];
  let ok = false;
  try {
    for (let i = 0; i < losses.length; i++) {
      let shape: number[] | null = null;
      const f = losses[i];
      const scalarOf = () => {
        const y = f();
        if (!(y instanceof tf.Tensor)) throw new TypeError(`${owner}: loss ${i} must return a scalar tensor, got ${showValue(y)}`);
        if (y.rank === 0) return y as tf.Scalar;
        // Reduce so that the backward pass ends cleanly (its tensors are freed), then refuse.
        shape = y.shape;
        return tf.sum(y) as tf.Scalar;
      };
      let r: { value: tf.Scalar; grads: tf.NamedTensorMap };
      try {
        // In a tidy: tfjs 4.22's variableGrads leaks the loss value when it finds no connection.
        r = tf.tidy(() => {
          const out = tf.variableGrads(scalarOf, varList);
          const live: tf.NamedTensorMap = {};
          for (const [k, g] of Object.entries(out.grads)) if ((g as tf.Tensor | null) !== null) live[k] = g;
          return { value: out.value, grads: live };
        });
      } catch (e) {
        // tfjs refuses a loss that reaches none of the variables; here that is an objective with no
        // gradients (a mismatch, or all zeros with missingGradients 'zero').
        if (!(e instanceof Error && e.message.startsWith('Cannot find a connection'))) throw e;
        r = { value: tf.tidy(scalarOf), grads: {} };
      }
      const present = r.grads;
      maps.push(present);
      values.push(r.value.dataSync()[0]);
      r.value.dispose();
      if (shape !== null) throw new NonScalarLossError(owner, i, shape);
      if (missing === 'error' && i > 0) {
        const names = Object.keys(maps[0]);
        const keys = Object.keys(present);
        const absent = names.filter((n) => !(n in present));
        const extra = keys.filter((k) => !(k in maps[0]));
        if (absent.length > 0 || extra.length > 0) throw new ObjectiveVariablesMismatchError(owner, i, absent, extra);
      }
    }
    // The columns: varList's order where given, else the order the gradients came in (first loss first).
    const seen = new Set(maps.flatMap((m) => Object.keys(m)));
    const names = varList !== undefined ? varList.map((v) => v.name).filter((n) => seen.has(n)) : [...seen];
    const shapes = names.map((n) => maps.find((m) => n in m)![n].shape);
    const grads = maps.map((m) => names.map((n, k) => m[n] ?? tf.zeros(shapes[k])));
    ok = true;
    return { names, shapes, grads, values };
  } finally {
    if (!ok) for (const m of maps) tf.dispose(Object.values(m));
  }
}

/** Options of {@link jacobianDescent}. */
export interface JacobianDescentOptions {
  /** How the m gradients become one direction (default `upgrad()`). */
  readonly aggregator?: Aggregator;
  /** The variables to differentiate (default: every trainable variable, as `tf.variableGrads`). */
  readonly varList?: tf.Variable[];
  /**
   * A variable that some objective does not reach: `'error'` (default) refuses the step with
   * {@link ObjectiveVariablesMismatchError}; `'zero'` counts its gradient as zero (TorchJD's `backward`
   * over a fixed set of tensors does the same). A variable no objective reaches is left out of the step.
   */
  readonly missingGradients?: MissingGradients;
}

/** What one Jacobian-descent step computed. */
export interface JacobianDescentResult {
  /** Each objective's value before the step. */
  readonly losses: number[];
  /** The aggregator's weights `w` (length m): the direction applied was `Jᵀw`. */
  readonly weights: Float64Array;
  /** The variables stepped, in the Jacobian's column order. */
  readonly variables: readonly string[];
}

const jdKeys = ['aggregator', 'varList', 'missingGradients'];

function resolveCommon(owner: string, options: JacobianDescentOptions) {
  const aggregator = options.aggregator ?? upgrad();
  if (aggregator === null || typeof aggregator !== 'object' || typeof aggregator.aggregate !== 'function') {
    throw new TypeError(`${owner}: aggregator must be an aggregator (upgrad(), dualProj(), mean()), got ${showValue(aggregator)}`);
  }
  const missing = checkChoice(owner, 'missingGradients', options.missingGradients ?? 'error', ['error', 'zero'] as const);
  return { aggregator, missing };
}

/** Aggregates the gradients and applies `Jᵀw`; disposes the gradients. */
function aggregateAndApply(
  owner: string,
  g: ObjectiveGradients,
  optimizer: tf.Optimizer,
  aggregator: Aggregator,
): JacobianDescentResult {
  try {
    const { names, shapes } = g;
    if (names.length === 0) throw new Error(`${owner}: no objective reaches any of the variables`);
    const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
    const d = sizes.reduce((a, b) => a + b, 0);
    const rows = g.grads.map((gs) => {
      const flat = tf.tidy(() => tf.concat(gs.map((t) => tf.reshape(t, [-1]))));
      const row = Float64Array.from(flat.dataSync());
      flat.dispose();
      return row;
    });
    const { direction, weights } = aggregator.aggregate(rows);
    if (direction.length !== d) throw new Error(`${owner}: the aggregator returned ${direction.length} values for ${d} parameters`);
    const step: tf.NamedTensorMap = {};
    let offset = 0;
    names.forEach((n, k) => {
      step[n] = tf.tensor(Float32Array.from(direction.subarray(offset, offset + sizes[k])), shapes[k], 'float32');
      offset += sizes[k];
    });
    try {
      if (isTransformOptimizer(optimizer)) {
        optimizer.applyGradients(step, { loss: g.values.reduce((a, b) => a + b, 0) / g.values.length });
      } else {
        optimizer.applyGradients(step);
      }
    } finally {
      tf.dispose(Object.values(step));
    }
    return { losses: g.values, weights, variables: names };
  } finally {
    for (const gs of g.grads) tf.dispose(gs);
  }
}

/**
 * One Jacobian-descent step: `optimizer.applyGradients(unflatten(aggregator(J)))` with row i of `J` the
 * gradient of the i-th objective (for a `{main, aux}` pair: row 0 main, row 1 aux). Throws
 * {@link EmptyObjectivesError}, {@link NonScalarLossError} or {@link ObjectiveVariablesMismatchError}
 * before anything is written.
 *
 * @example
 * const opt = muon({ lr: 0.02 });
 * jacobianDescent([() => lossA(), () => lossB()], opt, { aggregator: upgrad() });
 */
export function jacobianDescent(objectives: Objectives, optimizer: tf.Optimizer, options: JacobianDescentOptions = {}): JacobianDescentResult {
  checkKnownKeys('jacobianDescent', options, jdKeys);
  const losses = objectiveList('jacobianDescent', objectives);
  const { aggregator, missing } = resolveCommon('jacobianDescent', options);
  const g = objectiveGradients('jacobianDescent', losses, options.varList, missing);
  return aggregateAndApply('jacobianDescent', g, optimizer, aggregator);
}

/** The parts of a tfjs-layers `LayersModel` {@link modelJacobianDescent} uses. */
export interface JacobianModelLike {
  /** A forward pass (on tensors it returns tensors; the symbolic form is not used). */
  apply(inputs: tf.Tensor | tf.Tensor[], kwargs?: { training?: boolean }): unknown;
  /** LayerVariables: `read()` is the `tf.Variable` they hold. */
  readonly trainableWeights: readonly { read(): tf.Tensor }[];
}

/**
 * A loss of one output: `(yTrue, yPred) → per-example losses` (shape `[batch]`, or any shape whose first
 * axis is the batch: the rest is averaged), e.g. `tf.metrics.categoricalCrossentropy` or
 * `(t, p) => tf.losses.meanSquaredError(t, p, undefined, tf.Reduction.NONE)`.
 */
export type PerExampleLoss = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/** Options of {@link modelJacobianDescent}. */
export interface ModelJacobianDescentOptions {
  /** The loss (one for every output, or one per output). */
  readonly loss: PerExampleLoss | readonly PerExampleLoss[];
  /**
   * `'examples'` (default; IWRM): objective i is example i's loss (summed over the outputs), one forward and
   * backward pass on that example alone — a layer that couples the batch (BatchNormalization in training)
   * sees batches of one. `'outputs'`: objective k is output k's loss averaged over the batch.
   */
  readonly objectives?: 'examples' | 'outputs';
  /** How the gradients become one direction (default `upgrad()`). */
  readonly aggregator?: Aggregator;
  /** Passed to `model.apply` (default true, as in `model.fit`: dropout is active). */
  readonly training?: boolean;
}

function asList(owner: string, what: string, t: tf.Tensor | readonly tf.Tensor[]): tf.Tensor[] {
  const list = Array.isArray(t) ? [...(t as readonly tf.Tensor[])] : [t as tf.Tensor];
  list.forEach((x, i) => {
    if (!(x instanceof tf.Tensor) || x.isDisposed) throw new TypeError(`${owner}: ${what} ${i} must be a live tensor, got ${showValue(x)}`);
  });
  return list;
}

/**
 * One Jacobian-descent step for a tfjs-layers model: the objectives are the batch's examples (IWRM) or the
 * model's outputs, the variables the model's trainable weights (a weight an objective does not reach —
 * another output's head — counts as a zero gradient for it). Returns what {@link jacobianDescent} returns.
 * Throws before anything is written when `x`/`y` do not fit (different batch sizes, fewer targets than
 * outputs), a loss is not per-example, or the batch is empty.
 *
 * @example
 * modelJacobianDescent(model, xs, ys, adam({ lr: 1e-3 }), { loss: tf.metrics.categoricalCrossentropy });
 */
export function modelJacobianDescent(
  model: JacobianModelLike,
  x: tf.Tensor | readonly tf.Tensor[],
  y: tf.Tensor | readonly tf.Tensor[],
  optimizer: tf.Optimizer,
  options: ModelJacobianDescentOptions,
): JacobianDescentResult {
  const owner = 'modelJacobianDescent';
  if (options === null || typeof options !== 'object') throw new TypeError(`${owner}: options with a loss are required, got ${showValue(options)}`);
  checkKnownKeys(owner, options, ['loss', 'objectives', 'aggregator', 'training']);
  const { aggregator } = resolveCommon(owner, { aggregator: options.aggregator });
  const mode = checkChoice(owner, 'objectives', options.objectives ?? 'examples', ['examples', 'outputs'] as const);
  const training = checkBoolean(owner, 'training', options.training ?? true);
  const xs = asList(owner, 'input', x);
  const ys = asList(owner, 'target', y);
  const lossList = typeof options.loss === 'function' ? ys.map(() => options.loss as PerExampleLoss) : [...(options.loss as readonly PerExampleLoss[])];
  if (lossList.length !== ys.length || !lossList.every((f) => typeof f === 'function')) {
    throw new RangeError(`${owner}: loss must be a function or one function per output (${ys.length}), got ${showValue(options.loss)}`);
  }
  const batch = xs[0].shape[0] ?? 0;
  for (const t of [...xs, ...ys]) {
    if (t.rank === 0 || t.shape[0] !== batch) {
      throw new RangeError(`${owner}: every input and target needs the same batch size ${batch} on axis 0, got shape [${t.shape.join(', ')}]`);
    }
  }
  if (batch === 0) throw new EmptyObjectivesError(owner);
  const varList = model.trainableWeights.map((w) => w.read() as tf.Variable);

  const forward = (inputs: tf.Tensor[]): tf.Tensor[] => {
    const out = model.apply(inputs.length === 1 ? inputs[0] : inputs, { training });
    const outs = Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
    if (outs.length !== ys.length) throw new RangeError(`${owner}: the model has ${outs.length} outputs and ${ys.length} targets`);
    return outs;
  };
  const perExample = (k: number, yTrue: tf.Tensor, yPred: tf.Tensor, n: number): tf.Tensor => {
    const l = lossList[k](yTrue, yPred);
    if (!(l instanceof tf.Tensor) || l.rank === 0 || l.shape[0] !== n) {
      throw new RangeError(`${owner}: loss ${k} must return per-example losses of shape [${n}, …], got ${l instanceof tf.Tensor ? `shape [${l.shape.join(', ')}]` : showValue(l)}`);
    }
    return l.rank === 1 ? l : tf.mean(tf.reshape(l, [n, -1]), 1);
  };

  const row = (t: tf.Tensor, i: number) => tf.slice(t, [i], [1]);
  // Checked on the first example before any gradient is recorded: a throw inside tf.variableGrads would
  // leave the tensors it saved for the backward pass behind.
  tf.tidy(() => forward(xs.map((t) => row(t, 0))).forEach((o, k) => perExample(k, row(ys[k], 0), o, 1)));
  let losses: LossFunction[];
  if (mode === 'examples') {
    losses = Array.from({ length: batch }, (_, i) => () => {
      const outs = forward(xs.map((t) => row(t, i)));
      return tf.addN(outs.map((o, k) => tf.sum(perExample(k, row(ys[k], i), o, 1)))) as tf.Scalar;
    });
  } else {
    losses = ys.map((yk, k) => () => tf.mean(perExample(k, yk, forward(xs)[k], batch)) as tf.Scalar);
  }
  const g = objectiveGradients(owner, losses, varList, 'zero');
  return aggregateAndApply(owner, g, optimizer, aggregator);
}

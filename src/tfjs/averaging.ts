/**
 * Evaluation on averaged weights: the optimizers that train at one point and evaluate at another —
 * `averaged` (polynomial-decay or EMA average of the iterates) and `scheduleFreeSgd` /
 * `scheduleFreeAdamw` (the average x, while training runs at the interpolation y) — keep the
 * evaluation weights in their state; these functions put them into the parameters for a while and
 * then put the training weights back, exactly (a copy is kept, nothing is recomputed). This is
 * schedule_free's `optimizer.eval()` / `optimizer.train()` and optax's `schedule_free_eval_params`,
 * and formll/dog's evaluation on `av_model`.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { flattenState, type TransformOptimizer } from './optimizer.js';

/** Where the evaluation weights sit in a state tree: `…/average/<i>`, or schedule-free's `…/x/<i>` beside `…/z/<i>`. */
function evalSlots<T>(slots: readonly { readonly path: string; readonly variable: T }[]): { prefix: string; variables: T[] }[] {
  const paths = new Set(slots.map((s) => s.path));
  const groups = new Map<string, T[]>();
  for (const s of slots) {
    const m = /^(?:(.*)\/)?(average|x)\/(\d+)$/.exec(s.path);
    if (m === null) continue;
    const prefix = m[1] === undefined ? '' : `${m[1]}/`;
    if (m[2] === 'x' && !paths.has(`${prefix}z/${m[3]}`)) continue;
    const list = groups.get(prefix) ?? [];
    list[Number(m[3])] = s.variable;
    groups.set(prefix, list);
  }
  return [...groups.entries()].map(([prefix, variables]) => ({ prefix, variables }));
}

/**
 * Whether `optimizer` keeps averaged weights to evaluate on (`averaged`, `scheduleFreeSgd`,
 * `scheduleFreeAdamw`, or a wrapper around one): decided from its definition before the first step
 * (by building its state for one scalar parameter), from its state slots after.
 */
export function hasAveragedWeights(optimizer: TransformOptimizer): boolean {
  if (optimizer.parameters !== null) return evalSlots(optimizer.stateSlots).length > 0;
  let probe: { path: string; variable: tf.Tensor }[];
  try {
    probe = tf.tidy(() => flattenState(optimizer.transform.init([{ name: 'probe', shape: [] }])).map(([path, t]) => ({ path, variable: t })));
  } catch {
    return false; // a recipe that refuses a scalar parameter keeps no average of one either
  }
  const found = evalSlots(probe).length > 0;
  tf.dispose(probe.map((p) => p.variable));
  return found;
}

/**
 * Puts the optimizer's evaluation weights (the average) into the parameters it trains, and returns the
 * function that puts the training weights back (call it exactly once, before the next step). Before the
 * first step there is no average yet: nothing changes. With averages at several depths (a wrapper
 * over a wrapper), the outermost is used.
 * @throws TypeError when the optimizer keeps no evaluation weights (not `averaged` or schedule-free).
 */
export function swapInAveragedWeights(optimizer: TransformOptimizer): () => void {
  const metas = optimizer.parameters;
  if (metas === null) {
    if (optimizer.snapshotState().slots.length > 0) {
      throw new Error(
        `swapInAveragedWeights: ${optimizer.name}'s state was restored and waits for the first step to bind it to the parameters; take a step first`,
      );
    }
    return () => {};
  }
  const groups = evalSlots(optimizer.stateSlots).sort((a, b) => a.prefix.length - b.prefix.length);
  const found = groups.find((g) => g.variables.length === metas.length && metas.every((_, i) => g.variables[i] !== undefined));
  if (found === undefined) {
    throw new TypeError(
      `swapInAveragedWeights: ${optimizer.name} keeps no averaged weights (use averagedOptimizer, scheduleFreeSgd or scheduleFreeAdamw)`,
    );
  }
  const registered = tf.engine().registeredVariables;
  const params = metas.map((m) => {
    const v = registered[m.name];
    if (v === undefined || v.isDisposed) throw new Error(`swapInAveragedWeights: the variable '${m.name}' ${optimizer.name} trains is gone`);
    return v;
  });
  const saved = params.map((p) => tf.keep(tf.clone(p)));
  params.forEach((p, i) => p.assign(found.variables[i]));
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    params.forEach((p, i) => p.assign(saved[i]));
    tf.dispose(saved);
  };
}

/**
 * Runs `fn` with the optimizer's evaluation weights in the parameters (see
 * {@link swapInAveragedWeights}) and puts the training weights back afterwards, also when `fn` throws
 * or its promise rejects.
 * @example
 * const opt = scheduleFreeAdamw({ learningRate: 0.0025 });
 * model.compile({ optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
 * await model.fit(x, y, { epochs: 5 });
 * const [loss, accuracy] = withAveragedWeights(opt, () => model.evaluate(xTest, yTest) as tf.Scalar[]);
 */
export function withAveragedWeights<T>(optimizer: TransformOptimizer, fn: () => T): T {
  const swapOut = swapInAveragedWeights(optimizer);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    swapOut();
    throw e;
  }
  if (result instanceof Promise) return result.finally(swapOut) as T;
  swapOut();
  return result;
}

/**
 * Running a bare gradient transformation as the optimizer adapter (src/tfjs/optimizer.ts) does — each
 * step in a tidy, params += updates, the state carried over and the replaced tensors disposed — for
 * tests of transforms without a tf.Optimizer around them.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GradientTransformation, ParamMeta, StateTree } from '../../src/core/transform.js';

/** The tensors of a state tree. */
export function tensorsOf(s: StateTree, out: tf.Tensor[] = []): tf.Tensor[] {
  if (s instanceof tf.Tensor) out.push(s);
  else if (Array.isArray(s)) s.forEach((x) => tensorsOf(x, out));
  else if (s !== null) Object.values(s).forEach((x) => tensorsOf(x, out));
  return out;
}

/** `tf.tidy` for a step that returns the next params and the new state (state trees may hold `null`). */
export function tidyStep(fn: () => { next: tf.Tensor[]; state: StateTree }): { next: tf.Tensor[]; state: StateTree } {
  return tf.tidy(() => fn() as unknown as tf.TensorContainer) as unknown as { next: tf.Tensor[]; state: StateTree };
}

/** Disposes the tensors of `old` that `next` does not carry over. */
export function disposeReplaced(old: StateTree, next: StateTree): void {
  const kept = new Set(tensorsOf(next));
  tf.dispose(tensorsOf(old).filter((x) => !kept.has(x)));
}

/**
 * Runs a transform as the optimizer adapter does (each step in a tidy; params += updates; the state
 * carried over, replaced tensors disposed); returns the params after each step and the final state.
 */
export function runTransform(t: GradientTransformation, x0: tf.Tensor[], grads: (params: tf.Tensor[], step: number) => tf.Tensor[], steps: number) {
  const metas: ParamMeta[] = x0.map((x, i) => ({ name: `p${i}`, shape: x.shape }));
  let params = x0.map((x) => tf.clone(x));
  let state: StateTree = t.init(metas);
  const history: Float32Array[][] = [];
  for (let step = 0; step < steps; step++) {
    const r = tidyStep(() => {
      const out = t.update(grads(params, step), state, { step, params, metas });
      return { next: params.map((p, i) => tf.add(p, out.updates[i])), state: out.state };
    });
    tf.dispose(params);
    disposeReplaced(state, r.state);
    params = r.next;
    state = r.state;
    history.push(params.map((p) => p.dataSync() as Float32Array));
  }
  tf.dispose(params);
  return { history, state };
}


/**
 * The node of a state tree at `path` (record keys and list indices), checked at each step: a missing
 * key, an index out of range or a step into a tensor/null throws naming the path, so a test that reads
 * the wrong slot fails instead of reading `undefined`.
 */
export function nodeAt(s: StateTree, ...path: (string | number)[]): StateTree {
  let node: StateTree = s;
  path.forEach((key, depth) => {
    const where = `state${path.slice(0, depth + 1).map((k) => `[${JSON.stringify(k)}]`).join('')}`;
    if (node === null || node instanceof tf.Tensor) throw new Error(`${where}: the parent is ${node === null ? 'null' : 'a tensor'}`);
    let child: StateTree | undefined;
    if (Array.isArray(node)) child = typeof key === 'number' ? node[key] : undefined;
    else child = typeof key === 'string' && Object.hasOwn(node, key) ? node[key] : undefined;
    if (child === undefined) throw new Error(`${where}: no such slot`);
    node = child;
  });
  return node;
}

/** The tensor at `path` (see {@link nodeAt}); throws when the node is not a tensor. */
export function tensorAt(s: StateTree, ...path: (string | number)[]): tf.Tensor {
  const node = nodeAt(s, ...path);
  if (!(node instanceof tf.Tensor)) throw new Error(`state at [${path.join(', ')}] is not a tensor`);
  return node;
}

/** The list of tensors at `path` — a per-parameter slot; throws when it is not a list of tensors. */
export function tensorListAt(s: StateTree, ...path: (string | number)[]): tf.Tensor[] {
  const node = nodeAt(s, ...path);
  if (!Array.isArray(node) || !node.every((x) => x instanceof tf.Tensor)) {
    throw new Error(`state at [${path.join(', ')}] is not a list of tensors`);
  }
  return node as tf.Tensor[];
}

/** The keys of the record at `path`; throws when the node is not a record. */
export function keysAt(s: StateTree, ...path: (string | number)[]): string[] {
  const node = nodeAt(s, ...path);
  if (node === null || node instanceof tf.Tensor || Array.isArray(node)) throw new Error(`state at [${path.join(', ')}] is not a record`);
  return Object.keys(node);
}

/**
 * Asserts `got[i]` within `tol·max(1, |want[i]|)` of `want[i]` for every i, and equal lengths; the
 * message names the entry, both values and `what`.
 */
export function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-6, what = ''): void {
  if (got.length !== want.length) throw new Error(`${what}: length ${got.length}, want ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    if (!(Math.abs(got[i] - w) <= tol * Math.max(1, Math.abs(w)))) {
      throw new Error(`${what}[${i}]: got ${got[i]}, want ${w} (tol ${tol})`);
    }
  }
}

/**
 * Runs `t.update` for `steps` steps on gradients `grads(step)` (row-major values per parameter) with the
 * params held fixed (`params`, zeros by default), each step in a tidy and the replaced state disposed;
 * returns each step's updates and the final state (the caller disposes it with `tf.dispose(tensorsOf(…))`).
 */
export function updatesOver(
  t: GradientTransformation,
  metas: readonly ParamMeta[],
  grads: (step: number) => ArrayLike<number>[],
  steps: number,
  params: readonly ArrayLike<number>[] = metas.map((m) => new Float32Array(m.shape.reduce((a, b) => a * b, 1))),
): { outs: Float32Array[][]; state: StateTree } {
  const p = metas.map((m, i) => tf.tensor(params[i], [...m.shape]));
  let state = t.init(metas);
  const outs: Float32Array[][] = [];
  for (let step = 0; step < steps; step++) {
    const gs = grads(step);
    const r = tf.tidy(() => {
      const out = t.update(metas.map((m, i) => tf.tensor(gs[i], [...m.shape])), state, { step, params: p, metas });
      outs.push(out.updates.map((u) => u.dataSync() as Float32Array));
      return out.state as unknown as tf.TensorContainer;
    }) as unknown as StateTree;
    disposeReplaced(state, r);
    state = r;
  }
  tf.dispose(p);
  return { outs, state };
}

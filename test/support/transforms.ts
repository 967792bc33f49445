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


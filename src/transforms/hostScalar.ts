/**
 * Host copies of scalar state slots (step counts, seeds) that a transform needs as numbers every step.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * The number each scalar made by {@link hostScalar} holds, keyed by its data (`Tensor.dataId`, an object
 * the backend makes per write and never reuses). The optimizer adapter keeps state in `tf.Variable`s and
 * `assign`s the returned tensors to them, and `Variable.assign` (like `tf.variable` and `tf.clone`) takes
 * over the tensor's data: the variable the next step reads has the same `dataId`, so its number is known
 * here. Weak keys: an entry goes with its data.
 */
const known = new WeakMap<object, number>();

/**
 * A float32 scalar state slot whose value is also kept on the host, for {@link hostScalars}. The slot
 * stays a tensor (getWeights, checkpoints and shards carry it as before); only the per-step read-back
 * goes. `value` is remembered as float32 holds it (`Math.fround`), so a read from the host equals a read
 * from the device.
 */
export function hostScalar(value: number): tf.Scalar {
  const t = tf.scalar(value, 'float32');
  known.set(t.dataId, Math.fround(value));
  return t;
}

/**
 * The values of scalar slots, from the host where {@link hostScalar} made their data; otherwise (a state
 * restored by setWeights, a checkpoint or a shard, or built by hand) read back from the device in one
 * read for all of them, and remembered, so a restored state costs one read, on its first step only.
 */
export function hostScalars(slots: readonly tf.Scalar[]): number[] {
  const values = slots.map((s) => known.get(s.dataId));
  if (values.every((v) => v !== undefined)) return values as number[];
  const read = tf.tidy(() => tf.stack([...slots]).dataSync());
  return slots.map((s, i) => {
    const v = read[i];
    known.set(s.dataId, v);
    return v;
  });
}

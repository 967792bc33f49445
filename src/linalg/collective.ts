/**
 * Collective communication for sharded linear algebra: the seam where a multi-process engine plugs in.
 *
 * Sharded code in this library is written SPMD-style over a list of shards, the way Dion's reference
 * (microsoft/dion `dion/dion_reference.py`, spec `muon-family.md` §9.2) is written per rank: each
 * shard computes on its local block, and the few cross-shard reductions go through a
 * {@link Collective}. The arrays handed to a collective hold one tensor per shard, in shard order
 * (`tensors[i]` belongs to shard `i`), and its results are one tensor per shard again.
 *
 * {@link inProcessCollective} implements the interface for `size` shards living in one process (all
 * tensors on the current backend). A multi-process engine (one worker per device, message passing or
 * NCCL-style rings) implements the same three members; the sharded algorithms do not change.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** Reduction applied by {@link Collective.allReduce}. */
export type ReduceOp = 'sum' | 'mean' | 'max';

/**
 * The collective operations sharded algorithms need. Every method takes one tensor per shard
 * (`tensors.length === size`) and returns one tensor per shard.
 */
export interface Collective {
  /** Number of shards (ranks) taking part. */
  readonly size: number;
  /**
   * Element-wise reduction of same-shape tensors across shards; every shard receives the result
   * (`op` default `'sum'`).
   */
  allReduce(tensors: readonly tf.Tensor[], op?: ReduceOp): tf.Tensor[];
  /** Concatenation of the shards' tensors along `axis` (shard order); every shard receives the result. */
  allGather(tensors: readonly tf.Tensor[], axis: number): tf.Tensor[];
}

function checkCount(fn: string, size: number, tensors: readonly tf.Tensor[]): void {
  if (tensors.length !== size) {
    throw new RangeError(`${fn}: expected one tensor per shard (${size}), got ${tensors.length}`);
  }
}

/**
 * A {@link Collective} over `size` shards held in this process. The reduction is computed once and the
 * same result tensor is handed to every shard (do not dispose it once per shard; call inside `tf.tidy`).
 * Sums run in shard order, so they reassociate exactly as a ring or tree reduction of the same shards
 * would up to float32 rounding.
 *
 * @throws RangeError when `size` is not a positive integer.
 */
export function inProcessCollective(size: number): Collective {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`inProcessCollective: size must be a positive integer, got ${size}`);
  }
  return {
    size,
    allReduce(tensors, op = 'sum') {
      checkCount('allReduce', size, tensors);
      const shape = tensors[0].shape;
      tensors.forEach((t, i) => {
        if (t.shape.length !== shape.length || t.shape.some((d, j) => d !== shape[j])) {
          throw new RangeError(
            `allReduce: shard ${i} has shape [${t.shape.join(', ')}], shard 0 has [${shape.join(', ')}]`,
          );
        }
      });
      let out: tf.Tensor;
      if (op === 'max') out = tensors.slice(1).reduce((a, b) => tf.maximum(a, b), tensors[0]);
      else {
        out = tensors.length === 1 ? tensors[0] : tf.addN([...tensors]);
        if (op === 'mean') out = tf.div(out, size);
      }
      return tensors.map(() => out);
    },
    allGather(tensors, axis) {
      checkCount('allGather', size, tensors);
      const out = tensors.length === 1 ? tensors[0] : tf.concat([...tensors], axis);
      return tensors.map(() => out);
    },
  };
}

/**
 * Sizes of `count` near-equal contiguous shards of a dimension of length `n` (the first `n % count`
 * shards get one more), as `torch.tensor_split` does.
 *
 * @throws RangeError when `count` is not an integer in [1, n].
 */
export function shardSizes(n: number, count: number): number[] {
  if (!Number.isInteger(count) || count < 1 || count > n) {
    throw new RangeError(`shardSizes: count must be an integer in [1, ${n}], got ${count}`);
  }
  const base = Math.floor(n / count);
  const extra = n % count;
  return Array.from({ length: count }, (_, i) => base + (i < extra ? 1 : 0));
}

/** Splits a matrix into `count` contiguous shards along `axis` (0: rows, 1: columns), see {@link shardSizes}. */
export function splitShards(x: tf.Tensor2D, count: number, axis: 0 | 1): tf.Tensor2D[] {
  return tf.split(x, shardSizes(x.shape[axis], count), axis) as tf.Tensor2D[];
}

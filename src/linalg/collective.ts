/**
 * Shard sizes and splits for sharded linear algebra, and the older names of the tensor collectives.
 *
 * The collectives themselves live in `communicator.ts`: a per-rank {@link Communicator} on float32
 * buffers (single rank, shared memory between worker threads, Open MPI) and the tensor-level
 * {@link ShardGroup} that Dion's sharded step and sharded QR are written over. `Collective` is the
 * deprecated name of `ShardGroup`; {@link inProcessCollective} is N shards in this process.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
export {
  inProcessCollective,
  shardGroup,
  singleRankCommunicator,
  type Collective,
  type Communicator,
  type ReduceOp,
  type ShardGroup,
} from './communicator.js';

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

/**
 * Communicators: the collectives data-parallel training and sharded linear algebra run on, one rank per
 * process (or thread), on float32 buffers — the role torch.distributed's process group plays in
 * microsoft/dion (`dion/dion_reference.py`, `dion/megabatch_base.py`) and KellerJordan/Muon's
 * distributed variant (`muon.py`, all-gather of orthogonalized updates). Spec `muon-family.md` §9.2.
 *
 * A {@link Communicator} is SPMD: every rank makes the same sequence of calls with matching lengths,
 * and every rank receives bit-identical results: the in-process ones add in rank order on every rank;
 * MPI's standard only recommends it for `MPI_Allreduce` (§5.9.1), and Open MPI 4.1's non-blocking
 * all-reduce gave it in every test here (test/distributed/mpi.test.ts, 2 and 3 ranks). The calls are **synchronous**: they return when the
 * collective has completed on this rank. That is what MPI's blocking calls from Node's main thread
 * give, and what tfjs's synchronous optimizer step (`applyGradients` inside one `tf.tidy`) needs; an
 * implementation bounds every wait by a deadline, so a dead rank makes the others throw
 * {@link CommunicatorTimeoutError} rather than hang.
 *
 * Implementations: {@link singleRankCommunicator} (size 1, in this module); the shared-memory one
 * between worker threads (`SharedCollective` in `src/engines/bridge.ts`, used by the workers
 * engine); Open MPI (`mpiCommunicator` in `orthoptim/node`, an optional native addon).
 *
 * Tensor code that is written over a list of shards (Dion's sharded step, sharded QR) runs on a
 * {@link ShardGroup}: the shards this process holds, connected to the other ranks' shards by a
 * communicator. `shardGroup(singleRankCommunicator(), n)` is the N-shards-in-one-process simulation
 * the tests use ({@link inProcessCollective}); `shardGroup(mpi, 1)` is one shard per MPI rank.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** Reduction of {@link Communicator.allReduce} / {@link Communicator.reduceScatter}. */
export type ReduceOp = 'sum' | 'mean' | 'max';

/** The reductions a communicator accepts. */
export const reduceOps: readonly ReduceOp[] = ['sum', 'mean', 'max'];

/**
 * Collectives among `size` ranks on float32 buffers (see the module comment for the SPMD contract).
 * Every method returns a new array (the input is never written) unless it says otherwise.
 */
export interface Communicator {
  /** This rank, in [0, size). */
  readonly rank: number;
  /** Number of ranks. */
  readonly size: number;
  /** What carries the data: `'single'`, `'shared-memory'`, `'mpi'`. */
  readonly kind: string;
  /** Element-wise reduction of every rank's `data` (same length everywhere); `'mean'` is the sum ÷ size. */
  allReduce(data: Float32Array, op?: ReduceOp): Float32Array;
  /**
   * Every rank's `data`, concatenated in rank order. `counts[r]` is rank r's length (default: this
   * rank's length on every rank); a rank whose length differs from `counts` is reported.
   */
  allGather(data: Float32Array, counts?: readonly number[]): Float32Array;
  /**
   * The reduction of every rank's `data` (length `Σ counts`, the same everywhere), of which this rank
   * receives block `rank` (`counts[rank]` floats; default equal blocks of `data.length / size`).
   */
  reduceScatter(data: Float32Array, counts?: readonly number[], op?: ReduceOp): Float32Array;
  /**
   * Personalized exchange: block `r` of `data` (`sendCounts[r]` floats, default equal blocks) goes to
   * rank r; returns the blocks every rank sent to this one, in rank order.
   */
  allToAll(data: Float32Array, sendCounts?: readonly number[]): Float32Array;
  /** `root`'s `data` on every rank (the same length on every rank). */
  broadcast(data: Float32Array, root?: number): Float32Array;
  /** Returns when every rank has called it. */
  barrier(): void;
  /**
   * Every rank's `hash` (an ASCII string of at most {@link HASH_LENGTH} characters) in rank order: the
   * start-up check that every rank runs the same model and optimizer.
   */
  allGatherHash(hash: string): string[];
}

/** The longest string {@link Communicator.allGatherHash} carries. */
export const HASH_LENGTH = 64;

/** Ranks disagree about a collective's arguments (lengths, counts, a start-up hash) — on every rank. */
export class CommunicatorError extends Error {
  override readonly name = 'CommunicatorError';
}

/**
 * A collective did not complete before the deadline: another rank died, hangs, or called a different
 * collective. The communicator cannot be used again.
 */
export class CommunicatorTimeoutError extends Error {
  override readonly name = 'CommunicatorTimeoutError';
}

/** Checks `counts` (one non-negative integer per rank) and returns it, or equal blocks of `total`. */
export function blockCounts(fn: string, size: number, total: number, counts?: readonly number[]): number[] {
  if (counts === undefined) {
    if (total % size !== 0) {
      throw new RangeError(`${fn}: ${total} floats do not split into ${size} equal blocks; give the counts`);
    }
    return new Array<number>(size).fill(total / size);
  }
  if (!Array.isArray(counts) || counts.length !== size || counts.some((c) => !Number.isInteger(c) || c < 0)) {
    throw new RangeError(`${fn}: counts must list ${size} non-negative integers, got ${JSON.stringify(counts)}`);
  }
  const sum = counts.reduce((a, b) => a + b, 0);
  if (sum !== total) throw new RangeError(`${fn}: counts sum to ${sum}, data has ${total} floats`);
  return [...counts];
}

/** Checks the arguments every implementation shares. */
export function checkData(fn: string, data: unknown): asserts data is Float32Array {
  if (!(data instanceof Float32Array)) {
    throw new TypeError(`${fn}: data must be a Float32Array, got ${data === null ? 'null' : typeof data === 'object' ? data.constructor.name : typeof data}`);
  }
}

/** Checks a reduction name. */
export function checkOp(fn: string, op: unknown): asserts op is ReduceOp {
  if (!reduceOps.includes(op as ReduceOp)) {
    throw new RangeError(`${fn}: op must be one of ${reduceOps.join(', ')}, got ${String(op)}`);
  }
}

/** Checks a start-up hash (printable ASCII, at most {@link HASH_LENGTH} characters). */
export function checkHash(fn: string, hash: unknown): asserts hash is string {
  if (typeof hash !== 'string' || hash.length > HASH_LENGTH || !/^[\x20-\x7e]*$/.test(hash)) {
    throw new RangeError(`${fn}: hash must be printable ASCII of at most ${HASH_LENGTH} characters, got ${JSON.stringify(hash)}`);
  }
}

/** Checks a root rank. */
export function checkRoot(fn: string, size: number, root: unknown): asserts root is number {
  if (!Number.isInteger(root) || (root as number) < 0 || (root as number) >= size) {
    throw new RangeError(`${fn}: root must be an integer in [0, ${size - 1}], got ${String(root)}`);
  }
}

/** `sum ÷ size` rounded once to float32, in place (the `'mean'` of every implementation). */
export function divideInPlace(sum: Float32Array, size: number): Float32Array {
  if (size !== 1) for (let i = 0; i < sum.length; i++) sum[i] = sum[i] / size;
  return sum;
}

/**
 * The communicator of a process that runs alone (rank 0 of 1): every collective returns a copy of its
 * input (a reduction of one rank is the identity, `'mean'` included). Arguments are checked as
 * every implementation checks them.
 */
export function singleRankCommunicator(): Communicator {
  const size = 1;
  return {
    rank: 0,
    size,
    kind: 'single',
    allReduce(data, op = 'sum') {
      checkData('allReduce', data);
      checkOp('allReduce', op);
      return data.slice();
    },
    allGather(data, counts) {
      checkData('allGather', data);
      blockCounts('allGather', size, data.length, counts);
      return data.slice();
    },
    reduceScatter(data, counts, op = 'sum') {
      checkData('reduceScatter', data);
      checkOp('reduceScatter', op);
      blockCounts('reduceScatter', size, data.length, counts);
      return data.slice();
    },
    allToAll(data, sendCounts) {
      checkData('allToAll', data);
      blockCounts('allToAll', size, data.length, sendCounts);
      return data.slice();
    },
    broadcast(data, root = 0) {
      checkData('broadcast', data);
      checkRoot('broadcast', size, root);
      return data.slice();
    },
    barrier() {},
    allGatherHash(hash) {
      checkHash('allGatherHash', hash);
      return [hash];
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Tensor shards over a communicator

/**
 * Tensor collectives for code written over a list of shards: this process holds `localShards`
 * consecutive shards (global shards `rank·localShards …`), the communicator's other ranks hold the
 * rest (`size = localShards · communicator.size` shards in all). Every method takes one tensor per
 * local shard and returns one per local shard; the result is the same tensor for every local shard
 * (call inside `tf.tidy`; do not dispose it once per shard).
 */
export interface ShardGroup {
  /** Number of shards in all ranks. */
  readonly size: number;
  /** Shards held by this process. */
  readonly localShards: number;
  /** What connects this process to the others. */
  readonly communicator: Communicator;
  /**
   * Element-wise reduction of same-shape tensors across all shards (`op` default `'sum'`): this
   * process's shards in order, then the ranks' partial results through the communicator.
   */
  allReduce(tensors: readonly tf.Tensor[], op?: ReduceOp): tf.Tensor[];
  /** Concatenation of every shard's tensor along `axis` (shard order). */
  allGather(tensors: readonly tf.Tensor[], axis: number): tf.Tensor[];
}

/**
 * The tensor collectives of the sharded algorithms (`dionStepSharded`, `orthonormalizeColumnsSharded`).
 * @deprecated Use {@link ShardGroup} (the same members, now over a {@link Communicator}).
 */
export type Collective = ShardGroup;

function checkCount(fn: string, count: number, tensors: readonly tf.Tensor[]): void {
  if (tensors.length !== count) {
    throw new RangeError(`${fn}: expected one tensor per shard (${count}), got ${tensors.length}`);
  }
}

/**
 * A {@link ShardGroup} of `localShards` shards in this process over `communicator`. Sums run in shard
 * order within the process, then across ranks; with one rank this is exactly the shard-order sum.
 * Crossing ranks costs one `dataSync` per collective (the data leaves the backend).
 *
 * @throws RangeError when `localShards` is not a positive integer.
 */
export function shardGroup(communicator: Communicator, localShards: number): ShardGroup {
  if (!Number.isInteger(localShards) || localShards < 1) {
    throw new RangeError(`shardGroup: localShards must be a positive integer, got ${localShards}`);
  }
  const c = communicator;
  const size = localShards * c.size;
  return {
    size,
    localShards,
    communicator: c,
    allReduce(tensors, op = 'sum') {
      checkCount('allReduce', localShards, tensors);
      checkOp('allReduce', op);
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
      else out = tensors.length === 1 ? tensors[0] : tf.addN([...tensors]);
      if (c.size > 1) {
        const reduced = c.allReduce(out.dataSync() as Float32Array, op === 'max' ? 'max' : 'sum');
        out = tf.tensor(reduced, out.shape, 'float32');
      }
      if (op === 'mean') out = tf.div(out, size);
      return tensors.map(() => out);
    },
    allGather(tensors, axis) {
      checkCount('allGather', localShards, tensors);
      let out = tensors.length === 1 ? tensors[0] : tf.concat([...tensors], axis);
      if (c.size > 1) {
        const rank = out.rank;
        if (!Number.isInteger(axis) || axis < 0 || axis >= rank) {
          throw new RangeError(`allGather: axis must be an integer in [0, ${rank - 1}], got ${axis}`);
        }
        // gather along axis 0 of the row-major data: move `axis` to the front, then back
        const perm = [axis, ...Array.from({ length: rank }, (_, d) => d).filter((d) => d !== axis)];
        const front = axis === 0 ? out : tf.transpose(out, perm);
        const inner = front.shape.slice(1).reduce((a, b) => a * b, 1);
        const lengths = c.allGather(Float32Array.of(front.shape[0]), new Array<number>(c.size).fill(1));
        const rows = Array.from(lengths, (v) => v);
        const data = c.allGather(front.dataSync() as Float32Array, rows.map((r) => r * inner));
        const gathered = tf.tensor(data, [rows.reduce((a, b) => a + b, 0), ...front.shape.slice(1)], 'float32');
        const inverse = perm.map((_, d) => perm.indexOf(d));
        out = axis === 0 ? gathered : tf.transpose(gathered, inverse);
      }
      return tensors.map(() => out);
    },
  };
}

/**
 * `size` shards held in this process (`shardGroup(singleRankCommunicator(), size)`): the in-process
 * simulation of a sharded run.
 *
 * @throws RangeError when `size` is not a positive integer.
 */
export function inProcessCollective(size: number): ShardGroup {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`inProcessCollective: size must be a positive integer, got ${size}`);
  }
  return shardGroup(singleRankCommunicator(), size);
}

// ---------------------------------------------------------------------------------------------------
// Counting what a communicator carries

/** What {@link countingCommunicator} has counted since the last reset: calls and payload bytes per collective. */
export interface CommunicatorTraffic {
  /** Calls per collective (`allGatherHash` and `barrier` included). */
  readonly calls: Readonly<Record<CollectiveName, number>>;
  /**
   * Payload bytes this rank handed to each collective (4 per float32): the input of an all-reduce,
   * reduce-scatter, all-to-all or broadcast (what a rank contributes; the root's data for a
   * broadcast, counted on every rank), the whole gathered result of an all-gather (every rank's part:
   * what the ring model of `bench:distributed` moves (N−1)/N of), the hash of `allGatherHash`; 0 for
   * a barrier. Not the wire bytes of a particular algorithm (a ring all-reduce
   * moves 2(N−1)/N of it per rank).
   */
  readonly bytes: Readonly<Record<CollectiveName, number>>;
}

/** The collectives of a {@link Communicator}. */
export type CollectiveName = 'allReduce' | 'allGather' | 'reduceScatter' | 'allToAll' | 'broadcast' | 'barrier' | 'allGatherHash';

const COLLECTIVES: readonly CollectiveName[] = ['allReduce', 'allGather', 'reduceScatter', 'allToAll', 'broadcast', 'barrier', 'allGatherHash'];

/** A {@link Communicator} that counts what passes through it. */
export interface CountingCommunicator extends Communicator {
  /** The counts since creation or the last {@link reset} (a snapshot). */
  traffic(): CommunicatorTraffic;
  /** Sets every count to 0. */
  reset(): void;
  /** The communicator underneath. */
  readonly inner: Communicator;
}

/**
 * `comm` with every collective counted (calls and payload bytes, see {@link CommunicatorTraffic}): the
 * traffic a training step actually sends, as `npm run bench:distributed` reports it. A call that throws
 * is counted too (it was sent). The results are the inner communicator's, unchanged.
 */
export function countingCommunicator(comm: Communicator): CountingCommunicator {
  const zero = () => Object.fromEntries(COLLECTIVES.map((k) => [k, 0])) as Record<CollectiveName, number>;
  let calls = zero();
  let bytes = zero();
  const count = (k: CollectiveName, b: number) => {
    calls[k]++;
    bytes[k] += b;
  };
  const length = (d: unknown) => (d instanceof Float32Array ? d.length : 0);
  return {
    rank: comm.rank,
    size: comm.size,
    kind: comm.kind,
    inner: comm,
    traffic: () => ({ calls: { ...calls }, bytes: { ...bytes } }),
    reset() {
      calls = zero();
      bytes = zero();
    },
    allReduce(data, op) {
      count('allReduce', 4 * length(data));
      return comm.allReduce(data, op);
    },
    allGather(data, counts) {
      let out: Float32Array | undefined;
      try {
        out = comm.allGather(data, counts);
        return out;
      } finally {
        count('allGather', 4 * (out === undefined ? length(data) : out.length));
      }
    },
    reduceScatter(data, counts, op) {
      count('reduceScatter', 4 * length(data));
      return comm.reduceScatter(data, counts, op);
    },
    allToAll(data, sendCounts) {
      count('allToAll', 4 * length(data));
      return comm.allToAll(data, sendCounts);
    },
    broadcast(data, root) {
      count('broadcast', 4 * length(data));
      return comm.broadcast(data, root);
    },
    barrier() {
      count('barrier', 0);
      comm.barrier();
    },
    allGatherHash(hash) {
      count('allGatherHash', typeof hash === 'string' ? hash.length : 0);
      return comm.allGatherHash(hash);
    },
  };
}

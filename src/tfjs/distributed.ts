/**
 * Data-parallel training: every rank computes gradients on its shard of the batch, the gradients are
 * averaged across ranks, and every rank applies the same step to the same parameters — PyTorch's
 * `DistributedDataParallel` (torch/nn/parallel/distributed.py: parameters broadcast from rank 0 at
 * start, gradients all-reduced in buckets of `bucket_cap_mb` = 25 MiB and divided by the world size),
 * here around any tfjs optimizer over a {@link Communicator} (Open MPI from `orthoptim/node`, or the
 * single rank).
 *
 * {@link distributed}`(optimizer, comm)` returns a `tf.Optimizer`, so it works in `model.compile` /
 * `model.fit` (each rank fits its shard of the data), in `minimize(f)` loops and with
 * `applyGradients(grads)`:
 *
 * 1. At the start (the first `minimize`, or {@link DistributedOptimizer.broadcastParameters}, or the
 *    first `applyGradients`): every rank's hash of the parameter list (names, shapes, dtypes, order) and
 *    of the optimizer (class, config, the bucket size) is all-gathered; a rank that differs from
 *    rank 0 fails every rank with {@link DistributedMismatchError}. Then the root's parameter values
 *    are broadcast (bucketed like the gradients). `minimize` does this before its first gradient;
 *    a loop that only calls `applyGradients` must call `broadcastParameters(variables)` before its first
 *    gradient, or start from identical values (the first `applyGradients` checks and refuses otherwise).
 * 2. Each step, the gradients (in the order given, the same on every rank) are packed into buckets of
 *    at most `bucketBytes` (a tensor larger than that is a bucket of its own), one `allReduce('mean')`
 *    per bucket, and handed to the inner optimizer. A loss-aware orthoptim optimizer's loss is
 *    averaged too (one more scalar all-reduce).
 *
 * Every rank receives bit-identical averages (see the Communicator contract: Open MPI 4.1 gave them in
 * every test here), so on a deterministic backend the parameters stay bit-identical across ranks
 * (tested after 50 steps of AdamW and Muon on the cpu backend: difference 0). With equal shards of a global
 * batch the averaged gradient is the global batch's mean gradient, so N ranks follow one process on the
 * whole batch up to float32 reassociation of the sums.
 *
 * **Optimizers that reduce their own gradients** (issue 17 item 4): an orthoptim optimizer whose
 * transform declares `reducesOwnGradients` (`GradientTransformation`, src/core/transform.ts) gets those
 * parameters' gradients as this rank computed them — they are left out of the buckets — and the
 * communicator as `applyGradients(grads, { dataParallel: comm })`, so it can all-reduce something
 * smaller. Data-parallel Dion does (microsoft/dion `dion_reference.py`, `compressed_all_reduce`): per
 * matrix, its low-rank P and R instead of the gradient, each rank keeping its own momentum; its steps
 * are still those of one process on the global batch (see `dionStepsDataParallel`), and the parameters
 * stay bit-identical across ranks. {@link DistributedOptimizer.reducedByOptimizer} names them. When the
 * inner optimizer checks finiteness, one more float is all-reduced per step: if any rank's local
 * gradient is not finite, that step averages every gradient, so every rank throws or skips together.
 * Not with `shardOptimizerState` (every gradient is averaged then), nor under `clipGlobalNorm` (the
 * chain's first transform, the clip, claims nothing). The local momenta make a rank's checkpoint its
 * own: {@link DistributedOptimizer.synchronizeState} averages them first (as the reference's
 * `synchronize_for_checkpoint`), after which every rank's state is the single-process state.
 *
 * **Sharded optimizer state** (`shardOptimizerState: true`; ZeRO-1, Rajbhandari et al. 2020, as
 * KellerJordan/Muon's distributed `Muon` in `muon.py` — each rank orthogonalizes its slice of the
 * parameter list, then `dist.all_gather` — and microsoft/dion `megabatch_base.py`): the gradients are
 * still averaged (replicated on every rank), but each parameter has one owner rank
 * ({@link shardAssignment}: balanced by Newton–Schulz flops, the same on every rank), and each rank's
 * inner optimizer steps only the parameters it owns — the whole per-matrix chain (momentum,
 * Newton–Schulz, scale, decay), so its state exists only for those — after which one all-gather gives
 * every rank every owner's new values. For optimizers whose step acts on each parameter alone (Muon,
 * NorMuon, Turbo-Muon, AdaMuon, ROOT, AdamW …) this is the replicated step computed once instead of N
 * times; a global-norm clip (`clipGlobalNorm`) or a loss-aware step would see only the owned subset and
 * is refused. Non-finite averaged gradients are checked on every rank (they are the same everywhere),
 * so every rank throws or skips together. Checkpoints are per rank: `getShardWeights()` gives this rank's
 * shard behind a manifest (`orthoptim/shard`: rank, size, step, the owner of every parameter) and
 * `setShardWeights` takes back only a shard saved by the same rank with the same assignment;
 * `getWeights`/`setWeights` (what `model.save({ includeOptimizer: true })` uses) throw
 * {@link ShardedStateError} rather than save or load a shard as if it were the whole state.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Communicator } from '../linalg/communicator.js';
import { standardFlops } from '../linalg/flops.js';
import { isTransformOptimizer, minimizeWithLoss, NonFiniteGradientError, type ApplyGradientsOptions, type NamedTensor } from './optimizer.js';

/** Default bucket size: 25 MiB, PyTorch DDP's `bucket_cap_mb`. */
export const DEFAULT_BUCKET_BYTES = 25 * 2 ** 20;

/**
 * Consecutive groups of tensor indices whose float32 sizes add up to at most `bucketBytes` each; a
 * tensor larger than `bucketBytes` gets a bucket of its own. Empty tensors ride along.
 *
 * @throws RangeError when `bucketBytes` is not a positive integer or a size is not a non-negative integer.
 */
export function gradientBuckets(sizes: readonly number[], bucketBytes: number): number[][] {
  if (!Number.isInteger(bucketBytes) || bucketBytes < 1) {
    throw new RangeError(`distributed: bucketBytes must be a positive integer, got ${bucketBytes}`);
  }
  const buckets: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  sizes.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`gradientBuckets: size ${i} must be a non-negative integer, got ${n}`);
    const b = 4 * n;
    if (current.length > 0 && bytes + b > bucketBytes) {
      buckets.push(current);
      current = [];
      bytes = 0;
    }
    current.push(i);
    bytes += b;
  });
  if (current.length > 0) buckets.push(current);
  return buckets;
}

/** Newton–Schulz steps {@link parameterCost} counts (Muon's default). */
const COST_NS_STEPS = 5;

/**
 * The work of one parameter's optimizer step, for {@link shardAssignment}: a matrix (rank ≥ 2, flattened
 * to `[Π leading dims, last dim]` as the orthogonalizers do) costs the standard form of 5 Newton–Schulz
 * steps (`linalg/flops.ts` `standardFlops`); a vector or scalar its element count (element-wise update).
 */
export function parameterCost(shape: readonly number[]): number {
  const size = shape.reduce((a, b) => a * b, 1);
  if (shape.length < 2 || size === 0) return size;
  const cols = shape[shape.length - 1];
  return standardFlops(size / cols, cols, COST_NS_STEPS);
}

/**
 * The owner rank of each parameter: longest-processing-time-first greedy over {@link parameterCost}
 * (largest first, ties by position; each to the least loaded rank, ties to the lowest rank). A pure
 * function of the shapes, so every rank computes the same assignment. Graham's bound: the busiest
 * rank's cost is at most `total/size + max cost` (and at most 4/3 of the best possible).
 *
 * @throws RangeError when `size` is not a positive integer.
 */
export function shardAssignment(shapes: readonly (readonly number[])[], size: number): number[] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`shardAssignment: size must be a positive integer, got ${size}`);
  const costs = shapes.map((s) => parameterCost(s));
  const order = costs.map((_, i) => i).sort((a, b) => costs[b] - costs[a] || a - b);
  const loads = new Array<number>(size).fill(0);
  const owners = new Array<number>(shapes.length).fill(0);
  for (const i of order) {
    let best = 0;
    for (let r = 1; r < size; r++) if (loads[r] < loads[best]) best = r;
    owners[i] = best;
    loads[best] += costs[i];
  }
  return owners;
}

/** Name of the manifest entry that leads a sharded optimizer's `getWeights`. */
export const SHARD_MANIFEST_NAME = 'orthoptim/shard';
const SHARD_MANIFEST_VERSION = 1;

/** A sharded optimizer state used in a way it does not support (restored on another rank or layout, …). */
export class ShardedStateError extends Error {
  override readonly name = 'ShardedStateError';
}

/** What the ranks disagree about at the start. */
export type DistributedMismatch = 'parameters' | 'optimizer' | 'parameter values';

/** The ranks do not train the same model with the same optimizer (thrown on every rank). */
export class DistributedMismatchError extends Error {
  override readonly name = 'DistributedMismatchError';
  constructor(
    /** What differs. */
    readonly what: DistributedMismatch,
    /** The ranks that differ from the root. */
    readonly ranks: readonly number[],
    message: string,
  ) {
    super(message);
  }
}

/** Options of {@link distributed}. */
export interface DistributedOptions {
  /** Largest all-reduce buffer, in bytes (default {@link DEFAULT_BUCKET_BYTES}). */
  readonly bucketBytes?: number;
  /** The rank whose initial parameters every rank starts from (default 0). */
  readonly root?: number;
  /**
   * ZeRO-1: each rank steps (and keeps optimizer state for) only the parameters it owns, then the new
   * values are all-gathered (default false; see the module comment).
   */
  readonly shardOptimizerState?: boolean;
}

/** FNV-1a 32-bit of `text` from `seed`, as 8 hex digits. */
function fnv1a(text: string, seed: number): string {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** A 64-bit fingerprint (two FNV-1a lanes): a consistency check, not a cryptographic hash. */
function fingerprint(text: string): string {
  return fnv1a(text, 0x811c9dc5) + fnv1a(text, 0x050c5d1f);
}

/** JSON with object keys sorted, so equal configs give equal text. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

function clip(text: string, n = 400): string {
  return text.length <= n ? text : `${text.slice(0, n)}…`;
}

/** The trainable variables tfjs's `computeGradients` differentiates when given no list. */
function trainableVariables(): tf.Variable[] {
  const registered = tf.engine().registeredVariables;
  return Object.keys(registered)
    .map((name) => registered[name])
    .filter((v) => v.trainable);
}

/**
 * A `tf.Optimizer` that averages gradients across the ranks of a communicator before the inner
 * optimizer's step (see the module comment). Made by {@link distributed}.
 */
export class DistributedOptimizer extends tf.Optimizer {
  /** The optimizer that takes the averaged step. */
  readonly inner: tf.Optimizer;
  /** The ranks training together. */
  readonly communicator: Communicator;
  /** Largest all-reduce buffer in bytes. */
  readonly bucketBytes: number;
  /** The rank the initial parameters come from. */
  readonly root: number;
  /** Whether each rank steps only the parameters it owns (ZeRO-1). */
  readonly shardOptimizerState: boolean;
  private names: string[] | null = null;
  private buckets: number[][] = [];
  /** Buckets over every parameter (the start-up broadcast; a step whose local gradients are not finite). */
  private allBuckets: number[][] = [];
  /** Per parameter: whether the inner optimizer reduces its gradient itself (data-parallel Dion). */
  private local: boolean[] = [];
  private owners: number[] | null = null;
  private shardedSteps = 0;

  constructor(inner: tf.Optimizer, communicator: Communicator, options: DistributedOptions = {}) {
    super();
    if (!(inner instanceof tf.Optimizer)) {
      throw new TypeError(`distributed: optimizer must be a tf.Optimizer, got ${inner === null ? 'null' : typeof inner}`);
    }
    if (communicator === null || typeof communicator !== 'object' || typeof communicator.allReduce !== 'function') {
      throw new TypeError('distributed: comm must be a Communicator (e.g. mpiCommunicator() from orthoptim/node)');
    }
    const bucketBytes = options.bucketBytes ?? DEFAULT_BUCKET_BYTES;
    gradientBuckets([], bucketBytes);
    const root = options.root ?? 0;
    if (!Number.isInteger(root) || root < 0 || root >= communicator.size) {
      throw new RangeError(`distributed: root must be an integer in [0, ${communicator.size - 1}], got ${root}`);
    }
    const shard = options.shardOptimizerState ?? false;
    if (typeof shard !== 'boolean') throw new TypeError(`distributed: shardOptimizerState must be a boolean, got ${String(shard)}`);
    if (shard) {
      const clipGlobalNorm = inner.getConfig().clipGlobalNorm;
      if (clipGlobalNorm !== undefined && clipGlobalNorm !== null) {
        throw new RangeError(
          `distributed: shardOptimizerState cannot run clipGlobalNorm (${JSON.stringify(clipGlobalNorm)}): each rank would clip by the norm of its own parameters only`,
        );
      }
      if (isTransformOptimizer(inner) && inner.needsLoss) {
        throw new RangeError(`distributed: shardOptimizerState cannot run ${inner.name}: its loss-aware step reads every parameter`);
      }
    }
    this.inner = inner;
    this.communicator = communicator;
    this.bucketBytes = bucketBytes;
    this.root = root;
    this.shardOptimizerState = shard;
  }

  /** The owner rank of each parameter (sharded mode, once started; null otherwise). */
  get ownerRanks(): readonly number[] | null {
    return this.owners;
  }

  /**
   * Bytes of the optimizer state this rank holds (the inner orthoptim optimizer's `stateBytes()`; with
   * `shardOptimizerState`, only the owned parameters'). 0 for a tfjs optimizer.
   */
  stateBytes(): number {
    return isTransformOptimizer(this.inner) ? this.inner.stateBytes() : 0;
  }

  /** Whether the start-up check and broadcast have run. */
  get started(): boolean {
    return this.names !== null;
  }

  /**
   * The gradient all-reduce buckets (indices into the parameter list), once started: every parameter
   * except those in {@link reducedByOptimizer}.
   */
  get bucketLayout(): readonly (readonly number[])[] {
    return this.buckets;
  }

  /**
   * The parameters whose gradients are **not** all-reduced, once started: the inner optimizer reduces
   * them itself from each rank's local gradient (`TransformOptimizer.reducesOwnGradients`: Dion's
   * matrices whose low-rank factors are smaller than the gradient). Empty with `shardOptimizerState`
   * and for every other optimizer.
   */
  get reducedByOptimizer(): readonly string[] {
    return (this.names ?? []).filter((_, i) => this.local[i]);
  }

  override get iterations(): number {
    return this.shardOptimizerState ? this.shardedSteps : this.inner.iterations;
  }

  /**
   * The start-up step, on every rank together: checks that every rank has the same parameter list
   * and optimizer (a hash all-gathered) and gives every rank the root's parameter values. `minimize`
   * calls it before its first gradient; call it yourself before the first gradient of a loop that
   * only uses `applyGradients`. A second call does nothing.
   *
   * @throws DistributedMismatchError on every rank when a rank's parameters or optimizer differ.
   */
  broadcastParameters(variables: readonly tf.Variable[]): void {
    if (this.names !== null) return;
    this.start(variables, false);
  }

  private start(variables: readonly tf.Variable[], compare: boolean): void {
    const c = this.communicator;
    const params = variables.map((v) => `${v.name}:${v.dtype}[${v.shape.join(',')}]`);
    const config = `${this.inner.getClassName()} ${stableJson(this.inner.getConfig())} bucketBytes=${this.bucketBytes} root=${this.root}${this.shardOptimizerState ? ' shardOptimizerState' : ''}`;
    const mine = `p${fingerprint(params.join('\n'))}o${fingerprint(config)}`;
    const all = c.allGatherHash(mine);
    const differ = (part: 0 | 1) => all.flatMap((h, r) => (h.slice(1 + 17 * part, 17 + 17 * part) !== all[this.root].slice(1 + 17 * part, 17 + 17 * part) ? [r] : []));
    const where = `this is rank ${c.rank} of ${c.size}`;
    const badParams = differ(0);
    if (badParams.length > 0) {
      throw new DistributedMismatchError(
        'parameters',
        badParams,
        `distributed: the ranks train different parameters: rank ${badParams.join(', ')} differ${badParams.length === 1 ? 's' : ''} from rank ${this.root} ` +
          `(names, shapes, dtypes and order must match; ${where}, with ${variables.length}: ${clip(params.join(', '))})`,
      );
    }
    const badConfig = differ(1);
    if (badConfig.length > 0) {
      throw new DistributedMismatchError(
        'optimizer',
        badConfig,
        `distributed: the ranks run different optimizer settings: rank ${badConfig.join(', ')} differ${badConfig.length === 1 ? 's' : ''} from rank ${this.root} ` +
          `(${where}, with ${clip(config)})`,
      );
    }
    const buckets = gradientBuckets(variables.map((v) => v.size), this.bucketBytes);
    // the data-parallel seam: gradients the inner optimizer reduces itself stay out of the buckets
    const local =
      !this.shardOptimizerState && isTransformOptimizer(this.inner)
        ? this.inner.reducesOwnGradients(variables.map((v) => ({ name: v.name, shape: [...v.shape] })))
        : variables.map(() => false);
    const averagedIndices = variables.flatMap((_, i) => (local[i] ? [] : [i]));
    const gradientLayout = gradientBuckets(averagedIndices.map((i) => variables[i].size), this.bucketBytes).map((b) => b.map((k) => averagedIndices[k]));
    let changed = false;
    for (const bucket of buckets) {
      const local = this.pack(bucket.map((i) => variables[i]));
      const received = c.broadcast(local, this.root);
      if (compare && !changed) changed = received.some((v, k) => !Object.is(v, local[k]));
      this.unpack(bucket.map((i) => variables[i]), received).forEach((t, k) => {
        variables[bucket[k]].assign(t);
        t.dispose();
      });
    }
    if (compare) {
      const flags = c.allReduce(Float32Array.of(changed ? 1 : 0), 'max');
      if (flags[0] !== 0) {
        this.names = variables.map((v) => v.name);
        this.buckets = gradientLayout;
        this.allBuckets = buckets;
        this.local = local;
        throw new DistributedMismatchError(
          'parameter values',
          [],
          `distributed: the ranks computed their first gradients at different parameter values; rank ${this.root}'s ` +
            `values are now everywhere: call broadcastParameters(variables) before the first gradient (minimize and ` +
            `model.fit do), then recompute the gradients (${where})`,
        );
      }
    }
    this.names = variables.map((v) => v.name);
    this.buckets = gradientLayout;
    this.allBuckets = buckets;
    this.local = local;
    if (this.shardOptimizerState) this.owners = shardAssignment(variables.map((v) => v.shape), c.size);
  }

  /** The tensors' float32 values, concatenated. */
  private pack(tensors: readonly tf.Tensor[]): Float32Array {
    const out = new Float32Array(tensors.reduce((a, t) => a + t.size, 0));
    let offset = 0;
    for (const t of tensors) {
      const d = t.dataSync();
      out.set(d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>), offset);
      offset += t.size;
    }
    return out;
  }

  /** `data` split back into tensors of the shapes of `like`. */
  private unpack(like: readonly tf.Tensor[], data: Float32Array): tf.Tensor[] {
    let offset = 0;
    return like.map((t) => {
      const out = tf.tensor(data.slice(offset, offset + t.size), t.shape, 'float32');
      offset += t.size;
      return out;
    });
  }

  /**
   * `tf.Optimizer.minimize` over the ranks: the start-up check and broadcast before the first gradient,
   * then this rank's gradients of `f` averaged across ranks and applied. The returned cost is this
   * rank's loss (not averaged).
   */
  override minimize(f: () => tf.Scalar, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    if (this.names === null) this.start(varList ?? trainableVariables(), false);
    return minimizeWithLoss(this, f, returnCost, varList);
  }

  /**
   * Averages `variableGradients` across ranks (bucketed all-reduces) and applies them with the inner
   * optimizer. Every rank must give the same variables in the same order.
   *
   * @throws DistributedMismatchError (first call, every rank) when the ranks' parameters, optimizer or
   *   parameter values differ.
   */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[], options: ApplyGradientsOptions = {}): void {
    const list: NamedTensor[] = Array.isArray(variableGradients)
      ? variableGradients
      : Object.keys(variableGradients).map((name) => ({ name, tensor: variableGradients[name] }));
    const registered = tf.engine().registeredVariables;
    const variables = list.map(({ name }) => {
      const v = registered[name];
      if (v === undefined) throw new Error(`distributed: no variable named '${name}' is registered`);
      return v;
    });
    if (this.names === null) this.start(variables, true);
    const names = this.names!;
    if (names.length !== list.length || list.some((e, i) => e.name !== names[i])) {
      throw new Error(
        `distributed: the gradients must name the same variables in the same order every step (started with ` +
          `${clip(names.join(', '), 200)}; got ${clip(list.map((e) => e.name).join(', '), 200)})`,
      );
    }
    if (this.owners !== null) {
      this.applySharded(list, variables, options);
      return;
    }
    const averaged: NamedTensor[] = new Array<NamedTensor>(list.length);
    const anyLocal = this.local.some((l) => l);
    // A local gradient that is not finite on some rank: average every gradient this step, so that every
    // rank's inner optimizer sees the same non-finite values and throws or skips together.
    const averageAll = anyLocal && this.localNonFinite(list);
    const made: tf.Tensor[] = [];
    try {
      for (const bucket of averageAll ? this.allBuckets : this.buckets) {
        const grads = bucket.map((i) => list[i].tensor);
        const mean = this.communicator.allReduce(this.pack(grads), 'mean');
        this.unpack(grads, mean).forEach((t, k) => {
          made.push(t);
          averaged[bucket[k]] = { name: list[bucket[k]].name, tensor: t };
        });
      }
      // this rank's own gradients, reduced by the inner optimizer (its factors all-reduced)
      list.forEach((e, i) => {
        if (averaged[i] === undefined) averaged[i] = { name: e.name, tensor: e.tensor };
      });
      if (isTransformOptimizer(this.inner)) {
        let loss = options.loss;
        if (loss !== undefined && this.inner.needsLoss) {
          const value = typeof loss === 'number' ? loss : (loss.dataSync()[0] as number);
          loss = this.communicator.allReduce(Float32Array.of(value), 'mean')[0];
        }
        this.inner.applyGradients(averaged, {
          ...(loss === undefined ? {} : { loss }),
          ...(anyLocal ? { dataParallel: this.communicator } : {}),
        });
      } else {
        this.inner.applyGradients(averaged);
      }
    } finally {
      tf.dispose(made);
    }
  }

  /**
   * Whether any rank's local (not all-reduced) gradient holds a NaN or ±Inf: one scalar read back here
   * and one float all-reduced (max). Only when the inner optimizer checks (`nonFinite` not 'ignore'); with
   * 'ignore' a non-finite factor reaches every rank through the factors' all-reduce anyway.
   */
  private localNonFinite(list: readonly NamedTensor[]): boolean {
    const policy = isTransformOptimizer(this.inner) ? this.inner.getConfig().nonFinite : 'ignore';
    if (policy === 'ignore') return false;
    const probe = tf.tidy(() => tf.addN(list.flatMap((e, i) => (this.local[i] ? [tf.sum(tf.mul(e.tensor, 0))] : []))));
    const bad = Number.isFinite(probe.dataSync()[0]) ? 0 : 1;
    probe.dispose();
    return this.communicator.allReduce(Float32Array.of(bad), 'max')[0] !== 0;
  }

  /** The sharded step: average, check finiteness everywhere, step the owned parameters, all-gather the values. */
  private applySharded(list: readonly NamedTensor[], variables: readonly tf.Variable[], options: ApplyGradientsOptions): void {
    const c = this.communicator;
    const owners = this.owners!;
    const means: Float32Array[] = this.buckets.map((bucket) => c.allReduce(this.pack(bucket.map((i) => list[i].tensor)), 'mean'));
    const nonFinite = isTransformOptimizer(this.inner) ? this.inner.getConfig().nonFinite : 'ignore';
    if (nonFinite !== 'ignore') {
      const bad: string[] = [];
      this.buckets.forEach((bucket, b) => {
        let offset = 0;
        for (const i of bucket) {
          const n = variables[i].size;
          for (let k = offset; k < offset + n; k++) {
            if (!Number.isFinite(means[b][k])) {
              bad.push(list[i].name);
              break;
            }
          }
          offset += n;
        }
      });
      if (bad.length > 0) {
        if (nonFinite === 'throw') throw new NonFiniteGradientError((this.inner as { name?: string }).name ?? this.inner.getClassName(), bad);
        return; // 'skip': every rank skips (they all see the same averages)
      }
    }
    const owned: NamedTensor[] = [];
    try {
      this.buckets.forEach((bucket, b) => {
        let offset = 0;
        for (const i of bucket) {
          const n = variables[i].size;
          if (owners[i] === c.rank) owned.push({ name: list[i].name, tensor: tf.tensor(means[b].slice(offset, offset + n), variables[i].shape, 'float32') });
          offset += n;
        }
      });
      if (owned.length > 0) {
        if (isTransformOptimizer(this.inner)) this.inner.applyGradients(owned, options.loss === undefined ? {} : { loss: options.loss });
        else this.inner.applyGradients(owned);
      }
    } finally {
      tf.dispose(owned.map((e) => e.tensor));
    }
    // every owner's new values to every rank: one all-gather, rank r's owned parameters in list order
    const counts = new Array<number>(c.size).fill(0);
    owners.forEach((r, i) => (counts[r] += variables[i].size));
    const gathered = c.allGather(this.pack(variables.filter((_, i) => owners[i] === c.rank)), counts);
    const starts = counts.map((_, r) => counts.slice(0, r).reduce((a, b) => a + b, 0));
    const cursor = [...starts];
    variables.forEach((v, i) => {
      const r = owners[i];
      const from = cursor[r];
      cursor[r] += v.size;
      if (r === c.rank) return;
      const t = tf.tensor(gathered.subarray(from, from + v.size), v.shape, 'float32');
      v.assign(t);
      t.dispose();
    });
    this.shardedSteps++;
  }

  /**
   * Makes every rank's optimizer state the same before a checkpoint (microsoft/dion `dion_reference.py`
   * `synchronize_for_checkpoint`): with {@link reducedByOptimizer} non-empty (data-parallel Dion) each
   * rank's momentum of those matrices is its own; every state slot that differs across ranks is replaced
   * by its mean over the ranks — for Dion the momentum one process on the global batch would hold, so
   * training on from it (on any number of ranks, or one process) takes the same steps. Slots already
   * equal on every rank are left bit for bit as they are. Every rank must call it (collectives: two
   * all-reduces per slot, plus one per differing slot). A no-op when nothing is reduced by the optimizer.
   *
   * @returns The paths of the slots that were averaged.
   */
  synchronizeState(): string[] {
    if (!this.local.some((l) => l) || !isTransformOptimizer(this.inner)) return [];
    const c = this.communicator;
    const averaged: string[] = [];
    for (const slot of this.inner.stateSlots) {
      const v = slot.variable;
      const data = this.pack([v]);
      const both = new Float32Array(2 * data.length);
      both.set(data);
      for (let k = 0; k < data.length; k++) both[data.length + k] = -data[k];
      const max = c.allReduce(both, 'max');
      // max over ranks = min over ranks (a NaN compares unequal: averaged, NaN on every rank alike)
      let same = true;
      for (let k = 0; k < data.length && same; k++) same = max[k] === -max[data.length + k];
      if (same) continue;
      const mean = c.allReduce(data, 'mean');
      const t = tf.tensor(mean, v.shape, 'float32');
      v.assign(t);
      t.dispose();
      averaged.push(slot.path);
    }
    return averaged;
  }

  /**
   * The inner optimizer's weights. With `shardOptimizerState` this rank holds only a shard, which
   * `model.save({ includeOptimizer: true })` would save as if it were the whole state: refused; save
   * each rank's {@link getShardWeights} instead.
   *
   * @throws ShardedStateError with `shardOptimizerState`.
   */
  override getWeights(): Promise<NamedTensor[]> {
    if (this.shardOptimizerState) {
      return Promise.reject(
        new ShardedStateError(
          'distributed: with shardOptimizerState each rank holds only its shard of the optimizer state; save it per rank with getShardWeights() ' +
            '(model.save({ includeOptimizer: true }) is not supported: save the model without the optimizer)',
        ),
      );
    }
    return this.inner.getWeights();
  }

  /**
   * Restores the inner optimizer's weights (not sharded). A shard (led by {@link SHARD_MANIFEST_NAME}) or
   * a sharded optimizer is refused: use {@link setShardWeights}.
   *
   * @throws ShardedStateError then (nothing is written).
   */
  override setWeights(weightValues: NamedTensor[]): Promise<void> {
    if (this.shardOptimizerState) {
      return Promise.reject(new ShardedStateError('distributed: with shardOptimizerState restore each rank\'s state with setShardWeights(its getShardWeights())'));
    }
    if (Array.isArray(weightValues) && weightValues[0]?.name === SHARD_MANIFEST_NAME) {
      return Promise.reject(
        new ShardedStateError(
          `distributed: these weights are one rank's shard of a sharded optimizer state (${SHARD_MANIFEST_NAME}); restore them with shardOptimizerState: true and setShardWeights on the same rank`,
        ),
      );
    }
    return this.inner.setWeights(weightValues);
  }

  /**
   * This rank's shard of the optimizer state (`shardOptimizerState`): a manifest entry
   * ({@link SHARD_MANIFEST_NAME}: int32 `[version, rank, size, step, owner of each parameter…]`), then the
   * inner optimizer's `getWeights()` (its live state variables: do not dispose them). Save one per rank.
   *
   * @throws ShardedStateError without `shardOptimizerState`.
   */
  async getShardWeights(): Promise<NamedTensor[]> {
    if (!this.shardOptimizerState) throw new ShardedStateError('distributed: getShardWeights needs shardOptimizerState: true (use getWeights)');
    const weights = await this.inner.getWeights();
    const owners = this.owners ?? [];
    const manifest = tf.tensor1d([SHARD_MANIFEST_VERSION, this.communicator.rank, this.communicator.size, this.shardedSteps, ...owners], 'int32');
    return [{ name: SHARD_MANIFEST_NAME, tensor: manifest }, ...weights];
  }

  /**
   * Restores {@link getShardWeights}' list: it must be this rank's shard, saved with the same world size
   * and assignment, and the optimizer must have started ({@link broadcastParameters}) so the assignment
   * is known.
   *
   * @throws ShardedStateError otherwise (nothing is written).
   */
  async setShardWeights(weightValues: NamedTensor[]): Promise<void> {
    if (!this.shardOptimizerState) throw new ShardedStateError('distributed: setShardWeights needs shardOptimizerState: true (use setWeights)');
    const c = this.communicator;
    if (!Array.isArray(weightValues) || weightValues[0]?.name !== SHARD_MANIFEST_NAME) {
      throw new ShardedStateError(
        `distributed: a sharded optimizer state is restored per rank from its own getShardWeights() (led by '${SHARD_MANIFEST_NAME}'); ` +
          `these weights have no shard manifest (saved without shardOptimizerState?)`,
      );
    }
    if (this.owners === null) {
      throw new ShardedStateError('distributed: call broadcastParameters(variables) before setShardWeights, so that the shard assignment is known');
    }
    const m = Array.from(weightValues[0].tensor.dataSync());
    const [version, rank, size, step, ...owners] = m;
    const where = `this is rank ${c.rank} of ${c.size}, owning ${this.owners.filter((r) => r === c.rank).length} of ${this.owners.length} parameters`;
    if (version !== SHARD_MANIFEST_VERSION) throw new ShardedStateError(`distributed: shard manifest version ${version} is not ${SHARD_MANIFEST_VERSION}`);
    if (rank !== c.rank || size !== c.size) {
      throw new ShardedStateError(`distributed: this shard was saved by rank ${rank} of ${size}; ${where}`);
    }
    if (owners.length !== this.owners.length || owners.some((r, i) => r !== this.owners![i])) {
      throw new ShardedStateError(`distributed: this shard was saved with another assignment of parameters to ranks ([${owners.join(',')}]); ${where}`);
    }
    await this.inner.setWeights(weightValues.slice(1));
    this.shardedSteps = step;
  }

  /** The inner optimizer's class: a saved model reloads with the inner optimizer alone. */
  override getClassName(): string {
    return this.inner.getClassName();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return this.inner.getConfig();
  }

  override dispose(): void {
    this.inner.dispose();
  }
}

/**
 * Data-parallel `optimizer` over `comm`: gradients averaged across ranks (bucketed all-reduces) before
 * each step, initial parameters from rank `root`, a start-up check that every rank trains the same
 * parameters with the same optimizer. See the module comment.
 *
 * @example
 * import { mpiCommunicator } from 'orthoptim/node';
 * const comm = mpiCommunicator();
 * model.compile({ optimizer: distributed(muon({ learningRate: 0.02 }), comm), loss: 'meanSquaredError' });
 * await model.fit(xs.slice(comm.rank * n, n), ys.slice(comm.rank * n, n), { epochs: 5 });
 *
 * @throws TypeError when `optimizer` is not a tf.Optimizer or `comm` not a Communicator.
 * @throws RangeError when `bucketBytes` or `root` is out of range.
 */
export function distributed(optimizer: tf.Optimizer, comm: Communicator, options: DistributedOptions = {}): DistributedOptimizer {
  return new DistributedOptimizer(optimizer, comm, options);
}

/**
 * Dion's low-rank orthonormalized update (power iteration + error feedback + column normalization),
 * its sharded form over a {@link ShardGroup} (shards in this process and/or other ranks of a
 * {@link Communicator}), Dion2's top-k slice selection, and the Lion path of
 * microsoft/dion's scalar parameters.
 *
 * Sources: Ahn, Xu, Abreu, Fan, Magakyan, Sharma, Zhan, Langford, "Dion: Distributed Orthonormalized
 * Updates" (arXiv 2504.05295), code `microsoft/dion` `dion/dion_reference.py` (`dion_update`,
 * `power_iteration`, `fix_all_zero_or_nan`), `dion/dion_simple.py`; "Dion2: A Simple Method to Shrink
 * Matrix in Muon" (arXiv 2512.16928), `dion/dion2.py` (`dion2_pre_orthogonalize`,
 * `dion2_post_orthogonalize`); `dion/scalar_opts.py` (`lion_update`). Spec `muon-family.md` §9.
 *
 * Layout. Every rule is written in fan-in/fan-out terms of the flattened TensorFlow.js matrix
 * `X = [fanIn, fanOut]` (a Dense kernel as stored; a conv kernel `[kh, kw, in, out]` → `[kh·kw·in, out]`).
 * Dion's working matrix `B` has the "P side" as rows and the "Q side" as columns; the PyTorch reference
 * uses `B = W = [fanOut, fanIn]`, transposed when that is wide (`dion_reference`), so here the P side is
 * the longer of fan-in/fan-out (fan-out on ties) — orientation `'tall'` — or always fan-out as
 * `dion_simple` does — orientation `'fanOut'`. `B` is never materialized: the products are taken on `X`
 * directly and only the thin (·×r) factors are transposed.
 * @module
 */
import { exactSign } from './normalize.js';
import * as tf from '@tensorflow/tfjs-core';
import type { DataParallelGroup, GradientTransformation, ParamMeta } from '../core/transform.js';
import { shardSizes } from '../linalg/collective.js';
import { shardGroup, singleRankCommunicator, type Communicator, type ShardGroup } from '../linalg/communicator.js';
import { matrixShape, newtonSchulz, type ResolvedNewtonSchulz } from '../linalg/newtonSchulz.js';
import { orthonormalizeColumns, orthonormalizeColumnsSharded, type QrMethod } from '../linalg/qr.js';
import { powerOfTwoScaleOf, rescaleByPowerOfTwo } from '../linalg/scale.js';

/** Which side of `X = [fanIn, fanOut]` is Dion's P side (the rows of the working matrix B). */
export type DionSide = 'rows' | 'cols';

/**
 * How Dion orients a matrix: `'tall'` (microsoft/dion `dion_reference.py`, the paper's algorithm: B is
 * the tall orientation, P on the longer of fan-in/fan-out, fan-out on ties) or `'fanOut'`
 * (`dion_simple.py`: P always on fan-out, Q on fan-in).
 */
export type DionOrientation = 'tall' | 'fanOut';

/** How a matrix is laid out for Dion. */
export interface DionLayout {
  readonly fanIn: number;
  readonly fanOut: number;
  /** The side of `X = [fanIn, fanOut]` that P spans: `'rows'` = fan-in, `'cols'` = fan-out. */
  readonly pSide: DionSide;
  /** Length of the Q side (Q is `qDim × r`). */
  readonly qDim: number;
}

/** The layout of a parameter of this shape (rank ≥ 2, flattened to `[fanIn, fanOut]`). */
export function dionLayout(shape: readonly number[], orientation: DionOrientation): DionLayout {
  const [fanIn, fanOut] = matrixShape(shape);
  const pSide: DionSide = orientation === 'fanOut' || fanOut >= fanIn ? 'cols' : 'rows';
  return { fanIn, fanOut, pSide, qDim: pSide === 'cols' ? fanIn : fanOut };
}

/** How the rank is chosen: `rank` (absolute, dion_simple) or `rankFraction`·min(m, n) rounded up. */
export interface DionRankOptions {
  /** Fraction of min(fanIn, fanOut) (dion_reference `rank_fraction`). */
  readonly rankFraction: number;
  /** Round the rank up to a multiple of this (dion_reference `rank_multiple_of`). */
  readonly rankMultipleOf: number;
  /** Absolute rank (dion_simple `rank`), capped at min(fanIn, fanOut); overrides `rankFraction`. */
  readonly rank: number | null;
}

/**
 * The low rank `r` of an m×n matrix. `dion_reference.py`: `r = rank_multiple_of·⌈rank_fraction·min(m,n) /
 * rank_multiple_of⌉`, capped at min(m, n) — computed in double exactly as the Python code does (so
 * `0.14·50 = 7.000000000000001` rounds up to 8, like the reference). `dion_simple.py`:
 * `r = min(rank, min(m, n))`.
 */
export function dionRank(m: number, n: number, o: DionRankOptions): number {
  const k = Math.min(m, n);
  if (o.rank !== null) return Math.min(o.rank, k);
  const r = o.rankMultipleOf * Math.ceil((o.rankFraction * k) / o.rankMultipleOf);
  return Math.min(r, m, n);
}

/** Options of one Dion step on one matrix. */
export interface DionStepOptions {
  /** Which side of X is the P side. */
  readonly pSide: DionSide;
  /** Momentum μ of the error feedback `M ← B − (1−μ)·P·Rᵀ`. */
  readonly mu: number;
  /** Added to the column norms of R before dividing. */
  readonly epsilon: number;
  /** Power iterations `{P = orth(B·Q); Q = Bᵀ·P}` per step (reference `power_iters`, default 1). */
  readonly powerIters: number;
  /** Column orthonormalization (see `linalg/qr.ts`). */
  readonly qrMethod: QrMethod;
}

/** Result of one Dion step, in the layout of the input X. */
export interface DionStepResult {
  /** New momentum `B − (1−μ)·P·Rᵀ` (error feedback). */
  readonly momentum: tf.Tensor2D;
  /** New Q: R with normalized columns (`qDim × r`). */
  readonly q: tf.Tensor2D;
  /** The orthonormalized direction `P·Q_newᵀ`, unscaled, in X's layout. */
  readonly direction: tf.Tensor2D;
  /** The orthonormal P (P side × r), zero when B is all zero. */
  readonly p: tf.Tensor2D;
  /** R = Bᵀ·P before normalization (Q_init when B is all zero). */
  readonly r: tf.Tensor2D;
}

/** B·Q, in the P-side × r layout. */
function timesQ(x: tf.Tensor2D, q: tf.Tensor2D, side: DionSide): tf.Tensor2D {
  return side === 'rows' ? tf.matMul(x, q) : tf.transpose(tf.matMul(tf.transpose(q), x));
}

/** Bᵀ·P, in the Q-side × r layout. */
function transposeTimesP(x: tf.Tensor2D, p: tf.Tensor2D, side: DionSide): tf.Tensor2D {
  return side === 'rows' ? tf.transpose(tf.matMul(tf.transpose(p), x)) : tf.matMul(x, p);
}

/** P·Rᵀ (B layout), returned in X's layout. */
function outer(p: tf.Tensor2D, r: tf.Tensor2D, side: DionSide): tf.Tensor2D {
  return side === 'rows' ? tf.matMul(p, tf.transpose(r)) : tf.matMul(r, tf.transpose(p));
}

/** Column sums of squares `[1 × r]` as a matmul (float32-accurate on wasm, unlike its reductions). */
function columnSumSquares(r: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(tf.ones([1, r.shape[0]]), tf.square(r));
}

/** 1 when any entry is non-zero, else 0 (float32 scalar). */
function nonZero(x: tf.Tensor): tf.Tensor {
  return tf.cast(tf.greater(tf.max(tf.abs(x)), 0), 'float32');
}

/** The error-feedback coefficient `1 − μ`, rounded as the reference's float32 scalar tensors do. */
function feedbackCoefficient(mu: number): number {
  return Math.fround(1 - Math.fround(mu));
}

/** Column normalization `R ⊘ (‖R_{:,j}‖ + ε)` given the column sums of squares. */
function normalizeColumns(r: tf.Tensor2D, sumSquares: tf.Tensor, epsilon: number | tf.Scalar): tf.Tensor2D {
  return tf.div(r, tf.add(tf.sqrt(sumSquares), epsilon));
}

/**
 * One Dion step on one matrix (`dion_reference.py` `dion_update` with a single device). With `X` the
 * momentum-plus-gradient `B = M + G` in TensorFlow.js layout and `Q` the previous step's Q:
 *
 * ```
 * repeat powerIters times: P ← orth(B·Q); Q ← Bᵀ·P          (R = the last Q)
 * if B is all zero: P ← 0, R ← Q_init                      (fix_all_zero_or_nan)
 * M ← B − (1−μ)·P·Rᵀ                                       (error feedback)
 * Q ← R ⊘ (‖R_{:,j}‖ + ε)                                  (column normalization)
 * direction = P·Qᵀ
 * ```
 * Call inside `tf.tidy`.
 */
export function dionStep(x: tf.Tensor2D, q: tf.Tensor2D, o: DionStepOptions): DionStepResult {
  const side = o.pSide;
  if (x.size === 0) {
    // an empty matrix (rank r = 0): nothing to iterate, an empty direction, the state as it was
    const pRows = side === 'rows' ? x.shape[0] : x.shape[1];
    return { momentum: x, q, direction: x, p: tf.zeros([pRows, q.shape[1]]), r: q };
  }
  // B is divided by a power of two s when max|B| is extreme (linalg/scale.ts), so B·Q, the QR's Gram
  // matrix and R's column norms stay finite: R = s·R', M = s·(B' − (1−μ)·P·R'ᵀ), Q = R'/(‖R'‖ + ε/s) —
  // the same numbers exactly; s = 1 (nothing changes) for everyday inputs.
  const { x: xs, scale } = rescaleByPowerOfTwo(x) as { x: tf.Tensor2D; scale: tf.Scalar };
  let qCur = q;
  let p: tf.Tensor2D = q;
  for (let i = 0; i < o.powerIters; i++) {
    p = orthonormalizeColumns(timesQ(xs, qCur, side), o.qrMethod);
    qCur = transposeTimesP(xs, p, side);
  }
  const nz = nonZero(x);
  p = tf.mul(p, nz);
  const r = tf.add(tf.mul(qCur, nz), tf.mul(q, tf.sub(1, nz))) as tf.Tensor2D;
  const momentum = tf.mul(tf.sub(xs, tf.mul(outer(p, r, side), feedbackCoefficient(o.mu))), scale) as tf.Tensor2D;
  const qNew = normalizeColumns(r, columnSumSquares(r), tf.div(o.epsilon, scale) as tf.Scalar);
  return { momentum, q: qNew, direction: outer(p, qNew, side), p, r: tf.mul(r, scale) as tf.Tensor2D };
}

/** Options of {@link dionStepSharded}. */
export interface DionShardedOptions extends DionStepOptions {
  /** The axis of X the shards split: 0 (rows, fan-in) or 1 (columns, fan-out). */
  readonly axis: 0 | 1;
  /**
   * The shards' collectives: `xs` are its `localShards` shards of this process (`size` shards in all,
   * the other ranks' included).
   */
  readonly collective: ShardGroup;
}

/**
 * {@link dionStep} on a matrix split into `collective.size` contiguous shards of X along `axis`, written
 * per shard (SPMD) with the cross-shard reductions of microsoft/dion's distributed Dion (spec §9.2):
 *
 * - P side sharded (each shard owns some rows of B, all of Q): `P_i = B_i·Q` locally; P is
 *   orthonormalized across shards (CholeskyQR: one all-reduce of the r×r Gram matrix per pass);
 *   `R = Σ_i B_iᵀ·P_i` (all-reduce). Q stays replicated.
 * - Q side sharded (each shard owns some columns of B and the matching rows of Q):
 *   `P = Σ_j B_j·Q_j` (all-reduce), orthonormalized redundantly on every shard; `R_j = B_jᵀ·P` locally;
 *   the column norms of R are an all-reduce of per-shard sums of squares. Q stays sharded.
 *
 * The all-zero test is global (an all-reduce of one flag), so the result equals the unsharded step up
 * to the reassociation of float32 sums. The matrix itself is never gathered; only thin (·×r) and r×r
 * tensors cross shards (except by the Householder method, which gathers P).
 *
 * @param xs - X's shards along `axis`, in order.
 * @param qs - Q per shard: the whole Q on every shard when the P side is sharded, else Q's row block
 *   matching the shard's columns of B.
 * @returns Per shard: its block of the new momentum and direction (along `axis`), its Q (replicated or
 *   its row block), its P rows (or the whole P) and R.
 */
export function dionStepSharded(
  xs: readonly tf.Tensor2D[],
  qs: readonly tf.Tensor2D[],
  o: DionShardedOptions,
): DionStepResult[] {
  const c = o.collective;
  if (xs.length !== c.localShards || qs.length !== c.localShards) {
    throw new RangeError(`dionStepSharded: expected ${c.localShards} shards of X and Q, got ${xs.length} and ${qs.length}`);
  }
  const side = o.pSide;
  const pSharded = (side === 'rows') === (o.axis === 0);
  const nz = c.allReduce(xs.map(nonZero), 'max');
  // one power-of-two rescale for all shards, from the global max|B| (as dionStep; linalg/scale.ts)
  const maxes = c.allReduce(xs.map((x) => (x.size === 0 ? tf.scalar(0) : tf.max(tf.abs(x)))), 'max');
  const scales = maxes.map((m) => powerOfTwoScaleOf(m));
  const bs = xs.map((x, i) => tf.div(x, scales[i]) as tf.Tensor2D);
  let qCur: tf.Tensor2D[] = [...qs];
  let ps: tf.Tensor2D[] = [...qs];
  for (let it = 0; it < o.powerIters; it++) {
    if (pSharded) {
      ps = orthonormalizeColumnsSharded(bs.map((x, i) => timesQ(x, qCur[i], side)), c, o.qrMethod);
      qCur = c.allReduce(bs.map((x, i) => transposeTimesP(x, ps[i], side)), 'sum') as tf.Tensor2D[];
    } else {
      const full = c.allReduce(bs.map((x, i) => timesQ(x, qCur[i], side)), 'sum') as tf.Tensor2D[];
      ps = full.map((p) => orthonormalizeColumns(p, o.qrMethod));
      qCur = bs.map((x, i) => transposeTimesP(x, ps[i], side));
    }
  }
  ps = ps.map((p, i) => tf.mul(p, nz[i]) as tf.Tensor2D);
  const rs = qCur.map((r, i) => tf.add(tf.mul(r, nz[i]), tf.mul(qs[i], tf.sub(1, nz[i]))) as tf.Tensor2D);
  const sumSquares = pSharded ? rs.map(columnSumSquares) : c.allReduce(rs.map(columnSumSquares), 'sum');
  const coefficient = feedbackCoefficient(o.mu);
  return bs.map((b, i) => {
    const qNew = normalizeColumns(rs[i], sumSquares[i], tf.div(o.epsilon, scales[i]) as tf.Scalar);
    return {
      momentum: tf.mul(tf.sub(b, tf.mul(outer(ps[i], rs[i], side), coefficient)), scales[i]) as tf.Tensor2D,
      q: qNew,
      direction: outer(ps[i], qNew, side),
      p: ps[i],
      r: tf.mul(rs[i], scales[i]) as tf.Tensor2D,
    };
  });
}

/**
 * The tensors' values reduced across the data-parallel ranks in **one** collective (flattened and
 * concatenated, one `dataSync`), split back into their shapes. Call inside `tf.tidy`.
 */
function allReduceTensors(group: DataParallelGroup, tensors: readonly tf.Tensor[], op: 'mean' | 'max'): tf.Tensor[] {
  if (tensors.length === 0) return [];
  const flat = tensors.length === 1 ? tf.reshape(tensors[0], [-1]) : tf.concat(tensors.map((t) => tf.reshape(t, [-1])));
  const reduced = group.allReduce(flat.dataSync() as Float32Array, op);
  let offset = 0;
  return tensors.map((t) => {
    const out = tf.tensor(reduced.subarray(offset, offset + t.size), t.shape, 'float32');
    offset += t.size;
    return out;
  });
}

/**
 * Whether data-parallel Dion all-reduces this matrix's low-rank factors instead of its gradient: when
 * that carries fewer floats, `powerIters·(m + n)·r < m·n` (microsoft/dion `dion_reference.py`
 * `_init_opt_state_dion`: `compressed_all_reduce` when `rank_fraction < 1 and (m + n)·r < m·n`; the
 * reference ignores `power_iters`, which multiplies the factors' traffic). Never for an empty matrix.
 */
export function dionCompressesAllReduce(shape: readonly number[], o: DionRankOptions & { orientation: DionOrientation; powerIters: number }): boolean {
  const l = dionLayout(shape, o.orientation);
  const r = dionRank(l.fanIn, l.fanOut, o);
  return l.fanIn * l.fanOut > 0 && r > 0 && o.powerIters * (l.fanIn + l.fanOut) * r < l.fanIn * l.fanOut;
}

/**
 * Data-parallel Dion (Ahn et al. 2025, §3 "Dion for data parallelism" / Algorithm 1 with the
 * replicated mesh; microsoft/dion `dion_reference.py` `dion_update` + `power_iteration` with
 * `compressed_all_reduce=True`): {@link dionStep} on several matrices at once, where each rank holds
 * its **local** `B_i = M_i + G_i` (its own momentum plus its own minibatch gradient, never all-reduced)
 * and only the thin factors cross ranks:
 *
 * ```
 * P = mean_i(B_i·Q)          (all-reduce)    P ← orth(P)          (the same on every rank)
 * R = mean_i(B_iᵀ·P)         (all-reduce)                          (per power iteration)
 * M_i ← B_i − (1−μ)·P·Rᵀ     (local error feedback with the global P, R)
 * Q ← R ⊘ (‖R_{:,j}‖ + ε);   direction P·Qᵀ                       (the same on every rank)
 * ```
 *
 * P and R are linear in B, so they are those of the mean `B̄ = mean_i B_i`, and the mean of the local
 * momenta follows single-process Dion on the mean gradient: N ranks on equal shards of a global batch
 * take the steps one process takes on the whole batch (up to float32 reassociation), while each rank's
 * own momentum differs from the others'. Traffic per matrix and power iteration: `(m + n)·r` floats
 * instead of `m·n`. Every factor of every matrix goes in one all-reduce per phase (all P's, then all
 * R's), plus one all-reduce of one float per matrix, the max of max|B_i| over ranks: the all-zero test
 * (`fix_all_zero_or_nan`; here global — the reference tests each rank's local B, which can make ranks
 * differ) and the power-of-two rescale of `linalg/scale.ts`, both the same on every rank. With one
 * rank this is exactly {@link dionStep} (the same kernels on the same values). Call inside `tf.tidy`.
 *
 * @param xs - This rank's `B_i` per matrix in X's layout (non-empty).
 * @param qs - Q per matrix (replicated: the same on every rank).
 */
export function dionStepsDataParallel(
  xs: readonly tf.Tensor2D[],
  qs: readonly tf.Tensor2D[],
  o: Omit<DionStepOptions, 'pSide'> & { readonly sides: readonly DionSide[] },
  group: DataParallelGroup,
): DionStepResult[] {
  if (xs.length !== qs.length || xs.length !== o.sides.length) {
    throw new RangeError(`dionStepsDataParallel: ${xs.length} matrices, ${qs.length} Q, ${o.sides.length} sides`);
  }
  if (xs.length === 0) return [];
  const maxes = allReduceTensors(group, xs.map((x) => tf.max(tf.abs(x))), 'max');
  const nz = maxes.map((m) => tf.cast(tf.greater(m, 0), 'float32'));
  const scales = maxes.map((m) => powerOfTwoScaleOf(m));
  const bs = xs.map((x, i) => tf.div(x, scales[i]) as tf.Tensor2D);
  let qCur: tf.Tensor2D[] = [...qs];
  let ps: tf.Tensor2D[] = [...qs];
  for (let it = 0; it < o.powerIters; it++) {
    const pMean = allReduceTensors(group, bs.map((b, i) => timesQ(b, qCur[i], o.sides[i])), 'mean') as tf.Tensor2D[];
    ps = pMean.map((p) => orthonormalizeColumns(p, o.qrMethod));
    qCur = allReduceTensors(group, bs.map((b, i) => transposeTimesP(b, ps[i], o.sides[i])), 'mean') as tf.Tensor2D[];
  }
  const coefficient = feedbackCoefficient(o.mu);
  return bs.map((b, i) => {
    const side = o.sides[i];
    const p = tf.mul(ps[i], nz[i]) as tf.Tensor2D;
    const r = tf.add(tf.mul(qCur[i], nz[i]), tf.mul(qs[i], tf.sub(1, nz[i]))) as tf.Tensor2D;
    const momentum = tf.mul(tf.sub(b, tf.mul(outer(p, r, side), coefficient)), scales[i]) as tf.Tensor2D;
    const qNew = normalizeColumns(r, columnSumSquares(r), tf.div(o.epsilon, scales[i]) as tf.Scalar);
    return { momentum, q: qNew, direction: outer(p, qNew, side), p, r: tf.mul(r, scales[i]) as tf.Tensor2D };
  });
}

/**
 * Sharding of {@link scaleByDion}'s matrices: `count` shards in all, computed in this process
 * (`communicator` absent or of size 1: the in-process simulation of a sharded run) or spread over the
 * ranks of `communicator` (`count / size` consecutive shards per rank, rank 0 the first). Every rank
 * is given the whole gradient (data-parallel: replicated) and keeps the whole state; each computes its
 * shards' step, and the shards' momentum, direction and (sharded) Q are all-gathered, so every rank
 * ends the step with the same parameters and state — the compute is sharded, the state not
 * (microsoft/dion's FSDP layout shards both). Data-parallel Dion (each rank its own gradient, only
 * the factors all-reduced: {@link dionStepsDataParallel}) is the other mode, used without `sharding`.
 */
export interface DionSharding {
  /** Number of shards in all ranks (≤ the sharded dimension of every matrix). */
  readonly count: number;
  /** The dimension split across shards: `'fanIn'` (rows of X) or `'fanOut'` (columns of X). */
  readonly axis: 'fanIn' | 'fanOut';
  /** The ranks sharing the work (default: this process alone); `count` must be a multiple of its size. */
  readonly communicator?: Communicator;
  /**
   * The shard group to use instead (`size` must equal `count`; its communicator replaces
   * `communicator`).
   * @deprecated Give `communicator`.
   */
  readonly collective?: ShardGroup;
}

/** Dion's initial Q of one matrix: `shape` is `[qDim, rank]`; row-major values (or a tensor of that shape). */
export type DionInitialQ = (meta: ParamMeta, shape: readonly [number, number], index: number) => tf.Tensor | ArrayLike<number>;

/** Options of {@link scaleByDion}. */
export interface ScaleByDionOptions extends DionRankOptions {
  /** Momentum μ (error-feedback keep factor). */
  readonly mu: number;
  /** Column-normalization ε. */
  readonly epsilon: number;
  /** Power iterations per step. */
  readonly powerIters: number;
  /** Column orthonormalization method. */
  readonly qrMethod: QrMethod;
  /** Orientation rule, see {@link DionOrientation}. */
  readonly orientation: DionOrientation;
  /** Seed of the initial Q ~ N(0, 1) (parameter i of the group uses tfjs seed `seed + i + 1`). */
  readonly seed: number;
  /**
   * The initial Q of each matrix instead of the seeded N(0, 1) draw (`shape = [qDim, rank]`), e.g. to
   * replay a run that started from a known Q. Its values are checked for size and finiteness.
   */
  readonly initialQ?: DionInitialQ;
  /** Compute every matrix's step over shards (see {@link dionStepSharded}); default unsharded. */
  readonly sharding?: DionSharding;
  /** Optimizer name for error messages. */
  readonly owner?: string;
}

/** The shard group of a {@link DionSharding}: `count` shards over its communicator's ranks. */
function dionShardGroup(owner: string, sharding: DionSharding): ShardGroup {
  if (sharding.collective !== undefined) {
    if (sharding.collective.size !== sharding.count) {
      throw new RangeError(`${owner}: sharding.collective has size ${sharding.collective.size}, sharding.count is ${sharding.count}`);
    }
    return sharding.collective;
  }
  const comm = sharding.communicator ?? singleRankCommunicator();
  if (!Number.isInteger(sharding.count) || sharding.count < 1 || sharding.count % comm.size !== 0) {
    throw new RangeError(
      `${owner}: sharding.count must be a positive multiple of the communicator's ${comm.size} ranks, got ${sharding.count}`,
    );
  }
  return shardGroup(comm, sharding.count / comm.size);
}

/** The user's initial Q, checked: `qDim·rank` finite values, as a float32 `[qDim, rank]` tensor. */
function initialQOf(owner: string, fn: DionInitialQ, meta: ParamMeta, shape: [number, number], index: number): tf.Tensor {
  const got = fn(meta, shape, index);
  const values = got instanceof tf.Tensor ? got.dataSync() : got;
  const n = shape[0] * shape[1];
  if (values === null || typeof values !== 'object' || values.length !== n) {
    throw new RangeError(
      `${owner}: initialQ('${meta.name}') must give ${n} values (shape [${shape.join(', ')}]), got ${values === null || typeof values !== 'object' ? typeof values : `${values.length}`}`,
    );
  }
  for (let k = 0; k < n; k++) {
    if (!Number.isFinite(values[k])) throw new RangeError(`${owner}: initialQ('${meta.name}') has a non-finite value at ${k}`);
  }
  return tf.tensor2d(Float32Array.from(values as ArrayLike<number>), shape);
}

function requireMatrix(owner: string, meta: ParamMeta): void {
  if (meta.shape.length < 2) {
    throw new Error(
      `${owner}: parameter '${meta.name}' has shape [${meta.shape.join(', ')}]; Dion needs a matrix ` +
        `(rank >= 2). Route vectors and scalars to AdamW or Lion.`,
    );
  }
}

/**
 * Dion's direction for every matrix (`dion_reference.py` `dion_update`, see {@link dionStep}): adds the
 * gradient to the momentum (`B = M + G`, a plain sum, not an EMA), runs the power iteration with
 * error feedback, and outputs the unscaled `P·Qᵀ` in the parameter's shape. The spectral scale
 * `√(fanOut/fanIn)`, weight decay and learning rate are later stages of the recipe.
 *
 * State: `{ momentum: [M per matrix], q: [Q per matrix] }`, Q of shape `[qDim, r]` drawn from N(0, 1)
 * with tfjs seed `seed + i + 1`, or `initialQ`'s (a restored checkpoint replaces it too).
 *
 * Data parallel (without `sharding`): the transform declares `reducesOwnGradients` for the matrices
 * where {@link dionCompressesAllReduce} holds, so `distributed(optimizer, comm)` hands it their local
 * gradients and its communicator as `ctx.dataParallel`; those matrices then take
 * {@link dionStepsDataParallel} (P and R all-reduced, each rank's momentum its own: after the step the
 * momentum slots differ across ranks, their mean is the single-process momentum). The others (and
 * every matrix without `ctx.dataParallel`) take {@link dionStep} on what arrives.
 */
export function scaleByDion(options: ScaleByDionOptions): GradientTransformation {
  const owner = options.owner ?? 'dion';
  const sharding = options.sharding;
  const collective = sharding ? dionShardGroup(owner, sharding) : null;
  const layoutOf = (meta: ParamMeta) => dionLayout(meta.shape, options.orientation);
  const compresses = (meta: ParamMeta) => meta.shape.length >= 2 && dionCompressesAllReduce(meta.shape, options);
  return {
    // data-parallel: the compressed matrices' gradients stay local (dionStepsDataParallel); not with sharding
    ...(sharding ? {} : { reducesOwnGradients: (metas: readonly ParamMeta[]) => metas.map(compresses) }),
    init(metas) {
      const momentum: tf.Tensor[] = [];
      const q: tf.Tensor[] = [];
      metas.forEach((meta, i) => {
        requireMatrix(owner, meta);
        const l = layoutOf(meta);
        if (sharding) {
          const n = sharding.axis === 'fanIn' ? l.fanIn : l.fanOut;
          if (sharding.count > n) {
            throw new RangeError(
              `${owner}: cannot split '${meta.name}' (${sharding.axis} ${n}) into ${sharding.count} shards`,
            );
          }
        }
        const r = dionRank(l.fanIn, l.fanOut, options);
        momentum.push(tf.zeros([...meta.shape]));
        if (options.initialQ) {
          q.push(initialQOf(owner, options.initialQ, meta, [l.qDim, r], i));
          return;
        }
        // tfjs seeds its generator with `seed || Math.random()`: 0 would mean unseeded, hence the + 1.
        q.push(tf.randomNormal([l.qDim, r], 0, 1, 'float32', options.seed + i + 1));
      });
      return { momentum, q };
    },
    update(updates, state, ctx) {
      const s = state as { momentum: tf.Tensor[]; q: tf.Tensor2D[] };
      const momentum: tf.Tensor[] = new Array<tf.Tensor>(updates.length);
      const q: tf.Tensor[] = new Array<tf.Tensor>(updates.length);
      const out: tf.Tensor[] = new Array<tf.Tensor>(updates.length);
      const step = { mu: options.mu, epsilon: options.epsilon, powerIters: options.powerIters, qrMethod: options.qrMethod };
      const xOf = (i: number) => {
        const l = layoutOf(ctx.metas[i]);
        return tf.reshape(tf.add(s.momentum[i], updates[i]), [l.fanIn, l.fanOut]) as tf.Tensor2D;
      };
      const keep = (i: number, res: { momentum: tf.Tensor2D; q: tf.Tensor2D; direction: tf.Tensor2D }) => {
        const shape = ctx.metas[i].shape as number[];
        momentum[i] = tf.reshape(res.momentum, shape);
        q[i] = res.q;
        out[i] = tf.reshape(res.direction, shape);
      };
      // data-parallel (ctx.dataParallel, from distributed()): the compressed matrices' local B, one batch
      const group = sharding ? undefined : ctx.dataParallel;
      const local = group === undefined ? [] : ctx.metas.flatMap((m, i) => (compresses(m) ? [i] : []));
      if (group !== undefined && local.length > 0) {
        const results = dionStepsDataParallel(
          local.map(xOf),
          local.map((i) => s.q[i]),
          { ...step, sides: local.map((i) => layoutOf(ctx.metas[i]).pSide) },
          group,
        );
        results.forEach((res, k) => keep(local[k], res));
      }
      updates.forEach((_, i) => {
        if (out[i] !== undefined) return;
        const l = layoutOf(ctx.metas[i]);
        const x = xOf(i);
        const one = { ...step, pSide: l.pSide };
        if (!sharding) {
          keep(i, dionStep(x, s.q[i], one));
          return;
        }
        const axis = sharding.axis === 'fanIn' ? 0 : 1;
        const sizes = shardSizes(x.shape[axis], sharding.count);
        const g = collective!;
        // this rank's shards: global shards rank·localShards …
        const first = g.communicator.rank * g.localShards;
        const mine = <T>(all: T[]) => all.slice(first, first + g.localShards);
        const xs = mine(tf.split(x, sizes, axis) as tf.Tensor2D[]);
        const pSharded = (l.pSide === 'rows') === (axis === 0);
        const qs = pSharded ? xs.map(() => s.q[i]) : mine(tf.split(s.q[i], sizes, 0) as tf.Tensor2D[]);
        const parts = dionStepSharded(xs, qs, { ...one, axis, collective: g });
        keep(i, {
          momentum: g.allGather(parts.map((p) => p.momentum), axis)[0] as tf.Tensor2D,
          direction: g.allGather(parts.map((p) => p.direction), axis)[0] as tf.Tensor2D,
          q: pSharded ? parts[0].q : (g.allGather(parts.map((p) => p.q), 0)[0] as tf.Tensor2D),
        });
      });
      return { updates: out, state: { momentum, q } };
    },
  };
}

/** Options of {@link scaleByDion2}. */
export interface ScaleByDion2Options {
  /** Fraction of the shorter dimension's slices selected per step, in (0, 1]. */
  readonly fraction: number;
  /** Factor applied to the selected slices of the momentum (error feedback). */
  readonly efDecay: number;
  /** Newton–Schulz (or Polar Express) settings for the selected submatrix. */
  readonly ns: ResolvedNewtonSchulz;
  /** Optimizer name for error messages. */
  readonly owner?: string;
}

/** Which axis of `X = [fanIn, fanOut]` Dion2 selects slices along, and how many. */
export interface Dion2Selection {
  /** 1: output units (columns of X, rows of the PyTorch weight); 0: input units (rows of X). */
  readonly axis: 0 | 1;
  /** Number of slices along `axis`. */
  readonly n: number;
  /** Selected slices per step `k = max(1, ⌈fraction·n⌉)`. */
  readonly k: number;
}

/**
 * Dion2's selection rule in TensorFlow.js terms (`dion2.py`, single device: `select_dim = -2 if
 * rows <= cols else -1` on the PyTorch `[fanOut, fanIn]` weight): slices are taken along the shorter of
 * fan-in/fan-out — output units (columns of X) when `fanOut ≤ fanIn`, else input units (rows of X).
 */
export function dion2Selection(shape: readonly number[], fraction: number): Dion2Selection {
  const [fanIn, fanOut] = matrixShape(shape);
  const axis = fanOut <= fanIn ? 1 : 0;
  const n = axis === 1 ? fanOut : fanIn;
  return { axis, n, k: Math.max(1, Math.ceil(fraction * n)) };
}

/**
 * Dion2's direction (`dion2.py`): `M ← M + G`; pick the k slices (see {@link dion2Selection}) with the
 * largest L1 norm; orthogonalize only that k×L submatrix (L the other dimension) by Newton–Schulz /
 * Polar Express; multiply those slices of M by `efDecay` (error feedback); output the orthogonalized
 * slices in place and exact zeros elsewhere, so the later weight decay is all unselected slices see.
 * The submatrix is orthogonalized before the decay, as in the reference. Scattering back is a matmul
 * with the k×n one-hot selection matrix (exact: one non-zero per output entry).
 *
 * State: `{ momentum: [M per matrix] }`.
 */
export function scaleByDion2(options: ScaleByDion2Options): GradientTransformation {
  const owner = options.owner ?? 'dion2';
  return {
    init(metas) {
      return { momentum: metas.map((meta) => (requireMatrix(owner, meta), tf.zeros([...meta.shape]))) };
    },
    update(updates, state, ctx) {
      const mom = (state as { momentum: tf.Tensor[] }).momentum;
      const momentum: tf.Tensor[] = [];
      const out = updates.map((g, i) => {
        const meta = ctx.metas[i];
        const [fanIn, fanOut] = matrixShape(meta.shape);
        const { axis, n, k } = dion2Selection(meta.shape, options.fraction);
        const x = tf.reshape(tf.add(mom[i], g), [fanIn, fanOut]) as tf.Tensor2D;
        if (x.size === 0) {
          // a zero-size parameter: nothing to select, a zero (empty) update
          momentum.push(tf.reshape(x, meta.shape as number[]));
          return tf.reshape(x, meta.shape as number[]);
        }
        if (k === n) {
          // Every slice is selected (fraction 1, or a single slice): plain Muon-with-error-feedback.
          momentum.push(tf.reshape(tf.mul(x, options.efDecay), meta.shape as number[]));
          return tf.reshape(newtonSchulz(x, options.ns), meta.shape as number[]);
        }
        // L1 norms of x/s (power-of-two rescale, linalg/scale.ts): the same ranking, no overflow to Inf ties
        const l1 = tf.sum(tf.abs(rescaleByPowerOfTwo(x).x), 1 - axis);
        const { indices } = tf.topk(l1, k);
        const selected = tf.gather(x, indices, axis) as tf.Tensor2D;
        const o = newtonSchulz(selected, options.ns) as tf.Tensor2D;
        const onehot = tf.cast(tf.oneHot(indices, n), 'float32') as tf.Tensor2D; // k × n
        const mask = tf.reshape(tf.sum(onehot, 0), axis === 0 ? [n, 1] : [1, n]);
        const factor = tf.where(tf.greater(mask, 0), tf.fill(mask.shape, options.efDecay), tf.onesLike(mask));
        momentum.push(tf.reshape(tf.mul(x, factor), meta.shape as number[]));
        const full = axis === 0 ? tf.matMul(tf.transpose(onehot), o) : tf.matMul(o, onehot);
        return tf.reshape(full, meta.shape as number[]);
      });
      return { updates: out, state: { momentum } };
    },
  };
}

/**
 * Lion's sign direction as microsoft/dion `scalar_opts.py` `lion_update` computes it (Chen et al.,
 * "Symbolic Discovery of Optimization Algorithms", arXiv 2302.06675): `U = sign(lerp(M, G, 1−β₁))`,
 * `M ← lerp(M, G, 1−β₂)`, with torch's `lerp` (`M + w·(G − M)`) and float32 weights; `sign(0) = 0`.
 * Followed by decoupled weight decay and the learning rate. State: `{ mu: [M per parameter] }`.
 */
export function scaleByLion(options: { beta1: number; beta2: number }): GradientTransformation {
  const w1 = Math.fround(1 - Math.fround(options.beta1));
  const w2 = Math.fround(1 - Math.fround(options.beta2));
  return {
    init: (metas) => ({ mu: metas.map((m) => tf.zeros([...m.shape])) }),
    update(updates, state) {
      const mu = (state as { mu: tf.Tensor[] }).mu;
      const out = updates.map((g, i) => exactSign(tf.add(mu[i], tf.mul(tf.sub(g, mu[i]), w1))));
      const next = updates.map((g, i) => tf.add(mu[i], tf.mul(tf.sub(g, mu[i]), w2)));
      return { updates: out, state: { mu: next } };
    },
  };
}

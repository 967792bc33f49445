/**
 * src/transforms/dion.ts: dionLayout (Dense and conv kernels, both orientations), dionRank (fraction,
 * multiple, caps, absolute rank, Python's double rounding); dionStep against a float64 Dion step written
 * here from its doc comment (Gram–Schmidt QR, R = BᵀP, error feedback, column normalization) on both P
 * sides, 1–2 power iterations, both QR methods, extreme magnitudes, the all-zero and empty matrix;
 * dionStepSharded equal to dionStep on the assembled matrix; scaleByDion's state (slots, shapes, seeded
 * and user initial Q, errors) and three steps against float64; dion2Selection (axis, k, rounding) and
 * scaleByDion2 against a float64 top-k-by-L1 + Newton–Schulz step (ties, overflowing norms, k = n,
 * empty); scaleByLion by hand.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { keysAt, tensorListAt, tensorsOf, updatesOver } from '../support/transforms.js';
import type { ParamMeta } from '../../src/core/transform.js';
import {
  dion2Selection,
  dionLayout,
  dionRank,
  dionStep,
  dionStepSharded,
  scaleByDion,
  scaleByDion2,
  scaleByLion,
  type DionSide,
  type ScaleByDionOptions,
} from '../../src/transforms/dion.js';
import { inProcessCollective, shardSizes, splitShards } from '../../src/linalg/collective.js';
import { resolveNewtonSchulz } from '../../src/linalg/newtonSchulz.js';
import type { QrMethod } from '../../src/linalg/qr.js';
import { matmul64, matrix64, newtonSchulz64, transpose64, type Matrix64 } from '../../src/linalg/reference.js';

// ------------------------------------------------------------------------------------ float64 side

/** max|v|. */
function maxAbs(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]));
  return m;
}

/**
 * max|got − want| ≤ tol·scale, equal lengths; `scale` is max|want| by default (normwise: entries near zero
 * get no absolute slack).
 */
function assertNear(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string, scale = maxAbs(want)): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let d = 0;
  for (let i = 0; i < want.length; i++) d = Math.max(d, Math.abs(got[i] - want[i]));
  assert.ok(d <= tol * scale, `${what}: max deviation ${d.toExponential(2)} = ${(d / scale).toExponential(2)}·scale (tol ${tol})`);
}

function zeros64(rows: number, cols: number): Matrix64 {
  return { rows, cols, data: new Float64Array(rows * cols) };
}

/**
 * The Q of a thin QR with a positive-diagonal R, by modified Gram–Schmidt (twice, for float64
 * orthogonality): the factor CholeskyQR computes exactly, unique for a full-rank input.
 */
function qrQ64(a: Matrix64): Matrix64 {
  const { rows: m, cols: n } = a;
  const q = Float64Array.from(a.data);
  for (let j = 0; j < n; j++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < j; i++) {
        let dot = 0;
        for (let r = 0; r < m; r++) dot += q[r * n + i] * q[r * n + j];
        for (let r = 0; r < m; r++) q[r * n + j] -= dot * q[r * n + i];
      }
    }
    let s = 0;
    for (let r = 0; r < m; r++) s += q[r * n + j] ** 2;
    const norm = Math.sqrt(s);
    for (let r = 0; r < m; r++) q[r * n + j] /= norm;
  }
  return { rows: m, cols: n, data: q };
}

interface DionStep64 {
  p: Matrix64;
  r: Matrix64;
  momentum: Matrix64;
  q: Matrix64;
  direction: Matrix64;
}

/**
 * One Dion step in float64 on the working matrix B (P side as rows) from Q, as dionStep's doc comment
 * states it: `powerIters` × {P = orth(B·Q); Q = Bᵀ·P} (R the last Q); P = 0, R = Q when B = 0;
 * M = B − (1−μ)·P·Rᵀ; Q = R ⊘ (‖R_{:,j}‖ + ε); direction P·Qᵀ.
 */
function dionStep64(b: Matrix64, q0: Matrix64, mu: number, eps: number, powerIters: number): DionStep64 {
  let p = zeros64(b.rows, q0.cols);
  let r = q0;
  if (b.data.some((v) => v !== 0)) {
    let q = q0;
    for (let i = 0; i < powerIters; i++) {
      p = qrQ64(matmul64(b, q));
      q = matmul64(transpose64(b), p);
    }
    r = q;
  }
  const prt = matmul64(p, transpose64(r));
  const momentum = { rows: b.rows, cols: b.cols, data: b.data.map((v, i) => v - (1 - mu) * prt.data[i]) };
  const q = zeros64(r.rows, r.cols);
  for (let j = 0; j < r.cols; j++) {
    let s = 0;
    for (let i = 0; i < r.rows; i++) s += r.data[i * r.cols + j] ** 2;
    for (let i = 0; i < r.rows; i++) q.data[i * r.cols + j] = r.data[i * r.cols + j] / (Math.sqrt(s) + eps);
  }
  return { p, r, momentum, q, direction: matmul64(p, transpose64(q)) };
}

/** A row-major X [rows, cols] as the working matrix B: X itself (P side rows) or Xᵀ (P side cols). */
function working(rows: number, cols: number, x: ArrayLike<number>, side: DionSide): Matrix64 {
  const m = matrix64(rows, cols, x);
  return side === 'rows' ? m : transpose64(m);
}

/** A B-layout float64 matrix back in X layout (row-major values). */
function toX(b: Matrix64, side: DionSide): Float64Array {
  return side === 'rows' ? b.data : transpose64(b).data;
}

/** `a` with its columns multiplied by `signs`. */
function flipColumns(a: Matrix64, signs: readonly number[]): Float64Array {
  return a.data.map((v, i) => v * signs[i % a.cols]);
}

/** Per column, the sign that aligns `want`'s column with `got`'s (QR is unique up to column signs). */
function columnSigns(got: ArrayLike<number>, want: Matrix64): number[] {
  return Array.from({ length: want.cols }, (_, j) => {
    let dot = 0;
    for (let i = 0; i < want.rows; i++) dot += got[i * want.cols + j] * want.data[i * want.cols + j];
    return dot < 0 ? -1 : 1;
  });
}

// -------------------------------------------------------------------------------------- dionLayout

describe('dionLayout and dionRank', () => {
  it("layout of Dense kernels [fanIn, fanOut] and conv kernels [kh, kw, in, out] → [kh·kw·in, out], 'tall' and 'fanOut'", () => {
    const cases: [number[], 'tall' | 'fanOut', ReturnType<typeof dionLayout>][] = [
      [[16, 10], 'tall', { fanIn: 16, fanOut: 10, pSide: 'rows', qDim: 10 }], // fan-in longer: P on fan-in
      [[10, 16], 'tall', { fanIn: 10, fanOut: 16, pSide: 'cols', qDim: 10 }],
      [[12, 12], 'tall', { fanIn: 12, fanOut: 12, pSide: 'cols', qDim: 12 }], // ties: fan-out (dion_reference)
      [[16, 10], 'fanOut', { fanIn: 16, fanOut: 10, pSide: 'cols', qDim: 16 }], // dion_simple: always fan-out
      [[10, 16], 'fanOut', { fanIn: 10, fanOut: 16, pSide: 'cols', qDim: 10 }],
      [[3, 3, 4, 8], 'tall', { fanIn: 36, fanOut: 8, pSide: 'rows', qDim: 8 }],
      [[3, 3, 4, 8], 'fanOut', { fanIn: 36, fanOut: 8, pSide: 'cols', qDim: 36 }],
      [[1, 1, 2, 8], 'tall', { fanIn: 2, fanOut: 8, pSide: 'cols', qDim: 2 }],
      [[2, 3, 5], 'tall', { fanIn: 6, fanOut: 5, pSide: 'rows', qDim: 5 }], // any rank ≥ 2 flattens the leading dims
    ];
    for (const [shape, orientation, want] of cases) assert.deepEqual(dionLayout(shape, orientation), want, `[${shape.join(', ')}] ${orientation}`);
    assert.throws(() => dionLayout([7], 'tall'), { name: 'RangeError', message: 'matrixShape: need rank >= 2, got shape [7]' });
  });

  it('rank: multiple·⌈fraction·min/multiple⌉ capped at min(m, n); an absolute rank overrides it, capped', () => {
    const frac = (m: number, n: number, rankFraction: number, rankMultipleOf = 1) => dionRank(m, n, { rankFraction, rankMultipleOf, rank: null });
    assert.equal(frac(16, 10, 0.25), 3); // 2.5 → 3
    assert.equal(frac(10, 16, 0.25), 3); // symmetric in m, n
    assert.equal(frac(16, 10, 0.2), 2); // exactly 2: no rounding up
    assert.equal(frac(16, 10, 1), 10);
    assert.equal(frac(200, 100, 0.25, 8), 32); // 25 → 32
    assert.equal(frac(200, 100, 0.24, 8), 24); // 24 is already a multiple of 8
    assert.equal(frac(16, 10, 1, 4), 10); // 12 capped at min(m, n) = 10 (not a multiple of 4)
    assert.equal(frac(16, 10, 0.01), 1); // at least 1 for a non-empty matrix
    assert.equal(frac(0, 10, 0.5), 0); // an empty matrix has rank 0
    // Python's double arithmetic: 0.14·50 = 7.000000000000001, so ⌈·⌉ = 8 as in dion_reference
    assert.equal(0.14 * 50, 7.000000000000001);
    assert.equal(frac(60, 50, 0.14), 8);
    const abs = (m: number, n: number, rank: number) => dionRank(m, n, { rankFraction: 0.5, rankMultipleOf: 8, rank });
    assert.equal(abs(16, 10, 4), 4); // fraction and multiple ignored
    assert.equal(abs(16, 10, 64), 10); // capped at min(m, n)
    assert.equal(abs(3, 40, 7), 3);
  });
});

// -------------------------------------------------------------------------------------- dionStep

/** The two test matrices: P on fan-in (rows of X) and P on fan-out (columns of X), with their Q. */
const STEP_CASES: { shape: [number, number]; side: DionSide; rank: number }[] = [
  { shape: [20, 14], side: 'rows', rank: 4 },
  { shape: [9, 16], side: 'cols', rank: 3 },
];

interface StepOut {
  p: Float32Array;
  r: Float32Array;
  momentum: Float32Array;
  q: Float32Array;
  direction: Float32Array;
  shapes: number[][];
}

function runStep(x: Float32Array, shape: [number, number], q: Float32Array, qShape: [number, number], o: { side: DionSide; mu: number; epsilon: number; powerIters: number; qrMethod: QrMethod }): StepOut {
  return tf.tidy(() => {
    const res = dionStep(tf.tensor2d(x, shape), tf.tensor2d(q, qShape), { pSide: o.side, mu: o.mu, epsilon: o.epsilon, powerIters: o.powerIters, qrMethod: o.qrMethod });
    const all = [res.p, res.r, res.momentum, res.q, res.direction];
    const [p, r, momentum, qn, direction] = all.map((t) => t.dataSync() as Float32Array);
    return { p, r, momentum, q: qn, direction, shapes: all.map((t) => t.shape) };
  });
}

/** Compares a dionStep result (X layout) with the float64 step (B layout), aligning column signs for Householder. */
function compareStep(got: StepOut, want: DionStep64, side: DionSide, tol: number, what: string, alignSigns: boolean): void {
  const signs = alignSigns ? columnSigns(got.p, want.p) : Array<number>(want.p.cols).fill(1);
  assertNear(got.p, flipColumns(want.p, signs), tol, `${what} P`);
  assertNear(got.r, flipColumns(want.r, signs), tol, `${what} R`);
  assertNear(got.q, flipColumns(want.q, signs), tol, `${what} Q`);
  assertNear(got.momentum, toX(want.momentum, side), tol, `${what} momentum`);
  assertNear(got.direction, toX(want.direction, side), tol, `${what} direction`);
}

describe('dionStep against a float64 Dion step', () => {
  before(() => useBackend('cpu'));

  for (const { shape, side, rank } of STEP_CASES) {
    const [rows, cols] = shape;
    const qDim = side === 'rows' ? cols : rows;
    const pDim = side === 'rows' ? rows : cols;
    const x = gaussian(rows * cols, 1);
    const q0 = gaussian(qDim * rank, 2);
    for (const powerIters of [1, 2]) {
      for (const qrMethod of ['cholesky', 'householder'] as const) {
        it(`X [${rows}, ${cols}] (P side ${side}), r = ${rank}, ${powerIters} power iteration(s), ${qrMethod}: P, R, M, Q and P·Qᵀ within 1e-6`, () => {
          const got = runStep(x, shape, q0, [qDim, rank], { side, mu: 0.9, epsilon: 1e-8, powerIters, qrMethod });
          assert.deepEqual(got.shapes, [[pDim, rank], [qDim, rank], shape, [qDim, rank], shape]);
          const want = dionStep64(working(rows, cols, x, side), matrix64(qDim, rank, q0), 0.9, 1e-8, powerIters);
          // CholeskyQR's R has a positive diagonal like Gram–Schmidt's; Householder's signs follow LAPACK
          compareStep(got, want, side, 1e-6, `${qrMethod}`, qrMethod === 'householder');
        });
      }
    }
  }

  it('μ enters only the error feedback: M = B − (1−μ)·P·Rᵀ for μ = 0, 0.5, 0.99 (direction and Q unchanged)', () => {
    const { shape, side, rank } = STEP_CASES[0];
    const x = gaussian(shape[0] * shape[1], 3);
    const q0 = gaussian(shape[1] * rank, 4);
    const base = runStep(x, shape, q0, [shape[1], rank], { side, mu: 0, epsilon: 1e-8, powerIters: 1, qrMethod: 'cholesky' });
    for (const mu of [0, 0.5, 0.99]) {
      const got = runStep(x, shape, q0, [shape[1], rank], { side, mu, epsilon: 1e-8, powerIters: 1, qrMethod: 'cholesky' });
      const want = dionStep64(working(shape[0], shape[1], x, side), matrix64(shape[1], rank, q0), mu, 1e-8, 1);
      assertNear(got.momentum, toX(want.momentum, side), 1e-6, `μ = ${mu} momentum`);
      assert.deepEqual(got.direction, base.direction, `μ = ${mu} direction`);
      assert.deepEqual(got.q, base.q, `μ = ${mu} Q`);
    }
  });

  it('ε is added to the column norms of R: Q = R ⊘ (‖R_j‖ + ε) with a large ε', () => {
    const { shape, side, rank } = STEP_CASES[1];
    const x = gaussian(shape[0] * shape[1], 5);
    const q0 = gaussian(shape[0] * rank, 6);
    const got = runStep(x, shape, q0, [shape[0], rank], { side, mu: 0.9, epsilon: 2, powerIters: 1, qrMethod: 'cholesky' });
    const want = dionStep64(working(shape[0], shape[1], x, side), matrix64(shape[0], rank, q0), 0.9, 2, 1);
    assertNear(got.q, want.q.data, 1e-6, 'Q');
    assertNear(got.direction, toX(want.direction, side), 1e-6, 'direction');
  });

  for (const [factor, epsilon] of [[1e19, 1e-8], [1e-22, 1e-8], [1e-22, 1e-30]]) {
    it(`entries of size ${factor}, ε = ${epsilon} (Gram matrix and column norms would leave float32): the float64 step within 1e-6`, () => {
      for (const { shape, side, rank } of STEP_CASES) {
        const [rows, cols] = shape;
        const qDim = side === 'rows' ? cols : rows;
        const x = Float32Array.from(gaussian(rows * cols, 7), (v) => v * factor);
        const q0 = gaussian(qDim * rank, 8);
        const got = runStep(x, shape, q0, [qDim, rank], { side, mu: 0.95, epsilon, powerIters: 1, qrMethod: 'cholesky' });
        const want = dionStep64(working(rows, cols, x, side), matrix64(qDim, rank, q0), 0.95, epsilon, 1);
        compareStep(got, want, side, 1e-6, `×${factor} P side ${side}`, false);
      }
    });
  }

  it('all-zero B: P = 0, R = Q exactly, M = 0, Q column-normalized, direction 0 (both QR methods)', () => {
    const q0 = gaussian(14 * 4, 9);
    for (const qrMethod of ['cholesky', 'householder'] as const) {
      const got = runStep(new Float32Array(20 * 14), [20, 14], q0, [14, 4], { side: 'rows', mu: 0.9, epsilon: 1e-8, powerIters: 1, qrMethod });
      assert.ok(got.p.every((v) => v === 0) && got.momentum.every((v) => v === 0) && got.direction.every((v) => v === 0), qrMethod);
      assert.deepEqual(got.r, q0, `${qrMethod} R`);
      assertNear(got.q, dionStep64(zeros64(20, 14), matrix64(14, 4, q0), 0.9, 1e-8, 1).q.data, 2e-7, `${qrMethod} Q`);
    }
  });

  it('an empty X (rank 0): the direction is X, the state as it was', () => {
    tf.tidy(() => {
      const x = tf.zeros([0, 6]) as tf.Tensor2D;
      const q = tf.zeros([0, 0]) as tf.Tensor2D;
      const res = dionStep(x, q, { pSide: 'cols', mu: 0.9, epsilon: 1e-8, powerIters: 1, qrMethod: 'cholesky' });
      assert.equal(res.direction, x);
      assert.equal(res.momentum, x);
      assert.equal(res.q, q);
      assert.deepEqual(res.p.shape, [6, 0]);
    });
  });
});

// ------------------------------------------------------------------------------- dionStepSharded

describe('dionStepSharded equals dionStep on the assembled matrix (inProcessCollective)', () => {
  before(() => useBackend('cpu'));

  for (const { shape, side, rank } of STEP_CASES) {
    for (const axis of [0, 1] as const) {
      const pSharded = (side === 'rows') === (axis === 0);
      for (const qrMethod of ['cholesky', 'householder'] as const) {
        it(`X [${shape.join(', ')}] (P side ${side}), 3 uneven shards along axis ${axis} (${pSharded ? 'P' : 'Q'} side sharded), ${qrMethod}, 2 power iterations: every block within 2e-6`, () => {
          const [rows, cols] = shape;
          const qDim = side === 'rows' ? cols : rows;
          // the first shard's rows/columns are zero: the all-zero test must be global, not per shard
          const xv = gaussian(rows * cols, 10);
          const sizes = shardSizes(shape[axis], 3);
          for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) if ((axis === 0 ? i : j) < sizes[0]) xv[i * cols + j] = 0;
          tf.tidy(() => {
            const x = tf.tensor2d(xv, shape);
            const q = tf.tensor2d(gaussian(qDim * rank, 11), [qDim, rank]);
            const o = { pSide: side, mu: 0.9, epsilon: 1e-8, powerIters: 2, qrMethod };
            const whole = dionStep(x, q, o);
            const xs = splitShards(x, 3, axis);
            const qs = pSharded ? [q, q, q] : splitShards(q, 3, 0);
            const parts = dionStepSharded(xs, qs, { ...o, axis, collective: inProcessCollective(3) });
            assert.equal(parts.length, 3);
            const split = (t: tf.Tensor2D, ax: 0 | 1) => tf.split(t, sizes, ax) as tf.Tensor2D[];
            const [mBlocks, dBlocks] = [split(whole.momentum, axis), split(whole.direction, axis)];
            // P's rows follow the P side (sharded when the P side is), Q's and R's rows the Q side
            const pBlocks = pSharded ? split(whole.p, 0) : [whole.p, whole.p, whole.p];
            const qBlocks = pSharded ? [whole.q, whole.q, whole.q] : split(whole.q, 0);
            const rBlocks = pSharded ? [whole.r, whole.r, whole.r] : split(whole.r, 0);
            parts.forEach((part, i) => {
              for (const [name, got, want, of] of [
                ['momentum', part.momentum, mBlocks[i], whole.momentum],
                ['direction', part.direction, dBlocks[i], whole.direction],
                ['P', part.p, pBlocks[i], whole.p],
                ['Q', part.q, qBlocks[i], whole.q],
                ['R', part.r, rBlocks[i], whole.r],
              ] as const) {
                // relative to the whole matrix's largest entry (the first shard's block is zero)
                assert.deepEqual(got.shape, want.shape, `shard ${i} ${name} shape`);
                assertNear(got.dataSync(), want.dataSync(), 2e-6, `shard ${i} ${name}`, maxAbs(of.dataSync()));
              }
            });
            assert.ok(whole.direction.dataSync().some((v) => v !== 0), 'the assembled B is not all zero');
          });
        });
      }
    }
  }

  it('refuses a shard count that differs from the collective size', () => {
    tf.tidy(() => {
      const xs = splitShards(tf.tensor2d(gaussian(20 * 14, 12), [20, 14]), 2, 0);
      const q = tf.tensor2d(gaussian(14 * 4, 13), [14, 4]);
      const o = { pSide: 'rows' as const, mu: 0.9, epsilon: 1e-8, powerIters: 1, qrMethod: 'cholesky' as const, axis: 0 as const, collective: inProcessCollective(3) };
      assert.throws(() => dionStepSharded(xs, [q, q], o), { name: 'RangeError', message: 'dionStepSharded: expected 3 shards of X and Q, got 2 and 2' });
    });
  });
});

// ------------------------------------------------------------------------------------ scaleByDion

const DION: ScaleByDionOptions = {
  mu: 0.9, epsilon: 1e-8, powerIters: 1, qrMethod: 'cholesky', orientation: 'tall', rankFraction: 0.25, rankMultipleOf: 1, rank: null, seed: 5,
};

describe('scaleByDion', () => {
  before(() => useBackend('cpu'));
  const metas: ParamMeta[] = [
    { name: 'dense', shape: [20, 14] },
    { name: 'wide', shape: [9, 16] },
    { name: 'conv', shape: [2, 2, 3, 5] },
  ];

  it("state is { momentum: [zeros of the parameter's shape], q: [[qDim, r] per matrix] } in both orientations", () => {
    for (const [orientation, qShapes] of [
      ['tall', [[14, 4], [9, 3], [5, 2]]], // r = ⌈0.25·min⌉: 4, 3, 2 (conv → [12, 5])
      ['fanOut', [[20, 4], [9, 3], [12, 2]]],
    ] as const) {
      const s = scaleByDion({ ...DION, orientation }).init(metas);
      assert.deepEqual(keysAt(s), ['momentum', 'q']);
      const m = tensorListAt(s, 'momentum');
      assert.deepEqual(m.map((t) => t.shape), metas.map((x) => x.shape));
      assert.ok(m.every((t) => t.dataSync().every((v) => v === 0)), 'momentum starts at zero');
      assert.deepEqual(tensorListAt(s, 'q').map((t) => t.shape), qShapes, orientation);
      tf.dispose(tensorsOf(s));
    }
  });

  it('the initial Q of matrix i is tf.randomNormal([qDim, r], 0, 1, float32, seed + i + 1): reproducible, distinct per matrix', () => {
    const s = scaleByDion(DION).init(metas);
    const again = scaleByDion(DION).init(metas);
    tensorListAt(s, 'q').forEach((q, i) => {
      const want = tf.randomNormal(q.shape, 0, 1, 'float32', 5 + i + 1);
      assert.deepEqual(q.dataSync(), want.dataSync(), `Q ${i}`);
      assert.deepEqual(tensorListAt(again, 'q')[i].dataSync(), want.dataSync(), `Q ${i} again`);
      want.dispose();
    });
    const other = scaleByDion({ ...DION, seed: 6 }).init(metas);
    assert.notDeepEqual(tensorListAt(other, 'q')[0].dataSync(), tensorListAt(s, 'q')[0].dataSync());
    tf.dispose([...tensorsOf(s), ...tensorsOf(again), ...tensorsOf(other)]);
  });

  it('initialQ: called with (meta, [qDim, r], index); values or a tensor become Q; a wrong size or a non-finite value throws', () => {
    const calls: string[] = [];
    const t = scaleByDion({
      ...DION,
      initialQ: (meta, shape, index) => {
        calls.push(`${meta.name} [${shape.join(', ')}] ${index}`);
        const n = shape[0] * shape[1];
        return index === 1 ? tf.fill([...shape], 0.5) : Array.from({ length: n }, (_, k) => k - 0.25 * index);
      },
    });
    const s = t.init(metas);
    assert.deepEqual(calls, ['dense [14, 4] 0', 'wide [9, 3] 1', 'conv [5, 2] 2']);
    const q = tensorListAt(s, 'q');
    assert.deepEqual(Array.from(q[0].dataSync()), Array.from({ length: 56 }, (_, k) => k));
    assert.ok(q[1].dataSync().every((v) => v === 0.5));
    assert.deepEqual(Array.from(q[2].dataSync()), Array.from({ length: 10 }, (_, k) => k - 0.5));
    tf.dispose(tensorsOf(s));
    const bad = (values: number[]) => scaleByDion({ ...DION, owner: 'myDion', initialQ: () => values }).init([metas[2]]);
    assert.throws(() => bad([1, 2, 3]), { name: 'RangeError', message: "myDion: initialQ('conv') must give 10 values (shape [5, 2]), got 3" });
    assert.throws(() => bad([0, 1, 2, NaN, 4, 5, 6, 7, 8, 9]), { name: 'RangeError', message: "myDion: initialQ('conv') has a non-finite value at 3" });
  });

  it('refuses vectors, more shards than the split dimension, and a collective of the wrong size', () => {
    assert.throws(() => scaleByDion(DION).init([{ name: 'bias', shape: [5] }]), {
      message: "dion: parameter 'bias' has shape [5]; Dion needs a matrix (rank >= 2). Route vectors and scalars to AdamW or Lion.",
    });
    assert.throws(() => scaleByDion({ ...DION, sharding: { count: 15, axis: 'fanOut' } }).init([metas[0]]), {
      name: 'RangeError',
      message: "dion: cannot split 'dense' (fanOut 14) into 15 shards",
    });
    assert.throws(() => scaleByDion({ ...DION, owner: 'd', sharding: { count: 2, axis: 'fanIn', collective: inProcessCollective(3) } }), {
      name: 'RangeError',
      message: 'd: sharding.collective has size 3, sharding.count is 2',
    });
  });

  it('three steps on a conv kernel (P on fan-in) and a wide Dense (P on fan-out): B = M + G, updates P·Qᵀ, state vs float64', () => {
    const ms: ParamMeta[] = [metas[2], metas[1]];
    const layouts = ms.map((m) => dionLayout(m.shape, 'tall'));
    const ranks = [3, 5]; // ⌈0.5·5⌉, ⌈0.5·9⌉
    const q0s = layouts.map((l, i) => gaussian(l.qDim * ranks[i], 20 + i));
    const t = scaleByDion({ ...DION, rankFraction: 0.5, initialQ: (_m, _s, i) => q0s[i] });
    const sizes = ms.map((m) => m.shape.reduce((a, b) => a * b, 1));
    const grads = (step: number) => sizes.map((n, i) => gaussian(n, 30 + 10 * step + i));
    const { outs, state } = updatesOver(t, ms, grads, 3);
    layouts.forEach((l, i) => {
      let m = zeros64(l.fanIn, l.fanOut); // X layout
      let q = matrix64(l.qDim, ranks[i], q0s[i]);
      for (let step = 0; step < 3; step++) {
        const g = grads(step)[i];
        const x = m.data.map((v, k) => v + g[k]);
        const ref = dionStep64(working(l.fanIn, l.fanOut, x, l.pSide), q, 0.9, 1e-8, 1);
        assertNear(outs[step][i], toX(ref.direction, l.pSide), 2e-6, `${ms[i].name} step ${step} update`);
        m = matrix64(l.fanIn, l.fanOut, toX(ref.momentum, l.pSide));
        q = ref.q;
      }
      assertNear(tensorListAt(state, 'momentum')[i].dataSync(), m.data, 2e-6, `${ms[i].name} momentum`);
      assertNear(tensorListAt(state, 'q')[i].dataSync(), q.data, 2e-6, `${ms[i].name} Q`);
      assert.deepEqual(tensorListAt(state, 'momentum')[i].shape, ms[i].shape);
    });
    tf.dispose(tensorsOf(state));
  });
});

// ---------------------------------------------------------------------------------------- Dion2

const JORDAN: [number, number, number][] = Array.from({ length: 5 }, () => [3.4445, -4.775, 2.0315]);
const NS = resolveNewtonSchulz({ coefficients: JORDAN, eps: 1e-7 });

/**
 * One Dion2 step in float32 element-wise arithmetic (as tfjs does it) and float64 Newton–Schulz: B =
 * M + G; the k slices with the largest L1 norm (lower index first on ties); their submatrix
 * orthogonalized; M_new = efDecay·B on those slices, B elsewhere; the update zero elsewhere.
 */
function dion2Step64(m: Float32Array, g: ArrayLike<number>, rows: number, cols: number, fraction: number, efDecay: number) {
  const b = Float32Array.from(m, (v, i) => Math.fround(v + g[i]));
  const axis = cols <= rows ? 1 : 0;
  const n = axis === 1 ? cols : rows;
  const len = axis === 1 ? rows : cols;
  const k = Math.max(1, Math.ceil(fraction * n));
  const idx = (j: number, i: number) => (axis === 1 ? i * cols + j : j * cols + i); // entry i of slice j
  const l1 = Array.from({ length: n }, (_, j) => Array.from({ length: len }, (_, i) => Math.abs(b[idx(j, i)])).reduce((a, v) => a + v, 0));
  const order = l1.map((v, j) => [v, j]).sort((p, q) => q[0] - p[0] || p[1] - q[1]);
  const picked = order.slice(0, k).map(([, j]) => j).sort((p, q) => p - q);
  const gap = k < n ? order[k - 1][0] - order[k][0] : Infinity;
  // the selected submatrix in X's orientation: [len, k] (columns) or [k, len] (rows)
  const sub = new Float64Array(len * k);
  picked.forEach((j, c) => {
    for (let i = 0; i < len; i++) sub[axis === 1 ? i * k + c : c * len + i] = b[idx(j, i)];
  });
  const o = newtonSchulz64(axis === 1 ? matrix64(len, k, sub) : matrix64(k, len, sub), JORDAN, { eps: 1e-7 });
  const update = new Float64Array(rows * cols);
  const momentum = Float32Array.from(b);
  const e = Math.fround(efDecay);
  picked.forEach((j, c) => {
    for (let i = 0; i < len; i++) {
      update[idx(j, i)] = o.data[axis === 1 ? i * k + c : c * len + i];
      momentum[idx(j, i)] = Math.fround(b[idx(j, i)] * e);
    }
  });
  return { update, momentum, picked, gap };
}

/** Slices (along dion2Selection's axis) of a row-major [rows, cols] array that have a non-zero entry. */
function nonZeroSlices(u: ArrayLike<number>, rows: number, cols: number, axis: 0 | 1): number[] {
  const n = axis === 1 ? cols : rows;
  return Array.from({ length: n }, (_, j) => j).filter((j) =>
    Array.from({ length: axis === 1 ? rows : cols }, (_, i) => u[axis === 1 ? i * cols + j : j * cols + i]).some((v) => v !== 0),
  );
}

describe('dion2Selection', () => {
  it('slices along the shorter side (output units, columns of X, when fanOut ≤ fanIn); k = max(1, ⌈fraction·n⌉)', () => {
    assert.deepEqual(dion2Selection([16, 10], 0.25), { axis: 1, n: 10, k: 3 }); // 2.5 → 3
    assert.deepEqual(dion2Selection([10, 16], 0.25), { axis: 0, n: 10, k: 3 });
    assert.deepEqual(dion2Selection([10, 10], 0.3), { axis: 1, n: 10, k: 3 }); // ties: output units
    assert.deepEqual(dion2Selection([16, 10], 0.2), { axis: 1, n: 10, k: 2 }); // exactly 2
    assert.deepEqual(dion2Selection([16, 10], 1), { axis: 1, n: 10, k: 10 });
    assert.deepEqual(dion2Selection([100, 3], 0.01), { axis: 1, n: 3, k: 1 }); // at least one slice
    assert.deepEqual(dion2Selection([3, 3, 4, 8], 0.25), { axis: 1, n: 8, k: 2 }); // conv → [36, 8]
    assert.deepEqual(dion2Selection([2, 2, 1, 8], 0.5), { axis: 0, n: 4, k: 2 }); // conv → [4, 8]: input rows
    assert.deepEqual(dion2Selection([60, 50], 0.14), { axis: 1, n: 50, k: 8 }); // 0.14·50 = 7.000000000000001 in double, as dion2.py
  });
});

describe('scaleByDion2', () => {
  before(() => useBackend('cpu'));

  it('state is { momentum: [zeros of the parameter shape] }; vectors are refused naming the owner', () => {
    const s = scaleByDion2({ fraction: 0.25, efDecay: 0.9, ns: NS }).init([{ name: 'w', shape: [4, 6] }, { name: 'c', shape: [2, 2, 3, 4] }]);
    assert.deepEqual(keysAt(s), ['momentum']);
    const m = tensorListAt(s, 'momentum');
    assert.deepEqual(m.map((t) => t.shape), [[4, 6], [2, 2, 3, 4]]);
    assert.ok(m.every((t) => t.dataSync().every((v) => v === 0)));
    tf.dispose(m);
    assert.throws(() => scaleByDion2({ fraction: 0.25, efDecay: 0.9, ns: NS, owner: 'd2' }).init([{ name: 'b', shape: [3] }]), {
      message: "d2: parameter 'b' has shape [3]; Dion needs a matrix (rank >= 2). Route vectors and scalars to AdamW or Lion.",
    });
  });

  for (const shape of [[24, 10], [10, 24], [2, 3, 4, 6]]) {
    it(`[${shape.join(', ')}], fraction 0.25, three steps: update = NS(top-k L1 slices of M + G) in place, zeros elsewhere; M exact`, () => {
      const size = shape.reduce((a, b) => a * b, 1);
      const cols = shape[shape.length - 1];
      const rows = size / cols;
      const t = scaleByDion2({ fraction: 0.25, efDecay: 0.9, ns: NS });
      const grads = (step: number) => [gaussian(size, 40 + step)];
      const { outs, state } = updatesOver(t, [{ name: 'w', shape }], grads, 3);
      let m = new Float32Array(size);
      const { axis } = dion2Selection(shape, 0.25);
      for (let step = 0; step < 3; step++) {
        const want = dion2Step64(m, grads(step)[0], rows, cols, 0.25, 0.9);
        assert.ok(want.gap > 1e-3, `step ${step}: the test data has a near-tie (gap ${want.gap})`);
        assert.deepEqual(nonZeroSlices(outs[step][0], rows, cols, axis), want.picked, `step ${step}: selected slices`);
        assertNear(outs[step][0], want.update, 1e-5, `step ${step} update`);
        m = want.momentum;
      }
      assert.deepEqual(tensorListAt(state, 'momentum')[0].dataSync(), m, 'momentum (float32 exact)');
      tf.dispose(tensorsOf(state));
    });
  }

  it('L1 (not L2) ranks the slices; ties at the boundary go to the lower index (tf.topk order)', () => {
    // X [6, 8]: fanIn 6 < fanOut 8, so rows are selected; k = ⌈0.5·6⌉ = 3. L1 norms [1.5, 3, 2, 2, 2, 0.5]
    // (exact in float32): top-3 by L1 is row 1 and two of the tied rows 2, 3, 4 — rows 2 and 3. By L2
    // (1.5, 3, √2, √2, 1, 0.5) it would be rows 0, 1, 2.
    const g = new Float32Array(48);
    const put = (row: number, values: number[]) => values.forEach((v, j) => (g[row * 8 + j] = v));
    put(0, [1.5]);
    put(1, [3]);
    put(2, [0, 1, 1]);
    put(3, [0, 0, 0, -1, 0, 0, 1]);
    put(4, [0.5, -0.5, 0, 0, 0.5, 0, 0, 0.5]);
    put(5, [0, 0, 0, 0, 0, 0.5]);
    const { outs, state } = updatesOver(scaleByDion2({ fraction: 0.5, efDecay: 0.5, ns: NS }), [{ name: 'w', shape: [6, 8] }], () => [g], 1);
    assert.deepEqual(nonZeroSlices(outs[0][0], 6, 8, 0), [1, 2, 3]);
    const want = dion2Step64(new Float32Array(48), g, 6, 8, 0.5, 0.5);
    assert.deepEqual(want.picked, [1, 2, 3]);
    assertNear(outs[0][0], want.update, 1e-5, 'update');
    assert.deepEqual(tensorListAt(state, 'momentum')[0].dataSync(), want.momentum);
    tf.dispose(tensorsOf(state));
  });

  it('L1 norms that overflow float32 (columns of 24 entries ~3e37) still rank correctly: no Inf ties', () => {
    // [24, 10]: columns selected, k = ⌈0.2·10⌉ = 2. Columns 0, 1, 3 have |entries| 2e37, 3e37, 2.5e37
    // (L1 4.8e38, 7.2e38, 6e38: all Inf in float32); the right top-2 is {1, 3}, an Inf tie would give {0, 1}.
    const g = Float32Array.from(gaussian(240, 50), (v) => v * 1e-3);
    for (let i = 0; i < 24; i++) {
      const sign = i % 2 ? -1 : 1;
      g[i * 10 + 0] = sign * 2e37;
      g[i * 10 + 1] = sign * 3e37;
      g[i * 10 + 3] = -sign * 2.5e37;
    }
    const { outs, state } = updatesOver(scaleByDion2({ fraction: 0.2, efDecay: 0.5, ns: NS }), [{ name: 'w', shape: [24, 10] }], () => [g], 1);
    assert.deepEqual(nonZeroSlices(outs[0][0], 24, 10, 1), [1, 3]);
    const m = tensorListAt(state, 'momentum')[0].dataSync();
    for (let i = 0; i < 24; i++) {
      for (let j = 0; j < 10; j++) {
        const want = j === 1 || j === 3 ? Math.fround(g[i * 10 + j] * 0.5) : g[i * 10 + j];
        assert.equal(m[i * 10 + j], want, `M[${i}, ${j}]`);
      }
    }
    tf.dispose(tensorsOf(state));
  });

  it('k = n (fraction 1): the whole matrix is orthogonalized and all of M decays', () => {
    const g = gaussian(60, 55);
    const { outs, state } = updatesOver(scaleByDion2({ fraction: 1, efDecay: 0.8, ns: NS }), [{ name: 'w', shape: [12, 5] }], () => [g], 1);
    assertNear(outs[0][0], newtonSchulz64(matrix64(12, 5, g), JORDAN, { eps: 1e-7 }).data, 1e-5, 'update');
    assert.deepEqual(tensorListAt(state, 'momentum')[0].dataSync(), Float32Array.from(g, (v) => Math.fround(v * Math.fround(0.8))));
    tf.dispose(tensorsOf(state));
  });

  it('a zero-size parameter: an empty update and momentum', () => {
    const { outs, state } = updatesOver(scaleByDion2({ fraction: 0.25, efDecay: 0.9, ns: NS }), [{ name: 'w', shape: [0, 4] }], () => [new Float32Array(0)], 2);
    assert.equal(outs[1][0].length, 0);
    assert.deepEqual(tensorListAt(state, 'momentum')[0].shape, [0, 4]);
    tf.dispose(tensorsOf(state));
  });
});

// ----------------------------------------------------------------------------------------- Lion

describe('scaleByLion', () => {
  before(() => useBackend('cpu'));

  it('by hand (β₁ = 0.75, β₂ = 0.5, exact in float32): U = sign(M + (1−β₁)(G − M)), M ← M + (1−β₂)(G − M), sign(0) = 0', () => {
    const metas: ParamMeta[] = [{ name: 'w', shape: [2, 2] }, { name: 'b', shape: [1] }];
    const grads = [
      [[2, -3, 0, 0.5], [1]],
      [[-1, -1, 4, -1], [-1]],
      [[0, 3.75, -2, 0.125], [-1]],
    ];
    const t = scaleByLion({ beta1: 0.75, beta2: 0.5 });
    const s0 = t.init(metas);
    assert.deepEqual(keysAt(s0), ['mu']);
    assert.deepEqual(tensorListAt(s0, 'mu').map((m) => m.shape), [[2, 2], [1]]);
    tf.dispose(tensorsOf(s0));
    const { outs, state } = updatesOver(t, metas, (k) => grads[k], 3);
    // step 1: M = 0 → U = sign(G); M = G/2 = [1, −1.5, 0, 0.25], [0.5]
    // step 2: M + (G − M)/4 = [0.5, −1.375, 1, −0.0625], [0.125]: entry 0 follows M against G, entry 3 G against M
    //         M = [0, −1.25, 2, −0.375], [−0.25]
    // step 3: M + (G − M)/4 = [0, 0, 1, −0.25], [−0.4375]: a zero interpolation gives 0 even where G ≠ 0
    //         M = [0, 1.25, 0, −0.125], [−0.625]
    assert.deepEqual(outs.map((o) => o.map((u) => Array.from(u))), [
      [[1, -1, 0, 1], [1]],
      [[1, -1, 1, -1], [1]],
      [[0, 0, 1, -1], [-1]],
    ]);
    assert.deepEqual(tensorListAt(state, 'mu').map((m) => Array.from(m.dataSync())), [[0, 1.25, 0, -0.125], [-0.625]]);
    tf.dispose(tensorsOf(state));
  });

  it('the interpolation weight is the float32 1 − β₁ of the reference (scalar tensors): M = 1, G = −9, β₁ = 0.9 gives −1, not 0', () => {
    // float32: 1 − fround(0.9) = 0.100000024, 1 − 10·0.100000024 = −2.4e-7 < 0; in double 1 + 0.1·(−10) = 0
    const w1 = Math.fround(1 - Math.fround(0.9));
    assert.equal(Math.fround(1 + Math.fround(-10 * w1)), -(2 ** -22));
    const { outs } = updatesOver(scaleByLion({ beta1: 0.9, beta2: 0 }), [{ name: 'w', shape: [1] }], (k) => [[k === 0 ? 1 : -9]], 2);
    assert.deepEqual(Array.from(outs[1][0]), [-1]);
  });
});

/**
 * HRA and OFTv2 as plain tensor functions (nn/adapters.ts) against float64 references written here:
 * the Householder chain in PEFT's order, Gram–Schmidt, the packed skew layout, PEFT's Cayley–Neumann
 * sum and its closed-form defect RᵀR = (I − Q^{t−1})ᵀ(I − Q^{t−1}), block-diagonal products; singular
 * values kept (float64 Jacobi SVD), identity inits, the papers' parameter counts, a few gradient steps,
 * named errors before any tensor is made, and no leaks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { matmul64, matrix64, singularValues64, transpose64, type Matrix64 } from '../../src/linalg/reference.js';
import {
  cayleyNeumann,
  hraInitialVectors,
  hraKernel,
  hraOrthogonality,
  hraParameterCount,
  hraReflect,
  hraVectors,
  oftBlocks,
  oftInitialParameters,
  oftKernel,
  oftParameterCount,
  oftRotate,
  oftRotation,
  resolveOft,
  skewSymmetric,
} from '../../src/nn/adapters.js';

await useBackend('cpu');

// ----- float64 references -------------------------------------------------------------------------

function eye64(n: number): Matrix64 {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return { rows: n, cols: n, data: m };
}

function column(m: Matrix64, j: number): Float64Array {
  const out = new Float64Array(m.rows);
  for (let i = 0; i < m.rows; i++) out[i] = m.data[i * m.cols + j];
  return out;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** K ← (I − 2ûûᵀ)K in place. */
function reflectRows(k: Matrix64, uhat: Float64Array): void {
  for (let c = 0; c < k.cols; c++) {
    let s = 0;
    for (let i = 0; i < k.rows; i++) s += uhat[i] * k.data[i * k.cols + c];
    for (let i = 0; i < k.rows; i++) k.data[i * k.cols + c] -= 2 * uhat[i] * s;
  }
}

function unit64(v: Float64Array): Float64Array {
  const n = Math.sqrt(dot(v, v));
  return v.map((x) => x / n);
}

/** PEFT get_delta_weight: W·H_1⋯H_r; here in the tfjs layout H_r⋯H_1·K (H_1 applied to K first). */
function hraKernel64(k: Matrix64, u: Matrix64): Matrix64 {
  const out = { ...k, data: Float64Array.from(k.data) };
  for (let i = 0; i < u.cols; i++) reflectRows(out, unit64(column(u, i)));
  return out;
}

function gramSchmidt64(u: Matrix64): Float64Array[] {
  const ws: Float64Array[] = [];
  for (let i = 0; i < u.cols; i++) {
    let v = column(u, i);
    for (const w of ws) {
      const p = dot(w, v);
      v = v.map((x, j) => x - p * w[j]);
    }
    ws.push(unit64(v));
  }
  return ws;
}

function skew64(packed: ArrayLike<number>, b: number): Matrix64 {
  const q = new Float64Array(b * b);
  let k = 0;
  for (let i = 0; i < b; i++) {
    for (let j = i + 1; j < b; j++) {
      q[i * b + j] = packed[k];
      q[j * b + i] = -packed[k];
      k++;
    }
  }
  return { rows: b, cols: b, data: q };
}

function add64(a: Matrix64, b: Matrix64, s = 1): Matrix64 {
  return { ...a, data: a.data.map((x, i) => x + s * b.data[i]) };
}

/** PEFT _cayley_batch with use_cayley_neumann, in float64. */
function neumann64(q: Matrix64, terms: number): Matrix64 {
  let r = eye64(q.rows);
  if (terms > 1) {
    r = add64(r, q, 2);
    if (terms > 2) {
      let p = matmul64(q, q);
      r = add64(r, p, 2);
      for (let j = 3; j < terms - 1; j++) {
        p = matmul64(p, q);
        r = add64(r, p, 2);
      }
      p = matmul64(p, q);
      r = add64(r, p);
    }
  }
  return r;
}

function power64(q: Matrix64, k: number): Matrix64 {
  let p = eye64(q.rows);
  for (let i = 0; i < k; i++) p = matmul64(p, q);
  return p;
}

function blockDiag64(blocks: Matrix64[]): Matrix64 {
  const b = blocks[0].rows;
  const d = b * blocks.length;
  const m = new Float64Array(d * d);
  blocks.forEach((blk, k) => {
    for (let i = 0; i < b; i++) for (let j = 0; j < b; j++) m[(k * b + i) * d + k * b + j] = blk.data[i * b + j];
  });
  return { rows: d, cols: d, data: m };
}

function m64(t: tf.Tensor): Matrix64 {
  const cols = t.shape[t.rank - 1];
  return matrix64(t.size / cols, cols, t.dataSync());
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

const kernel = (d: number, n: number, seed: number) => tf.tensor2d(gaussian(d * n, seed).map((x) => x / Math.sqrt(d)), [d, n]);

// ----- HRA ----------------------------------------------------------------------------------------

describe('HRA (Householder reflection adaptation)', () => {
  it('hraKernel = H_r⋯H_1·K in float64 (PEFT W·H_1⋯H_r transposed), and keeps the singular values to 1e-5', () => {
    const [d, n, r] = [24, 10, 6];
    const k = kernel(d, n, 1);
    const u = tf.tensor2d(gaussian(d * r, 2), [d, r]);
    const out = hraKernel(k, u);
    const ref = hraKernel64(m64(k), m64(u));
    assert.ok(maxAbsDiff(out.dataSync(), ref.data) < 2e-6, `vs float64: ${maxAbsDiff(out.dataSync(), ref.data)}`);
    const s0 = singularValues64(m64(k));
    const s1 = singularValues64(m64(out));
    assert.ok(maxAbsDiff(s0, s1) < 1e-5 * s0[0], `singular values moved by ${maxAbsDiff(s0, s1)}`);
    // Neuron geometry (B7.3): (M·K)ᵀ(M·K) = KᵀK.
    const g0 = matmul64(transpose64(m64(k)), m64(k));
    const g1 = matmul64(transpose64(m64(out)), m64(out));
    assert.ok(maxAbsDiff(g0.data, g1.data) < 1e-5, 'Gram of the columns kept');
    // The order matters: reversing the columns of U gives another product (PEFT's order is H_1 first on K).
    const rev = tf.reverse(u, 1);
    const other = hraKernel(k, rev as tf.Tensor2D);
    assert.ok(maxAbsDiff(other.dataSync(), ref.data) > 1e-2, 'column order is not ignored');
    tf.dispose([k, u, out, rev, other]);
  });

  it('the compact WY form equals the sequential chain for r = 1, 2, 3, 5, 8, 16 (float64 reference)', () => {
    const [d, n] = [20, 4];
    const k = kernel(d, n, 60);
    for (const r of [1, 2, 3, 5, 8, 16]) {
      const u = tf.tensor2d(gaussian(d * r, 61 + r), [d, r]);
      const out = hraKernel(k, u);
      const ref = hraKernel64(m64(k), m64(u));
      assert.ok(maxAbsDiff(out.dataSync(), ref.data) < 4e-6, `r = ${r}: ${maxAbsDiff(out.dataSync(), ref.data)}`);
      const x = tf.tensor2d(gaussian(3 * d, 80 + r), [3, d]);
      const y = tf.matMul(hraReflect(x, u), k);
      assert.ok(maxAbsDiff(y.dataSync(), matmul64(m64(x), ref).data) < 2e-5, `reflect, r = ${r}`);
      tf.dispose([u, out, x, y]);
    }
    k.dispose();
  });

  it('hraReflect(x)·K = x·hraKernel(K): reflections H_r first on activations', () => {
    const [d, n, r, batch] = [16, 5, 4, 7];
    const k = kernel(d, n, 3);
    const u = tf.tensor2d(gaussian(d * r, 4), [d, r]);
    const x = tf.tensor2d(gaussian(batch * d, 5), [batch, d]);
    const viaX = tf.matMul(hraReflect(x, u), k);
    const viaK = tf.matMul(x, hraKernel(k, u));
    const ref = matmul64(m64(x), hraKernel64(m64(k), m64(u)));
    assert.ok(maxAbsDiff(viaX.dataSync(), ref.data) < 1e-5);
    assert.ok(maxAbsDiff(viaK.dataSync(), ref.data) < 1e-5);
    // Rank-3 activations keep their shape.
    const x3 = tf.reshape(x, [1, batch, d]);
    const y3 = hraReflect(x3, u);
    assert.deepEqual(y3.shape, [1, batch, d]);
    tf.dispose([k, u, x, viaX, viaK, x3, y3]);
  });

  it('the identity init pairs equal columns: the product is I (float64 exactly to 1e-15, float32 to rounding)', () => {
    const [d, n, r] = [20, 6, 8];
    const values = hraInitialVectors(d, r, 'identity', 7);
    for (let i = 0; i < d; i++) for (let j = 0; j < r; j += 2) assert.equal(values[i * r + j], values[i * r + j + 1]);
    // PEFT's bound 1/√(r/2) (kaiming_uniform_(a=√5) takes fan_in = r/2 columns).
    assert.ok(maxAbs(values) <= 1 / Math.sqrt(r / 2) && maxAbs(values) > 0.5 / Math.sqrt(r / 2));
    const k = kernel(d, n, 8);
    const ref = hraKernel64(m64(k), matrix64(d, r, values));
    assert.ok(maxAbsDiff(ref.data, k.dataSync()) < 1e-15, 'float64: H_{2j−1}H_{2j} = I');
    const u = tf.tensor2d(values, [d, r]);
    const out = hraKernel(k, u);
    // float32: ûᵀû = 1 only to rounding, 2 reflections per pair, r/2 pairs: a few ulps of max|K|.
    const err = maxAbsDiff(out.dataSync(), k.dataSync());
    assert.ok(err < 8 * r * 6e-8 * maxAbs(k.dataSync()), `identity init moved K by ${err}`);
    assert.deepEqual(hraInitialVectors(d, r, 'identity', 7), values, 'seeded');
    assert.notDeepEqual(hraInitialVectors(d, r, 'identity', 8), values);
    const rnd = hraInitialVectors(d, 3, 'random', 1);
    assert.equal(rnd.length, d * 3);
    assert.ok(maxAbs(rnd) <= 1 / Math.sqrt(3));
    tf.dispose([k, u, out]);
  });

  it('gramSchmidt: Û orthonormal (PEFT apply_GS), M = I − 2ÛÛᵀ symmetric orthogonal, vs float64', () => {
    const [d, n, r] = [12, 4, 5];
    const u = tf.tensor2d(gaussian(d * r, 9), [d, r]);
    const w = hraVectors(u, { gramSchmidt: true });
    const ws = gramSchmidt64(m64(u));
    for (let j = 0; j < r; j++) {
      const col = column(m64(w), j);
      assert.ok(maxAbsDiff(col, ws[j]) < 1e-5, `column ${j}`);
    }
    const gram = matmul64(transpose64(m64(w)), m64(w));
    assert.ok(maxAbsDiff(gram.data, eye64(r).data) < 1e-5, 'ÛᵀÛ = I');
    const k = kernel(d, n, 10);
    const out = hraKernel(k, u, { gramSchmidt: true });
    const h = eye64(d);
    for (const wj of ws) for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) h.data[a * d + b] -= 2 * wj[a] * wj[b];
    const ref = matmul64(h, m64(k));
    assert.ok(maxAbsDiff(out.dataSync(), ref.data) < 2e-6);
    const x = tf.tensor2d(gaussian(3 * d, 11), [3, d]);
    const viaX = tf.matMul(hraReflect(x, u, { gramSchmidt: true }), k);
    assert.ok(maxAbsDiff(viaX.dataSync(), matmul64(m64(x), ref).data) < 1e-5);
    assert.ok(maxAbsDiff(singularValues64(m64(out)), singularValues64(m64(k))) < 1e-5);
    tf.dispose([u, w, k, out, x, viaX]);
  });

  it('hraOrthogonality = ‖I − ÛᵀÛ‖²_F: 0 for orthogonal planes, 2 for a repeated pair, scale-free, vs float64', () => {
    const ortho = tf.tensor2d([3, 0, 0, 0.5, 0, 0], [3, 2]);
    assert.ok(Math.abs(hraOrthogonality(ortho).dataSync()[0]) < 1e-12);
    const pair = tf.tensor2d([1, 1, 2, 2, -1, -1], [3, 2]);
    assert.ok(Math.abs(hraOrthogonality(pair).dataSync()[0] - 2) < 1e-6);
    const u = tf.tensor2d(gaussian(10 * 4, 12), [10, 4]);
    const cols = [0, 1, 2, 3].map((j) => unit64(column(m64(u), j)));
    let ref = 0;
    for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) ref += ((a === b ? 1 : 0) - dot(cols[a], cols[b])) ** 2;
    const v = hraOrthogonality(u).dataSync()[0];
    assert.ok(Math.abs(v - ref) < 1e-5 * ref);
    const scaled = tf.mul(u, tf.tensor2d([[10, 0.1, 3, 1]]));
    assert.ok(Math.abs(hraOrthogonality(scaled as tf.Tensor2D).dataSync()[0] - ref) < 1e-5 * ref);
    tf.dispose([ortho, pair, u, scaled]);
  });

  it('a zero column is the identity reflection (no NaN)', () => {
    const k = kernel(4, 3, 13);
    const u = tf.tensor2d([0, 1, 0, 0, 0, 0, 0, 0], [4, 2]);
    const out = hraKernel(k, u).dataSync();
    assert.ok(out.every(Number.isFinite));
    const ref = hraKernel64(m64(k), matrix64(4, 1, [1, 0, 0, 0]));
    assert.ok(maxAbsDiff(out, ref.data) < 1e-6);
    tf.dispose([k, u]);
  });

  it('a conv kernel [kh, kw, in, out] is adapted on its flattened kh·kw·in rows and keeps its shape', () => {
    const k = tf.tensor4d(gaussian(3 * 3 * 2 * 4, 14), [3, 3, 2, 4]);
    const u = tf.tensor2d(gaussian(18 * 2, 15), [18, 2]);
    const out = hraKernel(k, u);
    assert.deepEqual(out.shape, [3, 3, 2, 4]);
    const ref = hraKernel64(matrix64(18, 4, k.dataSync()), m64(u));
    assert.ok(maxAbsDiff(out.dataSync(), ref.data) < 1e-5);
    tf.dispose([k, u, out]);
  });

  it('the paper\'s parameter count d·r', () => {
    assert.equal(hraParameterCount(784, 8), 6272);
    assert.equal(hraParameterCount(64, 1), 64);
  });

  it('gradient steps on U lower a fitting loss (tf.variableGrads through the chain)', () => {
    const [d, n, r] = [12, 6, 4];
    const k = kernel(d, n, 16);
    const target = tf.tidy(() => hraKernel(k, tf.tensor2d(gaussian(d * r, 17), [d, r])));
    const x = tf.tensor2d(gaussian(32 * d, 18), [32, d]);
    const y = tf.matMul(x, target);
    const u = tf.variable(tf.tensor2d(hraInitialVectors(d, r, 'random', 19), [d, r]));
    const loss = () => tf.mean(tf.square(tf.sub(tf.matMul(x, hraKernel(k, u as unknown as tf.Tensor2D)), y))) as tf.Scalar;
    const first = tf.tidy(() => loss().dataSync()[0]);
    for (let step = 0; step < 40; step++) {
      tf.tidy(() => {
        const { grads } = tf.variableGrads(loss, [u]);
        u.assign(tf.sub(u, tf.mul(0.5, grads[u.name])));
      });
    }
    const last = tf.tidy(() => loss().dataSync()[0]);
    assert.ok(last < 0.5 * first, `loss ${first} → ${last}`);
    tf.dispose([k, target, x, y, u]);
  });

  it('bad shapes and options are named errors, thrown before any tensor is made', () => {
    const k = kernel(6, 3, 20);
    const u = tf.tensor2d(gaussian(5 * 2, 21), [5, 2]);
    const wide = tf.zeros([2, 3]) as tf.Tensor2D;
    const flat = tf.zeros([6]);
    const before = tf.memory().numTensors;
    assert.throws(() => hraKernel(k, u), { name: 'RangeError', message: /hraKernel: U has 5 rows but the kernel's input dimension is 6/ });
    assert.throws(() => hraVectors(wide), { name: 'RangeError', message: /r = 3 reflections exceed the dimension d = 2/ });
    assert.throws(() => hraKernel(flat, u), { name: 'RangeError', message: /hraKernel: the kernel must have rank ≥ 2/ });
    assert.throws(() => hraReflect(flat, u), { name: 'RangeError', message: /hraReflect: U has 5 rows but the kernel's input dimension is 6/ });
    assert.throws(() => hraOrthogonality(flat as never), { name: 'RangeError', message: /must be a matrix \[d, r\]/ });
    assert.throws(() => hraKernel(k, u, { gramSchmid: true } as never), { name: 'RangeError', message: /unknown option 'gramSchmid'/ });
    assert.throws(() => hraInitialVectors(6, 3, 'identity', 0), { name: 'RangeError', message: /rank must be even, got 3/ });
    assert.throws(() => hraInitialVectors(6, 7, 'random', 0), { name: 'RangeError', message: /rank must be an integer in \[1, 6\]/ });
    assert.throws(() => hraInitialVectors(6, 0, 'random', 0), { name: 'RangeError', message: /rank must be an integer/ });
    assert.equal(tf.memory().numTensors, before, 'a refused call makes no tensor');
    tf.dispose([k, u, wide, flat]);
  });

  it('no leaks', () => {
    const k = kernel(10, 4, 22);
    const u = tf.tensor2d(gaussian(10 * 4, 23), [10, 4]);
    const x = tf.tensor2d(gaussian(3 * 10, 24), [3, 10]);
    const before = tf.memory().numTensors;
    for (const gs of [false, true]) {
      hraKernel(k, u, { gramSchmidt: gs }).dispose();
      hraReflect(x, u, { gramSchmidt: gs }).dispose();
      hraVectors(u, { gramSchmidt: gs }).dispose();
    }
    hraOrthogonality(u).dispose();
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([k, u, x]);
  });
});

// ----- OFTv2 --------------------------------------------------------------------------------------

describe('OFTv2 (block-diagonal Cayley–Neumann orthogonal fine-tuning)', () => {
  it('skewSymmetric unpacks torch.triu_indices order: [1, 2, 3] → [[0,1,2],[−1,0,3],[−2,−3,0]]', () => {
    const q = skewSymmetric(tf.tensor2d([[1, 2, 3], [4, 5, 6]]), 3);
    assert.deepEqual(Array.from(q.dataSync()), [0, 1, 2, -1, 0, 3, -2, -3, 0, 0, 4, 5, -4, 0, 6, -5, -6, 0]);
    const p = gaussian(2 * 28, 30);
    const q8 = skewSymmetric(tf.tensor2d(p, [2, 28]), 8);
    const ref = [skew64(p.slice(0, 28), 8), skew64(p.slice(28), 8)];
    assert.ok(maxAbsDiff(q8.dataSync(), [...ref[0].data, ...ref[1].data]) === 0);
    tf.dispose([q, q8]);
  });

  it('cayleyNeumann = PEFT\'s sum in float64 for t = 1…7 (t = 3 gives t = 4\'s matrix, t = 2 gives I + 2Q)', () => {
    const b = 6;
    const p = gaussian(15, 31).map((x) => 0.2 * x);
    const q = skewSymmetric(tf.tensor2d(p, [1, 15]), b);
    for (let t = 1; t <= 7; t++) {
      const r = cayleyNeumann(q, t);
      const ref = neumann64(skew64(p, b), t);
      assert.ok(maxAbsDiff(r.dataSync(), ref.data) < 1e-6, `t = ${t}`);
      r.dispose();
    }
    const [r3, r4, r2] = [cayleyNeumann(q, 3), cayleyNeumann(q, 4), cayleyNeumann(q, 2)];
    assert.ok(maxAbsDiff(r3.dataSync(), r4.dataSync()) < 1e-7);
    assert.ok(maxAbsDiff(r2.dataSync(), add64(eye64(b), skew64(p, b), 2).data) < 1e-7);
    tf.dispose([q, r3, r4, r2]);
  });

  it('the truncation defect has the closed form RᵀR = (I − Q^{t−1})ᵀ(I − Q^{t−1}) (t ≥ 4), ≈ 2‖Q‖⁴ at t = 5', () => {
    const b = 8;
    for (const [scale, t] of [[0.05, 5], [0.15, 5], [0.1, 6], [0.2, 4]] as const) {
      const p = gaussian(28, 32).map((x) => scale * x);
      const q64 = skew64(p, b);
      const r = oftRotation(tf.tensor2d(p, [1, 28]), b, t);
      const rm = matrix64(b, b, r.dataSync());
      const rtr = matmul64(transpose64(rm), rm);
      const e = add64(eye64(b), power64(q64, t - 1), -1);
      const closed = matmul64(transpose64(e), e);
      assert.ok(maxAbsDiff(rtr.data, closed.data) < 1e-6, `scale ${scale}, t ${t}: ${maxAbsDiff(rtr.data, closed.data)}`);
      // The singular values of R are |1 − θ^{t−1}|-type: the defect is not zero, and grows as ‖Q‖^{t−1}.
      const defect = maxAbsDiff(rtr.data, eye64(b).data);
      const theta = singularValues64(q64)[0];
      if (t === 5) assert.ok(defect <= 2 * theta ** 4 + 1e-6 && defect > 0.5 * theta ** 4, `defect ${defect} vs 2θ⁴ ${2 * theta ** 4}`);
      r.dispose();
    }
  });

  it('oftKernel = diag(R_k)·K vs float64, keeps singular values to 1e-5 for small Q, and oftRotate(x)·K = x·oftKernel(K)', () => {
    const [d, n, b] = [24, 7, 6];
    const blocks = d / b;
    const p = gaussian(blocks * 15, 33).map((x) => 0.01 * x);
    const packed = tf.tensor2d(p, [blocks, 15]);
    const k = kernel(d, n, 34);
    const out = oftKernel(k, packed, { blockSize: b });
    const rs = [0, 1, 2, 3].map((i) => neumann64(skew64(p.slice(i * 15, (i + 1) * 15), b), 5));
    const ref = matmul64(blockDiag64(rs), m64(k));
    assert.ok(maxAbsDiff(out.dataSync(), ref.data) < 1e-6);
    const s0 = singularValues64(m64(k));
    assert.ok(maxAbsDiff(singularValues64(m64(out)), s0) < 1e-5 * s0[0]);
    const x = tf.tensor2d(gaussian(5 * d, 35), [5, d]);
    const viaX = tf.matMul(oftRotate(x, packed, { blockSize: b }), k);
    assert.ok(maxAbsDiff(viaX.dataSync(), matmul64(m64(x), ref).data) < 1e-5);
    // `blocks` names the same layout.
    const same = oftKernel(k, packed, { blocks: 4 });
    assert.deepEqual(same.dataSync(), out.dataSync());
    tf.dispose([packed, k, out, x, viaX, same]);
  });

  it('zero parameters give R = I exactly: the adapted kernel and rotated activations are bit-identical', () => {
    const [d, n] = [32, 5];
    const k = kernel(d, n, 36);
    const packed = tf.tensor2d(oftInitialParameters(4, 8, 'zeros', 0), [4, 28]);
    assert.deepEqual(oftKernel(k, packed, { blockSize: 8 }).dataSync(), k.dataSync());
    const x = tf.tensor2d(gaussian(3 * d, 37), [3, d]);
    assert.deepEqual(oftRotate(x, packed, { blockSize: 8 }).dataSync(), x.dataSync());
    const shared = tf.zeros([1, 28]) as tf.Tensor2D;
    assert.deepEqual(oftKernel(k, shared, { blockSize: 8, blockShare: true }).dataSync(), k.dataSync());
    const rnd = oftInitialParameters(4, 8, 'random', 1);
    assert.equal(rnd.length, 4 * 28);
    const std = Math.sqrt(rnd.reduce((s, v) => s + v * v, 0) / rnd.length);
    assert.ok(std > 0.07 && std < 0.13, `std ${std}`);
    tf.dispose([k, packed, x, shared]);
  });

  it('blockShare: one block for all, = diag(R, …, R)·K; block structure outside the blocks is zero', () => {
    const [d, n, b] = [12, 3, 4];
    const p = gaussian(6, 38).map((x) => 0.3 * x);
    const k = kernel(d, n, 39);
    const out = oftKernel(k, tf.tensor2d(p, [1, 6]), { blockSize: b, blockShare: true });
    const r = neumann64(skew64(p, b), 5);
    const full = blockDiag64([r, r, r]);
    assert.ok(maxAbsDiff(out.dataSync(), matmul64(full, m64(k)).data) < 1e-6);
    // The explicit d × d matrix (the adapted identity) is block-diagonal.
    const eyeK = oftKernel(tf.eye(d), tf.tensor2d(p, [1, 6]), { blockSize: b, blockShare: true }).dataSync();
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) if (Math.floor(i / b) !== Math.floor(j / b)) assert.equal(eyeK[i * d + j], 0);
    const x = tf.tensor2d(gaussian(2 * d, 40), [2, d]);
    const viaX = oftRotate(x, tf.tensor2d(p, [1, 6]), { blockSize: b, blockShare: true });
    assert.ok(maxAbsDiff(viaX.dataSync(), matmul64(m64(x), full).data) < 1e-6);
    tf.dispose([k, out, x, viaX]);
  });

  it('a conv kernel is rotated on its flattened rows and keeps its shape', () => {
    const k = tf.tensor4d(gaussian(2 * 2 * 4 * 3, 41), [2, 2, 4, 3]);
    const p = gaussian(2 * 28, 42).map((x) => 0.1 * x);
    const out = oftKernel(k, tf.tensor2d(p, [2, 28]), { blockSize: 8 });
    assert.deepEqual(out.shape, [2, 2, 4, 3]);
    const rs = [neumann64(skew64(p.slice(0, 28), 8), 5), neumann64(skew64(p.slice(28), 8), 5)];
    assert.ok(maxAbsDiff(out.dataSync(), matmul64(blockDiag64(rs), matrix64(16, 3, k.dataSync())).data) < 1e-6);
    tf.dispose([k, out]);
  });

  it('the paper\'s parameter count blocks·b(b−1)/2 (b(b−1)/2 shared); default block size 32', () => {
    assert.equal(oftParameterCount(784, { blockSize: 16 }), 49 * 120);
    assert.equal(oftParameterCount(784, { blocks: 49 }), 5880);
    assert.equal(oftParameterCount(784, { blockSize: 16, blockShare: true }), 120);
    assert.equal(oftParameterCount(128), 4 * 496);
    assert.deepEqual(oftBlocks(128, resolveOft()), { blocks: 4, blockSize: 32 });
  });

  it('gradient steps on the packed parameters lower a fitting loss (through the gather and the Neumann sum)', () => {
    const [d, n, b] = [16, 6, 4];
    const k = kernel(d, n, 43);
    const target = tf.tidy(() => oftKernel(k, tf.tensor2d(gaussian(4 * 6, 44).map((x) => 0.3 * x), [4, 6]), { blockSize: b }));
    const x = tf.tensor2d(gaussian(32 * d, 45), [32, d]);
    const y = tf.matMul(x, target);
    const q = tf.variable(tf.zeros([4, 6]));
    const loss = () => tf.mean(tf.square(tf.sub(tf.matMul(x, oftKernel(k, q as unknown as tf.Tensor2D, { blockSize: b })), y))) as tf.Scalar;
    const first = tf.tidy(() => loss().dataSync()[0]);
    for (let step = 0; step < 40; step++) {
      tf.tidy(() => {
        const { grads } = tf.variableGrads(loss, [q]);
        q.assign(tf.sub(q, tf.mul(0.5, grads[q.name])));
      });
    }
    const last = tf.tidy(() => loss().dataSync()[0]);
    assert.ok(last < 0.2 * first, `loss ${first} → ${last}`);
    tf.dispose([k, target, x, y, q]);
  });

  it('bad block sizes and shapes are named errors (with the nearest valid size), before any tensor is made', () => {
    const k = kernel(784, 2, 46);
    const before = tf.memory().numTensors;
    const q = tf.zeros([24, 496]) as tf.Tensor2D;
    assert.throws(() => oftKernel(k, q), { name: 'RangeError', message: /oftKernel: blockSize must divide the input dimension 784, got 32 \(nearest: 28\)/ });
    assert.throws(() => oftKernel(k, q, { blocks: 50 }), { name: 'RangeError', message: /blocks must divide the input dimension 784, got 50 \(nearest: 49\)/ });
    assert.throws(() => oftKernel(k, q, { blocks: 4, blockSize: 16 }), { name: 'RangeError', message: /blocks 4 × blockSize 16 = 64 must equal the input dimension 784/ });
    assert.throws(() => oftKernel(k, q, { blockSize: 1 }), { name: 'RangeError', message: /oftKernel: blockSize must be an integer in \[2, inf\)/ });
    assert.throws(() => oftKernel(k, q, { blockSize: 16 }), { name: 'RangeError', message: /must be \[49, 120\] \(49 blocks of b = 16\), got shape \[24, 496\]/ });
    assert.throws(() => oftKernel(k, q, { blockSize: 16, neumannTerms: 0 }), { name: 'RangeError', message: /neumannTerms must be an integer in \[1, inf\)/ });
    assert.throws(() => oftKernel(k, q, { block: 16 } as never), { name: 'RangeError', message: /unknown option 'block'/ });
    assert.throws(() => oftKernel(k, q, { blocks: 784 }), { name: 'RangeError', message: /blocks of size 1/ });
    assert.throws(() => skewSymmetric(q, 16), { name: 'RangeError', message: /packed must be \[blocks, 120\]/ });
    assert.throws(() => cayleyNeumann(tf.zeros([2, 3, 4]) as tf.Tensor3D), { name: 'RangeError', message: /q must be \[blocks, b, b\]/ });
    assert.throws(() => oftInitialParameters(2, 4, 'ones' as never, 0), { name: 'RangeError', message: /init must be one of 'zeros', 'random'/ });
    assert.equal(tf.memory().numTensors, before + 2, 'only the two arguments made here');
    tf.dispose([k, q]);
  });

  it('no leaks', () => {
    const k = kernel(16, 3, 47);
    const x = tf.tensor2d(gaussian(2 * 16, 48), [2, 16]);
    const q = tf.tensor2d(gaussian(4 * 6, 49), [4, 6]);
    const q1 = tf.tensor2d(gaussian(6, 50), [1, 6]);
    const before = tf.memory().numTensors;
    oftKernel(k, q, { blockSize: 4 }).dispose();
    oftRotate(x, q, { blockSize: 4 }).dispose();
    oftKernel(k, q1, { blockSize: 4, blockShare: true }).dispose();
    oftRotate(x, q1, { blockSize: 4, blockShare: true }).dispose();
    oftRotation(q, 4).dispose();
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([k, x, q, q1]);
  });

  it('the module imports tfjs-core only (tfjs-layers stays optional for the main entry)', () => {
    const src = fs.readFileSync(new URL('../../src/nn/adapters.ts', import.meta.url), 'utf8');
    const imports = [...src.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    assert.ok(imports.includes('@tensorflow/tfjs-core'));
    assert.ok(imports.every((m) => m === '@tensorflow/tfjs-core' || m.startsWith('../core/')), imports.join(', '));
  });
});

describe('on the wasm backend', () => {
  it('hraKernel, oftKernel and the zero init agree with the float64 references as on cpu', async () => {
    await useBackend('wasm');
    try {
      const [d, n, r, b] = [24, 6, 6, 8];
      const k = kernel(d, n, 90);
      const u = tf.tensor2d(gaussian(d * r, 91), [d, r]);
      const h = hraKernel(k, u);
      assert.ok(maxAbsDiff(h.dataSync(), hraKernel64(m64(k), m64(u)).data) < 4e-6);
      const p = gaussian(3 * 28, 92).map((x) => 0.1 * x);
      const o = oftKernel(k, tf.tensor2d(p, [3, 28]), { blockSize: b });
      const rs = [0, 1, 2].map((i) => neumann64(skew64(p.slice(i * 28, (i + 1) * 28), b), 5));
      assert.ok(maxAbsDiff(o.dataSync(), matmul64(blockDiag64(rs), m64(k)).data) < 4e-6);
      const z = oftKernel(k, tf.zeros([3, 28]) as tf.Tensor2D, { blockSize: b });
      assert.deepEqual(z.dataSync(), k.dataSync());
      tf.dispose([k, u, h, o, z]);
    } finally {
      await useBackend('cpu');
    }
  });
});

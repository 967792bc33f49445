/**
 * Gradient surgery (src/transforms/surgery.ts) against float64 references written here from
 * apple/ml-bloop `optim.py`/`utils.py` and the spec's properties (seed-methods.md A3): the golden vector
 * g = [1, 0], a = [1, 1] ⇒ d ≈ [1, 0.1]; ⟨d − g, e⟩ = λ·c·eps ≈ 0 over several tensors (global dots); the
 * degenerate cases (λ = 0, a ∥ e, ρ = 1, ρ = 0, a zero EMA); the EMA extremes of tests/test_bilevel.py;
 * the dynamic barrier, ratio-only, PCGrad-with-EMAs and mixed forms; GradientEma's init, commit, shape
 * checks; no leaks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import {
  GradientEma,
  bloopDirection,
  globalDot,
  mixedDirection,
  pcgradDirection,
  projectOut,
  updateEma,
} from '../../src/transforms/surgery.js';

await useBackend('cpu');

const SHAPES = [[4, 3], [3], [2, 2, 2]];
type F64 = Float64Array[];

function draw(seed: number, scale = 1): F64 {
  return SHAPES.map((s, k) => Float64Array.from(gaussian(s.reduce((a, b) => a * b, 1), seed + 31 * k), (x) => scale * x));
}
const tensors = (xs: F64): tf.Tensor[] => xs.map((x, k) => tf.tensor(Float32Array.from(x), SHAPES[k]));
const read = (ts: readonly tf.Tensor[]): F64 => ts.map((t) => Float64Array.from(t.dataSync()));
const f32 = (xs: F64): F64 => xs.map((x) => Float64Array.from(x, (v) => Math.fround(v)));
const dot = (x: F64, y: F64): number => x.reduce((s, a, k) => s + a.reduce((t, v, i) => t + v * y[k][i], 0), 0);
const axpy = (alpha: number, x: F64, y: F64): F64 => x.map((a, k) => a.map((v, i) => alpha * v + y[k][i]));
const scale = (alpha: number, x: F64): F64 => x.map((a) => a.map((v) => alpha * v));

/** max|got − want| / max|want| over all tensors. */
function deviation(got: F64, want: F64): number {
  let d = 0;
  let m = 0;
  got.forEach((g, k) => g.forEach((v, i) => {
    d = Math.max(d, Math.abs(v - want[k][i]));
    m = Math.max(m, Math.abs(want[k][i]));
  }));
  return d / m;
}

/** apple/ml-bloop's direction in float64: c = ⟨e, a⟩/(‖e‖² + eps) (capped), d = g + λ(a − c e) or the ratio-only form. */
function bloop64(g: F64, a: F64, e: F64, lambda: number, eps: number, cap?: number, ratioOnly = false): { d: F64; c: number } {
  let c = dot(e, a) / (dot(e, e) + eps);
  if (cap !== undefined) c = Math.min(c, cap);
  const d = ratioOnly ? axpy(lambda, a, scale(1 - lambda * c, g)) : axpy(1, g, scale(lambda, axpy(-c, e, a)));
  return { d, c };
}

function run<T>(f: () => T): T {
  const before = tf.memory().numTensors;
  const out = f();
  assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
  return out;
}

describe('surgery: Bloop direction (spec A3)', () => {
  it('3. the golden vector: g = [1, 0], a = [1, 1], e = g (init grad), λ = 0.1 ⇒ d = [1 + 0.1·(1 − 1/(1 + 1e-7)), 0.1]', () => {
    const [g, a] = [tf.tensor1d([1, 0]), tf.tensor1d([1, 1])];
    const { direction, ratio } = bloopDirection([g], [a], [g], { lambda: 0.1, eps: 1e-7 });
    const d = direction[0].dataSync();
    assert.ok(Math.abs(d[0] - 1) <= 1e-7 && Math.abs(d[1] - 0.1) <= 1e-8, `d = ${d[0]}, ${d[1]}`);
    assert.ok(Math.abs(ratio.dataSync()[0] - 1 / (1 + 1e-7)) <= 1e-7, 'c');
    tf.dispose([g, a, ...direction, ratio]);
  });

  it('1. orthogonality over several tensors: ⟨d − g, e⟩ = λ·c·eps ≈ 0, and d equals the float64 reference', () => {
    for (let seed = 1; seed <= 8; seed++) {
      const [g, a, e] = [f32(draw(seed)), f32(draw(100 + seed, 3)), f32(draw(200 + seed))];
      const lambda = 0.05 * seed;
      const { d, c } = bloop64(g, a, e, lambda, 1e-7);
      const [tg, ta, te] = [tensors(g), tensors(a), tensors(e)];
      const out = bloopDirection(tg, ta, te, { lambda, eps: 1e-7 });
      const got = read(out.direction);
      assert.ok(deviation(got, d) <= 1e-6, `seed ${seed}: ${deviation(got, d)}`);
      assert.ok(Math.abs(out.ratio.dataSync()[0] - c) <= 1e-6 * Math.abs(c), `seed ${seed}: c`);
      // The defining property, on the float32 output: relative to the size of the aux term's projection.
      const inner = dot(axpy(-1, g, got), e);
      assert.ok(Math.abs(inner) <= 1e-5 * lambda * Math.abs(dot(a, e)) + 1e-6, `seed ${seed}: ⟨d − g, e⟩ = ${inner}`);
      // And in float64 it is exactly λ·c·eps.
      assert.ok(Math.abs(dot(axpy(-1, g, d), e) - lambda * c * 1e-7) <= 1e-12, `seed ${seed}: float64`);
      tf.dispose([...tg, ...ta, ...te, ...out.direction, out.ratio]);
    }
  });

  it('2. degenerate cases: λ = 0 ⇒ d = g; a ∥ e ⇒ d = g; e = 0 ⇒ d = g + λa (finite, c = 0); no leaks', () => {
    const [g, a, e] = [tensors(draw(1)), tensors(draw(2)), tensors(draw(3))];
    run(() => {
      const z = bloopDirection(g, a, e, { lambda: 0, eps: 1e-7 });
      assert.deepEqual(read(z.direction), read(g));
      tf.dispose([...z.direction, z.ratio]);
    });
    const parallel = tf.tidy(() => e.map((t) => tf.mul(t, -2.5)));
    const p = bloopDirection(g, parallel, e, { lambda: 0.7, eps: 1e-7 });
    assert.ok(deviation(read(p.direction), read(g)) <= 1e-6, `a ∥ e: ${deviation(read(p.direction), read(g))}`);
    assert.ok(Math.abs(p.ratio.dataSync()[0] + 2.5) <= 1e-5, 'c = −2.5');
    const zero = tf.tidy(() => e.map((t) => tf.zerosLike(t)));
    for (const epsMode of ['add', 'max'] as const) {
      const q = bloopDirection(g, a, zero, { lambda: 0.3, eps: 1e-10, epsMode });
      assert.equal(q.ratio.dataSync()[0], 0, epsMode);
      assert.ok(deviation(read(q.direction), axpy(0.3, read(a), read(g))) <= 1e-7, epsMode);
      tf.dispose([...q.direction, q.ratio]);
    }
    tf.dispose([...g, ...a, ...e, ...parallel, ...zero, ...p.direction, p.ratio]);
  });

  it("epsMode 'max' (ODICE) divides by max(‖e‖², eps), 'add' by ‖e‖² + eps", () => {
    const [e, a] = [tf.tensor1d([1e-3, 0]), tf.tensor1d([1e-3, 1])];
    // ‖e‖² = 1e-6: 'max' with eps 1e-10 gives c = 1e-6/1e-6 = 1; 'add' with eps 1e-6 gives 1/2.
    const m = projectOut([e], [a], { eps: 1e-10, epsMode: 'max' });
    const s = projectOut([e], [a], { eps: 1e-6, epsMode: 'add' });
    assert.ok(Math.abs(m.ratio.dataSync()[0] - 1) <= 1e-6, `max: ${m.ratio.dataSync()[0]}`);
    assert.ok(Math.abs(s.ratio.dataSync()[0] - 0.5) <= 1e-6, `add: ${s.ratio.dataSync()[0]}`);
    tf.dispose([e, a, ...m.projected, m.ratio, ...s.projected, s.ratio]);
  });

  it('dynamic barrier: c is capped at 1/λ; ratio only: d = (1 − λc)·g + λa; rescale: × 1/(1 + λ)', () => {
    const [g, e] = [f32(draw(11)), f32(draw(12))];
    const a = f32(axpy(20, e, scale(0.1, draw(13)))); // c ≈ 20 > 1/λ = 10
    const [tg, ta, te] = [tensors(g), tensors(a), tensors(e)];
    const capped = bloopDirection(tg, ta, te, { lambda: 0.1, eps: 1e-7, ratioUpperBound: 10 });
    const want = bloop64(g, a, e, 0.1, 1e-7, 10);
    assert.equal(want.c, 10);
    assert.equal(capped.ratio.dataSync()[0], 10);
    assert.ok(deviation(read(capped.direction), want.d) <= 1e-6, 'capped');
    const ratioOnly = bloopDirection(tg, ta, te, { lambda: 0.1, eps: 1e-7, ratioOnly: true });
    assert.ok(deviation(read(ratioOnly.direction), bloop64(g, a, e, 0.1, 1e-7, undefined, true).d) <= 1e-6, 'ratio only');
    const rescaled = bloopDirection(tg, ta, te, { lambda: 0.25, eps: 1e-7, rescale: true });
    assert.ok(deviation(read(rescaled.direction), scale(1 / 1.25, bloop64(g, a, e, 0.25, 1e-7).d)) <= 1e-6, 'rescale');
    const mixed = mixedDirection(tg, ta, { lambda: 0.25, rescale: true });
    assert.ok(deviation(read(mixed), scale(1 / 1.25, axpy(0.25, a, g))) <= 1e-6, 'mixed');
    tf.dispose([...tg, ...ta, ...te, ...capped.direction, capped.ratio, ...ratioOnly.direction, ratioOnly.ratio, ...rescaled.direction, rescaled.ratio, ...mixed]);
  });

  it('PCGrad with EMAs: each gradient loses its conflicting component against the other EMA (ratios clipped at ≤ 0)', () => {
    for (const sign of [1, -1]) {
      const [g, eMain] = [f32(draw(21)), f32(draw(22))];
      const eAux = f32(axpy(-sign * 2, g, draw(23))); // conflicts with g for sign = 1
      const a = f32(axpy(-sign * 3, eMain, draw(24)));
      const cA = Math.min(dot(eMain, a) / (dot(eMain, eMain) + 1e-7), 0);
      const cG = Math.min(dot(eAux, g) / (dot(eAux, eAux) + 1e-7), 0);
      const want = axpy(0.4, axpy(-cA, eMain, a), axpy(-cG, eAux, g));
      if (sign === 1) assert.ok(cA < 0 && cG < 0, 'both conflict');
      else assert.ok(cA === 0 && cG === 0, 'neither conflicts: d = g + λa');
      const [tg, ta, tm, tx] = [tensors(g), tensors(a), tensors(eMain), tensors(eAux)];
      const out = pcgradDirection(tg, ta, tm, tx, { lambda: 0.4, eps: 1e-7 });
      assert.ok(deviation(read(out.direction), want) <= 1e-6, `sign ${sign}`);
      assert.ok(Math.abs(out.ratio.dataSync()[0] - cA) <= 1e-6 * Math.max(1, Math.abs(cA)), `sign ${sign}: c`);
      tf.dispose([...tg, ...ta, ...tm, ...tx, ...out.direction, out.ratio]);
    }
  });

  it('5. first-order safety: with e = g (ρ = 1), ⟨g, d⟩ = ‖g‖² + λ·c·eps — the main loss moves as along g', () => {
    const [g, a] = [f32(draw(31)), f32(draw(32, 5))];
    const { d, c } = bloop64(g, a, g, 0.5, 1e-7);
    assert.ok(Math.abs(dot(g, d) - dot(g, g) - 0.5 * c * 1e-7) <= 1e-10, 'float64 ⟨g, d⟩');
    const [tg, ta] = [tensors(g), tensors(a)];
    const out = bloopDirection(tg, ta, tg, { lambda: 0.5, eps: 1e-7 });
    const gd = dot(g, read(out.direction));
    assert.ok(Math.abs(gd - dot(g, g)) <= 1e-5 * dot(g, g), `⟨g, d⟩ = ${gd}, ‖g‖² = ${dot(g, g)}`);
    tf.dispose([...tg, ...ta, ...out.direction, out.ratio]);
  });

  it('globalDot sums over every tensor (two-level per matrix) and refuses lists of different lengths', () => {
    const [x, y] = [f32(draw(41)), f32(draw(42))];
    const [tx, ty] = [tensors(x), tensors(y)];
    const s = run(() => {
      const t = globalDot(tx, ty);
      const v = t.dataSync()[0];
      t.dispose();
      return v;
    });
    assert.ok(Math.abs(s - dot(x, y)) <= 1e-6 * Math.abs(dot(x, y)) + 1e-6, `${s} vs ${dot(x, y)}`);
    assert.throws(() => globalDot(tx, ty.slice(1)), /globalDot: 3 tensors against 2/);
    tf.dispose([...tx, ...ty]);
  });
});

describe('surgery: the EMA', () => {
  it('4. extremes as tests/test_bilevel.py: ρ = 1 returns the new gradient, ρ = 0 keeps the old EMA (exactly)', () => {
    const [g, e] = [tensors(draw(51)), tensors(draw(52))];
    const one = updateEma(e, g, 1);
    const zero = updateEma(e, g, 0);
    assert.deepEqual(read(one), read(g));
    assert.deepEqual(read(zero), read(e));
    const mid = updateEma(e, g, 0.1);
    assert.ok(deviation(read(mid), axpy(0.1, axpy(-1, read(e), read(g)), read(e))) <= 1e-6, 'e + 0.1(g − e)');
    tf.dispose([...g, ...e, ...one, ...zero, ...mid]);
  });

  it("GradientEma: init 'grad' starts at g, 'zeros' at 0 (first EMA ρg); next() writes nothing until commit(); a float64 EMA over 4 steps", () => {
    for (const init of ['grad', 'zeros'] as const) {
      const ema = new GradientEma('test', init);
      let want: F64 | null = null;
      for (let step = 0; step < 4; step++) {
        const g = f32(draw(60 + step));
        const tg = tensors(g);
        const prev: F64 = want ?? (init === 'grad' ? g : scale(0, g));
        want = axpy(0.3, axpy(-1, prev, g), prev);
        const next = ema.next(tg, 0.3);
        assert.ok(deviation(read(next), want) <= 1e-6, `${init}, step ${step}`);
        if (step === 0) {
          assert.equal(ema.variables, null, 'next() alone keeps no state');
          const again = ema.next(tg, 0.3);
          assert.deepEqual(read(again), read(next));
          tf.dispose(again);
        }
        ema.commit(next);
        tf.dispose([...tg, ...next]);
        assert.ok(deviation(read(ema.variables!), want) <= 1e-6, `${init}, committed ${step}`);
        assert.ok(ema.variables!.every((v) => !v.trainable), 'the EMA is not trainable (variableGrads must not see it)');
      }
      const n = tf.memory().numTensors;
      const g = tensors(draw(70));
      const next = ema.next(g, 0.3);
      ema.commit(next);
      tf.dispose([...g, ...next]);
      assert.equal(tf.memory().numTensors, n, `${init}: a step leaves nothing behind`);
      const wrong = [tf.zeros([3, 4]), tf.zeros([3]), tf.zeros([2, 2, 2])];
      const before = read(ema.variables!);
      assert.throws(() => ema.next(wrong, 0.3), /test: gradient 0 has shape \[3, 4\], the EMA \[4, 3\]/);
      assert.throws(() => ema.next(wrong.slice(1), 0.3), /test: the EMA holds 3 tensors, the step brings 2/);
      assert.deepEqual(read(ema.variables!), before);
      tf.dispose(wrong);
      ema.dispose();
      assert.equal(ema.variables, null);
    }
  });
});

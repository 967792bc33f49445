/**
 * bloop / odice for custom loops (src/tfjs/bloop.ts): three SGD steps against a float64 Bloop loop on
 * two quadratics (EMA carried across steps, init 'grad' and 'zeros', every variant), ODICE against the
 * reference's `(1 − c)·g_f + η·g_b` with the unprojected term, the direction feeding Adam and Muon exactly
 * as `applyGradients` of it would, the state through getWeights/setWeights (a resumed run equals the
 * uninterrupted one), no leaks, and the refusals (options, non-scalar loss, different variables, an
 * optimizer that throws) with nothing written.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { maxDifference } from '../support/models.js';
import { adam, muon, sgd } from '../../src/tfjs/register.js';
import { bloop, odice, type BloopOptions } from '../../src/tfjs/bloop.js';
import { NonScalarLossError, ObjectiveVariablesMismatchError } from '../../src/tfjs/jacobianDescent.js';

await useBackend('cpu');

let uid = 0;
const SHAPES = [[3, 4], [4]];
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

function variables(seed: number, shapes = SHAPES): tf.Variable[] {
  return shapes.map((s, i) => tf.variable(tf.tensor(gaussian(size(s), seed + i), s), true, `bloop${uid++}/w${i}`));
}
const values = (vs: readonly tf.Variable[]): Float64Array => Float64Array.from(vs.flatMap((v) => Array.from(v.dataSync())));

/** ½·Σ w·(θ − c)² (diagonal weights w): gradient w·(θ − c). */
function quadratic(vars: tf.Variable[], c: Float32Array, w: Float32Array): () => tf.Scalar {
  return () =>
    tf.tidy(() => {
      let off = 0;
      const terms = vars.map((v) => {
        const n = v.size;
        const ci = tf.tensor(c.subarray(off, off + n), v.shape);
        const wi = tf.tensor(w.subarray(off, off + n), v.shape);
        off += n;
        return tf.sum(tf.mul(wi, tf.square(tf.sub(v, ci))));
      });
      return tf.mul(tf.addN(terms), 0.5) as tf.Scalar;
    });
}

const D = SHAPES.reduce((a, s) => a + size(s), 0);
const C_MAIN = gaussian(D, 1);
const W_MAIN = gaussian(D, 2).map((x) => 0.5 + Math.abs(x));
const C_AUX = gaussian(D, 3).map((x) => -2 * x);
const W_AUX = gaussian(D, 4).map((x) => 0.5 + Math.abs(x));
const grad = (theta: Float64Array, c: Float32Array, w: Float32Array) => theta.map((x, i) => w[i] * (x - c[i]));
const dot = (x: ArrayLike<number>, y: ArrayLike<number>) => Array.from(x).reduce((s, v, i) => s + v * y[i], 0);

/** The reference loop in float64 (apple/ml-bloop optim.py): returns θ after `steps` SGD steps. */
function reference(
  theta0: Float64Array,
  o: Required<Pick<BloopOptions, 'ema' | 'lambda' | 'init' | 'variant' | 'ratioOnly'>>,
  lr: number,
  steps: number,
  cAux = C_AUX,
): Float64Array {
  let theta = Float64Array.from(theta0);
  let e: Float64Array | null = null;
  let ea: Float64Array | null = null;
  const eps = 1e-7;
  const lam = o.lambda;
  for (let s = 0; s < steps; s++) {
    const g = grad(theta, C_MAIN, W_MAIN);
    const a = grad(theta, cAux, W_AUX);
    const prev: Float64Array = e ?? (o.init === 'grad' ? g : new Float64Array(D));
    const eNow = prev.map((x, i) => x + o.ema * (g[i] - x));
    e = eNow;
    let d: Float64Array;
    if (o.variant === 'mixed') d = g.map((x, i) => x + lam * a[i]);
    else if (o.variant === 'pcgrad') {
      const prevA: Float64Array = ea ?? (o.init === 'grad' ? g : new Float64Array(D)); // the reference starts the aux EMA from g
      const eaNow = prevA.map((x, i) => x + o.ema * (a[i] - x));
      ea = eaNow;
      const cA = Math.min(dot(eNow, a) / (dot(eNow, eNow) + eps), 0);
      const cG = Math.min(dot(eaNow, g) / (dot(eaNow, eaNow) + eps), 0);
      d = g.map((x, i) => x - cG * eaNow[i] + lam * (a[i] - cA * eNow[i]));
    } else {
      let c = dot(eNow, a) / (dot(eNow, eNow) + eps);
      if (o.variant === 'dynamicBarrier') c = Math.min(c, 1 / lam);
      d = o.ratioOnly ? g.map((x, i) => (1 - lam * c) * x + lam * a[i]) : g.map((x, i) => x + lam * (a[i] - c * eNow[i]));
    }
    theta = theta.map((x, i) => x - lr * d[i]);
  }
  return theta;
}

describe('bloop', () => {
  it('3 SGD steps equal a float64 Bloop loop (EMA across steps) for every variant and both inits; nothing leaks', () => {
    const cases: Required<Pick<BloopOptions, 'ema' | 'lambda' | 'init' | 'variant' | 'ratioOnly'>>[] = [
      { ema: 0.1, lambda: 0.1, init: 'grad', variant: 'bloop', ratioOnly: false },
      { ema: 0.3, lambda: 0.5, init: 'zeros', variant: 'bloop', ratioOnly: false },
      { ema: 0.3, lambda: 0.5, init: 'grad', variant: 'bloop', ratioOnly: true },
      { ema: 0.2, lambda: 2, init: 'grad', variant: 'dynamicBarrier', ratioOnly: false },
      { ema: 0.2, lambda: 0.5, init: 'grad', variant: 'pcgrad', ratioOnly: false },
      { ema: 0.2, lambda: 0.5, init: 'zeros', variant: 'pcgrad', ratioOnly: false },
      { ema: 0.2, lambda: 0.5, init: 'grad', variant: 'mixed', ratioOnly: false },
    ];
    for (const [index, o] of cases.entries()) {
      const vars = variables(10);
      const theta0 = values(vars);
      // Every other case (and PCGrad's) with an auxiliary target mirrored through θ₀: its gradient conflicts with the main one
      // (⟨g, a⟩ = −Σ w_main·w_aux·(θ₀ − c)² < 0), so PCGrad's clipped projections are active.
      const cAux = index % 2 === 1 && o.variant !== 'pcgrad' ? C_AUX : Float32Array.from(theta0, (x, i) => 2 * x - C_MAIN[i]);
      const s = bloop(o);
      const opt = sgd({ learningRate: 0.1 });
      const objectives = { main: quadratic(vars, C_MAIN, W_MAIN), aux: quadratic(vars, cAux, W_AUX) };
      s.step(objectives, opt, { varList: vars });
      const n = tf.memory().numTensors;
      for (let k = 1; k < 3; k++) s.step(objectives, opt, { varList: vars });
      assert.equal(tf.memory().numTensors, n, `${JSON.stringify(o)}: leak`);
      const want = reference(theta0, o, 0.1, 3, cAux);
      const dev = maxDifference([values(vars)], [want]);
      assert.ok(dev <= 2e-6, `${JSON.stringify(o)}: ${dev}`);
      assert.equal(s.iterations, 3);
      // The variants differ from one another (the test would see a wrong branch).
      const otherVariant = o.variant === 'mixed' ? 'bloop' : 'mixed';
      const apart = maxDifference([want], [reference(theta0, { ...o, variant: otherVariant }, 0.1, 3, cAux)]);
      assert.ok(apart > 1e-3, `${JSON.stringify(o)} vs ${otherVariant}: ${apart}`);
      s.dispose();
      tf.dispose(vars);
    }
  });

  it('step() reports the losses and c; direction() is the tensor form (⟨d − g, e⟩ ≈ 0 on the first step, e = g)', () => {
    const vars = variables(20);
    const theta = values(vars);
    const s = bloop({ lambda: 0.3 });
    const r = s.step({ main: quadratic(vars, C_MAIN, W_MAIN), aux: quadratic(vars, C_AUX, W_AUX) }, sgd({ learningRate: 0 }), { varList: vars });
    const g = grad(theta, C_MAIN, W_MAIN);
    const a = grad(theta, C_AUX, W_AUX);
    assert.ok(Math.abs(r.ratio - dot(g, a) / (dot(g, g) + 1e-7)) <= 1e-5 * Math.abs(r.ratio), `c = ${r.ratio}`);
    assert.ok(Math.abs(r.losses.main - 0.5 * dot(g, g.map((x, i) => x / W_MAIN[i]))) <= 1e-4 * r.losses.main, 'main loss');
    assert.deepEqual(r.variables, vars.map((v) => v.name));
    const t = bloop({ lambda: 0.3 });
    const [tg, ta] = [[tf.tensor1d(Float32Array.from(g))], [tf.tensor1d(Float32Array.from(a))]];
    const { direction, ratio } = t.direction(tg, ta);
    const d = direction[0].dataSync();
    assert.ok(Math.abs(dot(d.map((x, i) => x - g[i]), g)) <= 1e-5 * Math.abs(0.3 * dot(a, g)), `⟨d − g, e⟩ = ${dot(d.map((x, i) => x - g[i]), g)}`);
    assert.equal(t.iterations, 1);
    tf.dispose([...tg, ...ta, ...direction, ratio, ...vars]);
    s.dispose();
    t.dispose();
  });

  it('feeds any optimizer: Adam and Muon get exactly the direction (vs applyGradients of direction())', () => {
    for (const make of [() => adam({ learningRate: 0.01 }), () => muon({ learningRate: 0.02 })]) {
      const shapes = [[8, 6]];
      const a = variables(30, shapes);
      const b = a.map((v, i) => tf.variable(v.clone(), true, `${v.name}_twin${i}`));
      const c1 = gaussian(48, 5);
      const c2 = gaussian(48, 6);
      const w = new Float32Array(48).fill(1);
      const [sa, sb] = [bloop({ ema: 0.5 }), bloop({ ema: 0.5 })];
      const [oa, ob] = [make(), make()];
      for (let k = 0; k < 3; k++) {
        sa.step({ main: quadratic(a, c1, w), aux: quadratic(a, c2, w) }, oa, { varList: a });
        const gm = tf.variableGrads(quadratic(b, c1, w), b);
        const gx = tf.variableGrads(quadratic(b, c2, w), b);
        const { direction, ratio } = sb.direction([gm.grads[b[0].name]], [gx.grads[b[0].name]]);
        ob.applyGradients({ [b[0].name]: direction[0] }, { loss: gm.value });
        tf.dispose([gm.value, gx.value, ...Object.values(gm.grads), ...Object.values(gx.grads), ...direction, ratio]);
      }
      const dev = maxDifference([values(a)], [values(b)]);
      assert.ok(dev <= 1e-6, `${oa.getClassName()}: ${dev}`);
      assert.ok(maxDifference([values(a)], [values(variables(30, shapes))]) > 1e-3, 'moved');
      tf.dispose([...a, ...b]);
      sa.dispose();
      sb.dispose();
    }
  });

  it('the EMA goes through getWeights/setWeights: a resumed run equals the uninterrupted one (bloop and pcgrad)', () => {
    for (const variant of ['bloop', 'pcgrad'] as const) {
      const a = variables(40);
      const sa = bloop({ variant, ema: 0.3, lambda: 0.5 });
      const oa = sgd({ learningRate: 0.1 });
      const ob = sgd({ learningRate: 0.1 });
      const objA = { main: quadratic(a, C_MAIN, W_MAIN), aux: quadratic(a, C_AUX, W_AUX) };
      for (let k = 0; k < 2; k++) sa.step(objA, oa, { varList: a });
      // Resume on a copy of the parameters (plain SGD keeps no state of its own).
      const b = a.map((v, i) => tf.variable(v.clone(), true, `${v.name}_resume${i}`));
      const objB = { main: quadratic(b, C_MAIN, W_MAIN), aux: quadratic(b, C_AUX, W_AUX) };
      const saved = sa.getWeights();
      assert.deepEqual(saved.map((w) => w.name), ['bloop/iterations', 'bloop/emaMain/0', 'bloop/emaMain/1', ...(variant === 'pcgrad' ? ['bloop/emaAux/0', 'bloop/emaAux/1'] : [])]);
      const sb = bloop({ variant, ema: 0.3, lambda: 0.5 });
      sb.setWeights(saved);
      tf.dispose(saved.map((w) => w.tensor));
      assert.equal(sb.iterations, 2);
      for (let k = 0; k < 2; k++) {
        sa.step(objA, oa, { varList: a });
        sb.step(objB, ob, { varList: b });
      }
      assert.deepEqual(values(a), values(b));
      // A fresh surgery (EMA restarted) would differ: the state matters.
      const fresh = bloop({ variant, ema: 0.3, lambda: 0.5 });
      const c = a.map((v, i) => tf.variable(v.clone(), true, `${v.name}_fresh${i}`));
      const d = a.map((v, i) => tf.variable(v.clone(), true, `${v.name}_kept${i}`));
      fresh.step({ main: quadratic(c, C_MAIN, W_MAIN), aux: quadratic(c, C_AUX, W_AUX) }, sgd({ learningRate: 0.1 }), { varList: c });
      sa.step({ main: quadratic(d, C_MAIN, W_MAIN), aux: quadratic(d, C_AUX, W_AUX) }, sgd({ learningRate: 0.1 }), { varList: d });
      assert.ok(maxDifference([values(c)], [values(d)]) > 1e-4, `${variant}: the EMA changes the step`);
      tf.dispose([...a, ...b, ...c, ...d]);
      for (const s of [sa, sb, fresh]) s.dispose();
    }
  });

  it('refuses bad options, other state, non-scalar losses and different variables by name; an optimizer that throws leaves the EMA as it was', () => {
    assert.throws(() => bloop({ ema: 1.5 }), /bloop: ema must be in \[0, 1\], got 1.5/);
    assert.throws(() => bloop({ lambda: -1 }), /bloop: lambda must be in \[0, inf\), got -1/);
    assert.throws(() => bloop({ eps: 0 }), /bloop: eps must be in \(0, inf\), got 0/);
    assert.throws(() => bloop({ init: 'random' } as never), /bloop: init must be one of 'grad', 'zeros', got 'random'/);
    assert.throws(() => bloop({ variant: 'pcgrad', ratioOnly: true }), /ratioOnly applies to the bloop and dynamicBarrier variants/);
    assert.throws(() => bloop({ variant: 'dynamicBarrier', lambda: 0 }), /needs lambda > 0/);
    assert.throws(() => bloop({ lbda: 0.1 } as never), /bloop: unknown option 'lbda'/);
    assert.throws(() => odice({ eta: -1 }), /odice: eta must be in \[0, inf\), got -1/);

    const vars = variables(50);
    const other = variables(51, [[2, 2]]);
    const s = bloop();
    const opt = sgd({ learningRate: 0.1 });
    const obj = { main: quadratic(vars, C_MAIN, W_MAIN), aux: quadratic(vars, C_AUX, W_AUX) };
    s.step(obj, opt, { varList: vars });
    const snapshot = () => {
      const w = s.getWeights();
      const out = w.map((x) => Array.from(x.tensor.dataSync()));
      tf.dispose(w.map((x) => x.tensor));
      return out;
    };
    const state = snapshot();
    const theta = values(vars);
    const n = tf.memory().numTensors;
    const unchanged = (what: string) => {
      assert.deepEqual(snapshot(), state, `${what}: EMA unchanged`);
      assert.deepEqual(values(vars), theta, `${what}: variables unchanged`);
      assert.equal(s.iterations, 1, `${what}: no step counted`);
      assert.equal(tf.memory().numTensors, n, `${what}: nothing left behind`);
    };
    assert.throws(
      () => s.step({ main: obj.main, aux: () => tf.tidy(() => tf.sum(tf.square(vars[0]), 0)) }, opt, { varList: vars }),
      (e: unknown) => e instanceof NonScalarLossError && /bloop.step: loss 1 must return a scalar, got shape \[4\]/.test(e.message),
    );
    unchanged('non-scalar');
    assert.throws(
      () => s.step({ main: obj.main, aux: () => tf.tidy(() => tf.sum(tf.square(vars[1])) as tf.Scalar) }, opt, { varList: vars }),
      (e: unknown) => e instanceof ObjectiveVariablesMismatchError && e.missing[0] === vars[0].name,
    );
    unchanged('mismatch');
    const throwing = { applyGradients() { throw new Error('boom'); } } as unknown as tf.Optimizer;
    assert.throws(() => s.step(obj, throwing, { varList: vars }), /boom/);
    unchanged('optimizer threw');
    const o2 = { main: quadratic(other, C_MAIN, W_MAIN), aux: quadratic(other, C_AUX, W_AUX) };
    assert.throws(() => s.step(o2, opt, { varList: other }), /bloop: the EMA holds 2 tensors, the step brings 1/);
    unchanged('other variables');
    assert.throws(() => s.step({ main: obj.main } as never, opt), /objectives must be \{main, aux\} loss functions/);
    assert.throws(() => s.step(obj, opt, { varlist: vars } as never), /bloop.step: unknown option 'varlist'/);
    unchanged('bad arguments');

    const w = s.getWeights();
    const t = bloop({ variant: 'pcgrad' });
    assert.throws(() => t.setWeights(w), /pcgrad needs an auxiliary EMA per main EMA tensor, got 0 and 2/);
    assert.throws(() => odice().setWeights(w), /the first entry must be the scalar odice\/iterations, got 'bloop\/iterations'/);
    assert.throws(() => bloop().setWeights([w[0], w[2], w[1]]), /expected 'bloop\/emaMain\/0', got 'bloop\/emaMain\/1'/);
    tf.dispose(w.map((x) => x.tensor));
    tf.dispose([...vars, ...other]);
    s.dispose();
    t.dispose();
  });
});

describe('odice', () => {
  it("is Bloop with ρ = 1, λ = η, max(‖g‖², 1e-10): d = (1 − c)·g_f + η·g_b plus the unprojected gradient", () => {
    const vars = variables(60);
    const theta = values(vars);
    const eta = 0.7;
    const s = odice({ eta });
    assert.deepEqual(s.config, { ema: 1, lambda: eta, eps: 1e-10, epsMode: 'max', init: 'grad', variant: 'bloop', ratioOnly: false, rescale: false });
    const cV = gaussian(D, 9);
    const wV = new Float32Array(D).fill(0.2);
    const lr = 0.05;
    s.step({ main: quadratic(vars, C_MAIN, W_MAIN), aux: quadratic(vars, C_AUX, W_AUX), unprojected: quadratic(vars, cV, wV) }, sgd({ learningRate: lr }), { varList: vars });
    // The reference's form: g_b already carries η; c = ⟨g_f, g_b⟩ / max(‖g_f‖², 1e-10).
    const gf = grad(theta, C_MAIN, W_MAIN);
    const gb = grad(theta, C_AUX, W_AUX).map((x) => eta * x);
    const c = dot(gf, gb) / Math.max(dot(gf, gf), 1e-10);
    const gv = grad(theta, cV, wV);
    const want = theta.map((x, i) => x - lr * ((1 - c) * gf[i] + gb[i] + gv[i]));
    assert.ok(maxDifference([values(vars)], [want]) <= 1e-6, `${maxDifference([values(vars)], [want])}`);
    // A zero forward gradient: the max guard keeps it finite (c = 0, d = η·g_b).
    const atMain = variables(61);
    atMain.forEach((v, i) => v.assign(tf.tensor(C_MAIN.subarray(i === 0 ? 0 : 12, i === 0 ? 12 : 16), v.shape)));
    const r = odice({ eta }).step({ main: quadratic(atMain, C_MAIN, W_MAIN), aux: quadratic(atMain, C_AUX, W_AUX) }, sgd({ learningRate: lr }), { varList: atMain });
    assert.equal(r.ratio, 0);
    assert.ok(values(atMain).every(Number.isFinite), 'finite');
    tf.dispose([...vars, ...atMain]);
    s.dispose();
  });
});

/**
 * Orthogonal-SGDM (no golden file): the first update is −η·polar(G) (float64 Jacobi SVD), momentum is
 * applied after orthogonalization (second step −η(O₂ + μO₁)), Nesterov and L2 decay follow torch SGD,
 * vectors get plain SGD, option validation, and the optimizer contract.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { optimizerContract } from '../support/contract.js';
import { gaussian } from '../support/random.js';
import { orthogonalSgdm } from '../../src/tfjs/register.js';
import { matrix64, polar64 } from '../../src/linalg/reference.js';

function normwise(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]));
    m = Math.max(m, Math.abs(want[i]));
  }
  return d / m;
}

/** polar(G) of a tensor in TF.js layout, read as its `[fanIn, fanOut]` matrix. */
function polarOf(g: Float32Array, shape: number[]): Float64Array {
  const fanOut = shape[shape.length - 1];
  return polar64(matrix64(g.length / fanOut, fanOut, g)).data;
}

/** Runs the optimizer from zero weights; returns the weights after each step. */
function run(shapes: number[][], grads: Float32Array[][], options: Parameters<typeof orthogonalSgdm>[0]): Float32Array[][] {
  const vars = shapes.map((s) => tf.variable(tf.zeros(s)));
  const opt = orthogonalSgdm(options);
  const out: Float32Array[][] = [];
  for (const step of grads) {
    const gs = step.map((g, i) => ({ name: vars[i].name, tensor: tf.tensor(g, shapes[i]) }));
    opt.applyGradients(gs);
    tf.dispose(gs.map((g) => g.tensor));
    out.push(vars.map((v) => v.dataSync() as Float32Array));
  }
  opt.dispose();
  tf.dispose(vars);
  return out;
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`orthogonalSgdm on ${backend}`, () => {
    before(async () => useBackend(backend));

    it('first update = −η·polar(G) on well-conditioned gradients (wide, tall, square, conv)', (t) => {
      const shapes = [[6, 16], [20, 5], [8, 8], [3, 3, 2, 4]];
      const grads = shapes.map((s, i) => gaussian(s.reduce((a, b) => a * b, 1), 50 + i));
      const [after] = run(shapes, [grads], { learningRate: 0.5 });
      shapes.forEach((s, i) => {
        const want = Float64Array.from(polarOf(grads[i], s), (x) => -0.5 * x);
        const dev = normwise(after[i], want);
        t.diagnostic(`${backend} [${s.join(', ')}]: ${dev.toExponential(2)}`);
        // PE8 maps σ/(1.01‖G‖_F) ≥ 1e-3 to 1 within 1e-15; what is left is float32 rounding (measured
        // ≤ 4.3e-7 on cpu and wasm). Jordan's NS5 would be ~0.3 off.
        assert.ok(dev < 1e-5, `[${s.join(', ')}]: ${dev}`);
      });
    });

    it('momentum after orthogonalization: step 2 = −η(O₂ + μO₁), Nesterov −η(O₂ + μ(O₂ + μO₁))', () => {
      const shape = [7, 12];
      const g1 = gaussian(84, 1);
      const g2 = gaussian(84, 2);
      const o1 = polarOf(g1, shape);
      const o2 = polarOf(g2, shape);
      const eta = 0.1;
      const mu = 0.9;
      const plain = run([shape], [[g1], [g2]], { learningRate: eta, momentum: mu });
      // W₁ = −ηO₁; W₂ = W₁ − η(O₂ + μO₁)
      const wantPlain = o1.map((x, i) => -eta * x - eta * (o2[i] + mu * x));
      assert.ok(normwise(plain[1][0], wantPlain) < 1e-5, `plain: ${normwise(plain[1][0], wantPlain)}`);
      // Muon's order (orthogonalize the momentum) would give −η·polar(G₂ + μG₁): far from the above
      const muonOrder = polarOf(Float32Array.from(g2, (x, i) => x + mu * g1[i]), shape);
      const wrong = o1.map((x, i) => -eta * x - eta * muonOrder[i]);
      assert.ok(normwise(wrong, wantPlain) > 1e-2);
      const nesterov = run([shape], [[g1], [g2]], { learningRate: eta, momentum: mu, nesterov: true });
      // W₁ = −η(O₁ + μO₁); buf₂ = O₂ + μO₁; W₂ = W₁ − η(O₂ + μ·buf₂)
      const wantNesterov = o1.map((x, i) => -eta * (1 + mu) * x - eta * (o2[i] + mu * (o2[i] + mu * x)));
      assert.ok(normwise(nesterov[1][0], wantNesterov) < 1e-5, `nesterov: ${normwise(nesterov[1][0], wantNesterov)}`);
    });

    it('L2 weight decay is added to the orthogonalized gradient, before momentum (torch SGD)', () => {
      const shape = [4, 6];
      const w0 = gaussian(24, 8);
      const g = gaussian(24, 9);
      const v = tf.variable(tf.tensor(w0, shape));
      const opt = orthogonalSgdm({ learningRate: 0.1, momentum: 0.5, weightDecay: 0.3 });
      const gt = tf.tensor(g, shape);
      opt.applyGradients([{ name: v.name, tensor: gt }]);
      const o = polarOf(g, shape);
      const want1 = Float64Array.from(w0, (w, i) => w - 0.1 * (o[i] + 0.3 * w));
      assert.ok(normwise(v.dataSync(), want1) < 1e-5);
      opt.applyGradients([{ name: v.name, tensor: gt }]);
      const want2 = Float64Array.from(want1, (w, i) => w - 0.1 * (o[i] + 0.3 * w + 0.5 * (o[i] + 0.3 * w0[i])));
      assert.ok(normwise(v.dataSync(), want2) < 1e-5);
      opt.dispose();
      tf.dispose([v, gt]);
    });

    it('vectors and excluded matrices get plain SGD with the same momentum', () => {
      const g = gaussian(6, 4);
      const m = gaussian(12, 5);
      const vars = [tf.variable(tf.zeros([6]), true, 'osgdm/bias'), tf.variable(tf.zeros([3, 4]), true, 'osgdm/head/kernel')];
      const opt = orthogonalSgdm({ learningRate: 0.1, momentum: 0.9, exclude: ['head'] });
      const gs = [tf.tensor(g), tf.tensor(m, [3, 4])];
      for (let s = 0; s < 2; s++) opt.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: gs[i] })));
      // W₂ = −η·g − η(g + μg) = −η(2 + μ)g
      assert.ok(normwise(vars[0].dataSync(), Array.from(g, (x) => -0.1 * 2.9 * x)) < 1e-6);
      assert.ok(normwise(vars[1].dataSync(), Array.from(m, (x) => -0.1 * 2.9 * x)) < 1e-6);
      opt.dispose();
      tf.dispose([...vars, ...gs]);
    });
  });
}

describe('orthogonalSgdm: options', () => {
  it('defaults: README example (lr 1e-3, momentum 0.9), Polar Express 8 steps', () => {
    const c = orthogonalSgdm().getConfig();
    assert.equal(c.learningRate, 1e-3);
    assert.equal(c.momentum, 0.9);
    assert.equal(c.nesterov, false);
    assert.equal(c.weightDecay, 0);
    assert.equal(c.coefficients, 'polarExpress8');
    assert.equal(c.nsSteps, 8);
  });
  it('rejects bad options with the optimizer, option, range and value', () => {
    assert.throws(() => orthogonalSgdm({ momentum: 1 }), /^RangeError: orthogonalSgdm: momentum must be in \[0, 1\), got 1$/);
    assert.throws(() => orthogonalSgdm({ dampening: 2 }), /orthogonalSgdm: dampening must be in \[0, 1\], got 2/);
    assert.throws(() => orthogonalSgdm({ weightDecay: -0.1 }), /orthogonalSgdm: weightDecay must be in \[0, inf\), got -0.1/);
    assert.throws(() => orthogonalSgdm({ momentum: 0, nesterov: true }), /orthogonalSgdm: nesterov needs momentum > 0/);
    assert.throws(() => orthogonalSgdm({ nsSteps: -1 }), /orthogonalSgdm: nsSteps must be an integer in \[0, 100\], got -1/);
    assert.throws(() => orthogonalSgdm({ coefficients: 'nope' as 'jordan' }), /orthogonalSgdm: coefficients must be one of/);
    assert.throws(() => orthogonalSgdm({ exclude: 'head' as unknown as string[] }), /orthogonalSgdm: exclude must be a list/);
  });
});

describe('orthogonalSgdm on wasm', () => {
  before(async () => useBackend('wasm'));
  optimizerContract('orthogonalSgdm', () => orthogonalSgdm({ learningRate: 0.01, momentum: 0.9, nesterov: true }));
  optimizerContract('orthogonalSgdm (L2 decay, excluded head)', () =>
    orthogonalSgdm({ learningRate: 0.01, weightDecay: 1e-3, exclude: ['dense_Dense3'] }),
    { zeroGradientKeepsWeights: false },
  );
});

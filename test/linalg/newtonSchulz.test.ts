/**
 * newtonSchulz: golden replays of KellerJordan/Muon's zeropower_via_newtonschulz5 (README tolerance 1e-4)
 * and the properties of spec §12 (singular-value band, scale invariance, transpose equivariance, polar
 * structure, Polar Express reaching the float64 polar factor), on cpu and wasm.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { goldenCases, goldenDir, loadGolden, normwiseDeviation, torchTensor } from '../support/golden.js';
import { gaussian } from '../support/random.js';
import { newtonSchulz } from '../../src/index.js';
import { matrix64, newtonSchulz64, polar64, singularValues64, type Matrix64 } from '../../src/reference.js';

function toMatrix64(x: tf.Tensor): Matrix64 {
  const [r, c] = x.shape;
  return matrix64(r, c, x.dataSync());
}

function randomMatrix(rows: number, cols: number, seed: number): tf.Tensor2D {
  return tf.tensor2d(gaussian(rows * cols, seed), [rows, cols]);
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`newtonSchulz on ${backend}`, () => {
    before(async () => useBackend(backend));

    it('replays every muon_ns golden file within 1e-4 of max|want|', (t) => {
      if (!existsSync(goldenDir)) {
        if (process.env.CI === 'true') throw new Error(`missing golden files at ${goldenDir}`);
        t.skip(`missing golden files at ${goldenDir}`);
        return;
      }
      const cases = goldenCases('muon_ns');
      assert.equal(cases.length, 11);
      for (const c of cases) {
        const g = loadGolden(c);
        const args = g.args as { steps: number; coefficients: [number, number, number]; norm_eps: number };
        const x = torchTensor(g.inputs![0]);
        const out = newtonSchulz(x, {
          coefficients: [args.coefficients],
          steps: args.steps,
          eps: args.norm_eps,
          leadingDims: 'batch',
        });
        const dev = normwiseDeviation(out.dataSync(), g.outputs![0].data);
        tf.dispose([x, out]);
        t.diagnostic(`${c}: ${dev.toExponential(2)}`);
        assert.ok(dev <= 1e-4, `${c}: deviation ${dev}`);
      }
    });

    it('5 Jordan steps put the singular values of a well-conditioned input in [0.68, 1.14]', () => {
      const x = randomMatrix(48, 160, 1);
      const o = newtonSchulz(x);
      const s = singularValues64(toMatrix64(o));
      tf.dispose([x, o]);
      assert.ok(s[0] <= 1.14 && s[s.length - 1] >= 0.68, `σ range [${s[s.length - 1]}, ${s[0]}]`);
      // and the band is not trivially wide: they are not all 1
      assert.ok(s[0] - s[s.length - 1] > 0.05);
    });

    it('matches a float64 Newton–Schulz to float32 precision', () => {
      const x = randomMatrix(24, 40, 2);
      const got = newtonSchulz(x);
      const want = newtonSchulz64(toMatrix64(x), Array(5).fill([3.4445, -4.775, 2.0315]) as [number, number, number][]);
      const dev = normwiseDeviation(got.dataSync(), want.data);
      assert.ok(dev < 1e-5, `deviation ${dev}`);
      tf.dispose([x, got]);
    });

    it('is scale invariant and transpose equivariant', () => {
      tf.tidy(() => {
        const x = randomMatrix(20, 36, 3);
        const o = newtonSchulz(x);
        assert.ok(maxAbsDiff(newtonSchulz(tf.mul(x, 1e3)), o) < 1e-5);
        assert.ok(maxAbsDiff(newtonSchulz(tf.mul(x, 1e-2)), o) < 1e-5);
        assert.ok(maxAbsDiff(newtonSchulz(tf.transpose(x)), tf.transpose(o)) < 1e-6);
      });
    });

    it('G·NS(G)ᵀ is symmetric positive semi-definite', () => {
      tf.tidy(() => {
        const g = randomMatrix(16, 40, 4);
        const s = tf.matMul(g, tf.transpose(newtonSchulz(g)));
        const asym = tf.norm(tf.sub(s, tf.transpose(s))).dataSync()[0] / tf.norm(s).dataSync()[0];
        assert.ok(asym < 1e-5, `asymmetry ${asym}`);
        const eig = singularValues64(toMatrix64(s)); // symmetric: |λ|; PSD checked through zᵀSz below
        assert.ok(eig[0] > 0);
        const z = tf.tensor2d(gaussian(16 * 8, 5), [16, 8]);
        const quad = tf.sum(tf.mul(z, tf.matMul(s, z)), 0).dataSync();
        for (const q of quad) assert.ok(q >= -1e-4, `zᵀSz = ${q}`);
      });
    });

    it('Polar Express, 8 steps, reaches the float64 polar factor to 1e-3', () => {
      tf.tidy(() => {
        const g = randomMatrix(32, 64, 6);
        const exact = polar64(toMatrix64(g));
        const got = newtonSchulz(g, { coefficients: 'polarExpress8' });
        const dev = normwiseDeviation(got.dataSync(), exact.data);
        assert.ok(dev < 1e-3, `deviation from polar factor ${dev}`);
        // Jordan's 5 steps do not get there (the band is [0.68, 1.13]): the test can tell them apart.
        const jordan = normwiseDeviation(newtonSchulz(g).dataSync(), exact.data);
        assert.ok(jordan > 1e-2, `jordan deviation ${jordan}`);
      });
    });

    it('reads rank-4 conv kernels as their [kh·kw·in, out] matrix, or as a batch', () => {
      tf.tidy(() => {
        const k = tf.tensor4d(gaussian(3 * 3 * 4 * 6, 7), [3, 3, 4, 6]);
        const flat = newtonSchulz(tf.reshape(k, [36, 6]));
        assert.deepEqual(newtonSchulz(k).shape, [3, 3, 4, 6]);
        assert.ok(maxAbsDiff(tf.reshape(newtonSchulz(k), [36, 6]), flat) < 1e-6);
        const batched = newtonSchulz(k, { leadingDims: 'batch' });
        const first = newtonSchulz(tf.reshape(tf.slice(k, [0, 0, 0, 0], [1, 1, 4, 6]), [4, 6]));
        assert.ok(maxAbsDiff(tf.reshape(tf.slice(batched, [0, 0, 0, 0], [1, 1, 4, 6]), [4, 6]), first) < 1e-6);
      });
    });

    it('handles 1×n, n×1, 1×1 and all-zero inputs without NaN', () => {
      tf.tidy(() => {
        for (const shape of [[1, 7], [7, 1], [1, 1]] as [number, number][]) {
          const o = newtonSchulz(randomMatrix(shape[0], shape[1], 8));
          const v = o.dataSync();
          assert.ok(v.every(Number.isFinite));
          // a rank-1 matrix's polar factor is x/‖x‖; NS on a single σ=1 value gives p⁵(1) ≈ 0.88 (Jordan), so check direction
          const norm = Math.hypot(...v);
          assert.ok(norm > 0.5 && norm < 1.2, `norm ${norm}`);
        }
        const z = newtonSchulz(tf.zeros([5, 9]));
        assert.ok(z.dataSync().every((v) => v === 0));
      });
    });

    it('the Gram form gives the standard iteration, with and without restarts, and zeros for zeros', () => {
      for (const [shape, coefficients] of [
        [[16, 96], 'jordan'],
        [[96, 16], 'polarExpress5'],
        [[24, 24], 'you'],
      ] as [[number, number], 'jordan' | 'you' | 'polarExpress5'][]) {
        const x = randomMatrix(shape[0], shape[1], shape[0] + shape[1]);
        const ref = newtonSchulz(x, { coefficients });
        for (const gramRestarts of [[2], [], [1, 3]]) {
          const got = newtonSchulz(x, { coefficients, form: 'gram', gramRestarts });
          const d = normwiseDeviation(got.dataSync(), ref.dataSync());
          assert.ok(d < 2e-5, `${coefficients} [${shape.join('×')}] restarts ${JSON.stringify(gramRestarts)}: ${d}`);
          got.dispose();
        }
        tf.dispose([x, ref]);
      }
      const z = newtonSchulz(tf.zeros([4, 9]), { form: 'gram' });
      assert.ok(z.dataSync().every((v) => v === 0));
      z.dispose();
      assert.throws(() => newtonSchulz(tf.ones([2, 3]), { form: 'gram', coefficients: 'turbo' }), /form 'gram' needs the Frobenius normalization/);
    });

    it('rejects bad input with clear errors and leaks no tensors', () => {
      const before = tf.memory().numTensors;
      const v = tf.ones([4]);
      assert.throws(() => newtonSchulz(v), /newtonSchulz: need a tensor of rank >= 2, got shape \[4\]/);
      v.dispose();
      const x = randomMatrix(4, 6, 9);
      assert.throws(() => newtonSchulz(x, { steps: -1 }), /RangeError|steps must be an integer in \[0, 100\], got -1/);
      assert.throws(() => newtonSchulz(x, { coefficients: 'nope' as 'jordan' }), /coefficients must be one of 'jordan'/);
      assert.throws(() => newtonSchulz(x, { eps: -1 }), /eps must be in \[0, inf\), got -1/);
      const o = newtonSchulz(x);
      tf.dispose([x, o]);
      assert.equal(tf.memory().numTensors, before);
    });
  });
}

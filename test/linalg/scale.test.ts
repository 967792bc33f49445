/**
 * Extreme but finite inputs (issue 10 item 1): the power-of-two rescale of `src/linalg/scale.ts` keeps
 * Newton–Schulz (Frobenius, AOL, Gram form) and `aolPrecondition` finite and exact for every finite
 * input, on cpu and wasm, and leaves everyday inputs untouched bit for bit.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import { aolPrecondition, newtonSchulz } from '../../src/index.js';
import { matrix64, singularValues64 } from '../../src/reference.js';
import {
  FLOAT32_MAX,
  powerOfTwoScale,
  powerOfTwoScaleOf,
  rescaleArrayByPowerOfTwo,
  saturate,
} from '../../src/linalg/scale.js';

function randomMatrix(rows: number, cols: number, seed: number, factor = 1): tf.Tensor2D {
  return tf.tensor2d(Float32Array.from(gaussian(rows * cols, seed), (v) => v * factor), [rows, cols]);
}

/** `[I; 0] + 0.1·noise` (or its transpose), times `factor`: singular values within about [0.6, 1.4]. */
function wellConditioned(rows: number, cols: number, seed: number, factor: number): tf.Tensor2D {
  const noise = gaussian(rows * cols, seed);
  return tf.tensor2d(
    Float32Array.from(noise, (v, i) => ((Math.floor(i / cols) === i % cols ? 1 : 0) + 0.1 * v) * factor),
    [rows, cols],
  );
}

function values(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

function allFinite(t: tf.Tensor): boolean {
  return values(t).every(Number.isFinite);
}

describe('powerOfTwoScale', () => {
  it('is 1 inside [2^-32, 2^32], for 0 and non-finite values; else the power of two at or below max|x|', () => {
    for (const m of [0, 2 ** -32, 1e-9, 1, 1e9, 2 ** 32, Number.NaN, Infinity]) assert.equal(powerOfTwoScale(m), 1, String(m));
    assert.equal(powerOfTwoScale(1e20), 2 ** 66);
    assert.equal(powerOfTwoScale(2 ** 40), 2 ** 40);
    assert.equal(powerOfTwoScale(FLOAT32_MAX), 2 ** 127);
    assert.equal(powerOfTwoScale(1e-30), 2 ** -100);
    assert.equal(powerOfTwoScale(1e-45), 2 ** -126); // denormal: clamped to the smallest normal power
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`the tensor form agrees with the number form on ${backend}`, async () => {
      await useBackend(backend);
      for (const m of [0, 1e-40, 1e-30, 2 ** -33, 1e-3, 7, 2 ** 33, 1e20, 1e30, 3e38]) {
        const got = tf.tidy(() => powerOfTwoScaleOf(tf.tensor1d([m / 2, -m, 0])).dataSync()[0]);
        assert.equal(got, powerOfTwoScale(Math.fround(m)), `max|x| = ${m}`);
      }
    });
  }

  it('the array form copies only when it rescales, exactly', () => {
    const small = Float32Array.of(1, -2, 3);
    assert.equal(rescaleArrayByPowerOfTwo(small).data, small);
    const big = Float32Array.of(3e30, -1e30, 0);
    const r = rescaleArrayByPowerOfTwo(big);
    assert.equal(r.scale, 2 ** 101);
    assert.deepEqual(Array.from(r.data, (v) => v * r.scale), Array.from(big));
  });
});

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`newtonSchulz at extreme scales on ${backend}`, () => {
    before(async () => useBackend(backend));

    const shapes: [number, number][] = [[24, 16], [16, 24], [12, 12]];
    const variants = [
      { name: 'frobenius (Jordan)', options: {} },
      { name: 'aol (Turbo)', options: { coefficients: 'turbo' as const } },
      { name: 'gram form', options: { form: 'gram' as const } },
      { name: 'polarExpress5', options: { coefficients: 'polarExpress5' as const } },
    ];

    it('with eps = 0, NS(x·2^k) is NS(x) bit for bit for k from −100 to 120 (it was NaN or 0 beyond ±60)', () => {
      for (const [rows, cols] of shapes) {
        for (const v of variants) {
          const x = randomMatrix(rows, cols, rows * 7 + cols);
          const want = newtonSchulz(x, { ...v.options, eps: 0 });
          assert.ok(allFinite(want));
          for (const k of [-100, -70, -40, -33, 33, 40, 64, 70, 100, 120]) {
            const y = tf.mul(x, 2 ** k);
            const got = newtonSchulz(y, { ...v.options, eps: 0 });
            assert.deepEqual(values(got), values(want), `${v.name} ${rows}×${cols} at 2^${k}`);
            tf.dispose([y, got]);
          }
          tf.dispose([x, want]);
        }
      }
    });

    it('with the default eps, NS(x·2^k) is NS(x) with eps·2^-k, bit for bit (eps keeps its place)', () => {
      const x = randomMatrix(24, 16, 3);
      for (const v of variants) {
        // (AOL at 2^-90 would need eps·2^180, past float32)
        for (const k of v.options.coefficients === 'turbo' ? [-40, 40, 90] : [-90, -40, 40, 90]) {
          const eps = 1e-7;
          // AOL's eps floors a row sum of |XXᵀ| (a squared quantity): it scales by 2^-2k
          const scaledEps = v.options.coefficients === 'turbo' ? eps * 2 ** (-2 * k) : eps * 2 ** -k;
          const want = newtonSchulz(x, { ...v.options, eps: scaledEps });
          const y = tf.mul(x, 2 ** k);
          const got = newtonSchulz(y, { ...v.options, eps });
          assert.deepEqual(values(got), values(want), `${v.name} at 2^${k}`);
          tf.dispose([y, got, want]);
        }
      }
      x.dispose();
    });

    it('every finite scale from 1e-30 to 1e37 gives a finite output; from 1e-3 up, in Jordan\'s band [0.68, 1.14] (as newtonSchulz.test.ts)', () => {
      for (const [rows, cols] of shapes) {
        for (const s of [1e-30, 1e-20, 1e-10, 1e-3, 1, 1e10, 1e19, 1e20, 1e30, 1e37]) {
          const x = wellConditioned(rows, cols, 11, s);
          const o = newtonSchulz(x);
          assert.ok(allFinite(o), `${rows}×${cols} at ${s}`);
          if (s === 1e-10) {
            // ‖X‖_F ≈ eps: between the two regimes, only finite
          } else if (s >= 1e-3) {
            const sv = singularValues64(matrix64(rows, cols, values(o)));
            assert.ok(Math.min(...sv) > 0.68 && Math.max(...sv) < 1.14, `${rows}×${cols} at ${s}: σ in [${Math.min(...sv)}, ${Math.max(...sv)}]`);
          } else {
            // ‖X‖_F ≪ eps: X/(‖X‖_F + eps) ≈ X/eps, tiny, as in the reference
            assert.ok(Math.max(...values(o).map(Math.abs)) < 1e-2);
          }
          tf.dispose([x, o]);
        }
      }
    });

    it('aolPrecondition: finite with spectral norm ≤ 1 at 1e30, and exact under power-of-two scaling', () => {
      const x = randomMatrix(20, 12, 5);
      const want = aolPrecondition(x, 0);
      const y = tf.mul(x, 2 ** 100);
      assert.deepEqual(values(aolPrecondition(y as tf.Tensor2D, 0)), values(want));
      const z = randomMatrix(20, 12, 5, 1e30);
      const o = aolPrecondition(z);
      assert.ok(allFinite(o));
      assert.ok(Math.max(...singularValues64(matrix64(20, 12, values(o)))) <= 1 + 1e-5);
      tf.dispose([x, want, y, z, o]);
    });
  });
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`saturate on ${backend}`, () => {
    before(() => useBackend(backend));

    it('keeps every finite value bit for bit, sends +Inf to float32 max and NaN to a non-finite value', () => {
      const special = [0, -0, 1e-45, 1.17549435e-38, 1, 0.1, -3, 1e30, -1e30, FLOAT32_MAX, -FLOAT32_MAX];
      const data = Float32Array.from([...special, ...gaussian(4096, 3).map((v) => v * 10 ** ((v * 37) % 30))]);
      const x = tf.tensor1d(data);
      const y = saturate(x);
      assert.deepEqual(new Uint32Array(y.dataSync().buffer), new Uint32Array(data.buffer));
      const odd = tf.tensor1d([Infinity, NaN, -Infinity]);
      const o = saturate(odd).dataSync();
      assert.equal(o[0], Math.fround(FLOAT32_MAX));
      assert.ok(!Number.isFinite(o[1]), `NaN came out ${o[1]}`);
      assert.equal(o[2], -Infinity);
      tf.dispose([x, y, odd]);
    });

    it('runs one ClipByValue and no Minimum (wasm\'s Minimum is a scalar loop)', async () => {
      const x = tf.ones([64, 64]);
      const profile = await tf.profile(() => tf.dispose(saturate(x)));
      assert.deepEqual(profile.kernels.map((k) => k.name), ['ClipByValue']);
      x.dispose();
    });
  });
}

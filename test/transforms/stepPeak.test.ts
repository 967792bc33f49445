/**
 * Peak memory of a step's temporaries (issue 13, memory item): scaleByAdam tidies each parameter and
 * Newton–Schulz each matrix (and each iteration), so the peak `tf.memory().numBytes` of an update is what
 * it keeps plus one parameter's temporaries — not every parameter's at once, which grew with the
 * parameter count (measured before: Adam 13·N·B for N parameters of B bytes, Newton–Schulz 38.3·N·B on
 * 96×64 matrices). Peaks from `tf.profile`, on cpu and wasm. That the numbers did not change is asserted
 * by the golden replays (test/optimizers/golden.test.ts, test/linalg/newtonSchulz.test.ts), which run
 * the same kernels in the same order.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { gaussian } from '../support/random.js';
import type { ParamMeta } from '../../src/core/transform.js';
import { scaleByAdam } from '../../src/transforms/adam.js';
import { newtonSchulzAll, resolveNewtonSchulz } from '../../src/linalg/newtonSchulz.js';

const BACKENDS = ['cpu', 'wasm'] as const;

/** Peak bytes above those held when `fn` starts, and the tensors `fn` returns (caller disposes). */
async function peakAbove(fn: () => tf.Tensor[]): Promise<{ peak: number; kept: tf.Tensor[] }> {
  const held = tf.memory().numBytes;
  let kept: tf.Tensor[] = [];
  const info = await tf.profile(() => {
    kept = fn();
  });
  return { peak: info.peakBytes - held, kept };
}

for (const backend of BACKENDS) describe(`step temporaries are freed per parameter (${backend})`, () => {
  before(() => useBackend(backend));

  it('scaleByAdam: peak = (m, v, output) of every parameter + one parameter’s temporaries; the AMSGrad max too', async () => {
    const shape = [64, 64];
    const B = 64 * 64 * 4;
    for (const amsgrad of [false, true]) {
      const peaks: number[] = [];
      for (const n of [1, 8]) {
        const metas: ParamMeta[] = Array.from({ length: n }, (_, i) => ({ name: `p${i}`, shape }));
        const t = scaleByAdam({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, amsgrad });
        const state = t.init(metas);
        const grads = metas.map((_, i) => tf.tensor(gaussian(64 * 64, i), shape));
        const params = grads.map((g) => tf.zerosLike(g));
        const before = tf.memory().numTensors;
        const { peak, kept } = await peakAbove(() =>
          tf.tidy(() => {
            const r = t.update(grads, state, { step: 0, params, metas });
            return [...r.updates, ...(Object.values(r.state as Record<string, tf.Tensor[]>).flat())];
          }),
        );
        const slots = amsgrad ? 4 : 3;
        assert.equal(kept.length, slots * n);
        assert.equal(tf.memory().numTensors, before + slots * n, 'only the outputs and the new state are left');
        // what is kept is held at the end, so it bounds the peak from below
        assert.ok(peak >= slots * n * B, `${n} parameters: peak ${peak / B}·B below the ${slots * n}·B kept`);
        peaks.push(peak);
        tf.dispose([...kept, ...grads, ...params, ...(Object.values(state as Record<string, tf.Tensor[]>).flat())]);
      }
      // 7 more parameters add only what each keeps (measured: 3·N·B + 10·B without AMSGrad)
      const slots = amsgrad ? 4 : 3;
      assert.equal(peaks[1] - peaks[0], 7 * slots * B, `amsgrad ${amsgrad}: peaks ${peaks.map((p) => p / B).join(', ')} (× B)`);
    }
  });

  it('newtonSchulzAll (tfjs engine): peak = the finished outputs + one matrix’s iteration, for any number of matrices', async () => {
    const ns = resolveNewtonSchulz({ engine: 'tfjs' });
    const B = 96 * 64 * 4;
    const peaks: number[] = [];
    for (const n of [1, 8]) {
      const gs = Array.from({ length: n }, (_, i) => tf.tensor(gaussian(96 * 64, 40 + i), [96, 64]));
      const before = tf.memory().numTensors;
      const { peak, kept } = await peakAbove(() => newtonSchulzAll(gs, ns));
      assert.equal(tf.memory().numTensors, before + n, 'only the results are left');
      peaks.push(peak);
      tf.dispose([...kept, ...gs]);
    }
    // each further matrix adds its result only (measured: one matrix 12.7·B; before: 38.3·B per matrix)
    assert.equal(peaks[1] - peaks[0], 7 * B, `peaks ${peaks.map((p) => (p / B).toFixed(2)).join(', ')} (× B)`);
    assert.ok(peaks[0] <= 16 * B, `one 96×64 matrix: peak ${(peaks[0] / B).toFixed(2)}·B (five iterations at once were 38.3·B)`);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { plainWork, slowKernels, summarizeProfile, type KernelRecord, type PlainWork } from '../../bench/fitProfile.js';

describe('bench:fit profile — the plain work of a kernel call', () => {
  it('matrix products: flagless products of the same shapes, k read from either transpose', () => {
    // dy·Wᵀ of a Dense layer: a [128,10], b [512,10] transposed, out [128,512] → k = 10.
    assert.deepEqual(plainWork('BatchMatMul', [[1, 128, 10], [1, 512, 10]], [[1, 128, 512]]), { kind: 'matMul', products: 1, m: 128, k: 10, n: 512 });
    // xᵀ·dy: a [128,784] transposed (k = 128), out [784,512].
    assert.deepEqual(plainWork('BatchMatMul', [[1, 128, 784], [1, 128, 512]], [[1, 784, 512]]), { kind: 'matMul', products: 1, m: 784, k: 128, n: 512 });
    // Attention: 64 products of [64,16]·[16,64]; a shared right operand stacks the rows.
    assert.deepEqual(plainWork('BatchMatMul', [[64, 64, 16], [64, 64, 16]], [[64, 64, 64]]), { kind: 'matMul', products: 64, m: 64, k: 16, n: 64 });
    assert.deepEqual(plainWork('_FusedMatMul', [[4, 8, 3], [1, 3, 5], [5]], [[4, 8, 5]]), { kind: 'matMul', products: 1, m: 32, k: 3, n: 5 });
  });

  it('conv backprops: the forward conv of the same geometry; Conv2D itself has none', () => {
    const same: PlainWork = { kind: 'conv2d', x: [64, 16, 16, 16], filter: [3, 3, 16, 32], strides: [1, 1], pad: 'same' };
    assert.deepEqual(plainWork('Conv2DBackpropFilter', [[64, 16, 16, 16], [64, 16, 16, 32]], [[3, 3, 16, 32]]), same);
    assert.deepEqual(plainWork('Conv2DBackpropInput', [[64, 16, 16, 32], [3, 3, 16, 32]], [[64, 16, 16, 16]]), same);
    assert.deepEqual(plainWork('Conv2DBackpropFilter', [[2, 9, 9, 3], [2, 3, 3, 4]], [[5, 5, 3, 4]]), { kind: 'conv2d', x: [2, 9, 9, 3], filter: [5, 5, 3, 4], strides: [2, 2], pad: 'valid' });
    assert.equal(plainWork('Conv2D', [[1, 4, 4, 1], [3, 3, 1, 1]], [[1, 4, 4, 1]]), null);
    // Channels that do not match a conv: no plain work rather than a wrong one.
    assert.equal(plainWork('Conv2DBackpropFilter', [[2, 9, 9, 3], [2, 9, 9, 4]], [[3, 3, 2, 4]]), null);
  });

  it('everything else: an x + 1 moving the bytes of its inputs and outputs', () => {
    assert.deepEqual(plainWork('Transpose', [[16, 4, 64, 16]], [[16, 64, 4, 16]]), { kind: 'bytes', elements: 65536 });
    assert.deepEqual(plainWork('Sum', [[64, 32, 32, 16]], [[16]]), { kind: 'bytes', elements: 524296 });
    assert.equal(plainWork('Reshape', [[0, 3]], [[0, 3]]), null);
  });
});

describe('bench:fit profile — summary per kernel', () => {
  const record = (name: string, ms: number, shapes: number[][] = [[4, 4]]): KernelRecord => ({ name, inputShapes: shapes, outputShapes: [[4, 4]], kernelTimeMs: ms });

  it('per step, calls × median call time (a spike does not count), composites out of the shares, ratio to the plain time', () => {
    // 2 steps: Sum called 3 times per step with one 50 ms spike; a composite scope; Add once per step.
    const records = [record('Sum', 1), record('Sum', 1), record('Sum', 50), record('Sum', 1), record('Sum', 1), record('Sum', 1), record('fusedMatMul__op', 9), record('Add', 2), record('Add', 2)];
    const plain = (w: PlainWork) => (w.kind === 'bytes' ? 0.25 : NaN);
    const ks = summarizeProfile(records, 2, 100, (n) => n !== 'fusedMatMul__op', plain);
    const sum = ks.find((k) => k.kernel === 'Sum');
    assert.ok(sum);
    assert.equal(sum.calls, 3);
    assert.equal(sum.ms, 3); // median 1 ms × 6 calls ÷ 2 steps
    assert.equal(sum.rawMs, 27.5);
    assert.equal(sum.share, 0.03);
    assert.equal(sum.plainMs, 0.75);
    assert.equal(sum.ratio, 4);
    const scope = ks.find((k) => k.kernel === 'fusedMatMul__op');
    assert.ok(scope?.composite);
    assert.equal(scope.share, null);
    assert.equal(scope.ratio, null);
    assert.deepEqual(slowKernels(ks).map((k) => k.kernel), ['Sum', 'Add']);
    assert.deepEqual(slowKernels(ks, 5).map((k) => k.kernel), ['Add']);
  });
});

/**
 * Block helpers of the workers engine's sharded Newton–Schulz (src/engines/blocks.ts): the tiled
 * transpose between strided float32 regions, and the balanced row split of a symmetric product.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { symmetricRowBlocks, transposeInto } from '../../src/engines/blocks.js';

describe('transposeInto', () => {
  it('transposes whole matrices of sizes around the 16×16 tile', () => {
    for (const [rows, cols] of [[1, 1], [1, 37], [37, 1], [16, 16], [17, 33], [40, 23]]) {
      const src = Float32Array.from({ length: rows * cols }, (_, i) => i + 0.5);
      const dst = new Float32Array(rows * cols);
      transposeInto(src, 0, cols, rows, cols, dst, 0, rows);
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) assert.equal(dst[j * rows + i], src[i * cols + j]);
    }
  });

  it('reads and writes sub-blocks at offsets with strides, leaving the rest alone', () => {
    // the block rows 2..6, columns 3..10 of a 9×12 matrix into rows 1..8, columns 4..8 of a 10×11 one
    const src = Float32Array.from({ length: 9 * 12 }, (_, i) => i);
    const dst = new Float32Array(10 * 11).fill(-1);
    transposeInto(src, 2 * 12 + 3, 12, 5, 8, dst, 1 * 11 + 4, 11);
    let written = 0;
    for (let r = 0; r < 10; r++) {
      for (let c = 0; c < 11; c++) {
        const inside = r >= 1 && r < 9 && c >= 4 && c < 9;
        if (inside) {
          written++;
          assert.equal(dst[r * 11 + c], src[(2 + (c - 4)) * 12 + 3 + (r - 1)]);
        } else assert.equal(dst[r * 11 + c], -1);
      }
    }
    assert.equal(written, 40);
  });

  it('mirrors the upper part of a matrix below its diagonal in place', () => {
    const k = 21;
    const a = Float32Array.from({ length: k * k }, (_, i) => (Math.floor(i / k) <= i % k ? i : 0));
    for (const split of [5, 13]) {
      const m = a.slice();
      // rows [0, split) × columns [split, k) → rows [split, k) × columns [0, split)
      transposeInto(m, split, k, split, k - split, m, split * k, k);
      for (let r = split; r < k; r++) for (let c = 0; c < split; c++) assert.equal(m[r * k + c], m[c * k + r]);
    }
  });
});

describe('symmetricRowBlocks', () => {
  it('covers [0, k) with increasing bounds, at least one row each', () => {
    for (const k of [2, 3, 7, 128, 1000, 1024]) {
      for (let p = 1; p <= Math.min(4, k); p++) {
        const c = symmetricRowBlocks(k, p);
        assert.equal(c.length, p + 1);
        assert.equal(c[0], 0);
        assert.equal(c[p], k);
        for (let r = 0; r < p; r++) assert.ok(c[r + 1] > c[r], `k=${k} p=${p}: ${c.join(',')}`);
      }
    }
  });

  it('balances the work (rows × width to the right of the first row) across ranks', () => {
    // 2 ranks: the first takes (3 − √5)/2 ≈ 38.2 % of the rows at full width, the second the rest
    assert.deepEqual(symmetricRowBlocks(1024, 2), [0, 391, 1024]);
    for (const p of [2, 3, 4]) {
      const k = 1024;
      const c = symmetricRowBlocks(k, p);
      const work = c.slice(0, p).map((start, r) => (c[r + 1] - start) * (k - start));
      const spread = (Math.max(...work) - Math.min(...work)) / Math.max(...work);
      assert.ok(spread < 0.02, `p=${p}: ${work.join(', ')}`);
      // together about (1 + 1/p)/2 of the full k×k product
      const share = work.reduce((s, w) => s + w, 0) / (k * k);
      assert.ok(Math.abs(share - (1 + 1 / p) / 2) < 0.05, `p=${p}: ${share}`);
    }
  });
});

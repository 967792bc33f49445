/**
 * Block helpers of the workers engine's sharded Newton–Schulz (src/engines/blocks.ts): the tiled
 * transpose between strided float32 regions, the blocks of a symmetric product shared by ranks, and the
 * Gram block count.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { autoGramBlocks, transposeInto, triangleBlocks, triangleBlocksOf } from '../../src/engines/blocks.js';

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

describe('triangleBlocks', () => {
  it('2·parts equal blocks covering [0, k); rank r takes blocks r and 2·parts − 1 − r', () => {
    assert.deepEqual(triangleBlocks(1024, 2), [0, 256, 512, 768, 1024]);
    assert.deepEqual(triangleBlocks(10, 2), [0, 3, 6, 8, 10]);
    assert.deepEqual(triangleBlocks(7, 1), [0, 4, 7]);
    assert.deepEqual(triangleBlocksOf(0, 2), [0, 3]);
    assert.deepEqual(triangleBlocksOf(1, 2), [1, 2]);
    assert.throws(() => triangleBlocks(3, 2), /k ≥ 2·parts, got k = 3, parts = 2/);
  });

  it('every rank does the same work, together (2·parts + 1)/(4·parts) of the product, every upper entry once', () => {
    for (const [k, parts] of [[1024, 2], [1000, 3], [96, 4], [9, 1]]) {
      const c = triangleBlocks(k, parts);
      const owner = new Int32Array(k * k).fill(-1);
      const work: number[] = [];
      for (let r = 0; r < parts; r++) {
        let w = 0;
        for (const block of triangleBlocksOf(r, parts)) {
          w += (c[block + 1] - c[block]) * (k - c[block]);
          for (let i = c[block]; i < c[block + 1]; i++) {
            for (let j = c[block]; j < k; j++) {
              assert.equal(owner[i * k + j], -1);
              owner[i * k + j] = r;
            }
          }
        }
        work.push(w);
      }
      // every entry on or above the diagonal computed by exactly one rank
      for (let i = 0; i < k; i++) for (let j = i; j < k; j++) assert.notEqual(owner[i * k + j], -1, `k=${k}: (${i}, ${j})`);
      const spread = (Math.max(...work) - Math.min(...work)) / Math.max(...work);
      assert.ok(spread < 0.02, `k=${k} parts=${parts}: ${work.join(', ')}`);
      const share = work.reduce((s, w) => s + w, 0) / (k * k);
      assert.ok(Math.abs(share - (2 * parts + 1) / (4 * parts)) < 0.03, `k=${k} parts=${parts}: ${share}`);
    }
  });
});

describe('autoGramBlocks', () => {
  it('4 blocks from k = 512, fewer below so that a block keeps ≥ 128 columns, at least 1', () => {
    assert.deepEqual([1, 127, 255, 256, 383, 384, 511, 512, 4096].map(autoGramBlocks), [1, 1, 1, 2, 2, 3, 3, 4, 4]);
  });
});

/** Flop counts of the two Newton–Schulz forms (src/linalg/flops.ts) against hand counts, and the auto rule. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gramFlops, gramIsCheaper, standardFlops } from '../../src/linalg/flops.js';

describe('Newton–Schulz flop counts', () => {
  it('standard: steps·(4k²n + 2k³), either orientation', () => {
    assert.equal(standardFlops(1024, 4096, 5), 5 * (4 * 1024 ** 2 * 4096 + 2 * 1024 ** 3));
    assert.equal(standardFlops(4096, 1024, 5), standardFlops(1024, 4096, 5));
    assert.equal(standardFlops(3, 7, 0), 0);
  });

  it('gram: 8k²n + 28k³ for 5 steps with the default restart; 4k²n + 32k³ without; 2k²n for 0 steps', () => {
    const [k, n] = [64, 300];
    assert.equal(gramFlops(k, n, 5), 8 * k * k * n + 28 * k ** 3);
    assert.equal(gramFlops(n, k, 5, [2]), 8 * k * k * n + 28 * k ** 3);
    // no restart: R once, end product once; 5 × W (2k³), 4 × Q·W (2k³), 4 × R update (4k³)
    assert.equal(gramFlops(k, n, 5, []), 4 * k * k * n + (10 + 8 + 16) * k ** 3);
    assert.equal(gramFlops(k, n, 0), 2 * k * k * n);
    // a restart at step 0 does nothing (no Q yet)
    assert.equal(gramFlops(k, n, 5, [0, 2]), gramFlops(k, n, 5, [2]));
  });

  it('gram is cheaper once the long side is over 1.5× the short one (5 steps, restart after 2)', () => {
    assert.equal(gramIsCheaper(1024, 4096, 5), true);
    assert.equal(gramIsCheaper(1024, 1024, 5), false);
    assert.equal(gramIsCheaper(100, 150, 5), false); // 12k²n = 18k³: a tie is not cheaper
    assert.equal(gramIsCheaper(100, 151, 5), true);
    assert.equal(gramIsCheaper(151, 100, 5), true);
  });
});

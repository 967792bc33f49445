/**
 * Dense matmul flop counts of the two forms of Newton–Schulz on a k×n matrix (k = short side, n = long
 * side), as `./newtonSchulz.ts` and the native engines compute them, and the rule that picks the Gram form
 * where it does less work (`form: 'auto'`). Used by the library (the choice) and the benchmarks (the
 * machine's-limit ratios).
 * @module
 */

/** Standard form, `steps` steps: per step `A = XXᵀ` (2k²n; the first reuses the normalization's), `A²` (2k³), `P·X` (2k²n): `steps·(4k²n + 2k³)`. */
export function standardFlops(rows: number, cols: number, steps: number): number {
  const k = Math.min(rows, cols);
  const n = Math.max(rows, cols);
  return steps * (4 * k * k * n + 2 * k ** 3);
}

/**
 * Gram form (`newtonSchulzGramTall`; Dao-AILab/gram-newton-schulz): `R = XXᵀ` (2k²n); per step
 * `W = R(cR + bI) + aI` (2k³), `Q ← Q·W` (2k³, not at the first step or after a restart), `R ← W(RW)` (4k³,
 * not before a restart or after the last step); a restart `X ← QX`, `R ← XXᵀ` (4k²n); the end `X ← QX`
 * (2k²n). 5 steps, restart after step 2: `8k²n + 28k³`.
 */
export function gramFlops(rows: number, cols: number, steps: number, restarts: readonly number[] = [2]): number {
  const k = Math.min(rows, cols);
  const n = Math.max(rows, cols);
  const at = new Set(restarts);
  let flops = 2 * k * k * n;
  let haveQ = false;
  for (let i = 0; i < steps; i++) {
    if (i > 0 && at.has(i) && haveQ) {
      flops += 4 * k * k * n;
      haveQ = false;
    }
    flops += 2 * k ** 3;
    if (haveQ) flops += 2 * k ** 3;
    haveQ = true;
    if (i + 1 < steps && !at.has(i + 1)) flops += 4 * k ** 3;
  }
  return haveQ ? flops + 2 * k * k * n : flops;
}

/**
 * Whether the Gram form does fewer flops than the standard one for this matrix (`form: 'auto'`): with 5
 * steps and the default restart, when the long side is over 1.5× the short one (12k²n > 18k³). Measured on
 * onnxruntime (2 cores): 0.67× the standard form's time at 1024×4096, 1.2× at 1024², as the counts say.
 */
export function gramIsCheaper(rows: number, cols: number, steps: number, restarts: readonly number[] = [2]): boolean {
  return gramFlops(rows, cols, steps, restarts) < standardFlops(rows, cols, steps);
}

/** Deterministic test data: mulberry32 + Box–Muller, so tests do not depend on tfjs's RNG. */
import { mulberry32 } from '../../src/core/random.js';

export { mulberry32 };

/** `n` standard normal draws (float32-representable), from a seed. */
export function gaussian(n: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/**
 * How far a computed matrix is from a reference, as the benchmarks report it: `max|a − b| / max|b|` and
 * `‖a − b‖_F / ‖b‖_F`, accumulated in float64 over the flat values (row-major, as `tensor.data()` gives).
 * @module
 */

/** Both relative errors of `a` against the reference `b` (the plain differences when `b` is all zero). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): { maxRel: number; frobenius: number } {
  if (a.length !== b.length) throw new RangeError(`relativeError: ${a.length} values against a reference of ${b.length}`);
  let maxD = 0;
  let maxB = 0;
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    maxD = Math.max(maxD, d);
    maxB = Math.max(maxB, Math.abs(b[i]));
    num += d * d;
    den += b[i] * b[i];
  }
  return { maxRel: maxB > 0 ? maxD / maxB : maxD, frobenius: den > 0 ? Math.sqrt(num / den) : Math.sqrt(num) };
}

/** `‖a − b‖_F / ‖b‖_F` ({@link relativeError}'s `frobenius`). */
export function relFrobenius(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return relativeError(a, b).frobenius;
}

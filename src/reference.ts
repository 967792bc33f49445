/**
 * `orthoptim/reference` — the float64 references the library's tests and benchmarks measure against:
 * plain-TypeScript matrices in double precision (`Matrix64`), a one-sided Jacobi SVD, the polar factor,
 * Newton–Schulz in float64, the composed quintic of a coefficient table, Householder QR, Cholesky and a
 * Haar-distributed orthogonal matrix. They run on the CPU in JavaScript, hold no tensors and register
 * nothing; they are slow by design (exact, not fast) and are no part of the training API in `orthoptim`.
 * The diagnostics built on them (`orthogonalityError`, `orthogonalityReport`) stay in `orthoptim`.
 * @packageDocumentation
 */
export * from './linalg/reference.js';
export { householderQ64, cholesky64, inverseTransposeLower64 } from './linalg/qr.js';
export { haarOrthogonal64 } from './nn/init.js';
export { symmetricEigenvalues64 } from './linalg/diagnostics.js';
export { dctMatrix64 } from './linalg/dct.js';

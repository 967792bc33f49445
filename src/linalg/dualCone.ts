/**
 * Projection onto the dual cone of a Jacobian's rows, in float64 on the host: the quadratic program
 * behind UPGrad and DualProj (Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization",
 * arXiv 2406.16232, Proposition 1; reference: TorchJD/torchjd `src/torchjd/aggregation/_utils/dual_cone.py`
 * and `_utils/gramian.py`, which solve the same QP with quadprog).
 *
 * For `J` (m×d, row i = gradient of objective i) with Gramian `G = J·Jᵀ` and a weight vector `u`, the
 * projection of `Jᵀu` onto the dual cone `{x : J·x ≥ 0}` is `Jᵀw` with
 * `w = argmin_v vᵀGv  s.t.  v ≥ u` (elementwise). `G` is m×m and m (the number of objectives) is small,
 * so the QP is solved here by projected cyclic coordinate descent (Gauss–Seidel on the box), as the spec
 * `seed-methods.md` A4 gives it: `v_k ← max(u_k, −Σ_{j≠k} G_kj v_j / G_kk)`, sweeping k = 0..m−1 until no
 * coordinate moves by more than `tolerance·max_k |v_k|` (1e-13 relative: the spec's absolute 1e-13 is the
 * same for its O(1) weights, and a relative test still terminates for a large `pref`, where 1e-13 would be
 * below one ulp). Each sweep is a descent step on a strictly convex
 * objective (G positive definite after {@link regularizeGramian}), so the iterates converge to the unique
 * minimiser from any feasible start; the rate degrades with the conditioning of G (≈ 1 − regEps·m per
 * sweep for duplicate objectives), hence a sweep cap: reaching it throws {@link DualConeProjectionError}
 * rather than returning an unconverged point. A zero diagonal entry (a zero row of J and `regEps = 0`)
 * leaves the objective independent of that coordinate; it stays at its bound.
 * @module
 */

/** Thrown when projected coordinate descent does not reach its tolerance within the sweep cap. */
export class DualConeProjectionError extends Error {
  constructor(
    readonly sweeps: number,
    readonly lastChange: number,
  ) {
    super(
      `dual-cone projection did not converge in ${sweeps} sweeps (last max |Δv| = ${lastChange}); ` +
        `the Gramian is too ill-conditioned: raise regEps or maxSweeps`,
    );
    this.name = 'DualConeProjectionError';
  }
}

/** Options of {@link projectWeights}. */
export interface ProjectWeightsOptions {
  /** Stop when a full sweep changes no coordinate by more than this times `max |v|` (default 1e-13). */
  readonly tolerance?: number;
  /** The most sweeps before {@link DualConeProjectionError} (default 100 000). */
  readonly maxSweeps?: number;
}

/**
 * `argmin_v vᵀGv s.t. v ≥ u` for the m×m row-major positive (semi)definite `gramian`, by projected cyclic
 * coordinate descent started at `v = u`. Returns `v` (length m).
 */
export function projectWeights(
  u: ArrayLike<number>,
  gramian: ArrayLike<number>,
  m: number,
  options: ProjectWeightsOptions = {},
): Float64Array {
  if (u.length !== m || gramian.length !== m * m) {
    throw new RangeError(`projectWeights: need u of length ${m} and an ${m}x${m} Gramian, got ${u.length} and ${gramian.length}`);
  }
  const tolerance = options.tolerance ?? 1e-13;
  const maxSweeps = options.maxSweeps ?? 100_000;
  const v = Float64Array.from(u);
  let change = Infinity;
  for (let sweep = 1; sweep <= maxSweeps; sweep++) {
    change = 0;
    let size = 0;
    for (let k = 0; k < m; k++) {
      const gkk = gramian[k * m + k];
      if (!(gkk > 0)) continue; // zero row: the objective does not depend on v_k; it stays at u_k
      let s = 0;
      for (let j = 0; j < m; j++) if (j !== k) s += gramian[k * m + j] * v[j];
      const next = Math.max(u[k], -s / gkk);
      change = Math.max(change, Math.abs(next - v[k]));
      v[k] = next;
    }
    for (let k = 0; k < m; k++) size = Math.max(size, Math.abs(v[k]));
    if (change <= tolerance * size) return v;
  }
  throw new DualConeProjectionError(maxSweeps, change);
}

/** `G = J·Jᵀ` in float64 for `rows` (m rows of length d). Row-major m×m. */
export function gramian64(rows: readonly ArrayLike<number>[]): Float64Array {
  const m = rows.length;
  const g = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = i; j < m; j++) {
      const a = rows[i];
      const b = rows[j];
      let s = 0;
      for (let k = 0; k < a.length; k++) s += a[k] * b[k];
      g[i * m + j] = s;
      g[j * m + i] = s;
    }
  }
  return g;
}

/**
 * TorchJD's `normalize`: `G / tr(G)` (the Gramian of `J/‖J‖_F`), or all zeros when `tr(G) < eps`
 * (a Jacobian too small to normalize). Returns a new array.
 */
export function normalizeGramian(gramian: ArrayLike<number>, m: number, eps: number): Float64Array {
  let trace = 0;
  for (let i = 0; i < m; i++) trace += gramian[i * m + i];
  const out = new Float64Array(m * m);
  if (trace < eps) return out;
  for (let i = 0; i < m * m; i++) out[i] = gramian[i] / trace;
  return out;
}

/** TorchJD's `regularize`: `G + eps·I` in place (makes a numerically semidefinite G definite). */
export function regularizeGramian(gramian: Float64Array, m: number, eps: number): Float64Array {
  for (let i = 0; i < m; i++) gramian[i * m + i] += eps;
  return gramian;
}

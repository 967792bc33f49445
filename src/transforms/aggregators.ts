/**
 * Jacobian aggregators: several gradients (one per objective) → one update direction, as TorchJD's
 * `aggregation/` package defines them (Quinton & Rey, "Jacobian Descent for Multi-Objective
 * Optimization", arXiv 2406.16232; reference TorchJD/torchjd `src/torchjd/aggregation/_upgrad.py`,
 * `_dualproj.py`, `_mean.py`, `_utils/dual_cone.py`, `_utils/gramian.py`).
 *
 * The input is a Jacobian `J` (m rows × d: row i is the gradient of objective i, flattened). All three
 * aggregators here are *Gramian-weighted*: the weights `w` (length m) depend on `J` only through
 * `G = J·Jᵀ`, and the direction is `Jᵀw`. Everything runs in float64 on the host: the QPs are m×m.
 *
 * These live in `transforms/` beside the other gradient transformations (DESIGN: "surgery (Bloop,
 * UPGrad)") and point down only, to `linalg/dualCone.ts` for the QP; they hold no state and know nothing
 * of variables or optimizers — `tfjs/jacobianDescent.ts` builds the Jacobian from losses and applies
 * the direction.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkKnownKeys, checkNumber, nonNegative, showValue } from '../core/options.js';
import { gramian64, normalizeGramian, projectWeights, regularizeGramian } from '../linalg/dualCone.js';

/**
 * A Jacobian: m rows of equal length d (arrays or Float64Arrays), or an m×d tensor (read back once and
 * widened to float64).
 */
export type JacobianInput = readonly ArrayLike<number>[] | tf.Tensor;

/** An aggregation: the direction `Jᵀw` (length d) and the weights `w` (length m). */
export interface Aggregation {
  readonly direction: Float64Array;
  readonly weights: Float64Array;
}

/** A Gramian-weighted Jacobian aggregator. */
export interface Aggregator {
  /** The aggregator's name, for messages (`'upgrad'`, `'dualProj'`, `'mean'`). */
  readonly name: string;
  /** The weights `w` (length m) from the row-major m×m Gramian `G = J·Jᵀ`. */
  weighting(gramian: ArrayLike<number>, m: number): Float64Array;
  /** `J ↦ {direction: Jᵀw, weights: w}`. */
  aggregate(jacobian: JacobianInput): Aggregation;
}

/** Options of {@link upgrad} and {@link dualProj} (TorchJD's names in camelCase). */
export interface DualConeAggregatorOptions {
  /**
   * Preference weights `u` (length m, used as given: not normalized). Default: `1/m` each. UPGrad
   * projects each `u_i·J_i` onto the dual cone and sums; DualProj projects `Jᵀu`.
   */
  readonly pref?: readonly number[];
  /** The Gramian is normalized by its trace, or set to 0 when the trace is below this (default 1e-4). */
  readonly normEps?: number;
  /** Added to the diagonal of the normalized Gramian to make it positive definite (default 1e-4). */
  readonly regEps?: number;
  /** Coordinate descent stops when no weight moves by more than this × max|w| in a sweep (default 1e-13). */
  readonly tolerance?: number;
  /** The most coordinate-descent sweeps per QP before `DualConeProjectionError` (default 100 000). */
  readonly maxSweeps?: number;
}

const dualConeKeys = ['pref', 'normEps', 'regEps', 'tolerance', 'maxSweeps'];

/** The Jacobian's rows in float64 and its width d (every row checked to have it). */
function jacobianRows(owner: string, jacobian: JacobianInput): { rows: Float64Array[]; d: number } {
  if (jacobian instanceof tf.Tensor) {
    if (jacobian.rank !== 2) throw new RangeError(`${owner}: the Jacobian must be an m×d matrix, got shape [${jacobian.shape.join(', ')}]`);
    const [m, d] = jacobian.shape as [number, number];
    const data = jacobian.dataSync();
    const rows: Float64Array[] = [];
    for (let i = 0; i < m; i++) rows.push(Float64Array.from(data.subarray(i * d, (i + 1) * d)));
    return { rows, d };
  }
  if (!Array.isArray(jacobian)) throw new TypeError(`${owner}: the Jacobian must be an array of rows or a 2-D tensor, got ${showValue(jacobian)}`);
  const d = jacobian.length === 0 ? 0 : jacobian[0].length;
  const rows = jacobian.map((r: ArrayLike<number>, i) => {
    if (r.length !== d) throw new RangeError(`${owner}: Jacobian row ${i} has length ${r.length}, row 0 has ${d}`);
    return Float64Array.from(r);
  });
  return { rows, d };
}

function gramianAggregator(name: string, weighting: (gramian: ArrayLike<number>, m: number) => Float64Array): Aggregator {
  return {
    name,
    weighting,
    aggregate(jacobian) {
      const { rows, d } = jacobianRows(name, jacobian);
      if (rows.length === 0) throw new RangeError(`${name}: the Jacobian has no rows (no objectives)`);
      const weights = weighting(gramian64(rows), rows.length);
      const direction = new Float64Array(d);
      rows.forEach((row, i) => {
        const w = weights[i];
        for (let k = 0; k < d; k++) direction[k] += w * row[k];
      });
      return { direction, weights };
    },
  };
}

function resolveDualCone(owner: string, options: DualConeAggregatorOptions) {
  checkKnownKeys(owner, options, dualConeKeys);
  const normEps = checkNumber(owner, 'normEps', options.normEps ?? 1e-4, nonNegative);
  const regEps = checkNumber(owner, 'regEps', options.regEps ?? 1e-4, nonNegative);
  const tolerance = checkNumber(owner, 'tolerance', options.tolerance ?? 1e-13, { min: 0, minInclusive: false });
  const maxSweeps = checkNumber(owner, 'maxSweeps', options.maxSweeps ?? 100_000, { min: 1, integer: true });
  const pref = options.pref === undefined ? undefined : Float64Array.from(options.pref);
  if (pref !== undefined) {
    if (pref.length === 0 || !pref.every(Number.isFinite)) {
      throw new RangeError(`${owner}: pref must be a non-empty array of finite numbers, got ${showValue(options.pref)}`);
    }
  }
  /** `u` for m objectives, and the normalized, regularized Gramian. */
  const prepare = (gramian: ArrayLike<number>, m: number) => {
    if (pref !== undefined && pref.length !== m) {
      throw new RangeError(`${owner}: pref has ${pref.length} weights for ${m} objectives`);
    }
    const u = pref ?? new Float64Array(m).fill(1 / m);
    const g = regularizeGramian(normalizeGramian(gramian, m, normEps), m, regEps);
    return { u, g };
  };
  return { prepare, qp: { tolerance, maxSweeps } };
}

/**
 * UPGrad (unconflicting projection of gradients; Quinton & Rey 2024, Algorithm/Eq. 4; TorchJD `UPGrad`).
 * With `G` the Gramian normalized by its trace (0 when `tr G < normEps`) plus `regEps·I` and `u` the
 * preference weights, each objective's weighted gradient `u_i·J_i` is projected onto the dual cone
 * `{x : J·x ≥ 0}`: `w⁽ⁱ⁾ = argmin_v vᵀGv s.t. v ≥ u_i·e_i`; then `w = Σ_i w⁽ⁱ⁾` and the direction is `Jᵀw`.
 * The direction conflicts with no objective (`J·Jᵀw ≥ 0` up to `regEps`), equals `Jᵀu` (the mean by
 * default) when no two gradients conflict, and is linear in positive row scalings.
 */
export function upgrad(options: DualConeAggregatorOptions = {}): Aggregator {
  const { prepare, qp } = resolveDualCone('upgrad', options);
  return gramianAggregator('upgrad', (gramian, m) => {
    const { u, g } = prepare(gramian, m);
    const w = new Float64Array(m);
    const ui = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      ui.fill(0);
      ui[i] = u[i];
      const wi = projectWeights(ui, g, m, qp);
      for (let k = 0; k < m; k++) w[k] += wi[k];
    }
    return w;
  });
}

/**
 * DualProj (TorchJD `DualProj`; the projection of Gradient Episodic Memory, Lopez-Paz & Ranzato 2017,
 * Eq. 11): the weighted mean `Jᵀu` itself is projected onto the dual cone, one QP
 * `w = argmin_v vᵀGv s.t. v ≥ u` with the same normalized, regularized `G` as {@link upgrad}.
 */
export function dualProj(options: DualConeAggregatorOptions = {}): Aggregator {
  const { prepare, qp } = resolveDualCone('dualProj', options);
  return gramianAggregator('dualProj', (gramian, m) => {
    const { u, g } = prepare(gramian, m);
    return projectWeights(u, g, m, qp);
  });
}

/** The mean of the gradients (TorchJD `Mean`): `w = 1/m` each, direction `Jᵀw`. */
export function mean(): Aggregator {
  return gramianAggregator('mean', (_gramian, m) => new Float64Array(m).fill(1 / m));
}

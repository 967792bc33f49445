/**
 * The Newton–Schulz view's numbers: the input matrices, and for each coefficient table the singular
 * values of the library's own `newtonSchulz` output after 0, 1, …, T iterations (each a fresh call with
 * `steps: k`, so what is shown is exactly what Muon computes on this backend), its orthogonality error
 * and its distance to the float64 polar factor (`orthogonalityReport`, `svd64`/`polar64` of
 * src/linalg/reference.ts), and the time per iteration on the page's backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { coefficientTable, coefficientsAt, newtonSchulz, orthogonalityReport, type CoefficientTable, type QuinticCoefficients } from '../../src/index.js';
import { haarOrthogonal64, matmul64, matrix64, quinticCompose, singularValues64, transpose64 } from '../../src/reference.js';
import { deriveSeed, gaussianArray, mulberry32 } from '../../src/core/random.js';
import { parseCustomRows, type MatrixKind, type TableName } from './settings.js';

/** A row-major float32 matrix. */
export interface HostMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
  readonly label: string;
}

/**
 * The test matrices: 'gaussian' (i.i.d. N(0,1)); 'illConditioned' (Haar U·diag(σ)·Vᵀ with σ spread
 * log-uniformly over 1…1e-4, condition number 1e4); 'lowRank' (rank ⌈k/8⌉ Gaussian product plus 1e-3
 * Gaussian noise, the shape of a typical gradient). 'gradient' comes from the race (see raceCore).
 */
export function makeMatrix(kind: Exclude<MatrixKind, 'gradient'>, rows: number, cols: number, seed: number): HostMatrix {
  const rand = mulberry32(deriveSeed(seed, `playground/${kind}`));
  const k = Math.min(rows, cols);
  if (kind === 'gaussian') return { rows, cols, data: gaussianArray(rows * cols, 1, rand), label: `Gaussian ${rows}×${cols}` };
  if (kind === 'illConditioned') {
    const u = matrix64(rows, k, haarOrthogonal64(rows, k, rand));
    const v = matrix64(cols, k, haarOrthogonal64(cols, k, rand));
    for (let j = 0; j < k; j++) {
      const s = 10 ** (-4 * (k === 1 ? 0 : j / (k - 1)));
      for (let i = 0; i < rows; i++) u.data[i * k + j] *= s;
    }
    return { rows, cols, data: Float32Array.from(matmul64(u, transpose64(v)).data), label: `ill-conditioned ${rows}×${cols} (κ = 1e4)` };
  }
  const r = Math.max(1, Math.ceil(k / 8));
  const a = matrix64(rows, r, gaussianArray(rows * r, 1, rand));
  const b = matrix64(r, cols, gaussianArray(r * cols, 1, rand));
  const p = matmul64(a, b).data;
  const noise = gaussianArray(rows * cols, 1e-3 * Math.sqrt(r), rand);
  return { rows, cols, data: Float32Array.from(p, (x, i) => x + noise[i]), label: `low-rank ${rows}×${cols} (rank ${r} + 1e-3 noise)` };
}

export const tableLabels: Record<TableName, string> = {
  jordan: 'Jordan ×5',
  you: 'You (5 rows)',
  polarExpress5: 'Polar Express 5',
  polarExpress8: 'Polar Express 8',
  turbo: 'Turbo (AOL + 4)',
  root: 'ROOT (per shape)',
  custom: 'your rows',
};

/** The coefficient table a name stands for at this shape (ROOT picks by shape; 'custom' parses the rows). */
export function tableFor(name: TableName, rows: number, cols: number, custom: string): CoefficientTable {
  if (name === 'custom') return coefficientTable(parseCustomRows(custom), 'playground');
  const t = coefficientTable(name, 'playground');
  return t.perShape === undefined ? t : t.perShape(rows, cols);
}

export interface TableRun {
  readonly name: TableName;
  readonly label: string;
  readonly steps: number;
  /** The rows applied, one per step. */
  readonly rows: QuinticCoefficients[];
  /** Singular values (descending) after 0…steps iterations; [0] is the normalized (or AOL-scaled) input. */
  readonly sigmas: number[][];
  /** ‖XXᵀ − I‖_F/√k after 0…steps iterations. */
  readonly orthogonalityError: number[];
  /** ‖X − polar(G)‖_F/‖polar(G)‖_F after 0…steps iterations (polar(G) in float64). */
  readonly polarDistance: number[];
  readonly msPerIteration: number;
  readonly aol: boolean;
  readonly error?: string;
}

export interface NsResult {
  readonly matrix: string;
  readonly backend: string;
  /** Singular values of the input itself, descending. */
  readonly inputSigmas: number[];
  readonly tables: TableRun[];
}

/** The composed scalar map p_T∘…∘p_1 on a log grid of σ ∈ [1e-4, 1.2]. */
export function composedCurve(rows: readonly QuinticCoefficients[], points = 160): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < points; i++) {
    const s = 10 ** (-4 + (i / (points - 1)) * (4 + Math.log10(1.2)));
    out.push([s, quinticCompose(rows, s)]);
  }
  return out;
}

async function timePerIteration(x: tf.Tensor2D, coefficients: CoefficientTable, steps: number): Promise<number> {
  if (steps === 0) return 0;
  const once = async () => {
    const y = newtonSchulz(x, { coefficients, steps });
    await y.data();
    y.dispose();
  };
  await once();
  const reps = 5;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await once();
  return (performance.now() - t0) / reps / steps;
}

/** Runs every table on `m`; `steps` 0 means each table's default. Yields to the page between tables. */
export async function runNewtonSchulz(m: HostMatrix, names: readonly TableName[], steps: number, custom: string): Promise<NsResult> {
  const x = tf.tensor2d(m.data, [m.rows, m.cols]);
  const inputSigmas = Array.from(singularValues64(matrix64(m.rows, m.cols, m.data)));
  const tables: TableRun[] = [];
  try {
    for (const name of names) {
      let table: CoefficientTable;
      try {
        table = tableFor(name, m.rows, m.cols, custom);
      } catch (e) {
        tables.push({ name, label: tableLabels[name], steps: 0, rows: [], sigmas: [], orthogonalityError: [], polarDistance: [], msPerIteration: 0, aol: false, error: (e as Error).message });
        continue;
      }
      const T = steps > 0 ? steps : table.defaultSteps;
      const sigmas: number[][] = [];
      const orth: number[] = [];
      const polar: number[] = [];
      for (let k = 0; k <= T; k++) {
        const y = newtonSchulz(x, { coefficients: table, steps: k }) as tf.Tensor2D;
        const values = await y.data();
        const report = orthogonalityReport(y, x);
        y.dispose();
        sigmas.push(Array.from(singularValues64(matrix64(m.rows, m.cols, values))));
        orth.push(report.orthogonalityError);
        polar.push(report.polarDistance ?? Number.NaN);
      }
      const msPerIteration = await timePerIteration(x, table, T);
      tables.push({
        name,
        label: tableLabels[name],
        steps: T,
        rows: Array.from({ length: T }, (_, i) => coefficientsAt(table, i)),
        sigmas,
        orthogonalityError: orth,
        polarDistance: polar,
        msPerIteration,
        aol: table.precondition === 'aol',
      });
      await tf.nextFrame();
    }
  } finally {
    x.dispose();
  }
  return { matrix: m.label, backend: tf.getBackend(), inputSigmas, tables };
}

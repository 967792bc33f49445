/**
 * Projection quality of the SVD-free low-rank projectors on real gradients (issue 13, the claim
 * "DCT column selection matches SVD projection quality without an SVD"): for the hidden-layer gradients
 * of the fashion-mnist-mlp task at a few points of an Adam run, the relative error
 * `‖G − G·P·Pᵀ‖_F / ‖G‖_F` of a rank-r projector P (n×r, on the matrix's smaller side n) chosen by
 *
 * - DCT top-k column selection (`selectDctColumns`, linalg/dct.ts — Modoranu et al., "SVD-Free Low-Rank
 *   Adaptive Gradient Optimization for Large Language Models", arXiv 2505.17967; IST-DASLab/ISTA-DASLab-Optimizers
 *   `fft_low_rank/fft_projector.py` `change_subspace`, `sim_type = 'matmul'`, ℓ1 scores),
 * - the seeded randomized range finder (`rangeFinder`, linalg/rangeFinder.ts — Halko, Martinsson & Tropp
 *   2011, Algorithm 4.4 with q = 2, p = 5, the projector GaLore and OSD use here),
 * - the float64 SVD (`svd64`, linalg/reference.ts): the optimum, `(Σ_{j>r} σ_j²)^{1/2} / ‖G‖_F`
 *   (Eckart–Young), its time that of the float64 one-sided Jacobi SVD on the host,
 *
 * at ranks n/8 and n/4, with the time of each (median of `repeats` calls after one warm-up; the DCT
 * basis is cached per n, as in DCT-AdamW, and built before timing; the SVD is timed once).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { dctBasis, selectDctColumns } from '../../linalg/dct.js';
import { RANGE_FINDER_DEFAULTS, rangeFinder } from '../../linalg/rangeFinder.js';
import { matrix64, svd64 } from '../../linalg/reference.js';
import { mulberry32 } from '../../core/random.js';
import { getTask } from '../tasks/index.js';

/** One gradient matrix at one rank. */
export interface ProjectionRow {
  /** Adam steps taken before this gradient was read. */
  step: number;
  param: string;
  rows: number;
  cols: number;
  rank: number;
  /** Relative projection errors ‖G − G·P·Pᵀ‖_F / ‖G‖_F. */
  dctError: number;
  rangeFinderError: number;
  /** The optimum (float64 SVD, Eckart–Young). */
  svdError: number;
  /** Milliseconds to choose P. */
  dctMs: number;
  rangeFinderMs: number;
  svdMs: number;
}

/** `projection/measurement.json` in a claims results folder. */
export interface ProjectionSummary {
  format: 'orthoptim-projection/1';
  task: string;
  model: string;
  backend: string;
  /** How the gradients were made, in words. */
  setting: string;
  rows: ProjectionRow[];
}

export interface ProjectionOptions {
  /** Adam steps after which gradients are read (default [0, 100]). */
  steps?: readonly number[];
  /** Rank fractions of n (default [1/8, 1/4]). */
  fractions?: readonly number[];
  /** Examples per gradient (default 1024: a batch-b gradient has rank ≤ b, and b ≤ n/4 would make rank n/4 exact). */
  batch?: number;
  repeats?: number;
  seed?: number;
  dataDir?: string;
  download?: boolean;
  onProgress?: (message: string) => void;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median wall time of `f` (whose result is read back, so the backend has finished) over `repeats` calls. */
function timeIt(f: () => tf.Tensor, repeats: number): number {
  tf.tidy(() => void f().dataSync());
  const ms: number[] = [];
  for (let i = 0; i < repeats; i++) {
    tf.tidy(() => {
      const t0 = performance.now();
      f().dataSync();
      ms.push(performance.now() - t0);
    });
  }
  return median(ms);
}

/** ‖G − G·P·Pᵀ‖_F / ‖G‖_F for P (n×r) with orthonormal columns, G (m×n). */
function relativeError(g: tf.Tensor2D, p: tf.Tensor2D): number {
  return tf.tidy(() => {
    const residual = tf.sub(g, tf.matMul(tf.matMul(g, p), tf.transpose(p)));
    return Math.sqrt(tf.sum(tf.square(residual)).dataSync()[0] / tf.sum(tf.square(g)).dataSync()[0]);
  });
}

/**
 * Runs the measurement: Adam (tf.train.adam, lr 1e-3) on fashion-mnist-mlp, batch `batch`; at each step
 * of `steps` the gradient of one batch is read for every hidden matrix (transposed when it is wide so
 * that the projected side is its smaller one), and every projector is measured on it.
 */
export async function runProjection(options: ProjectionOptions = {}): Promise<ProjectionSummary> {
  const steps = [...(options.steps ?? [0, 100])].sort((a, b) => a - b);
  const fractions = options.fractions ?? [1 / 8, 1 / 4];
  const batch = options.batch ?? 1024;
  const repeats = options.repeats ?? 3;
  const seed = options.seed ?? 0;
  const log = options.onProgress ?? (() => undefined);
  const task = getTask('fashion-mnist-mlp');
  const instance = await task.load({ seed, dataDir: options.dataDir, download: options.download });
  const inits = instance.initialParams(seed);
  const params = inits.map((p) => tf.variable(tf.tensor(p.values, p.shape), true, `projection/${p.name}`));
  const hidden = inits.map((p, i) => ({ p, i })).filter(({ p }) => p.role === 'hidden' && p.shape.length === 2);
  const adam = tf.train.adam(1e-3);
  const random = mulberry32(seed + 1);
  const draw = (): Uint32Array => Uint32Array.from({ length: batch }, () => Math.floor(random() * instance.trainCount));
  const gradients = (): tf.Tensor[] => {
    const b = instance.batch(draw());
    const { value, grads } = tf.variableGrads(() => instance.loss(params, b), params);
    value.dispose();
    for (const t of b.tensors) t.dispose();
    return params.map((v) => grads[v.name]);
  };
  const rows: ProjectionRow[] = [];
  let done = 0;
  try {
    for (const at of steps) {
      for (; done < at; done++) {
        const g = gradients();
        adam.applyGradients(params.map((v, i) => ({ name: v.name, tensor: g[i] })));
        tf.dispose(g);
      }
      const g = gradients();
      for (const { p, i } of hidden) {
        const wide = p.shape[0] < p.shape[1];
        const m = tf.tidy(() => (wide ? tf.transpose(g[i]) : g[i].clone()) as tf.Tensor2D);
        const [rowsM, n] = m.shape;
        const host = m.dataSync();
        const t0 = performance.now();
        const { s } = svd64(matrix64(rowsM, n, host));
        const svdMs = performance.now() - t0;
        const total = s.reduce((a, x) => a + x * x, 0);
        const q = dctBasis(n);
        for (const f of fractions) {
          const rank = Math.max(1, Math.round(n * f));
          let tail = 0;
          for (let j = rank; j < s.length; j++) tail += s[j] * s[j];
          const dct = (): tf.Tensor2D => tf.gather(q, selectDctColumns(m, q, rank, 'columns').indices, 1) as tf.Tensor2D;
          const rf = (): tf.Tensor2D => rangeFinder(tf.transpose(m), rank, { ...RANGE_FINDER_DEFAULTS, seed: seed + 7 });
          const row: ProjectionRow = {
            step: at,
            param: p.name,
            rows: p.shape[0],
            cols: p.shape[1],
            rank,
            dctError: tf.tidy(() => relativeError(m, dct())),
            rangeFinderError: tf.tidy(() => relativeError(m, rf())),
            svdError: total > 0 ? Math.sqrt(tail / total) : 0,
            dctMs: timeIt(dct, repeats),
            rangeFinderMs: timeIt(rf, repeats),
            svdMs,
          };
          rows.push(row);
          log(
            `step ${at} ${p.name} ${p.shape.join('×')} rank ${rank}: error dct ${row.dctError.toFixed(4)}, range finder ${row.rangeFinderError.toFixed(4)}, ` +
              `svd ${row.svdError.toFixed(4)}; ms ${row.dctMs.toFixed(1)} / ${row.rangeFinderMs.toFixed(1)} / ${row.svdMs.toFixed(0)}`,
          );
        }
        m.dispose();
      }
      tf.dispose(g);
    }
  } finally {
    tf.dispose(params);
    adam.dispose();
    instance.dispose();
  }
  return {
    format: 'orthoptim-projection/1',
    task: task.name,
    model: instance.model,
    backend: tf.getBackend(),
    setting:
      `hidden-matrix gradients (batch ${batch}) of ${task.name} (${instance.model}) after ${steps.join(', ')} steps of Adam (lr 1e-3), ` +
      `projected on the smaller side n at ranks ${fractions.map((f) => `n/${Math.round(1 / f)}`).join(', ')}; time: median of ${repeats} (SVD: once)`,
    rows,
  };
}

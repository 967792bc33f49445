/**
 * `npm run bench:ns`, section "every orthogonalizer": the library's orthogonalizers side by side on the
 * wasm backend — speed on the benchmark shapes and quality against the float64 polar factor.
 *
 * Methods: Newton–Schulz with Jordan's coefficients ×5 (`newtonSchulz(x)`, the baseline every ratio is
 * taken to), You's ×5 (`coefficients: 'you'`), Polar Express 5 (`'polarExpress5'`), Turbo-Muon's AOL
 * preconditioning + You's last 4 rows ×4 (`'turbo'`), ROOT's per-shape table (`'root'`: its published
 * rows cover 2048-wide shapes only and fall back to Jordan's table elsewhere), and one Dion step
 * (`dionStep`, one power iteration from a random N(0, 1) Q, CholeskyQR2) at rank ¼ and ½ of min(m, n),
 * whose output is the rank-r direction `P·Qᵀ`.
 *
 * Timing: one round calls every method once, in an order rotated each round; every call gets a fresh
 * copy of the input (and of Dion's Q), made untimed, because tfjs-wasm caches XNNPACK's packed right
 * operand per tensor and an optimizer never orthogonalizes the same tensor twice. Repeats are sized from
 * the warm-up round to the section's budget (at least `minRepeats`); a shape whose round is predicted
 * (from the best GFLOP/s of the shapes before) above `heavyRoundMs` gets a light warm-up (one step of each NS
 * variant, one Dion step each) and one predicted above `maxRoundMs` is skipped with the reason.
 * Effective GFLOP/s use the spec's counts (muon-family.md §13.1/§13.2): NS `steps·(4k²n + 2k³)`,
 * Dion `8mnr` plus its CholeskyQR2 (`8·p·r²` on the backend for the p×r factor P, `4r³/3` on the host).
 * The orthogonality error of each method's last timed output (Gaussian input of that shape) is recorded.
 *
 * Quality: float64 SVDs are O(k²n) per sweep in plain JS, so quality is measured once, on moderate
 * sizes (default 128×512 and 256×256), not per timing shape: a Gaussian input and an ill-conditioned
 * `G = U·diag(1/i)·Vᵀ` built in float64 (U, V Householder Q factors of Gaussian matrices), each rounded
 * to float32 once, and the reference SVD taken of exactly those float32 values. Per method: `‖XXᵀ−I‖_F/√k`
 * and `[σ_min, σ_max]` (`orthogonalityReport`), `‖X − UVᵀ‖_F/‖UVᵀ‖_F` with `UVᵀ` the polar factor from
 * `svd64` (what `polar64` computes; one SVD per input serves every method and Dion's rank-r part), and
 * for Dion the range of its r non-zero singular values and `‖X − U_rV_rᵀ‖_F/‖U_rV_rᵀ‖_F`, the distance to
 * the polar factor of G's best rank-r approximation (what Dion's power iteration converges to).
 *
 * Expectations checked and printed: Turbo's 4 steps ≥ 1.2× faster than Jordan's 5 at equal or better
 * orthogonality error; Dion at rank ¼ ≥ 4× cheaper than Newton–Schulz on square matrices.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  newtonSchulz,
  resolveNewtonSchulz,
  rootCoefficientTable,
  setStabilityWarningHandler,
  type NewtonSchulzOptions,
  type ResolvedNewtonSchulz,
} from '../src/index.js';
import { gaussian64 } from '../src/bench/inputs.js';
import { standardFlops } from '../src/linalg/flops.js';
import { relFrobenius } from '../src/bench/relativeError.js';
import { verdictOf, type Verdict } from '../src/bench/verdict.js';
import { orthogonalityError, orthogonalityReport } from '../src/linalg/diagnostics.js';
import { householderQ64 } from '../src/linalg/qr.js';
import { matrix64, singularValues64, svd64 } from '../src/linalg/reference.js';
import { dionLayout, dionRank, dionStep, type DionStepOptions } from '../src/transforms/dion.js';
import { formatMs, measureRounds, now, repeatsFor, sync, timeOnce } from './timing.js';
import { type Stats } from '../src/bench/stats.js';
import { formatTable } from '../src/bench/table.js';

/** `[rows, cols]` of a matrix, TensorFlow.js layout `[fanIn, fanOut]`. */
type Shape = readonly [number, number];

/** The orthogonalizers timed. */
export type OrthoMethodId = 'jordan' | 'you' | 'polarExpress5' | 'turbo' | 'root' | 'dionQuarter' | 'dionHalf';

/** A method of the quality table: the timed ones, plus ROOT's 2048×2048 row forced on the small inputs. */
export type QualityMethodId = OrthoMethodId | 'rootRow2048' | 'dionQuarterIters8';

interface NsMethod {
  readonly kind: 'ns';
  readonly id: QualityMethodId;
  readonly label: string;
  readonly options: NewtonSchulzOptions;
}

interface DionMethod {
  readonly kind: 'dion';
  readonly id: 'dionQuarter' | 'dionHalf' | 'dionQuarterIters8';
  readonly label: string;
  readonly rankFraction: number;
  /** Power iterations (default {@link dionBenchOptions}'s 1). */
  readonly powerIters?: number;
}

type Method = NsMethod | DionMethod;

/** Dion's per-step settings: microsoft/dion's defaults (μ 0.95, ε 1e-8, 1 power iteration), the library's QR. */
export const dionBenchOptions: Omit<DionStepOptions, 'pSide'> = { mu: 0.95, epsilon: 1e-8, powerIters: 1, qrMethod: 'cholesky' };

const METHODS: readonly Method[] = [
  { kind: 'ns', id: 'jordan', label: 'Jordan ×5', options: {} },
  { kind: 'ns', id: 'you', label: 'You ×5', options: { coefficients: 'you' } },
  { kind: 'ns', id: 'polarExpress5', label: 'Polar Express 5', options: { coefficients: 'polarExpress5' } },
  { kind: 'ns', id: 'turbo', label: 'Turbo AOL ×4', options: { coefficients: 'turbo' } },
  { kind: 'ns', id: 'root', label: 'ROOT ×5', options: { coefficients: 'root' } },
  { kind: 'dion', id: 'dionQuarter', label: 'Dion r = ¼', rankFraction: 0.25 },
  { kind: 'dion', id: 'dionHalf', label: 'Dion r = ½', rankFraction: 0.5 },
];

/** Every timed method id, in table order. */
export const orthoMethodIds: readonly OrthoMethodId[] = METHODS.map((m) => m.id as OrthoMethodId);

/** Settings of the section. */
export interface OrthoBenchConfig {
  /** Timing shapes. */
  readonly shapes: readonly Shape[];
  /** Unrecorded full rounds per shape (the last one sizes the repeats), unless the shape is heavy. */
  readonly warmup: number;
  readonly minRepeats: number;
  readonly maxRepeats: number;
  /** Target wall time of the timing part (ms), split over the shapes still to run. */
  readonly budgetMs: number;
  /** A shape whose round is predicted above this gets a light warm-up instead of full rounds. */
  readonly heavyRoundMs: number;
  /** A shape whose round is predicted above this is skipped (and the report says so). */
  readonly maxRoundMs: number;
  /** Quality inputs' shapes (each measured on a Gaussian and an ill-conditioned input). */
  readonly qualityShapes: readonly Shape[];
  readonly seed: number;
}

/** Full run: the spec's shapes plus 2048×2048, where ROOT's table is its own. */
export const fullOrthoConfig: OrthoBenchConfig = {
  shapes: [
    [256, 256],
    [1024, 1024],
    [768, 3072],
    [2048, 2048],
  ],
  warmup: 1,
  minRepeats: 3,
  maxRepeats: 15,
  budgetMs: 150_000,
  heavyRoundMs: 20_000,
  maxRoundMs: 150_000,
  qualityShapes: [
    [128, 512],
    [256, 256],
  ],
  seed: 42,
};

/** `--quick`: one small shape, small quality inputs. */
export const quickOrthoConfig: OrthoBenchConfig = {
  shapes: [[256, 256]],
  warmup: 1,
  minRepeats: 2,
  maxRepeats: 3,
  budgetMs: 3_000,
  heavyRoundMs: 20_000,
  maxRoundMs: 60_000,
  qualityShapes: [
    [64, 256],
    [128, 128],
  ],
  seed: 42,
};

/** How Dion lays out a matrix of this shape (dion_reference's tall orientation) and its rank. */
export function dionSetup(shape: Shape, rankFraction: number): { pSide: 'rows' | 'cols'; pDim: number; qDim: number; rank: number } {
  const layout = dionLayout(shape, 'tall');
  const rank = dionRank(layout.fanIn, layout.fanOut, { rankFraction, rankMultipleOf: 1, rank: null });
  const pDim = layout.pSide === 'cols' ? layout.fanOut : layout.fanIn;
  return { pSide: layout.pSide, pDim, qDim: layout.qDim, rank };
}

/**
 * Flops of one call (spec §13.1/§13.2, dense GEMM = 2mnk): NS `steps·(4k²n + 2k³)`; Dion
 * `8mnr` (B·Q, Bᵀ·P, P·Rᵀ, P·Qᵀ) + CholeskyQR2 of the p×r factor P (two passes of a Gram matrix and
 * `P·L⁻ᵀ`: `8pr²`) + the host Cholesky and triangular inverse (`4r³/3`).
 */
export function orthoFlops(method: Method, shape: Shape): number {
  if (method.kind === 'ns') return standardFlops(shape[0], shape[1], resolveNewtonSchulz(method.options).steps);
  const { pDim, rank: r } = dionSetup(shape, method.rankFraction);
  return 8 * shape[0] * shape[1] * r + 8 * pDim * r * r + (4 / 3) * r ** 3;
}

/** A method ready to run: NS options resolved (outside the timer), Dion's layout. */
interface Prepared {
  readonly method: Method;
  readonly ns: ResolvedNewtonSchulz | null;
  readonly dion: ReturnType<typeof dionSetup> | null;
}

function prepare(method: Method, shape: Shape): Prepared {
  return method.kind === 'ns'
    ? { method, ns: resolveNewtonSchulz(method.options, 'bench:ns'), dion: null }
    : { method, ns: null, dion: dionSetup(shape, method.rankFraction) };
}

/** Runs a method once: NS → `[X]`; Dion → `[momentum, Q, direction]`. The last tensor is the output. */
function apply(p: Prepared, x: tf.Tensor2D, q: tf.Tensor2D | null): tf.Tensor2D[] {
  if (p.ns !== null) return [newtonSchulz(x, p.ns) as tf.Tensor2D];
  return tf.tidy(() => {
    const powerIters = p.method.kind === 'dion' ? (p.method.powerIters ?? dionBenchOptions.powerIters) : 1;
    const o = dionStep(x, q!, { ...dionBenchOptions, powerIters, pSide: p.dion!.pSide });
    return [o.momentum, o.q, o.direction];
  });
}

/** One method's timing on one shape. */
export interface OrthoTiming {
  readonly id: OrthoMethodId;
  readonly label: string;
  /** NS steps (Dion: power iterations). */
  readonly steps: number;
  /** Dion's rank r; null for NS. */
  readonly rank: number | null;
  /** For ROOT: the table its shape rule picked (`jordan` = the fallback); else null. */
  readonly table: string | null;
  readonly flops: number;
  readonly ms: Stats;
  readonly gflops: number;
  /** Median ÷ Jordan ×5's median on the same shape (< 1: faster). */
  readonly ratioToJordan: number;
  /** Min ÷ Jordan's min (least disturbed by other load). */
  readonly ratioOfMinsToJordan: number;
  /** `‖XXᵀ − I‖_F/√k` of the last timed output (Gaussian input of this shape). */
  readonly orthogonalityError: number;
}

/** The section's result for one shape. */
export type OrthoShapeResult =
  | {
      readonly status: 'measured';
      readonly shape: Shape;
      readonly k: number;
      readonly n: number;
      readonly repeats: number;
      readonly warmup: 'rounds' | 'light';
      readonly warmupMs: number;
      readonly predictedRoundMs: number | null;
      readonly methods: OrthoTiming[];
      readonly wallMs: number;
    }
  | { readonly status: 'skipped'; readonly shape: Shape; readonly reason: string; readonly predictedRoundMs: number };

/** Times every method on one shape within `budgetMs`. */
export async function benchOrthoShape(
  shape: Shape,
  config: OrthoBenchConfig,
  budgetMs: number,
  predictedRoundMs: number | null,
  log: (msg: string) => void = () => {},
): Promise<OrthoShapeResult> {
  const start = now();
  const name = shape.join('x');
  const prepared = METHODS.map((m) => prepare(m, shape));
  const input = tf.randomNormal([shape[0], shape[1]], 0, 1, 'float32', config.seed) as tf.Tensor2D;
  const qs = prepared.map((p, i) =>
    p.dion === null ? null : (tf.randomNormal([p.dion.qDim, p.dion.rank], 0, 1, 'float32', config.seed + 1 + i) as tf.Tensor2D),
  );
  const last: (tf.Tensor2D | null)[] = prepared.map(() => null);

  // One call on fresh copies of the operands (made and finished before the timer starts).
  const call = async (i: number, p: Prepared = prepared[i]): Promise<number> => {
    const x = tf.add(input, 0) as tf.Tensor2D;
    const q = qs[i] === null ? null : (tf.add(qs[i]!, 0) as tf.Tensor2D);
    await sync(q === null ? [x] : [x, q]);
    const { ms, out } = await timeOnce(() => apply(p, x, q), true);
    tf.dispose(q === null ? [x] : [x, q]);
    const outs = out!;
    tf.dispose(outs.slice(0, -1));
    if (p === prepared[i]) {
      tf.dispose(last[i] ?? []);
      last[i] = outs[outs.length - 1];
    } else {
      tf.dispose(outs[outs.length - 1]);
    }
    return ms;
  };
  let roundIndex = 0;
  const round = async (): Promise<Record<string, number>> => {
    const times: Record<string, number> = {};
    const shift = roundIndex++ % prepared.length;
    for (let j = 0; j < prepared.length; j++) {
      const i = (j + shift) % prepared.length;
      times[prepared[i].method.id] = await call(i);
    }
    return times;
  };

  try {
    const heavy = predictedRoundMs !== null && predictedRoundMs > config.heavyRoundMs;
    let warmRound = 0;
    const w0 = now();
    if (heavy) {
      // Grow wasm memory and meet every product shape once: one step of each NS variant, each Dion step.
      for (let i = 0; i < prepared.length; i++) {
        const p = prepared[i];
        const light = p.ns === null ? p : { ...p, ns: { ...p.ns, steps: 1 } };
        await call(i, light);
      }
      warmRound = predictedRoundMs;
    } else {
      for (let i = 0; i < Math.max(1, config.warmup); i++) {
        const t0 = now();
        await round();
        warmRound = now() - t0;
      }
    }
    const warmupMs = now() - w0;
    log(`  ${name}: ${heavy ? 'light warm-up' : 'warm-up round'} ${formatMs(warmupMs)}`);
    const repeats = repeatsFor(budgetMs - (now() - start), warmRound, config.minRepeats, config.maxRepeats);
    const measured = await measureRounds(round, { warmup: 0, repeats });
    const k = Math.min(shape[0], shape[1]);
    const n = Math.max(shape[0], shape[1]);
    const jordan = measured.stats.jordan;
    const methods: OrthoTiming[] = prepared.map((p, i) => {
      const m = p.method;
      const st = measured.stats[m.id];
      const flops = orthoFlops(m, shape);
      return {
        id: m.id as OrthoMethodId,
        label: m.label,
        steps: p.ns !== null ? p.ns.steps : dionBenchOptions.powerIters,
        rank: p.dion?.rank ?? null,
        table: m.id === 'root' ? rootCoefficientTable(shape).name : null,
        flops,
        ms: st,
        gflops: flops / (st.median * 1e6),
        ratioToJordan: st.median / jordan.median,
        ratioOfMinsToJordan: st.min / jordan.min,
        orthogonalityError: orthogonalityError(last[i]!),
      };
    });
    log(
      `  ${name}: ${methods.map((t) => `${t.label} ${formatMs(t.ms.median)}`).join(', ')} (${repeats} repeats, ${formatMs(now() - start)})`,
    );
    return { status: 'measured', shape, k, n, repeats, warmup: heavy ? 'light' : 'rounds', warmupMs, predictedRoundMs, methods, wallMs: now() - start };
  } finally {
    tf.dispose([input, ...qs.filter((q): q is tf.Tensor2D => q !== null), ...last.filter((t): t is tf.Tensor2D => t !== null)]);
  }
}

// ---------------------------------------------------------------------------------------------------
// Quality

/**
 * `G = U·diag(s)·Vᵀ` with `s_i = 1/i` (i = 1…k, condition number k), built in float64: U (rows×k) and
 * V (cols×k) are the Householder Q factors of seeded Gaussian matrices. Row-major.
 */
export function illConditioned64(rows: number, cols: number, seed: number): Float64Array {
  const k = Math.min(rows, cols);
  const u = householderQ64(gaussian64(rows, k, seed), rows, k);
  const v = householderQ64(gaussian64(cols, k, seed + 1), cols, k);
  const g = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let c = 0; c < k; c++) {
      const a = u[i * k + c] / (c + 1);
      for (let j = 0; j < cols; j++) g[i * cols + j] += a * v[j * k + c];
    }
  }
  return g;
}

/** A quality input. */
export interface QualityInput {
  readonly shape: Shape;
  readonly kind: 'gaussian' | 'illConditioned';
  readonly description: string;
  /** σ_max and σ_min of the float32 input (float64 SVD). */
  readonly sigmaMax: number;
  readonly sigmaMin: number;
  /** Time of the float64 SVD (ms). */
  readonly svdMs: number;
}

/** One method's quality on one input. */
export interface QualityRow {
  readonly id: QualityMethodId;
  readonly label: string;
  /** `‖XXᵀ − I‖_F/√k`. */
  readonly orthogonalityError: number;
  /** σ range of X over all k singular values (Dion: its k − r zero ones included). */
  readonly sigmaMin: number;
  readonly sigmaMax: number;
  /** `‖X − UVᵀ‖_F / ‖UVᵀ‖_F`, UVᵀ the polar factor of the input. */
  readonly polarDistance: number;
  /** Dion only: the rank-r view. */
  readonly lowRank: {
    readonly rank: number;
    /** σ range of X's r largest singular values. */
    readonly sigmaMin: number;
    readonly sigmaMax: number;
    /** `‖X − U_rV_rᵀ‖_F / ‖U_rV_rᵀ‖_F`, `U_rV_rᵀ` the polar factor of G's best rank-r approximation. */
    readonly rankPolarDistance: number;
    /** The least `‖X − UVᵀ‖_F/‖UVᵀ‖_F` any rank-r X can reach: `√((k − r)/k)`. */
    readonly polarDistanceFloor: number;
  } | null;
}

/** Quality on one input. */
export interface QualityResult {
  readonly input: QualityInput;
  readonly rows: QualityRow[];
}

/**
 * The quality methods: the timed ones; ROOT's 2048×2048 row where ROOT's own table is Jordan's; and Dion
 * at rank ¼ with 8 power iterations from the same random Q — a proxy for the warm Q that Dion carries
 * from step to step, showing that the one-step distance to `U_rV_rᵀ` is a start-up effect.
 */
function qualityMethods(shape: Shape): Method[] {
  const rootOwn = rootCoefficientTable(shape).name !== 'jordan';
  const out: Method[] = METHODS.filter((m) => m.id !== 'root' || rootOwn);
  if (!rootOwn) {
    const at = out.findIndex((m) => m.kind === 'dion');
    out.splice(at, 0, {
      kind: 'ns',
      id: 'rootRow2048',
      label: 'ROOT ×5 (2048×2048 row)',
      options: { coefficients: rootCoefficientTable([2048, 2048]) },
    });
  }
  out.push({ kind: 'dion', id: 'dionQuarterIters8', label: 'Dion r = ¼, 8 power iterations', rankFraction: 0.25, powerIters: 8 });
  return out;
}

/** Measures every method's quality on one input given as float64 values (rounded to float32 once). */
export function measureQuality(
  shape: Shape,
  kind: QualityInput['kind'],
  values: Float64Array,
  seed: number,
): QualityResult {
  const [rows, cols] = shape;
  const k = Math.min(rows, cols);
  const f32 = Float32Array.from(values);
  const t0 = now();
  const { u, s, v } = svd64(matrix64(rows, cols, f32));
  const svdMs = now() - t0;
  // polar(G) = U·Vᵀ (polar64's definition) and the rank-r parts U_r·V_rᵀ, from this one SVD.
  const polarRank = (r: number): Float64Array => {
    const out = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) {
      for (let c = 0; c < r; c++) {
        const a = u.data[i * k + c];
        if (a === 0) continue;
        for (let j = 0; j < cols; j++) out[i * cols + j] += a * v.data[j * k + c];
      }
    }
    return out;
  };
  const polar = polarRank(k);
  const g = tf.tensor2d(f32, [rows, cols]);
  const description =
    kind === 'gaussian' ? 'Gaussian N(0, 1)' : `U·diag(1/i)·Vᵀ (σ_i = 1/i, i = 1…${k}), built in float64`;
  const result: QualityRow[] = [];
  try {
    qualityMethods(shape).forEach((m) => {
      const p = prepare(m, shape);
      // Q's seed depends on the rank only, so the 1- and 8-iteration rows start from the same Q.
      const q = p.dion === null ? null : (tf.randomNormal([p.dion.qDim, p.dion.rank], 0, 1, 'float32', seed + p.dion.rank) as tf.Tensor2D);
      const outs = apply(p, g, q);
      const x = outs[outs.length - 1];
      try {
        const rep = orthogonalityReport(x);
        const xd = x.dataSync();
        let lowRank: QualityRow['lowRank'] = null;
        if (p.dion !== null) {
          const r = p.dion.rank;
          const sx = singularValues64(matrix64(rows, cols, xd));
          lowRank = {
            rank: r,
            sigmaMin: sx[r - 1],
            sigmaMax: sx[0],
            rankPolarDistance: relFrobenius(xd, polarRank(r)),
            polarDistanceFloor: Math.sqrt((k - r) / k),
          };
        }
        result.push({
          id: m.id,
          label: m.label,
          orthogonalityError: rep.orthogonalityError,
          sigmaMin: rep.sigmaMin,
          sigmaMax: rep.sigmaMax,
          polarDistance: relFrobenius(xd, polar),
          lowRank,
        });
      } finally {
        tf.dispose(q === null ? outs : [...outs, q]);
      }
    });
  } finally {
    g.dispose();
  }
  return { input: { shape, kind, description, sigmaMax: s[0], sigmaMin: s[k - 1], svdMs }, rows: result };
}

// ---------------------------------------------------------------------------------------------------
// Expectations from the papers

/** One check of a claim. */
export interface ClaimCheck {
  /** Where: a timing shape or a quality input. */
  readonly where: string;
  /** The measured quantity (e.g. Jordan time ÷ Turbo time). */
  readonly value: number;
  readonly threshold: number;
  readonly holds: boolean;
  readonly detail: string;
}

/** A claim and whether it holds here. */
export interface ClaimResult {
  readonly id: 'turboFaster' | 'dionQuarterCheaper';
  readonly claim: string;
  readonly source: string;
  readonly checks: ClaimCheck[];
  /** From the checks ({@link verdictOf}): the same vocabulary as CLAIMS.md. */
  readonly verdict: Verdict;
}

const get = (s: Extract<OrthoShapeResult, { status: 'measured' }>, id: OrthoMethodId): OrthoTiming =>
  s.methods.find((m) => m.id === id)!;

/** Checks the two expectations against the measurements. */
export function checkClaims(shapes: readonly OrthoShapeResult[], quality: readonly QualityResult[]): ClaimResult[] {
  const measured = shapes.filter((s): s is Extract<OrthoShapeResult, { status: 'measured' }> => s.status === 'measured');
  const turbo: ClaimCheck[] = [];
  for (const s of measured) {
    const j = get(s, 'jordan');
    const t = get(s, 'turbo');
    const speedup = j.ms.median / t.ms.median;
    const errOk = t.orthogonalityError <= j.orthogonalityError;
    turbo.push({
      where: `${s.shape.join('×')} (timed, Gaussian)`,
      value: speedup,
      threshold: 1.2,
      holds: speedup >= 1.2 && errOk,
      detail:
        `Jordan ÷ Turbo time ${speedup.toFixed(2)}× (mins ${(j.ms.min / t.ms.min).toFixed(2)}×); ` +
        `E_F Turbo ${t.orthogonalityError.toFixed(4)} ${errOk ? '≤' : '>'} Jordan ${j.orthogonalityError.toFixed(4)}`,
    });
  }
  for (const q of quality) {
    const j = q.rows.find((r) => r.id === 'jordan')!;
    const t = q.rows.find((r) => r.id === 'turbo')!;
    const errOk = t.orthogonalityError <= j.orthogonalityError;
    turbo.push({
      where: `${q.input.shape.join('×')} ${q.input.kind} (quality; error part only)`,
      value: j.orthogonalityError / t.orthogonalityError,
      threshold: 1,
      holds: errOk,
      detail:
        `E_F Turbo ${t.orthogonalityError.toFixed(4)} ${errOk ? '≤' : '>'} Jordan ${j.orthogonalityError.toFixed(4)}; ` +
        `distance to UVᵀ Turbo ${t.polarDistance.toFixed(4)} vs Jordan ${j.polarDistance.toFixed(4)}`,
    });
  }
  const dion: ClaimCheck[] = [];
  for (const s of measured.filter((x) => x.shape[0] === x.shape[1])) {
    const j = get(s, 'jordan');
    const d = get(s, 'dionQuarter');
    const cheaper = j.ms.median / d.ms.median;
    dion.push({
      where: `${s.shape.join('×')} (r = ${d.rank})`,
      value: cheaper,
      threshold: 4,
      holds: cheaper >= 4,
      detail:
        `Jordan ÷ Dion ¼ time ${cheaper.toFixed(1)}× (mins ${(j.ms.min / d.ms.min).toFixed(1)}×); ` +
        `flops ratio ${(j.flops / d.flops).toFixed(1)}×; Dion ¼ at ${d.gflops.toFixed(1)} GFLOP/s vs Jordan ${j.gflops.toFixed(1)}`,
    });
  }
  return [
    {
      id: 'turboFaster',
      claim: 'Turbo-Muon (AOL + 4 steps) is ≥ 1.2× faster than Jordan ×5 at equal or better orthogonality error',
      source:
        'Turbo-Muon, arXiv 2512.04632 (spec §3: one NS step dropped, 5/4 = 1.25× fewer flops; "equal or superior" quality)',
      checks: turbo,
      verdict: verdictOf(turbo.map((c) => c.holds)),
    },
    {
      id: 'dionQuarterCheaper',
      claim: 'Dion at rank ¼ is ≥ 4× cheaper than Newton–Schulz (Jordan ×5) on square matrices',
      source: 'Dion, arXiv 2504.05295 (spec §13.2: 8mnr + QR; 768², r = 192 → ≈ 12× fewer flops than Muon)',
      checks: dion,
      verdict: verdictOf(dion.map((c) => c.holds)),
    },
  ];
}

// ---------------------------------------------------------------------------------------------------
// The section

/** The section's result. */
export interface OrthoSectionResult {
  readonly config: OrthoBenchConfig;
  readonly methods: readonly { readonly id: OrthoMethodId; readonly label: string; readonly options: string }[];
  readonly dion: typeof dionBenchOptions;
  readonly shapes: OrthoShapeResult[];
  readonly quality: QualityResult[];
  readonly claims: ClaimResult[];
  /** Coefficient-stability warnings raised while running (ROOT's 2048×2048 row). */
  readonly warnings: string[];
  readonly timingWallMs: number;
  readonly qualityWallMs: number;
  readonly wallMs: number;
}

function describeMethod(m: Method): string {
  if (m.kind === 'dion') {
    return `dionStep, rankFraction ${m.rankFraction}, mu ${dionBenchOptions.mu}, epsilon ${dionBenchOptions.epsilon}, powerIters ${dionBenchOptions.powerIters}, qrMethod '${dionBenchOptions.qrMethod}', Q ~ N(0, 1)`;
  }
  const c = m.options.coefficients;
  return c === undefined ? 'newtonSchulz(x)' : `newtonSchulz(x, { coefficients: '${typeof c === 'string' ? c : 'table'}' })`;
}

/** Runs the timing and the quality parts. */
export async function runOrthoSection(config: OrthoBenchConfig, log: (msg: string) => void = () => {}): Promise<OrthoSectionResult> {
  const start = now();
  const warnings: string[] = [];
  setStabilityWarningHandler((msg) => warnings.push(msg));
  try {
    const shapes: OrthoShapeResult[] = [];
    let gflopsPerRound: number | null = null;
    for (let i = 0; i < config.shapes.length; i++) {
      const shape = config.shapes[i];
      const roundFlops = METHODS.reduce((sum, m) => sum + orthoFlops(m, shape), 0);
      const predicted = gflopsPerRound === null ? null : roundFlops / (gflopsPerRound * 1e6);
      if (predicted !== null && predicted > config.maxRoundMs) {
        const reason = `one round predicted ${formatMs(predicted)} > ${formatMs(config.maxRoundMs)} (at the best ${gflopsPerRound!.toFixed(1)} GFLOP/s of the shapes before)`;
        log(`  ${shape.join('x')}: skipped, ${reason}`);
        shapes.push({ status: 'skipped', shape, reason, predictedRoundMs: predicted });
        continue;
      }
      const left = config.budgetMs - (now() - start);
      const budget = Math.max(0, left) / (config.shapes.length - i);
      const r = await benchOrthoShape(shape, config, budget, predicted, log);
      if (r.status === 'measured') {
        // Predict from the best throughput seen: larger shapes usually run at least as fast.
        const ms = r.methods.reduce((sum, m) => sum + m.ms.median, 0);
        gflopsPerRound = Math.max(gflopsPerRound ?? 0, roundFlops / (ms * 1e6));
      }
      shapes.push(r);
    }
    const timingWallMs = now() - start;
    const q0 = now();
    const quality: QualityResult[] = [];
    config.qualityShapes.forEach((shape, i) => {
      const seed = config.seed + 100 * (i + 1);
      for (const kind of ['gaussian', 'illConditioned'] as const) {
        const values = kind === 'gaussian' ? gaussian64(shape[0], shape[1], seed) : illConditioned64(shape[0], shape[1], seed + 10);
        const t = now();
        quality.push(measureQuality(shape, kind, values, seed + 20));
        log(`  quality ${shape.join('x')} ${kind}: ${formatMs(now() - t)}`);
      }
    });
    const qualityWallMs = now() - q0;
    return {
      config,
      methods: METHODS.map((m) => ({ id: m.id as OrthoMethodId, label: m.label, options: describeMethod(m) })),
      dion: dionBenchOptions,
      shapes,
      quality,
      claims: checkClaims(shapes, quality),
      warnings,
      timingWallMs,
      qualityWallMs,
      wallMs: now() - start,
    };
  } finally {
    setStabilityWarningHandler(null);
  }
}

// ---------------------------------------------------------------------------------------------------
// Report

const f = (v: number, digits = 3): string => (Number.isFinite(v) ? v.toFixed(digits) : '—');

/** The markdown report of the section. */
export function renderOrthoReport(r: OrthoSectionResult): string {
  const timingRows: string[][] = [];
  for (const s of r.shapes) {
    if (s.status === 'skipped') {
      timingRows.push([s.shape.join('×'), 'all', '—', '—', '—', `skipped: ${s.reason}`, '—', '—', '—', '—']);
      continue;
    }
    for (const m of s.methods) {
      const what =
        m.rank !== null
          ? `r = ${m.rank}`
          : `${m.steps} steps${m.table !== null ? (m.table === 'jordan' ? ", Jordan's table" : `, ${m.table}`) : ''}`;
      timingRows.push([
        s.shape.join('×'),
        m.id === 'jordan' ? `**${m.label}**` : m.label,
        what,
        (m.flops / 1e9).toFixed(2),
        String(m.ms.n),
        formatMs(m.ms.median),
        formatMs(m.ms.iqr),
        f(m.gflops, 1),
        `**${f(m.ratioToJordan, 2)}×**`,
        f(m.orthogonalityError, 4),
      ]);
    }
  }
  const timing = formatTable(
    ['shape', 'method', 'steps / rank', 'GFLOP', 'reps', 'median', 'IQR', 'GFLOP/s', '÷ Jordan ×5', '‖XXᵀ−I‖_F/√k'],
    timingRows,
  );
  const qualityRows: string[][] = [];
  for (const q of r.quality) {
    const input = `${q.input.shape.join('×')} ${q.input.kind === 'gaussian' ? 'Gaussian' : 'σ_i = 1/i'}`;
    for (const row of q.rows) {
      qualityRows.push([
        input,
        row.label,
        f(row.orthogonalityError, 4),
        `[${f(row.sigmaMin)}, ${f(row.sigmaMax)}]`,
        f(row.polarDistance, 4),
        row.lowRank === null ? '—' : `[${f(row.lowRank.sigmaMin)}, ${f(row.lowRank.sigmaMax)}] (r = ${row.lowRank.rank})`,
        row.lowRank === null ? '—' : f(row.lowRank.rankPolarDistance, 4),
        row.lowRank === null ? '—' : f(row.lowRank.polarDistanceFloor, 4),
      ]);
    }
  }
  const quality = formatTable(
    ['input', 'method', '‖XXᵀ−I‖_F/√k', 'σ range', '‖X−UVᵀ‖_F/‖UVᵀ‖_F', 'top-r σ range', '‖X−U_rV_rᵀ‖_F/‖U_rV_rᵀ‖_F', 'rank-r floor'],
    qualityRows,
  );
  const inputs = r.quality
    .map((q) => `${q.input.shape.join('×')} ${q.input.description}: σ ∈ [${q.input.sigmaMin.toExponential(2)}, ${q.input.sigmaMax.toFixed(2)}], SVD ${formatMs(q.input.svdMs)}`)
    .join('; ');
  const claimRows = r.claims.flatMap((c) =>
    c.checks.length === 0
      ? [[c.id, '—', '—', '—', 'not measured (no matching shape)']]
      : c.checks.map((k) => [c.id, k.where, `${f(k.value, 2)} (≥ ${k.threshold})`, k.holds ? 'holds' : '**does not hold**', k.detail]),
  );
  const claims = formatTable(['claim', 'where', 'value', 'result', 'detail'], claimRows);
  const claimText = r.claims.map((c) => `- **${c.id}**: ${c.claim} — ${c.source}. Here: **${c.verdict}**.`).join('\n');
  return [
    '## Every orthogonalizer on wasm',
    'Fresh input copies per call (tfjs-wasm caches packed right operands per tensor); method order rotated per round. ' +
      'flops: NS steps·(4k²n + 2k³); Dion 8mnr + CholeskyQR2 (8pr² + 4r³/3), one power iteration from a random Q. ' +
      '"÷ Jordan ×5" = median time ÷ Jordan ×5\'s median on the same shape (< 1 = faster). ' +
      'The last column is the orthogonality error of the timed output (Gaussian input of that shape); for Dion it is ' +
      "dominated by its k − r zero singular values (≈ √((k − r)/k)). ROOT's published rows cover 2048-wide shapes only " +
      "(spec §8.2); elsewhere it runs Jordan's table.",
    timing,
    '### Quality against the float64 polar factor',
    'Measured once on moderate sizes, not per timing shape (float64 SVD in plain JS is O(k²n) per sweep): ' +
      `${inputs}. UVᵀ = polar factor of the float32 input (svd64, as polar64); U_rV_rᵀ = polar factor of its best ` +
      'rank-r approximation, what Dion approaches with more power iterations; "rank-r floor" = √((k − r)/k), the least ' +
      'distance to UVᵀ of any rank-r matrix. Turbo approximates polar(diag(s)·G) by design (AOL bias, spec §3.1), so its ' +
      "distance to UVᵀ is larger than its orthogonality error suggests. ROOT's own table is Jordan's at these shapes, " +
      'so its 2048×2048 row is applied here to show that row\'s quality. "Dion r = ¼, 8 power iterations" starts from the ' +
      "same random Q as the one-step row: a proxy for the warm Q Dion carries between steps.",
    quality,
    '### Expectations from the papers',
    claimText,
    claims,
    ...(r.warnings.length > 0 ? [`Warnings: ${[...new Set(r.warnings)].join(' ')}`] : []),
    `section wall time ${formatMs(r.wallMs)} (timing ${formatMs(r.timingWallMs)}, quality ${formatMs(r.qualityWallMs)})`,
  ].join('\n\n');
}

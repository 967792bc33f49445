/**
 * Newton–Schulz orthogonalization ("zeroth power"): maps a matrix `G = UΣVᵀ` to approximately `UVᵀ`
 * by iterating the odd quintic `X ← aX + b(XXᵀ)X + c(XXᵀ)²X` on the Frobenius-normalized input.
 *
 * Follows KellerJordan/Muon `muon.py` `zeropower_via_newtonschulz5` (Jordan, "Muon: An optimizer for
 * hidden layers in neural networks", 2024): make the matrix wide (k = min side rows), divide by
 * `‖X‖_F + ε`, run the steps, transpose back. The reference runs in bfloat16; TensorFlow.js has no
 * bfloat16, so this runs in float32 (more accurate, spec §12.4).
 *
 * How it is computed, and why (TensorFlow.js facts measured on tfjs 4.22, see DESIGN.md):
 * - `a·X + B·X` is folded into one product `X·(aI + bA + cA²)` on the tall orientation, so each step is
 *   three matmuls and only k×k element-wise work — no k×n element-wise pass besides one transpose.
 * - The first Gram matrix `A₀ = G Gᵀ` is computed once and gives the Frobenius norm (`trace A₀`) as well:
 *   wasm's `tf.norm` reduction was measured 1.6e-4 relative off, a matmul-based trace is float32-exact
 *   to ~1e-7, and it saves a pass over the k×n matrix.
 * - On wasm `matMul`'s transpose flags and batched (rank-3) products leave XNNPACK for a naive loop
 *   (8–60× slower), so `Xᵀ` is an explicit `tf.transpose` there and batches are looped over.
 *
 * Preconditioning: `'frobenius'` (above) or `'aol'` (Turbo-Muon, `./aol.ts`): the first Gram matrix is
 * reused for the AOL scaling, so Turbo-Muon's 4 steps cost 12 matmuls where Muon's 5 cost 15.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  defaultEngine,
  engineInstance,
  engineRunsGram,
  resolveEngine,
  type EngineChoice,
  type EngineIteration,
  type EngineName,
} from './engine.js';
import {
  coefficientTable,
  coefficientsAt,
  type CoefficientTable,
  type CoefficientsOption,
  type QuinticCoefficients,
  type Preconditioning,
} from './coefficients.js';
import { aolPreconditionTall } from './aol.js';
import { FLOAT32_MAX, rescaleArrayByPowerOfTwo, rescaleByPowerOfTwo } from './scale.js';

/** Options of {@link newtonSchulz}. */
export interface NewtonSchulzOptions {
  /** Coefficient table: a preset (`'jordan'`, default), a table, or rows `[[a, b, c], …]`. */
  readonly coefficients?: CoefficientsOption;
  /** Number of steps (default: the table's, 5 for Jordan). */
  readonly steps?: number;
  /**
   * `'frobenius'`: `eps` is added to the scaled Frobenius norm before dividing; `'aol'`: `eps` floors the
   * row sums of `|XXᵀ|` (default: the table's, 1e-7 for Jordan and Turbo).
   */
  readonly eps?: number;
  /**
   * How the input is brought to spectral norm ≤ 1: `'frobenius'` divides by `‖X‖_F·normScale + eps`;
   * `'aol'` scales the rows of the wide `X` by `1/√max(Σ_j |XXᵀ|_ij, eps)` (Turbo-Muon, spec §3.1;
   * `normScale` is then unused). Default: the table's (`'aol'` for `'turbo'`, else `'frobenius'`).
   * AOL is not transpose-equivariant on square matrices: a square input is read in TensorFlow.js layout
   * `[fanIn, fanOut]` and its output units (columns) are scaled, as the reference scales the rows of
   * PyTorch's `[out, in]`.
   */
  readonly precondition?: Preconditioning;
  /** Frobenius norm multiplier (Polar Express uses 1.01 / 1.02; default: the table's). */
  readonly normScale?: number;
  /**
   * How a tensor of rank ≥ 3 is read: `'flatten'` (default) reshapes it to `[prod(shape[:-1]), shape[-1]]`,
   * i.e. a TensorFlow.js conv kernel `[kh, kw, in, out]` becomes its `[fanIn, fanOut]` matrix; `'batch'`
   * treats the leading axes as a batch of matrices over the last two axes (as the reference does for
   * `ndim > 2` inputs).
   */
  readonly leadingDims?: 'flatten' | 'batch';
  /**
   * Who multiplies the matrices: `'tfjs'` (ops on the tensors' backend), a native engine (`'workers'`,
   * `'onnxruntime'`: Node, CPU backends; import `orthoptim/engines`), or `'auto'`. Default: the global
   * default (`setDefaultEngine`, initially `'auto'`: tfjs until the native engines are registered). An
   * optimizer's `engine` option is written here by {@link bindNewtonSchulzEngine}.
   */
  readonly engine?: EngineChoice;
  /**
   * `'standard'` iterates on the k×n matrix; `'gram'` is Gram Newton–Schulz (Zhang, Amsel, Chen, Dao —
   * Dao-AILab/gram-newton-schulz, spec §2.4): the same polynomial, accumulated on k×k matrices, with the
   * k×n matrix touched only at the start, at restarts and at the end — fewer flops when n ≫ k. `'auto'`
   * (default): the Gram form on an engine that runs it (onnxruntime) for a matrix where it does fewer
   * flops (`gramIsCheaper`, `./flops.ts`: long side over 1.5× the short one for 5 steps), the standard form
   * everywhere else — so the tfjs and workers engines run the standard form, unchanged. `'gram'` needs the
   * Frobenius normalization on tfjs, so it is refused with AOL; `'auto'` takes AOL to onnxruntime's Gram
   * graph.
   */
  readonly form?: NewtonSchulzForm;
  /** Gram form: restart (re-form X and its Gram matrix) after these step numbers (default `[2]`). */
  readonly gramRestarts?: readonly number[];
}

/** How the iteration is organized: on the k×n matrix, on its k×k Gram matrix, or chosen per matrix and engine. */
export type NewtonSchulzForm = 'standard' | 'gram' | 'auto';

/** Resolved options: everything the iteration needs. */
export interface ResolvedNewtonSchulz {
  readonly table: CoefficientTable;
  readonly steps: number;
  readonly eps: number;
  readonly normScale: number;
  readonly leadingDims: 'flatten' | 'batch';
  /** Absent means `'frobenius'`. */
  readonly precondition?: Preconditioning;
  /** Absent: the global default (`setDefaultEngine`). */
  readonly engine?: EngineChoice;
  /** Absent means `'standard'` (a hand-made resolved object); {@link resolveNewtonSchulz} writes `'auto'` by default. */
  readonly form?: NewtonSchulzForm;
  /** Gram (or auto) form: steps after which to restart. */
  readonly gramRestarts?: readonly number[];
}

/** Validates and fills in defaults; throws `RangeError` naming `owner` and the option. */
export function resolveNewtonSchulz(options: NewtonSchulzOptions = {}, owner = 'newtonSchulz'): ResolvedNewtonSchulz {
  const table = coefficientTable(options.coefficients ?? 'jordan', owner);
  const steps = options.steps ?? table.defaultSteps;
  if (!Number.isInteger(steps) || steps < 0 || steps > 100) {
    throw new RangeError(`${owner}: steps must be an integer in [0, 100], got ${String(steps)}`);
  }
  const eps = options.eps ?? table.eps;
  if (!Number.isFinite(eps) || eps < 0) {
    throw new RangeError(`${owner}: eps must be in [0, inf), got ${String(eps)}`);
  }
  const normScale = options.normScale ?? table.normScale;
  if (!Number.isFinite(normScale) || normScale <= 0) {
    throw new RangeError(`${owner}: normScale must be in (0, inf), got ${String(normScale)}`);
  }
  const leadingDims = options.leadingDims ?? 'flatten';
  if (leadingDims !== 'flatten' && leadingDims !== 'batch') {
    throw new RangeError(`${owner}: leadingDims must be one of 'flatten', 'batch', got '${String(leadingDims)}'`);
  }
  const precondition = options.precondition ?? table.precondition ?? 'frobenius';
  if (precondition !== 'frobenius' && precondition !== 'aol') {
    throw new RangeError(`${owner}: precondition must be one of 'frobenius', 'aol', got '${String(precondition)}'`);
  }
  const engine = options.engine;
  if (engine !== undefined && !['tfjs', 'workers', 'onnxruntime', 'auto'].includes(engine)) {
    throw new RangeError(`${owner}: engine must be one of 'tfjs', 'workers', 'onnxruntime', 'auto', got '${String(engine)}'`);
  }
  const form = options.form ?? 'auto';
  if (form !== 'standard' && form !== 'gram' && form !== 'auto') {
    throw new RangeError(`${owner}: form must be one of 'auto', 'standard', 'gram', got '${String(form)}'`);
  }
  if (form === 'gram' && precondition === 'aol') {
    throw new RangeError(`${owner}: form 'gram' needs the Frobenius normalization, not AOL preconditioning`);
  }
  const gramRestarts = options.gramRestarts ?? [2];
  if (!Array.isArray(gramRestarts) || !gramRestarts.every((r) => Number.isInteger(r) && r >= 1)) {
    throw new RangeError(`${owner}: gramRestarts must be a list of positive integers, got ${JSON.stringify(gramRestarts)}`);
  }
  const base: ResolvedNewtonSchulz = { table, steps, eps, normScale, leadingDims, precondition };
  return {
    ...base,
    ...(engine === undefined ? {} : { engine }),
    ...(form === 'standard' ? {} : { form, gramRestarts: [...gramRestarts] }),
  };
}

/** Whether `value` is a {@link ResolvedNewtonSchulz} (what {@link resolveNewtonSchulz} returns, or a spread copy). */
export function isResolvedNewtonSchulz(value: unknown): value is ResolvedNewtonSchulz {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Partial<ResolvedNewtonSchulz>;
  return (
    typeof v.table === 'object' && v.table !== null && typeof v.steps === 'number' && typeof v.eps === 'number' &&
    typeof v.normScale === 'number' && (v.leadingDims === 'flatten' || v.leadingDims === 'batch')
  );
}

/**
 * `resolved` with `engine` written into every {@link ResolvedNewtonSchulz} inside it that names none —
 * how an optimizer's `engine` option reaches the Newton–Schulz of its chain: the optimizer builds its
 * chain from the bound options, so the choice travels with the settings, with no global scope. Walks
 * plain objects and arrays (a wrapper's inner optimizer's options included), copying only what holds a
 * Newton–Schulz; everything else (tensors, functions, schedules, class instances) is kept as it is.
 * `null` returns `resolved` unchanged: those iterations use the global default (`setDefaultEngine`).
 */
export function bindNewtonSchulzEngine<T>(resolved: T, engine: EngineChoice | null): T {
  if (engine === null) return resolved;
  const seen = new Map<object, unknown>();
  const walk = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    if (seen.has(value)) return seen.get(value);
    if (isResolvedNewtonSchulz(value)) {
      const bound = value.engine === undefined ? { ...value, engine } : value;
      seen.set(value, bound);
      return bound;
    }
    const proto = Object.getPrototypeOf(value) as unknown;
    if (Array.isArray(value)) {
      seen.set(value, value);
      const items = value.map(walk);
      const out = items.some((x, i) => x !== value[i]) ? items : value;
      seen.set(value, out);
      return out;
    }
    if (proto !== Object.prototype && proto !== null) return value;
    seen.set(value, value);
    const record = value as Record<string, unknown>;
    let out: Record<string, unknown> | null = null;
    for (const k of Object.keys(record)) {
      const w = walk(record[k]);
      if (w !== record[k]) {
        out ??= { ...record };
        out[k] = w;
      }
    }
    const result = out ?? value;
    seen.set(value, result);
    return result;
  };
  return walk(resolved) as T;
}

/** `[rows, cols]` of the matrix a tensor of rank ≥ 2 stands for when flattened (conv → `[fanIn, fanOut]`). */
export function matrixShape(shape: readonly number[]): [number, number] {
  if (shape.length < 2) throw new RangeError(`matrixShape: need rank >= 2, got shape [${shape.join(', ')}]`);
  const cols = shape[shape.length - 1];
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return [rows, cols];
}

/** Whether the active backend needs explicit transposes (wasm: transpose flags leave XNNPACK). */
function explicitTranspose(): boolean {
  const backend = tf.getBackend();
  return backend === 'wasm' || backend === 'cpu';
}

/** `X·Xᵀ` the fast way for the active backend. */
export function gram(x: tf.Tensor2D, explicit = explicitTranspose()): tf.Tensor2D {
  return explicit ? tf.matMul(x, tf.transpose(x)) : tf.matMul(x, x, false, true);
}

/**
 * The iteration on one *tall* matrix `xt` (n×k, n ≥ k), i.e. on `Xᵀ` of the wide `X` of the reference:
 * `Xᵀ ← Xᵀ·P` with the symmetric `P = aI + A(bI + cA)`, `A = XXᵀ = (Xᵀ)ᵀXᵀ`. Iterating on `Xᵀ` makes the
 * right operand of the big product the small k×k `P`: tfjs-wasm prepares (packs) every new right operand
 * for XNNPACK, so this packs one k×n operand per step instead of two. Not tidied: call inside `tf.tidy`.
 *
 * With `ns.precondition === 'aol'` the rows of the wide `X` — the columns of `xt` — are scaled by
 * `1/√max(Σ_j |A_ij|, eps)` and `A` by `diag(s)·A·diag(s)` instead of the Frobenius normalization (spec
 * §3.1). A table with `perShape` (ROOT) is resolved here for this matrix's shape.
 *
 * An input whose max|x| is outside [2^-32, 2^32] is first divided by a power of two near it, with eps
 * scaled along (`./scale.ts`): the same result (exactly, in float32, where nothing over- or underflows),
 * finite for every finite input. Inputs in that range are not touched.
 *
 * @param firstGram `XXᵀ` of the input when the caller already has it (divided by the rescale's s² here).
 */
export function newtonSchulzTall(
  xt: tf.Tensor2D,
  ns: ResolvedNewtonSchulz,
  firstGram?: tf.Tensor2D,
): tf.Tensor2D {
  const [n, k] = xt.shape;
  const table = ns.table.perShape?.(n, k) ?? ns.table;
  const explicit = explicitTranspose();
  const gramOf = (m: tf.Tensor2D): tf.Tensor2D =>
    explicit ? tf.matMul(tf.transpose(m), m) : tf.matMul(m, m, true, false);
  // Rescale by a power of two when max|X| is extreme, so that the Gram matrix and its trace stay finite
  // (see ./scale.ts): exact, with eps scaled along (by 1/s added to a norm, 1/s² to a row sum of A).
  const { x: xs, scale } = rescaleByPowerOfTwo(xt) as { x: tf.Tensor2D; scale: tf.Scalar };
  let a0 = firstGram === undefined ? gramOf(xs) : (tf.div(firstGram, tf.square(scale)) as tf.Tensor2D);
  const eye = tf.eye(k);
  let X: tf.Tensor2D;
  if (ns.precondition === 'aol') {
    const eps = tf.minimum(tf.div(tf.div(ns.eps, scale), scale), FLOAT32_MAX) as tf.Scalar;
    const aol = aolPreconditionTall(xs, a0, eps);
    X = aol.x;
    a0 = aol.gram;
    if (ns.steps === 0) return X;
  } else {
    // ‖X‖²_F = trace(X Xᵀ); divide X by d = ‖X‖_F·normScale + eps, and A₀ by d².
    const trace = tf.sum(tf.mul(a0, eye));
    const d = tf.add(tf.mul(tf.sqrt(trace), ns.normScale), tf.div(ns.eps, scale));
    X = tf.div(xs, d) as tf.Tensor2D;
    if (ns.steps === 0) return X;
    a0 = tf.div(a0, tf.square(d)) as tf.Tensor2D;
  }
  for (let i = 0; i < ns.steps; i++) {
    const [a, b, c] = coefficientsAt(table, i);
    const x = X;
    const first = i === 0 ? a0 : undefined;
    // One tidy per iteration, and the iterate it replaces (and A₀) disposed: every one of them was made
    // here, so a matrix's peak is one iteration's temporaries, not all of them (same kernels in the same
    // order: same numbers).
    X = tf.tidy(() => {
      const A = first ?? gramOf(x);
      // P = aI + A(bI + cA) = aI + bA + cA²; Xᵀ ← Xᵀ·P (P is symmetric)
      const P = tf.add(tf.matMul(A, tf.add(tf.mul(A, c), tf.mul(eye, b))), tf.mul(eye, a)) as tf.Tensor2D;
      return tf.matMul(x, P);
    });
    x.dispose();
    first?.dispose();
  }
  return X;
}

/** The iteration on one wide matrix `x` (k×n, k ≤ n), through {@link newtonSchulzTall}. */
export function newtonSchulzWide(
  x: tf.Tensor2D,
  ns: ResolvedNewtonSchulz,
  firstGram?: tf.Tensor2D,
): tf.Tensor2D {
  return tf.transpose(newtonSchulzTall(tf.transpose(x), ns, firstGram));
}

/**
 * Gram Newton–Schulz on a tall `xt` (n×k): with `R = XXᵀ` and `Q = I`, each step sets `Z = bR + cR²`,
 * `Q ← Q(Z + aI)`, `R ← (Z + aI)R(Z + aI)` — only k×k products — and the result is `Xᵀ·Q` (Q and R are
 * polynomials in the same Gram matrix, so they commute and Q is symmetric). At each restart `Xᵀ ← Xᵀ·Q`,
 * `R ← XXᵀ`, `Q ← I`, which bounds the rounding drift of R (Dao-AILab/gram-newton-schulz README: one
 * restart, after step 2, for 5 steps). Mathematically equal to {@link newtonSchulzTall}. Not tidied.
 */
export function newtonSchulzGramTall(xt: tf.Tensor2D, ns: ResolvedNewtonSchulz): tf.Tensor2D {
  const [n, k] = xt.shape;
  const table = ns.table.perShape?.(n, k) ?? ns.table;
  const explicit = explicitTranspose();
  const gramOf = (m: tf.Tensor2D): tf.Tensor2D =>
    explicit ? tf.matMul(tf.transpose(m), m) : tf.matMul(m, m, true, false);
  const eye = tf.eye(k);
  // the power-of-two rescale of newtonSchulzTall (./scale.ts)
  const { x: xs, scale } = rescaleByPowerOfTwo(xt);
  let R = gramOf(xs as tf.Tensor2D);
  const d = tf.add(tf.mul(tf.sqrt(tf.sum(tf.mul(R, eye))), ns.normScale), tf.div(ns.eps, scale));
  let X = tf.div(xs, d) as tf.Tensor2D;
  R = tf.div(R, tf.square(d)) as tf.Tensor2D;
  let Q: tf.Tensor2D | null = null;
  const restarts = new Set(ns.gramRestarts ?? [2]);
  for (let i = 0; i < ns.steps; i++) {
    if (i > 0 && restarts.has(i) && Q !== null) {
      X = tf.matMul(X, Q);
      R = gramOf(X);
      Q = null;
    }
    const [a, b, c] = coefficientsAt(table, i);
    // W = Z + aI = aI + bR + cR²
    const W = tf.add(tf.matMul(R, tf.add(tf.mul(R, c), tf.mul(eye, b))), tf.mul(eye, a)) as tf.Tensor2D;
    Q = Q === null ? W : tf.matMul(Q, W);
    if (i + 1 < ns.steps && !restarts.has(i + 1)) R = tf.matMul(W, tf.matMul(R, W));
  }
  return Q === null ? X : tf.matMul(X, Q);
}

function orthogonalizeMatrix(m: tf.Tensor2D, ns: ResolvedNewtonSchulz): tf.Tensor2D {
  const [rows, cols] = m.shape;
  // tfjs runs the standard form under 'auto': its numbers (the golden replays) do not depend on the form
  const iterate = ns.form === 'gram' ? newtonSchulzGramTall : newtonSchulzTall;
  // The reference makes the matrix wide and iterates on it; iterating on the tall orientation is the
  // same computation transposed (NS(Gᵀ) = NS(G)ᵀ).
  if (rows >= cols) return iterate(m, ns);
  return tf.transpose(iterate(tf.transpose(m), ns));
}

/** The 2-D matrices a tensor stands for (`leadingDims`), and how to put their results back. */
function asMatrices(x: tf.Tensor, ns: ResolvedNewtonSchulz): { mats: tf.Tensor2D[]; back: (outs: tf.Tensor2D[]) => tf.Tensor } {
  if (x.rank === 2) return { mats: [x as tf.Tensor2D], back: (o) => o[0] };
  if (ns.leadingDims === 'flatten') {
    const [rows, cols] = matrixShape(x.shape);
    return { mats: [tf.reshape(x, [rows, cols])], back: (o) => tf.reshape(o[0], x.shape) };
  }
  const [r, c] = x.shape.slice(-2);
  const batch = x.size / (r * c);
  const flat = tf.reshape(x, [batch, r, c]);
  const mats: tf.Tensor2D[] = [];
  for (let i = 0; i < batch; i++) mats.push(tf.reshape(tf.slice(flat, [i, 0, 0], [1, r, c]), [r, c]));
  return { mats, back: (o) => tf.reshape(tf.stack(o), x.shape) };
}

/**
 * The iteration the native engine `engine` runs for one matrix (Frobenius or AOL preconditioning), or
 * null when it cannot (an explicit `form: 'gram'` on an engine without the Gram form: only tfjs and
 * onnxruntime have it). `'gram'` is passed as asked; `'auto'` is passed to an engine that runs the Gram
 * form, which picks it per matrix where `gramIsCheaper` (`./flops.ts`) — so one iteration, hence one
 * engine call, serves every matrix of a step — and is the standard form for any other engine (workers).
 * ROOT-style per-shape tables are resolved for this matrix's shape.
 */
export function engineIteration(
  ns: ResolvedNewtonSchulz,
  rows: number,
  cols: number,
  engine: Exclude<EngineName, 'tfjs'>,
): EngineIteration | null {
  const runsGram = engineRunsGram(engine);
  if (ns.form === 'gram' && !runsGram) return null;
  const table = ns.table.perShape?.(Math.max(rows, cols), Math.min(rows, cols)) ?? ns.table;
  const steps: QuinticCoefficients[] = [];
  for (let i = 0; i < ns.steps; i++) steps.push(coefficientsAt(table, i));
  const it: EngineIteration = { steps, normScale: ns.normScale, eps: ns.eps, precondition: ns.precondition ?? 'frobenius' };
  const form = ns.form ?? 'standard';
  return form === 'standard' || !runsGram ? it : { ...it, form, gramRestarts: [...(ns.gramRestarts ?? [2])] };
}

/**
 * Runs the matrices that resolved to native engines: one engine call per (engine, iteration table).
 * A matrix whose max|x| is extreme is rescaled by a power of two first, with `eps` scaled along
 * (`./scale.ts`: exact, and the engines' Gram matrices stay finite); it then has its own iteration, so
 * its own call. An engine's answer is checked before anything is built from it: one result per matrix,
 * each of the matrix's size, or a named error (nothing is written).
 */
function runNative(jobs: { index: number; m: tf.Tensor2D; engine: Exclude<EngineName, 'tfjs'>; it: EngineIteration }[], outs: tf.Tensor2D[]): void {
  const groups = new Map<string, { job: (typeof jobs)[number]; data: Float32Array }[]>();
  for (const j of jobs) {
    const { data, scale } = rescaleArrayByPowerOfTwo(j.m.dataSync() as Float32Array);
    const eps = j.it.precondition === 'aol' ? Math.min(j.it.eps / scale / scale, FLOAT32_MAX) : j.it.eps / scale;
    const it = scale === 1 ? j.it : { ...j.it, eps };
    const key = `${j.engine}|${JSON.stringify(it)}`;
    const g = groups.get(key);
    if (g) g.push({ job: { ...j, it }, data });
    else groups.set(key, [{ job: { ...j, it }, data }]);
  }
  const built: { index: number; data: Float32Array; shape: [number, number] }[] = [];
  for (const group of groups.values()) {
    const { engine, it } = group[0].job;
    const results = engineInstance(engine).run(
      group.map(({ job, data }) => ({ rows: job.m.shape[0], cols: job.m.shape[1], data })),
      it,
    );
    if (!Array.isArray(results) || results.length !== group.length) {
      throw new Error(
        `newtonSchulz: engine '${engine}' returned ${Array.isArray(results) ? results.length : typeof results} results for ${group.length} matrices`,
      );
    }
    group.forEach(({ job }, i) => {
      const r = results[i];
      if (!(r instanceof Float32Array) || r.length !== job.m.size) {
        throw new Error(
          `newtonSchulz: engine '${engine}' returned ${r instanceof Float32Array ? r.length : typeof r} values for matrix ${i} ` +
            `(${job.m.shape[0]}×${job.m.shape[1]}, ${job.m.size} values)`,
        );
      }
      built.push({ index: job.index, data: r, shape: job.m.shape });
    });
  }
  for (const b of built) outs[b.index] = tf.tensor2d(b.data, b.shape);
}

/**
 * Orthogonalizes several tensors at once (see {@link newtonSchulz}): the matrices that go to a native
 * engine cross the thread bridge in one call per step. Tidied; returns new tensors.
 */
export function newtonSchulzAll(gs: readonly tf.Tensor[], options: NewtonSchulzOptions | ResolvedNewtonSchulz = {}): tf.Tensor[] {
  const ns = 'table' in options ? options : resolveNewtonSchulz(options);
  for (const g of gs) {
    if (g.rank < 2) {
      throw new RangeError(`newtonSchulz: need a tensor of rank >= 2, got shape [${g.shape.join(', ')}]`);
    }
  }
  return tf.tidy(() => {
    const backend = tf.getBackend();
    const parts = gs.map((g) => asMatrices(g.dtype === 'float32' ? g : tf.cast(g, 'float32'), ns));
    const flat = parts.flatMap((p) => p.mats);
    const outs: tf.Tensor2D[] = new Array<tf.Tensor2D>(flat.length);
    const native: { index: number; m: tf.Tensor2D; engine: Exclude<EngineName, 'tfjs'>; it: EngineIteration }[] = [];
    flat.forEach((m, index) => {
      if (m.size === 0) {
        // an empty matrix is its own (empty) result: no product to take (tfjs-wasm's XNNPACK rejects
        // zero-size matmuls, noisily)
        outs[index] = m;
        return;
      }
      const choice = ns.engine ?? defaultEngine();
      const engine = resolveEngine(choice, backend, m.size);
      const it = engine === 'tfjs' ? null : engineIteration(ns, m.shape[0], m.shape[1], engine);
      if (engine !== 'tfjs' && it === null && choice !== 'auto') {
        throw new Error(
          `newtonSchulz: engine '${engine}' runs the standard form only; the Gram form needs engine 'onnxruntime' or 'tfjs'`,
        );
      }
      // under 'auto', a Gram form the chosen engine lacks runs on tfjs (never sent to the workers engine).
      // One tidy per matrix: its iteration's temporaries (Gram matrices, polynomials, products) are freed
      // before the next matrix starts, so a step's peak is one matrix's iteration above the results, not
      // every matrix's at once (same kernels in the same order: same numbers).
      if (engine === 'tfjs' || it === null) outs[index] = tf.tidy(() => orthogonalizeMatrix(m, ns));
      else native.push({ index, m, engine, it });
    });
    if (native.length > 0) runNative(native, outs);
    let k = 0;
    return parts.map((p) => p.back(outs.slice(k, (k += p.mats.length))));
  });
}

/**
 * Orthogonalizes a matrix (or a stack of them) by Newton–Schulz: returns approximately `UVᵀ` for
 * `G = UΣVᵀ`, with the same shape as `g`. With Jordan's coefficients (the default) the output's singular
 * values lie in about [0.68, 1.13], not exactly 1 — the quintic is tuned for slope at zero.
 *
 * Shape rules: a 2-D input is used as is (a tall matrix is transposed to wide and back; NS(Gᵀ) = NS(G)ᵀ);
 * rank ≥ 3 follows `leadingDims`; rank < 2 throws. An all-zero input gives zeros, never NaN (for `eps > 0`).
 *
 * @example
 * const o = newtonSchulz(g, { coefficients: 'polarExpress8' });
 */
export function newtonSchulz(g: tf.Tensor, options: NewtonSchulzOptions | ResolvedNewtonSchulz = {}): tf.Tensor {
  return newtonSchulzAll([g], options)[0];
}

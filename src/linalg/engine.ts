/**
 * The engine seam of Newton–Schulz: who multiplies the matrices. `tfjs` runs the iteration as TensorFlow.js
 * ops on whatever backend holds the tensors (the reference; the only choice on GPU backends and in
 * browsers). The native engines take float32 matrices off a CPU backend, run the same iteration elsewhere
 * — `workers`: column-sharded over worker threads running tfjs-wasm; `onnxruntime`: onnxruntime-node's
 * multi-threaded CPU kernels — and hand the results back synchronously, because tfjs calls
 * `applyGradients` synchronously (inside `model.fit`).
 *
 * Every matrix of one optimizer step goes to an engine in one call, to pay the thread bridge once per step.
 * @module
 */
import type { Preconditioning, QuinticCoefficients } from './coefficients.js';

/** Engine names (single camelCase words: they are saved in optimizer configs). */
export type EngineName = 'tfjs' | 'workers' | 'onnxruntime';
/** What an optimizer or `newtonSchulz` accepts: an engine, or `auto`. */
export type EngineChoice = EngineName | 'auto';

/** One matrix for a native engine: row-major float32, already in the orientation to iterate on. */
export interface EngineMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

/**
 * The iteration a native engine runs on each matrix, exactly as `newtonSchulz` (standard form): make it
 * wide (k = min side; a square matrix counts as tall, i.e. its columns are the short side's), bring it to
 * spectral norm ≤ 1 (`precondition`), then for each row `(a, b, c)` of `steps`: `X ← aX + (bA + cA²)X`
 * with `A = XXᵀ`; return it in the input's orientation.
 *
 * Preconditioning (`src/linalg/aol.ts`): `'frobenius'` (default) divides by `‖X‖_F·normScale + eps`;
 * `'aol'` (Turbo-Muon) scales the rows of the wide `X` by `s_i = 1/√max(Σ_j |A_ij|, eps)` with the
 * input's Gram matrix `A = XXᵀ`, and the first step reuses `diag(s)·A·diag(s)` as its Gram matrix
 * (`normScale` is then unused).
 * The engines square their input (Gram matrices, the trace): `newtonSchulz` hands them matrices with
 * max|x| in [2^-32, 2^32] (it rescales others by a power of two and scales `eps` along,
 * `src/linalg/scale.ts`); a direct `run` on a matrix with entries ≳ 1e19 overflows float32.
 */
export interface EngineIteration {
  /** One coefficient row per step (already expanded: `steps.length` = number of steps). */
  readonly steps: readonly QuinticCoefficients[];
  /** Frobenius only: the norm's multiplier. */
  readonly normScale: number;
  /** `'frobenius'`: added to the scaled norm; `'aol'`: the floor of the row sums of `|XXᵀ|`. */
  readonly eps: number;
  /** How the input is brought to spectral norm ≤ 1 (absent: `'frobenius'`). */
  readonly precondition?: Preconditioning;
  /**
   * `'standard'` (absent) iterates on the k×n matrix; `'gram'` accumulates the same polynomial on k×k
   * matrices (Gram Newton–Schulz, `newtonSchulzGramTall` in `./newtonSchulz.ts`): fewer flops when n ≫ k;
   * `'auto'`: per matrix, the Gram form where the engine runs it and `gramIsCheaper(rows, cols,
   * steps.length, gramRestarts)` (`./flops.ts`), else the standard form (an engine without the Gram form
   * runs every matrix in the standard form).
   */
  readonly form?: 'standard' | 'gram' | 'auto';
  /** Gram form: the step numbers before which X and its Gram matrix are re-formed (absent: `[2]`). */
  readonly gramRestarts?: readonly number[];
}

/** A native engine: synchronous, float32 in, float32 out (same shapes). */
export interface NewtonSchulzEngine {
  readonly name: Exclude<EngineName, 'tfjs'>;
  /** Orthogonalizes every matrix; throws (writing nothing anywhere) when the engine fails. */
  run(matrices: readonly EngineMatrix[], iteration: EngineIteration): Float32Array[];
  /** Stops threads and frees native resources; the engine starts again lazily if used after. */
  dispose(): void;
}

/** A factory that says whether its engine can run here, and makes it. */
export interface EngineProvider {
  readonly name: Exclude<EngineName, 'tfjs'>;
  /** Whether the engine can run in this process (Node, the optional package installed, …), and why not. */
  available(): { ok: true } | { ok: false; reason: string };
  /** Smallest `rows·cols` worth the copy off the backend (auto selection). */
  readonly minimumElements: number;
  /**
   * Whether the engine runs the Gram form (`EngineIteration.form: 'gram'` and `'auto'`; absent: no).
   * Newton–Schulz's `form: 'auto'` reaches such an engine as `'auto'` (it takes the Gram form per matrix
   * where that does fewer flops); any other engine gets the standard form, and an explicit `form: 'gram'`
   * for it is refused by name.
   */
  readonly gramForm?: boolean;
  /** Creates (or returns the shared) engine. */
  create(): NewtonSchulzEngine;
}

const providers = new Map<string, EngineProvider>();
const instances = new Map<string, NewtonSchulzEngine>();
// `auto` is tfjs until a native engine is registered (`orthoptim/engines`, `orthoptim/node`), so this
// default changes nothing in a browser or a process without the engines (issue 16 point 2).
let globalDefault: EngineChoice = 'auto';
/** Makes an engine available by name (the Node-only engines register themselves when imported). */
export function registerEngine(provider: EngineProvider): void {
  providers.set(provider.name, provider);
}

/**
 * The engine used where neither the call nor its optimizer names one (initially `'auto'`): a
 * `newtonSchulz` call without `engine`, and an optimizer made with `engine: null` (the default). `auto`
 * resolves to tfjs until the native engines are registered (`import 'orthoptim/engines'` or
 * `'orthoptim/node'`), then to onnxruntime (or workers) for large enough matrices on a CPU backend; call
 * `setDefaultEngine('tfjs')` to keep every Newton–Schulz on TensorFlow.js. An optimizer's `engine` option
 * reaches Newton–Schulz through its resolved options (see `bindNewtonSchulzEngine`), not through this
 * global.
 */
export function setDefaultEngine(choice: EngineChoice): void {
  if (!['tfjs', 'workers', 'onnxruntime', 'auto'].includes(choice)) {
    throw new RangeError(`setDefaultEngine: engine must be one of 'tfjs', 'workers', 'onnxruntime', 'auto', got '${String(choice)}'`);
  }
  globalDefault = choice;
}

/** The current global default. */
export function defaultEngine(): EngineChoice {
  return globalDefault;
}

/** The registered native engines and whether each can run here. */
export function listEngines(): { name: EngineName; available: boolean; reason?: string }[] {
  const out: { name: EngineName; available: boolean; reason?: string }[] = [{ name: 'tfjs', available: true }];
  for (const p of providers.values()) {
    const a = p.available();
    out.push(a.ok ? { name: p.name, available: true } : { name: p.name, available: false, reason: a.reason });
  }
  return out;
}

/**
 * Resolves a choice for a matrix of `elements` entries on `backend`: `auto` = onnxruntime when it can run
 * and the tensors are on a CPU backend (`wasm`, `cpu`, `tensorflow`); else workers when it can run and
 * the matrix is large enough to pay for the copy; else tfjs. An explicit native engine that cannot run
 * here throws, saying why.
 */
export function resolveEngine(choice: EngineChoice | undefined, backend: string, elements: number): EngineName {
  const c = choice ?? globalDefault;
  if (c === 'tfjs') return 'tfjs';
  const cpuBackend = backend === 'wasm' || backend === 'cpu' || backend === 'tensorflow';
  if (c === 'auto') {
    if (!cpuBackend) return 'tfjs';
    for (const name of ['onnxruntime', 'workers'] as const) {
      const p = providers.get(name);
      if (p && p.available().ok && elements >= p.minimumElements) return name;
    }
    return 'tfjs';
  }
  const p = providers.get(c);
  if (p === undefined) {
    throw new Error(`engine '${c}' is not loaded: import 'orthoptim/engines' (Node only) to register the native engines`);
  }
  const a = p.available();
  if (!a.ok) throw new Error(`engine '${c}' cannot run here: ${a.reason}`);
  if (!cpuBackend) throw new Error(`engine '${c}' needs tensors on a CPU backend (wasm, cpu, tensorflow); the backend is '${backend}'`);
  return c;
}

/** Whether the registered engine `name` runs the Gram form ({@link EngineProvider.gramForm}). */
export function engineRunsGram(name: Exclude<EngineName, 'tfjs'>): boolean {
  return providers.get(name)?.gramForm === true;
}

/** The engine instance for a name (created lazily, shared). */
export function engineInstance(name: Exclude<EngineName, 'tfjs'>): NewtonSchulzEngine {
  let e = instances.get(name);
  if (e === undefined) {
    const p = providers.get(name);
    if (p === undefined) throw new Error(`engine '${name}' is not loaded`);
    e = p.create();
    instances.set(name, e);
  }
  return e;
}

/** Disposes every engine instance (worker threads, native sessions). */
export function disposeEngines(): void {
  for (const e of instances.values()) e.dispose();
  instances.clear();
}

/** One line saying which engine a choice resolves to here, and why, e.g. for bench tables. */
export function describeEngine(choice: EngineChoice | undefined, backend: string, elements = Number.POSITIVE_INFINITY): string {
  const c = choice ?? globalDefault;
  let name: EngineName;
  try {
    name = resolveEngine(c, backend, elements);
  } catch (e) {
    return `${c}: unavailable (${(e as Error).message})`;
  }
  const why =
    c === 'auto'
      ? name === 'tfjs'
        ? `auto → tfjs (${backend === 'wasm' || backend === 'cpu' || backend === 'tensorflow' ? 'no native engine available' : `backend ${backend} is not a CPU backend`})`
        : `auto → ${name}`
      : name;
  return `${why} on backend ${backend}`;
}

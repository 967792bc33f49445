/**
 * The `onnxruntime` engine: Newton–Schulz as an ONNX graph (`./onnxGraph.ts`) run by onnxruntime-node's
 * multi-threaded CPU kernels (MLAS GEMM), for tensors on a CPU backend in Node. onnxruntime-node is an
 * optional dependency: without it the provider says so and `auto` falls back.
 *
 * onnxruntime's `session.run` is asynchronous and tfjs calls `applyGradients` synchronously, so the
 * sessions live on one worker thread (`./onnxruntime.worker.ts`) and `run` blocks the caller on the
 * synchronous bridge (`./bridge.ts`) until every matrix of the call is back: one bridge round trip per
 * call, one session run per matrix inside it. Sessions are cached per graph (preconditioning —
 * Frobenius or Turbo-Muon's AOL —, coefficient rows, normScale; eps is fed per run) and orientation, created on first use. The worker starts on the first `run`, never
 * keeps the process alive, and `dispose()` terminates it (its sessions go with it).
 * @module
 */
import { availableParallelism } from 'node:os';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { SyncWorker } from './bridge.js';
import type { EngineIteration, EngineMatrix, EngineProvider, NewtonSchulzEngine } from './engine.js';
import type { OnnxRuntime } from './onnxGraph.js';
import type { OnnxRuntimeCall, OnnxRuntimeWorkerData } from './onnxruntime.worker.js';

/** The onnxruntime-node version the engine is built and tested against. */
export const ONNXRUNTIME_VERSION = '1.30.0';

const WORKER_URL = new URL('./onnxruntime.worker.js', import.meta.url);

/**
 * Smallest matrix (entries) for which `auto` picks this engine over tfjs on wasm. Measured on 2 shared
 * cores, 5 Jordan steps, warm: 32×32 0.34 ms, 64×64 0.54 ms, 128×128 1.3 ms, 256×256 6.4 ms through the
 * engine (bridge round trip and copies included) against 4.7 / 9.1 / 24 ms for tfjs-wasm at 64 / 128 /
 * 256; below 64×64 both are dominated by per-call overheads and the copy off the backend.
 */
export const ONNXRUNTIME_MINIMUM_ELEMENTS = 64 * 64;

let loaded: { ok: true; ort: OnnxRuntime } | { ok: false; reason: string } | undefined;

/**
 * Loads onnxruntime-node (once; CommonJS, through `createRequire`), or says why it cannot: not in Node, the
 * package not installed (it is an optional dependency), or its native binding failing to load here.
 */
export function loadOnnxRuntime(): { ok: true; ort: OnnxRuntime } | { ok: false; reason: string } {
  if (loaded !== undefined) return loaded;
  if (typeof process !== 'object' || typeof process.versions?.node !== 'string') {
    loaded = { ok: false, reason: 'onnxruntime-node runs only in Node.js' };
    return loaded;
  }
  try {
    const ort = createRequire(import.meta.url)('onnxruntime-node') as OnnxRuntime;
    loaded = { ok: true, ort };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const reason =
      err.code === 'MODULE_NOT_FOUND' && /'onnxruntime-node'/.test(err.message)
        ? `the optional dependency onnxruntime-node is not installed (npm install onnxruntime-node@${ONNXRUNTIME_VERSION})`
        : `onnxruntime-node failed to load: ${err.message}`;
    loaded = { ok: false, reason };
  }
  return loaded;
}

let availability: { ok: true } | { ok: false; reason: string } | undefined;

/**
 * Whether the `onnxruntime` engine can run in this process, and why not: onnxruntime-node must load (it
 * is loaded once here, ≈ 50 ms, so that a broken install is reported now rather than by the first
 * `run`), and the synchronous bridge needs `SharedArrayBuffer` and `Atomics.wait`.
 */
export function onnxRuntimeAvailability(): { ok: true } | { ok: false; reason: string } {
  availability ??= (() => {
    if (typeof SharedArrayBuffer !== 'function' || typeof Atomics.wait !== 'function') {
      return { ok: false, reason: 'SharedArrayBuffer and Atomics.wait are not available' } as const;
    }
    const l = loadOnnxRuntime();
    if (!l.ok) return { ok: false, reason: l.reason } as const;
    const js = fileURLToPath(WORKER_URL);
    if (!existsSync(js) && !existsSync(js.replace(/\.js$/, '.ts'))) {
      return { ok: false, reason: `the worker script ${js} is missing` } as const;
    }
    return { ok: true } as const;
  })();
  return availability;
}

/** Options of {@link OnnxRuntimeEngine}. */
export interface OnnxRuntimeEngineOptions {
  /** onnxruntime's intra-op threads (default `os.availableParallelism()`). */
  readonly threads?: number;
  /** Longest wait for one call, thread start-up and session creation included, in ms (default 300 000). */
  readonly timeoutMs?: number;
  /** Sessions kept in the worker; the least recently used are released beyond (default 16). */
  readonly capacity?: number;
  /**
   * Whether onnxruntime's idle threads spin-wait for work (default `false`: spinning threads keep every
   * core busy for a while after each call, competing with TensorFlow.js on the calling thread).
   */
  readonly spinning?: boolean;
  /**
   * The worker module (default: `./onnxruntime.worker.js`). For fault-injection tests: a module that
   * answers the `run` call through `serveSync` the way `./onnxruntime.worker.ts` does.
   */
  readonly workerScript?: URL;
}

function checkOption(name: string, value: number | undefined, min: number, integer: boolean): void {
  if (value === undefined) return;
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new RangeError(`onnxruntime engine: ${name} must be ${integer ? 'an integer ' : ''}in [${min}, inf), got ${String(value)}`);
  }
}

function checkIteration(iteration: EngineIteration): void {
  const { steps, normScale, eps } = iteration;
  if (!Array.isArray(steps) || steps.some((r: readonly number[]) => r.length !== 3 || r.some((v) => !Number.isFinite(v)))) {
    throw new RangeError('onnxruntime engine: iteration.steps must be rows [a, b, c] of finite numbers');
  }
  if (!Number.isFinite(normScale) || normScale <= 0) {
    throw new RangeError(`onnxruntime engine: normScale must be in (0, inf), got ${normScale}`);
  }
  if (!Number.isFinite(eps) || eps < 0) throw new RangeError(`onnxruntime engine: eps must be in [0, inf), got ${eps}`);
  if (iteration.form !== undefined && iteration.form !== 'standard' && iteration.form !== 'gram' && iteration.form !== 'auto') {
    throw new RangeError(`onnxruntime engine: form must be one of 'standard', 'gram', 'auto', got '${String(iteration.form)}'`);
  }
  const r = iteration.gramRestarts;
  if (r !== undefined && (!Array.isArray(r) || !r.every((v) => Number.isInteger(v) && v >= 0))) {
    throw new RangeError(`onnxruntime engine: gramRestarts must be non-negative integers, got ${JSON.stringify(r)}`);
  }
  const p = iteration.precondition;
  if (p !== undefined && p !== 'frobenius' && p !== 'aol') {
    throw new RangeError(`onnxruntime engine: precondition must be one of 'frobenius', 'aol', got '${String(p)}'`);
  }
}

/**
 * Newton–Schulz on onnxruntime (see the module comment). Synchronous: `run` blocks the calling thread
 * until every result is back.
 *
 * @example
 * const engine = new OnnxRuntimeEngine();
 * const [o] = engine.run([{ rows: 1024, cols: 4096, data }], { steps: Array(5).fill([3.4445, -4.775, 2.0315]), normScale: 1, eps: 1e-7 });
 * await engine.close();
 */
export class OnnxRuntimeEngine implements NewtonSchulzEngine {
  readonly name = 'onnxruntime' as const;
  readonly threads: number;
  readonly timeoutMs: number;
  readonly capacity: number;
  readonly spinning: boolean;
  private readonly workerScript: URL;
  private worker: SyncWorker | undefined;

  constructor(options: OnnxRuntimeEngineOptions = {}) {
    checkOption('threads', options.threads, 1, true);
    checkOption('timeoutMs', options.timeoutMs, 1, false);
    checkOption('capacity', options.capacity, 1, true);
    this.threads = options.threads ?? availableParallelism();
    this.timeoutMs = options.timeoutMs ?? 300_000;
    this.capacity = options.capacity ?? 16;
    this.spinning = options.spinning ?? false;
    this.workerScript = options.workerScript ?? WORKER_URL;
  }

  /** Whether the worker thread is running. */
  get started(): boolean {
    return this.worker?.started ?? false;
  }

  run(matrices: readonly EngineMatrix[], iteration: EngineIteration): Float32Array[] {
    checkIteration(iteration);
    matrices.forEach(({ rows, cols, data }, i) => {
      if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
        throw new RangeError(`onnxruntime engine: matrix ${i} must have non-negative integer rows and cols, got ${rows}×${cols}`);
      }
      if (!(data instanceof Float32Array) || data.length !== rows * cols) {
        throw new RangeError(
          `onnxruntime engine: matrix ${i} (${rows}×${cols}) needs a Float32Array of ${rows * cols} values, got ${data instanceof Float32Array ? data.length : typeof data}`,
        );
      }
    });
    const results: Float32Array[] = matrices.map(() => new Float32Array(0));
    const work = matrices.flatMap((m, i) => (m.rows * m.cols > 0 ? [i] : []));
    if (work.length === 0) return results;
    const call: OnnxRuntimeCall = {
      shapes: work.map((i) => [matrices[i].rows, matrices[i].cols] as const),
      steps: iteration.steps.map((r) => [r[0], r[1], r[2]] as const),
      normScale: iteration.normScale,
      eps: iteration.eps,
      precondition: iteration.precondition ?? 'frobenius',
      ...(iteration.form === 'gram' || iteration.form === 'auto'
        ? { form: iteration.form, gramRestarts: [...(iteration.gramRestarts ?? [2])] }
        : {}),
    };
    let outputs: Float32Array[];
    try {
      outputs = this.thread().call('run', work.map((i) => matrices[i].data), call);
    } catch (e) {
      throw new Error(`onnxruntime engine: ${(e as Error).message}`, { cause: e });
    }
    // an answer is taken only whole: one output per matrix, each of its size (else nothing is returned)
    if (outputs.length !== work.length) {
      throw new Error(`onnxruntime engine: the worker answered ${outputs.length} outputs for ${work.length} matrices; nothing was written`);
    }
    work.forEach((i, j) => {
      const { rows, cols } = matrices[i];
      if (outputs[j].length !== rows * cols) {
        throw new Error(
          `onnxruntime engine: the worker answered ${outputs[j].length} values for matrix ${i} (${rows}×${cols}); nothing was written`,
        );
      }
    });
    work.forEach((i, j) => {
      results[i] = outputs[j];
    });
    return results;
  }

  /** Number of onnxruntime sessions the worker holds (0 when it is not running). */
  sessions(): number {
    return this.started ? this.thread().call('sessions')[0][0] : 0;
  }

  /** Stops the worker thread, which releases its sessions (a later `run` starts a new one). */
  dispose(): void {
    void this.close();
  }

  /** {@link dispose}, with a promise that resolves once the thread has exited and its handles are closed. */
  close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    return w === undefined ? Promise.resolve() : w.terminate();
  }

  private thread(): SyncWorker {
    const data: OnnxRuntimeWorkerData = { threads: this.threads, capacity: this.capacity, spinning: this.spinning };
    this.worker ??= new SyncWorker(this.workerScript, { name: 'onnxruntime engine', timeoutMs: this.timeoutMs, workerData: data });
    return this.worker;
  }
}

/** The `onnxruntime` engine's provider (registered by `orthoptim/engines`). */
export const onnxRuntimeEngineProvider: EngineProvider = {
  name: 'onnxruntime',
  available: onnxRuntimeAvailability,
  minimumElements: ONNXRUNTIME_MINIMUM_ELEMENTS,
  // the graph's Gram form (./onnxGraph.ts gramSteps), Frobenius or AOL
  gramForm: true,
  create: () => new OnnxRuntimeEngine(),
};

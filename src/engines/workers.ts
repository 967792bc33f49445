/**
 * The `workers` Newton–Schulz engine: the iteration over a pool of worker threads, each running
 * TensorFlow.js on its own wasm backend (`./workers.worker.ts`), called synchronously through
 * `./bridge.ts`.
 *
 * Why: on Node, tfjs-wasm runs one thread. Newton–Schulz on a wide k×n matrix `X` splits by columns:
 * with `X = [X_1 … X_T]`, the Gram matrix is `A = XXᵀ = Σ_j X_j X_jᵀ` and the update
 * `X ← aX + (bA + cA²)X = P·X` acts on each block alone (`X_j ← P·X_j`, `P = aI + bA + cA²`). So each
 * thread keeps its column block for the whole iteration and the threads exchange only k×k matrices per
 * step — the partial Grams (all-reduce) and blocks of `P` (all-gather) — through shared memory
 * ({@link SharedCollective}). The k×n data crosses threads twice per call (in and out), not per step.
 * Both k×k products are symmetric: the partial Grams and `A²` are computed only on and above the
 * diagonal, by blocks (`./blocks.ts`), and the k×k work between the products runs in JavaScript on the
 * shared memory (`./workers.worker.ts`). Per thread and step on a k×n matrix over T = 2 threads with 4
 * Gram blocks that is `(5/8)(2k²n + 2k³)/T + 2k²n/T` flops, against `(4k²n + 2k³)/T` without the symmetry.
 *
 * Scheduling of one call (all matrices of an optimizer step): a matrix of at least `minShardElements`
 * entries is split over every thread; smaller ones run whole, each on one thread (largest first, on the
 * least loaded thread). A whole matrix gives exactly the tfjs engine's result on wasm; a sharded one
 * differs by float32 rounding (the summation order of the Gram matrix, `bA + cA²` for `A(bI + cA)`).
 *
 * AOL preconditioning (Turbo-Muon, `src/linalg/aol.ts`) needs nothing more: its scaling comes from the
 * first step's all-reduced Gram matrix, identical on every thread (`./workers.worker.ts`).
 *
 * The calling thread copies the matrices into one shared buffer, posts one call per worker thread, then
 * computes its own share — it is the last rank (`mainThreadShare`, the default where its TensorFlow.js
 * backend is wasm): the same code as the workers (`./workersShare.ts`) on the same kernels, so the
 * results are the same bits as with one more worker instead — and blocks until every thread has written
 * its blocks back in place. So `threads` ranks take `threads − 1` worker threads, and on 2 cores one
 * worker plus the calling thread fill the machine (before, two workers computed while the calling thread
 * only waited). Threads start on the first `run`, never keep the process alive, and stop on `dispose()`.
 *
 * References: Jordan et al., "Muon: An optimizer for hidden layers in neural networks" (2024) and
 * KellerJordan/Muon `muon.py` for the iteration; the column split is the data-parallel Gram all-reduce of
 * distributed Muon (Essential AI, "Practical Efficiency of Muon for Pretraining", 2025).
 * @module
 */
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { shardSizes } from '../linalg/collective.js';
import { SharedCollective, SyncWorker, waitAll, type SharedCollectiveBuffers } from './bridge.js';
import type { EngineIteration, EngineMatrix, EngineProvider, NewtonSchulzEngine } from './engine.js';
import { releaseShareScratch, runShare, type WorkersCall, type WorkersTask } from './workersShare.js';

const WORKER_URL = new URL('./workers.worker.js', import.meta.url);

/**
 * Smallest matrix (entries) for which `auto` picks this engine over tfjs on wasm. Measured on 2 shared
 * cores (tfjs-wasm, 5 Jordan steps, 2 threads, copies off and back onto the backend included): one
 * 64×64 matrix costs the same either way (0.7 ms; the bridge round trip is ≈ 0.2 ms), eight of them in
 * one call run 1.6× faster (the threads take whole matrices in parallel); at 32×32 the engine is 1.6–4×
 * slower.
 */
export const WORKERS_MINIMUM_ELEMENTS = 64 * 64;

/**
 * Default {@link WorkersEngineOptions.minShardElements}. Splitting pays for its per-step exchanges from
 * about 300×300: measured 256×256 split 24–36 ms against 22 ms whole, 384×384 split 45 ms against 62–64
 * ms whole, 512×512 split 85 ms against 146 ms whole.
 */
export const WORKERS_MIN_SHARD_ELEMENTS = 128 * 1024;

/** Options of {@link WorkersEngine}. */
export interface WorkersEngineOptions {
  /**
   * Ranks the work is split over (default: `os.availableParallelism()` clamped to [2, 4]): with
   * {@link mainThreadShare} the calling thread is one of them and `threads − 1` worker threads start;
   * without it, `threads` worker threads.
   */
  readonly threads?: number;
  /**
   * The calling thread computes the last rank's share while the workers compute theirs (default true,
   * false with a custom {@link workerScript}, whose computation the calling thread cannot run). Used only
   * when the calling thread's TensorFlow.js backend is `wasm` (the workers' kernels, hence their bits);
   * otherwise every rank is a worker thread.
   */
  readonly mainThreadShare?: boolean;
  /** Longest wait for one call, thread start-up included, in milliseconds (default 300 000). */
  readonly timeoutMs?: number;
  /**
   * A matrix with at least this many entries is split over all threads; a smaller one runs whole on
   * one thread (default {@link WORKERS_MIN_SHARD_ELEMENTS}; 0 splits every matrix whose long side has at
   * least `threads` entries).
   */
  readonly minShardElements?: number;
  /**
   * A split matrix whose short side k is at least this (and at least 2·threads) computes
   * `P = aI + bA + cA²` by blocks across threads (one more exchange per step); for a smaller k every
   * thread computes all of P (default 128).
   */
  readonly splitPolynomialFrom?: number;
  /**
   * A split matrix's partial Gram `X_jᵀX_j` (symmetric) is computed by this many column blocks, only
   * those on and above the diagonal: `(1 + 1/g)/2` of the product's flops in g products (default: 4,
   * fewer for k < 512 so that a block keeps ≥ 128 columns, see `autoGramBlocks` in `./blocks.ts`).
   */
  readonly gramBlocks?: number;
  /**
   * Record where each thread's time goes (per-phase wall times of the last call, in
   * {@link WorkersEngine.lastProfile}); for benchmarks (default false).
   */
  readonly profile?: boolean;
  /**
   * The worker module (default: `./workers.worker.js`). For fault-injection tests: a module that answers
   * the `newtonSchulz` call through `serveSync` the way `./workers.worker.ts` does.
   */
  readonly workerScript?: URL;
}

/** The phases of {@link WorkersProfile}, in the order a thread reports them. */
export const PROFILE_PHASES = ['in', 'transpose', 'gram', 'copy', 'wait', 'sum', 'poly', 'combine', 'update', 'out'] as const;

/**
 * Per-thread wall times (ms) of one call, by phase: `in`/`out` copies between the call's shared buffer and
 * the thread's wasm heap; per step `transpose` (the block, for its Gram), `gram` (`X_jᵀX_j`), `copy` (the
 * partial Gram into shared memory), `wait` (barriers: other threads still computing, and wake-up),
 * `sum` (the all-reduce and, at step 0, the norm), `poly` (the `A_r·A` product), `combine` (this thread's
 * rows of P), `update` (`X_j·P`). Whole (unsplit) matrices count under `gram` … as one `update` phase.
 */
export type WorkersProfile = Readonly<Record<(typeof PROFILE_PHASES)[number], number>>;

function checkOption(name: string, value: number | undefined, min: number, integer: boolean): void {
  if (value === undefined) return;
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new RangeError(`workers engine: ${name} must be ${integer ? 'an integer ' : ''}in [${min}, inf), got ${String(value)}`);
  }
}

/** `os.availableParallelism()` clamped to [2, 4]. */
export function defaultWorkerThreads(): number {
  return Math.min(4, Math.max(2, availableParallelism()));
}

interface Plan {
  readonly index: number;
  readonly offset: number;
  readonly rows: number;
  readonly cols: number;
  readonly long: number;
  readonly short: number;
  readonly cost: number;
  readonly sharded: boolean;
}

/**
 * Newton–Schulz over worker threads (see the module comment). Synchronous: `run` blocks the calling
 * thread until every result is written. The shared buffers (all matrices of the largest call, and
 * `2·threads` k×k slots for the exchanges) are kept for the next call until `dispose()`.
 *
 * @example
 * const engine = new WorkersEngine({ threads: 2 });
 * const [o] = engine.run([{ rows: 1024, cols: 4096, data }], { steps: Array(5).fill([3.4445, -4.775, 2.0315]), normScale: 1, eps: 1e-7 });
 * await engine.shutdown();
 */
export class WorkersEngine implements NewtonSchulzEngine {
  readonly name = 'workers' as const;
  readonly threads: number;
  readonly timeoutMs: number;
  readonly minShardElements: number;
  readonly splitPolynomialFrom: number;
  /** 0: automatic (see {@link WorkersEngineOptions.gramBlocks}). */
  readonly gramBlocks: number;
  readonly profile: boolean;
  readonly mainThreadShare: boolean;
  private readonly workerScript: URL;
  /**
   * With `profile`: each rank's phase times in the last call, in rank order — the calling thread's share
   * last when it took one (ranks given no work are left out).
   */
  lastProfile: WorkersProfile[] | undefined;
  /** Matrix blocks the calling thread computed in the last call (0 when only the workers did). */
  lastMainThreadTasks = 0;
  private readonly workers: SyncWorker[] = [];
  private gather = new SharedArrayBuffer(0);
  private data = new SharedArrayBuffer(0);
  private collective: SharedCollectiveBuffers | undefined;

  constructor(options: WorkersEngineOptions = {}) {
    checkOption('threads', options.threads, 1, true);
    checkOption('timeoutMs', options.timeoutMs, 1, false);
    checkOption('minShardElements', options.minShardElements, 0, false);
    checkOption('splitPolynomialFrom', options.splitPolynomialFrom, 1, false);
    checkOption('gramBlocks', options.gramBlocks, 1, true);
    this.threads = options.threads ?? defaultWorkerThreads();
    this.timeoutMs = options.timeoutMs ?? 300_000;
    this.minShardElements = options.minShardElements ?? WORKERS_MIN_SHARD_ELEMENTS;
    this.splitPolynomialFrom = options.splitPolynomialFrom ?? 128;
    this.gramBlocks = options.gramBlocks ?? 0;
    this.profile = options.profile ?? false;
    this.workerScript = options.workerScript ?? WORKER_URL;
    this.mainThreadShare = options.mainThreadShare ?? options.workerScript === undefined;
  }

  /** The rank the calling thread computes in a call now, or -1 (see {@link WorkersEngineOptions.mainThreadShare}). */
  mainRank(): number {
    return this.mainThreadShare && tf.getBackend() === 'wasm' ? this.threads - 1 : -1;
  }

  run(matrices: readonly EngineMatrix[], iteration: EngineIteration): Float32Array[] {
    checkIteration(iteration);
    const plans = this.plan(matrices);
    const results = matrices.map(() => new Float32Array(0));
    const work = plans.filter((p) => p.rows * p.cols > 0);
    if (work.length === 0) return results;

    const total = plans.reduce((s, p) => s + p.rows * p.cols, 0);
    if (total * 4 > this.data.byteLength) this.data = new SharedArrayBuffer(Math.max(total * 4, 2 * this.data.byteLength));
    const view = new Float32Array(this.data);
    for (const p of work) view.set(matrices[p.index].data, p.offset);

    const main = this.mainRank();
    const tasks = this.schedule(work, main);
    this.lastMainThreadTasks = 0;
    const sharded = work.filter((p) => p.sharded);
    let collective: SharedCollectiveBuffers | undefined;
    if (sharded.length > 0) {
      const slot = Math.max(...sharded.map((p) => p.short * p.short));
      if (this.collective === undefined || this.collective.slotElements < slot) {
        this.collective = SharedCollective.allocate(this.threads, slot);
      }
      collective = this.collective;
      SharedCollective.reset(collective);
      if (slot * 4 > this.gather.byteLength) this.gather = new SharedArrayBuffer(slot * 4);
    }

    const needed = main >= 0 ? this.threads - 1 : this.threads;
    while (this.workers.length < needed) {
      this.workers.push(
        new SyncWorker(this.workerScript, { name: `workers engine thread ${this.workers.length}`, timeoutMs: this.timeoutMs }),
      );
    }
    const steps = iteration.steps.map((r) => [r[0], r[1], r[2]] as const);
    const posted: SyncWorker[] = [];
    const ranks: number[] = [];
    const errors: Error[] = [];
    const callOf = (rank: number): WorkersCall => ({
        data: this.data,
        collective,
        gather: collective === undefined ? undefined : this.gather,
        rank,
        tasks: tasks[rank],
        steps,
        normScale: iteration.normScale,
        eps: iteration.eps,
        precondition: iteration.precondition ?? 'frobenius',
        splitPolynomialFrom: this.splitPolynomialFrom,
        gramBlocks: this.gramBlocks,
        timeoutMs: this.timeoutMs,
        profile: this.profile,
      });
    for (let rank = 0; rank < this.threads; rank++) {
      if (tasks[rank].length === 0 || rank === main) continue;
      try {
        this.workers[rank].post('newtonSchulz', [], callOf(rank));
        posted.push(this.workers[rank]);
        ranks.push(rank);
      } catch (e) {
        errors.push(e as Error);
        if (collective !== undefined) SharedCollective.abort(collective);
        break;
      }
    }
    // The calling thread's share, while the workers compute theirs; in a barrier it watches them: a dead
    // one aborts the collective (its exit hook does too, unless it died before the worker module ran).
    let mainError: Error | undefined;
    let mainTimes: ReadonlyMap<string, number> | undefined;
    if (main >= 0 && tasks[main].length > 0 && errors.length === 0) {
      const watch = (): void => {
        if (collective !== undefined && posted.some((w) => w.dead)) SharedCollective.abort(collective);
      };
      try {
        const r = runShare(callOf(main), undefined, watch);
        this.lastMainThreadTasks = r.done;
        mainTimes = r.times;
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        mainError = new Error(`calling thread (rank ${main}): ${err.message}`, { cause: err });
        if (collective !== undefined) SharedCollective.abort(collective);
      }
    }
    const profiles: WorkersProfile[] = [];
    // Wait for every thread while watching the others: a failed or dead one aborts the collective, so
    // threads waiting for it in a barrier give up at once instead of at their deadline (bridge.waitAll).
    const replies = waitAll(posted, () => {
      if (collective !== undefined) SharedCollective.abort(collective);
    });
    replies.forEach((reply, i) => {
      if ('error' in reply) {
        errors.push(reply.error);
        return;
      }
      // the receipt: how many tasks the thread wrote back (results are written in place, so a reply
      // without it would leave the un-orthogonalized input in the buffer)
      const [receipt, times] = reply.outputs;
      const want = tasks[ranks[i]].length;
      if (receipt === undefined || receipt.length !== 1 || receipt[0] !== want) {
        errors.push(
          new Error(
            `thread ${ranks[i]} replied without its results (${want} matrix block${want === 1 ? '' : 's'} ` +
              `expected, receipt ${receipt === undefined ? 'missing' : `[${Array.from(receipt).join(', ')}]`}); nothing was written`,
          ),
        );
        return;
      }
      if (times !== undefined) profiles.push(Object.fromEntries(PROFILE_PHASES.map((p, j) => [p, times[j]])) as WorkersProfile);
    });
    // after the workers' errors: a worker's failure is the cause when the calling thread gave up for it
    if (mainError !== undefined) errors.push(mainError);
    const mt = mainTimes;
    if (mt !== undefined) profiles.push(Object.fromEntries(PROFILE_PHASES.map((p) => [p, mt.get(p) ?? 0])) as WorkersProfile);
    if (errors.length > 0) {
      // the first failure is the cause; the others are threads that gave up because of it
      const first = errors.find((e) => !e.message.includes('collective aborted')) ?? errors[0];
      throw new Error(`workers engine: ${first.message}`, { cause: first });
    }
    this.lastProfile = this.profile ? profiles : undefined;
    for (const p of work) results[p.index] = view.slice(p.offset, p.offset + p.rows * p.cols);
    return results;
  }

  /** Stops the threads and frees the shared buffers (a later `run` starts new threads). */
  dispose(): void {
    void this.shutdown();
  }

  /** {@link dispose}, resolving once every thread has exited. */
  shutdown(): Promise<void> {
    const stopped = this.workers.map((w) => w.terminate());
    this.workers.length = 0;
    this.data = new SharedArrayBuffer(0);
    this.gather = new SharedArrayBuffer(0);
    this.collective = undefined;
    this.lastMainThreadTasks = 0;
    releaseShareScratch(); // the calling thread's scratch arrays (its share's blocks)
    return Promise.all(stopped).then(() => undefined);
  }

  /** Live tensors in each started thread's TensorFlow.js (for leak tests). */
  workerTensors(): number[] {
    return this.workers.filter((w) => w.started).map((w) => w.call('numTensors')[0][0]);
  }

  private plan(matrices: readonly EngineMatrix[]): Plan[] {
    let offset = 0;
    return matrices.map((m, index) => {
      const { rows, cols, data } = m;
      if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
        throw new RangeError(`workers engine: matrix ${index} must have non-negative integer rows and cols, got ${rows}×${cols}`);
      }
      if (!(data instanceof Float32Array) || data.length !== rows * cols) {
        throw new RangeError(`workers engine: matrix ${index} (${rows}×${cols}) needs a Float32Array of ${rows * cols} values, got ${data instanceof Float32Array ? data.length : typeof data}`);
      }
      const long = Math.max(rows, cols);
      const short = Math.min(rows, cols);
      const sharded = this.threads > 1 && rows * cols >= this.minShardElements && long >= this.threads;
      const plan: Plan = { index, offset, rows, cols, long, short, cost: short * short * (2 * long + short), sharded };
      offset += rows * cols;
      return plan;
    });
  }

  /**
   * Per rank: the shards of every split matrix (same order everywhere), then its whole matrices (largest
   * first, each on the least loaded rank; on a tie the calling thread's rank `main`, which needs no
   * hand-over).
   */
  private schedule(work: readonly Plan[], main: number): WorkersTask[][] {
    const tasks: WorkersTask[][] = Array.from({ length: this.threads }, () => []);
    for (const p of work) {
      if (!p.sharded) continue;
      let start = 0;
      shardSizes(p.long, this.threads).forEach((size, rank) => {
        tasks[rank].push({ offset: p.offset, rows: p.rows, cols: p.cols, start, end: start + size, sharded: true });
        start += size;
      });
    }
    const load = new Array<number>(this.threads).fill(0);
    for (const p of work.filter((q) => !q.sharded).sort((a, b) => b.cost - a.cost)) {
      const least = Math.min(...load);
      const rank = main >= 0 && load[main] === least ? main : load.indexOf(least);
      load[rank] += p.cost;
      tasks[rank].push({ offset: p.offset, rows: p.rows, cols: p.cols, start: 0, end: p.long, sharded: false });
    }
    return tasks;
  }
}

function checkIteration(iteration: EngineIteration): void {
  const { steps, normScale, eps } = iteration;
  if (!steps.every((r) => r.length === 3 && r.every((v) => Number.isFinite(v)))) {
    throw new RangeError('workers engine: iteration.steps must be rows [a, b, c] of finite numbers');
  }
  if (!Number.isFinite(normScale) || normScale <= 0) throw new RangeError(`workers engine: normScale must be in (0, inf), got ${normScale}`);
  if (!Number.isFinite(eps) || eps < 0) throw new RangeError(`workers engine: eps must be in [0, inf), got ${eps}`);
  // 'auto' means the standard form here: this engine has no Gram form (its provider says so)
  if (iteration.form === 'gram') {
    throw new RangeError("workers engine: runs the standard form only; the Gram form needs engine 'onnxruntime' or 'tfjs'");
  }
  if (iteration.form !== undefined && iteration.form !== 'standard' && iteration.form !== 'auto') {
    throw new RangeError(`workers engine: form must be one of 'standard', 'auto', got '${String(iteration.form)}'`);
  }
  const p = iteration.precondition;
  if (p !== undefined && p !== 'frobenius' && p !== 'aol') {
    throw new RangeError(`workers engine: precondition must be one of 'frobenius', 'aol', got '${String(p)}'`);
  }
}

let availability: { ok: true } | { ok: false; reason: string } | undefined;

/** Whether the `workers` engine can run in this process, and why not. */
export function workersAvailability(): { ok: true } | { ok: false; reason: string } {
  availability ??= (() => {
    if (typeof SharedArrayBuffer !== 'function' || typeof Atomics.wait !== 'function') {
      return { ok: false, reason: 'SharedArrayBuffer and Atomics.wait are not available' } as const;
    }
    try {
      import.meta.resolve('@tensorflow/tfjs-backend-wasm');
    } catch {
      return { ok: false, reason: "the worker threads need '@tensorflow/tfjs-backend-wasm' (npm install @tensorflow/tfjs-backend-wasm)" } as const;
    }
    const js = fileURLToPath(WORKER_URL);
    if (!existsSync(js) && !existsSync(js.replace(/\.js$/, '.ts'))) {
      return { ok: false, reason: `the worker script ${js} is missing` } as const;
    }
    return { ok: true } as const;
  })();
  return availability;
}

/** The `workers` engine's provider (registered by `orthoptim/engines`). */
export const workersEngineProvider: EngineProvider = {
  name: 'workers',
  available: workersAvailability,
  minimumElements: WORKERS_MINIMUM_ELEMENTS,
  create: () => new WorkersEngine(),
};

/**
 * A synchronous bridge into worker threads: the calling thread hands float32 arrays to a worker and
 * blocks (`Atomics.wait` on a `SharedArrayBuffer`) until the worker has written its results. The native
 * Newton–Schulz engines need it because TensorFlow.js calls `applyGradients` synchronously inside
 * `model.fit`; Node allows `Atomics.wait` on the main thread.
 *
 * Two halves, both in this module:
 * - calling side: {@link SyncWorker} — `call(method, inputs, meta)` (or `post` then `wait`, to drive
 *   several workers at once), `terminate()`;
 * - worker side: {@link serveSync} — the worker module registers its handlers
 *   `{ [method]: async (inputs, meta) => Float32Array[] }`.
 * Between workers: {@link SharedCollective} — a barrier, an all-reduce and an all-gather of float32
 * blocks through shared memory, for sharded algorithms (the shared-memory counterpart of the in-process
 * `Collective` of `src/linalg/collective.ts`).
 *
 * ## Protocol
 *
 * Each worker has a private control block (`Int32Array` over a `SharedArrayBuffer`): `[STATE, EXIT_CODE]`,
 * STATE ∈ IDLE, PENDING, DONE, DEAD; a `MessageChannel` whose calling-side port has no listener (it is
 * read only with `receiveMessageOnPort`, so it never keeps the process alive); and a data buffer
 * (`SharedArrayBuffer`, float32) that both sides replace by a larger one when a call needs more room.
 *
 * 1. Call: the caller packs the inputs back to back into the data buffer, stores STATE = PENDING and
 *    posts `{seq, method, meta, lengths, buffer}` (a `SharedArrayBuffer` in a message is shared, not
 *    copied; `meta` is structured-cloned, so it may itself carry shared buffers).
 * 2. The worker runs the handler on views of the inputs, writes the outputs back to back into the data
 *    buffer (or into a new, larger one it allocates), posts `{seq, lengths, buffer?}` — or
 *    `{seq, error}` — on the port, then stores STATE = DONE and `Atomics.notify`s. A posted message is
 *    in the receiving port's queue when `postMessage` returns, so the caller finds it as soon as it
 *    sees DONE.
 * 3. The caller `Atomics.wait`s on STATE (with a deadline), reads the reply with
 *    `receiveMessageOnPort`, and copies the outputs out (the data buffer is reused by the next call).
 *
 * Failures never hang the caller: the worker is started from a small bootstrap that, before loading the
 * worker module, installs a `process` `'exit'` hook (STATE = DEAD + exit code + notify, which also runs
 * for `process.exit()` inside a handler) and an `'uncaughtException'` hook (posts the error, exits); a
 * module that fails to load, or loads but never calls `serveSync`, is reported the same way. A handler's
 * exception comes back as an `Error` with the same name and message. A worker killed without running
 * JavaScript (out of memory under `resourceLimits`) is caught by the deadline. After a death or a
 * timeout the worker is terminated and the next call starts a fresh one.
 *
 * Worker scripts in TypeScript: a worker URL ending in `.js` that does not exist next to the calling
 * module is replaced by the `.ts` file beside it (running from the sources), and tsx's loader is
 * registered inside the worker first — on Node 20, `--import tsx` in `execArgv` does not register tsx's
 * hooks in worker threads.
 * @module
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  MessageChannel,
  Worker,
  receiveMessageOnPort,
  workerData,
  type MessagePort,
  type ResourceLimits,
} from 'node:worker_threads';
import {
  CommunicatorTimeoutError,
  HASH_LENGTH,
  blockCounts,
  checkData,
  checkHash,
  checkOp,
  checkRoot,
  divideInPlace,
  type Communicator,
  type ReduceOp,
} from '../linalg/communicator.js';

const STATE = 0;
const EXIT_CODE = 1;
const STARTED = 2;
const CONTROL_INTS = 3;

const IDLE = 0;
const PENDING = 1;
const DONE = 2;
const DEAD = 3;

/** Key of the bridge's part of `workerData` (the user's part is under `data`). */
const BRIDGE_KEY = '__orthoptimSyncBridge';
/** Set on `globalThis` by {@link serveSync}, read by the bootstrap after the module has loaded. */
const SERVING = Symbol.for('orthoptim.syncBridge.serving');

/** A handler's error as it crosses the thread boundary. */
interface WireError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

interface Request {
  readonly seq: number;
  readonly method: string;
  readonly meta: unknown;
  readonly lengths: readonly number[];
  readonly buffer: SharedArrayBuffer;
}

type Response =
  | { readonly seq: number; readonly lengths: readonly number[]; readonly buffer?: SharedArrayBuffer }
  | { readonly seq: number; readonly error: WireError };
type Reply = Response | { readonly fatal: WireError };

interface BridgeData {
  readonly url: string;
  readonly tsx?: string;
  readonly control: SharedArrayBuffer;
  readonly port: MessagePort;
  readonly data: unknown;
}

function toWire(e: unknown): WireError {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: 'Error', message: String(e) };
}

function fromWire(w: WireError, where: string): Error {
  const Ctor = w.name === 'RangeError' ? RangeError : w.name === 'TypeError' ? TypeError : Error;
  const e = new Ctor(w.message);
  if (w.stack !== undefined) {
    const local = (e.stack ?? '').split('\n').slice(1).join('\n');
    e.stack = `${w.stack}\n    at <${where}>\n${local}`;
  }
  return e;
}

/**
 * The bootstrap every bridge worker starts with: hooks first, then the worker module. Plain JavaScript
 * that runs without any loader, evaluated as a CommonJS script — or as a module when the process runs
 * with `--input-type=module` (workers inherit it), hence no `require` when it is missing.
 */
const BOOTSTRAP = `
const builtin = typeof require === 'function' ? require : process.getBuiltinModule;
const { workerData } = builtin('node:worker_threads');
const bridge = workerData[${JSON.stringify(BRIDGE_KEY)}];
const control = new Int32Array(bridge.control);
Atomics.store(control, ${STARTED}, 1);
const wire = (e) => (e instanceof Error ? { name: e.name, message: e.message, stack: e.stack } : { name: 'Error', message: String(e) });
const fatal = (e) => {
  try { bridge.port.postMessage({ fatal: wire(e) }); } catch {}
  process.exit(1);
};
process.on('exit', (code) => {
  Atomics.store(control, ${EXIT_CODE}, code);
  Atomics.store(control, ${STATE}, ${DEAD});
  Atomics.notify(control, ${STATE});
});
process.on('uncaughtException', fatal);
(async () => {
  if (bridge.tsx !== undefined) (await import(bridge.tsx)).register();
  await import(bridge.url);
  if (globalThis[Symbol.for('orthoptim.syncBridge.serving')] !== true) {
    throw new Error('worker module ' + bridge.url + ' did not call serveSync()');
  }
})().catch(fatal);
`;

/**
 * The worker script to start for `url`: itself when it exists, else — for a `.js` URL — the `.ts` file
 * beside it (running from the TypeScript sources), together with tsx's ESM API to register in the worker.
 */
function resolveWorkerScript(url: URL): { url: string; tsx?: string } {
  if (url.protocol !== 'file:' || existsSync(fileURLToPath(url))) return { url: url.href };
  if (url.pathname.endsWith('.js')) {
    const ts = new URL(url.href.replace(/\.js$/, '.ts'));
    if (existsSync(fileURLToPath(ts))) {
      let tsx: string;
      try {
        tsx = import.meta.resolve('tsx/esm/api');
      } catch {
        throw new Error(`worker script ${fileURLToPath(url)} is not built, and tsx (to run ${fileURLToPath(ts)}) is not installed`);
      }
      return { url: ts.href, tsx };
    }
  }
  throw new Error(`worker script not found: ${fileURLToPath(url)}`);
}

/** Options of {@link SyncWorker}. */
export interface SyncWorkerOptions {
  /** Used in error messages and as the thread's name (default `'sync worker'`). */
  readonly name?: string;
  /** Longest wait for one call, worker start-up included, in milliseconds (default 300 000). */
  readonly timeoutMs?: number;
  /** Structured-cloneable data the worker reads with {@link syncWorkerData}. */
  readonly workerData?: unknown;
  /** V8 heap limits of the worker (see `node:worker_threads`). */
  readonly resourceLimits?: ResourceLimits;
}

interface Running {
  readonly worker: Worker;
  readonly port: MessagePort;
  readonly control: Int32Array;
  /** When a thread whose bootstrap has not run yet is given up. */
  readonly startDeadline: number;
  exited: { code: number } | undefined;
}

const FLOAT32 = Float32Array.BYTES_PER_ELEMENT;
/** Longest wait for a new thread's bootstrap to run (a thread starts in milliseconds; not its module). */
const START_TIMEOUT_MS = 30_000;

/**
 * A worker thread called synchronously. The thread starts lazily on the first call, is `unref()`ed (it
 * never keeps the process alive), and is restarted by the next call after it died or timed out.
 *
 * @example
 * const w = new SyncWorker(new URL('./my.worker.js', import.meta.url), { name: 'my engine' });
 * const [y] = w.call('double', [x], { factor: 2 }); // blocks until the worker has answered
 * await w.terminate();
 */
export class SyncWorker {
  readonly name: string;
  readonly timeoutMs: number;
  private readonly url: URL;
  private readonly options: SyncWorkerOptions;
  private running: Running | undefined;
  private buffer = new SharedArrayBuffer(0);
  private seq = 0;
  private pending: { seq: number; method: string; deadline: number } | undefined;
  /** Threads being stopped after a death or a timeout: {@link terminate} waits for them too. */
  private readonly stopping = new Set<Promise<void>>();

  constructor(url: URL, options: SyncWorkerOptions = {}) {
    const timeoutMs = options.timeoutMs ?? 300_000;
    if (!(timeoutMs > 0)) throw new RangeError(`SyncWorker: timeoutMs must be in (0, inf), got ${String(timeoutMs)}`);
    this.url = url;
    this.options = options;
    this.name = options.name ?? 'sync worker';
    this.timeoutMs = timeoutMs;
  }

  /**
   * Whether the thread has died: its exit was seen (event) or recorded by its exit hook in shared
   * memory — readable while the calling thread is blocked, when no event can be delivered.
   */
  get dead(): boolean {
    const run = this.running;
    return run !== undefined && (run.exited !== undefined || Atomics.load(run.control, STATE) === DEAD);
  }

  /** Whether a thread is running (started and not known to have exited). */
  get started(): boolean {
    return this.running !== undefined && this.running.exited === undefined;
  }

  /**
   * Calls `method` in the worker and blocks until it answers: its outputs, copied (they stay valid).
   * `inputs` are copied into shared memory; `meta` is structured-cloned (shared buffers in it are shared).
   *
   * @throws Error with the handler's name and message when the handler throws; an Error when the worker
   *   dies, cannot start, or does not answer within `timeoutMs`.
   */
  call(method: string, inputs: readonly Float32Array[] = [], meta?: unknown): Float32Array[] {
    this.post(method, inputs, meta);
    return this.wait();
  }

  /** Starts a call without waiting (to drive several workers at once); finish it with {@link wait}. */
  post(method: string, inputs: readonly Float32Array[] = [], meta?: unknown): void {
    if (this.pending !== undefined) {
      throw new Error(`${this.name}: '${this.pending.method}' is still pending; wait() for it before posting '${method}'`);
    }
    const run = this.start();
    const lengths = inputs.map((x) => x.length);
    const total = lengths.reduce((a, b) => a + b, 0);
    if (total * FLOAT32 > this.buffer.byteLength) {
      this.buffer = new SharedArrayBuffer(Math.max(total * FLOAT32, 2 * this.buffer.byteLength, 4096));
    }
    const view = new Float32Array(this.buffer);
    let offset = 0;
    for (const x of inputs) {
      view.set(x, offset);
      offset += x.length;
    }
    const seq = ++this.seq;
    Atomics.store(run.control, STATE, PENDING);
    const request: Request = { seq, method, meta, lengths, buffer: this.buffer };
    run.port.postMessage(request);
    this.pending = { seq, method, deadline: Date.now() + this.timeoutMs };
  }

  /**
   * Blocks until the call started by {@link post} is answered; see {@link call}. With `watch`, the wait
   * is cut into slices of {@link WATCH_SLICE_MS} and `watch` runs between them (a thread driving several
   * workers checks there whether another one died, and releases this one: see {@link waitAll}); an
   * answer still wakes the wait at once.
   */
  wait(watch?: () => void): Float32Array[] {
    const pending = this.pending;
    const run = this.running;
    if (pending === undefined || run === undefined) throw new Error(`${this.name}: wait() without a pending call`);
    this.pending = undefined;
    const { seq, method, deadline } = pending;
    for (;;) {
      const state = Atomics.load(run.control, STATE);
      if (state !== PENDING) break;
      const now = Date.now();
      const left = deadline - now;
      if (left <= 0) {
        this.discard();
        throw new Error(`${this.name}: '${method}' did not answer within ${this.timeoutMs} ms; the worker was terminated`);
      }
      // A thread whose bootstrap never ran (it installs the hooks that report deaths) would otherwise
      // be waited for until the deadline.
      let slice = watch === undefined ? left : Math.min(left, WATCH_SLICE_MS);
      if (Atomics.load(run.control, STARTED) === 0) {
        if (now >= run.startDeadline) {
          this.discard();
          throw new Error(`${this.name}: the worker thread did not start within ${START_TIMEOUT_MS} ms`);
        }
        slice = Math.min(slice, run.startDeadline - now, 100);
      }
      if (Atomics.wait(run.control, STATE, PENDING, slice) === 'timed-out') watch?.();
    }
    // Read every queued message: the reply to this call, or a fatal error before the thread exited.
    let reply: Response | undefined;
    let fatal: WireError | undefined;
    for (let m = receiveMessageOnPort(run.port); m !== undefined; m = receiveMessageOnPort(run.port)) {
      const r = m.message as Reply;
      if ('fatal' in r) fatal = r.fatal;
      else if (r.seq === seq) reply = r;
    }
    if (reply === undefined) {
      const code = Atomics.load(run.control, EXIT_CODE);
      const dead = Atomics.load(run.control, STATE) === DEAD;
      this.discard();
      if (fatal !== undefined) {
        const message = `${this.name}: worker failed during '${method}': ${fatal.message}`;
        throw fromWire({ ...fatal, message }, `thread '${this.name}'`);
      }
      throw new Error(
        dead
          ? `${this.name}: worker exited with code ${code} during '${method}'`
          : `${this.name}: no reply to '${method}' (protocol error)`,
      );
    }
    if (Atomics.load(run.control, STATE) === DEAD) this.discard(); // answered, then exited: restart next time
    else Atomics.store(run.control, STATE, IDLE);
    if ('error' in reply) throw fromWire(reply.error, `thread '${this.name}', '${method}'`);
    if (reply.buffer !== undefined) this.buffer = reply.buffer;
    const view = new Float32Array(this.buffer);
    const outputs: Float32Array[] = [];
    let offset = 0;
    for (const n of reply.lengths) {
      outputs.push(view.slice(offset, offset + n));
      offset += n;
    }
    return outputs;
  }

  /**
   * Stops the thread (a later call starts a new one). The returned promise resolves once the thread has
   * exited and its handle is closed; nothing is left that keeps the process alive either way.
   */
  terminate(): Promise<void> {
    const run = this.running;
    this.pending = undefined;
    this.running = undefined;
    this.buffer = new SharedArrayBuffer(0);
    if (run !== undefined) this.discard(run);
    return Promise.all([...this.stopping]).then(() => undefined);
  }

  private stop(run: Running): Promise<void> {
    run.port.close();
    if (run.exited !== undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      run.worker.once('exit', () => resolve());
      run.worker.terminate().catch(() => resolve());
    });
  }

  /** Drops a dead or stuck thread; the next call starts a fresh one. */
  private discard(run = this.running): void {
    if (run === this.running) this.running = undefined;
    if (run === undefined) return;
    const stopped = this.stop(run).finally(() => this.stopping.delete(stopped));
    this.stopping.add(stopped);
  }

  private start(): Running {
    const current = this.running;
    if (current !== undefined) {
      // Alive unless its exit was seen (event) or recorded by its exit hook while we were not listening.
      if (current.exited === undefined && Atomics.load(current.control, STATE) !== DEAD) return current;
      this.discard();
    }
    const script = resolveWorkerScript(this.url);
    const control = new Int32Array(new SharedArrayBuffer(CONTROL_INTS * Int32Array.BYTES_PER_ELEMENT));
    const { port1, port2 } = new MessageChannel();
    const bridge: BridgeData = { ...script, control: control.buffer as SharedArrayBuffer, port: port2, data: this.options.workerData };
    const worker = new Worker(BOOTSTRAP, {
      eval: true,
      name: this.name,
      workerData: { [BRIDGE_KEY]: bridge },
      transferList: [port2],
      resourceLimits: this.options.resourceLimits,
    });
    worker.unref();
    port1.unref();
    const startDeadline = Date.now() + START_TIMEOUT_MS;
    const run: Running = { worker, port: port1, control, startDeadline, exited: undefined };
    worker.on('error', () => undefined); // reported through the control block; never an uncaught 'error' event
    worker.on('exit', (code) => {
      run.exited = { code };
    });
    this.running = run;
    return run;
  }
}

/** How often {@link SyncWorker.wait} with a `watch` looks up from its wait (ms). */
export const WATCH_SLICE_MS = 20;

/**
 * Waits for the pending calls of several workers (posted with {@link SyncWorker.post}): each one's
 * outputs, or the error it gave. While it waits for one worker it watches the others: when one has died
 * (its exit hook marks its control block, so this works while the caller is blocked) or a call failed,
 * `onFailure` runs once — e.g. aborting a {@link SharedCollective}, so that threads waiting in a barrier
 * for the dead one give up at once instead of at their deadline. The dead worker's own wait then reports
 * its exit, naming it.
 */
export function waitAll(workers: readonly SyncWorker[], onFailure: () => void): ({ outputs: Float32Array[] } | { error: Error })[] {
  let failed = false;
  const fail = (): void => {
    if (failed) return;
    failed = true;
    onFailure();
  };
  const watch = (): void => {
    if (!failed && workers.some((w) => w.dead)) fail();
  };
  return workers.map((w) => {
    try {
      return { outputs: w.wait(watch) };
    } catch (e) {
      fail();
      return { error: e instanceof Error ? e : new Error(String(e)) };
    }
  });
}

/** A worker-side handler: inputs are views into shared memory, valid until it returns. */
export type SyncHandler<M = unknown> = (
  inputs: Float32Array[],
  meta: M,
) => Float32Array[] | Promise<Float32Array[]>;

function bridgeData(fn: string): BridgeData {
  const d = (workerData as Record<string, unknown> | null)?.[BRIDGE_KEY] as BridgeData | undefined;
  if (d === undefined) throw new Error(`${fn}: not in a thread started by SyncWorker`);
  return d;
}

/** In a worker started by {@link SyncWorker}: the `workerData` option given there. */
export function syncWorkerData<T = unknown>(): T {
  return bridgeData('syncWorkerData').data as T;
}

/**
 * In a worker module started by {@link SyncWorker}: serves calls with `handlers` (one call at a time, in
 * order). A handler's outputs are written back into shared memory; a thrown error is sent back and
 * rethrown by the caller's `call`. Call once, at the top level of the worker module.
 */
export function serveSync(handlers: Record<string, SyncHandler<never>>): void {
  const bridge = bridgeData('serveSync');
  const g = globalThis as Record<symbol, unknown>;
  if (g[SERVING] === true) throw new Error('serveSync: already serving');
  g[SERVING] = true;
  const control = new Int32Array(bridge.control);
  const { port } = bridge;
  const reply = (r: Reply): void => {
    port.postMessage(r);
    Atomics.store(control, STATE, DONE);
    Atomics.notify(control, STATE);
  };
  port.on('message', (req: Request) => {
    void (async () => {
      try {
        const handler = Object.hasOwn(handlers, req.method) ? handlers[req.method] : undefined;
        if (handler === undefined) throw new Error(`no handler for '${req.method}'`);
        const view = new Float32Array(req.buffer);
        const inputs: Float32Array[] = [];
        let offset = 0;
        for (const n of req.lengths) {
          inputs.push(view.subarray(offset, offset + n));
          offset += n;
        }
        let outputs = await (handler as SyncHandler<unknown>)(inputs, req.meta);
        if (!Array.isArray(outputs) || outputs.some((o) => !(o instanceof Float32Array))) {
          throw new TypeError(`handler '${req.method}' must return an array of Float32Array`);
        }
        // Outputs that alias the data buffer are copied first: writing one could overwrite another.
        outputs = outputs.map((o) => (o.buffer === req.buffer ? o.slice() : o));
        const lengths = outputs.map((o) => o.length);
        const total = lengths.reduce((a, b) => a + b, 0);
        let buffer: SharedArrayBuffer | undefined;
        if (total * FLOAT32 > req.buffer.byteLength) {
          buffer = new SharedArrayBuffer(Math.max(total * FLOAT32, 2 * req.buffer.byteLength));
        }
        const out = new Float32Array(buffer ?? req.buffer);
        offset = 0;
        for (const o of outputs) {
          out.set(o, offset);
          offset += o.length;
        }
        reply({ seq: req.seq, lengths, buffer });
      } catch (e) {
        reply({ seq: req.seq, error: toWire(e) });
      }
    })();
  });
}

// ---------------------------------------------------------------------------------------------------
// Collectives between worker threads

const COUNT = 0;
const GENERATION = 1;
const ABORT = 2;
const COLLECTIVE_INTS = 3;

/** The shared memory of a {@link SharedCollective}: made on the calling side, sent to every rank. */
export interface SharedCollectiveBuffers {
  readonly size: number;
  /** Floats per slot: the largest block one rank contributes to a reduction or gather. */
  readonly slotElements: number;
  /** `[count, generation, abort]` of the barrier. */
  readonly control: SharedArrayBuffer;
  /** Two sets (alternating calls) of `size` slots of `slotElements` floats. */
  readonly slots: SharedArrayBuffer;
}

/**
 * Barrier, all-reduce and all-gather among `size` worker threads through shared memory — the
 * shared-memory form of `src/linalg/collective.ts`'s `Collective`, on float32 arrays instead of tensors.
 * Every rank must make the same sequence of calls. Reductions add in rank order, so every rank gets
 * bit-identical results. Slots alternate between two sets, so a rank may start the next collective while
 * another is still reading the previous one (it cannot get two ahead: each collective has a barrier).
 *
 * A rank that fails calls {@link abort} (or the caller calls {@link SharedCollective.abort}): every rank
 * waiting in a barrier then throws instead of waiting for it; a barrier also throws after `timeoutMs`
 * ({@link CommunicatorTimeoutError}).
 *
 * It is the shared-memory {@link Communicator} (`src/linalg/communicator.ts`): every block a rank
 * contributes must fit one slot (`slotElements` floats).
 */
export class SharedCollective implements Communicator {
  readonly rank: number;
  readonly size: number;
  readonly kind = 'shared-memory';
  private readonly control: Int32Array;
  private readonly buffers: SharedCollectiveBuffers;
  private readonly timeoutMs: number;
  private readonly watch: (() => void) | undefined;
  private parity = 0;

  /** Allocates the shared memory for `size` ranks exchanging blocks of up to `slotElements` floats. */
  static allocate(size: number, slotElements: number): SharedCollectiveBuffers {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`SharedCollective: size must be a positive integer, got ${size}`);
    return {
      size,
      slotElements,
      control: new SharedArrayBuffer(COLLECTIVE_INTS * Int32Array.BYTES_PER_ELEMENT),
      slots: new SharedArrayBuffer(2 * size * slotElements * FLOAT32),
    };
  }

  /** Clears a previous abort and the barrier count; only while no rank is inside a collective. */
  static reset(buffers: SharedCollectiveBuffers): void {
    const c = new Int32Array(buffers.control);
    Atomics.store(c, COUNT, 0);
    Atomics.store(c, ABORT, 0);
  }

  /** Makes every rank waiting (now or later) in a barrier throw. */
  static abort(buffers: SharedCollectiveBuffers): void {
    const c = new Int32Array(buffers.control);
    Atomics.store(c, ABORT, 1);
    Atomics.add(c, GENERATION, 1);
    Atomics.notify(c, GENERATION);
  }

  /**
   * `watch` (optional): run every {@link WATCH_SLICE_MS} while this rank waits in a barrier — the calling
   * thread of the `workers` engine, itself a rank, checks there whether a worker died (and aborts).
   */
  constructor(buffers: SharedCollectiveBuffers, rank: number, timeoutMs = 300_000, watch?: () => void) {
    if (!Number.isInteger(rank) || rank < 0 || rank >= buffers.size) {
      throw new RangeError(`SharedCollective: rank must be an integer in [0, ${buffers.size - 1}], got ${rank}`);
    }
    this.buffers = buffers;
    this.rank = rank;
    this.size = buffers.size;
    this.control = new Int32Array(buffers.control);
    this.timeoutMs = timeoutMs;
    this.watch = watch;
  }

  /** This rank gives up: see {@link SharedCollective.abort}. */
  abort(): void {
    SharedCollective.abort(this.buffers);
  }

  /** Waits until every rank has arrived. */
  barrier(): void {
    const c = this.control;
    if (this.size === 1) return;
    const generation = Atomics.load(c, GENERATION);
    if (Atomics.load(c, ABORT) !== 0) throw new Error('collective aborted by another thread');
    if (Atomics.add(c, COUNT, 1) === this.size - 1) {
      Atomics.store(c, COUNT, 0);
      Atomics.add(c, GENERATION, 1);
      Atomics.notify(c, GENERATION);
      return;
    }
    const deadline = Date.now() + this.timeoutMs;
    while (Atomics.load(c, GENERATION) === generation) {
      const left = deadline - Date.now();
      if (left <= 0) {
        this.abort();
        throw new CommunicatorTimeoutError(`collective barrier timed out after ${this.timeoutMs} ms`);
      }
      if (this.watch === undefined) Atomics.wait(c, GENERATION, generation, left);
      else if (Atomics.wait(c, GENERATION, generation, Math.min(left, WATCH_SLICE_MS)) === 'timed-out') this.watch();
    }
    if (Atomics.load(c, ABORT) !== 0) throw new Error('collective aborted by another thread');
  }

  private slotsView(rank: number, parity: number, length: number): Float32Array {
    const start = (parity * this.size + rank) * this.buffers.slotElements;
    return new Float32Array(this.buffers.slots, start * FLOAT32, length);
  }

  /**
   * This rank's slot for the next collective (`length` floats): write into it, then {@link publish}. Lets
   * a rank fill its slot straight from where its data is (no intermediate copy).
   */
  outbox(length: number): Float32Array {
    if (length > this.buffers.slotElements) {
      throw new RangeError(`SharedCollective: block of ${length} floats exceeds the slot size ${this.buffers.slotElements}`);
    }
    return this.slotsView(this.rank, this.parity, length);
  }

  /**
   * Completes the collective whose block this rank wrote into its {@link outbox}: waits for every rank
   * and returns views of every rank's slot (rank order; `lengths[r]` floats of rank r, default the slot
   * size). The views stay valid until this rank's collective call after next (slots alternate between
   * two sets): read or copy them first.
   */
  publish(lengths?: readonly number[]): Float32Array[] {
    const sizes = lengths ?? new Array<number>(this.size).fill(this.buffers.slotElements);
    if (sizes.length !== this.size) throw new RangeError(`SharedCollective: lengths must list ${this.size} blocks`);
    const longest = Math.max(...sizes);
    if (longest > this.buffers.slotElements) {
      throw new RangeError(`SharedCollective: block of ${longest} floats exceeds the slot size ${this.buffers.slotElements}`);
    }
    const parity = this.parity;
    this.parity ^= 1;
    this.barrier();
    return sizes.map((n, r) => this.slotsView(r, parity, n));
  }

  /**
   * Writes `local` into this rank's slot, waits for every rank, and returns views of every rank's slot
   * (rank order; `lengths[r]` floats of rank r, default `local.length` each). The views stay valid until
   * this rank's collective call after next (slots alternate between two sets): read or copy them first.
   */
  share(local: Float32Array, lengths?: readonly number[]): Float32Array[] {
    const sizes = lengths ?? new Array<number>(this.size).fill(local.length);
    if (sizes.length !== this.size || sizes[this.rank] !== local.length) {
      throw new RangeError(`SharedCollective: lengths must list ${this.size} blocks, this rank's being ${local.length}`);
    }
    this.outbox(local.length).set(local);
    return this.publish(sizes);
  }

  /** Element-wise sum of every rank's `local` (same length on every rank), added in rank order. */
  allReduceSum(local: Float32Array): Float32Array {
    if (this.size === 1) return local.slice();
    const views = this.share(local);
    const out = views[0].slice();
    for (let r = 1; r < this.size; r++) {
      const s = views[r];
      for (let i = 0; i < out.length; i++) out[i] += s[i];
    }
    return out;
  }

  /** Concatenation of every rank's `local` in rank order; `lengths[r]` is rank r's length (default `local.length` each). */
  allGather(local: Float32Array, lengths?: readonly number[]): Float32Array {
    checkData('allGather', local);
    if (lengths !== undefined) blockCounts('allGather', this.size, lengths.reduce((a, b) => a + b, 0), lengths);
    const views = this.size === 1 ? [local] : this.share(local, lengths);
    const out = new Float32Array(views.reduce((a, v) => a + v.length, 0));
    let offset = 0;
    for (const v of views) {
      out.set(v, offset);
      offset += v.length;
    }
    return out;
  }
  /** {@link Communicator.allReduce}: every rank's `data` reduced in rank order. */
  allReduce(data: Float32Array, op: ReduceOp = 'sum'): Float32Array {
    checkData('allReduce', data);
    checkOp('allReduce', op);
    if (this.size === 1) return data.slice();
    const views = this.share(data);
    const out = views[0].slice();
    for (let r = 1; r < this.size; r++) {
      const v = views[r];
      if (op === 'max') for (let i = 0; i < out.length; i++) out[i] = Math.max(out[i], v[i]);
      else for (let i = 0; i < out.length; i++) out[i] += v[i];
    }
    return op === 'mean' ? divideInPlace(out, this.size) : out;
  }

  /** {@link Communicator.reduceScatter}: this rank's block of the rank-order reduction. */
  reduceScatter(data: Float32Array, counts?: readonly number[], op: ReduceOp = 'sum'): Float32Array {
    checkData('reduceScatter', data);
    checkOp('reduceScatter', op);
    const blocks = blockCounts('reduceScatter', this.size, data.length, counts);
    if (this.size === 1) return data.slice();
    const start = blocks.slice(0, this.rank).reduce((a, b) => a + b, 0);
    const end = start + blocks[this.rank];
    const views = this.share(data);
    const out = views[0].slice(start, end);
    for (let r = 1; r < this.size; r++) {
      const v = views[r];
      if (op === 'max') for (let i = 0; i < out.length; i++) out[i] = Math.max(out[i], v[start + i]);
      else for (let i = 0; i < out.length; i++) out[i] += v[start + i];
    }
    return op === 'mean' ? divideInPlace(out, this.size) : out;
  }

  /** {@link Communicator.allToAll}: the send counts cross first (one small exchange), then the data. */
  allToAll(data: Float32Array, sendCounts?: readonly number[]): Float32Array {
    checkData('allToAll', data);
    const mine = blockCounts('allToAll', this.size, data.length, sendCounts);
    if (this.size === 1) return data.slice();
    const counts = this.share(Float32Array.from(mine)).map((v) => Array.from(v));
    const lengths = counts.map((c) => c.reduce((a, b) => a + b, 0));
    const views = this.share(data, lengths);
    const parts = views.map((v, r) => {
      const start = counts[r].slice(0, this.rank).reduce((a, b) => a + b, 0);
      return v.slice(start, start + counts[r][this.rank]);
    });
    const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  }

  /** {@link Communicator.broadcast}: `root`'s data (every rank gives the same length). */
  broadcast(data: Float32Array, root = 0): Float32Array {
    checkData('broadcast', data);
    checkRoot('broadcast', this.size, root);
    if (this.size === 1) return data.slice();
    return this.share(data)[root].slice();
  }

  /** {@link Communicator.allGatherHash}: the characters cross as float codes (length first). */
  allGatherHash(hash: string): string[] {
    checkHash('allGatherHash', hash);
    if (this.size === 1) return [hash];
    const codes = new Float32Array(HASH_LENGTH + 1);
    codes[0] = hash.length;
    for (let i = 0; i < hash.length; i++) codes[i + 1] = hash.charCodeAt(i);
    return this.share(codes).map((v) => String.fromCharCode(...Array.from(v.subarray(1, 1 + v[0]))));
  }
}

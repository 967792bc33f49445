/**
 * The Open MPI {@link Communicator} of `orthoptim/node`: one rank per process, started by
 * `mpirun -np N node train.js` (add `--oversubscribe` when N exceeds the cores, `--allow-run-as-root`
 * where needed, `-H a,b` or `--hostfile hosts` for several hosts).
 *
 * It drives the optional native addon `native/mpi` (Node-API, C, built by node-gyp against Debian's
 * `libopenmpi-dev`): `apt-get install openmpi-bin libopenmpi-dev && npm run build:mpi`. Nothing else in
 * the library needs it; {@link mpiCommunicator} throws {@link MpiAddonMissingError} when it is not
 * built. MPI is initialized once per process (`MPI_Init_thread`, `MPI_THREAD_FUNNELED`: every call
 * comes from Node's main thread) on the first {@link mpiCommunicator} call and finalized at exit.
 *
 * Every collective is synchronous (the event loop waits, as for a blocking MPI call) and bounded by
 * `timeoutMs`: the addon starts the non-blocking MPI-3 collective (`MPI_Iallreduce`, …) and polls
 * `MPI_Test` until it completes or the deadline passes, so a rank that died or hangs makes the others
 * throw {@link CommunicatorTimeoutError} instead of waiting forever. A process killed by a signal is
 * noticed by mpirun, which ends the job; a rank that exits with a non-zero code (an uncaught error)
 * calls `MPI_Abort`, which ends the job at once. As in MPI, `allReduce`/`reduceScatter` lengths are not compared across ranks
 * (`distributed` checks its layout once, by a hash); `allGather`, `allToAll` and `broadcast` exchange
 * the lengths and report a mismatch ({@link CommunicatorError}) on every rank.
 *
 * Sources: the MPI 3.1 standard (non-blocking collectives, §5.12); issue 17's check that a Node-API
 * addon built with `mpicc --showme` flags runs `MPI_Allreduce` under `mpirun`; the collectives
 * microsoft/dion (`dion/dion_reference.py`) and KellerJordan/Muon (`muon.py`) call through
 * torch.distributed.
 * @module
 */
import { existsSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import {
  CommunicatorError,
  CommunicatorTimeoutError,
  blockCounts,
  checkData,
  checkHash,
  checkOp,
  checkRoot,
  divideInPlace,
  type Communicator,
  type ReduceOp,
} from '../linalg/communicator.js';

/** The addon's own surface (native/mpi/mpi.c); arguments are validated here, not there. */
interface MpiAddon {
  init(): { rank: number; size: number; thread: number; funneled: number; version: string };
  allReduce(data: Float32Array, op: number, timeoutMs: number): Float32Array;
  allGather(data: Float32Array, timeoutMs: number): [Float32Array, Int32Array];
  reduceScatter(data: Float32Array, counts: Int32Array, op: number, timeoutMs: number): Float32Array;
  allToAll(data: Float32Array, sendCounts: Int32Array, timeoutMs: number): [Float32Array, Int32Array];
  broadcast(data: Float32Array, root: number, timeoutMs: number): Float32Array | number;
  barrier(timeoutMs: number): void;
  allGatherHash(hash: string, timeoutMs: number): string[];
  abort(code: number): void;
  finalize(): void;
  state(): 'uninitialized' | 'ready' | 'finalized' | 'broken';
}

/** The message of {@link MpiAddonMissingError}: what to install and run. */
export const MPI_ADDON_HINT = 'MPI addon not built: install openmpi-bin libopenmpi-dev and run npm run build:mpi';

/** The MPI addon is not built (or cannot load): the message says what to install and run. */
export class MpiAddonMissingError extends Error {
  override readonly name = 'MpiAddonMissingError';
  constructor(readonly path: string, readonly reason: string) {
    super(`${MPI_ADDON_HINT} (${reason})`);
  }
}

/** An MPI call failed (an MPI error string, rank and size in the message). */
export class MpiError extends Error {
  override readonly name = 'MpiError';
}

/**
 * Where the addon is loaded from: `ORTHOPTIM_MPI_ADDON` if set, else `native/mpi/build/Release/
 * orthoptim_mpi.node` in the package (what `npm run build:mpi` writes).
 */
export function mpiAddonPath(): string {
  const own = process.env.ORTHOPTIM_MPI_ADDON;
  if (own !== undefined && own !== '') return own;
  return fileURLToPath(new URL('../../native/mpi/build/Release/orthoptim_mpi.node', import.meta.url));
}

let addon: MpiAddon | null = null;
let abortOnFailure = false;
let loadError: MpiAddonMissingError | null = null;

function loadAddon(): MpiAddon {
  if (addon !== null) return addon;
  if (loadError !== null) throw loadError;
  const path = mpiAddonPath();
  if (!existsSync(path)) {
    loadError = new MpiAddonMissingError(path, `${path} does not exist`);
    throw loadError;
  }
  try {
    addon = createRequire(import.meta.url)(path) as MpiAddon;
  } catch (e) {
    loadError = new MpiAddonMissingError(path, `${path} does not load: ${(e as Error).message.split('\n')[0]}`);
    throw loadError;
  }
  return addon;
}

/** Whether the addon can load here (it does not initialize MPI), with the reason when not. */
export function mpiAvailability(): { ok: true; path: string } | { ok: false; reason: string } {
  try {
    loadAddon();
    return { ok: true, path: mpiAddonPath() };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

/** The {@link Communicator} of MPI_COMM_WORLD, with what MPI adds. */
export interface MpiCommunicator extends Communicator {
  readonly kind: 'mpi';
  /** `MPI_Get_library_version`, e.g. `'Open MPI v4.1.4, …'`. */
  readonly library: string;
  /** The deadline of every collective, in ms. */
  readonly timeoutMs: number;
  /** Ends every rank of the job now (`MPI_Abort`; mpirun reports the code). */
  abort(code?: number): void;
}

/** Options of {@link mpiCommunicator}. */
export interface MpiCommunicatorOptions {
  /** Deadline of each collective in ms (default 300 000: five minutes; 0 waits forever). */
  readonly timeoutMs?: number;
}

function translate(e: unknown): Error {
  const err = e as Error & { code?: string };
  if (err.code === 'ERR_MPI_TIMEOUT') return new CommunicatorTimeoutError(err.message);
  if (err.code === 'ERR_MPI_BROKEN') return new CommunicatorTimeoutError(err.message);
  if (err.code === 'ERR_MPI') return new MpiError(err.message);
  return err;
}

function call<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw translate(e);
  }
}

const OP = { sum: 0, mean: 0, max: 1 } as const;

/**
 * This process's rank of the MPI job (MPI_COMM_WORLD); initializes MPI on the first call. Run alone
 * (`node train.js`, no mpirun), it is rank 0 of 1.
 *
 * @throws MpiAddonMissingError when the addon is not built ("MPI addon not built: install openmpi-bin
 *   libopenmpi-dev and run npm run build:mpi").
 * @throws RangeError when `timeoutMs` is not a non-negative number.
 */
export function mpiCommunicator(options: MpiCommunicatorOptions = {}): MpiCommunicator {
  const timeoutMs = options.timeoutMs ?? 300_000;
  if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) {
    throw new RangeError(`mpiCommunicator: timeoutMs must be a non-negative number, got ${String(timeoutMs)}`);
  }
  const a = loadAddon();
  const info = call(() => a.init());
  const { rank, size } = info;
  if (!abortOnFailure && size > 1) {
    // A rank that fails (an uncaught error, a non-zero exit) ends the job at once: without this the
    // others would wait in their next collective until the deadline, and this rank in MPI_Finalize.
    abortOnFailure = true;
    // Node may print an uncaught error only after the 'exit' handlers, which end the job: print it first
    process.once('uncaughtExceptionMonitor', (error) => {
      writeSync(2, `rank ${rank} of ${size}: ${inspect(error)}\n`);
    });
    process.once('exit', (code) => {
      if (code === 0 || a.state() === 'finalized') return;
      writeSync(2, `rank ${rank} of ${size}: exiting with code ${code}; MPI_Abort ends every rank\n`);
      // a moment for mpirun to forward this rank's last output (the error) before the job ends
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
      a.abort(code);
    });
  }
  return {
    rank,
    size,
    kind: 'mpi',
    library: info.version.trim(),
    timeoutMs,
    allReduce(data: Float32Array, op: ReduceOp = 'sum') {
      checkData('allReduce', data);
      checkOp('allReduce', op);
      const out = call(() => a.allReduce(data, OP[op], timeoutMs));
      return op === 'mean' ? divideInPlace(out, size) : out;
    },
    allGather(data: Float32Array, counts?: readonly number[]) {
      checkData('allGather', data);
      const want = counts === undefined ? null : blockCounts('allGather', size, counts.reduce((x, y) => x + y, 0), counts);
      if (want !== null && want[rank] !== data.length) {
        throw new RangeError(`allGather: counts[${rank}] is ${want[rank]}, this rank's data has ${data.length} floats`);
      }
      const [out, got] = call(() => a.allGather(data, timeoutMs));
      const expected = want ?? new Array<number>(size).fill(data.length);
      const bad = expected.findIndex((c, r) => got[r] !== c);
      if (bad >= 0) {
        throw new CommunicatorError(`allGather: rank ${bad} gave ${got[bad]} floats, expected ${expected[bad]} (rank ${rank} of ${size})`);
      }
      return out;
    },
    reduceScatter(data: Float32Array, counts?: readonly number[], op: ReduceOp = 'sum') {
      checkData('reduceScatter', data);
      checkOp('reduceScatter', op);
      const blocks = blockCounts('reduceScatter', size, data.length, counts);
      const out = call(() => a.reduceScatter(data, Int32Array.from(blocks), OP[op], timeoutMs));
      return op === 'mean' ? divideInPlace(out, size) : out;
    },
    allToAll(data: Float32Array, sendCounts?: readonly number[]) {
      checkData('allToAll', data);
      const blocks = blockCounts('allToAll', size, data.length, sendCounts);
      return call(() => a.allToAll(data, Int32Array.from(blocks), timeoutMs))[0];
    },
    broadcast(data: Float32Array, root = 0) {
      checkData('broadcast', data);
      checkRoot('broadcast', size, root);
      const out = call(() => a.broadcast(data, root, timeoutMs));
      if (typeof out === 'number') {
        throw new CommunicatorError(
          out < 0
            ? `broadcast: another rank's length differs from root ${root}'s ${data.length} floats (rank ${rank} of ${size})`
            : `broadcast: root ${root} sends ${out} floats, this rank has ${data.length} (rank ${rank} of ${size})`,
        );
      }
      return out;
    },
    barrier() {
      call(() => a.barrier(timeoutMs));
    },
    allGatherHash(hash: string) {
      checkHash('allGatherHash', hash);
      return call(() => a.allGatherHash(hash, timeoutMs));
    },
    abort(code = 1) {
      a.abort(code);
    },
  };
}

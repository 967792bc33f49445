/**
 * The worker thread of the `onnxruntime` engine (`./onnxruntime.ts`): holds the onnxruntime sessions of
 * the Newton–Schulz graphs (`./onnxGraph.ts`, one per iteration and orientation, created on first use)
 * and runs every matrix of an engine call, serving the synchronous bridge (`./bridge.ts`).
 * @module
 */
import { serveSync, syncWorkerData } from './bridge.js';
import type { EngineIteration } from './engine.js';
import { NewtonSchulzSessions } from './onnxGraph.js';
import { loadOnnxRuntime } from './onnxruntime.js';

/** The `workerData` of the thread. */
export interface OnnxRuntimeWorkerData {
  /** onnxruntime's intra-op threads per session. */
  readonly threads: number;
  /** Sessions kept (least recently used released beyond). */
  readonly capacity: number;
  /** Whether idle intra-op threads spin (onnxruntime's `session.intra_op.allow_spinning`). */
  readonly spinning: boolean;
}

/** The `meta` of a `run` call: the matrices' shapes (inputs in the same order) and the iteration. */
export interface OnnxRuntimeCall extends EngineIteration {
  readonly shapes: readonly (readonly [number, number])[];
}

const loaded = loadOnnxRuntime();
if (!loaded.ok) throw new Error(loaded.reason);
const config = syncWorkerData<OnnxRuntimeWorkerData>();
const sessions = new NewtonSchulzSessions(loaded.ort, config);

serveSync({
  run(inputs: Float32Array[], call: OnnxRuntimeCall): Promise<Float32Array[]> {
    if (call.shapes.length !== inputs.length) {
      throw new RangeError(`onnxruntime engine: ${inputs.length} inputs for ${call.shapes.length} shapes`);
    }
    return sessions.run(
      inputs.map((data, i) => ({ rows: call.shapes[i][0], cols: call.shapes[i][1], data })),
      call,
    );
  },
  /** Number of sessions held (for tests). */
  sessions(): Float32Array[] {
    return [Float32Array.of(sessions.size)];
  },
  /** Releases every session (native memory and thread pools); the next `run` creates them again. */
  async release(): Promise<Float32Array[]> {
    await sessions.release();
    return [];
  },
});

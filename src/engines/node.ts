/**
 * `orthoptim/engines`: the Node-only native Newton–Schulz engines. Importing this module registers them
 * with the engine seam (`./engine.ts`), so `engine: 'workers'`, `'onnxruntime'` or `'auto'` can find them;
 * the main entry never imports it (browsers, bundlers and `@tensorflow/tfjs-node` users are unaffected).
 *
 * - `workers`: Newton–Schulz column-sharded over worker threads running tfjs-wasm (`./workers.ts`).
 * - `onnxruntime`: onnxruntime-node's CPU kernels (`./onnxruntime.ts`; `onnxruntime-node` is an optional
 *   dependency: without it the provider is registered and says why it cannot run).
 * @module
 */
import { registerEngine } from './engine.js';
import { workersEngineProvider } from './workers.js';
import { onnxRuntimeEngineProvider } from './onnxruntime.js';

registerEngine(workersEngineProvider);
registerEngine(onnxRuntimeEngineProvider);

export {
  WorkersEngine,
  workersEngineProvider,
  workersAvailability,
  defaultWorkerThreads,
  WORKERS_MINIMUM_ELEMENTS,
  WORKERS_MIN_SHARD_ELEMENTS,
  type WorkersEngineOptions,
} from './workers.js';
export {
  SyncWorker,
  serveSync,
  syncWorkerData,
  SharedCollective,
  type SyncWorkerOptions,
  type SyncHandler,
  type SharedCollectiveBuffers,
} from './bridge.js';
export {
  OnnxRuntimeEngine,
  onnxRuntimeEngineProvider,
  onnxRuntimeAvailability,
  ONNXRUNTIME_MINIMUM_ELEMENTS,
  ONNXRUNTIME_VERSION,
  type OnnxRuntimeEngineOptions,
} from './onnxruntime.js';

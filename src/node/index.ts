/**
 * `orthoptim/node`: everything that needs Node's file system or threads, kept out of the main entry so
 * `import 'orthoptim'` bundles for browsers with no Node built-in.
 *
 * - Checkpoint directories: {@link saveCheckpoint} / {@link loadCheckpoint}.
 * - Model files without `@tensorflow/tfjs-node`: {@link fileSystem} — a tfjs IO handler for
 *   `model.save(fileSystem('model/'))` and `tf.loadLayersModel(fileSystem('model/model.json'))`.
 * - The dataset loaders of the benchmarks (also at `orthoptim/data`).
 * - The native Newton–Schulz engines (importing this module registers them, as `orthoptim/engines` does).
 * - {@link accelerateWasm}: tfjs-backend-wasm's training kernels on XNNPACK (transposed and batched matrix
 *   products, conv backprops, batch gathers, max-pool gradients, bias sums, batch norm) — every `model.fit` on wasm runs its backward pass several times faster.
 * @module
 */
export { saveCheckpoint, loadCheckpoint } from './checkpointFiles.js';
export * from '../bench/data/index.js';
export * from '../engines/node.js';
export { fileSystem, MODEL_FILE, WEIGHTS_FILE } from './fileSystem.js';
export { accelerateWasm, registerWasmMatMulKernels, restoreWasmKernels, wasmMatMulKernelNames, type WasmKernelOptions, type WasmMatMulKernelName } from '../tfjs/wasmMatMul.js';
export { mpiCommunicator, mpiAvailability, mpiAddonPath, MpiAddonMissingError, MpiError, MPI_ADDON_HINT, type MpiCommunicator, type MpiCommunicatorOptions } from './mpi.js';

/**
 * `UnsortedSegmentSum` for the tfjs wasm backend, which lacks it in tfjs 4.22: it is the gradient of
 * `gather`, so without it an `Embedding` layer (tfjs-layers) cannot train on wasm at all.
 *
 * Semantics as TensorFlow's `UnsortedSegmentSum` and tfjs-backend-cpu's kernel (the tests' reference):
 * `out[j, …] = Σ_{i : ids[i] = j} x[i, …]` for `x` of shape `[...ids.shape, ...inner]`, `numSegments`
 * rows; ids outside `[0, numSegments)` contribute nothing. Built from wasm's `ScatterNd` (which sums
 * duplicate indices into a zeroed output); out-of-range ids are sent to an extra row that is cut off.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { scoped } from './kernelScope.js';

type KernelArgs = Parameters<tf.KernelFunc>[0];

function unsortedSegmentSum(args: KernelArgs, backendName: string): tf.TensorInfo {
  const { x, segmentIds } = args.inputs;
  const numSegments = (args.attrs as { numSegments?: unknown } | undefined)?.numSegments;
  const caller = 'UnsortedSegmentSum';
  if (x === undefined || segmentIds === undefined) throw new TypeError(`${caller}: inputs x and segmentIds are required`);
  if (typeof numSegments !== 'number' || !Number.isInteger(numSegments) || numSegments < 0) {
    throw new RangeError(`${caller}: numSegments must be a non-negative integer, got ${String(numSegments)}`);
  }
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new TypeError(`${caller}: x must be float32 or int32, got ${x.dtype}`);
  const idShape = segmentIds.shape;
  if (idShape.some((d, i) => d !== x.shape[i])) {
    throw new RangeError(`${caller}: segmentIds of shape [${idShape.join(', ')}] must be a prefix of x's shape [${x.shape.join(', ')}]`);
  }
  const backend = args.backend as tf.KernelBackend;
  return scoped(backend, backendName, caller, (s) => {
    const rows = idShape.reduce((a, b) => a * b, 1);
    const inner = x.shape.slice(idShape.length);
    const ids = backend.readSync(segmentIds.dataId) as Int32Array;
    const inRange = ids.every((id) => id >= 0 && id < numSegments);
    const indices = Int32Array.from(ids, (id) => (id >= 0 && id < numSegments ? id : numSegments));
    const extra = inRange ? 0 : 1;
    const sums = s.run(
      'ScatterNd',
      { indices: s.constant(indices, [rows, 1]), updates: s.reshape(x, [rows, ...inner]) },
      { shape: [numSegments + extra, ...inner] },
    );
    if (extra === 0) return sums;
    return s.run('Slice', { x: sums }, { begin: [0, ...inner.map(() => 0)], size: [numSegments, ...inner] });
  });
}

/**
 * Registers `UnsortedSegmentSum` for the wasm backend (or `backendName`) when it has none, and returns
 * whether it did (idempotent: `false` once registered, or on a backend with its own).
 */
export function registerWasmSegmentSum(backendName = 'wasm'): boolean {
  if (tf.getKernel('UnsortedSegmentSum', backendName) !== undefined) return false;
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName,
    kernelFunc: (args) => unsortedSegmentSum(args, backendName),
  });
  return true;
}

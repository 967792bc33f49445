/**
 * Composing a backend's own kernels inside a kernel of ours, as the wasm backend does itself (its
 * BatchMatMul calls Reshape): {@link KernelScope} runs kernels on TensorInfos outside the engine — so
 * nothing is taped or counted as a tensor — and frees every intermediate when the composed kernel
 * returns or throws. Shared by the wasm convolution backprops (`wasmConv.ts`) and matrix products
 * (`wasmMatMul.ts`).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

type TensorInfo = tf.TensorInfo;

/**
 * Runs other kernels of the same backend on TensorInfos and frees what it made. Each result owns one
 * reference that `disposeData` drops.
 */
export class KernelScope {
  private readonly made: TensorInfo[] = [];

  constructor(
    readonly backend: tf.KernelBackend,
    readonly backendName: string,
    private readonly caller: string,
  ) {}

  run(name: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}): TensorInfo {
    const kernel = tf.getKernel(name, this.backendName);
    if (kernel === undefined) {
      throw new Error(`${this.caller}: the ${this.backendName} backend has no ${name} kernel to build on`);
    }
    return this.call(kernel.kernelFunc, inputs, attrs);
  }

  /** Runs the kernel function `kernelFunc` itself (e.g. a kernel that was replaced in the registry). */
  call(kernelFunc: tf.KernelFunc, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}): TensorInfo {
    return this.adopt(kernelFunc({ inputs, backend: this.backend, attrs }) as TensorInfo);
  }

  /** Takes `info` (made by the caller on this backend) into the scope, to be freed with the rest. */
  adopt(info: TensorInfo): TensorInfo {
    this.made.push(info);
    return info;
  }

  /** Frees `info` now (it must have been made in this scope), keeping peak memory down in loops. */
  free(info: TensorInfo): void {
    const at = this.made.lastIndexOf(info);
    if (at < 0) throw new Error(`${this.caller}: free of a tensor this scope did not make`);
    this.made.splice(at, 1);
    this.backend.disposeData(info.dataId);
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  /** `a·b` for 2-D operands, as the rank-3 batch-1 product wasm runs on XNNPACK. */
  matMul(a: TensorInfo, b: TensorInfo): TensorInfo {
    const [m, k] = a.shape;
    const n = b.shape[1];
    const out = this.run(
      'BatchMatMul',
      { a: this.reshape(a, [1, m, k]), b: this.reshape(b, [1, k, n]) },
      { transposeA: false, transposeB: false },
    );
    return this.reshape(out, [m, n]);
  }

  /** A new backend tensor holding a copy of `values`. */
  constant(values: Int32Array | Float32Array, shape: number[]): TensorInfo {
    const dtype = values instanceof Int32Array ? 'int32' : 'float32';
    const info: TensorInfo = { dataId: this.backend.write(values, shape, dtype), shape, dtype };
    this.made.push(info);
    return info;
  }

  /** Frees every intermediate; `result` keeps its own reference (a reshape of one shares its data). */
  finish(result: TensorInfo): TensorInfo {
    for (const info of this.made) if (info !== result) this.backend.disposeData(info.dataId);
    return result;
  }

  /** Frees every intermediate after a failure. */
  abandon(): void {
    for (const info of this.made) this.backend.disposeData(info.dataId);
  }
}

/** Runs `body` in a fresh {@link KernelScope}: its result is returned, every other intermediate freed. */
export function scoped(backend: tf.KernelBackend, backendName: string, caller: string, body: (s: KernelScope) => TensorInfo): TensorInfo {
  const scope = new KernelScope(backend, backendName, caller);
  let result: TensorInfo;
  try {
    result = body(scope);
  } catch (e) {
    scope.abandon();
    throw e;
  }
  return scope.finish(result);
}

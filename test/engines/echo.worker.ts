/**
 * Test fixture for test/engines/bridge.test.ts: a worker serving a few methods through `serveSync`.
 */
import { SharedCollective, serveSync, syncWorkerData, type SharedCollectiveBuffers } from '../../src/engines/bridge.js';

serveSync({
  /** Each input scaled by `meta.factor`, in reverse order, plus one array of the input lengths. */
  scale(inputs: Float32Array[], meta: { factor: number }) {
    const out = inputs.map((x) => Float32Array.from(x, (v) => v * meta.factor)).reverse();
    out.push(Float32Array.from(inputs, (x) => x.length));
    return out;
  },
  /** The inputs themselves (views into the shared buffer), swapped: the bridge must copy them first. */
  swap(inputs: Float32Array[]) {
    return [inputs[1], inputs[0]];
  },
  /** An output larger than any input: the worker grows the shared buffer. */
  async grow(_inputs: Float32Array[], meta: { length: number }) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    return [Float32Array.from({ length: meta.length }, (_, i) => i)];
  },
  fail(_inputs: Float32Array[], meta: { message: string }): Float32Array[] {
    throw new RangeError(meta.message);
  },
  exit(_inputs: Float32Array[], meta: { code: number }): Float32Array[] {
    process.exit(meta.code);
  },
  crash(): Float32Array[] {
    setTimeout(() => {
      throw new Error('uncaught in the worker');
    });
    return [];
  },
  /** Throws outside any handler before answering: a fatal error. */
  crashNow(): Promise<Float32Array[]> {
    setTimeout(() => {
      throw new Error('uncaught before the reply');
    });
    return new Promise(() => undefined);
  },
  /** All-reduce and all-gather of `inputs[0]` among the ranks of `meta.buffers`; rank `meta.fail` throws. */
  collective(inputs: Float32Array[], meta: { buffers: SharedCollectiveBuffers; rank: number; fail?: number }) {
    const c = new SharedCollective(meta.buffers, meta.rank, 10_000);
    if (meta.fail === meta.rank) {
      c.abort();
      throw new Error(`rank ${meta.rank} failed`);
    }
    const sum = c.allReduceSum(inputs[0]);
    const lengths = Array.from({ length: c.size }, (_, r) => r + 1);
    const gathered = c.allGather(inputs[0].subarray(0, meta.rank + 1), lengths);
    const again = c.allReduceSum(sum);
    return [sum, gathered, again];
  },
  hang(): Promise<Float32Array[]> {
    return new Promise(() => undefined);
  },
  workerData(): Float32Array[] {
    return [Float32Array.from(syncWorkerData<number[]>())];
  },
});

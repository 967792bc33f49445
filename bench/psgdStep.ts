/**
 * One psgdKron step (`scaleByPsgdKron`, the preconditioner fitted every step, psgd_torch's default
 * `preconditioner_update_probability = 1`) on the fashion MLP's parameter shapes ([784,512], [512],
 * [512,512], [512], [512,10], [10]) on wasm after `accelerateWasm()`: ms/step next to adamw's transform on
 * the same gradients (no forward/backward: bench/fit.ts has the model.fit ratio), the host time of the
 * damping noise's draws, and `tf.profile` runs: kernels by time, the matmuls' GFlop and GFLOP/s, and
 * the profiled wall time (kernels + host). Issue 13 (task HP). Under a minute:
 * `npx tsx bench/psgdStep.ts [steps]`.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-layers';
import { accelerateWasm } from '../src/tfjs/wasmMatMul.js';
import { psgdKronTransform } from '../src/optimizers/psgdKron.js';
import { adamwTransform } from '../src/optimizers/adam.js';
import type { GradientTransformation, ParamMeta, StateTree } from '../src/core/transform.js';
import { gaussianArray, mulberry32 } from '../src/core/random.js';

const shapes = [[784, 512], [512], [512, 512], [512], [512, 10], [10]];
const metas: ParamMeta[] = shapes.map((shape, i) => ({ name: `p${i}`, shape }));

function flattenState(s: StateTree): tf.Tensor[] {
  if (s === null) return [];
  if (s instanceof tf.Tensor) return [s];
  if (Array.isArray(s)) return s.flatMap(flattenState);
  return Object.values(s).flatMap(flattenState);
}

/** A closure taking one step of `t` (state kept, old state disposed). */
function stepper(t: GradientTransformation): (grads: tf.Tensor[], params: tf.Tensor[]) => void {
  let state: StateTree = t.init(metas);
  let step = 0;
  return (grads, params) => {
    let next: StateTree = null;
    const updates = tf.tidy(() => {
      const r = t.update(grads, state, { step, params, metas });
      next = r.state;
      const kept = flattenState(r.state);
      kept.forEach((x) => tf.keep(x));
      return r.updates;
    });
    tf.dispose(updates);
    const keep = new Set(flattenState(next).map((x) => x.id));
    for (const x of flattenState(state)) if (!keep.has(x.id)) x.dispose();
    state = next;
    step++;
  };
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const steps = Number(process.argv[2] ?? 5);
  accelerateWasm();
  await tf.setBackend('wasm');
  const rand = mulberry32(7);
  const grads = shapes.map((s) => tf.tensor(gaussianArray(s.reduce((a, b) => a * b, 1), 1e-3, rand), s));
  const params = shapes.map((s) => tf.zeros(s));
  const steppers = [
    ['adamw', stepper(adamwTransform({ learningRate: 1e-3 }))],
    ['psgdKron', stepper(psgdKronTransform({}))],
  ] as const;
  for (const [, s] of steppers) { s(grads, params); s(grads, params); } // warm-up (psgd's step 0 reads the first scale)
  const before = tf.memory().numTensors;
  const times: Record<string, number[]> = {};
  for (let r = 0; r < steps; r++) {
    for (const [name, s] of steppers) {
      const t0 = performance.now();
      s(grads, params);
      (times[name] ??= []).push(performance.now() - t0);
    }
  }
  for (const [name, xs] of Object.entries(times)) console.log(`${name}: median ${median(xs).toFixed(1)} ms/step over ${xs.length}`);
  console.log(`ratio psgdKron/adamw (transform only): ${(median(times.psgdKron) / median(times.adamw)).toFixed(2)}; tensors leaked: ${tf.memory().numTensors - before}`);
  const fitted = shapes.reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  const t0 = performance.now();
  gaussianArray(fitted, 1, rand);
  console.log(`host gaussianArray(${fitted}) (the damping noise's size): ${(performance.now() - t0).toFixed(1)} ms`);
  const psgd = steppers[1][1];
  for (let r = 0; r < 2; r++) {
    const w0 = performance.now();
    const info = await tf.profile(() => psgd(grads, params));
    const wall = performance.now() - w0;
    const ms = (k: { kernelTimeMs: unknown }) => (typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0);
    const total = info.kernels.reduce((a, k) => a + ms(k), 0);
    const matmuls = info.kernels.filter((k) => k.name === 'BatchMatMul');
    const flops = matmuls.reduce((a, k) => {
      const [x, y] = k.inputShapes as number[][];
      return a + 2 * x[x.length - 2] * x[x.length - 1] * y[y.length - 1];
    }, 0);
    const matmulMs = matmuls.reduce((a, k) => a + ms(k), 0);
    console.log(`profile ${r + 1}: wall ${wall.toFixed(0)} ms, ${info.kernels.length} kernels ${total.toFixed(0)} ms, matmuls ${(flops / 1e9).toFixed(2)} GFlop in ${matmulMs.toFixed(0)} ms (${(flops / matmulMs / 1e6).toFixed(1)} GFLOP/s)`);
    if (r === 1) {
      const byKernel = new Map<string, { ms: number; n: number }>();
      for (const k of info.kernels) {
        const e = byKernel.get(k.name) ?? { ms: 0, n: 0 };
        e.ms += ms(k);
        e.n++;
        byKernel.set(k.name, e);
      }
      for (const [name, e] of [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) {
        console.log(`  ${name.padEnd(16)} ${e.ms.toFixed(1).padStart(8)} ms  ×${e.n}`);
      }
    }
  }
  const a = tf.randomNormal([512, 512]);
  const b = tf.randomNormal([512, 512]);
  const m0 = performance.now();
  for (let i = 0; i < 5; i++) tf.tidy(() => { tf.matMul(a, b).dataSync(); });
  const each = (performance.now() - m0) / 5;
  console.log(`bare 512×512·512×512 matmul: ${each.toFixed(1)} ms (${(2 * 512 ** 3 / each / 1e6).toFixed(1)} GFLOP/s)`);
}

await main();

/**
 * The benchmarks' inputs, seeded so every run times and compares the same numbers: a float32 N(0, 1)
 * tensor ({@link makeInput}), float32 uniform data for the native engines' own buffers
 * ({@link seededUniform}), and float64 standard normal draws for the float64 references
 * ({@link gaussian64}). The RNG is the library's (src/core/random.ts).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { mulberry32, uniformArray } from '../core/random.js';

/** The fixed benchmark input: N(0, 1) with a seed (`tf.randomNormal`). */
export function makeInput(shape: readonly [number, number], seed: number): tf.Tensor2D {
  return tf.randomNormal([shape[0], shape[1]], 0, 1, 'float32', seed);
}

/** `length` uniform draws on [−1, 1) as float32 (mulberry32): for speed, only that they are not special. */
export function seededUniform(length: number, seed: number): Float32Array {
  return uniformArray(length, 1, mulberry32(seed));
}

/** `rows·cols` standard normal draws in float64 (mulberry32 + Box–Muller), row-major. */
export function gaussian64(rows: number, cols: number, seed: number): Float64Array {
  const rand = mulberry32(seed);
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < out.length; i += 2) {
    const u = Math.max(rand(), 1e-300);
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

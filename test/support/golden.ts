/**
 * Reading the golden set in test/fixtures/golden (step-by-step trajectories recorded from the authors' PyTorch code).
 * Format and tolerances: test/fixtures/golden/README.md. Tensors there are in PyTorch layout; the library
 * works in TensorFlow.js layout, so replays convert on the way in and out (2-D: transpose; 4-D conv
 * `[out, in, kh, kw]` → `[kh, kw, in, out]`, i.e. permutation (2, 3, 1, 0)).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
/** The golden set: `test/fixtures/golden` in the repository (a copy of the public set, with its README and provenance); `ORTHOPTIM_GOLDEN_DIR` overrides it. */
export const goldenDir = resolve(repoRoot, process.env.ORTHOPTIM_GOLDEN_DIR ?? 'test/fixtures/golden');

export interface GoldenTensor { shape: number[]; data: number[] }
export interface GoldenStep { grads: Record<string, GoldenTensor>; params: Record<string, GoldenTensor> }
export interface GoldenFile {
  method: string;
  source: string;
  hyperparams?: Record<string, unknown>;
  effective_hyperparams?: unknown;
  injected?: Record<string, unknown>;
  param_order?: string[];
  grad_scale?: number;
  params?: Record<string, GoldenTensor>;
  steps?: GoldenStep[];
  args?: Record<string, unknown>;
  inputs?: GoldenTensor[];
  outputs?: GoldenTensor[];
  notes: string;
  state_init?: Record<string, Record<string, unknown>>;
}

/** Golden file names (without .json) starting with `prefix + '__'`. */
export function goldenCases(prefix: string): string[] {
  if (!existsSync(goldenDir)) return [];
  const manifest = JSON.parse(readFileSync(resolve(goldenDir, 'MANIFEST.json'), 'utf8')) as { files: { file: string; method: string }[] };
  return manifest.files.filter((f) => f.method === prefix).map((f) => f.file.replace(/\.json$/, ''));
}

/**
 * True when the golden directory exists. Otherwise skips the test with a message — except under
 * CI=true, where missing data is a failure.
 */
export function requireGolden(t: TestContext): boolean {
  if (existsSync(resolve(goldenDir, 'MANIFEST.json'))) return true;
  const msg = `missing golden files at ${goldenDir}: the repository's test/fixtures/golden is missing (or ORTHOPTIM_GOLDEN_DIR points elsewhere)`;
  if (process.env.CI === 'true') throw new Error(msg);
  t.skip(msg);
  return false;
}

export function loadGolden(name: string): GoldenFile {
  return JSON.parse(readFileSync(resolve(goldenDir, `${name}.json`), 'utf8')) as GoldenFile;
}

/** float32 tensor in PyTorch layout (values rounded with Math.fround, as the README says). */
export function torchTensor(t: GoldenTensor): tf.Tensor {
  return tf.tensor(Float32Array.from(t.data, (v) => Math.fround(v)), t.shape, 'float32');
}

/** PyTorch layout → TensorFlow.js layout. */
export function toTfjsLayout(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    if (x.rank === 2) return tf.transpose(x);
    if (x.rank === 4) return tf.transpose(x, [2, 3, 1, 0]);
    return tf.clone(x);
  });
}

/** TensorFlow.js layout → PyTorch layout. */
export function toTorchLayout(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    if (x.rank === 2) return tf.transpose(x);
    if (x.rank === 4) return tf.transpose(x, [3, 2, 0, 1]);
    return tf.clone(x);
  });
}

/** The README's normwise deviation: max|got − want| / max|want| (0/0 → 0). */
export function normwiseDeviation(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  let maxDiff = 0;
  let maxWant = 0;
  for (let i = 0; i < want.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - Math.fround(want[i])));
    maxWant = Math.max(maxWant, Math.abs(Math.fround(want[i])));
  }
  if (Number.isNaN(maxDiff)) return Number.NaN;
  return maxWant === 0 ? maxDiff : maxDiff / maxWant;
}

/**
 * Soak sampling and the growth rule used by `npm run bench:soak` (bench/soak.ts) and its test.
 *
 * A soak run trains one (optimizer, engine) pair through `model.fit` for many steps and records a
 * {@link SoakSample} every `sampleEvery` steps: `tf.memory().numTensors`, the process's OS threads
 * (`Threads:` in /proc/self/status on Linux — every worker_threads Worker adds its own OS threads, so
 * a leaked engine worker shows here; elsewhere the count is -1 and not checked) and RSS.
 *
 * "Grows" ({@link detectGrowth}), after the warm-up (the first sample is taken after the first
 * `sampleEvery` steps, when optimizer slots, engine workers and kernels exist):
 * - tensors: every sample after the warm-up equals the first one exactly (a leak of one tensor per
 *   step or per call cannot hide);
 * - threads: likewise exactly flat;
 * - RSS: the least-squares slope over the second half of the samples (at least 3 points) is below
 *   `rssSlopeBytesPer1000` (default 1 MiB per 1,000 steps). The allocator and the wasm heap settle in
 *   the first half; a per-step leak of even one 64×128 float32 gradient (32 KiB) is 32 MiB per 1,000
 *   steps, 32× over the bound. Measured (10,000 steps, 2-core Xeon, wasm, 2026-12-03): second-half
 *   slopes of -15.2 (muon/tfjs, V8 heap sawtooth), -0.05 (workers), +0.45 (onnxruntime), -0.20 (adamw)
 *   and +0.11 (dion) MiB per 1,000 steps, so 1 MiB leaves ~2× headroom over the worst clean run.
 * @module
 */
import { readFileSync } from 'node:fs';

/** One sample of a soak run. */
export interface SoakSample {
  readonly step: number;
  readonly numTensors: number;
  /** OS threads of the process; -1 where it cannot be read. */
  readonly threads: number;
  readonly rssBytes: number;
}

/** OS threads of this process (Linux /proc), or -1. */
export function liveThreads(): number {
  try {
    const m = /^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : -1;
  } catch {
    return -1;
  }
}

/** Least-squares slope of y against x; 0 for fewer than 2 points. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  return sxx === 0 ? 0 : sxy / sxx;
}

export interface GrowthOptions {
  /** RSS slope bound, bytes per 1,000 steps (default 1 MiB). */
  readonly rssSlopeBytesPer1000?: number;
}

export interface GrowthVerdict {
  readonly grows: boolean;
  /** One line per failed check, naming the quantity and the values. */
  readonly reasons: string[];
  readonly tensorDelta: number;
  readonly threadDelta: number;
  /** RSS slope over the second half, bytes per 1,000 steps. */
  readonly rssSlopePer1000: number;
}

export const DEFAULT_RSS_SLOPE_BOUND = 1024 * 1024;

/** Applies the growth rule of this module's doc comment to a run's samples (in step order). */
export function detectGrowth(samples: readonly SoakSample[], options: GrowthOptions = {}): GrowthVerdict {
  const bound = options.rssSlopeBytesPer1000 ?? DEFAULT_RSS_SLOPE_BOUND;
  if (!(Number.isFinite(bound) && bound > 0)) {
    throw new RangeError(`detectGrowth: rssSlopeBytesPer1000 must be a positive finite number, got ${bound}`);
  }
  if (samples.length < 2) throw new RangeError(`detectGrowth: need at least 2 samples, got ${samples.length}`);
  const reasons: string[] = [];
  const first = samples[0]!;
  const tensorMax = Math.max(...samples.map((s) => s.numTensors));
  const tensorMin = Math.min(...samples.map((s) => s.numTensors));
  const tensorDelta = samples[samples.length - 1]!.numTensors - first.numTensors;
  if (tensorMax !== first.numTensors || tensorMin !== first.numTensors) {
    reasons.push(`tensors not flat: ${samples.map((s) => s.numTensors).join(', ')}`);
  }
  let threadDelta = 0;
  if (first.threads >= 0) {
    threadDelta = samples[samples.length - 1]!.threads - first.threads;
    if (samples.some((s) => s.threads !== first.threads)) {
      reasons.push(`threads not flat: ${samples.map((s) => s.threads).join(', ')}`);
    }
  }
  const half = samples.slice(Math.floor(samples.length / 2));
  const tail = half.length >= 3 ? half : samples.slice(-Math.min(3, samples.length));
  const rssSlopePer1000 = slope(tail.map((s) => s.step), tail.map((s) => s.rssBytes)) * 1000;
  if (rssSlopePer1000 >= bound) {
    reasons.push(
      `RSS grows ${(rssSlopePer1000 / 2 ** 20).toFixed(2)} MiB per 1,000 steps over the last ${tail.length} samples (bound ${(bound / 2 ** 20).toFixed(2)} MiB)`,
    );
  }
  return { grows: reasons.length > 0, reasons, tensorDelta, threadDelta, rssSlopePer1000 };
}

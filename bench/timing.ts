/**
 * Timing helpers shared by the benchmarks in `bench/`: wall-clock timing that forces the backend to
 * finish (`await tensor.data()`), warm-up, interleaved rounds, repeat counts sized to a time budget,
 * durations as text, and the `--shapes` flag. The rest of the toolkit lives in `src/bench/`: statistics
 * (stats.ts), machine description (machine.ts), Markdown tables (table.ts), inputs (inputs.ts),
 * relative error (relativeError.ts).
 *
 * Why `await data()`: on asynchronous backends (webgl, webgpu, tfjs-node's thread pool) an op returns
 * before its result exists, so a timer around the call alone measures dispatch. Reading one output
 * back waits for everything queued before it. On wasm kernels already run synchronously, and the read
 * only copies the (small) tensor we choose to read.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { usageError, type CommandSpec } from '../src/cli/args.js';
import { stats, type Stats } from '../src/bench/stats.js';

/** Milliseconds since an arbitrary origin (monotonic). */
export function now(): number {
  return performance.now();
}

/**
 * Waits until `t` (and, on in-order backends, everything queued before it) has been computed, by
 * reading back one element of the last tensor: copying a whole k×n result out of wasm memory would add
 * a few ms that belong to no op under test. An empty tensor is read whole.
 */
export async function sync(t: tf.Tensor | readonly tf.Tensor[]): Promise<void> {
  const list: readonly tf.Tensor[] = Array.isArray(t) ? t : [t as tf.Tensor];
  const last = list[list.length - 1];
  if (last === undefined) return;
  if (last.size === 0 || last.rank === 0) {
    await last.data();
    return;
  }
  const one = tf.slice(last, last.shape.map(() => 0), last.shape.map(() => 1));
  await one.data();
  one.dispose();
}

/**
 * Runs `fn` once and returns its wall time in ms, up to the {@link sync} on the (last) tensor it returns;
 * the returned tensors are disposed unless `keep` is set (then the caller owns them).
 */
export async function timeOnce<T extends tf.Tensor | tf.Tensor[]>(
  fn: () => T,
  keep = false,
): Promise<{ ms: number; out: T | null }> {
  const t0 = now();
  const out = fn();
  await sync(out);
  const ms = now() - t0;
  if (keep) return { ms, out };
  tf.dispose(out);
  return { ms, out: null };
}

/**
 * How many repeats fit in `budgetMs` when one costs about `perRepeatMs`, clamped to `[min, max]`.
 * The minimum wins over the budget: a median of fewer than `min` samples is not worth reporting.
 */
export function repeatsFor(budgetMs: number, perRepeatMs: number, min: number, max: number): number {
  const fit = perRepeatMs > 0 ? Math.floor(budgetMs / perRepeatMs) : max;
  return Math.max(min, Math.min(max, fit));
}

/**
 * Times `round` — a function doing one repeat of *several* measurements and returning their times —
 * `warmup` times unrecorded, then `repeats` times. Measuring the things to compare inside the same
 * round (interleaved) keeps a shared, noisy machine's slow phases from landing on one of them only.
 * `repeats` may be a function of the mean warm-up round time (ms), for budget-sized runs.
 */
export async function measureRounds<K extends string>(
  round: () => Promise<Record<K, number>>,
  options: { warmup: number; repeats: number | ((warmupRoundMs: number) => number) },
): Promise<{ stats: Record<K, Stats>; rounds: Record<K, number>[]; warmupRoundMs: number }> {
  let warmTotal = 0;
  for (let i = 0; i < options.warmup; i++) {
    const t0 = now();
    await round();
    warmTotal += now() - t0;
  }
  const warmupRoundMs = options.warmup > 0 ? warmTotal / options.warmup : 0;
  const repeats = typeof options.repeats === 'function' ? options.repeats(warmupRoundMs) : options.repeats;
  const rounds: Record<K, number>[] = [];
  for (let i = 0; i < repeats; i++) rounds.push(await round());
  const keys = (rounds[0] ? Object.keys(rounds[0]) : []) as K[];
  const out = {} as Record<K, Stats>;
  for (const k of keys) out[k] = stats(rounds.map((r) => r[k]));
  return { stats: out, rounds, warmupRoundMs };
}

/** `12.3 ms`, `1.23 s` — a duration for tables. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

/** `[rows, cols]` of a benchmarked matrix. */
export type Shape = readonly [number, number];

/**
 * The shapes of a `--NAME RxC,...` flag of `command` (`256x256,1024x4096`), null when the flag was not
 * given; a {@link usageError} naming the flag and the bad part otherwise.
 */
export function shapesFlag(command: CommandSpec, name: string, value: string | undefined): Shape[] | null {
  if (value === undefined) return null;
  const parsed: Shape[] = [];
  for (const part of value.split(',')) {
    const match = /^(\d+)x(\d+)$/.exec(part.trim());
    const rows = match ? Number(match[1]) : 0;
    const cols = match ? Number(match[2]) : 0;
    if (rows < 1 || cols < 1) throw usageError(command, `--${name}: bad shape '${part}', expected ROWSxCOLS like 1024x4096`);
    parsed.push([rows, cols]);
  }
  return parsed;
}

/**
 * The per-kernel profile of `npm run bench:fit` (issue 16 point 1: "profile a model.fit step per kernel
 * and fix any kernel that takes > 3× the time of the equivalent plain work").
 *
 * `tf.profile` lists every kernel call of a step with its input and output shapes and its time. Calls are
 * grouped by kernel and by signature (kernel + shapes); for each signature, {@link plainWork} names the
 * plain work that does the same job, which {@link profileKernels} times on the same backend right after:
 * - `matMul` — `BatchMatMul`, `_FusedMatMul`: plain 2-D products without transpose flags of the same
 *   shapes (`[m,k]·[k,n]` once per product of the batch, or one `[batch·m,k]·[k,n]` when the right operand
 *   is one shared matrix): what XNNPACK does for that many flops;
 * - `conv2d` — `Conv2DBackpropFilter`, `Conv2DBackpropInput`: the forward `Conv2D` of the same geometry
 *   (same input, filter and output shapes, hence the same flops: `2·N·outH·outW·kh·kw·C·Cout`);
 * - `bytes` — every other kernel: a float32 `x + 1` that reads and writes as many bytes as the kernel's
 *   inputs and outputs hold (a memory pass: what a transpose, reduction, gather or pool-gradient needs
 *   at least).
 * `Conv2D` and `DepthwiseConv2dNative` are the plain work of their kind and get no ratio. The time of a
 * signature is its calls × its median call time (a GC pause or a load spike of a shared machine lands on
 * one call; the plain sum is kept as `rawMs`). The ratio of a kernel is its time ÷ the plain time of its
 * calls. Entries of the profile
 * that are not registered kernels (the scopes of ops with a custom gradient, e.g. `fusedMatMul__op`)
 * contain the kernels they call: they are listed as composites and left out of the sums and shares.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

export type PlainKind = 'matMul' | 'conv2d' | 'bytes';

/** The plain work equivalent to one kernel call: how to build and time it. */
export type PlainWork =
  | { readonly kind: 'matMul'; readonly products: number; readonly m: number; readonly k: number; readonly n: number }
  | {
      readonly kind: 'conv2d';
      readonly x: [number, number, number, number];
      readonly filter: [number, number, number, number];
      readonly strides: [number, number];
      readonly pad: 'same' | 'valid';
    }
  | { readonly kind: 'bytes'; readonly elements: number };

type Shape = readonly number[] | null | undefined;

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Kernels that are the plain work of their own kind (no ratio). */
const references = new Set(['Conv2D', 'DepthwiseConv2dNative']);

/** Strides and padding of a conv from `x` `[N,H,W,C]` to `y` `[N,oh,ow,O]` with a `kh×kw` filter, or null. */
function convGeometry(x: readonly number[], y: readonly number[], kh: number, kw: number): { strides: [number, number]; pad: 'same' | 'valid' } | null {
  for (let sh = 1; sh <= 4; sh++) {
    for (let sw = 1; sw <= 4; sw++) {
      if (y[1] === Math.ceil(x[1] / sh) && y[2] === Math.ceil(x[2] / sw)) return { strides: [sh, sw], pad: 'same' };
      if (x[1] >= kh && x[2] >= kw && y[1] === Math.ceil((x[1] - kh + 1) / sh) && y[2] === Math.ceil((x[2] - kw + 1) / sw)) {
        return { strides: [sh, sw], pad: 'valid' };
      }
    }
  }
  return null;
}

/**
 * The plain work of one call of `kernel` with these input and output shapes (in the order of the
 * kernel's inputs, as `tf.profile` lists them), or null when none is defined (a composite scope, a
 * zero-size call, a conv geometry this cannot infer). NHWC convs only (tfjs-layers' default).
 */
export function plainWork(kernel: string, inputShapes: readonly Shape[], outputShapes: readonly Shape[]): PlainWork | null {
  const out = outputShapes[0];
  if (references.has(kernel)) return null;
  if (kernel === 'BatchMatMul' || kernel === '_FusedMatMul') {
    const [a, b] = inputShapes;
    if (!a || !b || !out || a.length < 2 || b.length < 2 || out.length < 2) return null;
    const m = out[out.length - 2];
    const n = out[out.length - 1];
    // k is a's dimension that is not m (either, when a is square).
    const k = a[a.length - 2] === m ? a[a.length - 1] : a[a.length - 2];
    const batch = size(out.slice(0, -2));
    const batchB = size(b.slice(0, -2));
    return batchB === 1 ? { kind: 'matMul', products: 1, m: batch * m, k, n } : { kind: 'matMul', products: batch, m, k, n };
  }
  if (kernel === 'Conv2DBackpropFilter' || kernel === 'Conv2DBackpropInput') {
    const [first, second] = inputShapes;
    // Filter gradient: inputs (x, dy), output the filter; input gradient: inputs (dy, filter), output x.
    const [x, dy, filter] = kernel === 'Conv2DBackpropFilter' ? [first, second, out] : [out, first, second];
    if (!x || !dy || !filter || x.length !== 4 || dy.length !== 4 || filter.length !== 4) return null;
    if (filter[2] !== x[3] || filter[3] !== dy[3] || x[0] !== dy[0]) return null;
    const g = convGeometry(x, dy, filter[0], filter[1]);
    if (g === null) return null;
    return { kind: 'conv2d', x: [x[0], x[1], x[2], x[3]], filter: [filter[0], filter[1], filter[2], filter[3]], ...g };
  }
  const all = [...inputShapes, ...outputShapes].filter((s): s is readonly number[] => Array.isArray(s));
  const elements = all.reduce((sum, s) => sum + size(s), 0);
  // x + 1 reads and writes `elements / 2` floats each: the bytes of the kernel's inputs and outputs.
  return elements === 0 ? null : { kind: 'bytes', elements: Math.max(1, Math.ceil(elements / 2)) };
}

/** Runs `work` once (tensors made beforehand by the caller's closure) and returns nothing to keep. */
function plainRunner(work: PlainWork): { run: () => void; dispose: () => void } {
  if (work.kind === 'matMul') {
    const a = tf.randomUniform([work.m, work.k], -1, 1, 'float32', 11);
    const b = tf.randomUniform([work.k, work.n], -1, 1, 'float32', 12);
    return {
      run: () => {
        for (let i = 0; i < work.products; i++) tf.matMul(a, b).dispose();
      },
      dispose: () => tf.dispose([a, b]),
    };
  }
  if (work.kind === 'conv2d') {
    const x = tf.randomUniform(work.x, -1, 1, 'float32', 13) as tf.Tensor4D;
    const f = tf.randomUniform(work.filter, -1, 1, 'float32', 14) as tf.Tensor4D;
    return { run: () => tf.conv2d(x, f, work.strides, work.pad).dispose(), dispose: () => tf.dispose([x, f]) };
  }
  const x = tf.randomUniform([work.elements], -1, 1, 'float32', 15);
  const one = tf.scalar(1);
  return { run: () => tf.add(x, one).dispose(), dispose: () => tf.dispose([x, one]) };
}

/** Median ms of `repeats` runs of `work` on the current backend (one untimed run first). */
export function timePlainWork(work: PlainWork, repeats = 5): number {
  const r = plainRunner(work);
  try {
    r.run();
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t0 = performance.now();
      r.run();
      times.push(performance.now() - t0);
    }
    times.sort((p, q) => p - q);
    return times[Math.floor(times.length / 2)];
  } finally {
    r.dispose();
  }
}

export interface SignatureProfile {
  readonly inputShapes: (number[] | null)[];
  readonly outputShapes: (number[] | null)[];
  /** Calls per step. */
  readonly calls: number;
  /** ms per step: calls × the median time of one call (robust to a GC pause or a load spike). */
  readonly ms: number;
  /** ms per step: the plain sum of the calls' times. */
  readonly rawMs: number;
  readonly plain: PlainWork | null;
  /** ms of the plain work of all its calls per step, or null. */
  readonly plainMs: number | null;
}

export interface KernelProfile {
  readonly kernel: string;
  /** Calls per step. */
  readonly calls: number;
  /** ms per step: Σ over its signatures of calls × median call time (`tf.profile`'s kernelTimeMs). */
  readonly ms: number;
  /** ms per step: the plain sum of its calls' times. */
  readonly rawMs: number;
  /** ms ÷ the step's wall time under tf.profile (null for a composite). */
  readonly share: number | null;
  /** Kind of the plain work compared against (null: none for some signature, or a composite). */
  readonly plainKind: PlainKind | null;
  readonly plainMs: number | null;
  /** ms ÷ plainMs. */
  readonly ratio: number | null;
  /** A profile entry that is an op's scope, not a kernel: its time contains other entries'. */
  readonly composite: boolean;
  readonly signatures: SignatureProfile[];
}

/** The kernel records of `tf.profile` that {@link summarizeProfile} reads. */
export interface KernelRecord {
  readonly name: string;
  readonly inputShapes: (number[] | null | undefined)[];
  readonly outputShapes: (number[] | null | undefined)[];
  readonly kernelTimeMs: number | { error: string } | Promise<number | { error: string }>;
}

/**
 * Groups `records` (from `tf.profile` of `steps` steps) by kernel and signature, per step, with each
 * signature's plain time from `plainMs` (called once per distinct signature; null for none), sorted by
 * time. `isKernel` tells registered kernels from composite scopes; `stepMs` is the step's wall time.
 */
export function summarizeProfile(
  records: readonly KernelRecord[],
  steps: number,
  stepMs: number,
  isKernel: (name: string) => boolean,
  plainMs: (work: PlainWork) => number,
): KernelProfile[] {
  const groups = new Map<string, Map<string, { inputShapes: (number[] | null)[]; outputShapes: (number[] | null)[]; calls: number; times: number[] }>>();
  for (const r of records) {
    const inputShapes = r.inputShapes.map((s) => (Array.isArray(s) ? [...s] : null));
    const outputShapes = r.outputShapes.map((s) => (Array.isArray(s) ? [...s] : null));
    const key = JSON.stringify([inputShapes, outputShapes]);
    const byShape = groups.get(r.name) ?? new Map();
    groups.set(r.name, byShape);
    const g = byShape.get(key) ?? { inputShapes, outputShapes, calls: 0, times: [] };
    g.calls++;
    g.times.push(typeof r.kernelTimeMs === 'number' ? r.kernelTimeMs : 0);
    byShape.set(key, g);
  }
  const kernels: KernelProfile[] = [];
  for (const [kernel, byShape] of groups) {
    const composite = !isKernel(kernel);
    const signatures: SignatureProfile[] = [...byShape.values()]
      .map((g) => {
        const plain = composite ? null : plainWork(kernel, g.inputShapes, g.outputShapes);
        return {
          inputShapes: g.inputShapes,
          outputShapes: g.outputShapes,
          calls: g.calls / steps,
          ms: (median(g.times) * g.calls) / steps,
          rawMs: g.times.reduce((a, b) => a + b, 0) / steps,
          plain,
          plainMs: plain === null ? null : (plainMs(plain) * g.calls) / steps,
        };
      })
      .sort((a, b) => b.ms - a.ms);
    const calls = signatures.reduce((s, g) => s + g.calls, 0);
    const ms = signatures.reduce((s, g) => s + g.ms, 0);
    const rawMs = signatures.reduce((s, g) => s + g.rawMs, 0);
    const kinds = new Set(signatures.map((g) => g.plain?.kind ?? null));
    const complete = !composite && !kinds.has(null) && kinds.size === 1;
    const plain = complete ? signatures.reduce((s, g) => s + (g.plainMs as number), 0) : null;
    kernels.push({
      kernel,
      calls,
      ms,
      rawMs,
      share: composite ? null : ms / stepMs,
      plainKind: complete ? (signatures[0].plain as PlainWork).kind : null,
      plainMs: plain,
      ratio: plain === null || plain <= 0 ? null : ms / plain,
      composite,
      signatures,
    });
  }
  return kernels.sort((a, b) => b.ms - a.ms);
}

/**
 * Kernels above `limit` × their plain work that matter: at least `minShare` of the step (tiny calls'
 * ratios are per-call overhead).
 */
export function slowKernels(kernels: readonly KernelProfile[], limit = 3, minShare = 0.01): KernelProfile[] {
  return kernels.filter((k) => k.ratio !== null && k.ratio > limit && (k.share ?? 0) >= minShare);
}

/** One profile entry's signature as text: `BatchMatMul [64,64,16]·[64,64,16] → [64,64,64]`. */
export function describeSignature(kernel: string, s: SignatureProfile): string {
  const shape = (x: number[] | null) => (x === null ? '—' : `[${x.join(',')}]`);
  return `${kernel} ${s.inputShapes.map(shape).join('·')} → ${s.outputShapes.map(shape).join(',')}`;
}

/** What {@link renderProfileTables} needs of one mode's profile. */
export interface ModeProfileLike {
  readonly kernels: readonly KernelProfile[];
  readonly stepMs: number;
}

const fmt = (v: number | null, digits = 1) => (v === null || !Number.isFinite(v) ? '—' : v.toFixed(digits));

/**
 * Markdown: one table of the `top` kernels of each mode by time (the union), with per mode the calls,
 * ms per step, share of the step and × plain work; composites marked; then, per mode, the kernels above
 * 3× their plain work with their slowest signature.
 */
export function renderProfileTables(
  modes: readonly (readonly [string, ModeProfileLike])[],
  top: number,
  format: (columns: { header: string; align?: 'right' }[], rows: string[][]) => string,
): string[] {
  const names = [...new Set(modes.flatMap(([, p]) => p.kernels.slice(0, top).map((k) => k.kernel)))];
  const find = (p: ModeProfileLike, name: string) => p.kernels.find((k) => k.kernel === name);
  const last = modes[modes.length - 1][1];
  names.sort((a, b) => (find(last, b)?.ms ?? 0) - (find(last, a)?.ms ?? 0));
  const columns: { header: string; align?: 'right' }[] = [{ header: 'kernel' }, { header: 'plain work' }];
  for (const [label] of modes) {
    columns.push(
      { header: `${label} calls`, align: 'right' },
      { header: `${label} ms`, align: 'right' },
      { header: `${label} share`, align: 'right' },
      { header: `${label} × plain`, align: 'right' },
    );
  }
  const rows = names.map((n) => {
    const any = modes.map(([, p]) => find(p, n)).find((k) => k !== undefined) as KernelProfile;
    const row = [any.composite ? `(${n})` : n, any.composite ? 'composite' : (modes.map(([, p]) => find(p, n)?.plainKind).find((k) => k) ?? '—')];
    for (const [, p] of modes) {
      const k = find(p, n);
      row.push(
        k === undefined ? '0' : fmt(k.calls, 0),
        k === undefined ? '0' : fmt(k.ms),
        k?.share == null ? '—' : `${(100 * k.share).toFixed(1)}%`,
        k?.ratio == null ? '—' : `×${k.ratio.toFixed(2)}`,
      );
    }
    return row;
  });
  const out = [format(columns, rows), ''];
  out.push('Composite entries (in parentheses) are op scopes whose time contains their kernels\'; they are not in the sums.');
  for (const [label, p] of modes) {
    const slow = slowKernels(p.kernels);
    const text = slow.map((k) => {
      const worst = [...k.signatures].filter((s) => s.plainMs !== null).sort((a, b) => b.ms - (b.plainMs as number) - (a.ms - (a.plainMs as number)))[0];
      const detail = worst === undefined ? '' : `, worst ${describeSignature(k.kernel, worst)}: ${fmt(worst.ms, 2)} ms vs ${fmt(worst.plainMs, 2)} plain`;
      return `${k.kernel} ×${(k.ratio as number).toFixed(1)} (${fmt(k.ms)} ms${detail})`;
    });
    out.push(`- ${label}: > 3× plain work (≥ 1% of the step): ${text.length === 0 ? 'none' : text.join('; ')}.`);
  }
  return out;
}

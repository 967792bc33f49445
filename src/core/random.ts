/**
 * Seeded randomness for benchmarks and initializers: every random choice (data, initial weights, batch order) comes from
 * {@link mulberry32} in float64 JavaScript, never from a backend's RNG, so it is identical on wasm, cpu,
 * webgl or tfjs-node.
 * @module
 */

/** mulberry32 (Tommy Ettinger's 32-bit generator): a seeded uniform generator on [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A seed for one purpose derived from the run's seed (FNV-1a over the purpose, mixed with the seed), so
 * data, initial weights and batch order draw from independent streams.
 */
export function deriveSeed(seed: number, purpose: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < purpose.length; i++) h = Math.imul(h ^ purpose.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
}

/** A standard normal draw (Box–Muller) from a uniform generator. */
export function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-300);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** Fisher–Yates: `0 … count−1` in a random order drawn from `rand`. */
export function shuffledIndices(count: number, rand: () => number): Uint32Array {
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

/**
 * The batch order of a run: epochs of a seeded permutation, dropping each epoch's incomplete last batch
 * (every batch then has the same size). Two samplers made with the same arguments yield the same batches.
 */
export class BatchSampler {
  private readonly rand: () => number;
  private order: Uint32Array;
  private position = 0;
  /** Completed passes over the data. */
  epoch = 0;

  constructor(
    readonly count: number,
    readonly batch: number,
    seed: number,
  ) {
    if (!Number.isInteger(batch) || batch < 1 || batch > count) {
      throw new RangeError(`BatchSampler: batch must be an integer in [1, ${count}] (the training set size), got ${batch}`);
    }
    this.rand = mulberry32(seed);
    this.order = shuffledIndices(count, this.rand);
  }

  /** The example indices of the next batch. */
  next(): Uint32Array {
    if (this.position + this.batch > this.count) {
      this.order = shuffledIndices(this.count, this.rand);
      this.position = 0;
      this.epoch++;
    }
    const out = this.order.subarray(this.position, this.position + this.batch);
    this.position += this.batch;
    return out;
  }
}

/** `count` standard normal draws times `std`, as float32. */
export function gaussianArray(count: number, std: number, rand: () => number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = gaussian(rand) * std;
  return out;
}

/** `count` uniform draws on `[-limit, limit)`, as float32. */
export function uniformArray(count: number, limit: number, rand: () => number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (2 * rand() - 1) * limit;
  return out;
}

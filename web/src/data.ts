/**
 * The race's data: two 2-D classification sets drawn from the seed (a two-arm spiral and two moons),
 * and the embedded Fashion-MNIST subset (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747), fetched from the
 * site as IDX gzip files, inflated with the browser's DecompressionStream and parsed by the library's
 * `parseIdx`. When the subset is not part of the site, a synthetic 784-D, 10-class stand-in (Gaussian
 * classes around seeded means) takes its place and the page says so.
 */
import { deriveSeed, gaussian, mulberry32 } from '../../src/core/random.js';
import { isGzip, parseIdx } from '../../src/bench/data/idx.js';
import type { DatasetName } from './settings.js';

/** The distribution's file names (as src/bench/data/locate.ts's mnistFileNames, which imports node:fs). */
const mnistFileNames = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

export interface Split {
  /** Row-major `count × features`. */
  readonly x: Float32Array;
  readonly y: Int32Array;
  readonly count: number;
}

export interface Dataset {
  readonly name: DatasetName;
  readonly label: string;
  readonly features: number;
  readonly classes: number;
  /** Hidden layer widths of the MLP raced on it. */
  readonly hidden: readonly number[];
  readonly train: Split;
  readonly test: Split;
  /** Set when the Fashion subset was missing and a synthetic stand-in is used. */
  readonly note?: string;
}

function spiral(count: number, rand: () => number): Split {
  const x = new Float32Array(count * 2);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % 2;
    const t = 0.25 + 2.75 * rand();
    const r = t / 3;
    const a = t * 2.2 + c * Math.PI;
    x[2 * i] = r * Math.cos(a) + 0.05 * gaussian(rand);
    x[2 * i + 1] = r * Math.sin(a) + 0.05 * gaussian(rand);
    y[i] = c;
  }
  return { x, y, count };
}

function moons(count: number, rand: () => number): Split {
  const x = new Float32Array(count * 2);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % 2;
    const t = Math.PI * rand();
    const px = c === 0 ? Math.cos(t) : 1 - Math.cos(t);
    const py = c === 0 ? Math.sin(t) : 0.5 - Math.sin(t);
    x[2 * i] = (px - 0.5) * 0.9 + 0.08 * gaussian(rand);
    x[2 * i + 1] = (py - 0.25) * 0.9 + 0.08 * gaussian(rand);
    y[i] = c;
  }
  return { x, y, count };
}

function syntheticFashion(count: number, means: Float32Array, rand: () => number): Split {
  const x = new Float32Array(count * 784);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const c = Math.floor(rand() * 10);
    y[i] = c;
    for (let j = 0; j < 784; j++) x[i * 784 + j] = means[c * 784 + j] + 0.6 * gaussian(rand);
  }
  return { x, y, count };
}

async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function fetchIdx(base: string): Promise<Uint8Array | null> {
  for (const name of [`${base}.gz`, base]) {
    try {
      const r = await fetch(`${import.meta.env.BASE_URL}${name}`);
      if (!r.ok || (r.headers.get('content-type') ?? '').includes('text/html')) continue;
      return await inflate(new Uint8Array(await r.arrayBuffer()));
    } catch {
      // try the next name
    }
  }
  return null;
}

async function fashionSplit(images: string, labels: string, limit: number): Promise<Split | null> {
  const [ib, lb] = await Promise.all([fetchIdx(images), fetchIdx(labels)]);
  if (ib === null || lb === null) return null;
  const img = parseIdx(ib, images);
  const lab = parseIdx(lb, labels);
  const count = Math.min(limit, img.dims[0], lab.dims[0]);
  const x = new Float32Array(count * 784);
  for (let i = 0; i < x.length; i++) x[i] = img.data[i] / 255;
  return { x, y: Int32Array.from(lab.data.subarray(0, count)), count };
}

/** The named dataset, drawn from `seed` (2-D sets) or fetched (Fashion, falling back to synthetic). */
export async function loadDataset(name: DatasetName, seed: number): Promise<Dataset> {
  const rand = mulberry32(deriveSeed(seed, `playground/data/${name}`));
  if (name === 'spiral' || name === 'moons') {
    const draw = name === 'spiral' ? spiral : moons;
    return { name, label: name === 'spiral' ? 'two-arm spiral (2-D)' : 'two moons (2-D)', features: 2, classes: 2, hidden: [32, 32], train: draw(800, rand), test: draw(400, rand) };
  }
  const train = await fashionSplit(mnistFileNames.trainImages, mnistFileNames.trainLabels, 10000);
  const test = await fashionSplit(mnistFileNames.testImages, mnistFileNames.testLabels, 2000);
  if (train !== null) {
    return { name, label: `Fashion-MNIST subset (${train.count} train / ${(test ?? train).count} test)`, features: 784, classes: 10, hidden: [64, 64], train, test: test ?? train };
  }
  const means = new Float32Array(10 * 784);
  for (let i = 0; i < means.length; i++) means[i] = 0.15 * gaussian(rand);
  return {
    name,
    label: 'synthetic 784-D, 10 classes (stand-in)',
    features: 784,
    classes: 10,
    hidden: [64, 64],
    train: syntheticFashion(4000, means, rand),
    test: syntheticFashion(1000, means, rand),
    note: 'The Fashion-MNIST subset is not part of this site (data/fashion-mnist-subset); racing on a synthetic 784-D stand-in.',
  };
}

/**
 * The embedded Fashion-MNIST subset: 10,000 training images (1,000 per class) and 2,000 test images
 * (200 per class) drawn from Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747; MIT license,
 * Zalando Research) with the repository's seeded RNG, stored as the four gzipped IDX files of the
 * original layout in the repository's `data/fashion-mnist-subset/` (not in the npm package). It is what
 * `npm start` trains on when the full set is on none of the searched paths, so a fresh clone compares
 * optimizers on real images without a download.
 *
 * How it is made ({@link makeFashionSubset}, run by `scripts/make-fashion-subset.ts`): for each class,
 * the indices of that class in a split are shuffled with `mulberry32(deriveSeed(seed, 'fashion-subset/<split>/<class>'))`
 * (`src/core/random.ts`), the first `perClass` are kept, and the kept indices of all classes are written
 * in their original order (classes stay interleaved as in the source). Files are gzipped (level 9) by
 * Node's zlib, whose header carries no file name and an mtime of 0, so the same input gives the same
 * bytes. The loader checks the SHA-256 of each file's *uncompressed* IDX bytes against
 * {@link fashionSubsetFiles} (a re-compressed or gunzipped copy still verifies; any other content is a
 * {@link DataChecksumError}).
 * @module
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { deriveSeed, mulberry32, shuffledIndices } from '../../core/random.js';
import { idxImagesMagic, idxLabelsMagic, isGzip, parseIdx } from './idx.js';
import { findIdxFile, mnistFileNames, type MnistFileRole } from './locate.js';

/**
 * The repository's `data/fashion-mnist-subset/` (three levels above this module, in `src/` as in
 * `dist/`). Present in a clone of the repository, absent from the npm package.
 */
export const embeddedFashionSubsetDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'data', 'fashion-mnist-subset');

/** The settings the committed subset was made with (see `data/fashion-mnist-subset/SOURCES.md`). */
export const fashionSubsetSettings = { seed: 0, trainPerClass: 1000, testPerClass: 200 } as const;

/** One committed file: its example count and the SHA-256 of its uncompressed IDX bytes. */
export interface PinnedIdxFile {
  count: number;
  sha256: string;
}

/** Digests of the committed subset's files (uncompressed IDX bytes), the same as in its SOURCES.md. */
export const fashionSubsetFiles: Readonly<Record<MnistFileRole, PinnedIdxFile>> = {
  trainImages: { count: 10000, sha256: '5aa8e9d87e3473dee2bd7f01938a9469e628d25029fdba0003d2482036791392' },
  trainLabels: { count: 10000, sha256: 'f53b6c79e39f453a44c313f0cb0c503db0750fc2decc700eb0108f58ec0af29c' },
  testImages: { count: 2000, sha256: 'd0a1e471eff212f506b161cad5b55d8df01bdb35090b9d37f1a4e9f022dbb933' },
  testLabels: { count: 2000, sha256: '60ed49bb0e4943241a65f7a583b5ae952b36636cea1f8128b46b12f2ce154d79' },
};

/** A file's content is not the one pinned: names the file and both digests. */
export class DataChecksumError extends Error {
  readonly path: string;
  readonly expected: string;
  readonly actual: string;

  constructor(path: string, expected: string, actual: string, bytes: number) {
    super(
      `${path}: SHA-256 of its ${bytes} uncompressed bytes is ${actual}, expected ${expected} ` +
        '(the file is corrupt, truncated or not the committed one; restore it with git checkout, or remake it with scripts/make-fashion-subset.ts)',
    );
    this.name = 'DataChecksumError';
    this.path = path;
    this.expected = expected;
    this.actual = actual;
  }
}

/** SHA-256 (hex) of bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The uncompressed bytes of an IDX file at `path` (gunzipped when it is gzip data). */
export function readIdxBytes(path: string): Uint8Array {
  const raw = new Uint8Array(readFileSync(path));
  if (!isGzip(raw)) return raw;
  try {
    return new Uint8Array(gunzipSync(raw));
  } catch (e) {
    throw new Error(`${path}: corrupt gzip data: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/**
 * Reads the file of `role` in `dir` and checks its uncompressed bytes against `pinned` (throws
 * {@link DataChecksumError}); returns the path and the bytes.
 */
export function readPinnedIdx(dir: string, role: MnistFileRole, pinned: PinnedIdxFile): { path: string; bytes: Uint8Array } {
  const base = mnistFileNames[role];
  const path = findIdxFile(dir, base);
  if (path === undefined) throw new Error(`${dir}: neither ${base}.gz nor ${base} exists`);
  const bytes = readIdxBytes(path);
  const actual = sha256Hex(bytes);
  if (actual !== pinned.sha256) throw new DataChecksumError(path, pinned.sha256, actual, bytes.length);
  return { path, bytes };
}

/** An IDX file of unsigned bytes: magic `0x0000 08 ndim`, big-endian sizes, then `data`. */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  const magic = dims.length === 1 ? idxLabelsMagic : dims.length === 3 ? idxImagesMagic : 0x00000800 | dims.length;
  const expected = dims.reduce((a, b) => a * b, 1);
  if (expected !== data.length) throw new RangeError(`encodeIdx: dims ${dims.join('×')} need ${expected} bytes, got ${data.length}`);
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** Gzip with a fixed header (no name, mtime 0) at level 9: the same bytes in give the same bytes out. */
export function gzipReproducible(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(gzipSync(bytes, { level: 9 }));
}

/**
 * The indices kept from `labels`: for each class `c` in 0–9, `perClass` indices of that class chosen by
 * a permutation from `mulberry32(deriveSeed(seed, '<purpose>/<c>'))`, all returned in ascending order.
 * A class with fewer than `perClass` examples is a RangeError naming it.
 */
export function balancedIndices(labels: Uint8Array, perClass: number, seed: number, purpose: string): Uint32Array {
  if (!Number.isInteger(perClass) || perClass < 1) throw new RangeError(`balancedIndices: perClass must be a positive integer, got ${perClass}`);
  const byClass: number[][] = Array.from({ length: 10 }, () => []);
  labels.forEach((l, i) => {
    if (l > 9) throw new RangeError(`balancedIndices: label ${l} at index ${i} is not a class 0–9`);
    byClass[l].push(i);
  });
  const kept: number[] = [];
  for (let c = 0; c < 10; c++) {
    const members = byClass[c];
    if (members.length < perClass) {
      throw new RangeError(`balancedIndices: ${purpose}: class ${c} has ${members.length} examples, fewer than perClass ${perClass}`);
    }
    const order = shuffledIndices(members.length, mulberry32(deriveSeed(seed, `${purpose}/${c}`)));
    for (let k = 0; k < perClass; k++) kept.push(members[order[k]]);
  }
  return Uint32Array.from(kept.sort((a, b) => a - b));
}

/** What {@link makeFashionSubset} reads and writes. */
export interface MakeSubsetOptions {
  /** Directory holding the four files of the full set (`.gz` or not). */
  source: string;
  /** Directory the four `.gz` files go to (created; each file written to a temp name, then renamed). */
  out: string;
  seed?: number;
  trainPerClass?: number;
  testPerClass?: number;
}

/** One written file: its name, size, and the SHA-256 of the `.gz` file and of its IDX content. */
export interface WrittenIdxFile {
  role: MnistFileRole;
  name: string;
  count: number;
  gzBytes: number;
  gzSha256: string;
  idxBytes: number;
  idxSha256: string;
}

/**
 * Writes a seeded, class-balanced subset of Fashion-MNIST (or any MNIST-layout set) from `source` to
 * `out`: `trainPerClass` × 10 training and `testPerClass` × 10 test examples (see the module note).
 * Everything is read and checked before the first file is written.
 */
export function makeFashionSubset(options: MakeSubsetOptions): WrittenIdxFile[] {
  const seed = options.seed ?? fashionSubsetSettings.seed;
  const perSplit = [
    { images: 'trainImages', labels: 'trainLabels', perClass: options.trainPerClass ?? fashionSubsetSettings.trainPerClass, purpose: 'fashion-subset/train' },
    { images: 'testImages', labels: 'testLabels', perClass: options.testPerClass ?? fashionSubsetSettings.testPerClass, purpose: 'fashion-subset/test' },
  ] as const;
  const files: { role: MnistFileRole; idx: Uint8Array; count: number }[] = [];
  for (const s of perSplit) {
    const read = (role: MnistFileRole) => {
      const base = mnistFileNames[role];
      const path = findIdxFile(options.source, base);
      if (path === undefined) throw new Error(`makeFashionSubset: ${options.source}: neither ${base}.gz nor ${base} exists`);
      return { path, ...parseIdx(readIdxBytes(path), path) };
    };
    const images = read(s.images);
    const labels = read(s.labels);
    if (images.dims.length !== 3 || labels.dims.length !== 1 || images.dims[0] !== labels.dims[0]) {
      throw new Error(`makeFashionSubset: ${images.path} (${images.dims.join('×')}) and ${labels.path} (${labels.dims.join('×')}) do not match`);
    }
    const keep = balancedIndices(labels.data, s.perClass, seed, s.purpose);
    const pixels = images.dims[1] * images.dims[2];
    const outImages = new Uint8Array(keep.length * pixels);
    const outLabels = new Uint8Array(keep.length);
    keep.forEach((i, r) => {
      outImages.set(images.data.subarray(i * pixels, (i + 1) * pixels), r * pixels);
      outLabels[r] = labels.data[i];
    });
    files.push(
      { role: s.images, idx: encodeIdx([keep.length, images.dims[1], images.dims[2]], outImages), count: keep.length },
      { role: s.labels, idx: encodeIdx([keep.length], outLabels), count: keep.length },
    );
  }
  mkdirSync(options.out, { recursive: true });
  return files.map(({ role, idx, count }) => {
    const gz = gzipReproducible(idx);
    const name = `${mnistFileNames[role]}.gz`;
    const dest = join(options.out, name);
    const temp = join(options.out, `.${name}.${process.pid}.tmp`);
    try {
      writeFileSync(temp, gz);
      renameSync(temp, dest);
    } catch (e) {
      rmSync(temp, { force: true });
      throw e;
    }
    return { role, name, count, gzBytes: gz.length, gzSha256: sha256Hex(gz), idxBytes: idx.length, idxSha256: sha256Hex(idx) };
  });
}

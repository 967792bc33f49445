/**
 * MNIST (LeCun, Cortes & Burges) and Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747)
 * as plain typed arrays, so benchmarks can batch them into tensors on any TensorFlow.js backend and
 * the loader itself needs no backend at all.
 * @module
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { downloadDataset } from './download.js';
import { embeddedFashionSubsetDir, fashionSubsetFiles, readPinnedIdx, type PinnedIdxFile } from './fashionSubset.js';
import { parseIdx } from './idx.js';
import {
  MnistNotFoundError,
  datasetCacheDir,
  datasetInfo,
  findIdxFile,
  mnistFileNames,
  searchDataset,
  type MnistDataset,
  type MnistFileRole,
  type SearchedPlace,
} from './locate.js';

/** Images are 28 × 28 pixels in both datasets. */
export const mnistImageSide = 28;
/** Pixels per image, the row length of {@link MnistSplit.images}. */
export const mnistImagePixels = mnistImageSide * mnistImageSide;

/** Class names by label (0–9). MNIST's classes are its digits; Fashion-MNIST's are from its README. */
export const mnistClassNames: Readonly<Record<MnistDataset, readonly string[]>> = {
  mnist: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  fashionMnist: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
};

/** One split: `count` images, row-major, each 784 floats in [0, 1] (pixel / 255), and their labels 0–9. */
export interface MnistSplit {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

export interface MnistData {
  dataset: MnistDataset;
  /** The directory the files were read from. */
  dir: string;
  /**
   * True when `dir` is the repository's embedded Fashion-MNIST subset (10,000 train / 2,000 test, see
   * `fashionSubset.ts`), read because the full set was on none of the searched paths.
   */
  embedded: boolean;
  /** Every directory searched for the full set, in order (the found one last, when found). */
  searched: string[];
  train: MnistSplit;
  test: MnistSplit;
}

export interface LoadMnistOptions {
  dataset: MnistDataset;
  /** A directory holding the four files, or holding them in a `mnist/` / `fashion-mnist/` subdirectory. */
  dataDir?: string;
  /**
   * Download into the cache when the files are found nowhere (default false: a benchmark reaches the
   * network only when asked, and otherwise fails with a {@link DataNotFoundError} saying where it looked).
   */
  download?: boolean;
  /** Root of the download cache (default `ORTHOPTIM_CACHE_DIR`, else `~/.cache/orthoptim`). */
  cacheDir?: string;
  /** Show download progress on stderr (default true). */
  progress?: boolean;
  /** The fetch used for downloading (default the global one); injectable for tests. */
  fetch?: typeof fetch;
  /**
   * Fashion-MNIST only: when the full set is found nowhere, no `dataDir` was given and `download` is not
   * set, read the repository's embedded subset (sha256-checked; default false). Its directory is
   * `embeddedFashionSubsetDir` unless this is a string naming another copy.
   */
  embeddedSubset?: boolean | string;
  /**
   * The system package's directory searched for Fashion-MNIST after `ORTHOPTIM_DATA_DIR` (default
   * `/usr/share/datasets/fashion-mnist`, Debian's `dataset-fashion-mnist`; null: not searched).
   */
  packageDir?: string | null;
}

/**
 * Loads both splits of MNIST or Fashion-MNIST: from the first directory that holds the files (see
 * `locateDataset` for the order), downloading them first only when `download` is true.
 * Checks that images are N × 28 × 28, that each split has as many labels as images, and that labels
 * are 0–9, with errors that name the file.
 */
export async function loadMnist(options: LoadMnistOptions): Promise<MnistData> {
  const { dataset, dataDir, cacheDir } = options;
  if (!(dataset in datasetInfo)) {
    throw new RangeError(`loadMnist: dataset must be one of 'mnist', 'fashionMnist', got ${JSON.stringify(dataset)}`);
  }
  const { found, searched } = searchDataset(dataset, dataDir, cacheDir, options.packageDir);
  const searchedDirs = searched.map((p) => p.dir);
  const { title } = datasetInfo[dataset];
  let dir = found;
  if (dir === undefined) {
    const cache = datasetCacheDir(dataset, cacheDir);
    const subset = options.embeddedSubset;
    // The embedded subset stands in for the full set only where nothing more specific was asked for:
    // an explicit dataDir that lacks the files stays an error, and --download fetches the full set.
    if (dataset === 'fashionMnist' && subset !== undefined && subset !== false && dataDir === undefined && options.download !== true) {
      const subsetDir = typeof subset === 'string' ? resolve(subset) : embeddedFashionSubsetDir;
      const missing = (Object.keys(mnistFileNames) as MnistFileRole[]).filter((r) => findIdxFile(subsetDir, mnistFileNames[r]) === undefined);
      if (missing.length > 0) {
        const place: SearchedPlace = {
          dir: subsetDir,
          source: 'embedded subset',
          missing: existsSync(subsetDir) ? missing.map((r) => mnistFileNames[r]) : undefined,
        };
        throw new MnistNotFoundError(dataset, [...searched, place], cache);
      }
      const [train, test] = await Promise.all([
        readSplit(subsetDir, 'trainImages', 'trainLabels', `${title} subset train`, fashionSubsetFiles),
        readSplit(subsetDir, 'testImages', 'testLabels', `${title} subset test`, fashionSubsetFiles),
      ]);
      return { dataset, dir: subsetDir, embedded: true, searched: [...searchedDirs, subsetDir], train, test };
    }
    if (options.download !== true) throw new MnistNotFoundError(dataset, searched, cache);
    dir = await downloadDataset(dataset, cache, { fetch: options.fetch, progress: options.progress });
    searchedDirs.push(dir);
  }
  const [train, test] = await Promise.all([
    readSplit(dir, 'trainImages', 'trainLabels', `${title} train`),
    readSplit(dir, 'testImages', 'testLabels', `${title} test`),
  ]);
  return { dataset, dir, embedded: false, searched: searchedDirs, train, test };
}

async function readIdxFile(
  dir: string,
  role: MnistFileRole,
  pinned: Readonly<Record<MnistFileRole, PinnedIdxFile>> | undefined,
): Promise<{ path: string; dims: number[]; data: Uint8Array }> {
  if (pinned !== undefined) {
    const { path, bytes } = readPinnedIdx(dir, role, pinned[role]);
    return { path, ...parseIdx(bytes, path) };
  }
  const baseName = mnistFileNames[role];
  const path = findIdxFile(dir, baseName);
  if (path === undefined) throw new Error(`${dir}: neither ${baseName}.gz nor ${baseName} exists`);
  return { path, ...parseIdx(await readFile(path), path) };
}

async function readSplit(
  dir: string,
  imagesRole: MnistFileRole,
  labelsRole: MnistFileRole,
  what: string,
  pinned?: Readonly<Record<MnistFileRole, PinnedIdxFile>>,
): Promise<MnistSplit> {
  const [images, labels] = await Promise.all([readIdxFile(dir, imagesRole, pinned), readIdxFile(dir, labelsRole, pinned)]);
  if (images.dims.length !== 3 || images.dims[1] !== mnistImageSide || images.dims[2] !== mnistImageSide) {
    throw new Error(
      `${images.path}: expected images of shape N×${mnistImageSide}×${mnistImageSide}, got ${images.dims.join('×')}`,
    );
  }
  if (labels.dims.length !== 1) {
    throw new Error(`${labels.path}: expected a 1-D labels file, got shape ${labels.dims.join('×')}`);
  }
  const count = images.dims[0];
  if (labels.dims[0] !== count) {
    throw new Error(
      `${what}: ${basename(images.path)} has ${count} images but ${basename(labels.path)} has ${labels.dims[0]} labels (in ${dir})`,
    );
  }
  const badLabel = labels.data.findIndex((label) => label > 9);
  if (badLabel >= 0) {
    throw new Error(`${labels.path}: label ${labels.data[badLabel]} at index ${badLabel} is not a class 0–9`);
  }
  const pixels = images.data;
  const scaled = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) scaled[i] = pixels[i] / 255;
  // Copy the labels out of the decompressed file so the (much larger) inflated buffer can be freed.
  return { images: scaled, labels: labels.data.slice(), count };
}

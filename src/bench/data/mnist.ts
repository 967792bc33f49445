/**
 * MNIST (LeCun, Cortes & Burges) and Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747)
 * as plain typed arrays, so benchmarks can batch them into tensors on any TensorFlow.js backend and
 * the loader itself needs no backend at all.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { downloadDataset } from './download.js';
import { parseIdx } from './idx.js';
import {
  MnistNotFoundError,
  datasetCacheDir,
  datasetInfo,
  findIdxFile,
  mnistFileNames,
  searchDataset,
  type MnistDataset,
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
  const { found, searched } = searchDataset(dataset, dataDir, cacheDir);
  let dir = found;
  if (dir === undefined) {
    const cache = datasetCacheDir(dataset, cacheDir);
    if (options.download !== true) throw new MnistNotFoundError(dataset, searched, cache);
    dir = await downloadDataset(dataset, cache, { fetch: options.fetch, progress: options.progress });
  }
  const [train, test] = await Promise.all([
    readSplit(dir, mnistFileNames.trainImages, mnistFileNames.trainLabels, `${datasetInfo[dataset].title} train`),
    readSplit(dir, mnistFileNames.testImages, mnistFileNames.testLabels, `${datasetInfo[dataset].title} test`),
  ]);
  return { dataset, dir, train, test };
}

async function readIdxFile(dir: string, baseName: string): Promise<{ path: string; dims: number[]; data: Uint8Array }> {
  const path = findIdxFile(dir, baseName);
  if (path === undefined) throw new Error(`${dir}: neither ${baseName}.gz nor ${baseName} exists`);
  return { path, ...parseIdx(await readFile(path), path) };
}

async function readSplit(dir: string, imagesName: string, labelsName: string, what: string): Promise<MnistSplit> {
  const [images, labels] = await Promise.all([readIdxFile(dir, imagesName), readIdxFile(dir, labelsName)]);
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

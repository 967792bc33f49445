/**
 * Finding MNIST and Fashion-MNIST on disk. Both datasets are the same four IDX files; they may sit in
 * a directory the user names, in a shared data directory (`ORTHOPTIM_DATA_DIR`), in the Debian package
 * `dataset-fashion-mnist`, or in the download cache. Nothing is downloaded here: a benchmark must not
 * reach the network unless asked (see `download.ts`).
 * @module
 */
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** The two datasets in the MNIST format. Names are single camelCase words, as tfjs configs want. */
export type MnistDataset = 'mnist' | 'fashionMnist';

export const mnistDatasets: readonly MnistDataset[] = ['mnist', 'fashionMnist'];

/** How each dataset is named in prose and as a directory (`<data dir>/mnist`, `<data dir>/fashion-mnist`). */
export const datasetInfo: Readonly<Record<MnistDataset, { title: string; dirName: string }>> = {
  mnist: { title: 'MNIST', dirName: 'mnist' },
  fashionMnist: { title: 'Fashion-MNIST', dirName: 'fashion-mnist' },
};

/** The four files of either dataset, without `.gz` (the distribution's names, kept by every mirror). */
export const mnistFileNames = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

export type MnistFileRole = keyof typeof mnistFileNames;

/** Where `apt-get install dataset-fashion-mnist` (Debian, Ubuntu) puts the four `.gz` files. */
export const debianFashionMnistDir = '/usr/share/datasets/fashion-mnist';

/** The file for `baseName` in `dir`: the `.gz` name first, then the uncompressed one; undefined if neither. */
export function findIdxFile(dir: string, baseName: string): string | undefined {
  for (const name of [`${baseName}.gz`, baseName]) {
    const path = join(dir, name);
    if (isFile(path)) return path;
  }
  return undefined;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function envDir(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : resolve(value);
}

/**
 * The download cache of one dataset: `<root>/<mnist|fashion-mnist>`, where the root is `cacheDir`,
 * else `ORTHOPTIM_CACHE_DIR`, else `~/.cache/orthoptim`.
 */
export function datasetCacheDir(dataset: MnistDataset, cacheDir?: string): string {
  const root = cacheDir !== undefined ? resolve(cacheDir) : (envDir('ORTHOPTIM_CACHE_DIR') ?? join(homedir(), '.cache', 'orthoptim'));
  return join(root, datasetInfo[dataset].dirName);
}

/** One directory the search looked at, why it looked there, and what it found missing. */
export interface SearchedPlace {
  dir: string;
  /** `dataDir option`, `ORTHOPTIM_DATA_DIR`, `package dataset-fashion-mnist` or `download cache`. */
  source: string;
  /** Base names of the files not found there; empty when the dataset is there; undefined when `dir` does not exist. */
  missing: string[] | undefined;
}

/** Result of {@link locateDataset}: the directory holding the four files and every place looked at, in order. */
export interface LocatedDataset {
  dir: string;
  tried: string[];
}

function missingFiles(dir: string): string[] | undefined {
  if (!existsSync(dir)) return undefined;
  return Object.values(mnistFileNames).filter((base) => findIdxFile(dir, base) === undefined);
}

/**
 * Every directory to look in, in search order: the `dataDir` option alone when given (the directory
 * itself, then its `mnist` / `fashion-mnist` subdirectory); otherwise `ORTHOPTIM_DATA_DIR` (likewise,
 * so one shared data root serves both datasets), then for Fashion-MNIST the Debian package directory,
 * then the cache.
 */
function searchOrder(
  dataset: MnistDataset,
  dataDir: string | undefined,
  cacheDir: string | undefined,
  packageDir: string | null,
): { dir: string; source: string }[] {
  const { dirName } = datasetInfo[dataset];
  const places: { dir: string; source: string }[] = [];
  const addRoot = (root: string, source: string): void => {
    places.push({ dir: root, source }, { dir: join(root, dirName), source });
  };
  // An explicit directory is the only place looked at (see DataNotFoundError).
  if (dataDir !== undefined) {
    addRoot(resolve(dataDir), 'dataDir option');
    return places;
  }
  const fromEnv = envDir('ORTHOPTIM_DATA_DIR');
  if (fromEnv !== undefined) addRoot(fromEnv, 'ORTHOPTIM_DATA_DIR');
  if (dataset === 'fashionMnist' && packageDir !== null) places.push({ dir: packageDir, source: 'package dataset-fashion-mnist' });
  places.push({ dir: datasetCacheDir(dataset, cacheDir), source: 'download cache' });
  return places;
}

/**
 * Searches the places of {@link searchOrder} and stops at the first that holds all four files.
 * Returns every place looked at as well, which the not-found error lists. `packageDir` is the system
 * package's directory searched for Fashion-MNIST (default {@link debianFashionMnistDir}; null: none).
 */
export function searchDataset(
  dataset: MnistDataset,
  dataDir?: string,
  cacheDir?: string,
  packageDir: string | null = debianFashionMnistDir,
): { found: string | undefined; searched: SearchedPlace[] } {
  const searched: SearchedPlace[] = [];
  for (const place of searchOrder(dataset, dataDir, cacheDir, packageDir)) {
    const missing = missingFiles(place.dir);
    searched.push({ ...place, missing });
    if (missing !== undefined && missing.length === 0) return { found: place.dir, searched };
  }
  return { found: undefined, searched };
}

/**
 * The directory holding the four files of `dataset`, or null. Search order: `dataDir` (alone, when
 * given), else `ORTHOPTIM_DATA_DIR` (either one holding the files directly or in a `mnist` / `fashion-mnist`
 * subdirectory), then for Fashion-MNIST `/usr/share/datasets/fashion-mnist`, then the download cache
 * ({@link datasetCacheDir}). `tried` lists the directories looked at, the found one last.
 */
export function locateDataset(dataset: MnistDataset, dataDir?: string, cacheDir?: string): LocatedDataset | null {
  const { found, searched } = searchDataset(dataset, dataDir, cacheDir);
  return found === undefined ? null : { dir: found, tried: searched.map((p) => p.dir) };
}

/** Like {@link locateDataset}, but throws {@link MnistNotFoundError} instead of returning null. */
export function requireDataset(dataset: MnistDataset, dataDir?: string, cacheDir?: string): LocatedDataset {
  const { found, searched } = searchDataset(dataset, dataDir, cacheDir);
  if (found === undefined) throw new MnistNotFoundError(dataset, searched, datasetCacheDir(dataset, cacheDir));
  return { dir: found, tried: searched.map((p) => p.dir) };
}

function describeMissing(missing: string[] | undefined): string {
  if (missing === undefined) return 'no such directory';
  if (missing.length === 0) return 'all files present';
  return `missing ${missing.map((m) => `${m}[.gz]`).join(', ')}`;
}

/**
 * A dataset is on none of the searched paths. The message lists each place with what was missing
 * there and says how to fix it; `searched` carries the same directories for programs, and
 * {@link DataNotFoundError.brief} says it in one line (what the CLI prints before exiting with code 2).
 *
 * Where the loaders look: an explicit `dataDir` (`--data-dir`) is the only place searched when it is
 * given — a directory the user names that lacks the data is an error, never a reason to read other
 * data from elsewhere; without it, `ORTHOPTIM_DATA_DIR`, the dataset's system package and the download
 * cache are searched in turn (and, for the `fashion-mnist-mlp` task only, the repository's embedded
 * subset last).
 */
export class DataNotFoundError extends Error {
  /** Which dataset, e.g. `'fashionMnist'`, `'cifar10'`, `'tinyshakespeare'`. */
  readonly dataset: string;
  /** Every directory searched, in order (the found one, if any, would be last). */
  readonly searched: string[];
  /** The same as {@link searched} (the older name). */
  readonly tried: string[];
  /** One line: what is missing, every directory searched, and the flags that fix it. */
  readonly brief: string;

  constructor(dataset: string, searched: readonly string[], message: string, brief?: string) {
    super(message);
    this.name = 'DataNotFoundError';
    this.dataset = dataset;
    this.searched = [...searched];
    this.tried = this.searched;
    this.brief =
      brief ??
      `${dataset} not found; searched: ${this.searched.join(', ')} (pass --data-dir DIR, set ORTHOPTIM_DATA_DIR, or --download where the dataset can be downloaded)`;
  }
}

/** The one-line form shared by the loaders' errors: `TITLE not found; searched: A, B, C (HINT)`. */
export function briefNotFound(title: string, searched: readonly string[], hint: string): string {
  return `${title} not found; searched: ${searched.join(', ')} (${hint})`;
}

/** MNIST or Fashion-MNIST was not found: the message lists each place searched and the ways to fix it. */
export class MnistNotFoundError extends DataNotFoundError {
  declare readonly dataset: MnistDataset;

  constructor(dataset: MnistDataset, searched: SearchedPlace[], cacheDir: string) {
    const { title, dirName } = datasetInfo[dataset];
    const files = Object.values(mnistFileNames).join(', ');
    const lines = [
      `${title} not found: no directory searched holds its four IDX files (${files}; each .gz or uncompressed).`,
      'Searched, in order:',
      ...searched.map((p) => `  ${p.dir}  (${p.source}: ${describeMissing(p.missing)})`),
      'To fix it, do one of:',
      `  - set ORTHOPTIM_DATA_DIR to a directory holding the four files, or holding them in a ${dirName}/ subdirectory;`,
    ];
    if (dataset === 'fashionMnist') {
      lines.push(`  - apt-get install dataset-fashion-mnist (Debian/Ubuntu; installs them into ${debianFashionMnistDir});`);
    }
    lines.push(`  - pass --download (loadMnist: download: true) to download them, sha256-checked, into ${cacheDir}.`);
    const dirs = searched.map((p) => p.dir);
    super(dataset, dirs, lines.join('\n'), briefNotFound(title, dirs, 'pass --data-dir DIR, set ORTHOPTIM_DATA_DIR, or --download'));
  }
}

/**
 * CIFAR-10 (Krizhevsky 2009, "Learning Multiple Layers of Features from Tiny Images") in its "binary
 * version" record format, as plain typed arrays: each record is 1 label byte (0–9) then 3,072 pixel
 * bytes — the 32×32 red plane, then green, then blue, each row-major. Files may be `.bin` or `.bin.gz`.
 *
 * Two layouts are recognised:
 * - `subset` — the project's `cifar10-subset` directory (`data_batch_1_first4000.bin.gz`,
 *   `test_batch_first1000.bin.gz`; see its SOURCES.md), checked against the SHA-256 digests listed there;
 * - `full` — the canonical `cifar-10-binary.tar.gz` extracted (`data_batch_1.bin` … `data_batch_5.bin`,
 *   `test_batch.bin`, in a `cifar-10-batches-bin/` directory or not).
 * Nothing is downloaded: the full set ships as a tarball, so the user extracts it, and the not-found error
 * says where to put the files.
 *
 * Images come out NHWC (`[n, 32, 32, 3]` flattened), each channel standardised with the CIFAR-10
 * training-set mean and standard deviation (the constants of KellerJordan/cifar10-airbench and most
 * PyTorch recipes).
 * @module
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DataNotFoundError, briefNotFound, type SearchedPlace } from './locate.js';
import { isGzip } from './idx.js';

/** Image side: CIFAR-10 images are 32 × 32. */
export const cifar10ImageSide = 32;
/** Floats per image in the NHWC output: 32 · 32 · 3. */
export const cifar10ImageSize = cifar10ImageSide * cifar10ImageSide * 3;
/** Bytes per record in the binary files: one label byte, then 3,072 pixel bytes. */
export const cifar10RecordBytes = 1 + cifar10ImageSize;

/** Per-channel (R, G, B) mean of the CIFAR-10 training images, pixels scaled to [0, 1]. */
export const cifar10Mean: readonly number[] = [0.4914, 0.4822, 0.4465];
/** Per-channel (R, G, B) standard deviation of the CIFAR-10 training images, pixels scaled to [0, 1]. */
export const cifar10Std: readonly number[] = [0.247, 0.2435, 0.2616];

export const cifar10ClassNames: readonly string[] = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** `subset`: the project's 4,000 + 1,000 record subset; `full`: the 50,000 + 10,000 record dataset. */
export type Cifar10Variant = 'subset' | 'full';

interface KnownFile {
  /** Base name, without `.gz`. */
  name: string;
  records: number;
  /** SHA-256 of the uncompressed records, when a trusted digest is known. */
  sha256?: string;
}

/** The files of each variant, and the directory name each goes by under a data root. */
export const cifar10Layouts: Readonly<Record<Cifar10Variant, { dirName: string; train: KnownFile[]; test: KnownFile[] }>> = {
  subset: {
    dirName: 'cifar10-subset',
    // Digests of the uncompressed files from ../shared/data/cifar10-subset/SOURCES.md (checked on the
    // content, so a file re-compressed or stored uncompressed still verifies).
    train: [{ name: 'data_batch_1_first4000.bin', records: 4000, sha256: '0993cf8b8e43bc207603aef9787006995746513f5e3fa5a52e06d1b069926330' }],
    test: [{ name: 'test_batch_first1000.bin', records: 1000, sha256: '8314c96d7cd65618193bab23acdd5d4c4af15bf6dd00a1781d55beedf3be1ef5' }],
  },
  full: {
    dirName: 'cifar10',
    train: [1, 2, 3, 4, 5].map((k) => ({ name: `data_batch_${k}.bin`, records: 10000 })),
    test: [{ name: 'test_batch.bin', records: 10000 }],
  },
};

/** One split: `count` images, NHWC, standardised per channel, and their labels 0–9. */
export interface Cifar10Split {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

export interface Cifar10Data {
  variant: Cifar10Variant;
  /** The directory the files were read from. */
  dir: string;
  train: Cifar10Split;
  test: Cifar10Split;
}

export interface LoadCifar10Options {
  /** Which files to read (default `'subset'`). */
  variant?: Cifar10Variant;
  /** A directory holding the files, or holding them in a `cifar10-subset/` / `cifar10/` subdirectory. */
  dataDir?: string;
  /** Root of the cache searched last (default `ORTHOPTIM_CACHE_DIR`, else `~/.cache/orthoptim`). */
  cacheDir?: string;
  /** Accepted for symmetry with the MNIST loader; CIFAR-10 is never downloaded (see the module note). */
  download?: boolean;
}

/** The file for `baseName` in `dir`: `.gz` first, then uncompressed; undefined if neither. */
function findRecordFile(dir: string, baseName: string): string | undefined {
  for (const name of [`${baseName}.gz`, baseName]) {
    const path = join(dir, name);
    try {
      if (statSync(path).isFile()) return path;
    } catch {
      // not there
    }
  }
  return undefined;
}

function envDir(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : resolve(value);
}

/** The cache directory of a variant: `<cacheDir | ORTHOPTIM_CACHE_DIR | ~/.cache/orthoptim>/<dirName>`. */
export function cifar10CacheDir(variant: Cifar10Variant, cacheDir?: string): string {
  const root = cacheDir !== undefined ? resolve(cacheDir) : (envDir('ORTHOPTIM_CACHE_DIR') ?? join(homedir(), '.cache', 'orthoptim'));
  return join(root, cifar10Layouts[variant].dirName);
}

/**
 * Every directory to look in, in order: `dataDir` alone when given, else `ORTHOPTIM_DATA_DIR` (each itself, then its
 * `cifar10-subset/` or `cifar10/` subdirectory, and for the full set also `cifar-10-batches-bin/` under
 * those, the tarball's own directory), then the cache.
 */
function searchOrder(variant: Cifar10Variant, dataDir: string | undefined, cacheDir: string | undefined): { dir: string; source: string }[] {
  const { dirName } = cifar10Layouts[variant];
  const places: { dir: string; source: string }[] = [];
  const add = (dir: string, source: string): void => {
    places.push({ dir, source });
    if (variant === 'full') places.push({ dir: join(dir, 'cifar-10-batches-bin'), source });
  };
  const addRoot = (root: string, source: string): void => {
    add(root, source);
    add(join(root, dirName), source);
  };
  // An explicit directory is the only place looked at (see DataNotFoundError).
  if (dataDir !== undefined) {
    addRoot(resolve(dataDir), 'dataDir option');
    return places;
  }
  const fromEnv = envDir('ORTHOPTIM_DATA_DIR');
  if (fromEnv !== undefined) addRoot(fromEnv, 'ORTHOPTIM_DATA_DIR');
  add(cifar10CacheDir(variant, cacheDir), 'cache');
  return places;
}

/** Searches the places of {@link searchOrder}; stops at the first holding every file of the variant. */
export function searchCifar10(variant: Cifar10Variant, dataDir?: string, cacheDir?: string): { found: string | undefined; searched: SearchedPlace[] } {
  const layout = cifar10Layouts[variant];
  const names = [...layout.train, ...layout.test].map((f) => f.name);
  const searched: SearchedPlace[] = [];
  for (const place of searchOrder(variant, dataDir, cacheDir)) {
    const missing = existsSync(place.dir) ? names.filter((name) => findRecordFile(place.dir, name) === undefined) : undefined;
    searched.push({ ...place, missing });
    if (missing !== undefined && missing.length === 0) return { found: place.dir, searched };
  }
  return { found: undefined, searched };
}

/**
 * The error for a CIFAR-10 directory found nowhere: a `DataNotFoundError` (so the task registry's
 * fallback treats it like a missing MNIST), whose message lists each place searched and where to put
 * the files.
 */
export function cifar10NotFoundError(variant: Cifar10Variant, searched: SearchedPlace[], cacheDir: string): DataNotFoundError {
  const layout = cifar10Layouts[variant];
  const files = [...layout.train, ...layout.test].map((f) => f.name).join(', ');
  const describe = (p: SearchedPlace): string =>
    p.missing === undefined ? 'no such directory' : `missing ${p.missing.map((m) => `${m}[.gz]`).join(', ')}`;
  const lines = [
    `CIFAR-10 (${variant}) not found: no directory searched holds its files (${files}; each .gz or uncompressed).`,
    'Searched, in order:',
    ...searched.map((p) => `  ${p.dir}  (${p.source}: ${describe(p)})`),
    'To fix it, do one of:',
    `  - set ORTHOPTIM_DATA_DIR to a directory holding the files, or holding them in a ${layout.dirName}/ subdirectory;`,
    `  - pass --data-dir (dataDir) naming such a directory;`,
  ];
  if (variant === 'full') {
    lines.push(
      `  - download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz and extract it into ${cacheDir}`,
      `    (tar -xzf cifar-10-binary.tar.gz -C ${cacheDir}; its cifar-10-batches-bin/ directory is searched too).`,
    );
  } else {
    lines.push(`  - copy the two files of the project's cifar10-subset directory into ${cacheDir}.`);
  }
  const dirs = searched.map((p) => p.dir);
  return new DataNotFoundError('cifar10', dirs, lines.join('\n'), briefNotFound(`CIFAR-10 (${variant})`, dirs, 'pass --data-dir DIR or set ORTHOPTIM_DATA_DIR'));
}

/**
 * Parses CIFAR-10 binary records: checks the length is a whole number of 3,073-byte records, that
 * `expectedRecords` (when given) were found and that every label is 0–9; returns the images NHWC,
 * standardised with {@link cifar10Mean} / {@link cifar10Std}. `what` names the source in errors.
 */
export function parseCifar10Records(bytes: Uint8Array, what: string, expectedRecords?: number): Cifar10Split {
  if (bytes.length === 0 || bytes.length % cifar10RecordBytes !== 0) {
    throw new Error(
      `${what}: ${bytes.length} bytes is not a whole number of ${cifar10RecordBytes}-byte CIFAR-10 records ` +
        `(${Math.floor(bytes.length / cifar10RecordBytes)} records and ${bytes.length % cifar10RecordBytes} bytes over): the file is truncated or not CIFAR-10 binary`,
    );
  }
  const count = bytes.length / cifar10RecordBytes;
  if (expectedRecords !== undefined && count !== expectedRecords) {
    throw new Error(`${what}: expected ${expectedRecords} records, found ${count}: the file is truncated or not the expected one`);
  }
  const plane = cifar10ImageSide * cifar10ImageSide;
  const images = new Float32Array(count * cifar10ImageSize);
  const labels = new Uint8Array(count);
  const scale = cifar10Std.map((s) => 1 / (255 * s));
  const shift = cifar10Mean.map((m, c) => m / cifar10Std[c]);
  for (let n = 0; n < count; n++) {
    const record = n * cifar10RecordBytes;
    const label = bytes[record];
    if (label > 9) throw new Error(`${what}: record ${n} has label ${label}, not a class 0–9: the file is corrupt or not CIFAR-10 binary`);
    labels[n] = label;
    const out = n * cifar10ImageSize;
    for (let c = 0; c < 3; c++) {
      const src = record + 1 + c * plane;
      const a = scale[c];
      const b = shift[c];
      for (let i = 0; i < plane; i++) images[out + i * 3 + c] = bytes[src + i] * a - b;
    }
  }
  return { images, labels, count };
}

async function readRecordFile(dir: string, file: KnownFile): Promise<Cifar10Split> {
  const path = findRecordFile(dir, file.name);
  if (path === undefined) throw new Error(`${dir}: neither ${file.name}.gz nor ${file.name} exists`);
  const raw = new Uint8Array(await readFile(path));
  let bytes: Uint8Array;
  if (isGzip(raw)) {
    try {
      bytes = new Uint8Array(gunzipSync(raw));
    } catch (e) {
      throw new Error(`${path}: cannot decompress (${(e as Error).message}): the file is truncated or corrupt`, { cause: e });
    }
  } else {
    bytes = raw;
  }
  if (file.sha256 !== undefined) {
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (digest !== file.sha256) {
      throw new Error(
        `${path}: SHA-256 of its ${bytes.length} uncompressed bytes is ${digest}, expected ${file.sha256} ` +
          `(${basename(path)} is corrupt, truncated or a different file)`,
      );
    }
  }
  return parseCifar10Records(bytes, path, file.records);
}

function concatSplits(parts: Cifar10Split[]): Cifar10Split {
  if (parts.length === 1) return parts[0];
  const count = parts.reduce((s, p) => s + p.count, 0);
  const images = new Float32Array(count * cifar10ImageSize);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * cifar10ImageSize);
    labels.set(p.labels, at);
    at += p.count;
  }
  return { images, labels, count };
}

/**
 * Loads CIFAR-10's training and test records from the first directory holding the variant's files
 * (search order: `dataDir`, `ORTHOPTIM_DATA_DIR`, each also with the variant's subdirectory, then the
 * cache); throws a `DataNotFoundError` naming every place looked at when none does.
 */
export async function loadCifar10(options: LoadCifar10Options = {}): Promise<Cifar10Data> {
  const variant = options.variant ?? 'subset';
  if (!(variant in cifar10Layouts)) {
    throw new RangeError(`loadCifar10: variant must be 'subset' or 'full', got ${JSON.stringify(variant)}`);
  }
  const { found, searched } = searchCifar10(variant, options.dataDir, options.cacheDir);
  if (found === undefined) throw cifar10NotFoundError(variant, searched, cifar10CacheDir(variant, options.cacheDir));
  const layout = cifar10Layouts[variant];
  const [train, test] = await Promise.all([
    Promise.all(layout.train.map((f) => readRecordFile(found, f))).then(concatSplits),
    Promise.all(layout.test.map((f) => readRecordFile(found, f))).then(concatSplits),
  ]);
  return { variant, dir: found, train, test };
}

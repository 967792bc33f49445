/**
 * Downloading MNIST and Fashion-MNIST from their canonical sources, only when the caller asks for it
 * (`loadMnist({download: true})`, `--download`): every file is checked against a pinned SHA-256, so a
 * mirror, a proxy or a truncated transfer can never feed different data into a benchmark.
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ProgressBar } from '../progress.js';
import { datasetInfo, type MnistDataset, type MnistFileRole } from './locate.js';

/** One file of a canonical source: its size and SHA-256 (of the `.gz` file as served). */
export interface SourceFile {
  name: string;
  bytes: number;
  sha256: string;
}

export interface DatasetSource {
  baseUrl: string;
  files: Record<MnistFileRole, SourceFile>;
}

/**
 * The canonical sources and the SHA-256 of their files.
 *
 * MNIST: the Google Cloud mirror that TensorFlow's own MNIST loaders read (LeCun's site now asks for a
 * login). The digests are those of the original LeCun `.gz` files, the values torchvision and
 * TensorFlow Datasets pin; they were computed here from `../shared/data/mnist/*.gz`, which its
 * SOURCES.md shows to be byte-identical to the originals (md5s equal torchvision's list).
 *
 * Fashion-MNIST: Zalando's S3 website endpoint, the download link of the dataset's README; it serves
 * http only, which is safe here because of the digest check. The digests equal those pinned by
 * TensorFlow Datasets. They were verified here from the Debian package `dataset-fashion-mnist`
 * (/usr/share/datasets/fashion-mnist), whose files carry the original deflate streams but a gzip
 * header rewritten by Debian's strip-nondeterminism (file name dropped, mtime set to the build time):
 * restoring the original header (FNAME = the file name without `.gz`, MTIME 1504176606 for the train
 * files and 1504176627 for the t10k files, 2017-08-31) reproduces files whose md5s equal the ones in
 * the README shipped with that package and whose SHA-256 equal these values. The Debian files
 * themselves therefore do not match these digests, and need not: only downloads are checked.
 */
export const datasetSources: Readonly<Record<MnistDataset, DatasetSource>> = {
  mnist: {
    baseUrl: 'https://storage.googleapis.com/cvdf-datasets/mnist/',
    files: {
      trainImages: {
        name: 'train-images-idx3-ubyte.gz',
        bytes: 9912422,
        sha256: '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
      },
      trainLabels: {
        name: 'train-labels-idx1-ubyte.gz',
        bytes: 28881,
        sha256: '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
      },
      testImages: {
        name: 't10k-images-idx3-ubyte.gz',
        bytes: 1648877,
        sha256: '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
      },
      testLabels: {
        name: 't10k-labels-idx1-ubyte.gz',
        bytes: 4542,
        sha256: 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
      },
    },
  },
  fashionMnist: {
    baseUrl: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
    files: {
      trainImages: {
        name: 'train-images-idx3-ubyte.gz',
        bytes: 26421880,
        sha256: '3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84',
      },
      trainLabels: {
        name: 'train-labels-idx1-ubyte.gz',
        bytes: 29515,
        sha256: 'a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845',
      },
      testImages: {
        name: 't10k-images-idx3-ubyte.gz',
        bytes: 4422102,
        sha256: '346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073',
      },
      testLabels: {
        name: 't10k-labels-idx1-ubyte.gz',
        bytes: 5148,
        sha256: '67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5',
      },
    },
  },
};

export interface DownloadOptions {
  /** The fetch to use (default the global one); tests inject one that serves local files. */
  fetch?: typeof fetch;
  /** Show a {@link ProgressBar} (bytes) per file on stderr (default true). */
  progress?: boolean;
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function isVerified(path: string, expected: SourceFile): Promise<boolean> {
  try {
    const info = await stat(path);
    return info.isFile() && info.size === expected.bytes && (await sha256OfFile(path)) === expected.sha256;
  } catch {
    return false;
  }
}

/**
 * Downloads the four `.gz` files of `dataset` into `dir` (created if needed) and returns `dir`.
 *
 * Files already there with the right SHA-256 are kept, so an interrupted download resumes file by file.
 * Each file is streamed into a temporary file in `dir`, hashed on the way, and renamed into place only
 * when its digest matches: a reader never sees a partial or wrong file. On a mismatch the temporary
 * file is deleted and the error names the file, the expected and the actual digest.
 */
export async function downloadDataset(dataset: MnistDataset, dir: string, options: DownloadOptions = {}): Promise<string> {
  const source = datasetSources[dataset];
  const fetchFile = options.fetch ?? globalThis.fetch;
  const showProgress = options.progress ?? true;
  await mkdir(dir, { recursive: true });
  for (const file of Object.values(source.files)) {
    const dest = join(dir, file.name);
    if (await isVerified(dest, file)) continue;
    const url = new URL(file.name, source.baseUrl).href;
    const temp = join(dir, `.${file.name}.${process.pid}.download`);
    try {
      await fetchInto(fetchFile, url, temp, file, showProgress ? `${datasetInfo[dataset].dirName}/${file.name}` : undefined);
    } catch (e) {
      await rm(temp, { force: true });
      throw e;
    }
    await rename(temp, dest);
  }
  return dir;
}

async function fetchInto(
  fetchFile: typeof fetch,
  url: string,
  temp: string,
  file: SourceFile,
  progressLabel: string | undefined,
): Promise<void> {
  let response: Response;
  try {
    response = await fetchFile(url);
  } catch (e) {
    throw new Error(`${file.name}: could not download ${url}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (!response.ok || response.body === null) {
    throw new Error(`${file.name}: could not download ${url}: HTTP ${response.status} ${response.statusText}`.trimEnd());
  }
  const announced = Number(response.headers.get('content-length'));
  const bar =
    progressLabel === undefined
      ? undefined
      : new ProgressBar({ label: progressLabel, total: announced > 0 ? announced : file.bytes, unit: 'bytes' });
  const hash = createHash('sha256');
  const handle = await open(temp, 'w');
  try {
    for await (const chunk of response.body) {
      const bytes = chunk as Uint8Array;
      hash.update(bytes);
      await handle.write(bytes);
      bar?.tick(bytes.length);
    }
  } finally {
    await handle.close();
    bar?.finish();
  }
  const actual = hash.digest('hex');
  if (actual !== file.sha256) {
    throw new Error(
      `${file.name}: sha256 mismatch: expected ${file.sha256}, got ${actual} (downloaded from ${url}; the file was deleted)`,
    );
  }
}

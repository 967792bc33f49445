import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  DataNotFoundError,
  MnistNotFoundError,
  datasetCacheDir,
  datasetSources,
  debianFashionMnistDir,
  downloadDataset,
  loadMnist,
  locateDataset,
  mnistFileNames,
  parseIdx,
  requireDataset,
  searchDataset,
  type MnistData,
} from '../../src/bench/data/index.js';
import { requireData, testDataDir } from '../support/data.js';

let scratch = '';
let scratchCount = 0;
before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'orthoptim-data-test-'));
});
after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** A fresh empty directory under the scratch directory. */
function freshDir(name: string): string {
  const dir = join(scratch, `${scratchCount++}-${name}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** An IDX file: big-endian magic and sizes, then `data`. */
function idx(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

function labelsIdx(labels: number[]): Uint8Array {
  return idx(0x801, [labels.length], Uint8Array.from(labels));
}

/** `count` 28×28 images; image k has every pixel equal to `pixel(k)`. */
function imagesIdx(count: number, pixel: (k: number) => number, side = 28): Uint8Array {
  const data = new Uint8Array(count * side * side);
  for (let k = 0; k < count; k++) data.fill(pixel(k), k * side * side, (k + 1) * side * side);
  return idx(0x803, [count, side, side], data);
}

/** Writes a small dataset in the MNIST layout: train 3 examples, test 2, gzipped unless `gz` is false. */
function writeTinyDataset(dir: string, gz = true): string {
  mkdirSync(dir, { recursive: true });
  const files: [string, Uint8Array][] = [
    [mnistFileNames.trainImages, imagesIdx(3, (k) => [0, 51, 255][k])],
    [mnistFileNames.trainLabels, labelsIdx([5, 0, 9])],
    [mnistFileNames.testImages, imagesIdx(2, (k) => [102, 204][k])],
    [mnistFileNames.testLabels, labelsIdx([7, 2])],
  ];
  for (const [name, bytes] of files) writeFileSync(join(dir, gz ? `${name}.gz` : name), gz ? gzipSync(bytes) : bytes);
  return dir;
}

/** Runs `fn` with the given environment variables set (undefined: unset), restoring them afterwards. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T | Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>): void => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(vars);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

/** A fetch that serves `files` by URL (404 otherwise) and records the URLs asked for. */
function fetchServing(files: Map<string, Uint8Array>, calls: string[]): typeof fetch {
  return (input: string | URL | Request): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    calls.push(url);
    const body = files.get(url);
    if (body === undefined) return Promise.resolve(new Response('no such key', { status: 404, statusText: 'Not Found' }));
    return Promise.resolve(new Response(new Uint8Array(body), { headers: { 'content-length': String(body.length) } }));
  };
}

/** The canonical URLs of a dataset mapped to the bytes of the same-named files in `dir`. */
function servedFrom(dataset: 'mnist' | 'fashionMnist', dir: string, transform = (b: Uint8Array, _name: string) => b): Map<string, Uint8Array> {
  const source = datasetSources[dataset];
  return new Map(
    Object.values(source.files).map((f) => [source.baseUrl + f.name, transform(readFileSync(join(dir, f.name)), f.name)]),
  );
}

const mnistDir = join(testDataDir, 'mnist');

describe('parseIdx', () => {
  it('reads big-endian sizes and the data of labels and images files', () => {
    const labels = Array.from({ length: 300 }, (_, i) => i % 10);
    const parsed = parseIdx(labelsIdx(labels), 'labels');
    assert.deepEqual(parsed.dims, [300]);
    assert.deepEqual(Array.from(parsed.data), labels);
    const images = parseIdx(imagesIdx(2, (k) => k + 1, 3), 'images');
    assert.deepEqual(images.dims, [2, 3, 3]);
    assert.deepEqual(Array.from(images.data), [1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
  });

  it('gunzips gzip data first', () => {
    const parsed = parseIdx(gzipSync(labelsIdx([3, 1, 4])), 'labels.gz');
    assert.deepEqual(parsed.dims, [3]);
    assert.deepEqual(Array.from(parsed.data), [3, 1, 4]);
  });

  it('rejects a wrong magic number', () => {
    assert.throws(() => parseIdx(idx(0x802, [3], new Uint8Array(3)), 'x.idx'), {
      message: 'x.idx: not an IDX file (magic 0x00000802; expected 0x00000801 or 0x00000803)',
    });
    // An HTML error page saved under the data file's name.
    assert.throws(() => parseIdx(new TextEncoder().encode('<html>Access denied</html>'), 'page'), {
      message: 'page: not an IDX file (magic 0x3c68746d; expected 0x00000801 or 0x00000803)',
    });
    assert.throws(() => parseIdx(new Uint8Array(2), 'tiny'), {
      message: 'tiny: not an IDX file (2 bytes; an IDX file starts with a 4-byte magic number)',
    });
  });

  it('rejects truncated files and extra trailing bytes, saying by how much', () => {
    const full = imagesIdx(2, () => 7);
    assert.throws(() => parseIdx(full.subarray(0, 16 + 1000), 'img'), {
      message: 'img: truncated: header says 1568 bytes of data, file has 1000',
    });
    assert.throws(() => parseIdx(full.subarray(0, 10), 'img'), {
      message: 'img: truncated: the IDX header needs 16 bytes, file has 10',
    });
    const padded = new Uint8Array(full.length + 3);
    padded.set(full);
    assert.throws(() => parseIdx(padded, 'img'), {
      message: 'img: 3 unexpected bytes after the data (header says 1568 bytes of data, file has 1571)',
    });
  });

  it('rejects corrupt gzip data with zlib’s reason', () => {
    const gz = gzipSync(imagesIdx(2, (k) => k));
    assert.throws(() => parseIdx(gz.subarray(0, gz.length - 10), 'cut.gz'), {
      message: 'cut.gz: corrupt gzip data: unexpected end of file',
    });
    const flipped = Uint8Array.from(gz);
    flipped[flipped.length - 5] ^= 0xff; // inside the CRC-32 of the trailer
    assert.throws(() => parseIdx(flipped, 'crc.gz'), { message: 'crc.gz: corrupt gzip data: incorrect data check' });
  });
});

describe('loadMnist on files written by the test', () => {
  it('loads gzipped and uncompressed files, scaling pixels to [0, 1]', async () => {
    for (const gz of [true, false]) {
      const dir = writeTinyDataset(freshDir(gz ? 'gz' : 'raw'), gz);
      const data = await loadMnist({ dataset: 'mnist', dataDir: dir, cacheDir: freshDir('cache') });
      assert.equal(data.dir, dir);
      assert.equal(data.train.count, 3);
      assert.equal(data.test.count, 2);
      assert.equal(data.train.images.length, 3 * 784);
      assert.deepEqual(Array.from(data.train.labels), [5, 0, 9]);
      assert.deepEqual(Array.from(data.test.labels), [7, 2]);
      assert.deepEqual([0, 784, 2 * 784].map((i) => data.train.images[i]), [0, Math.fround(0.2), 1]);
      assert.deepEqual([0, 784].map((i) => data.test.images[i]), [Math.fround(0.4), Math.fround(0.8)]);
    }
  });

  it('names the file of a truncated, wrongly-shaped or mislabelled split', async (t: TestContext) => {
    const cacheDir = freshDir('cache');
    const cases: { name: string; file: string; bytes: Uint8Array; message: (dir: string) => string }[] = [
      {
        name: 'truncated',
        file: 'train-images-idx3-ubyte',
        bytes: imagesIdx(3, () => 1).subarray(0, 16 + 2000),
        message: (dir) => `${join(dir, 'train-images-idx3-ubyte')}: truncated: header says 2352 bytes of data, file has 2000`,
      },
      {
        name: 'count mismatch',
        file: 'train-labels-idx1-ubyte',
        bytes: labelsIdx([1, 2]),
        message: (dir) =>
          `MNIST train: train-images-idx3-ubyte.gz has 3 images but train-labels-idx1-ubyte has 2 labels (in ${dir})`,
      },
      {
        name: 'wrong image size',
        file: 't10k-images-idx3-ubyte',
        bytes: imagesIdx(2, () => 1, 27),
        message: (dir) => `${join(dir, 't10k-images-idx3-ubyte')}: expected images of shape N×28×28, got 2×27×27`,
      },
      {
        name: 'labels where images belong',
        file: 't10k-images-idx3-ubyte',
        bytes: labelsIdx([7, 2]),
        message: (dir) => `${join(dir, 't10k-images-idx3-ubyte')}: expected images of shape N×28×28, got 2`,
      },
      {
        name: 'label out of range',
        file: 't10k-labels-idx1-ubyte',
        bytes: labelsIdx([7, 12]),
        message: (dir) => `${join(dir, 't10k-labels-idx1-ubyte')}: label 12 at index 1 is not a class 0–9`,
      },
      {
        name: 'wrong magic',
        file: 't10k-labels-idx1-ubyte',
        bytes: idx(0x0c01, [2], Uint8Array.from([7, 2])),
        message: (dir) => `${join(dir, 't10k-labels-idx1-ubyte')}: not an IDX file (magic 0x00000c01; expected 0x00000801 or 0x00000803)`,
      },
    ];
    for (const c of cases) {
      await t.test(c.name, async () => {
        const dir = writeTinyDataset(freshDir(c.name.replaceAll(' ', '-')));
        // The uncompressed name is used when the .gz one is absent.
        rmSync(join(dir, `${c.file}.gz`));
        writeFileSync(join(dir, c.file), c.bytes);
        await assert.rejects(loadMnist({ dataset: 'mnist', dataDir: dir, cacheDir }), { message: c.message(dir) });
      });
    }
  });

  it('rejects an unknown dataset name', async () => {
    await assert.rejects(loadMnist({ dataset: 'cifar10' as 'mnist' }), {
      name: 'RangeError',
      message: `loadMnist: dataset must be one of 'mnist', 'fashionMnist', got "cifar10"`,
    });
  });
});

describe('locateDataset', () => {
  it('prefers the dataDir option over ORTHOPTIM_DATA_DIR', async () => {
    const fromOption = writeTinyDataset(freshDir('option'));
    const fromEnv = writeTinyDataset(freshDir('env'));
    const cacheDir = freshDir('cache');
    await withEnv({ ORTHOPTIM_DATA_DIR: fromEnv }, () => {
      assert.deepEqual(locateDataset('mnist', fromOption, cacheDir), { dir: fromOption, tried: [fromOption] });
      assert.deepEqual(locateDataset('mnist', undefined, cacheDir), { dir: fromEnv, tried: [fromEnv] });
    });
  });

  it('looks in the mnist/ or fashion-mnist/ subdirectory of a data root, and skips incomplete directories', async () => {
    const root = freshDir('root');
    writeTinyDataset(join(root, 'mnist'));
    writeTinyDataset(join(root, 'fashion-mnist'));
    const partial = writeTinyDataset(freshDir('partial'));
    rmSync(join(partial, 't10k-labels-idx1-ubyte.gz'));
    const cacheDir = freshDir('cache');
    await withEnv({ ORTHOPTIM_DATA_DIR: root }, () => {
      assert.deepEqual(locateDataset('mnist', undefined, cacheDir), { dir: join(root, 'mnist'), tried: [root, join(root, 'mnist')] });
      // An explicit dataDir is the only place searched: an incomplete one is not found, whatever else holds the files.
      assert.equal(locateDataset('mnist', partial, cacheDir), null);
      assert.deepEqual(searchDataset('mnist', partial, cacheDir).searched.map((p) => p.dir), [partial, join(partial, 'mnist')]);
      assert.deepEqual(locateDataset('mnist', root, cacheDir), { dir: join(root, 'mnist'), tried: [root, join(root, 'mnist')] });
      assert.deepEqual(locateDataset('fashionMnist', undefined, cacheDir), {
        dir: join(root, 'fashion-mnist'),
        tried: [root, join(root, 'fashion-mnist')],
      });
    });
  });

  it('falls back to the download cache: cacheDir option, then ORTHOPTIM_CACHE_DIR, then ~/.cache/orthoptim', async () => {
    const cacheRoot = freshDir('cache-root');
    writeTinyDataset(join(cacheRoot, 'mnist'));
    await withEnv({ ORTHOPTIM_DATA_DIR: undefined, ORTHOPTIM_CACHE_DIR: '/nonexistent/orthoptim-cache' }, () => {
      assert.deepEqual(locateDataset('mnist', undefined, cacheRoot), { dir: join(cacheRoot, 'mnist'), tried: [join(cacheRoot, 'mnist')] });
      assert.equal(datasetCacheDir('fashionMnist'), '/nonexistent/orthoptim-cache/fashion-mnist');
    });
    await withEnv({ ORTHOPTIM_CACHE_DIR: undefined, HOME: '/home/someone' }, () => {
      assert.equal(datasetCacheDir('mnist'), '/home/someone/.cache/orthoptim/mnist');
    });
  });

  it('when nothing is found, names every place tried, what was missing, and how to fix it', async () => {
    const option = freshDir('empty-option');
    const envRoot = writeTinyDataset(freshDir('env-partial'));
    rmSync(join(envRoot, 't10k-labels-idx1-ubyte.gz'));
    rmSync(join(envRoot, 'train-images-idx3-ubyte.gz'));
    const cacheRoot = freshDir('cache-root');
    const cache = join(cacheRoot, 'mnist');
    await withEnv({ ORTHOPTIM_DATA_DIR: envRoot }, async () => {
      assert.equal(locateDataset('mnist', undefined, cacheRoot), null);
      const tried = [envRoot, join(envRoot, 'mnist'), cache];
      let error: unknown;
      try {
        requireDataset('mnist', undefined, cacheRoot);
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof DataNotFoundError);
      assert.deepEqual(error.tried, tried);
      assert.deepEqual(error.searched, tried);
      assert.equal(
        error.brief,
        `MNIST not found; searched: ${tried.join(', ')} (pass --data-dir DIR, set ORTHOPTIM_DATA_DIR, or --download)`,
      );
      assert.equal(
        error.message,
        [
          'MNIST not found: no directory searched holds its four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; each .gz or uncompressed).',
          'Searched, in order:',
          `  ${envRoot}  (ORTHOPTIM_DATA_DIR: missing train-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz])`,
          `  ${join(envRoot, 'mnist')}  (ORTHOPTIM_DATA_DIR: no such directory)`,
          `  ${cache}  (download cache: no such directory)`,
          'To fix it, do one of:',
          '  - set ORTHOPTIM_DATA_DIR to a directory holding the four files, or holding them in a mnist/ subdirectory;',
          `  - pass --download (loadMnist: download: true) to download them, sha256-checked, into ${cache}.`,
        ].join('\n'),
      );
      // Without download: true, loadMnist fails the same way and never touches the network.
      const calls: string[] = [];
      await assert.rejects(
        loadMnist({ dataset: 'mnist', cacheDir: cacheRoot, fetch: fetchServing(new Map(), calls) }),
        (e: unknown) => e instanceof DataNotFoundError && e.tried.length === 3,
      );
      // An explicit dataDir that lacks the files is an error naming it (and its subdirectory) only, though
      // ORTHOPTIM_DATA_DIR is set; one that does not exist likewise.
      for (const dir of [option, join(option, 'does-not-exist')]) {
        await assert.rejects(
          loadMnist({ dataset: 'mnist', dataDir: dir, cacheDir: cacheRoot, fetch: fetchServing(new Map(), calls) }),
          (e: unknown) => {
            assert.ok(e instanceof DataNotFoundError);
            assert.deepEqual(e.searched, [dir, join(dir, 'mnist')]);
            assert.match(e.message, new RegExp(`\\n  ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}  \\(dataDir option: (missing|no such directory)`));
            return true;
          },
        );
      }
      assert.deepEqual(calls, []);
    });
  });

  it('tells Fashion-MNIST users about the Debian package', () => {
    const error = new MnistNotFoundError('fashionMnist', [{ dir: '/d', source: 'dataDir option', missing: undefined }], '/c/fashion-mnist');
    assert.match(error.message, /^Fashion-MNIST not found/);
    assert.match(error.message, /\n {2}\/d {2}\(dataDir option: no such directory\)\n/);
    assert.match(error.message, /apt-get install dataset-fashion-mnist \(Debian\/Ubuntu; installs them into \/usr\/share\/datasets\/fashion-mnist\)/);
    assert.match(error.message, /ORTHOPTIM_DATA_DIR .* fashion-mnist\/ subdirectory/);
    assert.match(error.message, /--download .* into \/c\/fashion-mnist\.$/);
    assert.equal(error.name, 'DataNotFoundError');
  });
});

describe('downloadDataset with a fake fetch', () => {
  it('pins the file names the locator looks for, with the sizes of the local copies', (t) => {
    for (const dataset of ['mnist', 'fashionMnist'] as const) {
      for (const [role, base] of Object.entries(mnistFileNames)) {
        assert.equal(datasetSources[dataset].files[role as keyof typeof mnistFileNames].name, `${base}.gz`);
      }
    }
    if (!requireData(t, 'MNIST', mnistDir)) return;
    for (const file of Object.values(datasetSources.mnist.files)) assert.equal(statSync(join(mnistDir, file.name)).size, file.bytes);
  });

  it('downloads MNIST from the canonical URLs, verifies it, and skips verified files next time', async (t) => {
    if (!requireData(t, 'MNIST', mnistDir)) return;
    const dir = join(freshDir('download'), 'mnist');
    const calls: string[] = [];
    const served = servedFrom('mnist', mnistDir);
    assert.equal(await downloadDataset('mnist', dir, { fetch: fetchServing(served, calls), progress: false }), dir);
    assert.deepEqual(calls, [
      'https://storage.googleapis.com/cvdf-datasets/mnist/train-images-idx3-ubyte.gz',
      'https://storage.googleapis.com/cvdf-datasets/mnist/train-labels-idx1-ubyte.gz',
      'https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz',
      'https://storage.googleapis.com/cvdf-datasets/mnist/t10k-labels-idx1-ubyte.gz',
    ]);
    assert.deepEqual(readdirSync(dir).sort(), Object.values(mnistFileNames).map((n) => `${n}.gz`).sort());
    for (const name of readdirSync(dir)) assert.ok(readFileSync(join(dir, name)).equals(readFileSync(join(mnistDir, name))), name);
    calls.length = 0;
    await downloadDataset('mnist', dir, { fetch: fetchServing(served, calls), progress: false });
    assert.deepEqual(calls, []);
  });

  it('deletes a download whose sha256 does not match and names file, expected and actual digest', async (t) => {
    if (!requireData(t, 'MNIST', mnistDir)) return;
    const dir = freshDir('corrupt');
    const corrupted = servedFrom('mnist', mnistDir, (bytes, name) => {
      if (name !== 'train-labels-idx1-ubyte.gz') return bytes;
      const copy = Uint8Array.from(bytes);
      copy[100] ^= 0x01;
      return copy;
    });
    const calls: string[] = [];
    await assert.rejects(downloadDataset('mnist', dir, { fetch: fetchServing(corrupted, calls), progress: false }), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match(
        e.message,
        /^train-labels-idx1-ubyte\.gz: sha256 mismatch: expected 3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c, got ([0-9a-f]{64}) \(downloaded from https:\/\/storage\.googleapis\.com\/cvdf-datasets\/mnist\/train-labels-idx1-ubyte\.gz; the file was deleted\)$/,
      );
      assert.notEqual(/got ([0-9a-f]{64})/.exec(e.message)?.[1], datasetSources.mnist.files.trainLabels.sha256);
      return true;
    });
    // The good first file stays; the bad one and its temporary file are gone.
    assert.deepEqual(readdirSync(dir), ['train-images-idx3-ubyte.gz']);
  });

  it('reports HTTP errors and network failures with the URL', async () => {
    const dir = freshDir('http');
    await assert.rejects(downloadDataset('fashionMnist', dir, { fetch: fetchServing(new Map(), []), progress: false }), {
      message:
        'train-images-idx3-ubyte.gz: could not download http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz: HTTP 404 Not Found',
    });
    const offline = (() => Promise.reject(new TypeError('fetch failed'))) as typeof fetch;
    await assert.rejects(downloadDataset('mnist', dir, { fetch: offline, progress: false }), {
      message: 'train-images-idx3-ubyte.gz: could not download https://storage.googleapis.com/cvdf-datasets/mnist/train-images-idx3-ubyte.gz: fetch failed',
    });
    assert.deepEqual(readdirSync(dir), []);
  });

  it('verifies the pinned Fashion-MNIST digests against the Debian files with their original gzip header restored', async (t) => {
    if (!requireData(t, 'Fashion-MNIST (apt-get install dataset-fashion-mnist)', debianFashionMnistDir)) return;
    // Debian's strip-nondeterminism rewrote the gzip header of the packaged files (file name dropped,
    // mtime = build time) and kept the deflate stream; the originals had FNAME and these mtimes.
    const originalMtime: Record<string, number> = {
      'train-images-idx3-ubyte.gz': 1504176606,
      'train-labels-idx1-ubyte.gz': 1504176606,
      't10k-images-idx3-ubyte.gz': 1504176627,
      't10k-labels-idx1-ubyte.gz': 1504176627,
    };
    const restore = (debian: Uint8Array, name: string): Uint8Array => {
      assert.equal(debian[3], 0, `${name}: expected a gzip header without FNAME`);
      const header = Buffer.alloc(10);
      header.set([0x1f, 0x8b, 0x08, 0x08]);
      header.writeUInt32LE(originalMtime[name], 4);
      header[8] = debian[8];
      header[9] = debian[9];
      return Buffer.concat([header, Buffer.from(`${name.slice(0, -'.gz'.length)}\0`, 'latin1'), debian.subarray(10)]);
    };
    const dir = freshDir('fashion');
    await downloadDataset('fashionMnist', dir, { fetch: fetchServing(servedFrom('fashionMnist', debianFashionMnistDir, restore), []), progress: false });
    assert.equal(readdirSync(dir).length, 4);
  });
});

/** Full MNIST read once for all tests that need it. */
let mnistLoad: Promise<MnistData> | undefined;
function fullMnist(): Promise<MnistData> {
  mnistLoad ??= loadMnist({ dataset: 'mnist', dataDir: testDataDir });
  return mnistLoad;
}

/** Sum of the raw byte values (pixel × 255, rounded back) of images `from` to `to`. */
function rawPixelSum(images: Float32Array, from = 0, to = images.length / 784): number {
  let sum = 0;
  for (let i = from * 784; i < to * 784; i++) sum += Math.round(images[i] * 255);
  return sum;
}

function labelHistogram(labels: Uint8Array): number[] {
  const counts = new Array<number>(10).fill(0);
  for (const l of labels) counts[l]++;
  return counts;
}

// Expected numbers computed once with python3 (gzip + struct) from the raw files.
describe('MNIST from the shared data directory', () => {
  it('has 60000 training and 10000 test examples with the known first labels', async (t) => {
    if (!requireData(t, 'MNIST', mnistDir)) return;
    const data = await fullMnist();
    assert.equal(data.dir, mnistDir);
    assert.equal(data.train.count, 60000);
    assert.equal(data.test.count, 10000);
    assert.equal(data.train.images.length, 60000 * 784);
    assert.equal(data.test.images.length, 10000 * 784);
    assert.equal(data.train.labels.length, 60000);
    assert.deepEqual(Array.from(data.train.labels.subarray(0, 10)), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert.deepEqual(Array.from(data.test.labels.subarray(0, 10)), [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    assert.equal(data.train.labels[59999], 8);
    assert.equal(data.test.labels[9999], 6);
  });

  it('has the known pixel sums and label counts', async (t) => {
    if (!requireData(t, 'MNIST', mnistDir)) return;
    const { train, test } = await fullMnist();
    assert.equal(rawPixelSum(train.images, 0, 1), 27525);
    const first = train.images.subarray(0, 784);
    assert.ok(Math.abs(first.reduce((a, b) => a + b, 0) / 784 - 27525 / 255 / 784) < 1e-6);
    assert.equal(first.filter((v) => v > 0).length, 166);
    assert.equal(Math.max(...first), 1);
    assert.equal(rawPixelSum(test.images, 0, 1), 18454);
    assert.equal(rawPixelSum(train.images), 1567298545); // mean 0.13066, the usual normalisation constant
    assert.equal(rawPixelSum(test.images), 264923200);
    assert.deepEqual(labelHistogram(train.labels), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    assert.deepEqual(labelHistogram(test.labels), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  });

  it('loads the same data from a download cache', async (t) => {
    if (!requireData(t, 'MNIST', mnistDir)) return;
    const cacheRoot = freshDir('load-download');
    const empty = freshDir('empty');
    const calls: string[] = [];
    const data = await withEnv({ ORTHOPTIM_DATA_DIR: undefined }, () =>
      loadMnist({ dataset: 'mnist', dataDir: empty, cacheDir: cacheRoot, download: true, progress: false, fetch: fetchServing(servedFrom('mnist', mnistDir), calls) }),
    );
    assert.equal(calls.length, 4);
    assert.equal(data.dir, join(cacheRoot, 'mnist'));
    const reference = await fullMnist();
    assert.deepEqual(data.test.labels, reference.test.labels);
    assert.equal(data.train.count, 60000);
    assert.equal(rawPixelSum(data.test.images), 264923200);
    assert.ok(existsSync(join(cacheRoot, 'mnist', 'train-images-idx3-ubyte.gz')));
  });
});

describe('Fashion-MNIST', () => {
  it('is found (shared data directory, else the Debian package) with 60000 + 10000 examples and the known first labels', async (t) => {
    const located = locateDataset('fashionMnist', testDataDir);
    if (located === null && !requireData(t, 'Fashion-MNIST (apt-get install dataset-fashion-mnist)', debianFashionMnistDir)) return;
    const data = await loadMnist({ dataset: 'fashionMnist', dataDir: located === null ? undefined : testDataDir });
    assert.equal(data.train.count, 60000);
    assert.equal(data.test.count, 10000);
    assert.deepEqual(Array.from(data.train.labels.subarray(0, 10)), [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    assert.deepEqual(Array.from(data.test.labels.subarray(0, 10)), [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    assert.equal(rawPixelSum(data.train.images, 0, 1), 76247);
    assert.equal(rawPixelSum(data.test.images, 0, 1), 33456);
    assert.deepEqual(labelHistogram(data.train.labels), new Array(10).fill(6000));
    assert.deepEqual(labelHistogram(data.test.labels), new Array(10).fill(1000));
  });
});

/**
 * The embedded Fashion-MNIST subset (data/fashion-mnist-subset): its pinned digests, shapes and class
 * balance, that scripts/make-fashion-subset.ts reproduces its output byte for byte, and where the
 * loader reads it in the search order (only when the full set is found nowhere and nothing more
 * specific was asked for).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  DataChecksumError,
  DataNotFoundError,
  balancedIndices,
  debianFashionMnistDir,
  embeddedFashionSubsetDir,
  encodeIdx,
  fashionSubsetFiles,
  loadMnist,
  mnistFileNames,
  parseIdx,
  sha256Hex,
  type MnistFileRole,
} from '../../src/bench/data/index.js';
import { mnistMlpTask } from '../../src/bench/tasks/mlp.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const roles = Object.keys(mnistFileNames) as MnistFileRole[];

let scratch = '';
let n = 0;
const saved = { data: process.env.ORTHOPTIM_DATA_DIR, cache: process.env.ORTHOPTIM_CACHE_DIR };
before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'orthoptim-subset-test-'));
  delete process.env.ORTHOPTIM_DATA_DIR;
  process.env.ORTHOPTIM_CACHE_DIR = join(scratch, 'no-cache');
});
after(() => {
  rmSync(scratch, { recursive: true, force: true });
  for (const [k, v] of [['ORTHOPTIM_DATA_DIR', saved.data], ['ORTHOPTIM_CACHE_DIR', saved.cache]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});
function fresh(name: string): string {
  const dir = join(scratch, `${n++}-${name}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A tiny set in the MNIST layout: `perClassTrain` / `perClassTest` images of each class, image k filled with k % 251. */
function writeTinySet(dir: string, perClassTrain: number, perClassTest: number, side = 28): string {
  const write = (imagesRole: MnistFileRole, labelsRole: MnistFileRole, perClass: number, offset: number) => {
    const count = perClass * 10;
    const labels = Uint8Array.from({ length: count }, (_, i) => (i * 7 + offset) % 10);
    const images = new Uint8Array(count * side * side);
    for (let k = 0; k < count; k++) images.fill((k + offset) % 251, k * side * side, (k + 1) * side * side);
    writeFileSync(join(dir, `${mnistFileNames[imagesRole]}.gz`), gzipSync(encodeIdx([count, side, side], images)));
    writeFileSync(join(dir, `${mnistFileNames[labelsRole]}.gz`), gzipSync(encodeIdx([count], labels)));
  };
  write('trainImages', 'trainLabels', perClassTrain, 0);
  write('testImages', 'testLabels', perClassTest, 3);
  return dir;
}

function histogram(labels: Uint8Array): number[] {
  const c = new Array<number>(10).fill(0);
  for (const l of labels) c[l]++;
  return c;
}

describe('the committed subset', () => {
  it('lies in data/fashion-mnist-subset, is about 5 MB, and its files have the pinned digests, listed in SOURCES.md', () => {
    assert.equal(embeddedFashionSubsetDir, join(repoRoot, 'data', 'fashion-mnist-subset'));
    const sources = readFileSync(join(embeddedFashionSubsetDir, 'SOURCES.md'), 'utf8');
    let total = 0;
    for (const role of roles) {
      const path = join(embeddedFashionSubsetDir, `${mnistFileNames[role]}.gz`);
      const gz = readFileSync(path);
      total += gz.length;
      const idx = gunzipSync(gz);
      assert.equal(sha256Hex(idx), fashionSubsetFiles[role].sha256, `${role}: content digest`);
      // SOURCES.md lists both digests and the sizes on the file's row.
      const row = sources.split('\n').find((l) => l.startsWith(`| ${mnistFileNames[role]}.gz |`));
      assert.ok(row !== undefined, `SOURCES.md has a row for ${role}`);
      assert.ok(row.includes(sha256Hex(gz)) && row.includes(fashionSubsetFiles[role].sha256), `SOURCES.md row of ${role} has both digests`);
      assert.ok(row.includes(gz.length.toLocaleString('en-US')), `SOURCES.md row of ${role} has the gz size`);
      // gzip header: no file name, mtime 0 (reproducible).
      assert.equal(gz[3] & 0x08, 0, 'no FNAME');
      assert.equal(gz.readUInt32LE(4), 0, 'mtime 0');
    }
    assert.ok(total > 4.5e6 && total < 6e6, `total ${total} bytes`);
    assert.match(sources, /MIT License/);
    assert.match(sources, /npx tsx scripts\/make-fashion-subset\.ts/);
  });

  it('loads as 10,000 + 2,000 images of 28×28, 1,000 / 200 per class, pixels in [0, 1]', async () => {
    const data = await loadMnist({ dataset: 'fashionMnist', embeddedSubset: true, packageDir: null });
    assert.equal(data.embedded, true);
    assert.equal(data.dir, embeddedFashionSubsetDir);
    assert.equal(data.train.count, 10000);
    assert.equal(data.test.count, 2000);
    assert.equal(data.train.images.length, 10000 * 784);
    assert.equal(data.test.images.length, 2000 * 784);
    assert.deepEqual(histogram(data.train.labels), new Array(10).fill(1000));
    assert.deepEqual(histogram(data.test.labels), new Array(10).fill(200));
    let min = Infinity;
    let max = -Infinity;
    for (const v of data.train.images) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    assert.equal(min, 0);
    assert.equal(max, 1);
    // The search for the full set came first: the cache, then the subset.
    assert.deepEqual(data.searched, [join(scratch, 'no-cache', 'fashion-mnist'), embeddedFashionSubsetDir]);
  });

  it('holds Fashion-MNIST images: the seeded per-class choice of the full set, in order', async (t) => {
    let full;
    try {
      full = await loadMnist({ dataset: 'fashionMnist', dataDir: debianFashionMnistDir });
    } catch (e) {
      if (!(e instanceof DataNotFoundError)) throw e;
      if (process.env.CI === 'true') throw e;
      t.skip(`no full Fashion-MNIST at ${debianFashionMnistDir} (apt-get install dataset-fashion-mnist)`);
      return;
    }
    const subset = await loadMnist({ dataset: 'fashionMnist', embeddedSubset: true, packageDir: null });
    for (const [split, perClass, purpose] of [['train', 1000, 'fashion-subset/train'], ['test', 200, 'fashion-subset/test']] as const) {
      const keep = balancedIndices(full[split].labels, perClass, 0, purpose);
      assert.equal(keep.length, subset[split].count);
      for (const r of [0, 1, 2, keep.length - 1]) {
        const i = keep[r];
        assert.equal(subset[split].labels[r], full[split].labels[i]);
        assert.deepEqual(subset[split].images.subarray(r * 784, (r + 1) * 784), full[split].images.subarray(i * 784, (i + 1) * 784));
      }
      assert.deepEqual(subset[split].labels, Uint8Array.from(keep, (i) => full[split].labels[i]));
    }
  });
});

describe('scripts/make-fashion-subset.ts', () => {
  const script = join(repoRoot, 'scripts', 'make-fashion-subset.ts');
  const make = (source: string, out: string, seed: number): string =>
    execFileSync(process.execPath, ['--import', 'tsx', script, '--source', source, '--out', out, '--seed', String(seed), '--train-per-class', '3', '--test-per-class', '2'], {
      cwd: repoRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  it('writes the same bytes twice, class-balanced, and another seed chooses other examples', () => {
    const source = writeTinySet(fresh('source'), 8, 5);
    const [a, b, c] = [fresh('a'), fresh('b'), fresh('c')];
    const printed = make(source, a, 7);
    make(source, b, 7);
    make(source, c, 8);
    const names = roles.map((r) => `${mnistFileNames[r]}.gz`).sort();
    assert.deepEqual(readdirSync(a).sort(), names, 'four .gz files, no temporary left');
    for (const name of names) assert.deepEqual(readFileSync(join(a, name)), readFileSync(join(b, name)), `${name} is byte-identical`);
    const labels = parseIdx(readFileSync(join(a, 'train-labels-idx1-ubyte.gz')), 'train labels');
    assert.deepEqual(labels.dims, [30]);
    assert.deepEqual(histogram(labels.data), new Array(10).fill(3));
    assert.deepEqual(parseIdx(readFileSync(join(a, 't10k-images-idx3-ubyte.gz')), 'test images').dims, [20, 28, 28]);
    assert.notDeepEqual(readFileSync(join(a, 'train-images-idx3-ubyte.gz')), readFileSync(join(c, 'train-images-idx3-ubyte.gz')));
    // It prints name, examples, gz bytes, gz sha256, IDX bytes, IDX sha256 per file.
    const line = printed.split('\n').find((l) => l.startsWith('train-labels-idx1-ubyte.gz\t'));
    const gz = readFileSync(join(a, 'train-labels-idx1-ubyte.gz'));
    assert.equal(line, ['train-labels-idx1-ubyte.gz', 30, gz.length, sha256Hex(gz), 38, sha256Hex(gunzipSync(gz))].join('\t'));
  });

  it('refuses a class with fewer examples than asked, naming it, and writes nothing', () => {
    const source = writeTinySet(fresh('source'), 2, 5);
    const out = join(scratch, 'never-written');
    assert.throws(() => make(source, out, 0), (e: Error & { stderr?: string; status?: number }) =>
      e.status === 2 && /^make-fashion-subset: balancedIndices: fashion-subset\/train: class \d has 2 examples, fewer than perClass 3\n$/.test(e.stderr ?? ''));
    assert.throws(() => statSync(out), { code: 'ENOENT' });
  });
});

describe('where the loader reads the subset', () => {
  it('search order: ORTHOPTIM_DATA_DIR, the package directory, the cache — the subset only when none holds the full set', async () => {
    const envRoot = writeTinySet(fresh('env'), 2, 1);
    const pkg = writeTinySet(fresh('pkg'), 3, 1);
    const cacheRoot = fresh('cache');
    mkdirSync(join(cacheRoot, 'fashion-mnist'));
    writeTinySet(join(cacheRoot, 'fashion-mnist'), 4, 1);
    const load = (packageDir: string | null) => loadMnist({ dataset: 'fashionMnist', embeddedSubset: true, packageDir, cacheDir: cacheRoot });
    process.env.ORTHOPTIM_DATA_DIR = envRoot;
    try {
      assert.equal((await load(pkg)).train.count, 20);
    } finally {
      delete process.env.ORTHOPTIM_DATA_DIR;
    }
    assert.equal((await load(pkg)).train.count, 30);
    const fromCache = await load(null);
    assert.equal(fromCache.train.count, 40);
    assert.equal(fromCache.embedded, false);
    rmSync(join(cacheRoot, 'fashion-mnist'), { recursive: true });
    const subset = await load(join(scratch, 'no-package'));
    assert.equal(subset.embedded, true);
    assert.equal(subset.train.count, 10000);
    assert.deepEqual(subset.searched, [join(scratch, 'no-package'), join(cacheRoot, 'fashion-mnist'), embeddedFashionSubsetDir]);
  });

  it('never for an explicit dataDir, for --download, for MNIST, or unless asked', async () => {
    const missing = join(scratch, 'no-such-dir');
    await assert.rejects(loadMnist({ dataset: 'fashionMnist', embeddedSubset: true, packageDir: null, dataDir: missing }), (e: unknown) => {
      assert.ok(e instanceof DataNotFoundError);
      assert.deepEqual(e.searched, [missing, join(missing, 'fashion-mnist')]);
      return true;
    });
    const calls: string[] = [];
    const offline = (url: string | URL) => {
      calls.push(url.toString());
      return Promise.reject(new Error('offline'));
    };
    await assert.rejects(
      loadMnist({ dataset: 'fashionMnist', embeddedSubset: true, packageDir: null, download: true, progress: false, fetch: offline as typeof fetch }),
      /offline/,
    );
    assert.ok(calls.length > 0, '--download tries the download, not the subset');
    await assert.rejects(loadMnist({ dataset: 'mnist', embeddedSubset: true }), { name: 'DataNotFoundError' });
    await assert.rejects(loadMnist({ dataset: 'fashionMnist', packageDir: null }), (e: unknown) => {
      assert.ok(e instanceof DataNotFoundError);
      assert.ok(!e.searched.includes(embeddedFashionSubsetDir));
      return true;
    });
  });

  it('a subset file with other content is a DataChecksumError naming the file; a missing subset is a DataNotFoundError listing it', async () => {
    const copy = fresh('subset-copy');
    for (const role of roles) copyFileSync(join(embeddedFashionSubsetDir, `${mnistFileNames[role]}.gz`), join(copy, `${mnistFileNames[role]}.gz`));
    // The same content uncompressed still verifies (the digest is of the content).
    const labelsGz = join(copy, 't10k-labels-idx1-ubyte.gz');
    const labels = gunzipSync(readFileSync(labelsGz));
    rmSync(labelsGz);
    writeFileSync(join(copy, 't10k-labels-idx1-ubyte'), labels);
    const ok = await loadMnist({ dataset: 'fashionMnist', embeddedSubset: copy, packageDir: null });
    assert.equal(ok.test.count, 2000);
    // One label changed: named error, with both digests.
    labels[100] = (labels[100] + 1) % 10;
    writeFileSync(join(copy, 't10k-labels-idx1-ubyte'), labels);
    await assert.rejects(loadMnist({ dataset: 'fashionMnist', embeddedSubset: copy, packageDir: null }), (e: unknown) => {
      assert.ok(e instanceof DataChecksumError, String(e));
      assert.equal(e.path, join(copy, 't10k-labels-idx1-ubyte'));
      assert.equal(e.expected, fashionSubsetFiles.testLabels.sha256);
      assert.match(e.message, new RegExp(`^${copy.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/t10k-labels-idx1-ubyte: SHA-256 of its 2008 uncompressed bytes is [0-9a-f]{64}, expected ${e.expected}`));
      return true;
    });
    rmSync(join(copy, 't10k-labels-idx1-ubyte'));
    await assert.rejects(loadMnist({ dataset: 'fashionMnist', embeddedSubset: copy, packageDir: null }), (e: unknown) => {
      assert.ok(e instanceof DataNotFoundError);
      assert.equal(e.searched.at(-1), copy);
      assert.match(e.message, new RegExp(`\\n  ${copy.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}  \\(embedded subset: missing t10k-labels-idx1-ubyte\\[\\.gz\\]\\)`));
      return true;
    });
  });

  it('fashion-mnist-mlp says which data it trained on', async () => {
    const task = mnistMlpTask('fashion-mnist-mlp', 'fashionMnist', 'Fashion-MNIST', { packageDir: null });
    const instance = await task.load({ seed: 0 });
    try {
      assert.equal(instance.data?.kind, 'subset');
      assert.deepEqual(instance.splits, { train: 9000, validation: 1000, test: 2000 });
      assert.deepEqual(instance.data?.splits, instance.splits);
      assert.equal(instance.data?.path, embeddedFashionSubsetDir);
      assert.match(instance.data?.description ?? '', /^Fashion-MNIST embedded subset \(.*fashion-mnist-subset; the full set was not found\): 9,000 train \/ 1,000 validation \/ 2,000 test$/);
    } finally {
      instance.dispose();
    }
    const full = writeTinySet(fresh('full'), 13, 2);
    const other = await mnistMlpTask('fashion-mnist-mlp', 'fashionMnist', 'Fashion-MNIST', { packageDir: full }).load({ seed: 0 });
    try {
      assert.equal(other.data?.kind, 'full');
      assert.equal(other.data?.description, `Fashion-MNIST full set at ${full}: 120 train / 10 validation / 20 test`);
    } finally {
      other.dispose();
    }
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DataNotFoundError } from '../../src/bench/data/index.js';
import {
  cifar10ImageSize,
  cifar10Mean,
  cifar10RecordBytes,
  cifar10Std,
  loadCifar10,
  parseCifar10Records,
  type Cifar10Data,
} from '../../src/bench/data/cifar10.js';
import { requireData, testDataDir } from '../support/data.js';

let scratch = '';
let count = 0;
before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'orthoptim-cifar10-test-'));
});
after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function freshDir(name: string): string {
  const dir = join(scratch, `${count++}-${name}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Records with the given labels; record k has red = k, green = 100 + k, blue = 200 + k everywhere. */
function records(labels: number[]): Uint8Array {
  const out = new Uint8Array(labels.length * cifar10RecordBytes);
  labels.forEach((label, k) => {
    const at = k * cifar10RecordBytes;
    out[at] = label;
    out.fill(k, at + 1, at + 1 + 1024);
    out.fill(100 + k, at + 1 + 1024, at + 1 + 2048);
    out.fill(200 + k, at + 1 + 2048, at + 1 + 3072);
  });
  return out;
}

describe('parseCifar10Records', () => {
  it('lays pixels out NHWC and standardises each channel', () => {
    const bytes = records([3, 7]);
    // One distinct pixel: record 1, green plane, row 2, column 5.
    bytes[cifar10RecordBytes + 1 + 1024 + 2 * 32 + 5] = 255;
    const split = parseCifar10Records(bytes, 'test');
    assert.equal(split.count, 2);
    assert.deepEqual([...split.labels], [3, 7]);
    assert.equal(split.images.length, 2 * cifar10ImageSize);
    const at = (n: number, y: number, x: number, c: number) => split.images[n * cifar10ImageSize + (y * 32 + x) * 3 + c];
    const norm = (byte: number, c: number) => (byte / 255 - cifar10Mean[c]) / cifar10Std[c];
    assert.ok(Math.abs(at(0, 0, 0, 0) - norm(0, 0)) < 1e-6);
    assert.ok(Math.abs(at(0, 31, 31, 2) - norm(200, 2)) < 1e-6);
    assert.ok(Math.abs(at(1, 0, 0, 1) - norm(101, 1)) < 1e-6);
    assert.ok(Math.abs(at(1, 2, 5, 1) - norm(255, 1)) < 1e-6);
    assert.ok(Math.abs(at(1, 2, 6, 1) - norm(101, 1)) < 1e-6);
  });

  it('rejects truncated data, a wrong record count and labels over 9', () => {
    const bytes = records([1, 2, 3]);
    assert.throws(() => parseCifar10Records(bytes.subarray(0, bytes.length - 10), 'cut.bin'), /cut\.bin: 9209 bytes is not a whole number of 3073-byte CIFAR-10 records.*truncated/);
    assert.throws(() => parseCifar10Records(new Uint8Array(0), 'empty.bin'), /empty\.bin: 0 bytes/);
    assert.throws(() => parseCifar10Records(bytes, 'short.bin', 4), /expected 4 records, found 3/);
    const bad = bytes.slice();
    bad[cifar10RecordBytes] = 12;
    assert.throws(() => parseCifar10Records(bad, 'bad.bin'), /record 1 has label 12/);
  });
});

describe('loadCifar10 on the shared subset', () => {
  let data: Cifar10Data | undefined;
  const subsetDir = join(testDataDir, 'cifar10-subset');

  it('finds the subset under the data root and verifies it', async (t) => {
    if (!requireData(t, 'the CIFAR-10 subset', subsetDir)) return;
    data = await loadCifar10({ dataDir: testDataDir });
    assert.equal(data.dir, subsetDir);
    assert.equal(data.variant, 'subset');
    assert.equal(data.train.count, 4000);
    assert.equal(data.test.count, 1000);
    assert.equal(data.train.images.length, 4000 * 32 * 32 * 3);
  });

  it('has the labels and class counts of SOURCES.md', (t) => {
    if (data === undefined) return t.skip('subset not loaded');
    assert.deepEqual([...data.train.labels.subarray(0, 10)], [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]);
    assert.deepEqual([...data.test.labels.subarray(0, 10)], [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);
    const counts = (labels: Uint8Array) => labels.reduce((c, l) => (c[l]++, c), new Array<number>(10).fill(0));
    assert.deepEqual(counts(data.train.labels), [396, 366, 420, 384, 422, 393, 414, 385, 407, 413]);
    assert.deepEqual(counts(data.test.labels), [103, 89, 100, 103, 90, 86, 112, 102, 106, 109]);
  });

  it('standardises to roughly zero mean and unit spread per channel', (t) => {
    if (data === undefined) return t.skip('subset not loaded');
    for (let c = 0; c < 3; c++) {
      let sum = 0;
      let sq = 0;
      const n = data.train.images.length / 3;
      for (let i = c; i < data.train.images.length; i += 3) {
        sum += data.train.images[i];
        sq += data.train.images[i] ** 2;
      }
      const mean = sum / n;
      const std = Math.sqrt(sq / n - mean * mean);
      assert.ok(Math.abs(mean) < 0.1, `channel ${c} mean ${mean}`);
      assert.ok(Math.abs(std - 1) < 0.1, `channel ${c} std ${std}`);
    }
  });

  it('reads uncompressed copies, and ORTHOPTIM_DATA_DIR', async (t) => {
    if (!requireData(t, 'the CIFAR-10 subset', subsetDir)) return;
    const root = freshDir('plain');
    mkdirSync(join(root, 'cifar10-subset'));
    for (const name of ['data_batch_1_first4000.bin', 'test_batch_first1000.bin']) {
      writeFileSync(join(root, 'cifar10-subset', name), gunzipSync(readFileSync(join(subsetDir, `${name}.gz`))));
    }
    const saved = process.env.ORTHOPTIM_DATA_DIR;
    process.env.ORTHOPTIM_DATA_DIR = root;
    try {
      const plain = await loadCifar10({ cacheDir: freshDir('empty-cache') });
      assert.equal(plain.dir, join(root, 'cifar10-subset'));
      assert.deepEqual([...plain.train.labels.subarray(0, 10)], [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]);
      if (data !== undefined) assert.deepEqual(plain.test.images.subarray(0, 3072), data.test.images.subarray(0, 3072));
    } finally {
      if (saved === undefined) delete process.env.ORTHOPTIM_DATA_DIR;
      else process.env.ORTHOPTIM_DATA_DIR = saved;
    }
  });
});

describe('loadCifar10 errors', () => {
  it('a missing directory is a DataNotFoundError listing the places searched', async () => {
    const saved = process.env.ORTHOPTIM_DATA_DIR;
    delete process.env.ORTHOPTIM_DATA_DIR;
    const missing = join(scratch, 'nowhere');
    const cache = freshDir('cache');
    try {
      await assert.rejects(loadCifar10({ dataDir: missing, cacheDir: cache }), (e: unknown) => {
        assert.ok(e instanceof DataNotFoundError);
        assert.equal(e.name, 'DataNotFoundError');
        // An explicit dataDir is the only place searched (not ORTHOPTIM_DATA_DIR, not the cache).
        assert.deepEqual(e.tried, [missing, join(missing, 'cifar10-subset')]);
        assert.equal(e.brief, `CIFAR-10 (subset) not found; searched: ${missing}, ${join(missing, 'cifar10-subset')} (pass --data-dir DIR or set ORTHOPTIM_DATA_DIR)`);
        assert.match(e.message, /CIFAR-10 \(subset\) not found/);
        assert.match(e.message, /no such directory/);
        assert.match(e.message, /ORTHOPTIM_DATA_DIR/);
        return true;
      });
      await assert.rejects(loadCifar10({ variant: 'full', dataDir: missing, cacheDir: cache }), (e: unknown) => {
        assert.ok(e instanceof DataNotFoundError);
        assert.match(e.message, /cifar-10-binary\.tar\.gz/);
        assert.ok(e.tried.includes(join(missing, 'cifar10', 'cifar-10-batches-bin')));
        return true;
      });
    } finally {
      if (saved !== undefined) process.env.ORTHOPTIM_DATA_DIR = saved;
    }
  });

  it('a truncated file fails its checksum; a file of wrong content names the file', async () => {
    const dir = freshDir('truncated');
    const train = records(new Array<number>(4000).fill(1));
    writeFileSync(join(dir, 'data_batch_1_first4000.bin.gz'), gzipSync(train.subarray(0, train.length - 100)));
    writeFileSync(join(dir, 'test_batch_first1000.bin'), records(new Array<number>(1000).fill(2)));
    await assert.rejects(loadCifar10({ dataDir: dir }), /data_batch_1_first4000\.bin\.gz: SHA-256 of its 12291900 uncompressed bytes is [0-9a-f]{64}, expected 0993cf8b/);
    writeFileSync(join(dir, 'data_batch_1_first4000.bin.gz'), Buffer.from('not gzip at all'));
    await assert.rejects(loadCifar10({ dataDir: dir }), /data_batch_1_first4000\.bin\.gz: SHA-256/);
    writeFileSync(join(dir, 'data_batch_1_first4000.bin.gz'), Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(20)]));
    await assert.rejects(loadCifar10({ dataDir: dir }), /cannot decompress.*truncated or corrupt/);
  });

  it('checks the full set for size (no digest is pinned for it)', async () => {
    const dir = freshDir('full');
    for (let k = 1; k <= 5; k++) writeFileSync(join(dir, `data_batch_${k}.bin`), new Uint8Array(0));
    writeFileSync(join(dir, 'test_batch.bin'), records([1, 2]));
    // The batches are read in parallel: whichever empty batch is parsed first is the one named.
    await assert.rejects(loadCifar10({ variant: 'full', dataDir: dir }), /data_batch_[1-5]\.bin: 0 bytes is not a whole number/);
  });
});

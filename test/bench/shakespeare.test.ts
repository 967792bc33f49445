import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { requireData, testDataDir } from '../support/data.js';
import { DataNotFoundError } from '../../src/bench/data/locate.js';
import {
  downloadShakespeare,
  encodeChars,
  loadShakespeare,
  shakespeareSource,
  textSplits,
} from '../../src/bench/data/shakespeare.js';
import {
  charTransformerLogits,
  charTransformerParams,
  shakespeareCharTask,
  type CharTransformerConfig,
} from '../../src/bench/tasks/shakespeare.js';
import type { TaskInstance } from '../../src/bench/tasks/types.js';
import { mulberry32 } from '../../src/core/random.js';
import { createOptimizer } from '../../src/index.js';

const realDir = join(testDataDir, 'tinyshakespeare');

let scratch = '';
before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'orthoptim-shakespeare-test-'));
  await useBackend('wasm');
});
after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** Runs `fn` with the given environment variables set (undefined: unset), restoring them afterwards. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
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

/** A deterministic pseudo-text of `length` characters over a small vocabulary (no data needed). */
function tinyText(length: number): string {
  const words = ['to', 'be', 'or', 'not', 'the', 'king', 'queen', 'ROMEO:', 'JULIET:', 'what', 'is', 'love', 'thou', 'art'];
  const rand = mulberry32(42);
  let out = '';
  while (out.length < length) out += words[Math.floor(rand() * words.length)] + (rand() < 0.15 ? '.\n' : ' ');
  return out.slice(0, length);
}

const tinyShape = { layers: 1, width: 16, heads: 2, context: 8 };

async function tinyInstance(extra: Parameters<typeof shakespeareCharTask>[0] = {}): Promise<TaskInstance> {
  return shakespeareCharTask({ name: 'tiny-char', text: tinyText(3000), ...tinyShape, ...extra }).load({ seed: 0 });
}

function variables(instance: TaskInstance, seed = 1): tf.Variable[] {
  return instance.initialParams(seed).map((p) => tf.variable(tf.tensor(p.values, p.shape), true, p.name));
}

describe('Tiny Shakespeare loader', () => {
  it('reads the real corpus: 1,115,394 characters, 65 sorted characters, the pinned sha256, 90/5/5 splits', async (t: TestContext) => {
    if (!requireData(t, 'Tiny Shakespeare', join(realDir, 'input.txt'))) return;
    const data = await loadShakespeare({ dataDir: testDataDir, cacheDir: join(scratch, 'no-cache') });
    assert.equal(data.dir, realDir, 'found in the tinyshakespeare/ subdirectory of the data root');
    assert.equal(data.text.length, 1115394);
    assert.equal(data.tokens.length, 1115394);
    assert.ok(data.tokens instanceof Uint8Array);
    assert.equal(data.sha256, shakespeareSource.sha256);
    assert.equal(data.vocab.length, 65);
    assert.deepEqual(data.vocab.slice(0, 3), ['\n', ' ', '!']);
    assert.equal(data.vocab.at(-1), 'z');
    assert.equal(data.vocab.join(''), [...data.vocab].sort().join(''));
    assert.equal(
      Array.from(data.tokens.subarray(0, 14), (i) => data.vocab[i]).join(''),
      'First Citizen:',
      'tokens decode back to the text',
    );
    assert.deepEqual(data.splits, {
      train: { start: 0, end: 1003854 },
      validation: { start: 1003854, end: 1059624 },
      test: { start: 1059624, end: 1115394 },
    });
    // ORTHOPTIM_DATA_DIR pointing at the directory itself is found too.
    const viaEnv = await withEnv({ ORTHOPTIM_DATA_DIR: realDir }, () => loadShakespeare({ cacheDir: join(scratch, 'no-cache') }));
    assert.equal(viaEnv.dir, realDir);
  });

  it('throws a DataNotFoundError listing every place searched when the file is nowhere', async () => {
    const empty = join(scratch, 'empty');
    mkdirSync(empty, { recursive: true });
    const cache = join(scratch, 'cache-missing');
    await withEnv({ ORTHOPTIM_DATA_DIR: undefined }, async () => {
      await assert.rejects(loadShakespeare({ dataDir: empty, cacheDir: cache }), (e: unknown) => {
        assert.ok(e instanceof DataNotFoundError);
        assert.equal(e.name, 'DataNotFoundError');
        assert.equal(e.dataset, 'tinyshakespeare');
        // An explicit dataDir is the only place searched (not the cache).
        assert.deepEqual(e.tried, [empty, join(empty, 'tinyshakespeare')]);
        assert.match(e.message, /Tiny Shakespeare not found/);
        assert.match(e.message, /no input\.txt/);
        assert.match(e.message, /no such directory/);
        assert.match(e.message, /--download/);
        return true;
      });
      await assert.rejects(shakespeareCharTask().load({ seed: 0, dataDir: empty, cacheDir: cache }), DataNotFoundError);
      // Without a dataDir, the cache is searched.
      await assert.rejects(loadShakespeare({ cacheDir: cache }), (e: unknown) => e instanceof DataNotFoundError && e.searched.at(-1) === join(cache, 'tinyshakespeare'));
    });
  });

  it('downloads into the cache only when asked, keeping only a body with the pinned sha256', async (t: TestContext) => {
    if (!requireData(t, 'Tiny Shakespeare', join(realDir, 'input.txt'))) return;
    const body = readFileSync(join(realDir, 'input.txt'));
    const urls: string[] = [];
    const serve = (bytes: Uint8Array) =>
      ((url: string | URL | Request) => {
        urls.push(url instanceof Request ? url.url : url.toString());
        return Promise.resolve(new Response(bytes));
      }) as typeof fetch;
    const cache = join(scratch, 'cache-download');
    await withEnv({ ORTHOPTIM_DATA_DIR: undefined }, async () => {
      const data = await loadShakespeare({ dataDir: join(scratch, 'nowhere'), cacheDir: cache, download: true, fetch: serve(body) });
      assert.equal(data.dir, join(cache, 'tinyshakespeare'));
      assert.equal(data.sha256, shakespeareSource.sha256);
      assert.deepEqual(urls, [shakespeareSource.url]);
      // Already there and verified: no second request.
      await downloadShakespeare(data.dir, serve(body));
      assert.equal(urls.length, 1);
    });
    const bad = join(scratch, 'cache-bad');
    const corrupted = body.slice();
    corrupted[0] ^= 1;
    await assert.rejects(downloadShakespeare(bad, serve(corrupted)), /sha256 mismatch: expected 86c4e6aa/);
    assert.equal(existsSync(join(bad, 'input.txt')), false, 'a wrong body is never written');
  });

  it('splits 90 % train, then the held-out 10 % in half, and encodes over the sorted vocabulary', () => {
    assert.deepEqual(textSplits(1000), { train: { start: 0, end: 900 }, validation: { start: 900, end: 950 }, test: { start: 950, end: 1000 } });
    assert.deepEqual(textSplits(1001), { train: { start: 0, end: 900 }, validation: { start: 900, end: 950 }, test: { start: 950, end: 1001 } });
    const { vocab, tokens } = encodeChars('baca\n');
    assert.deepEqual(vocab, ['\n', 'a', 'b', 'c']);
    assert.deepEqual(Array.from(tokens), [2, 1, 3, 1, 0]);
  });
});

describe('shakespeare-char task', () => {
  it('has the registered sizes and validates its options', () => {
    const task = shakespeareCharTask();
    assert.equal(task.name, 'shakespeare-char');
    assert.equal(task.needsData, true);
    assert.match(task.summary, /4 layers, width 128, 4 heads, context 128/);
    const small = shakespeareCharTask({ name: 'shakespeare-char-small' });
    assert.match(small.summary, /2 layers, width 64, 4 heads, context 64/);
    assert.equal(small.defaults.learningRates?.adamw, 3e-3);
    assert.equal(shakespeareCharTask({ text: 'abc' }).needsData, false);
    assert.throws(() => shakespeareCharTask({ width: 30, heads: 4 }), /width 30 must be a multiple of heads 4/);
    assert.throws(() => shakespeareCharTask({ layers: 0 }), /layers must be a positive integer/);
  });

  it('loads the real corpus with window starts in the train split', async (t: TestContext) => {
    if (!requireData(t, 'Tiny Shakespeare', join(realDir, 'input.txt'))) return;
    const instance = await shakespeareCharTask({ name: 'shakespeare-char-small' }).load({ seed: 0, dataDir: testDataDir });
    try {
      assert.equal(instance.trainCount, 1003854 - 64);
      assert.deepEqual(instance.splits, { train: 1003854, validation: 55770, test: 55770 });
      assert.equal(instance.metric.name, 'bpc');
      assert.equal(instance.metric.higherIsBetter, false);
      assert.match(instance.model, /2-layer .* width 64, 4 heads, context 64/);
    } finally {
      instance.dispose();
    }
  });

  it('draws GPT-2-style parameters from the seed, with the Muon roles', () => {
    const config: CharTransformerConfig = { vocab: 20, layers: 2, width: 32, heads: 4, context: 8, mlpRatio: 4, activation: 'gelu' };
    const a = charTransformerParams(config, 3);
    const b = charTransformerParams(config, 3);
    const c = charTransformerParams(config, 4);
    assert.deepEqual(a, b, 'same seed, same parameters');
    assert.notDeepEqual(a[3].values, c[3].values, 'another seed, other parameters');
    assert.equal(new Set(a.map((p) => p.name)).size, a.length);
    assert.deepEqual(
      a.slice(0, 10).map((p) => `${p.name}:${p.role}:${p.shape.join('x')}`),
      [
        'embed/tokens:embedding:20x32',
        'embed/positions:embedding:8x32',
        'block1/norm1/gain:vector:32',
        'block1/attn/wq:hidden:32x32',
        'block1/attn/wk:hidden:32x32',
        'block1/attn/wv:hidden:32x32',
        'block1/attn/wo:hidden:32x32',
        'block1/norm2/gain:vector:32',
        'block1/mlp/w1:hidden:32x128',
        'block1/mlp/w2:hidden:128x32',
      ],
    );
    assert.deepEqual(a.slice(-2).map((p) => `${p.name}:${p.role}`), ['final/norm/gain:vector', 'head/kernel:head']);
    const std = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
    const byName = new Map(a.map((p) => [p.name, p.values]));
    assert.ok(Math.abs(std(byName.get('block1/mlp/w1')!) - 0.02) < 0.002);
    assert.ok(Math.abs(std(byName.get('block2/mlp/w2')!) - 0.02 / 2) < 0.001, 'residual projections scaled by 1/√(2L)');
    assert.ok(byName.get('block1/norm1/gain')!.every((g) => g === 1));
  });

  it('makes batches of windows and next characters from train window starts', async () => {
    const text = tinyText(3000);
    const { tokens } = encodeChars(text);
    const instance = await tinyInstance();
    try {
      assert.equal(instance.trainCount, 2700 - 8);
      const batch = instance.batch(Uint32Array.from([0, 5, 2691]));
      const [x, y] = batch.tensors;
      assert.deepEqual(x.shape, [3, 8]);
      assert.deepEqual(y.shape, [24]);
      assert.equal(x.dtype, 'int32');
      const xs = x.dataSync();
      const ys = y.dataSync();
      for (const [row, start] of [0, 5, 2691].entries()) {
        for (let t = 0; t < 8; t++) {
          assert.equal(xs[row * 8 + t], tokens[start + t]);
          assert.equal(ys[row * 8 + t], tokens[start + t + 1]);
        }
      }
      tf.dispose([...batch.tensors]);
      assert.throws(() => instance.batch(Uint32Array.from([2692])), /not below trainCount 2692/);
    } finally {
      instance.dispose();
    }
  });

  it('starts near ln(vocab) and its logits are causal', async () => {
    const instance = await tinyInstance();
    const vars = variables(instance);
    const vocab = encodeChars(tinyText(3000)).vocab.length;
    try {
      const batch = instance.batch(Uint32Array.from([0, 100, 200, 300, 400, 500, 600, 700]));
      const loss = tf.tidy(() => instance.loss(vars, batch).dataSync()[0]);
      assert.ok(Math.abs(loss - Math.log(vocab)) < 0.1, `initial loss ${loss} vs ln ${vocab} = ${Math.log(vocab)}`);
      tf.dispose([...batch.tensors]);

      const config: CharTransformerConfig = { vocab, ...tinyShape, mlpRatio: 4, activation: 'gelu' };
      const mask = tf.tensor2d(Array.from({ length: 64 }, (_, k) => (k % 8 > Math.floor(k / 8) ? -1e9 : 0)), [8, 8]);
      const base = [3, 1, 4, 1, 5, 9, 2, 6];
      for (const t of [0, 3, 6]) {
        const changed = base.map((c, i) => (i > t ? (c + 7) % vocab : c));
        const [la, lb] = tf.tidy(() =>
          [base, changed].map((row) => charTransformerLogits(config, vars, tf.tensor2d([row], [1, 8], 'int32'), mask).arraySync()),
        );
        for (let s = 0; s <= t; s++) assert.deepEqual(lb[s], la[s], `position ${s} must not see positions > ${t}`);
        const later = la.slice(t + 1).flat();
        const laterChanged = lb.slice(t + 1).flat();
        assert.ok(later.some((v, i) => v !== laterChanged[i]), 'later positions do see the change');
      }
      mask.dispose();
    } finally {
      tf.dispose(vars);
      instance.dispose();
    }
  });

  it('has the gradient of the plain-tfjs forward pass (cpu backend) and of finite differences', async () => {
    await useBackend('cpu');
    try {
      const vocab = encodeChars(tinyText(3000)).vocab.length;
      const config: CharTransformerConfig = { vocab, layers: 2, width: 16, heads: 2, context: 8, mlpRatio: 4, activation: 'gelu' };
      const params = charTransformerParams(config, 5).map((p) => tf.variable(tf.tensor(p.values, p.shape), true, p.name));
      // Larger weights than at initialization, so that every path carries a visible gradient.
      tf.tidy(() => params.forEach((p, i) => i > 1 && p.shape.length === 2 && p.assign(tf.mul(p, 10))));
      const instance = await tinyInstance({ layers: 2 });
      const batch = instance.batch(Uint32Array.from([3, 70, 1000, 2000]));
      const [x, y] = batch.tensors as [tf.Tensor2D, tf.Tensor1D];
      const mask = tf.tensor2d(Array.from({ length: 64 }, (_, k) => (k % 8 > Math.floor(k / 8) ? -1e9 : 0)), [8, 8]);
      const lossOf = (reference: boolean) => () =>
        tf.losses.softmaxCrossEntropy(tf.oneHot(y, vocab), charTransformerLogits(config, params, x, mask, reference)) as tf.Scalar;
      const fast = tf.variableGrads(lossOf(false));
      const plain = tf.variableGrads(lossOf(true));
      assert.ok(Math.abs(fast.value.dataSync()[0] - plain.value.dataSync()[0]) < 1e-5);
      for (const p of params) {
        const g = fast.grads[p.name].dataSync();
        const r = plain.grads[p.name].dataSync();
        let err = 0;
        let scale = 0;
        for (let i = 0; i < g.length; i++) {
          err = Math.max(err, Math.abs(g[i] - r[i]));
          scale = Math.max(scale, Math.abs(r[i]));
        }
        assert.ok(scale > 0, `${p.name}: zero gradient`);
        assert.ok(err <= 1e-4 * scale, `${p.name}: max |Δ| ${err} vs max |g| ${scale}`);
      }
      // Directional derivative along a random direction v: (L(θ+εv) − L(θ−εv)) / 2ε ≈ ⟨∇L, v⟩.
      const rand = mulberry32(9);
      const dirs = params.map((p) => tf.tensor(Float32Array.from({ length: p.size }, () => rand() - 0.5), p.shape));
      let predicted = 0;
      params.forEach((p, i) => (predicted += tf.tidy(() => tf.sum(tf.mul(fast.grads[p.name], dirs[i])).dataSync()[0])));
      const shifted = (eps: number): number => {
        const saved = params.map((p) => tf.clone(p));
        params.forEach((p, i) => p.assign(tf.tidy(() => tf.add(saved[i], tf.mul(dirs[i], eps)))));
        const value = tf.tidy(() => lossOf(false)().dataSync()[0]);
        params.forEach((p, i) => p.assign(saved[i]));
        tf.dispose(saved);
        return value;
      };
      const eps = 1e-3;
      const measured = (shifted(eps) - shifted(-eps)) / (2 * eps);
      assert.ok(Math.abs(measured - predicted) < 2e-2 * Math.abs(predicted), `finite difference ${measured} vs ⟨g, v⟩ ${predicted}`);
      tf.dispose([fast.value, plain.value, ...Object.values(fast.grads), ...Object.values(plain.grads), ...dirs, mask, ...batch.tensors]);
      tf.dispose(params);
      instance.dispose();
    } finally {
      await useBackend('wasm');
    }
  });

  it('evaluates bits per character = mean loss / ln 2 over non-overlapping windows, in chunks', async () => {
    const text = tinyText(3000);
    const { tokens, vocab } = encodeChars(text);
    const instance = await tinyInstance();
    const chunked = await tinyInstance({ evalChunk: 3 });
    const vars = variables(instance);
    try {
      const all = instance.evaluate(vars, 'validation');
      assert.ok(Math.abs(all.metric - all.loss / Math.LN2) < 1e-12);
      const inChunks = chunked.evaluate(vars, 'validation');
      assert.ok(Math.abs(inChunks.loss - all.loss) < 1e-5, `${inChunks.loss} vs ${all.loss}`);
      // By hand: the first two validation windows [2700, 2708), [2708, 2716) and their next characters.
      const config: CharTransformerConfig = { vocab: vocab.length, ...tinyShape, mlpRatio: 4, activation: 'gelu' };
      const mask = tf.tensor2d(Array.from({ length: 64 }, (_, k) => (k % 8 > Math.floor(k / 8) ? -1e9 : 0)), [8, 8]);
      const byHand = tf.tidy(() => {
        const x = tf.tensor2d(Array.from(tokens.subarray(2700, 2716)), [2, 8], 'int32');
        const y = tf.tensor1d(Array.from(tokens.subarray(2701, 2717)), 'int32');
        return tf.losses.softmaxCrossEntropy(tf.oneHot(y, vocab.length), charTransformerLogits(config, vars, x, mask)).dataSync()[0];
      });
      mask.dispose();
      const two = instance.evaluate(vars, 'validation', 2);
      assert.ok(Math.abs(two.loss - byHand) < 1e-5, `${two.loss} vs ${byHand}`);
      assert.ok(Math.abs(two.metric - byHand / Math.LN2) < 1e-5);
      const test = instance.evaluate(vars, 'test');
      assert.notEqual(test.loss, all.loss, 'the test split is other text');
    } finally {
      tf.dispose(vars);
      instance.dispose();
      chunked.dispose();
    }
  });

  it('learns: a few AdamW steps lower the loss on a fixed batch, without leaking tensors', async () => {
    const instance = await tinyInstance();
    const vars = variables(instance);
    const optimizer = createOptimizer('adamw', { learningRate: 3e-3 });
    const batch = instance.batch(Uint32Array.from([0, 300, 600, 900, 1200, 1500, 1800, 2100]));
    const step = (): number => {
      const { value, grads } = tf.variableGrads(() => instance.loss(vars, batch));
      optimizer.applyGradients(grads);
      const loss = value.dataSync()[0];
      tf.dispose([value, ...Object.values(grads)]);
      return loss;
    };
    try {
      const first = step();
      step();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 10; i++) step();
      instance.evaluate(vars, 'validation', 5);
      assert.equal(tf.memory().numTensors, before, 'no tensors leak from loss, gradients or evaluate');
      const last = tf.tidy(() => instance.loss(vars, batch).dataSync()[0]);
      assert.ok(last < first - 0.3, `loss ${first} → ${last}`);
    } finally {
      tf.dispose([...batch.tensors]);
      tf.dispose(vars);
      optimizer.dispose();
      instance.dispose();
    }
  });
});

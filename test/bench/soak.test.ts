import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { disposeEngines } from '../../src/index.js';
import { detectGrowth, liveThreads, slope, DEFAULT_RSS_SLOPE_BOUND, type SoakSample } from '../../src/bench/soak.js';
import { parseSoakArgs, soakOne, soakPairs } from '../../bench/soak.js';

const MiB = 2 ** 20;

before(async () => {
  assert.ok(await tf.setBackend('wasm'));
});
after(() => disposeEngines());

function series(n: number, f: (i: number) => Partial<SoakSample>): SoakSample[] {
  return Array.from({ length: n }, (_, i) => ({ step: (i + 1) * 500, numTensors: 18, threads: 12, rssBytes: 300 * MiB, ...f(i) }));
}

describe('detectGrowth', () => {
  it('passes a flat series (RSS noise of ±0.5 MiB without a trend)', () => {
    const v = detectGrowth(series(20, (i) => ({ rssBytes: 300 * MiB + (i % 2 === 0 ? 1 : -1) * 0.5 * MiB })));
    assert.equal(v.grows, false, v.reasons.join('; '));
    assert.deepEqual(v.reasons, []);
    assert.ok(Math.abs(v.rssSlopePer1000) < 0.1 * MiB, String(v.rssSlopePer1000));
  });

  it('flags one tensor kept per step (a real leak through tfjs)', () => {
    const kept: tf.Tensor[] = [];
    const samples: SoakSample[] = [];
    for (let step = 1; step <= 6; step++) {
      kept.push(tf.tidy(() => tf.add(tf.ones([4]), 1)));
      samples.push({ step, numTensors: tf.memory().numTensors, threads: 1, rssBytes: MiB });
    }
    tf.dispose(kept);
    const v = detectGrowth(samples);
    assert.equal(v.grows, true);
    assert.equal(v.tensorDelta, 5);
    assert.match(v.reasons[0]!, /^tensors not flat/);
  });

  it('flags a single extra tensor late in the run, and a thread added', () => {
    assert.equal(detectGrowth(series(10, (i) => ({ numTensors: i === 9 ? 19 : 18 }))).grows, true);
    const t = detectGrowth(series(10, (i) => ({ threads: i >= 5 ? 13 : 12 })));
    assert.equal(t.grows, true);
    assert.equal(t.threadDelta, 1);
    assert.match(t.reasons[0]!, /^threads not flat/);
  });

  it('flags an RSS slope of 2 MiB per 1,000 steps in the second half, ignores a first-half ramp', () => {
    const leak = detectGrowth(series(20, (i) => ({ rssBytes: 300 * MiB + (i + 1) * 500 * 2 * (MiB / 1000) })));
    assert.equal(leak.grows, true);
    assert.ok(Math.abs(leak.rssSlopePer1000 - 2 * MiB) < 1, String(leak.rssSlopePer1000));
    assert.match(leak.reasons[0]!, /^RSS grows 2\.00 MiB per 1,000 steps over the last 10 samples/);
    // warm-up: +50 MiB over the first half, flat after
    const warm = detectGrowth(series(20, (i) => ({ rssBytes: (300 + Math.min(i, 9) * 5) * MiB })));
    assert.equal(warm.grows, false, warm.reasons.join('; '));
    assert.equal(DEFAULT_RSS_SLOPE_BOUND, MiB);
  });

  it('refuses bad input by name', () => {
    assert.throws(() => detectGrowth(series(1, () => ({}))), /detectGrowth: need at least 2 samples, got 1/);
    assert.throws(() => detectGrowth(series(3, () => ({})), { rssSlopeBytesPer1000: 0 }), /rssSlopeBytesPer1000 .* got 0/);
  });

  it('slope is the least-squares slope', () => {
    assert.equal(slope([1, 2, 3, 4], [3, 5, 7, 9]), 2);
    assert.equal(slope([1], [1]), 0);
  });
});

describe('bench:soak arguments', () => {
  it('reads the flags and refuses unknown names and uneven step counts', () => {
    const c = parseSoakArgs(['--steps', '1000', '--sample-every', '100', '--optimizers', 'muon,dion', '--engines', 'tfjs']);
    assert.notEqual(c, 'help');
    if (c === 'help') return;
    assert.deepEqual([c.steps, c.sampleEvery, c.optimizers, c.engines, c.out], [1000, 100, ['muon', 'dion'], ['tfjs'], 'results/soak']);
    assert.equal(parseSoakArgs(['--help']), 'help');
    assert.throws(() => parseSoakArgs(['--optimizers', 'sgd']), /--optimizers: unknown 'sgd'/);
    assert.throws(() => parseSoakArgs(['--steps', '1050', '--sample-every', '100']), /--steps: 1050 must be/);
  });

  it('gives engines to muon only', () => {
    const pairs = soakPairs({ optimizers: ['adamw', 'muon', 'dion'], engines: ['tfjs', 'workers'] });
    assert.deepEqual(pairs.map((p) => `${p.optimizer}/${p.engine}`), ['adamw/-', 'muon/tfjs', 'muon/workers', 'dion/-']);
  });
});

describe('soak short form (1,000 steps through model.fit on wasm)', () => {
  for (const [optimizer, engine] of [['muon', 'tfjs'], ['muon', 'workers'], ['adamw', '-'], ['dion', '-']] as const) {
    it(`${optimizer}/${engine}: tensors and threads flat, the model's tensors released`, async () => {
      const before = tf.memory().numTensors;
      const run = await soakOne(optimizer, engine, { steps: 1000, sampleEvery: 100 });
      assert.equal(run.samples.length, 10);
      assert.deepEqual(run.samples.map((s) => s.step), [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
      const tensors = new Set(run.samples.map((s) => s.numTensors));
      assert.equal(tensors.size, 1, `tensors: ${run.samples.map((s) => s.numTensors).join(', ')}`);
      if (liveThreads() >= 0) {
        assert.equal(new Set(run.samples.map((s) => s.threads)).size, 1, `threads: ${run.samples.map((s) => s.threads).join(', ')}`);
      }
      assert.equal(run.verdict.tensorDelta, 0);
      assert.equal(run.verdict.threadDelta, 0);
      assert.ok(run.samples.every((s) => s.rssBytes > 0));
      assert.equal(tf.memory().numTensors, before, 'model, optimizer and data disposed');
    });
  }
});

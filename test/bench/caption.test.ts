/**
 * What the bench console prints around its table: the caption (data, model, learning rates, the engine
 * of each optimizer) and the verdict, which says who wins on which measure and never names one winner
 * that the validation metric contradicts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/index.js';
import type { Aggregate, Stat } from '../../src/bench/results.js';
import { comparisonCaption, comparisonVerdict, type CaptionSummary } from '../../src/bench/table.js';
import type { MetricInfo } from '../../src/bench/tasks/types.js';

const st = (mean: number, n = 1): Stat => ({ mean, std: 0, min: mean, max: mean, n });
const none: Stat = { mean: Number.NaN, std: Number.NaN, min: Number.NaN, max: Number.NaN, n: 0 };
const accuracy: MetricInfo = { name: 'accuracy', label: 'accuracy', higherIsBetter: true };

function agg(
  label: string,
  o: { lr?: number | null; train: number; valLoss?: number; val: number; test?: number; steps?: number | null; seconds?: number; optimizer?: string },
): Aggregate {
  return {
    label,
    optimizer: o.optimizer ?? label,
    learningRate: o.lr === undefined ? 0.01 : o.lr,
    trainLoss: st(o.train),
    validationLoss: st(o.valLoss ?? 0.5),
    validationMetric: st(o.val),
    testLoss: st(0.5),
    testMetric: st(o.test ?? o.val),
    msPerStep: st(10),
    msPerStepOptimizer: st(5),
    stepsToTarget: o.steps === null || o.steps === undefined ? none : st(o.steps),
    secondsToTarget: o.seconds === undefined ? none : st(o.seconds),
    sweep: null,
  };
}

function summary(aggregates: Aggregate[], extra: Partial<CaptionSummary> = {}): CaptionSummary {
  return {
    task: 'fashion-mnist-mlp',
    aggregates,
    metric: accuracy,
    seeds: [0],
    dataSource: '/repo/data/fashion-mnist-subset',
    data: {
      dataset: 'Fashion-MNIST',
      kind: 'subset',
      path: '/repo/data/fashion-mnist-subset',
      splits: { train: 9000, validation: 1000, test: 2000 },
      searched: ['/usr/share/datasets/fashion-mnist', '/repo/data/fashion-mnist-subset'],
      description: 'Fashion-MNIST embedded subset (data/fashion-mnist-subset; the full set was not found): 9,000 train / 1,000 validation / 2,000 test',
    },
    model: '784-512-512-10 ReLU MLP (Glorot-uniform init), softmax cross-entropy',
    steps: 300,
    batch: 128,
    backend: 'wasm',
    engine: 'auto → onnxruntime on backend wasm',
    target: { value: 0.3123, rule: "AdamW's final smoothed training loss", smoothing: 10 },
    fallback: null,
    requestedTask: 'fashion-mnist-mlp',
    ...extra,
  };
}

describe('comparisonCaption', () => {
  it('names the data and its size, the model, each learning rate and each optimizer\'s engine', () => {
    const text = comparisonCaption(summary([agg('muon', { lr: 0.02, train: 0.3, val: 0.85 }), agg('adamw', { lr: 0.001, train: 0.31, val: 0.86 })]));
    const lines = text.split('\n');
    assert.equal(lines[0], 'fashion-mnist-mlp: 300 steps × batch 128, seed 0, backend wasm');
    assert.equal(
      lines[1],
      '  data: Fashion-MNIST embedded subset (data/fashion-mnist-subset; the full set was not found): 9,000 train / 1,000 validation / 2,000 test',
    );
    assert.equal(lines[2], '  model: 784-512-512-10 ReLU MLP (Glorot-uniform init), softmax cross-entropy');
    assert.equal(lines[3], '  learning rates: muon 0.02, adamw 0.001');
    assert.equal(lines[4], '  engine: muon auto → onnxruntime on backend wasm; adamw none (no Newton–Schulz step)');
    assert.equal(lines[5], "  steps to target: first step whose smoothed training loss is ≤ 0.3123 (AdamW's final smoothed training loss)");
    assert.equal(lines.length, 6);
  });

  it('says when the data was generated, when a learning rate is the default, and when another task ran instead', () => {
    const text = comparisonCaption(
      summary([agg('turbo', { optimizer: 'turboMuon', lr: null, train: 1, val: 0.5 })], {
        task: 'function-regression',
        data: null,
        dataSource: 'generated',
        target: null,
        fallback: 'no data found for mnist-mlp (looked in: /x); running the embedded function-regression task instead',
        requestedTask: 'mnist-mlp',
        seeds: [0, 1, 2],
      }),
    );
    assert.match(text, /^function-regression: 300 steps × batch 128, seeds 0, 1, 2, backend wasm\n/);
    assert.match(text, /\n {2}data: generated from the seed \(no files\)\n/);
    assert.match(text, /\n {2}instead of mnist-mlp: no data found for mnist-mlp \(looked in: \/x\)/);
    assert.match(text, /\n {2}learning rates: turbo the optimizer's default\n/);
    assert.match(text, /\n {2}engine: turbo auto → onnxruntime on backend wasm$/, 'turboMuon runs Newton–Schulz');
    assert.doesNotMatch(text, /steps to target/);
  });
});

describe('comparisonVerdict', () => {
  it('different winners: names each measure\'s winner and no single winner (the issue\'s case: muon trains faster, adamw validates better)', () => {
    const text = comparisonVerdict(
      summary([
        agg('muon', { train: 0.02, valLoss: 1.9, val: 0.32, test: 0.31, steps: 40 }),
        agg('adamw', { train: 0.05, valLoss: 1.2, val: 0.52, test: 0.5, steps: 250 }),
      ]),
    );
    assert.equal(
      text,
      'lowest train loss: muon; fewest steps to target: muon; lowest validation loss: adamw; best validation accuracy: adamw; best test accuracy: adamw.\n' +
        'No single winner: lowest train loss goes to muon, fewest steps to target goes to muon, but validation accuracy favours adamw.',
    );
    assert.doesNotMatch(text, /Winner: /);
  });

  it('fewer steps but more seconds to the target (Muon on a slow engine): the seconds are a measure of their own and contradict', () => {
    // CLAIMS.md, 2026-11-28: muon 95 steps / 12.1 s, adamw 275 steps / 8.0 s to AdamW's final loss.
    const text = comparisonVerdict(
      summary([
        agg('muon', { train: 0.2, valLoss: 0.4, val: 0.88, steps: 95, seconds: 12.1 }),
        agg('adamw', { train: 0.3, valLoss: 0.45, val: 0.86, steps: 275, seconds: 8.0 }),
      ]),
    );
    assert.equal(
      text,
      'lowest train loss: muon; fewest steps to target: muon; fewest seconds to target: adamw; lowest validation loss: muon; best validation accuracy: muon; best test accuracy: muon.\n' +
        'No single winner: fewest seconds to target goes to adamw, but validation accuracy favours muon.',
      'seconds to target must be judged on their own',
    );
  });

  it('the same winner on every measure: says so', () => {
    const text = comparisonVerdict(
      summary([agg('muon', { train: 0.2, valLoss: 0.4, val: 0.88, steps: 100 }), agg('adamw', { train: 0.3, valLoss: 0.45, val: 0.86, steps: 300 })]),
    );
    assert.equal(
      text,
      'lowest train loss: muon; fewest steps to target: muon; lowest validation loss: muon; best validation accuracy: muon; best test accuracy: muon.\n' +
        'Winner: muon, on validation accuracy and on every other measure it is not tied on.',
    );
  });

  it('the validation loss contradicting the validation accuracy (an overfitting winner): no single winner', () => {
    // Measured on the embedded subset: muon train loss 0.061, val loss 0.500, val accuracy 86.5 %; adamw
    // 0.318, 0.419, 84.9 %.
    const text = comparisonVerdict(
      summary([
        agg('muon', { train: 0.0608, valLoss: 0.5004, val: 0.865, test: 0.857, steps: 111 }),
        agg('adamw', { train: 0.3176, valLoss: 0.4187, val: 0.849, test: 0.8415, steps: 290 }),
      ]),
    );
    assert.equal(
      text,
      'lowest train loss: muon; fewest steps to target: muon; lowest validation loss: adamw; best validation accuracy: muon; best test accuracy: muon.\n' +
        'No single winner: lowest validation loss goes to adamw, but validation accuracy favours muon.',
    );
  });

  it('ties at the table\'s precision, a target not reached, a lower-is-better metric, a single optimizer', () => {
    // 85.001 % and 84.996 % both print as 85.00 %: a tie, so no validation winner is claimed.
    const tie = comparisonVerdict(summary([agg('muon', { train: 0.2, val: 0.85001, steps: null }), agg('adamw', { train: 0.3, val: 0.84996, steps: 300 })]));
    assert.equal(
      tie,
      'lowest train loss: muon; fewest steps to target: adamw; lowest validation loss: tie (muon, adamw); best validation accuracy: tie (muon, adamw); best test accuracy: tie (muon, adamw).\n' +
        'No winner on validation accuracy (a tie).',
    );
    const mse: MetricInfo = { name: 'mse', label: 'MSE', higherIsBetter: false };
    const regression = comparisonVerdict({
      metric: mse,
      aggregates: [
        agg('muon', { train: 0.05, valLoss: 0.06, val: 0.06 }),
        agg('adamw', { train: 0.04, valLoss: 0.19, val: 0.19 }),
        agg('sgd', { train: 0.5, valLoss: 0.5, val: 0.5 }),
      ],
    });
    assert.equal(
      regression,
      'lowest train loss: adamw; lowest validation loss: muon; best validation mse: muon; best test mse: muon.\n' +
        'No single winner: lowest train loss goes to adamw, but validation mse favours muon.',
    );
    assert.equal(comparisonVerdict(summary([agg('muon', { train: 0.2, val: 0.85 })])), '');
  });
});

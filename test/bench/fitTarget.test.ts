import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from '../../src/cli/args.js';
import { parseFitTargetArgs, renderFitTargetTables, runFitTarget, summarizeFitTarget, type FitRun } from '../../bench/fitTarget.js';

/** 30 steps (smoothing window 2): loss 1 until `from`, then `then`; wall-clock `msPerStep` × step. */
function run(optimizer: string, seed: number, msPerStep: number, from: number, then: number, tail?: readonly number[]): FitRun {
  const losses = Array.from({ length: 30 }, (_, i) => (i < from ? 1 : then));
  if (tail !== undefined) losses.splice(30 - tail.length, tail.length, ...tail);
  return { optimizer, seed, losses, wallMs: losses.map((_, i) => msPerStep * (i + 1)) };
}

describe("bench:fit:target — seconds to AdamW's final loss", () => {
  // AdamW ends (smoothed over 2) at 0.5 and 0.7: target 0.6, reached by seed 1 at its last step only.
  const runs = [
    run('adamw', 1, 100, 30, 0, [0.6, 0.4]),
    run('muon', 1, 300, 5, 0.5), // smoothed 0.75 at step 6, 0.5 at step 7 → 7 steps, 2.1 s
    run('turboMuon', 1, 200, 1, 0.4), // 0.7 at step 2, 0.4 at step 3 → 0.6 s
    run('adamw', 2, 100, 30, 0, [0.8, 0.6]),
    run('muon', 2, 300, 9, 0.5), // → 11 steps, 3.3 s
    run('turboMuon', 2, 200, 30, 0), // never below 1
  ];

  it("target = mean of AdamW's final smoothed losses; steps and seconds per run as the runner counts them", () => {
    const s = summarizeFitTarget(runs, 30);
    assert.equal(s.smoothing, 2);
    assert.ok(s.target !== null && Math.abs(s.target - 0.6) < 1e-12);
    const by = (o: string, seed: number) => s.runs.find((r) => r.optimizer === o && r.seed === seed);
    assert.deepEqual([by('adamw', 1)?.stepsToTarget, by('adamw', 1)?.secondsToTarget], [30, 3]);
    assert.deepEqual([by('adamw', 2)?.stepsToTarget, by('adamw', 2)?.secondsToTarget], [null, null]);
    assert.equal(by('muon', 1)?.stepsToTarget, 7);
    assert.ok(Math.abs((by('muon', 1)?.secondsToTarget ?? NaN) - 2.1) < 1e-12);
    assert.equal(by('muon', 2)?.stepsToTarget, 11);
    assert.ok(Math.abs((by('turboMuon', 1)?.secondsToTarget ?? NaN) - 0.6) < 1e-12);
    assert.equal(by('turboMuon', 2)?.stepsToTarget, null);
    assert.ok(Math.abs((by('adamw', 1)?.finalLoss ?? NaN) - 0.5) < 1e-12);
    assert.equal(by('muon', 1)?.msPerStep, 300);
    assert.equal(by('muon', 1)?.totalSeconds, 9);
  });

  it('held when reached in every seed with mean seconds ≤ AdamW\'s; missed when a seed never reaches it', () => {
    const s = summarizeFitTarget(runs, 30);
    const muon = s.checks.find((c) => c.optimizer === 'muon');
    const turbo = s.checks.find((c) => c.optimizer === 'turboMuon');
    assert.ok(muon && turbo);
    assert.equal(muon.name, 'muon s ≤ adamw s');
    assert.ok(Math.abs(muon.seconds - 2.7) < 1e-12);
    assert.equal(muon.adamwSeconds, 3); // AdamW's mean over the seed that reached it
    assert.deepEqual([muon.reached, muon.runs, muon.held], [2, 2, true]);
    // Faster where it got there (0.6 s), but seed 2 never did: missed.
    assert.deepEqual([turbo.seconds, turbo.reached, turbo.held], [0.6, 1, false]);
    const text = renderFitTargetTables(s).join('\n');
    assert.match(text, /\| muon s ≤ adamw s\s+\|\s+2\.70 \|\s+3\.00 \|\s+2\/2 \|\s+held \|/);
    assert.match(text, /\| turboMuon s ≤ adamw s \|\s+0\.60 \|\s+3\.00 \|\s+1\/2 \|\s+missed \|/);
    assert.match(text, /\|\s+2 \| adamw\s+\|\s+0\.7000 \|\s+not reached \|\s+> 3\.00 \|\s+100\.0 \|/);
    assert.match(text, /\| adamw\s+\|\s+0\.6000 ± 0\.1414 \|\s+30 \|\s+3\.00 \|\s+1\/2 \|/);
    // A slower Muon misses: 2 s per step more puts both seeds past AdamW's 3 s.
    const slow = summarizeFitTarget(runs.map((r) => (r.optimizer === 'muon' ? { ...r, wallMs: r.wallMs.map((w) => w * 2) } : r)), 30);
    assert.equal(slow.checks.find((c) => c.optimizer === 'muon')?.held, false);
  });

  it('no adamw run: no target, no checks', () => {
    const s = summarizeFitTarget(runs.filter((r) => r.optimizer !== 'adamw'), 30);
    assert.equal(s.target, null);
    assert.deepEqual(s.checks, []);
    assert.ok(s.runs.every((r) => r.stepsToTarget === null && r.secondsToTarget === null));
  });

  it('flags: defaults and refusals', () => {
    const c = parseFitTargetArgs([]);
    assert.ok(c !== 'help');
    assert.deepEqual([c.steps, c.seeds, c.optimizers, c.engine, c.out], [300, 2, ['adamw', 'muon', 'turboMuon'], 'auto', 'results/bench-fit-target']);
    assert.throws(() => parseFitTargetArgs(['--optimizers', 'sgd']), UsageError);
    assert.throws(() => parseFitTargetArgs(['--steps', '0']), UsageError);
    assert.throws(() => parseFitTargetArgs(['--engine', 'gpu']), UsageError);
  });

  it('a tiny run: same first loss per seed (same parameters and batch), growing clock, no tensors left', async () => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const r = await runFitTarget({ steps: 3, seeds: 2, optimizers: ['adamw', 'muon'], engine: 'tfjs', out: '' }, () => undefined);
    assert.equal(tf.getBackend(), 'wasm');
    assert.equal(r.curves.length, 4);
    for (const c of r.curves) {
      assert.equal(c.losses.length, 3);
      assert.ok(c.losses.every(Number.isFinite));
      assert.ok(c.wallMs[0] > 0 && c.wallMs[1] > c.wallMs[0] && c.wallMs[2] > c.wallMs[1]);
    }
    for (const seed of [1, 2]) {
      const [a, m] = ['adamw', 'muon'].map((o) => r.curves.find((c) => c.optimizer === o && c.seed === seed));
      assert.ok(a && m);
      assert.ok(Math.abs(a.losses[0] - m.losses[0]) < 1e-6, `seed ${seed}: ${a.losses[0]} vs ${m.losses[0]}`);
      // ~ln 10 at Glorot init, and a step changes the loss.
      assert.ok(a.losses[0] > 1.5 && a.losses[0] < 4, String(a.losses[0]));
      assert.notEqual(a.losses[1], m.losses[1]);
    }
    assert.notEqual(r.curves[0].losses[0], r.curves.find((c) => c.seed === 2)?.losses[0]);
    assert.equal(r.leakedTensors, 0);
    assert.equal(tf.memory().numTensors, before);
    assert.equal(r.summary.checks.length, 1);
    assert.deepEqual(r.settings.map((s) => [s.optimizer, s.learningRate, s.adamwLearningRate]), [['adamw', 1e-3, null], ['muon', 0.02, 1e-3]]);
  });
});

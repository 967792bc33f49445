/**
 * Live orthogonality diagnostics in the bench runner and the report (issue 14 item 6): off by default
 * (logs and settings.json unchanged), on it writes one `orthogonality` line per matrix per sampled step
 * without touching the training (bit-identical losses), its numbers equal the float64 SVD of the known
 * update of a linear task, a resume reproduces the log, and `orthoptim report` draws the spectra.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { RunInterrupted, runComparison, type ComparisonOptions } from '../../src/bench/runner.js';
import { syntheticTask } from '../../src/bench/tasks/index.js';
import type { TaskDefinition, TaskInstance } from '../../src/bench/tasks/types.js';
import type { LogLine, OrthogonalityLine } from '../../src/bench/results.js';
import { gaussianArray, mulberry32 } from '../../src/core/random.js';
import { matrix64, singularValues64 } from '../../src/linalg/reference.js';
import { parseLog, ResultsFormatError, writeReport } from '../../src/report/index.js';
import { pickSteps } from '../../src/report/orthogonality.js';

await useBackend('cpu');

let scratch = '';
before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'orthoptim-orthogonality-test-'));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A tiny teacher–student task: a 32-16-16-4 MLP (hidden1 32×16, hidden2 16×16, logits 16×4). */
const tiny = syntheticTask({ name: 'tiny-orth', inputSize: 32, numClasses: 4, hidden: [16, 16], teacherHidden: 8, trainCount: 256, testCount: 64 });

function options(outDir: string, orthogonality: ComparisonOptions['orthogonality']): ComparisonOptions {
  return { task: tiny, optimizers: [{ name: 'muon' }, { name: 'adamw' }], steps: 20, batch: 16, seeds: [0], evalEvery: 10, outDir, orthogonality };
}

function readLines(dir: string, id: string): LogLine[] {
  return readFileSync(join(dir, 'logs', `${id}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogLine);
}

/**
 * A linear task with one 6×5 matrix: loss = Σ A⊙W for a fixed Gaussian A, so every gradient is A and
 * SGD with momentum updates by a positive multiple of −A.
 */
function linearTask(a: Float32Array): TaskDefinition {
  const instance: TaskInstance = {
    name: 'linear',
    source: 'generated',
    trainCount: 4,
    splits: { train: 4, validation: 4, test: 4 },
    metric: { name: 'loss', label: 'loss', higherIsBetter: false },
    model: 'W ∈ R^{6×5}',
    initialParams: () => [{ name: 'layer/kernel', shape: [6, 5], values: new Float32Array(30), role: 'hidden' }],
    batch: () => ({ tensors: [tf.tensor2d(a, [6, 5])] }),
    loss: (params, b) => tf.sum(tf.mul(params[0], b.tensors[0])) as tf.Scalar,
    evaluate(params) {
      const v = tf.tidy(() => tf.sum(tf.mul(params[0], tf.tensor2d(a, [6, 5]))).dataSync()[0]);
      return { loss: v, metric: v };
    },
    dispose: () => undefined,
  };
  return {
    name: 'linear',
    summary: 'Σ A⊙W',
    defaults: { steps: 6, batch: 4, evalEvery: 0 },
    load: () => Promise.resolve(instance),
  } as unknown as TaskDefinition;
}

describe('runComparison: orthogonality lines', () => {
  it('default off: no orthogonality line and no settings key; on: the same losses, one line per matrix after each sampled step', async () => {
    // Results folders as orthoptim bench writes them: <out>/<task>.
    const off = join(scratch, 'off', 'tiny-orth');
    const on = join(scratch, 'on', 'tiny-orth');
    const a = await runComparison(options(off, undefined));
    const b = await runComparison(options(on, { every: 5, spectrum: true }));
    assert.equal('orthogonality' in (JSON.parse(readFileSync(join(off, 'settings.json'), 'utf8')) as object), false);
    assert.deepEqual((JSON.parse(readFileSync(join(on, 'settings.json'), 'utf8')) as { orthogonality: unknown }).orthogonality, { every: 5, spectrum: true });
    for (const id of ['muon-s0', 'adamw-s0']) {
      // Measuring does not perturb training: bit-identical losses and evaluations.
      assert.deepEqual(b.curves[id].losses, a.curves[id].losses);
      assert.deepEqual(b.curves[id].evals.map((e) => e.loss), a.curves[id].evals.map((e) => e.loss));
      const offLines = readLines(off, id);
      assert.equal(offLines.filter((l) => l.type === 'orthogonality').length, 0);
      const lines = readLines(on, id);
      const orth = lines.filter((l): l is OrthogonalityLine => l.type === 'orthogonality');
      assert.deepEqual(
        orth.map((l) => `${l.step}:${l.name}`),
        [5, 10, 15, 20].flatMap((s) => ['hidden1/kernel', 'hidden2/kernel', 'logits/kernel'].map((n) => `${s}:${n}`)),
      );
      // Each sampled step's lines follow its step line.
      for (const l of orth) {
        const i = lines.indexOf(l);
        const stepLine = lines.slice(0, i).reverse().find((x) => x.type === 'step');
        assert.equal(stepLine?.step, l.step);
      }
      for (const l of orth) {
        assert.equal(l.method, 'exact');
        assert.equal(l.singularValues!.length, Math.min(l.rows, l.cols));
        assert.ok(Math.abs(l.singularValues![0] - l.sigmaMax) <= 1e-12 * l.sigmaMax);
      }
      // The step lines are what they are without the option.
      assert.deepEqual(
        lines.filter((l) => l.type === 'step').map((l) => (l as { loss: number }).loss),
        offLines.filter((l) => l.type === 'step').map((l) => (l as { loss: number }).loss),
      );
    }
    // Muon orthogonalizes its hidden matrices; AdamW does not (the runner sends muon's head to AdamW).
    const err = (id: string, name: string) =>
      readLines(on, id)
        .filter((l): l is OrthogonalityLine => l.type === 'orthogonality' && l.name === name)
        .map((l) => l.orthogonalityError);
    for (const name of ['hidden1/kernel', 'hidden2/kernel']) {
      const m = err('muon-s0', name);
      const w = err('adamw-s0', name);
      m.forEach((e, i) => assert.ok(e < w[i], `${name} step ${5 * (i + 1)}: muon ${e} vs adamw ${w[i]}`));
    }
  });

  it('equals the float64 SVD of the known update of a linear task (SGD with momentum: a multiple of −A)', async () => {
    const a = gaussianArray(30, 1, mulberry32(12));
    const dir = join(scratch, 'linear');
    await runComparison({ task: linearTask(a), optimizers: [{ name: 'sgd', options: { learningRate: 0.1 } }], steps: 6, seeds: [0], outDir: dir, orthogonality: { every: 2 } });
    const lines = readLines(dir, 'sgd-s0').filter((l): l is OrthogonalityLine => l.type === 'orthogonality');
    assert.deepEqual(lines.map((l) => l.step), [2, 4, 6]);
    const s = singularValues64(matrix64(6, 5, a));
    const ratio = (x: number) => x / s[0];
    const error = Math.sqrt(s.reduce((acc, x) => acc + (ratio(x) ** 2 - 1) ** 2, 0) / 5);
    const stableRank = s.reduce((acc, x) => acc + x * x, 0) / (s[0] * s[0]);
    for (const l of lines) {
      assert.deepEqual([l.name, l.rows, l.cols], ['layer/kernel', 6, 5]);
      assert.ok(Math.abs(l.orthogonalityError - error) < 1e-6, `step ${l.step}: error ${l.orthogonalityError} vs ${error}`);
      assert.ok(Math.abs(l.stableRank - stableRank) < 1e-5 * stableRank, `stable rank ${l.stableRank} vs ${stableRank}`);
      assert.ok(Math.abs(l.sigmaMin / l.sigmaMax - s[4] / s[0]) < 1e-6, 'σmin/σmax');
      assert.ok(Math.abs(l.frobeniusNorm / l.sigmaMax - Math.sqrt(stableRank)) < 1e-5, '‖U‖F/σmax');
    }
    // Heavy-ball momentum 0.9 (the runner's SGD): update k is lr·(1 + 0.9 + … + 0.9^(k−1))·A.
    const expected = (k: number) => 0.1 * ((1 - 0.9 ** k) / (1 - 0.9)) * s[0];
    for (const l of lines) {
      const ok = [expected(l.step), 0.1 * s[0] * (0.9 * (1 - 0.9 ** l.step) / 0.1 + 1)].some((e) => Math.abs(l.sigmaMax - e) < 1e-4 * e);
      assert.ok(ok, `step ${l.step}: σmax ${l.sigmaMax}, heavy ball ${expected(l.step)}`);
    }
  });

  it('an interrupted run resumes to the same log, orthogonality lines included; other settings are refused', async () => {
    const whole = join(scratch, 'whole');
    const parts = join(scratch, 'parts');
    const o = { every: 3 };
    await runComparison({ ...options(whole, o), checkpointEvery: 5 });
    await assert.rejects(runComparison({ ...options(parts, o), checkpointEvery: 5, interruptAfter: 12 }), RunInterrupted);
    await runComparison({ ...options(parts, o), checkpointEvery: 5 });
    for (const id of ['muon-s0', 'adamw-s0']) {
      const strip = (ls: LogLine[]) => ls.map((l) => (l.type === 'orthogonality' ? l : { ...l, wallMs: 0, optimizerMs: 0 }));
      assert.deepEqual(strip(readLines(parts, id)), strip(readLines(whole, id)));
    }
    await assert.rejects(runComparison(options(whole, { every: 4 })), /holds runs made with other settings \(orthogonality: \{"every":3,"spectrum":false\} there, \{"every":4,"spectrum":false\} now\)/);
    await assert.rejects(runComparison(options(whole, undefined)), /other settings \(orthogonality: \{"every":3,"spectrum":false\} there, undefined now\)/);
  });

  it('refuses a bad every or spectrum by name before anything runs', async () => {
    const dir = join(scratch, 'bad');
    await assert.rejects(runComparison(options(dir, { every: 0 })), /runComparison: orthogonality.every must be an integer >= 1, got 0/);
    await assert.rejects(runComparison(options(dir, { every: 2, spectrum: 'yes' as never })), /orthogonality.spectrum must be a boolean, got yes/);
    assert.equal(existsSync(dir), false);
  });
});

describe('orthoptim report: orthogonality plots', () => {
  it('reads orthogonality lines and refuses a malformed one naming its line', () => {
    const ok = '{"type":"step","step":1,"loss":1,"wallMs":1,"optimizerMs":1}\n{"type":"orthogonality","step":1,"name":"w","rows":2,"cols":2,"orthogonalityError":0,"sigmaMax":1,"sigmaMin":1,"stableRank":2,"frobeniusNorm":1.4,"method":"exact"}\n';
    assert.equal(parseLog('x.jsonl', ok).length, 2);
    const bad = ok.replace('"sigmaMax":1', '"sigmaMax":"1"');
    assert.throws(() => parseLog('x.jsonl', bad), (e: unknown) => e instanceof ResultsFormatError && /x\.jsonl:2: an orthogonality line needs a name and numeric .*\(sigmaMax is not\)/.test(e.message));
    assert.throws(() => parseLog('x.jsonl', ok.replace('"name":"w",', '')), /x\.jsonl:2: an orthogonality line needs a name/);
  });

  it('picks up to four sampled steps: first, last and evenly between', () => {
    assert.deepEqual(pickSteps([5, 10, 15], 4), [5, 10, 15]);
    assert.deepEqual(pickSteps([10, 20, 30, 40, 50, 60, 70], 4), [10, 30, 50, 70]);
    assert.deepEqual(pickSteps([3, 1, 2, 2], 4), [1, 2, 3]);
  });

  it('draws the spectra, orthogonality-error and stable-rank figures and the table when the logs have them, nothing new otherwise', async () => {
    const withLines = await writeReport(join(scratch, 'on'), { png: false, log: () => undefined });
    const names = withLines.files.map((f) => f.split('/').pop());
    for (const n of ['tiny-orth-update-spectra.svg', 'tiny-orth-orthogonality-error.svg', 'tiny-orth-stable-rank.svg']) assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
    assert.match(withLines.markdown, /Singular-value spectra of the hidden1\/kernel update/);
    assert.match(withLines.markdown, /\| muon +\| hidden1\/kernel \(32×16\) +\| +20 \|/);
    const svg = readFileSync(withLines.files.find((f) => f.endsWith('tiny-orth-update-spectra.svg'))!, 'utf8');
    assert.match(svg, /update of step/);
    const without = await writeReport(join(scratch, 'off'), { png: false, log: () => undefined });
    assert.equal(without.files.some((f) => /update-spectra|orthogonality-error|stable-rank/.test(f)), false);
    assert.doesNotMatch(without.markdown, /Orthogonality of the updates/);
  });
});

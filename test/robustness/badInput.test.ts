/**
 * The bad-input suite (issue 10, deliver 1): every registered optimizer (`listOptimizers()`) × every
 * option it accepts (its `options` list plus the common options — read from the registry, never written
 * out here, so a new option is covered the day it is added) × nine bad or extreme values. Each case must
 * end in one of two ways:
 * - construction throws a `RangeError` or `TypeError` whose message names the optimizer and the option
 *   (as whole words, as the user wrote them), or
 * - the value is accepted and 5 steps on a small problem (a [6, 4] matrix and a [4] vector, a fixed
 *   gradient each, a linear loss so that no learning rate can make the parameters diverge by itself)
 *   throw nothing and keep every parameter finite. A loss-aware optimizer (`needsLoss`: alrSmag,
 *   polyakSgd) gets the loss 1 with each step (`applyGradients(grads, { loss: 1 })`).
 * Anything else — another error class, a message without the names, an error at step time, a non-finite
 * parameter — is reported with the optimizer, option and value. The counts per category are printed
 * as a diagnostic.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { createOptimizer, listOptimizers } from '../../src/index.js';
import { commonKeys } from '../../src/optimizers/definition.js';
import { clearDctCache } from '../../src/linalg/dct.js';

await useBackend('cpu');

/** The bad values: label and value. */
export const badValues: readonly (readonly [string, unknown])[] = [
  ['NaN', NaN],
  ['+Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['-1', -1],
  ['0', 0],
  ['1e30', 1e30],
  ["'abc'", 'abc'],
  ['null', null],
  ['{}', {}],
];

/** How one case ended. */
export type Outcome = 'clear error' | 'accepted and finite' | 'crash' | 'silent';

export interface CaseResult {
  readonly optimizer: string;
  readonly option: string;
  readonly value: string;
  readonly outcome: Outcome;
  readonly detail: string;
}

function word(s: string): RegExp {
  return new RegExp(`(^|[^A-Za-z0-9_])${s}($|[^A-Za-z0-9_])`);
}

/** Runs every case; exported so the counts can be measured outside the test runner. */
export function runBadInputCases(): CaseResult[] {
  const m0 = tf.randomNormal([6, 4], 0, 1, 'float32', 1);
  const v0 = tf.randomNormal([4], 0, 1, 'float32', 2);
  const matrix = tf.variable(m0, true, 'badInput_kernel');
  const vector = tf.variable(v0, true, 'badInput_bias');
  const gm = tf.randomNormal([6, 4], 0, 1, 'float32', 3);
  const gv = tf.randomNormal([4], 0, 1, 'float32', 4);
  const results: CaseResult[] = [];
  try {
    for (const info of listOptimizers()) {
      for (const option of [...info.options, ...commonKeys]) {
        for (const [label, value] of badValues) {
          const base = { optimizer: info.name, option, value: label };
          matrix.assign(m0);
          vector.assign(v0);
          let opt: ReturnType<typeof createOptimizer>;
          try {
            opt = createOptimizer(info.name, { [option]: value });
          } catch (e) {
            const err = e as Error;
            const named = word(info.name).test(err.message) && word(option).test(err.message);
            const clear = (err instanceof RangeError || err instanceof TypeError) && named;
            results.push({
              ...base,
              outcome: clear ? 'clear error' : 'crash',
              detail: `${err.constructor.name}: ${err.message}`,
            });
            continue;
          }
          try {
            for (let step = 0; step < 5; step++) {
              opt.applyGradients({ [matrix.name]: gm, [vector.name]: gv }, opt.needsLoss ? { loss: 1 } : {});
            }
            const finite = [matrix, vector].every((v) => tf.tidy(() => tf.all(tf.isFinite(v)).dataSync()[0] === 1));
            results.push({
              ...base,
              outcome: finite ? 'accepted and finite' : 'silent',
              detail: finite ? '' : 'a parameter is not finite after 5 steps',
            });
          } catch (e) {
            const err = e as Error;
            results.push({ ...base, outcome: 'crash', detail: `at a step: ${err.constructor.name}: ${err.message}` });
          } finally {
            opt.dispose();
          }
        }
      }
    }
  } finally {
    tf.dispose([matrix, vector, m0, v0, gm, gv]);
    // the DCT bases dctAdamw / subspaceMomentum('dct') share across optimizers are a cache, not a leak
    clearDctCache();
  }
  return results;
}

/** Counts per outcome. */
export function countOutcomes(results: readonly CaseResult[]): Record<Outcome | 'cases', number> {
  const counts = { cases: results.length, 'clear error': 0, 'accepted and finite': 0, crash: 0, silent: 0 };
  for (const r of results) counts[r.outcome]++;
  return counts;
}

describe('bad input: every optimizer × every option × bad values', () => {
  it('gives a named RangeError/TypeError or finite parameters over 5 steps, for every case', (t) => {
    const before = tf.memory().numTensors;
    const results = runBadInputCases();
    const counts = countOutcomes(results);
    t.diagnostic(JSON.stringify(counts));
    const failures = results
      .filter((r) => r.outcome === 'crash' || r.outcome === 'silent')
      .map((r) => `${r.optimizer} ${r.option}=${r.value}: ${r.outcome} (${r.detail})`);
    assert.deepEqual(failures, []);
    // Every optimizer and option was tried with every value; the list is the registry's.
    const expected = listOptimizers().reduce((n, o) => n + (o.options.length + commonKeys.length) * badValues.length, 0);
    assert.equal(counts.cases, expected);
    assert.ok(counts.cases > 1500, `only ${counts.cases} cases`);
    assert.ok(counts['clear error'] > 0 && counts['accepted and finite'] > 0);
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  });
});

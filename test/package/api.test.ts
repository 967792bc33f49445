/**
 * The public API is deliberate (issue 11 item 5): `orthoptim` exports the recipes, transforms,
 * schedules, checkpoint functions, engine selection and diagnostics; the float64 references live in
 * `orthoptim/reference`; internals (the engine instances, the state flattener, the engine scope) are in
 * neither.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as api from '../../src/index.js';
import * as reference from '../../src/reference.js';

const publicNames = Object.keys(api);
const referenceNames = Object.keys(reference).sort();

test('orthoptim/reference holds the float64 references, and orthoptim none of them', () => {
  assert.deepEqual(referenceNames, [
    'cholesky64',
    'dctMatrix64',
    'haarOrthogonal64',
    'householderQ64',
    'inverseTransposeLower64',
    'matmul64',
    'matrix64',
    'newtonSchulz64',
    'polar64',
    'quinticCompose',
    'singularValues64',
    'svd64',
    'symmetricEigenvalues64',
    'transpose64',
  ]);
  assert.deepEqual(publicNames.filter((n) => referenceNames.includes(n) || /64$/.test(n)), []);
  const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as { exports: Record<string, { import: string }> };
  assert.equal(pkg.exports['./reference']?.import, './dist/reference.js');
});

test('orthoptim exports no internals', () => {
  const internals = ['withoutAuxiliary', 'engineInstance', 'engineIteration', 'flattenState', 'withEngine', 'currentEngine', 'canonicalJson', 'bindNewtonSchulzEngine',
    // a transform's own helpers (imported from their modules by its tests)
    'matrixShape', 'checkLmoShape', 'resolveLmoChoice', 'defaultNormalized', 'quantilePosition', 'rmsRescaleCount', 'dion2Selection', 'finiteOrIdentity', 'preconditionerSide',
  ];
  assert.deepEqual(publicNames.filter((n) => internals.includes(n)), []);
});

test('orthoptim exports what a user builds with', () => {
  const expected = [
    // recipes, their pure transforms and the registry
    'muon', 'adamw', 'turboMuon', 'dion', 'muonTransform', 'muonDefinition', 'createOptimizer', 'listOptimizers',
    // a user's own chain
    'chain', 'partition', 'transformOptimizer', 'defineTransformOptimizer', 'recipe',
    // transforms
    'scaleByAdam', 'emaMomentum', 'orthogonalize', 'scaleByShape', 'clipByGlobalNorm', 'scaleByLearningRate',
    // schedules
    'constant', 'wsd', 'warmupCosine',
    // checkpoints
    'serializeCheckpoint', 'restoreCheckpoint', 'CheckpointError',
    // engine selection
    'setDefaultEngine', 'defaultEngine', 'listEngines', 'describeEngine', 'registerEngine', 'disposeEngines',
    // diagnostics
    'orthogonalityError', 'orthogonalityReport', 'coefficientStability',
  ];
  assert.deepEqual(expected.filter((n) => !publicNames.includes(n)), []);
});

test('orthoptim/reference imports only linalg/ and nn/ (it registers nothing)', () => {
  const text = fs.readFileSync(path.resolve('src/reference.ts'), 'utf8');
  const specs = [...text.matchAll(/from\s+'([^']+)'/g)].map((m) => m[1]);
  assert.ok(specs.length > 0);
  assert.deepEqual(specs.filter((s) => !/^\.\/(linalg|nn)\//.test(s)), []);
});

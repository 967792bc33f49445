/** adamwParamNames: embeddings, the first conv layer and the output layer go to AdamW, not Muon. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Variable } from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { adamwParamNames, muon, routeOf } from '../../src/index.js';

await useBackend('cpu');

describe('adamwParamNames', () => {
  it('picks the embedding, the first conv and the output layer of a functional model', () => {
    const tokens = tfl.input({ shape: [6] });
    const emb = tfl.layers.embedding({ inputDim: 20, outputDim: 8, name: 'tok_embed' }).apply(tokens) as tfl.SymbolicTensor;
    const seq = tfl.layers.flatten().apply(emb) as tfl.SymbolicTensor;
    const img = tfl.input({ shape: [8, 8, 3] });
    let c = tfl.layers.conv2d({ filters: 4, kernelSize: 3, name: 'conv_first' }).apply(img) as tfl.SymbolicTensor;
    c = tfl.layers.conv2d({ filters: 4, kernelSize: 3, name: 'conv_second' }).apply(c) as tfl.SymbolicTensor;
    const f = tfl.layers.flatten().apply(c) as tfl.SymbolicTensor;
    const both = tfl.layers.concatenate().apply([seq, f]) as tfl.SymbolicTensor;
    const hidden = tfl.layers.dense({ units: 16, name: 'hidden' }).apply(both) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 5, name: 'head' }).apply(hidden) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: [tokens, img], outputs: out });
    const names = adamwParamNames(model).sort();
    assert.deepEqual(names, [
      'conv_first/bias', 'conv_first/kernel', 'head/bias', 'head/kernel', 'tok_embed/embeddings',
    ]);
    // and muon's routing sends exactly those matrices (plus every vector) to AdamW
    const opt = muon({ exclude: names });
    const labels = model.trainableWeights.map((w, i) =>
      routeOf(opt.resolved.aux, { name: (w.read() as Variable).name, shape: w.shape as number[] }, i),
    );
    const muonNames = model.trainableWeights.filter((_, i) => labels[i] === 'matrix').map((w) => w.name).sort();
    assert.deepEqual(muonNames, ['conv_second/kernel', 'hidden/kernel']);
    opt.dispose();
    model.dispose();
  });
});

/** The optimizer contract (test/support/contract.ts) for sgd, adam, adamw and muon, on wasm. */
import { useBackend } from '../support/backend.js';
import { optimizerContract } from '../support/contract.js';
import { adam, adamw, muon, sgd } from '../../src/index.js';

await useBackend('wasm');

optimizerContract('sgd', () => sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4 }), {
  zeroGradientKeepsWeights: false,
});
optimizerContract('adam', () => adam({ learningRate: 0.01, amsgrad: true }));
optimizerContract('adamw', () => adamw({ learningRate: 0.01 }), { zeroGradientKeepsWeights: false });
optimizerContract('muon', () => muon({ learningRate: 0.05, adamwLearningRate: 0.01, weightDecay: 0.01, exclude: ['dense_Dense3'] }), {
  zeroGradientKeepsWeights: false,
});
optimizerContract('muon (no decay, Polar Express)', () => muon({ learningRate: 0.05, adamwLearningRate: 0.01, coefficients: 'polarExpress5' }));

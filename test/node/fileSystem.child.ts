/**
 * Child process of fileSystem.test.ts: trains the 8-32-32-3 MLP with muon on the blobs problem on
 * wasm, either from scratch (`fresh DIR STEPS [SAVE]`) or from a model saved with the fileSystem handler
 * (`resume DIR STEPS`), optionally saves it with its optimizer, and prints the weights' bytes as hex.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-wasm';
import { adamwParamNames, muon } from '../../src/index.js';
import { fileSystem } from '../../src/node/index.js';
import { blobs, mlp } from '../support/models.js';

tf.env().set('PROD', true);
await tf.setBackend('wasm');
const [mode, dir, stepsText, saveTo] = process.argv.slice(2);
const steps = Number(stepsText);
const { x, y } = blobs(4);

let model: tfl.LayersModel;
if (mode === 'fresh') {
  model = mlp(4);
  model.compile({ optimizer: muon({ learningRate: 0.02, adamwLearningRate: 0.01, exclude: adamwParamNames(model) }), loss: 'categoricalCrossentropy' });
} else {
  model = await tfl.loadLayersModel(fileSystem(dir));
}
const done = (model.optimizer as unknown as { step: number }).step; // the batches continue where training stopped
for (let i = 0; i < steps; i++) {
  const at = ((done + i) * 64) % 256;
  const xb = tf.slice(x, [at, 0], [64, 8]);
  const yb = tf.slice(y, [at, 0], [64, 3]);
  await model.trainOnBatch(xb, yb);
  tf.dispose([xb, yb]);
}
if (saveTo !== undefined) await model.save(fileSystem(saveTo), { includeOptimizer: true });
const hex = model.getWeights().map((w) => Buffer.from((w.dataSync() as Float32Array).buffer).toString('hex'));
process.stdout.write(JSON.stringify({ step: (model.optimizer as unknown as { step: number }).step, hex }));

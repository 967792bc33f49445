import * as tf from '@tensorflow/tfjs-core';
import { runComparison } from './src/bench/runner.js';
const t = performance.now();
const r = await runComparison({ task: process.argv[2] ?? 'fashion-mnist-mlp', optimizers: [{name:'muon'},{name:'adamw'}], steps: Number(process.argv[3] ?? 20), batch: 128, seed: 0, backend: 'wasm', onProgress: (e) => { if (e.type==='data') console.log(e.source, e.fallback?.message); if (e.type==='runEnd') console.log(e.optimizer, e.run.final, e.run.timing, e.run.losses.slice(0,3)); } });
console.log('wall', (performance.now()-t)/1000, tf.memory().numTensors);

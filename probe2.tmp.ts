import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
await tf.setBackend('wasm');
function bench(name: string, f: () => tf.Tensor, n = 10) {
  tf.dispose(f());
  const t = performance.now();
  for (let i = 0; i < n; i++) { const r = f(); r.dataSync(); r.dispose(); }
  console.log(name, ((performance.now() - t) / n).toFixed(2), 'ms');
}
const x = tf.randomNormal([128, 784]); const w = tf.randomNormal([784, 512]); const dy = tf.randomNormal([128, 512]);
bench('x@w', () => tf.matMul(x, w));
bench('dy@w^T (transposeB)', () => tf.matMul(dy, w, false, true));
bench('dy@transpose(w)', () => tf.tidy(() => tf.matMul(dy, tf.transpose(w))));
bench('x^T@dy (transposeA)', () => tf.matMul(x, dy, true, false));
bench('transpose(x)@dy', () => tf.tidy(() => tf.matMul(tf.transpose(x), dy)));

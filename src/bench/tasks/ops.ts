/**
 * Differentiable building blocks for benchmark models, written for the wasm backend's strengths.
 *
 * tfjs's own MatMul gradient calls `matMul` with `transposeA`/`transposeB`, which on wasm leaves XNNPACK
 * for a naive loop (8–20× slower, measured: 35 ms instead of 5 ms for 128×512 · (784×512)ᵀ). The layers
 * here give their gradients with explicitly transposed operands instead, so both passes stay on the fast
 * kernel. Numerically they are the same products.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** `a·b` for 2-D tensors, differentiated with explicit transposes (see the module note). */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [ai, bi, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([ai, bi]);
    return {
      value: tf.matMul(ai, bi),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
        tf.matMul(dy as tf.Tensor2D, tf.transpose(saved[1] as tf.Tensor2D)),
        tf.matMul(tf.transpose(saved[0] as tf.Tensor2D), dy as tf.Tensor2D),
      ],
    };
  });
  return op(a, b) as tf.Tensor2D;
}

/**
 * A dense layer `x·W + b` (`b` optional) with the fast gradient. `inputGrad` false skips dx, for a first
 * layer whose input is data (x is then not a variable and its gradient is never asked for).
 */
export function dense(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D | null, inputGrad = true): tf.Tensor2D {
  if (!inputGrad) {
    const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const wi = args[0] as tf.Tensor2D;
      const bi = b === null ? null : (args[1] as tf.Tensor1D);
      const y = tf.matMul(x, wi);
      return {
        value: bi === null ? y : tf.add(y, bi),
        gradFunc: (dy: tf.Tensor) => {
          const dw = tf.matMul(tf.transpose(x), dy as tf.Tensor2D);
          return bi === null ? [dw] : [dw, tf.sum(dy, 0)];
        },
      };
    });
    return (b === null ? op(w) : op(w, b)) as tf.Tensor2D;
  }
  const y = matMul2d(x, w);
  return b === null ? y : tf.add(y, b);
}

/**
 * Mean softmax cross-entropy of `logits` `[n, classes]` against integer `labels` `[n]` (int32), without
 * building one-hot labels on the host. With `reduction: 'sum'` the sum over rows.
 */
export function sparseSoftmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, reduction: 'mean' | 'sum' = 'mean'): tf.Scalar {
  const classes = logits.shape[1];
  const logProbs = tf.logSoftmax(logits);
  const picked = tf.sum(tf.mul(logProbs, tf.oneHot(labels, classes)), 1);
  const total = tf.neg(tf.sum(picked));
  return (reduction === 'sum' ? total : tf.div(total, logits.shape[0])) as tf.Scalar;
}

/** Number of rows of `logits` whose argmax equals the integer label, as a scalar tensor. */
export function countCorrect(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(labels, 'int32')), 'float32'));
}

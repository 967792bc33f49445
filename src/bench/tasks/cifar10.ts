/**
 * `cifar10-cnn`: a small ConvNet on the project's CIFAR-10 subset (4,000 training records, of which 500
 * seeded ones are held out for validation, and 1,000 test records; see `data/cifar10.ts`).
 *
 * Model (NHWC, every conv 3×3 'same' + bias + ReLU, then 2×2 max-pooling):
 * `32×32×3 → conv 16 → pool → conv 32 → pool → conv 64 → pool → flatten 4·4·64 = 1024 → dense 10`,
 * softmax cross-entropy; 28.6k parameters.
 *
 * Parameter roles, after the Muon authors (KellerJordan/Muon README: "use Muon to optimize all the
 * convolutional filters except the first one, and AdamW to optimize everything else"; see
 * ../shared/specs/muon-family.md §parameter groups): the first conv kernel has role `embedding` (it reads
 * raw pixels, like an input embedding, and goes to AdamW), the other conv kernels `hidden` (orthogonalized
 * as `[kh·kw·in, out]` matrices), the dense output layer `head`, biases `vector`.
 *
 * Initialisation from the seed (mulberry32, never a backend RNG): PyTorch's default for `nn.Conv2d` and
 * `nn.Linear` weights — `kaiming_uniform_(a=√5)`, i.e. uniform on ±1/√fan-in (fan-in = kh·kw·in for a
 * conv) — which the authors' CIFAR-10 scripts inherit; biases zero. Measured here over seeds 1–5 it
 * gives an initial loss of 2.30–2.32 on 256 training images (ln 10 = 2.303); He-normal convs with a Glorot head gave
 * 3.2–6.5 (max-pooling of ReLUs compounds their gain in this narrow, shallow net).
 *
 * Training on the wasm backend needs the conv backprop kernels that tfjs-backend-wasm lacks: `load()`
 * registers them ({@link registerWasmConvKernels}), and replaces wasm's slow `Conv2DBackpropInput` by the
 * col2im one from the same module (numerically the same to float32 rounding; tested against the cpu
 * backend).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { deriveSeed, mulberry32, uniformArray } from '../../core/random.js';
import { registerWasmConvKernels } from '../../tfjs/wasmConv.js';
import { cifar10ImageSide, loadCifar10 } from '../data/cifar10.js';
import { classificationInstance, holdOut } from './classification.js';
import { dense } from './ops.js';
import type { ParamInit, TaskDefinition } from './types.js';

/** Output channels of the three conv layers. */
export const cifar10CnnChannels: readonly number[] = [16, 32, 64];
/** Training records held out (seeded) for validation. */
export const cifar10ValidationCount = 500;

const numClasses = 10;
const kernelSide = 3;

/** The initial parameters of the ConvNet, drawn from `seed` (see the module note for roles and init). */
export function cifar10CnnParams(seed: number): ParamInit[] {
  const rand = mulberry32(deriveSeed(seed, 'init'));
  const out: ParamInit[] = [];
  let inChannels = 3;
  cifar10CnnChannels.forEach((channels, l) => {
    const fanIn = kernelSide * kernelSide * inChannels;
    out.push(
      {
        name: `conv${l + 1}/kernel`,
        shape: [kernelSide, kernelSide, inChannels, channels],
        values: uniformArray(fanIn * channels, 1 / Math.sqrt(fanIn), rand),
        role: l === 0 ? 'embedding' : 'hidden',
      },
      { name: `conv${l + 1}/bias`, shape: [channels], values: new Float32Array(channels), role: 'vector' },
    );
    inChannels = channels;
  });
  const side = cifar10ImageSide >> cifar10CnnChannels.length;
  const features = side * side * inChannels;
  out.push(
    {
      name: 'logits/kernel',
      shape: [features, numClasses],
      values: uniformArray(features * numClasses, 1 / Math.sqrt(features), rand),
      role: 'head',
    },
    { name: 'logits/bias', shape: [numClasses], values: new Float32Array(numClasses), role: 'vector' },
  );
  return out;
}

/** Logits `[n, 10]` of NHWC images `x` `[n, 32, 32, 3]` under the parameters of {@link cifar10CnnParams}. */
export function cifar10CnnLogits(params: readonly tf.Tensor[], x: tf.Tensor): tf.Tensor2D {
  let h = x as tf.Tensor4D;
  const convs = cifar10CnnChannels.length;
  for (let l = 0; l < convs; l++) {
    const conv = tf.conv2d(h, params[2 * l] as tf.Tensor4D, 1, 'same');
    h = tf.maxPool(tf.relu(tf.add(conv, params[2 * l + 1])), 2, 2, 'valid');
  }
  const flat = tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D;
  return dense(flat, params[2 * convs] as tf.Tensor2D, params[2 * convs + 1] as tf.Tensor1D);
}

const modelDescription =
  `ConvNet 3×3 conv ${cifar10CnnChannels.join('-')} (ReLU, 2×2 max-pool each) → dense 1024-10, ` +
  'softmax cross-entropy; first conv to AdamW (role embedding), other convs orthogonalized';

/** Learning rates for this model (Muon README's 0.02 for Muon; AdamW 1e-3 as for the MLP tasks). */
const cifarLearningRates = { muon: 0.02, adamw: 1e-3, adam: 1e-3, sgd: 0.05 };

/** The `cifar10-cnn` task. */
export const cifar10CnnTask: TaskDefinition = {
  name: 'cifar10-cnn',
  summary: `CIFAR-10 subset (3.5k train / 500 validation / 1k test), small ConvNet (conv ${cifar10CnnChannels.join('-')} → dense 10), trains on wasm`,
  needsData: true,
  defaults: { steps: 300, batch: 64, evalEvery: 50, evalLimit: 500, learningRates: cifarLearningRates },
  async load(o) {
    // Also replaces wasm's own Conv2DBackpropInput, a direct loop 7–10× slower here (see wasmConv.ts).
    registerWasmConvKernels({ replace: ['Conv2DBackpropInput'] });
    const data = await loadCifar10({ variant: 'subset', dataDir: o.dataDir, cacheDir: o.cacheDir, download: o.download });
    const exampleShape = [cifar10ImageSide, cifar10ImageSide, 3];
    const inputSize = exampleShape[0] * exampleShape[1] * exampleShape[2];
    const { train, validation } = holdOut(data.train, cifar10ValidationCount, inputSize, o.seed);
    return classificationInstance({
      name: 'cifar10-cnn',
      source: data.dir,
      model: modelDescription,
      exampleShape,
      numClasses,
      train,
      validation,
      test: data.test,
      initialParams: cifar10CnnParams,
      logits: cifar10CnnLogits,
      evalChunk: 250,
    });
  },
};

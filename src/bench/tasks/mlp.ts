/**
 * Multilayer-perceptron classification tasks: `fashion-mnist-mlp` and `mnist-mlp` (784-512-512-10 ReLU,
 * read through `loadMnist`; Fashion-MNIST falls back to the repository's embedded subset) and
 * `synthetic`, a teacher–student problem generated from the seed, run only when asked for by name.
 * @module
 */
import { isAbsolute, relative } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { deriveSeed, gaussian, mulberry32, uniformArray } from '../../core/random.js';
import { loadMnist, type LoadMnistOptions, type MnistDataset } from '../data/index.js';
import { classificationInstance, holdOut, type Split } from './classification.js';
import { dense } from './ops.js';
import type { Batch, DataInfo, ParamInit, TaskDefinition, TaskInstance } from './types.js';

/**
 * Parameters of a ReLU MLP with layer sizes `sizes`: Glorot-uniform kernels `[fanIn, fanOut]` drawn with
 * mulberry32 from the seed, zero biases. Kernels are named `hidden<l>/kernel` and the last `logits/kernel`
 * (role `head`: Muon's authors give the output layer to AdamW); biases have role `vector`.
 */
export function mlpParams(sizes: readonly number[], seed: number): ParamInit[] {
  const rand = mulberry32(deriveSeed(seed, 'init'));
  const out: ParamInit[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const fanIn = sizes[l];
    const fanOut = sizes[l + 1];
    const last = l + 2 === sizes.length;
    const layer = last ? 'logits' : `hidden${l + 1}`;
    out.push(
      { name: `${layer}/kernel`, shape: [fanIn, fanOut], values: uniformArray(fanIn * fanOut, Math.sqrt(6 / (fanIn + fanOut)), rand), role: last ? 'head' : 'hidden' },
      { name: `${layer}/bias`, shape: [fanOut], values: new Float32Array(fanOut), role: 'vector' },
    );
  }
  return out;
}

/** Logits of the ReLU MLP whose kernels and biases alternate in `params`. */
export function mlpLogits(params: readonly tf.Tensor[], x: tf.Tensor): tf.Tensor2D {
  let h = x as tf.Tensor2D;
  const layers = params.length / 2;
  for (let l = 0; l < layers; l++) {
    h = dense(h, params[2 * l] as tf.Tensor2D, params[2 * l + 1] as tf.Tensor1D, l > 0);
    if (l < layers - 1) h = tf.relu(h);
  }
  return h;
}

function mlpDescription(sizes: readonly number[]): string {
  return `${sizes.join('-')} ReLU MLP (Glorot-uniform init), softmax cross-entropy`;
}

/** Learning rates for the MLP tasks (KellerJordan/Muon README: 0.02 for Muon; AdamW 1e-3). */
const mlpLearningRates = { muon: 0.02, adamw: 1e-3, adam: 1e-3, sgd: 0.05 };

/** `12345` as `12,345` (the captions' thousands separators, independent of the locale). */
function count(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `train / validation / test` example counts in words. */
export function describeSplits(splits: { train: number; validation: number; test: number }): string {
  return `${count(splits.train)} train / ${count(splits.validation)} validation / ${count(splits.test)} test`;
}

/** A path relative to the working directory when it lies below it (shorter captions), else absolute. */
function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/**
 * A 784-512-512-10 ReLU MLP on MNIST or Fashion-MNIST. With the full set, 5,000 training images
 * (seeded) are held out for validation (55k / 5k / 10k). `fashion-mnist-mlp` falls back to the
 * repository's embedded subset when the full set is found nowhere and no `dataDir` was given
 * (10k train images, of which 1,000 are held out: 9k / 1k / 2k); the instance's `data` says which.
 * `locations` overrides the package directory searched and the subset used (tests).
 */
export function mnistMlpTask(
  name: string,
  dataset: MnistDataset,
  title: string,
  locations: Pick<LoadMnistOptions, 'packageDir' | 'embeddedSubset'> = {},
): TaskDefinition {
  const sizes = [784, 512, 512, 10];
  const subset = dataset === 'fashionMnist' ? (locations.embeddedSubset ?? true) : false;
  return {
    name,
    summary:
      `${title} (55k train / 5k validation / 10k test${subset ? '; else the embedded 9k / 1k / 2k subset' : ''}), ` +
      '784-512-512-10 ReLU MLP, softmax cross-entropy',
    needsData: true,
    // 300 steps, evaluated every 50: the default run (`npm start`: Muon vs AdamW) takes about a minute on 2 cores.
    defaults: { steps: 300, batch: 128, evalEvery: 50, evalLimit: 2000, learningRates: mlpLearningRates },
    async load(o) {
      const data = await loadMnist({
        dataset,
        dataDir: o.dataDir,
        download: o.download,
        cacheDir: o.cacheDir,
        embeddedSubset: subset,
        packageDir: locations.packageDir,
      });
      const validationCount = data.embedded ? 1000 : Math.min(5000, Math.floor(data.train.count / 12));
      const { train, validation } = holdOut(data.train, validationCount, 784, o.seed);
      const splits = { train: train.count, validation: validation.count, test: data.test.count };
      const where = displayPath(data.dir);
      const info: DataInfo = {
        dataset: title,
        kind: data.embedded ? 'subset' : 'full',
        path: data.dir,
        splits,
        searched: data.searched,
        description: data.embedded
          ? `${title} embedded subset (${where}; the full set was not found): ${describeSplits(splits)}`
          : `${title} full set at ${where}: ${describeSplits(splits)}`,
      };
      return {
        ...classificationInstance({
          name,
          source: data.dir,
          model: mlpDescription(sizes),
          exampleShape: [784],
          numClasses: 10,
          train,
          validation,
          test: data.test,
          initialParams: (seed) => mlpParams(sizes, seed),
          logits: mlpLogits,
        }),
        data: info,
      };
    },
  };
}

/** Sizes of a {@link syntheticTask}. */
export interface SyntheticTaskOptions {
  /** Registry name (default `'synthetic'`). */
  name?: string;
  /** Input dimension (default 784, as MNIST). */
  inputSize?: number;
  /** Classes (default 10). */
  numClasses?: number;
  /** Hidden widths of the student MLP (default [512, 512], as the MNIST tasks). */
  hidden?: readonly number[];
  /** Hidden width of the teacher (default 64). */
  teacherHidden?: number;
  /**
   * Nominal training-set size, validation included (default 8192): batch indices are drawn from
   * `[0, trainCount − validationCount)`. No training example is stored: every batch is a fresh sample.
   */
  trainCount?: number;
  /** Of which held out for validation, drawn once (default 1/8 of trainCount). */
  validationCount?: number;
  /** Held-out test examples, drawn once (default 2048). */
  testCount?: number;
}

/** Inputs drawn for fitting the class offsets (not used for training or evaluation). */
const CALIBRATION_COUNT = 8192;

/**
 * A teacher–student classification task that needs no files, run only when asked for by name
 * (`--task synthetic`). Inputs are standard Gaussian vectors; a random teacher MLP
 * `x → tanh(W₁x) → W₂h` (W₁ ~ N(0, 1/inputSize), W₂ ~ N(0, 1/teacherHidden)) scores the classes and
 * the label is the highest score, after one offset per class is fitted (on a separate calibration
 * sample) so that the classes come out roughly balanced. Everything is drawn from the seed in float64.
 *
 * It cannot be memorised: every training batch is a fresh sample from the teacher's distribution —
 * the batch of example indices `I` is drawn from a stream seeded by the data seed and the indices
 * themselves, so a batch depends only on what the runner asks for (the same for every optimizer, and on
 * resume), and since the runner reshuffles every epoch, no batch of inputs is ever seen twice. The
 * validation and test sets are held-out samples of the same distribution, so validation tracks
 * training: the train/validation gap measures only the student's error, not memorisation.
 */
export function syntheticTask(options: SyntheticTaskOptions = {}): TaskDefinition {
  const inputSize = options.inputSize ?? 784;
  const numClasses = options.numClasses ?? 10;
  const hidden = options.hidden ?? [512, 512];
  const teacherHidden = options.teacherHidden ?? 64;
  const trainCount = options.trainCount ?? 8192;
  const validationCount = options.validationCount ?? Math.max(1, Math.floor(trainCount / 8));
  const testCount = options.testCount ?? 2048;
  for (const [k, v] of Object.entries({ inputSize, numClasses, teacherHidden, trainCount, testCount, validationCount })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`syntheticTask: ${k} must be a positive integer, got ${v}`);
  }
  if (numClasses < 2) throw new RangeError(`syntheticTask: numClasses must be at least 2, got ${numClasses}`);
  if (validationCount >= trainCount) {
    throw new RangeError(`syntheticTask: validationCount (${validationCount}) must be smaller than trainCount (${trainCount})`);
  }
  const trainNominal = trainCount - validationCount;
  const name = options.name ?? 'synthetic';
  const sizes = [inputSize, ...hidden, numClasses];
  return {
    name,
    summary:
      `teacher–student task (no data needed; run only when named): ${inputSize}-d Gaussian inputs, ${numClasses} classes ` +
      `from a random tanh teacher, a fresh sample every batch, ${validationCount} validation / ${testCount} test held out, ` +
      `${sizes.join('-')} ReLU MLP`,
    needsData: false,
    defaults: { steps: 300, batch: 128, evalEvery: 100, evalLimit: 1024, learningRates: mlpLearningRates },
    load(o) {
      const teacher = makeTeacher(o.seed, inputSize, numClasses, teacherHidden);
      const validation = teacher.sample(validationCount, mulberry32(deriveSeed(o.seed, 'synthetic-task/validation')));
      const test = teacher.sample(testCount, mulberry32(deriveSeed(o.seed, 'synthetic-task/test')));
      const instance = classificationInstance({
        name,
        source: 'synthetic',
        model: mlpDescription(sizes),
        exampleShape: [inputSize],
        numClasses,
        // Nothing is stored for training: `batch` below draws each batch fresh.
        train: { images: new Float32Array(0), labels: new Uint8Array(0), count: trainNominal },
        validation,
        test,
        initialParams: (seed) => mlpParams(sizes, seed),
        logits: mlpLogits,
      });
      const batchSeed = deriveSeed(o.seed, 'synthetic-task/batches');
      const splits = { train: trainNominal, validation: validationCount, test: testCount };
      return Promise.resolve({
        ...instance,
        splits,
        data: {
          dataset: 'teacher–student (synthetic)',
          kind: 'generated',
          path: null,
          splits,
          searched: [],
          description:
            `generated from the seed: a fresh teacher sample every batch (${trainNominal} indices per epoch), ` +
            `${validationCount} validation / ${testCount} test held out`,
        },
        batch(indices: Uint32Array): Batch {
          const fresh = teacher.sample(indices.length, mulberry32(indicesSeed(batchSeed, indices)));
          const ys = Int32Array.from(fresh.labels);
          return { tensors: [tf.tensor2d(fresh.images, [fresh.count, inputSize]), tf.tensor1d(ys, 'int32')] };
        },
      } satisfies TaskInstance);
    },
  };
}

/** A seed from `seed` and the batch's example indices (FNV-1a over them, in order). */
function indicesSeed(seed: number, indices: Uint32Array): number {
  let h = 0x811c9dc5 ^ seed;
  for (const i of indices) {
    for (let b = 0; b < 32; b += 8) h = Math.imul(h ^ ((i >>> b) & 0xff), 0x01000193);
  }
  return deriveSeed(h >>> 0, 'synthetic-task/batch');
}

/** The random teacher: its weights and class offsets, and a sampler of labelled inputs. */
interface Teacher {
  sample(count: number, rand: () => number): Split;
}

function makeTeacher(seed: number, inputSize: number, numClasses: number, teacherHidden: number): Teacher {
  const rand = mulberry32(deriveSeed(seed, 'synthetic-task'));
  const w1 = new Float64Array(teacherHidden * inputSize);
  const s1 = 1 / Math.sqrt(inputSize);
  for (let i = 0; i < w1.length; i++) w1[i] = gaussian(rand) * s1;
  const w2 = new Float64Array(numClasses * teacherHidden);
  const s2 = 1 / Math.sqrt(teacherHidden);
  for (let i = 0; i < w2.length; i++) w2[i] = gaussian(rand) * s2;
  const h = new Float64Array(teacherHidden);
  const scoresOf = (images: Float32Array, count: number): Float64Array => {
    const scores = new Float64Array(count * numClasses);
    for (let n = 0; n < count; n++) {
      const x = n * inputSize;
      for (let j = 0; j < teacherHidden; j++) {
        let acc = 0;
        const w = j * inputSize;
        for (let i = 0; i < inputSize; i++) acc += w1[w + i] * images[x + i];
        h[j] = Math.tanh(acc);
      }
      for (let c = 0; c < numClasses; c++) {
        let acc = 0;
        const w = c * teacherHidden;
        for (let j = 0; j < teacherHidden; j++) acc += w2[w + j] * h[j];
        scores[n * numClasses + c] = acc;
      }
    }
    return scores;
  };
  const offset = new Float64Array(numClasses);
  const assign = (scores: Float64Array, count: number, labels: Uint8Array): void => {
    for (let n = 0; n < count; n++) {
      let best = 0;
      for (let c = 1; c < numClasses; c++) {
        if (scores[n * numClasses + c] + offset[c] > scores[n * numClasses + best] + offset[best]) best = c;
      }
      labels[n] = best;
    }
  };
  const draw = (count: number, r: () => number): Float32Array => {
    const images = new Float32Array(count * inputSize);
    for (let i = 0; i < images.length; i++) images[i] = gaussian(r);
    return images;
  };
  // argmax of the raw scores favours a few classes: fit one offset per class on a calibration sample so
  // that each class wins on about 1/numClasses of the inputs (a few rounds of log-ratio updates).
  const calibration = CALIBRATION_COUNT;
  const calScores = scoresOf(draw(calibration, mulberry32(deriveSeed(seed, 'synthetic-task/calibration'))), calibration);
  const calLabels = new Uint8Array(calibration);
  let spread = 0;
  for (let i = 0; i < calScores.length; i++) spread += calScores[i] * calScores[i];
  spread = Math.sqrt(spread / calScores.length);
  const counts = new Float64Array(numClasses);
  for (let round = 0; round < 50; round++) {
    assign(calScores, calibration, calLabels);
    counts.fill(0);
    for (const l of calLabels) counts[l]++;
    for (let c = 0; c < numClasses; c++) offset[c] += 0.1 * spread * Math.log(calibration / numClasses / (counts[c] + 1));
  }
  return {
    sample(count, r) {
      const images = draw(count, r);
      const labels = new Uint8Array(count);
      assign(scoresOf(images, count), count, labels);
      return { images, labels, count };
    },
  };
}

/**
 * `shakespeare-char`: a character-level decoder-only transformer language model on Tiny Shakespeare,
 * the setting of nanoGPT's `shakespeare_char` config (Karpathy, nanoGPT `model.py`,
 * `config/train_shakespeare_char.py`) and of the Muon speedruns (Jordan et al., modded-nanogpt), scaled
 * down to run on the CPU: by default 4 layers, width 128, 4 heads, context 128.
 *
 * The model is GPT-2's pre-norm block (Radford et al. 2019) written with functional tfjs ops over a flat
 * parameter list: token + learned positional embeddings, then per layer
 * `x += Wo·attn(norm(x))` and `x += W2·act(W1·norm(x))`, a final norm and an untied output head.
 * Norms are RMSNorm (Zhang & Sennrich 2019) with a gain vector and no bias; there are no biases at
 * all (as modded-nanogpt). Parameter roles follow the Muon authors: the Q, K, V, O and MLP matrices are
 * `hidden` (orthogonalized), the two embeddings and the head go to AdamW, gains are `vector`.
 *
 * Speed on wasm (see `ops.ts`): every projection is a 2-D product through `matMul2d` on `[B·T, C]`
 * rows; the embedding lookup is a one-hot product (wasm has no `UnsortedSegmentSum`, the gradient of
 * `gather`). The per-head products `Q·Kᵀ` and `P·V` are 3-D `tf.matMul`s on `[B·H, T, d]`, left to
 * tfjs's autodiff: on wasm they run a naive loop (≈2 GFLOP/s), yet a loop of 2-D XNNPACK products was
 * slower, measured here (2 shared cores). Taking the heads apart with `unstack`/`split`/`slice` costs a
 * copy of the whole input per piece (wasm's `Slice` reads its input out of the heap: 64 × [128,128]·
 * [128,32] took 27 ms as one 3-D product, 290–620 ms as a loop over `unstack`, although the 64 2-D
 * products alone take 4 ms). With a native `gather` per head and a hand-written attention gradient, the
 * attention forward + backward took 173–308 ms against 62–70 ms for the 3-D form at `[64, 64, 16]`, and
 * 362–520 ms against 345–350 ms at `[64, 128, 32]` (per-op overhead of 64 heads × ~25 small ops).
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { deriveSeed, gaussianArray, mulberry32 } from '../../core/random.js';
import { encodeChars, loadShakespeare, textSplits, type TextSpan } from '../data/shakespeare.js';
import { matMul2d, sparseSoftmaxCrossEntropy } from './ops.js';
import type { Batch, EvalMetrics, ParamInit, TaskDefaults, TaskDefinition, TaskInstance, TaskLoadOptions } from './types.js';

/** The shape of the character transformer. */
export interface CharTransformerConfig {
  vocab: number;
  layers: number;
  width: number;
  heads: number;
  /** Context length T: the training windows' length and the positional table's size. */
  context: number;
  /** MLP hidden width = `mlpRatio · width` (GPT-2: 4). */
  mlpRatio: number;
  /** MLP nonlinearity: `gelu` (exact, erf form, as GPT-2 / nanoGPT) or `relu`. */
  activation: 'gelu' | 'relu';
}

/** What `shakespeareCharTask` accepts; every field has a default (the registered `shakespeare-char`). */
export interface ShakespeareCharOptions {
  /** Registry name (default `'shakespeare-char'`). */
  name?: string;
  layers?: number;
  width?: number;
  heads?: number;
  context?: number;
  mlpRatio?: number;
  activation?: 'gelu' | 'relu';
  /** Windows per evaluation chunk (bounds memory; default 32). */
  evalChunk?: number;
  /** Overrides of the default run settings. */
  defaults?: Partial<TaskDefaults>;
  /**
   * Train on this text instead of Tiny Shakespeare (split the same way, vocabulary its own characters):
   * for tests and small experiments; the task then needs no data.
   */
  text?: string;
}

/** GPT-2's initialization scale (nanoGPT `_init_weights`: N(0, 0.02)). */
const initStd = 0.02;
const normEps = 1e-5;
/** Added to the scores of future positions before the softmax: exp underflows to exactly 0 in float32. */
const maskValue = -1e9;

/**
 * Parameters in the order `loss` reads them: `embed/tokens [V, C]`, `embed/positions [T, C]`, per block
 * `block<l>/norm1/gain`, `block<l>/attn/{wq,wk,wv,wo}`, `block<l>/norm2/gain`, `block<l>/mlp/{w1,w2}`,
 * then `final/norm/gain` and `head/kernel [C, V]`. Matrices are `[fanIn, fanOut]`. GPT-2 initialization:
 * every matrix N(0, 0.02), the residual projections `wo` and `w2` N(0, 0.02/√(2L)), gains 1.
 */
export function charTransformerParams(config: CharTransformerConfig, seed: number): ParamInit[] {
  const { vocab: V, layers: L, width: C, context: T, mlpRatio } = config;
  const F = mlpRatio * C;
  const rand = mulberry32(deriveSeed(seed, 'init'));
  const residualStd = initStd / Math.sqrt(2 * L);
  const matrix = (name: string, fanIn: number, fanOut: number, role: ParamInit['role'], std = initStd): ParamInit => ({
    name,
    shape: [fanIn, fanOut],
    values: gaussianArray(fanIn * fanOut, std, rand),
    role,
  });
  const gain = (name: string): ParamInit => ({ name, shape: [C], values: new Float32Array(C).fill(1), role: 'vector' });
  const out: ParamInit[] = [matrix('embed/tokens', V, C, 'embedding'), matrix('embed/positions', T, C, 'embedding')];
  for (let l = 1; l <= L; l++) {
    out.push(
      gain(`block${l}/norm1/gain`),
      matrix(`block${l}/attn/wq`, C, C, 'hidden'),
      matrix(`block${l}/attn/wk`, C, C, 'hidden'),
      matrix(`block${l}/attn/wv`, C, C, 'hidden'),
      matrix(`block${l}/attn/wo`, C, C, 'hidden', residualStd),
      gain(`block${l}/norm2/gain`),
      matrix(`block${l}/mlp/w1`, C, F, 'hidden'),
      matrix(`block${l}/mlp/w2`, F, C, 'hidden', residualStd),
    );
  }
  out.push(gain('final/norm/gain'), matrix('head/kernel', C, V, 'head'));
  return out;
}

/** RMSNorm over the last axis with a gain: `x / √(mean(x²) + ε) · g`. */
function rmsNorm(x: tf.Tensor2D, gain: tf.Tensor): tf.Tensor2D {
  const scale = tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), normEps));
  return tf.mul(tf.mul(x, scale), gain);
}

/** GELU, exact form `x·Φ(x) = ½x(1 + erf(x/√2))`. */
function gelu(x: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

/**
 * Rows `ids` of `table` as a one-hot product, differentiated only in `table` (`oneHotᵀ · dy`, one 2-D
 * product): wasm has no `UnsortedSegmentSum`, which `gather`'s gradient needs (see the module note).
 * The one-hot is made int32 and cast: wasm's `OneHot` with dtype `float32` writes the integer bit
 * pattern of 1 (a 1.4e-45 denormal), measured in tfjs-backend-wasm 4.22.
 */
function embedRows(ids: tf.Tensor1D, table: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [tab, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const oneHot = tf.cast(tf.oneHot(ids, tab.shape[0]), 'float32') as tf.Tensor2D;
    save([oneHot]);
    return {
      value: tf.matMul(oneHot, tab),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.matMul(tf.transpose(saved[0] as tf.Tensor2D), dy as tf.Tensor2D)],
    };
  });
  return op(table) as tf.Tensor2D;
}

/** `[T, T]` additive causal mask: 0 on and below the diagonal, {@link maskValue} above. */
function causalMask(T: number): tf.Tensor2D {
  const values = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) values[i * T + j] = maskValue;
  return tf.tensor2d(values, [T, T]);
}

/**
 * Next-character logits `[B·T, V]` of the windows `inputs` (`[B, T]` int32, T ≤ context): row `b·T + t`
 * predicts the character after position `t` of window `b`, seeing only positions `≤ t`.
 * `mask` is {@link causalMask}`(T)`. With `reference` true the same function is built from plain tfjs
 * ops only (`tf.matMul`, 3-D attention, autodiff everywhere): the oracle the tests hold the fast
 * gradients to.
 */
export function charTransformerLogits(
  config: CharTransformerConfig,
  params: readonly tf.Tensor[],
  inputs: tf.Tensor2D,
  mask: tf.Tensor2D,
  reference = false,
): tf.Tensor2D {
  const mm: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D = reference ? (a, b) => tf.matMul(a, b) : matMul2d;
  const { vocab: V, layers: L, width: C, heads: H, context } = config;
  const [B, T] = inputs.shape;
  if (T > context) throw new RangeError(`charTransformerLogits: windows of ${T} characters exceed the context ${context}`);
  const d = C / H;
  const N = B * T;
  const ids = tf.reshape(inputs, [N]) as tf.Tensor1D;
  const tokens = reference ? tf.matMul(tf.cast(tf.oneHot(ids, V), 'float32'), params[0] as tf.Tensor2D) : embedRows(ids, params[0] as tf.Tensor2D);
  const positions = T === context ? params[1] : tf.slice(params[1], [0, 0], [T, C]);
  let x = tf.reshape(tf.add(tf.reshape(tokens, [B, T, C]), positions), [N, C]) as tf.Tensor2D;
  // [N, C] → [B·H, T, d]: the heads split off the channels.
  const heads = (y: tf.Tensor2D): tf.Tensor3D => tf.reshape(tf.transpose(tf.reshape(y, [B, T, H, d]), [0, 2, 1, 3]), [B * H, T, d]);
  for (let l = 0; l < L; l++) {
    const [g1, wq, wk, wv, wo, g2, w1, w2] = params.slice(2 + 8 * l, 10 + 8 * l) as tf.Tensor2D[];
    const h = rmsNorm(x, g1);
    const q = heads(tf.mul(mm(h, wq), 1 / Math.sqrt(d)));
    const k = heads(mm(h, wk));
    const v = heads(mm(h, wv));
    // 3-D products on [B·H, T, d] (see the module note for why not a loop of 2-D ones).
    const p = tf.softmax(tf.add(tf.matMul(q, tf.transpose(k, [0, 2, 1])), mask));
    const o = tf.matMul(p, v); // [B·H, T, d]
    const merged = tf.reshape(tf.transpose(tf.reshape(o, [B, H, T, d]), [0, 2, 1, 3]), [N, C]) as tf.Tensor2D;
    x = tf.add(x, mm(merged, wo));
    const u = mm(rmsNorm(x, g2), w1);
    x = tf.add(x, mm(config.activation === 'gelu' ? gelu(u) : tf.relu(u), w2));
  }
  const final = rmsNorm(x, params[2 + 8 * L]);
  return mm(final, params[3 + 8 * L] as tf.Tensor2D);
}

/** Number of parameters of the model. */
export function charTransformerSize(config: CharTransformerConfig): number {
  const { vocab: V, layers: L, width: C, context: T, mlpRatio } = config;
  return V * C + T * C + L * (2 * C + 4 * C * C + 2 * mlpRatio * C * C) + C + C * V;
}

/**
 * Learning rates for this task. AdamW 3e-3 (nanoGPT's shakespeare_char uses 1e-3 at batch 64 for 5000
 * steps; we run batch 16 for a few hundred): measured here, the small size goes from 6.0 to 3.2
 * validation bpc in 500 steps. Muon 0.02 is Keller Jordan's default, not swept on this task.
 */
const charLearningRates = { adamw: 3e-3, adam: 3e-3, muon: 0.02 };

/** The settings of the two registered sizes. */
const sizes = {
  'shakespeare-char': { layers: 4, width: 128, heads: 4, context: 128, defaults: { steps: 600, batch: 16, evalEvery: 100, evalLimit: 64 } },
  'shakespeare-char-small': { layers: 2, width: 64, heads: 4, context: 64, defaults: { steps: 500, batch: 16, evalEvery: 100, evalLimit: 128 } },
} as const;

function checkPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`shakespeareCharTask: ${name} must be a positive integer, got ${value}`);
}

/**
 * A character-level transformer task on Tiny Shakespeare (or on `options.text`). Batch indices are window
 * starts in the train split (`trainCount = trainTokens − context`); a batch is the windows `[B, T]` and
 * the next characters `[B·T]`. Loss: mean next-character cross-entropy (nats). Metric: bits per
 * character, mean loss / ln 2. `evaluate` reads the split's non-overlapping windows from its start
 * (`limit` caps their number), in chunks of `evalChunk` windows.
 */
export function shakespeareCharTask(options: ShakespeareCharOptions = {}): TaskDefinition {
  const name = options.name ?? 'shakespeare-char';
  const base = name in sizes ? sizes[name as keyof typeof sizes] : sizes['shakespeare-char'];
  const shape = {
    layers: options.layers ?? base.layers,
    width: options.width ?? base.width,
    heads: options.heads ?? base.heads,
    context: options.context ?? base.context,
    mlpRatio: options.mlpRatio ?? 4,
    activation: options.activation ?? 'gelu',
  };
  const evalChunk = options.evalChunk ?? 32;
  for (const [key, value] of Object.entries({ ...shape, evalChunk })) if (typeof value === 'number') checkPositiveInteger(key, value);
  if (shape.width % shape.heads !== 0) {
    throw new RangeError(`shakespeareCharTask: width ${shape.width} must be a multiple of heads ${shape.heads}`);
  }
  if (shape.activation !== 'gelu' && shape.activation !== 'relu') {
    throw new RangeError(`shakespeareCharTask: activation must be 'gelu' or 'relu', got ${JSON.stringify(shape.activation)}`);
  }
  const { layers, width, heads, context } = shape;
  const text = options.text;
  return {
    name,
    summary:
      `Tiny Shakespeare, character-level transformer (${layers} layers, width ${width}, ${heads} heads, context ${context}), ` +
      'next-character cross-entropy, bits per character',
    needsData: text === undefined,
    defaults: { ...base.defaults, learningRates: charLearningRates, ...options.defaults },
    async load(o: TaskLoadOptions): Promise<TaskInstance> {
      if (text !== undefined) {
        const encoded = encodeChars(text);
        return charInstance(name, 'text option', encoded.tokens, encoded.vocab.length, textSplits(encoded.tokens.length), shape, evalChunk);
      }
      const data = await loadShakespeare({ dataDir: o.dataDir, download: o.download, cacheDir: o.cacheDir });
      return charInstance(name, data.dir, data.tokens, data.vocab.length, data.splits, shape, evalChunk);
    },
  };
}

function charInstance(
  name: string,
  source: string,
  tokens: Uint8Array | Uint16Array,
  vocab: number,
  spans: { train: TextSpan; validation: TextSpan; test: TextSpan },
  shape: Omit<CharTransformerConfig, 'vocab'>,
  evalChunk: number,
): TaskInstance {
  const config: CharTransformerConfig = { vocab, ...shape };
  const T = config.context;
  const length = (s: TextSpan): number => s.end - s.start;
  const trainCount = length(spans.train) - T;
  for (const split of ['validation', 'test'] as const) {
    if (length(spans[split]) < T + 1) {
      throw new RangeError(`${name}: the ${split} split has ${length(spans[split])} characters, fewer than context + 1 = ${T + 1}`);
    }
  }
  if (trainCount < 1) throw new RangeError(`${name}: the train split has ${length(spans.train)} characters, not more than the context ${T}`);
  const mask = tf.keep(causalMask(T));

  /** Windows starting at `starts` (absolute token positions): inputs `[n, T]` and next characters `[n·T]`. */
  const windows = (starts: ArrayLike<number>): [tf.Tensor2D, tf.Tensor1D] => {
    const n = starts.length;
    const x = new Int32Array(n * T);
    const y = new Int32Array(n * T);
    for (let b = 0; b < n; b++) {
      const s = starts[b];
      for (let t = 0; t < T; t++) {
        x[b * T + t] = tokens[s + t];
        y[b * T + t] = tokens[s + t + 1];
      }
    }
    return [tf.tensor2d(x, [n, T], 'int32'), tf.tensor1d(y, 'int32')];
  };

  return {
    name,
    source,
    trainCount,
    splits: { train: length(spans.train), validation: length(spans.validation), test: length(spans.test) },
    metric: { name: 'bpc', label: 'bits per character', higherIsBetter: false },
    model:
      `${config.layers}-layer pre-RMSNorm char transformer, width ${config.width}, ${config.heads} heads, context ${T}, ` +
      `${config.activation.toUpperCase()} MLP ×${config.mlpRatio}, vocab ${vocab}, untied head, no biases, ` +
      `${(charTransformerSize(config) / 1e6).toFixed(2)}M params (GPT-2 init)`,
    initialParams: (seed) => charTransformerParams(config, seed),
    batch(indices: Uint32Array): Batch {
      const starts = new Uint32Array(indices.length);
      for (let i = 0; i < indices.length; i++) {
        if (indices[i] >= trainCount) throw new RangeError(`${name}: window start ${indices[i]} is not below trainCount ${trainCount}`);
        starts[i] = spans.train.start + indices[i];
      }
      return { tensors: windows(starts) };
    },
    loss(params: readonly tf.Variable[], batch: Batch): tf.Scalar {
      const [x, y] = batch.tensors as [tf.Tensor2D, tf.Tensor1D];
      return sparseSoftmaxCrossEntropy(charTransformerLogits(config, params, x, mask), y);
    },
    evaluate(params: readonly tf.Variable[], split: 'validation' | 'test', limit?: number): EvalMetrics {
      const span = spans[split];
      let count = Math.floor((length(span) - 1) / T);
      if (limit !== undefined) count = Math.min(count, Math.max(1, Math.floor(limit)));
      let total = 0;
      for (let first = 0; first < count; first += evalChunk) {
        const n = Math.min(evalChunk, count - first);
        const starts = Array.from({ length: n }, (_, i) => span.start + (first + i) * T);
        total += tf.tidy(() => {
          const [x, y] = windows(starts);
          return sparseSoftmaxCrossEntropy(charTransformerLogits(config, params, x, mask), y, 'sum').dataSync()[0];
        });
      }
      const loss = total / (count * T);
      return { loss, metric: loss / Math.LN2 };
    },
    dispose() {
      mask.dispose();
    },
  };
}

/** The registered default: 4 layers, width 128, 4 heads, context 128 (≈0.8M parameters). */
export const shakespeareChar = (): TaskDefinition => shakespeareCharTask();
/** A quick size: 2 layers, width 64, 4 heads, context 64 (≈0.11M parameters). */
export const shakespeareCharSmall = (): TaskDefinition => shakespeareCharTask({ name: 'shakespeare-char-small' });

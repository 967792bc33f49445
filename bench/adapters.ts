/**
 * `npm run bench:adapters`: parameter-efficient fine-tuning of a small pretrained MLP with the orthogonal
 * adapters of `src/tfjs/adapters.ts` (HRA, OFTv2) against full fine-tuning, a LoRA-style low-rank
 * adapter and a head-only probe — accuracy against trainable parameters, on the wasm backend.
 *
 * Protocol: a 784-256-128 ReLU body and a softmax head are pretrained on the **source** task (at most
 * 6,000 images, a seeded draw); each
 * method then copies the body, puts its adapter (or nothing) on both hidden Dense layers, adds a fresh
 * head (the same seeded initial weights for every method) and trains on the **target** task with Adam;
 * the table reports target test accuracy and the trainable parameter count (head included). Each
 * method's learning rate is picked from `--lrs` on a validation split held out of the target training
 * examples; the test split is read once per method, at the picked rate.
 *
 * Source and target: MNIST → Fashion-MNIST when MNIST is on disk (`ORTHOPTIM_DATA_DIR`, `--data-dir`
 * or the download cache; nothing is downloaded). Otherwise — as on a fresh clone — both come from the
 * repository's embedded Fashion-MNIST subset: classes 0–4 (T-shirt … Coat) are the source and classes
 * 5–9 (Sandal … Ankle boot) the target, with the report saying so.
 *
 * Adapters (both hidden layers): HRA r = 8 (PEFT default), OFTv2 b = 16 (784 = 49·16, 256 = 16·16; PEFT's
 * default 32 does not divide 784), LoRA r = 8 with PEFT's init (A Kaiming-uniform, B = 0, scale α/r = 1).
 *
 * The wasm backend with `accelerateWasm()` (XNNPACK for the transposed products of the backward pass)
 * and the `UnsortedSegmentSum` kernel OFTv2's gather gradient needs.
 *
 * Output: a Markdown table on stdout and `<out>/adapters.md`, `<out>/adapters.json`.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { deriveSeed, mulberry32, shuffledIndices, uniformArray } from '../src/core/random.js';
import { DataNotFoundError, loadMnist, mnistImagePixels, type MnistSplit } from '../src/bench/data/index.js';
import { formatTable } from '../src/bench/table.js';
import { commandLine, parseArgs, type CommandSpec } from '../src/cli/args.js';
import { hraParameterCount, oftParameterCount } from '../src/nn/adapters.js';
import { hraDense, oftv2Dense } from '../src/tfjs/adapters.js';
import { accelerateWasm } from '../src/tfjs/wasmMatMul.js';
import { registerWasmSegmentSum } from '../src/tfjs/wasmSegmentSum.js';
import { runIfMain, writeReportFiles } from '../src/bench/script.js';

const methodNames = ['head', 'full', 'lora', 'hra', 'oftv2'] as const;
type MethodName = (typeof methodNames)[number];

const command = {
  name: 'npm run bench:adapters --',
  summary: 'Fine-tune a pretrained MLP with HRA, OFTv2, LoRA-style low rank, full fine-tuning and a head-only probe: accuracy vs trainable parameters.',
  flags: {
    'pretrain-epochs': { type: 'integer', default: 2, min: 1, description: 'Epochs on the source task.' },
    'finetune-epochs': { type: 'integer', default: 3, min: 1, description: 'Epochs on the target task, per method and learning rate.' },
    'finetune-examples': { type: 'integer', default: 2000, min: 10, description: 'Target training examples (seeded draw); 20% of them are the validation split.' },
    lrs: { type: 'list', default: ['0.001', '0.01', '0.03'], description: 'Adam learning rates tried per method (picked on validation).' },
    seed: { type: 'integer', default: 0, min: 0, description: 'First seed of the draws and initial weights.' },
    seeds: { type: 'integer', default: 3, min: 1, description: 'Runs, with seeds seed, seed + 1, …: the table gives the mean and range of test accuracy.' },
    'data-dir': { type: 'string', valueName: 'DIR', description: 'A directory holding MNIST (else the usual search; nothing is downloaded).' },
    out: { type: 'string', default: 'results/adapters', valueName: 'DIR', description: 'Folder for adapters.md and adapters.json.' },
  },
  notes: ['Without MNIST on disk the transfer is Fashion-MNIST classes 0–4 → 5–9 on the embedded subset.'],
} as const satisfies CommandSpec;

export interface AdaptersConfig {
  readonly pretrainEpochs: number;
  readonly finetuneEpochs: number;
  readonly finetuneExamples: number;
  readonly lrs: readonly number[];
  readonly seed: number;
  readonly seeds: number;
  readonly dataDir: string | undefined;
  readonly out: string;
}

function parseAdapterArgs(argv: readonly string[]): AdaptersConfig | 'help' {
  const parsed = parseArgs(argv, command);
  if (parsed.help) return 'help';
  const f = parsed.flags;
  const lrs = f.lrs.map(Number);
  const bad = f.lrs.find((s, i) => !(Number.isFinite(lrs[i]) && lrs[i] > 0));
  if (bad !== undefined) throw new RangeError(`bench:adapters: --lrs must be positive numbers, got ${JSON.stringify(bad)}`);
  return {
    pretrainEpochs: f['pretrain-epochs'],
    finetuneEpochs: f['finetune-epochs'],
    finetuneExamples: f['finetune-examples'],
    lrs,
    seed: f.seed,
    seeds: f.seeds,
    dataDir: f['data-dir'],
    out: f.out,
  };
}

// ---------------------------------------------------------------------------------------------------
// Data

interface Examples {
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly count: number;
}

interface Transfer {
  readonly description: string;
  readonly source: Examples;
  readonly sourceClasses: number;
  readonly train: Examples;
  readonly validation: Examples;
  readonly test: Examples;
  readonly targetClasses: number;
}

/** The examples of `split` whose label is in `classes` (relabelled 0…), in their order. */
function selectClasses(split: MnistSplit, classes: readonly number[]): Examples {
  const index = new Map(classes.map((c, i) => [c, i]));
  const keep: number[] = [];
  for (let i = 0; i < split.count; i++) if (index.has(split.labels[i])) keep.push(i);
  return take(split, keep, (l) => index.get(l)!);
}

function take(split: { images: Float32Array; labels: ArrayLike<number> }, rows: readonly number[], relabel: (l: number) => number = (l) => l): Examples {
  const images = new Float32Array(rows.length * mnistImagePixels);
  const labels = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    images.set(split.images.subarray(r * mnistImagePixels, (r + 1) * mnistImagePixels), i * mnistImagePixels);
    labels[i] = relabel(split.labels[r]);
  });
  return { images, labels, count: rows.length };
}

/** Source examples used for pretraining (a seeded draw when there are more): keeps the run short. */
const SOURCE_EXAMPLES = 6000;

function capped(all: Examples, count: number, seed: number): Examples {
  if (all.count <= count) return all;
  const rows = Array.from(shuffledIndices(all.count, mulberry32(deriveSeed(seed, 'adapters/source')))).slice(0, count).sort((a, b) => a - b);
  return take(all, rows);
}

/** A seeded draw of `count` target examples, the first 20% of it as validation. */
function drawTarget(all: Examples, count: number, seed: number): { train: Examples; validation: Examples } {
  const order = Array.from(shuffledIndices(all.count, mulberry32(deriveSeed(seed, 'adapters/target')))).slice(0, Math.min(count, all.count));
  const nVal = Math.max(1, Math.round(0.2 * order.length));
  return { validation: take(all, order.slice(0, nVal)), train: take(all, order.slice(nVal)) };
}

async function loadTransfer(config: AdaptersConfig): Promise<Transfer> {
  const fashion = await loadMnist({ dataset: 'fashionMnist', embeddedSubset: true });
  const fashionWhere = fashion.embedded ? 'the embedded Fashion-MNIST subset' : `Fashion-MNIST (${fashion.dir})`;
  let mnist: Awaited<ReturnType<typeof loadMnist>> | null = null;
  try {
    mnist = await loadMnist({ dataset: 'mnist', dataDir: config.dataDir });
  } catch (e) {
    if (!(e instanceof DataNotFoundError) || config.dataDir !== undefined) throw e;
  }
  if (mnist !== null) {
    const all = take(fashion.train, Array.from({ length: fashion.train.count }, (_, i) => i));
    const { train, validation } = drawTarget(all, config.finetuneExamples, config.seed);
    const source = capped(take(mnist.train, Array.from({ length: mnist.train.count }, (_, i) => i)), SOURCE_EXAMPLES, config.seed);
    return {
      description: `source MNIST (${source.count} train images, ${mnist.dir}) → target ${fashionWhere} (${train.count} train / ${validation.count} validation / ${fashion.test.count} test)`,
      source,
      sourceClasses: 10,
      train,
      validation,
      test: take(fashion.test, Array.from({ length: fashion.test.count }, (_, i) => i)),
      targetClasses: 10,
    };
  }
  const source = capped(selectClasses(fashion.train, [0, 1, 2, 3, 4]), SOURCE_EXAMPLES, config.seed);
  const target = selectClasses(fashion.train, [5, 6, 7, 8, 9]);
  const { train, validation } = drawTarget(target, config.finetuneExamples, config.seed);
  const test = selectClasses(fashion.test, [5, 6, 7, 8, 9]);
  return {
    description:
      `MNIST not found (nothing downloaded): source ${fashionWhere} classes 0–4 (${source.count} train images) → target classes 5–9 ` +
      `(${train.count} train / ${validation.count} validation / ${test.count} test)`,
    source,
    sourceClasses: 5,
    train,
    validation,
    test,
    targetClasses: 5,
  };
}

function tensors(e: Examples, classes: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  return tf.tidy(() => ({
    x: tf.tensor2d(e.images, [e.count, mnistImagePixels]),
    y: tf.cast(tf.oneHot(tf.tensor1d(e.labels, 'int32'), classes), 'float32') as tf.Tensor2D,
  }));
}

// ---------------------------------------------------------------------------------------------------
// Models

const HIDDEN = [256, 128] as const;
const HRA_RANK = 8;
const OFT_BLOCK = 16;
const LORA_RANK = 8;

/** Seeded Glorot-uniform Dense weights `[fanIn, fanOut]` + zero bias. */
function glorot(fanIn: number, fanOut: number, seed: number): tf.Tensor[] {
  const w = uniformArray(fanIn * fanOut, Math.sqrt(6 / (fanIn + fanOut)), mulberry32(seed));
  return [tf.tensor2d(w, [fanIn, fanOut]), tf.zeros([fanOut])];
}

/**
 * A LoRA-style adapter around a frozen Dense (bench only): `y = act(x·K + (x·A)·B·α/r + b)` with PEFT's
 * init (A Kaiming-uniform `a = √5` on `[r, d]` in PyTorch's layout, i.e. bound `1/√d`; B = 0; α = r).
 * Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models" (ICLR 2022); huggingface/peft
 * `tuners/lora/layer.py`.
 */
class LoraDense extends tfl.layers.Layer {
  static className = 'BenchLoraDense';
  private readonly frozen: tf.Tensor[];
  private readonly units: number;
  private readonly activation: string;
  private readonly seed: number;
  private kernel: tfl.LayerVariable | null = null;
  private bias: tfl.LayerVariable | null = null;
  private a: tfl.LayerVariable | null = null;
  private b: tfl.LayerVariable | null = null;

  constructor(dense: tfl.layers.Layer, seed: number, args: { inputShape?: number[] } = {}) {
    super(args);
    this.frozen = dense.getWeights().map((t) => tf.keep(tf.clone(t)));
    const cfg = dense.getConfig();
    this.units = cfg.units as number;
    this.activation = cfg.activation as string;
    this.seed = seed;
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const d = (inputShape as tfl.Shape)[(inputShape as tfl.Shape).length - 1] as number;
    this.kernel = this.addWeight('kernel', [d, this.units], 'float32', tfl.initializers.zeros(), undefined, false);
    this.bias = this.addWeight('bias', [this.units], 'float32', tfl.initializers.zeros(), undefined, false);
    this.a = this.addWeight('lora_a', [d, LORA_RANK], 'float32', tfl.initializers.zeros(), undefined, true);
    this.b = this.addWeight('lora_b', [LORA_RANK, this.units], 'float32', tfl.initializers.zeros(), undefined, true);
    this.kernel.write(this.frozen[0]);
    this.bias.write(this.frozen[1]);
    const a = this.a;
    tf.tidy(() => {
      a.write(tf.tensor2d(uniformArray(d * LORA_RANK, 1 / Math.sqrt(d), mulberry32(this.seed)), [d, LORA_RANK]));
    });
    tf.dispose(this.frozen);
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape): tfl.Shape {
    return [...inputShape.slice(0, -1), this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor2D;
      const low = tf.matMul(tf.matMul(x, this.a!.read() as tf.Tensor2D), this.b!.read() as tf.Tensor2D);
      const y = tf.add(tf.add(tf.matMul(x, this.kernel!.read() as tf.Tensor2D), low), this.bias!.read());
      return this.activation === 'relu' ? tf.relu(y) : y;
    });
  }
}

function pretrainedBody(transfer: Transfer, config: AdaptersConfig, log: (s: string) => void): Promise<{ model: tfl.Sequential; body: tfl.layers.Layer[]; accuracy: number; seconds: number }> {
  return (async () => {
    const t0 = performance.now();
    const h1 = tfl.layers.dense({ units: HIDDEN[0], activation: 'relu', inputShape: [mnistImagePixels], name: 'body1' });
    const h2 = tfl.layers.dense({ units: HIDDEN[1], activation: 'relu', name: 'body2' });
    const head = tfl.layers.dense({ units: transfer.sourceClasses, activation: 'softmax', name: 'source_head' });
    const model = tfl.sequential({ layers: [h1, h2, head] });
    h1.setWeights(glorot(mnistImagePixels, HIDDEN[0], deriveSeed(config.seed, 'adapters/body1')));
    h2.setWeights(glorot(HIDDEN[0], HIDDEN[1], deriveSeed(config.seed, 'adapters/body2')));
    head.setWeights(glorot(HIDDEN[1], transfer.sourceClasses, deriveSeed(config.seed, 'adapters/sourceHead')));
    model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const { x, y } = tensors(transfer.source, transfer.sourceClasses);
    const h = await model.fit(x, y, { epochs: config.pretrainEpochs, batchSize: 64, shuffle: false, verbose: 0 });
    const acc = h.history.acc ?? h.history.accuracy;
    const accuracy = Number(acc[acc.length - 1]);
    tf.dispose([x, y]);
    const seconds = (performance.now() - t0) / 1000;
    log(`pretrained on the source: train accuracy ${(100 * accuracy).toFixed(1)}% (${seconds.toFixed(1)} s)`);
    return { model, body: [h1, h2], accuracy, seconds };
  })();
}

/** Copies of the pretrained hidden Dense layers, with `method`'s adapter, and a fresh seeded head. */
function fineTuneModel(method: MethodName, body: readonly tfl.layers.Layer[], classes: number, seed: number): tfl.Sequential {
  const inputShape = [mnistImagePixels];
  const layers: tfl.layers.Layer[] = body.map((dense, i) => {
    const first = i === 0 ? { inputShape } : {};
    switch (method) {
      case 'hra':
        return hraDense(dense, { rank: HRA_RANK, seed: deriveSeed(seed, `hra${i}`), ...first });
      case 'oftv2':
        return oftv2Dense(dense, { blockSize: OFT_BLOCK, ...first });
      case 'lora':
        return new LoraDense(dense, deriveSeed(seed, `lora${i}`), first);
      case 'head':
      case 'full': {
        const cfg = dense.getConfig();
        const copy = tfl.layers.dense({ units: cfg.units as number, activation: 'relu', trainable: method === 'full', ...first });
        return copy;
      }
    }
  });
  const head = tfl.layers.dense({ units: classes, activation: 'softmax', name: 'target_head' });
  const model = tfl.sequential({ layers: [...layers, head] });
  if (method === 'head' || method === 'full') layers.forEach((l, i) => l.setWeights(body[i].getWeights()));
  head.setWeights(glorot(HIDDEN[1], classes, deriveSeed(seed, 'adapters/targetHead')));
  return model;
}

function accuracyOf(model: tfl.LayersModel, x: tf.Tensor2D, labels: Int32Array): number {
  const pred = tf.tidy(() => tf.argMax(model.predict(x, { batchSize: 256 }) as tf.Tensor, 1).dataSync());
  let right = 0;
  for (let i = 0; i < labels.length; i++) if (pred[i] === labels[i]) right++;
  return right / labels.length;
}

function trainableCount(model: tfl.LayersModel): number {
  return model.trainableWeights.reduce((s, w) => s + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}

/** The adapters' own parameter count from the papers' formulas (both hidden layers; head excluded). */
function formulaCount(method: MethodName): number {
  const dims = [mnistImagePixels, HIDDEN[0], HIDDEN[1]];
  let n = 0;
  for (let l = 0; l < 2; l++) {
    const [d, out] = [dims[l], dims[l + 1]];
    if (method === 'hra') n += hraParameterCount(d, HRA_RANK);
    else if (method === 'oftv2') n += oftParameterCount(d, { blockSize: OFT_BLOCK });
    else if (method === 'lora') n += LORA_RANK * (d + out);
    else if (method === 'full') n += d * out + out;
  }
  return n;
}

interface MethodResult {
  method: MethodName;
  label: string;
  trainable: number;
  adapterParameters: number;
  lr: number;
  validationAccuracy: Record<string, number>;
  testAccuracy: number;
  seconds: number;
}

const labels: Record<MethodName, string> = {
  head: 'head only (frozen body)',
  full: 'full fine-tuning',
  lora: `LoRA-style r = ${LORA_RANK}`,
  hra: `HRA r = ${HRA_RANK}`,
  oftv2: `OFTv2 b = ${OFT_BLOCK}`,
};

/** One seed's run. */
export interface SeedResult {
  seed: number;
  data: string;
  pretrain: { epochs: number; trainAccuracy: number; seconds: number };
  methods: MethodResult[];
}

/** One method over the seeds. */
export interface MethodSummary {
  method: MethodName;
  label: string;
  trainable: number;
  adapterParameters: number;
  meanTestAccuracy: number;
  minTestAccuracy: number;
  maxTestAccuracy: number;
  lrs: number[];
  seconds: number;
}

export interface AdaptersResult {
  config: AdaptersConfig;
  backend: string;
  runs: SeedResult[];
  summary: MethodSummary[];
  wallSeconds: number;
}

async function runSeed(config: AdaptersConfig, log: (s: string) => void): Promise<SeedResult> {
  const transfer = await loadTransfer(config);
  log(`seed ${config.seed}: ${transfer.description}`);
  const pre = await pretrainedBody(transfer, config, log);
  const train = tensors(transfer.train, transfer.targetClasses);
  const validation = tensors(transfer.validation, transfer.targetClasses);
  const test = tensors(transfer.test, transfer.targetClasses);
  const methods: MethodResult[] = [];
  for (const method of methodNames) {
    const m0 = performance.now();
    const validationAccuracy: Record<string, number> = {};
    let best = { lr: config.lrs[0], acc: -1, model: null as tfl.Sequential | null };
    for (const lr of config.lrs) {
      const model = fineTuneModel(method, pre.body, transfer.targetClasses, config.seed);
      model.compile({ optimizer: tf.train.adam(lr), loss: 'categoricalCrossentropy' });
      await model.fit(train.x, train.y, { epochs: config.finetuneEpochs, batchSize: 32, shuffle: false, verbose: 0 });
      const acc = accuracyOf(model, validation.x, transfer.validation.labels);
      validationAccuracy[String(lr)] = acc;
      if (acc > best.acc) {
        best.model?.dispose();
        best = { lr, acc, model };
      } else {
        model.dispose();
      }
    }
    const model = best.model!;
    const testAccuracy = accuracyOf(model, test.x, transfer.test.labels);
    const trainable = trainableCount(model);
    const headCount = HIDDEN[1] * transfer.targetClasses + transfer.targetClasses;
    const adapterParameters = method === 'head' ? 0 : formulaCount(method);
    if (trainable !== adapterParameters + headCount) {
      throw new Error(`bench:adapters: ${method} trains ${trainable} parameters, the formula says ${adapterParameters} + head ${headCount}`);
    }
    model.dispose();
    const seconds = (performance.now() - m0) / 1000;
    methods.push({ method, label: labels[method], trainable, adapterParameters, lr: best.lr, validationAccuracy, testAccuracy, seconds });
    log(`  ${labels[method]}: test accuracy ${(100 * testAccuracy).toFixed(1)}% at lr ${best.lr}, ${trainable} trainable (${seconds.toFixed(1)} s)`);
  }
  tf.dispose([train.x, train.y, validation.x, validation.y, test.x, test.y]);
  pre.model.dispose();
  return { seed: config.seed, data: transfer.description, pretrain: { epochs: config.pretrainEpochs, trainAccuracy: pre.accuracy, seconds: pre.seconds }, methods };
}

/** The command's defaults (bench/claims.ts runs the same protocol as its part `adapters`). */
export const adapterDefaults: Omit<AdaptersConfig, 'dataDir' | 'out'> = {
  pretrainEpochs: 2,
  finetuneEpochs: 3,
  finetuneExamples: 2000,
  lrs: [0.001, 0.01, 0.03],
  seed: 0,
  seeds: 3,
};

/** The whole table: every method on every seed (see the module comment); `config.out` is not used. */
export async function runAdapters(config: AdaptersConfig, log: (s: string) => void): Promise<AdaptersResult> {
  const t0 = performance.now();
  registerWasmSegmentSum();
  accelerateWasm();
  if (!(await tf.setBackend('wasm'))) throw new Error('bench:adapters: could not initialise the wasm backend');
  tf.env().set('PROD', true);
  const runs: SeedResult[] = [];
  for (let k = 0; k < config.seeds; k++) runs.push(await runSeed({ ...config, seed: config.seed + k }, log));
  const summary = methodNames.map((method): MethodSummary => {
    const rs = runs.map((r) => r.methods.find((m) => m.method === method)!);
    const accs = rs.map((m) => m.testAccuracy);
    return {
      method,
      label: labels[method],
      trainable: rs[0].trainable,
      adapterParameters: rs[0].adapterParameters,
      meanTestAccuracy: accs.reduce((a, b) => a + b, 0) / accs.length,
      minTestAccuracy: Math.min(...accs),
      maxTestAccuracy: Math.max(...accs),
      lrs: rs.map((m) => m.lr),
      seconds: rs.reduce((a, m) => a + m.seconds, 0),
    };
  });
  return { config, backend: tf.getBackend(), runs, summary, wallSeconds: (performance.now() - t0) / 1000 };
}

function count(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function renderAdapters(r: AdaptersResult): string {
  const full = r.summary.find((m) => m.method === 'full');
  const pct = (v: number) => (100 * v).toFixed(1);
  const rows = r.summary.map((m) => [
    m.label,
    count(m.trainable),
    full === undefined ? '' : `${((100 * m.trainable) / full.trainable).toFixed(1)}%`,
    `${pct(m.meanTestAccuracy)}%`,
    `${pct(m.minTestAccuracy)}–${pct(m.maxTestAccuracy)}`,
    m.lrs.join(', '),
    m.seconds.toFixed(0),
  ]);
  const table = formatTable(
    [
      { header: 'method' },
      { header: 'trainable params', align: 'right' },
      { header: 'of full', align: 'right' },
      { header: `test accuracy (mean of ${r.runs.length})`, align: 'right' },
      { header: 'range', align: 'right' },
      { header: 'lr picked', align: 'right' },
      { header: 's', align: 'right' },
    ],
    rows,
  );
  const pre = r.runs.map((x) => pct(x.pretrain.trainAccuracy)).join(', ');
  return [
    '# bench:adapters — orthogonal fine-tuning adapters vs full fine-tuning and LoRA-style low rank',
    '',
    `${r.runs[0].data}. Body 784-${HIDDEN.join('-')} ReLU, pretrained ${r.config.pretrainEpochs} epochs (Adam 1e-3; source train accuracy ${pre}%); ` +
      `fine-tuned ${r.config.finetuneEpochs} epochs, batch 32, Adam at the learning rate of {${r.config.lrs.join(', ')}} with the best validation accuracy; ` +
      `a fresh head (same seeded init) for every method, counted in its trainable parameters. Backend ${r.backend}, ` +
      `seeds ${r.runs.map((x) => x.seed).join(', ')} (each: its own draw, pretraining and inits), ${r.wallSeconds.toFixed(0)} s.`,
    '',
    table,
  ].join('\n');
}

async function main(): Promise<void> {
  const config = commandLine(command, process.argv.slice(2), parseAdapterArgs);
  if (config === null) return;
  const log = (msg: string) => process.stderr.write(`${msg}\n`);
  const result = await runAdapters(config, log);
  const report = renderAdapters(result);
  process.stdout.write(`${report}\n`);
  const dir = await writeReportFiles(config.out, 'adapters', report, result);
  log(`wrote ${dir}/adapters.md and adapters.json (${result.wallSeconds.toFixed(0)} s)`);
}

runIfMain(import.meta.url, main);

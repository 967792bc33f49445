/**
 * `npm run bench:fit`: ms per step of tfjs-layers' `model.fit` on the wasm backend, stock kernels
 * against {@link accelerateWasm}'s, for stock tfjs-layers models of the benchmark tasks' shapes:
 * - `mlp`: 784-512-512-10 ReLU MLP, batch 128 (as `fashion-mnist-mlp`);
 * - `convnet`: 32×32×3 → conv 3×3 16/32/64 'same' + ReLU + 2×2 max-pool each → dense 10, batch 64
 *   (as `cifar10-cnn`);
 * - `transformer`: a pre-LayerNorm character transformer (vocab 65, context 64, width 64, 4 heads,
 *   2 blocks, ReLU MLP ×4), batch 16 (`shakespeare-char-small`'s shape). tfjs-layers 4.22 exports no
 *   attention layer, so two small custom layers do what it lacks — the causal per-head products
 *   (3-D `tf.matMul`s) and a learned positional table; embeddings, projections, norms and the head are
 *   stock layers.
 * For each model the optimizers `tf.train.adam`, orthoptim's `adamw`, `muon` and `turboMuon` by default (each
 * Newton–Schulz engine asked for: `tfjs`, `auto`). Hidden matrices go to Muon, the rest to its AdamW
 * (`adamwParamNames`, plus the positional table). `--optimizers` takes any registered name too (at its
 * defaults; one that orthogonalizes gets the same `exclude`).
 *
 * "Stock" is tfjs-backend-wasm's own kernels plus only the conv backprops wasm lacks (without them the
 * ConvNet cannot train at all) and `UnsortedSegmentSum` (likewise for the embedding); "accelerated" is
 * after `accelerateWasm()`. Every optimizer and both modes share the process and alternate in every round (one `model.fit`
 * call of `--batches` steps each, on their own model and optimizer), so a noisy machine's slow phases
 * hit all alike; the ratios are those of the medians of one run. The inputs are seeded random data: the speed
 * of a step does not depend on the values.
 *
 * The profile section (issue 16 point 1's audit) runs `--batches` `model.fit` steps per model under
 * `tf.profile` (tf.train.adam) in each mode and lists per kernel the calls, ms and share of a step and
 * the ratio to the plain work of its calls, timed right after on the same kernels (`fitProfile.ts`:
 * flagless XNNPACK products for the matmul kernels, the forward conv for the conv backprops, a memory
 * pass of the same bytes for the rest), then the kernels above 3× that with their slowest signature.
 * `--previous` adds the mode `previous` — accelerateWasm() before that audit (its im2col filter
 * gradient, wasm's own GatherV2, MaxPoolGrad, Sum and FusedBatchNorm) — to the profile and the timed rounds, for
 * before/after in one run.
 *
 * Output: a Markdown report on stdout and `<out>/bench-fit.md` and `<out>/bench-fit.json`.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { version_layers } from '@tensorflow/tfjs-layers';
import '../src/engines/node.js';
import {
  adamw,
  adamwParamNames,
  createOptimizer,
  disposeEngines,
  listOptimizers,
  muon,
  muonDefinition,
  newtonSchulzAll,
  turboMuon,
  turboMuonDefinition,
  type ResolvedNewtonSchulz,
} from '../src/index.js';
import { accelerateWasm, restoreWasmKernels } from '../src/tfjs/wasmMatMul.js';
import { registerWasmConvKernels, wasmConvKernelConfig, type FilterGradientMethod } from '../src/tfjs/wasmConv.js';
import { registerWasmSegmentSum } from '../src/tfjs/wasmSegmentSum.js';
import { commandLine, narrowTo, parseArgs, type CommandSpec } from '../src/cli/args.js';
import { formatTable } from '../src/bench/table.js';
import { measureRounds, now, sync } from './timing.js';
import { renderProfileTables, summarizeProfile, timePlainWork, type KernelProfile, type KernelRecord, type PlainWork } from './fitProfile.js';
import { type Stats } from '../src/bench/stats.js';
import { machineDetails, type MachineDetails } from '../src/bench/machine.js';
import { runIfMain, writeReportFiles } from '../src/bench/script.js';

const modelNames = ['mlp', 'convnet', 'transformer'] as const;
type ModelName = (typeof modelNames)[number];
const defaultOptimizers = ['adam', 'adamw', 'muon', 'turbo-muon'] as const;
/** `adam` (tf.train.adam), `turbo-muon` (turboMuon) and every registered orthoptim name. */
const optimizerNames: readonly string[] = [...new Set([...defaultOptimizers, ...listOptimizers().map((i) => i.name)])];
type OptimizerName = string;
/** The optimizers run once per Newton–Schulz engine asked for. */
const perEngine = new Set(['muon', 'turbo-muon', 'turboMuon']);
const engineNames = ['tfjs', 'auto'] as const;
type EngineName = (typeof engineNames)[number];
/**
 * `previous`: accelerateWasm() as it was before issue 16's per-kernel audit — its im2col
 * Conv2DBackpropFilter and wasm's own GatherV2, MaxPoolGrad, Sum and FusedBatchNorm — for before/after in one run (`--previous`).
 */
const allModes = ['stock', 'previous', 'accelerated'] as const;
type Mode = (typeof allModes)[number];
/** Per mode: always stock and accelerated, previous when asked for. */
type ModeRecord<T> = Record<'stock' | 'accelerated', T> & { previous?: T };

function modesOf(config: { readonly previous: boolean }): Mode[] {
  return config.previous ? ['stock', 'previous', 'accelerated'] : ['stock', 'accelerated'];
}

const command = {
  name: 'npm run bench:fit --',
  summary: 'ms/step of tfjs-layers model.fit on wasm: stock kernels vs accelerateWasm(), per model and optimizer.',
  flags: {
    models: { type: 'list', choices: modelNames, default: modelNames, description: 'The models.' },
    optimizers: {
      type: 'list',
      choices: optimizerNames,
      default: defaultOptimizers,
      description: 'The optimizers: adam is tf.train.adam, any other a registered orthoptim name at its defaults (muon, turbo-muon at lr 0.02, once per engine).',
    },
    engines: { type: 'list', choices: engineNames, default: engineNames, description: 'Newton–Schulz engines for muon and turbo-muon.' },
    rounds: { type: 'integer', default: 5, min: 1, description: 'Timed rounds per configuration (each: one fit call per mode).' },
    warmup: { type: 'integer', default: 1, min: 0, description: 'Untimed rounds first.' },
    batches: { type: 'integer', default: 3, min: 1, description: 'Steps (batches) per fit call; ms/step = call time / batches.' },
    'skip-profile': { type: 'boolean', description: 'Skip the tf.profile section.' },
    previous: {
      type: 'boolean',
      description: "Also run accelerateWasm() as before issue 16's kernel audit (im2col filter gradient, wasm's GatherV2, MaxPoolGrad, Sum and FusedBatchNorm): before/after in one run.",
    },
    out: { type: 'string', default: 'results/bench-fit', valueName: 'DIR', description: 'Folder for bench-fit.md and bench-fit.json.' },
  },
  notes: ['The machine may be shared: ratios come from medians of interleaved rounds of one run.'],
} as const satisfies CommandSpec;

export interface FitBenchConfig {
  readonly models: readonly ModelName[];
  readonly optimizers: readonly OptimizerName[];
  readonly engines: readonly EngineName[];
  readonly rounds: number;
  readonly warmup: number;
  readonly batches: number;
  readonly profile: boolean;
  readonly previous: boolean;
  readonly out: string;
}

// ---------------------------------------------------------------------------------------------------
// Models

/** Learned positional table `[T, C]` added to the token embeddings. */
class AddPositions extends tfl.layers.Layer {
  static className = 'AddPositions';
  private table: tfl.LayerVariable | null = null;

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = inputShape as tfl.Shape;
    this.table = this.addWeight('table', [shape[1] as number, shape[2] as number], 'float32', tfl.initializers.randomNormal({ stddev: 0.02, seed: 3 }));
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return tf.add(x, (this.table as tfl.LayerVariable).read());
  }
}

/**
 * Causal multi-head attention on packed `[B, T, 3C]` queries/keys/values (from one Dense layer):
 * `softmax(Q·Kᵀ/√d + mask)·V` per head as 3-D `tf.matMul`s on `[B·H, T, d]`, heads merged to `[B, T, C]`.
 */
class CausalAttention extends tfl.layers.Layer {
  static className = 'CausalAttention';
  private mask: tf.Tensor | null = null;

  constructor(private readonly heads: number) {
    super({});
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const s = inputShape as tfl.Shape;
    return [s[0], s[1], (s[2] as number) / 3];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const qkv = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor3D;
    const [b, t, c3] = qkv.shape;
    const c = c3 / 3;
    const h = this.heads;
    const d = c / h;
    if (this.mask === null || this.mask.shape[0] !== t) {
      this.mask?.dispose();
      const keep = tf.linalg.bandPart(tf.ones([t, t]), -1, 0);
      this.mask = tf.keep(tf.mul(tf.sub(1, keep), -1e9));
    }
    const [q, k, v] = tf.split(qkv, 3, 2).map((y) => tf.reshape(tf.transpose(tf.reshape(y, [b, t, h, d]), [0, 2, 1, 3]), [b * h, t, d]));
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d)), this.mask);
    const out = tf.matMul(tf.softmax(scores), v);
    return tf.reshape(tf.transpose(tf.reshape(out, [b, h, t, d]), [0, 2, 1, 3]), [b, t, c]);
  }

  override dispose(): ReturnType<tfl.layers.Layer['dispose']> {
    this.mask?.dispose();
    this.mask = null;
    return super.dispose();
  }
}

interface Built {
  readonly model: tfl.LayersModel;
  /** Names of the variables Muon leaves to its AdamW. */
  readonly adamwNames: string[];
}

interface ModelSpec {
  readonly name: ModelName;
  readonly description: string;
  readonly batch: number;
  readonly build: () => Built;
  /** Inputs and targets of `batches` steps, seeded. */
  readonly data: (rows: number) => { x: tf.Tensor; y: tf.Tensor };
  readonly loss: string;
}

const vocab = 65;
const context = 64;

function oneHotRows(rows: number, classes: number, seed: number): tf.Tensor {
  return tf.tidy(() => tf.oneHot(tf.cast(tf.floor(tf.mul(tf.randomUniform([rows], 0, 1, 'float32', seed), classes)), 'int32'), classes));
}

export const models: Record<ModelName, ModelSpec> = {
  mlp: {
    name: 'mlp',
    description: '784-512-512-10 ReLU MLP, batch 128',
    batch: 128,
    loss: 'categoricalCrossentropy',
    build: () => {
      const model = tfl.sequential({
        layers: [
          tfl.layers.dense({ inputShape: [784], units: 512, activation: 'relu' }),
          tfl.layers.dense({ units: 512, activation: 'relu' }),
          tfl.layers.dense({ units: 10, activation: 'softmax' }),
        ],
      });
      return { model, adamwNames: adamwParamNames(model) };
    },
    data: (rows) => ({ x: tf.randomUniform([rows, 784], 0, 1, 'float32', 1), y: oneHotRows(rows, 10, 2) }),
  },
  convnet: {
    name: 'convnet',
    description: '32×32×3 → conv3×3 16-32-64 (ReLU, max-pool 2) → dense 10, batch 64',
    batch: 64,
    loss: 'categoricalCrossentropy',
    build: () => {
      const layers: tfl.layers.Layer[] = [];
      for (const [i, filters] of [16, 32, 64].entries()) {
        layers.push(
          tfl.layers.conv2d({ ...(i === 0 ? { inputShape: [32, 32, 3] } : {}), filters, kernelSize: 3, padding: 'same', activation: 'relu' }),
          tfl.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
        );
      }
      layers.push(tfl.layers.flatten(), tfl.layers.dense({ units: 10, activation: 'softmax' }));
      const model = tfl.sequential({ layers });
      return { model, adamwNames: adamwParamNames(model) };
    },
    data: (rows) => ({ x: tf.randomUniform([rows, 32, 32, 3], 0, 1, 'float32', 3), y: oneHotRows(rows, 10, 4) }),
  },
  transformer: {
    name: 'transformer',
    description: `char transformer: vocab ${vocab}, context ${context}, width 64, 4 heads, 2 pre-LN blocks, ReLU MLP ×4, batch 16`,
    batch: 16,
    loss: 'categoricalCrossentropy',
    build: () => {
      const width = 64;
      const heads = 4;
      const input = tfl.input({ shape: [context], dtype: 'int32' });
      let x = tfl.layers.embedding({ inputDim: vocab, outputDim: width }).apply(input) as tfl.SymbolicTensor;
      const positions = new AddPositions({});
      x = positions.apply(x) as tfl.SymbolicTensor;
      for (let l = 0; l < 2; l++) {
        const qkv = tfl.layers.dense({ units: 3 * width, useBias: false }).apply(tfl.layers.layerNormalization().apply(x)) as tfl.SymbolicTensor;
        const attn = tfl.layers.dense({ units: width, useBias: false }).apply(new CausalAttention(heads).apply(qkv)) as tfl.SymbolicTensor;
        x = tfl.layers.add().apply([x, attn]) as tfl.SymbolicTensor;
        const hidden = tfl.layers.dense({ units: 4 * width, activation: 'relu', useBias: false }).apply(tfl.layers.layerNormalization().apply(x));
        const mlp = tfl.layers.dense({ units: width, useBias: false }).apply(hidden) as tfl.SymbolicTensor;
        x = tfl.layers.add().apply([x, mlp]) as tfl.SymbolicTensor;
      }
      const logits = tfl.layers.dense({ units: vocab, activation: 'softmax', useBias: false }).apply(tfl.layers.layerNormalization().apply(x)) as tfl.SymbolicTensor;
      const model = tfl.model({ inputs: input, outputs: logits });
      return { model, adamwNames: [...adamwParamNames(model), ...positions.trainableWeights.map((w) => w.name)] };
    },
    data: (rows) => ({
      x: tf.tidy(() => tf.cast(tf.floor(tf.mul(tf.randomUniform([rows, context], 0, 1, 'float32', 5), vocab)), 'int32')),
      y: tf.tidy(() => tf.reshape(oneHotRows(rows * context, vocab, 6), [rows, context, vocab])),
    }),
  },
};

// ---------------------------------------------------------------------------------------------------
// Optimizers and modes

interface Variant {
  /** Row label: `muon (auto)`. */
  readonly label: string;
  readonly optimizer: OptimizerName;
  readonly engine: EngineName | null;
}

function variants(config: FitBenchConfig): Variant[] {
  const out: Variant[] = [];
  for (const optimizer of config.optimizers) {
    if (!perEngine.has(optimizer)) {
      out.push({ label: optimizer === 'adam' ? 'tf.train.adam' : optimizer, optimizer, engine: null });
    } else {
      for (const engine of config.engines) out.push({ label: `${optimizer === 'muon' ? 'muon' : 'turboMuon'} (${engine})`, optimizer, engine });
    }
  }
  return out;
}

function makeOptimizer(v: Variant, adamwNames: string[]): tf.Optimizer {
  switch (v.optimizer) {
    case 'adam':
      return tf.train.adam(1e-3);
    case 'adamw':
      return adamw({ learningRate: 1e-3 });
    case 'muon':
      return muon({ learningRate: 0.02, exclude: adamwNames, engine: v.engine ?? 'tfjs' });
    case 'turbo-muon':
    case 'turboMuon':
      return turboMuon({ learningRate: 0.02, exclude: adamwNames, engine: v.engine ?? 'tfjs' });
    default: {
      // Any other registered name at its defaults; an orthogonalizing one routes as muon does.
      const info = listOptimizers().find((i) => i.name === v.optimizer);
      return createOptimizer(v.optimizer, info?.options.includes('exclude') ? { exclude: adamwNames } : {});
    }
  }
}

/** wasm's own kernels that accelerateWasm() replaced after the audit, captured before any replacement. */
const auditedStock = new Map<string, tf.KernelConfig>();
let filterMethod: FilterGradientMethod = 'auto';

function useFilterMethod(method: FilterGradientMethod): void {
  if (method === filterMethod) return;
  tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
  tf.registerKernel(wasmConvKernelConfig('Conv2DBackpropFilter', 'wasm', { filterMethod: method }));
  filterMethod = method;
}

/** Stock wasm kernels (plus only the kernels wasm lacks), accelerateWasm()'s, or its previous set. */
function setMode(mode: Mode): void {
  for (const name of ['GatherV2', 'MaxPoolGrad', 'Sum', 'FusedBatchNorm']) {
    const k = tf.getKernel(name, 'wasm');
    if (!auditedStock.has(name) && k !== undefined) auditedStock.set(name, k);
  }
  if (mode === 'stock') {
    restoreWasmKernels();
    registerWasmConvKernels();
    registerWasmSegmentSum();
  } else {
    accelerateWasm();
    if (mode === 'previous') {
      for (const [name, config] of auditedStock) {
        tf.unregisterKernel(name, 'wasm');
        tf.registerKernel(config);
      }
    }
  }
  useFilterMethod(mode === 'previous' ? 'im2col' : 'auto');
}

interface Contender {
  readonly model: tfl.LayersModel;
  readonly optimizer: tf.Optimizer;
  /** For muon / turboMuon: the Newton–Schulz settings it runs and the shapes of the matrices it orthogonalizes. */
  readonly ns: { readonly settings: ResolvedNewtonSchulz; readonly shapes: number[][] } | null;
}

/** The Newton–Schulz settings (engine bound) of a muon / turboMuon variant, or null for the others. */
function nsSettings(v: Variant, adamwNames: string[]): ResolvedNewtonSchulz | null {
  // The engine is bound when an optimizer is constructed (not by `resolve`): bind it here the same way.
  const engine = v.engine ?? 'tfjs';
  const options = { learningRate: 0.02, exclude: adamwNames, engine } as const;
  if (v.optimizer === 'muon') return { ...muonDefinition.resolve(options).ns, engine };
  if (v.optimizer === 'turbo-muon' || v.optimizer === 'turboMuon') return { ...turboMuonDefinition.resolve(options).ns, engine };
  return null;
}

function contender(spec: ModelSpec, v: Variant, seed: number): Contender {
  // Layer initializers draw from Math.random unless seeded; both modes get identical starts.
  const { model, adamwNames } = spec.build();
  // Matrices and kernels: seeded N(0, 1/fanIn) (seeds from 1: tfjs draws a random one for seed 0);
  // vectors (biases, norm gains) keep their constant init.
  const weights = model.getWeights().map((w, i) => {
    if (w.rank < 2) return tf.clone(w);
    const fanIn = w.size / w.shape[w.rank - 1];
    return tf.tidy(() => tf.mul(tf.randomNormal(w.shape, 0, 1, 'float32', seed + i + 1), 1 / Math.sqrt(fanIn)));
  });
  model.setWeights(weights);
  tf.dispose(weights);
  const optimizer = makeOptimizer(v, adamwNames);
  model.compile({ optimizer, loss: spec.loss });
  const settings = nsSettings(v, adamwNames);
  const excluded = new Set(adamwNames);
  const shapes = model.trainableWeights.filter((w) => w.shape.length >= 2 && !excluded.has(w.name)).map((w) => w.shape as number[]);
  return { model, optimizer, ns: settings === null ? null : { settings, shapes } };
}

/** ms of one `newtonSchulzAll` over `inputs` (the step's matrices) with `settings`, results read back. */
async function nsOnce(inputs: readonly tf.Tensor[], settings: ResolvedNewtonSchulz): Promise<number> {
  const t0 = now();
  const outs = newtonSchulzAll(inputs, settings);
  await sync(outs);
  const ms = now() - t0;
  tf.dispose(outs);
  return ms;
}

async function fitOnce(spec: ModelSpec, c: Contender, data: { x: tf.Tensor; y: tf.Tensor }, batches: number): Promise<{ ms: number; loss: number }> {
  const t0 = now();
  const history = await c.model.fit(data.x, data.y, { epochs: 1, batchSize: spec.batch, shuffle: false, verbose: 0 });
  const ms = (now() - t0) / batches;
  return { ms, loss: (history.history.loss as number[])[0] };
}

export interface FitRow {
  readonly model: ModelName;
  readonly optimizer: string;
  readonly msPerStep: ModeRecord<Stats>;
  /** Median stock ÷ median accelerated. */
  readonly speedup: number;
  /** Mean training loss of the last timed round, per mode (a sanity check: the same numbers). */
  readonly lastLoss: ModeRecord<number>;
  /** Tensors left per round (tf.memory().numTensors growth over the timed rounds ÷ rounds). */
  readonly leakedTensorsPerRound: number;
  /**
   * muon / turboMuon: ms of Newton–Schulz alone on the matrices it orthogonalizes, with its settings and
   * engine, accelerated kernels, timed in the same rounds (one `newtonSchulzAll` per round); else null.
   */
  readonly nsMs: Stats | null;
}

async function benchModel(spec: ModelSpec, config: FitBenchConfig, log: (m: string) => void): Promise<FitRow[]> {
  const data = tf.tidy(() => spec.data(spec.batch * config.batches));
  const all = variants(config);
  // Every variant and mode has its own model and optimizer, all built first: one round times one fit
  // call of each, in turn, so a slow phase of a shared machine hits every optimizer alike.
  const modes = modesOf(config);
  const contenders = all.map((v, i): ModeRecord<Contender> => {
    const c: ModeRecord<Contender> = { stock: contender(spec, v, 100 * i), accelerated: contender(spec, v, 100 * i) };
    if (config.previous) c.previous = contender(spec, v, 100 * i);
    return c;
  });
  const lastLoss = all.map((): ModeRecord<number> => ({ stock: NaN, accelerated: NaN, ...(config.previous ? { previous: NaN } : {}) }));
  const leaked = all.map(() => 0);
  // Seeded gradient-like inputs of each muon variant's matrices, for its Newton–Schulz timing.
  const nsInputs = contenders.map((c) => (c.accelerated.ns === null ? [] : c.accelerated.ns.shapes.map((sh, k) => tf.randomNormal(sh, 0, 0.01, 'float32', 40 + k))));
  let timing = false;
  const key = (i: number, mode: Mode | 'ns') => `${i}|${mode}`;
  try {
    const round = async (): Promise<Record<string, number>> => {
      const times: Record<string, number> = {};
      for (const [i] of all.entries()) {
        for (const mode of modes) {
          setMode(mode);
          const before = tf.memory().numTensors;
          const r = await fitOnce(spec, contenders[i][mode] as Contender, data, config.batches);
          if (timing) leaked[i] += tf.memory().numTensors - before;
          times[key(i, mode)] = r.ms;
          lastLoss[i][mode] = r.loss;
        }
        const ns = contenders[i].accelerated.ns;
        if (ns !== null) {
          setMode('accelerated');
          times[key(i, 'ns')] = await nsOnce(nsInputs[i], ns.settings);
        }
      }
      return times;
    };
    for (let w = 0; w < config.warmup; w++) await round();
    timing = true;
    const measured = await measureRounds(round, { warmup: 0, repeats: config.rounds });
    return all.map((v, i): FitRow => {
      const msPerStep: ModeRecord<Stats> = { stock: measured.stats[key(i, 'stock')], accelerated: measured.stats[key(i, 'accelerated')] };
      if (config.previous) msPerStep.previous = measured.stats[key(i, 'previous')];
      const row: FitRow = {
        model: spec.name,
        optimizer: v.label,
        msPerStep,
        speedup: msPerStep.stock.median / msPerStep.accelerated.median,
        lastLoss: { ...lastLoss[i] },
        leakedTensorsPerRound: leaked[i] / config.rounds,
        nsMs: measured.stats[key(i, 'ns')] ?? null,
      };
      const previous = row.msPerStep.previous === undefined ? '' : `, previous accelerated ${row.msPerStep.previous.median.toFixed(1)}`;
      log(`${spec.name} ${v.label}: stock ${row.msPerStep.stock.median.toFixed(1)} ms/step${previous}, accelerated ${row.msPerStep.accelerated.median.toFixed(1)} (×${row.speedup.toFixed(2)})`);
      return row;
    });
  } finally {
    tf.dispose(nsInputs.flat());
    for (const c of contenders) {
      for (const m of Object.values(c)) {
        m.model.dispose();
        m.optimizer.dispose();
      }
    }
    tf.dispose([data.x, data.y]);
  }
}

/** Issue 16's target for a Muon step in model.fit: ≤ tf.train.adam's step + 1.15 × its Newton–Schulz time. */
export const OVERHEAD_FACTOR = 1.15;

/** A muon/turboMuon row against tf.train.adam's on the same model (accelerated), or null without both. */
export function stepOverhead(rows: readonly FitRow[], row: FitRow): { adamMs: number; nsMs: number; budgetMs: number; held: boolean } | null {
  const adam = rows.find((r) => r.model === row.model && r.optimizer === 'tf.train.adam');
  if (row.nsMs === null || adam === undefined) return null;
  const adamMs = adam.msPerStep.accelerated.median;
  const nsMs = row.nsMs.median;
  const budgetMs = adamMs + OVERHEAD_FACTOR * nsMs;
  return { adamMs, nsMs, budgetMs, held: row.msPerStep.accelerated.median <= budgetMs };
}

/** Accelerated ms/step of each row ÷ that of `adamw` on the same model (NaN when adamw did not run). */
export function ratioToAdamw(rows: readonly FitRow[], row: FitRow): number {
  const base = rows.find((r) => r.model === row.model && r.optimizer === 'adamw');
  return base ? row.msPerStep.accelerated.median / base.msPerStep.accelerated.median : NaN;
}

/**
 * `steps` fit steps of `spec` with tf.train.adam under tf.profile (after one untimed fit that creates
 * the optimizer state and warms the kernels), per kernel and signature per step, each against its plain
 * work timed right after on the same kernels (see fitProfile.ts).
 */
async function profileStep(spec: ModelSpec, mode: Mode, steps: number): Promise<ModeProfile> {
  setMode(mode);
  const c = contender(spec, { label: 'tf.train.adam', optimizer: 'adam', engine: null }, 7);
  const data = tf.tidy(() => spec.data(spec.batch * steps));
  try {
    await fitOnce(spec, c, data, steps);
    const t0 = now();
    const info = await tf.profile(async () => {
      await c.model.fit(data.x, data.y, { epochs: 1, batchSize: spec.batch, shuffle: false, verbose: 0 });
    });
    const stepMs = (now() - t0) / steps;
    const backend = tf.getBackend();
    const plainCache = new Map<string, number>();
    const plainMs = (work: PlainWork) => {
      const key = JSON.stringify(work);
      let t = plainCache.get(key);
      if (t === undefined) {
        t = timePlainWork(work);
        plainCache.set(key, t);
      }
      return t;
    };
    const kernels = summarizeProfile(info.kernels as KernelRecord[], steps, stepMs, (name) => tf.getKernel(name, backend) !== undefined, plainMs);
    return { kernels, stepMs, steps };
  } finally {
    c.model.dispose();
    c.optimizer.dispose();
    tf.dispose([data.x, data.y]);
  }
}

export interface ModeProfile {
  readonly kernels: KernelProfile[];
  /** Wall ms per step of the fit call under tf.profile. */
  readonly stepMs: number;
  readonly steps: number;
}

export interface ModelProfile {
  readonly model: ModelName;
  readonly modes: ModeRecord<ModeProfile>;
}

export interface FitBenchResult {
  readonly config: FitBenchConfig;
  readonly machine: MachineDetails;
  readonly models: Record<string, string>;
  readonly rows: FitRow[];
  readonly profiles: ModelProfile[];
  readonly wallMs: number;
}

export async function runFitBench(config: FitBenchConfig, log: (m: string) => void): Promise<FitBenchResult> {
  const t0 = now();
  tf.env().set('PROD', true);
  if (!(await tf.setBackend('wasm'))) throw new Error('bench:fit: could not initialise the wasm backend');
  const machine = await machineDetails({ wasm: version_wasm, layers: version_layers });
  const rows: FitRow[] = [];
  const profiles: ModelProfile[] = [];
  for (const name of config.models) {
    const spec = models[name];
    if (config.profile) {
      const stock = await profileStep(spec, 'stock', config.batches);
      const previous = config.previous ? await profileStep(spec, 'previous', config.batches) : undefined;
      const accelerated = await profileStep(spec, 'accelerated', config.batches);
      profiles.push({ model: name, modes: { stock, accelerated, ...(previous === undefined ? {} : { previous }) } });
      const before = previous === undefined ? '' : `, ${previous.stepMs.toFixed(0)} ms previous`;
      log(`${name}: profiled step ${stock.stepMs.toFixed(0)} ms stock${before}, ${accelerated.stepMs.toFixed(0)} ms accelerated`);
    }
    rows.push(...(await benchModel(spec, config, log)));
  }
  const described: Record<string, string> = {};
  for (const name of config.models) described[name] = models[name].description;
  return { config, machine, models: described, rows, profiles, wallMs: now() - t0 };
}

const kernelSum = (ks: readonly KernelProfile[]) => ks.filter((k) => !k.composite).reduce((s, k) => s + k.ms, 0);
const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');

export function renderFitReport(r: FitBenchResult): string {
  const m = r.machine;
  const out = [
    '# bench:fit — tfjs-layers model.fit on wasm, stock kernels vs accelerateWasm()',
    '',
    `${m.cpuModel}, ${m.availableParallelism} cores, Node ${m.node}, tfjs ${m.tfjsCore} (wasm ${m.tfjsBackendWasm ?? '?'}, layers ${m.tfjsLayers ?? '?'}), ` +
      `SIMD ${String(m.backendFlags.WASM_HAS_SIMD_SUPPORT ?? '?')}, threads ${String(m.backendFlags.WASM_HAS_MULTITHREAD_SUPPORT ?? '?')}; ` +
      `load average ${m.loadAverage.join(' / ')} at the start; ${m.date}.`,
    `Medians of ${r.config.rounds} interleaved rounds (one fit call of ${r.config.batches} steps per optimizer and mode per round) in one run on a possibly shared machine: read the ratios, not the absolute times.`,
    '',
    ...r.config.models.map((name) => `- \`${name}\`: ${r.models[name]}`),
    '',
    formatTable(
      [
        { header: 'model' },
        { header: 'optimizer' },
        { header: 'stock ms/step', align: 'right' },
        { header: 'IQR', align: 'right' },
        ...(r.config.previous ? [{ header: 'previous accel. ms/step', align: 'right' as const }, { header: 'IQR', align: 'right' as const }] : []),
        { header: 'accelerated ms/step', align: 'right' },
        { header: 'IQR', align: 'right' },
        { header: 'speed-up', align: 'right' },
        ...(r.config.previous ? [{ header: 'previous ÷ accel.', align: 'right' as const }] : []),
        { header: 'accel. ÷ adamw', align: 'right' },
        { header: r.config.previous ? 'loss stock / prev. / accel.' : 'loss stock / accel.', align: 'right' },
        { header: 'leak/round', align: 'right' },
      ],
      r.rows.map((row) => [
        row.model,
        row.optimizer,
        ms(row.msPerStep.stock.median),
        ms(row.msPerStep.stock.iqr),
        ...(r.config.previous ? [ms(row.msPerStep.previous?.median ?? NaN), ms(row.msPerStep.previous?.iqr ?? NaN)] : []),
        ms(row.msPerStep.accelerated.median),
        ms(row.msPerStep.accelerated.iqr),
        `×${row.speedup.toFixed(2)}`,
        ...(r.config.previous ? [`×${((row.msPerStep.previous?.median ?? NaN) / row.msPerStep.accelerated.median).toFixed(2)}`] : []),
        Number.isFinite(ratioToAdamw(r.rows, row)) ? ratioToAdamw(r.rows, row).toFixed(2) : '—',
        [row.lastLoss.stock, row.lastLoss.previous, row.lastLoss.accelerated].flatMap((l) => (l === undefined ? [] : [l.toFixed(4)])).join(' / '),
        String(row.leakedTensorsPerRound),
      ]),
    ),
  ];
  const overheads = r.rows.map((row) => ({ row, o: stepOverhead(r.rows, row) })).filter((x) => x.o !== null);
  if (overheads.length > 0) {
    out.push(
      '',
      `## Muon's step overhead: target ≤ tf.train.adam's step + ${OVERHEAD_FACTOR} × its Newton–Schulz time (accelerated kernels)`,
      '',
      formatTable(
        [
          { header: 'model' },
          { header: 'optimizer' },
          { header: 'step ms', align: 'right' },
          { header: 'tf.train.adam ms', align: 'right' },
          { header: 'NS alone ms', align: 'right' },
          { header: 'fixed cost ms', align: 'right' },
          { header: 'budget ms', align: 'right' },
          { header: 'target', align: 'right' },
        ],
        overheads.map(({ row, o }) => {
          const x = o as NonNullable<typeof o>;
          const step = row.msPerStep.accelerated.median;
          return [row.model, row.optimizer, ms(step), ms(x.adamMs), ms(x.nsMs), ms(step - x.adamMs - x.nsMs), ms(x.budgetMs), x.held ? 'held' : 'missed'];
        }),
      ),
      '',
      '"fixed cost" = step − tf.train.adam − NS alone: what the Muon step adds besides its Newton–Schulz (bridge crossing, copies, the finiteness probe, momentum, the AdamW part\'s own cost beyond tf.train.adam).',
    );
  }
  for (const p of r.profiles) {
    const present = allModes.flatMap((mode) => (p.modes[mode] === undefined ? [] : [[mode, p.modes[mode] as ModeProfile] as const]));
    out.push(
      '',
      `## Profile: \`${p.model}\` model.fit step (tf.train.adam), kernels by time, against their plain work`,
      '',
      `Per step, mean of ${p.modes.stock.steps} steps under tf.profile: ` +
        present.map(([mode, q]) => `${mode} ${ms(q.stepMs)} ms (kernel sum ${ms(kernelSum(q.kernels))})`).join(', ') +
        '. share = kernel ms ÷ step ms; × plain = kernel ms ÷ the plain work of its calls (matMul: flagless 2-D XNNPACK products of the same shapes; conv2d: the forward Conv2D of the same geometry; bytes: an x + 1 moving as many bytes).',
      '',
    );
    out.push(...renderProfileTables(present, 12, formatTable));
  }
  return out.join('\n');
}

export function parseFitArgs(argv: readonly string[]): FitBenchConfig | 'help' {
  const parsed = parseArgs(argv, command);
  if (parsed.help) return 'help';
  const f = parsed.flags;
  return {
    models: narrowTo(f.models, modelNames),
    optimizers: narrowTo(f.optimizers, optimizerNames),
    engines: narrowTo(f.engines, engineNames),
    rounds: f.rounds,
    warmup: f.warmup,
    batches: f.batches,
    profile: !f['skip-profile'],
    previous: f.previous === true,
    out: f.out,
  };
}

async function main(): Promise<void> {
  const config = commandLine(command, process.argv.slice(2), parseFitArgs);
  if (config === null) return;
  const log = (msg: string) => process.stderr.write(`${msg}\n`);
  let result: FitBenchResult;
  try {
    result = await runFitBench(config, log);
  } finally {
    disposeEngines();
  }
  const report = renderFitReport(result);
  process.stdout.write(`${report}\n`);
  const dir = await writeReportFiles(config.out, 'bench-fit', report, result);
  log(`wrote ${dir}/bench-fit.md and bench-fit.json (${(result.wallMs / 1000).toFixed(0)} s)`);
}

runIfMain(import.meta.url, main);

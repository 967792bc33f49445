/**
 * The browser test page (bundled by esbuild for the browser, served by browser.test.ts on 127.0.0.1):
 * the library exactly as a web app imports it, with TensorFlow.js's cpu, wasm and webgl backends. It
 * exposes `window.orthoptimTest.run(backend, goldenNames)`, which replays golden files (fetched from the
 * server) and runs the contract checks that matter in a browser, and returns plain numbers for the Node
 * side to judge.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { adamw, adamwParamNames, muon, newtonSchulz, restoreCheckpoint, serializeCheckpoint, type TransformOptimizer } from '../../src/index.js';
import { normwiseDeviation, replayGoldenFile, torchTensor, type GoldenFile } from '../support/goldenCore.js';
import { goldenOptimizers } from '../support/goldenOptimizers.js';

// The DOM globals this page touches (the project's type check runs without the DOM library).
interface WebGlLike {
  readonly RENDERER: number;
  getExtension(name: 'WEBGL_debug_renderer_info'): { readonly UNMASKED_RENDERER_WEBGL: number } | null;
  getParameter(p: number): unknown;
}
declare const document: { createElement(tag: 'canvas'): { getContext(kind: 'webgl2'): WebGlLike | null } };
declare const window: { orthoptimTest?: { run: typeof run; ready: boolean } };

setWasmPaths('/wasm/');
tf.env().set('PROD', true);

export interface BackendInfo {
  readonly backend: string;
  /** webgl: whether float32 textures render (else tfjs falls back to float16). */
  readonly float32: boolean | null;
  readonly renderer: string | null;
}

export interface PageResult {
  readonly info: BackendInfo;
  /** Golden file → worst normwise deviation over its steps (or its NS output). */
  readonly golden: Record<string, number>;
  readonly checks: Record<string, number | boolean | string>;
}

async function fetchGolden(name: string): Promise<GoldenFile> {
  const r = await fetch(`/golden/${name}.json`);
  if (!r.ok) throw new Error(`golden file ${name}: HTTP ${r.status}`);
  return (await r.json()) as GoldenFile;
}

function methodOf(name: string): string {
  return name.split('__')[0];
}

function replayNs(g: GoldenFile): number {
  const args = g.args as { steps: number; coefficients: [number, number, number]; norm_eps: number };
  return tf.tidy(() => {
    const x = torchTensor(g.inputs![0]);
    const out = newtonSchulz(x, { coefficients: [args.coefficients], steps: args.steps, eps: args.norm_eps, leadingDims: 'batch' });
    return normwiseDeviation(out.dataSync(), g.outputs![0].data);
  });
}

function rendererInfo(): string | null {
  const canvas = document.createElement('canvas');
  const gl = canvas.getContext('webgl2');
  if (gl === null) return null;
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  return ext === null ? (gl.getParameter(gl.RENDERER) as string) : (gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) as string);
}

/** A 2-layer classifier on a seeded 3-class problem, as the Node contract suite trains. */
function problem(seed: number) {
  const x = tf.randomNormal([256, 8], 0, 1, 'float32', seed);
  const labels = tf.argMax(tf.matMul(x, tf.randomNormal([8, 3], 0, 1, 'float32', seed + 1)), 1);
  const y = tf.cast(tf.oneHot(labels, 3), 'float32');
  labels.dispose();
  return { x, y };
}

function model(seed: number): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [8], units: 32, activation: 'relu', kernelInitializer: tfl.initializers.glorotNormal({ seed }) }),
      tfl.layers.dense({ units: 32, activation: 'relu', kernelInitializer: tfl.initializers.glorotNormal({ seed: seed + 1 }) }),
      tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotNormal({ seed: seed + 2 }) }),
    ],
  });
}

function weightsOf(m: tfl.LayersModel): Float32Array[] {
  return m.getWeights().map((w) => w.dataSync() as Float32Array);
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let d = 0;
  a.forEach((x, i) => x.forEach((v, j) => (d = Math.max(d, Math.abs(v - b[i][j])))));
  return d;
}

async function contractChecks(): Promise<Record<string, number | boolean | string>> {
  const checks: Record<string, number | boolean | string> = {};
  // Leak-free steps: a muon step through applyGradients leaves the tensor count unchanged.
  const w = tf.variable(tf.randomNormal([16, 12], 0, 1, 'float32', 3), true, 'browser/w');
  const b = tf.variable(tf.zeros([12]), true, 'browser/b');
  const opt = muon({ learningRate: 0.02 });
  const grads = () => ({ [w.name]: tf.randomNormal([16, 12], 0, 1, 'float32', 4), [b.name]: tf.ones([12]) });
  const g0 = grads();
  opt.applyGradients(g0);
  tf.dispose(Object.values(g0));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    const g = grads();
    opt.applyGradients(g);
    tf.dispose(Object.values(g));
  }
  checks.leakedTensors = tf.memory().numTensors - before;

  // NaN rejected before any write: parameters, state and step unchanged.
  const wBefore = w.dataSync().slice();
  const stepBefore = opt.step;
  const bad = { [w.name]: tf.fill([16, 12], Number.NaN), [b.name]: tf.ones([12]) };
  let threw = '';
  try {
    opt.applyGradients(bad);
  } catch (e) {
    threw = (e as Error).name;
  }
  tf.dispose(Object.values(bad));
  checks.nanError = threw;
  checks.nanUnchanged = opt.step === stepBefore && w.dataSync().every((v, i) => v === wBefore[i]);

  // serializeCheckpoint → restoreCheckpoint into a fresh optimizer: identical next step.
  const { manifest, data } = await serializeCheckpoint(opt);
  const again = muon({ learningRate: 0.02 });
  await restoreCheckpoint(again, manifest, data);
  const w2 = tf.variable(tf.clone(w), true, 'browser/w2');
  const b2 = tf.variable(tf.clone(b), true, 'browser/b2');
  const gw = tf.randomNormal([16, 12], 0, 1, 'float32', 9);
  const gb = tf.ones([12]);
  opt.applyGradients([{ name: w.name, tensor: gw }, { name: b.name, tensor: gb }]);
  again.applyGradients([{ name: w2.name, tensor: gw }, { name: b2.name, tensor: gb }]);
  checks.checkpointStepDiff = maxDiff([w.dataSync() as Float32Array], [w2.dataSync() as Float32Array]);
  checks.checkpointStep = again.step;
  tf.dispose([gw, gb, w, b, w2, b2]);
  opt.dispose();
  again.dispose();

  // model.fit: the loss falls; model.save('indexeddb://') + tf.loadLayersModel: identical next steps.
  const { x, y } = problem(11);
  const m = model(20);
  const mopt = muon({ learningRate: 0.02, adamwLearningRate: 0.01, exclude: adamwParamNames(m) });
  m.compile({ optimizer: mopt, loss: 'categoricalCrossentropy' });
  const h = await m.fit(x, y, { epochs: 4, batchSize: 64, shuffle: false, verbose: 0 });
  const losses = h.history.loss as number[];
  checks.fitFirstLoss = losses[0];
  checks.fitLastLoss = losses[losses.length - 1];
  await m.save('indexeddb://orthoptim-browser-test', { includeOptimizer: true });
  const reloaded = await tfl.loadLayersModel('indexeddb://orthoptim-browser-test');
  checks.reloadedOptimizer = (reloaded.optimizer as TransformOptimizer).getClassName();
  checks.reloadedStep = (reloaded.optimizer as TransformOptimizer).step;
  await m.fit(x, y, { epochs: 1, batchSize: 64, shuffle: false, verbose: 0 });
  await reloaded.fit(x, y, { epochs: 1, batchSize: 64, shuffle: false, verbose: 0 });
  checks.reloadDiff = maxDiff(weightsOf(m), weightsOf(reloaded));
  await tf.io.removeModel('indexeddb://orthoptim-browser-test');
  m.dispose();
  reloaded.dispose();
  tf.dispose([x, y]);
  // adamw too: a second class round-trips by name.
  checks.adamwClass = adamw().getClassName();
  return checks;
}

async function run(backend: string, goldenNames: string[]): Promise<PageResult> {
  if (!(await tf.setBackend(backend)) || tf.getBackend() !== backend) throw new Error(`backend ${backend} did not start`);
  await tf.ready();
  const info: BackendInfo = {
    backend,
    float32: backend === 'webgl' ? tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED') : null,
    renderer: backend === 'webgl' ? rendererInfo() : null,
  };
  const golden: Record<string, number> = {};
  for (const name of goldenNames) {
    const g = await fetchGolden(name);
    const method = methodOf(name);
    if (method === 'muon_ns') {
      golden[name] = replayNs(g);
      continue;
    }
    const make = goldenOptimizers[method];
    if (make === undefined) throw new Error(`no optimizer mapping for golden method ${method}`);
    golden[name] = replayGoldenFile(g, make).maxDeviation;
  }
  return { info, golden, checks: await contractChecks() };
}

window.orthoptimTest = { run, ready: true };

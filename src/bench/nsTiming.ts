/**
 * Orthogonalization time against matrix size, for the report's "NS time vs size" plot and the claims
 * about Turbo-Muon and AuON: per square size, one plain matmul (the unit of work), Newton–Schulz with
 * Jordan's table ×5 (Muon's), Turbo-Muon's AOL + 4 steps, and AuON's linear-time direction
 * (`X/‖X‖_F` divided by its cosh-RMS, arXiv 2509.24320 §3.1) — each timed to completion (read back),
 * on fresh Gaussian inputs drawn from the seed, median of `repeats` calls after one warm-up call.
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { gaussianArray, mulberry32 } from '../core/random.js';
import { newtonSchulz } from '../linalg/newtonSchulz.js';
import { orthogonalityError } from '../linalg/diagnostics.js';
import { coshRms, frobeniusNorm } from '../transforms/auon.js';
import { describeEngine, type EngineChoice } from '../engines/engine.js';
import { machineInfo } from './machine.js';
import type { NsTimingSummary } from './results.js';

export interface NsTimingOptions {
  /** Square sizes (default 128, 256, 512, 1024). */
  sizes?: readonly number[];
  /** Timed calls per method and size (default 3). */
  repeats?: number;
  /** Engine of the Newton–Schulz rows (default: the library's current default). */
  engine?: EngineChoice;
  seed?: number;
  onProgress?: (message: string) => void;
}

type Method = 'matmul' | 'jordan×5' | 'turbo×4' | 'auon';

function run(method: Method, x: tf.Tensor2D, y: tf.Tensor2D, engine: EngineChoice | undefined): tf.Tensor2D {
  switch (method) {
    case 'matmul':
      return tf.matMul(x, y);
    case 'jordan×5':
      return newtonSchulz(x, { engine }) as tf.Tensor2D;
    case 'turbo×4':
      return newtonSchulz(x, { coefficients: 'turbo', engine }) as tf.Tensor2D;
    case 'auon':
      return tf.tidy(() => {
        const u = tf.div(x, tf.add(frobeniusNorm(x), 1e-7));
        return tf.div(u, coshRms(u, 1.5));
      });
  }
}

/** Times the methods on each size; see the module note. */
export async function runNsTiming(options: NsTimingOptions = {}): Promise<NsTimingSummary> {
  const sizes = options.sizes ?? [128, 256, 512, 1024];
  const repeats = options.repeats ?? 3;
  const rand = mulberry32(options.seed ?? 0);
  const methods: Method[] = ['matmul', 'jordan×5', 'turbo×4', 'auon'];
  const rows: NsTimingSummary['rows'] = [];
  {
    for (const n of sizes) {
      for (const method of methods) {
        const samples: number[] = [];
        let error: number | null = null;
        for (let r = 0; r <= repeats; r++) {
          // Fresh operands every call: tfjs-wasm caches packed right operands per tensor.
          const x = tf.tensor2d(gaussianArray(n * n, 1, rand), [n, n]);
          const y = tf.tensor2d(gaussianArray(n * n, 1, rand), [n, n]);
          const t0 = performance.now();
          const out = run(method, x, y, options.engine);
          await out.data();
          const ms = performance.now() - t0;
          if (r > 0) samples.push(ms);
          if (r === repeats && method !== 'matmul' && method !== 'auon') error = orthogonalityError(out);
          tf.dispose([x, y, out]);
        }
        samples.sort((a, b) => a - b);
        const ms = samples[samples.length >> 1];
        rows.push({ method, rows: n, cols: n, ms, error });
        options.onProgress?.(`${method} ${n}×${n}: ${ms.toFixed(2)} ms`);
      }
    }
  }
  return {
    format: 'orthoptim-ns/1',
    backend: tf.getBackend(),
    engine: describeEngine(options.engine, tf.getBackend()),
    machine: machineInfo(),
    rows,
  };
}

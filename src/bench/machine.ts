/**
 * The machine a result was measured on, in the two forms results files carry: {@link machineInfo}, the
 * short description of a comparison's `summary.json` (and the claims), and {@link machineDetails}, the
 * long one of the timing benchmarks (`bench/*.ts`: versions, wasm SIMD/threads, load average). Node only.
 * @module
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import type { ComparisonSummary } from './results.js';

/** What a comparison needs to know about the machine. */
export function machineInfo(): ComparisonSummary['machine'] {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: os.platform(),
    arch: os.arch(),
    node: process.version,
    tfjs: tf.version_core,
    backend: tf.getBackend(),
  };
}

/** What a timing results file records about where it was measured. */
export interface MachineDetails {
  readonly cpuModel: string;
  readonly cores: number;
  readonly availableParallelism: number;
  readonly totalMemGiB: number;
  readonly platform: string;
  readonly release: string;
  readonly arch: string;
  readonly node: string;
  readonly tfjsCore: string;
  readonly tfjsBackendWasm: string | null;
  readonly tfjsLayers: string | null;
  readonly backend: string;
  /** Backend flags that change the speed (wasm SIMD / threads), when the backend has them. */
  readonly backendFlags: Record<string, boolean | number | string>;
  /** `os.loadavg()` (1, 5, 15 minutes) when described: other work on a shared machine skews timings. */
  readonly loadAverage: readonly number[];
  readonly date: string;
}

/** Describes this machine and the active tfjs backend. `versions` come from the caller's imports. */
export async function machineDetails(versions: { wasm?: string; layers?: string } = {}): Promise<MachineDetails> {
  const cpus = os.cpus();
  const backend = tf.getBackend();
  const backendFlags: Record<string, boolean | number | string> = {};
  if (backend === 'wasm') {
    for (const flag of ['WASM_HAS_SIMD_SUPPORT', 'WASM_HAS_MULTITHREAD_SUPPORT']) {
      try {
        backendFlags[flag] = await tf.env().getAsync(flag);
      } catch {
        // flag not registered in this build: leave it out
      }
    }
  }
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    availableParallelism: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: os.platform(),
    release: os.release(),
    arch: os.arch(),
    node: process.version,
    tfjsCore: tf.version_core,
    tfjsBackendWasm: versions.wasm ?? null,
    tfjsLayers: versions.layers ?? null,
    backend,
    backendFlags,
    loadAverage: os.loadavg().map((v) => Math.round(v * 100) / 100),
    date: new Date().toISOString(),
  };
}

/**
 * Stands in for node:os in the page (vite.config.ts aliases it): bench/timing.ts, whose timing helpers
 * the benchmark page reuses, reads the CPU model with it in `machineInfo`, which only Node calls.
 */
function unavailable(): never {
  throw new Error('node:os is not available in the browser (web/src/osStub.ts)');
}

export default { cpus: unavailable, totalmem: unavailable, platform: unavailable, arch: unavailable, release: unavailable };

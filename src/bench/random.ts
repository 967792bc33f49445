/** Seeded randomness for benchmarks: re-exported from `core/random` (initializers in `nn/` use it too). @module */
export * from '../core/random.js';

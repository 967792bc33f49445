/**
 * The engine seam now lives in `linalg/engine.ts` (layers point down: Newton–Schulz no longer imports
 * `engines/`); this module re-exports it for the engine implementations and existing imports.
 * @module
 */
export * from '../linalg/engine.js';

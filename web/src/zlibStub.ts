/**
 * Stands in for node:zlib in the page (vite.config.ts aliases it): the page inflates gzip data with the
 * browser's DecompressionStream before handing bytes to parseIdx, so this is never reached.
 */
export function gunzipSync(_buf: Uint8Array): Uint8Array {
  throw new Error('gunzipSync: not available in the browser; inflate with DecompressionStream first (web/src/data.ts)');
}

/**
 * The playground (web/) and its benchmark page (bench.html): Vite serves web/ on 127.0.0.1
 * (`npm run web`) and builds a static site into web/dist (`npm run web:build`). The library is imported from its TypeScript source (../src). The
 * Fashion-MNIST subset (data/fashion-mnist-subset, IDX gzip) is the public folder, served at the site root
 * in development and copied into the site on build; without it the race offers a synthetic set instead.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));
const fashion = fileURLToPath(new URL('../data/fashion-mnist-subset', import.meta.url));

const librarySource = fileURLToPath(new URL('../src/', import.meta.url));

export default defineConfig({
  root: here,
  plugins: [
    {
      // package.json's "sideEffects" lists only dist/ files, so the bundler takes ../src as free of side
      // effects and drops the optimizer modules' registrations (createOptimizer would know no name).
      name: 'orthoptim-source-registers',
      transform(code, id) {
        return id.startsWith(librarySource) ? { code, moduleSideEffects: true } : null;
      },
    },
  ],
  base: './',
  publicDir: existsSync(fashion) ? fashion : false,
  resolve: {
    // parseIdx gunzips with node:zlib; in the page the bytes are inflated with DecompressionStream first.
    // bench/timing.ts (reused by the benchmark page) reads the CPU model with node:os in Node only.
    alias: {
      'node:zlib': fileURLToPath(new URL('./src/zlibStub.ts', import.meta.url)),
      'node:os': fileURLToPath(new URL('./src/osStub.ts', import.meta.url)),
    },
  },
  server: { host: '127.0.0.1', port: 5173, fs: { allow: ['..'] } },
  preview: { host: '127.0.0.1', port: 4173 },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    // The playground and the benchmark page (npm run bench:browser).
    rollupOptions: { input: { index: fileURLToPath(new URL('./index.html', import.meta.url)), bench: fileURLToPath(new URL('./bench.html', import.meta.url)) } },
  },
});

/**
 * The playground site for the browser tests and the browser benchmark: built by Vite from
 * web/vite.config.ts into a temporary directory (the same build as `npm run web:build`, so web/dist is
 * left alone) and served as static files on 127.0.0.1 by harness.ts's server.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { repoRoot } from '../support/golden.js';
import { contentType, serve } from './harness.js';

export interface Site {
  readonly origin: string;
  readonly dir: string;
  close(): Promise<void>;
}

/** Builds the playground into a temp directory and serves it; `close()` stops the server and removes it. */
export async function buildAndServeSite(): Promise<Site> {
  const dir = mkdtempSync(join(tmpdir(), 'orthoptim-web-'));
  try {
    // imported here, not at the top: Vite's bundler (rolldown) has a native binding that
    // `npm ci --omit=optional` drops; the playground test skips first (packageMissing('vite')).
    const { build } = await import('vite');
    await build({
      configFile: resolve(repoRoot, 'web/vite.config.ts'),
      logLevel: 'error',
      build: { outDir: dir, emptyOutDir: true },
    });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const root = resolve(dir);
  const { server, origin } = await serve((pathname) => {
    const file = resolve(root, `.${decodeURIComponent(pathname === '/' ? '/index.html' : pathname)}`);
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) return undefined;
    return { type: contentType(file), body: readFileSync(file) };
  });
  return {
    origin,
    dir,
    async close() {
      await new Promise((ok) => (server as Server).close(ok));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

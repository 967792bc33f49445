/**
 * What every browser test and the browser benchmark share: Debian's Chromium and the flags for a closed
 * network, the skip rule (skip naming what is missing, fail under CI=true), a static server on
 * 127.0.0.1, and where tfjs-backend-wasm's binaries lie.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { repoRoot } from '../support/golden.js';

export const CHROMIUM = '/usr/bin/chromium';

/** The flags for a closed network: no updates, no sync, no first-run, no sandbox (root in CI). */
export const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** tfjs-backend-wasm's .wasm files. */
export const wasmDir = resolve(repoRoot, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');

/** false when Chromium is there; else the skip message — or, under CI=true, an Error. */
export function chromiumSkip(): false | string {
  if (existsSync(CHROMIUM)) return false;
  const msg = `Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium)`;
  if (process.env.CI === 'true') throw new Error(`${msg}; .ci/run installs it`);
  return `${msg} — skipped`;
}

/** A response body and its content type. */
export interface Served {
  readonly type: string;
  readonly body: Uint8Array | string;
}

/** A node:http server on 127.0.0.1 (a free port); `route(pathname)` answers, undefined is a 404. */
export async function serve(route: (pathname: string) => Served | undefined): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const found = route(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    if (found === undefined) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': found.type });
    res.end(found.body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Content types by file extension, for serving a built site. */
export function contentType(path: string): string {
  const ext = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase() ?? '';
  const types: Record<string, string> = {
    html: 'text/html', js: 'text/javascript', mjs: 'text/javascript', css: 'text/css', json: 'application/json',
    wasm: 'application/wasm', svg: 'image/svg+xml', png: 'image/png', gz: 'application/gzip',
  };
  return types[ext] ?? 'application/octet-stream';
}

/** Chromium headless with a fresh profile in a temp directory; `close()` ends it and removes the profile. */
export async function launchChromium(viewport = { width: 1280, height: 800 }): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const work = mkdtempSync(join(tmpdir(), 'orthoptim-chromium-'));
  const context = await chromium.launchPersistentContext(join(work, 'profile'), { executablePath: CHROMIUM, args: FLAGS, headless: true, viewport });
  return {
    context,
    async close() {
      await context.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

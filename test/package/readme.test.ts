/**
 * The README is a tested document: every ```ts block in it runs as written, as its own module, with
 * `orthoptim` / `orthoptim/node` resolved to this checkout's sources (the published entries point at the
 * same files, built). A block preceded by `<!-- readme-test: skip REASON -->` is not run, and the test
 * lists those reasons so a skipped example is a visible decision.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../support/golden.js';

interface Block {
  readonly line: number;
  readonly code: string;
  readonly skip: string | null;
}

/** The ```ts blocks of a Markdown text, with the skip marker of each. */
export function tsBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```ts') continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i].trim() !== '```'; i++) body.push(lines[i]);
    let j = start - 1;
    while (j >= 0 && lines[j].trim() === '') j--;
    const marker = j >= 0 ? /<!--\s*readme-test:\s*skip\s+(.+?)\s*-->/.exec(lines[j]) : null;
    blocks.push({ line: start + 1, code: body.join('\n'), skip: marker ? marker[1] : null });
  }
  return blocks;
}

const entries: Record<string, string> = {
  orthoptim: pathToFileURL(resolve(repoRoot, 'src/index.ts')).href,
  'orthoptim/node': pathToFileURL(resolve(repoRoot, 'src/node/index.ts')).href,
  'orthoptim/engines': pathToFileURL(resolve(repoRoot, 'src/engines/node.ts')).href,
  'orthoptim/reference': pathToFileURL(resolve(repoRoot, 'src/reference.ts')).href,
  'orthoptim/adapters': pathToFileURL(resolve(repoRoot, 'src/tfjs/adapters.ts')).href,
};

function localImports(code: string): string {
  return code.replace(/(from\s+|import\s+)(['"])(orthoptim(?:\/[a-z]+)?)\2/g, (m, kw: string, q: string, name: string) => {
    const target = entries[name];
    assert.ok(target, `README imports '${name}', which is no entry of the package`);
    return `${kw}${q}${target}${q}`;
  });
}

const readme = readFileSync(resolve(repoRoot, 'README.md'), 'utf8');
const blocks = tsBlocks(readme);
// Under node_modules so the examples resolve @tensorflow/* from this checkout.
const cacheRoot = resolve(repoRoot, 'node_modules/.cache');
mkdirSync(cacheRoot, { recursive: true });
const work = mkdtempSync(join(cacheRoot, 'orthoptim-readme-'));
after(() => rmSync(work, { recursive: true, force: true }));

describe('README examples', () => {
  it('has TypeScript examples, the complete Node program among them', () => {
    assert.ok(blocks.length >= 4, `${blocks.length} blocks`);
    assert.ok(blocks.some((b) => b.code.includes("from 'orthoptim/node'") && b.code.includes('model.fit')));
  });

  it('installs every package the examples import', () => {
    const install = /npm install (orthoptim[^\n]*)/.exec(readme);
    assert.ok(install, 'an npm install line');
    const packages = new Set(install[1].split(/\s+/));
    for (const b of blocks) {
      for (const [, name] of b.code.matchAll(/from\s+['"]([^'"./][^'"]*)['"]|import\s+['"]([^'"./][^'"]*)['"]/g)) {
        if (name === undefined) continue;
        const pkg = name.startsWith('@') ? name.split('/').slice(0, 2).join('/') : name.split('/')[0];
        assert.ok(packages.has(pkg), `README line ${b.line} imports ${name}; the install line lacks ${pkg}`);
      }
    }
  });

  it('type-checks (strict, as a Node ES module)', () => {
    const dir = join(work, 'typecheck');
    mkdirSync(dir);
    const files = blocks.map((b, i) => {
      const file = join(dir, `block-${i + 1}.mts`);
      const relative = (target: string) => new URL(target).pathname.replace(/\.ts$/, '.js');
      writeFileSync(file, localImports(b.code).replace(/(['"])file:\/\/([^'"]+)\1/g, (_m, q: string, p: string) => `${q}${relative(`file://${p}`)}${q}`));
      return file;
    });
    const tsc = resolve(repoRoot, 'node_modules/typescript/bin/tsc');
    const args = [tsc, '--ignoreConfig', '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2022', '--types', 'node', '--skipLibCheck', ...files];
    const r = spawnSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `tsc on the README examples:\n${r.stdout}${r.stderr}`);
  });

  for (const [index, block] of blocks.entries()) {
    it(`block ${index + 1} (README line ${block.line}) runs as written`, { skip: block.skip ?? false }, () => {
      const dir = join(work, `block-${index + 1}`);
      mkdirSync(dir);
      const file = join(dir, 'example.mts'); // an ES module, as in a project with "type": "module"
      writeFileSync(file, localImports(block.code));
      const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, `README line ${block.line} exited with ${r.status}:\n${r.stderr}`);
    });
  }
});

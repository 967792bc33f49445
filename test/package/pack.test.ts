/**
 * What `npm pack` ships: the built library (dist/), README.md, LICENSE, CHANGELOG.md and package.json —
 * no tests, no data, no sources of the benchmarks' results. Every `exports` target, the `bin` and the
 * `sideEffects` files are in the tarball, and package.json carries the fields a registry page needs.
 * The dist/ part needs `npm run build` first (CI builds before testing; under CI=true a missing build fails).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { repoRoot } from '../support/golden.js';

interface PackageJson {
  name: string;
  license: string;
  repository?: { url: string };
  homepage?: string;
  bugs?: { url: string };
  exports: Record<string, string | Record<string, string>>;
  bin: Record<string, string>;
  sideEffects: string[];
  files: string[];
}

const pkg = JSON.parse(readFileSync(resolve(repoRoot, 'package.json'), 'utf8')) as PackageJson;
const built = existsSync(resolve(repoRoot, 'dist/index.js'));

function packedFiles(): string[] {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const out = execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const [info] = JSON.parse(out) as { files: { path: string }[] }[];
  return info.files.map((f) => f.path).sort();
}

describe('npm pack', () => {
  const files = packedFiles();

  it('ships README, LICENSE, CHANGELOG, package.json and the MPI addon sources, and nothing but dist/ besides', () => {
    // The addon's sources, so that `npm run build:mpi` works in an installed package (never its build/).
    const sources = ['native/mpi/binding.gyp', 'native/mpi/mpi.c'];
    for (const f of ['README.md', 'LICENSE', 'CHANGELOG.md', 'package.json', ...sources]) assert.ok(files.includes(f), `${f} is not packed`);
    const other = files.filter((f) => !f.startsWith('dist/') && !['README.md', 'LICENSE', 'CHANGELOG.md', 'package.json', ...sources].includes(f));
    assert.deepEqual(other, []);
    const unwanted = files.filter((f) => /^dist\/(test|bench\/tasks\/fixtures)\/|\.test\.|fixtures\/|\.(gz|bin|jsonl)$/.test(f));
    assert.deepEqual(unwanted, [], 'no tests, fixtures or data');
  });

  it('has the fields a registry page and a user need', () => {
    assert.equal(pkg.license, 'Apache-2.0');
    assert.match(readFileSync(resolve(repoRoot, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/);
    assert.match(pkg.repository?.url ?? '', /^git\+https:\/\/.+\.git$/);
    assert.ok(pkg.homepage && pkg.bugs?.url);
    for (const [path, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      assert.equal(target.default, target.import, `${path}: a 'default' condition so require() works where Node can require ES modules`);
      assert.ok(target.types, `${path}: types`);
    }
  });

  it('holds every exports target, the bin and the sideEffects files (after npm run build)', (t) => {
    if (!built) {
      if (process.env.CI === 'true') throw new Error('dist/ is missing: CI runs npm run build before npm test');
      t.skip('dist/ is not built here: run npm run build first');
      return;
    }
    const targets = Object.values(pkg.exports).flatMap((v) => (typeof v === 'string' ? [v] : Object.values(v)));
    for (const target of [...targets, ...Object.values(pkg.bin)]) {
      const path = target.replace(/^\.\//, '');
      assert.ok(files.includes(path), `${target} is not in the tarball`);
    }
    for (const pattern of pkg.sideEffects) {
      const re = new RegExp(`^${pattern.replace(/^\.\//, '').replace(/\./g, '\\.').replace(/\*/g, '[^/]+')}$`);
      assert.ok(files.some((f) => re.test(f)), `sideEffects entry ${pattern} matches no packed file`);
    }
    assert.ok(files.includes('dist/engines/workers.worker.js') && files.includes('dist/engines/onnxruntime.worker.js'));
  });
});

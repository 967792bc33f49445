/**
 * `orthoptim bench` killed with SIGKILL while it trains and checkpoints (every 2 steps, so a kill often
 * lands inside a checkpoint write), then run again with the same command: it resumes from the last
 * complete checkpoint and its log and results are bit-identical to a run that was never interrupted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = (out: string): string[] => [
  '--import',
  'tsx',
  'src/cli/main.ts',
  'bench',
  '--task',
  'synthetic',
  '--steps',
  '24',
  '--batch',
  '8',
  '--optimizers',
  'adamw',
  '--eval-every',
  '6',
  '--engine',
  'tfjs',
  '--checkpoint-every',
  '2',
  '--out',
  out,
];

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'orthoptim-kill-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function logOf(out: string): unknown[] {
  return readFileSync(join(out, 'synthetic', 'logs', 'adamw-s0.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; step: number; loss?: number; metric?: number; split?: string })
    .map((l) => [l.type, l.step, l.loss ?? null, l.metric ?? null, l.split ?? null]);
}

/** Starts the bench and kills it with SIGKILL `delayMs` after its first checkpoint exists. */
function killAfterFirstCheckpoint(out: string, delayMs: number): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args(out), { cwd: repoRoot, stdio: 'ignore' });
    const marker = join(out, 'synthetic', 'checkpoints', 'adamw-s0', 'run.json');
    let killed = false;
    const poll = setInterval(() => {
      if (!killed && existsSync(marker)) {
        killed = true;
        clearInterval(poll);
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }
    }, 5);
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      if (signal === 'SIGKILL') done();
      else fail(new Error(`the bench ended by itself (code ${code}) before it was killed: make it longer`));
    });
  });
}

describe('orthoptim bench after kill -9', () => {
  it('resumes from the last complete checkpoint, bit-identical to an uninterrupted run', async () => {
    const reference = join(dir, 'reference');
    const r = spawnSync(process.execPath, args(reference), { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const expected = logOf(reference);
    const summary = JSON.parse(readFileSync(join(reference, 'synthetic', 'summary.json'), 'utf8')) as { runs: { final: unknown }[] };

    for (const delayMs of [0, 150]) {
      const out = join(dir, `killed-${delayMs}`);
      await killAfterFirstCheckpoint(out, delayMs);
      const again = spawnSync(process.execPath, args(out), { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
      assert.equal(again.status, 0, again.stderr);
      assert.deepEqual(logOf(out), expected, `killed ${delayMs} ms after the first checkpoint: the log matches`);
      const resumed = JSON.parse(readFileSync(join(out, 'synthetic', 'summary.json'), 'utf8')) as { runs: { final: unknown; resumed: boolean }[] };
      assert.deepEqual(resumed.runs[0].final, summary.runs[0].final);
      assert.equal(resumed.runs[0].resumed, true);
    }
  });
});

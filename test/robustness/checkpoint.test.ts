/**
 * The checkpoint fault suite (issue 10, deliver 3). A small checkpoint (adamw on [3, 4] + [4], see
 * checkpointChild.ts) is damaged in every way a disk or an editor can damage it one byte at a time:
 * - every single-byte flip (xor 0x01, 0x20 and 0x80) of manifest.json and of the data file;
 * - every truncation point of both files;
 * and each damaged copy must either load bit-identically (same step, skipped steps, parameters and
 * state bytes) or fail with a CheckpointError — never load something else, never throw anything else.
 * Then child processes saving in a loop (one, or two at once) are killed with SIGKILL at varied moments,
 * several rounds in one directory: the checkpoint there must always load, hold the state of a step at least as late as the
 * last save the child reported done, and hold exactly the state that step has when trained without
 * interruption.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../support/backend.js';
import { CheckpointError, type CheckpointManifest } from '../../src/tfjs/checkpoint.js';
import type { TransformOptimizer } from '../../src/index.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/node/index.js';
import { makeOptimizer, makeVariables, trainStep } from './checkpointChild.js';

await useBackend('cpu');

/** What a restore put into an optimizer, as plain values (the staged state included). */
function restored(opt: TransformOptimizer) {
  const snap = opt.snapshotState();
  const out = {
    step: snap.step,
    skippedSteps: snap.skippedSteps,
    params: snap.params,
    slots: snap.slots.map((s) => ({ path: s.path, shape: s.tensor.shape, bytes: Buffer.from(new Uint8Array((s.tensor.dataSync() as Float32Array).buffer.slice(0))) })),
  };
  tf.dispose(snap.slots.map((s) => s.tensor));
  return out;
}

/** A state after `steps` uninterrupted steps, as {@link restored} shows it. */
function trained(steps: number) {
  const opt = makeOptimizer();
  const vars = makeVariables();
  for (let s = 0; s < steps; s++) trainStep(opt, vars, s);
  const out = restored(opt);
  opt.dispose();
  tf.dispose(vars);
  return out;
}

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'orthoptim-ckfault-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('checkpoint fault suite: single-byte flips and truncations', () => {
  const counts = { tried: 0, identical: 0, namedErrors: 0, otherErrors: 0, silent: 0 };
  const failures: string[] = [];
  let original: string;
  let expected: ReturnType<typeof restored>;
  let dataFile: string;

  before(async () => {
    original = join(root, 'original');
    const opt = makeOptimizer();
    const vars = makeVariables();
    for (let s = 0; s < 3; s++) trainStep(opt, vars, s);
    await saveCheckpoint(opt, original);
    expected = restored(opt);
    dataFile = (JSON.parse(readFileSync(join(original, 'manifest.json'), 'utf8')) as CheckpointManifest).dataFile;
    opt.dispose();
    tf.dispose(vars);
  });

  /** Loads `dir` into a fresh optimizer and sorts the outcome into the counts. */
  async function judge(dir: string, what: string): Promise<void> {
    counts.tried++;
    const opt = makeOptimizer();
    try {
      await loadCheckpoint(opt, dir);
      try {
        assert.deepEqual(restored(opt), expected);
        counts.identical++;
      } catch {
        counts.silent++;
        failures.push(`${what}: loaded, but the state differs`);
      }
    } catch (e) {
      if (e instanceof CheckpointError) counts.namedErrors++;
      else {
        counts.otherErrors++;
        failures.push(`${what}: ${(e as Error).name}: ${(e as Error).message}`);
      }
    } finally {
      opt.dispose();
    }
  }

  it('the undamaged copy loads identically', async () => {
    const dir = join(root, 'copy');
    cpSync(original, dir, { recursive: true });
    await judge(dir, 'undamaged');
    assert.deepEqual(counts, { tried: 1, identical: 1, namedErrors: 0, otherErrors: 0, silent: 0 });
  });

  for (const file of ['manifest.json', 'data']) {
    it(`every single-byte flip and every truncation of ${file}: identical or a CheckpointError`, async () => {
      const dir = join(root, `damaged-${file}`);
      cpSync(original, dir, { recursive: true });
      const name = file === 'data' ? dataFile : file;
      const path = join(dir, name);
      const bytes = readFileSync(path);
      const before = { ...counts };
      for (let at = 0; at < bytes.length; at++) {
        for (const mask of [0x01, 0x20, 0x80]) {
          const damaged = Buffer.from(bytes);
          damaged[at] ^= mask;
          writeFileSync(path, damaged);
          await judge(dir, `${name}: byte ${at} xor 0x${mask.toString(16)}`);
        }
      }
      for (let length = 0; length < bytes.length; length++) {
        writeFileSync(path, bytes.subarray(0, length));
        await judge(dir, `${name}: truncated to ${length} bytes`);
      }
      writeFileSync(path, bytes);
      const tried = counts.tried - before.tried;
      assert.equal(tried, bytes.length * 4);
      console.log(
        `# ${name} (${bytes.length} bytes): ${tried} damaged copies (${bytes.length * 3} flips, ${bytes.length} truncations): ` +
          `${counts.identical - before.identical} loaded identically, ${counts.namedErrors - before.namedErrors} CheckpointErrors, ` +
          `${counts.otherErrors - before.otherErrors} other errors, ${counts.silent - before.silent} silent changes`,
      );
      assert.deepEqual(failures, []);
      assert.equal(counts.silent, 0);
      assert.equal(counts.otherErrors, 0);
    });
  }
});

describe('checkpoint fault suite: kill -9 during a save loop', () => {
  const child = fileURLToPath(new URL('./checkpointChild.ts', import.meta.url));
  const ROUNDS = 6;

  /**
   * Runs the save loop in `children` processes at once (all saving into `dir`) and kills them all with
   * SIGKILL `delayMs` after the first completed save any of them reports.
   */
  function round(dir: string, children: number, delayMs: number): Promise<{ lastSaved: number; killedMidSave: number }> {
    const procs = Array.from({ length: children }, () =>
      spawn(process.execPath, ['--import', 'tsx', child, '--save-loop', dir], { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    let timer: NodeJS.Timeout | null = null;
    const killAll = () => procs.forEach((p) => p.kill('SIGKILL'));
    const results = procs.map(
      (p) =>
        new Promise<{ saved: number[]; midSave: boolean }>((resolve, reject) => {
          let out = '';
          let err = '';
          p.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            if (timer === null && out.includes('saved ')) timer = setTimeout(killAll, delayMs);
          });
          p.stderr.on('data', (d: Buffer) => (err += d.toString()));
          p.on('exit', (code, signal) => {
            if (signal !== 'SIGKILL') {
              reject(new Error(`a save loop ended by itself (code ${code}); stderr: ${err}`));
              return;
            }
            const lines = out.split('\n').filter((l) => l.startsWith('saving ') || l.startsWith('saved '));
            resolve({
              saved: lines.filter((l) => l.startsWith('saved ')).map((l) => Number(l.slice(6))),
              midSave: (lines.at(-1) ?? '').startsWith('saving '),
            });
          });
        }),
    );
    const guard = setTimeout(killAll, 60_000); // a loop that never saves fails the round instead of hanging
    return Promise.all(results).then(
      (rs) => {
        clearTimeout(guard);
        const saved = rs.flatMap((r) => r.saved);
        assert.ok(saved.length > 0, 'no save was reported within 60 s');
        return { lastSaved: Math.max(...saved), killedMidSave: rs.filter((r) => r.midSave).length };
      },
      (e: unknown) => {
        clearTimeout(guard);
        killAll();
        throw e;
      },
    );
  }

  it(`${ROUNDS} rounds in one directory (every other one with two processes saving at once): the previous checkpoint always survives, exactly`, async () => {
    const dir = join(root, 'killed');
    let previous = 0;
    let midSave = 0;
    let killed = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const children = r % 2 === 0 ? 1 : 2;
      const { lastSaved, killedMidSave } = await round(dir, children, 5 + ((r * 37) % 60));
      midSave += killedMidSave;
      killed += children;
      const opt = makeOptimizer();
      const report = await loadCheckpoint(opt, dir);
      // One writer: its last reported save (or a later one) is there. Two: the last rename of either wins,
      // which may be the other's older step — but always a step saved in this round, on top of the last.
      assert.ok(report.step > previous, `round ${r}: loaded step ${report.step}, previous round ${previous}`);
      if (children === 1) assert.ok(report.step >= lastSaved, `round ${r}: loaded step ${report.step}, last save reported ${lastSaved}`);
      const { params: _names, ...state } = restored(opt); // parameter names carry the child's pid
      void _names;
      const { params: _ours, ...reference } = trained(report.step);
      void _ours;
      assert.deepEqual(state, reference, `round ${r}: the state of step ${report.step} differs from an uninterrupted run`);
      opt.dispose();
      previous = report.step;
    }
    // A save from this process removes what the killed writers left behind.
    const opt = makeOptimizer();
    await loadCheckpoint(opt, dir);
    const vars = makeVariables();
    trainStep(opt, vars, opt.step);
    await saveCheckpoint(opt, dir);
    assert.equal(readdirSync(dir).length, 2, readdirSync(dir).join(', '));
    opt.dispose();
    tf.dispose(vars);
    console.log(`# kill -9: ${ROUNDS} rounds, ${killed} processes killed, ${midSave} of them between 'saving' and 'saved', last step ${previous}`);
  });
});

describe('checkpoint loads while another process keeps saving', () => {
  /**
   * The flake of "kill -9 during a save loop": a child resuming (loadCheckpoint) while its sibling saved
   * in a fast loop read manifest.json, then found its data file already removed by the sibling's next
   * save — twice in a row, and two tries were all a load made ("data file 'state.….bin' is missing").
   * Here the sibling is a hook on fs.promises.readFile: after each of the first `replacements` reads of
   * the manifest it installs the next real checkpoint (data file, then manifest renamed over, then the
   * old data file removed: what saveCheckpoint does), so the manifest the load just read names a file
   * that is gone.
   */
  async function loadWhileReplaced(replacements: number) {
    const base = mkdtempSync(join(root, 'replaced-'));
    const opt = makeOptimizer();
    const vars = makeVariables();
    const saves: string[] = [];
    for (let s = 0; s <= replacements; s++) {
      trainStep(opt, vars, s);
      const d = join(base, `save${s}`);
      await saveCheckpoint(opt, d);
      saves.push(d);
    }
    opt.dispose();
    tf.dispose(vars);
    const dir = join(base, 'live');
    cpSync(saves[0], dir, { recursive: true });
    const dataFileOf = (d: string) => (JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as CheckpointManifest).dataFile;
    const fsp = (await import('node:fs')).promises;
    const { syncBuiltinESMExports } = await import('node:module');
    const original = fsp.readFile;
    let installed = 0;
    fsp.readFile = (async (...args: Parameters<typeof original>) => {
      const result = await original(...args);
      if (args[0] === join(dir, 'manifest.json') && installed < replacements) {
        installed++;
        const old = dataFileOf(dir);
        const next = saves[installed];
        cpSync(join(next, dataFileOf(next)), join(dir, dataFileOf(next)));
        cpSync(join(next, 'manifest.json'), join(dir, 'manifest.json.tmp'));
        renameSync(join(dir, 'manifest.json.tmp'), join(dir, 'manifest.json'));
        rmSync(join(dir, old));
      }
      return result;
    }) as typeof original;
    syncBuiltinESMExports();
    try {
      const target = makeOptimizer();
      const report = await loadCheckpoint(target, dir);
      target.dispose();
      return { report, installed };
    } finally {
      fsp.readFile = original;
      syncBuiltinESMExports();
    }
  }

  it('a load reads the newer checkpoint however often it was replaced meanwhile (1, 2 and 5 times), step exact', async () => {
    for (const replacements of [1, 2, 5]) {
      const { report, installed } = await loadWhileReplaced(replacements);
      assert.equal(installed, replacements, 'the hook replaced the checkpoint');
      assert.equal(report.step, replacements + 1, `${replacements} replacements: the last checkpoint installed is loaded`);
    }
  });

  it('a manifest naming a missing data file (not replaced) is still a named error', async () => {
    const dir = mkdtempSync(join(root, 'missing-'));
    const opt = makeOptimizer();
    const vars = makeVariables();
    trainStep(opt, vars, 0);
    const manifest = await saveCheckpoint(opt, dir);
    opt.dispose();
    tf.dispose(vars);
    rmSync(join(dir, manifest.dataFile));
    await assert.rejects(loadCheckpoint(makeOptimizer(), dir), (e: Error) => {
      assert.ok(e instanceof CheckpointError);
      assert.match(e.message, new RegExp(`data file '${manifest.dataFile.replace(/\./g, '\\.')}' is missing$`));
      return true;
    });
  });
});

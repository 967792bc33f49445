/**
 * The results folder of runComparison under damage (issue 10 item 8): a flipped byte in the parameters,
 * an edited, truncated or garbage run.json, a damaged optimizer checkpoint, a log that lost lines, a
 * broken run record or settings file — each is an error naming the file and what is wrong, and nothing
 * in the folder is overwritten; an intact folder (also one a kill left mid-checkpoint) resumes
 * bit-identically.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { useBackend } from '../support/backend.js';
import { RunInterrupted, runComparison, type ComparisonOptions, type ComparisonOutcome } from '../../src/bench/runner.js';
import { syntheticTask } from '../../src/bench/tasks/index.js';
import {
  RUN_CHECKPOINT_FORMAT,
  ResultsFileError,
  readRunCheckpoint,
  readSweep,
  readLog,
  type RunCheckpoint,
} from '../../src/bench/resultsFiles.js';
import { CheckpointError, canonicalJson } from '../../src/tfjs/checkpoint.js';
import { sha256 } from '../../src/node/fileSystem.js';

const tiny = syntheticTask({ name: 'tiny', inputSize: 32, numClasses: 4, hidden: [16, 16], teacherHidden: 8, trainCount: 256, testCount: 64 });
/** 32·16 + 16 + 16·16 + 16 + 16·4 + 4 float32 parameters. */
const PARAMETERS = 32 * 16 + 16 + 16 * 16 + 16 + 16 * 4 + 4;
const options: ComparisonOptions = {
  task: tiny,
  optimizers: [{ name: 'muon' }, { name: 'adamw' }],
  steps: 20,
  batch: 16,
  seeds: [0],
  evalEvery: 10,
  checkpointEvery: 5,
};

let scratch: string;
/** A folder interrupted after 32 steps: muon-s0 finished, adamw-s0 checkpointed at step 10. */
let pristine: string;
let reference: ComparisonOutcome;
const ckpt = (dir: string): string => join(dir, 'checkpoints', 'adamw-s0');

before(async () => {
  await useBackend('wasm');
  scratch = mkdtempSync(join(tmpdir(), 'orthoptim-resume-faults-'));
  reference = await runComparison(options);
  pristine = join(scratch, 'pristine');
  await assert.rejects(runComparison({ ...options, outDir: pristine, interruptAfter: 32 }), RunInterrupted);
});
after(() => rmSync(scratch, { recursive: true, force: true }));

let copies = 0;
function copy(): string {
  const dir = join(scratch, `copy-${copies++}`);
  cpSync(pristine, dir, { recursive: true });
  return dir;
}

/** Every file below `dir` with its bytes. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p).toString('base64'));
    }
  };
  walk(dir);
  return out;
}

function runJson(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(ckpt(dir), 'run.json'), 'utf8')) as Record<string, unknown>;
}

function writeRunJson(dir: string, value: unknown): void {
  writeFileSync(join(ckpt(dir), 'run.json'), typeof value === 'string' ? value : JSON.stringify(value, null, 1));
}

/** The body of run.json with its sha256 recomputed (a forger who knows the format). */
function sealed(value: Record<string, unknown>): Record<string, unknown> {
  const body = Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'sha256'));
  return { ...body, sha256: sha256(canonicalJson(body)) };
}

/** Resumes `dir`, expects `errorClass` with `message`, and checks nothing in the folder changed. */
async function refuses(dir: string, errorClass: typeof CheckpointError | typeof ResultsFileError, message: RegExp): Promise<void> {
  const before = snapshot(dir);
  await assert.rejects(runComparison({ ...options, outDir: dir }), (e: unknown) => {
    assert.ok(e instanceof errorClass, `expected ${errorClass.name}, got ${String(e)}`);
    assert.match((e as Error).message, message);
    return true;
  });
  assert.deepEqual(snapshot(dir), before, 'nothing in the results folder is written or removed');
}

async function resumesExactly(dir: string): Promise<void> {
  const events: string[] = [];
  const resumed = await runComparison({
    ...options,
    outDir: dir,
    onProgress: (e) => {
      if (e.type === 'runStart') events.push(`${e.id}@${e.fromStep}`);
    },
  });
  assert.deepEqual(events, ['adamw-s0@10']);
  for (const id of ['muon-s0', 'adamw-s0']) assert.deepEqual(resumed.curves[id].losses, reference.curves[id].losses, `${id} bit-identical`);
  const a = resumed.summary.runs.find((r) => r.id === 'adamw-s0')!;
  const b = reference.summary.runs.find((r) => r.id === 'adamw-s0')!;
  assert.deepEqual(a.final, b.final);
  assert.equal(a.resumed, true);
}

describe('run checkpoint layout', () => {
  it('run.json names a params file with its size and sha256 and an optimizer folder, and is sealed by its own sha256', () => {
    const files = readdirSync(ckpt(pristine)).sort();
    assert.deepEqual(files, ['optimizer-10', 'params-10.bin', 'run.json'], 'the previous pair (step 5) is gone');
    const meta = runJson(pristine) as unknown as RunCheckpoint;
    assert.equal(meta.format, RUN_CHECKPOINT_FORMAT);
    assert.equal(meta.id, 'adamw-s0');
    assert.equal(meta.step, 10);
    assert.equal(meta.stepMs.length, 10);
    const bytes = readFileSync(join(ckpt(pristine), 'params-10.bin'));
    assert.deepEqual(meta.params, { file: 'params-10.bin', bytes: PARAMETERS * 4, sha256: sha256(bytes) });
    assert.equal(meta.optimizer, 'optimizer-10');
    assert.equal(meta.sha256, sealed(meta as unknown as Record<string, unknown>).sha256);
  });

  it('an intact folder resumes bit-identically', async () => {
    await resumesExactly(copy());
  });

  it('a kill during the next checkpoint (a newer, unnamed pair beside run.json) still resumes from run.json, bit-identically', async () => {
    const dir = copy();
    writeFileSync(join(ckpt(dir), 'params-15.bin'), 'half written');
    cpSync(join(ckpt(dir), 'optimizer-10'), join(ckpt(dir), 'optimizer-15'), { recursive: true });
    writeFileSync(join(ckpt(dir), 'run.json.123.abcd.tmp'), '{"format": "orth');
    await resumesExactly(dir);
  });

  it('a log line torn by a kill while it was appended is dropped on resume', async () => {
    const dir = copy();
    appendFileSync(join(dir, 'logs', 'adamw-s0.jsonl'), '{"type":"step","step":11,"lo');
    await resumesExactly(dir);
  });
});

describe('damaged results folders are refused, naming the file; nothing is overwritten', () => {
  it('a flipped byte in the parameters', async () => {
    const dir = copy();
    const file = join(ckpt(dir), 'params-10.bin');
    const bytes = readFileSync(file);
    bytes[1234] ^= 0x01;
    writeFileSync(file, bytes);
    await refuses(dir, CheckpointError, /params-10\.bin: is damaged: its sha256 is [0-9a-f]{64}, run\.json records [0-9a-f]{64}; delete .*adamw-s0 to restart run adamw-s0 from step 0/);
  });

  it('truncated or missing parameters', async () => {
    const dir = copy();
    const file = join(ckpt(dir), 'params-10.bin');
    writeFileSync(file, readFileSync(file).subarray(0, 1000));
    await refuses(dir, CheckpointError, /params-10\.bin: is truncated or padded: 1000 bytes, run\.json records 3472/);
    rmSync(file);
    await refuses(dir, CheckpointError, /params-10\.bin: is missing \(run\.json names it\)/);
  });

  it('an edited step: the timers no longer fit, or the seal breaks, or the optimizer checkpoint disagrees', async () => {
    const dir = copy();
    const meta = runJson(dir);
    writeRunJson(dir, { ...meta, step: 5 });
    await refuses(dir, CheckpointError, /run\.json: field 'stepMs' must be 5 finite numbers >= 0 \(one per step\)/);
    const trimmed = { ...meta, step: 5, stepMs: (meta.stepMs as number[]).slice(0, 5), optimizerMs: (meta.optimizerMs as number[]).slice(0, 5) };
    writeRunJson(dir, trimmed);
    await refuses(dir, CheckpointError, /run\.json: was edited or damaged: its sha256 does not match its contents/);
    writeRunJson(dir, sealed(trimmed));
    await refuses(dir, CheckpointError, /optimizer-10: holds the optimizer at step 10, run\.json says step 5/);
    writeRunJson(dir, { ...meta, wallMs: (meta.wallMs as number) + 1 });
    await refuses(dir, CheckpointError, /run\.json: was edited or damaged/);
    writeRunJson(dir, { ...meta, step: 20 });
    await refuses(dir, CheckpointError, /run\.json: field 'step' must be an integer from 1 to 19 \(the run has 20 steps\), got 20/);
  });

  it('missing fields and fields of the wrong type are named', async () => {
    const dir = copy();
    const meta = runJson(dir);
    const cases: [Record<string, unknown>, RegExp][] = [
      [Object.fromEntries(Object.entries(meta).filter(([k]) => k !== 'wallMs')), /field 'wallMs' is missing/],
      [Object.fromEntries(Object.entries(meta).filter(([k]) => k !== 'sha256')), /field 'sha256' is missing/],
      [{ ...meta, step: 'abc' }, /field 'step' must be an integer from 1 to 19 .*got "abc"/],
      [{ ...meta, step: -1 }, /field 'step' must be an integer/],
      [{ ...meta, step: 2.5 }, /field 'step' must be an integer/],
      [{ ...meta, evalMs: null }, /field 'evalMs' must be a finite number >= 0, got null/],
      [{ ...meta, id: 'muon-s0' }, /belongs to run 'muon-s0', not 'adamw-s0'/],
      [{ ...meta, format: 'orthoptim-bench-checkpoint/9' }, /field 'format' must be 'orthoptim-bench-checkpoint\/2'/],
      [{ ...meta, params: { ...(meta.params as object), file: '../../../etc/passwd' } }, /field 'params' must be \{file: 'params-<step>\.bin'/],
      [{ ...meta, params: { ...(meta.params as object), bytes: 4 } }, /field 'params' must be .*bytes: 3472/],
      [{ ...meta, optimizer: '../../checkpoints' }, /field 'optimizer' must be 'optimizer-<step>'/],
    ];
    for (const [value, message] of cases) {
      writeRunJson(dir, value);
      await refuses(dir, CheckpointError, new RegExp(`run\\.json: .*${message.source}`));
    }
  });

  it('truncated, empty and garbage run.json', async () => {
    const dir = copy();
    const text = readFileSync(join(ckpt(dir), 'run.json'), 'utf8');
    writeRunJson(dir, text.slice(0, text.length >> 1));
    await refuses(dir, CheckpointError, /run\.json: is not valid JSON \(truncated or damaged\)/);
    writeRunJson(dir, '');
    await refuses(dir, CheckpointError, /run\.json: is empty/);
    writeFileSync(join(ckpt(dir), 'run.json'), Buffer.from([0xff, 0x00, 0x13, 0x37, 0x80]));
    await refuses(dir, CheckpointError, /run\.json: is not valid JSON/);
    writeRunJson(dir, '[1, 2]');
    await refuses(dir, CheckpointError, /run\.json: must hold a JSON object, got \[1,2\]/);
  });

  it('a checkpoint of the earlier layout (params.bin, no checksums) is refused, naming --fresh', async () => {
    const dir = copy();
    const meta = runJson(dir);
    cpSync(join(ckpt(dir), 'params-10.bin'), join(ckpt(dir), 'params.bin'));
    writeRunJson(dir, { id: meta.id, step: meta.step, wallMs: meta.wallMs, evalMs: meta.evalMs, stepMs: meta.stepMs, optimizerMs: meta.optimizerMs });
    await refuses(dir, CheckpointError, /run\.json: is a checkpoint of an earlier orthoptim, without the checksums .*; delete \S*adamw-s0 to restart run adamw-s0 from step 0 \(finished runs are kept\), or start over \(--fresh\)/);
  });

  it('a damaged optimizer checkpoint', async () => {
    const dir = copy();
    const opt = join(ckpt(dir), 'optimizer-10');
    const data = readdirSync(opt).find((n) => n.endsWith('.bin'))!;
    const bytes = readFileSync(join(opt, data));
    bytes[bytes.length >> 1] ^= 0x80;
    writeFileSync(join(opt, data), bytes);
    await refuses(dir, CheckpointError, /optimizer-10/);
  });

  it('a log that lost lines before the checkpoint, or holds a line that is not a log line', async () => {
    const dir = copy();
    const file = join(dir, 'logs', 'adamw-s0.jsonl');
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    writeFileSync(file, `${lines.slice(0, 5).join('\n')}\n`);
    await refuses(dir, ResultsFileError, /adamw-s0\.jsonl: holds 5 step lines \(steps 1 … 5\) up to the checkpoint, which is at step 10/);
    writeFileSync(file, `${lines.slice(0, 3).join('\n')}\n{"type":"step","step":"x"}\n${lines.slice(3).join('\n')}\n`);
    await refuses(dir, ResultsFileError, /adamw-s0\.jsonl:4: not a log line/);
    writeFileSync(file, `${lines.slice(0, 3).join('\n')}\nnot json\n${lines.slice(3).join('\n')}\n`);
    await refuses(dir, ResultsFileError, /adamw-s0\.jsonl:4: not a JSON line/);
  });

  it("a finished run's record that is truncated, or whose log points out of the folder, or whose log is missing", async () => {
    const dir = copy();
    const file = join(dir, 'runs', 'muon-s0.json');
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, 100));
    await refuses(dir, ResultsFileError, /runs\/muon-s0\.json: is not valid JSON \(truncated or damaged\); delete it to rerun that run, or start over \(--fresh\)/);
    const record = JSON.parse(text) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...record, log: '../../../../etc/passwd' }));
    await refuses(dir, ResultsFileError, /runs\/muon-s0\.json: field 'log' must be 'logs\/muon-s0\.jsonl'/);
    writeFileSync(file, JSON.stringify({ ...record, final: { ...(record.final as object), trainLoss: 'low' } }));
    await refuses(dir, ResultsFileError, /field 'final\.trainLoss' must be a number, got "low"/);
    writeFileSync(file, text);
    rmSync(join(dir, 'logs', 'muon-s0.jsonl'));
    await refuses(dir, ResultsFileError, /logs\/muon-s0\.jsonl: is missing/);
  });

  it('a garbage settings.json', async () => {
    const dir = copy();
    writeFileSync(join(dir, 'settings.json'), '{"task": "tiny", ');
    await refuses(dir, ResultsFileError, /settings\.json: is not valid JSON \(truncated or damaged\); use another output folder, or start over \(--fresh\)/);
  });
});

describe('fault sweep of a run checkpoint', () => {
  const expect = { id: 'adamw-s0', steps: 20, parameters: PARAMETERS };

  it('every single-byte flip and every truncation of run.json either reads back identically or is a CheckpointError', () => {
    const dir = join(scratch, 'sweep');
    cpSync(ckpt(pristine), dir, { recursive: true });
    const original = readFileSync(join(dir, 'run.json'));
    const good = readRunCheckpoint(dir, expect)!;
    let same = 0;
    let refused = 0;
    const silent: string[] = [];
    const check = (what: string, bytes: Uint8Array): void => {
      writeFileSync(join(dir, 'run.json'), bytes);
      try {
        const r = readRunCheckpoint(dir, expect);
        const identical = r !== null && canonicalJson(r.checkpoint) === canonicalJson(good.checkpoint) && Buffer.compare(Buffer.from(r.params.buffer), Buffer.from(good.params.buffer)) === 0;
        if (identical) same++;
        else silent.push(what);
      } catch (e) {
        if (!(e instanceof CheckpointError)) throw new Error(`${what}: ${String(e)}`, { cause: e });
        refused++;
      }
    };
    for (let i = 0; i < original.length; i++) {
      for (const mask of [0x01, 0x20, 0x80]) {
        const bytes = Buffer.from(original);
        bytes[i] ^= mask;
        check(`byte ${i} ^ ${mask}`, bytes);
      }
    }
    for (let n = 0; n < original.length; n++) check(`truncated to ${n}`, original.subarray(0, n));
    assert.deepEqual(silent, [], 'no damage is read as another checkpoint');
    assert.ok(refused > original.length * 3, `refused ${refused}, identical ${same}`);
  });

  it('every flipped byte of the parameter file is a CheckpointError', () => {
    const dir = join(scratch, 'sweep-params');
    cpSync(ckpt(pristine), dir, { recursive: true });
    const file = join(dir, 'params-10.bin');
    const original = readFileSync(file);
    for (let i = 0; i < original.length; i += 7) {
      const bytes = Buffer.from(original);
      bytes[i] ^= 0x80;
      writeFileSync(file, bytes);
      assert.throws(() => readRunCheckpoint(dir, expect), (e: unknown) => e instanceof CheckpointError && /is damaged: its sha256/.test(e.message), `byte ${i}`);
    }
  });

  it('readSweep and readLog name the file and what is wrong', () => {
    const file = join(scratch, 'sweep-x.json');
    writeFileSync(file, '{"points": [{"learningRate": -1, "validationLoss": 0.5}]}');
    assert.throws(() => readSweep(file), /sweep-x\.json: field 'points' must be a non-empty list of \{learningRate: number > 0/);
    writeFileSync(file, '{"points": [{"learningRate": 0.1, "validationLoss": null}]}');
    assert.deepEqual(readSweep(file), [{ learningRate: 0.1, validationLoss: null }]);
    assert.equal(readSweep(join(scratch, 'none.json')), null);
    const log = join(scratch, 'x.jsonl');
    writeFileSync(log, '{"type":"step","step":1,"loss":1,"wallMs":1,"optimizerMs":1}\n{"type":"step","st');
    assert.throws(() => readLog(log), /x\.jsonl:2: not a JSON line/);
    assert.equal(readLog(log, { tornTail: true }).length, 1);
  });
});

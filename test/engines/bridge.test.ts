/**
 * The synchronous thread bridge (src/engines/bridge.ts): round trips, shared-buffer growth on both sides,
 * errors and worker deaths surfacing as thrown Errors (never a hang), timeouts, no handles left after
 * terminate, and the shared-memory collectives between workers. Fixture: ./echo.worker.ts.
 */
import { useBackend } from '../support/backend.js';
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { SharedCollective, SyncWorker, serveSync, syncWorkerData } from '../../src/engines/bridge.js';

await useBackend('wasm');

const ECHO = new URL('./echo.worker.js', import.meta.url);

/** MessagePort and Worker entries among the resources keeping the process alive. */
function threadHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'MessagePort' || r === 'Worker').length;
}

function timed<T>(f: () => T): { value?: T; error?: Error; ms: number } {
  const t = performance.now();
  try {
    return { value: f(), ms: performance.now() - t };
  } catch (e) {
    return { error: e as Error, ms: performance.now() - t };
  }
}

describe('SyncWorker', () => {
  const baseline = threadHandles();
  const w = new SyncWorker(ECHO, { name: 'echo', timeoutMs: 20_000, workerData: [5, 6, 7] });
  after(() => w.terminate());

  it('starts lazily, then round-trips several arrays with meta', () => {
    assert.equal(w.started, false);
    const a = Float32Array.of(1, -2, 3.5);
    const b = Float32Array.of(4);
    const c = new Float32Array(0);
    const out = w.call('scale', [a, b, c], { factor: -2 });
    assert.equal(w.started, true);
    assert.deepEqual(out, [new Float32Array(0), Float32Array.of(-8), Float32Array.of(-2, 4, -7), Float32Array.of(3, 1, 0)]);
    // inputs untouched, outputs are copies that later calls do not overwrite
    assert.deepEqual(a, Float32Array.of(1, -2, 3.5));
    w.call('scale', [Float32Array.of(9, 9, 9)], { factor: 1 });
    assert.deepEqual(out[2], Float32Array.of(-2, 4, -7));
  });

  it('copies outputs that alias the shared inputs before writing any', () => {
    assert.deepEqual(w.call('swap', [Float32Array.of(1, 2), Float32Array.of(3)]), [Float32Array.of(3), Float32Array.of(1, 2)]);
  });

  it('grows the shared buffer for large inputs (caller side) and large outputs (worker side)', () => {
    const big = Float32Array.from({ length: 300_000 }, (_, i) => i % 1000);
    const [back, lengths] = w.call('scale', [big], { factor: 0.5 });
    assert.equal(back.length, big.length);
    assert.equal(back[123_456], (123_456 % 1000) * 0.5);
    assert.deepEqual(lengths, Float32Array.of(300_000));
    const [grown] = w.call('grow', [], { length: 1_000_000 });
    assert.equal(grown.length, 1_000_000);
    assert.equal(grown[999_999], 999_999);
    // and small calls keep working with the grown buffer
    assert.deepEqual(w.call('scale', [Float32Array.of(2)], { factor: 3 })[0], Float32Array.of(6));
  });

  it('passes workerData through', () => {
    assert.deepEqual(w.call('workerData'), [Float32Array.of(5, 6, 7)]);
  });

  it('throws a handler error with its name and message, and keeps serving', () => {
    assert.throws(() => w.call('fail', [], { message: 'factor must be in [0, 1), got 7' }), (e: Error) => {
      assert.ok(e instanceof RangeError);
      assert.equal(e.message, 'factor must be in [0, 1), got 7');
      assert.match(e.stack ?? '', /echo\.worker/);
      return true;
    });
    assert.throws(() => w.call('noSuchMethod'), /no handler for 'noSuchMethod'/);
    assert.deepEqual(w.call('scale', [Float32Array.of(1)], { factor: 2 })[0], Float32Array.of(2));
  });

  it('a worker that exits during a call makes it throw at once; the next call starts a new thread', () => {
    const r = timed(() => w.call('exit', [], { code: 7 }));
    assert.match(r.error?.message ?? '', /echo: worker exited with code 7 during 'exit'/);
    assert.ok(r.ms < 5000, `took ${r.ms} ms`);
    assert.deepEqual(w.call('scale', [Float32Array.of(1)], { factor: 4 })[0], Float32Array.of(4));
  });

  it('an uncaught exception in the worker makes the call throw with its message', () => {
    const r = timed(() => w.call('crashNow'));
    assert.match(r.error?.message ?? '', /echo: worker failed during 'crashNow': uncaught before the reply/);
    assert.ok(r.ms < 5000, `took ${r.ms} ms`);
    assert.deepEqual(w.call('scale', [Float32Array.of(1)], { factor: 5 })[0], Float32Array.of(5));
  });

  it('post twice without wait throws; wait without post throws', () => {
    w.post('scale', [Float32Array.of(1)], { factor: 1 });
    assert.throws(() => w.post('scale', [], { factor: 1 }), /'scale' is still pending/);
    assert.deepEqual(w.wait()[0], Float32Array.of(1));
    assert.throws(() => w.wait(), /wait\(\) without a pending call/);
  });

  it('a call that does not answer throws after timeoutMs and the thread is stopped', async () => {
    const h = new SyncWorker(ECHO, { name: 'hang', timeoutMs: 1500 });
    h.call('scale', [], { factor: 1 }); // started (start-up is not part of the timed call)
    const r = timed(() => h.call('hang'));
    assert.match(r.error?.message ?? '', /hang: 'hang' did not answer within 1500 ms/);
    assert.ok(r.ms >= 1400 && r.ms < 6000, `took ${r.ms} ms`);
    assert.equal(h.started, false);
    await h.terminate();
  });

  it('a missing script, or a module that never calls serveSync, throws instead of hanging', async () => {
    const missing = new SyncWorker(new URL('./no-such.worker.js', import.meta.url));
    assert.throws(() => missing.call('x'), /worker script not found: .*no-such\.worker\.js/);
    const silent = new SyncWorker(new URL('../../src/engines/engine.js', import.meta.url), { name: 'silent' });
    const r = timed(() => silent.call('x'));
    assert.match(r.error?.message ?? '', /silent: worker failed during 'x': worker module .*engine\.ts did not call serveSync\(\)/);
    await Promise.all([missing.terminate(), silent.terminate()]);
  });

  it('serveSync and syncWorkerData refuse to run outside a bridge worker', () => {
    assert.throws(() => serveSync({}), /serveSync: not in a thread started by SyncWorker/);
    assert.throws(() => syncWorkerData(), /syncWorkerData: not in a thread started by SyncWorker/);
  });

  it('rejects a non-positive timeout', () => {
    assert.throws(() => new SyncWorker(ECHO, { timeoutMs: 0 }), /SyncWorker: timeoutMs must be in \(0, inf\), got 0/);
  });

  it('terminate leaves no MessagePort or Worker handle behind', async () => {
    const t = new SyncWorker(ECHO);
    t.call('scale', [], { factor: 1 });
    await w.terminate();
    await t.terminate();
    assert.equal(threadHandles(), baseline);
    assert.equal(t.started, false);
  });
});

describe('SharedCollective between workers', () => {
  const ranks = [0, 1, 2].map((r) => new SyncWorker(ECHO, { name: `rank ${r}`, timeoutMs: 20_000 }));
  after(() => Promise.all(ranks.map((r) => r.terminate())));

  it('all-reduces in rank order and all-gathers blocks of different lengths, identically on every rank', () => {
    const buffers = SharedCollective.allocate(3, 4);
    const inputs = [Float32Array.of(1, 2, 3, 4), Float32Array.of(10, 20, 30, 40), Float32Array.of(0.5, 0.25, 0.125, 1e-8)];
    ranks.forEach((w, rank) => w.post('collective', [inputs[rank]], { buffers, rank }));
    const outs = ranks.map((w) => w.wait());
    const sum = Float32Array.from([0, 1, 2, 3], (i) => Math.fround(Math.fround(inputs[0][i] + inputs[1][i]) + inputs[2][i]));
    for (const [sumOut, gathered, again] of outs) {
      assert.deepEqual(sumOut, sum);
      assert.deepEqual(gathered, Float32Array.of(1, 10, 20, 0.5, 0.25, 0.125));
      assert.deepEqual(again, Float32Array.from(sum, (v) => Math.fround(3 * v)));
    }
  });

  it('a rank that fails aborts the others instead of leaving them in a barrier', () => {
    const buffers = SharedCollective.allocate(3, 4);
    ranks.forEach((w, rank) => w.post('collective', [Float32Array.of(1, 2, 3, 4)], { buffers, rank, fail: 2 }));
    const t = performance.now();
    const errors = ranks.map((w) => timed(() => w.wait()).error?.message);
    assert.ok(performance.now() - t < 5000);
    assert.equal(errors[2], 'rank 2 failed');
    assert.equal(errors[0], 'collective aborted by another thread');
    assert.equal(errors[1], 'collective aborted by another thread');
    // reset: the same buffers work again
    SharedCollective.reset(buffers);
    ranks.forEach((w, rank) => w.post('collective', [Float32Array.of(1, 1, 1, 1)], { buffers, rank }));
    for (const w of ranks) assert.deepEqual(w.wait()[0], Float32Array.of(3, 3, 3, 3));
  });

  it('validates sizes', () => {
    assert.throws(() => SharedCollective.allocate(0, 4), /size must be a positive integer, got 0/);
    const buffers = SharedCollective.allocate(2, 4);
    assert.throws(() => new SharedCollective(buffers, 2), /rank must be an integer in \[0, 1\], got 2/);
    const c = new SharedCollective(buffers, 0);
    assert.throws(() => c.share(new Float32Array(5)), /block of 5 floats exceeds the slot size 4/);
  });
});

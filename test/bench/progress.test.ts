import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressBar, formatDuration, type ProgressStream } from '../../src/bench/progress.js';

/** A stream that records what the bar writes, with a terminal or without. */
function recorder(isTTY: boolean, columns?: number): ProgressStream & { chunks: string[] } {
  const chunks: string[] = [];
  return {
    isTTY,
    columns,
    chunks,
    write(text: string) {
      chunks.push(text);
      return true;
    },
  };
}

/** A clock the test moves by hand (milliseconds). */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 0;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('ProgressBar', () => {
  it('renders label, bar, count, rate, ETA and the extra text', () => {
    const clock = manualClock();
    const bar = new ProgressBar({ label: 'train', total: 100, width: 10, stream: recorder(false), now: clock.now });
    clock.advance(3500);
    bar.update(42, 'loss 0.5');
    // 42 items in 3.5 s = 12.0 it/s; 58 left → 4.83 s, rounded up.
    assert.equal(bar.render(), 'train [####......] 42/100 12.0 it/s ETA 5s loss 0.5');
  });

  it('prints at most one line per 10% plus the final line when the stream is not a terminal', () => {
    const clock = manualClock();
    const out = recorder(false);
    const bar = new ProgressBar({ label: 'x', total: 1000, width: 10, stream: out, now: clock.now });
    for (let i = 0; i < 1000; i++) {
      clock.advance(10);
      bar.tick();
    }
    bar.finish();
    bar.finish();
    assert.equal(out.chunks.length, 10);
    assert.ok(out.chunks.every((c) => c.endsWith('\n') && !c.includes('\r')));
    assert.equal(out.chunks[0], 'x [#.........] 100/1000 100.0 it/s ETA 9s\n');
    assert.equal(out.chunks[8], 'x [#########.] 900/1000 100.0 it/s ETA 1s\n');
    assert.equal(out.chunks[9], 'x [##########] 1000/1000 100.0 it/s in 10s\n');
  });

  it('prints one line for a jump over several tenths, and the final line on finish even if short of total', () => {
    const clock = manualClock();
    const out = recorder(false);
    const bar = new ProgressBar({ label: 'y', total: 10, width: 4, stream: out, now: clock.now });
    clock.advance(1000);
    bar.update(5);
    bar.update(5);
    bar.finish('stopped');
    bar.tick(3);
    assert.deepEqual(out.chunks, ['y [##..] 5/10 5.0 it/s ETA 1s\n', 'y [##..] 5/10 5.0 it/s in 1.0s stopped\n']);
  });

  it('redraws one line with \\r on a terminal, throttled, cut to the terminal width', () => {
    const clock = manualClock();
    const out = recorder(true, 30);
    const bar = new ProgressBar({ label: 'a-rather-long-label', total: 100, width: 20, stream: out, now: clock.now });
    for (let i = 0; i < 100; i++) {
      clock.advance(1);
      bar.tick(1, `step ${i}`);
    }
    bar.finish();
    // Constructor frame, the 100% frame, the finish frame, then the newline: not one frame per tick.
    assert.equal(out.chunks.length, 4);
    assert.equal(out.chunks.at(-1), '\n');
    for (const frame of out.chunks.slice(0, -1)) {
      assert.ok(frame.startsWith('\r') && frame.endsWith('\x1b[K'), JSON.stringify(frame));
      assert.ok(frame.length - '\r'.length - '\x1b[K'.length <= 29, JSON.stringify(frame));
    }
  });

  it('shows bytes with one unit for count, total and speed', () => {
    const clock = manualClock();
    const bar = new ProgressBar({ label: 'f.gz', total: 9912422, width: 10, unit: 'bytes', stream: recorder(false), now: clock.now });
    clock.advance(2000);
    bar.update(4956211);
    assert.equal(bar.render(), 'f.gz [#####.....] 5.0/9.9 MB 2.5 MB/s ETA 2s');
  });

  it('does not throw for total 0, and rejects a negative total', () => {
    const out = recorder(false);
    const bar = new ProgressBar({ label: 'empty', total: 0, width: 4, stream: out, now: () => 0 });
    bar.tick(0);
    bar.finish();
    assert.deepEqual(out.chunks, ['empty [####] 0/0 ? it/s in 0.0s\n']);
    const tty = recorder(true);
    const ttyBar = new ProgressBar({ label: 'empty', total: 0, stream: tty });
    ttyBar.tick();
    ttyBar.finish();
    assert.equal(tty.chunks.at(-1), '\n');
    assert.throws(() => new ProgressBar({ label: 'bad', total: -1 }), /total must be a finite number >= 0, got -1/);
  });

  it('formats durations in whole seconds, rounded up', () => {
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(0.2), '1s');
    assert.equal(formatDuration(125), '2m05s');
    assert.equal(formatDuration(3 * 3600 + 7 * 60), '3h07m');
    assert.equal(formatDuration(Infinity), '?');
  });
});

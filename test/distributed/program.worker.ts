/**
 * Test fixture for test/distributed/communicator.test.ts: one rank of a SharedCollective (the
 * shared-memory Communicator between worker threads) running program.ts's sequence.
 */
import { SharedCollective, serveSync, type SharedCollectiveBuffers } from '../../src/engines/bridge.js';
import { runProgram } from './program.js';

serveSync({
  program(_inputs: Float32Array[], meta: { buffers: SharedCollectiveBuffers; rank: number; stall?: number }) {
    const c = new SharedCollective(meta.buffers, meta.rank, 2_000);
    if (meta.stall === meta.rank) return [];
    try {
      return runProgram(c);
    } catch (e) {
      // the bridge keeps only RangeError/TypeError names: send `name: message` as character codes
      const text = `${(e as Error).name}: ${(e as Error).message}`;
      return [Float32Array.from(text, (ch) => ch.charCodeAt(0))];
    }
  },
});

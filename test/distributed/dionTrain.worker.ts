/**
 * Test fixture for test/distributed/dionDataParallel.test.ts: one rank of a SharedCollective (the
 * shared-memory Communicator between worker threads) training dionTrain.ts's MLP with data-parallel
 * Dion; answers the result as JSON character codes.
 */
import { useBackend } from '../support/backend.js';
import { SharedCollective, serveSync, type SharedCollectiveBuffers } from '../../src/engines/bridge.js';
import { trainDion, type DionTrainOptions } from './dionTrain.js';

await useBackend('cpu');

serveSync({
  train(_inputs: Float32Array[], meta: { buffers: SharedCollectiveBuffers; rank: number; options: DionTrainOptions }) {
    const c = new SharedCollective(meta.buffers, meta.rank, 30_000);
    const text = JSON.stringify(trainDion(c, meta.options));
    return [Float32Array.from(text, (ch) => ch.charCodeAt(0))];
  },
});

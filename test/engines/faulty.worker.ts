/**
 * Test fixture for the engines' fault tests (test/engines/faults.test.ts): a worker module that answers
 * the engines' calls wrongly. The behaviour is chosen by `ORTHOPTIM_TEST_FAULT` in the environment the
 * thread was started with:
 * - `silent`: `newtonSchulz` (workers engine) and `run` (onnxruntime engine) answer without results and
 *   without writing anything;
 * - `die`: in a `newtonSchulz` call, rank 1 exits (code 3) after 50 ms while rank 0 waits for it in a
 *   collective barrier (with the call's timeout).
 */
import { SharedCollective, serveSync } from '../../src/engines/bridge.js';
import type { WorkersCall } from '../../src/engines/workers.worker.js';

const fault = process.env.ORTHOPTIM_TEST_FAULT;

serveSync({
  async newtonSchulz(_inputs: Float32Array[], call: WorkersCall): Promise<Float32Array[]> {
    if (fault === 'die' && call.collective !== undefined) {
      if (call.rank === 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        process.exit(3);
      }
      new SharedCollective(call.collective, call.rank, call.timeoutMs).barrier();
      return [Float32Array.of(call.tasks.length)];
    }
    return [];
  },
  run(): Float32Array[] {
    return [];
  },
});

/**
 * One sequence of collectives run by every rank of a communicator (single rank, shared memory between
 * worker threads, MPI under mpirun), and the results rank r of N must get, in closed form. The values
 * are small integers and dyadic fractions, exact in float32 whatever order a reduction adds in.
 */
import type { Communicator } from '../../src/linalg/communicator.js';

/** The results of {@link runProgram}, one array per collective (the hashes as character codes). */
export type ProgramResults = Float32Array[];

const codes = (s: string) => Float32Array.from(s, (ch) => ch.charCodeAt(0));
const range = (n: number, f: (k: number) => number) => Float32Array.from({ length: n }, (_, k) => f(k));
const triangle = (n: number) => (n * (n + 1)) / 2;

/** Runs the sequence on `c` and returns what this rank received. */
export function runProgram(c: Communicator): ProgramResults {
  const r = c.rank;
  const n = c.size;
  const x = Float32Array.of(r + 1, (r + 1) * 0.5, -(r + 1) * 0.25, 2 ** -(r + 1));
  const counts = Array.from({ length: n }, (_, s) => s + 1);
  // reduce-scatter input: rank r holds i + r at position i
  const rs = range(triangle(n), (i) => i + r);
  // all-to-all: rank r sends s + 1 values 100r + 10s + k to rank s
  const a2a = Float32Array.from(counts.flatMap((cnt, s) => Array.from({ length: cnt }, (_, k) => 100 * r + 10 * s + k)));
  const out: ProgramResults = [
    c.allReduce(x),
    c.allReduce(x, 'mean'),
    c.allReduce(Float32Array.of(r, 0 - r, r * r), 'max'),
    c.allGather(range(r + 1, (k) => r + k / 8), counts),
    c.allGather(Float32Array.of(r, 2 * r)),
    c.reduceScatter(rs, counts),
    c.reduceScatter(range(2 * n, (i) => i * (r + 1)), undefined, 'mean'),
    c.allToAll(a2a, counts),
    c.broadcast(Float32Array.of(r, 42), n - 1),
  ];
  c.barrier();
  out.push(...c.allGatherHash(`rank-${r}`).map(codes));
  return out;
}

/** What {@link runProgram} returns on rank r of n. */
export function expectedProgram(r: number, n: number): ProgramResults {
  const ranks = Array.from({ length: n }, (_, s) => s);
  const sum = (f: (s: number) => number) => ranks.reduce((acc, s) => acc + f(s), 0);
  const sumX = Float32Array.of(sum((s) => s + 1), sum((s) => (s + 1) * 0.5), sum((s) => -(s + 1) * 0.25), sum((s) => 2 ** -(s + 1)));
  const start = triangle(r);
  return [
    sumX,
    Float32Array.from(sumX, (v) => v / n),
    Float32Array.of(n - 1, 0, (n - 1) ** 2),
    Float32Array.from(ranks.flatMap((s) => Array.from({ length: s + 1 }, (_, k) => s + k / 8))),
    Float32Array.from(ranks.flatMap((s) => [s, 2 * s])),
    range(r + 1, (k) => n * (start + k) + sum((s) => s)),
    range(2, (k) => ((2 * r + k) * sum((s) => s + 1)) / n),
    Float32Array.from(ranks.flatMap((s) => Array.from({ length: r + 1 }, (_, k) => 100 * s + 10 * r + k))),
    Float32Array.of(n - 1, 42),
    ...ranks.map((s) => codes(`rank-${s}`)),
  ];
}

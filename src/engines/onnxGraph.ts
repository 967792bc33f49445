/**
 * The Newton–Schulz iteration as an ONNX model, built in code: a minimal protobuf encoder for the few
 * messages of `onnx.proto` a graph needs (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto,
 * AttributeProto), and one graph per {@link EngineIteration} (less its `eps`, see {@link graphKey}) and
 * orientation, with a dynamic-shape float input `X`, a float scalar input `eps`, and output `Y` of `X`'s shape. The `onnx` Python package is not needed, and no model file
 * ships with the library.
 *
 * The graph is the tfjs engine's computation (`src/linalg/newtonSchulz.ts`), op for op:
 *
 * ```
 * tall X (n×k, n ≥ k)                          wide X (k×n, k < n)
 * G  = Xᵀ·X                                    G = X·Xᵀ              (k×k; reused as the first step's A)
 * d  = √(trace G)·normScale + eps              (trace = ΣΣ G∘I, I = EyeLike(G))
 * X ← X / d,  A ← G / d²
 * per step (a, b, c):  P = aI + bA + cA²   (symmetric)
 *   X ← X·P                                    X ← P·X
 *   A ← Xᵀ·X (next step)                       A ← X·Xᵀ
 * ```
 *
 * With AOL preconditioning (`iteration.precondition === 'aol'`, Turbo-Muon, `src/linalg/aol.ts`) the
 * normalization is replaced, as in `aolPreconditionTall`, by
 *
 * ```
 * s  = 1/√max(Σ_j |G_ij|, eps)                 (ReduceL1 over rows, k×1; its transpose 1×k)
 * X ← X·diag(s)  (columns)                     X ← diag(s)·X  (rows)
 * A ← diag(s)·G·diag(s)                        (the first step's Gram matrix, no new product)
 * ```
 *
 * With `iteration.form === 'gram'` the steps after the normalization are Gram Newton–Schulz
 * ({@link gramSteps}): k×k products only, X re-formed at the restarts and once at the end.
 *
 * Both orientations exist so that neither the engine nor the graph ever transposes the k×n matrix: the
 * transposed operand of a Gram product is a `Transpose` node that onnxruntime fuses into its GEMM
 * (`FusedMatMul`). Each step costs three matmuls (2·k²n + 2·k³ + 2·k²n flops) and k×k element-wise work.
 *
 * Opset 17 (ONNX 1.12), IR version 8: accepted by onnxruntime 1.14 and later.
 * @module
 */
import type { EngineIteration, EngineMatrix } from './engine.js';
import { gramIsCheaper } from '../linalg/flops.js';

/** Which side of the matrix is the long one: `tall` = rows ≥ cols (iterated as is), `wide` = rows < cols. */
export type Orientation = 'tall' | 'wide';

/** The orientation a `rows × cols` matrix is iterated in (square → `tall`, as `newtonSchulz` does). */
export function orientationOf(rows: number, cols: number): Orientation {
  return rows >= cols ? 'tall' : 'wide';
}

/** A string that identifies an iteration: equal keys give the same graph (and share a session). */
export function iterationKey(iteration: EngineIteration): string {
  const rows = iteration.steps.map(([a, b, c]) => `${a},${b},${c}`).join(';');
  return `${formKey(iteration)}|${iteration.precondition ?? 'frobenius'}|${rows}|${iteration.normScale}|${iteration.eps}`;
}

/** The form part of the keys: `standard`, or `gram@` / `auto@` and the restart steps. */
function formKey(iteration: EngineIteration): string {
  const form = iteration.form ?? 'standard';
  return form === 'standard' ? 'standard' : `${form}@${gramRestartsOf(iteration).join(',')}`;
}

/**
 * The iteration with its form decided for one `rows × cols` matrix: `form: 'auto'` becomes the Gram form
 * where it does fewer flops (`gramIsCheaper`, src/linalg/flops.ts: for 5 steps and the default restart,
 * long side over 1.5× the short one), else the standard form; `'standard'` and `'gram'` are kept.
 */
export function formFor(iteration: EngineIteration, rows: number, cols: number): EngineIteration {
  if (iteration.form !== 'auto') return iteration;
  const restarts = gramRestartsOf(iteration);
  if (gramIsCheaper(rows, cols, iteration.steps.length, restarts)) return { ...iteration, form: 'gram', gramRestarts: restarts };
  const { form: _auto, gramRestarts: _restarts, ...standard } = iteration;
  return standard;
}

/** The Gram form's restart steps (default `[2]`, as `newtonSchulzGramTall`), sorted, deduplicated. */
function gramRestartsOf(iteration: EngineIteration): number[] {
  return [...new Set(iteration.gramRestarts ?? [2])].sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------------
// Protobuf wire format (https://protobuf.dev/programming-guides/encoding/): each field is a varint key
// `(field << 3) | wireType` followed by a varint (type 0), 4 little-endian bytes (type 5), or a varint
// length and that many bytes (type 2: strings, bytes, embedded messages, packed repeated scalars).

const VARINT = 0;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;
const utf8 = new TextEncoder();

/** Appends protobuf fields to a growing byte list; `bytes()` returns the encoded message. */
class ProtoWriter {
  private readonly parts: number[] = [];

  private varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`onnxGraph: varint must be a non-negative safe integer, got ${value}`);
    }
    let v = value;
    while (v >= 0x80) {
      this.parts.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.parts.push(v);
  }

  private key(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  /** An integer field (int32, int64, enum), non-negative. */
  int(field: number, value: number): this {
    this.key(field, VARINT);
    this.varint(value);
    return this;
  }

  /** A float field (fixed32, IEEE single, little endian). */
  float(field: number, value: number): this {
    this.key(field, FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    for (const x of b) this.parts.push(x);
    return this;
  }

  /** A bytes field (also an embedded message). */
  bytes(field: number, value: Uint8Array): this {
    this.key(field, LENGTH_DELIMITED);
    this.varint(value.length);
    for (const x of value) this.parts.push(x);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  /** An embedded message written by `write`. */
  message(field: number, write: (w: ProtoWriter) => void): this {
    const w = new ProtoWriter();
    write(w);
    return this.bytes(field, w.finish());
  }

  /** A packed repeated int64 field. */
  packedInts(field: number, values: readonly number[]): this {
    const w = new ProtoWriter();
    for (const v of values) w.varint(v);
    return this.bytes(field, w.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

// onnx.proto field numbers and enums (onnx/onnx@v1.12.0 onnx/onnx.proto).
const Model = { irVersion: 1, producerName: 2, producerVersion: 3, graph: 7, opsetImport: 8 } as const;
const OperatorSetId = { domain: 1, version: 2 } as const;
const Graph = { node: 1, name: 2, initializer: 5, input: 11, output: 12 } as const;
const Node = { input: 1, output: 2, name: 3, opType: 4, attribute: 5 } as const;
const Attribute = { name: 1, i: 3, ints: 8, type: 20 } as const;
const AttributeType = { INT: 2, INTS: 7 } as const;
const Tensor = { dims: 1, dataType: 2, name: 8, rawData: 9 } as const;
const ValueInfo = { name: 1, type: 2 } as const;
const TypeProto = { tensorType: 1 } as const;
const TensorType = { elemType: 1, shape: 2 } as const;
const TensorShape = { dim: 1 } as const;
const Dimension = { dimValue: 1, dimParam: 2 } as const;
const FLOAT = 1;

/** The opset the graphs declare. */
export const OPSET = 17;
/** The ONNX IR version the models declare (8 = ONNX 1.10–1.12). */
export const IR_VERSION = 8;

type AttributeValue = number | readonly number[];

interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly output: string;
  readonly attributes?: Readonly<Record<string, AttributeValue>>;
}

/** A float32 scalar initializer. */
interface ScalarSpec {
  readonly name: string;
  readonly value: number;
}

function writeNode(w: ProtoWriter, node: NodeSpec): void {
  for (const i of node.inputs) w.string(Node.input, i);
  w.string(Node.output, node.output);
  w.string(Node.name, node.output);
  w.string(Node.opType, node.op);
  for (const [name, value] of Object.entries(node.attributes ?? {})) {
    w.message(Node.attribute, (a) => {
      a.string(Attribute.name, name);
      if (typeof value === 'number') a.int(Attribute.i, value).int(Attribute.type, AttributeType.INT);
      else a.packedInts(Attribute.ints, value).int(Attribute.type, AttributeType.INTS);
    });
  }
}

function writeScalar(w: ProtoWriter, s: ScalarSpec): void {
  const raw = new Uint8Array(4);
  new DataView(raw.buffer).setFloat32(0, s.value, true);
  w.int(Tensor.dataType, FLOAT).string(Tensor.name, s.name).bytes(Tensor.rawData, raw);
}

/** A float32 scalar (rank 0) graph input. */
function writeScalarValueInfo(w: ProtoWriter, name: string): void {
  w.string(ValueInfo.name, name).message(ValueInfo.type, (t) =>
    t.message(TypeProto.tensorType, (tt) => tt.int(TensorType.elemType, FLOAT).message(TensorType.shape, () => undefined)),
  );
}

/**
 * The key of an iteration's graph: {@link iterationKey} without `eps`, which is a graph input (fed per
 * run), not a constant. `eps` must stay out of the graph: Newton–Schulz rescales an input whose max|x| is
 * outside [2^-32, 2^32] by a power of two and scales eps along (src/linalg/scale.ts), so eps takes one
 * value per exponent of the gradient; baked in, every new exponent built a new session with its own
 * intra-op thread pool (a soak with vanishing gradients went from 2 to 16 sessions, +1 pool each).
 */
export function graphKey(iteration: EngineIteration): string {
  const rows = iteration.steps.map(([a, b, c]) => `${a},${b},${c}`).join(';');
  return `${formKey(iteration)}|${iteration.precondition ?? 'frobenius'}|${rows}|${iteration.normScale}`;
}

/** A float tensor of rank 2 with symbolic dimensions (dynamic shape). */
function writeMatrixValueInfo(w: ProtoWriter, name: string, dims: readonly [string, string]): void {
  w.string(ValueInfo.name, name).message(ValueInfo.type, (t) =>
    t.message(TypeProto.tensorType, (tt) =>
      tt.int(TensorType.elemType, FLOAT).message(TensorType.shape, (sh) => {
        for (const d of dims) sh.message(TensorShape.dim, (dim) => dim.string(Dimension.dimParam, d));
      }),
    ),
  );
}

/** The nodes and scalar constants of the iteration, in {@link newtonSchulzModel}'s naming. */
function iterationGraph(iteration: EngineIteration, orientation: Orientation): { nodes: NodeSpec[]; scalars: ScalarSpec[] } {
  const nodes: NodeSpec[] = [];
  const scalars: ScalarSpec[] = [];
  const scalar = (name: string, value: number): string => {
    scalars.push({ name, value });
    return name;
  };
  const op = (op: string, output: string, inputs: readonly string[], attributes?: Record<string, AttributeValue>): string => {
    nodes.push({ op, inputs, output, attributes });
    return output;
  };
  const tall = orientation === 'tall';
  /** `XᵀX` (tall) or `XXᵀ` (wide). */
  const gram = (x: string, tag: string): string => {
    const xt = op('Transpose', `${x}_T`, [x], { perm: [1, 0] });
    return op('MatMul', `A${tag}`, tall ? [xt, x] : [x, xt]);
  };

  const g = gram('X', '_input');
  const eye = op('EyeLike', 'I', [g]);
  let x: string;
  let a: string;
  if (iteration.precondition === 'aol') {
    // s = 1/√max(Σ_j |G_ij|, eps) as a column [k, 1] (G is symmetric: row sums = column sums), and as a row
    const rowSums = op('ReduceL1', 'G_rowsum', [g], { axes: [1], keepdims: 1 });
    const col = op('Reciprocal', 's_col', [op('Sqrt', 's_sqrt', [op('Max', 's_floor', [rowSums, 'eps'])])]);
    const row = op('Transpose', 's_row', [col], { perm: [1, 0] });
    // the short side is scaled: the columns of a tall X, the rows of a wide one
    x = op('Mul', 'X0', ['X', tall ? row : col]);
    a = op('Mul', 'A0', [op('Mul', 'G_col', [g, col]), row]);
  } else {
    const trace = op('ReduceSum', 'trace', [op('Mul', 'G_diag', [g, eye])], { keepdims: 0 });
    const d = op('Add', 'd', [
      op('Mul', 'norm_scaled', [op('Sqrt', 'norm', [trace]), scalar('normScale', iteration.normScale)]),
      'eps',
    ]);
    x = op('Div', 'X0', ['X', d]);
    a = op('Div', 'A0', [g, op('Mul', 'd2', [d, d])]);
  }
  if (iteration.form === 'gram') {
    op('Identity', 'Y', [gramSteps(iteration, tall, x, a, eye, op, scalar)]);
    return { nodes, scalars };
  }
  iteration.steps.forEach(([ca, cb, cc], i) => {
    if (i > 0) a = gram(x, String(i));
    const a2 = op('MatMul', `A${i}_sq`, [a, a]);
    const p = op('Add', `P${i}`, [
      op('Add', `P${i}_ab`, [
        op('Mul', `P${i}_a`, [eye, scalar(`a${i}`, ca)]),
        op('Mul', `P${i}_b`, [a, scalar(`b${i}`, cb)]),
      ]),
      op('Mul', `P${i}_c`, [a2, scalar(`c${i}`, cc)]),
    ]);
    x = op('MatMul', `X${i + 1}`, tall ? [x, p] : [p, x]);
  });
  op('Identity', 'Y', [x]);
  return { nodes, scalars };
}

/**
 * The steps of the Gram form (`newtonSchulzGramTall` in src/linalg/newtonSchulz.ts, Dao-AILab/gram-newton-schulz),
 * from the normalized X and its k×k Gram matrix R: per step `W = aI + R(bI + cR)`, `Q ← Q·W`, and (unless the
 * next step restarts) `R ← W·(R·W)`; a restart re-forms `X ← X·Q` (tall; `Q·X` wide) and `R` from it; the
 * output is `X·Q` (`Q·X`). Only k×k products between restarts: 2k²n flops per restart and at the end, instead
 * of 4k²n per step. Q and R are polynomials in the same Gram matrix, so they commute and Q is symmetric: the
 * wide orientation's `Q·X` is the tall result transposed, up to rounding.
 */
function gramSteps(
  iteration: EngineIteration,
  tall: boolean,
  x0: string,
  r0: string,
  eye: string,
  op: (op: string, output: string, inputs: readonly string[], attributes?: Record<string, AttributeValue>) => string,
  scalar: (name: string, value: number) => string,
): string {
  const restarts = new Set(gramRestartsOf(iteration));
  const apply = (q: string, x: string, tag: string): string => op('MatMul', tag, tall ? [x, q] : [q, x]);
  const gramOf = (x: string, tag: string): string => {
    const xt = op('Transpose', `${tag}_XT`, [x], { perm: [1, 0] });
    return op('MatMul', tag, tall ? [xt, x] : [x, xt]);
  };
  let x = x0;
  let r = r0;
  let q: string | null = null;
  iteration.steps.forEach(([ca, cb, cc], i) => {
    if (i > 0 && restarts.has(i) && q !== null) {
      x = apply(q, x, `X_restart${i}`);
      r = gramOf(x, `R_restart${i}`);
      q = null;
    }
    // W = aI + R(bI + cR)
    const inner = op('Add', `W${i}_in`, [op('Mul', `W${i}_c`, [r, scalar(`c${i}`, cc)]), op('Mul', `W${i}_b`, [eye, scalar(`b${i}`, cb)])]);
    const w = op('Add', `W${i}`, [op('MatMul', `W${i}_R`, [r, inner]), op('Mul', `W${i}_a`, [eye, scalar(`a${i}`, ca)])]);
    q = q === null ? w : op('MatMul', `Q${i}`, [q, w]);
    if (i + 1 < iteration.steps.length && !restarts.has(i + 1)) r = op('MatMul', `R${i + 1}`, [w, op('MatMul', `R${i + 1}_W`, [r, w])]);
  });
  return q === null ? x : apply(q, x, 'X_out');
}

/**
 * The ONNX model (serialized `ModelProto`) of the Newton–Schulz iteration for one orientation: input `X`
 * (float32, `[n, k]` when `tall`, `[k, n]` when `wide`, dimensions symbolic) and the float32 scalar `eps`
 * (fed per run, so that one graph serves every eps, {@link graphKey}) → output `Y`, same shape as `X`.
 *
 * @throws RangeError when a coefficient, `normScale` or `eps` is not finite.
 */
export function newtonSchulzModel(iteration: EngineIteration, orientation: Orientation): Uint8Array {
  const precondition = iteration.precondition ?? 'frobenius';
  if (precondition !== 'frobenius' && precondition !== 'aol') {
    throw new RangeError(`onnxGraph: precondition must be 'frobenius' or 'aol', got '${String(precondition)}'`);
  }
  const form = iteration.form ?? 'standard';
  if (form !== 'standard' && form !== 'gram') {
    // 'auto' is decided per matrix before a graph is built (formFor)
    throw new RangeError(`onnxGraph: form must be 'standard' or 'gram', got '${String(form)}'`);
  }
  const restarts = iteration.gramRestarts ?? [];
  if (!Array.isArray(restarts) || !restarts.every((r) => Number.isInteger(r) && r >= 0)) {
    throw new RangeError(`onnxGraph: gramRestarts must be non-negative integers, got ${JSON.stringify(iteration.gramRestarts)}`);
  }
  const values = [iteration.normScale, iteration.eps, ...iteration.steps.flat()];
  if (!values.every((v) => Number.isFinite(v))) {
    throw new RangeError(`onnxGraph: coefficients, normScale and eps must be finite, got ${iterationKey(iteration)}`);
  }
  const { nodes, scalars } = iterationGraph(iteration, orientation);
  const dims: [string, string] = orientation === 'tall' ? ['n', 'k'] : ['k', 'n'];
  return new ProtoWriter()
    .int(Model.irVersion, IR_VERSION)
    .string(Model.producerName, 'orthoptim')
    .string(Model.producerVersion, '1')
    .message(Model.opsetImport, (o) => o.string(OperatorSetId.domain, '').int(OperatorSetId.version, OPSET))
    .message(Model.graph, (gw) => {
      for (const n of nodes) gw.message(Graph.node, (nw) => writeNode(nw, n));
      gw.string(Graph.name, `newton_schulz_${orientation}`);
      for (const s of scalars) gw.message(Graph.initializer, (tw) => writeScalar(tw, s));
      gw.message(Graph.input, (v) => writeMatrixValueInfo(v, 'X', dims));
      gw.message(Graph.input, (v) => writeScalarValueInfo(v, 'eps'));
      gw.message(Graph.output, (v) => writeMatrixValueInfo(v, 'Y', dims));
    })
    .finish();
}

/**
 * A one-node graph `Y = A·B` over float32 matrices of any shape (`A` m×k, `B` k×n): the plain matmul
 * the benchmarks time as the machine's limit, written by the same protobuf writer as the iterations.
 */
export function matMulModel(): Uint8Array {
  return new ProtoWriter()
    .int(Model.irVersion, IR_VERSION)
    .string(Model.producerName, 'orthoptim')
    .string(Model.producerVersion, '1')
    .message(Model.opsetImport, (o) => o.string(OperatorSetId.domain, '').int(OperatorSetId.version, OPSET))
    .message(Model.graph, (gw) => {
      gw.message(Graph.node, (nw) => writeNode(nw, { op: 'MatMul', inputs: ['A', 'B'], output: 'Y' }));
      gw.string(Graph.name, 'matmul');
      gw.message(Graph.input, (v) => writeMatrixValueInfo(v, 'A', ['m', 'k']));
      gw.message(Graph.input, (v) => writeMatrixValueInfo(v, 'B', ['k', 'n']));
      gw.message(Graph.output, (v) => writeMatrixValueInfo(v, 'Y', ['m', 'n']));
    })
    .finish();
}

// ---------------------------------------------------------------------------------------------------
// Running the graphs: the few parts of onnxruntime-node's API used here, typed locally so that the
// library compiles (and its types resolve) without the optional package.

/** An onnxruntime tensor (`ort.Tensor`), as far as it is used here. */
export interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}

/** An onnxruntime inference session (`ort.InferenceSession`), as far as it is used here. */
export interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

/** Session options passed to `InferenceSession.create` (a subset of onnxruntime's). */
export interface OrtSessionOptions {
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  executionMode?: 'sequential' | 'parallel';
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /** Session config entries, nested by the dots of their keys (`session.intra_op.allow_spinning`). */
  extra?: Record<string, unknown>;
}

/** The `onnxruntime-node` module, as far as it is used here. */
export interface OnnxRuntime {
  readonly InferenceSession: { create(model: Uint8Array, options?: OrtSessionOptions): Promise<OrtSession> };
  readonly Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
}

/** Options of {@link NewtonSchulzSessions}. */
export interface NewtonSchulzSessionsOptions {
  /** onnxruntime's intra-op thread pool size per session (default 1). */
  readonly threads?: number;
  /** Sessions kept (least recently used ones are released beyond this; default 16). */
  readonly capacity?: number;
  /**
   * Whether idle intra-op threads spin-wait for work (onnxruntime's default, `true`). Spinning threads
   * keep cores busy for a while after each run, competing with the caller's own work between runs.
   */
  readonly spinning?: boolean;
}

/**
 * The Newton–Schulz graphs as onnxruntime sessions: one per (iteration, orientation), created on first use
 * and cached by {@link iterationKey}. Asynchronous (onnxruntime's `run` is); the `onnxruntime` engine calls
 * it on a worker thread behind the synchronous bridge.
 */
export class NewtonSchulzSessions {
  private readonly sessions = new Map<string, Promise<OrtSession>>();
  private readonly options: OrtSessionOptions;
  private readonly capacity: number;

  constructor(
    private readonly ort: OnnxRuntime,
    options: NewtonSchulzSessionsOptions = {},
  ) {
    const threads = options.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1) {
      throw new RangeError(`onnxruntime: threads must be an integer >= 1, got ${String(threads)}`);
    }
    this.options = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      extra: { session: { intra_op: { allow_spinning: options.spinning === false ? '0' : '1' } } },
    };
    this.capacity = options.capacity ?? 16;
  }

  /** Number of sessions currently held. */
  get size(): number {
    return this.sessions.size;
  }

  /** The session for an iteration's graph ({@link graphKey}) and orientation (created on first use; a failed creation is not kept). */
  session(iteration: EngineIteration, orientation: Orientation): Promise<OrtSession> {
    const key = `${orientation}|${graphKey(iteration)}`;
    let s = this.sessions.get(key);
    if (s !== undefined) {
      this.sessions.delete(key); // re-insert: Map order is the recency order
      this.sessions.set(key, s);
      return s;
    }
    s = this.ort.InferenceSession.create(newtonSchulzModel(iteration, orientation), this.options);
    this.sessions.set(key, s);
    s.catch(() => this.sessions.get(key) === s && this.sessions.delete(key));
    while (this.sessions.size > this.capacity) {
      const [oldest, old] = this.sessions.entries().next().value as [string, Promise<OrtSession>];
      this.sessions.delete(oldest);
      void old.then((o) => o.release(), () => undefined);
    }
    return s;
  }

  /**
   * Orthogonalizes each matrix (row-major float32, any orientation) with the iteration (`form: 'auto'`
   * decided per matrix, {@link formFor}); one session run per matrix, in order. Outputs have the inputs'
   * shapes.
   * @throws RangeError when a matrix's data length is not rows·cols.
   */
  async run(matrices: readonly EngineMatrix[], iteration: EngineIteration): Promise<Float32Array[]> {
    matrices.forEach((m, i) => {
      if (!Number.isInteger(m.rows) || !Number.isInteger(m.cols) || m.rows < 1 || m.cols < 1 || m.data.length !== m.rows * m.cols) {
        throw new RangeError(`onnxruntime: matrix ${i} is ${m.rows}×${m.cols} but has ${m.data.length} values`);
      }
    });
    const out: Float32Array[] = [];
    for (const m of matrices) {
      const session = await this.session(formFor(iteration, m.rows, m.cols), orientationOf(m.rows, m.cols));
      // onnxruntime-node rejects typed arrays over a SharedArrayBuffer ("Invalid argument"): copy those.
      const data = m.data.buffer instanceof SharedArrayBuffer ? m.data.slice() : m.data;
      const result = await session.run({
        X: new this.ort.Tensor('float32', data, [m.rows, m.cols]),
        eps: new this.ort.Tensor('float32', Float32Array.of(iteration.eps), []),
      });
      out.push(result.Y.data as Float32Array);
    }
    return out;
  }

  /** Releases every session (native memory and thread pools). */
  async release(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((s) => s.then((o) => o.release(), () => undefined)));
  }
}

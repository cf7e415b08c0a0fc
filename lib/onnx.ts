// ONNX export of a Ranker's MLP scorer, preprocessing included, as one ModelProto
// (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto), encoded here without dependencies.
//
//   input  "features"  float32 [N, numFeatures]   (N dynamic)
//   output "scores"    float32 [N, 1]
//
// Graph: preprocessing steps in order (log1p → Sign·Log(1 + Abs); standardize → Sub mean, Div std;
// quantileNormal is refused), then per hidden layer MatMul W + Add b → activation (Relu, Tanh,
// x·Sigmoid(x) for SiLU, the tanh approximation of GELU composed from Mul/Add/Tanh) →
// LayerNormalization (opset ≥ 17; composed from ReduceMean/Sub/Mul/Add/Sqrt/Div below 17),
// and the output layer MatMul + Add. Dropout is off at inference and omitted.
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Ranker } from './ranker.js';
import { packageRoot } from './native.js';
import * as K from './kernels.js';

export interface OnnxExportOptions {
  /** Default-domain opset, 13..21. Default 17 (ir_version 8). */
  opset?: number;
  /**
   * Put the model's feature preprocessing into the graph (default true). With false the
   * graph's input is the preprocessed features (apply ranker.preprocessor.apply first):
   * needed for 'quantileNormal', which ONNX cannot express here.
   */
  includePreprocessing?: boolean;
}

const LAYER_NORM_EPS = 1e-5;
const GELU_BETA = 0.7978845608028654; // sqrt(2 / pi), as the kernels
const GELU_KAPPA = 0.044715;

// ---- a minimal protobuf writer ----------------------------------------------------------------

class Pb {
  private chunks: number[] = [];
  private parts: Uint8Array[] = [];

  private flush(): void {
    if (this.chunks.length) {
      this.parts.push(Uint8Array.from(this.chunks));
      this.chunks = [];
    }
  }

  private varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.chunks.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.chunks.push(Number(x));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  /** int32/int64/enum field (negative values as 10-byte two's complement, as protobuf does). */
  int(field: number, v: number): this {
    this.tag(field, 0);
    this.varint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.chunks.push(...b);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2);
    this.varint(b.length);
    this.flush();
    this.parts.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, m: Pb): this {
    return this.bytes(field, m.finish());
  }

  finish(): Uint8Array {
    this.flush();
    const n = this.parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(n);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

// ---- ONNX messages ----------------------------------------------------------------------------

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

type Attr = { name: string; f: number } | { name: string; i: number } | { name: string; ints: number[] };

function attribute(a: Attr): Pb {
  const m = new Pb().string(1, a.name); // AttributeProto.name
  if ('f' in a) m.float(2, a.f).int(20, ATTR_FLOAT);
  else if ('i' in a) m.int(3, a.i).int(20, ATTR_INT);
  else {
    for (const v of a.ints) m.int(8, v); // AttributeProto.ints
    m.int(20, ATTR_INTS);
  }
  return m;
}

function floatTensor(name: string, dims: number[], values: ArrayLike<number>): Pb {
  const m = new Pb();
  for (const d of dims) m.int(1, d); // TensorProto.dims
  m.int(2, FLOAT).string(8, name);
  const raw = new Uint8Array(values.length * 4);
  const dv = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) dv.setFloat32(i * 4, values[i]!, true); // raw_data is little-endian
  return m.bytes(9, raw);
}

function valueInfo(name: string, dims: (number | string)[]): Pb {
  const shape = new Pb();
  for (const d of dims) shape.message(1, typeof d === 'number' ? new Pb().int(1, d) : new Pb().string(2, d)); // Dimension.dim_value / dim_param
  const tensorType = new Pb().int(1, FLOAT).message(2, shape); // TypeProto.Tensor{elem_type, shape}
  return new Pb().string(1, name).message(2, new Pb().message(1, tensorType)); // ValueInfoProto{name, type{tensor_type}}
}

/** Graph under construction: nodes, initializers, fresh names. */
class GraphBuilder {
  readonly nodes: Pb[] = [];
  readonly initializers: Pb[] = [];
  private counter = 0;

  fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  node(op: string, inputs: string[], attrs: Attr[] = [], output?: string): string {
    const out = output ?? this.fresh(op.toLowerCase());
    const m = new Pb();
    for (const i of inputs) m.string(1, i);
    m.string(2, out).string(3, `${op}_${this.nodes.length}`).string(4, op);
    for (const a of attrs) m.message(5, attribute(a));
    this.nodes.push(m);
    return out;
  }

  constant(name: string, dims: number[], values: ArrayLike<number>): string {
    this.initializers.push(floatTensor(name, dims, values));
    return name;
  }

  private scalars = new Map<number, string>();
  scalar(v: number): string {
    let name = this.scalars.get(v);
    if (!name) {
      name = this.constant(`const_${this.scalars.size}`, [], [v]);
      this.scalars.set(v, name);
    }
    return name;
  }
}

function irVersionFor(opset: number): number {
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

function exportError(message: string): Error {
  const e = new Error(`exportOnnx: ${message}`) as Error & { code: string };
  e.code = 'ORDO_ONNX_ERROR';
  return e;
}

/** Encodes the ranker's scorer as the bytes of an ONNX model. */
export function encodeOnnx(ranker: Ranker, options: OnnxExportOptions = {}): Uint8Array {
  const opset = options.opset ?? 17;
  if (!Number.isInteger(opset) || opset < 13 || opset > 21) throw exportError(`opset ${opset} is not supported (13..21)`);
  if (ranker.model.kind !== 'mlp' && ranker.model.kind !== 'diffusionrank') throw exportError(`model kind '${String(ranker.model.kind)}' cannot be exported`);
  const F = ranker.numFeatures;
  const g = new GraphBuilder();
  let x = 'features';

  (options.includePreprocessing === false ? [] : ranker.preprocessor.steps).forEach((s, k) => {
    if (s.step === 'log1p') {
      const sign = g.node('Sign', [x]);
      const log = g.node('Log', [g.node('Add', [g.node('Abs', [x]), g.scalar(1)])]);
      x = g.node('Mul', [sign, log]);
    } else if (s.step === 'standardize') {
      x = g.node('Sub', [x, g.constant(`preprocess.${k}.mean`, [F], s.mean!)]);
      x = g.node('Div', [x, g.constant(`preprocess.${k}.std`, [F], s.std!)]);
    } else {
      throw exportError(
        `preprocessing step '${s.step}' cannot be expressed in ONNX by ordo; train with preprocess ['standardize'] or ['log1p', 'standardize'], or export with { includePreprocessing: false } (CLI: --no-preprocessing) and apply ranker.preprocessor.apply() to the features before the graph`,
      );
    }
  });

  const net = ranker.scoringNetwork();
  const cfg = net.config;
  const layout = K.mlpLayout(cfg);
  const p = net.params;
  const act = cfg.activation ?? 'relu';
  layout.forEach((l, i) => {
    const hidden = i < layout.length - 1;
    const w = g.constant(`layers.${i}.weight`, [l.in, l.out], p.subarray(l.w, l.w + l.in * l.out));
    const b = g.constant(`layers.${i}.bias`, [l.out], p.subarray(l.b, l.b + l.out));
    x = g.node('Add', [g.node('MatMul', [x, w]), b], [], hidden ? undefined : 'scores');
    if (!hidden) return;
    if (act === 'relu') x = g.node('Relu', [x]);
    else if (act === 'tanh') x = g.node('Tanh', [x]);
    else if (act === 'silu') x = g.node('Mul', [x, g.node('Sigmoid', [x])]);
    else if (act === 'gelu') {
      // 0.5·x·(1 + tanh(β·(x + κ·x³)))
      const x3 = g.node('Mul', [g.node('Mul', [x, x]), x]);
      const inner = g.node('Mul', [g.node('Add', [x, g.node('Mul', [x3, g.scalar(GELU_KAPPA)])]), g.scalar(GELU_BETA)]);
      const onePlusT = g.node('Add', [g.node('Tanh', [inner]), g.scalar(1)]);
      x = g.node('Mul', [g.node('Mul', [x, g.scalar(0.5)]), onePlusT]);
    } else if (act !== 'identity') throw exportError(`activation '${String(act)}' cannot be exported`);
    if (l.gamma >= 0) {
      const gamma = g.constant(`layers.${i}.ln.gamma`, [l.out], p.subarray(l.gamma, l.gamma + l.out));
      const beta = g.constant(`layers.${i}.ln.beta`, [l.out], p.subarray(l.beta, l.beta + l.out));
      if (opset >= 17) {
        x = g.node('LayerNormalization', [x, gamma, beta], [{ name: 'axis', i: -1 }, { name: 'epsilon', f: LAYER_NORM_EPS }]);
      } else {
        // (x − mean) / sqrt(var + eps) · gamma + beta, biased variance over the last axis.
        const mean = g.node('ReduceMean', [x], [{ name: 'axes', ints: [-1] }, { name: 'keepdims', i: 1 }]);
        const d = g.node('Sub', [x, mean]);
        const v = g.node('ReduceMean', [g.node('Mul', [d, d])], [{ name: 'axes', ints: [-1] }, { name: 'keepdims', i: 1 }]);
        const norm = g.node('Div', [d, g.node('Sqrt', [g.node('Add', [v, g.scalar(LAYER_NORM_EPS)])])]);
        x = g.node('Add', [g.node('Mul', [norm, gamma]), beta]);
      }
    }
  });

  const graph = new Pb();
  for (const n of g.nodes) graph.message(1, n);
  graph.string(2, 'ordo_ranker');
  for (const t of g.initializers) graph.message(5, t);
  graph.message(11, valueInfo('features', ['N', F]));
  graph.message(12, valueInfo('scores', ['N', 1]));

  let version = 'unknown';
  try {
    version = String((JSON.parse(fs.readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version);
  } catch {
    /* keep 'unknown' */
  }
  const model = new Pb()
    .int(1, irVersionFor(opset)) // ir_version
    .string(2, 'ordo') // producer_name
    .string(3, version) // producer_version
    .message(7, graph)
    .message(8, new Pb().string(1, '').int(2, opset)); // opset_import{domain "", version}
  const props: [string, string][] = [
    ['ordo.model', JSON.stringify(ranker.model)],
    ['ordo.num_features', String(F)],
    ['ordo.preprocessing', ranker.preprocessor.steps.map((s) => s.step).join(',')],
  ];
  for (const [k, v] of props) model.message(14, new Pb().string(1, k).string(2, v)); // metadata_props
  return model.finish();
}

/** Writes the ranker's scorer (preprocessing included) as an ONNX model to `path`, atomically. */
export function exportOnnx(ranker: Ranker, path: string, options: OnnxExportOptions = {}): void {
  const bytes = encodeOnnx(ranker, options);
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    const fd = fs.openSync(tmp, 'wx');
    try {
      let off = 0;
      while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path);
  } catch (e) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* never created */
    }
    throw e;
  }
}

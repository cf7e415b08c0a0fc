// Saving and loading a Ranker: ONE safetensors file (https://github.com/huggingface/safetensors),
// readable by any safetensors reader.
//
//   bytes 0..7     header length H, unsigned 64-bit little-endian
//   bytes 8..8+H   JSON header, padded with spaces so the data starts 8-byte aligned
//   bytes 8+H..    tensor data: float32 little-endian, tensors back to back, no holes
//
// Header: for layer l of kernels' mlpLayout (the hidden layers, then the output layer)
//   "layers.l.weight"    F32 [in, out]  row-major, as ordo computes y = x·W + b
//                                       (the TRANSPOSE of PyTorch's nn.Linear.weight [out, in])
//   "layers.l.bias"      F32 [out]
//   "layers.l.ln.gamma"  F32 [out]      LayerNorm scale (hidden layers, model.layerNorm only)
//   "layers.l.ln.beta"   F32 [out]      LayerNorm shift
// each {dtype, shape, data_offsets: [begin, end]} (offsets into the data region), plus
// "__metadata__" (string → string):
//   format           "ordo-ranker"
//   format_version   "1"  (a file whose major version is newer than this ordo's is refused)
//   ordo_version     package.json version of the writer
//   model            JSON of Ranker.model ({kind, hidden, activation, layerNorm, dropout})
//   num_features     input features, decimal
//   layer_norm_eps   LayerNorm epsilon, decimal (1e-05)
//   preprocessing    JSON of Preprocessor.toJSON()
//   meta             JSON of Ranker.meta (training metadata)
//   checksum         SHA-256 hex of the whole tensor data region, verified on load
//
// Writes are atomic: the file goes to `${path}.tmp-<pid>-<random>` in the same directory,
// is fsynced and then renamed over `path`, so `path` holds either the old model or the new one.
import fs from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { endianness } from 'node:os';
import { packageRoot } from './native.js';
import { Ranker, resolveModelConfig, scorerOf, type ModelConfig, type MlpModelConfig } from './ranker.js';
import type { PreprocessorState } from './preprocess.js';

export const MODEL_FORMAT = 'ordo-ranker';
export const MODEL_FORMAT_VERSION = 1;
/** LayerNorm epsilon of the MLP kernels (kernels' MlpConfig.layerNormEps default). */
export const LAYER_NORM_EPS = 1e-5;

export interface ModelError extends Error {
  code: 'ORDO_MODEL_ERROR';
  path: string;
}

function modelError(path: string, message: string, cause?: unknown): ModelError {
  const e = new Error(`${path}: ${message}`, cause === undefined ? undefined : { cause }) as ModelError;
  e.code = 'ORDO_MODEL_ERROR';
  e.path = path;
  return e;
}

let cachedVersion: string | undefined;
function ordoVersion(): string {
  if (cachedVersion === undefined) {
    try {
      cachedVersion = String((JSON.parse(fs.readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version);
    } catch {
      cachedVersion = 'unknown';
    }
  }
  return cachedVersion;
}

interface TensorEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}


const littleEndian = endianness() === 'LE';

function floatsToBytes(src: Float32Array): Uint8Array {
  if (littleEndian) return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  const out = new Uint8Array(src.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < src.length; i++) dv.setFloat32(i * 4, src[i]!, true);
  return out;
}

/** Encodes a ranker as the bytes of a safetensors file. */
export function encodeRanker(ranker: Ranker, path = '<memory>'): Uint8Array {
  const specs = scorerOf(ranker.model, ranker.numFeatures).tensorSpecs();
  const header: Record<string, unknown> = {};
  let bytes = 0;
  for (const s of specs) {
    header[s.name] = { dtype: 'F32', shape: s.shape, data_offsets: [bytes, bytes + s.length * 4] };
    bytes += s.length * 4;
  }
  const data = Buffer.alloc(bytes);
  let at = 0;
  for (const s of specs) {
    const src = floatsToBytes(ranker.params.subarray(s.offset, s.offset + s.length));
    data.set(src, at);
    at += src.length;
  }
  let model: string, preprocessing: string, meta: string;
  try {
    model = JSON.stringify(ranker.model);
    preprocessing = JSON.stringify(ranker.preprocessor.toJSON());
    meta = JSON.stringify(ranker.meta ?? {});
  } catch (e) {
    throw modelError(path, `cannot save: the model's metadata is not JSON-serialisable (${(e as Error).message})`, e);
  }
  header.__metadata__ = {
    format: MODEL_FORMAT,
    format_version: String(MODEL_FORMAT_VERSION),
    ordo_version: ordoVersion(),
    model,
    num_features: String(ranker.numFeatures),
    layer_norm_eps: String(LAYER_NORM_EPS),
    preprocessing,
    meta,
    checksum: createHash('sha256').update(data).digest('hex'),
  };
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - ((8 + json.length) % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([prefix, json, data]);
}

/** Saves a ranker to `path` (a safetensors file, see the top of this module), atomically. */
export function saveRanker(ranker: Ranker, path: string): void {
  const bytes = encodeRanker(ranker, path);
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx');
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        /* already failing */
      }
    }
    try {
      fs.unlinkSync(tmp);
    } catch {
      /* never created, or already gone */
    }
    throw modelError(path, `cannot save the model: ${(e as Error).message}`, e);
  }
  // Make the rename itself durable where the platform allows fsync on a directory.
  try {
    const dfd = fs.openSync(dirname(path), 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    /* not supported here (e.g. Windows) */
  }
}

function parseJsonField<T>(path: string, meta: Record<string, unknown>, key: string): T {
  const raw = meta[key];
  if (typeof raw !== 'string') throw modelError(path, `the model file lacks __metadata__.${key}`);
  try {
    return JSON.parse(raw) as T;
  } catch (e) {
    throw modelError(path, `__metadata__.${key} is not valid JSON (${(e as Error).message})`, e);
  }
}

/** Decodes the bytes of a saved ranker (see saveRanker); `path` names the source in errors. */
export function decodeRanker(buf: Uint8Array, path = '<memory>'): Ranker {
  const file = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const notModel = 'is not an ordo model file (safetensors)';
  if (file.length < 8) throw modelError(path, `${notModel}: only ${file.length} bytes, truncated or empty`);
  const headerLen = file.readBigUInt64LE(0);
  if (file.length > 8 && file[8] !== 0x7b /* { */) throw modelError(path, `${notModel}: no JSON header after the 8-byte length`);
  if (headerLen < 2n) throw modelError(path, `${notModel}: header length ${headerLen} is too small`);
  if (headerLen > BigInt(file.length - 8)) {
    throw modelError(path, `the file is truncated (or not an ordo model): its header claims ${headerLen} bytes but the file has only ${file.length} bytes`);
  }
  const h = Number(headerLen);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(file.toString('utf8', 8, 8 + h)) as Record<string, unknown>;
  } catch (e) {
    throw modelError(path, `${notModel}: the header is not valid JSON (${(e as Error).message})`, e);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw modelError(path, `${notModel}: the header is not a JSON object`);
  const meta = header.__metadata__ as Record<string, unknown> | undefined;
  if (!meta || typeof meta !== 'object' || meta.format !== MODEL_FORMAT) {
    throw modelError(path, `is a safetensors file but not an ordo ranker (__metadata__.format is ${JSON.stringify(meta?.format)}, expected "${MODEL_FORMAT}")`);
  }
  const version = String(meta.format_version ?? '');
  const major = /^(\d+)(\.\d+)*$/.test(version) ? Number(version.split('.')[0]) : NaN;
  if (!Number.isInteger(major) || major < 1) throw modelError(path, `invalid model file format version ${JSON.stringify(meta.format_version)}`);
  if (major > MODEL_FORMAT_VERSION) {
    throw modelError(path, `model file format version ${version} is newer than this ordo supports (${MODEL_FORMAT_VERSION}); upgrade ordo`);
  }

  // Tensor entries: every name other than __metadata__; offsets must tile the data region.
  const data = file.subarray(8 + h);
  const entries = new Map<string, TensorEntry>();
  const spans: Array<[number, number, string]> = [];
  let dataEnd = 0;
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const t = v as TensorEntry;
    const offs = t?.data_offsets;
    if (!t || !Array.isArray(t.shape) || !Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[1] < offs[0]) {
      throw modelError(path, `tensor "${name}" has an invalid header entry`);
    }
    if (t.dtype !== 'F32') throw modelError(path, `tensor "${name}" has dtype ${JSON.stringify(t.dtype)}; ordo models hold F32 only`);
    entries.set(name, t);
    spans.push([offs[0], offs[1], name]);
    dataEnd = Math.max(dataEnd, offs[1]);
  }
  // The tensors tile the data region: back to back from 0, no overlap, no hole.
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let at = 0;
  for (const [b, e, name] of spans) {
    if (b !== at) throw modelError(path, `tensor "${name}" starts at byte ${b} of the data, expected ${at} (tensors overlap or leave a hole)`);
    at = e;
  }
  if (dataEnd > data.length) {
    throw modelError(path, `the file is truncated: the tensors need ${dataEnd} bytes of data, the file holds ${data.length}`);
  }
  if (dataEnd < data.length) throw modelError(path, `the file has ${data.length - dataEnd} unexpected bytes after the tensor data`);
  const checksum = createHash('sha256').update(data).digest('hex');
  if (typeof meta.checksum !== 'string') throw modelError(path, 'the model file lacks __metadata__.checksum');
  if (checksum !== meta.checksum.toLowerCase()) throw modelError(path, 'checksum mismatch: the file is corrupt');

  // Architecture and preprocessing.
  const numFeatures = Number(meta.num_features);
  if (!Number.isSafeInteger(numFeatures) || numFeatures < 1) throw modelError(path, `invalid __metadata__.num_features ${JSON.stringify(meta.num_features)}`);
  let model: ModelConfig;
  try {
    model = resolveModelConfig(parseJsonField<Partial<MlpModelConfig>>(path, meta, 'model') ?? {});
  } catch (e) {
    if ((e as ModelError).code === 'ORDO_MODEL_ERROR') throw e;
    throw modelError(path, `invalid model architecture: ${(e as Error).message}`, e);
  }
  const preprocessing = parseJsonField<PreprocessorState>(path, meta, 'preprocessing');
  if (!preprocessing || typeof preprocessing !== 'object' || preprocessing.numFeatures !== numFeatures || !Array.isArray(preprocessing.steps)) {
    throw modelError(path, `__metadata__.preprocessing does not describe ${numFeatures} features`);
  }
  for (const s of preprocessing.steps as unknown[] as Array<PreprocessorState['steps'][number] | null>) {
    if (!s || typeof s !== 'object') throw modelError(path, `__metadata__.preprocessing has a step that is not an object: ${JSON.stringify(s)}`);
    const arrays = s.step === 'standardize' ? [s.mean, s.std] : s.step === 'quantileNormal' ? [s.quantiles] : [];
    if (!arrays.every((a) => Array.isArray(a) && a.length === numFeatures)) {
      throw modelError(path, `__metadata__.preprocessing step '${s.step}' does not hold ${numFeatures} per-feature values`);
    }
  }
  const trainingMeta = meta.meta === undefined ? {} : parseJsonField<Record<string, unknown>>(path, meta, 'meta');
  let scorer: ReturnType<typeof scorerOf>;
  try {
    scorer = scorerOf(model, numFeatures);
  } catch (e) {
    throw modelError(path, `invalid model architecture: ${(e as Error).message}`, e);
  }
  const specs = scorer.tensorSpecs();
  // Every tensor is checked before the parameters are allocated: with the tiling
  // check above, they then hold exactly the file's data (never more than its size).
  for (const s of specs) {
    const t = entries.get(s.name);
    if (!t) throw modelError(path, `tensor "${s.name}" is missing (the architecture ${JSON.stringify(model)} with ${numFeatures} features needs it)`);
    if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
      throw modelError(path, `tensor "${s.name}" has shape [${t.shape.join(', ')}]; the architecture needs [${s.shape.join(', ')}]`);
    }
    const [b, e] = t.data_offsets;
    if (e - b !== s.length * 4) throw modelError(path, `tensor "${s.name}" spans ${e - b} bytes; shape [${s.shape.join(', ')}] F32 needs ${s.length * 4}`);
  }
  if (entries.size > specs.length) {
    throw modelError(path, `unexpected tensors for this architecture: ${[...entries.keys()].filter((k) => !specs.some((s) => s.name === k)).join(', ')}`);
  }
  const params = new Float32Array(scorer.paramCount);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (const s of specs) {
    const [b, e] = entries.get(s.name)!.data_offsets;
    if (littleEndian) new Uint8Array(params.buffer, s.offset * 4, s.length * 4).set(data.subarray(b, e));
    else for (let i = 0; i < s.length; i++) params[s.offset + i] = dv.getFloat32(b + i * 4, true);
    entries.delete(s.name);
  }
  if (entries.size > 0) throw modelError(path, `unexpected tensors for this architecture: ${[...entries.keys()].join(', ')}`);
  try {
    return new Ranker(model, numFeatures, preprocessing, params, trainingMeta ?? {});
  } catch (e) {
    throw modelError(path, `invalid model: ${(e as Error).message}`, e);
  }
}

/** Loads a ranker saved by saveRanker / Ranker.save, verifying format, version, checksum and shapes. */
export function loadRanker(path: string): Ranker {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path);
  } catch (e) {
    throw modelError(path, `cannot read the model file: ${(e as Error).message}`, e);
  }
  return decodeRanker(buf, path);
}

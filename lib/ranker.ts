// A trained scorer: architecture, preprocessing and weights. predict() gives
// one score per document, in row order.
import type { Dataset } from './data.js';
import * as K from './kernels.js';
import { backend } from './backend.js';
import { Preprocessor, type PreprocessorState } from './preprocess.js';
import type { Device } from './tensor.js';
import { saveRanker, loadRanker } from './persist.js';

export interface MlpModelConfig {
  kind: 'mlp';
  /** Hidden widths. Default [256, 256]. */
  hidden: number[];
  activation: K.ActivationName;
  layerNorm: boolean;
  dropout: number;
}

export type ModelConfig = MlpModelConfig;

export const DEFAULT_MODEL: MlpModelConfig = { kind: 'mlp', hidden: [256, 256], activation: 'relu', layerNorm: false, dropout: 0 };

/** Resolves a partial model config against the defaults, checking every key. */
export function resolveModelConfig(input: Partial<MlpModelConfig> = {}): MlpModelConfig {
  const allowed = ['kind', 'hidden', 'activation', 'layerNorm', 'dropout'];
  for (const key of Object.keys(input)) {
    if (!allowed.includes(key)) throw new RangeError(`model.${key} is not a model option; options: ${allowed.join(', ')}`);
  }
  const out: MlpModelConfig = { ...DEFAULT_MODEL, ...input } as MlpModelConfig;
  if (out.kind !== 'mlp') throw new RangeError(`model.kind '${String(out.kind)}' is not supported; use 'mlp'`);
  if (!Array.isArray(out.hidden) || !out.hidden.every((h) => Number.isInteger(h) && h >= 1 && h <= 1 << 16)) {
    throw new RangeError('model.hidden must be an array of integers in [1, 65536]');
  }
  if (!['relu', 'silu', 'gelu', 'tanh', 'identity'].includes(out.activation)) {
    throw new RangeError(`model.activation '${out.activation}' is not one of relu, silu, gelu, tanh, identity`);
  }
  if (typeof out.layerNorm !== 'boolean') throw new RangeError('model.layerNorm must be a boolean');
  if (!(out.dropout >= 0 && out.dropout < 1)) throw new RangeError('model.dropout must be in [0, 1)');
  return out;
}

export function mlpConfigOf(model: MlpModelConfig, numFeatures: number): K.MlpConfig {
  return { in: numFeatures, hidden: model.hidden, out: 1, activation: model.activation, layerNorm: model.layerNorm, dropout: model.dropout };
}

export interface PredictOptions {
  /** Default: the active backend. */
  device?: Device | 'auto';
  /** Rows per forward pass. Default 8192. */
  batchSize?: number;
}

export class Ranker {
  readonly model: ModelConfig;
  readonly numFeatures: number;
  readonly preprocessor: Preprocessor;
  /** The flat parameter buffer (layout: kernels mlpLayout). */
  readonly params: Float32Array;
  /** Training metadata (loss, epochs, metrics, ...), saved with the model. */
  readonly meta: Record<string, unknown>;

  constructor(model: ModelConfig, numFeatures: number, preprocessor: Preprocessor | PreprocessorState, params: Float32Array, meta: Record<string, unknown> = {}) {
    this.model = resolveModelConfig(model);
    this.numFeatures = numFeatures;
    this.preprocessor = preprocessor instanceof Preprocessor ? preprocessor : Preprocessor.fromJSON(preprocessor);
    const want = K.mlpParamCount(mlpConfigOf(this.model, numFeatures));
    if (params.length !== want) throw new RangeError(`params hold ${params.length} floats; this model needs ${want}`);
    this.params = params;
    this.meta = meta;
  }

  /** Saves the model to `path` (one safetensors file; see persist.ts), atomically. */
  save(path: string): void {
    saveRanker(this, path);
  }

  /** Loads a model saved by save(), verifying its format version, checksum and tensor shapes. */
  static load(path: string): Ranker {
    return loadRanker(path);
  }

  /** The kernels' MLP config of this model. */
  get mlpConfig(): K.MlpConfig {
    return mlpConfigOf(this.model, this.numFeatures);
  }

  /** One score per document of `data` (a Dataset, or a row-major feature matrix), in row order. */
  predict(data: Dataset | Float32Array, options: PredictOptions = {}): Float64Array {
    const features = data instanceof Float32Array ? data : data.features;
    const numFeatures = data instanceof Float32Array ? this.numFeatures : data.numFeatures;
    if (numFeatures !== this.numFeatures) {
      throw new RangeError(`the data has ${numFeatures} features; the model was trained on ${this.numFeatures}`);
    }
    const x = this.preprocessor.apply(features);
    const device: Device = !options.device || options.device === 'auto' ? backend().active : options.device;
    const rows = this.numFeatures === 0 ? 0 : x.length / this.numFeatures;
    const chunk = Math.max(1, Math.min(options.batchSize ?? 8192, Math.max(1, rows)));
    const cfg = this.mlpConfig;
    const params = K.Tensor.from(this.params, [this.params.length], { device, copy: true });
    const cache = K.mlpCache(cfg, chunk, device);
    const xs = K.Tensor.zeros([chunk * this.numFeatures], { device });
    const ys = K.Tensor.zeros([chunk], { device });
    const out = new Float64Array(rows);
    try {
      for (let start = 0; start < rows; start += chunk) {
        const n = Math.min(chunk, rows - start);
        const xv = xs.view([n, this.numFeatures]);
        xv.copyFrom(x.subarray(start * this.numFeatures, (start + n) * this.numFeatures));
        const yv = ys.view([n, 1]);
        K.mlpForward(cfg, params, xv, yv, cache, { training: false });
        out.set(yv.toArray(), start);
      }
    } finally {
      params.dispose();
      xs.dispose();
      ys.dispose();
      K.mlpCacheDispose(cache);
    }
    return out;
  }
}

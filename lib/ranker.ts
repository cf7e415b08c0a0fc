// A trained scorer: architecture, preprocessing and weights. predict() gives
// one score per document, in row order.
import type { Dataset } from './data.js';
import * as K from './kernels.js';
import { backend } from './backend.js';
import { Preprocessor, type PreprocessorState } from './preprocess.js';
import { mlpConfigOf, resolveModelConfig, scorerOf, type ModelConfig, type Scorer } from './scorer.js';
import { foldScoringParams, scoringConfigOf } from './diffusion-model.js';
import type { Device } from './tensor.js';
import { saveRanker, loadRanker } from './persist.js';

export {
  DEFAULT_MODEL,
  DEFAULT_TRANSFORMER,
  resolveModelConfig,
  mlpConfigOf,
  transformerConfigOf,
  scorerOf,
  type MlpModelConfig,
  type TransformerModelConfig,
  type ModelConfig,
} from './scorer.js';

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
    const want = scorerOf(this.model, numFeatures).paramCount;
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

  /** The kernels' MLP config of this model (MLP models only). */
  get mlpConfig(): K.MlpConfig {
    if (this.model.kind !== 'mlp') throw new RangeError(`this is a '${this.model.kind}' model, not an MLP`);
    return mlpConfigOf(this.model, this.numFeatures);
  }

  /**
   * The per-document scoring MLP and its parameters: the model itself for an MLP; for a
   * 'diffusionrank' model the one-step scoring network with the masked-label input folded
   * into its first layer (see diffusion-model.ts). Context-aware models have none.
   */
  scoringNetwork(): { config: K.MlpConfig; params: Float32Array } {
    if (this.model.kind === 'mlp') return { config: mlpConfigOf(this.model, this.numFeatures), params: this.params };
    if (this.model.kind === 'diffusionrank') {
      return { config: scoringConfigOf(this.model, this.numFeatures), params: foldScoringParams(this.model, this.numFeatures, this.params) };
    }
    throw new RangeError(`a '${this.model.kind}' model scores documents in the context of their query; it has no per-document scoring MLP`);
  }

  /** The scoring network (MLP, context-aware Transformer or DiffusionRank) behind this ranker. */
  get scorer(): Scorer {
    return scorerOf(this.model, this.numFeatures);
  }

  /**
   * One score per document of `data`, in row order. A Dataset is scored query by
   * query (the context-aware model needs the query lists); a bare feature matrix
   * only works for models that score documents independently (MLP).
   */
  predict(data: Dataset | Float32Array, options: PredictOptions = {}): Float64Array {
    const scorer = this.scorer;
    const features = data instanceof Float32Array ? data : data.features;
    const numFeatures = data instanceof Float32Array ? this.numFeatures : data.numFeatures;
    if (numFeatures !== this.numFeatures) {
      throw new RangeError(`the data has ${numFeatures} features; the model was trained on ${this.numFeatures}`);
    }
    if (scorer.usesLists && data instanceof Float32Array) {
      throw new TypeError(`a '${this.model.kind}' model scores documents in the context of their query: pass a Dataset`);
    }
    const x = this.preprocessor.apply(features);
    const rows = this.numFeatures === 0 ? 0 : x.length / this.numFeatures;
    // Lists: the dataset's queries, or one row per list for a bare matrix (MLP only).
    const offsets = data instanceof Float32Array ? Uint32Array.from({ length: rows + 1 }, (_, i) => i) : data.queryOffsets;
    const numLists = offsets.length - 1;
    let maxList = 1;
    for (let q = 0; q < numLists; q++) maxList = Math.max(maxList, offsets[q + 1]! - offsets[q]!);
    const chunk = Math.max(maxList, Math.min(options.batchSize ?? 8192, Math.max(1, rows)));
    const device: Device = !options.device || options.device === 'auto' ? backend().active : options.device;
    const params = K.Tensor.from(this.params, [this.params.length], { device, copy: true });
    const cache = scorer.cache(chunk, maxList, device);
    const xs = K.Tensor.zeros([chunk * this.numFeatures], { device });
    const ys = K.Tensor.zeros([chunk], { device });
    const offT = K.Tensor.zeros([numLists + 1], { dtype: 'u32', device });
    const out = new Float64Array(rows);
    try {
      // whole queries per chunk, at most `chunk` documents
      let q = 0;
      while (q < numLists) {
        const start = offsets[q]!;
        let end = q + 1;
        while (end < numLists && offsets[end + 1]! - start <= chunk) end++;
        const n = offsets[end]! - start;
        const xv = xs.view([n, this.numFeatures]);
        xv.copyFrom(x.subarray(start * this.numFeatures, (start + n) * this.numFeatures));
        const lists = end - q;
        const ov = offT.view([lists + 1]);
        ov.copyFrom(Uint32Array.from({ length: lists + 1 }, (_, i) => offsets[q + i]! - start));
        const yv = ys.view([n]);
        scorer.forward(params, xv, ov, yv, cache, { training: false, seed: 0 });
        out.set(yv.toArray(), start);
        q = end;
      }
    } finally {
      params.dispose();
      xs.dispose();
      ys.dispose();
      offT.dispose();
      scorer.disposeCache(cache);
    }
    return out;
  }
}

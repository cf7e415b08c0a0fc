// The scoring networks a Ranker can hold, behind one interface used by the
// trainer, predict() and persistence: the MLP (documents scored independently)
// and the context-aware Transformer encoder (self-attention over the documents
// of each query, as allRank's context-aware ranker).
import * as K from './kernels.js';
import type { Device } from './tensor.js';
import { diffusionRankScorer, resolveDiffusionRankConfig, type DiffusionRankModelConfig } from './diffusion-model.js';

export interface MlpModelConfig {
  kind: 'mlp';
  /** Hidden widths. Default [256, 256]. */
  hidden: number[];
  activation: K.ActivationName;
  layerNorm: boolean;
  dropout: number;
}

export interface TransformerModelConfig {
  kind: 'transformer';
  /** Model width (a multiple of heads). Default 64. */
  dModel: number;
  /** Attention heads. Default 2. */
  heads: number;
  /** Encoder layers. Default 2. */
  layers: number;
  /** Feed-forward width. Default 4 × dModel. */
  dFF: number;
  inputActivation: K.ActivationName;
  dropout: number;
}

export type ModelConfig = MlpModelConfig | TransformerModelConfig | DiffusionRankModelConfig;
export type { DiffusionRankModelConfig };

export const DEFAULT_MODEL: MlpModelConfig = { kind: 'mlp', hidden: [256, 256], activation: 'relu', layerNorm: false, dropout: 0 };
export const DEFAULT_TRANSFORMER: TransformerModelConfig = { kind: 'transformer', dModel: 64, heads: 2, layers: 2, dFF: 256, inputActivation: 'relu', dropout: 0.1 };

const ACTIVATIONS = ['relu', 'silu', 'gelu', 'tanh', 'identity'];

function int(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return v;
}

/** Resolves a partial model config against the defaults of its kind, checking every key. */
export function resolveModelConfig(input: Partial<MlpModelConfig> | Partial<TransformerModelConfig> | Partial<DiffusionRankModelConfig> = {}): ModelConfig {
  const kind = (input as { kind?: string }).kind ?? 'mlp';
  if (kind === 'diffusionrank') return resolveDiffusionRankConfig(input as Partial<DiffusionRankModelConfig>);
  if (kind === 'mlp') {
    const allowed = ['kind', 'hidden', 'activation', 'layerNorm', 'dropout'];
    for (const key of Object.keys(input)) if (!allowed.includes(key)) throw new RangeError(`model.${key} is not an option of an 'mlp' model; options: ${allowed.join(', ')}`);
    const out: MlpModelConfig = { ...DEFAULT_MODEL, ...(input as Partial<MlpModelConfig>), kind: 'mlp' };
    if (!Array.isArray(out.hidden) || !out.hidden.every((h) => Number.isInteger(h) && h >= 1 && h <= 1 << 16)) {
      throw new RangeError('model.hidden must be an array of integers in [1, 65536]');
    }
    if (!ACTIVATIONS.includes(out.activation)) throw new RangeError(`model.activation '${out.activation}' is not one of ${ACTIVATIONS.join(', ')}`);
    if (typeof out.layerNorm !== 'boolean') throw new RangeError('model.layerNorm must be a boolean');
    if (!(out.dropout >= 0 && out.dropout < 1)) throw new RangeError('model.dropout must be in [0, 1)');
    return out;
  }
  if (kind === 'transformer') {
    const allowed = ['kind', 'dModel', 'heads', 'layers', 'dFF', 'inputActivation', 'dropout'];
    for (const key of Object.keys(input)) if (!allowed.includes(key)) throw new RangeError(`model.${key} is not an option of a 'transformer' model; options: ${allowed.join(', ')}`);
    const given = input as Partial<TransformerModelConfig>;
    const out: TransformerModelConfig = { ...DEFAULT_TRANSFORMER, ...given, kind: 'transformer' };
    if (given.dFF === undefined) out.dFF = 4 * out.dModel;
    int(out.dModel, 'model.dModel', 1, 1 << 14);
    int(out.heads, 'model.heads', 1, 256);
    int(out.layers, 'model.layers', 0, 64);
    int(out.dFF, 'model.dFF', 1, 1 << 16);
    if (out.dModel % out.heads !== 0) throw new RangeError(`model.dModel (${out.dModel}) must be a multiple of model.heads (${out.heads})`);
    if (!ACTIVATIONS.includes(out.inputActivation)) throw new RangeError(`model.inputActivation '${out.inputActivation}' is not one of ${ACTIVATIONS.join(', ')}`);
    if (!(out.dropout >= 0 && out.dropout < 1)) throw new RangeError('model.dropout must be in [0, 1)');
    return out;
  }
  throw new RangeError(`model.kind '${kind}' is not one of mlp, transformer, diffusionrank`);
}

/** A named tensor of the flat parameter buffer (for persistence). */
export interface TensorSpec {
  name: string;
  shape: number[];
  /** Offset (floats) in the flat parameter buffer. */
  offset: number;
  length: number;
}

export interface ForwardOptions {
  training: boolean;
  seed: number;
}

/** What the trainer, predict() and persistence need of a scoring network. */
export interface Scorer {
  readonly model: ModelConfig;
  /** True when a document's score depends on the other documents of its query. */
  readonly usesLists: boolean;
  readonly paramCount: number;
  init(seed: number): Float32Array;
  tensorSpecs(): TensorSpec[];
  /** Cache for batches of up to maxDocs documents and lists of up to maxListLength documents. */
  cache(maxDocs: number, maxListLength: number, device: Device): unknown;
  disposeCache(cache: unknown): void;
  /** scores [docs] from x [docs × numFeatures] over the lists of offsets. */
  forward(params: K.F32, x: K.F32, offsets: K.U32, scores: K.F32, cache: unknown, options: ForwardOptions): void;
  /** grads (overwritten) from dscores [docs], using the cache of the last forward. */
  backward(params: K.F32, cache: unknown, dscores: K.F32, grads: K.F32): void;
}

export function mlpConfigOf(model: MlpModelConfig, numFeatures: number): K.MlpConfig {
  return { in: numFeatures, hidden: model.hidden, out: 1, activation: model.activation, layerNorm: model.layerNorm, dropout: model.dropout };
}

export function transformerConfigOf(model: TransformerModelConfig, numFeatures: number): K.TransformerConfig {
  return { in: numFeatures, dModel: model.dModel, heads: model.heads, layers: model.layers, dFF: model.dFF, inputActivation: model.inputActivation, dropout: model.dropout };
}

function mlpScorer(model: MlpModelConfig, numFeatures: number): Scorer {
  const cfg = mlpConfigOf(model, numFeatures);
  return {
    model,
    usesLists: false,
    paramCount: K.mlpParamCount(cfg),
    init: (seed) => K.mlpInitParams(cfg, seed),
    tensorSpecs() {
      const specs: TensorSpec[] = [];
      K.mlpLayout(cfg).forEach((l, i) => {
        specs.push({ name: `layers.${i}.weight`, shape: [l.in, l.out], offset: l.w, length: l.in * l.out });
        specs.push({ name: `layers.${i}.bias`, shape: [l.out], offset: l.b, length: l.out });
        if (l.gamma >= 0) specs.push({ name: `layers.${i}.ln.gamma`, shape: [l.out], offset: l.gamma, length: l.out });
        if (l.beta >= 0) specs.push({ name: `layers.${i}.ln.beta`, shape: [l.out], offset: l.beta, length: l.out });
      });
      return specs;
    },
    cache: (maxDocs, _maxListLength, device) => K.mlpCache(cfg, Math.max(1, maxDocs), device),
    disposeCache: (c) => K.mlpCacheDispose(c as K.MlpCache),
    forward(params, x, _offsets, scores, cache, o) {
      K.mlpForward(cfg, params, x, scores.view([x.shape[0]!, 1]), cache as K.MlpCache, o);
    },
    backward(params, cache, dscores, grads) {
      K.mlpBackward(cfg, params, cache as K.MlpCache, dscores, grads);
    },
  };
}

function transformerScorer(model: TransformerModelConfig, numFeatures: number): Scorer {
  const cfg = transformerConfigOf(model, numFeatures);
  const d = model.dModel;
  return {
    model,
    usesLists: true,
    paramCount: K.transformerParamCount(cfg),
    init: (seed) => K.transformerInitParams(cfg, seed),
    tensorSpecs() {
      const L = K.transformerLayout(cfg);
      const specs: TensorSpec[] = [];
      const add = (name: string, offset: number, shape: number[]) => specs.push({ name, shape, offset, length: shape.reduce((a, b) => a * b, 1) });
      add('input.weight', L.wIn, [numFeatures, d]);
      add('input.bias', L.bIn, [d]);
      L.layers.forEach((l, i) => {
        add(`layers.${i}.ln1.gamma`, l.ln1Gamma, [d]);
        add(`layers.${i}.ln1.beta`, l.ln1Beta, [d]);
        for (const [n, w, b] of [['q', l.wq, l.bq], ['k', l.wk, l.bk], ['v', l.wv, l.bv], ['o', l.wo, l.bo]] as const) {
          add(`layers.${i}.attn.${n}.weight`, w, [d, d]);
          add(`layers.${i}.attn.${n}.bias`, b, [d]);
        }
        add(`layers.${i}.ln2.gamma`, l.ln2Gamma, [d]);
        add(`layers.${i}.ln2.beta`, l.ln2Beta, [d]);
        add(`layers.${i}.ff1.weight`, l.w1, [d, model.dFF]);
        add(`layers.${i}.ff1.bias`, l.b1, [model.dFF]);
        add(`layers.${i}.ff2.weight`, l.w2, [model.dFF, d]);
        add(`layers.${i}.ff2.bias`, l.b2, [d]);
      });
      add('final_ln.gamma', L.lnfGamma, [d]);
      add('final_ln.beta', L.lnfBeta, [d]);
      add('output.weight', L.wOut, [d, 1]);
      add('output.bias', L.bOut, [1]);
      return specs.sort((a, b) => a.offset - b.offset);
    },
    cache: (maxDocs, maxListLength, device) => K.transformerCache(cfg, Math.max(1, maxDocs), Math.max(1, maxListLength), device),
    disposeCache: (c) => K.transformerCacheDispose(c as K.TransformerCache),
    forward(params, x, offsets, scores, cache, o) {
      K.transformerForward(cfg, params, x, offsets, scores, cache as K.TransformerCache, o);
    },
    backward(params, cache, dscores, grads) {
      K.transformerBackward(cfg, params, cache as K.TransformerCache, dscores, grads);
    },
  };
}

/** The scorer of a (resolved) model config for numFeatures inputs. */
export function scorerOf(model: ModelConfig, numFeatures: number): Scorer {
  if (model.kind === 'diffusionrank') return diffusionRankScorer(model, numFeatures);
  return model.kind === 'transformer' ? transformerScorer(model, numFeatures) : mlpScorer(model, numFeatures);
}

// ordo/kernels: the low-level compute API other packages build on, without
// the trainers. Tensors in, tensors out (outputs are caller-allocated and
// overwritten unless stated). Every call validates dtype, device, shape and
// offset contents before native memory is touched (TypeError / RangeError
// naming the argument) and runs on the device its tensors live on. Each
// function has an async twin (name + 'Async') that runs off the JS thread and
// returns a Promise; async calls need owned tensors (not zero-copy views).
import { native, type NativeCudaStatus, type NativeMetricResult } from './native.js';
import { resolveConvention, type ConventionInput } from './conventions.js';
import type { MetricKind } from './evaluate.js';
import { Tensor, type Device } from './tensor.js';

export { backend, describeBackend, type BackendInfo, type BackendName } from './backend.js';
export { Tensor, isTensor, type DType, type Device, type TensorData, type TensorFromOptions, type TypedArrayOf } from './tensor.js';
export type { NativeCudaStatus as CudaStatus, NativeMetricResult as RankingMetricResult };

/** A float32 tensor. */
export type F32 = Tensor<'f32'>;
/** A uint32 tensor (e.g. ragged-batch offsets). */
export type U32 = Tensor<'u32'>;
/** A uint8 tensor (e.g. dropout masks). */
export type U8 = Tensor<'u8'>;
const K = () => native().kernels;

/**
 * Ranking metrics over a ragged batch: labels and scores per document,
 * queryOffsets (CSR, numQueries + 1 values). One result per [kind, k] pair.
 */
export function rankingMetrics(
  labels: Float32Array,
  queryOffsets: Uint32Array,
  scores: Float64Array | Float32Array,
  metrics: Array<[MetricKind, number]>,
  convention?: ConventionInput,
): NativeMetricResult[] {
  return native().evaluate(labels, queryOffsets, scores, metrics, resolveConvention(convention));
}

/** CSR offsets of a ragged batch (numLists + 1 values, from 0 to numDocs) as a u32 tensor. */
export function raggedOffsets(offsets: Uint32Array | number[], device?: Device | 'auto'): U32 {
  const a = offsets instanceof Uint32Array ? offsets : Uint32Array.from(offsets);
  return Tensor.from(a, [a.length], device === undefined ? { copy: true } : { device, copy: true });
}

/** Kernel launches so far per device (which device the kernels ran on). */
export function kernelStats(): { cpu: number; cuda: number } {
  return K().stats();
}

/** CPU threads used by the kernels (ORDO_THREADS at start); pass n to change it. */
export function threads(n?: number): number {
  return K().threads(n);
}

/** True when SGEMM uses the AVX2/FMA path on this CPU. */
export function usesAvx2(): boolean {
  return K().usesAvx2();
}

// ---- dense layers ------------------------------------------------------------------

export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
}
/** c = alpha·op(a)·op(b) + beta·c for 2-D row-major tensors; op transposes when trans* is set. */
export const sgemm = (a: F32, b: F32, c: F32, options?: GemmOptions): void => void K().sgemm(a, b, c, options);
export const sgemmAsync = (a: F32, b: F32, c: F32, options?: GemmOptions): Promise<void> => K().sgemmAsync(a, b, c, options) as Promise<void>;

/** y[r, c] += bias[c] (y is [rows, cols]). */
export const addBias = (y: F32, bias: F32): void => void K().addBias(y, bias);
/** dbias[c] = Σ_r dy[r, c]. */
export const biasBackward = (dy: F32, dbias: F32): void => void K().biasBackward(dy, dbias);

export type ActivationName = 'identity' | 'relu' | 'silu' | 'gelu' | 'tanh';
/** y = f(x) elementwise (GELU: tanh approximation). y may be x. */
export const activation = (x: F32, y: F32, kind: ActivationName): void => void K().activation(x, y, kind);
/** dx = dy·f'(x), from the pre-activation x. */
export const activationBackward = (x: F32, dy: F32, dx: F32, kind: ActivationName): void => void K().activationBackward(x, dy, dx, kind);

/** Row-wise LayerNorm of x [rows, cols]; saves mean and rstd [rows] for the backward. */
export const layerNorm = (x: F32, gamma: F32, beta: F32, y: F32, mean: F32, rstd: F32, options?: { eps?: number }): void =>
  void K().layerNorm(x, gamma, beta, y, mean, rstd, options);
/** dx, dgamma, dbeta (overwritten) from dy. */
export const layerNormBackward = (dy: F32, x: F32, gamma: F32, mean: F32, rstd: F32, dx: F32, dgamma: F32, dbeta: F32): void =>
  void K().layerNormBackward(dy, x, gamma, mean, rstd, dx, dgamma, dbeta);

export interface DropoutOptions {
  /** Drop probability in [0, 1). */
  p?: number;
  /** Seed and element offset of the counter-based RNG: the same (seed, offset) gives the same mask on every device. */
  seed?: number | bigint;
  offset?: number | bigint;
}
/**
 * Inverted dropout: y = mask ? x/(1−p) : 0; mask (u8) is written for the backward. Element i is kept when its
 * 16-bit counter-based draw (four per SplitMix64 value of (seed, ⌊i/4⌋); native/core/rng.h `dropout_keep`) gives
 * u ≥ p, so p is resolved to 1/65536; the same seed gives the same mask on CPU and CUDA.
 */
export const dropout = (x: F32, y: F32, mask: U8, options?: DropoutOptions): void => void K().dropout(x, y, mask, options);
export const dropoutBackward = (dy: F32, mask: U8, dx: F32, options?: { p?: number }): void => void K().dropoutBackward(dy, mask, dx, options);

export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** 1-based step count, for bias correction. */
  step?: number;
  /** true (default): AdamW, decoupled weight decay; false: Adam with L2 in the gradient. */
  decoupled?: boolean;
}
/** Fused in-place Adam/AdamW step on param, m, v. */
export const adamUpdate = (param: F32, grad: F32, m: F32, v: F32, options?: AdamOptions): void => void K().adamUpdate(param, grad, m, v, options);
export interface SgdOptions {
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
}
/** Fused in-place SGD step (PyTorch semantics); momentumBuffer may be null when momentum is 0. */
export const sgdUpdate = (param: F32, grad: F32, momentumBuffer: F32 | null, options?: SgdOptions): void =>
  void K().sgdUpdate(param, grad, momentumBuffer, options);

// ---- NeuralSort -------------------------------------------------------------------------

export interface NeuralSortOptions {
  /** Temperature τ > 0 (default 1). */
  tau?: number;
  /** Sort s + β·Gumbel noise drawn from (seed, doc index): the same draws on every device. */
  gumbel?: boolean;
  gumbelBeta?: number;
  seed?: number | bigint;
  /** Straight-through: forward gives the hard permutation, backward the relaxed one's gradient. */
  hard?: boolean;
}
/**
 * Relaxed permutation matrices P̂ (Grover et al. 2019) of a ragged batch: list q
 * (docs offsets[q]..offsets[q+1]−1) writes its n_q×n_q block, row-major, after
 * the blocks of the lists before it (pHat holds Σ n_q² values).
 */
export const neuralSort = (scores: F32, offsets: U32, pHat: F32, options?: NeuralSortOptions): void => void K().neuralSort(scores, offsets, pHat, options);
export const neuralSortAsync = (scores: F32, offsets: U32, pHat: F32, options?: NeuralSortOptions): Promise<void> =>
  K().neuralSortAsync(scores, offsets, pHat, options) as Promise<void>;
/** gradScores (overwritten) from ∂L/∂P̂, analytic O(n²) per list. */
export const neuralSortBackward = (scores: F32, offsets: U32, gradPHat: F32, gradScores: F32, options?: NeuralSortOptions): void =>
  void K().neuralSortBackward(scores, offsets, gradPHat, gradScores, options);
/**
 * out = P̂·values per list without storing P̂ (O(n) memory per list): out[i] is the
 * relaxed value at rank i (e.g. values = gains gives the expected gain at each rank).
 * rowStats (2 per doc) is kept for the backward.
 */
export const neuralSortApply = (scores: F32, values: F32, offsets: U32, out: F32, rowStats: F32, options?: NeuralSortOptions): void =>
  void K().neuralSortApply(scores, values, offsets, out, rowStats, options);
export const neuralSortApplyAsync = (scores: F32, values: F32, offsets: U32, out: F32, rowStats: F32, options?: NeuralSortOptions): Promise<void> =>
  K().neuralSortApplyAsync(scores, values, offsets, out, rowStats, options) as Promise<void>;
/** gradScores and gradValues (overwritten; gradValues may be null) from gradOut. */
export const neuralSortApplyBackward = (
  scores: F32,
  values: F32,
  offsets: U32,
  rowStats: F32,
  gradOut: F32,
  gradScores: F32,
  gradValues: F32 | null,
  options?: NeuralSortOptions,
): void => void K().neuralSortApplyBackward(scores, values, offsets, rowStats, gradOut, gradScores, gradValues, options);

// ---- ranking losses -------------------------------------------------------------------------

export type LossName =
  | 'mse'
  | 'sigmoidCrossEntropy'
  | 'softmaxCrossEntropy'
  | 'rankNet'
  | 'lambdaRank'
  | 'listNet'
  | 'listMLE'
  | 'approxNDCG'
  | 'neuralNDCG'
  | 'neuralNDCGTransposed'
  | 'lambdaLoss';

export interface LossOptions {
  /** Sigmoid scale σ (RankNet, LambdaRank, LambdaLoss). Default 1. */
  sigma?: number;
  /** Truncation / cut-off; 0 = whole list (LambdaRank truncation level, NeuralNDCG k, LambdaLoss k). */
  k?: number;
  /** LightGBM lambdarank_norm. Default true. */
  lambdarankNorm?: boolean;
  /** NeuralSort τ (NeuralNDCG); ApproxNDCG α = 1/temperature. Default 1. */
  temperature?: number;
  /** NDCG-Loss2++ weight μ. Default 10. */
  mu?: number;
  sinkhornMaxIter?: number;
  sinkhornTol?: number;
  /** Sigmoid cross-entropy target = label / labelMax (0: the batch's largest label). */
  labelMax?: number;
  /** Gains 2^y − 1 (default) or y. */
  poweredGains?: boolean;
  /** ListMLE tie shuffling seed. */
  seed?: number | bigint;
}
/**
 * Loss of every list of a ragged batch (lossPerList, numLists values, before any
 * reduction) and, when gradScores is given, ∂lossPerList[q]/∂scores for each doc
 * of list q. Reduce (mean or sum over lists) yourself and scale the gradient to
 * match; see README "Ranking losses" for each loss's definition and edge cases.
 */
export const rankingLoss = (loss: LossName, scores: F32, labels: F32, offsets: U32, lossPerList: F32, gradScores: F32 | null, options?: LossOptions): void =>
  void K().rankingLoss(loss, scores, labels, offsets, lossPerList, gradScores, options);
export const rankingLossAsync = (
  loss: LossName,
  scores: F32,
  labels: F32,
  offsets: U32,
  lossPerList: F32,
  gradScores: F32 | null,
  options?: LossOptions,
): Promise<void> => K().rankingLossAsync(loss, scores, labels, offsets, lossPerList, gradScores, options) as Promise<void>;

// ---- MLP scorer -------------------------------------------------------------------------------

export interface MlpConfig {
  /** Input features. */
  in: number;
  /** Hidden widths: each layer is Linear → activation → (LayerNorm) → (dropout). Default []. */
  hidden?: number[];
  /** Output units (1 for a scorer). Default 1. */
  out?: number;
  /** Default 'relu'. */
  activation?: ActivationName;
  layerNorm?: boolean;
  /** Drop probability in [0, 1) after each hidden layer (training only). */
  dropout?: number;
  layerNormEps?: number;
}
/** Activations kept between forward and backward, allocated once on a device for up to maxBatch rows. */
export interface MlpCache {
  readonly device: Device;
  readonly maxBatch: number;
  readonly bytes: number;
}
export interface MlpLayerLayout {
  in: number;
  out: number;
  /** Offsets (floats) of W [in × out] and b in the flat parameter buffer; gamma/beta −1 when absent. */
  w: number;
  b: number;
  gamma: number;
  beta: number;
}
/** Number of floats in the flat parameter buffer (W0, b0, [gamma0, beta0], W1, ... , WL, bL). */
export const mlpParamCount = (config: MlpConfig): number => K().mlpParamCount(config) as number;
/** PyTorch-style initial parameters (U(±1/√in) for W and b, gamma 1, beta 0), seeded. */
export const mlpInitParams = (config: MlpConfig, seed = 0): Float32Array => K().mlpInitParams(config, seed) as Float32Array;
export const mlpLayout = (config: MlpConfig): MlpLayerLayout[] => K().mlpLayout(config) as MlpLayerLayout[];
export const mlpCache = (config: MlpConfig, maxBatch: number, device: Device = 'cpu'): MlpCache => K().mlpCache(config, maxBatch, device) as MlpCache;
/** Frees a cache's memory now (a running async kernel keeps it until it finishes); later use throws. */
export const mlpCacheDispose = (cache: MlpCache): void => void K().mlpCacheDispose(cache);
export interface MlpForwardOptions {
  /** Dropout on (default false). */
  training?: boolean;
  /** Dropout seed; the same seed gives the same masks on every device. */
  seed?: number;
}
/** y [batch × out] = MLP(x [batch × in]); fills cache for mlpBackward. */
export const mlpForward = (config: MlpConfig, params: F32, x: F32, y: F32, cache: MlpCache, options?: MlpForwardOptions): void =>
  void K().mlpForward(config, params, x, y, cache, options);
export const mlpForwardAsync = (config: MlpConfig, params: F32, x: F32, y: F32, cache: MlpCache, options?: MlpForwardOptions): Promise<void> =>
  K().mlpForwardAsync(config, params, x, y, cache, options) as Promise<void>;
/** grads (same layout as params, overwritten) and dx (optional) from dy, using the cache of the last forward. */
export const mlpBackward = (config: MlpConfig, params: F32, cache: MlpCache, dy: F32, grads: F32, dx: F32 | null = null): void =>
  void K().mlpBackward(config, params, cache, dy, grads, dx);
export const mlpBackwardAsync = (config: MlpConfig, params: F32, cache: MlpCache, dy: F32, grads: F32, dx: F32 | null = null): Promise<void> =>
  K().mlpBackwardAsync(config, params, cache, dy, grads, dx) as Promise<void>;

// ---- data ops ----------------------------------------------------------------------------------

/** dst[r, :] = src[rows[r], :] (rows are checked against src's row count). */
export const gatherRows = (src: F32, rows: U32, dst: F32): void => void K().gatherRows(src, rows, dst);
/** x *= alpha, in place. */
export const scale = (x: F32, alpha: number): void => void K().scale(x, alpha);
/** Σ x² (double precision; the only value that comes back to JS). */
export const sumSquares = (x: F32): number => K().sumSquares(x) as number;
/** Σ x (double precision). */
export const sum = (x: F32): number => K().sum(x) as number;

// ---- Transformer scorer (allRank's context-aware listwise model) -----------------------------

/**
 * allRank's Transformer scorer: Linear(in → dModel) + activation, `layers` pre-norm encoder layers
 * (x + dropout(MHA(LayerNorm(x))), x + dropout(FF(LayerNorm(x)))) with self-attention over the
 * documents of the SAME list only, a final LayerNorm and Linear(dModel → 1).
 */
export interface TransformerConfig {
  /** Input features. */
  in: number;
  /** Model width; a multiple of heads. */
  dModel: number;
  /** Attention heads. Default 1. */
  heads?: number;
  /** Encoder layers (0 allowed). Default 1. */
  layers?: number;
  /** Feed-forward hidden width. Default 4 × dModel. */
  dFF?: number;
  /** Activation after the input projection. Default 'relu'. */
  inputActivation?: ActivationName;
  /** Drop probability in [0, 1) (input projection, attention output, FF hidden, FF output; training only). */
  dropout?: number;
  /** LayerNorm epsilon. Default 1e-6 (allRank's). */
  layerNormEps?: number;
}
/** Activations kept between forward and backward, allocated once on a device. */
export interface TransformerCache {
  readonly device: Device;
  readonly maxDocs: number;
  readonly maxListLength: number;
  readonly bytes: number;
}
export interface TransformerLayerLayout {
  ln1Gamma: number; ln1Beta: number;
  wq: number; bq: number; wk: number; bk: number; wv: number; bv: number; wo: number; bo: number;
  ln2Gamma: number; ln2Beta: number;
  w1: number; b1: number; w2: number; b2: number;
}
/** Offsets (floats) in the flat parameter buffer; every W is [fanIn × fanOut] row-major (y = x·W + b). */
export interface TransformerLayout {
  wIn: number; bIn: number;
  layers: TransformerLayerLayout[];
  lnfGamma: number; lnfBeta: number; wOut: number; bOut: number;
  /** Total floats. */
  count: number;
}
/**
 * Number of floats in the flat parameter buffer: W_in, b_in, then per layer ln1 γ/β, Wq, bq, Wk, bk,
 * Wv, bv, Wo, bo, ln2 γ/β, W1, b1, W2, b2, then the final LayerNorm γ/β, w_out, b_out.
 */
export const transformerParamCount = (config: TransformerConfig): number => K().transformerParamCount(config) as number;
/** PyTorch-style initial parameters (U(±1/√fanIn) for every Linear, LayerNorm γ 1, β 0), seeded. */
export const transformerInitParams = (config: TransformerConfig, seed = 0): Float32Array =>
  K().transformerInitParams(config, seed) as Float32Array;
export const transformerLayout = (config: TransformerConfig): TransformerLayout => K().transformerLayout(config) as TransformerLayout;
/**
 * Cache for up to maxDocs documents per batch and lists of at most maxListLength documents
 * (attention probabilities take heads × maxDocs × maxListLength floats per layer).
 */
export const transformerCache = (config: TransformerConfig, maxDocs: number, maxListLength: number, device: Device = 'cpu'): TransformerCache =>
  K().transformerCache(config, maxDocs, maxListLength, device) as TransformerCache;
/** Frees a transformer cache's memory now; later use throws. */
export const transformerCacheDispose = (cache: TransformerCache): void => void K().transformerCacheDispose(cache);
export interface TransformerForwardOptions {
  /** Dropout on (default false). */
  training?: boolean;
  /** Dropout seed; the same seed gives the same masks on every device. */
  seed?: number;
}
/**
 * scores [numDocs] = Transformer(x [numDocs × in]) over the lists of offsets (CSR, numLists + 1 values);
 * attention never crosses lists. Fills cache for transformerBackward and keeps x and offsets referenced:
 * do not change them before the backward.
 */
export const transformerForward = (
  config: TransformerConfig, params: F32, x: F32, offsets: U32, scores: F32, cache: TransformerCache, options?: TransformerForwardOptions,
): void => void K().transformerForward(config, params, x, offsets, scores, cache, options);
export const transformerForwardAsync = (
  config: TransformerConfig, params: F32, x: F32, offsets: U32, scores: F32, cache: TransformerCache, options?: TransformerForwardOptions,
): Promise<void> => K().transformerForwardAsync(config, params, x, offsets, scores, cache, options) as Promise<void>;
/** grads (same layout as params, overwritten) and dx [numDocs × in] (optional) from dscores, using the cache of the last forward. */
export const transformerBackward = (
  config: TransformerConfig, params: F32, cache: TransformerCache, dscores: F32, grads: F32, dx: F32 | null = null,
): void => void K().transformerBackward(config, params, cache, dscores, grads, dx);
export const transformerBackwardAsync = (
  config: TransformerConfig, params: F32, cache: TransformerCache, dscores: F32, grads: F32, dx: F32 | null = null,
): Promise<void> => K().transformerBackwardAsync(config, params, cache, dscores, grads, dx) as Promise<void>;

// DiffusionRank / TabDiff kernels (noise schedules, fused input, losses, pair sampler).
export * from './diffusion-kernels.js';

// DiffusionRank kernels (Ebrahimi et al. 2026, on TabDiff, Shi et al. 2025):
// noise schedules with their gradients, the fused training input, the denoiser
// input, the joint feature + label loss and the in-query pair sampler.
// Re-exported by ordo/kernels. Like every kernel there: outputs are
// caller-allocated and overwritten, every call checks dtype, device and shape
// first (TypeError / RangeError naming the argument), runs on the device its
// tensors live on and has an async twin (name + 'Async').
//
// Definitions (defaults in brackets):
//  * power-mean schedule: σ(t) = (a + t(b − a))^ρ, a = σmin^(1/ρ), b = σmax^(1/ρ)
//    [σmin 0.002, σmax 80, ρ 7]; learnable per column: ρ_c = softplus(ρraw_c) + rhoOffset [5].
//  * log-linear schedule: move chance mc(t) = (1 − εmax − εmin)·τ + εmin, τ = t, or t^k
//    with k_c = softplus(kraw_c) + kOffset [1] (learnable) [εmin 1e-5, εmax 1e-3];
//    σcat = −log1p(−mc); MDLM weight w = (dσcat/dt)/expm1(σcat) = (1 − εmax − εmin)·(dτ/dt)/mc.
//  * EDM preconditioning (σ_data = 1): c_in = 1/√(σ²+1), c_skip = 1/(σ²+1), c_out = σ/√(σ²+1),
//    c_noise = log(σ)/4.
// Random draws (fused input, pair sampler) are a pure function of (seed, counter, row, column) and a
// stream id per kernel (so the two may share a seed and counter), identical on every device: pass a
// new counter each training step.
import { native } from './native.js';
import type { F32, U32 } from './kernels.js';

const K = () => native().kernels;

/** Power-mean (EDM, variance-exploding) schedule constants of the numeric columns. */
export interface PowerMeanOptions {
  /** Default 0.002. */
  sigmaMin?: number;
  /** Default 80. */
  sigmaMax?: number;
  /** Fixed ρ (used when no per-column rhoRaw is given). Default 7. */
  rho?: number;
}
/** Log-linear (masked/absorbing) schedule constants of the label column. */
export interface LogLinearOptions {
  /** Default 1e-5. */
  epsMin?: number;
  /** Default 1e-3. */
  epsMax?: number;
}

export interface NumericScheduleOptions extends PowerMeanOptions {
  /** Learnable ρ per column (F32 [C]): ρ_c = softplus(rhoRaw_c) + rhoOffset; sigma must then be [B, C]. */
  rhoRaw?: F32;
  /** Default 5 (TabDiff's rho_offset). */
  rhoOffset?: number;
}
export interface CategoricalScheduleOptions extends LogLinearOptions {
  /** Learnable k per column (F32 [C]): t → t^k, k_c = softplus(kRaw_c) + kOffset; moveChance must then be [B, C]. */
  kRaw?: F32;
  /** Default 1 (TabDiff's k_offset). */
  kOffset?: number;
}

/**
 * σ(t) of the power-mean schedule (and dσ/dt when dsigmaDt is given, same shape as sigma).
 * t: F32 [B] in [0, 1]. Without options.rhoRaw ρ is fixed and sigma is [B] or [B, C] (every column
 * equal); with rhoRaw [C] sigma is [B, C], one ρ per column.
 */
export const diffusionScheduleNumeric = (t: F32, sigma: F32, dsigmaDt: F32 | null, options?: NumericScheduleOptions): void =>
  void K().diffusionScheduleNumeric(t, sigma, dsigmaDt, options);
export const diffusionScheduleNumericAsync = (t: F32, sigma: F32, dsigmaDt: F32 | null, options?: NumericScheduleOptions): Promise<void> =>
  K().diffusionScheduleNumericAsync(t, sigma, dsigmaDt, options) as Promise<void>;

/** Schedule constants of a backward call (the learnable parameters are positional there). */
export type ScheduleBackwardOptions = Omit<NumericScheduleOptions, 'rhoRaw'>;
export type CategoricalBackwardOptions = Omit<CategoricalScheduleOptions, 'kRaw'>;

/** dRhoRaw [C] (overwritten) = Σ_b dSigma[b, c]·∂σ[b, c]/∂rhoRaw[c], from dSigma [B, C]. */
export const diffusionScheduleNumericBackward = (t: F32, rhoRaw: F32, dSigma: F32, dRhoRaw: F32, options?: ScheduleBackwardOptions): void =>
  void K().diffusionScheduleNumericBackward(t, rhoRaw, dSigma, dRhoRaw, options);
export const diffusionScheduleNumericBackwardAsync = (
  t: F32, rhoRaw: F32, dSigma: F32, dRhoRaw: F32, options?: ScheduleBackwardOptions,
): Promise<void> => K().diffusionScheduleNumericBackwardAsync(t, rhoRaw, dSigma, dRhoRaw, options) as Promise<void>;

/**
 * Move chance mc (P(label → MASK)), σcat and the MDLM weight of the log-linear schedule; sigmaCat and
 * weight are optional and have moveChance's shape. t: F32 [B]. Without options.kRaw moveChance is [B]
 * or [B, C] (every column equal); with kRaw [C] it is [B, C].
 */
export const diffusionScheduleCategorical = (
  t: F32, moveChance: F32, sigmaCat: F32 | null, weight: F32 | null, options?: CategoricalScheduleOptions,
): void => void K().diffusionScheduleCategorical(t, moveChance, sigmaCat, weight, options);
export const diffusionScheduleCategoricalAsync = (
  t: F32, moveChance: F32, sigmaCat: F32 | null, weight: F32 | null, options?: CategoricalScheduleOptions,
): Promise<void> => K().diffusionScheduleCategoricalAsync(t, moveChance, sigmaCat, weight, options) as Promise<void>;

/** dKRaw [C] (overwritten) from dMoveChance [B, C] and dWeight [B, C] (null: no weight gradient). */
export const diffusionScheduleCategoricalBackward = (
  t: F32, kRaw: F32, dMoveChance: F32, dWeight: F32 | null, dKRaw: F32, options?: CategoricalBackwardOptions,
): void => void K().diffusionScheduleCategoricalBackward(t, kRaw, dMoveChance, dWeight, dKRaw, options);
export const diffusionScheduleCategoricalBackwardAsync = (
  t: F32, kRaw: F32, dMoveChance: F32, dWeight: F32 | null, dKRaw: F32, options?: CategoricalBackwardOptions,
): Promise<void> => K().diffusionScheduleCategoricalBackwardAsync(t, kRaw, dMoveChance, dWeight, dKRaw, options) as Promise<void>;

export interface NoiseInputOptions extends PowerMeanOptions, LogLinearOptions {
  /** K, the number of label classes (the one-hot has K + 1 slots; slot K is MASK). */
  numClasses: number;
  /** Seed of the counter-based RNG (an integer < 2^53 or a BigInt). */
  seed: number | bigint;
  /** A new value each training step (default 0). */
  counter?: number | bigint;
  /** Rows b and b + B/2 (b < B/2) form a pair: they share t and the mask draw (eps independent). B must be even. */
  pairs?: boolean;
  /** Given t per row (F32 [B], in [0, 1]) instead of t ~ U(0, 1); with pairs, row b + B/2 uses t[b]. */
  t?: F32;
}
/**
 * The fused training input of a batch: per row b, t ~ U(0,1) (or options.t), σ = σ(t) (fixed ρ),
 * mc = mc(t), masked = u < mc, eps ~ N(0, 1) per feature, x_t = x0 + σ·eps;
 *  - input [B, D+K+2]  = [c_in·x_t, one-hot over K+1 slots (slot K when masked, else classes[b]), c_noise];
 *  - target [B, D]     = (x0 − c_skip·x_t)/c_out, computed as (σ·x0 − eps)·c_in (exact at small σ);
 *  - rowInfo [B, 4]    = [t, σ, masked ? 1 : 0, 1/mc].
 * x0: F32 [B, D]; classes: F32 [B] of class ids 0..K−1. A bad class id (or options.t outside [0, 1])
 * is a RangeError naming the row, on the CPU before anything is written.
 */
export const diffusionNoiseInput = (x0: F32, classes: F32, input: F32, target: F32, rowInfo: F32, options: NoiseInputOptions): void =>
  void K().diffusionNoiseInput(x0, classes, input, target, rowInfo, options);
export const diffusionNoiseInputAsync = (
  x0: F32, classes: F32, input: F32, target: F32, rowInfo: F32, options: NoiseInputOptions,
): Promise<void> => K().diffusionNoiseInputAsync(x0, classes, input, target, rowInfo, options) as Promise<void>;

/**
 * The denoiser input for given x_t [B, D], label states classState [B] (0..K−1, or K = MASK) and
 * sigma [B] (> 0): input [B, D+K+2] = [c_in(σ)·x_t, one-hot(state) over K+1 slots, log(σ)/4].
 * Scoring uses σ = sigmaMin with every state MASK; the sampler any σ.
 */
export const diffusionDenoiserInput = (xt: F32, classState: F32, sigma: F32, input: F32, options: { numClasses: number }): void =>
  void K().diffusionDenoiserInput(xt, classState, sigma, input, options);
export const diffusionDenoiserInputAsync = (
  xt: F32, classState: F32, sigma: F32, input: F32, options: { numClasses: number },
): Promise<void> => K().diffusionDenoiserInputAsync(xt, classState, sigma, input, options) as Promise<void>;

export type DiffusionObjective = 'pointwise' | 'pairwise';
export interface DiffusionLossOptions {
  /** D, the feature channels at the start of each output row. */
  numFeatures: number;
  /** K, the label logits of the pointwise head (not used by the pairwise objective). */
  numClasses: number;
  /** Weight of the feature loss in gradOut (parts[0] is unweighted). Default 1. */
  featureWeight?: number;
}
/**
 * The joint loss of a batch. out: F32 [B, Dout], Dout = D + K (pointwise) or D + 1 (pairwise);
 * F = out[:, :D]. parts (F32 [2], on the same device) receives:
 *  - parts[0], the feature loss: mean over B·D of (F − target)² (0 when D = 0 or target is null);
 *  - parts[1], the label loss, with m_b = rowInfo[b, 2] (masked) and w_b = rowInfo[b, 3] (1/mc):
 *    pointwise: (1/B) Σ_b m_b·w_b·(−log_softmax(out[b, D:D+K])[classes[b]]);
 *    pairwise (B = 2P; row p is the more relevant doc, row p + P the other; m, w of row p):
 *    (1/P) Σ_p m_p·w_p·softplus(−(s_p − s_{p+P})), s = out[:, D] (RankNet −log σ(Δ), stable form;
 *    the authors' code adds 1e-10 inside the log).
 *  rowInfo null: m = w = 1, i.e. plain cross-entropy / RankNet (the discriminative counterparts).
 * gradOut (overwritten, optional) = ∂(parts[1] + featureWeight·parts[0])/∂out. classes may be null
 * for the pairwise objective. Reductions run in a fixed order (deterministic).
 */
export const diffusionLoss = (
  objective: DiffusionObjective, out: F32, target: F32 | null, classes: F32 | null, rowInfo: F32 | null, gradOut: F32 | null,
  parts: F32, options: DiffusionLossOptions,
): void => void K().diffusionLoss(objective, out, target, classes, rowInfo, gradOut, parts, options);
export const diffusionLossAsync = (
  objective: DiffusionObjective, out: F32, target: F32 | null, classes: F32 | null, rowInfo: F32 | null, gradOut: F32 | null,
  parts: F32, options: DiffusionLossOptions,
): Promise<void> => K().diffusionLossAsync(objective, out, target, classes, rowInfo, gradOut, parts, options) as Promise<void>;

export interface SamplePairsOptions {
  /** Seed of the counter-based RNG (an integer < 2^53 or a BigInt). */
  seed: number | bigint;
  /** A new value each step (default 0). */
  counter?: number | bigint;
}
/**
 * P = rows.numel/2 training pairs within queries: pair p picks a query uniformly from eligible
 * (U32 [E], the ids of queries with ≥ 2 docs and ≥ 2 distinct classes), then two distinct docs of
 * different classes (up to 64 random attempts, then a deterministic scan). rows[p] is the doc with
 * the higher class, rows[p + P] the lower (row ids into classes / the dataset).
 * offsets: U32 [Q+1] (CSR, ending at N = classes.numel). On the CPU the offsets, the eligible ids and
 * the sampled queries are checked (RangeError). On CUDA nothing is read back: the kernel never
 * indexes out of bounds, and a pair it cannot form (bad ids or offsets, a single-class query) is
 * written as two equal in-range rows.
 */
export const diffusionSamplePairs = (offsets: U32, classes: F32, eligible: U32, rows: U32, options: SamplePairsOptions): void =>
  void K().diffusionSamplePairs(offsets, classes, eligible, rows, options);
export const diffusionSamplePairsAsync = (offsets: U32, classes: F32, eligible: U32, rows: U32, options: SamplePairsOptions): Promise<void> =>
  K().diffusionSamplePairsAsync(offsets, classes, eligible, rows, options) as Promise<void>;

// The DiffusionRank network (Ebrahimi et al. 2026, "From Noise to Order:
// Learning to Rank via Denoising Diffusion", arXiv 2602.11453) and its
// discriminative counterparts, as a Scorer that Ranker.predict, persistence and
// ONNX export use like any other model.
//
// Denoiser (the authors' UniModOnlyMLP): L × [Linear → SiLU → LayerNorm → Dropout] then Linear.
//   generative:     input [c_in·x_t (D), onehot(label_t) (K + 1, slot K = MASK), c_noise (1)]
//                   output pointwise [F (D), K label logits], pairwise [F (D), one score]
//   discriminative: input x (D); output pointwise 2 logits, pairwise 1 score
//
// Scoring (one pass per document, dropout off): clean features at σ = σmin and a fully
// masked label. The input is then an affine function of x, so ordo folds it into the
// first layer: W0' = c_in·W0[0:D], b0' = b0 + W0[D+K] + c_noise·W0[D+K+1] (rows of the
// MASK slot and of c_noise), and keeps only the output column(s) the score needs. The
// pointwise score is the log-odds F_rel − F_nonrel (log p(rel) = −softplus(−score), a
// monotone map, so rankings are those of the authors' log_softmax[1]); the pairwise
// score is the score output. The released code leaves dropout on when scoring; ordo
// scores in eval mode.
import * as K from './kernels.js';
import type { Device } from './tensor.js';

export type DiffusionObjective = 'pointwise' | 'pairwise';

/** Noise schedules (TabDiff defaults): power-mean σ(t) for features, log-linear masking for the label. */
export interface DiffusionSchedule {
  sigmaMin: number;
  sigmaMax: number;
  rho: number;
  epsMin: number;
  epsMax: number;
}

export const DEFAULT_SCHEDULE: DiffusionSchedule = { sigmaMin: 0.002, sigmaMax: 80, rho: 7, epsMin: 1e-5, epsMax: 1e-3 };

export interface DiffusionRankModelConfig {
  kind: 'diffusionrank';
  /** 'pointwise' (binarised label, K = 2) or 'pairwise' (graded labels, RankNet on sampled pairs). */
  objective: DiffusionObjective;
  /** true: DiffusionRank (joint denoising of features and label); false: the discriminative counterpart with the same MLP body. */
  generative: boolean;
  /** Hidden widths of the L blocks. Default [256, 256, 256, 256] (the paper's L = 4, H = 256 for LETOR-size data). */
  hidden: number[];
  /** Dropout after each block while training. Default 0.1. */
  dropout: number;
  /** Label classes K: 2 for pointwise; the number of grades for pairwise (set from the training data when not given). */
  numClasses: number;
  /** Pointwise: a label >= this is relevant (class 1). Default 1 (LETOR). */
  relevanceThreshold: number;
  schedule: DiffusionSchedule;
}

export const DEFAULT_DIFFUSIONRANK: DiffusionRankModelConfig = {
  kind: 'diffusionrank',
  objective: 'pointwise',
  generative: true,
  hidden: [256, 256, 256, 256],
  dropout: 0.1,
  numClasses: 2,
  relevanceThreshold: 1,
  schedule: DEFAULT_SCHEDULE,
};

const KEYS = ['kind', 'objective', 'generative', 'hidden', 'dropout', 'numClasses', 'relevanceThreshold', 'schedule'];
const SCHEDULE_KEYS = Object.keys(DEFAULT_SCHEDULE);

/** A partial DiffusionRank config (what resolveDiffusionRankConfig accepts). */
export type DiffusionRankModelInput = Partial<Omit<DiffusionRankModelConfig, 'schedule'>> & { schedule?: Partial<DiffusionSchedule> };

export function resolveDiffusionRankConfig(input: DiffusionRankModelInput = {}): DiffusionRankModelConfig {
  for (const key of Object.keys(input)) if (!KEYS.includes(key)) throw new RangeError(`model.${key} is not an option of a 'diffusionrank' model; options: ${KEYS.join(', ')}`);
  const out: DiffusionRankModelConfig = { ...DEFAULT_DIFFUSIONRANK, ...input, kind: 'diffusionrank', schedule: { ...DEFAULT_SCHEDULE, ...(input.schedule ?? {}) } };
  if (out.objective !== 'pointwise' && out.objective !== 'pairwise') throw new RangeError(`model.objective '${String(out.objective)}' is not one of pointwise, pairwise`);
  if (typeof out.generative !== 'boolean') throw new RangeError('model.generative must be a boolean');
  if (!Array.isArray(out.hidden) || !out.hidden.every((h) => Number.isInteger(h) && h >= 1 && h <= 1 << 16)) throw new RangeError('model.hidden must be an array of integers in [1, 65536]');
  if (typeof out.dropout !== 'number' || !(out.dropout >= 0 && out.dropout < 1)) throw new RangeError('model.dropout must be in [0, 1)');
  if (!Number.isInteger(out.numClasses) || out.numClasses < 2 || out.numClasses > 1024) throw new RangeError(`model.numClasses must be an integer in [2, 1024], got ${JSON.stringify(out.numClasses)}`);
  if (out.objective === 'pointwise' && out.numClasses !== 2) throw new RangeError(`the pointwise objective binarises the label: model.numClasses must be 2, got ${out.numClasses}`);
  if (typeof out.relevanceThreshold !== 'number' || !Number.isFinite(out.relevanceThreshold)) throw new RangeError('model.relevanceThreshold must be a finite number');
  for (const key of Object.keys(out.schedule)) if (!SCHEDULE_KEYS.includes(key)) throw new RangeError(`model.schedule.${key} is not a schedule option; options: ${SCHEDULE_KEYS.join(', ')}`);
  const s = out.schedule;
  for (const key of SCHEDULE_KEYS) {
    const v = s[key as keyof DiffusionSchedule];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RangeError(`model.schedule.${key} must be a finite number > 0, got ${JSON.stringify(v)}`);
  }
  if (!(s.sigmaMin < s.sigmaMax)) throw new RangeError(`model.schedule.sigmaMin (${s.sigmaMin}) must be below sigmaMax (${s.sigmaMax})`);
  if (!(s.epsMin + s.epsMax < 1)) throw new RangeError('model.schedule.epsMin + epsMax must be below 1');
  return out;
}

// ---- schedules in closed form (host side; the kernels compute the same per row) ----

/** σ(t) = (σmin^(1/ρ) + t·(σmax^(1/ρ) − σmin^(1/ρ)))^ρ (Karras et al. 2022; TabDiff's PowerMeanNoise). */
export function powerMeanSigma(t: number, s: DiffusionSchedule = DEFAULT_SCHEDULE): number {
  const a = s.sigmaMin ** (1 / s.rho);
  const b = s.sigmaMax ** (1 / s.rho);
  return (a + t * (b - a)) ** s.rho;
}

/** The t with powerMeanSigma(t) = sigma. */
export function powerMeanInverse(sigma: number, s: DiffusionSchedule = DEFAULT_SCHEDULE): number {
  const a = s.sigmaMin ** (1 / s.rho);
  const b = s.sigmaMax ** (1 / s.rho);
  return (sigma ** (1 / s.rho) - a) / (b - a);
}

/** P(label → MASK) at time t: (1 − εmax − εmin)·t + εmin (TabDiff's LogLinearNoise). */
export function moveChance(t: number, s: DiffusionSchedule = DEFAULT_SCHEDULE): number {
  return (1 - s.epsMax - s.epsMin) * t + s.epsMin;
}

/** EDM preconditioning with σ_data = 1. */
export function precondition(sigma: number): { cIn: number; cSkip: number; cOut: number; cNoise: number } {
  const v = sigma * sigma + 1;
  return { cIn: 1 / Math.sqrt(v), cSkip: 1 / v, cOut: sigma / Math.sqrt(v), cNoise: Math.log(sigma) / 4 };
}

// ---- networks ----

/** Input width of the network: D + K + 2 (generative) or D. */
export function networkInputs(m: DiffusionRankModelConfig, numFeatures: number): number {
  return m.generative ? numFeatures + m.numClasses + 2 : numFeatures;
}

/** Output width: D + K / D + 1 (generative pointwise / pairwise), 2 / 1 (discriminative). */
export function networkOutputs(m: DiffusionRankModelConfig, numFeatures: number): number {
  if (m.objective === 'pointwise') return m.generative ? numFeatures + m.numClasses : 2;
  return m.generative ? numFeatures + 1 : 1;
}

/** The kernels' MLP config of the trained network (denoiser or discriminative body). */
export function networkConfigOf(m: DiffusionRankModelConfig, numFeatures: number): K.MlpConfig {
  return { in: networkInputs(m, numFeatures), hidden: m.hidden, out: networkOutputs(m, numFeatures), activation: 'silu', layerNorm: true, dropout: m.dropout };
}

/** The scoring MLP after folding: D inputs, one score. */
export function scoringConfigOf(m: DiffusionRankModelConfig, numFeatures: number): K.MlpConfig {
  return { in: numFeatures, hidden: m.hidden, out: 1, activation: 'silu', layerNorm: true, dropout: m.dropout };
}

/**
 * The parameters of scoringConfigOf(m, D) that give exactly the one-step score of the
 * trained network (see the file comment): the clean-feature, masked-label input folded
 * into the first layer, the score column(s) of the output layer.
 */
export function foldScoringParams(m: DiffusionRankModelConfig, numFeatures: number, params: Float32Array): Float32Array {
  const D = numFeatures;
  const Kc = m.numClasses;
  const src = K.mlpLayout(networkConfigOf(m, D));
  const dst = K.mlpLayout(scoringConfigOf(m, D));
  const out = new Float32Array(K.mlpParamCount(scoringConfigOf(m, D)));
  const { cIn, cNoise } = precondition(m.schedule.sigmaMin);
  const last = src.length - 1;
  for (let l = 0; l <= last; l++) {
    const s = src[l]!;
    const d = dst[l]!;
    // effective W [rowsIn × s.out] and b [s.out] of this layer after the input fold
    let W = params.subarray(s.w, s.w + s.in * s.out);
    let b = params.subarray(s.b, s.b + s.out);
    if (l === 0 && m.generative) {
      const w = new Float32Array(D * s.out);
      const bb = Float32Array.from(b);
      for (let i = 0; i < D; i++) for (let j = 0; j < s.out; j++) w[i * s.out + j] = cIn * W[i * s.out + j]!;
      const mask = (D + Kc) * s.out;
      const noise = (D + Kc + 1) * s.out;
      for (let j = 0; j < s.out; j++) bb[j] = bb[j]! + W[mask + j]! + cNoise * W[noise + j]!;
      W = w;
      b = bb;
    }
    const rows = W.length / s.out;
    if (l < last) {
      out.set(W, d.w);
      out.set(b, d.b);
      out.set(params.subarray(s.gamma, s.gamma + s.out), d.gamma);
      out.set(params.subarray(s.beta, s.beta + s.out), d.beta);
      continue;
    }
    // output layer: keep the score combination only
    const pos = m.objective === 'pointwise' ? (m.generative ? D + 1 : 1) : m.generative ? D : 0;
    const neg = m.objective === 'pointwise' ? (m.generative ? D : 0) : -1;
    for (let i = 0; i < rows; i++) out[d.w + i] = W[i * s.out + pos]! - (neg >= 0 ? W[i * s.out + neg]! : 0);
    out[d.b] = b[pos]! - (neg >= 0 ? b[neg]! : 0);
  }
  return out;
}

interface DiffusionScorerCache {
  mlp: K.MlpCache;
  folded: K.F32 | null;
  foldedFor: K.F32 | null;
}

/** Scorer of a DiffusionRank model (scoring only; training is trainDiffusionRank's). */
export function diffusionRankScorer(model: DiffusionRankModelConfig, numFeatures: number) {
  const net = networkConfigOf(model, numFeatures);
  const scoring = scoringConfigOf(model, numFeatures);
  return {
    model,
    usesLists: false,
    paramCount: K.mlpParamCount(net),
    init: (seed: number) => K.mlpInitParams(net, seed),
    tensorSpecs() {
      const specs: { name: string; shape: number[]; offset: number; length: number }[] = [];
      K.mlpLayout(net).forEach((l, i) => {
        specs.push({ name: `layers.${i}.weight`, shape: [l.in, l.out], offset: l.w, length: l.in * l.out });
        specs.push({ name: `layers.${i}.bias`, shape: [l.out], offset: l.b, length: l.out });
        if (l.gamma >= 0) specs.push({ name: `layers.${i}.ln.gamma`, shape: [l.out], offset: l.gamma, length: l.out });
        if (l.beta >= 0) specs.push({ name: `layers.${i}.ln.beta`, shape: [l.out], offset: l.beta, length: l.out });
      });
      return specs;
    },
    cache: (maxDocs: number, _maxList: number, device: Device): DiffusionScorerCache => ({ mlp: K.mlpCache(scoring, Math.max(1, maxDocs), device), folded: null, foldedFor: null }),
    disposeCache(c: unknown) {
      const cache = c as DiffusionScorerCache;
      cache.folded?.dispose();
      K.mlpCacheDispose(cache.mlp);
    },
    // The folded parameters are computed once per (cache, params tensor): params must not change while the cache is used.
    forward(params: K.F32, x: K.F32, _offsets: K.U32, scores: K.F32, c: unknown, o: { training: boolean; seed: number }) {
      if (o.training) throw new Error("a 'diffusionrank' model trains with trainDiffusionRank(), not through Scorer.forward");
      const cache = c as DiffusionScorerCache;
      if (cache.foldedFor !== params) {
        cache.folded?.dispose();
        const host = params.toArray() as Float32Array;
        cache.folded = K.Tensor.from(foldScoringParams(model, numFeatures, host), [K.mlpParamCount(scoring)], { device: params.device, copy: true }) as K.F32;
        cache.foldedFor = params;
      }
      K.mlpForward(scoring, cache.folded!, x, scores.view([x.shape[0]!, 1]), cache.mlp, { training: false, seed: 0 });
    },
    backward(): void {
      throw new Error("a 'diffusionrank' model trains with trainDiffusionRank(), not through Scorer.backward");
    },
  };
}

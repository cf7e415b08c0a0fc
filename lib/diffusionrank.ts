// DiffusionRank (Ebrahimi et al. 2026, arXiv 2602.11453): learning to rank by
// denoising diffusion over [features, relevance label], after TabDiff (Shi et al.,
// ICLR 2025). Training keeps the features, parameters, optimiser state and every
// activation on the device; per step only the batch's row indices go up and the
// two loss parts (scalars) come back.
//
// Per training row (pointwise) or pair (pairwise), see the kernels in
// native/core/diffusion.h:  t ~ U(0,1), σ = power-mean σ(t), x_t = x0 + σ·ε, the label
// is replaced by MASK with probability mc(t) = (1 − εmax − εmin)·t + εmin; the network
// sees [c_in·x_t, onehot(label_t), log(σ)/4] and is trained on
//   label loss   pointwise: cross-entropy of the true class on masked rows, × 1/mc(t)
//                pairwise:  RankNet −log σ(s_i − s_j) on masked pairs, × 1/mc(t)
//   feature loss EDM: mean((σ²+1)/σ²·(D − x0)²) = mean((F − T)²), T = (x0 − c_skip·x_t)/c_out
//   total        label + w(epoch)·feature, w falling linearly from 1 to 0 (the authors' anneal).
// The discriminative counterparts use the same MLP body on x: cross-entropy on the
// binarised label (pointwise) and RankNet on the same pairs (pairwise).
import type { Dataset } from './data.js';
import * as K from './kernels.js';
import { backend } from './backend.js';
import { evaluate, parseMetrics } from './evaluate.js';
import { type ConventionInput, resolveConvention } from './conventions.js';
import { Preprocessor, PREPROCESS_STEPS, type PreprocessStep } from './preprocess.js';
import { Ranker } from './ranker.js';
import {
  moveChance,
  networkConfigOf,
  networkInputs,
  networkOutputs,
  powerMeanInverse,
  powerMeanSigma,
  precondition,
  resolveDiffusionRankConfig,
  type DiffusionObjective,
  type DiffusionRankModelConfig,
  type DiffusionSchedule,
} from './diffusion-model.js';
import type { Device } from './tensor.js';
import type { EpochRecord, TrainProgress, TrainResult } from './trainer.js';
import { mulberry32 } from './random.js';
import { intOption, numberOption } from './options.js';
import { BestEpoch } from './best-epoch.js';

export {
  DEFAULT_DIFFUSIONRANK,
  DEFAULT_SCHEDULE,
  powerMeanSigma,
  powerMeanInverse,
  moveChance,
  precondition,
  foldScoringParams,
  networkConfigOf,
  scoringConfigOf,
  resolveDiffusionRankConfig,
  type DiffusionObjective,
  type DiffusionRankModelConfig,
  type DiffusionRankModelInput,
  type DiffusionSchedule,
} from './diffusion-model.js';

export type DiffusionPreset = 'practical' | 'paper';

/** Training settings of a preset (any of them can be overridden). */
export const DIFFUSION_PRESETS: Record<DiffusionPreset, { lr: number; epochs: number; batchSize: number; weightDecay: number; patience: number }> = {
  /** The authors' code: AdamW lr 5e-6 constant, wd 0, batch 4096, 15,000 epochs (MQ data), best epoch by vali NDCG@10. */
  paper: { lr: 5e-6, epochs: 15000, batchSize: 4096, weightDecay: 0, patience: 0 },
  /** ordo's tuning for LETOR-size data (see bench/diffusionrank/README.md): same or better vali NDCG@10 in far less time. */
  practical: { lr: 3e-4, epochs: 40, batchSize: 256, weightDecay: 0, patience: 20 },
};

export interface DiffusionRankOptions {
  /** 'pointwise' (default) or 'pairwise'. */
  objective?: DiffusionObjective;
  /** true (default): DiffusionRank; false: the discriminative counterpart with the same MLP body. */
  generative?: boolean;
  /** Network and schedule: hidden (default [256, 256, 256, 256]), dropout (0.1), numClasses, relevanceThreshold (1), schedule. */
  model?: Partial<Omit<DiffusionRankModelConfig, 'kind' | 'objective' | 'generative' | 'schedule'>> & { schedule?: Partial<DiffusionSchedule> };
  /** Default 'practical'. */
  preset?: DiffusionPreset;
  epochs?: number;
  /** Rows (pointwise) or pairs (pairwise) per optimiser step. */
  batchSize?: number;
  /** AdamW learning rate (constant). */
  lr?: number;
  weightDecay?: number;
  /** Weight of the feature (denoising) loss, linear in the epoch from `start` (first) to `end` (last). Default 1 → 0. */
  featureWeight?: { start?: number; end?: number };
  /** Fitted on the training data. Default ['quantileNormal'] with sklearn's quantile count, as the paper. */
  preprocess?: PreprocessStep[];
  valid?: Dataset;
  /** Validate every N epochs. Default 1. */
  validEvery?: number;
  /** Model selection on valid: metric (default 'ndcg@10'), convention (default 'sklearn', the paper's evaluation), patience (preset's; 0 = never stop early). */
  earlyStopping?: { metric?: string; convention?: ConventionInput; patience?: number };
  seed?: number;
  device?: Device | 'auto';
  onProgress?: (p: TrainProgress) => void;
  signal?: AbortSignal;
}

export interface DiffusionEpochRecord extends EpochRecord {
  /** Mean label loss (masked rows/pairs weighted by 1/mc) over the epoch's steps. */
  labelLoss: number;
  /** Mean feature (denoising) loss, 0 for the discriminative counterparts. */
  featureLoss: number;
  featureWeight: number;
}

/** Class ids (as floats) of a dataset's labels under a model: binarised (pointwise) or graded 0..K−1 (pairwise). */
export function labelClasses(m: DiffusionRankModelConfig, labels: Float32Array, what = 'labels'): Float32Array {
  const out = new Float32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (m.objective === 'pointwise') {
      out[i] = y >= m.relevanceThreshold ? 1 : 0;
      continue;
    }
    if (!Number.isInteger(y) || y < 0 || y >= m.numClasses) {
      throw new RangeError(`${what}: row ${i} has label ${y}; the pairwise objective needs integer grades in [0, ${m.numClasses - 1}] (model.numClasses = ${m.numClasses})`);
    }
    out[i] = y;
  }
  return out;
}

/** Trains DiffusionRank (or its discriminative counterpart) and returns the best ranker (by the validation metric when valid is given). */
export async function trainDiffusionRank(trainData: Dataset, options: DiffusionRankOptions = {}): Promise<TrainResult & { history: DiffusionEpochRecord[] }> {
  const t0 = performance.now();
  const presetName = options.preset ?? 'practical';
  const preset = DIFFUSION_PRESETS[presetName];
  if (!preset) throw new RangeError(`preset '${String(presetName)}' is not one of ${Object.keys(DIFFUSION_PRESETS).join(', ')}`);
  const objective = options.objective ?? 'pointwise';
  if (trainData.numQueries === 0 || trainData.numDocs === 0) throw new RangeError('the training data has no documents');
  const D = trainData.numFeatures;
  let maxLabel = 0;
  for (const y of trainData.labels) maxLabel = Math.max(maxLabel, y);
  const model = resolveDiffusionRankConfig({
    objective,
    ...(options.generative !== undefined ? { generative: options.generative } : {}),
    ...(objective === 'pairwise' ? { numClasses: Math.max(2, Math.floor(maxLabel) + 1) } : {}),
    ...(options.model ?? {}),
  });
  const epochs = intOption(options.epochs, preset.epochs, 'epochs');
  const batchSize = intOption(options.batchSize, preset.batchSize, 'batchSize');
  const lr = numberOption(options.lr, preset.lr, 'lr', 0);
  const weightDecay = numberOption(options.weightDecay, preset.weightDecay, 'weightDecay', 0);
  const fwStart = numberOption(options.featureWeight?.start, 1, 'featureWeight.start', 0);
  const fwEnd = numberOption(options.featureWeight?.end, 0, 'featureWeight.end', 0);
  const validEvery = intOption(options.validEvery, 1, 'validEvery');
  const seed = intOption(options.seed, 42, 'seed', 0);
  const stopMetric = parseMetrics(options.earlyStopping?.metric ?? 'ndcg@10')[0]!;
  const stopConvention = resolveConvention(options.earlyStopping?.convention ?? 'sklearn');
  const patience = intOption(options.earlyStopping?.patience, preset.patience, 'earlyStopping.patience', 0);
  const steps = options.preprocess ?? ['quantileNormal'];
  for (const s of steps) if (!PREPROCESS_STEPS.includes(s)) throw new RangeError(`preprocess step '${s}' is not one of ${PREPROCESS_STEPS.join(', ')}`);
  if (options.valid && options.valid.numFeatures !== D) throw new RangeError(`valid has ${options.valid.numFeatures} features, train has ${D}`);
  const device: Device = !options.device || options.device === 'auto' ? backend().active : options.device;

  const N = trainData.numDocs;
  const Kc = model.numClasses;
  const pairwise = objective === 'pairwise';
  const classesHost = labelClasses(model, trainData.labels, 'training data');
  const offsetsHost = trainData.queryOffsets;
  const eligibleHost: number[] = [];
  if (pairwise) {
    for (let q = 0; q < trainData.numQueries; q++) {
      const a = offsetsHost[q]!;
      const b = offsetsHost[q + 1]!;
      for (let i = a + 1; i < b; i++) {
        if (classesHost[i] !== classesHost[a]) {
          eligibleHost.push(q);
          break;
        }
      }
    }
    if (eligibleHost.length === 0) throw new RangeError('the pairwise objective needs at least one training query with two documents of different labels');
  }
  const preprocessor = Preprocessor.fit(trainData.features, D, steps, { quantiles: 'sklearn' });
  const net = networkConfigOf(model, D);
  const Din = networkInputs(model, D);
  const Dout = networkOutputs(model, D);
  const rowsPerStep = pairwise ? 2 * batchSize : Math.min(batchSize, N);
  const stepsPerEpoch = pairwise ? Math.max(1, Math.floor(N / batchSize)) : Math.ceil(N / batchSize);
  const count = K.mlpParamCount(net);

  const owned: K.Tensor[] = [];
  const T = <X extends K.Tensor>(t: X): X => {
    owned.push(t);
    return t;
  };
  const zeros = (shape: number[], dtype: K.DType = 'f32') => T(K.Tensor.zeros(shape, { dtype, device }));
  let cache: K.MlpCache | undefined;
  try {
    const X = T(K.Tensor.from(preprocessor.apply(trainData.features), [N, D], { device, copy: true }) as K.F32);
    const C = T(K.Tensor.from(classesHost, [N, 1], { device, copy: true }) as K.F32);
    const params = T(K.Tensor.from(K.mlpInitParams(net, seed), [count], { device, copy: true }) as K.F32);
    const grads = zeros([count]) as K.F32;
    const m1 = zeros([count]) as K.F32;
    const m2 = zeros([count]) as K.F32;
    const x0 = zeros([rowsPerStep * D]) as K.F32;
    const cls = zeros([rowsPerStep]) as K.F32;
    const input = model.generative ? (zeros([rowsPerStep * Din]) as K.F32) : undefined;
    const target = model.generative ? (zeros([rowsPerStep * D]) as K.F32) : undefined;
    const info = model.generative ? (zeros([rowsPerStep * 4]) as K.F32) : undefined;
    const out = zeros([rowsPerStep * Dout]) as K.F32;
    const gout = zeros([rowsPerStep * Dout]) as K.F32;
    const parts = zeros([2]) as K.F32;
    const rowsT = zeros([rowsPerStep], 'u32') as K.U32;
    const offT = pairwise ? T(K.Tensor.from(offsetsHost, [offsetsHost.length], { device, copy: true }) as K.U32) : undefined;
    const eligT = pairwise ? T(K.Tensor.from(Uint32Array.from(eligibleHost), [eligibleHost.length], { device, copy: true }) as K.U32) : undefined;
    cache = K.mlpCache(net, rowsPerStep, device);

    const rand = mulberry32(seed);
    const perm = Uint32Array.from({ length: N }, (_, i) => i);
    const totalSteps = stepsPerEpoch * epochs;
    const history: DiffusionEpochRecord[] = [];
    const best = new BestEpoch(validEvery, patience);
    let aborted = false;
    let step = 0;
    const metricOf = (p: Float32Array) => {
      const ranker = new Ranker(model, D, preprocessor, p);
      return evaluate(options.valid!, ranker.predict(options.valid!, { device }), { metrics: [stopMetric], convention: stopConvention }).metrics[stopMetric.name]!.mean;
    };

    for (let epoch = 1; epoch <= epochs && !aborted; epoch++) {
      const te = performance.now();
      const featureWeight = epochs === 1 ? fwStart : fwStart + ((fwEnd - fwStart) * (epoch - 1)) / (epochs - 1);
      if (!pairwise) {
        for (let i = N - 1; i > 0; i--) {
          const j = Math.floor(rand() * (i + 1));
          const v = perm[i]!;
          perm[i] = perm[j]!;
          perm[j] = v;
        }
      }
      let labelSum = 0;
      let featureSum = 0;
      let done = 0;
      for (let b = 0; b < stepsPerEpoch; b++) {
        if (options.signal && b % 8 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
        if (options.signal?.aborted) {
          aborted = true;
          break;
        }
        let n: number;
        const rowsV = (nRows: number) => rowsT.view([nRows]);
        if (pairwise) {
          n = 2 * batchSize;
          K.diffusionSamplePairs(offT!, C.view([N]), eligT!, rowsV(n), { seed, counter: step });
        } else {
          const start = b * batchSize;
          n = Math.min(batchSize, N - start);
          rowsV(n).copyFrom(perm.subarray(start, start + n));
        }
        const xv = x0.view([n, D]);
        const cv = cls.view([n]);
        K.gatherRows(X, rowsV(n), xv);
        K.gatherRows(C, rowsV(n), cls.view([n, 1]));
        const outV = out.view([n, Dout]);
        const goutV = gout.view([n, Dout]);
        if (model.generative) {
          const inV = input!.view([n, Din]);
          const tgV = target!.view([n, D]);
          const infoV = info!.view([n, 4]);
          K.diffusionNoiseInput(xv, cv, inV, tgV, infoV, { numClasses: Kc, seed, counter: step, pairs: pairwise, ...model.schedule });
          K.mlpForward(net, params, inV, outV, cache, { training: true, seed: seed * 1000003 + step });
          K.diffusionLoss(objective, outV, tgV, cv, infoV, goutV, parts, { numFeatures: D, numClasses: Kc, featureWeight });
        } else {
          K.mlpForward(net, params, xv, outV, cache, { training: true, seed: seed * 1000003 + step });
          K.diffusionLoss(objective, outV, null, cv, null, goutV, parts, { numFeatures: 0, numClasses: Kc });
        }
        const p = parts.toArray() as Float32Array;
        featureSum += p[0]!;
        labelSum += p[1]!;
        K.mlpBackward(net, params, cache, goutV, grads);
        step++;
        done++;
        K.adamUpdate(params, grads, m1, m2, { lr, weightDecay, step, decoupled: true });
        if (options.onProgress) {
          const elapsedMs = performance.now() - t0;
          const overall = (epoch - 1) * stepsPerEpoch + b + 1;
          options.onProgress({
            epoch,
            epochs,
            step: b + 1,
            stepsPerEpoch,
            loss: (labelSum + featureWeight * featureSum) / done,
            lr,
            ...(best.lastValid !== undefined ? { validMetric: best.lastValid } : {}),
            elapsedMs,
            etaMs: (elapsedMs / overall) * (totalSteps - overall),
          });
        }
      }
      if (aborted && done === 0) break;
      const record: DiffusionEpochRecord = {
        epoch,
        loss: (labelSum + featureWeight * featureSum) / Math.max(1, done),
        labelLoss: labelSum / Math.max(1, done),
        featureLoss: featureSum / Math.max(1, done),
        featureWeight,
        lr,
        ms: performance.now() - te,
      };
      if (!Number.isFinite(record.loss)) throw new Error(`DiffusionRank training diverged at epoch ${epoch} (loss ${record.loss}); lower lr (${lr})`);
      if (options.valid && (epoch % validEvery === 0 || epoch === epochs || aborted)) {
        const current = params.toArray() as Float32Array;
        record.valid = metricOf(current);
        best.observe(epoch, record.valid, () => current);
      }
      history.push(record);
      if (best.stoppedEarly) break;
    }
    const lastEpoch = history.length ? history[history.length - 1]!.epoch : 0;
    const { params: finalParams, bestEpoch } = best.final(lastEpoch, () => params.toArray() as Float32Array);
    const { bestValid, stoppedEarly } = best;
    const meta: Record<string, unknown> = {
      trainer: 'diffusionrank',
      objective,
      generative: model.generative,
      preset: presetName,
      optimizer: 'adamw',
      lr,
      weightDecay,
      batchSize,
      featureWeight: { start: fwStart, end: fwEnd },
      epochs: history.length,
      epochsPlanned: epochs,
      bestEpoch,
      bestValid,
      earlyStopping: { metric: stopMetric.name, convention: stopConvention.name, patience },
      preprocess: steps,
      seed,
      device,
      trainedAt: new Date().toISOString(),
      trainDocs: N,
      trainQueries: trainData.numQueries,
      scoring: model.objective === 'pointwise' ? 'log-odds of the relevant class, one step at sigmaMin, label masked, dropout off' : 'score output, one step at sigmaMin, label masked, dropout off',
    };
    return {
      ranker: new Ranker(model, D, preprocessor, finalParams, meta),
      history,
      bestEpoch,
      ...(bestValid !== undefined ? { bestValid } : {}),
      stoppedEarly,
      aborted,
      device,
      ms: performance.now() - t0,
    };
  } finally {
    for (const t of owned) t.dispose();
    if (cache) K.mlpCacheDispose(cache);
  }
}

/** Object-style entry point: `await new DiffusionRank({ objective: 'pairwise' }).fit(train, { valid })`. */
export class DiffusionRank {
  constructor(readonly options: DiffusionRankOptions = {}) {}

  fit(trainData: Dataset, more: DiffusionRankOptions = {}): ReturnType<typeof trainDiffusionRank> {
    return trainDiffusionRank(trainData, { ...this.options, ...more });
  }
}

// ---------------------------------------------------------------- TabDiff sampler

export interface SamplerOptions {
  /** Denoising steps T (time grid linspace(0, 1, T)). Default 50 (TabDiff). */
  steps?: number;
  seed?: number;
  /** Stochastic churn S_churn: γ = min(S_churn / T, √2 − 1). Default 1; 0 is the deterministic sampler. */
  churn?: number;
  /** Heun's second-order correction (a second network pass per step). Default true. */
  heun?: boolean;
  device?: Device | 'auto';
  /** Rows per network pass. Default 8192. */
  batchSize?: number;
}

export interface GenerateOptions extends SamplerOptions {
  rows: number;
  /** Generate features for this class id (pairwise models: required; pointwise: optional, else the label is sampled too). */
  label?: number;
}

interface Denoiser {
  m: DiffusionRankModelConfig;
  D: number;
  run(x: Float32Array, state: Int32Array, sigma: number, n: number): { den: Float32Array; logits: Float32Array };
  dispose(): void;
}

function denoiserOf(ranker: Ranker, maxRows: number, device: Device): Denoiser {
  const m = ranker.model;
  if (m.kind !== 'diffusionrank' || !m.generative) throw new RangeError(`sampling needs a generative 'diffusionrank' model, got ${m.kind === 'diffusionrank' ? 'a discriminative one' : `kind '${m.kind}'`}`);
  const D = ranker.numFeatures;
  const net = networkConfigOf(m, D);
  const Din = net.in;
  const Dout = net.out!;
  const Kc = m.numClasses;
  const params = K.Tensor.from(ranker.params, [ranker.params.length], { device, copy: true }) as K.F32;
  const inT = K.Tensor.zeros([maxRows * Din], { device }) as K.F32;
  const outT = K.Tensor.zeros([maxRows * Dout], { device }) as K.F32;
  const cache = K.mlpCache(net, maxRows, device);
  const host = new Float32Array(maxRows * Din);
  return {
    m,
    D,
    // D(x) = c_skip·x + c_out·F and the label head of one network pass at noise level sigma.
    run(x, state, sigma, n) {
      const { cIn, cSkip, cOut, cNoise } = precondition(sigma);
      host.fill(0, 0, n * Din);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < D; j++) host[i * Din + j] = cIn * x[i * D + j]!;
        host[i * Din + D + state[i]!] = 1;
        host[i * Din + D + Kc + 1] = cNoise;
      }
      const inV = inT.view([n, Din]);
      inV.copyFrom(host.subarray(0, n * Din));
      const outV = outT.view([n, Dout]);
      K.mlpForward(net, params, inV, outV, cache, { training: false, seed: 0 });
      const F = outV.toArray() as Float32Array;
      const den = new Float32Array(n * D);
      const heads = Dout - D;
      const logits = new Float32Array(n * heads);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < D; j++) den[i * D + j] = cSkip * x[i * D + j]! + cOut * F[i * Dout + j]!;
        for (let k = 0; k < heads; k++) logits[i * heads + k] = F[i * Dout + D + k]!;
      }
      return { den, logits };
    },
    dispose() {
      params.dispose();
      inT.dispose();
      outT.dispose();
      K.mlpCacheDispose(cache);
    },
  };
}

function normals(rand: () => number, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

function softmaxRow(logits: Float32Array, off: number, k: number, out: Float64Array): void {
  let mx = -Infinity;
  for (let c = 0; c < k; c++) mx = Math.max(mx, logits[off + c]!);
  let s = 0;
  for (let c = 0; c < k; c++) s += out[c] = Math.exp(logits[off + c]! - mx);
  for (let c = 0; c < k; c++) out[c]! /= s;
}

/**
 * One run of TabDiff's stochastic sampler (Euler + Heun, churn, MDLM unmasking of the
 * label) over n rows. `known` (imputation): the features are given and re-noised to each
 * step's noise level; only the label is sampled, and onUnmask receives the class
 * probabilities a row's label was drawn from.
 */
function sampleRun(
  dn: Denoiser, n: number, o: Required<Pick<SamplerOptions, 'steps' | 'churn' | 'heun'>>, rand: () => number,
  init: { known?: Float32Array; label?: number }, onUnmask?: (row: number, probs: Float64Array) => void,
): { x: Float32Array; state: Int32Array } {
  const { m, D } = dn;
  const s = m.schedule;
  const Kc = m.numClasses;
  const steps = o.steps;
  const ts = Array.from({ length: steps }, (_, i) => (steps === 1 ? 0 : i / (steps - 1)));
  const sampleLabel = m.objective === 'pointwise' && init.label === undefined;
  const state = new Int32Array(n).fill(sampleLabel ? Kc : (init.label ?? 0));
  let x = init.known ? new Float32Array(n * D) : normals(rand, n * D).map((v) => v * powerMeanSigma(ts[steps - 1]!, s));
  const probs = new Float64Array(Kc);
  const gammaMax = Math.SQRT2 - 1;
  for (let i = steps - 1; i >= 0; i--) {
    const tCur = ts[i]!;
    const sCur = powerMeanSigma(tCur, s);
    const tNext = i > 0 ? ts[i - 1]! : 0;
    const sNext = i > 0 ? powerMeanSigma(tNext, s) : 0;
    const gamma = Math.min(o.churn / steps, gammaMax);
    let sHat = sCur * (1 + gamma);
    let tHat = powerMeanInverse(sHat, s);
    if (tHat > 1) {
      sHat = sCur;
      tHat = tCur;
    }
    let xHat: Float32Array;
    if (init.known) {
      const e = normals(rand, n * D);
      xHat = init.known.map((v, j) => v + sHat * e[j]!);
    } else {
      const add = Math.sqrt(Math.max(0, sHat * sHat - sCur * sCur));
      const e = normals(rand, n * D);
      xHat = x.map((v, j) => v + add * e[j]!);
    }
    if (sampleLabel) {
      // churn on the label: an unmasked entry goes back to MASK with prob (mc(t̂) − mc(t)) / (1 − mc(t))
      const remask = (moveChance(tHat, s) - moveChance(tCur, s)) / (1 - moveChance(tCur, s));
      for (let r = 0; r < n; r++) if (state[r] !== Kc && rand() < remask) state[r] = Kc;
    }
    const { den, logits } = dn.run(xHat, state, sHat, n);
    const xNext = new Float32Array(n * D);
    for (let j = 0; j < n * D; j++) xNext[j] = xHat[j]! + (sNext - sHat) * ((xHat[j]! - den[j]!) / sHat);
    if (i > 0 && o.heun) {
      const { den: den2 } = dn.run(xNext, state, sNext, n);
      for (let j = 0; j < n * D; j++) {
        const d1 = (xHat[j]! - den[j]!) / sHat;
        const d2 = (xNext[j]! - den2[j]!) / sNext;
        xNext[j] = xHat[j]! + (sNext - sHat) * 0.5 * (d1 + d2);
      }
    }
    if (sampleLabel) {
      // MDLM update from t̂ to t_next: q[k] ∝ p(k)·(mc_t − mc_s), q[MASK] ∝ mc_s; the last step unmasks everything
      const mcT = moveChance(tHat, s);
      const mcS = i > 0 ? moveChance(tNext, s) : 0;
      for (let r = 0; r < n; r++) {
        if (state[r] !== Kc) continue;
        softmaxRow(logits, r * Kc, Kc, probs);
        const stay = mcS / (mcT > 0 ? mcT : 1);
        if (i > 0 && rand() < stay) continue;
        let u = rand();
        let c = 0;
        while (c < Kc - 1 && u >= probs[c]!) u -= probs[c++]!;
        state[r] = c;
        onUnmask?.(r, probs);
      }
    }
    x = xNext;
  }
  return { x, state };
}

function samplerDefaults(o: SamplerOptions): Required<Pick<SamplerOptions, 'steps' | 'churn' | 'heun'>> & { batch: number; seed: number; device: Device } {
  const steps = intOption(o.steps, 50, 'steps');
  const churn = numberOption(o.churn, 1, 'churn', 0);
  if (o.heun !== undefined && typeof o.heun !== 'boolean') throw new RangeError('heun must be a boolean');
  const batch = intOption(o.batchSize, 8192, 'batchSize');
  const seed = intOption(o.seed, 42, 'seed', 0);
  const device: Device = !o.device || o.device === 'auto' ? backend().active : o.device;
  return { steps, churn, heun: o.heun ?? true, batch, seed, device };
}

/**
 * Synthetic (features, label) rows from a trained generative model, by TabDiff's
 * multi-step sampler. Features come back in the raw feature space (the model's
 * preprocessing inverted); labels are class ids (pointwise: 1 = relevant).
 */
export function generate(ranker: Ranker, options: GenerateOptions): { features: Float32Array; labels: Float32Array; numFeatures: number } {
  const rows = intOption(options.rows, 0, 'rows', 1);
  if (rows > 1e7) throw new RangeError(`rows must be at most 10,000,000, got ${rows}`);
  const o = samplerDefaults(options);
  if (o.steps < 2) throw new RangeError('generate needs steps >= 2');
  const m = ranker.model;
  if (m.kind !== 'diffusionrank' || !m.generative) throw new RangeError('generate needs a generative diffusionrank model');
  if (options.label !== undefined && !(Number.isInteger(options.label) && options.label >= 0 && options.label < m.numClasses)) {
    throw new RangeError(`label must be a class id in [0, ${m.numClasses - 1}], got ${JSON.stringify(options.label)}`);
  }
  if (m.objective === 'pairwise' && options.label === undefined) {
    throw new RangeError('a pairwise DiffusionRank model has a score head, not a label distribution: pass label (a grade) to generate features for that grade');
  }
  const D = ranker.numFeatures;
  const dn = denoiserOf(ranker, Math.min(o.batch, rows), o.device);
  const rand = mulberry32(o.seed);
  const features = new Float32Array(rows * D);
  const labels = new Float32Array(rows);
  try {
    for (let start = 0; start < rows; start += o.batch) {
      const n = Math.min(o.batch, rows - start);
      const { x, state } = sampleRun(dn, n, o, rand, options.label !== undefined ? { label: options.label } : {});
      features.set(x, start * D);
      for (let r = 0; r < n; r++) labels[start + r] = state[r]!;
    }
  } finally {
    dn.dispose();
  }
  return { features: ranker.preprocessor.invert(features), labels, numFeatures: D };
}

export interface ImputeOptions extends SamplerOptions {
  /** Independent sampler runs averaged per document. Default 4. */
  samples?: number;
}

/**
 * Multi-step label imputation as a scorer (pointwise generative models): the features are
 * known (re-noised to each step's level, TabDiff's impute_condition "x_t"), the label is
 * unmasked by the MDLM sampler, and a document's score is the probability of the relevant
 * class it was drawn from, averaged over `samples` runs. steps = 1 is close to the one-step scorer.
 */
export function imputeScores(ranker: Ranker, data: Dataset | Float32Array, options: ImputeOptions = {}): Float64Array {
  const o = samplerDefaults(options);
  const samples = intOption(options.samples, 4, 'samples');
  const m = ranker.model;
  if (m.kind !== 'diffusionrank' || !m.generative || m.objective !== 'pointwise') throw new RangeError('imputeScores needs a generative pointwise diffusionrank model');
  const features = data instanceof Float32Array ? data : data.features;
  const D = ranker.numFeatures;
  if (!(data instanceof Float32Array) && data.numFeatures !== D) throw new RangeError(`the data has ${data.numFeatures} features; the model was trained on ${D}`);
  const x = ranker.preprocessor.apply(features);
  const rows = x.length / D;
  const out = new Float64Array(rows);
  const dn = denoiserOf(ranker, Math.max(1, Math.min(o.batch, rows)), o.device);
  const rand = mulberry32(o.seed);
  try {
    for (let start = 0; start < rows; start += o.batch) {
      const n = Math.min(o.batch, rows - start);
      const known = x.subarray(start * D, (start + n) * D);
      for (let r = 0; r < samples; r++) {
        sampleRun(dn, n, o, rand, { known }, (row, probs) => {
          out[start + row]! += probs[1]! / samples;
        });
      }
    }
  } finally {
    dn.dispose();
  }
  return out;
}

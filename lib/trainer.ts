// Trains a neural ranker on whole queries (ragged batches), on the device the
// tensors live on: the training features, parameters, optimiser state and
// activations stay there; per step only the batch's row indices and offsets go
// up and the batch loss (a scalar) comes back.
import type { Dataset } from './data.js';
import * as K from './kernels.js';
import { backend } from './backend.js';
import { evaluate, parseMetrics } from './evaluate.js';
import { type ConventionInput, resolveConvention } from './conventions.js';
import { Preprocessor, type PreprocessStep } from './preprocess.js';
import { Ranker } from './ranker.js';
import { resolveModelConfig, scorerOf, type MlpModelConfig, type TransformerModelConfig } from './scorer.js';
import type { Device } from './tensor.js';
import { mulberry32 } from './random.js';
import { intOption, numberOption } from './options.js';
import type { DiffusionRankModelConfig, DiffusionSchedule } from './diffusion-model.js';
import { trainDiffusionRank, type DiffusionRankOptions } from './diffusionrank.js';
import { BestEpoch } from './best-epoch.js';

export type OptimizerName = 'adamw' | 'adam' | 'sgd';

export interface ScheduleOptions {
  /** 'constant' (default), 'step' (× gamma every stepEpochs), 'cosine' (to minLr at the last step). */
  kind?: 'constant' | 'step' | 'cosine';
  /** Linear warm-up from 0 over this many steps. Default 0. */
  warmupSteps?: number;
  stepEpochs?: number;
  gamma?: number;
  minLr?: number;
}

export interface EarlyStoppingOptions {
  /** Validation metric to maximise, e.g. 'ndcg@10' (default). */
  metric?: string;
  /** Evaluation convention of that metric. Default 'standard'. */
  convention?: ConventionInput;
  /** Epochs without improvement before stopping. Default 10; 0 disables early stopping. */
  patience?: number;
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  /** Mean loss per list over the epoch so far. */
  loss: number;
  lr: number;
  /** Last validation value of the early-stopping metric, when there is validation data. */
  validMetric?: number;
  elapsedMs: number;
  /** Estimated time left for the remaining epochs. */
  etaMs: number;
}

export interface TrainOptions {
  /**
   * An MLP ({ kind: 'mlp', hidden, ... }, the default), the context-aware { kind: 'transformer', dModel, heads, layers, ... },
   * or { kind: 'diffusionrank', objective, generative, hidden, ... } (trained by trainDiffusionRank; see `diffusion`).
   */
  model?: Partial<MlpModelConfig> | Partial<TransformerModelConfig> | (Partial<Omit<DiffusionRankModelConfig, 'schedule'>> & { kind: 'diffusionrank'; schedule?: Partial<DiffusionSchedule> });
  /** DiffusionRank only: preset, batchSize, featureWeight (loss, lossOptions, optimizer, schedule, batchQueries, clipNorm do not apply). */
  diffusion?: Pick<DiffusionRankOptions, 'preset' | 'batchSize' | 'featureWeight'>;
  /** Default 'listNet'. */
  loss?: K.LossName;
  lossOptions?: K.LossOptions;
  /** Default 'adamw'. */
  optimizer?: OptimizerName;
  /** Default 1e-3. */
  lr?: number;
  /** Default 0 (decoupled for adamw, L2 for adam and sgd). */
  weightDecay?: number;
  /** SGD momentum. Default 0.9. */
  momentum?: number;
  schedule?: ScheduleOptions;
  /** Default 30. */
  epochs?: number;
  /** Queries per batch. Default 32. */
  batchQueries?: number;
  /** Clip the global gradient norm to this value (0: off). Default 0. */
  clipNorm?: number;
  /** Fitted on the training data only. Default ['standardize']. */
  preprocess?: PreprocessStep[];
  /** Validation data for early stopping and model selection. */
  valid?: Dataset;
  /** Validate every N epochs. Default 1. */
  validEvery?: number;
  earlyStopping?: EarlyStoppingOptions;
  seed?: number;
  /** Default: the active backend. */
  device?: Device | 'auto';
  onProgress?: (p: TrainProgress) => void;
  /** Stops cleanly at the next step; the best model so far is returned. */
  signal?: AbortSignal;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  lr: number;
  ms: number;
  train?: number;
  valid?: number;
}

export interface TrainResult {
  ranker: Ranker;
  history: EpochRecord[];
  /** Epoch whose weights were kept (the best validation epoch, or the last). */
  bestEpoch: number;
  bestValid?: number;
  stoppedEarly: boolean;
  aborted: boolean;
  device: Device;
  ms: number;
}

const LOSSES: K.LossName[] = ['mse', 'sigmoidCrossEntropy', 'softmaxCrossEntropy', 'rankNet', 'lambdaRank', 'listNet', 'listMLE', 'approxNDCG', 'neuralNDCG', 'neuralNDCGTransposed', 'lambdaLoss'];
const NDCG_LOSSES = new Set<K.LossName>(['approxNDCG', 'neuralNDCG', 'neuralNDCGTransposed', 'lambdaRank', 'lambdaLoss']);

/** Learning rate at a 0-based step. */
export function learningRate(base: number, schedule: ScheduleOptions, step: number, stepsPerEpoch: number, totalSteps: number): number {
  const warm = schedule.warmupSteps ?? 0;
  if (warm > 0 && step < warm) return (base * (step + 1)) / warm;
  const kind = schedule.kind ?? 'constant';
  if (kind === 'step') {
    const every = schedule.stepEpochs ?? 10;
    return base * (schedule.gamma ?? 0.1) ** Math.floor(step / stepsPerEpoch / every);
  }
  if (kind === 'cosine') {
    const minLr = schedule.minLr ?? 0;
    const t = Math.min(1, (step - warm) / Math.max(1, totalSteps - warm));
    return minLr + 0.5 * (base - minLr) * (1 + Math.cos(Math.PI * t));
  }
  return base;
}

/** The trainDiffusionRank options of train() options with model.kind 'diffusionrank'; what is not given comes from the preset. */
function diffusionOptionsOf(o: TrainOptions): DiffusionRankOptions {
  const { kind: _kind, objective, generative, ...model } = o.model as Partial<DiffusionRankModelConfig> & { kind: 'diffusionrank' };
  const out: DiffusionRankOptions = { ...(o.diffusion ?? {}), model };
  if (objective !== undefined) out.objective = objective;
  if (generative !== undefined) out.generative = generative;
  if (o.lr !== undefined) out.lr = o.lr;
  if (o.weightDecay !== undefined) out.weightDecay = o.weightDecay;
  if (o.epochs !== undefined) out.epochs = o.epochs;
  if (o.preprocess !== undefined) out.preprocess = o.preprocess;
  if (o.valid !== undefined) out.valid = o.valid;
  if (o.validEvery !== undefined) out.validEvery = o.validEvery;
  if (o.earlyStopping !== undefined) out.earlyStopping = o.earlyStopping;
  if (o.seed !== undefined) out.seed = o.seed;
  if (o.device !== undefined) out.device = o.device;
  if (o.onProgress !== undefined) out.onProgress = o.onProgress;
  if (o.signal !== undefined) out.signal = o.signal;
  return out;
}

/** Trains a ranker. Reproducible: the same seed and thread count give bit-identical CPU results. */
export async function train(trainData: Dataset, options: TrainOptions = {}): Promise<TrainResult> {
  if (options.model?.kind === 'diffusionrank') return trainDiffusionRank(trainData, diffusionOptionsOf(options));
  const t0 = performance.now();
  const model = resolveModelConfig(options.model as Partial<MlpModelConfig> | Partial<TransformerModelConfig>);
  const lossName = options.loss ?? 'listNet';
  if (!LOSSES.includes(lossName)) throw new RangeError(`loss '${lossName}' is not one of ${LOSSES.join(', ')}`);
  const optimizer = options.optimizer ?? 'adamw';
  if (!['adamw', 'adam', 'sgd'].includes(optimizer)) throw new RangeError(`optimizer '${optimizer}' is not one of adamw, adam, sgd`);
  const baseLr = numberOption(options.lr, 1e-3, 'lr', 0);
  const weightDecay = numberOption(options.weightDecay, 0, 'weightDecay', 0);
  const momentum = numberOption(options.momentum, 0.9, 'momentum', 0);
  const epochs = intOption(options.epochs, 30, 'epochs');
  const batchQueries = intOption(options.batchQueries, 32, 'batchQueries');
  const clipNorm = numberOption(options.clipNorm, 0, 'clipNorm', 0);
  const validEvery = intOption(options.validEvery, 1, 'validEvery');
  const seed = intOption(options.seed, 42, 'seed', 0);
  const schedule = options.schedule ?? {};
  if (schedule.kind && !['constant', 'step', 'cosine'].includes(schedule.kind)) throw new RangeError(`schedule.kind '${schedule.kind}' is not one of constant, step, cosine`);
  const stopMetric = parseMetrics(options.earlyStopping?.metric ?? 'ndcg@10')[0]!;
  const stopConvention = resolveConvention(options.earlyStopping?.convention ?? 'standard');
  const patience = intOption(options.earlyStopping?.patience, 10, 'earlyStopping.patience', 0);
  const device: Device = !options.device || options.device === 'auto' ? backend().active : options.device;
  if (trainData.numQueries === 0) throw new RangeError('the training data has no queries');
  if (options.valid && options.valid.numFeatures !== trainData.numFeatures) {
    throw new RangeError(`valid has ${options.valid.numFeatures} features, train has ${trainData.numFeatures}`);
  }

  const nf = trainData.numFeatures;
  const preprocessor = Preprocessor.fit(trainData.features, nf, options.preprocess ?? ['standardize']);
  const scorer = scorerOf(model, nf);
  const count = scorer.paramCount;
  const offsetsHost = trainData.queryOffsets;
  const numQueries = trainData.numQueries;
  const sizes = Array.from({ length: numQueries }, (_, q) => offsetsHost[q + 1]! - offsetsHost[q]!);
  const maxDocs = [...sizes].sort((a, b) => b - a).slice(0, batchQueries).reduce((a, b) => a + b, 0);
  const maxList = Math.max(1, ...sizes);
  const hasRelevant = sizes.map((_, q) => trainData.labels.subarray(offsetsHost[q]!, offsetsHost[q + 1]!).some((l) => l > 0));

  const owned: K.Tensor[] = [];
  const T = <X extends K.Tensor>(t: X): X => {
    owned.push(t);
    return t;
  };
  const zeros = (shape: number[], dtype: K.DType = 'f32') => T(K.Tensor.zeros(shape, { dtype, device }));
  const X = T(K.Tensor.from(preprocessor.apply(trainData.features), [trainData.numDocs, nf], { device, copy: true }) as K.F32);
  const Y = T(K.Tensor.from(trainData.labels, [trainData.numDocs, 1], { device, copy: true }) as K.F32);
  const params = T(K.Tensor.from(scorer.init(seed), [count], { device, copy: true }) as K.F32);
  const grads = zeros([count]) as K.F32;
  const m1 = zeros([count]) as K.F32;
  const m2 = zeros([count]) as K.F32;
  const xb = zeros([maxDocs * nf]) as K.F32;
  const yb = zeros([maxDocs]) as K.F32;
  const lb = zeros([maxDocs]) as K.F32;
  const gb = zeros([maxDocs]) as K.F32;
  const lossB = zeros([batchQueries]) as K.F32;
  const rowsT = zeros([maxDocs], 'u32') as K.U32;
  const offT = zeros([batchQueries + 1], 'u32') as K.U32;
  const cache = scorer.cache(maxDocs, maxList, device);

  const rand = mulberry32(seed);
  const stepsPerEpoch = Math.ceil(numQueries / batchQueries);
  const totalSteps = stepsPerEpoch * epochs;
  const history: EpochRecord[] = [];
  const best = new BestEpoch(validEvery, patience);
  let aborted = false;
  let step = 0;

  const score = (ds: Dataset) => new Ranker(model, nf, preprocessor, params.toArray() as Float32Array).predict(ds, { device });
  const metricOf = (ds: Dataset, s: Float64Array) => evaluate(ds, s, { metrics: [stopMetric], convention: stopConvention }).metrics[stopMetric.name]!.mean;

  try {
    for (let epoch = 1; epoch <= epochs && !aborted; epoch++) {
      const te = performance.now();
      const order = Array.from({ length: numQueries }, (_, q) => q);
      for (let i = numQueries - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      let lossSum = 0;
      let lists = 0;
      let stepsDone = 0;
      for (let b = 0; b < stepsPerEpoch; b++) {
        // Yield to the event loop so that an AbortSignal (timers, SIGINT handlers) can fire.
        if (options.signal && b % 8 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
        if (options.signal?.aborted) {
          aborted = true;
          break;
        }
        const batch = order.slice(b * batchQueries, (b + 1) * batchQueries);
        const offs = new Uint32Array(batch.length + 1);
        let docs = 0;
        batch.forEach((q, i) => {
          docs += sizes[q]!;
          offs[i + 1] = docs;
        });
        const rows = new Uint32Array(docs);
        let r = 0;
        let counted = 0;
        for (const q of batch) {
          for (let d = offsetsHost[q]!; d < offsetsHost[q + 1]!; d++) rows[r++] = d;
          if (!NDCG_LOSSES.has(lossName) || hasRelevant[q]) counted++;
        }
        const rowsV = rowsT.view([docs]);
        rowsV.copyFrom(rows);
        const offV = offT.view([batch.length + 1]);
        offV.copyFrom(offs);
        const xv = xb.view([docs, nf]);
        const yv = yb.view([docs]);
        const lv = lb.view([docs, 1]);
        const gv = gb.view([docs]);
        const lossV = lossB.view([batch.length]);
        K.gatherRows(X, rowsV, xv);
        K.gatherRows(Y, rowsV, lv);
        scorer.forward(params, xv, offV, yv, cache, { training: true, seed: seed * 1000003 + step });
        K.rankingLoss(lossName, yv, lv, offV, lossV, gv, { ...options.lossOptions, seed: step });
        const batchLoss = K.sum(lossV);
        lossSum += batchLoss;
        lists += counted;
        // mean over the batch's lists (NDCG-type losses: over lists with a relevant document, as allRank)
        if (counted > 0) K.scale(gv, 1 / counted);
        scorer.backward(params, cache, gv, grads);
        if (clipNorm > 0) {
          const norm = Math.sqrt(K.sumSquares(grads));
          if (norm > clipNorm) K.scale(grads, clipNorm / norm);
        }
        const lr = learningRate(baseLr, schedule, step, stepsPerEpoch, totalSteps);
        step++;
        stepsDone++;
        if (optimizer === 'sgd') K.sgdUpdate(params, grads, m1, { lr, momentum, weightDecay });
        else K.adamUpdate(params, grads, m1, m2, { lr, weightDecay, step, decoupled: optimizer === 'adamw' });
        if (options.onProgress) {
          const elapsedMs = performance.now() - t0;
          const done = (epoch - 1) * stepsPerEpoch + b + 1;
          options.onProgress({
            epoch,
            epochs,
            step: b + 1,
            stepsPerEpoch,
            loss: lists ? lossSum / lists : 0,
            lr,
            ...(best.lastValid !== undefined ? { validMetric: best.lastValid } : {}),
            elapsedMs,
            etaMs: (elapsedMs / done) * (totalSteps - done),
          });
        }
      }
      if (aborted && stepsDone === 0) break; // stopped before this epoch's first step: nothing to record
      const record: EpochRecord = { epoch, loss: lists ? lossSum / lists : 0, lr: learningRate(baseLr, schedule, Math.max(0, step - 1), stepsPerEpoch, totalSteps), ms: performance.now() - te };
      if (options.valid && (epoch % validEvery === 0 || epoch === epochs || aborted)) {
        record.train = metricOf(trainData, score(trainData));
        record.valid = metricOf(options.valid, score(options.valid));
        best.observe(epoch, record.valid, () => params.toArray() as Float32Array);
      }
      history.push(record);
      if (best.stoppedEarly) break;
    }
    const lastEpoch = history.length ? history[history.length - 1]!.epoch : 0;
    const { params: finalParams, bestEpoch } = best.final(lastEpoch, () => params.toArray() as Float32Array);
    const { bestValid, stoppedEarly } = best;
    const meta: Record<string, unknown> = {
      loss: lossName,
      lossOptions: options.lossOptions ?? {},
      optimizer,
      lr: baseLr,
      weightDecay,
      epochs: history.length,
      bestEpoch,
      bestValid,
      earlyStopping: { metric: stopMetric.name, convention: stopConvention.name, patience },
      seed,
      device,
      trainedAt: new Date().toISOString(),
      trainDocs: trainData.numDocs,
      trainQueries: numQueries,
    };
    return {
      ranker: new Ranker(model, nf, preprocessor, finalParams, meta),
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
    scorer.disposeCache(cache);
  }
}

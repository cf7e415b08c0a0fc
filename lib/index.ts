// ordo: learning-to-rank compute engine for Node.js.
export { backend, describeBackend, type BackendInfo, type BackendName } from './backend.js';
export {
  readDataset,
  readDatasetSync,
  parseDataset,
  readScores,
  parseScores,
  summarize,
  type Dataset,
  type DatasetSummary,
  type ReadOptions,
} from './data.js';
export {
  PRESETS,
  DEFAULT_CONVENTION,
  resolveConvention,
  describeConvention,
  type Convention,
  type ConventionInput,
  type PresetName,
  type GainRule,
  type DiscountRule,
  type NoRelevantRule,
  type ShortListRule,
  type TieRule,
} from './conventions.js';
export {
  evaluate,
  parseMetrics,
  DEFAULT_METRICS,
  type EvaluateOptions,
  type EvaluationResult,
  type MetricKind,
  type MetricSpec,
  type MetricValue,
  type RankedLists,
} from './evaluate.js';
export { featureAsScores, bestSingleFeature, demoDataPaths } from './baselines.js';
export { Tensor, isTensor, type DType, type Device, type TensorData, type TypedArrayOf } from './tensor.js';
export { Preprocessor, PREPROCESS_STEPS, type PreprocessStep, type PreprocessorState, type FittedStep } from './preprocess.js';
export { Ranker, DEFAULT_MODEL, DEFAULT_TRANSFORMER, resolveModelConfig, type MlpModelConfig, type TransformerModelConfig, type ModelConfig, type PredictOptions } from './ranker.js';
export type { Scorer, ForwardOptions, TensorSpec } from './scorer.js';
export type { TensorConstructor, TensorFromOptions, DTypeOf } from './tensor.js';
export {
  train,
  learningRate,
  type TrainOptions,
  type TrainResult,
  type TrainProgress,
  type EpochRecord,
  type ScheduleOptions,
  type EarlyStoppingOptions,
  type OptimizerName,
} from './trainer.js';
export { saveRanker, loadRanker, encodeRanker, decodeRanker, MODEL_FORMAT, MODEL_FORMAT_VERSION, type ModelError } from './persist.js';
export { exportOnnx, encodeOnnx, type OnnxExportOptions } from './onnx.js';
export {
  trainDiffusionRank,
  DiffusionRank,
  generate,
  imputeScores,
  labelClasses,
  DIFFUSION_PRESETS,
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
  type DiffusionRankOptions,
  type DiffusionEpochRecord,
  type DiffusionPreset,
  type DiffusionObjective,
  type DiffusionRankModelConfig,
  type DiffusionRankModelInput,
  type DiffusionSchedule,
  type GenerateOptions,
  type ImputeOptions,
  type SamplerOptions,
} from './diffusionrank.js';

// `ordo train`, `ordo cv`, `ordo predict` and `ordo export`: training runs from
// a config (plus dotted-path flag overrides), run folders with metrics and an
// HTML report, a progress line, and Ctrl-C that stops cleanly and keeps the best
// model. Training runs in a worker thread so that the main thread stays free to
// draw progress and to catch SIGINT (the trainer's loop never yields); the stop
// request reaches it through shared memory, read by the trainer at every step.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { readDatasetSync, type Dataset } from './data.js';
import { describeConvention, resolveConvention, type Convention, type PresetName } from './conventions.js';
import { evaluate, parseMetrics } from './evaluate.js';
import { Ranker, resolveModelConfig, type MlpModelConfig, type ModelConfig } from './ranker.js';
import type { PreprocessorState, PreprocessStep } from './preprocess.js';
import { train, type EpochRecord, type ScheduleOptions, type TrainOptions, type TrainProgress } from './trainer.js';
import type { LossName, LossOptions } from './kernels.js';
import { ConfigError, applyOverrides, defaultConfig, describeSchema, isBooleanKey, loadConfig, type RunConfig } from './config.js';
import { renderReport, type ResultTable, type Series } from './report.js';

/** A usage mistake: exit code 2. */
export class CliUsageError extends Error {}

// ---------------------------------------------------------------- help texts

const TRAIN_FLAGS = `Training flags (each overrides the config key of the same dotted name):
  --config FILE            JSON config (allRank-like); every key is optional
  --train FILE --valid FILE --test FILE   = --data.train / --data.valid / --data.test
  --out DIR                run folder (default runs/<timestamp>)
  --KEY VALUE | --KEY=VALUE   any config key, e.g. --lr 0.01 --model.hidden 128,128
                           --earlyStopping.patience 5 --loss neuralNDCG
                           (values are JSON when they parse, arrays take comma lists)
  --json                   print the result as JSON (no progress output)
  --quiet                  no progress output
Ctrl-C stops training after the current step, keeps the best model, writes
the run folder and exits with code 130 (a second Ctrl-C quits at once).`;

export const HELP: Record<string, string> = {
  train: `ordo train --config FILE [--KEY VALUE ...] [--json] [--quiet]
ordo train --train FILE [--valid FILE] [--test FILE] [--KEY VALUE ...]

Trains a ranker (MLP, context-aware transformer with --model.kind transformer,
or DiffusionRank with --model diffusionrank: its settings are the diffusion.*
keys, e.g. --diffusion.objective pairwise, --diffusion.generative false for the
discriminative counterpart, --diffusion.preset paper) and writes a run folder:
config.json (resolved), metrics.jsonl (one line per epoch), final.json (valid/test metrics under the
chosen convention and under lightgbm and letor4), model.safetensors and
report.html (learning curves, metric per epoch, per-query histogram).

${TRAIN_FLAGS}

Config keys:
  ${describeSchema().join('\n  ')}`,
  cv: `ordo cv --data DIR [--folds 1-5] [--config FILE] [--KEY VALUE ...] [--json] [--quiet]

Cross-validation over LETOR folds: for each N in --folds (e.g. 1-5, 1,3,5;
default 1-5), trains on DIR/FoldN/train.txt with DIR/FoldN/vali.txt as
validation and evaluates DIR/FoldN/test.txt. Prints one row per fold and the
mean ± std; writes a run folder with one subfolder per fold (each a full
'ordo train' run folder), cv.json and a report.html with per-fold bars.

${TRAIN_FLAGS}
See 'ordo train --help' for the config keys.`,
  predict: `ordo predict --model MODEL --data FILE [--query PATH] [--out FILE] [--device cpu|cuda|auto] [--json]

Scores every document of FILE with a saved model (model.safetensors of a run
folder) and writes one score per line in the file's row order (stdout without
--out): the format 'ordo eval --scores' reads.`,
  export: `ordo export --model MODEL --onnx OUT.onnx [--no-preprocessing] [--json]

Exports a saved MLP or DiffusionRank ranker to ONNX (input: float32
[N, numFeatures] raw features, preprocessing included; output: one score per
row). A DiffusionRank model is exported as its one-step scoring network (the
masked-label input folded into the first layer). quantileNormal preprocessing
cannot be expressed in the graph: --no-preprocessing exports a graph whose input
is the preprocessed features (apply ranker.preprocessor.apply() first).`,
  generate: `ordo generate --model MODEL --rows N [--steps 50] [--seed 42] [--label K] [--churn 1] [--no-heun] [--qid ID] [--out FILE] [--device cpu|cuda|auto] [--json]

Samples N synthetic (features, label) rows from a trained generative
DiffusionRank model with TabDiff's multi-step sampler (stochastic churn,
Euler + Heun steps, MDLM unmasking of the label) and writes them in SVMlight
format ("label qid:ID 1:v 2:v ...", raw feature space: the model's
preprocessing is inverted). Pointwise models sample the label too (0/1);
--label K generates features for class K (required for pairwise models,
whose label head is a score).`,
};

// ---------------------------------------------------------------- arguments

interface TrainArgs {
  help: boolean;
  json: boolean;
  quiet: boolean;
  config?: string;
  overrides: Array<[string, string]>;
  /** cv only. */
  dataDir?: string;
  folds?: string;
}

const ALIASES: Record<string, string> = { train: 'data.train', valid: 'data.valid', vali: 'data.valid', test: 'data.test', model: 'model.kind' };

// Keys that do not apply to a diffusionrank model (its settings are under diffusion.*): an explicit value is an error, not silently ignored.
const NOT_FOR_DIFFUSION = ['loss', 'lossOptions', 'optimizer', 'lr', 'weightDecay', 'momentum', 'schedule', 'epochs', 'batchQueries', 'clipNorm', 'preprocess', 'model.hidden', 'model.activation', 'model.layerNorm', 'model.dropout'];

function parseTrainArgs(args: string[], command: 'train' | 'cv'): TrainArgs {
  const out: TrainArgs = { help: false, json: false, quiet: false, overrides: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--help' || a === '-h') {
      out.help = true;
      continue;
    }
    if (!a.startsWith('--') || a === '--') throw new CliUsageError(`unexpected argument '${a}'`);
    const eq = a.indexOf('=');
    let key = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    if (key === 'json' || key === 'quiet') {
      out[key] = eq < 0 || a.slice(eq + 1) !== 'false';
      continue;
    }
    let value: string | undefined = eq >= 0 ? a.slice(eq + 1) : undefined;
    if (value === undefined) {
      const next = args[i + 1];
      if (next !== undefined && !(next.startsWith('--') && next.length > 2)) {
        value = next;
        i++;
      } else if (isBooleanKey(ALIASES[key] ?? key)) value = 'true';
      else throw new CliUsageError(`--${key} needs a value`);
    }
    if (key === 'config') out.config = value;
    else if (command === 'cv' && key === 'data') out.dataDir = value;
    else if (command === 'cv' && key === 'folds') out.folds = value;
    else {
      key = ALIASES[key] ?? key;
      out.overrides.push([key, value]);
    }
  }
  return out;
}

function simpleArgs(args: string[], strings: string[], booleans: string[]): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-h') {
      out.help = true;
      continue;
    }
    if (!a.startsWith('--')) throw new CliUsageError(`unexpected argument '${a}'`);
    const eq = a.indexOf('=');
    const key = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    if (booleans.includes(key)) out[key] = true;
    else if (strings.includes(key)) {
      const v = eq >= 0 ? a.slice(eq + 1) : args[++i];
      if (v === undefined) throw new CliUsageError(`--${key} needs a value`);
      out[key] = v;
    } else throw new CliUsageError(`unknown option '--${key}'; options: ${[...strings, ...booleans].map((k) => `--${k}`).join(', ')}`);
  }
  return out;
}

function resolveRunConfig(a: TrainArgs): RunConfig {
  const base = a.config ? loadConfig(a.config) : defaultConfig();
  const c = applyOverrides(base, a.overrides);
  // semantic checks the schema cannot make, as config errors (exit code 2)
  const check = (key: string, fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      throw new ConfigError(`config key '${key}': ${(e as Error).message}`);
    }
  };
  check('metrics', () => parseMetrics(c.metrics));
  check('earlyStopping.metric', () => {
    if (parseMetrics(c.earlyStopping.metric).length !== 1) throw new RangeError('give exactly one metric, e.g. ndcg@10');
  });
  if (c.model.kind === 'diffusionrank') {
    const defaults = defaultConfig() as unknown as Record<string, unknown>;
    const get = (o: Record<string, unknown>, key: string) => key.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], o);
    for (const key of NOT_FOR_DIFFUSION) {
      if (JSON.stringify(get(c as unknown as Record<string, unknown>, key)) !== JSON.stringify(get(defaults, key))) {
        const alt = key.startsWith('model.') ? `diffusion.${key.slice(6)}` : ['lr', 'epochs', 'weightDecay', 'preprocess'].includes(key) ? `diffusion.${key}` : null;
        throw new ConfigError(`config key '${key}' does not apply to a diffusionrank model${alt && alt !== 'diffusion.activation' && alt !== 'diffusion.layerNorm' ? `; set ${alt}` : ' (it trains with its own objective, AdamW and SiLU + LayerNorm blocks)'}`);
      }
    }
  }
  check('model', () => resolveModelConfig(modelOf(c) as Parameters<typeof resolveModelConfig>[0]));
  return c;
}

// ---------------------------------------------------------------- training (main thread or worker)

/** The model options of a run config, by kind (an MLP ignores the transformer keys and vice versa). */
function modelOf(c: RunConfig): TrainOptions['model'] {
  const m = c.model;
  if (m.kind === 'diffusionrank') {
    const d = c.diffusion;
    return {
      kind: 'diffusionrank',
      objective: d.objective,
      generative: d.generative,
      hidden: d.hidden,
      dropout: d.dropout,
      relevanceThreshold: d.relevanceThreshold,
      ...(d.numClasses !== null ? { numClasses: d.numClasses } : d.objective === 'pointwise' ? { numClasses: 2 } : {}),
    };
  }
  if (m.kind === 'transformer') {
    return {
      kind: 'transformer',
      ...(m.dModel !== undefined ? { dModel: m.dModel } : {}),
      ...(m.heads !== undefined ? { heads: m.heads } : {}),
      ...(m.layers !== undefined ? { layers: m.layers } : {}),
      ...(m.dFF !== undefined ? { dFF: m.dFF } : {}),
      ...(m.inputActivation !== undefined ? { inputActivation: m.inputActivation as MlpModelConfig['activation'] } : {}),
      dropout: m.dropout,
    };
  }
  return { kind: 'mlp', hidden: m.hidden, activation: m.activation as MlpModelConfig['activation'], layerNorm: m.layerNorm, dropout: m.dropout };
}

export function trainOptionsOf(c: RunConfig): TrainOptions {
  // Selection, seed and device: the same keys for both trainers.
  const common = {
    validEvery: c.validEvery,
    earlyStopping: { metric: c.earlyStopping.metric, patience: c.earlyStopping.patience, convention: (c.earlyStopping.convention ?? c.convention) as PresetName },
    seed: c.seed,
    device: c.device as TrainOptions['device'],
  };
  if (c.model.kind === 'diffusionrank') {
    const d = c.diffusion;
    return {
      model: modelOf(c),
      diffusion: { preset: d.preset, ...(d.batchSize !== null ? { batchSize: d.batchSize } : {}), featureWeight: { start: d.featureWeightStart, end: d.featureWeightEnd } },
      ...(d.lr !== null ? { lr: d.lr } : {}),
      ...(d.epochs !== null ? { epochs: d.epochs } : {}),
      weightDecay: d.weightDecay,
      preprocess: d.preprocess as PreprocessStep[],
      ...common,
    };
  }
  return {
    model: modelOf(c),
    loss: c.loss as LossName,
    lossOptions: c.lossOptions as LossOptions,
    optimizer: c.optimizer as TrainOptions['optimizer'],
    lr: c.lr,
    weightDecay: c.weightDecay,
    momentum: c.momentum,
    schedule: c.schedule as ScheduleOptions,
    epochs: c.epochs,
    batchQueries: c.batchQueries,
    clipNorm: c.clipNorm,
    preprocess: c.preprocess as PreprocessStep[],
    ...common,
  };
}

function readSplit(file: string, query: string | null, numFeatures?: number): Dataset {
  return readDatasetSync(file, { ...(query ? { queryFile: query } : {}), ...(numFeatures !== undefined ? { numFeatures } : {}) });
}

interface TrainOutcome {
  ranker: Ranker;
  history: EpochRecord[];
  bestEpoch: number;
  bestValid?: number;
  stoppedEarly: boolean;
  aborted: boolean;
  device: string;
  ms: number;
  numFeatures: number;
}

interface WireOutcome extends Omit<TrainOutcome, 'ranker'> {
  ranker: { model: ModelConfig; numFeatures: number; preprocessor: PreprocessorState; params: Float32Array; meta: Record<string, unknown> };
}

type WorkerMessage = { type: 'progress'; p: TrainProgress } | { type: 'done'; r: WireOutcome } | { type: 'error'; message: string; code?: string };

async function trainFromConfig(c: RunConfig, onProgress: (p: TrainProgress) => void, signal: AbortSignal): Promise<WireOutcome> {
  const trainData = readSplit(c.data.train!, c.data.trainQuery);
  const valid = c.data.valid ? readSplit(c.data.valid, c.data.validQuery, trainData.numFeatures) : undefined;
  const r = await train(trainData, { ...trainOptionsOf(c), ...(valid ? { valid } : {}), onProgress, signal });
  const { ranker, ...rest } = r;
  return {
    ...rest,
    numFeatures: trainData.numFeatures,
    ranker: { model: ranker.model, numFeatures: ranker.numFeatures, preprocessor: ranker.preprocessor.toJSON(), params: ranker.params, meta: ranker.meta },
  };
}

// Worker side: runs one training, posts throttled progress and the result.
if (!isMainThread && parentPort && (workerData as { ordoTrain?: boolean } | null)?.ordoTrain) {
  const { config, flag } = workerData as { config: RunConfig; flag: SharedArrayBuffer };
  const stop = new Int32Array(flag);
  // The trainer only reads signal.aborted; this one reads the shared stop flag.
  const signal = { get aborted() {
    return Atomics.load(stop, 0) !== 0;
  } } as AbortSignal;
  let last = 0;
  const port = parentPort;
  trainFromConfig(
    config,
    (p) => {
      const now = performance.now();
      if (now - last >= 100 || p.step === p.stepsPerEpoch || p.step === 1) {
        last = now;
        port.postMessage({ type: 'progress', p } satisfies WorkerMessage);
      }
    },
    signal,
  ).then(
    (r) => port.postMessage({ type: 'done', r } satisfies WorkerMessage, [r.ranker.params.buffer as ArrayBuffer]),
    (e: Error & { code?: string }) => port.postMessage({ type: 'error', message: e.message, ...(e.code ? { code: e.code } : {}) } satisfies WorkerMessage),
  );
}

function runWorker(c: RunConfig, onProgress: (p: TrainProgress) => void, stop: Int32Array): Promise<WireOutcome> {
  return new Promise((resolvePromise, reject) => {
    const data = { workerData: { ordoTrain: true, config: c, flag: stop.buffer } };
    // Run from TypeScript sources (tsx): the worker registers tsx before importing this file.
    const w = import.meta.url.endsWith('.ts')
      ? new Worker(
          `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); });`,
          { eval: true, ...data },
        )
      : new Worker(new URL(import.meta.url), data);
    let settled = false;
    w.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') onProgress(m.p);
      else if (m.type === 'done') {
        settled = true;
        resolvePromise(m.r);
      } else {
        settled = true;
        reject(Object.assign(new Error(m.message), m.code ? { code: m.code } : {}));
      }
    });
    w.on('error', (e) => {
      if (!settled) reject(e);
      settled = true;
    });
    w.on('exit', (code) => {
      if (!settled) reject(new Error(`the training worker exited with code ${code}`));
    });
  });
}

/** Set ORDO_TRAIN_INLINE=1 to train on the main thread (Ctrl-C then waits for the end of the run). */
async function runTraining(c: RunConfig, onProgress: (p: TrainProgress) => void, stop: Int32Array, controller: AbortController): Promise<TrainOutcome> {
  const w = process.env.ORDO_TRAIN_INLINE === '1' ? await trainFromConfig(c, onProgress, controller.signal) : await runWorker(c, onProgress, stop);
  const r = w.ranker;
  return { ...w, ranker: new Ranker(r.model, r.numFeatures, r.preprocessor, r.params, r.meta) };
}

// ---------------------------------------------------------------- progress

function fmtTime(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const f4 = (v: number | undefined | null) => (v === undefined || v === null || Number.isNaN(v) ? '–' : v.toFixed(4));

/** A one-line progress bar on a TTY (stderr), else one line per epoch, or nothing. */
class ProgressView {
  private lastDraw = 0;
  private prev?: TrainProgress;
  private drawn = false;
  constructor(
    private readonly mode: 'bar' | 'lines' | 'none',
    private readonly label: string,
    private readonly metric: string,
  ) {}

  update(p: TrainProgress): void {
    if (this.mode === 'lines' && this.prev && p.epoch !== this.prev.epoch) this.epochLine(this.prev, p.validMetric);
    this.prev = p;
    if (this.mode !== 'bar') return;
    const now = performance.now();
    if (now - this.lastDraw < 80 && p.step !== p.stepsPerEpoch) return;
    this.lastDraw = now;
    const cols = process.stderr.columns || 100;
    const frac = ((p.epoch - 1) * p.stepsPerEpoch + p.step) / (p.epochs * p.stepsPerEpoch);
    const bw = 20;
    const filled = Math.round(frac * bw);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(bw - filled)}]`;
    const line = `${this.label}epoch ${p.epoch}/${p.epochs} ${bar} step ${p.step}/${p.stepsPerEpoch} loss ${p.loss.toFixed(4)} vali ${this.metric} ${f4(p.validMetric)} ETA ${fmtTime(p.etaMs)}`;
    process.stderr.write(`\r\x1b[2K${line.slice(0, cols - 1)}`);
    this.drawn = true;
  }

  private epochLine(p: TrainProgress, valid: number | undefined): void {
    process.stderr.write(`${this.label}epoch ${p.epoch}/${p.epochs}  loss ${p.loss.toFixed(4)}  vali ${this.metric} ${f4(valid)}  elapsed ${fmtTime(p.elapsedMs)}  ETA ${fmtTime(p.etaMs)}\n`);
  }

  finish(history: EpochRecord[]): void {
    if (this.mode === 'bar' && this.drawn) process.stderr.write('\r\x1b[2K');
    const lastRec = history[history.length - 1];
    if (this.mode === 'lines' && this.prev && lastRec) this.epochLine(this.prev, lastRec.valid);
  }
}

// ---------------------------------------------------------------- one run

const EXTRA_CONVENTIONS = ['lightgbm', 'letor4'];

function metricMeans(ds: Dataset, scores: Float64Array, metrics: string, convention: Convention | string) {
  return evaluate(ds, scores, { metrics, convention: convention as PresetName | Convention });
}

function nulls(m: Record<string, number>): Record<string, number | null> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Number.isFinite(v) ? v : null]));
}

function means(r: ReturnType<typeof evaluate>): Record<string, number> {
  return Object.fromEntries(Object.entries(r.metrics).map(([k, v]) => [k, v.mean]));
}

export interface RunResult {
  runDir: string;
  report: string;
  model: string | null;
  modelError?: string;
  final: Record<string, unknown>;
  /** Test (else valid) metrics under the run's convention. */
  headline: Record<string, number>;
  headlineSplit: 'test' | 'valid' | null;
  history: EpochRecord[];
  aborted: boolean;
}

interface Ui {
  json: boolean;
  quiet: boolean;
  label: string;
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:]/g, '-').replace('T', '_').replace(/\.(\d+)Z$/, '.$1');
}

interface PersistModule {
  saveRanker(ranker: Ranker, path: string): unknown;
  loadRanker(path: string): Ranker | Promise<Ranker>;
}
interface OnnxModule {
  exportOnnx(ranker: Ranker, path: string, options?: { includePreprocessing?: boolean }): unknown;
}

/** Imports an optional sibling module (persist, onnx); undefined when it is not there. */
async function optionalModule<T>(name: string): Promise<T | undefined> {
  const spec = `./${name}.js`;
  try {
    return (await import(spec)) as T;
  } catch (e) {
    const err = e as Error & { code?: string };
    if ((err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'MODULE_NOT_FOUND') && err.message.includes(name)) return undefined;
    throw e;
  }
}

async function requireModule<T>(name: string, fn: string, what: string): Promise<T> {
  const m = await optionalModule<Record<string, unknown>>(name);
  if (!m) throw new Error(`${what} is not available in this build of ordo (lib/${name}.ts is missing)`);
  if (typeof m[fn] !== 'function') throw new Error(`${what} is not available in this build of ordo (lib/${name}.ts has no ${fn}())`);
  return m as T;
}

/** Trains one config and writes its run folder. */
async function runOne(c: RunConfig, runDir: string, ui: Ui, stop: Int32Array, controller: AbortController, title: string): Promise<RunResult> {
  if (!c.data.train) throw new ConfigError("no training data: give --train FILE (or data.train in --config)");
  for (const [k, f] of [['data.train', c.data.train], ['data.valid', c.data.valid], ['data.test', c.data.test]] as const) {
    if (f && !existsSync(f)) throw new Error(`${k}: ${f} does not exist`);
  }
  mkdirSync(runDir, { recursive: true });
  const config: RunConfig = { ...c, out: runDir };
  writeFileSync(join(runDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  const stopMetric = parseMetrics(c.earlyStopping.metric)[0]!.name;
  const mode = ui.json || ui.quiet ? 'none' : process.stderr.isTTY ? 'bar' : 'lines';
  const view = new ProgressView(mode, ui.label, stopMetric);
  const stepped = new Set<number>();
  const t = await runTraining(
    config,
    (p) => {
      stepped.add(p.epoch);
      view.update(p);
    },
    stop,
    controller,
  );
  // Stopped before the first step of an epoch: the trainer still records that epoch (loss 0, no step); drop it.
  const lastRec = t.history[t.history.length - 1];
  if (t.aborted && lastRec && !stepped.has(lastRec.epoch) && t.history.length > 1) t.history.pop();
  view.finish(t.history);

  const convention = resolveConvention(c.convention as PresetName);
  const historyLines = t.history.map((h) => JSON.stringify({ ...h, ...(h.valid !== undefined || h.train !== undefined ? { metric: stopMetric } : {}) }));
  writeFileSync(join(runDir, 'metrics.jsonl'), historyLines.join('\n') + (historyLines.length ? '\n' : ''));

  Object.assign(t.ranker.meta, { config });
  const final: Record<string, unknown> = {
    convention: convention.name,
    conventionDetails: convention,
    metrics: parseMetrics(c.metrics).map((m) => m.name),
    epochs: t.history.length,
    bestEpoch: t.bestEpoch,
    bestValid: t.bestValid ?? null,
    earlyStoppingMetric: stopMetric,
    stoppedEarly: t.stoppedEarly,
    aborted: t.aborted,
    device: t.device,
    trainMs: Math.round(t.ms),
  };
  let headline: Record<string, number> = {};
  let headlineSplit: RunResult['headlineSplit'] = null;
  let perQuery: { metric: string; values: Float64Array } | undefined;
  const tables: ResultTable[] = [];
  for (const split of ['valid', 'test'] as const) {
    const file = c.data[split];
    if (!file) continue;
    const ds = readSplit(file, split === 'valid' ? c.data.validQuery : c.data.testQuery, t.numFeatures);
    const scores = t.ranker.predict(ds, { device: t.device as 'cpu' | 'cuda' });
    const bySplit: Record<string, Record<string, number | null>> = {};
    for (const conv of [convention.name, ...EXTRA_CONVENTIONS.filter((x) => x !== convention.name)]) {
      const r = metricMeans(ds, scores, c.metrics, conv === convention.name ? convention : conv);
      bySplit[conv] = nulls(means(r));
      tables.push({ name: `${split} (${conv})`, metrics: means(r) });
      if (conv === convention.name) {
        headline = means(r);
        headlineSplit = split;
        const pqName = r.metrics[stopMetric] ? stopMetric : Object.keys(r.metrics)[0]!;
        perQuery = { metric: pqName, values: r.metrics[pqName]!.perQuery };
      }
    }
    final[split] = bySplit;
  }

  const modelPath = join(runDir, 'model.safetensors');
  let model: string | null = null;
  let modelError: string | undefined;
  try {
    const persist = await requireModule<PersistModule>('persist', 'saveRanker', 'model saving');
    await persist.saveRanker(t.ranker, modelPath);
    model = modelPath;
  } catch (e) {
    modelError = (e as Error).message;
    if (!ui.json) process.stderr.write(`ordo: warning: the model was not saved: ${modelError}\n`);
  }
  final.model = model ? 'model.safetensors' : null;
  if (modelError) final.modelError = modelError;
  writeFileSync(join(runDir, 'final.json'), JSON.stringify(final, null, 2) + '\n');

  const report = join(runDir, 'report.html');
  const has = (k: 'train' | 'valid') => t.history.some((h) => h[k] !== undefined);
  const curve = (k: 'loss' | 'train' | 'valid'): Array<[number, number]> => t.history.filter((h) => h[k] !== undefined).map((h) => [h.epoch, h[k]!]);
  writeFileSync(
    report,
    renderReport({
      title,
      config,
      convention,
      summary: [
        `train: ${c.data.train}${c.data.valid ? `; valid: ${c.data.valid}` : ''}${c.data.test ? `; test: ${c.data.test}` : ''}`,
        c.model.kind === 'diffusionrank'
          ? `model: ${c.diffusion.generative ? 'DiffusionRank' : 'discriminative'} ${c.diffusion.objective}, MLP ${c.diffusion.hidden.join('×')} SiLU + layer norm, dropout ${c.diffusion.dropout}; AdamW lr ${String(t.ranker.meta.lr)}, batch ${String(t.ranker.meta.batchSize)} (preset ${c.diffusion.preset})`
          : `model: ${c.model.kind === 'transformer' ? 'transformer' : `MLP ${c.model.hidden.join('×')} ${c.model.activation}${c.model.layerNorm ? ' + layer norm' : ''}`}, loss ${c.loss}, ${c.optimizer} lr ${c.lr}`,
        `epochs run: ${t.history.length} of ${c.model.kind === 'diffusionrank' ? String(t.ranker.meta.epochsPlanned ?? '?') : c.epochs}; kept epoch ${t.bestEpoch}${t.bestValid !== undefined ? ` (vali ${stopMetric} ${t.bestValid.toFixed(4)})` : ''}${t.stoppedEarly ? '; stopped early' : ''}${t.aborted ? '; interrupted (Ctrl-C)' : ''}`,
        `device: ${t.device}; training time ${fmtTime(t.ms)}`,
        model ? 'model: model.safetensors' : `model not saved: ${modelError}`,
      ],
      lossCurves: [{ name: 'train loss', points: curve('loss') }],
      metricCurves: [...(has('train') ? [{ name: `train ${stopMetric}`, points: curve('train') }] : []), ...(has('valid') ? [{ name: `vali ${stopMetric}`, points: curve('valid') }] : [])],
      metricName: `${stopMetric} (${resolveConvention((c.earlyStopping.convention ?? c.convention) as PresetName).name})`,
      tables,
      ...(perQuery ? { perQuery } : {}),
    }),
  );
  return { runDir, report, model, ...(modelError ? { modelError } : {}), final, headline, headlineSplit, history: t.history, aborted: t.aborted };
}

/** SIGINT → stop flag + abort; a second SIGINT exits at once (130). Returns the uninstaller. */
function catchSigint(stop: Int32Array, controller: AbortController, quiet: boolean): () => void {
  let count = 0;
  const handler = () => {
    count++;
    if (count > 1) process.exit(130);
    Atomics.store(stop, 0, 1);
    controller.abort();
    if (!quiet) process.stderr.write('\nordo: stopping after the current step; writing the run folder (Ctrl-C again to quit now)\n');
  };
  process.on('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}

function printMetricsTable(rows: Array<[string, Record<string, number | null>]>): void {
  const names = [...new Set(rows.flatMap(([, m]) => Object.keys(m)))];
  const w = Math.max(6, ...rows.map(([n]) => n.length));
  console.log(`${''.padEnd(w)}  ${names.map((n) => n.padStart(8)).join('  ')}`);
  for (const [label, m] of rows) console.log(`${label.padEnd(w)}  ${names.map((n) => f4(m[n]).padStart(8)).join('  ')}`);
}

// ---------------------------------------------------------------- commands

async function cmdTrain(args: string[]): Promise<number> {
  const a = parseTrainArgs(args, 'train');
  if (a.help) {
    console.log(HELP.train);
    return 0;
  }
  const c = resolveRunConfig(a);
  if (!c.data.train) throw new CliUsageError('no training data: give --train FILE, or --config FILE with data.train');
  const runDir = resolve(c.out ?? join('runs', timestamp()));
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const controller = new AbortController();
  const off = catchSigint(stop, controller, a.json);
  let r: RunResult;
  try {
    r = await runOne(c, runDir, { json: a.json, quiet: a.quiet, label: '' }, stop, controller, `ordo train: ${c.data.train}`);
  } finally {
    off();
  }
  if (a.json) {
    console.log(JSON.stringify({ runDir: r.runDir, report: r.report, model: r.model, ...r.final }, null, 2));
  } else {
    const f = r.final;
    console.log(`run folder: ${r.runDir}`);
    console.log(`epochs: ${f.epochs} (kept epoch ${f.bestEpoch}${f.bestValid !== null ? `, vali ${f.earlyStoppingMetric} ${f4(f.bestValid as number)}` : ''})${f.stoppedEarly ? ', stopped early' : ''}${f.aborted ? ', interrupted' : ''}; device ${f.device}; ${fmtTime(f.trainMs as number)}`);
    console.log(`convention: ${describeConvention(f.conventionDetails as Convention)}`);
    const rows: Array<[string, Record<string, number | null>]> = [];
    for (const split of ['valid', 'test']) {
      const bySplit = f[split] as Record<string, Record<string, number | null>> | undefined;
      if (bySplit) for (const [conv, m] of Object.entries(bySplit)) rows.push([`${split} (${conv})`, m]);
    }
    if (rows.length) printMetricsTable(rows);
    else console.log('(no --valid or --test data: no metrics)');
    if (r.model) console.log(`model:  ${r.model}`);
    console.log(`report: ${r.report}`);
  }
  return r.aborted ? 130 : 0;
}

/** "1-5", "1,3,5", "2" → [1, 2, ...]. */
export function parseFolds(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split(',').map((s) => s.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new CliUsageError(`--folds '${spec}': use a range or list, e.g. 1-5 or 1,3,5`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new CliUsageError(`--folds '${spec}': ${a}-${b} is an empty range`);
    for (let i = a; i <= b; i++) if (!out.includes(i)) out.push(i);
  }
  return out;
}

function meanStd(values: number[]): { mean: number; std: number } {
  const v = values.filter(Number.isFinite);
  if (v.length === 0) return { mean: NaN, std: NaN };
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  const std = v.length > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (v.length - 1)) : 0;
  return { mean, std };
}

async function cmdCv(args: string[]): Promise<number> {
  const a = parseTrainArgs(args, 'cv');
  if (a.help) {
    console.log(HELP.cv);
    return 0;
  }
  if (!a.dataDir) throw new CliUsageError('--data DIR is required (DIR/Fold1/, DIR/Fold2/, ... with train.txt, vali.txt, test.txt)');
  const folds = parseFolds(a.folds ?? '1-5');
  const base = resolveRunConfig(a);
  const dir = a.dataDir;
  for (const n of folds) {
    for (const f of ['train.txt', 'vali.txt', 'test.txt']) {
      const p = join(dir, `Fold${n}`, f);
      if (!existsSync(p)) throw new Error(`${p} does not exist (ordo cv expects DIR/FoldN/train.txt, vali.txt, test.txt)`);
    }
  }
  const runDir = resolve(base.out ?? join('runs', `cv_${timestamp()}`));
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(runDir, 'config.json'), JSON.stringify({ ...base, out: runDir, cv: { data: dir, folds } }, null, 2) + '\n');
  const stop = new Int32Array(new SharedArrayBuffer(4));
  const controller = new AbortController();
  const off = catchSigint(stop, controller, a.json);
  const results: Array<{ fold: number; r: RunResult }> = [];
  try {
    for (const n of folds) {
      if (controller.signal.aborted) break;
      const fd = join(dir, `Fold${n}`);
      const c: RunConfig = {
        ...base,
        data: { ...base.data, train: join(fd, 'train.txt'), valid: join(fd, 'vali.txt'), test: join(fd, 'test.txt'), trainQuery: null, validQuery: null, testQuery: null },
      };
      const r = await runOne(c, join(runDir, `fold${n}`), { json: a.json, quiet: a.quiet, label: `[Fold${n}] ` }, stop, controller, `ordo cv: ${dir} Fold${n}`);
      results.push({ fold: n, r });
      if (!a.json && !a.quiet) process.stderr.write(`Fold${n}: ${Object.entries(r.headline).map(([k, v]) => `${k} ${f4(v)}`).join('  ')}\n`);
    }
  } finally {
    off();
  }
  const convention = resolveConvention(base.convention as PresetName);
  const names = parseMetrics(base.metrics).map((m) => m.name);
  const stats = Object.fromEntries(names.map((m) => [m, meanStd(results.map(({ r }) => r.headline[m] ?? NaN))]));
  const foldRows: ResultTable[] = results.map(({ fold, r }) => ({ name: `Fold${fold}`, metrics: r.headline }));
  const aborted = controller.signal.aborted || results.some(({ r }) => r.aborted);
  const summary = {
    runDir,
    report: join(runDir, 'report.html'),
    data: dir,
    folds: results.map(({ fold, r }) => ({ fold, runDir: r.runDir, bestEpoch: r.final.bestEpoch, epochs: r.final.epochs, test: nulls(r.headline) })),
    mean: nulls(Object.fromEntries(names.map((m) => [m, stats[m]!.mean]))),
    std: nulls(Object.fromEntries(names.map((m) => [m, stats[m]!.std]))),
    convention: convention.name,
    conventionDetails: convention,
    aborted,
  };
  writeFileSync(join(runDir, 'cv.json'), JSON.stringify(summary, null, 2) + '\n');
  const stopMetric = parseMetrics(base.earlyStopping.metric)[0]!.name;
  const lossCurves: Series[] = results.map(({ fold, r }) => ({ name: `Fold${fold}`, points: r.history.map((h) => [h.epoch, h.loss]) }));
  const metricCurves: Series[] = results.map(({ fold, r }) => ({ name: `Fold${fold} vali`, points: r.history.filter((h) => h.valid !== undefined).map((h) => [h.epoch, h.valid!]) }));
  writeFileSync(
    summary.report,
    renderReport({
      title: `ordo cv: ${dir} (${results.length} folds)`,
      config: { ...base, out: runDir },
      convention,
      summary: [`folds: ${results.map(({ fold }) => `Fold${fold}`).join(', ')}${aborted ? ' (interrupted)' : ''}`, 'test metrics per fold; each fold has its own run folder and report (foldN/report.html)'],
      tables: [...foldRows, { name: 'mean', metrics: Object.fromEntries(names.map((m) => [m, stats[m]!.mean])) }, { name: 'std', metrics: Object.fromEntries(names.map((m) => [m, stats[m]!.std])) }],
      folds: foldRows,
      lossCurves,
      metricCurves,
      metricName: stopMetric,
    }),
  );
  if (a.json) console.log(JSON.stringify(summary, null, 2));
  else {
    console.log(`convention: ${describeConvention(convention)}`);
    console.log(`test metrics per fold (${dir}):`);
    const w = 6;
    console.log(`${'fold'.padEnd(w)}  ${names.map((n) => n.padStart(15)).join('  ')}`);
    for (const { fold, r } of results) console.log(`${`Fold${fold}`.padEnd(w)}  ${names.map((n) => f4(r.headline[n]).padStart(15)).join('  ')}`);
    console.log(`${'mean'.padEnd(w)}  ${names.map((n) => `${f4(stats[n]!.mean)} ± ${f4(stats[n]!.std)}`.padStart(15)).join('  ')}`);
    console.log(`run folder: ${runDir}`);
    console.log(`report: ${summary.report}`);
  }
  return aborted ? 130 : 0;
}

async function cmdPredict(args: string[]): Promise<number> {
  const v = simpleArgs(args, ['model', 'data', 'query', 'out', 'device'], ['json', 'help']);
  if (v.help) {
    console.log(HELP.predict);
    return 0;
  }
  if (typeof v.model !== 'string') throw new CliUsageError('--model MODEL is required');
  if (typeof v.data !== 'string') throw new CliUsageError('--data FILE is required');
  const device = (v.device ?? 'auto') as string;
  if (!['auto', 'cpu', 'cuda'].includes(device)) throw new CliUsageError(`--device '${device}': use cpu, cuda or auto`);
  const persist = await requireModule<PersistModule>('persist', 'loadRanker', 'model loading');
  const ranker = await persist.loadRanker(v.model);
  const ds = readSplit(v.data, typeof v.query === 'string' ? v.query : null, ranker.numFeatures);
  const scores = ranker.predict(ds, { device: device as 'auto' | 'cpu' | 'cuda' });
  const text = Array.from(scores, (s) => String(Number(s.toPrecision(9)))).join('\n') + (scores.length ? '\n' : '');
  if (typeof v.out === 'string') writeFileSync(v.out, text);
  else if (!v.json) process.stdout.write(text);
  if (v.json) console.log(JSON.stringify({ model: v.model, data: v.data, out: v.out ?? null, numDocs: ds.numDocs, numQueries: ds.numQueries, ...(typeof v.out === 'string' ? {} : { scores: Array.from(scores) }) }, null, 2));
  else if (typeof v.out === 'string') process.stderr.write(`wrote ${scores.length} scores to ${v.out}\n`);
  return 0;
}

async function cmdExport(args: string[]): Promise<number> {
  const v = simpleArgs(args, ['model', 'onnx'], ['json', 'help', 'no-preprocessing']);
  if (v.help) {
    console.log(HELP.export);
    return 0;
  }
  if (typeof v.model !== 'string') throw new CliUsageError('--model MODEL is required');
  if (typeof v.onnx !== 'string') throw new CliUsageError('--onnx OUT.onnx is required (the only export format)');
  const persist = await requireModule<PersistModule>('persist', 'loadRanker', 'model loading');
  const onnx = await requireModule<OnnxModule>('onnx', 'exportOnnx', 'ONNX export');
  const ranker = await persist.loadRanker(v.model);
  await onnx.exportOnnx(ranker, v.onnx, { includePreprocessing: !v['no-preprocessing'] });
  const hidden = ranker.model.kind === 'mlp' || ranker.model.kind === 'diffusionrank' ? ranker.model.hidden : [];
  const what = ranker.model.kind === 'diffusionrank' ? `${ranker.model.generative ? 'DiffusionRank' : 'discriminative'} ${ranker.model.objective} scoring MLP` : 'MLP';
  if (v.json) console.log(JSON.stringify({ model: v.model, onnx: v.onnx, numFeatures: ranker.numFeatures, hidden, kind: ranker.model.kind, preprocessing: !v['no-preprocessing'] }, null, 2));
  else console.log(`wrote ${v.onnx} (${what} ${hidden.join('×')}, ${ranker.numFeatures} features${v['no-preprocessing'] ? ', input: preprocessed features' : ''})`);
  return 0;
}

async function cmdGenerate(args: string[]): Promise<number> {
  const v = simpleArgs(args, ['model', 'rows', 'steps', 'seed', 'label', 'churn', 'qid', 'out', 'device'], ['json', 'help', 'no-heun']);
  if (v.help) {
    console.log(HELP.generate);
    return 0;
  }
  if (typeof v.model !== 'string') throw new CliUsageError('--model MODEL is required');
  if (typeof v.rows !== 'string') throw new CliUsageError('--rows N is required');
  const int = (key: string, min: number): number | undefined => {
    const raw = v[key];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (typeof raw !== 'string' || !Number.isInteger(n) || n < min) throw new CliUsageError(`--${key} '${String(raw)}': an integer >= ${min} is needed`);
    return n;
  };
  const rows = int('rows', 1)!;
  const churn = v.churn === undefined ? undefined : Number(v.churn);
  if (churn !== undefined && !(Number.isFinite(churn) && churn >= 0)) throw new CliUsageError(`--churn '${String(v.churn)}': a number >= 0 is needed`);
  const device = (v.device ?? 'auto') as string;
  if (!['auto', 'cpu', 'cuda'].includes(device)) throw new CliUsageError(`--device '${device}': use cpu, cuda or auto`);
  const qid = typeof v.qid === 'string' ? v.qid : 'gen';
  if (!/^[^\s#]+$/.test(qid)) throw new CliUsageError(`--qid '${qid}': no spaces or '#'`);
  const persist = await requireModule<PersistModule>('persist', 'loadRanker', 'model loading');
  const ranker = await persist.loadRanker(v.model);
  const { generate } = await import('./diffusionrank.js');
  const steps = int('steps', 2);
  const seed = int('seed', 0);
  const label = int('label', 0);
  const t0 = performance.now();
  const g = generate(ranker, {
    rows,
    ...(steps !== undefined ? { steps } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(label !== undefined ? { label } : {}),
    ...(churn !== undefined ? { churn } : {}),
    heun: !v['no-heun'],
    device: device as 'auto' | 'cpu' | 'cuda',
  });
  const D = g.numFeatures;
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    const parts = [String(g.labels[r]), `qid:${qid}`];
    for (let j = 0; j < D; j++) parts.push(`${j + 1}:${Number(g.features[r * D + j]!.toPrecision(7))}`);
    lines.push(parts.join(' '));
  }
  const text = lines.join('\n') + '\n';
  if (typeof v.out === 'string') writeFileSync(v.out, text);
  else if (!v.json) process.stdout.write(text);
  const counts: Record<string, number> = {};
  for (const y of g.labels) counts[y] = (counts[y] ?? 0) + 1;
  const ms = performance.now() - t0;
  if (v.json) console.log(JSON.stringify({ model: v.model, out: v.out ?? null, rows, numFeatures: D, labels: counts, ms: Math.round(ms) }, null, 2));
  else if (typeof v.out === 'string') process.stderr.write(`wrote ${rows} rows (${D} features; labels ${JSON.stringify(counts)}) to ${v.out} in ${fmtTime(ms)}\n`);
  return 0;
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = { train: cmdTrain, cv: cmdCv, predict: cmdPredict, export: cmdExport, generate: cmdGenerate };

/** Runs one of train, cv, predict, export; returns the exit code (0, 1 error, 2 usage/config, 130 interrupted). */
export async function runTrainCli(command: string, args: string[]): Promise<number> {
  const fn = COMMANDS[command];
  if (!fn) {
    console.error(`ordo: unknown command '${command}'`);
    return 2;
  }
  try {
    return await fn(args);
  } catch (err) {
    const e = err as Error;
    if (err instanceof CliUsageError || err instanceof ConfigError) {
      console.error(`ordo ${command}: ${e.message}\n(see 'ordo ${command} --help')`);
      return 2;
    }
    console.error(`ordo ${command}: ${e.message}`);
    return 1;
  }
}

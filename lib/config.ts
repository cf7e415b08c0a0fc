// The training run config of `ordo train` / `ordo cv` (allRank-like JSON), its
// defaults, and dotted-path overrides from the command line. Every key is
// checked: an unknown key names itself and the keys allowed there; a wrong type
// names the key and the type expected.
import { readFileSync } from 'node:fs';

export interface DataConfig {
  /** Training file (SVMlight / LETOR). */
  train: string | null;
  /** Validation file: early stopping and model selection. */
  valid: string | null;
  /** Test file: final metrics and the per-query histogram of the report. */
  test: string | null;
  /** Group files; default FILE.query when it exists. */
  trainQuery: string | null;
  validQuery: string | null;
  testQuery: string | null;
}

export interface RunConfig {
  data: DataConfig;
  model: {
    kind: 'mlp' | 'transformer' | 'diffusionrank';
    hidden: number[];
    activation: string;
    layerNorm: boolean;
    dropout: number;
    /** transformer only */
    dModel?: number;
    heads?: number;
    layers?: number;
    dFF?: number;
    inputActivation?: string;
  };
  loss: string;
  lossOptions: Record<string, number | boolean>;
  optimizer: string;
  lr: number;
  weightDecay: number;
  momentum: number;
  schedule: { kind: string; warmupSteps: number; stepEpochs: number; gamma: number; minLr: number };
  epochs: number;
  batchQueries: number;
  clipNorm: number;
  preprocess: string[];
  validEvery: number;
  /** convention null: the run's `convention`. */
  earlyStopping: { metric: string; patience: number; convention: string | null };
  /** Evaluation metrics of the final results. */
  metrics: string;
  /** Evaluation convention (preset name). */
  convention: string;
  seed: number;
  device: string;
  /** Run folder; null: runs/<timestamp>. */
  out: string | null;
  /** model.kind 'diffusionrank' only (then these replace model.*, loss*, optimizer, lr, epochs, batchQueries, schedule and preprocess). */
  diffusion: DiffusionConfig;
}

export interface DiffusionConfig {
  objective: 'pointwise' | 'pairwise';
  generative: boolean;
  /** 'practical' or 'paper': supplies lr, epochs, batchSize and earlyStopping patience where those are null. */
  preset: 'practical' | 'paper';
  hidden: number[];
  dropout: number;
  lr: number | null;
  epochs: number | null;
  batchSize: number | null;
  weightDecay: number;
  featureWeightStart: number;
  featureWeightEnd: number;
  relevanceThreshold: number;
  numClasses: number | null;
  preprocess: string[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type LeafType = 'string' | 'number' | 'integer' | 'boolean' | 'number[]' | 'integer[]' | 'string[]';
interface Leaf {
  type: LeafType;
  nullable?: boolean;
  optional?: boolean;
  enum?: readonly string[];
  min?: number;
  /** Exclusive lower bound (e.g. a temperature > 0). */
  above?: number;
  /** Upper bound; integers are also capped at 2^53 - 1 (exact in a double). */
  max?: number;
  /** Exclusive upper bound (e.g. a dropout probability < 1). */
  below?: number;
}
interface Section {
  [key: string]: Leaf | Section;
}
const isLeaf = (s: Leaf | Section): s is Leaf => typeof (s as Leaf).type === 'string';

const LOSSES = ['mse', 'sigmoidCrossEntropy', 'softmaxCrossEntropy', 'rankNet', 'lambdaRank', 'listNet', 'listMLE', 'approxNDCG', 'neuralNDCG', 'neuralNDCGTransposed', 'lambdaLoss'] as const;
const PRESET_NAMES = ['standard', 'letor4', 'letor3', 'lightgbm', 'allrank', 'sklearn'] as const;
const path = (nullable = true): Leaf => ({ type: 'string', nullable });
/** Widest layer the kernels take (native config check: hidden widths <= 1e7). */
const MAX_WIDTH = 10_000_000;

export const SCHEMA: Section = {
  data: { train: path(), valid: path(), test: path(), trainQuery: path(), validQuery: path(), testQuery: path() },
  model: {
    kind: { type: 'string', enum: ['mlp', 'transformer', 'diffusionrank'] },
    hidden: { type: 'integer[]', min: 1, max: MAX_WIDTH },
    activation: { type: 'string', enum: ['relu', 'silu', 'gelu', 'tanh', 'identity'] },
    layerNorm: { type: 'boolean' },
    dropout: { type: 'number', min: 0, below: 1 },
    dModel: { type: 'integer', optional: true, min: 1 },
    heads: { type: 'integer', optional: true, min: 1 },
    layers: { type: 'integer', optional: true, min: 0 },
    dFF: { type: 'integer', optional: true, min: 1 },
    inputActivation: { type: 'string', optional: true, enum: ['relu', 'silu', 'gelu', 'tanh', 'identity'] },
  },
  loss: { type: 'string', enum: LOSSES },
  lossOptions: {
    sigma: { type: 'number', optional: true, above: 0 },
    k: { type: 'integer', optional: true, min: 0 },
    lambdarankNorm: { type: 'boolean', optional: true },
    temperature: { type: 'number', optional: true, above: 0 },
    mu: { type: 'number', optional: true },
    sinkhornMaxIter: { type: 'integer', optional: true, min: 1 },
    sinkhornTol: { type: 'number', optional: true, min: 0 },
    labelMax: { type: 'number', optional: true, min: 0 },
    poweredGains: { type: 'boolean', optional: true },
  },
  optimizer: { type: 'string', enum: ['adamw', 'adam', 'sgd'] },
  lr: { type: 'number', min: 0 },
  weightDecay: { type: 'number', min: 0 },
  momentum: { type: 'number', min: 0 },
  schedule: {
    kind: { type: 'string', enum: ['constant', 'step', 'cosine'] },
    warmupSteps: { type: 'integer', min: 0 },
    stepEpochs: { type: 'integer', min: 1 },
    gamma: { type: 'number', min: 0 },
    minLr: { type: 'number', min: 0 },
  },
  epochs: { type: 'integer', min: 1 },
  batchQueries: { type: 'integer', min: 1 },
  clipNorm: { type: 'number', min: 0 },
  preprocess: { type: 'string[]', enum: ['log1p', 'standardize', 'quantileNormal'] },
  validEvery: { type: 'integer', min: 1 },
  earlyStopping: {
    metric: { type: 'string' },
    patience: { type: 'integer', min: 0 },
    convention: { type: 'string', nullable: true, enum: PRESET_NAMES },
  },
  metrics: { type: 'string' },
  convention: { type: 'string', enum: PRESET_NAMES },
  seed: { type: 'integer', min: 0 },
  device: { type: 'string', enum: ['auto', 'cpu', 'cuda'] },
  out: path(),
  diffusion: {
    objective: { type: 'string', enum: ['pointwise', 'pairwise'] },
    generative: { type: 'boolean' },
    preset: { type: 'string', enum: ['practical', 'paper'] },
    hidden: { type: 'integer[]', min: 1, max: MAX_WIDTH },
    dropout: { type: 'number', min: 0, below: 1 },
    lr: { type: 'number', nullable: true, min: 0 },
    epochs: { type: 'integer', nullable: true, min: 1 },
    batchSize: { type: 'integer', nullable: true, min: 1 },
    weightDecay: { type: 'number', min: 0 },
    featureWeightStart: { type: 'number', min: 0 },
    featureWeightEnd: { type: 'number', min: 0 },
    relevanceThreshold: { type: 'number' },
    numClasses: { type: 'integer', nullable: true, min: 2 },
    preprocess: { type: 'string[]', enum: ['log1p', 'standardize', 'quantileNormal'] },
  },
};

/** The defaults (the trainer's own defaults, with a smaller default model than the library's). */
export function defaultConfig(): RunConfig {
  return {
    data: { train: null, valid: null, test: null, trainQuery: null, validQuery: null, testQuery: null },
    model: { kind: 'mlp', hidden: [256, 256], activation: 'relu', layerNorm: false, dropout: 0 },
    loss: 'listNet',
    lossOptions: {},
    optimizer: 'adamw',
    lr: 1e-3,
    weightDecay: 0,
    momentum: 0.9,
    schedule: { kind: 'constant', warmupSteps: 0, stepEpochs: 10, gamma: 0.1, minLr: 0 },
    epochs: 30,
    batchQueries: 32,
    clipNorm: 0,
    preprocess: ['standardize'],
    validEvery: 1,
    earlyStopping: { metric: 'ndcg@10', patience: 10, convention: null },
    metrics: 'ndcg@1,3,5,10,map',
    convention: 'standard',
    seed: 42,
    device: 'auto',
    out: null,
    diffusion: {
      objective: 'pointwise',
      generative: true,
      preset: 'practical',
      hidden: [256, 256, 256, 256],
      dropout: 0.1,
      lr: null,
      epochs: null,
      batchSize: null,
      weightDecay: 0,
      featureWeightStart: 1,
      featureWeightEnd: 0,
      relevanceThreshold: 1,
      numClasses: null,
      preprocess: ['quantileNormal'],
    },
  };
}

function describeType(leaf: Leaf): string {
  const base = {
    string: 'a string',
    number: 'a number',
    integer: 'an integer',
    boolean: 'a boolean (true/false)',
    'number[]': 'an array of numbers (e.g. 1,2 or [1,2])',
    'integer[]': 'an array of integers (e.g. 128,128 or [128,128])',
    'string[]': 'an array of strings (e.g. a,b or ["a","b"])',
  }[leaf.type];
  const parts = [base];
  if (leaf.enum) parts.push(`one of ${leaf.enum.join(', ')}`);
  if (leaf.min !== undefined) parts.push(`>= ${leaf.min}`);
  if (leaf.above !== undefined) parts.push(`> ${leaf.above}`);
  if (leaf.max !== undefined) parts.push(`<= ${leaf.max}`);
  if (leaf.below !== undefined) parts.push(`< ${leaf.below}`);
  if (leaf.nullable) parts.push('or null');
  return parts.join(', ');
}

function checkLeaf(key: string, leaf: Leaf, v: unknown): unknown {
  const bad = (): never => {
    throw new ConfigError(`config key '${key}' must be ${describeType(leaf)}; got ${JSON.stringify(v)}`);
  };
  if (v === null) return leaf.nullable ? null : bad();
  const num = (x: unknown, int: boolean) =>
    typeof x === 'number' &&
    Number.isFinite(x) &&
    (!int || Number.isSafeInteger(x)) &&
    (leaf.min === undefined || x >= leaf.min) &&
    (leaf.above === undefined || x > leaf.above) &&
    (leaf.max === undefined || x <= leaf.max) &&
    (leaf.below === undefined || x < leaf.below);
  const inEnum = (x: unknown) => typeof x === 'string' && (!leaf.enum || leaf.enum.includes(x));
  switch (leaf.type) {
    case 'string':
      return inEnum(v) ? v : bad();
    case 'number':
    case 'integer':
      return num(v, leaf.type === 'integer') ? v : bad();
    case 'boolean':
      return typeof v === 'boolean' ? v : bad();
    case 'number[]':
    case 'integer[]':
      return Array.isArray(v) && v.every((x) => num(x, leaf.type === 'integer[]')) ? [...v] : bad();
    case 'string[]':
      return Array.isArray(v) && v.every(inEnum) ? [...v] : bad();
  }
}

function allowed(section: Section, prefix: string): string {
  return `allowed keys${prefix ? ` in '${prefix}'` : ''}: ${Object.keys(section).join(', ')}`;
}

/** Merges `input` into `target` (a resolved config section), checking every key against `section`. */
function mergeSection(target: Record<string, unknown>, input: unknown, section: Section, prefix: string): void {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError(`config key '${prefix || '(root)'}' must be an object; got ${JSON.stringify(input)}`);
  }
  for (const [k, v] of Object.entries(input)) {
    const key = prefix ? `${prefix}.${k}` : k;
    const spec = section[k];
    if (!spec || !Object.hasOwn(section, k)) throw new ConfigError(`unknown config key '${key}'; ${allowed(section, prefix)}`);
    if (isLeaf(spec)) {
      if (v === undefined || (v === null && spec.optional)) delete target[k];
      else target[k] = checkLeaf(key, spec, v);
    } else {
      const sub = (target[k] ?? {}) as Record<string, unknown>;
      mergeSection(sub, v, spec, key);
      target[k] = sub;
    }
  }
}

/** Checks and resolves a config object (e.g. parsed JSON) against the defaults. */
export function resolveConfig(input: unknown = {}): RunConfig {
  const out = defaultConfig();
  mergeSection(out as unknown as Record<string, unknown>, input, SCHEMA, '');
  return out;
}

/** Reads a JSON config file; errors name the file. */
export function loadConfig(file: string): RunConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config ${file}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`config ${file} is not valid JSON: ${(e as Error).message}`);
  }
  try {
    return resolveConfig(json);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`${file}: ${e.message}`);
    throw e;
  }
}

/** The schema entry at a dotted path, or a ConfigError naming the key. */
export function lookupKey(dotted: string): Leaf | Section {
  let section: Section = SCHEMA;
  const parts = dotted.split('.');
  let prefix = '';
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const spec = Object.hasOwn(section, p) ? section[p] : undefined;
    if (!spec) throw new ConfigError(`unknown config key '${dotted}'; ${allowed(section, prefix)}`);
    if (isLeaf(spec)) {
      if (i !== parts.length - 1) throw new ConfigError(`unknown config key '${dotted}': '${parts.slice(0, i + 1).join('.')}' is ${describeType(spec)}, not a section`);
      return spec;
    }
    section = spec;
    prefix = prefix ? `${prefix}.${p}` : p;
  }
  return section;
}

/** A number, or the text itself when it is not one (so that errors show what was given). */
function asNumber(text: string): number | string {
  const n = Number(text);
  return text.trim() === '' || Number.isNaN(n) ? text : n;
}

function parseValue(key: string, spec: Leaf | Section, raw: string): unknown {
  let json: unknown;
  let isJson = false;
  try {
    json = JSON.parse(raw);
    isJson = true;
  } catch {
    // not JSON: a bare string or a comma list
  }
  if (!isLeaf(spec)) {
    if (!isJson) throw new ConfigError(`config key '${key}' is a section; give a JSON object, or set its keys (${Object.keys(spec).map((k) => `--${key}.${k}`).join(', ')})`);
    return json;
  }
  if (isJson && (json === null || typeof json !== 'string')) {
    if (spec.type.endsWith('[]') && typeof json === 'number') return [json];
    return json;
  }
  const text = isJson ? (json as string) : raw;
  switch (spec.type) {
    case 'number':
    case 'integer':
      return asNumber(text);
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    case 'number[]':
    case 'integer[]':
      return text.split(',').map(asNumber);
    case 'string[]':
      return text === '' ? [] : text.split(',').map((t) => t.trim());
    default:
      return text;
  }
}

/**
 * Applies `--key value` overrides (dotted paths, e.g. ['model.hidden', '128,128'],
 * ['earlyStopping.patience', '5']). Values are parsed as JSON when possible;
 * arrays also take comma lists. Returns a new config.
 */
export function applyOverrides(config: RunConfig, overrides: Array<[string, string]> | Record<string, string>): RunConfig {
  const out = structuredClone(config);
  const entries = Array.isArray(overrides) ? overrides : Object.entries(overrides);
  for (const [key, raw] of entries) {
    const spec = lookupKey(key);
    const value = parseValue(key, spec, raw);
    const parts = key.split('.');
    let nested: unknown = value;
    for (let i = parts.length - 1; i >= 0; i--) nested = { [parts[i]!]: nested };
    mergeSection(out as unknown as Record<string, unknown>, nested, SCHEMA, '');
  }
  return out;
}

/** Whether a dotted key is a boolean leaf (a flag that may stand without a value). */
export function isBooleanKey(dotted: string): boolean {
  try {
    const spec = lookupKey(dotted);
    return isLeaf(spec) && spec.type === 'boolean';
  } catch {
    return false;
  }
}

/** One line per leaf key: `key  type  (default)`, for --help. */
export function describeSchema(): string[] {
  const lines: string[] = [];
  const defaults = defaultConfig() as unknown as Record<string, unknown>;
  const walk = (section: Section, prefix: string, def: Record<string, unknown> | undefined) => {
    for (const [k, spec] of Object.entries(section)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (isLeaf(spec)) {
        const d = def?.[k];
        lines.push(`${key.padEnd(28)} ${describeType(spec)}${d === undefined ? '' : `; default ${JSON.stringify(d)}`}`);
      } else walk(spec, key, def?.[k] as Record<string, unknown> | undefined);
    }
  };
  walk(SCHEMA, '', defaults);
  return lines;
}

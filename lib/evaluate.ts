// Ranking metrics over a dataset and one score per document, computed in
// native code in one pass over the queries.
import { native } from './native.js';
import { type Convention, type ConventionInput, resolveConvention } from './conventions.js';

export type MetricKind = 'ndcg' | 'dcg' | 'map' | 'p' | 'mrr' | 'err';

export interface MetricSpec {
  /** Canonical name, e.g. "ndcg@10", "map", "p@5". */
  name: string;
  kind: MetricKind;
  /** Cut-off; 0 means the whole list. */
  k: number;
}

export const DEFAULT_METRICS = 'ndcg@1,3,5,10,map';

const ALIASES: Record<string, MetricKind> = {
  ndcg: 'ndcg',
  dcg: 'dcg',
  map: 'map',
  ap: 'map',
  p: 'p',
  precision: 'p',
  mrr: 'mrr',
  err: 'err',
};

/**
 * Parses a metric list: "ndcg@1,ndcg@10,map", or the short form "ndcg@1,3,5,10"
 * (a bare number repeats the previous metric with that cut-off). Names are
 * case-insensitive; "precision" = "p", "ap" = "map".
 */
export function parseMetrics(list: string | string[]): MetricSpec[] {
  const tokens = (Array.isArray(list) ? list.join(',') : list)
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t.length > 0);
  if (tokens.length === 0) throw new RangeError('no metrics given; e.g. "ndcg@1,3,5,10,map"');
  const out: MetricSpec[] = [];
  let previous: MetricKind | undefined;
  for (const token of tokens) {
    let kind: MetricKind | undefined;
    let kText: string | undefined;
    if (/^\d+$/.test(token)) {
      if (!previous) throw new RangeError(`metric '${token}': a bare cut-off must follow a metric, as in "ndcg@1,3,5"`);
      kind = previous;
      kText = token;
    } else {
      const m = /^([a-z]+)(?:@(\d+))?$/.exec(token);
      kind = m ? ALIASES[m[1]!] : undefined;
      if (!m || !kind) throw new RangeError(`unknown metric '${token}'; use ndcg, dcg, map, p, mrr or err, with an optional @k`);
      kText = m[2];
    }
    const k = kText === undefined ? 0 : Number(kText);
    if (kText !== undefined && (k < 1 || !Number.isSafeInteger(k) || k > 0xffffffff)) {
      throw new RangeError(`metric '${token}': k must be an integer >= 1`);
    }
    if (kind === 'p' && k === 0) throw new RangeError(`metric '${token}': precision needs a cut-off, e.g. p@10`);
    const name = k === 0 ? kind : `${kind}@${k}`;
    if (!out.some((s) => s.name === name)) out.push({ name, kind, k });
    previous = kind;
  }
  return out;
}

export interface MetricValue {
  /** Mean over the queries counted (see count). */
  mean: number;
  /** Queries in the mean (fewer than numQueries when the convention skips no-relevant queries). */
  count: number;
  /** Value per query, in query order; NaN where the convention leaves the query out. */
  perQuery: Float64Array;
}

export interface EvaluationResult {
  /** The full convention the numbers were computed under. */
  convention: Convention;
  numQueries: number;
  /** Keyed by canonical metric name, in the requested order. */
  metrics: Record<string, MetricValue>;
}

export interface EvaluateOptions {
  /** Metric list (see parseMetrics). Default "ndcg@1,3,5,10,map". */
  metrics?: string | string[] | MetricSpec[];
  /** Preset name or overrides. Default 'standard'. */
  convention?: ConventionInput;
}

/** What evaluate needs of a dataset: labels and query offsets. */
export interface RankedLists {
  labels: Float32Array;
  queryOffsets: Uint32Array;
}

/** Computes ranking metrics for one score per document (scores in row order). */
export function evaluate(data: RankedLists, scores: Float64Array | Float32Array | number[], options: EvaluateOptions = {}): EvaluationResult {
  if (!data || !(data.labels instanceof Float32Array) || !(data.queryOffsets instanceof Uint32Array)) {
    throw new TypeError('data must have labels (Float32Array) and queryOffsets (Uint32Array), e.g. a Dataset');
  }
  const scoreArray = Array.isArray(scores) ? Float64Array.from(scores) : scores;
  if (!(scoreArray instanceof Float64Array) && !(scoreArray instanceof Float32Array)) {
    throw new TypeError('scores must be a Float64Array, Float32Array or number[]');
  }
  if (scoreArray.length !== data.labels.length) {
    throw new RangeError(`scores has ${scoreArray.length} values but the data has ${data.labels.length} documents: one score per document, in row order`);
  }
  const specs: MetricSpec[] =
    options.metrics === undefined
      ? parseMetrics(DEFAULT_METRICS)
      : Array.isArray(options.metrics) && options.metrics.length > 0 && typeof options.metrics[0] === 'object'
        ? (options.metrics as MetricSpec[])
        : parseMetrics(options.metrics as string | string[]);
  const convention = resolveConvention(options.convention);
  const results = native().evaluate(
    data.labels,
    data.queryOffsets,
    scoreArray,
    specs.map((s) => [s.kind, s.k]),
    convention,
  );
  const metrics: Record<string, MetricValue> = {};
  specs.forEach((s, i) => {
    metrics[s.name] = results[i]!;
  });
  return { convention, numQueries: data.queryOffsets.length - 1, metrics };
}

// Simple baselines that need no training: a single feature used as the score.
import { join } from 'node:path';
import type { Dataset } from './data.js';
import { evaluate } from './evaluate.js';
import type { ConventionInput } from './conventions.js';
import { packageRoot } from './native.js';

/** Column `feature` (0-based) of the dataset, as one score per document. */
export function featureAsScores(ds: Dataset, feature: number): Float64Array {
  if (!Number.isInteger(feature) || feature < 0 || feature >= ds.numFeatures) {
    throw new RangeError(`feature must be an integer in [0, ${ds.numFeatures - 1}], got ${feature}`);
  }
  const out = new Float64Array(ds.numDocs);
  for (let i = 0, j = feature; i < ds.numDocs; i++, j += ds.numFeatures) out[i] = ds.features[j]!;
  return out;
}

/** The feature (0-based) whose values rank `ds` best by `metric` (ties: lowest index). */
export function bestSingleFeature(ds: Dataset, metric = 'ndcg@10', convention?: ConventionInput): { feature: number; value: number } {
  let best = { feature: 0, value: -Infinity };
  for (let f = 0; f < ds.numFeatures; f++) {
    const opts = convention === undefined ? { metrics: metric } : { metrics: metric, convention };
    const r = evaluate(ds, featureAsScores(ds, f), opts);
    const v = Object.values(r.metrics)[0]!.mean;
    if (v > best.value) best = { feature: f, value: v };
  }
  return best;
}

/** The demo data shipped with the package (LightGBM's lambdarank example, MIT). */
export function demoDataPaths(): { train: string; test: string } {
  const dir = join(packageRoot, 'data', 'demo');
  return { train: join(dir, 'rank.train'), test: join(dir, 'rank.test') };
}

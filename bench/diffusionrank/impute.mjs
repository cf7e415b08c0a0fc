// Does multi-step label imputation (TabDiff's sampler with the features known) change
// ranking quality compared with DiffusionRank's one-step scorer? Trains the pointwise
// DiffusionRank model (practical preset, best epoch by vali) on one fold and scores the
// test split with imputeScores at several step counts (samples runs averaged).
//   node bench/diffusionrank/impute.mjs [--dataset mq2008|ohsumed] [--fold 1] [--steps 1,2,5,10,20,50] [--samples 4]
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ordo = await import(join(root, 'dist', 'index.js'));
const { values } = parseArgs({ options: { dataset: { type: 'string', default: 'mq2008' }, fold: { type: 'string', default: '1' }, steps: { type: 'string', default: '1,2,5,10,20,50' }, samples: { type: 'string', default: '4' } } });
const shared = process.env.ORDO_SHARED_DIR ?? join(root, '..', 'shared');
const dir = values.dataset === 'ohsumed' ? join(shared, 'data', 'OHSUMED', 'QueryLevelNorm', `Fold${values.fold}`) : join(shared, 'data', 'MQ2008', `Fold${values.fold}`);
const [train, vali, test] = ['train', 'vali', 'test'].map((p) => ordo.readDatasetSync(join(dir, `${p}.txt`)));
const { ranker } = await ordo.trainDiffusionRank(train, { objective: 'pointwise', valid: vali, seed: 42 });
const ndcg = (s) => ordo.evaluate(test, s, { metrics: 'ndcg@10', convention: 'sklearn' }).metrics['ndcg@10'].mean;
const base = ndcg(ranker.predict(test));
console.log(JSON.stringify({ dataset: values.dataset, fold: Number(values.fold), scorer: 'one-step', ndcg10: +base.toFixed(4) }));
for (const steps of values.steps.split(',').map(Number)) {
  for (const heun of [true]) {
    const t0 = performance.now();
    const s = ordo.imputeScores(ranker, test, { steps, samples: Number(values.samples), seed: 7, heun });
    console.log(JSON.stringify({ dataset: values.dataset, fold: Number(values.fold), scorer: 'imputation', steps, samples: Number(values.samples), heun, ndcg10: +ndcg(s).toFixed(4), seconds: +((performance.now() - t0) / 1000).toFixed(1) }));
  }
}

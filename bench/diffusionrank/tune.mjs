// Tuning of the 'practical' preset (selection on vali only): vali NDCG@10 (paper
// evaluation) of DiffusionRank / discriminative models for a few lr × batch settings on
// MQ2008 Fold1, and the 'paper' preset (lr 5e-6) for as many epochs as a time cap allows.
//   node bench/diffusionrank/tune.mjs [--dataset mq2008] [--fold 1] [--epochs 60] [--paper-seconds 300]
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ordo = await import(join(root, 'dist', 'index.js'));
const { values } = parseArgs({ options: { dataset: { type: 'string', default: 'mq2008' }, fold: { type: 'string', default: '1' }, epochs: { type: 'string', default: '60' }, 'paper-seconds': { type: 'string', default: '300' }, models: { type: 'string', default: 'gen-pointwise,disc-pointwise,gen-pairwise,disc-pairwise' }, grid: { type: 'string', default: '3e-4:256,1e-3:256,1e-3:1024,3e-3:1024' } } });
const shared = process.env.ORDO_SHARED_DIR ?? join(root, '..', 'shared');
const dir = values.dataset === 'ohsumed' ? join(shared, 'data', 'OHSUMED', 'QueryLevelNorm', `Fold${values.fold}`) : join(shared, 'data', 'MQ2008', `Fold${values.fold}`);
const [train, vali] = ['train', 'vali'].map((p) => ordo.readDatasetSync(join(dir, `${p}.txt`)));
const MODELS = { 'gen-pointwise': ['pointwise', true], 'disc-pointwise': ['pointwise', false], 'gen-pairwise': ['pairwise', true], 'disc-pairwise': ['pairwise', false] };
for (const key of values.models.split(',')) {
  const [objective, generative] = MODELS[key];
  for (const g of values.grid.split(',')) {
    const [lr, batchSize] = g.split(':').map(Number);
    const t0 = performance.now();
    const r = await ordo.trainDiffusionRank(train, { objective, generative, lr, batchSize, epochs: Number(values.epochs), valid: vali, earlyStopping: { patience: 0 }, seed: 42, device: 'cpu' });
    console.log(JSON.stringify({ dataset: values.dataset, fold: Number(values.fold), model: key, lr, batchSize, epochs: Number(values.epochs), bestEpoch: r.bestEpoch, valiNdcg10: +r.bestValid.toFixed(4), curve: r.history.filter((h, i) => i % 10 === 9).map((h) => +h.valid.toFixed(4)), seconds: +((performance.now() - t0) / 1000).toFixed(1) }));
  }
  if (values['paper-seconds'] !== '0') {
    // the paper preset, cut off by a time cap via AbortSignal
    const signal = AbortSignal.timeout(Number(values['paper-seconds']) * 1000);
    const t0 = performance.now();
    const r = await ordo.trainDiffusionRank(train, { objective, generative, preset: 'paper', valid: vali, seed: 42, device: 'cpu', signal });
    console.log(JSON.stringify({ dataset: values.dataset, fold: Number(values.fold), model: key, preset: 'paper', lr: 5e-6, batchSize: 4096, epochsRun: r.history.length, bestEpoch: r.bestEpoch, valiNdcg10: +(r.bestValid ?? NaN).toFixed(4), seconds: +((performance.now() - t0) / 1000).toFixed(1) }));
  }
}

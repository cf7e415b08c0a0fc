// DiffusionRank experiment (a benchmark, not a test): the paper's comparison on MQ2008
// and OHSUMED QueryLevelNorm, 5 folds each, from ../shared/data:
//   discriminative pointwise | DiffusionRank pointwise | discriminative pairwise | DiffusionRank pairwise
// with equal budgets (same MLP body, epochs, batch, lr) and model selection on vali
// (best epoch by vali NDCG@10 under the paper's sklearn-style evaluation). Test NDCG@10
// and MAP@10 under the paper's evaluation ('sklearn': linear gain, tie-averaged DCG,
// queries without a relevant document count 0; MAP@10 with ties in input order) and under letor4 (MQ2008) / letor3
// (OHSUMED); paired t-tests over per-query NDCG@10 (all test queries of all folds)
// between each generative model and its counterpart; training throughput at 1 and 2
// threads (and on the GPU when one is usable).
//   node bench/diffusionrank/run.mjs [--datasets mq2008,ohsumed] [--folds 1-5] [--epochs N] [--out FILE.json] [--no-throughput]
//     [--throughput-only] [--throughput-epochs N (default 12; the first, warm-up epoch is left out)]
// One JSON line per (dataset, fold, model), then the tables (markdown).
import { existsSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ordo = await import(join(root, 'dist', 'index.js'));
const K = await import(join(root, 'dist', 'kernels.js'));
const { values } = parseArgs({
  options: {
    datasets: { type: 'string', default: 'mq2008,ohsumed' },
    folds: { type: 'string', default: '1-5' },
    epochs: { type: 'string' },
    lr: { type: 'string' },
    batch: { type: 'string' },
    out: { type: 'string' },
    'no-throughput': { type: 'boolean', default: false },
    'throughput-only': { type: 'boolean', default: false },
    'throughput-epochs': { type: 'string', default: '12' },
  },
});
const shared = process.env.ORDO_SHARED_DIR ?? join(root, '..', 'shared');
const DATASETS = {
  mq2008: { name: 'MQ2008', dir: join(shared, 'data', 'MQ2008'), letor: 'letor4' },
  ohsumed: { name: 'OHSUMED', dir: join(shared, 'data', 'OHSUMED', 'QueryLevelNorm'), letor: 'letor3' },
};
const [f0, f1] = values.folds.split('-').map(Number);
const folds = Array.from({ length: (f1 ?? f0) - f0 + 1 }, (_, i) => f0 + i);
const MODELS = [
  { key: 'disc-pointwise', label: 'discriminative pointwise (CE)', objective: 'pointwise', generative: false },
  { key: 'gen-pointwise', label: 'DiffusionRank pointwise', objective: 'pointwise', generative: true },
  { key: 'disc-pairwise', label: 'discriminative pairwise (RankNet)', objective: 'pairwise', generative: false },
  { key: 'gen-pairwise', label: 'DiffusionRank pairwise', objective: 'pairwise', generative: true },
];
const preset = ordo.DIFFUSION_PRESETS.practical;
const budget = {
  epochs: values.epochs ? Number(values.epochs) : preset.epochs,
  lr: values.lr ? Number(values.lr) : preset.lr,
  batchSize: values.batch ? Number(values.batch) : preset.batchSize,
};
const machine = { cpu: cpus()[0]?.model, cores: cpus().length, threads: K.threads(), backend: ordo.describeBackend() };
console.log(JSON.stringify({ machine, budget, models: MODELS.map((m) => m.key) }));

// ---- Student t distribution (two-sided p of a paired t-test) ----
function logGamma(x) {
  const c = [76.18009172947146, -86.50532032941677, 24.01409824083091, -1.231739572450155, 0.1208650973866179e-2, -0.5395239384953e-5];
  let y = x;
  const t = x + 5.5 - (x + 0.5) * Math.log(x + 5.5);
  let s = 1.000000000190015;
  for (const v of c) s += v / ++y;
  return -t + Math.log((2.5066282746310005 * s) / x);
}
// Regularised incomplete beta I_x(a, b) by Lentz's continued fraction.
function betaInc(x, a, b) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  if (x > (a + 1) / (a + b + 2)) return 1 - betaInc(1 - x, b, a);
  let f = 1, c = 1, d = 0;
  for (let i = 0; i <= 400; i++) {
    const m = i >> 1;
    const num = i === 0 ? 1 : i % 2 === 0 ? (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m)) : -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + num * d;
    d = Math.abs(d) < 1e-30 ? 1e-30 : d;
    d = 1 / d;
    c = 1 + num / c;
    c = Math.abs(c) < 1e-30 ? 1e-30 : c;
    const cd = c * d;
    f *= cd;
    if (Math.abs(1 - cd) < 1e-12) break;
  }
  return (front * (f - 1)) / a;
}
function pairedT(a, b) {
  const n = a.length;
  const d = a.map((v, i) => v - b[i]);
  const mean = d.reduce((s, v) => s + v, 0) / n;
  const sd = Math.sqrt(d.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  if (sd === 0) return { t: 0, p: 1, n, meanDiff: mean };
  const t = mean / (sd / Math.sqrt(n));
  const df = n - 1;
  return { t, p: betaInc(df / (df + t * t), df / 2, 0.5), n, meanDiff: mean };
}

const results = [];
const perQuery = {}; // dataset -> model -> per-query NDCG@10 (sklearn) over all folds
for (const key of values['throughput-only'] ? [] : values.datasets.split(',')) {
  const ds = DATASETS[key];
  if (!ds || !existsSync(join(ds.dir, 'Fold1', 'train.txt'))) {
    console.log(JSON.stringify({ dataset: key, skipped: `no data at ${ds?.dir}` }));
    continue;
  }
  perQuery[ds.name] = Object.fromEntries(MODELS.map((m) => [m.key, []]));
  for (const fold of folds) {
    const dir = join(ds.dir, `Fold${fold}`);
    const [train, vali, test] = ['train', 'vali', 'test'].map((p) => ordo.readDatasetSync(join(dir, `${p}.txt`)));
    for (const m of MODELS) {
      const t0 = performance.now();
      const r = await ordo.trainDiffusionRank(train, { objective: m.objective, generative: m.generative, ...budget, valid: vali, seed: 42, device: 'auto' });
      const trainMs = performance.now() - t0;
      const scores = r.ranker.predict(test);
      // the paper's evaluation: sklearn ndcg_score (tie-averaged) and AP@10 over the score order (ties: input order)
      const paper = ordo.evaluate(test, scores, { metrics: 'ndcg@10', convention: 'sklearn' });
      paper.metrics['map@10'] = ordo.evaluate(test, scores, { metrics: 'map@10', convention: { preset: 'sklearn', ties: 'stable' } }).metrics['map@10'];
      const letor = ordo.evaluate(test, scores, { metrics: 'ndcg@10,map@10', convention: ds.letor });
      perQuery[ds.name][m.key].push(...paper.metrics['ndcg@10'].perQuery);
      const row = {
        dataset: ds.name,
        fold,
        model: m.key,
        bestEpoch: r.bestEpoch,
        epochsRun: r.history.length,
        valiNdcg10: r.bestValid,
        ndcg10: paper.metrics['ndcg@10'].mean,
        map10: paper.metrics['map@10'].mean,
        [`ndcg10_${ds.letor}`]: letor.metrics['ndcg@10'].mean,
        [`map10_${ds.letor}`]: letor.metrics['map@10'].mean,
        trainMs: Math.round(trainMs),
        msPerEpoch: Math.round(r.history.reduce((s, h) => s + h.ms, 0) / r.history.length),
      };
      results.push(row);
      console.log(JSON.stringify(row));
    }
  }
}

// ---- throughput: one pointwise epoch (generative and discriminative) over MQ2008 Fold1 train ----
const throughput = [];
const mqTrain = join(DATASETS.mq2008.dir, 'Fold1', 'train.txt');
if (!values['no-throughput'] && existsSync(mqTrain)) {
  const train = ordo.readDatasetSync(mqTrain);
  const devices = ['cpu', ...(ordo.backend().cuda?.usable ? ['cuda'] : [])];
  const saved = K.threads();
  for (const device of devices) {
    for (const threads of device === 'cpu' ? [1, 2] : [saved]) {
      K.threads(threads);
      for (const m of MODELS) {
        for (const batchSize of [4096, budget.batchSize]) {
          const epochs = Math.max(2, Number(values['throughput-epochs']));
          const r = await ordo.trainDiffusionRank(train, { objective: m.objective, generative: m.generative, epochs, batchSize, lr: 1e-4, seed: 1, device });
          const ms = r.history.slice(1).map((h) => h.ms).sort((a, b) => a - b); // epoch 1 (warm-up) left out
          const median = ms[ms.length >> 1];
          const rows = m.objective === 'pairwise' ? 2 * batchSize * Math.max(1, Math.floor(train.numDocs / batchSize)) : train.numDocs;
          const row = { case: 'epoch', dataset: 'MQ2008 Fold1 train', model: m.key, device, threads: device === 'cpu' ? threads : undefined, batchSize, docs: train.numDocs, rowsPerEpoch: rows, msPerEpoch: +median.toFixed(1), bestMs: +ms[0].toFixed(1), docsPerSec: Math.round((rows / median) * 1000) };
          throughput.push(row);
          console.log(JSON.stringify(row));
        }
      }
    }
  }
  K.threads(saved);
}

// ---- tables ----
const f4 = (v) => (v === undefined || v === null ? '—' : v.toFixed(4));
const mean = (xs) => xs.reduce((s, v) => s + v, 0) / xs.length;
const lines = [];
for (const dsName of Object.keys(perQuery)) {
  const letor = dsName === 'MQ2008' ? 'letor4' : 'letor3';
  lines.push(`\n### ${dsName} (test, ${folds.length} folds; epochs ${budget.epochs}, batch ${budget.batchSize}, lr ${budget.lr}; best epoch by vali NDCG@10)\n`);
  lines.push(`| model | ${folds.map((f) => `F${f}`).join(' | ')} | mean NDCG@10 (paper) | mean MAP@10 (paper) | mean NDCG@10 (${letor}) | mean MAP@10 (${letor}) | train s/fold |`);
  lines.push(`|---|${folds.map(() => '---').join('|')}|---|---|---|---|---|`);
  for (const m of MODELS) {
    const rows = results.filter((r) => r.dataset === dsName && r.model === m.key);
    if (!rows.length) continue;
    lines.push(
      `| ${m.label} | ${rows.map((r) => f4(r.ndcg10)).join(' | ')} | ${f4(mean(rows.map((r) => r.ndcg10)))} | ${f4(mean(rows.map((r) => r.map10)))} | ${f4(mean(rows.map((r) => r[`ndcg10_${letor}`])))} | ${f4(mean(rows.map((r) => r[`map10_${letor}`])))} | ${(mean(rows.map((r) => r.trainMs)) / 1000).toFixed(1)} |`,
    );
  }
  for (const [gen, disc] of [['gen-pointwise', 'disc-pointwise'], ['gen-pairwise', 'disc-pairwise']]) {
    const a = perQuery[dsName][gen];
    const b = perQuery[dsName][disc];
    if (a.length && a.length === b.length) {
      const t = pairedT(a, b);
      lines.push(`\npaired t-test ${gen} vs ${disc} (per-query NDCG@10, paper evaluation, n = ${t.n} test queries): mean diff ${t.meanDiff >= 0 ? '+' : ''}${t.meanDiff.toFixed(4)}, t = ${t.t.toFixed(3)}, p = ${t.p.toPrecision(3)}${t.p < 0.05 ? ' (significant at 0.05)' : ''}`);
    }
  }
}
if (throughput.length) {
  lines.push('\n### Training throughput, MQ2008 Fold1 train (9,630 docs), median and best epoch\n');
  lines.push('| model | device | threads | batch | rows/epoch | ms/epoch (median) | ms/epoch (best) | rows/s (median) |');
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const r of throughput) lines.push(`| ${r.model} | ${r.device} | ${r.threads ?? '—'} | ${r.batchSize} | ${r.rowsPerEpoch} | ${r.msPerEpoch} | ${r.bestMs} | ${r.docsPerSec} |`);
}
console.log(lines.join('\n'));
if (values.out) writeFileSync(values.out, JSON.stringify({ machine, budget, results, throughput, tables: lines.join('\n') }, null, 2));

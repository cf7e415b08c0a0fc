// Ranking quality on real data (a benchmark, not a test): MQ2008 and OHSUMED
// QueryLevelNorm, 5 folds each, from ../shared/data. ordo MLP rankers with
// several losses (model selection on vali only: early stopping on vali
// NDCG@10, best loss chosen by mean vali NDCG@10) against a LambdaMART peer
// (XGBoost rank:ndcg, run side by side on the same folds). Test NDCG@1/3/5/10
// and MAP, 5-fold mean ± std, under letor4 (MQ2008) / letor3 (OHSUMED) and the
// lightgbm convention, plus training time. JSON lines, then a table.
//   node bench/quality.mjs [--datasets mq2008,ohsumed] [--folds 1-5] [--losses listNet,...] [--epochs 60] [--no-peer]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ordo = await import(join(root, 'dist', 'index.js'));
const { values } = parseArgs({
  options: {
    datasets: { type: 'string', default: 'mq2008,ohsumed' },
    folds: { type: 'string', default: '1-5' },
    losses: { type: 'string', default: 'listNet,rankNet,lambdaRank,approxNDCG,neuralNDCG' },
    epochs: { type: 'string', default: '60' },
    'no-peer': { type: 'boolean', default: false },
  },
});
const shared = process.env.ORDO_SHARED_DIR ?? join(root, '..', 'shared');
const DATASETS = {
  mq2008: { dir: join(shared, 'data', 'MQ2008'), letor: 'letor4' },
  ohsumed: { dir: join(shared, 'data', 'OHSUMED', 'QueryLevelNorm'), letor: 'letor3' },
};
const [f0, f1] = values.folds.split('-').map(Number);
const folds = Array.from({ length: (f1 ?? f0) - f0 + 1 }, (_, i) => f0 + i);
const losses = values.losses.split(',');
const epochs = Number(values.epochs);
const metrics = 'ndcg@1,ndcg@3,ndcg@5,ndcg@10,map';
const threads = ordo.backend().active === 'cpu' ? (await import(join(root, 'dist', 'kernels.js'))).threads() : 0;
const machine = { cpu: cpus()[0]?.model, cores: cpus().length, threads, backend: ordo.describeBackend() };

const haveXgb = !values['no-peer'] && spawnSync('/usr/bin/python3', ['-c', 'import xgboost, sklearn'], { encoding: 'utf8' }).status === 0;
if (!values['no-peer'] && !haveXgb) {
  console.error('installing the LambdaMART peer: apt-get install -y python3-xgboost python3-sklearn');
  spawnSync('sh', ['-c', 'apt-get install -y -qq python3-xgboost python3-sklearn'], { stdio: 'inherit' });
}
const peerOk = !values['no-peer'] && spawnSync('/usr/bin/python3', ['-c', 'import xgboost, sklearn'], { encoding: 'utf8' }).status === 0;

const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
const std = (a) => Math.sqrt(mean(a.map((v) => (v - mean(a)) ** 2)));
const evalAll = (ds, scores, letor) => {
  const out = {};
  for (const conv of [letor, 'lightgbm']) {
    const r = ordo.evaluate(ds, scores, { metrics, convention: conv });
    out[conv] = Object.fromEntries(Object.entries(r.metrics).map(([k, v]) => [k, v.mean]));
  }
  return out;
};

const results = [];
for (const name of values.datasets.split(',')) {
  const spec = DATASETS[name];
  if (!spec || !existsSync(spec.dir)) {
    console.log(JSON.stringify({ dataset: name, skipped: `no data at ${spec?.dir}` }));
    continue;
  }
  const foldData = folds.map((fold) => {
    const dir = join(spec.dir, `Fold${fold}`);
    return { fold, dir, data: ['train', 'vali', 'test'].map((p) => ordo.readDatasetSync(join(dir, `${p}.txt`))) };
  });
  const runOrdo = async (label, model, loss) => {
    for (const { fold, data } of foldData) {
      const [trainDs, vali, test] = data;
      const t = performance.now();
      const r = await ordo.train(trainDs, {
        model,
        loss,
        lr: 1e-3,
        weightDecay: 1e-4,
        epochs,
        batchQueries: 16,
        clipNorm: 5,
        preprocess: ['standardize'],
        valid: vali,
        earlyStopping: { metric: 'ndcg@10', patience: 10, convention: 'standard' },
        seed: 42,
      });
      const row = { dataset: name, fold, model: label, valid_ndcg10: r.bestValid, bestEpoch: r.bestEpoch, train_s: (performance.now() - t) / 1000, test: evalAll(test, r.ranker.predict(test), spec.letor) };
      results.push(row);
      console.log(JSON.stringify({ ...row, machine }));
    }
  };
  for (const loss of losses) await runOrdo(`mlp/${loss}`, { hidden: [256, 256], activation: 'relu', dropout: 0.1 }, loss);
  // the context-aware scorer with the loss that did best on vali (mean over folds)
  const bestLoss = losses
    .map((loss) => [loss, mean(results.filter((r) => r.dataset === name && r.model === `mlp/${loss}`).map((r) => r.valid_ndcg10))])
    .sort((a, b) => b[1] - a[1])[0][0];
  await runOrdo(`transformer/${bestLoss}`, { kind: 'transformer', dModel: 32, heads: 2, layers: 2, dropout: 0.1 }, bestLoss);
  for (const { fold, dir, data } of foldData) {
    const test = data[2];
    if (peerOk) {
      const out = join(mkdtempSync(join(tmpdir(), 'ordo-xgb-')), 'scores.txt');
      const runPeer = () =>
        spawnSync('/usr/bin/python3', [join(root, 'bench', 'peers', 'xgb_lambdamart.py'), '--train', join(dir, 'train.txt'), '--vali', join(dir, 'vali.txt'), '--test', join(dir, 'test.txt'), '--out', out, '--threads', String(cpus().length)], {
          encoding: 'utf8',
          maxBuffer: 1 << 26,
          env: { ...process.env, OMP_NUM_THREADS: String(cpus().length), OPENBLAS_NUM_THREADS: String(cpus().length) },
        });
      let p = runPeer();
      if (p.status !== 0) p = runPeer(); // one retry (a spawn can fail under load)
      if (p.status === 0) {
        const info = JSON.parse(p.stdout.trim().split('\n').pop());
        const row = { dataset: name, fold, model: 'xgboost-lambdamart', train_s: info.train_s, best_iteration: info.best_iteration, test: evalAll(test, ordo.readScores(out), spec.letor) };
        results.push(row);
        console.log(JSON.stringify({ ...row, machine }));
      } else {
        console.log(JSON.stringify({ dataset: name, fold, model: 'xgboost-lambdamart', error: p.error ? p.error.message : (p.stderr ?? '').split('\n').filter(Boolean).pop() }));
      }
    }
  }
}

// Summary: per dataset and model, 5-fold mean ± std; ordo's best loss picked by mean vali NDCG@10.
console.log('\ndataset  model                    conv      ndcg@1         ndcg@3         ndcg@5         ndcg@10        map            train s');
for (const name of values.datasets.split(',')) {
  const spec = DATASETS[name];
  const rows = results.filter((r) => r.dataset === name);
  const models = [...new Set(rows.map((r) => r.model))];
  const bestOrdo = models
    .filter((m) => m.startsWith('mlp/') || m.startsWith('transformer/'))
    .map((m) => [m, mean(rows.filter((r) => r.model === m).map((r) => r.valid_ndcg10))])
    .sort((a, b) => b[1] - a[1])[0]?.[0];
  for (const m of models) {
    for (const conv of [spec.letor, 'lightgbm']) {
      const rs = rows.filter((r) => r.model === m);
      const cells = metrics.split(',').map((k) => {
        const v = rs.map((r) => r.test[conv][k]);
        return `${mean(v).toFixed(4)}±${std(v).toFixed(3)}`;
      });
      const tag = m === bestOrdo ? `${m} *` : m;
      console.log(`${name.padEnd(8)} ${tag.padEnd(24)} ${conv.padEnd(9)} ${cells.map((c) => c.padEnd(14)).join(' ')} ${mean(rs.map((r) => r.train_s)).toFixed(1)}`);
    }
  }
}
console.log('* = ordo model selected by mean vali NDCG@10 (standard convention)');
writeFileSync(join(tmpdir(), 'ordo-quality-results.json'), JSON.stringify(results, null, 2));

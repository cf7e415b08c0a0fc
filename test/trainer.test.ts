import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Preprocessor, Ranker, evaluate, learningRate, parseDataset, train, type Dataset } from '../lib/index.js';
import { caught, rng } from './helpers.js';

// Queries whose true relevance is a known function of the features:
// f(x) = 2·x0 − x1 + x2·x3, labels 0..4 by rank of f within the query.
function synthetic(queries: number, docs: number, seed: number): Dataset {
  const r = rng(seed);
  const lines: string[] = [];
  for (let q = 0; q < queries; q++) {
    const rows = Array.from({ length: docs }, () => Array.from({ length: 6 }, () => r() * 2 - 1));
    const f = rows.map((x) => 2 * x[0]! - x[1]! + x[2]! * x[3]!);
    const order = f.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
    const label = new Array<number>(docs);
    order.forEach(([, i], rank) => (label[i] = Math.floor((rank * 5) / docs)));
    rows.forEach((x, i) => lines.push(`${label[i]} qid:${q} ${x.map((v, j) => `${j + 1}:${v.toFixed(5)}`).join(' ')}`));
  }
  return parseDataset(lines.join('\n'), `synthetic-${seed}`);
}

const trainSet = synthetic(160, 20, 1);
const validSet = synthetic(40, 20, 2);
const testSet = synthetic(60, 20, 3);

test('the trainer learns a known ranking function (test NDCG@10 >= 0.95)', async () => {
  const r = await train(trainSet, { model: { hidden: [32, 32] }, loss: 'listNet', epochs: 40, lr: 3e-3, batchQueries: 16, valid: validSet, seed: 7, device: 'cpu' });
  const ndcg = evaluate(testSet, r.ranker.predict(testSet, { device: 'cpu' }), { metrics: 'ndcg@10' }).metrics['ndcg@10']!.mean;
  assert.ok(ndcg >= 0.95, `test NDCG@10 = ${ndcg}`);
  assert.ok(r.history[r.history.length - 1]!.loss < r.history[0]!.loss, 'the loss falls');
  assert.ok(r.bestValid! >= 0.95);
});

for (const loss of ['rankNet', 'lambdaRank', 'approxNDCG', 'neuralNDCG', 'listMLE', 'lambdaLoss'] as const) {
  test(`every loss trains: ${loss} beats the untrained model`, async () => {
    const r = await train(trainSet, { model: { hidden: [16] }, loss, epochs: 8, lr: 1e-2, batchQueries: 16, seed: 3, device: 'cpu' });
    const ndcg = evaluate(testSet, r.ranker.predict(testSet, { device: 'cpu' }), { metrics: 'ndcg@10' }).metrics['ndcg@10']!.mean;
    assert.ok(ndcg > 0.85, `${loss}: test NDCG@10 = ${ndcg}`);
  });
}

test('the context-aware Transformer scorer trains, predicts per query, and saves/loads', async () => {
  const r = await train(trainSet, { model: { kind: 'transformer', dModel: 16, heads: 2, layers: 1, dropout: 0 }, loss: 'listNet', epochs: 15, lr: 3e-3, batchQueries: 16, valid: validSet, seed: 5, device: 'cpu' });
  const scores = r.ranker.predict(testSet, { device: 'cpu' });
  const ndcg = evaluate(testSet, scores, { metrics: 'ndcg@10' }).metrics['ndcg@10']!.mean;
  assert.ok(ndcg > 0.9, `transformer test NDCG@10 = ${ndcg}`);
  // scores depend only on the query's own documents: scoring a one-query slice gives the same values
  const dir = mkdtempSync(join(tmpdir(), 'ordo-tf-'));
  const file = join(dir, 'tf.safetensors');
  r.ranker.save(file);
  const back = Ranker.load(file);
  assert.equal(back.predict(testSet, { device: 'cpu' }), scores);
  assert.is(back.model.kind, 'transformer');
  assert.match(caught(() => r.ranker.predict(testSet.features)).message, /pass a Dataset/);
});

test('same seed, same thread count: bit-identical weights; another seed differs', async () => {
  const opts = { model: { hidden: [8], dropout: 0.1 }, epochs: 3, seed: 11, device: 'cpu' as const, clipNorm: 1, schedule: { kind: 'cosine' as const, warmupSteps: 3 } };
  const a = await train(trainSet, opts);
  const b = await train(trainSet, opts);
  const c = await train(trainSet, { ...opts, seed: 12 });
  assert.equal(a.ranker.params, b.ranker.params);
  assert.not.equal(a.ranker.params, c.ranker.params);
});

test('early stopping keeps the best epoch; abort stops cleanly with a usable model', async () => {
  const r = await train(trainSet, { model: { hidden: [8] }, epochs: 50, lr: 0, valid: validSet, earlyStopping: { patience: 3 }, seed: 1, device: 'cpu' });
  assert.ok(r.stoppedEarly);
  assert.is(r.bestEpoch, 1);
  assert.is(r.history.length, 4);
  const ctl = new AbortController();
  let calls = 0;
  const progress: number[] = [];
  const a = await train(trainSet, {
    model: { hidden: [8] },
    epochs: 50,
    seed: 1,
    device: 'cpu',
    signal: ctl.signal,
    onProgress: (p) => {
      progress.push(p.etaMs);
      if (++calls === 15) ctl.abort();
    },
  });
  assert.ok(a.aborted);
  assert.is(calls, 15);
  assert.ok(progress.every((x) => x >= 0));
  assert.is(a.ranker.predict(testSet, { device: 'cpu' }).length, testSet.numDocs);
});

test('preprocessing: standardize, log1p, quantileNormal fitted on training data', () => {
  const x = Float32Array.from([1, 10, 2, 20, 3, 30, 4, 1000]);
  const s = Preprocessor.fit(x, 2, ['standardize']).apply(x);
  const col0 = [s[0]!, s[2]!, s[4]!, s[6]!];
  assert.ok(Math.abs(col0.reduce((a, b) => a + b, 0)) < 1e-5);
  assert.ok(Math.abs(col0.reduce((a, b) => a + b * b, 0) / 4 - 1) < 1e-5);
  const l = Preprocessor.fit(Float32Array.from([-3, 0, 3]), 1, ['log1p']).apply(Float32Array.from([-3, 0, 3]));
  assert.ok(Math.abs(l[0]! + Math.log(4)) < 1e-6 && l[1] === 0);
  const big = Float32Array.from({ length: 1001 }, (_, i) => i ** 3);
  const qn = Preprocessor.fit(big, 1, ['quantileNormal']);
  const out = qn.apply(big);
  assert.ok(Math.abs(out[500]!) < 1e-3, `median maps to 0: ${out[500]}`);
  for (let i = 1; i < out.length; i++) assert.ok(out[i]! >= out[i - 1]!, 'monotone');
  const restored = Preprocessor.fromJSON(JSON.parse(JSON.stringify(qn.toJSON())));
  assert.equal(restored.apply(big), out);
  assert.match(caught(() => Preprocessor.fit(big, 1, ['zscore' as never])).message, /'zscore' is not one of/);
});

test('learning-rate schedules: warm-up, step, cosine', () => {
  assert.is(learningRate(1, { warmupSteps: 4 }, 0, 10, 100), 0.25);
  assert.is(learningRate(1, { kind: 'step', stepEpochs: 2, gamma: 0.5 }, 45, 10, 100), 0.25);
  assert.ok(Math.abs(learningRate(1, { kind: 'cosine', minLr: 0 }, 50, 10, 100) - 0.5) < 1e-12);
  assert.ok(learningRate(1, { kind: 'cosine' }, 100, 10, 100) < 1e-12);
});

test('bad training options name the option', async () => {
  const bad = async (o: object) => {
    try {
      await train(trainSet, o);
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  };
  assert.match(await bad({ loss: 'hinge' }), /loss 'hinge' is not one of/);
  assert.match(await bad({ epochs: 0 }), /epochs must be an integer >= 1/);
  assert.match(await bad({ model: { hidden: [0] } }), /model.hidden/);
  assert.match(await bad({ model: { depth: 3 } }), /model.depth is not an option of an 'mlp' model/);
  assert.match(await bad({ model: { kind: 'transformer', dModel: 10, heads: 3 } }), /model.dModel \(10\) must be a multiple of model.heads \(3\)/);
  assert.match(await bad({ model: { kind: 'gbdt' } }), /model.kind 'gbdt' is not one of mlp, transformer/);
  assert.match(await bad({ optimizer: 'lion' }), /optimizer 'lion'/);
  assert.match(await bad({ lr: -1 }), /lr must be a finite number >= 0/);
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_SCHEDULE,
  Preprocessor,
  Ranker,
  evaluate,
  foldScoringParams,
  generate,
  imputeScores,
  moveChance,
  networkConfigOf,
  parseDataset,
  powerMeanInverse,
  powerMeanSigma,
  precondition,
  resolveDiffusionRankConfig,
  train,
  trainDiffusionRank,
  type Dataset,
  type DiffusionRankModelConfig,
} from '../lib/index.js';
import * as K from '../lib/kernels.js';
import { spawnSync } from 'node:child_process';
import { caught, repoRoot, rng } from './helpers.js';

// Queries whose relevance is a known function of the features: f(x) = 2·x0 − x1 + 0.5·x2,
// graded 0..2 by the rank of f within the query (a third of the documents per grade).
function synthetic(queries: number, docs: number, seed: number): Dataset {
  const r = rng(seed);
  const lines: string[] = [];
  for (let q = 0; q < queries; q++) {
    const rows = Array.from({ length: docs }, () => Array.from({ length: 5 }, () => r() * 2 - 1));
    const f = rows.map((x) => 2 * x[0]! - x[1]! + 0.5 * x[2]!);
    const order = f.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
    const label = new Array<number>(docs);
    order.forEach(([, i], rank) => (label[i] = Math.floor((rank * 3) / docs)));
    rows.forEach((x, i) => lines.push(`${label[i]} qid:${q} ${x.map((v, j) => `${j + 1}:${v.toFixed(5)}`).join(' ')}`));
  }
  return parseDataset(lines.join('\n'), `synthetic-${seed}`);
}

const trainSet = synthetic(120, 20, 11);
const validSet = synthetic(30, 20, 12);
const testSet = synthetic(40, 20, 13);
const ndcg10 = (ds: Dataset, s: Float64Array) => evaluate(ds, s, { metrics: 'ndcg@10', convention: 'sklearn' }).metrics['ndcg@10']!.mean;
const quick = { model: { hidden: [32, 32] }, epochs: 25, batchSize: 256, lr: 3e-3, seed: 3, device: 'cpu' as const, valid: validSet };

test('schedules: power-mean σ(t) matches TabDiff values, inverts, and the label move chance is linear', () => {
  const table: Array<[number, number]> = [[0, 0.002], [0.1, 0.01672], [0.25, 0.16975], [0.5, 2.5152], [0.75, 17.528], [1, 80]];
  for (const [t, want] of table) {
    const got = powerMeanSigma(t);
    assert.ok(Math.abs(got - want) / want < 2e-4, `σ(${t}) = ${got}, want ${want}`);
    assert.ok(Math.abs(powerMeanInverse(got) - t) < 1e-9);
  }
  assert.ok(Math.abs(moveChance(0) - 1e-5) < 1e-15 && Math.abs(moveChance(1) - (1 - 1e-3)) < 1e-12);
  const p = precondition(0.7);
  // D = c_skip·x_t + c_out·T with T = (x0 − c_skip·x_t)/c_out recovers x0; c_in² + c_out² = 1 (σ_data = 1)
  assert.ok(Math.abs(p.cIn ** 2 + p.cOut ** 2 - 1) < 1e-12 && Math.abs(p.cNoise - Math.log(0.7) / 4) < 1e-15);
});

test('model config: defaults as the paper, every bad key named', () => {
  const m = resolveDiffusionRankConfig({});
  assert.equal([m.hidden, m.dropout, m.numClasses, m.schedule], [[256, 256, 256, 256], 0.1, 2, DEFAULT_SCHEDULE]);
  assert.equal(networkConfigOf(m, 46), { in: 50, hidden: [256, 256, 256, 256], out: 48, activation: 'silu', layerNorm: true, dropout: 0.1 });
  assert.equal(networkConfigOf({ ...m, objective: 'pairwise', numClasses: 3 }, 46).out, 47);
  assert.equal(networkConfigOf({ ...m, generative: false }, 46).in, 46);
  assert.match(caught(() => resolveDiffusionRankConfig({ objective: 'listwise' as never })).message, /model.objective 'listwise' is not one of pointwise, pairwise/);
  assert.match(caught(() => resolveDiffusionRankConfig({ numClasses: 3 })).message, /pointwise objective binarises the label/);
  assert.match(caught(() => resolveDiffusionRankConfig({ schedule: { sigmaMin: 100 } })).message, /sigmaMin \(100\) must be below sigmaMax/);
  assert.match(caught(() => resolveDiffusionRankConfig({ bogus: 1 } as never)).message, /model.bogus is not an option of a 'diffusionrank' model/);
});

// The folded one-step scorer must equal the full network on [c_in·x, onehot(MASK), c_noise] (σ = σmin).
for (const [objective, generative] of [['pointwise', true], ['pairwise', true], ['pointwise', false], ['pairwise', false]] as const) {
  test(`scoring fold (${objective}, ${generative ? 'generative' : 'discriminative'}) equals the full network`, () => {
    const D = 7;
    const m: DiffusionRankModelConfig = resolveDiffusionRankConfig({ objective, generative, hidden: [9, 5], numClasses: objective === 'pairwise' ? 3 : 2 });
    const net = networkConfigOf(m, D);
    const params = K.mlpInitParams(net, 5);
    for (let i = 0; i < params.length; i++) params[i] = params[i]! + 0.05 * Math.sin(i); // not the init's symmetric values
    const n = 13;
    const r = rng(9);
    const x = Float32Array.from({ length: n * D }, () => r() * 4 - 2);
    const { cIn, cNoise } = precondition(m.schedule.sigmaMin);
    const inW = net.in;
    const input = new Float32Array(n * inW);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < D; j++) input[i * inW + j] = generative ? cIn * x[i * D + j]! : x[i * D + j]!;
      if (generative) {
        input[i * inW + D + m.numClasses] = 1;
        input[i * inW + D + m.numClasses + 1] = cNoise;
      }
    }
    const out = K.Tensor.zeros([n, net.out!]);
    const cache = K.mlpCache(net, n);
    K.mlpForward(net, K.Tensor.from(params, [params.length]), K.Tensor.from(input, [n, inW]), out, cache, { training: false });
    const F = out.toArray() as Float32Array;
    const ranker = new Ranker(m, D, Preprocessor.fit(new Float32Array(0), D, []), params);
    const scores = ranker.predict(x, { device: 'cpu' });
    const O = net.out!;
    for (let i = 0; i < n; i++) {
      const want = objective === 'pointwise' ? F[i * O + (generative ? D + 1 : 1)]! - F[i * O + (generative ? D : 0)]! : F[i * O + (generative ? D : 0)]!;
      assert.ok(Math.abs(scores[i]! - want) < 1e-4 * (1 + Math.abs(want)), `row ${i}: folded ${scores[i]} vs network ${want}`);
    }
    assert.equal(foldScoringParams(m, D, params).length, K.mlpParamCount({ in: D, hidden: [9, 5], out: 1, layerNorm: true }));
    K.mlpCacheDispose(cache);
  });
}

test('quantile preprocessing: sklearn count, clipping at ±5.1993, and invert() maps back to the data', () => {
  const r = rng(4);
  const n = 3000;
  const x = Float32Array.from({ length: n * 2 }, (_, i) => (i % 2 ? Math.exp(r() * 3) : r()));
  const p = Preprocessor.fit(x, 2, ['quantileNormal'], { quantiles: 'sklearn' });
  assert.is(p.steps[0]!.quantiles![0]!.length, 100, 'max(min(3000 / 30, 1000), 10) quantiles');
  const z = p.apply(x);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of z) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  assert.ok(Math.abs(lo + 5.19934) < 1e-3 && Math.abs(hi - 5.19934) < 1e-3, `range [${lo}, ${hi}]`);
  const back = p.invert(z);
  let err = 0;
  for (let i = 0; i < x.length; i++) err = Math.max(err, Math.abs(back[i]! - x[i]!) / (1 + Math.abs(x[i]!)));
  assert.ok(err < 0.05, `max relative round-trip error ${err}`);
  assert.match(caught(() => Preprocessor.fit(x, 2, ['quantileNormal'], { quantiles: 1 })).message, /options.quantiles must be an integer in \[2, 1e6\]/);
});

for (const objective of ['pointwise', 'pairwise'] as const) {
  test(`DiffusionRank ${objective} learns a known ranking (test NDCG@10 >= 0.9), beats the untrained model, saves and loads`, async () => {
    const r = await trainDiffusionRank(trainSet, { ...quick, objective });
    const scores = r.ranker.predict(testSet, { device: 'cpu' });
    const ndcg = ndcg10(testSet, scores);
    assert.ok(ndcg >= 0.9, `${objective}: test NDCG@10 = ${ndcg}`);
    assert.ok(r.history.every((h) => Number.isFinite(h.loss) && Number.isFinite(h.featureLoss) && Number.isFinite(h.labelLoss)));
    // the feature-loss weight anneals linearly from 1 (first epoch) to 0 (last planned epoch)
    assert.ok(r.history.every((h) => Math.abs(h.featureWeight - (1 - (h.epoch - 1) / (quick.epochs - 1))) < 1e-12), 'featureWeight = 1 − (epoch − 1)/(epochs − 1)');
    assert.ok(r.history[r.history.length - 1]!.featureLoss < r.history[0]!.featureLoss, 'the denoising loss falls');
    assert.ok(r.bestValid !== undefined && r.bestEpoch >= 1);
    assert.is(r.ranker.model.kind, 'diffusionrank');
    const dir = mkdtempSync(join(tmpdir(), 'ordo-dr-'));
    r.ranker.save(join(dir, 'm.safetensors'));
    const back = Ranker.load(join(dir, 'm.safetensors'));
    assert.equal(back.model, r.ranker.model);
    assert.equal(Array.from(back.predict(testSet, { device: 'cpu' })), Array.from(scores), 'bitwise identical after save/load');
  });
}

test('the discriminative counterparts (same body) train through train() with model.kind diffusionrank', async () => {
  for (const objective of ['pointwise', 'pairwise'] as const) {
    const r = await train(trainSet, { model: { kind: 'diffusionrank', objective, generative: false, hidden: [32, 32] }, epochs: 25, lr: 3e-3, diffusion: { batchSize: 256 }, seed: 3, device: 'cpu', valid: validSet });
    const ndcg = ndcg10(testSet, r.ranker.predict(testSet, { device: 'cpu' }));
    assert.ok(ndcg >= 0.9, `discriminative ${objective}: ${ndcg}`);
    assert.is((r.ranker.model as DiffusionRankModelConfig).generative, false);
  }
});

test('training is reproducible for a seed and thread count', async () => {
  const a = await trainDiffusionRank(trainSet, { ...quick, epochs: 2, valid: undefined });
  const b = await trainDiffusionRank(trainSet, { ...quick, epochs: 2, valid: undefined });
  assert.equal(Array.from(a.ranker.params), Array.from(b.ranker.params));
});

test('bad input: pairwise needs integer grades and a query with two labels; options are checked', async () => {
  const frac = parseDataset('0.5 qid:1 1:1\n1 qid:1 1:2\n', 'frac');
  assert.match((await trainDiffusionRank(frac, { objective: 'pairwise' }).catch((e: Error) => e)).message, /row 0 has label 0.5; the pairwise objective needs integer grades/);
  const flat = parseDataset('1 qid:1 1:1\n1 qid:1 1:2\n0 qid:2 1:3\n', 'flat');
  assert.match((await trainDiffusionRank(flat, { objective: 'pairwise', epochs: 1 }).catch((e: Error) => e)).message, /needs at least one training query with two documents of different labels/);
  assert.match((await trainDiffusionRank(trainSet, { epochs: 0 }).catch((e: Error) => e)).message, /epochs must be an integer >= 1/);
  assert.match((await trainDiffusionRank(trainSet, { preset: 'fast' as never }).catch((e: Error) => e)).message, /preset 'fast' is not one of paper, practical/);
});

test('generate: TabDiff sampler gives finite rows whose features follow the label (raw feature space)', async () => {
  const r = await trainDiffusionRank(trainSet, { ...quick, epochs: 40, valid: undefined, featureWeight: { start: 1, end: 1 } });
  const g = generate(r.ranker, { rows: 600, steps: 20, seed: 1, device: 'cpu' });
  assert.is(g.features.length, 600 * 5);
  assert.ok(g.features.every(Number.isFinite));
  assert.ok(g.labels.every((y) => y === 0 || y === 1));
  const rel = [0, 0];
  const mean0 = [0, 0];
  g.labels.forEach((y, i) => {
    rel[y]!++;
    mean0[y]! += g.features[i * 5]!;
  });
  assert.ok(rel[1]! > 60 && rel[0]! > 200, `label counts ${rel}`); // a third of the training rows are relevant (grade 2)
  // relevant rows have larger x0 (f = 2·x0 − x1 + 0.5·x2), and values stay in the data's range [−1, 1]
  assert.ok(mean0[1]! / rel[1]! > mean0[0]! / rel[0]! + 0.3, `mean x0: relevant ${mean0[1]! / rel[1]!} vs not ${mean0[0]! / rel[0]!}`);
  assert.ok(g.features.every((v) => v >= -1.01 && v <= 1.01));
  const cond = generate(r.ranker, { rows: 50, steps: 10, seed: 2, label: 1, device: 'cpu' });
  assert.ok(cond.labels.every((y) => y === 1));
  assert.match(caught(() => generate(r.ranker, { rows: 5, steps: 1 })).message, /steps >= 2/);
  assert.match(caught(() => generate(r.ranker, { rows: 5, label: 2 })).message, /label must be a class id in \[0, 1\]/);
});

test('multi-step label imputation: probabilities; one step ranks like the one-step scorer, more steps still beat chance', async () => {
  const r = await trainDiffusionRank(trainSet, { ...quick });
  const one = ndcg10(testSet, r.ranker.predict(testSet, { device: 'cpu' }));
  const s1 = imputeScores(r.ranker, testSet, { steps: 1, samples: 2, seed: 3, device: 'cpu' });
  assert.ok(s1.every((p) => p >= 0 && p <= 1));
  const single = ndcg10(testSet, s1);
  assert.ok(single >= 0.9 && Math.abs(single - one) < 0.05, `1-step imputation ${single} vs one-step scorer ${one}`);
  // with more steps some labels are unmasked at high noise, where the features say little: quality drops but stays far above chance
  const random = ndcg10(testSet, Float64Array.from({ length: testSet.numDocs }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1));
  const multi = ndcg10(testSet, imputeScores(r.ranker, testSet, { steps: 5, samples: 4, seed: 3, device: 'cpu' }));
  assert.ok(multi > random + 0.1, `5-step imputation ${multi} vs random ${random}`);
  assert.match(caught(() => imputeScores(r.ranker, testSet, { steps: 0 })).message, /steps must be an integer >= 1/);
});

test('ONNX export of a DiffusionRank model: folded scorer, preprocessing left to the caller', async () => {
  const r = await trainDiffusionRank(trainSet, { ...quick, epochs: 2, valid: undefined });
  const { encodeOnnx } = await import('../lib/onnx.js');
  assert.match(caught(() => encodeOnnx(r.ranker)).message, /quantileNormal' cannot be expressed in ONNX.*includePreprocessing: false/);
  const bytes = encodeOnnx(r.ranker, { includePreprocessing: false });
  assert.ok(bytes.length > 1000);
  const dir = mkdtempSync(join(tmpdir(), 'ordo-dr-onnx-'));
  const { exportOnnx } = await import('../lib/onnx.js');
  exportOnnx(r.ranker, join(dir, 'm.onnx'), { includePreprocessing: false });
  assert.ok(readFileSync(join(dir, 'm.onnx')).length === bytes.length);
  let ort: typeof import('onnxruntime-node') | undefined;
  try {
    ort = await import('onnxruntime-node');
    if (typeof ort.InferenceSession?.create !== 'function') ort = (ort as unknown as { default: typeof ort }).default;
  } catch {
    console.warn('diffusionrank.test.ts: onnxruntime-node cannot be loaded; the ONNX scores are not compared');
    return;
  }
  const session = await ort!.InferenceSession.create(join(dir, 'm.onnx'));
  const x = r.ranker.preprocessor.apply(testSet.features);
  const out = await session.run({ features: new ort!.Tensor('float32', x, [testSet.numDocs, testSet.numFeatures]) });
  const got = out.scores!.data as Float32Array;
  const want = r.ranker.predict(testSet, { device: 'cpu' });
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i]! - got[i]!));
  assert.ok(worst < 1e-4, `ONNX vs ordo: max |Δ| ${worst}`);
  await session.release();
});

test('CLI: ordo train --model diffusionrank, predict, generate, export; settings that do not apply are refused', () => {
  const cli = join(repoRoot, 'lib', 'cli.ts');
  const demo = join(repoRoot, 'data', 'demo');
  const env: NodeJS.ProcessEnv = { ...process.env, ORDO_BACKEND: 'cpu', ORDO_THREADS: '1' };
  delete env.FORCE_COLOR;
  const ordo = (args: string[]) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: repoRoot, encoding: 'utf8', env });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const dir = mkdtempSync(join(tmpdir(), 'ordo-dr-cli-'));
  const run = join(dir, 'run');
  const t = ordo(['train', '--model', 'diffusionrank', '--diffusion.objective', 'pairwise', '--diffusion.hidden', '16,16', '--diffusion.epochs', '3', '--diffusion.batchSize', '128',
    '--train', join(demo, 'rank.train'), '--valid', join(demo, 'rank.test'), '--test', join(demo, 'rank.test'), '--out', run, '--json']);
  assert.is(t.code, 0, t.err);
  const final = JSON.parse(readFileSync(join(run, 'final.json'), 'utf8'));
  assert.ok(final.model === 'model.safetensors' && final.epochs === 3, JSON.stringify(final).slice(0, 300));
  const back = Ranker.load(join(run, 'model.safetensors'));
  assert.equal([back.model.kind, (back.model as DiffusionRankModelConfig).objective, back.meta.trainer], ['diffusionrank', 'pairwise', 'diffusionrank']);
  const p = ordo(['predict', '--model', join(run, 'model.safetensors'), '--data', join(demo, 'rank.test')]);
  assert.is(p.code, 0, p.err);
  assert.ok(p.out.trim().split('\n').every((l) => Number.isFinite(Number(l))));
  // pairwise models have no label distribution: generate needs --label
  assert.is(ordo(['generate', '--model', join(run, 'model.safetensors'), '--rows', '4']).code, 1);
  const g = ordo(['generate', '--model', join(run, 'model.safetensors'), '--rows', '7', '--steps', '3', '--label', '2', '--qid', 'syn', '--out', join(dir, 'gen.txt')]);
  assert.is(g.code, 0, g.err);
  const gen = parseDataset(readFileSync(join(dir, 'gen.txt'), 'utf8'), 'gen.txt');
  assert.equal([gen.numDocs, gen.numQueries, gen.queryIds[0], gen.numFeatures <= back.numFeatures], [7, 1, 'syn', true]);
  assert.ok(gen.labels.every((y) => y === 2));
  const x = ordo(['export', '--model', join(run, 'model.safetensors'), '--onnx', join(dir, 'm.onnx'), '--no-preprocessing']);
  assert.is(x.code, 0, x.err);
  const bad = ordo(['train', '--model', 'diffusionrank', '--train', join(demo, 'rank.train'), '--lr', '0.1']);
  assert.is(bad.code, 2);
  assert.match(bad.err, /config key 'lr' does not apply to a diffusionrank model; set diffusion.lr/);
  const bad2 = ordo(['train', '--model', 'diffusionrank', '--train', join(demo, 'rank.train'), '--diffusion.objective', 'listwise']);
  assert.is(bad2.code, 2);
  assert.match(bad2.err, /diffusion.objective/);
});

test.run();

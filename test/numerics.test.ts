// Numerical policy (issue #9): NaN/Inf features are an error by default (with
// options to keep or replace them); every ranking loss and its gradient stays
// finite for extreme scores (±1e30, float32's maximum) and temperatures down to
// τ = 1e-6; NeuralSort stays a row-stochastic matrix there.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDataset, readDatasetSync } from '../lib/data.js';
import { evaluate } from '../lib/evaluate.js';
import * as K from '../lib/kernels.js';
import { Tensor } from '../lib/kernels.js';
import { caught } from './helpers.js';

const FLT_MAX = 3.4028234663852886e38;
const f32 = (a: number[]) => Tensor.from(Float32Array.from(a), undefined, { device: 'cpu', copy: true });
const u32 = (a: number[]) => Tensor.from(Uint32Array.from(a), undefined, { device: 'cpu', copy: true });

// ---- features ---------------------------------------------------------------------------

test('NaN / Inf features: an error by default naming line and column; allowNonFinite keeps, replaceNonFinite replaces', () => {
  const text = '1 qid:1 1:0.5 2:nan\n0 qid:1 1:inf 2:-inf\n';
  const e = caught(() => parseDataset(text, 'nf.txt'));
  assert.is(e.code, 'ORDO_PARSE_ERROR');
  assert.is(e.line, 1);
  assert.is(e.column, 17, 'the column of the value after "2:"');
  assert.match(e.message, /non-finite feature value 'nan'.*allowNonFinite/);
  const kept = parseDataset(text, 'nf.txt', { allowNonFinite: true });
  assert.ok(Number.isNaN(kept.features[1]!));
  assert.is(kept.features[2], Infinity);
  assert.is(kept.features[3], -Infinity);
  const replaced = parseDataset(text, 'nf.txt', { replaceNonFinite: 0 });
  assert.equal(Array.from(replaced.features), [0.5, 0, 0, 0]);
  assert.equal(Array.from(parseDataset(text, 'nf.txt', { replaceNonFinite: -1 }).features), [0.5, -1, -1, -1]);
  assert.match(caught(() => parseDataset(text, 'nf.txt', { replaceNonFinite: NaN })).message, /replaceNonFinite must be a finite number/);
  // values beyond float32 are an error even when non-finite values are allowed (they are not NaN/Inf in the file)
  assert.match(caught(() => parseDataset('1 qid:1 1:1e39\n', 'big.txt', { allowNonFinite: true })).message, /out of float32 range/);
  // underflow flushes to zero (not an error)
  assert.is(parseDataset('1 qid:1 1:1e-50\n', 'tiny.txt').features[0], 0);
  // labels are never allowed to be non-finite
  assert.match(caught(() => parseDataset('nan qid:1 1:1\n', 'l.txt', { allowNonFinite: true })).message, /label/);
  // the file reader follows the same policy
  const dir = mkdtempSync(join(tmpdir(), 'ordo-numerics-'));
  try {
    const p = join(dir, 'nf.txt');
    writeFileSync(p, text);
    assert.match(caught(() => readDatasetSync(p)).message, /nf\.txt:1:17: non-finite feature value/);
    assert.equal(Array.from(readDatasetSync(p, { replaceNonFinite: 2 }).features), [0.5, 2, 2, 2]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- losses -----------------------------------------------------------------------------

/** Every loss the kernels know, from the kernel's own error message (so a new loss is covered automatically). */
function allLosses(): K.LossName[] {
  const m = /is not one of (.*)$/.exec(caught(() => K.rankingLoss('?' as never, f32([0]), f32([0]), u32([0, 1]), Tensor.zeros([1], { device: 'cpu' }), null)).message);
  assert.ok(m, 'the loss list');
  return m![1]!.split(', ') as K.LossName[];
}

function runLoss(loss: K.LossName, scores: number[], labels: number[], offsets: number[], options: K.LossOptions = {}) {
  const lossPerList = Tensor.zeros([offsets.length - 1], { device: 'cpu' });
  const grad = Tensor.zeros([scores.length], { device: 'cpu' });
  K.rankingLoss(loss, f32(scores), f32(labels), u32(offsets), lossPerList, grad, options);
  return { loss: Array.from(lossPerList.toArray()), grad: Array.from(grad.toArray()) };
}

const EXTREME: Array<[string, number[], number[], number[]]> = [
  ['mixed ±1e30', [1e30, -1e30, 0, 1e30, -1e30, 3], [2, 0, 1, 0, 1, 2], [0, 3, 6]],
  ['all +1e30 (ties)', [1e30, 1e30, 1e30], [1, 0, 2], [0, 3]],
  ['all −1e30 (ties)', [-1e30, -1e30, -1e30], [1, 0, 2], [0, 3]],
  ['float32 max', [FLT_MAX, -FLT_MAX, 0, 1], [1, 0, 2, 0], [0, 4]],
  ['tiny gaps at 1e30', [1e30, 1.0000001e30, 0.9999999e30], [0, 2, 1], [0, 3]],
  ['single doc and all-zero labels', [1e30, -1e30, 5], [0, 0, 0], [0, 1, 3]],
];

test('every loss: loss and gradient finite for scores at ±1e30 and float32 max', () => {
  const losses = allLosses();
  assert.ok(losses.length >= 11, `${losses.length} losses`);
  for (const loss of losses) {
    for (const [name, s, y, o] of EXTREME) {
      for (const options of [{}, { temperature: 1e-6 }, { sigma: 1e4 }]) {
        const r = runLoss(loss, s, y, o, options);
        for (const v of [...r.loss, ...r.grad]) {
          if (!Number.isFinite(v)) assert.unreachable(`${loss} on ${name} with ${JSON.stringify(options)}: loss ${r.loss} grad ${r.grad}`);
        }
      }
    }
  }
});

test('every loss: finite at temperature 1e-6 on ordinary scores, including ties', () => {
  for (const loss of allLosses()) {
    for (const s of [[0.3, 0.1, 0.2, 0.5], [0.3, 0.3, 0.3, 0.3], [1e-7, 0, -1e-7, 2e-7]]) {
      const r = runLoss(loss, s, [1, 0, 2, 0], [0, 4], { temperature: 1e-6 });
      for (const v of [...r.loss, ...r.grad]) if (!Number.isFinite(v)) assert.unreachable(`${loss} τ=1e-6 on ${s}: ${r.loss} ${r.grad}`);
    }
  }
});

test('MSE beyond float32 range saturates to FLT_MAX (closed form), with the exact gradient', () => {
  const r = runLoss('mse', [1e30, -1e30], [0, 0], [0, 2]);
  assert.is(r.loss[0], FLT_MAX, 'mean((±1e30)^2) = 1e60 saturates');
  // ∂/∂s_i = 2 (s_i − y_i) / n
  assert.ok(Math.abs(r.grad[0]! - 1e30) / 1e30 < 1e-6 && Math.abs(r.grad[1]! + 1e30) / 1e30 < 1e-6, `grad ${r.grad}`);
  const small = runLoss('mse', [2, 0], [1, 0], [0, 2]);
  assert.ok(Math.abs(small.loss[0]! - 0.5) < 1e-7, 'ordinary values are unchanged');
});

test('pairwise losses at ±1e30: the gradient pushes the misordered pair apart and stays bounded', () => {
  // doc 0 has the higher label but the lower score: its gradient must be negative (loss falls as s0 grows)
  // (lambdaRank with LightGBM's lambdarank_norm divides by 0.01 + |s_i − s_j|, so it is ~0 here by definition;
  // lambdaLoss clamps score differences to ±1e8 as allRank does, where the clamp passes no gradient)
  for (const [loss, options] of [['rankNet', {}], ['lambdaRank', { lambdarankNorm: false }]] as const) {
    const r = runLoss(loss, [-1e30, 1e30], [1, 0], [0, 2], options);
    assert.ok(r.grad[0]! < 0 && r.grad[1]! > 0, `${loss}: ${r.grad}`);
    assert.ok(Math.abs(r.grad[0]!) <= 10 && Math.abs(r.grad[1]!) <= 10, `${loss}: |grad| bounded by σ-scaled weights: ${r.grad}`);
  }
});

// ---- NeuralSort ---------------------------------------------------------------------------

test('NeuralSort at τ = 1e-6 is the hard sort permutation; at ±1e30 rows still sum to 1 and gradients are finite', () => {
  const s = [0.3, 0.1, 0.2, 0.5];
  const p = Tensor.zeros([16], { device: 'cpu' });
  K.neuralSort(f32(s), u32([0, 4]), p, { tau: 1e-6 });
  const P = Array.from(p.toArray());
  const order = [3, 0, 2, 1]; // descending scores
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) assert.ok(Math.abs(P[r * 4 + c]! - (order[r] === c ? 1 : 0)) < 1e-6, `P[${r},${c}] = ${P[r * 4 + c]}`);
  for (const [scores, tau] of [[[1e30, -1e30, 0, 3], 1], [[1e30, -1e30, 0, 3], 1e-6], [[FLT_MAX, -FLT_MAX, 1, 1], 1e-6], [[0.3, 0.3, 0.3, 0.3], 1e-6]] as const) {
    const ph = Tensor.zeros([16], { device: 'cpu' });
    K.neuralSort(f32([...scores]), u32([0, 4]), ph, { tau });
    const m = Array.from(ph.toArray());
    for (let r = 0; r < 4; r++) {
      const sum = m.slice(r * 4, r * 4 + 4).reduce((a, b) => a + b, 0);
      assert.ok(m.every(Number.isFinite) && Math.abs(sum - 1) < 1e-5, `τ=${tau} ${scores}: row ${r} sums to ${sum}`);
    }
    const gs = Tensor.zeros([4], { device: 'cpu' });
    K.neuralSortBackward(f32([...scores]), u32([0, 4]), f32(Array.from({ length: 16 }, (_, i) => (i % 3) - 1)), gs, { tau });
    assert.ok(Array.from(gs.toArray()).every(Number.isFinite), `backward τ=${tau} ${scores}: ${gs.toArray()}`);
    const out = Tensor.zeros([4], { device: 'cpu' });
    const stats = Tensor.zeros([8], { device: 'cpu' });
    K.neuralSortApply(f32([...scores]), f32([1, 2, 3, 4]), u32([0, 4]), out, stats, { tau });
    const gs2 = Tensor.zeros([4], { device: 'cpu' });
    const gv = Tensor.zeros([4], { device: 'cpu' });
    K.neuralSortApplyBackward(f32([...scores]), f32([1, 2, 3, 4]), u32([0, 4]), stats, f32([1, -1, 0.5, 2]), gs2, gv, { tau });
    for (const v of [...out.toArray(), ...gs2.toArray(), ...gv.toArray()]) assert.ok(Number.isFinite(v), `apply τ=${tau} ${scores}`);
  }
});

// ---- metrics -------------------------------------------------------------------------------

test('metrics with extreme scores stay in [0, 1]', () => {
  const ds = parseDataset('2 qid:1 1:1\n0 qid:1 1:1\n1 qid:1 1:1\n', 'm.txt');
  for (const scores of [[1e300, -1e300, 0], [1e30, 1e30, 1e30], [Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE]]) {
    const r = evaluate(ds, Float64Array.from(scores), { metrics: 'ndcg@1,3,map,err', convention: 'standard' });
    for (const [name, m] of Object.entries(r.metrics)) assert.ok(m.mean >= 0 && m.mean <= 1, `${name} = ${m.mean} for ${scores}`);
  }
  assert.match(caught(() => evaluate(ds, Float64Array.from([NaN, 0, 0]))).message, /scores\[0\] is NaN/);
  const inf = evaluate(ds, Float64Array.from([Infinity, -Infinity, 0]), { metrics: 'ndcg@3' });
  assert.is(inf.metrics['ndcg@3']!.mean, 1, '±Inf scores still order the documents');
});

test.run();

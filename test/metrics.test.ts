import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { evaluate, parseMetrics, readDatasetSync, resolveConvention, PRESETS, type Convention, type MetricSpec } from '../lib/index.js';
import { rankingMetrics } from '../lib/kernels.js';
import { caught, haveShared, sharedData, rng } from './helpers.js';

const near = (a: number, b: number, tol = 1e-9, msg = '') => assert.ok(Math.abs(a - b) <= tol, `${msg} ${a} vs ${b}`);
const L3 = 1 / Math.log2(3);

function lists(labels: number[][], scores: number[][]) {
  const offsets = [0];
  for (const l of labels) offsets.push(offsets[offsets.length - 1]! + l.length);
  return { data: { labels: Float32Array.from(labels.flat()), queryOffsets: Uint32Array.from(offsets) }, scores: Float64Array.from(scores.flat()) };
}

test('hand-computed values: one query, labels [2,0,1], scores [0.1,0.9,0.5]', () => {
  const { data, scores } = lists([[2, 0, 1]], [[0.1, 0.9, 0.5]]);
  const r = evaluate(data, scores, { metrics: 'ndcg@1,ndcg@3,dcg@3,map,map@2,p@2,mrr,err@3', convention: 'standard' }).metrics;
  near(r['ndcg@1']!.mean, 0);
  near(r['ndcg@3']!.mean, (L3 + 1.5) / (3 + L3));
  near(r['dcg@3']!.mean, L3 + 1.5);
  near(r['map']!.mean, (1 / 2 + 2 / 3) / 2);
  near(r['map@2']!.mean, 1 / 2 / 2);
  near(r['p@2']!.mean, 1 / 2);
  near(r['mrr']!.mean, 1 / 2);
  near(r['err@3']!.mean, 0.25 / 2 + (0.75 * 0.75) / 3);
  const letor = evaluate(data, scores, { metrics: 'ndcg@3,ndcg@5,p@5', convention: 'letor4' }).metrics;
  near(letor['ndcg@3']!.mean, (1 + 3 * L3) / 4);
  near(letor['ndcg@5']!.mean, 0, 0, 'LETOR 4.0: fewer than k docs scores 0');
  near(letor['p@5']!.mean, 2 / 5, 1e-12, 'LETOR 4.0: holes count as irrelevant');
  const l3 = evaluate(data, scores, { metrics: 'ndcg@5,p@5', convention: 'letor3' }).metrics;
  near(l3['ndcg@5']!.mean, (1 + 3 * L3) / 4, 1e-12, 'LETOR 3.0 rule: NDCG at the last position');
  near(l3['p@5']!.mean, 2 / 3);
});

test('hand-computed ties: labels [1,0,2], scores [1,1,0]', () => {
  const { data, scores } = lists([[1, 0, 2]], [[1, 1, 0]]);
  const ideal = 3 + L3;
  near(evaluate(data, scores, { metrics: 'ndcg', convention: 'standard' }).metrics['ndcg']!.mean, (1 + 1.5) / ideal);
  near(evaluate(data, scores, { metrics: 'ndcg', convention: { ties: 'pessimistic' } }).metrics['ndcg']!.mean, (L3 + 1.5) / ideal);
  near(evaluate(data, scores, { metrics: 'ndcg', convention: { ties: 'average' } }).metrics['ndcg']!.mean, (0.5 * (1 + L3) + 1.5) / ideal);
  // sklearn 1.2.1: ndcg_score([[1,0,2]], [[1,1,0]]) = 0.6900468833579672
  near(evaluate(data, scores, { metrics: 'ndcg', convention: 'sklearn' }).metrics['ndcg']!.mean, 0.6900468833579672, 1e-12);
});

test('queries with no relevant document: zero, one, skip; counts say how many are in the mean', () => {
  const { data, scores } = lists([[0, 0], [1, 0]], [[1, 2], [3, 4]]);
  const m = 'ndcg@10,map,mrr,p@1';
  const zero = evaluate(data, scores, { metrics: m, convention: 'standard' }).metrics;
  near(zero['ndcg@10']!.mean, L3 / 2);
  near(zero['map']!.mean, 0.25);
  const one = evaluate(data, scores, { metrics: m, convention: 'lightgbm' }).metrics;
  near(one['ndcg@10']!.mean, (1 + L3) / 2);
  near(one['mrr']!.mean, (1 + 0.5) / 2);
  near(one['p@1']!.mean, 0, 0, 'precision is defined (0) for an empty query under every convention');
  const skip = evaluate(data, scores, { metrics: m, convention: { noRelevant: 'skip' } }).metrics;
  near(skip['ndcg@10']!.mean, L3);
  assert.is(skip['ndcg@10']!.count, 1);
  assert.ok(Number.isNaN(skip['ndcg@10']!.perQuery[0]!));
  assert.is(skip['p@1']!.count, 2);
});

// ---- independent scalar reference, compared on random lists ----------------
// Ties 'average' is checked by brute force: the mean over every order of the tied documents.
function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs.slice()];
  const out: T[][] = [];
  xs.forEach((x, i) => {
    for (const p of permutations([...xs.slice(0, i), ...xs.slice(i + 1)])) out.push([x, ...p]);
  });
  return out;
}
function refOrderings(labels: number[], scores: number[], ties: Convention['ties']): number[][] {
  const idx = labels.map((_, i) => i);
  idx.sort((a, b) => scores[b]! - scores[a]! || (ties === 'pessimistic' ? labels[a]! - labels[b]! : 0) || a - b);
  if (ties !== 'average') return [idx.map((i) => labels[i]!)];
  const groups: number[][] = [];
  for (const i of idx) {
    const g = groups[groups.length - 1];
    if (g && scores[g[0]!] === scores[i]) g.push(i);
    else groups.push([i]);
  }
  let orders: number[][] = [[]];
  for (const g of groups) {
    const next: number[][] = [];
    for (const o of orders) for (const p of permutations(g)) next.push([...o, ...p]);
    orders = next;
  }
  return orders.map((o) => o.map((i) => labels[i]!));
}
function refMetric(labels: number[], scores: number[], spec: MetricSpec, c: Convention, gmax: number): number {
  const n = labels.length;
  const kk = spec.k === 0 ? n : spec.k;
  const gain = (l: number) => (c.gain === 'exp2' ? 2 ** l - 1 : l);
  const disc = (rank: number) => (c.discount === 'log2' ? 1 / Math.log2(rank + 1) : rank <= 2 ? 1 : 1 / Math.log2(rank));
  const rel = (l: number) => l >= c.relevanceThreshold;
  const R = labels.filter(rel).length;
  const undefinedValue = c.noRelevant === 'zero' ? 0 : c.noRelevant === 'one' ? 1 : NaN;
  const dcgOf = (ranked: number[]) => ranked.slice(0, kk).reduce((s, l, i) => s + gain(l) * disc(i + 1), 0);
  const orders = refOrderings(labels, scores, c.ties);
  const mean = (f: (ranked: number[]) => number) => orders.reduce((s, o) => s + f(o), 0) / orders.length;
  switch (spec.kind) {
    case 'dcg':
      return mean(dcgOf);
    case 'ndcg': {
      const ideal = dcgOf([...labels].sort((a, b) => b - a));
      if (!(ideal > 0)) return undefinedValue;
      if (c.shortList === 'zero' && n < kk) return 0;
      return mean(dcgOf) / ideal;
    }
    case 'p':
      return mean((o) => o.slice(0, kk).filter(rel).length) / (c.shortList === 'zero' ? kk : Math.min(kk, n));
    case 'map':
      if (R === 0) return undefinedValue;
      return mean((o) => {
        let hits = 0,
          s = 0;
        o.slice(0, kk).forEach((l, i) => {
          if (rel(l)) s += ++hits / (i + 1);
        });
        return s / Math.min(R, kk);
      });
    case 'mrr':
      if (R === 0) return undefinedValue;
      return mean((o) => {
        const i = o.slice(0, kk).findIndex(rel);
        return i < 0 ? 0 : 1 / (i + 1);
      });
    case 'err':
      return mean((o) => {
        let p = 1,
          e = 0;
        o.slice(0, kk).forEach((l, i) => {
          const r = (2 ** l - 1) / 2 ** gmax;
          e += (p * r) / (i + 1);
          p *= 1 - r;
        });
        return e;
      });
  }
}

for (const preset of Object.keys(PRESETS) as Array<keyof typeof PRESETS>) {
  for (const extra of [{}, { ties: 'pessimistic' as const }, { noRelevant: 'skip' as const }, { relevanceThreshold: 2 }]) {
    const conv = resolveConvention({ preset, ...extra });
    test(`native metrics equal the scalar reference on random lists: ${conv.name} ${JSON.stringify(extra)}`, () => {
      const rand = rng(1234 + preset.length);
      const labels: number[][] = [];
      const scores: number[][] = [];
      for (let q = 0; q < 40; q++) {
        const n = 1 + Math.floor(rand() * 7); // short lists: enumerating tie orders stays cheap
        labels.push(Array.from({ length: n }, () => (rand() < 0.3 ? 0 : Math.floor(rand() * 5))));
        scores.push(Array.from({ length: n }, () => Math.floor(rand() * 4) / 4)); // many ties
      }
      labels.push([0, 0, 0]);
      scores.push([1, 2, 3]);
      const { data, scores: flat } = lists(labels, scores);
      const names = conv.ties === 'average' ? 'ndcg@1,3,5,10,ndcg,dcg@3,p@1,p@5' : 'ndcg@1,3,5,10,ndcg,dcg@3,p@1,p@5,map,map@3,mrr,mrr@2,err@3,err';
      const specs = parseMetrics(names);
      const r = evaluate(data, flat, { metrics: specs, convention: conv });
      const gmax = Math.max(...labels.flat());
      for (const s of specs) {
        const vals = labels.map((l, q) => refMetric(l, scores[q]!, s, conv, gmax));
        vals.forEach((v, q) => {
          const got = r.metrics[s.name]!.perQuery[q]!;
          if (Number.isNaN(v)) assert.ok(Number.isNaN(got), `${s.name} query ${q}: expected NaN, got ${got}`);
          else near(got, v, 1e-9, `${s.name} query ${q}`);
        });
        const kept = vals.filter((v) => !Number.isNaN(v));
        near(r.metrics[s.name]!.mean, kept.reduce((a, b) => a + b, 0) / kept.length, 1e-9, `${s.name} mean`);
        assert.is(r.metrics[s.name]!.count, kept.length);
      }
    });
  }
}

// ---- known values on real data (shared/notes/ndcg-conventions-and-baselines.md) ----
const ORACLE: Array<[number, number, number, number]> = [
  // fold, oracle NDCG@1 (standard, no relevant -> 0), oracle NDCG@10 (letor4), all-zero fraction
  [1, 0.6731, 0.3333, 0.327],
  [2, 0.6688, 0.3185, 0.331],
  [3, 0.7134, 0.4204, 0.287],
  [4, 0.7771, 0.4395, 0.223],
  [5, 0.7643, 0.3567, 0.236],
];
for (const [fold, ndcg1, letor10, allZero] of ORACLE) {
  (haveShared ? test : test.skip)(`MQ2008 Fold${fold} test, oracle ranking: known NDCG values under each convention`, () => {
    const ds = readDatasetSync(join(sharedData, `MQ2008/Fold${fold}/test.txt`));
    const std = evaluate(ds, ds.labels, { metrics: 'ndcg@1,ndcg@10', convention: 'standard' }).metrics;
    near(std['ndcg@1']!.mean, ndcg1, 5e-5, 'standard ndcg@1');
    near(std['ndcg@10']!.mean, ndcg1, 5e-5, 'standard ndcg@10 (oracle: 1 for every query with a relevant doc)');
    const l4 = evaluate(ds, ds.labels, { metrics: 'ndcg@10', convention: 'letor4' }).metrics;
    near(l4['ndcg@10']!.mean, letor10, 5e-5, 'letor4 ndcg@10');
    const lgb = evaluate(ds, ds.labels, { metrics: 'ndcg@1', convention: 'lightgbm' }).metrics;
    near(lgb['ndcg@1']!.mean, 1, 1e-12, 'lightgbm: oracle scores 1 everywhere');
    near(lgb['ndcg@1']!.mean - std['ndcg@1']!.mean, allZero, 5e-4, 'difference = all-zero fraction');
  });
}

(haveShared ? test : test.skip)('MQ2008 Fold1 test: the three oracle figures quoted in the issue', () => {
  const ds = readDatasetSync(join(sharedData, 'MQ2008/Fold1/test.txt'));
  const fmt = (x: number) => x.toFixed(4);
  assert.is(fmt(evaluate(ds, ds.labels, { metrics: 'ndcg@10', convention: 'letor4' }).metrics['ndcg@10']!.mean), '0.3333');
  assert.is(fmt(evaluate(ds, ds.labels, { metrics: 'ndcg@10', convention: 'standard' }).metrics['ndcg@10']!.mean), '0.6731');
  assert.is(fmt(evaluate(ds, ds.labels, { metrics: 'ndcg@1', convention: 'standard' }).metrics['ndcg@1']!.mean), '0.6731');
});

test('parseMetrics: short form, aliases, canonical names, errors', () => {
  assert.equal(parseMetrics('ndcg@1,3,5,10').map((m) => m.name), ['ndcg@1', 'ndcg@3', 'ndcg@5', 'ndcg@10']);
  assert.equal(parseMetrics('NDCG@1, ndcg@10 ,MAP,precision@5,ap@3,mrr,err@10,ndcg').map((m) => m.name), [
    'ndcg@1', 'ndcg@10', 'map', 'p@5', 'map@3', 'mrr', 'err@10', 'ndcg',
  ]);
  assert.match(caught(() => parseMetrics('ndgc@10')).message, /unknown metric 'ndgc@10'/);
  assert.match(caught(() => parseMetrics('3,ndcg')).message, /bare cut-off must follow a metric/);
  assert.match(caught(() => parseMetrics('ndcg@0')).message, /k must be an integer >= 1/);
  assert.match(caught(() => parseMetrics('p')).message, /precision needs a cut-off/);
  assert.match(caught(() => parseMetrics('')).message, /no metrics/);
});

test('conventions: presets resolve, overrides rename, bad values name the key', () => {
  assert.is(resolveConvention().name, 'standard');
  assert.is(resolveConvention('letor4').shortList, 'zero');
  assert.is(resolveConvention({ preset: 'letor4', ties: 'average' }).name, 'custom (from letor4)');
  assert.is(resolveConvention({ preset: 'letor4', ties: 'stable' }).name, 'letor4');
  assert.match(caught(() => resolveConvention('trec' as never)).message, /'trec' is not a preset/);
  assert.match(caught(() => resolveConvention({ gain: 'cubic' as never })).message, /convention\.gain = "cubic"; allowed: exp2, linear/);
  assert.match(caught(() => resolveConvention({ bogus: 1 } as never)).message, /convention\.bogus is not a convention field/);
});

test('bad inputs: wrong types and lengths, NaN scores, tie-averaged MAP', () => {
  const { data, scores } = lists([[1, 0]], [[1, 2]]);
  assert.instance(caught(() => evaluate(data, new Float64Array(3))), RangeError);
  assert.instance(caught(() => evaluate({ labels: [1, 0], queryOffsets: data.queryOffsets } as never, scores)), TypeError);
  assert.match(caught(() => evaluate(data, Float64Array.from([1, NaN]))).message, /scores\[1\] is NaN/);
  assert.match(caught(() => evaluate(data, scores, { metrics: 'map', convention: 'sklearn' })).message, /ties 'average'.*map needs ties 'stable' or 'pessimistic'/);
  assert.match(caught(() => evaluate({ labels: data.labels, queryOffsets: Uint32Array.from([0, 5]) }, scores)).message, /must end at the number of documents \(2\)/);
  assert.match(caught(() => evaluate({ labels: data.labels, queryOffsets: Uint32Array.from([1, 2]) }, scores)).message, /queryOffsets\[0\] must be 0/);
  // the raw kernel entry point checks types itself
  assert.instance(caught(() => rankingMetrics(data.labels, new Int32Array(2) as never, scores, [['ndcg', 1]])), TypeError);
  assert.match(caught(() => rankingMetrics(data.labels, data.queryOffsets, scores, [['foo' as never, 1]])).message, /'foo' is not a metric/);
  assert.match(caught(() => rankingMetrics(data.labels, data.queryOffsets, scores, [['ndcg', -1]])).message, /k\) must be an integer/);
});

test('scores may be Float32Array or number[]; per-query values are returned', () => {
  const { data } = lists([[2, 0, 1], [0, 1]], [[0, 0, 0], [0, 0]]);
  const a = evaluate(data, Float32Array.from([3, 2, 1, 0, 1]), { metrics: 'ndcg@2' });
  const b = evaluate(data, [3, 2, 1, 0, 1], { metrics: 'ndcg@2' });
  assert.equal(Array.from(a.metrics['ndcg@2']!.perQuery), Array.from(b.metrics['ndcg@2']!.perQuery));
  assert.is(a.metrics['ndcg@2']!.perQuery.length, 2);
  near(a.metrics['ndcg@2']!.perQuery[1]!, 1);
});

test.run();

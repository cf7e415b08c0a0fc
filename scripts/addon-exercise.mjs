// Exercises every native entry point of the addon once or a few times, plus the
// error paths (thrown C++ exceptions converted to JS errors), async jobs, views,
// dispose and garbage collection: the workload of scripts/valgrind.sh (plain JS,
// no TypeScript loader, so it runs in reasonable time under valgrind).
//   node --expose-gc scripts/addon-exercise.mjs        (ORDO_PREBUILD picks the addon)
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const addon = require('node-gyp-build')(root);
const K = addon.kernels;
const { Tensor } = addon;
const cpu = { device: 'cpu' };
const f32 = (a, shape) => Tensor.from(Float32Array.from(a), shape, { device: 'cpu', copy: true });
const u32 = (a) => Tensor.from(Uint32Array.from(a), undefined, { device: 'cpu', copy: true });
const zeros = (shape, dtype = 'f32') => Tensor.zeros(shape, { device: 'cpu', dtype });
let errors = 0;
const expectError = (fn) => {
  try {
    fn();
  } catch {
    errors++;
    return;
  }
  throw new Error(`expected an error from ${fn}`);
};

const dir = mkdtempSync(join(tmpdir(), 'ordo-exercise-'));
try {
  // readers
  const data = join(dir, 'd.txt');
  writeFileSync(data, '2 qid:1 1:0.5 2:1 #docid = a\n0 qid:1 1:0.25\n1 qid:2 2:3 #docid = b\n0 qid:2 1:1\n');
  writeFileSync(join(dir, 'q.query'), '2\n2\n');
  writeFileSync(join(dir, 'nq.txt'), '1 1:1\n0 1:2\n1 2:1\n0 1:3\n');
  writeFileSync(join(dir, 's.txt'), '0.5\n0.1\n0.3\n0.2\n');
  const ds = addon.readDatasetSync(data);
  const ds2 = await addon.readDataset(join(dir, 'nq.txt'), { queryFile: join(dir, 'q.query') });
  addon.parseDatasetText('1 qid:1 1:nan\n', 'x', { allowNonFinite: true, numFeatures: 3 });
  expectError(() => addon.parseDatasetText('1 qid:1 1:nan\n'));
  expectError(() => addon.readDatasetSync(join(dir, 'missing.txt')));
  await addon.readDataset(join(dir, 'missing.txt')).catch(() => errors++);
  const scores = addon.readScores(join(dir, 's.txt'));
  addon.parseScoresText('1\n2\n');
  expectError(() => addon.parseScoresText('1\n\n2\n'));
  // metrics and backend
  addon.evaluate(ds.labels, ds.queryOffsets, scores, [['ndcg', 10], ['map', 0], ['err', 3], ['p', 2], ['mrr', 0], ['dcg', 2]], { ties: 'pessimistic' });
  expectError(() => addon.evaluate(ds.labels, ds.queryOffsets, new Float64Array(3), [['ndcg', 1]], {}));
  addon.cudaStatus();
  addon.selectBackend();
  addon.cudaCompiled();
  void ds2;

  // tensors
  const t = f32([1, 2, 3, 4, 5, 6], [2, 3]);
  t.toArray();
  t.copyFrom(Float32Array.from([6, 5, 4, 3, 2, 1]));
  const v = t.view([3], 3);
  v.toArray();
  t.to('cpu').dispose();
  const shared = Float32Array.from([1, 2, 3]);
  const view = Tensor.from(shared, [3], cpu);
  structuredClone(shared.buffer, { transfer: [shared.buffer] });
  expectError(() => view.toArray());
  expectError(() => Tensor.zeros([-1]));
  expectError(() => t.view([2], 1e300));
  t.dispose();
  expectError(() => v.toArray());
  for (const d of ['i32', 'u32', 'u8']) zeros([4], d).toArray();

  // dense kernels, sync and async
  const a = f32(Array.from({ length: 12 }, (_, i) => Math.sin(i)), [3, 4]);
  const b = f32(Array.from({ length: 8 }, (_, i) => Math.cos(i)), [4, 2]);
  const c = zeros([3, 2]);
  K.sgemm(a, b, c);
  await K.sgemmAsync(a, b, c, { alpha: 2, beta: 1 });
  K.addBias(c, f32([1, 2]));
  K.biasBackward(c, zeros([2]));
  for (const act of ['identity', 'relu', 'silu', 'gelu', 'tanh']) {
    K.activation(a, zeros([3, 4]), act);
    K.activationBackward(a, a, zeros([3, 4]), act);
  }
  const mean = zeros([3]), rstd = zeros([3]), y = zeros([3, 4]);
  K.layerNorm(a, f32([1, 1, 1, 1]), zeros([4]), y, mean, rstd);
  K.layerNormBackward(y, a, f32([1, 1, 1, 1]), mean, rstd, zeros([3, 4]), zeros([4]), zeros([4]));
  const mask = zeros([12], 'u8');
  K.dropout(a, zeros([3, 4]), mask, { p: 0.5, seed: 3 });
  K.dropoutBackward(a, mask, zeros([3, 4]), { p: 0.5 });
  K.adamUpdate(f32([1, 2]), f32([0.1, 0.2]), zeros([2]), zeros([2]), { step: 1 });
  K.sgdUpdate(f32([1, 2]), f32([0.1, 0.2]), zeros([2]), { momentum: 0.9 });
  K.gatherRows(a, u32([2, 0]), zeros([2, 4]));
  K.scale(a, 0.5);
  K.sum(a);
  K.sumSquares(a);
  K.stats();
  K.usesAvx2();
  K.threads(K.threads());
  expectError(() => K.sgemm(a, a, c));

  // NeuralSort and losses
  const s = f32([0.3, 0.1, 0.2, 0.9, -1]);
  const off = u32([0, 3, 5]);
  const p = zeros([9 + 4]);
  K.neuralSort(s, off, p, { tau: 0.5 });
  K.neuralSortBackward(s, off, p, zeros([5]), { tau: 0.5 });
  await K.neuralSortAsync(s, off, p, { tau: 0.5, gumbel: true, seed: 1 });
  const out = zeros([5]), stats = zeros([10]);
  K.neuralSortApply(s, f32([1, 2, 3, 4, 5]), off, out, stats);
  K.neuralSortApplyBackward(s, f32([1, 2, 3, 4, 5]), off, stats, f32([1, 1, 1, 1, 1]), zeros([5]), zeros([5]));
  const labels = f32([2, 0, 1, 1, 0]);
  for (const loss of ['mse', 'sigmoidCrossEntropy', 'softmaxCrossEntropy', 'rankNet', 'lambdaRank', 'listNet', 'listMLE', 'approxNDCG', 'neuralNDCG', 'neuralNDCGTransposed', 'lambdaLoss']) {
    K.rankingLoss(loss, s, labels, off, zeros([2]), zeros([5]), { temperature: 0.5 });
  }
  await K.rankingLossAsync('listNet', s, labels, off, zeros([2]), null);
  expectError(() => K.rankingLoss('listNet', s, f32([1, NaN, 0, 0, 0]), off, zeros([2]), null));

  // MLP and transformer
  const cfg = { in: 4, hidden: [6, 5], out: 1, activation: 'gelu', layerNorm: true, dropout: 0.2 };
  K.mlpLayout(cfg);
  const params = f32(K.mlpInitParams(cfg, 7));
  const cache = K.mlpCache(cfg, 8);
  const x = f32(Array.from({ length: 12 }, (_, i) => i / 12), [3, 4]);
  K.mlpForward(cfg, params, x, zeros([3]), cache, { training: true, seed: 2 });
  K.mlpBackward(cfg, params, cache, f32([1, -1, 0.5]), zeros([params.numel]), zeros([3, 4]));
  await K.mlpForwardAsync(cfg, params, x, zeros([3]), cache);
  await K.mlpBackwardAsync(cfg, params, cache, f32([1, -1, 0.5]), zeros([params.numel]), null);
  K.mlpCacheDispose(cache);
  expectError(() => K.mlpForward(cfg, params, x, zeros([3]), cache));
  const tcfg = { in: 4, dModel: 8, heads: 2, layers: 2, dFF: 16, dropout: 0.1 };
  K.transformerLayout(tcfg);
  const tp = f32(K.transformerInitParams(tcfg, 3));
  const tc = K.transformerCache(tcfg, 8, 4);
  const tx = f32(Array.from({ length: 20 }, (_, i) => Math.sin(i)), [5, 4]);
  K.transformerForward(tcfg, tp, tx, u32([0, 2, 5]), zeros([5]), tc, { training: true, seed: 5 });
  K.transformerBackward(tcfg, tp, tc, f32([1, 0, -1, 0.5, 2]), zeros([tp.numel]), zeros([5, 4]));
  await K.transformerForwardAsync(tcfg, tp, tx, u32([0, 2, 5]), zeros([5]), tc);
  await K.transformerBackwardAsync(tcfg, tp, tc, f32([1, 0, -1, 0.5, 2]), zeros([tp.numel]), null);
  K.transformerCacheDispose(tc);

  // a garbage-argument sweep (exceptions thrown and converted many times)
  const junk = [undefined, null, -1, NaN, 1e300, 'x', {}, [], f32([1]), new Float32Array(2), new Proxy({}, { get() { throw new Error('trap'); } })];
  for (const [name, fn] of Object.entries(K)) {
    if (typeof fn !== 'function' || name === 'threads') continue;
    for (let i = 0; i < junk.length; i++) {
      try {
        const r = fn(junk[i], junk[(i + 3) % junk.length], junk[(i + 5) % junk.length], junk[(i + 7) % junk.length]);
        if (r && typeof r.then === 'function') await r.catch(() => {});
      } catch {
        errors++;
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
// Drop every handle and let the finalizers (tensor storage, caches, external arrays) run.
if (globalThis.gc) for (let i = 0; i < 3; i++) {
  globalThis.gc();
  await new Promise((r) => setTimeout(r, 10));
}
console.log(`addon exercise: done (${errors} expected errors)`);

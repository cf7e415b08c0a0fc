// Limits (issue #9): a query with 100,000 documents, a generated file with
// millions of rows, very large model sizes, and sizes read from files. Each
// works within its stated bounds or fails early with a message naming the limit;
// no allocation is sized by a value read from a file without a check.
// The row count of the generated file is ORDO_LIMITS_ROWS (default 1,000,000;
// the 10,000,000-row run: ORDO_LIMITS_ROWS=10000000, see README "Limits").
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDataset, readDataset } from '../lib/data.js';
import { evaluate } from '../lib/evaluate.js';
import { decodeRanker } from '../lib/persist.js';
import { resolveConfig } from '../lib/config.js';
import * as K from '../lib/kernels.js';
import { Tensor } from '../lib/kernels.js';
import { caught } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ordo-limits-'));
const cpu = { device: 'cpu' as const };

test('a query with 100,000 documents: read, evaluated and given O(n) losses', () => {
  const n = 100_000;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(`${i % 5} qid:1 1:${(i % 997) / 997} 2:${i % 2}`);
  const ds = parseDataset(lines.join('\n'), 'big-query.txt');
  assert.is(ds.numQueries, 1);
  assert.is(ds.numDocs, n);
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) scores[i] = ds.labels[i]! + 0.001 * ds.features[i * 2]!; // label-sorted: the ideal ranking
  const r = evaluate(ds, scores, { metrics: 'ndcg@10,ndcg,map' });
  assert.ok(Math.abs(r.metrics['ndcg@10']!.mean - 1) < 1e-9 && Math.abs(r.metrics.ndcg!.mean - 1) < 1e-9, 'ideal order: NDCG 1');
  const s = Tensor.from(Float32Array.from(scores), undefined, { device: 'cpu', copy: true });
  const y = Tensor.from(ds.labels, undefined, { device: 'cpu', copy: true });
  const off = Tensor.from(ds.queryOffsets, undefined, { device: 'cpu', copy: true });
  for (const loss of ['listNet', 'softmaxCrossEntropy', 'mse', 'listMLE'] as const) {
    const l = Tensor.zeros([1], cpu);
    const g = Tensor.zeros([n], cpu);
    K.rankingLoss(loss, s, y, off, l, g);
    assert.ok(Number.isFinite(l.toArray()[0]!), `${loss} on 100k docs`);
    assert.ok(g.toArray().every(Number.isFinite), `${loss} gradient on 100k docs`);
  }
  // NeuralSort's P̂ is n x n (10^10 floats here): the caller must size pHat, and a wrong size is refused before any work.
  assert.match(caught(() => K.neuralSort(s, off, Tensor.zeros([n], cpu))).message, /pHat must hold 10000000000 elements/);
});

test('a generated file with millions of rows is read in bounded memory', async () => {
  const rows = Number(process.env.ORDO_LIMITS_ROWS ?? 1_000_000);
  const path = join(dir, 'rows.txt');
  const fd = openSync(path, 'w');
  const perQuery = 50;
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    chunk += `${i % 3} qid:${Math.floor(i / perQuery)} 1:${i % 7} 3:0.5\n`;
    if (chunk.length > 1 << 20) {
      writeSync(fd, chunk);
      chunk = '';
    }
  }
  writeSync(fd, chunk);
  closeSync(fd);
  const before = process.memoryUsage().rss;
  const t0 = performance.now();
  const ds = await readDataset(path);
  const ms = performance.now() - t0;
  assert.is(ds.numDocs, rows);
  assert.is(ds.numFeatures, 3);
  assert.is(ds.numQueries, Math.ceil(rows / perQuery));
  assert.is(ds.features[(rows - 1) * 3], (rows - 1) % 7);
  const grown = (process.memoryUsage().rss - before) / rows;
  // Dense features (12 B/row) + labels (4) + offsets; the reader's transient CSR
  // (~16 B per value) is freed: allow a generous 200 B per row.
  assert.ok(grown < 200, `RSS grew ${grown.toFixed(0)} B per row`);
  console.log(`  limits: read ${rows} rows in ${(ms / 1000).toFixed(2)} s, RSS +${((grown * rows) / 2 ** 20).toFixed(0)} MiB`);
  rmSync(path);
});

test('sizes read from a file are checked before allocating', () => {
  // a huge feature index
  assert.match(caught(() => parseDataset('1 qid:1 4194305:1\n', 'idx.txt')).message, /above the limit of 4194304 features/);
  // rows x features beyond the dense limit: refused before the matrix is allocated
  const text = '0 qid:1 4194304:1\n' + '0 qid:1 1:1\n'.repeat(1024);
  assert.match(caught(() => parseDataset(text, 'dense.txt')).message, /exceed the dense-matrix limit of 4294967296 elements/);
  // a group size that does not fit 32-bit offsets
  writeFileSync(join(dir, 'g.query'), '4294967295\n');
  assert.match(caught(() => parseDataset('1 1:1\n', 'g.txt', { queryFile: join(dir, 'g.query') })).message, /group size 4294967295 is too large/);
  // a model file whose header claims a huge architecture but holds a few bytes
  const header = JSON.stringify({
    __metadata__: { format: 'ordo-ranker', format_version: '1', model: JSON.stringify({ kind: 'mlp', hidden: [30000, 30000] }), num_features: '30000', preprocessing: '{"numFeatures":30000,"steps":[]}', checksum: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
  });
  const buf = Buffer.alloc(8 + header.length);
  buf.writeBigUInt64LE(BigInt(header.length));
  buf.write(header, 8);
  const e = caught(() => decodeRanker(buf, 'huge.safetensors'));
  assert.is(e.code, 'ORDO_MODEL_ERROR');
  assert.match(e.message, /tensor "layers\.0\.weight" is missing/, 'refused from the header, before the 900M parameters are allocated');
});

test('very large model sizes: allowed up to the stated limits, refused early beyond them', () => {
  // large but allowed: one hidden layer of 2,000,000 units
  const wide = { in: 2, hidden: [2_000_000], out: 1 };
  assert.is(K.mlpParamCount(wide), 2 * 2_000_000 + 2_000_000 + 2_000_000 + 1);
  // beyond one Float32Array of parameters
  assert.match(caught(() => K.mlpParamCount({ in: 70000, hidden: [70000], out: 1 })).message, /more than ordo's limit of 4294967295/);
  assert.match(caught(() => K.mlpParamCount({ in: 3, hidden: [10_000_001], out: 1 })).message, /hidden\[0\] must be an integer >= 1/);
  // a cache larger than the machine
  assert.match(caught(() => K.mlpCache({ in: 2, hidden: [1_000_000], out: 1 }, 100_000_000)).message, /more than this machine's/);
  // the run config names the key and the limit
  assert.match(caught(() => resolveConfig({ model: { hidden: [1e8] } })).message, /'model\.hidden' must be an array of integers.*<= 10000000/);
  assert.match(caught(() => resolveConfig({ model: { dropout: 1 } })).message, /'model\.dropout'.*< 1/);
  assert.match(caught(() => resolveConfig({ seed: 2 ** 60 })).message, /'seed' must be an integer/);
  assert.match(caught(() => resolveConfig({ lossOptions: { temperature: 0 } })).message, /'lossOptions\.temperature'.*> 0/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();

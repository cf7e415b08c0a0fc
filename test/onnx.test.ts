// ONNX export, checked by running the exported file in onnxruntime-node (a dev dependency).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs, { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportOnnx, parseDataset, train, type Dataset, type MlpModelConfig, type PreprocessStep } from '../lib/index.js';
import { caught, rng } from './helpers.js';

type Ort = typeof import('onnxruntime-node');
let ort: Ort | undefined;
let ortError = '';
try {
  ort = (await import('onnxruntime-node')) as Ort;
  if (typeof ort.InferenceSession?.create !== 'function') ort = (ort as unknown as { default: Ort }).default;
} catch (e) {
  ortError = (e as Error).message.split('\n')[0]!;
}
const withOrt = (name: string, fn: () => Promise<void>) =>
  ort ? test(name, fn) : test.skip(`${name} (skipped: onnxruntime-node cannot be loaded here: ${ortError})`, fn);
if (!ort) console.warn(`onnx.test.ts: onnxruntime-node cannot be loaded (${ortError}); the ONNX runtime checks are skipped`);

// Features on different scales, some negative and some large (so log1p and standardize matter).
function synthetic(queries: number, docs: number, seed: number): Dataset {
  const r = rng(seed);
  const lines: string[] = [];
  for (let q = 0; q < queries; q++) {
    for (let d = 0; d < docs; d++) {
      const x = [r() * 2 - 1, (r() - 0.5) * 50, r() * 1000, r() < 0.3 ? 0 : -r() * 5, r()];
      const label = Math.max(0, Math.min(4, Math.round(2 * x[0]! + x[1]! / 25 + 2)));
      lines.push(`${label} qid:${q} ${x.map((v, j) => `${j + 1}:${v.toFixed(4)}`).join(' ')}`);
    }
  }
  return parseDataset(lines.join('\n'), `synthetic-${seed}`);
}

const data = synthetic(24, 10, 9);
const unseen = synthetic(10, 10, 10);
const tmp = mkdtempSync(join(tmpdir(), 'ordo-onnx-'));

async function compare(model: Partial<MlpModelConfig>, preprocess: PreprocessStep[], opset?: number): Promise<number> {
  const { ranker } = await train(data, { model, preprocess, epochs: 3, batchQueries: 8, lr: 1e-2, seed: 5, device: 'cpu' });
  const path = join(tmp, `m-${Math.random().toString(36).slice(2)}.onnx`);
  exportOnnx(ranker, path, opset === undefined ? {} : { opset });
  const session = await ort!.InferenceSession.create(path);
  assert.equal(session.inputNames, ['features']);
  assert.equal(session.outputNames, ['scores']);
  let worst = 0;
  for (const d of [data, unseen]) {
    const want = ranker.predict(d, { device: 'cpu' });
    const out = await session.run({ features: new ort!.Tensor('float32', d.features, [d.numDocs, d.numFeatures]) });
    const scores = out.scores!;
    assert.equal(scores.dims, [d.numDocs, 1]);
    assert.is(scores.type, 'float32');
    const got = scores.data as Float32Array;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i]! - got[i]!));
  }
  // a dynamic batch: one row works too
  const one = await session.run({ features: new ort!.Tensor('float32', data.features.slice(0, data.numFeatures), [1, data.numFeatures]) });
  assert.equal(one.scores!.dims, [1, 1]);
  await session.release();
  return worst;
}

const cases: [string, Partial<MlpModelConfig>, PreprocessStep[], number?][] = [
  ['relu MLP with standardize', { hidden: [16, 8], activation: 'relu' }, ['standardize']],
  ['tanh with layerNorm and log1p', { hidden: [12, 6], activation: 'tanh', layerNorm: true }, ['log1p', 'standardize']],
  ['gelu', { hidden: [8], activation: 'gelu' }, ['standardize']],
  ['silu with layerNorm, dropout (off at inference)', { hidden: [8, 8], activation: 'silu', layerNorm: true, dropout: 0.2 }, ['standardize']],
  ['gelu with layerNorm at opset 13 (LayerNorm composed)', { hidden: [8], activation: 'gelu', layerNorm: true }, ['log1p'], 13],
  ['identity / linear model without preprocessing', { hidden: [] }, []],
];
for (const [name, model, pre, opset] of cases) {
  withOrt(`onnxruntime scores match ranker.predict (max abs diff < 1e-4): ${name}`, async () => {
    const d = await compare(model, pre, opset);
    assert.ok(d < 1e-4, `max abs diff ${d}`);
  });
}

test('quantileNormal preprocessing and a bad opset are refused with a clear error; nothing is left behind', async () => {
  const { ranker } = await train(data, { model: { hidden: [4] }, preprocess: ['quantileNormal'], epochs: 1, seed: 1, device: 'cpu' });
  const path = join(tmp, 'q.onnx');
  const e = caught(() => exportOnnx(ranker, path));
  assert.match(e.message, /preprocessing step 'quantileNormal' cannot be expressed in ONNX/);
  assert.not.ok(fs.existsSync(path));
  assert.match(caught(() => exportOnnx(ranker, path, { opset: 7 })).message, /opset 7 is not supported/);
  assert.not.ok(readdirSync(tmp).some((f) => f.includes('.tmp-')));
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.run();

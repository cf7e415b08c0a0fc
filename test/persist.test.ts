import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs, { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ranker, loadRanker, parseDataset, saveRanker, train, type Dataset } from '../lib/index.js';
import * as K from '../lib/kernels.js';
import { caught, repoRoot, rng } from './helpers.js';

function synthetic(queries: number, docs: number, seed: number): Dataset {
  const r = rng(seed);
  const lines: string[] = [];
  for (let q = 0; q < queries; q++) {
    for (let d = 0; d < docs; d++) {
      const x = Array.from({ length: 5 }, () => (r() * 2 - 1) * 3);
      const label = Math.max(0, Math.min(4, Math.round(x[0]! - x[1]! + 2)));
      lines.push(`${label} qid:${q} ${x.map((v, j) => `${j + 1}:${v.toFixed(5)}`).join(' ')}`);
    }
  }
  return parseDataset(lines.join('\n'), `synthetic-${seed}`);
}

const data = synthetic(24, 10, 5);
const tmp = mkdtempSync(join(tmpdir(), 'ordo-persist-'));
const opts = { epochs: 2, batchQueries: 8, seed: 3, device: 'cpu' as const };
const trained = {
  plain: (await train(data, { ...opts, model: { hidden: [8, 4] } })).ranker,
  ln: (await train(data, { ...opts, model: { hidden: [6], activation: 'tanh', layerNorm: true }, preprocess: ['log1p', 'standardize', 'quantileNormal'] })).ranker,
  linear: (await train(data, { ...opts, model: { hidden: [] }, preprocess: [] })).ranker,
};
const ranker = trained.plain;
const modelPath = join(tmp, 'model.safetensors');
ranker.save(modelPath);

function bitwiseEqual(a: Float64Array, b: Float64Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** An independent safetensors reader (the format spec, nothing from lib/). */
function parseSafetensors(buf: Buffer) {
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + n)) as Record<string, any>;
  const data = buf.subarray(8 + n);
  const tensors: Record<string, { shape: number[]; values: Float32Array }> = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [b, e] = t.data_offsets as [number, number];
    const values = new Float32Array(e > b ? (e - b) / 4 : 0);
    for (let i = 0; i < values.length; i++) values[i] = data.readFloatLE(b + i * 4);
    tensors[name] = { shape: t.shape, values };
    assert.is(t.dtype, 'F32');
  }
  return { headerLength: n, header, metadata: header.__metadata__ as Record<string, string>, data, tensors };
}

test('save → load → predict gives bitwise identical scores (every architecture and preprocessing)', () => {
  for (const [name, r] of Object.entries(trained)) {
    const p = join(tmp, `${name}.safetensors`);
    r.save(p);
    const back = Ranker.load(p);
    assert.ok(back instanceof Ranker);
    assert.equal(back.model, r.model, name);
    assert.is(back.numFeatures, r.numFeatures);
    assert.equal(back.preprocessor.toJSON(), JSON.parse(JSON.stringify(r.preprocessor.toJSON())));
    assert.ok(Buffer.from(back.params.buffer).equals(Buffer.from(r.params.buffer)), `${name}: params`);
    assert.ok(bitwiseEqual(back.predict(data, { device: 'cpu' }), r.predict(data, { device: 'cpu' })), `${name}: scores`);
    assert.equal(back.meta, JSON.parse(JSON.stringify(r.meta)));
  }
  // the functional API is the same thing
  const p = join(tmp, 'fn.safetensors');
  saveRanker(ranker, p);
  assert.ok(readFileSync(p).equals(readFileSync(modelPath)));
  assert.ok(bitwiseEqual(loadRanker(p).predict(data, { device: 'cpu' }), ranker.predict(data, { device: 'cpu' })));
});

test('the file is plain safetensors: aligned JSON header, named tensors tiling the data, documented metadata', () => {
  const buf = readFileSync(modelPath);
  const f = parseSafetensors(buf);
  assert.is((8 + f.headerLength) % 8, 0, 'data region 8-byte aligned');
  assert.is(buf[8], 0x7b);
  const layout = K.mlpLayout(ranker.mlpConfig);
  const names = Object.keys(f.tensors).sort();
  assert.equal(names, ['layers.0.bias', 'layers.0.weight', 'layers.1.bias', 'layers.1.weight', 'layers.2.bias', 'layers.2.weight']);
  assert.equal(f.tensors['layers.0.weight']!.shape, [5, 8]);
  assert.equal(f.tensors['layers.1.weight']!.shape, [8, 4]);
  assert.equal(f.tensors['layers.2.weight']!.shape, [4, 1]);
  assert.equal(f.tensors['layers.2.bias']!.shape, [1]);
  layout.forEach((l, i) => {
    assert.equal(Array.from(f.tensors[`layers.${i}.weight`]!.values), Array.from(ranker.params.subarray(l.w, l.w + l.in * l.out)));
    assert.equal(Array.from(f.tensors[`layers.${i}.bias`]!.values), Array.from(ranker.params.subarray(l.b, l.b + l.out)));
  });
  // offsets tile the data region without holes
  const spans = Object.entries(f.header)
    .filter(([k]) => k !== '__metadata__')
    .map(([, t]) => t.data_offsets as [number, number])
    .sort((a, b) => a[0] - b[0]);
  let at = 0;
  for (const [b, e] of spans) {
    assert.is(b, at);
    at = e;
  }
  assert.is(at, f.data.length);
  const m = f.metadata;
  for (const v of Object.values(m)) assert.type(v, 'string');
  assert.is(m.format, 'ordo-ranker');
  assert.is(m.format_version, '1');
  assert.is(m.ordo_version, JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version);
  assert.is(m.num_features, '5');
  assert.equal(JSON.parse(m.model!), ranker.model);
  assert.equal(JSON.parse(m.preprocessing!).steps.map((s: { step: string }) => s.step), ['standardize']);
  assert.is(JSON.parse(m.meta!).loss, 'listNet');
  assert.is(m.checksum, createHash('sha256').update(f.data).digest('hex'));
  // layer norm tensors
  const ln = parseSafetensors(readFileSync(join(tmp, 'ln.safetensors')));
  assert.equal(ln.tensors['layers.0.ln.gamma']!.shape, [6]);
  assert.equal(ln.tensors['layers.0.ln.beta']!.shape, [6]);
  assert.not.ok('layers.1.ln.gamma' in ln.tensors);
});

function rewriteHeader(buf: Buffer, edit: (h: Record<string, any>) => void): Buffer {
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + n));
  edit(header);
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, buf.subarray(8 + n)]);
}

function loadErr(name: string, bytes: Buffer) {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  const e = caught(() => Ranker.load(p));
  assert.is(e.code, 'ORDO_MODEL_ERROR', e.message);
  assert.ok(e.message.includes(p), `the message names the file: ${e.message}`);
  return e.message;
}

test('corrupt, truncated, future-version and garbage files give clear errors', () => {
  const good = readFileSync(modelPath);
  const flipped = Buffer.from(good);
  flipped[flipped.length - 3]! ^= 0x10;
  assert.match(loadErr('flipped.safetensors', flipped), 'checksum mismatch: the file is corrupt');

  assert.match(loadErr('cut-data.safetensors', good.subarray(0, good.length - 7)), /truncated/);
  assert.match(loadErr('cut-header.safetensors', good.subarray(0, 100)), /truncated/);
  assert.match(loadErr('cut-length.safetensors', good.subarray(0, 5)), /truncated or empty/);
  assert.match(loadErr('empty.safetensors', Buffer.alloc(0)), /truncated or empty/);

  const future = rewriteHeader(good, (h) => (h.__metadata__.format_version = '2'));
  assert.match(loadErr('future.safetensors', future), 'model file format version 2 is newer than this ordo supports (1); upgrade ordo');
  assert.match(loadErr('future-minor.safetensors', rewriteHeader(good, (h) => (h.__metadata__.format_version = '2.1'))), /version 2\.1 is newer/);
  // a minor revision of the same major still loads
  const minorPath = join(tmp, 'minor.safetensors');
  writeFileSync(minorPath, rewriteHeader(good, (h) => (h.__metadata__.format_version = '1.3')));
  assert.ok(bitwiseEqual(Ranker.load(minorPath).predict(data, { device: 'cpu' }), ranker.predict(data, { device: 'cpu' })));

  const garbage = Buffer.from('this is not a model at all, just some text that goes on for a while\n'.repeat(4));
  assert.match(loadErr('garbage.bin', garbage), /not an ordo model file/);
  const badJson = Buffer.concat([Buffer.from([16, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a": [1, 2,,]}')]);
  assert.match(loadErr('badjson.safetensors', Buffer.concat([badJson, Buffer.alloc(8)])), /header is not valid JSON/);
  assert.match(loadErr('other.safetensors', rewriteHeader(good, (h) => (h.__metadata__ = { format: 'pt' }))), /not an ordo ranker/);
  assert.match(
    loadErr('f16.safetensors', rewriteHeader(good, (h) => (h['layers.0.bias'].dtype = 'F16'))),
    /tensor "layers.0.bias" has dtype "F16"; ordo models hold F32 only/,
  );
  const badShape = rewriteHeader(good, (h) => {
    h['layers.0.weight'].shape = [8, 5];
  });
  assert.match(loadErr('shape.safetensors', badShape), /tensor "layers.0.weight" has shape \[8, 5\]; the architecture needs \[5, 8\]/);
  const wrongArch = rewriteHeader(good, (h) => (h.__metadata__.model = JSON.stringify({ ...ranker.model, hidden: [8, 4, 2] })));
  assert.match(loadErr('arch.safetensors', wrongArch), /tensor "layers.2.weight" has shape \[4, 1\]; the architecture needs \[4, 2\]/);
  assert.match(loadErr('metajson.safetensors', rewriteHeader(good, (h) => (h.__metadata__.preprocessing = '{oops'))), /__metadata__.preprocessing is not valid JSON/);

  const missing = join(tmp, 'does-not-exist.safetensors');
  const e = caught(() => Ranker.load(missing));
  assert.is(e.code, 'ORDO_MODEL_ERROR');
  assert.match(e.message, missing);
});

test('atomic write: no temp file is left, and a write that fails midway leaves the old model intact', () => {
  const p = join(tmp, 'atomic', 'model.safetensors');
  fs.mkdirSync(join(tmp, 'atomic'));
  trained.ln.save(p);
  const before = readFileSync(p);
  const realWrite = fs.writeSync;
  let calls = 0;
  // simulate a crash (disk full) after part of the new model has been written
  (fs as { writeSync: unknown }).writeSync = (fd: number, buf: Uint8Array, off?: number, len?: number) => {
    if (++calls > 1) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return realWrite(fd, buf, off ?? 0, Math.min(len ?? buf.length, 64));
  };
  let err: Error & { code?: string };
  try {
    err = caught(() => ranker.save(p));
  } finally {
    (fs as { writeSync: unknown }).writeSync = realWrite;
  }
  assert.ok(calls > 1, 'the failure was hit');
  assert.is(err.code, 'ORDO_MODEL_ERROR');
  assert.match(err.message, /ENOSPC/);
  assert.ok(readFileSync(p).equals(before), 'the old file is untouched');
  assert.equal(readdirSync(join(tmp, 'atomic')), ['model.safetensors'], 'no temp file remains');
  assert.equal(Ranker.load(p).model, trained.ln.model);
  // a successful overwrite replaces it and leaves nothing else behind
  ranker.save(p);
  assert.ok(readFileSync(p).equals(readFileSync(modelPath)));
  assert.equal(readdirSync(join(tmp, 'atomic')), ['model.safetensors']);
  // saving into a missing directory fails cleanly
  const bad = join(tmp, 'no-such-dir', 'm.safetensors');
  assert.is(caught(() => ranker.save(bad)).code, 'ORDO_MODEL_ERROR');
  assert.not.ok(existsSync(join(tmp, 'no-such-dir')));
  assert.not.ok(readdirSync(tmp).some((f) => f.includes('.tmp-')));
});

test('metadata that is not JSON-serialisable is refused before anything is written', () => {
  const r = new Ranker(ranker.model, ranker.numFeatures, ranker.preprocessor, ranker.params, { big: 1n });
  const p = join(tmp, 'bigint.safetensors');
  const e = caught(() => r.save(p));
  assert.is(e.code, 'ORDO_MODEL_ERROR');
  assert.match(e.message, /not JSON-serialisable/);
  assert.not.ok(existsSync(p));
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.run();

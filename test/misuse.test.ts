// Misuse of every native entry point and Tensor method (issue #9): wrong types,
// wrong lengths, negative or huge sizes, NaN/Inf, detached or shrunk buffers,
// disposed tensors, the wrong device, concurrent async calls on the same tensor
// or cache, and calls from worker_threads. Each must throw a clear JS error (or
// work); none may crash the process. Under scripts/sanitize.sh and
// scripts/valgrind.sh the same calls also prove no memory error happens.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../lib/native.js';
import * as K from '../lib/kernels.js';
import { Tensor, backend } from '../lib/kernels.js';
import { caught, repoRoot, rng } from './helpers.js';

const addon = native();
const info = backend();
const cpu = { device: 'cpu' as const };
const f32 = (a: number[] | Float32Array, shape?: number[]) => Tensor.from(a instanceof Float32Array ? a : Float32Array.from(a), shape, { device: 'cpu', copy: true });
const u32 = (a: number[]) => Tensor.from(Uint32Array.from(a), undefined, { device: 'cpu', copy: true });

function detachedFloat32(n: number): Float32Array {
  const a = new Float32Array(n);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
}

/** Awaits a value that may be a Promise; returns the error thrown or rejected, or null. */
async function outcome(fn: () => unknown): Promise<unknown> {
  try {
    const r = fn();
    if (r && typeof (r as Promise<unknown>).then === 'function') await r;
    return null;
  } catch (e) {
    return e;
  }
}

// ---- a sweep over every exported function with garbage arguments ---------------------------

function garbage(): unknown[] {
  const disposed = f32([1, 2, 3]);
  disposed.dispose();
  const throwing = new Proxy({}, { get: () => { throw new Error('getter throws'); } }); // prettier-ignore
  const getterObj = Object.defineProperty({}, 'device', { get: () => { throw new Error('device getter throws'); } }); // prettier-ignore
  return [
    undefined, null, 0, -1, 0.5, NaN, Infinity, -Infinity, 1e300, 2 ** 53, -(2 ** 31), '', 'cpu', 'cuda', 'relu', 'ndcg', 'x\u0000y',
    {}, [], [1e300], [-1], [2, 3], [[1, 2]], [['ndcg', 10]], { device: 'cuda' }, { dtype: 'f64' }, { hidden: [1e12] }, { in: 3, hidden: [4] },
    10n, Symbol('s'), () => 1, new Float32Array(3), new Float64Array(3), new Uint32Array([0, 5]), new Uint8Array(2), new Int32Array(1),
    detachedFloat32(4), disposed, f32([1, 2, 3, 4, 5, 6], [2, 3]), f32([1]), u32([0, 1]), Tensor.zeros([3], { dtype: 'u8', device: 'cpu' }),
    throwing, getterObj, { handle: 1 }, { handle: {} }, { queryFile: 5 }, { numFeatures: -1 }, { numFeatures: 1e300 },
  ];
}

const SKIP = new Set(['threads']); // changes the process-wide thread count (tested on its own below)

test('every exported native function survives garbage arguments (Error or a value, never a crash)', async () => {
  const values = garbage();
  const r = rng(2024);
  const fns: Array<[string, (...a: unknown[]) => unknown]> = [];
  for (const [name, fn] of Object.entries(addon)) if (typeof fn === 'function' && name !== 'Tensor') fns.push([name, fn as never]);
  for (const [name, fn] of Object.entries(addon.kernels)) if (typeof fn === 'function' && !SKIP.has(name)) fns.push([`kernels.${name}`, fn as never]);
  fns.push(['Tensor.from', addon.Tensor.from as never], ['Tensor.zeros', addon.Tensor.zeros as never]);
  assert.ok(fns.length > 40, `found ${fns.length} functions`);
  let calls = 0, errors = 0;
  for (const [name, fn] of fns) {
    for (let trial = 0; trial < 40; trial++) {
      const n = Math.floor(r() * 9);
      const args = Array.from({ length: n }, () => values[Math.floor(r() * values.length)]);
      const e = await outcome(() => fn(...args));
      calls++;
      if (e !== null) {
        errors++;
        if (!(e instanceof Error) || e.message.length < 8) assert.unreachable(`${name}(${args.map((a) => typeof a).join(', ')}) threw a non-Error or an empty message: ${String(e)}`);
      }
    }
  }
  assert.ok(errors > calls / 2, `most garbage calls throw (${errors} of ${calls})`);
});

// ---- Tensor ------------------------------------------------------------------------------

test('Tensor: construction misuse names the argument', () => {
  assert.instance(caught(() => new (addon.Tensor as unknown as new () => unknown)()), TypeError);
  assert.match(caught(() => Tensor.from([1, 2] as never)).message, /array must be a TypedArray/);
  assert.match(caught(() => Tensor.from(new Float32Array(4), [2, -2])).message, /shape\[1\] must be an integer >= 0/);
  assert.match(caught(() => Tensor.from(new Float32Array(4), [2, 2.5])).message, /shape\[1\] must be an integer/);
  assert.match(caught(() => Tensor.from(new Float32Array(4), [NaN])).message, /shape\[0\]/);
  assert.match(caught(() => Tensor.from(new Float32Array(4), [1, 1, 1, 1, 1, 1, 1, 1, 4])).message, /more than 8 dimensions/);
  assert.match(caught(() => Tensor.zeros([2 ** 30, 2 ** 30])).message, /more than 2\^40 elements/);
  assert.match(caught(() => Tensor.zeros([1e300])).message, /shape\[0\] must be an integer >= 0/);
  assert.match(caught(() => Tensor.zeros([2], { dtype: 'f64' as never })).message, /not a dtype; use f32, i32, u32 or u8/);
  assert.match(caught(() => Tensor.zeros([2], { device: 'tpu' as never })).message, /not a device; use cpu, cuda or auto/);
  assert.match(caught(() => Tensor.from(detachedFloat32(4))).message, /detached/);
  assert.match(caught(() => Tensor.from(new Float32Array(3), [3], { copy: 'yes' as never })).message, /options\.copy must be a boolean/);
  if (!info.cuda.usable) {
    assert.match(caught(() => Tensor.zeros([1], { device: 'cuda' })).message, /CUDA is not usable|built without CUDA/);
    assert.match(caught(() => f32([1]).to('cuda')).message, /CUDA is not usable|built without CUDA/);
  }
  // zero-sized tensors are fine
  const empty = Tensor.zeros([0, 5], cpu);
  assert.is(empty.numel, 0);
  assert.is(empty.toArray().length, 0);
  assert.is(K.sum(empty), 0);
});

test('Tensor: disposed tensors, views of disposed tensors, huge or bad view offsets', () => {
  const t = f32([1, 2, 3, 4]);
  const v = t.view([2], 2);
  assert.equal(Array.from(v.toArray()), [3, 4]);
  assert.match(caught(() => t.view([2], 1e300)).message, /view offset must be an integer >= 0/);
  assert.match(caught(() => t.view([2], -1)).message, /view offset/);
  assert.match(caught(() => t.view([2], 0.5)).message, /view offset/);
  assert.match(caught(() => t.view([2], 3)).message, /exceeds the tensor's 4 elements/);
  assert.match(caught(() => t.view([5])).message, /exceeds/);
  t.dispose();
  t.dispose(); // twice is fine
  for (const f of [() => t.toArray(), () => t.copyFrom(new Float32Array(4)), () => t.to('cpu'), () => t.view([1]), () => K.sum(t), () => K.scale(t, 2)]) {
    assert.match(caught(f).message, /disposed/);
  }
  assert.match(caught(() => v.toArray()).message, /view of a tensor that was disposed|disposed/);
  assert.match(caught(() => K.scale(v, 2)).message, /disposed/);
});

test('Tensor: zero-copy views of detached or shrunk buffers are refused, never read', () => {
  const a = Float32Array.from([1, 2, 3, 4]);
  const t = Tensor.from(a, [4], cpu);
  assert.is(t.isView, true);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  for (const f of [() => t.toArray(), () => K.sum(t), () => K.scale(t, 2), () => t.to('cpu'), () => t.copyFrom(new Float32Array(4))]) {
    assert.match(caught(f).message, /detached/);
  }
  // A resizable ArrayBuffer that shrinks after the view was made.
  const rab = new ArrayBuffer(64, { maxByteLength: 256 } as never) as ArrayBuffer & { resize(n: number): void };
  const tracking = new Float32Array(rab); // length-tracking
  const fixed = new Float32Array(rab, 0, 16);
  const tt = Tensor.from(tracking, undefined, cpu);
  const tf = Tensor.from(fixed, undefined, cpu);
  rab.resize(16);
  assert.match(caught(() => tt.toArray()).message, /shrank or moved/);
  assert.match(caught(() => K.sum(tf)).message, /shrank or moved|detached/);
  rab.resize(64); // back to the original size: usable again
  assert.is(tt.toArray().length, 16);
  // copyFrom with a detached source or the wrong type / length
  const owned = Tensor.zeros([4], cpu);
  assert.match(caught(() => owned.copyFrom(detachedFloat32(4))).message, /has 0 elements, the tensor 4/);
  assert.match(caught(() => owned.copyFrom(new Uint32Array(4) as never)).message, /element type does not match/);
  assert.match(caught(() => owned.copyFrom([1, 2, 3, 4] as never)).message, /must be a TypedArray/);
});

// ---- kernels --------------------------------------------------------------------------------

test('kernels: wrong dtype, shape, length, offsets and option values name the argument', () => {
  const s = f32([0.1, 0.5, -0.2]);
  const lab = f32([1, 0, 2]);
  const off = u32([0, 3]);
  const loss = Tensor.zeros([1], cpu);
  const g = Tensor.zeros([3], cpu);
  assert.match(caught(() => K.rankingLoss('listNet', s, lab, off, loss, g, { temperature: NaN })).message, /options\.temperature must be finite/);
  assert.match(caught(() => K.rankingLoss('listNet', s, lab, off, loss, g, { temperature: -1 })).message, /temperature must be > 0/);
  assert.match(caught(() => K.rankingLoss('listNet', s, lab, off, loss, g, { k: -1 })).message, /options\.k must be a non-negative integer/);
  assert.match(caught(() => K.rankingLoss('listNet', s, lab, off, loss, g, { k: 1e300 })).message, /options\.k/);
  assert.match(caught(() => K.rankingLoss('listNet', s, f32([1, NaN, 0]), off, loss, g)).message, /labels\[1\] must be finite and >= 0/);
  assert.match(caught(() => K.rankingLoss('listNet', s, f32([1, -1, 0]), off, loss, g)).message, /labels\[1\]/);
  assert.match(caught(() => K.rankingLoss('listNet', s, lab, u32([0, 2]), loss, g)).message, /must end at the number of documents/);
  assert.match(caught(() => K.rankingLoss('listNet', s, lab, u32([0, 4294967295]), loss, g)).message, /offsets/);
  assert.match(caught(() => K.rankingLoss('listNet', s, lab, u32([]), loss, g)).message, /offsets/);
  assert.match(caught(() => K.rankingLoss('listNet', s, lab, off, Tensor.zeros([2], cpu), g)).message, /lossPerList must hold 1 elements/);
  assert.match(caught(() => K.rankingLoss('listNet', s, lab, f32([0, 3]) as never, loss, g)).message, /offsets must be a u32 tensor, got f32/);
  assert.match(caught(() => K.adamUpdate(s, s, s, s, { step: 1e300 })).message, /options\.step must be an integer/);
  assert.match(caught(() => K.adamUpdate(s, s, s, s, { beta1: 1 })).message, /beta1/);
  assert.match(caught(() => K.dropout(s, g, Tensor.zeros([3], { dtype: 'u8', device: 'cpu' }), { p: 1 })).message, /options\.p/);
  assert.match(caught(() => K.dropout(s, g, Tensor.zeros([3], { dtype: 'u8', device: 'cpu' }), { seed: -1 })).message, /options\.seed/);
  assert.match(caught(() => K.gatherRows(f32([1, 2, 3, 4], [2, 2]), u32([0, 2]), Tensor.zeros([2, 2], cpu))).message, /rows\[1\] = 2 is out of range/);
  assert.match(caught(() => K.activation(s, Tensor.zeros([4], cpu), 'relu')).message, /y must hold 3 elements/);
  assert.match(caught(() => K.activation(s, g, 'swish' as never)).message, /activation 'swish' is not one of/);
  assert.match(caught(() => K.scale(s, 'x' as never)).message, /alpha must be a number/);
  assert.match(caught(() => K.neuralSort(s, off, Tensor.zeros([9], cpu), { tau: Infinity })).message, /tau must be finite/);
  assert.match(caught(() => K.threads(0)).message, /threads must be an integer in \[1, 256\]/);
  assert.match(caught(() => K.threads(1e300)).message, /threads/);
  assert.is(K.threads(), K.threads(K.threads()), 'threads() reads and re-sets the count');
  // the same tensor in two roles is memory-safe (in-place use)
  const x = f32([1, -2, 3]);
  K.activation(x, x, 'relu');
  assert.equal(Array.from(x.toArray()), [1, 0, 3]);
});

test('kernels: NaN / Inf values in tensors propagate or are rejected, never crash', () => {
  const a = f32([NaN, Infinity, -Infinity, 1], [2, 2]);
  const c = Tensor.zeros([2, 2], cpu);
  K.sgemm(a, a, c);
  assert.ok(c.toArray().some((v) => Number.isNaN(v)), 'NaN propagates through sgemm');
  const s = f32([NaN, Infinity, -Infinity]);
  const lab = f32([1, 0, 2]);
  const loss = Tensor.zeros([1], cpu);
  const g = Tensor.zeros([3], cpu);
  for (const name of ['listNet', 'rankNet', 'lambdaRank', 'neuralNDCG', 'approxNDCG', 'listMLE'] as const) K.rankingLoss(name, s, lab, u32([0, 3]), loss, g);
  const p = Tensor.zeros([9], cpu);
  K.neuralSort(s, u32([0, 3]), p);
  assert.is(p.numel, 9);
});

test('evaluate / readers: wrong types, lengths, offsets and options', () => {
  const labels = Float32Array.from([1, 0, 2]);
  const offs = Uint32Array.from([0, 3]);
  const scores = Float64Array.from([0.3, 0.2, 0.1]);
  assert.match(caught(() => addon.evaluate(labels, offs, new Float64Array(2), [['ndcg', 10]], {})).message, /scores has 2 values but labels has 3/);
  assert.match(caught(() => addon.evaluate(labels, Uint32Array.from([0, 4]), scores, [['ndcg', 10]], {})).message, /4|offsets|documents/);
  assert.match(caught(() => addon.evaluate(labels, Uint32Array.from([1, 3]), scores, [['ndcg', 10]], {})).message, /0|offsets/);
  assert.match(caught(() => addon.evaluate(labels, offs, scores, [['ndcg', -1]], {})).message, /metrics\[0\]\[1\] \(k\) must be an integer >= 0/);
  assert.match(caught(() => addon.evaluate(labels, offs, scores, [['ndcg', 1e300]], {})).message, /\(k\)/);
  assert.match(caught(() => addon.evaluate(labels, offs, scores, [['auc', 1]], {})).message, /is not a metric/);
  assert.match(caught(() => addon.evaluate(labels, offs, scores, [['ndcg', 1]], { gain: 'cubic' })).message, /convention\.gain must be one of/);
  assert.match(caught(() => addon.evaluate(labels, offs, scores, [['ndcg', 1]], { relevanceThreshold: NaN })).message, /must be finite/);
  assert.match(caught(() => addon.evaluate(detachedFloat32(3), offs, scores, [['ndcg', 1]], {})).message, /scores has 3 values but labels has 0/);
  assert.match(caught(() => addon.evaluate(labels, offs, Float64Array.from([NaN, 1, 0]), [['ndcg', 10]], {})).message, /scores\[0\] is NaN/);
  assert.match(caught(() => addon.readDatasetSync('a\u0000b')).message, /must not contain NUL/);
  assert.match(caught(() => addon.readDatasetSync(5 as never)).message, /path must be a string/);
  assert.match(caught(() => addon.parseDatasetText('1 qid:1 1:1', 'x', { numFeatures: -1 })).message, /numFeatures must be an integer/);
  assert.match(caught(() => addon.parseDatasetText('1 qid:1 1:1', 'x', { numFeatures: 1e300 })).message, /numFeatures must be an integer/);
  assert.match(caught(() => addon.parseDatasetText('1 qid:1 1:1', 'x', { numFeatures: 2.5 })).message, /numFeatures must be an integer/);
  assert.match(caught(() => addon.parseDatasetText('1 qid:1 1:1', 'x', { allowNonFinite: 1 } as never)).message, /allowNonFinite must be a boolean/);
  assert.match(caught(() => addon.parseDatasetText('1 1:1', 'x', { queryFile: '/nonexistent/q' })).message, /cannot open/);
  assert.match(caught(() => addon.parseDatasetText(Buffer.from('1 qid:1 1:1') as never)).message, /text must be a string/);
  assert.match(caught(() => addon.parseScoresText('1\nNaN\n')).message, /not a number|not finite|expected a score/);
});

// ---- concurrency -----------------------------------------------------------------------------

test('async: a tensor or cache in use by a running kernel is refused until it settles', async () => {
  const n = 96;
  const a = f32(Float32Array.from({ length: n * n }, (_, i) => Math.sin(i)), [n, n]);
  const b = f32(Float32Array.from({ length: n * n }, (_, i) => Math.cos(i)), [n, n]);
  const c = Tensor.zeros([n, n], cpu);
  const running = K.sgemmAsync(a, b, c);
  assert.match(caught(() => K.sgemm(a, b, Tensor.zeros([n, n], cpu))).message, /a is in use by a running async kernel/);
  assert.match(caught(() => K.sgemmAsync(b, b, c) as unknown).message, /a is in use by a running async kernel/); // b in the role of a
  assert.match(caught(() => c.toArray()).message, /in use by a running async kernel/);
  assert.match(caught(() => c.copyFrom(new Float32Array(n * n))).message, /in use/);
  assert.match(caught(() => c.view([n], 0).toArray()).message, /in use/);
  assert.match(caught(() => c.dispose()).message, /async kernel/);
  await running;
  const ref = Tensor.zeros([n, n], cpu);
  K.sgemm(a, b, ref);
  assert.equal(c.toArray(), ref.toArray(), 'the async result equals the sync one');
  // disjoint tensors: many async kernels at once
  const outs = Array.from({ length: 4 }, () => Tensor.zeros([n, n], cpu));
  const ins = Array.from({ length: 4 }, () => [f32(a.toArray(), [n, n]), f32(b.toArray(), [n, n])] as const);
  await Promise.all(outs.map((o, i) => K.sgemmAsync(ins[i]![0], ins[i]![1], o)));
  for (const o of outs) assert.equal(o.toArray(), ref.toArray());
  // a view keeps its root busy, and the root keeps views busy
  const root = Tensor.zeros([8], cpu);
  const half = root.view([4], 4);
  const p = addon.kernels.scaleAsync!(half, 2) as Promise<void>;
  assert.match(caught(() => root.toArray()).message, /in use/);
  assert.match(caught(() => root.dispose()).message, /async kernel/);
  await p;
  assert.is(root.toArray().length, 8);
  // MLP cache: one job at a time
  const cfg = { in: 4, hidden: [8], out: 1 };
  const params = Tensor.from(K.mlpInitParams(cfg, 1), undefined, { device: 'cpu', copy: true });
  const cache = K.mlpCache(cfg, 16);
  const x = f32(Float32Array.from({ length: 64 }, (_, i) => i / 64), [16, 4]);
  const y = Tensor.zeros([16], cpu);
  const params2 = f32(params.toArray());
  const x2 = f32(x.toArray(), [16, 4]);
  const fwd = K.mlpForwardAsync(cfg, params, x, y, cache);
  assert.match(caught(() => K.mlpForward(cfg, params2, x2, Tensor.zeros([16], cpu), cache)).message, /cache is in use by a running async kernel/);
  assert.match(caught(() => K.mlpBackward(cfg, params2, cache, Tensor.zeros([16], cpu), Tensor.zeros([params.numel], cpu))).message, /cache is in use/);
  await fwd;
  K.mlpBackward(cfg, params, cache, Tensor.zeros([16], cpu), Tensor.zeros([params.numel], cpu));
});

test('MLP / transformer caches: backward without forward, disposed inputs, disposed caches', () => {
  const cfg = { in: 3, hidden: [4], out: 1 };
  const params = Tensor.from(K.mlpInitParams(cfg, 2), undefined, { device: 'cpu', copy: true });
  const grads = Tensor.zeros([params.numel], cpu);
  const cache = K.mlpCache(cfg, 4);
  assert.match(caught(() => K.mlpBackward(cfg, params, cache, Tensor.zeros([4], cpu), grads)).message, /no mlpForward yet/);
  const x = f32([1, 2, 3, 4, 5, 6], [2, 3]);
  K.mlpForward(cfg, params, x, Tensor.zeros([2], cpu), cache);
  x.dispose(); // the cache remembered x's memory: the backward must not read it
  assert.match(caught(() => K.mlpBackward(cfg, params, cache, Tensor.zeros([2], cpu), grads)).message, /x tensor of the last mlpForward was disposed/);
  const xv = Float32Array.from([1, 2, 3, 4, 5, 6]);
  const view = Tensor.from(xv, [2, 3], cpu);
  K.mlpForward(cfg, params, view, Tensor.zeros([2], cpu), cache);
  structuredClone(xv.buffer, { transfer: [xv.buffer] });
  assert.match(caught(() => K.mlpBackward(cfg, params, cache, Tensor.zeros([2], cpu), grads)).message, /detached/);
  assert.match(caught(() => K.mlpForward({ ...cfg, hidden: [5] }, params, f32([1, 2, 3], [1, 3]), Tensor.zeros([1], cpu), cache)).message, /params must hold|different config/);
  assert.match(caught(() => K.mlpInitParams(cfg, -1)).message, /seed must be an integer/);
  assert.match(caught(() => K.mlpInitParams(cfg, 1e300)).message, /seed must be an integer/);
  assert.match(caught(() => K.mlpForward(cfg, params, f32([1, 2, 3], [1, 3]), Tensor.zeros([1], cpu), cache, { seed: -5 })).message, /options\.seed/);
  K.mlpCacheDispose(cache);
  K.mlpCacheDispose(cache);
  assert.match(caught(() => K.mlpForward(cfg, params, f32([1, 2, 3], [1, 3]), Tensor.zeros([1], cpu), cache)).message, /cache was disposed/);
  assert.match(caught(() => K.mlpForward(cfg, params, f32([1, 2, 3], [1, 3]), Tensor.zeros([1], cpu), { handle: 1 } as never)).message, /cache must come from mlpCache/);
  // transformer
  const tcfg = { in: 3, dModel: 4, heads: 2, layers: 1, dFF: 8 };
  const tp = Tensor.from(K.transformerInitParams(tcfg, 1), undefined, { device: 'cpu', copy: true });
  const tc = K.transformerCache(tcfg, 8, 4);
  const tx = f32(Float32Array.from({ length: 12 }, (_, i) => i / 12), [4, 3]);
  const toff = u32([0, 2, 4]);
  assert.match(caught(() => K.transformerBackward(tcfg, tp, tc, Tensor.zeros([4], cpu), Tensor.zeros([tp.numel], cpu))).message, /no transformerForward yet/);
  assert.match(caught(() => K.transformerForward(tcfg, tp, tx, u32([0, 4]), Tensor.zeros([4], cpu), K.transformerCache(tcfg, 8, 2))).message, /more than the cache's maxListLength/);
  K.transformerForward(tcfg, tp, tx, toff, Tensor.zeros([4], cpu), tc);
  toff.dispose();
  assert.match(caught(() => K.transformerBackward(tcfg, tp, tc, Tensor.zeros([4], cpu), Tensor.zeros([tp.numel], cpu))).message, /was disposed/);
  assert.match(caught(() => K.transformerCache(tcfg, 0, 4)).message, /maxDocs must be an integer >= 1/);
});

test('limits: absurd model sizes fail early, naming the limit', () => {
  assert.match(caught(() => K.mlpParamCount({ in: 1e9, hidden: [1e7], out: 1 })).message, /parameters, more than ordo's limit of 4294967295/);
  assert.match(caught(() => K.mlpInitParams({ in: 100000, hidden: [100000], out: 1 })).message, /more than ordo's limit/);
  assert.match(caught(() => K.mlpParamCount({ in: 3, hidden: [1e8], out: 1 })).message, /hidden\[0\] must be an integer >= 1/);
  assert.match(caught(() => K.mlpParamCount({ in: 3, hidden: Array(100000).fill(1e7), out: 1 })).message, /more than ordo's limit/);
  assert.match(caught(() => K.mlpCache({ in: 3, hidden: [10000000], out: 1 }, 1e8)).message, /GiB, more than this machine's .* GiB of physical memory/);
  assert.match(caught(() => K.transformerParamCount({ in: 3, dModel: 1e6, heads: 1, layers: 100, dFF: 1e6 })).message, /more than ordo's limit/);
});

// ---- worker_threads ---------------------------------------------------------------------------

function runWorker(code: string, timeoutMs = 60000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { root: repoRoot }, env: process.env });
    const timer = setTimeout(() => {
      void w.terminate();
      reject(new Error('worker timed out'));
    }, timeoutMs);
    w.once('message', (m) => {
      clearTimeout(timer);
      resolve(m);
      void w.terminate();
    });
    w.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
const LOAD = `const { parentPort, workerData } = require('node:worker_threads');
const addon = require(require.resolve('node-gyp-build', { paths: [workerData.root] }))(workerData.root);
const K = addon.kernels;`;

test('worker_threads: the addon loads and runs in workers (sync, async, readers), independently of the main thread', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ordo-misuse-'));
  try {
    writeFileSync(join(dir, 'd.txt'), '1 qid:1 1:0.5 2:1\n0 qid:1 1:0.25\n2 qid:2 2:3\n');
    const code = `${LOAD}
(async () => {
  const ds = await addon.readDataset(${JSON.stringify(join(dir, 'd.txt'))});
  const a = addon.Tensor.from(Float32Array.from([1, 2, 3, 4]), [2, 2], { device: 'cpu', copy: true });
  const c = addon.Tensor.zeros([2, 2], { device: 'cpu' });
  K.sgemm(a, a, c);
  const c2 = addon.Tensor.zeros([2, 2], { device: 'cpu' });
  await K.sgemmAsync(a, a, c2);
  let err = '';
  try { K.sgemm(a, a, { notATensor: true }); } catch (e) { err = e.message; }
  parentPort.postMessage({ docs: ds.numDocs, feats: Array.from(ds.features), c: Array.from(c.toArray()), c2: Array.from(c2.toArray()), err });
})().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`;
    const results = (await Promise.all([runWorker(code), runWorker(code)])) as Array<Record<string, unknown>>;
    for (const m of results) {
      assert.is(m.error, undefined, String(m.error));
      assert.is(m.docs, 3);
      assert.equal(m.feats, [0.5, 1, 0.25, 0, 0, 3]);
      assert.equal(m.c, [7, 10, 15, 22]);
      assert.equal(m.c2, [7, 10, 15, 22]);
      assert.match(String(m.err), /c must be a Tensor/);
    }
    // A Tensor of the main thread cannot be posted to a worker (clone error), and a plain object is no Tensor.
    const t = f32([1, 2]);
    let cloneError: unknown = null;
    try {
      structuredClone(t);
    } catch (e) {
      cloneError = e;
    }
    if (cloneError === null) assert.match(caught(() => K.sum(structuredClone(t) as never)).message, /x must be a Tensor/);
    else assert.instance(cloneError, Error);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('worker_threads: terminating a worker while its async kernel runs does not crash the process', async () => {
  const code = `${LOAD}
const n = 384;
for (let i = 0; i < 4; i++) {
  const a = addon.Tensor.from(new Float32Array(n * n).fill(1), [n, n], { device: 'cpu', copy: true });
  K.sgemmAsync(a, a, addon.Tensor.zeros([n, n], { device: 'cpu' })).catch(() => {});
  addon.readDataset('/nonexistent/ordo-file').catch(() => {});
}
parentPort.postMessage('started');`;
  for (let i = 0; i < 3; i++) {
    const w = new Worker(code, { eval: true, workerData: { root: repoRoot }, env: process.env });
    await new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
  }
  // the main thread still works
  const c = Tensor.zeros([2, 2], cpu);
  K.sgemm(f32([1, 0, 0, 1], [2, 2]), f32([1, 2, 3, 4], [2, 2]), c);
  assert.equal(Array.from(c.toArray()), [1, 2, 3, 4]);
});

test('diffusion kernels (when built): garbage arguments give JS errors', async () => {
  const names = Object.keys(addon.kernels).filter((n) => /diffusion/i.test(n));
  for (const name of names) {
    for (const args of [[], [null], [{}], [1, 2, 3], ['x', {}, []]]) {
      const e = await outcome(() => addon.kernels[name]!(...args));
      if (e !== null) assert.instance(e, Error, `${name}`);
    }
  }
  assert.ok(true, `${names.length} diffusion functions exercised`);
});

test.run();

// Parity harness for the kernels (the ggml test-backend-ops idea): every kernel,
// on every compiled backend, against a plain scalar reference written here,
// over random shapes with edge cases; and finite-difference checks of every
// backward. CUDA cases run only where a GPU is usable; otherwise each one is
// registered as skipped (never silently dropped).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as K from '../lib/kernels.js';
import { Tensor, backend } from '../lib/kernels.js';
import { caught, rng } from './helpers.js';

const info = backend();
const DEVICES: Array<'cpu' | 'cuda'> = ['cpu', 'cuda'];
const usable = (d: 'cpu' | 'cuda') => d === 'cpu' || info.cuda.usable;

const randn = (r: () => number) => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
const randArray = (n: number, seed: number, scale = 1) => {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => randn(r) * scale);
};
const f32 = (a: Float32Array | number[], shape: number[] | undefined, device: 'cpu' | 'cuda') =>
  Tensor.from(a instanceof Float32Array ? a : Float32Array.from(a), shape, { device, copy: true });
const zeros = (shape: number[], device: 'cpu' | 'cuda') => Tensor.zeros(shape, { device });

function close(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number, what: string) {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (!(Math.abs(g - w) <= atol + rtol * Math.abs(w))) assert.unreachable(`${what}[${i}] = ${g}, expected ${w}`);
  }
}

function deviceTest(name: string, fn: (device: 'cpu' | 'cuda') => void | Promise<void>) {
  for (const d of DEVICES) {
    if (usable(d)) test(`[${d}] ${name}`, () => fn(d));
    else test.skip(`[${d}] ${name} (no usable CUDA device: ${info.cuda.errorName})`, () => {});
  }
}

// ---- references ------------------------------------------------------------
function gemmRef(ta: boolean, tb: boolean, m: number, n: number, k: number, alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array) {
  const out = new Float64Array(m * n);
  const lda = ta ? m : k;
  const ldb = tb ? k : n;
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (ta ? a[p * lda + i]! : a[i * lda + p]!) * (tb ? b[j * ldb + p]! : b[p * ldb + j]!);
      out[i * n + j] = alpha * s + (beta === 0 ? 0 : beta * c[i * n + j]!);
    }
  return out;
}

const GEMM_SHAPES: Array<[number, number, number]> = [
  [1, 1, 1],
  [7, 13, 5],
  [65, 129, 31],
  [33, 17, 300],
  [128, 64, 96],
];
deviceTest('sgemm matches the scalar reference for every transpose, alpha and beta', (d) => {
  let seed = 1;
  for (const [m, n, k] of GEMM_SHAPES)
    for (const ta of [false, true])
      for (const tb of [false, true]) {
        const a = randArray(m * k, seed++);
        const b = randArray(k * n, seed++);
        const c0 = randArray(m * n, seed++);
        const [alpha, beta] = seed % 2 ? [1, 0] : [0.5, -2];
        const A = f32(a, ta ? [k, m] : [m, k], d);
        const B = f32(b, tb ? [n, k] : [k, n], d);
        const C = f32(c0, [m, n], d);
        K.sgemm(A, B, C, { transA: ta, transB: tb, alpha, beta });
        close(C.toArray(), gemmRef(ta, tb, m, n, k, alpha, a, b, beta, c0), 1e-4, 1e-4 * Math.sqrt(k), `sgemm ${m}x${n}x${k} ${ta}${tb}`);
        [A, B, C].forEach((t) => t.dispose());
      }
});

deviceTest('sgemm is deterministic run to run', (d) => {
  const a = f32(randArray(200 * 300, 5), [200, 300], d);
  const b = f32(randArray(300 * 150, 6), [300, 150], d);
  const c1 = zeros([200, 150], d);
  const c2 = zeros([200, 150], d);
  K.sgemm(a, b, c1);
  K.sgemm(a, b, c2);
  assert.equal(c1.toArray(), c2.toArray());
});

deviceTest('bias, activations (with finite-difference backward), LayerNorm, dropout', (d) => {
  const rows = 5,
    cols = 7;
  const x = randArray(rows * cols, 11, 2);
  const bias = randArray(cols, 12);
  const Y = f32(x, [rows, cols], d);
  K.addBias(Y, f32(bias, [cols], d));
  close(Y.toArray(), Array.from(x, (v, i) => v + bias[i % cols]!), 1e-6, 1e-6, 'addBias');
  const dB = zeros([cols], d);
  K.biasBackward(f32(x, [rows, cols], d), dB);
  close(dB.toArray(), Array.from({ length: cols }, (_, c) => x.filter((_, i) => i % cols === c).reduce((s, v) => s + v, 0)), 1e-5, 1e-5, 'biasBackward');

  const fns: Record<K.ActivationName, (v: number) => number> = {
    identity: (v) => v,
    relu: (v) => Math.max(0, v),
    silu: (v) => v / (1 + Math.exp(-v)),
    gelu: (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))),
    tanh: (v) => Math.tanh(v),
  };
  for (const [name, fn] of Object.entries(fns) as Array<[K.ActivationName, (v: number) => number]>) {
    const X = f32(x, [rows * cols], d);
    const out = zeros([rows * cols], d);
    K.activation(X, out, name);
    close(out.toArray(), Array.from(x, fn), 1e-5, 1e-6, name);
    const dy = randArray(rows * cols, 13);
    const dx = zeros([rows * cols], d);
    K.activationBackward(X, f32(dy, undefined, d), dx, name);
    const h = 1e-3;
    close(dx.toArray(), Array.from(x, (v, i) => (dy[i]! * (fn(v + h) - fn(v - h))) / (2 * h)), 2e-3, 2e-3, `${name} backward`);
  }

  const gamma = randArray(cols, 14);
  const beta = randArray(cols, 15);
  const ln = { y: zeros([rows, cols], d), mean: zeros([rows], d), rstd: zeros([rows], d) };
  K.layerNorm(f32(x, [rows, cols], d), f32(gamma, [cols], d), f32(beta, [cols], d), ln.y, ln.mean, ln.rstd, { eps: 1e-5 });
  const want: number[] = [];
  for (let r = 0; r < rows; r++) {
    const row = Array.from(x.slice(r * cols, (r + 1) * cols));
    const mu = row.reduce((s, v) => s + v, 0) / cols;
    const variance = row.reduce((s, v) => s + (v - mu) ** 2, 0) / cols;
    row.forEach((v, c) => want.push(((v - mu) / Math.sqrt(variance + 1e-5)) * gamma[c]! + beta[c]!));
  }
  close(ln.y.toArray(), want, 1e-4, 1e-5, 'layerNorm');

  const n = 10000;
  const dx0 = Float32Array.from({ length: n }, () => 1);
  const dy = zeros([n], d);
  const mask = Tensor.zeros([n], { dtype: 'u8', device: d });
  K.dropout(f32(dx0, undefined, d), dy, mask, { p: 0.25, seed: 7 });
  const kept = mask.toArray().reduce((s, v) => s + v, 0);
  assert.ok(Math.abs(kept / n - 0.75) < 0.02, `keep rate ${kept / n}`);
  close(dy.toArray(), Array.from(mask.toArray(), (m) => (m ? 1 / 0.75 : 0)), 1e-6, 0, 'dropout values');
  const mask2 = Tensor.zeros([n], { dtype: 'u8', device: d });
  K.dropout(f32(dx0, undefined, d), zeros([n], d), mask2, { p: 0.25, seed: 7 });
  assert.equal(mask.toArray(), mask2.toArray(), 'same seed, same mask');
});

deviceTest('Adam, AdamW and SGD match a scalar PyTorch-style update', (d) => {
  const n = 50;
  const p0 = randArray(n, 21);
  const g = randArray(n, 22);
  for (const decoupled of [true, false]) {
    const P = f32(p0, undefined, d);
    const M = zeros([n], d);
    const V = zeros([n], d);
    const o = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decoupled };
    K.adamUpdate(P, f32(g, undefined, d), M, V, { ...o, step: 1 });
    K.adamUpdate(P, f32(g, undefined, d), M, V, { ...o, step: 2 });
    const want = Array.from(p0, (p, i) => {
      let m = 0,
        v = 0;
      for (let t = 1; t <= 2; t++) {
        let gi = g[i]!;
        if (decoupled) p -= o.lr * o.weightDecay * p;
        else gi += o.weightDecay * p;
        m = o.beta1 * m + (1 - o.beta1) * gi;
        v = o.beta2 * v + (1 - o.beta2) * gi * gi;
        const mh = m / (1 - o.beta1 ** t);
        const vh = v / (1 - o.beta2 ** t);
        p -= (o.lr * mh) / (Math.sqrt(vh) + o.eps);
      }
      return p;
    });
    close(P.toArray(), want, 1e-5, 1e-6, `adam decoupled=${decoupled}`);
  }
  const P = f32(p0, undefined, d);
  const buf = zeros([n], d);
  K.sgdUpdate(P, f32(g, undefined, d), buf, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
  K.sgdUpdate(P, f32(g, undefined, d), buf, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
  const want = Array.from(p0, (p, i) => {
    let b = 0;
    for (let t = 0; t < 2; t++) {
      const gi = g[i]! + 0.01 * p;
      b = t === 0 ? gi : 0.9 * b + gi;
      p -= 0.1 * b;
    }
    return p;
  });
  close(P.toArray(), want, 1e-5, 1e-6, 'sgd momentum');
});

// ---- NeuralSort ---------------------------------------------------------------
function pHatRef(s: number[], tau: number): number[][] {
  const n = s.length;
  const b = s.map((sj) => s.reduce((acc, sk) => acc + Math.abs(sj - sk), 0));
  return Array.from({ length: n }, (_, r) => {
    const c = n + 1 - 2 * (r + 1);
    const logits = s.map((sj, j) => (c * sj - b[j]!) / tau);
    const m = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - m));
    const z = e.reduce((x, y) => x + y, 0);
    return e.map((v) => v / z);
  });
}
const LISTS = [1, 2, 5, 17, 3];
function raggedScores(seed: number, ties = false) {
  const r = rng(seed);
  const offsets = [0];
  const s: number[] = [];
  for (const n of LISTS) {
    for (let i = 0; i < n; i++) s.push(ties ? Math.floor(r() * 3) : randn(r));
    offsets.push(s.length);
  }
  return { s, offsets };
}

deviceTest('NeuralSort P̂ matches the formula per list (ragged, ties, n = 1 and 2)', (d) => {
  for (const ties of [false, true]) {
    const { s, offsets } = raggedScores(31, ties);
    const total = LISTS.reduce((acc, n) => acc + n * n, 0);
    const P = zeros([total], d);
    K.neuralSort(f32(s, undefined, d), K.raggedOffsets(offsets, d), P, { tau: 0.7 });
    const want: number[] = [];
    LISTS.forEach((_, q) => pHatRef(s.slice(offsets[q], offsets[q + 1]), 0.7).forEach((row) => want.push(...row)));
    close(P.toArray(), want, 1e-4, 1e-6, `P̂ ties=${ties}`);
  }
});

deviceTest('NeuralSort backward = finite differences; apply = P̂·v; apply backward consistent', (d) => {
  const { s, offsets } = raggedScores(41);
  const total = LISTS.reduce((acc, n) => acc + n * n, 0);
  const G = randArray(total, 42);
  const off = K.raggedOffsets(offsets, d);
  const gs = zeros([s.length], d);
  K.neuralSortBackward(f32(s, undefined, d), off, f32(G, undefined, d), gs, { tau: 1 });
  // L(s) = Σ G ⊙ P̂(s), central differences in double precision on the reference
  const L = (sv: number[]) => {
    let acc = 0,
      base = 0;
    LISTS.forEach((_, q) => {
      const P = pHatRef(sv.slice(offsets[q], offsets[q + 1]), 1);
      P.forEach((row) => row.forEach((p) => (acc += p * G[base++]!)));
    });
    return acc;
  };
  const h = 1e-5;
  const fd = s.map((_, i) => {
    const up = s.slice();
    const dn = s.slice();
    up[i]! += h;
    dn[i]! -= h;
    return (L(up) - L(dn)) / (2 * h);
  });
  close(gs.toArray(), fd, 1e-3, 1e-4, 'neuralSortBackward vs finite differences');

  const v = randArray(s.length, 43);
  const out = zeros([s.length], d);
  const stats = zeros([2 * s.length], d);
  K.neuralSortApply(f32(s, undefined, d), f32(v, undefined, d), off, out, stats, { tau: 1 });
  const want: number[] = [];
  LISTS.forEach((_, q) => pHatRef(s.slice(offsets[q], offsets[q + 1]), 1).forEach((row) => want.push(row.reduce((acc, p, j) => acc + p * v[offsets[q]! + j]!, 0))));
  close(out.toArray(), want, 1e-4, 1e-5, 'neuralSortApply');

  const go = randArray(s.length, 44);
  const gsA = zeros([s.length], d);
  const gv = zeros([s.length], d);
  K.neuralSortApplyBackward(f32(s, undefined, d), f32(v, undefined, d), off, stats, f32(go, undefined, d), gsA, gv, { tau: 1 });
  // same as the matrix backward with G = gradOut ⊗ values
  const Gouter: number[] = [];
  LISTS.forEach((n, q) => {
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) Gouter.push(go[offsets[q]! + i]! * v[offsets[q]! + j]!);
  });
  const gsM = zeros([s.length], d);
  K.neuralSortBackward(f32(s, undefined, d), off, f32(Gouter, undefined, d), gsM, { tau: 1 });
  close(gsA.toArray(), gsM.toArray(), 1e-3, 1e-5, 'apply backward vs matrix backward');
  const gvWant: number[] = [];
  LISTS.forEach((n, q) => {
    const P = pHatRef(s.slice(offsets[q], offsets[q + 1]), 1);
    for (let j = 0; j < n; j++) gvWant.push(P.reduce((acc, row, i) => acc + row[j]! * go[offsets[q]! + i]!, 0));
  });
  close(gv.toArray(), gvWant, 1e-4, 1e-5, 'gradValues = P̂ᵀ·gradOut');
});

deviceTest('NeuralSort stays finite for extreme scores and small τ; hard and Gumbel variants', (d) => {
  const s = [1e30, -1e30, 0, 5, 5];
  const P = zeros([25], d);
  K.neuralSort(f32(s, undefined, d), K.raggedOffsets([0, 5], d), P, { tau: 1e-3 });
  assert.ok(P.toArray().every(Number.isFinite), 'finite P̂');
  const H = zeros([25], d);
  K.neuralSort(f32([0.1, 3, 2], undefined, d), K.raggedOffsets([0, 3], d), zeros([9], d), {});
  K.neuralSort(f32([0.1, 3, 2, 0, 0], undefined, d), K.raggedOffsets([0, 5], d), H, { hard: true });
  const h = Array.from(H.toArray());
  for (let r = 0; r < 5; r++) assert.is(h.slice(r * 5, r * 5 + 5).reduce((a, b) => a + b, 0), 1, 'hard rows are one-hot');
  assert.equal(h.slice(0, 5), [0, 1, 0, 0, 0], 'rank 1 is the highest score');
  const g1 = zeros([25], d);
  const g2 = zeros([25], d);
  K.neuralSort(f32(s.map(() => 0), undefined, d), K.raggedOffsets([0, 5], d), g1, { gumbel: true, seed: 3 });
  K.neuralSort(f32(s.map(() => 0), undefined, d), K.raggedOffsets([0, 5], d), g2, { gumbel: true, seed: 3 });
  assert.equal(g1.toArray(), g2.toArray(), 'same seed, same Gumbel draw');
});

// ---- losses ------------------------------------------------------------------------
const LOSSES: K.LossName[] = ['mse', 'sigmoidCrossEntropy', 'softmaxCrossEntropy', 'rankNet', 'lambdaRank', 'listNet', 'listMLE', 'approxNDCG', 'neuralNDCG', 'neuralNDCGTransposed', 'lambdaLoss'];

function lossBatch(seed: number) {
  const r = rng(seed);
  const sizes = [1, 2, 6, 9, 4];
  const offsets = [0];
  const s: number[] = [];
  const y: number[] = [];
  sizes.forEach((n, q) => {
    for (let i = 0; i < n; i++) {
      s.push(randn(r));
      y.push(q === 4 ? 0 : Math.floor(r() * 3)); // last list: no relevant doc
    }
    offsets.push(s.length);
  });
  return { s, y, offsets };
}

function runLoss(d: 'cpu' | 'cuda', name: K.LossName, s: number[], y: number[], offsets: number[], opts: K.LossOptions) {
  const loss = zeros([offsets.length - 1], d);
  const grad = zeros([s.length], d);
  K.rankingLoss(name, f32(s, undefined, d), f32(y, undefined, d), K.raggedOffsets(offsets, d), loss, grad, opts);
  return { loss: Array.from(loss.toArray()), grad: Array.from(grad.toArray()) };
}

for (const name of LOSSES) {
  deviceTest(`loss ${name}: finite values, gradient = finite differences of the loss`, (d) => {
    const { s, y, offsets } = lossBatch(51);
    const opts: K.LossOptions = { seed: 9, lambdarankNorm: false };
    const { loss, grad } = runLoss(d, name, s, y, offsets, opts);
    assert.ok(loss.every(Number.isFinite) && grad.every(Number.isFinite), 'finite');
    if (name === 'lambdaRank') return; // LambdaRank's lambdas are not the gradient of a loss (checked against LightGBM in C++)
    const total = (sv: number[]) => runLoss(d, name, sv, y, offsets, opts).loss.reduce((a, b) => a + b, 0);
    const h = 1e-2;
    const fd = s.map((_, i) => {
      const up = s.slice();
      const dn = s.slice();
      up[i]! += h;
      dn[i]! -= h;
      return (total(up) - total(dn)) / (2 * h);
    });
    close(grad, fd, 5e-2, 5e-3, `${name} gradient`);
  });
}

deviceTest('losses: a single-doc list and a list with no relevant doc get zero gradient (pairwise and NDCG losses)', (d) => {
  for (const name of ['rankNet', 'lambdaRank', 'lambdaLoss', 'approxNDCG', 'neuralNDCG', 'neuralNDCGTransposed'] as K.LossName[]) {
    const { loss, grad } = runLoss(d, name, [0.3, 1, 2, 3], [2, 0, 0, 0], [0, 1, 4], {});
    const ndcgLoss = name.toLowerCase().includes('ndcg');
    // one relevant doc alone is a perfect ranking: NDCG losses give −1 (loss = −NDCG), pairwise losses have no pair
    assert.ok(Math.abs(loss[0]! - (ndcgLoss ? -1 : 0)) < 1e-5, `${name} single-doc loss ${loss[0]}`);
    assert.is(loss[1], 0, `${name} no-relevant loss`);
    assert.ok(grad.every((g) => g === 0), `${name} gradient ${grad}`);
  }
});


// ---- MLP scorer ----------------------------------------------------------------------
deviceTest('MLP forward matches a scalar reference; backward matches finite differences', (d) => {
  for (const layerNorm of [false, true]) {
    const cfg: K.MlpConfig = { in: 4, hidden: [5, 3], out: 1, activation: 'tanh', layerNorm };
    const count = K.mlpParamCount(cfg);
    const layout = K.mlpLayout(cfg);
    const p0 = K.mlpInitParams(cfg, 3);
    assert.is(p0.length, count);
    const batch = 6;
    const x = randArray(batch * 4, 61);
    const ref = (p: Float32Array | number[]) => {
      const ys: number[] = [];
      for (let r = 0; r < batch; r++) {
        let h = Array.from(x.slice(r * 4, r * 4 + 4));
        layout.forEach((L, li) => {
          const z = Array.from({ length: L.out }, (_, j) => h.reduce((acc, v, i) => acc + v * p[L.w + i * L.out + j]!, p[L.b + j]!));
          if (li === layout.length - 1) {
            h = z;
            return;
          }
          let a = z.map(Math.tanh);
          if (L.gamma >= 0) {
            const mu = a.reduce((s, v) => s + v, 0) / a.length;
            const va = a.reduce((s, v) => s + (v - mu) ** 2, 0) / a.length;
            a = a.map((v, j) => ((v - mu) / Math.sqrt(va + 1e-5)) * p[L.gamma + j]! + p[L.beta + j]!);
          }
          h = a;
        });
        ys.push(h[0]!);
      }
      return ys;
    };
    const P = f32(p0, undefined, d);
    const X = f32(x, [batch, 4], d);
    const Y = zeros([batch, 1], d);
    const cache = K.mlpCache(cfg, batch, d);
    K.mlpForward(cfg, P, X, Y, cache);
    close(Y.toArray(), ref(p0), 1e-4, 1e-5, `mlp forward ln=${layerNorm}`);
    // loss = Σ y·w  ->  dy = w
    const w = randArray(batch, 62);
    const grads = zeros([count], d);
    const dx = zeros([batch, 4], d);
    K.mlpBackward(cfg, P, cache, f32(w, [batch, 1], d), grads, dx);
    const loss = (p: number[]) => ref(p).reduce((acc, y, i) => acc + y * w[i]!, 0);
    const base = Array.from(p0);
    const h = 1e-3;
    const fd = base.map((_, i) => {
      const up = base.slice();
      const dn = base.slice();
      up[i]! += h;
      dn[i]! -= h;
      return (loss(up) - loss(dn)) / (2 * h);
    });
    close(grads.toArray(), fd, 1e-2, 2e-3, `mlp param gradient ln=${layerNorm}`);
  }
});

deviceTest('MLP training-mode dropout is seeded and reproducible', (d) => {
  const cfg: K.MlpConfig = { in: 8, hidden: [16], out: 1, dropout: 0.5 };
  const P = f32(K.mlpInitParams(cfg, 1), undefined, d);
  const X = f32(randArray(32 * 8, 71), [32, 8], d);
  const cache = K.mlpCache(cfg, 32, d);
  const run = (seed: number) => {
    const Y = zeros([32, 1], d);
    K.mlpForward(cfg, P, X, Y, cache, { training: true, seed });
    return Y.toArray();
  };
  assert.equal(run(5), run(5));
  assert.not.equal(run(5), run(6));
  const Yeval = zeros([32, 1], d);
  K.mlpForward(cfg, P, X, Yeval, cache, { training: false });
  assert.not.equal(Yeval.toArray(), run(5));
  K.mlpCacheDispose(cache);
  assert.match(caught(() => K.mlpForward(cfg, P, X, Yeval, cache)).message, /cache was disposed/);
});


// ---- context-aware scorer (Transformer encoder over each list) ------------------------
deviceTest('transformer: lists do not interact, permutation-equivariant, gradient = finite differences', (d) => {
  const cfg: K.TransformerConfig = { in: 3, dModel: 4, heads: 2, layers: 1, dFF: 8, dropout: 0 };
  const count = K.transformerParamCount(cfg);
  const p0 = K.transformerInitParams(cfg, 9);
  const P = f32(p0, undefined, d);
  const sizes = [1, 3, 4];
  const offsets = [0, 1, 4, 8];
  const x = randArray(8 * 3, 81);
  const run = (xs: Float32Array, params = P) => {
    const cache = K.transformerCache(cfg, 8, 4, d);
    const out = zeros([8], d);
    K.transformerForward(cfg, params, f32(xs, [8, 3], d), K.raggedOffsets(offsets, d), out, cache);
    return { out: out.toArray(), cache };
  };
  const base = run(x).out;
  // changing list 2 (docs 4..7) leaves lists 0 and 1 unchanged
  const x2 = x.slice();
  for (let i = 4 * 3; i < 8 * 3; i++) x2[i] = x2[i]! + 1;
  const other = run(x2).out;
  assert.equal(Array.from(other.slice(0, 4)), Array.from(base.slice(0, 4)));
  // swapping docs 1 and 2 (same list) swaps their scores
  const x3 = x.slice();
  for (let c = 0; c < 3; c++) [x3[3 + c], x3[6 + c]] = [x3[6 + c]!, x3[3 + c]!];
  const swapped = run(x3).out;
  close([swapped[1]!, swapped[2]!], [base[2]!, base[1]!], 1e-5, 1e-6, 'permutation');
  // d(Σ w·scores)/d params vs central differences
  const w = randArray(8, 82);
  const { cache } = run(x);
  const grads = zeros([count], d);
  K.transformerBackward(cfg, P, cache, f32(w, undefined, d), grads);
  const g = grads.toArray();
  const loss = (pv: Float32Array) => run(x, f32(pv, undefined, d)).out.reduce((acc, v, i) => acc + v * w[i]!, 0);
  const h = 3e-4; // LayerNorm over 4 channels is strongly curved: larger steps bias the difference
  for (const i of [0, 5, 17, 64, Math.floor(count / 2), 127, count - 3, count - 1]) {
    const up = Float32Array.from(p0);
    const dn = Float32Array.from(p0);
    up[i]! += h;
    dn[i]! -= h;
    const fd = (loss(up) - loss(dn)) / (2 * h);
    assert.ok(Math.abs(fd - g[i]!) <= 2e-2 + 5e-2 * Math.abs(fd), `param ${i}: ${g[i]} vs finite difference ${fd}`);
  }
  assert.is(sizes.length, 3);
});

// ---- misuse --------------------------------------------------------------------------
test('tensors: shape, dtype, device, toArray/copyFrom round trip, zero-copy view, dispose', () => {
  const data = Float32Array.from([1, 2, 3, 4, 5, 6]);
  const t = Tensor.from(data, [2, 3], { device: 'cpu' });
  assert.equal(t.shape, [2, 3]);
  assert.is(t.dtype, 'f32');
  assert.is(t.device, 'cpu');
  assert.is(t.isView, true);
  data[0] = 10;
  assert.is(t.toArray()[0], 10, 'a view sees the caller’s writes');
  const c = Tensor.from(data, [6], { device: 'cpu', copy: true });
  data[0] = 1;
  assert.is(c.toArray()[0], 10, 'a copy does not');
  c.copyFrom(Float32Array.from([0, 0, 0, 0, 0, 7]));
  assert.is(c.toArray()[5], 7);
  c.dispose();
  assert.is(c.disposed, true);
  assert.match(caught(() => c.toArray()).message, /disposed/);
  assert.match(caught(() => K.sgemm(c as never, t, t)).message, /a was disposed/);
  assert.is(Tensor.zeros([3], { dtype: 'u32', device: 'cpu' }).toArray().constructor, Uint32Array);
});

test('misuse gives TypeError / RangeError naming the argument', () => {
  const a = Tensor.zeros([2, 3], { device: 'cpu' });
  const b = Tensor.zeros([3, 4], { device: 'cpu' });
  const c = Tensor.zeros([2, 4], { device: 'cpu' });
  assert.instance(caught(() => K.sgemm({} as never, b, c)), TypeError);
  assert.match(caught(() => K.sgemm(a, a, c)).message, /do not multiply/);
  assert.match(caught(() => K.sgemm(a, b, a)).message, /c must have shape \[2, 4\], got \[2, 3\]/);
  const u = Tensor.zeros([2, 3], { dtype: 'u32', device: 'cpu' });
  assert.match(caught(() => K.sgemm(u as never, b, c)).message, /a must be a f32 tensor, got u32/);
  assert.match(caught(() => Tensor.from(new Float32Array(5), [2, 3])).message, /shape holds 6 elements but the array has 5/);
  assert.match(caught(() => Tensor.from(new Float64Array(2) as never)).message, /Float32Array, Int32Array, Uint32Array or Uint8Array/);
  assert.match(caught(() => Tensor.zeros([-1])).message, /shape\[0\] must be an integer >= 0/);
  const s = Tensor.from(Float32Array.from([1, 2, 3]), [3], { device: 'cpu' });
  const bad = K.raggedOffsets([0, 2, 1], 'cpu');
  assert.match(caught(() => K.neuralSort(s, bad, Tensor.zeros([9], { device: 'cpu' }))).message, /offsets must be non-decreasing/);
  const over = K.raggedOffsets([0, 4], 'cpu');
  assert.match(caught(() => K.neuralSort(s, over, Tensor.zeros([16], { device: 'cpu' }))).message, /must end at the number of documents \(3\)/);
  assert.match(caught(() => K.neuralSort(s, K.raggedOffsets([0, 3], 'cpu'), Tensor.zeros([8], { device: 'cpu' }))).message, /pHat must hold 9 elements/);
  assert.match(caught(() => K.rankingLoss('hinge' as never, s, s, K.raggedOffsets([0, 3], 'cpu'), Tensor.zeros([1], { device: 'cpu' }), null)).message, /not one of mse/);
  assert.match(caught(() => K.neuralSort(s, K.raggedOffsets([0, 3], 'cpu'), Tensor.zeros([9], { device: 'cpu' }), { tau: 0 })).message, /tau must be > 0/);
  if (!info.cuda.usable) assert.match(caught(() => Tensor.zeros([1], { device: 'cuda' })).message, /CUDA is not usable|built without CUDA/);
});

test('async kernels resolve, keep tensors busy, and refuse zero-copy views', async () => {
  const a = Tensor.from(randArray(64 * 32, 1), [64, 32], { device: 'cpu', copy: true });
  const b = Tensor.from(randArray(32 * 16, 2), [32, 16], { device: 'cpu', copy: true });
  const c = Tensor.zeros([64, 16], { device: 'cpu' });
  const p = K.sgemmAsync(a, b, c);
  assert.match(caught(() => c.dispose()).message, /async kernel/);
  await p;
  const c2 = Tensor.zeros([64, 16], { device: 'cpu' });
  K.sgemm(a, b, c2);
  assert.equal(c.toArray(), c2.toArray());
  const view = Tensor.from(randArray(64 * 32, 1), [64, 32], { device: 'cpu' });
  assert.match(caught(() => K.sgemmAsync(view, b, c)).message, /zero-copy view/);
  const before = K.kernelStats().cpu;
  K.sgemm(a, b, c2);
  assert.is(K.kernelStats().cpu, before + 1, 'kernel launches are counted per device');
});

test.run();

// DiffusionRank kernels through the TS API (ordo/kernels): schedules against
// closed forms and finite differences, the fused input against a scalar TS
// reference that re-implements the documented random streams (SplitMix64 in
// BigInt), the EDM target identity, the losses against scalar references with
// finite-difference gradients, the pair sampler's invariants, misuse errors.
// CUDA variants run where a GPU is usable; otherwise each is registered as
// skipped with the reason.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as K from '../lib/kernels.js';
import { Tensor, backend } from '../lib/kernels.js';
import { caught, rng } from './helpers.js';

type Dev = 'cpu' | 'cuda';
const info = backend();
const DEVICES: Dev[] = ['cpu', 'cuda'];
const usable = (d: Dev) => d === 'cpu' || info.cuda.usable;
const noCuda = `no usable CUDA device: ${info.cuda.errorName || (info.cuda.compiled ? 'none found' : 'built without CUDA')}`;

function deviceTest(name: string, fn: (device: Dev) => void | Promise<void>) {
  for (const d of DEVICES) {
    if (usable(d)) test(`[${d}] ${name}`, () => fn(d));
    else test.skip(`[${d}] ${name} (${noCuda})`, () => {});
  }
}
function cudaTest(name: string, fn: () => void | Promise<void>) {
  if (info.cuda.usable) test(`[cuda] ${name}`, fn);
  else test.skip(`[cuda] ${name} (${noCuda})`, () => {});
}

const f32 = (a: ArrayLike<number>, shape: number[], d: Dev) => Tensor.from(Float32Array.from(a), shape, { device: d, copy: true });
const u32 = (a: ArrayLike<number>, d: Dev) => Tensor.from(Uint32Array.from(a), [a.length], { device: d, copy: true });
const zeros = (shape: number[], d: Dev) => Tensor.zeros(shape, { device: d });
const uniform = (n: number, seed: number, lo = -1, hi = 1) => {
  const r = rng(seed);
  return Array.from({ length: n }, () => lo + (hi - lo) * r());
};

function close(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number, what: string) {
  assert.is(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (!(Math.abs(g - w) <= atol + rtol * Math.abs(w))) assert.unreachable(`${what}[${i}] = ${g}, expected ${w}`);
  }
}
const fd = (f: (x: number) => number, x: number, h: number) => (f(x + h) - f(x - h)) / (2 * h);

// ---- scalar references ------------------------------------------------------------
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const sigmaRef = (t: number, rho = 7, smin = 0.002, smax = 80) => {
  const a = smin ** (1 / rho);
  const b = smax ** (1 / rho);
  return (a + t * (b - a)) ** rho;
};
const C_CAT = 1 - 1e-3 - 1e-5;
const mcRef = (t: number, k = 1) => C_CAT * t ** k + 1e-5;
const sigmaCatRef = (t: number, k = 1) => -Math.log1p(-mcRef(t, k));
const weightRef = (t: number, k = 1) => (C_CAT * k * t ** (k - 1)) / mcRef(t, k);

// core/rng.h in BigInt: SplitMix64 finaliser of seed·φ + index·c + d, and the 24-bit uniform in float.
const M64 = (1n << 64n) - 1n;
function rngBits(seed: bigint, index: bigint): bigint {
  let z = (seed * 0x9e3779b97f4a7c15n + index * 0xd1b54a32d192ed03n + 0x632be59bd9b4e019n) & M64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return z ^ (z >> 31n);
}
const rngUniform = (seed: bigint, index: bigint) => Math.fround(Number(rngBits(seed, index) >> 40n) + 0.5) / 16777216;
// The documented stream of the fused input: draw(row, col) =
// rng_uniform(rng_bits(rng_bits(seed, "noise"), counter), row·2^32 + col), "noise" = 0x6E6F697365.
const drawRef = (seed: number, counter: number, row: number, col: number) =>
  rngUniform(rngBits(rngBits(BigInt(seed), 0x6e6f697365n), BigInt(counter)), (BigInt(row) << 32n) + BigInt(col));

function noiseRef(x0: number[], classes: number[], B: number, D: number, Kc: number, seed: number, counter: number, pairs: boolean, t?: number[]) {
  const W = D + Kc + 2;
  const input = new Float64Array(B * W);
  const target = new Float64Array(B * D);
  const rowInfo = new Float64Array(B * 4);
  const half = pairs ? B / 2 : B;
  for (let r = 0; r < B; r++) {
    const src = r >= half ? r - half : r;
    const tt = t ? t[src]! : drawRef(seed, counter, src, 0);
    const mc = mcRef(tt);
    const masked = drawRef(seed, counter, src, 1) < mc;
    const s = sigmaRef(tt);
    const cin = 1 / Math.sqrt(s * s + 1);
    for (let j = 0; j < D; j++) {
      // Box–Muller pair m = ⌊j/2⌋ on draws (2 + 2m, 3 + 2m): cos for even j, sin for odd j
      const m = Math.floor(j / 2);
      const radius = Math.sqrt(-2 * Math.log(drawRef(seed, counter, r, 2 + 2 * m)));
      const angle = 2 * Math.PI * drawRef(seed, counter, r, 3 + 2 * m);
      const eps = radius * (j % 2 === 0 ? Math.cos(angle) : Math.sin(angle));
      const x = x0[r * D + j]!;
      input[r * W + j] = cin * (x + s * eps);
      target[r * D + j] = (x - (x + s * eps) / (s * s + 1)) / (s * cin); // (x0 − c_skip·x_t)/c_out
    }
    input[r * W + D + (masked ? Kc : classes[r]!)] = 1;
    input[r * W + D + Kc + 1] = Math.log(s) / 4;
    rowInfo.set([tt, s, masked ? 1 : 0, 1 / mc], r * 4);
  }
  return { input, target, rowInfo };
}

interface LossCase {
  objective: K.DiffusionObjective;
  B: number;
  D: number;
  Kc: number;
  out: number[];
  target: number[] | null;
  classes: number[];
  rowInfo: number[] | null;
  fw: number;
}
const dout = (c: LossCase) => (c.objective === 'pointwise' ? c.D + c.Kc : c.D + 1);
function lossRef(c: LossCase, out: number[]): [number, number] {
  const W = dout(c);
  let feat = 0;
  if (c.target && c.D > 0) {
    for (let r = 0; r < c.B; r++) for (let j = 0; j < c.D; j++) feat += (out[r * W + j]! - c.target[r * c.D + j]!) ** 2;
    feat /= c.B * c.D;
  }
  const mw = (r: number) => (c.rowInfo ? c.rowInfo[r * 4 + 2]! * c.rowInfo[r * 4 + 3]! : 1);
  let label = 0;
  if (c.objective === 'pointwise') {
    for (let r = 0; r < c.B; r++) {
      let z = 0;
      for (let k = 0; k < c.Kc; k++) z += Math.exp(out[r * W + c.D + k]!);
      label += mw(r) * -Math.log(Math.exp(out[r * W + c.D + c.classes[r]!]!) / z);
    }
    label /= c.B;
  } else {
    const P = c.B / 2;
    for (let p = 0; p < P; p++) label += mw(p) * -Math.log(1 / (1 + Math.exp(-(out[p * W + c.D]! - out[(p + P) * W + c.D]!))));
    label /= P;
  }
  return [feat, label];
}
function makeLossCase(objective: K.DiffusionObjective, B: number, D: number, Kc: number, withTarget: boolean, withInfo: boolean, seed: number): LossCase {
  const r = rng(seed);
  const c: LossCase = { objective, B, D, Kc, out: [], target: null, classes: [], rowInfo: null, fw: 0.6 };
  c.out = uniform(B * dout(c), seed + 1, -2, 2);
  if (withTarget) c.target = uniform(B * D, seed + 2, -2, 2);
  c.classes = Array.from({ length: B }, () => Math.floor(r() * Kc));
  if (withInfo) c.rowInfo = Array.from({ length: B }, () => [0, 0, r() < 0.6 ? 1 : 0, 1 + 3 * r()]).flat();
  return c;
}
function runLoss(d: Dev, c: LossCase) {
  const W = dout(c);
  const grad = zeros([c.B, W], d);
  const parts = zeros([2], d);
  K.diffusionLoss(
    c.objective,
    f32(c.out, [c.B, W], d),
    c.target ? f32(c.target, [c.B, c.D], d) : null,
    f32(c.classes, [c.B], d),
    c.rowInfo ? f32(c.rowInfo, [c.B, 4], d) : null,
    grad,
    parts,
    { numFeatures: c.D, numClasses: c.Kc, featureWeight: c.fw },
  );
  return { grad: grad.toArray(), parts: parts.toArray() };
}

// ---- schedules ------------------------------------------------------------------------
deviceTest('power-mean schedule: the notes table, dσ/dt by finite differences, [B, C] columns', (d) => {
  const t = [0, 0.1, 0.25, 0.5, 0.75, 1];
  const table = [0.002, 0.01672, 0.16975, 2.5152, 17.528, 80];
  const sigma = zeros([6], d);
  const dsdt = zeros([6], d);
  K.diffusionScheduleNumeric(f32(t, [6], d), sigma, dsdt);
  close(sigma.toArray(), table, 2e-4, 0, 'sigma vs the table');
  close(sigma.toArray(), t.map((v) => sigmaRef(v)), 1e-6, 0, 'sigma');
  close(dsdt.toArray(), t.map((v) => fd((x) => sigmaRef(x), v, 1e-6)), 1e-6, 1e-9, 'dsigma/dt');
  const s3 = zeros([6, 3], d);
  K.diffusionScheduleNumeric(f32(t, [6], d), s3, null, { sigmaMin: 0.01, sigmaMax: 10, rho: 3 });
  close(s3.toArray(), t.flatMap((v) => [v, v, v].map((x) => sigmaRef(x, 3, 0.01, 10))), 1e-6, 0, 'rho 3, every column equal');
});

deviceTest('learnable ρ: forward per column, dRhoRaw by finite differences', (d) => {
  const t = [0, 0.05, 0.3, 0.5, 0.71, 1];
  const rhoRaw = [7, -1, 0.4];
  const B = t.length;
  const C = rhoRaw.length;
  const dS = uniform(B * C, 4);
  const T = f32(t, [B], d);
  const R = f32(rhoRaw, [C], d);
  const sigma = zeros([B, C], d);
  K.diffusionScheduleNumeric(T, sigma, null, { rhoRaw: R });
  close(sigma.toArray(), t.flatMap((v) => rhoRaw.map((raw) => sigmaRef(v, softplus(raw) + 5))), 1e-6, 0, 'learnable sigma');
  const dR = zeros([C], d);
  K.diffusionScheduleNumericBackward(T, R, f32(dS, [B, C], d), dR);
  const want = rhoRaw.map((raw, c) => fd((x) => t.reduce((acc, v, r) => acc + dS[r * C + c]! * sigmaRef(v, softplus(x) + 5), 0), raw, 1e-5));
  close(dR.toArray(), want, 1e-5, 1e-7, 'dRhoRaw');
});

deviceTest('log-linear schedule: closed forms, MDLM weight = (dσcat/dt)/expm1(σcat); learnable k with dKRaw by finite differences', (d) => {
  const t = [0, 0.01, 0.3, 0.5, 0.9, 1];
  const B = t.length;
  const mc = zeros([B], d);
  const sc = zeros([B], d);
  const w = zeros([B], d);
  K.diffusionScheduleCategorical(f32(t, [B], d), mc, sc, w);
  close(mc.toArray(), t.map((v) => mcRef(v)), 1e-7, 0, 'moveChance');
  close(sc.toArray(), t.map((v) => sigmaCatRef(v)), 1e-6, 0, 'sigmaCat');
  close([sc.toArray()[5]!], [6.9078], 1e-5, 0, 'sigmaCat(1) = −log εmax');
  const wantW = t.map((v) => {
    const lo = Math.max(0, v - 1e-9);
    const hi = Math.min(1, v + 1e-9);
    return (sigmaCatRef(hi) - sigmaCatRef(lo)) / (hi - lo) / Math.expm1(sigmaCatRef(v));
  });
  close(w.toArray(), wantW, 1e-5, 0, 'weight');

  const kRaw = [-6, 0.3, 1.5];
  const C = kRaw.length;
  const T = f32(t, [B], d);
  const KR = f32(kRaw, [C], d);
  const mcC = zeros([B, C], d);
  const wC = zeros([B, C], d);
  K.diffusionScheduleCategorical(T, mcC, null, wC, { kRaw: KR });
  const ks = kRaw.map((r) => softplus(r) + 1);
  close(mcC.toArray(), t.flatMap((v) => ks.map((k) => mcRef(v, k))), 1e-6, 1e-12, 'learnable moveChance');
  close(wC.toArray(), t.flatMap((v) => ks.map((k) => weightRef(v, k))), 1e-5, 1e-12, 'learnable weight');
  const dM = uniform(B * C, 8);
  const dW = uniform(B * C, 9);
  for (const withW of [true, false]) {
    const dK = zeros([C], d);
    K.diffusionScheduleCategoricalBackward(T, KR, f32(dM, [B, C], d), withW ? f32(dW, [B, C], d) : null, dK);
    const want = kRaw.map((raw, c) =>
      fd((x) => t.reduce((acc, v, r) => acc + dM[r * C + c]! * mcRef(v, softplus(x) + 1) + (withW ? dW[r * C + c]! * weightRef(v, softplus(x) + 1) : 0), 0), raw, 1e-5),
    );
    close(dK.toArray(), want, 1e-5, 1e-7, `dKRaw${withW ? '' : ' (no dWeight)'}`);
  }
});

// ---- inputs ---------------------------------------------------------------------------
deviceTest('fused noise input matches the scalar reference (drawn t, given t, pairs)', (d) => {
  const B = 16;
  const D = 4;
  const Kc = 3;
  const W = D + Kc + 2;
  const x0 = uniform(B * D, 3, -3, 3);
  const classes = Array.from({ length: B }, (_, r) => r % Kc);
  const tGiven = uniform(B, 5, 0, 1).map(Math.fround);
  tGiven[0] = 0;
  tGiven[1] = 1;
  for (const [pairs, useT] of [[false, false], [false, true], [true, false]] as const) {
    const input = zeros([B, W], d);
    const target = zeros([B, D], d);
    const rowInfo = zeros([B, 4], d);
    const opts: K.NoiseInputOptions = { numClasses: Kc, seed: 2024, counter: 5, pairs };
    if (useT) opts.t = f32(tGiven, [B], d);
    K.diffusionNoiseInput(f32(x0, [B, D], d), f32(classes, [B], d), input, target, rowInfo, opts);
    const ref = noiseRef(x0.map(Math.fround), classes, B, D, Kc, 2024, 5, pairs, useT ? tGiven : undefined);
    const what = `pairs=${pairs} t=${useT}`;
    close(input.toArray(), ref.input, 2e-6, 2e-6, `${what} input`);
    close(target.toArray(), ref.target, 1e-5, 1e-5, `${what} target`);
    const ri = rowInfo.toArray();
    for (let r = 0; r < B; r++) {
      assert.is(ri[r * 4 + 2], ref.rowInfo[r * 4 + 2], `${what} mask of row ${r}`);
      assert.is(ri[r * 4], Math.fround(ref.rowInfo[r * 4]!), `${what} t of row ${r}`);
    }
    close(ri, ref.rowInfo, 1e-6, 0, `${what} rowInfo`);
  }
});

deviceTest('noise input: pairs share t and mask; a new counter gives new draws; c_skip·x_t + c_out·T = x0', (d) => {
  const B = 200;
  const D = 6;
  const W = D + 4;
  const x0 = uniform(B * D, 7, -4, 4);
  const X0 = f32(x0, [B, D], d);
  const cls = f32(Array.from({ length: B }, (_, r) => r % 2), [B], d);
  const run = (counter: number, pairs = true) => {
    const input = zeros([B, W], d);
    const target = zeros([B, D], d);
    const rowInfo = zeros([B, 4], d);
    K.diffusionNoiseInput(X0, cls, input, target, rowInfo, { numClasses: 2, seed: 1, counter, pairs });
    return { input: input.toArray(), target: target.toArray(), rowInfo: rowInfo.toArray() };
  };
  const a = run(10);
  const P = B / 2;
  let sameEps = 0;
  for (let p = 0; p < P; p++) {
    assert.equal(Array.from(a.rowInfo.slice(p * 4, p * 4 + 4)), Array.from(a.rowInfo.slice((p + P) * 4, (p + P) * 4 + 4)), `pair ${p} shares t, σ, mask`);
    if (a.target[p * D] === a.target[(p + P) * D]) sameEps++;
  }
  assert.is(sameEps, 0, 'eps are independent within a pair');
  assert.equal(run(10), a, 'same (seed, counter): same bits');
  assert.not.equal(run(11).rowInfo, a.rowInfo, 'another counter: other draws');
  for (let r = 0; r < B; r++) {
    const s = a.rowInfo[r * 4 + 1]!;
    const cin = 1 / Math.sqrt(s * s + 1);
    close([a.input[r * W + D + 3]!], [Math.log(s) / 4], 1e-6, 1e-6, 'c_noise');
    for (let j = 0; j < D; j++) {
      const xt = a.input[r * W + j]! / cin;
      const den = xt / (s * s + 1) + s * cin * a.target[r * D + j]!;
      close([den], [Math.fround(x0[r * D + j]!)], 0, 1e-5 * (1 + s), `denoised row ${r} (σ = ${s})`);
    }
  }
});

deviceTest('denoiser input: c_in·x_t, one-hot with MASK = K, c_noise = log(σ)/4 (σmin scoring constants)', (d) => {
  const B = 4;
  const D = 3;
  const Kc = 2;
  const W = D + Kc + 2;
  const xt = uniform(B * D, 11, -5, 5).map(Math.fround);
  const state = [0, 1, 2, 2];
  const sigma = [0.002, 0.5, 3, 80];
  const input = zeros([B, W], d);
  K.diffusionDenoiserInput(f32(xt, [B, D], d), f32(state, [B], d), f32(sigma, [B], d), input, { numClasses: Kc });
  const want: number[] = [];
  for (let r = 0; r < B; r++) {
    const s = Math.fround(sigma[r]!);
    const cin = 1 / Math.sqrt(s * s + 1);
    for (let j = 0; j < D; j++) want.push(cin * xt[r * D + j]!);
    for (let k = 0; k <= Kc; k++) want.push(k === state[r] ? 1 : 0);
    want.push(Math.log(s) / 4);
  }
  close(input.toArray(), want, 1e-6, 1e-7, 'denoiser input');
  close([input.toArray()[W - 1]!], [-1.553652], 0, 1e-6, 'c_noise at σmin = log(0.002)/4');
});

// ---- loss -----------------------------------------------------------------------------
deviceTest('loss: both objectives vs scalar references, gradOut by finite differences (rowInfo or not, D = 0, target null)', (d) => {
  const cases: Array<[string, LossCase]> = [
    ['pointwise', makeLossCase('pointwise', 10, 4, 2, true, true, 1)],
    ['pointwise K=5 no rowInfo', makeLossCase('pointwise', 8, 3, 5, true, false, 2)],
    ['pointwise D=0', makeLossCase('pointwise', 6, 0, 3, false, true, 3)],
    ['pointwise target null', makeLossCase('pointwise', 6, 2, 2, false, true, 4)],
    ['pairwise', makeLossCase('pairwise', 10, 4, 1, true, true, 5)],
    ['pairwise no rowInfo', makeLossCase('pairwise', 8, 3, 1, true, false, 6)],
    ['pairwise D=0', makeLossCase('pairwise', 6, 0, 1, false, true, 7)],
  ];
  for (const [name, c] of cases) {
    const { grad, parts } = runLoss(d, c);
    const out = c.out.map(Math.fround);
    const [feat, label] = lossRef(c, out);
    close(parts, [feat, label], 1e-5, 1e-7, `${name} parts`);
    const total = (o: number[]) => {
      const [f, l] = lossRef(c, o);
      return l + c.fw * f;
    };
    const want = out.map((_, i) =>
      fd(
        (x) => {
          const o = out.slice();
          o[i] = x;
          return total(o);
        },
        out[i]!,
        1e-5,
      ),
    );
    close(grad, want, 1e-4, 1e-6, `${name} gradOut`);
  }
});

deviceTest('loss: rowInfo null is plain cross-entropy and RankNet (the discriminative counterparts)', (d) => {
  const ce = runLoss(d, { objective: 'pointwise', B: 1, D: 0, Kc: 2, out: [0, Math.log(3)], target: null, classes: [1], rowInfo: null, fw: 1 });
  close(ce.parts, [0, Math.log(4 / 3)], 1e-6, 0, 'cross-entropy');
  close(ce.grad, [0.25, -0.25], 1e-6, 0, 'softmax − one-hot');
  const rn = runLoss(d, { objective: 'pairwise', B: 2, D: 0, Kc: 1, out: [1, 3], target: null, classes: [0, 0], rowInfo: null, fw: 1 });
  close(rn.parts, [0, Math.log1p(Math.exp(2))], 1e-6, 0, 'RankNet −log σ(s_i − s_j)');
  const g = 1 / (1 + Math.exp(-2));
  close(rn.grad, [-g, g], 1e-6, 0, 'RankNet gradient');
});

// ---- pair sampler -----------------------------------------------------------------------
function ranked(Q: number, seed: number) {
  const r = rng(seed);
  const offsets = [0];
  const classes: number[] = [];
  const eligible: number[] = [];
  for (let q = 0; q < Q; q++) {
    const n = Math.floor(r() * 10);
    const grades = 1 + Math.floor(r() * 4);
    for (let i = 0; i < n; i++) classes.push(Math.floor(r() * grades));
    offsets.push(classes.length);
    if (n >= 2 && new Set(classes.slice(offsets[q], offsets[q + 1])).size >= 2) eligible.push(q);
  }
  return { offsets, classes, eligible };
}

deviceTest('pair sampler: same query, distinct docs, higher class first, every eligible query hit, reproducible', (d) => {
  const { offsets, classes, eligible } = ranked(30, 5);
  assert.ok(eligible.length >= 8);
  const P = 3000;
  const run = (counter: number) => {
    const rows = Tensor.zeros([2 * P], { dtype: 'u32', device: d });
    K.diffusionSamplePairs(u32(offsets, d), f32(classes, [classes.length], d), u32(eligible, d), rows, { seed: 3, counter });
    return rows.toArray();
  };
  const rows = run(1);
  const queryOf = (i: number) => offsets.findIndex((o, q) => i >= o && i < offsets[q + 1]!);
  const hit = new Set<number>();
  for (let p = 0; p < P; p++) {
    const i = rows[p]!;
    const j = rows[p + P]!;
    assert.ok(i !== j && queryOf(i) === queryOf(j), `pair ${p}: distinct docs of one query`);
    assert.ok(classes[i]! > classes[j]!, `pair ${p}: higher class first`);
    hit.add(queryOf(i));
  }
  assert.equal([...hit].sort((a, b) => a - b), eligible, 'every eligible query is hit, and only those');
  assert.equal(run(1), rows, 'same (seed, counter): same pairs');
  assert.not.equal(run(2), rows, 'another counter: other pairs');
});

cudaTest('CPU and CUDA agree: masks and pair rows bit for bit, values to float rounding', () => {
  const B = 512;
  const D = 9;
  const Kc = 3;
  const x0 = uniform(B * D, 1, -2, 2);
  const classes = Array.from({ length: B }, (_, r) => r % Kc);
  const out = (d: Dev) => {
    const input = zeros([B, D + Kc + 2], d);
    const target = zeros([B, D], d);
    const rowInfo = zeros([B, 4], d);
    K.diffusionNoiseInput(f32(x0, [B, D], d), f32(classes, [B], d), input, target, rowInfo, { numClasses: Kc, seed: 8, counter: 2, pairs: true });
    return { input: input.toArray(), target: target.toArray(), rowInfo: rowInfo.toArray() };
  };
  const a = out('cpu');
  const b = out('cuda');
  for (let r = 0; r < B; r++) assert.is(b.rowInfo[r * 4 + 2], a.rowInfo[r * 4 + 2], `mask of row ${r}`);
  close(b.input, a.input, 1e-5, 1e-6, 'input');
  close(b.target, a.target, 1e-5, 1e-5, 'target');
  const { offsets, classes: cl, eligible } = ranked(100, 9);
  const pairs = (d: Dev) => {
    const rows = Tensor.zeros([2000], { dtype: 'u32', device: d });
    K.diffusionSamplePairs(u32(offsets, d), f32(cl, [cl.length], d), u32(eligible, d), rows, { seed: 4, counter: 1 });
    return rows.toArray();
  };
  assert.equal(pairs('cuda'), pairs('cpu'));
  const c = makeLossCase('pointwise', 300, 7, 2, true, true, 3);
  const lc = runLoss('cpu', c);
  const lg = runLoss('cuda', c);
  close(lg.grad, lc.grad, 1e-5, 1e-9, 'loss gradient');
  close(lg.parts, lc.parts, 1e-5, 1e-9, 'loss parts');
  assert.match(caught(() => K.diffusionNoiseInput(f32(x0, [B, D], 'cuda'), f32(classes.map((v, i) => (i === 7 ? 9 : v)), [B], 'cuda'),
    zeros([B, D + Kc + 2], 'cuda'), zeros([B, D], 'cuda'), zeros([B, 4], 'cuda'), { numClasses: Kc, seed: 1 })).message, /classes\[7\]/);
});

// ---- misuse ---------------------------------------------------------------------------
test('misuse gives TypeError / RangeError naming the argument', () => {
  const d: Dev = 'cpu';
  const B = 4;
  const x0 = zeros([B, 2], d);
  const cls = f32([0, 1, 1, 0], [B], d);
  const input = zeros([B, 6], d);
  const target = zeros([B, 2], d);
  const rowInfo = zeros([B, 4], d);
  const opts = { numClasses: 2, seed: 1 };
  const e1 = caught(() => K.diffusionNoiseInput(x0, f32([0, 1, 2.5, 0], [B], d), input, target, rowInfo, opts));
  assert.instance(e1, RangeError);
  assert.match(e1.message, /classes\[2\] = 2\.5 is not a class id in 0\.\.1/);
  assert.match(caught(() => K.diffusionNoiseInput(x0, f32([0, 1, 2, 0], [B], d), input, target, rowInfo, opts)).message, /classes\[2\]/);
  assert.match(caught(() => K.diffusionNoiseInput(x0, cls, zeros([B, 5], d), target, rowInfo, opts)).message, /input must have shape \[4, 6\], got \[4, 5\]/);
  assert.match(caught(() => K.diffusionNoiseInput(x0, cls, input, target, zeros([B, 3], d), opts)).message, /rowInfo must have shape \[4, 4\]/);
  const e2 = caught(() => K.diffusionNoiseInput(x0, cls, input, target, rowInfo, { seed: 1 } as never));
  assert.instance(e2, TypeError);
  assert.match(e2.message, /options\.numClasses is required/);
  assert.match(caught(() => K.diffusionNoiseInput(x0, cls, input, target, rowInfo, { numClasses: 2 } as never)).message, /options\.seed is required/);
  assert.match(caught(() => K.diffusionNoiseInput(x0, cls, input, target, rowInfo, { ...opts, numClasses: 1.5 })).message, /numClasses must be an integer/);
  assert.match(caught(() => K.diffusionNoiseInput(x0, cls, input, target, rowInfo, { ...opts, t: f32([0, 2, 0, 0], [B], d) })).message, /t\[1\] = 2 is not in \[0, 1\]/);
  assert.match(caught(() => K.diffusionNoiseInput(zeros([3, 2], d), f32([0, 1, 0], [3], d), zeros([3, 6], d), zeros([3, 2], d), zeros([3, 4], d), { ...opts, pairs: true })).message, /even batch/);
  assert.match(caught(() => K.diffusionNoiseInput(x0, cls, input, target, rowInfo, { ...opts, sigmaMin: 0 })).message, /sigmaMin must be a finite number > 0/);
  assert.match(caught(() => K.diffusionNoiseInput(x0, cls, input, target, rowInfo, { ...opts, epsMin: 0.5, epsMax: 0.5 })).message, /epsMin \+ epsMax must be < 1/);
  const e3 = caught(() => K.diffusionNoiseInput(x0, Tensor.zeros([B], { dtype: 'u32', device: d }) as never, input, target, rowInfo, opts));
  assert.instance(e3, TypeError);
  assert.match(e3.message, /classes must be a f32 tensor, got u32/);

  const t = f32([0.1, 0.2, 0.3, 0.4], [B], d);
  assert.match(caught(() => K.diffusionScheduleNumeric(t, zeros([3], d), null)).message, /sigma must have shape \[4\] or \[4, C\], got \[3\]/);
  assert.match(caught(() => K.diffusionScheduleNumeric(t, zeros([B, 2], d), null, { rhoRaw: f32([1, 2, 3], [3], d) })).message, /sigma must have shape \[4, 3\]/);
  assert.match(caught(() => K.diffusionScheduleNumeric(t, zeros([B], d), zeros([B, 1], d))).message, /dsigmaDt must have shape \[4\]/);
  assert.match(caught(() => K.diffusionScheduleNumeric(t, zeros([B], d), null, { sigmaMax: 0.001 })).message, /sigmaMax must be finite and > sigmaMin/);
  assert.match(caught(() => K.diffusionScheduleNumericBackward(t, f32([1], [1], d), zeros([B, 2], d), zeros([1], d))).message, /dSigma must have shape \[4, 1\]/);
  assert.match(caught(() => K.diffusionScheduleCategorical(t, zeros([B], d), null, zeros([B, 1], d))).message, /weight must have shape \[4\]/);
  assert.match(caught(() => K.diffusionScheduleCategoricalBackward(t, f32([1, 1], [2], d), zeros([B, 2], d), null, zeros([3], d))).message, /dKRaw must have shape \[2\]/);

  assert.match(caught(() => K.diffusionDenoiserInput(x0, f32([0, 3, 0, 0], [B], d), f32([1, 1, 1, 1], [B], d), input, { numClasses: 2 })).message, /classState\[1\] = 3 is not a state in 0\.\.2/);
  assert.match(caught(() => K.diffusionDenoiserInput(x0, cls, f32([1, 1, 0, 1], [B], d), input, { numClasses: 2 })).message, /sigma\[2\] = 0 must be finite and > 0/);

  const out = zeros([B, 4], d);
  const parts = zeros([2], d);
  const lo = { numFeatures: 2, numClasses: 2 };
  assert.match(caught(() => K.diffusionLoss('listwise' as never, out, target, cls, null, null, parts, lo)).message, /objective 'listwise' is not one of pointwise, pairwise/);
  assert.match(caught(() => K.diffusionLoss('pointwise', out, target, f32([0, 1, 1, 2], [B], d), null, null, parts, lo)).message, /classes\[3\] = 2 is not a class id/);
  assert.match(caught(() => K.diffusionLoss('pointwise', out, target, cls, null, null, zeros([3], d), lo)).message, /parts must have shape \[2\]/);
  assert.match(caught(() => K.diffusionLoss('pairwise', out, target, cls, null, null, parts, lo)).message, /out must have shape \[4, 3\]/);
  assert.match(caught(() => K.diffusionLoss('pairwise', zeros([3, 3], d), null, null, null, null, parts, lo)).message, /even batch/);
  assert.instance(caught(() => K.diffusionLoss('pointwise', out, target, null, null, null, parts, lo)), TypeError);

  const offsets = u32([0, 2, 4], d);
  const classes4 = f32([1, 0, 1, 1], [4], d);
  const rows = Tensor.zeros([6], { dtype: 'u32', device: d });
  assert.match(caught(() => K.diffusionSamplePairs(offsets, classes4, u32([0, 2], d), rows, { seed: 1 })).message, /eligible\[1\] = 2 is not a query id/);
  const many = Tensor.zeros([40], { dtype: 'u32', device: d });
  assert.match(caught(() => K.diffusionSamplePairs(offsets, classes4, u32([0, 1], d), many, { seed: 1 })).message, /query 1 has no two documents with different classes/);
  assert.match(caught(() => K.diffusionSamplePairs(u32([0, 2, 3], d), classes4, u32([0], d), rows, { seed: 1 })).message, /offsets must end at the number of documents \(4\)/);
  assert.match(caught(() => K.diffusionSamplePairs(offsets, classes4, u32([], d), rows, { seed: 1 })).message, /eligible is empty/);
  assert.match(caught(() => K.diffusionSamplePairs(offsets, classes4, u32([0], d), Tensor.zeros([5], { dtype: 'u32', device: d }), { seed: 1 })).message, /rows must hold 2P values/);
  assert.match(caught(() => K.diffusionSamplePairs(offsets, classes4, u32([0], d), rows, { seed: -1 })).message, /options\.seed must be an integer/);
});

test('async twins resolve with the same results, refuse zero-copy views, and launches are counted', async () => {
  const B = 64;
  const D = 8;
  const x0 = Tensor.from(Float32Array.from(uniform(B * D, 1)), [B, D], { device: 'cpu', copy: true });
  const cls = Tensor.from(Float32Array.from({ length: B }, (_, r) => r % 2), [B], { device: 'cpu', copy: true });
  const outs = () => [Tensor.zeros([B, D + 4], { device: 'cpu' }), Tensor.zeros([B, D], { device: 'cpu' }), Tensor.zeros([B, 4], { device: 'cpu' })] as const;
  const [i1, t1, r1] = outs();
  const [i2, t2, r2] = outs();
  const before = K.kernelStats().cpu;
  K.diffusionNoiseInput(x0, cls, i1, t1, r1, { numClasses: 2, seed: 5n, counter: 3n });
  assert.is(K.kernelStats().cpu, before + 1, 'one launch counted');
  const p = K.diffusionNoiseInputAsync(x0, cls, i2, t2, r2, { numClasses: 2, seed: 5, counter: 3 });
  assert.match(caught(() => i2.dispose()).message, /async kernel/);
  await p;
  assert.equal(i2.toArray(), i1.toArray());
  assert.equal(r2.toArray(), r1.toArray());
  const view = Tensor.from(new Float32Array(B * D), [B, D], { device: 'cpu' });
  assert.match(caught(() => K.diffusionNoiseInputAsync(view, cls, i2, t2, r2, { numClasses: 2, seed: 1 })).message, /zero-copy view/);
  const parts = Tensor.zeros([2], { device: 'cpu' });
  const out = Tensor.from(Float32Array.from(uniform(B * (D + 2), 4)), [B, D + 2], { device: 'cpu', copy: true });
  await K.diffusionLossAsync('pointwise', out, t1, cls, r1, null, parts, { numFeatures: D, numClasses: 2 });
  assert.ok(Number.isFinite(parts.toArray()[1]!));
});

test.run();

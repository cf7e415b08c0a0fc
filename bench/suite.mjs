// ordo's performance regression suite (npm run bench, ordo bench): every kernel
// family and both trainers, on every usable backend, each figure with the
// median, min and max over repeated runs and a RATIO against a reference
// measured in the same run, so runs on noisy or different machines compare:
//   fma_peak        achieved GFLOP/s ÷ the machine's measured FMA peak (CPU:
//                   native/bench/bench_peak at the same thread count; CUDA:
//                   bench_gpu's measured FMA rate);
//   copy_bandwidth  achieved GB/s ÷ the measured streaming copy bandwidth;
//   naive_js / js_reference   speed-up over a plain JS implementation of the
//                   same work (parser, evaluator), timed in the same run.
// Kernels with no exact flop count use the op models below (stated, the same
// in native/bench/bench_gpu.cu); a ratio only has to mean the same thing from
// run to run. bench/check.mjs compares `ratio_best` (from the fastest repetition,
// the most load-resistant figure) with bench/baselines/<machine class>.json.
//
// Sources: the Node API (ordo/kernels, the trainers), the C++ benches in the
// CMake build folder (bench_peak, bench_dense, bench_ranking, bench_parse, and
// bench_gpu with CUDA events when built with CUDA), and the PyTorch CPU peers of
// bench/peers/ (side by side, not part of the ratios) when /usr/bin/python3 has torch.
//
// Output: one JSON line per case (stdout), then a readable table; progress on stderr.
//   node bench/suite.mjs [--smoke] [--reps N] [--threads N] [--backend cpu|cuda|all]
//        [--only REGEX] [--skip REGEX] [--native-dir DIR] [--no-native] [--no-peers]
//        [--no-e2e] [--jsonl FILE] [--no-table] [--src] [--shared-dir DIR]
// --smoke: small shapes, few repetitions (CI, ≤ 3 minutes on 2 cores).
// --src: import lib/*.ts instead of dist/ (run with node --import tsx).
// Cases whose API is not there yet (DiffusionRank kernels, trainDiffusionRank)
// or whose data is missing (../shared/data) are reported as skipped, with the reason.
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { naiveJsParse } from './naive-parse.mjs';

export const SUITE_FORMAT = 'ordo-bench-suite/1';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// ---- op models (keep equal to native/bench/bench_gpu.cu) --------------------------------------
/** One (i, j) term of an O(n²) ranking kernel: difference, scale, exp, multiply-add. */
const PAIR_FLOPS = 10;
/** Linear-time losses read a score and a label and write a gradient per doc. */
const LINEAR_LOSS_BYTES_PER_DOC = 12;
const LOSSES = {
  mse: 0,
  sigmoidCrossEntropy: 0,
  softmaxCrossEntropy: 0,
  rankNet: PAIR_FLOPS,
  lambdaRank: PAIR_FLOPS,
  listNet: 0,
  listMLE: 0,
  approxNDCG: PAIR_FLOPS,
  neuralNDCG: 3 * PAIR_FLOPS, // NeuralSort P̂ plus Sinkhorn and its backward
  neuralNDCGTransposed: 3 * PAIR_FLOPS,
  lambdaLoss: PAIR_FLOPS,
};
// bench_ranking's loss names → the TS names above
const NATIVE_LOSS_NAMES = {
  loss_pointwise_mse_grad: 'mse',
  loss_sigmoid_ce_grad: 'sigmoidCrossEntropy',
  loss_softmax_ce_grad: 'softmaxCrossEntropy',
  loss_ranknet_grad: 'rankNet',
  loss_lambdarank_grad: 'lambdaRank',
  loss_listnet_grad: 'listNet',
  loss_listmle_grad: 'listMLE',
  loss_approx_ndcg_grad: 'approxNDCG',
  loss_neural_ndcg_grad: 'neuralNDCG',
  loss_neural_ndcg_transposed_grad: 'neuralNDCGTransposed',
  loss_lambdaloss_ndcg2pp_grad: 'lambdaLoss',
};
/**
 * Nominal flops of one MLP train step on `rows` rows: 3 × the forward GEMMs (forward + two backward GEMMs per
 * layer), the convention of the PyTorch peers too; the first layer's input gradient is counted although no
 * trainer computes it (136→512→512→1: nominal 8.16 GFLOP, done 7.59).
 */
const mlpStepFlops = (rows, sizes) => 3 * sizes.slice(0, -1).reduce((acc, s, i) => acc + 2 * rows * s * sizes[i + 1], 0);
/** The DiffusionRank denoiser the epoch case is rated with: [c_in·x, one-hot(K+1), c_noise] → 4 × 256 → D + K. */
// DiffusionRank denoiser widths: input D + K + 2; output D + K (pointwise, K = 2) or D + 1 (pairwise score head).
const denoiserSizes = (d, k, pairwise = false) => [d + k + 2, 256, 256, 256, 256, pairwise ? d + 1 : d + k];

// ---- options -----------------------------------------------------------------------------------
const { values: opt } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    reps: { type: 'string' },
    threads: { type: 'string' },
    backend: { type: 'string', default: 'all' },
    only: { type: 'string' },
    skip: { type: 'string' },
    'native-dir': { type: 'string' },
    'no-native': { type: 'boolean', default: false },
    'no-peers': { type: 'boolean', default: false },
    'no-e2e': { type: 'boolean', default: false },
    jsonl: { type: 'string' },
    'no-table': { type: 'boolean', default: false },
    src: { type: 'boolean', default: false },
    'shared-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opt.help) {
  const head = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  console.log(head.slice(0, head.findIndex((l) => l.startsWith('import'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}
const smoke = opt.smoke;
const REPS = opt.reps ? Math.max(1, Number(opt.reps)) : smoke ? 7 : 9;
/** Repetitions are cut so one case takes about this long (the first timed run decides). */
const CASE_BUDGET_MS = smoke ? 1500 : 6000;
const onlyRe = opt.only ? new RegExp(opt.only) : null;
const skipRe = opt.skip ? new RegExp(opt.skip) : null;
const wanted = (name) => (!onlyRe || onlyRe.test(name)) && (!skipRe || !skipRe.test(name));
const sharedDir = resolve(opt['shared-dir'] ?? process.env.ORDO_SHARED_DIR ?? join(root, '..', 'shared'));
const nativeDir = resolve(opt['native-dir'] ?? process.env.ORDO_BENCH_NATIVE_DIR ?? join(root, 'build'));
const log = (...a) => console.error('[suite]', ...a);

// ---- the library (dist/ by default, lib/*.ts with --src) ---------------------------------------
const libDir = join(root, opt.src ? 'lib' : 'dist');
const ext = opt.src ? '.ts' : '.js';
const libUrl = (name) => pathToFileURL(join(libDir, name + ext)).href;
if (!existsSync(join(libDir, 'kernels' + ext))) {
  console.error(`bench/suite.mjs: ${join(libDir, 'kernels' + ext)} not found (build with npm run build:ts, or pass --src and run under tsx)`);
  process.exit(2);
}
const K = await import(libUrl('kernels'));
const O = await import(libUrl('index'));
let DR = typeof O.trainDiffusionRank === 'function' ? O : null; // the DiffusionRank trainer, when it has landed
let drMissing = `${join(libDir, 'diffusionrank' + ext)} not found (the DiffusionRank trainer has not landed)`;
if (!DR && existsSync(join(libDir, 'diffusionrank' + ext))) {
  try {
    DR = await import(libUrl('diffusionrank'));
    if (typeof DR.trainDiffusionRank !== 'function') {
      drMissing = 'lib/diffusionrank does not export trainDiffusionRank';
      DR = null;
    }
  } catch (err) {
    drMissing = `lib/diffusionrank failed to load: ${err.message.split('\n')[0]}`;
    DR = null;
  }
}

const threads = opt.threads ? Number(opt.threads) : K.threads();
K.threads(threads);
const info = K.backend();
let backends;
if (opt.backend === 'all') backends = info.cuda.usable ? ['cpu', 'cuda'] : ['cpu'];
else if (opt.backend === 'cpu' || opt.backend === 'cuda') backends = [opt.backend];
else {
  console.error(`bench/suite.mjs: --backend must be cpu, cuda or all, got ${opt.backend}`);
  process.exit(2);
}
const cudaSkipReason = info.cuda.compiled ? `CUDA not usable: ${info.cuda.errorName || 'no device'}` : 'built without CUDA';
if (backends.includes('cuda') && !info.cuda.usable) {
  console.error(`bench/suite.mjs: --backend cuda, but ${cudaSkipReason}`);
  process.exit(2);
}

// ---- machine description ------------------------------------------------------------------------
function git(args) {
  const r = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}
/** AVX2 + FMA on this CPU (the machine class; whether ordo uses them is avx2_kernels). */
function cpuHasAvx2() {
  try {
    const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1].split(/\s+/) ?? [];
    return flags.includes('avx2') && flags.includes('fma');
  } catch {
    return K.usesAvx2();
  }
}
const cudaVersion = (v) => (v ? `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}` : null);
const gpu = info.cuda.usable ? info.cuda.devices[0] : null;
/** Baseline class: the GPU for CUDA runs (h100, h200, a100, ...), else cpu-<isa>-<cores>core. */
export function machineClass(m) {
  if (m.gpu && m.backends.includes('cuda')) {
    const name = m.gpu.toLowerCase();
    const known = /\b(h100|h200|h800|a100|a10g|a10|l40s|l40|l4|t4|v100|b200|b100|gh200|gb200)\b/.exec(name);
    return known ? known[1] : name.replace(/^nvidia\s+/, '').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  }
  return `cpu-${m.avx2 ? 'avx2' : 'generic'}-${m.cores}core`;
}
const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  threads,
  avx2: cpuHasAvx2(),
  avx2_kernels: K.usesAvx2(), // false when ORDO_NO_AVX2=1 forces the scalar path
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
  backends,
  gpu: gpu?.name ?? null,
  gpu_cc: gpu?.computeCapability ?? null,
  gpu_memory_bytes: gpu?.totalMemory ?? null,
  gpu_sms: gpu?.multiprocessors ?? null,
  cuda_driver: cudaVersion(info.cuda.driverVersion),
  cuda_runtime: cudaVersion(info.cuda.runtimeVersion),
  cuda: info.cuda.usable ? 'usable' : cudaSkipReason,
  backend: K.describeBackend(info),
  commit: git(['rev-parse', '--short', 'HEAD']) ?? 'unknown',
  dirty: (git(['status', '--porcelain', '--untracked-files=no']) ?? '') !== '',
  date: new Date().toISOString(),
};
machine.class = machineClass(machine);
const mode = smoke ? 'smoke' : 'full';

// ---- records ------------------------------------------------------------------------------------
const records = []; // cases (rated at the end, once the closing references are in)
const refs = []; // reference measurements
const peers = []; // PyTorch lines
function add(r) {
  r.source ??= 'node';
  r.id = `${r.case}|${r.shape ?? ''}|${r.backend ?? ''}|${r.source}`;
  records.push(r);
  if (r.skipped) log(`${r.case} ${r.backend ?? ''}: skipped (${r.skipped})`);
  else log(`${r.case} ${r.shape ?? ''} ${r.backend}: ${r.median_ms?.toFixed(3)} ms (${r.min_ms?.toFixed(3)}–${r.max_ms?.toFixed(3)})`);
}
const skip = (name, backend, reason, extra = {}) => wanted(name) && add({ case: name, backend, skipped: reason, ...extra });

const stats = (t) => {
  const s = [...t].sort((a, b) => a - b);
  return { median_ms: s[s.length >> 1], min_ms: s[0], max_ms: s[s.length - 1], reps: s.length };
};
function timeSync(fn, sync, reps = REPS) {
  fn(); // warm-up
  sync();
  const t = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    sync();
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (i === 0) reps = Math.max(3, Math.min(reps, Math.floor(CASE_BUDGET_MS / Math.max(t[0], 1e-3))));
  }
  return stats(t);
}

// ---- native executables --------------------------------------------------------------------------
function runNative(exe, args = [], timeoutMs = 600000) {
  const path = join(nativeDir, exe);
  if (opt['no-native']) return { skipped: '--no-native' };
  if (!existsSync(path)) return { skipped: `${path} not built (npm run build:native, or CMake: see README "Performance regression suite")` };
  const t0 = Date.now();
  const r = spawnSync(path, args, { encoding: 'utf8', env: { ...process.env, ORDO_THREADS: String(threads) }, timeout: timeoutMs, maxBuffer: 1 << 26 });
  if (r.error || r.status !== 0) return { skipped: `${exe} failed: ${r.error?.message ?? (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n').pop()}` };
  log(`${exe} ${args.join(' ')}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { lines: r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)) };
}

// JS fallbacks for the CPU references when bench_peak is not built: a scalar
// multiply-add loop (one thread) and TypedArray copy bandwidth.
function jsReferences() {
  const iters = smoke ? 2e6 : 2e7;
  const best = (fn, n) => Math.min(...Array.from({ length: n }, () => { const t0 = process.hrtime.bigint(); fn(); return Number(process.hrtime.bigint() - t0) / 1e6; }));
  let sink = 0;
  const fmaMs = best(() => {
    let a0 = 1, a1 = 2, a2 = 3, a3 = 4, a4 = 5, a5 = 6, a6 = 7, a7 = 8;
    for (let i = 0; i < iters; i++) {
      a0 = a0 * 0.999999 + 1e-7; a1 = a1 * 0.999999 + 1e-7; a2 = a2 * 0.999999 + 1e-7; a3 = a3 * 0.999999 + 1e-7;
      a4 = a4 * 0.999999 + 1e-7; a5 = a5 * 0.999999 + 1e-7; a6 = a6 * 0.999999 + 1e-7; a7 = a7 * 0.999999 + 1e-7;
    }
    sink += a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
  }, 5);
  const n = (smoke ? 8 : 32) << 20;
  const a = new Float32Array(n).fill(1), c = new Float32Array(n);
  const copyMs = best(() => c.set(a), 5);
  return [
    { case: 'fma_peak', backend: 'cpu', threads, source: 'js', isa: 'js-scalar', min_ms: fmaMs, gflops: (16 * iters) / (fmaMs * 1e6), sink },
    { case: 'mem_copy', backend: 'cpu', threads, source: 'js', min_ms: copyMs, gbps: (8 * n) / (copyMs * 1e6) },
  ];
}

function measureReferences(when) {
  const r = runNative('bench_peak', smoke ? ['--quick'] : []);
  const lines = r.lines ?? jsReferences();
  if (r.skipped) log(`CPU references from JS (bench_peak: ${r.skipped})`);
  for (const j of lines) refs.push({ ...j, source: j.source ?? 'native/bench_peak', when });
}

/** Best reference rate seen in the run for (kind, backend, threads): the peak the machine reached. */
function reference(kind, backend, thr) {
  const want = backend === 'cuda' ? (kind === 'fma_peak' ? 'gpu_fma_measured' : 'gpu_copy_measured') : kind === 'fma_peak' ? 'fma_peak' : 'mem_copy';
  const rateKey = kind === 'fma_peak' ? 'gflops' : 'gbps';
  const cands = refs.filter((j) => j.case === want && (backend === 'cuda' || j.threads === thr) && Number.isFinite(j[rateKey]));
  if (cands.length === 0) return null;
  const native = cands.filter((j) => j.source !== 'js');
  const pool = native.length ? native : cands;
  return { value: Math.max(...pool.map((j) => j[rateKey])), name: pool[0].source === 'js' ? `js_${want}` : want };
}

// ---- helpers for Node cases -----------------------------------------------------------------------
const rand = (n, seed = 1, lo = -1, hi = 1) => {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  return out;
};
function tensorKit(device) {
  const made = [];
  const keep = (t) => (made.push(t), t);
  const syncT = device === 'cuda' ? K.Tensor.zeros([1], { device }) : null;
  return {
    T: (a, shape) => keep(K.Tensor.from(a, shape, { device, copy: true })),
    Z: (shape, dtype = 'f32') => keep(K.Tensor.zeros(shape, { device, dtype })),
    off: (o) => keep(K.raggedOffsets(o, device)),
    // CUDA launches are asynchronous: reading a value back waits for the queue.
    sync: syncT ? () => K.sum(syncT) : () => {},
    dispose: () => {
      for (const t of made) t.dispose();
      syncT?.dispose();
    },
  };
}
const uniformOffsets = (lists, n) => Uint32Array.from({ length: lists + 1 }, (_, q) => q * n);

function caseRun(name, backend, shape, body) {
  if (!wanted(name)) return;
  const kit = tensorKit(backend);
  try {
    const r = body(kit);
    if (r) add({ case: name, shape, backend, threads: backend === 'cpu' ? threads : undefined, timing: backend === 'cuda' ? 'wall+sync' : 'wall', ...r });
  } catch (err) {
    add({ case: name, shape, backend, skipped: `error: ${String(err?.message ?? err).split('\n')[0]}` });
  } finally {
    kit.dispose();
  }
}

// ---- kernel cases through the Node API ------------------------------------------------------------
function kernelCases(dev) {
  // SGEMM
  const gemms = smoke ? [[512, 136, 256]] : [[4096, 136, 512], [4096, 512, 512], [1024, 1024, 1024], [4096, 46, 256]];
  for (const [m, n, k] of gemms) {
    caseRun('sgemm', dev, `${m}x${n}x${k}`, ({ T, Z, sync }) => {
      const a = T(rand(m * k, 1), [m, k]), b = T(rand(k * n, 2), [k, n]), c = Z([m, n]);
      return { ...timeSync(() => K.sgemm(a, b, c), sync), flops: 2 * m * n * k, reference: 'fma_peak' };
    });
  }

  // MLP train step: forward (training) → dy = y → backward → Adam, through the MLP scorer kernels.
  const batch = smoke ? 512 : 4096;
  const mlps = smoke
    ? [{ sizes: [46, 128, 128, 1], act: 'relu' }, { sizes: [50, 64, 64, 48], act: 'silu', ln: true, drop: 0.1 }]
    : [
        { sizes: [136, 512, 512, 1], act: 'relu' },
        { sizes: [46, 256, 256, 256, 256, 1], act: 'relu' },
        { sizes: [50, 256, 256, 256, 256, 48], act: 'silu', ln: true, drop: 0.1 }, // the DiffusionRank denoiser
      ];
  for (const { sizes, act, ln, drop } of mlps) {
    const shape = `batch${batch}:${sizes.join('-')}${act === 'silu' ? '+silu' : ''}${ln ? '+ln' : ''}${drop ? `+drop${drop}` : ''}`;
    caseRun('mlp_train_step', dev, shape, ({ T, Z, sync }) => {
      const cfg = { in: sizes[0], hidden: sizes.slice(1, -1), out: sizes.at(-1), activation: act, layerNorm: !!ln, dropout: drop ?? 0 };
      const np = K.mlpParamCount(cfg);
      const params = T(K.mlpInitParams(cfg, 7), [np]);
      const grads = Z([np]), m = Z([np]), v = Z([np]);
      const x = T(rand(batch * cfg.in, 3), [batch, cfg.in]);
      const y = Z([batch, cfg.out]), dy = Z([batch, cfg.out]);
      const cache = K.mlpCache(cfg, batch, dev);
      let step = 0;
      try {
        const t = timeSync(() => {
          step++;
          K.mlpForward(cfg, params, x, y, cache, { training: true, seed: step });
          K.activation(y, dy, 'identity'); // loss ½‖y‖²: dy = y
          K.mlpBackward(cfg, params, cache, dy, grads, null);
          K.adamUpdate(params, grads, m, v, { lr: 1e-4, step, weightDecay: 0.01 });
        }, sync);
        return { ...t, flops: mlpStepFlops(batch, sizes), reference: 'fma_peak' };
      } finally {
        K.mlpCacheDispose(cache);
      }
    });
  }

  // NeuralSort apply, forward and forward + backward (P̂ never stored)
  const sorts = smoke ? [[64, 32], [16, 128]] : [[256, 32], [256, 128], [64, 512], [16, 2048]];
  for (const [lists, n] of sorts) {
    const total = lists * n;
    const setup = ({ T, Z, off }) => ({
      s: T(rand(total, 5), [total]), v: T(rand(total, 6), [total]), o: off(uniformOffsets(lists, n)),
      out: Z([total]), st: Z([2 * total]), go: T(rand(total, 7), [total]), gs: Z([total]), gv: Z([total]),
    });
    caseRun('neuralsort_fwd', dev, `${lists}x${n}`, (kit) => {
      const b = setup(kit);
      return { ...timeSync(() => K.neuralSortApply(b.s, b.v, b.o, b.out, b.st), kit.sync), flops: PAIR_FLOPS * lists * n * n, reference: 'fma_peak' };
    });
    caseRun('neuralsort_fwd_bwd', dev, `${lists}x${n}`, (kit) => {
      const b = setup(kit);
      const t = timeSync(() => {
        K.neuralSortApply(b.s, b.v, b.o, b.out, b.st);
        K.neuralSortApplyBackward(b.s, b.v, b.o, b.st, b.go, b.gs, b.gv);
      }, kit.sync);
      return { ...t, flops: 3 * PAIR_FLOPS * lists * n * n, reference: 'fma_peak' };
    });
  }

  // Every ranking loss (value + gradient)
  const [lists, n] = smoke ? [64, 32] : [256, 128];
  for (const [loss, pairFlops] of Object.entries(LOSSES)) {
    caseRun(`loss_${loss}`, dev, `${lists}x${n}`, ({ T, Z, off, sync }) => {
      const total = lists * n;
      const s = T(rand(total, 5), [total]);
      const y = T(Float32Array.from({ length: total }, (_, i) => (i * 7919) % 3), [total]);
      const o = off(uniformOffsets(lists, n));
      const l = Z([lists]), g = Z([total]);
      const t = timeSync(() => K.rankingLoss(loss, s, y, o, l, g, {}), sync);
      return pairFlops
        ? { ...t, flops: pairFlops * lists * n * n, reference: 'fma_peak' }
        : { ...t, bytes: LINEAR_LOSS_BYTES_PER_DOC * total, reference: 'copy_bandwidth' };
    });
  }

  diffusionKernelCases(dev);
}

// ---- DiffusionRank kernels (lib/diffusion-kernels.ts), when they exist ------------------------------
function diffusionKernelCases(dev) {
  const need = {
    diffusion_schedule_numeric: 'diffusionScheduleNumeric',
    diffusion_schedule_numeric_learnable: 'diffusionScheduleNumeric',
    diffusion_schedule_categorical: 'diffusionScheduleCategorical',
    diffusion_noise_input: 'diffusionNoiseInput',
    diffusion_loss_pointwise: 'diffusionLoss',
    diffusion_loss_pairwise: 'diffusionLoss',
    diffusion_sample_pairs: 'diffusionSamplePairs',
  };
  let any = false;
  for (const [name, fn] of Object.entries(need)) {
    if (typeof K[fn] !== 'function') skip(name, dev, `ordo/kernels has no ${fn} yet (DiffusionRank kernels not landed)`);
    else any = true;
  }
  if (!any) return;
  // MQ2008-like shapes: D = 46 features, K = 3 label classes; B rows per step
  const B = smoke ? 4096 : 65536, D = 46, NC = 3;
  const has = (name) => typeof K[need[name]] === 'function';
  if (has('diffusion_schedule_numeric'))
    caseRun('diffusion_schedule_numeric', dev, `${B}`, ({ T, Z, sync }) => {
      const t = T(rand(B, 11, 0, 1), [B]), sigma = Z([B]), ds = Z([B]);
      return { ...timeSync(() => K.diffusionScheduleNumeric(t, sigma, ds, {}), sync), bytes: 12 * B, reference: 'copy_bandwidth' };
    });
  if (has('diffusion_schedule_numeric_learnable'))
    caseRun('diffusion_schedule_numeric_learnable', dev, `${B}x${D}`, ({ T, Z, sync }) => {
      const t = T(rand(B, 11, 0, 1), [B]), sigma = Z([B, D]), ds = Z([B, D]), rhoRaw = T(rand(D, 12), [D]);
      return { ...timeSync(() => K.diffusionScheduleNumeric(t, sigma, ds, { rhoRaw }), sync), bytes: 4 * B + 8 * B * D, reference: 'copy_bandwidth' };
    });
  if (has('diffusion_schedule_categorical'))
    caseRun('diffusion_schedule_categorical', dev, `${B}`, ({ T, Z, sync }) => {
      const t = T(rand(B, 13, 0, 1), [B]), mc = Z([B]), sc = Z([B]), w = Z([B]);
      return { ...timeSync(() => K.diffusionScheduleCategorical(t, mc, sc, w, {}), sync), bytes: 16 * B, reference: 'copy_bandwidth' };
    });
  const classes = Float32Array.from({ length: B }, (_, i) => (i * 7919) % NC);
  if (has('diffusion_noise_input'))
    caseRun('diffusion_noise_input', dev, `${B}x${D}:k${NC}`, ({ T, Z, sync }) => {
      const x0 = T(rand(B * D, 14), [B, D]), cls = T(classes, [B]);
      const input = Z([B, D + NC + 2]), target = Z([B, D]), rowInfo = Z([B, 4]);
      let counter = 0;
      const t = timeSync(() => K.diffusionNoiseInput(x0, cls, input, target, rowInfo, { numClasses: NC, seed: 1, counter: counter++, pairs: true }), sync);
      return { ...t, bytes: 4 * B * (D + 1 + (D + NC + 2) + D + 4), reference: 'copy_bandwidth' };
    });
  for (const objective of ['pointwise', 'pairwise']) {
    const name = `diffusion_loss_${objective}`;
    if (!has(name)) continue;
    const dout = objective === 'pointwise' ? D + NC : D + 1;
    caseRun(name, dev, `${B}x${dout}`, ({ T, Z, sync }) => {
      const out = T(rand(B * dout, 15), [B, dout]), target = T(rand(B * D, 16), [B, D]), cls = T(classes, [B]);
      const rowInfo = T(Float32Array.from({ length: 4 * B }, (_, i) => (i % 4 === 2 ? i & 1 : i % 4 === 3 ? 2 : 0.5)), [B, 4]);
      const grad = Z([B, dout]), parts = Z([2]);
      const t = timeSync(() => K.diffusionLoss(objective, out, target, cls, rowInfo, grad, parts, { numFeatures: D, numClasses: NC }), sync);
      return { ...t, bytes: 4 * B * (2 * dout + D + 1 + 4), reference: 'copy_bandwidth' };
    });
  }
  if (has('diffusion_sample_pairs')) {
    const Q = smoke ? 500 : 5000, per = 20, P = B / 2;
    caseRun('diffusion_sample_pairs', dev, `${Q}x${per}:pairs${P}`, ({ T, Z, off, sync }) => {
      const o = off(uniformOffsets(Q, per));
      const cls = T(Float32Array.from({ length: Q * per }, (_, i) => (i * 7919) % NC), [Q * per]);
      const eligible = K.Tensor.from(Uint32Array.from({ length: Q }, (_, q) => q), [Q], { device: dev, copy: true });
      const rows = Z([2 * P], 'u32');
      let counter = 0;
      try {
        // op model: a pair reads its query's offsets and a few classes and writes two rows: ~64 bytes
        return { ...timeSync(() => K.diffusionSamplePairs(o, cls, eligible, rows, { seed: 1, counter: counter++ }), sync), bytes: 64 * P, reference: 'copy_bandwidth' };
      } finally {
        eligible.dispose();
      }
    });
  }
}

// ---- evaluator -------------------------------------------------------------------------------------
// A plain JS NDCG@k / AP (the `standard` convention: 2^l − 1 gains, 1/log2(i+1), stable ties,
// no relevant doc → 0): the scalar reference the evaluator's speed is measured against.
function jsEvaluate(labels, offsets, scores, ks) {
  const nq = offsets.length - 1;
  const sums = new Float64Array(ks.length + 1);
  for (let q = 0; q < nq; q++) {
    const b = offsets[q], n = offsets[q + 1] - b;
    const idx = Array.from({ length: n }, (_, i) => i).sort((i, j) => scores[b + j] - scores[b + i] || i - j);
    const ideal = Array.from(labels.subarray(b, b + n)).sort((x, y) => y - x);
    ks.forEach((k, m) => {
      let dcg = 0, idcg = 0;
      for (let i = 0; i < Math.min(k, n); i++) {
        dcg += (2 ** labels[b + idx[i]] - 1) / Math.log2(i + 2);
        idcg += (2 ** ideal[i] - 1) / Math.log2(i + 2);
      }
      sums[m] += idcg > 0 ? dcg / idcg : 0;
    });
    let hits = 0, ap = 0;
    for (let i = 0; i < n; i++) if (labels[b + idx[i]] >= 1) ap += ++hits / (i + 1);
    sums[ks.length] += hits ? ap / hits : 0;
  }
  return Array.from(sums, (s) => s / nq);
}

function evaluatorCases(sets) {
  const name = 'evaluate';
  if (!wanted(name)) return;
  const ks = [1, 3, 5, 10];
  for (const { label, data } of sets) {
    const scores = new Float64Array(data.labels.length);
    const nf = data.numFeatures ?? 1;
    for (let i = 0; i < scores.length; i++) scores[i] = data.features ? data.features[i * nf + Math.min(39, nf - 1)] + 1e-3 * ((i * 2654435761) % 97) : Math.sin(i);
    const ordoRun = () => O.evaluate(data, scores, { metrics: 'ndcg@1,3,5,10,map', convention: 'standard' });
    const t = timeSync(ordoRun, () => {});
    const js = timeSync(() => jsEvaluate(data.labels, data.queryOffsets, scores, ks), () => {}, Math.min(REPS, 5));
    // the two must agree, or the reference is not the same work
    const a = ordoRun(), b = jsEvaluate(data.labels, data.queryOffsets, scores, ks);
    const diff = Math.max(...['ndcg@1', 'ndcg@3', 'ndcg@5', 'ndcg@10', 'map'].map((m, i) => Math.abs(a.metrics[m].mean - b[i])));
    add({
      case: name, shape: label, backend: 'cpu', ...t, docs: data.labels.length, queries: data.queryOffsets.length - 1,
      reference: 'js_reference', reference_ms: js.median_ms, reference_min_ms: js.min_ms, agreement: diff,
      ...(diff > 1e-6 ? { warning: `ordo and the JS reference disagree by ${diff}` } : {}),
    });
  }
}

// ---- parse -----------------------------------------------------------------------------------------
function generatedFile(mb) {
  const path = join(root, 'bench', '.cache', `suite-generated-${mb}mb.txt`);
  if (existsSync(path) && statSync(path).size >= mb * 1e6) return path;
  mkdirSync(dirname(path), { recursive: true });
  let seed = 12345;
  const r = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
  const chunks = [];
  let bytes = 0, row = 0;
  while (bytes < mb * 1e6) {
    const feats = [];
    for (let f = 1; f <= 46; f++) feats.push(`${f}:${r() < 0.2 ? '0' : r().toFixed(6)}`);
    const line = `${Math.floor(r() * 3)} qid:${Math.floor(row / 20)} ${feats.join(' ')} #docid = G${row} inc = 1 prob = 0.5\r\n`;
    chunks.push(line);
    bytes += line.length;
    row++;
  }
  writeFileSync(path, chunks.join(''));
  return path;
}
function parseCases(mqTrain) {
  if (!wanted('parse')) return;
  const files = [];
  if (mqTrain) files.push({ label: 'MQ2008-Fold1-train', path: mqTrain });
  else skip('parse', 'cpu', `MQ2008 Fold1 train.txt not found under ${sharedDir}/data`, { shape: 'MQ2008-Fold1-train' });
  const genMb = smoke ? 4 : 30;
  files.push({ label: `generated-${genMb}MB`, path: generatedFile(genMb) });
  for (const { label, path } of files) {
    const mb = statSync(path).size / 1e6;
    const t = timeSync(() => O.readDatasetSync(path), () => {});
    const js = timeSync(() => naiveJsParse(path), () => {}, Math.min(REPS, 3));
    const raw = timeSync(() => readFileSync(path), () => {});
    add({
      case: 'parse', shape: label, backend: 'cpu', ...t, MB: +mb.toFixed(2), mbps: mb / (t.median_ms / 1e3),
      reference: 'naive_js', reference_ms: js.median_ms, reference_min_ms: js.min_ms,
      fraction_of_raw_read: raw.min_ms / t.min_ms,
    });
    const nat = runNative('bench_parse', [path, '--repeat', String(smoke ? 3 : REPS)]);
    if (nat.lines?.[0]) {
      const j = nat.lines[0];
      add({
        case: 'parse', shape: label, backend: 'cpu', source: 'native/bench_parse', median_ms: j.median_s * 1e3, min_ms: j.min_s * 1e3,
        max_ms: j.max_s * 1e3, reps: j.repeat, MB: +mb.toFixed(2), mbps: j.median_MBps, reference: 'naive_js', reference_ms: js.median_ms, reference_min_ms: js.min_ms,
      });
    } else if (wanted('parse')) skip('parse', 'cpu', nat.skipped, { shape: label, source: 'native/bench_parse' });
  }
}

// ---- end to end: an MLP epoch and a DiffusionRank epoch on MQ2008 Fold1 train -------------------------
async function e2eCases(dev, trainSet) {
  const mlpName = 'e2e_mlp_epoch', drName = 'e2e_diffusionrank_epoch';
  if (!trainSet) {
    const why = `MQ2008 Fold1 train.txt not found under ${sharedDir}/data (set ORDO_SHARED_DIR)`;
    skip(mlpName, dev, why);
    skip(`${drName}_pointwise`, dev, why);
    return;
  }
  const rows = trainSet.numDocs, nf = trainSet.numFeatures;
  const epochs = smoke ? 3 : Math.min(REPS, 6) + 1; // the first epoch is a warm-up
  if (wanted(mlpName)) {
    const hidden = [256, 256];
    try {
      const r = await O.train(trainSet, { model: { hidden }, loss: 'listNet', epochs, batchQueries: 32, seed: 1, device: dev, earlyStopping: { patience: 0 } });
      const ms = r.history.slice(1).map((h) => h.ms);
      add({
        case: mlpName, shape: `MQ2008-Fold1-train:${nf}-${hidden.join('-')}-1:listNet:b32`, backend: dev, threads: dev === 'cpu' ? threads : undefined,
        ...stats(ms), rows, flops: mlpStepFlops(rows, [nf, ...hidden, 1]), reference: 'fma_peak',
      });
    } catch (err) {
      skip(mlpName, dev, `error: ${err.message.split('\n')[0]}`);
    }
  }
  for (const objective of smoke ? ['pointwise'] : ['pointwise', 'pairwise']) {
    const name = `${drName}_${objective}`;
    if (!wanted(name)) continue;
    if (!DR) {
      skip(name, dev, drMissing);
      continue;
    }
    // pointwise: binary label (K = 2); pairwise: the grades of MQ2008 (K = 3) in, one score out
    const sizesOf = (o) => (o === 'pointwise' ? denoiserSizes(nf, 2) : denoiserSizes(nf, 3, true));
    try {
      const t0 = performance.now();
      const r = await DR.trainDiffusionRank(trainSet, { objective, epochs, seed: 1, device: dev });
      const total = performance.now() - t0;
      const hist = Array.isArray(r?.history) && r.history.every((h) => Number.isFinite(h?.ms)) ? r.history.map((h) => h.ms) : null;
      const ms = hist && hist.length > 1 ? hist.slice(1) : [total / epochs];
      add({
        case: name, shape: `MQ2008-Fold1-train:denoiser-${sizesOf(objective).join('-')}`, backend: dev, threads: dev === 'cpu' ? threads : undefined,
        ...stats(ms), rows, flops: mlpStepFlops(rows, sizesOf(objective)), reference: 'fma_peak',
        ...(hist ? {} : { note: 'no per-epoch history: mean epoch time of the whole call' }),
      });
    } catch (err) {
      skip(name, dev, `error: ${err.message.split('\n')[0]}`);
    }
  }
}

// ---- native benches: bench_dense, bench_ranking, bench_gpu ------------------------------------------
function nativeKernelCases() {
  const quick = smoke ? ['--quick'] : [];
  const families = {
    bench_dense: ['sgemm', 'mlp_train_step', 'mlp_train_step_adam', 'mlp_train_step_adamw'],
    bench_ranking: ['neuralsort_fwd', 'neuralsort_fwd_bwd', ...Object.keys(LOSSES).map((l) => `loss_${l}`)],
  };
  for (const exe of ['bench_dense', 'bench_ranking']) {
    if (!families[exe].some(wanted)) continue;
    const r = runNative(exe, quick);
    if (r.skipped) {
      add({ case: exe, backend: 'cpu', source: `native/${exe}`, skipped: r.skipped });
      continue;
    }
    for (const j of r.lines) {
      if (j.skipped) {
        if (backends.includes('cuda') || j.case !== 'cuda') add({ case: `${exe}:${j.case}`, backend: 'cuda', source: `native/${exe}`, skipped: j.reason ?? j.skipped });
        continue;
      }
      if (j.case === 'fma_peak') {
        refs.push({ ...j, source: `native/${exe}` });
        continue;
      }
      const backend = String(j.backend ?? 'cpu').startsWith('cuda') ? 'cuda' : String(j.backend).startsWith('cpu') ? 'cpu' : j.backend;
      const name = NATIVE_LOSS_NAMES[j.case] ? `loss_${NATIVE_LOSS_NAMES[j.case]}` : j.case;
      if (!wanted(name)) continue;
      const rec = { case: name, shape: j.shape, backend, source: `native/${exe}`, threads: j.threads || undefined, median_ms: j.median_ms, min_ms: j.min_ms, max_ms: j.max_ms, timing: backend === 'cuda' ? 'wall+sync' : 'wall' };
      if (backend !== 'cpu' && backend !== 'cuda') {
        peers.push({ ...rec, source: `${backend} (native/${exe})` }); // e.g. OpenBLAS, side by side
        continue;
      }
      const [lists, n] = String(j.shape).split('x').map(Number);
      if (j.gflops != null && /sgemm|mlp/.test(j.case)) Object.assign(rec, { flops: j.gflops * j.median_ms * 1e6, reference: 'fma_peak' });
      else if (/^neuralsort_fwd$/.test(j.case)) Object.assign(rec, { flops: PAIR_FLOPS * lists * n * n, reference: 'fma_peak' });
      else if (/^neuralsort_fwd_bwd$/.test(j.case)) Object.assign(rec, { flops: 3 * PAIR_FLOPS * lists * n * n, reference: 'fma_peak' });
      else if (NATIVE_LOSS_NAMES[j.case]) {
        const pf = LOSSES[NATIVE_LOSS_NAMES[j.case]];
        Object.assign(rec, pf ? { flops: pf * lists * n * n, reference: 'fma_peak' } : { bytes: LINEAR_LOSS_BYTES_PER_DOC * lists * n, reference: 'copy_bandwidth' });
      }
      if (j.ratio != null && j.reference) Object.assign(rec, { peer: j.reference, speedup_vs_peer: j.ratio });
      add(rec);
    }
  }
  if (!backends.includes('cuda')) return;
  const g = runNative('bench_gpu', quick);
  if (g.skipped) {
    add({ case: 'bench_gpu', backend: 'cuda', source: 'native/bench_gpu', skipped: g.skipped });
    return;
  }
  for (const j of g.lines) {
    if (j.case === 'gpu_device') machine.gpu_device = j;
    else if (j.case === 'gpu_fma_measured' || j.case === 'gpu_copy_measured') refs.push({ ...j, source: 'native/bench_gpu' });
    else if (j.skipped || j.error) add({ case: `bench_gpu:${j.case}`, backend: 'cuda', source: 'native/bench_gpu', skipped: j.skipped ?? j.error });
    else if (wanted(j.case)) {
      const rate = j.gflops != null ? { flops: j.gflops * j.median_ms * 1e6, reference: 'fma_peak' } : { bytes: j.gbps * j.median_ms * 1e6, reference: 'copy_bandwidth' };
      add({ case: j.case, shape: j.shape, backend: 'cuda', source: 'native/bench_gpu', timing: 'cuda-events', median_ms: j.median_ms, min_ms: j.min_ms, max_ms: j.max_ms, fraction_of_datasheet_peak: j.fraction_of_peak, ...rate });
    }
  }
}

// ---- PyTorch CPU peers (side by side) ---------------------------------------------------------------
function peerCases() {
  if (opt['no-peers'] || smoke) return;
  if (backends.includes('cuda')) {
    // PyTorch on the same GPU (cuBLAS GEMM, plain NeuralSort, MLP step), CUDA-event timed
    const python = process.env.ORDO_BENCH_PYTHON ?? 'python3';
    const r = spawnSync(python, [join(root, 'bench', 'peers', 'torch_gpu.py')], { encoding: 'utf8', timeout: 900000 });
    if (r.status !== 0) log(`torch_gpu.py skipped: ${(r.error?.message ?? r.stderr ?? '').trim().split('\n').pop()}`);
    else
      for (const line of r.stdout.split('\n').filter((l) => l.startsWith('{'))) {
        const j = JSON.parse(line);
        if (j.median_ms != null) peers.push({ ...j, source: 'pytorch/torch_gpu.py' });
      }
  }
  if (!existsSync('/usr/bin/python3') || !backends.includes('cpu')) return;
  if (spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' }).status !== 0) {
    log('PyTorch peers skipped: /usr/bin/python3 has no torch');
    return;
  }
  for (const script of ['torch_mlp.py', 'torch_neuralsort.py']) {
    const path = join(root, 'bench', 'peers', script);
    if (!existsSync(path)) continue;
    const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
    const r = spawnSync('/usr/bin/python3', [path, '--threads', String(threads), '--reps', String(Math.min(REPS, 5))], { encoding: 'utf8', env, timeout: 900000 });
    if (r.status !== 0) {
      log(`${script} failed: ${r.error?.message ?? (r.stderr || '').trim().split('\n').pop()}`);
      continue;
    }
    for (const line of r.stdout.split('\n').filter((l) => l.startsWith('{'))) peers.push({ ...JSON.parse(line), source: `pytorch/${script}` });
  }
}

// ---- run ------------------------------------------------------------------------------------------
const t0 = Date.now();
log(`${mode} run on ${machine.class} (${machine.cpu}, ${machine.cores} cores, ${threads} threads; ${machine.backend}); commit ${machine.commit}${machine.dirty ? ' (dirty)' : ''}`);
measureReferences('start');
const mqDir = join(sharedDir, 'data', 'MQ2008', 'Fold1');
const mqTrain = existsSync(join(mqDir, 'train.txt')) ? join(mqDir, 'train.txt') : null;
const trainSet = mqTrain ? O.readDatasetSync(mqTrain) : null;
nativeKernelCases();
measureReferences('middle'); // the peak is the best of three, spread over the run
for (const dev of backends) kernelCases(dev);
const evalSets = [];
if (trainSet) evalSets.push({ label: 'MQ2008-Fold1-train', data: trainSet });
else skip('evaluate', 'cpu', `MQ2008 Fold1 train.txt not found under ${sharedDir}/data`, { shape: 'MQ2008-Fold1-train' });
{
  const lists = smoke ? 2000 : 20000, per = 50;
  const labels = Float32Array.from({ length: lists * per }, (_, i) => ((i * 2654435761) >>> 0) % 5 === 0 ? 2 : ((i * 40503) >>> 0) % 3 === 0 ? 1 : 0);
  evalSets.push({ label: `synthetic-${lists}x${per}`, data: { labels, queryOffsets: uniformOffsets(lists, per) } });
}
evaluatorCases(evalSets);
parseCases(mqTrain);
if (!opt['no-e2e']) for (const dev of backends) await e2eCases(dev, trainSet);
peerCases();
measureReferences('end');

// ---- ratios --------------------------------------------------------------------------------------------
for (const r of records) {
  if (r.skipped) continue;
  if (r.flops != null) {
    r.gflops = r.flops / (r.median_ms * 1e6);
    r.gflops_best = r.flops / (r.min_ms * 1e6);
  }
  if (r.bytes != null) {
    r.gbps = r.bytes / (r.median_ms * 1e6);
    r.gbps_best = r.bytes / (r.min_ms * 1e6);
  }
  if (r.reference === 'fma_peak' || r.reference === 'copy_bandwidth') {
    const ref = reference(r.reference, r.backend, r.threads ?? threads);
    if (!ref) {
      r.ratio = r.ratio_best = null;
      r.note = `no ${r.reference} reference for ${r.backend}${r.backend === 'cuda' ? ' (bench_gpu not built)' : ''}`;
      continue;
    }
    const rate = r.reference === 'fma_peak' ? [r.gflops, r.gflops_best] : [r.gbps, r.gbps_best];
    r.reference = ref.name;
    r.reference_value = ref.value;
    r.ratio = rate[0] / ref.value;
    r.ratio_best = rate[1] / ref.value;
  } else if (r.reference_ms != null) {
    r.ratio = r.reference_ms / r.median_ms;
    r.ratio_best = r.reference_min_ms / r.min_ms;
  }
  // PyTorch / OpenBLAS peer at the same shape, when one ran
  const sameDevice = (p) => (r.backend === 'cuda' ? String(p.backend).includes('cuda') : String(p.backend).includes('cpu') || p.backend === 'openblas');
  const peer = peers.find((p) => p.shape === r.shape && (p.case === r.case || (r.case.startsWith('mlp_train_step') && String(p.case).startsWith('mlp_train_step'))) && sameDevice(p));
  if (peer && r.speedup_vs_peer == null) Object.assign(r, { peer: peer.source, peer_ms: peer.median_ms, speedup_vs_peer: peer.median_ms / r.median_ms });
}

// ---- output --------------------------------------------------------------------------------------------
const round = (v) => (typeof v === 'number' && Number.isFinite(v) ? +v.toPrecision(5) : v);
const clean = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]) => [k, round(v)]));
const common = { suite: SUITE_FORMAT, mode, class: machine.class, commit: machine.commit };
const lines = [
  JSON.stringify({ ...common, case: 'machine', ...machine, references: refs.map(clean) }),
  ...records.map((r) => JSON.stringify(clean({ ...common, ...r }))),
  ...peers.map((p) => JSON.stringify(clean({ ...common, ...p, case: `peer:${p.case}` }))),
  JSON.stringify({ ...common, case: 'summary', cases: records.filter((r) => !r.skipped).length, skipped: records.filter((r) => r.skipped).length, seconds: (Date.now() - t0) / 1000 }),
];
for (const l of lines) console.log(l);
if (opt.jsonl) {
  const out = createWriteStream(opt.jsonl);
  for (const l of lines) out.write(l + '\n');
  out.end();
}

if (!opt['no-table']) {
  const f = (v, d = 2) => (v == null || !Number.isFinite(v) ? '-' : Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(3).replace(/\.?0+$/, (m) => (m.startsWith('.') ? '' : m)));
  const rows = [['case', 'shape', 'backend', 'source', 'median ms (min-max)', 'rate', 'ratio (best) vs reference', 'vs peer']];
  for (const r of records) {
    if (r.skipped) {
      rows.push([r.case, r.shape ?? '', r.backend ?? '', r.source, `skipped: ${r.skipped}`, '', '', '']);
      continue;
    }
    const rate = r.gflops != null ? `${f(r.gflops)} GFLOP/s` : r.gbps != null ? `${f(r.gbps)} GB/s` : r.mbps != null ? `${f(r.mbps)} MB/s` : '';
    const ratio = r.ratio == null ? (r.note ?? '-') : `${f(r.ratio, 3)} (${f(r.ratio_best, 3)}) ${r.reference}`;
    const peer = r.speedup_vs_peer != null ? `${f(r.speedup_vs_peer)}x ${String(r.peer).replace(/^pytorch\//, 'torch ')}` : '';
    rows.push([r.case, r.shape ?? '', r.backend, r.source, `${f(r.median_ms)} (${f(r.min_ms)}-${f(r.max_ms)})`, rate, ratio, peer]);
  }
  const widths = rows[0].map((_, c) => Math.min(48, Math.max(...rows.filter((r) => !String(r[4]).startsWith('skipped') || c < 4).map((r) => String(r[c]).length))));
  console.log('');
  console.log(`ordo bench (${mode}) — ${machine.class}: ${machine.cpu}, ${machine.cores} cores, ${threads} threads${machine.gpu ? `; ${machine.gpu} (driver ${machine.cuda_driver}, CUDA runtime ${machine.cuda_runtime})` : `; ${machine.cuda}`}; commit ${machine.commit}${machine.dirty ? '-dirty' : ''}`);
  const peakLine = (kind, be, thr) => reference(kind, be, thr);
  const fp = peakLine('fma_peak', 'cpu', threads), cp = peakLine('copy_bandwidth', 'cpu', threads);
  console.log(`references: CPU FMA peak ${f(fp?.value)} GFLOP/s (${fp?.name ?? '-'}), copy ${f(cp?.value)} GB/s at ${threads} threads` +
    (backends.includes('cuda') ? `; GPU FMA ${f(peakLine('fma_peak', 'cuda')?.value)} GFLOP/s, copy ${f(peakLine('copy_bandwidth', 'cuda')?.value)} GB/s (measured)` : ''));
  for (const r of rows) {
    if (String(r[4]).startsWith('skipped')) console.log(`${r.slice(0, 4).map((c, i) => String(c).padEnd(widths[i])).join('  ')}  ${r[4]}`);
    else console.log(r.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd());
  }
  const peerRows = peers.filter((p) => p.source.startsWith('pytorch'));
  if (peerRows.length) console.log(`\npeers: ${peerRows.map((p) => `${p.case} ${p.shape} ${f(p.median_ms)} ms`).join('; ')}`);
  console.log(`\n${records.filter((r) => !r.skipped).length} cases, ${records.filter((r) => r.skipped).length} skipped, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

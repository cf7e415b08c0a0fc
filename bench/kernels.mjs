// Kernel benchmark through the Node API (ordo/kernels), plus the C++ bench
// executables (same cases, with the machine's measured FMA peak and OpenBLAS
// where available) and the PyTorch CPU peers when /usr/bin/python3 has torch.
// One JSON line per case, then a table. Not a test.
//   node bench/kernels.mjs [--quick] [--threads N] [--no-native] [--no-peers]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const K = await import(join(root, 'dist', 'kernels.js'));
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    threads: { type: 'string' },
    'no-native': { type: 'boolean', default: false },
    'no-peers': { type: 'boolean', default: false },
  },
});
const threads = values.threads ? Number(values.threads) : K.threads();
K.threads(threads);
const quick = values.quick;
const reps = quick ? 2 : 7;
let commit = 'unknown';
try {
  commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim() || commit;
} catch {}
const machine = { cpu: cpus()[0]?.model, cores: cpus().length, threads, commit, backend: K.describeBackend() };
const rows = [];
const emit = (r) => {
  rows.push(r);
  console.log(JSON.stringify({ ...r, machine }));
};

function time(fn, n = reps) {
  fn(); // warm-up
  const t = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  t.sort((a, b) => a - b);
  return { median_ms: t[t.length >> 1], min_ms: t[0], max_ms: t[t.length - 1] };
}
const rand = (n, seed = 1) => {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296) * 2 - 1);
};
const device = K.backend().active;
const T = (a, shape) => K.Tensor.from(a, shape, { device, copy: true });
const Z = (shape) => K.Tensor.zeros(shape, { device });

// 1. C++ benches (no binding overhead; FMA peak, OpenBLAS peer)
const native = {};
if (!values['no-native']) {
  for (const exe of ['bench_dense', 'bench_ranking']) {
    const path = join(root, 'build', exe);
    if (!existsSync(path)) {
      console.log(JSON.stringify({ case: exe, skipped: 'not built (npm run build:native builds it)' }));
      continue;
    }
    const r = spawnSync(path, quick ? ['--quick'] : [], { encoding: 'utf8', env: { ...process.env, ORDO_THREADS: String(threads) } });
    for (const line of (r.stdout ?? '').split('\n')) {
      if (!line.startsWith('{')) continue;
      const j = JSON.parse(line);
      console.log(JSON.stringify({ source: exe, ...j }));
      native[`${j.case}|${j.shape ?? ''}|${j.backend ?? ''}`] = j;
    }
  }
}

// 2. Node API cases
const gemmShapes = quick ? [[256, 64, 128]] : [[4096, 136, 512], [4096, 512, 512], [1024, 1024, 1024], [4096, 46, 256]];
for (const [m, n, k] of gemmShapes) {
  const a = T(rand(m * k, 1), [m, k]);
  const b = T(rand(k * n, 2), [k, n]);
  const c = Z([m, n]);
  const t = time(() => K.sgemm(a, b, c));
  const gflops = (2 * m * n * k) / (t.median_ms * 1e6);
  const peak = Object.values(native).find((j) => j.case === 'fma_peak' && (j.threads ?? threads) === threads);
  emit({ case: 'sgemm', api: 'node', shape: `${m}x${n}x${k}`, backend: device, threads, ...t, gflops: +gflops.toFixed(1), fraction_of_fma_peak: peak?.gflops ? +(gflops / peak.gflops).toFixed(3) : null });
  [a, b, c].forEach((x) => x.dispose());
}

// MLP train step through the MLP API (the fused native forward/backward), dy = y (loss ½‖y‖²),
// then one Adam/AdamW update over the flat parameter buffer. Shape names match bench_dense and
// bench/peers/torch_mlp.py, so the table pairs them with the PyTorch peer.
function mlpStep(batch, cfg, weightDecay) {
  const P = T(K.mlpInitParams(cfg, 7), [K.mlpParamCount(cfg)]);
  const n = K.mlpParamCount(cfg);
  const G = Z([n]), M = Z([n]), V = Z([n]);
  const x = T(rand(batch * cfg.in, 3), [batch, cfg.in]);
  const y = Z([batch, cfg.out ?? 1]), dy = Z([batch, cfg.out ?? 1]);
  const cache = K.mlpCache(cfg, batch, device);
  let step = 0;
  return () => {
    K.mlpForward(cfg, P, x, y, cache, { training: true, seed: 11 });
    K.activation(y, dy, 'identity');
    K.mlpBackward(cfg, P, cache, dy, G);
    K.adamUpdate(P, G, M, V, { lr: 1e-4, step: ++step, weightDecay, decoupled: true });
  };
}
const mlpShape = (batch, cfg) =>
  `batch${batch}:${[cfg.in, ...cfg.hidden, cfg.out].join('-')}` +
  (cfg.activation === 'silu' ? '+silu' : '') + (cfg.layerNorm ? '+ln' : '') + (cfg.dropout ? `+drop${cfg.dropout}` : '');
const mlpCases = quick
  ? [[256, { in: 46, hidden: [32], out: 1, activation: 'relu' }, 0]]
  : [
      [4096, { in: 136, hidden: [512, 512], out: 1, activation: 'relu' }, 0],
      [4096, { in: 46, hidden: [256, 256, 256, 256], out: 1, activation: 'relu' }, 0],
      // the DiffusionRank denoiser (issue #6) on MQ2008, AdamW
      [4096, { in: 50, hidden: [256, 256, 256, 256], out: 48, activation: 'silu', layerNorm: true, dropout: 0.1 }, 0.01],
    ];
for (const [batch, cfg, wd] of mlpCases) {
  const t = time(mlpStep(batch, cfg, wd), quick ? 2 : 7);
  const sizes = [cfg.in, ...cfg.hidden, cfg.out];
  const flops = sizes.slice(0, -1).reduce((acc, s, i) => acc + 6 * batch * s * sizes[i + 1], 0);
  emit({ case: wd ? 'mlp_train_step_adamw' : 'mlp_train_step_adam', api: 'node', shape: mlpShape(batch, cfg), backend: device, threads, ...t, gflops: +(flops / (t.median_ms * 1e6)).toFixed(1) });
}

// NeuralSort apply (fwd) and fwd+bwd; NeuralNDCG loss+grad
const sortShapes = quick ? [[8, 32]] : [[256, 32], [256, 128], [64, 512], [16, 2048]];
for (const [lists, n] of sortShapes) {
  const total = lists * n;
  const offsets = K.raggedOffsets(Uint32Array.from({ length: lists + 1 }, (_, q) => q * n), device);
  const s = T(rand(total, 5), [total]);
  const v = T(rand(total, 6), [total]);
  const out = Z([total]);
  const stats = Z([2 * total]);
  const gs = Z([total]);
  const gv = Z([total]);
  const fwd = time(() => K.neuralSortApply(s, v, offsets, out, stats));
  emit({ case: 'neuralsort_fwd', api: 'node', shape: `${lists}x${n}`, backend: device, threads, ...fwd, extra_memory_bytes: 8 * total });
  const fb = time(() => {
    K.neuralSortApply(s, v, offsets, out, stats);
    K.neuralSortApplyBackward(s, v, offsets, stats, out, gs, gv);
  });
  emit({ case: 'neuralsort_fwd_bwd', api: 'node', shape: `${lists}x${n}`, backend: device, threads, ...fb, extra_memory_bytes: 8 * total });
  const labels = T(Float32Array.from({ length: total }, (_, i) => (i * 7919) % 3), [total]);
  const loss = Z([lists]);
  const nd = time(() => K.rankingLoss('neuralNDCG', s, labels, offsets, loss, gs, {}), quick ? 2 : 3);
  emit({ case: 'neuralndcg_loss_grad', api: 'node', shape: `${lists}x${n}`, backend: device, threads, ...nd });
}

// 3. PyTorch peers (same shapes, same thread count), side by side
const peers = {};
if (!values['no-peers'] && !quick && existsSync('/usr/bin/python3')) {
  for (const script of ['torch_mlp.py', 'torch_neuralsort.py']) {
    const path = join(root, 'bench', 'peers', script);
    if (!existsSync(path)) continue;
    const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
    const r = spawnSync('/usr/bin/python3', [path, '--threads', String(threads)], { encoding: 'utf8', env, timeout: 600000 });
    if (r.status !== 0) {
      console.log(JSON.stringify({ case: script, skipped: (r.stderr || 'failed').split('\n').filter(Boolean).pop() }));
      continue;
    }
    for (const line of r.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const j = JSON.parse(line);
      console.log(JSON.stringify({ source: `pytorch/${script}`, ...j }));
      peers[`${j.case}|${j.shape}`] = j;
    }
  }
}

console.log('\ncase                  shape                      ordo ms (node)   GFLOP/s   peer ms   ordo speed-up vs peer');
for (const r of rows) {
  const peer = peers[`${r.case}|${r.shape}`];
  const ratio = peer ? (peer.median_ms / r.median_ms).toFixed(2) : '-';
  console.log(`${r.case.padEnd(21)} ${r.shape.padEnd(26)} ${r.median_ms.toFixed(2).padStart(14)}   ${String(r.gflops ?? '-').padStart(7)}   ${String(peer ? peer.median_ms.toFixed(2) : '-').padStart(7)}   ${ratio}`);
}

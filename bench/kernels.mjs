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

// MLP train step composed from the kernels (Linear → ReLU ... → Linear, MSE-like dy, Adam on every parameter)
function mlpStep(batch, sizes) {
  const layers = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const w = T(rand(sizes[i] * sizes[i + 1], 10 + i), [sizes[i], sizes[i + 1]]);
    const bias = Z([sizes[i + 1]]);
    layers.push({ w, b: bias, gw: Z([sizes[i], sizes[i + 1]]), gb: Z([sizes[i + 1]]), mw: Z([sizes[i], sizes[i + 1]]), vw: Z([sizes[i], sizes[i + 1]]), mb: Z([sizes[i + 1]]), vb: Z([sizes[i + 1]]), pre: Z([batch, sizes[i + 1]]), act: Z([batch, sizes[i + 1]]), dpre: Z([batch, sizes[i + 1]]), dx: Z([batch, sizes[i]]) });
  }
  const x = T(rand(batch * sizes[0], 3), [batch, sizes[0]]);
  let step = 0;
  return () => {
    let input = x;
    layers.forEach((L, i) => {
      K.sgemm(input, L.w, L.pre);
      K.addBias(L.pre, L.b);
      if (i + 1 < layers.length) K.activation(L.pre, L.act, 'relu');
      input = i + 1 < layers.length ? L.act : L.pre;
    });
    let dy = layers[layers.length - 1].pre; // d(½‖y‖²)/dy = y
    for (let i = layers.length - 1; i >= 0; i--) {
      const L = layers[i];
      if (i + 1 < layers.length) {
        K.activationBackward(L.pre, dy, L.dpre, 'relu');
        dy = L.dpre;
      }
      const inp = i === 0 ? x : layers[i - 1].act;
      K.sgemm(inp, dy, L.gw, { transA: true });
      K.biasBackward(dy, L.gb);
      if (i > 0) K.sgemm(dy, L.w, L.dx, { transB: true });
      dy = L.dx;
    }
    step++;
    for (const L of layers) {
      K.adamUpdate(L.w, L.gw, L.mw, L.vw, { lr: 1e-4, step });
      K.adamUpdate(L.b, L.gb, L.mb, L.vb, { lr: 1e-4, step });
    }
  };
}
const mlpShapes = quick ? [[256, [46, 32, 1]]] : [[4096, [136, 512, 512, 1]], [4096, [46, 256, 256, 256, 256, 1]]];
for (const [batch, sizes] of mlpShapes) {
  const t = time(mlpStep(batch, sizes), quick ? 2 : 5);
  const flops = sizes.slice(0, -1).reduce((acc, s, i) => acc + 6 * batch * s * sizes[i + 1], 0);
  emit({ case: 'mlp_train_step', api: 'node', shape: `${batch}x${sizes.join('-')}`, backend: device, threads, ...t, gflops: +(flops / (t.median_ms * 1e6)).toFixed(1) });
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

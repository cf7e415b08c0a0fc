// Distribution: what `npm pack` ships, the prebuilt binary's properties, the
// packed tarball installed offline into a fresh project with no compiler, the
// example package, and the loader's message when no binary matches.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { repoRoot } from './helpers.js';

const npmCli = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
const prebuildDir = join(repoRoot, 'prebuilds', `${process.platform}-${process.arch}`);
const prebuilt = existsSync(prebuildDir) ? readdirSync(prebuildDir).filter((f) => f.endsWith('.node')) : [];
const havePrebuild = prebuilt.length > 0;
const cleanEnv = () => {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  for (const k of Object.keys(env)) if (k.startsWith('npm_')) delete env[k];
  return env;
};

function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv()) {
  return spawnSync(process.execPath, [npmCli, ...args], { cwd, env, encoding: 'utf8', maxBuffer: 1 << 26 });
}

test('npm pack ships dist, prebuilds, native sources, build files, README and LICENSE, and no tests or build output', () => {
  const r = npm(['pack', '--dry-run', '--json', '--ignore-scripts'], repoRoot);
  assert.is(r.status, 0, r.stderr);
  const files: string[] = JSON.parse(r.stdout)[0].files.map((f: { path: string }) => f.path);
  for (const must of ['dist/index.js', 'dist/index.d.ts', 'dist/kernels.js', 'dist/kernels.d.ts', 'dist/cli.js', 'CMakeLists.txt', 'binding.gyp', 'README.md', 'LICENSE', 'package.json', 'native/sources.json', 'native/core/dense.h', 'native/cpu/sgemm.cc', 'native/cuda/dense.cu', 'native/napi/addon.cc', 'scripts/native-sources.cjs', 'data/demo/rank.train']) {
    assert.ok(files.includes(must), `tarball lacks ${must}`);
  }
  if (havePrebuild) assert.ok(files.some((f) => f.startsWith(`prebuilds/${process.platform}-${process.arch}/`)), 'tarball lacks the prebuild');
  for (const f of files) {
    assert.not.match(f, /^(test|build|bench|examples|node_modules|\.ci|docs)\//, `tarball holds ${f}`);
    assert.not.match(f, /^native\/(tests|bench)\//, `tarball holds ${f}`);
  }
});

(havePrebuild ? test : test.skip)('the prebuilt binary: only libc/libstdc++/libgcc/libm needed, two exported symbols, stripped', () => {
  const file = join(prebuildDir, prebuilt[0]!);
  const needed = spawnSync('readelf', ['-d', file], { encoding: 'utf8' }).stdout.match(/\[(.+?)\]/g) ?? [];
  const libs = needed.map((s) => s.slice(1, -1)).filter((s) => s.includes('.so'));
  for (const lib of libs) assert.match(lib, /^(libc|libstdc\+\+|libgcc_s|libm|ld-linux-x86-64)\.so/, `unexpected dependency ${lib}`);
  assert.ok(!libs.some((l) => /cuda/.test(l)), 'no libcuda / libcudart');
  const syms = spawnSync('nm', ['-D', '--defined-only', file], { encoding: 'utf8' }).stdout.trim().split('\n').map((l) => l.split(' ').pop());
  assert.equal(syms.sort(), ['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
  assert.match(spawnSync('file', [file], { encoding: 'utf8' }).stdout, /stripped/);
  console.log(`  prebuild ${prebuilt[0]}: ${(statSync(file).size / 1e6).toFixed(2)} MB`);
});

(havePrebuild ? test : test.skip)('the packed tarball installs offline into a fresh project without a compiler and works from ESM, CJS, ordo/kernels and TypeScript', () => {
  const work = mkdtempSync(join(tmpdir(), 'ordo-install-'));
  const packed = npm(['pack', '--ignore-scripts', '--pack-destination', work], repoRoot);
  assert.is(packed.status, 0, packed.stderr);
  const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
  const project = join(work, 'consumer');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  // PATH with node only: no compiler, no python, no make.
  const bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync('/bin/sh', join(bin, 'sh')); // npm runs lifecycle scripts through sh
  const env = { ...cleanEnv(), PATH: bin };
  assert.is.not(spawnSync('g++', ['--version'], { env }).status, 0, 'g++ must not be reachable');
  const install = npm(['install', join(work, tgz), '--offline', '--no-audit', '--no-fund'], project, env);
  assert.is(install.status, 0, install.stderr + install.stdout);
  writeFileSync(
    join(project, 'esm.mjs'),
    `import { evaluate, parseDataset, backend } from 'ordo';
     import { Tensor, raggedOffsets, rankingLoss, mlpParamCount, mlpInitParams, mlpCache, mlpForward, mlpBackward, adamUpdate } from 'ordo/kernels';
     const ds = parseDataset('2 qid:1 1:1 2:0\\n0 qid:1 1:0 2:1\\n1 qid:2 1:0.5 2:0.5\\n0 qid:2 1:0 2:1\\n');
     // a tiny model: a linear scorer trained with ListNet for a few Adam steps
     const cfg = { in: 2, hidden: [], out: 1 };
     const params = Tensor.from(mlpInitParams(cfg, 1), undefined, { device: 'cpu', copy: true });
     const grads = Tensor.zeros([mlpParamCount(cfg)], { device: 'cpu' });
     const m = Tensor.zeros([mlpParamCount(cfg)], { device: 'cpu' }), v = Tensor.zeros([mlpParamCount(cfg)], { device: 'cpu' });
     const x = Tensor.from(ds.features, [4, 2], { device: 'cpu', copy: true });
     const labels = Tensor.from(ds.labels, [4], { device: 'cpu', copy: true });
     const offsets = raggedOffsets(ds.queryOffsets, 'cpu');
     const cache = mlpCache(cfg, 4, 'cpu');
     const y = Tensor.zeros([4, 1], { device: 'cpu' }), loss = Tensor.zeros([2], { device: 'cpu' }), dy = Tensor.zeros([4], { device: 'cpu' });
     const losses = [];
     for (let step = 1; step <= 60; step++) {
       mlpForward(cfg, params, x, y, cache);
       rankingLoss('listNet', Tensor.from(y.toArray(), [4], { device: 'cpu', copy: true }), labels, offsets, loss, dy);
       losses.push(loss.toArray().reduce((a, b) => a + b, 0));
       mlpBackward(cfg, params, cache, Tensor.from(dy.toArray(), [4, 1], { device: 'cpu', copy: true }), grads);
       adamUpdate(params, grads, m, v, { lr: 0.1, step });
     }
     mlpForward(cfg, params, x, y, cache);
     const ndcg = evaluate(ds, y.toArray(), { metrics: 'ndcg@2' }).metrics['ndcg@2'].mean;
     console.log(JSON.stringify({ first: losses[0], last: losses.at(-1), ndcg, backend: backend().active }));`,
  );
  const esm = spawnSync(process.execPath, ['esm.mjs'], { cwd: project, env, encoding: 'utf8' });
  assert.is(esm.status, 0, esm.stderr);
  const out = JSON.parse(esm.stdout);
  assert.ok(out.last < out.first, `training lowers the loss: ${out.first} -> ${out.last}`);
  assert.is(out.ndcg, 1, 'the trained scorer ranks both toy queries perfectly');
  writeFileSync(join(project, 'cjs.cjs'), `const o = require('ordo'); const k = require('ordo/kernels'); console.log(typeof o.readDataset, typeof k.sgemm, k.backend().compiled.join(','));`);
  const cjs = spawnSync(process.execPath, ['cjs.cjs'], { cwd: project, env, encoding: 'utf8' });
  assert.is(cjs.status, 0, cjs.stderr);
  assert.match(cjs.stdout, /^function function cpu/);
  writeFileSync(
    join(project, 'consumer.ts'),
    `import { evaluate, type Dataset, type EvaluationResult } from 'ordo';
     import { Tensor, sgemm, type MlpConfig } from 'ordo/kernels';
     const cfg: MlpConfig = { in: 3, hidden: [4], activation: 'relu' };
     const a = Tensor.from(new Float32Array(6), [2, 3]);
     const c = Tensor.zeros([2, 2]);
     sgemm(a, a, c, { transB: true });
     export function score(d: Dataset): EvaluationResult { return evaluate(d, new Float64Array(d.numDocs), { convention: 'letor4' }); }
     export const width: number = cfg.in;`,
  );
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, types: [] }, files: ['consumer.ts'] }));
  const tsc = spawnSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: project, env, encoding: 'utf8' });
  assert.is(tsc.status, 0, tsc.stdout + tsc.stderr);
  // a type error is caught against the shipped .d.ts
  writeFileSync(join(project, 'consumer.ts'), `import { sgemm } from 'ordo/kernels'; sgemm(1, 2, 3);`);
  assert.is.not(spawnSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: project, env }).status, 0);
});

test('the example package built on ordo/kernels passes its own test', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ordo-example-'));
  cpSync(join(repoRoot, 'examples', 'soft-sort'), dir, { recursive: true });
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(repoRoot, join(dir, 'node_modules', 'ordo'), 'dir');
  const r = spawnSync(process.execPath, ['test.js'], { cwd: dir, env: cleanEnv(), encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /soft-sort example: ok/);
});

test('no matching binary: the loader says what it tried and how to build from source', () => {
  const empty = mkdtempSync(join(tmpdir(), 'ordo-empty-'));
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const o = await import(${JSON.stringify(join(repoRoot, 'dist', 'index.js'))}); o.backend();`], {
    env: { ...cleanEnv(), ORDO_PREBUILD: empty },
    encoding: 'utf8',
  });
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /could not load the native addon for linux-x64/);
  assert.match(r.stderr, /Looked in:/);
  assert.match(r.stderr, /npm explore ordo -- npm run build:gyp/);
});

test.run();

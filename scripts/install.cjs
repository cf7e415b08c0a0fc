// npm "install" hook. Defined on purpose: without it, the binding.gyp at the
// package root would make npm run an implicit `node-gyp rebuild` on install.
//  - a prebuilt or already-built binary loads: nothing to do;
//  - a source checkout (git): `npm run build:all` (the prepare script) builds it
//    with cmake-js (CPU + CUDA when nvcc is found);
//  - otherwise try the CPU-only node-gyp build; if that fails, say how to
//    build and exit 0 (the JS error at load time repeats the instructions).
// npm 11 skips dependency install scripts by default, so ordo must and does
// work without this script when a prebuild matches.
'use strict';
const { existsSync } = require('fs');
const { join } = require('path');
const { spawnSync } = require('child_process');

const root = join(__dirname, '..');
try {
  require('node-gyp-build')(root);
  process.exit(0);
} catch {
  // no usable binary yet
}
if (existsSync(join(root, '.git'))) {
  console.log('ordo: source checkout; the native addon is built by `npm run build:all` (run by npm ci / npm install as "prepare")');
  process.exit(0);
}
console.log('ordo: no prebuilt binary for this platform; building the CPU backend with node-gyp');
const r = spawnSync('node-gyp', ['rebuild'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
if (r.status !== 0) {
  console.warn('ordo: the source build failed. Install a C++17 toolchain and run `npm explore ordo -- npm run build:gyp`,');
  console.warn('      or with CMake (CPU + CUDA when nvcc is found): `npm explore ordo -- npx cmake-js compile`.');
}
process.exit(0);

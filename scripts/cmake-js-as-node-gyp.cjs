#!/usr/bin/env node
// prebuildify only knows node-gyp's command line ("rebuild --target=V
// --devdir=D --arch=A --release ..."). This wrapper runs the equivalent
// cmake-js build instead, with the release CUDA architecture list, so
// `npm run prebuild` produces prebuilds/<platform>-<arch>/ordo.glibc.node
// from CMakeLists.txt. Extra CMake flags: PREBUILD_CMAKE_ARGS (e.g. "--CDORDO_CUDA=OFF").
'use strict';
const { spawnSync } = require('child_process');
const { join } = require('path');

// SASS for T4 (75), A100 (80), RTX 30 (86), RTX 40 / L4 (89), H100 (90), B200 (100),
// RTX 50 (120), plus PTX of 120 so newer GPUs JIT-compile it. CUDA 13 supports sm_75+.
const RELEASE_ARCHS = process.env.ORDO_CUDA_ARCHS || '75-real;80-real;86-real;89-real;90-real;100-real;120';

const args = process.argv.slice(2);
let arch = process.arch;
for (const a of args) if (a.startsWith('--arch=')) arch = a.slice(7);
const root = join(__dirname, '..');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const extra = (process.env.PREBUILD_CMAKE_ARGS || '').split(/\s+/).filter(Boolean);
const cmd = [cmakeJs, 'rebuild', '--arch', arch, `--CDCMAKE_CUDA_ARCHITECTURES=${RELEASE_ARCHS}`, ...extra];
console.log(`cmake-js-as-node-gyp: node ${cmd.join(' ')}`);
const r = spawnSync(process.execPath, cmd, { cwd: root, stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);

// npm test: the C++ suites (through CTest) and the TypeScript suites (uvu via
// tsx), then one closing line "N passed, N failed, N skipped" over all of them.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const totals = { passed: 0, failed: 0, skipped: 0 };
const env = { ...process.env, ORDO_SHARED_DIR: process.env.ORDO_SHARED_DIR ?? join(root, '..', 'shared') };

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, env, encoding: 'utf8', maxBuffer: 1 << 28 });
  process.stdout.write(r.stdout ?? '');
  process.stderr.write(r.stderr ?? '');
  if (r.error) throw r.error;
  return r;
}

// 1. C++ tests through CTest (built by cmake-js into build/).
const buildDir = join(root, 'build');
if (existsSync(join(buildDir, 'CTestTestfile.cmake'))) {
  const r = run('ctest', ['--test-dir', buildDir, '-V', '--timeout', '600']);
  const seen = new Set();
  for (const m of (r.stdout ?? '').matchAll(/^\d+: (native [a-z]+): (\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/gm)) {
    seen.add(m[1]);
    totals.passed += Number(m[2]);
    totals.failed += Number(m[3]);
    totals.skipped += Number(m[4] ?? 0);
  }
  const crashed = [...(r.stdout ?? '').matchAll(/^\s*\d+\/\d+ Test\s+#\d+: (\S+) .*\*\*\*(?!Failed)/gm)];
  if (r.status !== 0 && crashed.length > 0) totals.failed += crashed.length; // a suite that died before its summary
  if (seen.size === 0) {
    console.log('C++ tests: no suite printed its summary line; counted as 1 failed');
    totals.failed += 1;
  }
} else {
  console.log('C++ tests: not built (they are built by `npm run build:native`, the CMake build); counted as 1 skipped');
  totals.skipped += 1;
}

// 2. TypeScript tests (uvu) through tsx, against the binary node-gyp-build picks.
const uvuBin = join(dirname(require.resolve('uvu')), '..', 'bin.js');
function uvu(label, extraEnv = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', uvuBin, 'test', '\\.test\\.ts$'], {
    cwd: root,
    env: { ...env, ...extraEnv },
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  process.stdout.write(r.stdout ?? '');
  process.stderr.write(r.stderr ?? '');
  const out = (r.stdout ?? '').replace(/\x1b\[[0-9;]*m/g, '');
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const passed = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const skipped = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (Number.isNaN(total) || Number.isNaN(passed)) {
    console.log(`${label}: uvu did not finish (a test file threw before its tests ran); counted as 1 failed`);
    totals.failed += 1;
    return;
  }
  console.log(`${label}: ${passed} passed, ${total - passed} failed, ${skipped} skipped`);
  totals.passed += passed;
  totals.failed += total - passed;
  totals.skipped += skipped;
  if (r.status !== 0 && total === passed) totals.failed += 1; // exited non-zero anyway
}
uvu('TypeScript suites');

// 3. ORDO_TEST_GYP=1 (CI): build the CPU-only node-gyp addon from binding.gyp in a
// scratch copy and run the TypeScript suites again against it (ORDO_PREBUILD
// points node-gyp-build there), so both source-build paths are tested.
if (process.env.ORDO_TEST_GYP === '1') {
  const scratch = mkdtempSync(join(tmpdir(), 'ordo-gyp-'));
  for (const p of ['binding.gyp', 'package.json', 'native', 'scripts']) cpSync(join(root, p), join(scratch, p), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'), 'dir');
  const nodeGyp = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const b = spawnSync(process.execPath, [nodeGyp, 'rebuild', '-j', '2'], { cwd: scratch, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (b.status !== 0) {
    process.stdout.write((b.stdout ?? '') + (b.stderr ?? ''));
    console.log('node-gyp build failed; counted as 1 failed');
    totals.failed += 1;
  } else {
    uvu('TypeScript suites on the node-gyp (CPU-only) build', { ORDO_PREBUILD: scratch });
  }
}

console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exitCode = totals.failed > 0 ? 1 : 0;

// npm test: the C++ suites (through CTest) and the TypeScript suites (uvu via
// tsx), then one closing line "N passed, N failed, N skipped" over all of them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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

// 2. TypeScript tests (uvu) through tsx.
const uvuBin = join(dirname(require.resolve('uvu')), '..', 'bin.js');
const r = run(process.execPath, ['--import', 'tsx', uvuBin, 'test', '\\.test\\.ts$']);
const out = (r.stdout ?? '').replace(/\x1b\[[0-9;]*m/g, '');
const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? NaN);
const passed = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? NaN);
const skipped = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
if (Number.isNaN(total) || Number.isNaN(passed)) {
  console.log('uvu did not finish (a test file threw before its tests ran); counted as 1 failed');
  totals.failed += 1;
} else {
  totals.passed += passed;
  totals.failed += total - passed;
  totals.skipped += skipped;
  if (r.status !== 0 && total === passed) totals.failed += 1; // exited non-zero anyway
}

console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exitCode = totals.failed > 0 ? 1 : 0;

// The package as a dependency: a sibling project imports 'ordo' (ESM),
// requires it (CommonJS), and uses the 'ordo/kernels' subpath, through the
// exports map and the built dist/.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './helpers.js';

const project = mkdtempSync(join(tmpdir(), 'ordo-consumer-'));
mkdirSync(join(project, 'node_modules'));
symlinkSync(repoRoot, join(project, 'node_modules', 'ordo'), 'dir');
writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));

function run(file: string, text: string) {
  writeFileSync(join(project, file), text);
  // uvu sets FORCE_COLOR, which would make console.log colour numbers in the child.
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  const r = spawnSync(process.execPath, [file], { cwd: project, encoding: 'utf8', env });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr };
}

test('import("ordo") from an ESM sibling project', () => {
  const r = run(
    'esm.mjs',
    `import { evaluate, parseDataset, backend } from 'ordo';
     const ds = parseDataset('2 qid:1 1:1\\n0 qid:1 1:0\\n');
     console.log(evaluate(ds, ds.labels, { metrics: 'ndcg@2' }).metrics['ndcg@2'].mean, backend().compiled.includes('cpu'));`,
  );
  assert.is(r.code, 0, r.err);
  assert.is(r.out, '1 true', JSON.stringify(r));
});

test('require("ordo") and require("ordo/kernels") from CommonJS', () => {
  const r = run(
    'cjs.cjs',
    `const ordo = require('ordo');
     const kernels = require('ordo/kernels');
     const res = kernels.rankingMetrics(new Float32Array([0, 1]), new Uint32Array([0, 2]), new Float64Array([2, 1]), [['mrr', 0]], 'letor4');
     console.log(typeof ordo.readDataset, res[0].mean);`,
  );
  assert.is(r.code, 0, r.err);
  assert.is(r.out, 'function 0.5');
});

test('exports map: types first for every subpath, package.json exported', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  for (const sub of ['.', './kernels']) assert.equal(Object.keys(pkg.exports[sub])[0], 'types');
  assert.is(pkg.exports['./package.json'], './package.json');
  assert.is(pkg.type, 'module');
  const r = run('pkg.mjs', `import { createRequire } from 'node:module'; console.log(createRequire(import.meta.url)('ordo/package.json').name);`);
  assert.is(r.out, 'ordo', r.err);
});

test('the README\'s runnable ordo/kernels example runs as written', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const block = /```js\n(\/\/ runnable[^\n]*\n[\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README has a runnable js block');
  const r = run('readme-example.mjs', block![1]!);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /^(cpu|cuda) /);
});

test.run();

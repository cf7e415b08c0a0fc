import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, haveShared, repoRoot, sharedData } from './helpers.js';

function ordo(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [cliPath, ...args], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const tmp = mkdtempSync(join(tmpdir(), 'ordo-cli-'));
const demo = join(repoRoot, 'data', 'demo');

test('ordo info --json on the shipped demo data finds rank.test.query by itself', () => {
  const r = ordo(['info', join(demo, 'rank.test'), '--json']);
  assert.is(r.code, 0, r.err);
  const s = JSON.parse(r.out);
  assert.is(s.numDocs, 768);
  assert.is(s.numQueries, 50);
  assert.is(s.numFeatures, 300);
  assert.equal(s.labelHistogram, { 0: 206, 1: 256, 2: 252, 3: 44, 4: 10 });
  assert.equal(s.docsPerQuery, { min: 6, median: 16, max: 24 });
});

test('ordo info prints a readable summary', () => {
  const r = ordo(['info', join(demo, 'rank.train')]);
  assert.is(r.code, 0, r.err);
  assert.match(r.out, /documents\s+3005/);
  assert.match(r.out, /queries\s+201/);
  assert.match(r.out, /docs per query\s+min 1, median 15, max 27/);
});

(haveShared ? test : test.skip)('ordo eval --json: oracle scores on MQ2008 Fold1 test under letor4 and the default', () => {
  const data = join(sharedData, 'MQ2008/Fold1/test.txt');
  const scores = join(tmp, 'oracle.txt');
  const labels = spawnSync('cut', ['-d', ' ', '-f1', data], { encoding: 'utf8' }).stdout;
  writeFileSync(scores, labels);
  const r = ordo(['eval', '--data', data, '--scores', scores, '--metrics', 'ndcg@1,3,5,10,map', '--convention', 'letor4', '--json']);
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.is(j.convention, 'letor4');
  assert.is(j['ndcg@10'].toFixed(4), '0.3333');
  assert.is(j['ndcg@1'].toFixed(4), '0.6731');
  assert.equal(Object.keys(j).filter((k) => k.startsWith('ndcg@')), ['ndcg@1', 'ndcg@3', 'ndcg@5', 'ndcg@10']);
  const d = ordo(['eval', '--data', data, '--scores', scores, '--metrics', 'ndcg@10']);
  assert.is(d.code, 0, d.err);
  assert.match(d.out, /convention: standard: gain 2\^l-1, discount 1\/log2\(i\+1\)/);
  assert.match(d.out, /ndcg@10\s+0\.6731\s+156\/156/);
});

test('ordo eval: per-query output, --query, and errors with exit codes', () => {
  const scores = join(tmp, 's.txt');
  writeFileSync(scores, Array.from({ length: 768 }, (_, i) => String((i * 7919) % 101)).join('\n') + '\n');
  const data = join(demo, 'rank.test');
  const ok = ordo(['eval', '--data', data, '--query', `${data}.query`, '--scores', scores, '--metrics', 'ndcg@5', '--per-query', '--json']);
  assert.is(ok.code, 0, ok.err);
  assert.is(JSON.parse(ok.out).perQuery['ndcg@5'].length, 50);
  const short = join(tmp, 'short.txt');
  writeFileSync(short, '1\n2\n');
  const e1 = ordo(['eval', '--data', data, '--scores', short]);
  assert.is(e1.code, 2);
  assert.match(e1.err, /has 2 scores but .* has 768 documents/);
  const e2 = ordo(['eval', '--data', data, '--scores', scores, '--convention', 'trec']);
  assert.is(e2.code, 1);
  assert.match(e2.err, /'trec' is not a preset/);
  const e3 = ordo(['eval', '--scores', scores]);
  assert.is(e3.code, 2);
  assert.match(e3.err, /needs --data FILE/);
  const e4 = ordo(['frobnicate']);
  assert.is(e4.code, 2);
  const bad = join(tmp, 'bad.txt');
  writeFileSync(bad, '1 qid:1 1:0.5\n1 qid:1 1:zz\n');
  const e5 = ordo(['info', bad]);
  assert.is(e5.code, 1);
  assert.match(e5.err, /bad\.txt:2:11: expected a number after '1:', found 'zz'/);
});

test('ordo demo: runs on the shipped data and names its convention', () => {
  const r = ordo(['demo', '--json']);
  assert.is(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.is(j.convention, 'standard');
  assert.is(j.baselines.length, 3);
  const [feature, random, oracle] = j.baselines;
  assert.is(oracle['ndcg@10'], 1);
  assert.ok(feature['ndcg@10'] > random['ndcg@10'], 'the best single feature beats random scores');
});

test('ordo backend --json and --help', () => {
  const r = ordo(['backend', '--json']);
  assert.is(r.code, 0, r.err);
  assert.ok(['cpu', 'cuda'].includes(JSON.parse(r.out).active));
  const h = ordo(['--help']);
  assert.is(h.code, 0);
  assert.match(h.out, /ordo eval --data FILE --scores FILE/);
});

test.run();

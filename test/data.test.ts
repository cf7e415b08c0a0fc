import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDataset, parseScores, readDataset, readDatasetSync, summarize } from '../lib/index.js';
import { caught, haveShared, sharedData } from './helpers.js';

// Counts from ../shared/data/README.md: [path, docs, queries, features, label histogram, all-zero queries, min, median, max]
type Row = [string, number, number, number, number[] | null, number | null, [number, number, number] | null];
const LETOR: Row[] = [
  ['MQ2008/Fold1/train.txt', 9630, 471, 46, [7820, 1223, 587], 132, [5, 8, 121]],
  ['MQ2008/Fold1/vali.txt', 2707, 157, 46, [2140, 400, 167], 37, [6, 8, 118]],
  ['MQ2008/Fold1/test.txt', 2874, 156, 46, [2319, 378, 177], 51, [6, 14.5, 119]],
  ['MQ2008/Fold2/train.txt', 9404, 471, 46, [7644, 1196, 564], 117, [5, 13, 121]],
  ['MQ2008/Fold2/test.txt', 2933, 157, 46, [2316, 427, 190], 52, [6, 8, 118]],
  ['MQ2008/Fold3/train.txt', 8643, 470, 46, [6883, 1189, 571], 123, [5, 11.5, 119]],
  ['MQ2008/Fold3/test.txt', 3635, 157, 46, [3080, 385, 170], 45, [5, 14, 121]],
  ['MQ2008/Fold4/train.txt', 8514, 470, 46, [6775, 1205, 534], 140, [6, 8, 119]],
  ['MQ2008/Fold4/test.txt', 3062, 157, 46, [2424, 411, 227], 35, [5, 14, 119]],
  // shared/data/README.md says min 6 here; the file has qid:12631 with 5 rows
  // (checked with awk '{print $2}' | uniq -c), so the README's figure is off.
  ['MQ2008/Fold5/train.txt', 9442, 470, 46, [7715, 1190, 537], 148, [5, 8, 121]],
  ['MQ2008/Fold5/test.txt', 2707, 157, 46, [2140, 400, 167], 37, [6, 8, 118]],
  ['OHSUMED/QueryLevelNorm/Fold1/train.txt', 9219, 63, 45, [6052, 1765, 1402], null, [35, 138, 320]],
  ['OHSUMED/QueryLevelNorm/Fold1/vali.txt', 3538, 21, 45, [2457, 546, 535], null, [88, 156, 289]],
  ['OHSUMED/QueryLevelNorm/Fold1/test.txt', 3383, 22, 45, [2794, 274, 315], null, [58, 148, 295]],
  ['OHSUMED/QueryLevelNorm/Fold2/test.txt', 2570, 21, 45, [1751, 451, 368], 1, [35, 134, 235]],
  ['OHSUMED/QueryLevelNorm/Fold3/test.txt', 3076, 21, 45, [2162, 501, 413], null, [41, 137, 320]],
  ['OHSUMED/QueryLevelNorm/Fold4/test.txt', 3573, 21, 45, [2139, 813, 621], null, [74, 165, 288]],
  ['OHSUMED/QueryLevelNorm/Fold5/test.txt', 3538, 21, 45, [2457, 546, 535], null, [88, 156, 289]],
  ['OHSUMED/QueryLevelNorm/Fold2/train.txt', 10187, 63, 45, null, null, null],
  ['OHSUMED/QueryLevelNorm/Fold3/train.txt', 10494, 64, 45, null, null, null],
  ['OHSUMED/QueryLevelNorm/Fold4/train.txt', 9491, 64, 45, null, null, null],
  ['OHSUMED/QueryLevelNorm/Fold5/train.txt', 9029, 64, 45, null, null, null],
  ['OHSUMED/Feature-min/Fold1/trainingset.txt', 9219, 63, 45, [6052, 1765, 1402], null, null],
  ['OHSUMED/Feature-min/Fold1/validationset.txt', 3538, 21, 45, [2457, 546, 535], null, null],
  ['OHSUMED/Feature-min/Fold1/testset.txt', 3383, 22, 45, [2794, 274, 315], null, null],
  ['lightgbm-lambdarank/examples/lambdarank/rank.train', 3005, 201, 300, [645, 1211, 858, 222, 69], null, [1, 15, 27]],
  ['lightgbm-lambdarank/examples/lambdarank/rank.test', 768, 50, 300, [206, 256, 252, 44, 10], null, [6, 16, 24]],
  ['fastrank-trec-news-2018/examples/trec_news_2018.train', 782, 45, 5, [303, 256, 146, 27, 50], null, null],
  ['fastrank-trec-news-2018/examples/trec_news_2018.test', 41, 5, 5, [14, 15, 4, 4, 4], null, null],
];

for (const [rel, docs, queries, features, hist, allZero, sizes] of LETOR) {
  const t = haveShared ? test : test.skip;
  t(`shared data parses with the README's counts: ${rel}`, () => {
    const ds = readDatasetSync(join(sharedData, rel));
    assert.is(ds.numDocs, docs);
    assert.is(ds.numQueries, queries);
    assert.is(ds.numFeatures, features);
    assert.is(ds.features.length, docs * features);
    assert.is(ds.queryOffsets[ds.numQueries], docs);
    const s = summarize(ds);
    if (hist) assert.equal(Object.values(s.labelHistogram), hist);
    if (allZero !== null) assert.is(s.queriesWithAllZeroLabels, allZero);
    if (sizes) assert.equal([s.docsPerQuery.min, s.docsPerQuery.median, s.docsPerQuery.max], sizes);
  });
}

(haveShared ? test : test.skip)('MQ2008: every file of every fold parses; vali of fold k equals test of fold k-1', () => {
  for (let f = 1; f <= 5; f++) {
    for (const part of ['train', 'vali', 'test']) {
      const ds = readDatasetSync(join(sharedData, `MQ2008/Fold${f}/${part}.txt`));
      assert.ok(ds.numDocs > 0 && ds.docIds!.length === ds.numDocs);
    }
    const vali = readDatasetSync(join(sharedData, `MQ2008/Fold${f}/vali.txt`));
    const prevTest = readDatasetSync(join(sharedData, `MQ2008/Fold${f === 1 ? 5 : f - 1}/test.txt`));
    assert.equal(vali.labels, prevTest.labels);
    assert.equal(vali.features, prevTest.features);
  }
});

(haveShared ? test : test.skip)('LETOR details: first row, docid, CRLF stripped, negative values in Feature-min', () => {
  const ds = readDatasetSync(join(sharedData, 'MQ2008/Fold1/train.txt'));
  assert.is(ds.queryIds[0], '10002');
  assert.is(ds.labels[0], 0);
  assert.ok(Math.abs(ds.features[0]! - 0.007477) < 1e-7);
  assert.ok(/^GX\d{3}-\d\d-\d+$/.test(ds.docIds![0]!), ds.docIds![0]);
  const fm = readDatasetSync(join(sharedData, 'OHSUMED/Feature-min/Fold1/testset.txt'));
  assert.ok(fm.features.some((v) => v < 0));
  assert.ok(/^\d+$/.test(fm.docIds![0]!));
});

(haveShared ? test : test.skip)('fastrank: scientific notation and negative values, sparse rows', () => {
  const ds = readDatasetSync(join(sharedData, 'fastrank-trec-news-2018/examples/trec_news_2018.train'));
  // first row: 1 qid:321 1:-1 2:-2 3:-1 4:6.520804200793011e-08 5:0.037...
  assert.equal(Array.from(ds.features.slice(0, 3)), [-1, -2, -1]);
  assert.ok(Math.abs(ds.features[3]! - 6.520804200793011e-8) < 1e-14);
  // second row has no feature 2: it reads as 0
  assert.is(ds.features[5 + 1], 0);
});

(haveShared ? test : test.skip)('LightGBM .query: found automatically, or given, or refused when it does not add up', async () => {
  const file = join(sharedData, 'lightgbm-lambdarank/examples/lambdarank/rank.test');
  const auto = await readDataset(file);
  assert.is(auto.queryFile, `${file}.query`);
  assert.is(auto.queryIds[0], '0');
  const e = caught(() => readDatasetSync(file, { queryFile: join(sharedData, 'lightgbm-lambdarank/examples/lambdarank/rank.train.query') }));
  assert.is(e.code, 'ORDO_PARSE_ERROR');
  assert.match(e.message, /group sizes add up to 3005 rows, but .*rank\.test has 768 data rows/);
  const none = caught(() => readDatasetSync(file, { queryFile: null }));
  assert.match(none.message, /no qid: field and no query group file/);
});

test('format: CRLF, comments, docid, sparse rows, 1-based indices, no trailing newline', () => {
  const ds = parseDataset('2 qid:7 1:0.5 3:-2e-3 #docid = D1 inc = 1\r\n# a comment line\r\n\r\n0 qid:7 2:1E2\r\n1 qid:8 3:+4 # docid=D3', 'mem.txt');
  assert.is(ds.numDocs, 3);
  assert.is(ds.numFeatures, 3);
  assert.equal(Array.from(ds.features), [0.5, 0, -0.002, 0, 100, 0, 0, 0, 4].map(Math.fround));
  assert.equal(Array.from(ds.labels), [2, 0, 1]);
  assert.equal(Array.from(ds.queryOffsets), [0, 2, 3]);
  assert.equal(ds.queryIds, ['7', '8']);
  assert.equal(ds.docIds, ['D1', '', 'D3']);
});

test('format: rows without qid take groups from a .query file; numFeatures pads or rejects', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ordo-data-'));
  writeFileSync(join(dir, 'g.query'), '2\n1\n');
  const ds = parseDataset('1 1:1\n0 2:2\n3 1:3\n', 'mem.txt', { queryFile: join(dir, 'g.query'), numFeatures: 4 });
  assert.equal(Array.from(ds.queryOffsets), [0, 2, 3]);
  assert.is(ds.numFeatures, 4);
  const e = caught(() => parseDataset('1 qid:1 5:1\n', 'mem.txt', { numFeatures: 4 }));
  assert.match(e.message, /mem\.txt:1:9: feature index 5 exceeds numFeatures = 4/);
});

const BAD: Array<[string, string, number, number, RegExp]> = [
  ['bad label', '1 qid:1 1:1\nabc qid:1 1:1\n', 2, 1, /expected a numeric relevance label, found 'abc'/],
  ['qid missing', '1 qid:1 1:1\n1 1:1\n', 2, 3, /qid: missing/],
  ['qid appearing late', '1 1:1\n1 qid:1 1:1\n', 2, 3, /has a qid: field but the rows before it/],
  ['index 0', '1 qid:1 0:1\n', 1, 9, /feature index 0: indices are 1-based/],
  ['negative index', '1 qid:1 -3:1\n', 1, 9, /expected a feature 'index:value', found '-3:1'/],
  ['repeated index', '1 qid:1 1:1 1:2\n', 1, 13, /feature index 1 is repeated/],
  ['non-increasing index', '1 qid:1 4:1 2:2\n', 1, 13, /feature index 2 after 4: indices must increase/],
  ['non-numeric value', '1 qid:1 1:0.5 2:x7\n', 1, 17, /expected a number after '2:', found 'x7'/],
  ['empty value', '1 qid:1 1:\n', 1, 11, /expected a number after '1:'/],
  ['NaN value', '1 qid:1 1:NaN\n', 1, 11, /non-finite feature value 'NaN'/],
  ['Inf value', '1 qid:1 1:-inf\n', 1, 11, /non-finite feature value '-inf'/],
  ['value beyond float32', '1 qid:1 1:3e39\n', 1, 11, /out of float32 range/],
  ['query not contiguous', '1 qid:1 1:1\n0 qid:2 1:1\n0 qid:1 1:1\n', 3, 3, /query qid:1 is not contiguous: its rows began at line 1/],
  ['negative label', '-1 qid:1 1:1\n', 1, 1, /label must be >= 0/],
  ['NaN label', 'nan qid:1 1:1\n', 1, 1, /label must be finite/],
  ['missing colon', '1 qid:1 12\n', 1, 11, /expected ':' after the feature index/],
  ['empty qid', '1 qid: 1:1\n', 1, 3, /empty qid/],
  ['no rows', '# only a comment\n\n', 1, 1, /no data rows/],
];
for (const [what, text, line, column, re] of BAD) {
  test(`bad input names file, line and column: ${what}`, () => {
    const e = caught(() => parseDataset(text, 'bad.txt'));
    assert.is(e.code, 'ORDO_PARSE_ERROR');
    assert.is(e.file, 'bad.txt');
    assert.is(e.line, line, `line of: ${e.message}`);
    assert.is(e.column, column, `column of: ${e.message}`);
    assert.match(e.message, re);
    assert.ok(e.message.startsWith(`bad.txt:${line}:${column}: `), e.message);
  });
}

test('allowNonFinite lets NaN/Inf through', () => {
  const ds = parseDataset('1 qid:1 1:nan 2:inf\n', 'x', { allowNonFinite: true });
  assert.ok(Number.isNaN(ds.features[0]!));
  assert.is(ds.features[1], Infinity);
});

test('.query file errors: zero, junk, sum mismatch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ordo-q-'));
  const q = join(dir, 'x.query');
  writeFileSync(q, '1\n0\n');
  assert.match(caught(() => parseDataset('1 1:1\n', 'x', { queryFile: q })).message, /x\.query:2:1: group size 0/);
  writeFileSync(q, '1\nfive\n');
  assert.match(caught(() => parseDataset('1 1:1\n', 'x', { queryFile: q })).message, /x\.query:2:1: expected a group size/);
  writeFileSync(q, '1\n1\n');
  assert.match(caught(() => parseDataset('1 1:1\n', 'x', { queryFile: q })).message, /add up to 2 rows, but x has 1 data rows/);
  writeFileSync(q, '1\n1\n');
  assert.match(caught(() => parseDataset('1 qid:a 1:1\n1 qid:a 1:1\n', 'x', { queryFile: q })).message, /does not match the qid blocks/);
});

test('missing file: ORDO_IO_ERROR naming the path; async errors reject', async () => {
  const e = caught(() => readDatasetSync('/no/such/file.txt'));
  assert.is(e.code, 'ORDO_IO_ERROR');
  assert.match(e.message, /\/no\/such\/file\.txt: cannot open/);
  try {
    await readDataset('/no/such/file.txt');
    assert.unreachable('should reject');
  } catch (err) {
    assert.is((err as { code?: string }).code, 'ORDO_IO_ERROR');
  }
});

test('wrong argument types are TypeErrors naming the argument', () => {
  const e = caught(() => readDatasetSync(42 as unknown as string));
  assert.instance(e, TypeError);
  assert.match(e.message, /path must be a string/);
  const e2 = caught(() => readDatasetSync('x', { allowNonFinite: 'yes' as unknown as boolean }));
  assert.instance(e2, TypeError);
  assert.match(e2.message, /options\.allowNonFinite must be a boolean/);
  const e3 = caught(() => readDatasetSync('x', { numFeatures: -1 }));
  assert.instance(e3, RangeError);
});

test('scores text: one finite number per line', () => {
  assert.equal(Array.from(parseScores('1\n-2.5\r\n3e1\n')), [1, -2.5, 30]);
  assert.match(caught(() => parseScores('1\n\n2\n', 's.txt')).message, /s\.txt:2:1: blank line/);
  assert.match(caught(() => parseScores('1\ninf\n', 's.txt')).message, /s\.txt:2:1: score 'inf' is not finite/);
});

test.run();

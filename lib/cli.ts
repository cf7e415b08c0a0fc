#!/usr/bin/env node
// The `ordo` command line: info, eval, demo, backend; train, cv, predict, export (lib/cli-train.ts).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { backend, describeBackend } from './backend.js';
import { readDatasetSync, readScores, summarize, type Dataset, type DatasetSummary } from './data.js';
import { DEFAULT_CONVENTION, PRESETS, describeConvention, resolveConvention, type PresetName } from './conventions.js';
import { DEFAULT_METRICS, evaluate, type EvaluationResult } from './evaluate.js';
import { bestSingleFeature, demoDataPaths, featureAsScores } from './baselines.js';
import { packageRoot } from './native.js';
import { mulberry32 } from './random.js';
import { runTrainCli } from './cli-train.js';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const USAGE = `ordo — learning-to-rank for Node.js

Usage:
  ordo info FILE [--query PATH] [--json]
      Summary of an SVMlight/LETOR file: docs, queries, features, label
      histogram, queries with all-zero labels, docs per query.
  ordo eval --data FILE --scores FILE [--query PATH] [--metrics LIST]
            [--convention NAME] [--per-query] [--json]
      Ranking metrics of one score per line (in the data file's row order).
      LIST: e.g. ndcg@1,ndcg@10,map or ndcg@1,3,5,10 (default ${DEFAULT_METRICS}).
      NAME: ${Object.keys(PRESETS).join(', ')} (default ${DEFAULT_CONVENTION}).
  ordo demo [--json]
      Evaluates simple baselines on the demo data shipped with ordo.
  ordo backend [--json]
      Which backend (cpu/cuda) is compiled in and active, and why.
  ordo train --config FILE | --train FILE [--valid FILE] [--test FILE]
             [--KEY VALUE ...] [--out DIR] [--json] [--quiet]
      Trains a ranker; writes a run folder (config, metrics per epoch,
      final metrics, model, HTML report). Any config key is a flag.
      --model diffusionrank trains DiffusionRank (diffusion.* keys:
      --diffusion.objective pointwise|pairwise, --diffusion.generative false
      for the discriminative counterpart, --diffusion.preset practical|paper).
  ordo cv --data DIR [--folds 1-5] [training flags] [--json]
      Trains and tests each LETOR fold DIR/FoldN/{train,vali,test}.txt;
      prints per-fold metrics and mean ± std.
  ordo predict --model MODEL --data FILE [--query PATH] [--out FILE] [--json]
      One score per line, in the data file's row order (for ordo eval).
  ordo export --model MODEL --onnx OUT.onnx [--no-preprocessing]
      Exports an MLP or DiffusionRank ranker to ONNX.
  ordo generate --model MODEL --rows N [--steps 50] [--label K] [--out FILE]
      Synthetic (features, label) rows from a generative DiffusionRank model
      (TabDiff's multi-step sampler), in SVMlight format.
  ordo bench [--smoke] [--check] [suite options]
      Performance regression suite (bench/suite.mjs, source checkout only);
      --check compares with the stored baselines (bench/check.mjs).
  ordo COMMAND --help  shows the options of each command.

A LightGBM-style group file is read from --query PATH, or from FILE.query
when it exists. Set ORDO_BACKEND=cpu|cuda|auto to force a backend.`;

class UsageError extends Error {}

function fmt(v: number): string {
  return Number.isNaN(v) ? 'NaN' : v.toFixed(4);
}

function readData(file: string, query: string | undefined): Dataset {
  return readDatasetSync(file, query === undefined ? {} : { queryFile: query });
}

function printSummary(s: DatasetSummary): void {
  const lines = [
    `file              ${s.source}`,
    ...(s.queryFile ? [`query file        ${s.queryFile}`] : []),
    `documents         ${s.numDocs}`,
    `queries           ${s.numQueries}`,
    `features          ${s.numFeatures}`,
    `labels            ${Object.entries(s.labelHistogram)
      .map(([l, n]) => `${l}: ${n}`)
      .join(', ')}`,
    `all-zero queries  ${s.queriesWithAllZeroLabels} (${((100 * s.queriesWithAllZeroLabels) / Math.max(1, s.numQueries)).toFixed(1)} %)`,
    `docs per query    min ${s.docsPerQuery.min}, median ${s.docsPerQuery.median}, max ${s.docsPerQuery.max}`,
    `doc ids           ${s.hasDocIds ? 'yes' : 'no'}`,
  ];
  console.log(lines.join('\n'));
}

function resultJson(r: EvaluationResult, extra: Record<string, unknown>, perQuery: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { ...extra, convention: r.convention.name, conventionDetails: r.convention, numQueries: r.numQueries };
  const counts: Record<string, number> = {};
  for (const [name, v] of Object.entries(r.metrics)) {
    out[name] = v.mean;
    counts[name] = v.count;
  }
  out.queriesCounted = counts;
  if (perQuery) {
    const pq: Record<string, Array<number | null>> = {};
    for (const [name, v] of Object.entries(r.metrics)) pq[name] = Array.from(v.perQuery, (x) => (Number.isNaN(x) ? null : x));
    out.perQuery = pq;
  }
  return out;
}

function printTable(r: EvaluationResult): void {
  console.log(`convention: ${describeConvention(r.convention)}`);
  const width = Math.max(8, ...Object.keys(r.metrics).map((n) => n.length));
  console.log(`${'metric'.padEnd(width)}  value   queries`);
  for (const [name, v] of Object.entries(r.metrics)) {
    console.log(`${name.padEnd(width)}  ${fmt(v.mean)}  ${v.count}/${r.numQueries}`);
  }
}

function cmdInfo(args: string[]): void {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { query: { type: 'string' }, json: { type: 'boolean' } } });
  if (positionals.length !== 1) throw new UsageError('ordo info takes exactly one FILE');
  const s = summarize(readData(positionals[0]!, values.query));
  if (values.json) console.log(JSON.stringify(s, null, 2));
  else printSummary(s);
}

function cmdEval(args: string[]): void {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      data: { type: 'string' },
      scores: { type: 'string' },
      query: { type: 'string' },
      metrics: { type: 'string' },
      convention: { type: 'string' },
      'per-query': { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (!values.data) throw new UsageError('ordo eval needs --data FILE');
  if (!values.scores) throw new UsageError('ordo eval needs --scores FILE');
  const convention = resolveConvention((values.convention ?? DEFAULT_CONVENTION) as PresetName);
  const ds = readData(values.data, values.query);
  const scores = readScores(values.scores);
  if (scores.length !== ds.numDocs) {
    throw new UsageError(`${values.scores} has ${scores.length} scores but ${values.data} has ${ds.numDocs} documents: one score per line, in row order`);
  }
  const r = evaluate(ds, scores, { metrics: values.metrics ?? DEFAULT_METRICS, convention });
  if (values.json) {
    console.log(JSON.stringify(resultJson(r, { data: values.data, scores: values.scores }, values['per-query'] ?? false), null, 2));
    return;
  }
  console.log(`data: ${values.data} (${ds.numQueries} queries, ${ds.numDocs} documents)`);
  printTable(r);
  if (values['per-query']) {
    const names = Object.keys(r.metrics);
    console.log(['qid', ...names].join('\t'));
    for (let q = 0; q < r.numQueries; q++) {
      console.log([ds.queryIds[q], ...names.map((n) => fmt(r.metrics[n]!.perQuery[q]!))].join('\t'));
    }
  }
}

// Writes the demo training data as train/vali files: the LightGBM example ships
// train and test only, so the last 20 % of its training queries become the
// validation split (for early stopping and model selection; test stays unseen).
function writeDemoSplit(dir: string): { train: string; valid: string } {
  const paths = demoDataPaths();
  const lines = readFileSync(paths.train, 'utf8').split('\n').filter((l) => l.trim().length > 0);
  const sizes = readFileSync(`${paths.train}.query`, 'utf8').split('\n').filter((l) => l.trim().length > 0).map(Number);
  const cut = Math.round(sizes.length * 0.8);
  const rowsBefore = sizes.slice(0, cut).reduce((a, b) => a + b, 0);
  mkdirSync(dir, { recursive: true });
  const train = join(dir, 'train.txt');
  const valid = join(dir, 'vali.txt');
  writeFileSync(train, lines.slice(0, rowsBefore).join('\n') + '\n');
  writeFileSync(`${train}.query`, sizes.slice(0, cut).join('\n') + '\n');
  writeFileSync(valid, lines.slice(rowsBefore).join('\n') + '\n');
  writeFileSync(`${valid}.query`, sizes.slice(cut).join('\n') + '\n');
  return { train, valid };
}

async function cmdDemo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { json: { type: 'boolean' }, convention: { type: 'string' }, 'no-train': { type: 'boolean' }, out: { type: 'string' }, epochs: { type: 'string' } },
  });
  const convention = resolveConvention((values.convention ?? DEFAULT_CONVENTION) as PresetName);
  const paths = demoDataPaths();
  const train = readDatasetSync(paths.train);
  const test = readDatasetSync(paths.test);
  const metrics = 'ndcg@1,3,5,10,map';
  const best = bestSingleFeature(train, 'ndcg@10', convention);
  const rand = mulberry32(42);
  const randomScores = Float64Array.from({ length: test.numDocs }, () => rand());
  const rows: Array<[string, EvaluationResult]> = [
    [`feature ${best.feature + 1} (best single feature on train by ndcg@10)`, evaluate(test, featureAsScores(test, best.feature), { metrics, convention })],
    ['random scores (seed 42)', evaluate(test, randomScores, { metrics, convention })],
    ['oracle (scores = labels)', evaluate(test, test.labels, { metrics, convention })],
  ];
  if (values.json) {
    console.log(
      JSON.stringify(
        {
          backend: describeBackend(),
          train: summarize(train),
          test: summarize(test),
          convention: convention.name,
          conventionDetails: convention,
          baselines: rows.map(([name, r]) => ({ name, ...Object.fromEntries(Object.entries(r.metrics).map(([m, v]) => [m, v.mean])) })),
        },
        null,
        2,
      ),
    );
    return 0;
  }
  console.log('ordo demo: ranking baselines on the LightGBM lambdarank example data (MIT, shipped in data/demo)');
  console.log(`backend: ${describeBackend()}`);
  console.log(`train: ${train.numDocs} docs, ${train.numQueries} queries, ${train.numFeatures} features`);
  console.log(`test:  ${test.numDocs} docs, ${test.numQueries} queries`);
  console.log(`convention: ${describeConvention(convention)}\n`);
  const names = Object.keys(rows[0]![1].metrics);
  const w = Math.max(...rows.map(([n]) => n.length));
  console.log(`${'scores'.padEnd(w)}  ${names.map((n) => n.padStart(7)).join('  ')}`);
  for (const [name, r] of rows) console.log(`${name.padEnd(w)}  ${names.map((n) => fmt(r.metrics[n]!.mean).padStart(7)).join('  ')}`);
  if (values['no-train']) return 0;
  const out = values.out ?? join('runs', `demo-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const split = writeDemoSplit(join(out, 'data'));
  console.log(`\nTraining an MLP ranker (ListNet) on ${split.train}, early stopping on ${split.valid}, testing on ${paths.test}:`);
  return runTrainCli('train', [
    '--train', split.train,
    '--valid', split.valid,
    '--test', paths.test,
    '--out', out,
    '--model.hidden', '64,64',
    '--loss', 'listNet',
    '--lr', '0.003',
    '--epochs', values.epochs ?? '40',
    '--batchQueries', '8',
    '--preprocess', 'standardize',
    '--convention', convention.name.startsWith('custom') ? 'standard' : convention.name,
    '--earlyStopping.patience', '8',
  ]);
}

function cmdBackend(args: string[]): void {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } } });
  const info = backend();
  if (values.json) console.log(JSON.stringify(info, null, 2));
  else {
    console.log(`active:   ${describeBackend(info)}`);
    console.log(`compiled: ${info.compiled.join(', ')}`);
    if (info.cuda.compiled) {
      console.log(`cuda:     runtime ${info.cuda.runtimeVersion}, driver ${info.cuda.driverVersion || 'none'}, archs ${info.cuda.architectures}`);
      if (!info.cuda.usable) console.log(`          ${info.cuda.errorName}: ${info.cuda.errorString}`);
      for (const d of info.cuda.devices) console.log(`          device ${d.index}: ${d.name} (compute ${d.computeCapability})`);
    }
  }
}

// The perf regression suite ships with the source checkout (bench/ is not in the npm package).
function cmdBench(args: string[]): number {
  const check = args.includes('--check');
  const script = join(packageRoot, 'bench', check ? 'check.mjs' : 'suite.mjs');
  if (!existsSync(script)) throw new Error(`${script} not found: the benchmark suite is part of the source checkout, not of the npm package`);
  return spawnSync(process.execPath, [script, ...args.filter((a) => a !== '--check')], { stdio: 'inherit' }).status ?? 1;
}

export function main(argv: string[]): number | Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'train':
      case 'cv':
      case 'predict':
      case 'export':
      case 'generate':
        return runTrainCli(command, rest);
    }
    if (['info', 'eval', 'demo', 'backend'].includes(command ?? '') && (rest.includes('--help') || rest.includes('-h'))) {
      console.log(USAGE);
      return 0;
    }
    switch (command) {
      case 'info':
        cmdInfo(rest);
        return 0;
      case 'eval':
        cmdEval(rest);
        return 0;
      case 'demo':
        return cmdDemo(rest);
      case 'backend':
        cmdBackend(rest);
        return 0;
      case 'bench':
        return cmdBench(rest);
      case '--version':
      case '-v':
        console.log((JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE);
        return command === undefined ? 1 : 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (err) {
    const e = err as Error & { code?: string };
    if (err instanceof UsageError || e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      console.error(`ordo: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    console.error(`ordo: ${e.message}`);
    return 1;
  }
}

void Promise.resolve(main(process.argv.slice(2))).then((code) => {
  process.exitCode = code;
});

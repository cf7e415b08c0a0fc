// npm run bench:check — runs the suite (bench/suite.mjs) and compares every case's
// ratio with the baseline stored for this machine class, bench/baselines/<class>.json
// (<class>.smoke.json with --smoke). Exit 0: no regression; 1: a ratio fell by
// more than the tolerance; 2: usage error or no baseline for the class.
//
// What is compared: `ratio_best`, the case's rate in its fastest repetition over
// a reference measured in the same run (the measured FMA peak or copy bandwidth,
// or a plain JS implementation of the same work): load from other processes only
// makes runs slower, so the best repetition is the figure that moves least.
// A case regresses when ratio_best < baseline × (1 − tolerance). Default
// tolerance 0.30 (0.60 with --smoke); a baseline file or a case in it may set its
// own `tolerance`, and --tolerance overrides all of them. Cases whose time is
// under --min-ms (default 0.5 ms: timer and launch noise dominate; for CUDA-event
// timings --min-ms-events, default 0.02 ms) are shown but never fail. Regressed
// cases are run once more before failing, and the better of the two runs counts
// (--no-retry to turn that off). A CPU class with no baseline of its own is
// compared with the same ISA's baseline of the nearest core count.
//
//   node bench/check.mjs [--smoke] [--class NAME] [--baseline FILE] [--tolerance F]
//        [--min-ms MS] [--min-ms-events MS] [--update] [--input FILE.jsonl]
//        [--strict] [--no-retry] [-- SUITE ARGS]
// --update   rewrites the baseline from this run (cases not in the run are kept).
// --input    compares a saved run (suite --jsonl FILE, or scripts/cuda-runner.sh output).
// --strict   a baseline case missing from the run (or skipped) fails too.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const suitePath = join(root, 'bench', 'suite.mjs');
const DEFAULT_TOLERANCE = { full: 0.3, smoke: 0.6 };

let args;
try {
  args = parseArgs({
    allowPositionals: true,
    options: {
      smoke: { type: 'boolean', default: false },
      class: { type: 'string' },
      baseline: { type: 'string' },
      tolerance: { type: 'string' },
      'min-ms': { type: 'string', default: '0.5' },
      'min-ms-events': { type: 'string', default: '0.02' },
      update: { type: 'boolean', default: false },
      input: { type: 'string' },
      strict: { type: 'boolean', default: false },
      'no-retry': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (err) {
  console.error(`bench/check.mjs: ${err.message}`);
  process.exit(2);
}
const { values: opt, positionals: suiteArgs } = args;
if (opt.help) {
  const head = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  console.log(head.slice(0, head.findIndex((l) => l.startsWith('import'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}
const tolOverride = opt.tolerance === undefined ? null : Number(opt.tolerance);
if (tolOverride !== null && !(tolOverride >= 0 && tolOverride < 1)) {
  console.error(`bench/check.mjs: --tolerance must be a fraction in [0, 1), e.g. 0.3 (fail when a ratio falls by more than 30 %), got ${opt.tolerance}`);
  process.exit(2);
}
const minMs = Number(opt['min-ms']);
const minMsEvents = Number(opt['min-ms-events']);

/** The machine class of a GPU (as bench/suite.mjs names it): h100, h200, a100, ... */
function gpuClass(name) {
  const n = String(name).toLowerCase();
  const known = /\b(h100|h200|h800|a100|a10g|a10|l40s|l40|l4|t4|v100|b200|b100|gh200|gb200)\b/.exec(n);
  return known ? known[1] : n.replace(/^nvidia\s+/, '').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

function parseRun(text, source) {
  const lines = text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  let machine = lines.find((l) => l.case === 'machine');
  const device = lines.find((l) => l.case === 'gpu_device');
  if (!machine && device) {
    // scripts/cuda-runner.sh on a machine without Node: only the C++ benches ran (bench_gpu lines carry id and ratio_best)
    machine = { case: 'machine', class: gpuClass(device.name), mode: opt.smoke ? 'smoke' : 'full', commit: 'unknown', gpu: device.name, cuda_driver: device.driver, cuda_runtime: device.runtime };
  }
  if (!machine) throw new Error(`${source}: no "machine" line: not output of bench/suite.mjs (nor bench_gpu output)`);
  const cases = new Map();
  for (const l of lines) if (l.id && !String(l.case).startsWith('peer:')) cases.set(l.id, l);
  return { machine, cases, mode: machine.mode };
}

function runSuite(extra) {
  const argv = [suitePath, ...(opt.smoke ? ['--smoke'] : []), '--no-table', ...suiteArgs, ...extra];
  console.error(`[check] node ${argv.map((a) => relative(process.cwd(), a) || a).join(' ')}`);
  const r = spawnSync(process.execPath, [...process.execArgv, ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28 });
  if (r.status !== 0) {
    console.error(`bench/check.mjs: the suite exited with ${r.status ?? r.signal}`);
    process.exit(2);
  }
  return parseRun(r.stdout, 'bench/suite.mjs');
}

let run;
try {
  run = opt.input ? parseRun(readFileSync(opt.input, 'utf8'), opt.input) : runSuite([]);
} catch (err) {
  console.error(`bench/check.mjs: ${err.message}`);
  process.exit(2);
}
const mode = run.mode ?? (opt.smoke ? 'smoke' : 'full');
const suffix = mode === 'smoke' ? '.smoke.json' : '.json';
const baselineDir = join(root, 'bench', 'baselines');
let cls = opt.class ?? run.machine.class;
let baselinePath = resolve(opt.baseline ?? join(baselineDir, cls + suffix));
let fallbackNote = '';
// A CPU class with no baseline of its own (e.g. a 4-core CI machine) is compared with the
// CPU baseline of the same ISA and the nearest core count: the ratios are per-machine
// normalised, so they carry over, within the tolerance.
const cpuClass = /^cpu-([a-z0-9]+)-(\d+)core$/.exec(cls);
if (!opt.update && !opt.class && !opt.baseline && !existsSync(baselinePath) && cpuClass && existsSync(baselineDir)) {
  const near = readdirSync(baselineDir)
    .map((f) => new RegExp(`^cpu-${cpuClass[1]}-(\\d+)core${suffix.replace(/\./g, '\\.')}$`).exec(f))
    .filter(Boolean)
    .sort((a, b) => Math.abs(a[1] - cpuClass[2]) - Math.abs(b[1] - cpuClass[2]));
  if (near.length) {
    fallbackNote = ` (no baseline for ${cls}: nearest CPU class of the same ISA)`;
    cls = near[0][0].slice(0, -suffix.length);
    baselinePath = join(baselineDir, near[0][0]);
  }
}
const rel = relative(root, baselinePath);

// ---- --update ------------------------------------------------------------------------------------
if (opt.update) {
  const old = existsSync(baselinePath) ? JSON.parse(readFileSync(baselinePath, 'utf8')) : null;
  const m = run.machine;
  const cases = { ...(old?.cases ?? {}) };
  let n = 0;
  for (const [id, r] of run.cases) {
    if (r.skipped || r.ratio_best == null) continue;
    cases[id] = {
      ratio: r.ratio_best,
      reference: r.reference,
      median_ms: r.median_ms,
      min_ms: r.min_ms,
      ...(old?.cases?.[id]?.tolerance != null ? { tolerance: old.cases[id].tolerance } : {}),
    };
    n++;
  }
  const baseline = {
    format: 'ordo-bench-baseline/1',
    class: cls,
    mode,
    tolerance: old?.tolerance ?? DEFAULT_TOLERANCE[mode],
    note:
      old?.note ??
      'ratio = ratio_best of bench/suite.mjs (rate in the fastest repetition ÷ a reference measured in the same run). ' +
        'Regenerate on a quiet machine of this class with: node bench/check.mjs' + (mode === 'smoke' ? ' --smoke' : '') + ' --update',
    updated: new Date().toISOString(),
    commit: m.commit + (m.dirty ? '-dirty' : ''),
    machine: { cpu: m.cpu, cores: m.cores, threads: m.threads, gpu: m.gpu, cuda_driver: m.cuda_driver, cuda_runtime: m.cuda_runtime, node: m.node },
    cases: Object.fromEntries(Object.entries(cases).sort(([a], [b]) => a.localeCompare(b))),
  };
  mkdirSync(dirname(baselinePath), { recursive: true });
  writeFileSync(baselinePath, JSON.stringify(baseline, null, 1) + '\n');
  console.log(`bench:check: wrote ${rel}: ${n} cases from this run, ${Object.keys(cases).length} in all (class ${cls}, ${mode})`);
  process.exit(0);
}

// ---- compare ---------------------------------------------------------------------------------------
if (!existsSync(baselinePath)) {
  console.error(`bench:check: no baseline for machine class "${cls}" (${rel}). Create it on a quiet machine with\n` +
    `  node bench/check.mjs${mode === 'smoke' ? ' --smoke' : ''} --update\nor compare with another class's baseline: --class NAME / --baseline FILE.`);
  process.exit(2);
}
const base = JSON.parse(readFileSync(baselinePath, 'utf8'));
if (base.mode && base.mode !== mode) {
  console.error(`bench:check: ${rel} holds a ${base.mode} baseline but this is a ${mode} run (use ${base.mode === 'smoke' ? '--smoke' : 'no --smoke'})`);
  process.exit(2);
}

function verdicts(cases) {
  const out = [];
  for (const [id, b] of Object.entries(base.cases)) {
    const r = cases.get(id);
    const tol = tolOverride ?? b.tolerance ?? base.tolerance ?? DEFAULT_TOLERANCE[mode];
    const row = { id, base: b.ratio, tol };
    if (!r) out.push({ ...row, verdict: 'missing', fail: opt.strict });
    else if (r.skipped) out.push({ ...row, verdict: `skipped: ${r.skipped}`, fail: opt.strict });
    else if (r.ratio_best == null) out.push({ ...row, verdict: `no ratio: ${r.note ?? '?'}`, fail: opt.strict });
    else if (b.reference && r.reference !== b.reference) out.push({ ...row, now: r.ratio_best, verdict: `not comparable: reference ${r.reference}, baseline ${b.reference}`, fail: false });
    else {
      const change = r.ratio_best / b.ratio - 1;
      const floor = r.timing === 'cuda-events' ? minMsEvents : minMs;
      const short = Math.min(b.min_ms ?? Infinity, r.min_ms ?? Infinity) < floor;
      if (change < -tol) out.push({ ...row, now: r.ratio_best, change, verdict: short ? `slower, but under ${floor} ms (not checked)` : 'REGRESSION', fail: !short });
      else if (change > tol) out.push({ ...row, now: r.ratio_best, change, verdict: 'faster (consider --update)', fail: false });
      else out.push({ ...row, now: r.ratio_best, change, verdict: 'ok', fail: false });
    }
  }
  return out;
}

let rows = verdicts(run.cases);
const regressed = rows.filter((r) => r.verdict === 'REGRESSION');
if (regressed.length && !opt.input && !opt['no-retry']) {
  // One more run of just those cases; the better of the two counts (load spikes are common).
  const names = [...new Set(regressed.map((r) => r.id.split('|')[0]))];
  console.error(`[check] ${regressed.length} case(s) below tolerance; running ${names.join(', ')} again`);
  const again = runSuite(['--only', `^(${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`]);
  for (const [id, r] of again.cases) {
    const first = run.cases.get(id);
    if (first && !r.skipped && r.ratio_best != null && (first.ratio_best == null || r.ratio_best > first.ratio_best)) run.cases.set(id, r);
  }
  rows = verdicts(run.cases);
}

const fmt = (v) => (v == null || !Number.isFinite(v) ? '-' : v.toPrecision(3));
const pct = (v) => (v == null ? '' : `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)} %`);
const width = Math.min(90, Math.max(...rows.map((r) => r.id.length)));
console.log(`bench:check ${mode} vs ${rel}${fallbackNote} (class ${cls}; baseline commit ${base.commit ?? '?'}, this run ${run.machine.commit}${run.machine.dirty ? '-dirty' : ''})`);
console.log(`tolerance: fail when ratio_best < baseline × (1 − ${tolOverride ?? base.tolerance ?? DEFAULT_TOLERANCE[mode]})${tolOverride == null ? ' (per-case tolerances apply where set)' : ''}; cases under ${minMs} ms (CUDA events: ${minMsEvents} ms) are not checked`);
console.log(`${'case|shape|backend|source'.padEnd(width)}  baseline  now       change     verdict`);
for (const r of rows) console.log(`${r.id.padEnd(width)}  ${fmt(r.base).padEnd(8)}  ${fmt(r.now).padEnd(8)}  ${pct(r.change).padEnd(9)}  ${r.verdict}`);
const fresh = [...run.cases.values()].filter((r) => !r.skipped && r.ratio_best != null && !base.cases[r.id]);
if (fresh.length) console.log(`\n${fresh.length} case(s) not in the baseline (add them with --update): ${fresh.map((r) => r.id).join(', ')}`);
const fails = rows.filter((r) => r.fail);
const counts = (v) => rows.filter((r) => r.verdict.startsWith(v)).length;
console.log(`\n${rows.length} compared: ${counts('ok')} ok, ${counts('faster')} faster, ${counts('REGRESSION')} regressed, ${counts('slower, but')} short, ${rows.length - counts('ok') - counts('faster') - counts('REGRESSION') - counts('slower, but')} missing/skipped/not comparable`);
if (fails.length) {
  console.log(`bench:check FAILED: ${fails.map((r) => `${r.id} (${r.verdict}${r.change != null ? `, ${pct(r.change)}` : ''})`).join('; ')}`);
  process.exit(1);
}
console.log('bench:check passed');

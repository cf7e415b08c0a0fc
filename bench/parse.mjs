// Parse-throughput benchmark (not a test): MB/s of ordo's native reader on
// MQ2008 Fold1 train.txt (from ../shared) and on a generated LETOR-style file
// of >= 200 MB, each against two references measured in the same run:
//   - raw read: fs.readFileSync of the same bytes (the I/O ceiling);
//   - naive JS: a split()/parseFloat() parser, what a user would write by hand.
// Prints one JSON line per case, then a table. Usage:
//   node bench/parse.mjs [--size-mb 200] [--repeat 5] [--no-js] [--file PATH]
import { existsSync, mkdirSync, readFileSync, statSync, createWriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { execSync } from 'node:child_process';
import { naiveJsParse } from './naive-parse.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { readDatasetSync } = await import(join(root, 'dist', 'index.js'));
const { values } = parseArgs({
  options: {
    'size-mb': { type: 'string', default: '200' },
    repeat: { type: 'string', default: '5' },
    'no-js': { type: 'boolean', default: false },
    file: { type: 'string', multiple: true },
  },
});
const repeat = Math.max(1, Number(values.repeat));
const sharedDir = process.env.ORDO_SHARED_DIR ?? join(root, '..', 'shared');

function time(fn) {
  const runs = [];
  let out;
  for (let i = 0; i < repeat; i++) {
    const t0 = process.hrtime.bigint();
    out = fn();
    runs.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  runs.sort((a, b) => a - b);
  return { median: runs[runs.length >> 1], min: runs[0], max: runs[runs.length - 1], out };
}

async function generate(path, targetBytes) {
  // LETOR-like rows: 46 dense features with 6 decimals, qid blocks of 20, a docid comment.
  mkdirSync(dirname(path), { recursive: true });
  const out = createWriteStream(path);
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  let bytes = 0;
  let row = 0;
  while (bytes < targetBytes) {
    const lines = [];
    for (let i = 0; i < 2000; i++, row++) {
      const feats = [];
      for (let f = 1; f <= 46; f++) feats.push(`${f}:${rand() < 0.2 ? '0' : rand().toFixed(6)}`);
      lines.push(`${Math.floor(rand() * 3)} qid:${Math.floor(row / 20)} ${feats.join(' ')} #docid = G${row} inc = 1 prob = 0.5\r\n`);
    }
    const chunk = lines.join('');
    bytes += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((r) => out.end(r));
}

const files = [];
const mq = join(sharedDir, 'data/MQ2008/Fold1/train.txt');
if (existsSync(mq)) files.push({ name: 'MQ2008 Fold1 train.txt', path: mq });
const sizeMb = Number(values['size-mb']);
if (sizeMb > 0) {
  const gen = join(root, 'bench', '.cache', `generated-${sizeMb}mb.txt`);
  if (!existsSync(gen) || statSync(gen).size < sizeMb * 1e6) await generate(gen, sizeMb * 1e6);
  files.push({ name: `generated ${sizeMb} MB`, path: gen });
}
for (const f of values.file ?? []) files.push({ name: f, path: f });

let commit = 'unknown';
try {
  commit = execSync('git rev-parse --short HEAD', { cwd: root, encoding: 'utf8' }).trim();
} catch {}
const machine = { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, commit };
const results = [];
for (const f of files) {
  const mb = statSync(f.path).size / 1e6;
  const ordo = time(() => readDatasetSync(f.path).numDocs);
  const raw = time(() => readFileSync(f.path).length);
  const js = values['no-js'] || mb > 50 ? null : time(() => naiveJsParse(f.path));
  const r = {
    case: 'parse',
    file: f.name,
    MB: +mb.toFixed(1),
    docs: ordo.out,
    repeat,
    ordo_MBps: { median: +(mb / ordo.median).toFixed(1), min: +(mb / ordo.max).toFixed(1), max: +(mb / ordo.min).toFixed(1) },
    raw_read_MBps: +(mb / raw.median).toFixed(1),
    naive_js_MBps: js ? +(mb / js.median).toFixed(1) : null,
    ratio_vs_naive_js: js ? +(js.median / ordo.median).toFixed(2) : null,
    fraction_of_raw_read: +(raw.median / ordo.median).toFixed(3),
    machine,
  };
  results.push(r);
  console.log(JSON.stringify(r));
}
console.log('\nfile                         MB     ordo MB/s (median, min-max)   raw read MB/s   naive JS MB/s   ordo / naive JS');
for (const r of results) {
  console.log(
    `${r.file.padEnd(27)} ${String(r.MB).padStart(6)}   ${String(r.ordo_MBps.median).padStart(7)} (${r.ordo_MBps.min}-${r.ordo_MBps.max})`.padEnd(66) +
      `${String(r.raw_read_MBps).padStart(10)}   ${String(r.naive_js_MBps ?? '-').padStart(13)}   ${r.ratio_vs_naive_js ?? '-'}`,
  );
}

// Fuzz loop for ordo's TypeScript file loaders (run: node --import tsx scripts/fuzz-js.mjs [--runs N] [--seed S]):
//   model   decodeRanker (lib/persist.ts): the safetensors model loader
//   config  resolveConfig / loadConfig / applyOverrides (lib/config.ts): the run config loader
// Seeds: native/fuzz/corpus/model/*.safetensors and native/fuzz/corpus/config/*.json, plus
// models encoded here. Mutations are byte-level (flips, inserts, deletes, truncation) and
// structure-aware (the JSON header or config rewritten with edge values, then re-encoded
// with a valid checksum so the deeper checks are reached).
// Passes when every input either loads or throws the loader's own clean error
// (ORDO_MODEL_ERROR naming the file / ConfigError naming the key), within a time bound.
import { readFileSync, readdirSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { decodeRanker, encodeRanker } = await import('../lib/persist.ts');
const { Ranker, resolveModelConfig } = await import('../lib/ranker.ts');
const { resolveConfig, loadConfig, applyOverrides, defaultConfig, ConfigError } = await import('../lib/config.ts');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const runs = opt('--runs', 20000);
let state = opt('--seed', 1) >>> 0;
const rand = () => {
  // mulberry32
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (a) => a[Math.floor(rand() * a.length)];
const SLOW_MS = 2000;

// ---- seeds ----------------------------------------------------------------------------
function readSeeds(dir) {
  try {
    return readdirSync(dir).sort().map((f) => readFileSync(join(dir, f)));
  } catch {
    return [];
  }
}
const modelSeeds = readSeeds(join(root, 'native/fuzz/corpus/model'));
for (const [model, nf, steps] of [
  [{ kind: 'mlp', hidden: [3], activation: 'relu', layerNorm: false, dropout: 0 }, 2, []],
  [{ kind: 'mlp', hidden: [2, 2], activation: 'tanh', layerNorm: true, dropout: 0.1 }, 3, [{ step: 'standardize', mean: [0, 1, 2], std: [1, 1, 2] }]],
  [{ kind: 'mlp', hidden: [], activation: 'relu', layerNorm: false, dropout: 0 }, 1, [{ step: 'log1p' }]],
  [{ kind: 'transformer', dModel: 4, heads: 2, layers: 1, dFF: 8, inputActivation: 'relu', dropout: 0 }, 2, []],
]) {
  try {
    const m = resolveModelConfig(model);
    const count = (() => {
      try {
        new Ranker(m, nf, { numFeatures: nf, steps }, new Float32Array(0));
      } catch (e) {
        const n = /needs (\d+)/.exec(e.message);
        if (n) return Number(n[1]);
        throw e;
      }
      return 0;
    })();
    const params = Float32Array.from({ length: count }, (_, i) => Math.sin(i + 1));
    modelSeeds.push(Buffer.from(encodeRanker(new Ranker(m, nf, { numFeatures: nf, steps }, params, { note: 'fuzz seed' }))));
  } catch (e) {
    console.log(`fuzz-js: skipping a model seed (${e.message})`);
  }
}
const configSeeds = readSeeds(join(root, 'native/fuzz/corpus/config')).map((b) => b.toString('utf8'));
configSeeds.push(JSON.stringify(defaultConfig()));

// ---- mutations --------------------------------------------------------------------------
const EDGE = [0, -1, 1, -0, 0.5, 1e308, -1e308, 1e-320, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 64, 1e9, 1e15, NaN, Infinity, null, true, '', 'x', '1', [], {}, [1e9], [0], [-1], ['a'], [2 ** 40], '__proto__'];
function edgeValue() {
  const v = pick(EDGE);
  return typeof v === 'number' && !Number.isFinite(v) ? v : structuredClone(v);
}
function mutateBytes(buf) {
  const b = Buffer.from(buf);
  let out = b;
  const edits = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < edits; i++) {
    const r = rand();
    const at = Math.floor(rand() * (out.length + 1));
    if (r < 0.3 && out.length) out[Math.min(at, out.length - 1)] ^= 1 << Math.floor(rand() * 8);
    else if (r < 0.45 && out.length) out[Math.min(at, out.length - 1)] = Math.floor(rand() * 256);
    else if (r < 0.6) out = Buffer.concat([out.subarray(0, at), Buffer.from([Math.floor(rand() * 256)]), out.subarray(at)]);
    else if (r < 0.75) out = Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + Math.floor(rand() * 16)))]);
    else if (r < 0.85) out = out.subarray(0, at);
    else if (out.length >= 8) out.writeBigUInt64LE(BigInt(Math.floor(rand() * (out.length + 64))) * (rand() < 0.1 ? 1n << 40n : 1n), 0);
  }
  return out;
}
// Walks to a random node of a JSON value and replaces it (or a key of it).
function mutateJson(value) {
  const v = structuredClone(value);
  const nodes = [];
  const walk = (x, parent, key) => {
    nodes.push([parent, key]);
    if (x && typeof x === 'object') for (const k of Object.keys(x)) walk(x[k], x, k);
  };
  walk(v, null, null);
  const edits = 1 + Math.floor(rand() * 3);
  let out = v;
  for (let i = 0; i < edits; i++) {
    const [parent, key] = pick(nodes);
    if (!parent) {
      if (rand() < 0.1) out = edgeValue();
      continue;
    }
    const r = rand();
    if (r < 0.55) parent[key] = edgeValue();
    else if (r < 0.7) delete parent[key];
    else if (r < 0.8 && typeof parent[key] === 'string') {
      // strings that hold JSON (the model's __metadata__): mutate inside
      try {
        parent[key] = JSON.stringify(mutateJson(JSON.parse(parent[key])));
      } catch {
        parent[key] = parent[key] + pick(['}', '{', '"', '0', '[']);
      }
    } else if (r < 0.9) parent[pick(['unknown', '__proto__', 'constructor', key + 'x'])] = edgeValue();
    else if (Array.isArray(parent[key])) parent[key].push(edgeValue());
    else parent[key] = [parent[key]];
  }
  return out;
}
// A model file rewritten through its header (checksum recomputed over the data).
function mutateModelStructure(buf) {
  const h = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + h));
  let data = buf.subarray(8 + h);
  const mutated = mutateJson(header);
  if (rand() < 0.3) data = mutateBytes(data);
  if (mutated && typeof mutated === 'object' && mutated.__metadata__ && typeof mutated.__metadata__ === 'object' && rand() < 0.9) {
    mutated.__metadata__.checksum = createHash('sha256').update(data).digest('hex');
  }
  let json = Buffer.from(JSON.stringify(mutated) ?? 'null', 'utf8');
  const pad = (8 - ((8 + json.length) % 8)) % 8;
  json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([prefix, json, data]);
}

// ---- harnesses ----------------------------------------------------------------------------
const findings = [];
function finding(kind, input, error) {
  findings.push({ kind, error: error?.stack ?? String(error) });
  if (findings.length <= 5) {
    const dir = mkdtempSync(join(tmpdir(), 'ordo-fuzz-js-'));
    writeFileSync(join(dir, 'input'), input);
    console.log(`fuzz-js: ${kind} finding (input saved to ${dir}/input):\n${error?.stack ?? error}`);
  }
}
function timed(kind, input, fn) {
  const t0 = performance.now();
  fn();
  const ms = performance.now() - t0;
  if (ms > SLOW_MS) finding(`${kind} (slow: ${ms.toFixed(0)} ms)`, input, new Error('slow input'));
}

let modelLoaded = 0, modelRejected = 0;
function fuzzModel(input) {
  timed('model', input, () => {
    try {
      const r = decodeRanker(input, 'fuzz.safetensors');
      if (!(r.params instanceof Float32Array) || r.params.length * 4 > input.length) throw new Error('loaded params larger than the file');
      modelLoaded++;
    } catch (e) {
      if (e?.code === 'ORDO_MODEL_ERROR' && String(e.message).startsWith('fuzz.safetensors: ')) modelRejected++;
      else finding('model', input, e);
    }
  });
}

let configLoaded = 0, configRejected = 0;
const keyNamed = /config key '[^']*'|unknown config key|must be an object|is not valid JSON|cannot read config/;
function checkResolved(c) {
  // Every number the loader accepted is finite (the schema asks for it).
  const walk = (x, path) => {
    if (typeof x === 'number' && !Number.isFinite(x)) throw new Error(`resolved ${path} = ${x}`);
    if (x && typeof x === 'object') for (const [k, v] of Object.entries(x)) walk(v, `${path}.${k}`);
  };
  walk(c, 'config');
}
const tmpDir = mkdtempSync(join(tmpdir(), 'ordo-fuzz-cfg-'));
const cfgFile = join(tmpDir, 'config.json');
const OVERRIDE_KEYS = ['model.hidden', 'model.dropout', 'lr', 'epochs', 'loss', 'lossOptions.temperature', 'seed', 'model', 'data.train', 'schedule.kind', 'x.y', 'model.hidden.0', '__proto__', 'constructor', 'earlyStopping.patience', ''];
const OVERRIDE_VALUES = ['1', '-1', '1e400', 'NaN', '128,128', '[1,2]', '{"hidden":[4]}', 'true', '', ',', 'null', '{"__proto__":{"x":1}}', '0x10', '9007199254740993', '"str"'];
function fuzzConfig(text) {
  timed('config', text, () => {
    try {
      let c;
      if (rand() < 0.2) {
        writeFileSync(cfgFile, text);
        c = loadConfig(cfgFile);
      } else {
        c = resolveConfig(JSON.parse(text));
      }
      if (rand() < 0.5) c = applyOverrides(c, [[pick(OVERRIDE_KEYS), pick(OVERRIDE_VALUES)]]);
      checkResolved(c);
      if ({}.polluted !== undefined || Object.prototype.hasOwnProperty.call(Object.prototype, 'x')) throw new Error('prototype pollution');
      configLoaded++;
    } catch (e) {
      if (e instanceof SyntaxError) configRejected++; // JSON.parse of the raw text (the CLI reports it as ConfigError)
      else if (e instanceof ConfigError && keyNamed.test(e.message)) configRejected++;
      else finding('config', text, e);
    }
  });
}

const t0 = performance.now();
for (let i = 0; i < runs; i++) {
  const seed = pick(modelSeeds);
  let input;
  try {
    input = rand() < 0.6 ? mutateModelStructure(rand() < 0.5 ? seed : mutateModelStructure(seed)) : mutateBytes(seed);
  } catch {
    input = mutateBytes(seed);
  }
  fuzzModel(input);
}
const tModel = performance.now() - t0;
for (let i = 0; i < runs; i++) {
  const seed = pick(configSeeds);
  let text;
  const r = rand();
  if (r < 0.7) {
    try {
      text = JSON.stringify(mutateJson(JSON.parse(seed))) ?? 'null';
    } catch {
      text = seed;
    }
  } else text = mutateBytes(Buffer.from(seed)).toString('utf8');
  fuzzConfig(text);
}
const tConfig = performance.now() - t0 - tModel;
rmSync(tmpDir, { recursive: true, force: true });
console.log(
  `fuzz-js model loader: ${runs} inputs (${modelLoaded} loaded, ${modelRejected} clean errors) in ${(tModel / 1000).toFixed(1)} s; ` +
    `config loader: ${runs} inputs (${configLoaded} loaded, ${configRejected} clean errors) in ${(tConfig / 1000).toFixed(1)} s`,
);
if (findings.length) {
  console.log(`fuzz-js: ${findings.length} finding(s)`);
  process.exit(1);
}
console.log('fuzz-js: no finding');

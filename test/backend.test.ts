import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { backend, describeBackend } from '../lib/index.js';
import { repoRoot } from './helpers.js';

function node(code: string, env: Record<string, string | undefined> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('backend() reports compiled backends, the active one, and the CUDA state or error', () => {
  const info = backend();
  assert.ok(info.compiled.includes('cpu'));
  assert.is(info.compiled.includes('cuda'), info.cuda.compiled);
  if (info.cuda.usable) {
    assert.is(info.active, process.env.ORDO_BACKEND === 'cpu' ? 'cpu' : 'cuda');
    assert.ok(info.cuda.devices.length > 0);
  } else {
    assert.is(info.active, 'cpu');
    assert.ok(info.cuda.errorName.length > 0, 'an unusable CUDA says why');
    if (info.cuda.compiled) assert.ok(info.cuda.runtimeVersion >= 12000);
  }
  assert.type(describeBackend(info), 'string');
});

test('loading ordo and using the CPU kernels never touches the NVIDIA driver', () => {
  // LD_DEBUG=libs logs every library lookup; libcuda must not appear until backend() runs.
  const code = `
    const o = await import('./lib/index.ts');
    const ds = o.parseDataset('1 qid:1 1:1\\n0 qid:1 1:2\\n');
    o.evaluate(ds, [1, 2]);
    console.error('@@MARK@@');
    o.backend();`;
  const r = node(code, { LD_DEBUG: 'libs' });
  assert.is(r.code, 0, r.err.slice(-2000));
  const [beforeMark, afterMark] = r.err.split('@@MARK@@');
  assert.ok(afterMark !== undefined, 'marker printed');
  assert.not.match(beforeMark!, /libcuda/);
  const info = backend();
  if (info.cuda.compiled) assert.match(afterMark!, /libcuda/, 'the first backend() call probes the driver');
});

test('ORDO_BACKEND=cuda without a usable GPU is an error that says why; =cpu forces CPU; unknown values are refused', () => {
  const info = backend();
  const forced = node(`const o = await import('./lib/index.ts'); console.log(JSON.stringify(o.backend()))`, { ORDO_BACKEND: 'cuda' });
  if (info.cuda.usable) {
    assert.is(forced.code, 0, forced.err);
    assert.is(JSON.parse(forced.out).active, 'cuda');
  } else {
    assert.is.not(forced.code, 0);
    assert.match(forced.err, /ORDO_BACKEND=cuda, but/);
    assert.match(forced.err, info.cuda.compiled ? new RegExp(info.cuda.errorName) : /built without CUDA/);
  }
  const cpu = node(`const o = await import('./lib/index.ts'); console.log(JSON.stringify(o.backend()))`, { ORDO_BACKEND: 'cpu' });
  assert.is(cpu.code, 0, cpu.err);
  assert.is(JSON.parse(cpu.out).active, 'cpu');
  const bad = node(`const o = await import('./lib/index.ts'); o.backend()`, { ORDO_BACKEND: 'tpu' });
  assert.is.not(bad.code, 0);
  assert.match(bad.err, /ORDO_BACKEND='tpu' is not a backend; use cpu, cuda or auto/);
});

test.run();

// Loads the ordo native addon (build/Release from a source build, else the
// prebuilt binary in prebuilds/<platform>-<arch>/) through node-gyp-build.
// Loading registers functions only; no GPU driver is touched until backend()
// or a kernel asks for it.
import { createRequire } from 'node:module';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of the installed package (dist/ and lib/ both sit one level below). */
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface NativeDataset {
  numDocs: number;
  numFeatures: number;
  numQueries: number;
  qidInRows: boolean;
  features: Float32Array;
  labels: Float32Array;
  queryOffsets: Uint32Array;
  queryIds: string[];
  /** Doc ids packed as UTF-8: id i is docIdBytes[docIdOffsets[i] .. docIdOffsets[i+1]). */
  docIdBytes?: Uint8Array;
  docIdOffsets?: Uint32Array;
}

export interface NativeReadOptions {
  queryFile?: string;
  allowNonFinite?: boolean;
  numFeatures?: number;
}

export interface NativeCudaStatus {
  compiled: boolean;
  usable: boolean;
  errorCode: number;
  errorName: string;
  errorString: string;
  runtimeVersion: number;
  driverVersion: number;
  architectures: string;
  devices: Array<{ index: number; name: string; computeCapability: string; totalMemory: number; multiprocessors: number }>;
}

export interface NativeMetricResult {
  mean: number;
  count: number;
  perQuery: Float64Array;
}

export interface NativeAddon {
  abiVersion: number;
  readDataset(path: string, options?: NativeReadOptions): Promise<NativeDataset>;
  readDatasetSync(path: string, options?: NativeReadOptions): NativeDataset;
  parseDatasetText(text: string, sourceName?: string, options?: NativeReadOptions): NativeDataset;
  readScores(path: string): Float64Array;
  parseScoresText(text: string, sourceName?: string): Float64Array;
  evaluate(
    labels: Float32Array,
    queryOffsets: Uint32Array,
    scores: Float64Array | Float32Array,
    metrics: Array<[string, number]>,
    convention: object,
  ): NativeMetricResult[];
  cudaStatus(): NativeCudaStatus;
  selectBackend(): 'cpu' | 'cuda';
  cudaCompiled(): boolean;
  Tensor: {
    from(array: unknown, shape?: number[], options?: object): unknown;
    zeros(shape: number[], options?: object): unknown;
  };
  kernels: Record<string, (...args: unknown[]) => unknown> & {
    stats(): { cpu: number; cuda: number };
    threads(n?: number): number;
    usesAvx2(): boolean;
  };
}

function describeCandidates(): string {
  const lines: string[] = [];
  for (const dir of ['build/Release', 'build/Debug', `prebuilds/${process.platform}-${process.arch}`]) {
    const full = join(packageRoot, dir);
    const files = existsSync(full) ? readdirSync(full).filter((f) => f.endsWith('.node')) : [];
    lines.push(`  ${full}: ${files.length ? files.join(', ') : 'no .node file'}`);
  }
  return lines.join('\n');
}

function load(): NativeAddon {
  const require = createRequire(import.meta.url);
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
  let addon: NativeAddon;
  try {
    addon = nodeGypBuild(packageRoot) as NativeAddon;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      `ordo: could not load the native addon for ${process.platform}-${process.arch} (Node ${process.versions.node}, N-API ${process.versions.napi}).\n` +
        `Reason: ${why}\nLooked in:\n${describeCandidates()}\n` +
        'To build it from source (needs a C++17 compiler and CMake >= 3.19; CUDA is optional):\n' +
        '  npm explore ordo -- npm run build:gyp       (CPU only; node-gyp, bundled with npm)\n' +
        '  npm explore ordo -- npx cmake-js compile    (CPU + CUDA when nvcc is found; CMake >= 3.19)',
      { cause: err },
    );
  }
  if (addon.abiVersion !== 2) {
    throw new Error(`ordo: the native addon's ABI version ${addon.abiVersion} does not match this JS (2); rebuild with npm run build:native`);
  }
  return addon;
}

let cached: NativeAddon | undefined;

/** The native addon, loaded on first use. */
export function native(): NativeAddon {
  cached ??= load();
  return cached;
}

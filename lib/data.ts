// Learning-to-rank data: SVMlight / LETOR text and LightGBM-style files with
// a separate .query group file, parsed natively (C++, chunked, from_chars).
import { existsSync } from 'node:fs';
import { native, type NativeDataset, type NativeReadOptions } from './native.js';

/**
 * A ranking dataset held in memory. Documents of query q are the rows
 * queryOffsets[q] .. queryOffsets[q+1]-1 (contiguous; CSR-style offsets).
 */
export interface Dataset {
  /** Where the rows came from (path, or the name given to parseDataset). */
  source: string;
  numDocs: number;
  numFeatures: number;
  numQueries: number;
  /** Row-major numDocs x numFeatures; feature index j of the file is column j-1; missing = 0. */
  features: Float32Array;
  /** Relevance label per document. */
  labels: Float32Array;
  /** numQueries + 1 offsets, starting at 0 and ending at numDocs. */
  queryOffsets: Uint32Array;
  /** The qid of each query, or its ordinal ("0", "1", ...) when groups came from a .query file. */
  queryIds: string[];
  /** Document ids from "#docid = X" comments (LETOR), when the file has them. */
  docIds?: string[];
  /** Path of the .query group file used, if any. */
  queryFile?: string;
}

export interface ReadOptions {
  /**
   * LightGBM group file (one group size per line). Default: FILE.query when it
   * exists next to the data file; pass null to ignore it.
   */
  queryFile?: string | null;
  /** Accept NaN / Inf feature values (default: they are an error naming file, line and column). */
  allowNonFinite?: boolean;
  /** Replace NaN / ±Inf feature values by this finite number (implies allowNonFinite). */
  replaceNonFinite?: number;
  /** Fix the number of features (default: the largest index in the file). */
  numFeatures?: number;
}

function checkReplacement(options: Pick<ReadOptions, 'replaceNonFinite'>): number | undefined {
  const r = options.replaceNonFinite;
  if (r === undefined) return undefined;
  if (typeof r !== 'number' || !Number.isFinite(r)) throw new TypeError(`options.replaceNonFinite must be a finite number; got ${String(r)}`);
  return r;
}

/** Replaces the non-finite features in place (the reader kept them because allowNonFinite was set). */
function replaceNonFinite(ds: NativeDataset, value: number | undefined): NativeDataset {
  if (value === undefined) return ds;
  const f = ds.features;
  for (let i = 0; i < f.length; i++) if (!Number.isFinite(f[i]!)) f[i] = value;
  return ds;
}

function resolveOptions(path: string, options: ReadOptions): NativeReadOptions & { queryFile?: string } {
  const out: NativeReadOptions = {};
  if (options.queryFile === undefined) {
    if (existsSync(`${path}.query`)) out.queryFile = `${path}.query`;
  } else if (options.queryFile !== null) {
    out.queryFile = options.queryFile;
  }
  if (options.allowNonFinite !== undefined) out.allowNonFinite = options.allowNonFinite;
  if (checkReplacement(options) !== undefined) out.allowNonFinite = true;
  if (options.numFeatures !== undefined) out.numFeatures = options.numFeatures;
  return out;
}

function wrap(source: string, ds: NativeDataset, queryFile: string | undefined): Dataset {
  const out: Dataset = {
    source,
    numDocs: ds.numDocs,
    numFeatures: ds.numFeatures,
    numQueries: ds.numQueries,
    features: ds.features,
    labels: ds.labels,
    queryOffsets: ds.queryOffsets,
    queryIds: ds.queryIds,
  };
  if (ds.docIdOffsets) {
    // Decoded on first access: most uses never read doc ids, and building
    // millions of JS strings would cost more than parsing the file.
    const bytes = ds.docIdBytes ?? new Uint8Array(0);
    const offsets = ds.docIdOffsets;
    let decoded: string[] | undefined;
    Object.defineProperty(out, 'docIds', {
      enumerable: true,
      configurable: true,
      get(): string[] {
        if (!decoded) {
          const dec = new TextDecoder();
          decoded = new Array<string>(ds.numDocs);
          for (let i = 0; i < ds.numDocs; i++) decoded[i] = dec.decode(bytes.subarray(offsets[i]!, offsets[i + 1]!));
        }
        return decoded;
      },
    });
  }
  if (queryFile) out.queryFile = queryFile;
  return out;
}

/** Reads a data file off the JS thread. Errors carry code ORDO_PARSE_ERROR / ORDO_IO_ERROR and file, line, column. */
export async function readDataset(path: string, options: ReadOptions = {}): Promise<Dataset> {
  const opts = resolveOptions(path, options);
  return wrap(path, replaceNonFinite(await native().readDataset(path, opts), options.replaceNonFinite), opts.queryFile);
}

/** Synchronous readDataset. */
export function readDatasetSync(path: string, options: ReadOptions = {}): Dataset {
  const opts = resolveOptions(path, options);
  return wrap(path, replaceNonFinite(native().readDatasetSync(path, opts), options.replaceNonFinite), opts.queryFile);
}

/** Parses SVMlight text held in memory; sourceName appears in error messages. */
export function parseDataset(text: string, sourceName = '<text>', options: Omit<ReadOptions, 'queryFile'> & { queryFile?: string } = {}): Dataset {
  const opts: NativeReadOptions = {};
  if (options.queryFile) opts.queryFile = options.queryFile;
  if (options.allowNonFinite !== undefined) opts.allowNonFinite = options.allowNonFinite;
  if (checkReplacement(options) !== undefined) opts.allowNonFinite = true;
  if (options.numFeatures !== undefined) opts.numFeatures = options.numFeatures;
  return wrap(sourceName, replaceNonFinite(native().parseDatasetText(text, sourceName, opts), options.replaceNonFinite), options.queryFile);
}

/** Reads a scores file: one finite number per line, in the data file's row order. */
export function readScores(path: string): Float64Array {
  return native().readScores(path);
}

/** Parses scores text (one number per line). */
export function parseScores(text: string, sourceName = '<scores>'): Float64Array {
  return native().parseScoresText(text, sourceName);
}

export interface DatasetSummary {
  source: string;
  numDocs: number;
  numQueries: number;
  numFeatures: number;
  /** Count of documents per label value, keys sorted numerically. */
  labelHistogram: Record<string, number>;
  /** Queries whose labels are all 0 (no relevant document under any threshold > 0). */
  queriesWithAllZeroLabels: number;
  docsPerQuery: { min: number; median: number; max: number };
  hasDocIds: boolean;
  queryFile?: string;
}

/** The summary `ordo info` prints. */
export function summarize(ds: Dataset): DatasetSummary {
  const counts = new Map<number, number>();
  for (const l of ds.labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  const labelHistogram: Record<string, number> = {};
  for (const l of [...counts.keys()].sort((a, b) => a - b)) labelHistogram[String(l)] = counts.get(l)!;
  const sizes: number[] = [];
  let allZero = 0;
  for (let q = 0; q < ds.numQueries; q++) {
    const a = ds.queryOffsets[q]!;
    const b = ds.queryOffsets[q + 1]!;
    sizes.push(b - a);
    let any = false;
    for (let i = a; i < b; i++) {
      if (ds.labels[i] !== 0) {
        any = true;
        break;
      }
    }
    if (!any) allZero++;
  }
  sizes.sort((x, y) => x - y);
  const mid = sizes.length >> 1;
  const median = sizes.length === 0 ? 0 : sizes.length % 2 ? sizes[mid]! : (sizes[mid - 1]! + sizes[mid]!) / 2;
  const out: DatasetSummary = {
    source: ds.source,
    numDocs: ds.numDocs,
    numQueries: ds.numQueries,
    numFeatures: ds.numFeatures,
    labelHistogram,
    queriesWithAllZeroLabels: allZero,
    docsPerQuery: { min: sizes[0] ?? 0, median, max: sizes[sizes.length - 1] ?? 0 },
    hasDocIds: ds.docIds !== undefined,
  };
  if (ds.queryFile) out.queryFile = ds.queryFile;
  return out;
}

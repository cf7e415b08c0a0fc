// ordo/kernels: the low-level native entry points, for packages that build on
// ordo's kernels without its trainers. Arrays in, arrays out; every call
// validates dtype and lengths before native memory is touched.
import { native, type NativeCudaStatus, type NativeMetricResult } from './native.js';
import { resolveConvention, type ConventionInput } from './conventions.js';
import type { MetricKind } from './evaluate.js';

export { backend, describeBackend, type BackendInfo, type BackendName } from './backend.js';
export type { NativeCudaStatus as CudaStatus, NativeMetricResult as RankingMetricResult };

/**
 * Ranking metrics over a ragged batch: labels and scores per document,
 * queryOffsets (CSR, numQueries + 1 values). One result per [kind, k] pair.
 */
export function rankingMetrics(
  labels: Float32Array,
  queryOffsets: Uint32Array,
  scores: Float64Array | Float32Array,
  metrics: Array<[MetricKind, number]>,
  convention?: ConventionInput,
): NativeMetricResult[] {
  return native().evaluate(labels, queryOffsets, scores, metrics, resolveConvention(convention));
}

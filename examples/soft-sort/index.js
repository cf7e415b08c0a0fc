// softSort: a differentiable descending sort of several lists at once, using
// only the low-level ordo/kernels API (NeuralSort: Grover et al. 2019).
//
//   const { sorted, backward } = softSort([[0.3, 2, 1], [5, -1]], { tau: 0.1 });
//   sorted            -> [[≈2, ≈1, ≈0.3], [≈5, ≈-1]]
//   backward(grads)   -> d(Σ grads·sorted)/d(input), same nesting as the input
import { Tensor, raggedOffsets, neuralSortApply, neuralSortApplyBackward } from 'ordo/kernels';

export function softSort(lists, { tau = 1, device = 'cpu' } = {}) {
  if (!Array.isArray(lists) || !lists.every(Array.isArray)) throw new TypeError('softSort(lists): lists must be an array of number arrays');
  const offsets = [0];
  for (const l of lists) offsets.push(offsets[offsets.length - 1] + l.length);
  const flat = Float32Array.from(lists.flat());
  const n = flat.length;
  const scores = Tensor.from(flat, [n], { device, copy: true });
  const off = raggedOffsets(offsets, device);
  const out = Tensor.zeros([n], { device });
  const stats = Tensor.zeros([2 * n], { device });
  // P̂·s: the relaxed permutation applied to the scores themselves
  neuralSortApply(scores, scores, off, out, stats, { tau });
  const unflatten = (a) => lists.map((_, q) => Array.from(a.subarray(offsets[q], offsets[q + 1])));
  const sorted = unflatten(out.toArray());
  function backward(grads) {
    const g = Tensor.from(Float32Array.from(grads.flat()), [n], { device, copy: true });
    const viaScores = Tensor.zeros([n], { device });
    const viaValues = Tensor.zeros([n], { device });
    neuralSortApplyBackward(scores, scores, off, stats, g, viaScores, viaValues, { tau });
    // the scores enter twice (as sort keys and as the values sorted): add both paths
    const a = viaScores.toArray();
    const b = viaValues.toArray();
    return unflatten(a.map((v, i) => v + b[i]));
  }
  return { sorted, backward };
}

// Ranking losses on CUDA: the definitions, references and edge-case rules are
// those documented in cpu/losses.cc (same formulas, double precision).
//
// Straightforward kernels:
//  * every loss except NeuralNDCG: one thread per list, the list's work done
//    serially in double with per-doc global scratch (sorts are insertion sorts,
//    O(n²) like the pairwise losses themselves). Correct; not tuned.
//  * NeuralNDCG (+transposed): P̂ by cuda::neuralsort_matrix into global
//    scratch, then one block per list runs Sinkhorn in vector form
//    (Q = diag(R)·P̂·diag(C), block-parallel mat-vecs, per-iteration R, C kept
//    in scratch), the reverse pass, and writes ∂L/∂P̂ (n×n scratch), which
//    cuda::neuralsort_matrix_backward turns into grad_scores.
#include <cuda_runtime.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/error.h"
#include "core/losses.h"
#include "core/neuralsort.h"
#include "core/rng.h"

namespace ordo {
namespace cuda {
namespace {

constexpr double kEps = 1e-10;

void check_launch(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    throw BackendError(std::string("CUDA ") + what + " launch failed: " + cudaGetErrorName(e) + ": " +
                       cudaGetErrorString(e));
}

struct Scratch {
  std::vector<void*> ptrs;
  void* get(size_t bytes) {
    void* p = device_alloc(bytes < 8 ? 8 : bytes);
    ptrs.push_back(p);
    return p;
  }
  ~Scratch() {
    for (void* p : ptrs) device_free(p);
  }
};

struct Params {
  int kind;
  double sigma, temperature, mu, label_max;
  uint32_t k;
  bool norm, powered;
  uint64_t seed;
  int max_iter;
  double tol;
};

// As the CPU code: a loss or gradient beyond float32's range saturates to
// ±FLT_MAX (3.402823466e38f) instead of overflowing to ±Inf; NaN stays NaN.
__device__ __forceinline__ float saturate_to_float(double v) {
  const double kMax = 3.4028234663852886e38;
  return static_cast<float>(v > kMax ? kMax : v < -kMax ? -kMax : v);
}
__device__ __forceinline__ double softplus(double x) { return fmax(x, 0.0) + log1p(exp(-fabs(x))); }
__device__ __forceinline__ double sigmoid_d(double x) {
  if (x >= 0) return 1.0 / (1.0 + exp(-x));
  const double e = exp(x);
  return e / (1.0 + e);
}
__device__ __forceinline__ double gain_of(double y, bool powered) { return powered ? exp2(y) - 1.0 : y; }
__device__ __forceinline__ double disc(int i) { return 1.0 / log2(static_cast<double>(i) + 2.0); }

// Sorts idx[0..n) descending by key (stable: ties keep the index order).
__device__ void isort_desc(int* idx, const double* key, int n) {
  for (int i = 0; i < n; ++i) idx[i] = i;
  for (int i = 1; i < n; ++i) {
    const int v = idx[i];
    int j = i - 1;
    while (j >= 0 && key[idx[j]] < key[v]) {
      idx[j + 1] = idx[j];
      --j;
    }
    idx[j + 1] = v;
  }
}

// Ideal DCG@k; uses tmp (n doubles) and idx (n ints).
__device__ double ideal_dcg(const float* y, int n, int k, bool powered, double* tmp, int* idx) {
  for (int i = 0; i < n; ++i) tmp[i] = gain_of(y[i], powered);
  isort_desc(idx, tmp, n);
  double s = 0;
  for (int i = 0; i < k && i < n; ++i) s += tmp[idx[i]] * disc(i);
  return s;
}

__global__ void k_serial_loss(Params P, const float* scores, const float* labels, const uint32_t* offsets,
                              int64_t num_lists, uint32_t base, double* ta, double* tb, int* ia, float* loss,
                              float* grad) {
  const int64_t q = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (q >= num_lists) return;
  const uint32_t d0 = offsets[q];
  const int n = static_cast<int>(offsets[q + 1] - d0);
  const float* s = scores + d0;
  const float* y = labels + d0;
  float* g = grad ? grad + d0 : nullptr;
  double* a = ta + (d0 - base);
  double* b = tb + (d0 - base);
  int* o = ia + (d0 - base);
  if (n == 0) {
    loss[q] = 0.0f;
    return;
  }
  // gradient accumulates in b (double) and is written at the end
  for (int i = 0; i < n; ++i) b[i] = 0.0;
  double l = 0.0;
  const int kk = (P.k == 0 || P.k > static_cast<uint32_t>(n)) ? n : static_cast<int>(P.k);
  switch (P.kind) {
    case static_cast<int>(LossKind::PointwiseMSE):
      for (int i = 0; i < n; ++i) {
        const double r = static_cast<double>(s[i]) - y[i];
        l += r * r;
        b[i] = 2.0 * r / n;
      }
      l /= n;
      break;
    case static_cast<int>(LossKind::SigmoidCrossEntropy):
      for (int i = 0; i < n; ++i) {
        const double t = P.label_max > 0 ? fmin(1.0, fmax(0.0, y[i] / P.label_max)) : 0.0;
        const double x = s[i];
        l += fmax(x, 0.0) - x * t + log1p(exp(-fabs(x)));
        b[i] = (sigmoid_d(x) - t) / n;
      }
      l /= n;
      break;
    case static_cast<int>(LossKind::SoftmaxCrossEntropy): {
      double ys = 0, m = -INFINITY, z = 0;
      for (int i = 0; i < n; ++i) ys += y[i], m = fmax(m, static_cast<double>(s[i]));
      if (!(ys > 0)) break;
      for (int i = 0; i < n; ++i) z += exp(s[i] - m);
      const double lz = log(z) + m;
      for (int i = 0; i < n; ++i) {
        const double t = y[i] / ys;
        l -= t * (s[i] - lz);
        b[i] = exp(s[i] - lz) - t;
      }
      break;
    }
    case static_cast<int>(LossKind::RankNet): {
      double pairs = 0;
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
          if (!(y[i] > y[j])) continue;
          const double x = P.sigma * (static_cast<double>(s[i]) - s[j]);
          l += softplus(-x);
          pairs += 1;
          const double d = -P.sigma * sigmoid_d(-x);
          b[i] += d;
          b[j] -= d;
        }
      if (pairs > 0) {
        l /= pairs;
        for (int i = 0; i < n; ++i) b[i] /= pairs;
      }
      break;
    }
    case static_cast<int>(LossKind::LambdaRank): {
      const double maxdcg = ideal_dcg(y, n, kk, P.powered, a, o);
      if (!(maxdcg > 0) || n < 2) break;
      const double inv = 1.0 / maxdcg;
      for (int i = 0; i < n; ++i) a[i] = s[i];
      isort_desc(o, a, n);
      const double best = s[o[0]], worst = s[o[n - 1]];
      double sum_l = 0;
      for (int i = 0; i < n - 1 && i < kk; ++i)
        for (int j = i + 1; j < n; ++j) {
          const int di = o[i], dj = o[j];
          if (y[di] == y[dj]) continue;
          int h = di, lo = dj, rh = i, rl = j;
          if (y[di] < y[dj]) h = dj, lo = di, rh = j, rl = i;
          const double ds = static_cast<double>(s[h]) - s[lo];
          double dn = (gain_of(y[h], P.powered) - gain_of(y[lo], P.powered)) * fabs(disc(rh) - disc(rl)) * inv;
          if (P.norm && best != worst) dn /= 0.01 + fabs(ds);
          const double lambda = -P.sigma * dn * sigmoid_d(-P.sigma * ds);
          l += dn * softplus(-P.sigma * ds);
          b[h] += lambda;
          b[lo] -= lambda;
          sum_l -= 2.0 * lambda;
        }
      if (P.norm && sum_l > 0) {
        const double f = log2(1.0 + sum_l) / sum_l;
        for (int i = 0; i < n; ++i) b[i] *= f;
      }
      break;
    }
    case static_cast<int>(LossKind::ListNet): {
      double ms = -INFINITY, my = -INFINITY, zs = 0, zy = 0, acc = 0;
      for (int i = 0; i < n; ++i) ms = fmax(ms, static_cast<double>(s[i])), my = fmax(my, static_cast<double>(y[i]));
      for (int i = 0; i < n; ++i) zs += exp(s[i] - ms), zy += exp(y[i] - my);
      for (int i = 0; i < n; ++i) {
        const double p = exp(s[i] - ms) / zs, t = exp(y[i] - my) / zy;
        l -= t * log(p + kEps);
        acc += t * p / (p + kEps);
      }
      for (int i = 0; i < n; ++i) {
        const double p = exp(s[i] - ms) / zs, t = exp(y[i] - my) / zy;
        b[i] = -t * p / (p + kEps) + p * acc;
      }
      break;
    }
    case static_cast<int>(LossKind::ListMLE): {
      // order: label desc, then rng key asc, then index (insertion sort, stable)
      for (int i = 0; i < n; ++i) o[i] = i;
      for (int i = 1; i < n; ++i) {
        const int v = o[i];
        const uint64_t kv = rng_bits(P.seed, d0 + v);
        int j = i - 1;
        while (j >= 0) {
          const int u = o[j];
          const uint64_t ku = rng_bits(P.seed, d0 + u);
          const bool after = y[u] < y[v] || (y[u] == y[v] && (ku > kv || (ku == kv && u > v)));
          if (!after) break;
          o[j + 1] = u;
          --j;
        }
        o[j + 1] = v;
      }
      int am = 0;
      for (int i = 1; i < n; ++i)
        if (s[i] > s[am]) am = i;
      const double m = s[am];
      double acc = 0;
      for (int i = n - 1; i >= 0; --i) {
        acc += exp(s[o[i]] - m);
        a[i] = acc;
      }
      double pref = 0, dm = 0;
      for (int i = 0; i < n; ++i) {
        l += log(a[i] + kEps) - (s[o[i]] - m);
        pref += 1.0 / (a[i] + kEps);
        dm += kEps / (a[i] + kEps);
        b[o[i]] = exp(s[o[i]] - m) * pref - 1.0;
      }
      b[am] += dm;
      break;
    }
    case static_cast<int>(LossKind::ApproxNDCG): {
      const double alpha = 1.0 / P.temperature;
      const double maxdcg = fmax(ideal_dcg(y, n, n, P.powered, a, o), kEps);
      for (int i = 0; i < n; ++i) {
        double r = 1.0;
        for (int j = 0; j < n; ++j)
          if (j != i) r += fmax(sigmoid_d(-alpha * (static_cast<double>(s[i]) - s[j])), kEps);
        const double G = gain_of(y[i], P.powered) / maxdcg;
        const double lg = log2(1.0 + r);
        l -= G / lg;
        a[i] = G / (lg * lg * (1.0 + r) * log(2.0));
      }
      for (int i = 0; i < n; ++i) {
        if (a[i] == 0.0) continue;
        for (int j = 0; j < n; ++j) {
          if (j == i) continue;
          const double sg = sigmoid_d(-alpha * (static_cast<double>(s[i]) - s[j]));
          if (sg < kEps) continue;
          const double d = a[i] * alpha * sg * (1.0 - sg);
          b[i] -= d;
          b[j] += d;
        }
      }
      break;
    }
    case static_cast<int>(LossKind::LambdaLossNDCG2PP): {
      const double maxdcg = fmax(ideal_dcg(y, n, kk, P.powered, a, o), kEps);
      for (int i = 0; i < n; ++i) a[i] = s[i];
      isort_desc(o, a, n);
      const double log_eps = log(kEps), ln2 = log(2.0);
      for (int p = 0; p < kk; ++p)
        for (int qq = 0; qq < kk; ++qq) {
          const int dp = o[p], dq = o[qq];
          if (!(y[dp] > y[dq])) continue;
          const double dG = fabs(gain_of(y[dp], P.powered) - gain_of(y[dq], P.powered)) / maxdcg;
          const int t = abs(p - qq);
          const double delta = fabs(1.0 / log2(1.0 + t) - 1.0 / log2(2.0 + t));
          const double lr = fabs(1.0 / log2(2.0 + p) - 1.0 / log2(2.0 + qq));
          const double wt = P.mu * delta * dG + lr * dG;
          double x = static_cast<double>(s[dp]) - s[dq];
          bool cl = false;
          if (x > 1e8) x = 1e8, cl = true;
          else if (x < -1e8) x = -1e8, cl = true;
          const double ls = -softplus(-P.sigma * x);
          if (ls < log_eps) {
            l -= fmax(wt * log_eps, log_eps) / ln2;
            continue;
          }
          const double lw = wt * ls;
          if (lw < log_eps) {
            l -= log_eps / ln2;
            continue;
          }
          l -= lw / ln2;
          if (!cl && wt != 0.0) {
            const double d = -(wt / ln2) * P.sigma * sigmoid_d(-P.sigma * x);
            b[dp] += d;
            b[dq] -= d;
          }
        }
      break;
    }
    default:
      break;
  }
  loss[q] = saturate_to_float(l);
  if (g)
    for (int i = 0; i < n; ++i) g[i] = saturate_to_float(b[i]);
}

// ---- NeuralNDCG: one block per list ----
__device__ double block_sum(double v, double* sh) {
  const int t = threadIdx.x;
  sh[t] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s) sh[t] += sh[t + s];
    __syncthreads();
  }
  const double r = sh[0];
  __syncthreads();
  return r;
}
__device__ double block_max(double v, double* sh) {
  const int t = threadIdx.x;
  sh[t] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s) sh[t] = fmax(sh[t], sh[t + s]);
    __syncthreads();
  }
  const double r = sh[0];
  __syncthreads();
  return r;
}

// out_j = Σ_i r_i P_ij (thread per column j)
__device__ void mv_t(const float* Pm, int n, const double* r, double* out) {
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    double acc = 0;
    for (int i = 0; i < n; ++i) acc += r[i] * Pm[static_cast<size_t>(i) * n + j];
    out[j] = acc;
  }
  __syncthreads();
}
// out_i = Σ_j P_ij c_j (thread per row i)
__device__ void mv(const float* Pm, int n, const double* c, double* out) {
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    double acc = 0;
    const float* row = Pm + static_cast<size_t>(i) * n;
    for (int j = 0; j < n; ++j) acc += row[j] * c[j];
    out[i] = acc;
  }
  __syncthreads();
}

constexpr int kNdcgThreads = 256;

// Per list q (n docs, doc range d0..): histories HR, HC are (T+1)·n doubles
// starting at hoff[q]; vectors v0..v7 are n doubles at d0 − base.
__global__ void k_neural_ndcg(Params P, bool transposed, const float* labels, const uint32_t* offsets, uint32_t base,
                              const uint64_t* mat_offsets, const uint64_t* hist_offsets, const float* phat, float* gmat,
                              double* HR, double* HC, unsigned char* RC, unsigned char* CC, double* YB, double* XB,
                              double* vec, int* ivec, float* loss, bool want_grad) {
  __shared__ double sh[kNdcgThreads];
  __shared__ double s_Z;
  const int q = blockIdx.x;
  const uint32_t d0 = offsets[q];
  const int n = static_cast<int>(offsets[q + 1] - d0);
  if (n == 0) {
    if (threadIdx.x == 0) loss[q] = 0.0f;
    return;
  }
  const float* y = labels + d0;
  const float* Pm = phat + mat_offsets[q];
  float* Gm = gmat + mat_offsets[q];
  const size_t ho = hist_offsets[q];
  double* hr = HR + ho;
  double* hc = HC + ho;
  unsigned char* rc = RC + ho;
  unsigned char* cc = CC + ho;
  double* yb = YB + ho;
  double* xb = XB + ho;
  const size_t nd = offsets[gridDim.x] - base;
  double* x = vec + (d0 - base);
  double* yv = x + nd;
  double* gn = yv + nd;
  double* wv = gn + nd;
  double* av = wv + nd;
  double* Rb = av + nd;
  double* Cb = Rb + nd;
  double* tmp = Cb + nd;
  int* idx = ivec + (d0 - base);
  const int k = (P.k == 0 || P.k > static_cast<uint32_t>(n)) ? n : static_cast<int>(P.k);
  if (threadIdx.x == 0) s_Z = ideal_dcg(y, n, k, transposed ? true : P.powered, tmp, idx);
  __syncthreads();
  const double idcg = s_Z;
  if (!(idcg > 0)) {
    if (threadIdx.x == 0) loss[q] = 0.0f;
    if (want_grad)
      for (size_t e = threadIdx.x; e < static_cast<size_t>(n) * n; e += blockDim.x) Gm[e] = 0.0f;
    return;
  }
  const double Z = idcg + kEps;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    hr[i] = 1.0;
    hc[i] = 1.0;
    gn[i] = gain_of(y[i], P.powered);
  }
  __syncthreads();
  mv_t(Pm, n, hr, x);
  int T = 0;
  for (int t = 1; t <= P.max_iter; ++t) {
    const double* Rp = hr + static_cast<size_t>(t - 1) * n;
    const double* Cp = hc + static_cast<size_t>(t - 1) * n;
    double* Rt = hr + static_cast<size_t>(t) * n;
    double* Ct = hc + static_cast<size_t>(t) * n;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
      const bool ok = Cp[j] * x[j] >= kEps;
      cc[static_cast<size_t>(t) * n + j] = ok;
      Ct[j] = ok ? 1.0 / x[j] : Cp[j] / kEps;
    }
    __syncthreads();
    mv(Pm, n, Ct, yv);
    double re = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      const bool ok = Rp[i] * yv[i] >= kEps;
      rc[static_cast<size_t>(t) * n + i] = ok;
      Rt[i] = ok ? 1.0 / yv[i] : Rp[i] / kEps;
      re = fmax(re, fabs(Rt[i] * yv[i] - 1.0));
    }
    __syncthreads();
    mv_t(Pm, n, Rt, x);
    double ce = 0;
    for (int j = threadIdx.x; j < n; j += blockDim.x) ce = fmax(ce, fabs(Ct[j] * x[j] - 1.0));
    const double err = block_max(fmax(re, ce), sh);
    T = t;
    if (err < P.tol) break;
  }
  const double* RT = hr + static_cast<size_t>(T) * n;
  const double* CT = hc + static_cast<size_t>(T) * n;
  for (int j = threadIdx.x; j < n; j += blockDim.x) wv[j] = CT[j] * gn[j];
  __syncthreads();
  mv(Pm, n, wv, av);
  double part = 0;
  for (int i = threadIdx.x; i < k; i += blockDim.x) part += disc(i) * RT[i] * av[i];
  const double dcg = block_sum(part, sh);
  if (threadIdx.x == 0) loss[q] = static_cast<float>(-dcg / Z);
  if (!want_grad) return;
  // reverse mode (see cpu/losses.cc)
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const double di = i < k ? disc(i) : 0.0;
    Rb[i] = -di * av[i] / Z;
    tmp[i] = RT[i] * di;
  }
  __syncthreads();
  mv_t(Pm, n, tmp, x);  // x = Pᵀ(R⊙d)
  for (int j = threadIdx.x; j < n; j += blockDim.x) Cb[j] = -gn[j] * x[j] / Z;
  __syncthreads();
  for (int t = T; t >= 1; --t) {
    const double* Rt = hr + static_cast<size_t>(t) * n;
    const double* Ct = hc + static_cast<size_t>(t) * n;
    double* ybt = yb + static_cast<size_t>(t) * n;
    double* xbt = xb + static_cast<size_t>(t) * n;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      if (rc[static_cast<size_t>(t) * n + i]) {
        ybt[i] = -Rb[i] * Rt[i] * Rt[i];
        Rb[i] = 0.0;
      } else {
        ybt[i] = 0.0;
        Rb[i] = Rb[i] / kEps;
      }
    }
    __syncthreads();
    mv_t(Pm, n, ybt, tmp);
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
      const double c = Cb[j] + tmp[j];
      if (cc[static_cast<size_t>(t) * n + j]) {
        xbt[j] = -c * Ct[j] * Ct[j];
        Cb[j] = 0.0;
      } else {
        xbt[j] = 0.0;
        Cb[j] = c / kEps;
      }
    }
    __syncthreads();
    mv(Pm, n, xbt, tmp);
    for (int i = threadIdx.x; i < n; i += blockDim.x) Rb[i] += tmp[i];
    __syncthreads();
  }
  // G_ij = L0_i (C^T⊙g)_j + Σ_t ȳ^t_i C^t_j + Σ_t R^{t−1}_i x̄^t_j, L0_i = −d_i R^T_i / Z
  for (size_t e = threadIdx.x; e < static_cast<size_t>(n) * n; e += blockDim.x) {
    const int i = static_cast<int>(e / n), j = static_cast<int>(e % n);
    const double di = i < k ? disc(i) : 0.0;
    double gsum = -di * RT[i] / Z * wv[j];
    for (int t = 1; t <= T; ++t)
      gsum += yb[static_cast<size_t>(t) * n + i] * hc[static_cast<size_t>(t) * n + j] +
              hr[static_cast<size_t>(t - 1) * n + i] * xb[static_cast<size_t>(t) * n + j];
    Gm[e] = static_cast<float>(gsum);
  }
}

void check_finite_pos(float v, const char* name) {
  if (!(v > 0.0f) || !std::isfinite(v))
    throw ArgumentError(std::string("ranking_loss: option ") + name + " must be a finite number > 0, got " +
                        std::to_string(v));
}

}  // namespace

void ranking_loss(LossKind kind, const float* scores, const float* labels, const uint32_t* offsets,
                  int64_t num_lists, const LossOptions& opt, float* loss_per_list, float* grad_scores) {
  if (num_lists < 0) throw ArgumentError("ranking_loss: num_lists must be >= 0");
  if (num_lists == 0) return;
  switch (kind) {
    case LossKind::RankNet:
    case LossKind::LambdaRank:
    case LossKind::LambdaLossNDCG2PP: check_finite_pos(opt.sigma, "sigma"); break;
    case LossKind::ApproxNDCG:
    case LossKind::NeuralNDCG:
    case LossKind::NeuralNDCGTransposed: check_finite_pos(opt.temperature, "temperature"); break;
    case LossKind::PointwiseMSE:
    case LossKind::SigmoidCrossEntropy:
    case LossKind::SoftmaxCrossEntropy:
    case LossKind::ListNet:
    case LossKind::ListMLE: break;
    default: throw ArgumentError("ranking_loss: unknown loss kind " + std::to_string(static_cast<int>(kind)));
  }
  if (kind == LossKind::LambdaLossNDCG2PP && (!(opt.mu >= 0.0f) || !std::isfinite(opt.mu)))
    throw ArgumentError("ranking_loss: option mu must be a finite number >= 0, got " + std::to_string(opt.mu));
  if ((kind == LossKind::NeuralNDCG || kind == LossKind::NeuralNDCGTransposed) &&
      (opt.sinkhorn_max_iter < 0 || !(opt.sinkhorn_tol >= 0.0f) || !std::isfinite(opt.sinkhorn_tol)))
    throw ArgumentError("ranking_loss: options sinkhorn_max_iter must be >= 0 and sinkhorn_tol finite >= 0");
  if (kind == LossKind::SigmoidCrossEntropy && (!(opt.label_max >= 0.0f) || !std::isfinite(opt.label_max)))
    throw ArgumentError("ranking_loss: option label_max must be a finite number >= 0, got " +
                        std::to_string(opt.label_max));

  std::vector<uint32_t> off(num_lists + 1);
  copy_to_host(off.data(), offsets, off.size() * sizeof(uint32_t));
  for (int64_t q = 0; q < num_lists; ++q)
    if (off[q + 1] < off[q]) throw ArgumentError("ranking_loss: offsets must be non-decreasing");
  const uint32_t base = off[0];
  const size_t nd = off[num_lists] - base;
  Params P;
  P.kind = static_cast<int>(kind);
  P.sigma = opt.sigma;
  P.temperature = opt.temperature;
  P.mu = opt.mu;
  P.k = opt.k;
  P.norm = opt.lambdarank_norm;
  P.powered = opt.powered_gains;
  P.seed = opt.seed;
  P.max_iter = opt.sinkhorn_max_iter;
  P.tol = opt.sinkhorn_tol;
  P.label_max = opt.label_max;
  if (kind == LossKind::SigmoidCrossEntropy && opt.label_max == 0.0f) {
    std::vector<float> lab(nd);
    copy_to_host(lab.data(), labels + base, nd * sizeof(float));
    double m = 0;
    for (float v : lab) m = std::max(m, static_cast<double>(v));
    P.label_max = m;
  }
  Scratch sc;
  if (kind != LossKind::NeuralNDCG && kind != LossKind::NeuralNDCGTransposed) {
    double* ta = static_cast<double*>(sc.get(nd * sizeof(double)));
    double* tb = static_cast<double*>(sc.get(nd * sizeof(double)));
    int* ia = static_cast<int*>(sc.get(nd * sizeof(int)));
    const int threads = 64;
    k_serial_loss<<<static_cast<unsigned>((num_lists + threads - 1) / threads), threads>>>(
        P, scores, labels, offsets, num_lists, base, ta, tb, ia, loss_per_list, grad_scores);
    check_launch("ranking_loss");
    synchronize();
    return;
  }
  // NeuralNDCG
  std::vector<uint64_t> moff(num_lists + 1, 0), hoff(num_lists + 1, 0);
  const uint64_t T1 = static_cast<uint64_t>(opt.sinkhorn_max_iter) + 1;
  for (int64_t q = 0; q < num_lists; ++q) {
    const uint64_t n = off[q + 1] - off[q];
    moff[q + 1] = moff[q] + n * n;
    hoff[q + 1] = hoff[q] + T1 * n;
  }
  uint64_t* dmoff = static_cast<uint64_t*>(sc.get(moff.size() * 8));
  uint64_t* dhoff = static_cast<uint64_t*>(sc.get(hoff.size() * 8));
  copy_to_device(dmoff, moff.data(), moff.size() * 8);
  copy_to_device(dhoff, hoff.data(), hoff.size() * 8);
  float* phat = static_cast<float*>(sc.get(moff.back() * sizeof(float)));
  float* gmat = grad_scores ? static_cast<float*>(sc.get(moff.back() * sizeof(float))) : nullptr;
  const size_t H = hoff.back();
  double* HR = static_cast<double*>(sc.get(H * sizeof(double)));
  double* HC = static_cast<double*>(sc.get(H * sizeof(double)));
  double* YB = static_cast<double*>(sc.get(H * sizeof(double)));
  double* XB = static_cast<double*>(sc.get(H * sizeof(double)));
  unsigned char* RC = static_cast<unsigned char*>(sc.get(H));
  unsigned char* CC = static_cast<unsigned char*>(sc.get(H));
  double* vec = static_cast<double*>(sc.get(8 * nd * sizeof(double)));
  int* ivec = static_cast<int*>(sc.get(nd * sizeof(int)));
  NeuralSortOptions nso;
  nso.tau = opt.temperature;
  neuralsort_matrix(scores, offsets, num_lists, dmoff, nso, phat);
  k_neural_ndcg<<<static_cast<unsigned>(num_lists), kNdcgThreads>>>(
      P, kind == LossKind::NeuralNDCGTransposed, labels, offsets, base, dmoff, dhoff, phat, gmat, HR, HC, RC, CC, YB,
      XB, vec, ivec, loss_per_list, grad_scores != nullptr);
  check_launch("ranking_loss neuralNDCG");
  if (grad_scores) neuralsort_matrix_backward(scores, offsets, num_lists, dmoff, nso, gmat, grad_scores);
  synchronize();
}

}  // namespace cuda
}  // namespace ordo

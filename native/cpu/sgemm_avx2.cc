// AVX2 + FMA single-precision GEMM, GotoBLAS/BLIS-style (compiled with -mavx2 -mfma).
//
// C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, row-major.
//
// Blocking (the classic five loops around a register-blocked micro-kernel):
//
//   for jc in [0, n) step NC            -- columns of C / B kept in L3
//     for pc in [0, k) step KC          -- one rank-KC update
//       pack op(B)[pc:pc+KC, jc:jc+NC] into NR-wide column panels  (Bp, ~KC*NC floats)
//       for ic in [0, m) step MC        -- rows of C / A kept in L2
//         pack op(A)[ic:ic+MC, pc:pc+KC] into MR-tall row panels  (Ap, MC*KC floats, ~120 KiB)
//         for jr in [0, NC) step NR     -- one B micro-panel (KC*NR floats = 16 KiB) lives in L1
//           for ir in [0, MC) step MR   -- one A micro-panel streams from L2
//             C[ir:ir+MR, jr:jr+NR] (+)= Ap_panel * Bp_panel   (micro-kernel, 6x16)
//
// Packing is where transposes disappear: the micro-kernel always reads
// Ap as [p][MR] and Bp as [p][NR], whatever the storage of A and B. Panels at
// the matrix edges are zero-padded to MR / NR, so the micro-kernel always runs
// the full 6x16 FMA loop and only the write-back is clipped.
//
// Skinny C (a thread's block at most kDirectMaxPanels*NR = 64 columns wide)
// with row-major A skips packing A: each packed A panel would feed only a few
// micro-kernel calls, so the "direct" micro-kernel broadcasts straight from
// the 6 rows of A (contiguous in k) instead.
//
// Micro-kernel: 6 rows x 16 columns = 12 ymm accumulators (6 rows x 2 vectors
// of 8 floats); per k step 2 vector loads of B, 6 broadcasts of A, 12 FMAs.
// With Zen 3's two FMA pipes (4-cycle latency) 12 independent chains keep
// both pipes busy, and 8 loads per 12 FMAs stay under the 3 loads/cycle limit.
//
// Fused GEMMs (sgemm_fused, core/dense.h GemmEpilogue): the K blocks before
// the last store raw partial sums in C as usual; the last one adds them up and
// runs the epilogue (bias, activation, dropout / activation backward) on the
// tile while it is still in registers and cache, so C is written once. The
// bias gradient (column sums of B) is summed while B is packed, by the thread
// whose C block starts at row 0 (it packs every column panel it owns).
//
// N = 1 (a scorer's output layer and its weight gradient) skips the packed
// path: a panel would be 1/16 useful, so gemv() computes dot products (A not
// transposed) or column-blocked AXPYs (A transposed) instead.
//
// Threads: the M range (or the N range when C is short and wide) is split
// into contiguous chunks of whole MR rows (NR columns) with ordo::parallel_for;
// each thread runs the five loops above on its own C block with its own
// thread-local pack buffers. Every C element is computed by one thread with
// the k order fixed (KC blocks in order, p in order within a block), so the
// result is bit-identical run to run and does not depend on the thread count.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <new>
#include <cstdlib>
#include <cstring>

#include <vector>

#include "core/parallel.h"
#include "cpu/sgemm_avx2.h"
#include "cpu/simd_avx2.h"

namespace ordo {
namespace cpu {
namespace avx2 {
namespace {

constexpr int MR = 6;
constexpr int NR = 16;
constexpr int64_t KC = 256;   // KC*NR*4 = 16 KiB: a B micro-panel fits L1 (32 KiB) with room for A
constexpr int64_t MC = 120;   // MC*KC*4 = 120 KiB of packed A in L2 (512 KiB on Zen 3)
constexpr int64_t NC = 2048;  // KC*NC*4 = 2 MiB of packed B, L3 resident
constexpr int64_t kDirectMaxPanels = 4;  // C blocks at most 64 columns wide skip packing A

struct Args {
  bool ta, tb;
  int64_t m, n, k;
  float alpha;
  const float* a;
  int64_t lda;
  const float* b;
  int64_t ldb;
  float beta;
  float* c;
  int64_t ldc;
  const GemmEpilogue* epi;  // sgemm_fused (then alpha = 1, beta = 0), else null
  float keep_scale;         // 1 / (1 - epi->dropout_p)
};

// Grow-only, 64-byte aligned, per-thread scratch (pool threads live forever).
struct Scratch {
  float* p = nullptr;
  size_t n = 0;
  float* get(size_t want) {
    if (want > n) {
      std::free(p);
      size_t bytes = ((want * sizeof(float)) + 63) / 64 * 64;
      p = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!p) throw std::bad_alloc();
      n = want;
    }
    return p;
  }
  ~Scratch() { std::free(p); }
};
thread_local Scratch tl_pack_a, tl_pack_b;

// Pack op(A)[i0:i0+mc, p0:p0+kc] as ceil(mc/MR) panels, each [kc][MR].
void pack_a(const Args& g, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* dst) {
  if (g.ta && mc % MR == 0) {
    // A(i, p) = a[p*lda + i]: row p of a holds all mc values; read it once, in order (prefetch-friendly),
    // and deal it out to the mc/MR panels.
    for (int64_t p = 0; p < kc; ++p) {
      const float* s = g.a + (p0 + p) * g.lda + i0;
      float* d = dst + p * MR;
      for (int64_t ir = 0; ir < mc; ir += MR, d += MR * kc) {  // 6 floats: 4 + 2
        _mm_storeu_ps(d, _mm_loadu_ps(s + ir));
        std::memcpy(d + 4, s + ir + 4, 2 * sizeof(float));  // memcpy: s + ir + 4 need not be 8-byte aligned
      }
    }
    return;
  }
  for (int64_t ir = 0; ir < mc; ir += MR) {
    const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ir));
    float* d = dst + ir * kc;
    if (!g.ta) {
      // A(i, p) = a[i*lda + p]: MR row streams, interleaved.
      const float* rows[MR];
      for (int r = 0; r < MR; ++r) rows[r] = g.a + (i0 + ir + std::min(r, mr - 1)) * g.lda + p0;
      if (mr == MR) {
        int64_t p = 0;
        // 8 k values of 6 rows at a time: six 8-wide loads, scattered into 8 groups of 6.
        for (; p + 8 <= kc; p += 8) {
          alignas(32) float t[MR][8];
          for (int r = 0; r < MR; ++r) _mm256_store_ps(t[r], _mm256_loadu_ps(rows[r] + p));
          for (int q = 0; q < 8; ++q)
            for (int r = 0; r < MR; ++r) d[(p + q) * MR + r] = t[r][q];
        }
        for (; p < kc; ++p)
          for (int r = 0; r < MR; ++r) d[p * MR + r] = rows[r][p];
      } else {
        for (int64_t p = 0; p < kc; ++p)
          for (int r = 0; r < MR; ++r) d[p * MR + r] = r < mr ? rows[r][p] : 0.0f;
      }
    } else {
      // A(i, p) = a[p*lda + i]: MR contiguous floats per k.
      const float* src = g.a + p0 * g.lda + i0 + ir;
      for (int64_t p = 0; p < kc; ++p) {
        const float* s = src + p * g.lda;
        for (int r = 0; r < MR; ++r) d[p * MR + r] = r < mr ? s[r] : 0.0f;
      }
    }
  }
}

// Pack op(B)[p0:p0+kc, j0:j0+nc] as ceil(nc/NR) panels, each [kc][NR].
// colsum (not transposed B only; may be null): colsum[j] += B(p, j0 + j) for
// p ascending, in double.
void pack_b(const Args& g, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* dst, double* colsum) {
  const int64_t full = nc / NR * NR;
  if (!g.tb && full >= 2 * NR) {
    // Not transposed, several whole panels: walk B row by row over all of them,
    // so each row is one long contiguous read instead of 64-byte pieces.
    for (int64_t p = 0; p < kc; ++p) {
      const float* s = g.b + (p0 + p) * g.ldb + j0;
      float* d = dst + p * NR;
      for (int64_t jr = 0; jr < full; jr += NR, d += NR * kc) {
        const __m256 lo = _mm256_loadu_ps(s + jr), hi = _mm256_loadu_ps(s + jr + 8);
        _mm256_store_ps(d, lo);
        _mm256_store_ps(d + 8, hi);
        if (colsum) {
          double* cs = colsum + jr;
          _mm256_storeu_pd(cs, _mm256_add_pd(_mm256_loadu_pd(cs), _mm256_cvtps_pd(_mm256_castps256_ps128(lo))));
          _mm256_storeu_pd(cs + 4, _mm256_add_pd(_mm256_loadu_pd(cs + 4), _mm256_cvtps_pd(_mm256_extractf128_ps(lo, 1))));
          _mm256_storeu_pd(cs + 8, _mm256_add_pd(_mm256_loadu_pd(cs + 8), _mm256_cvtps_pd(_mm256_castps256_ps128(hi))));
          _mm256_storeu_pd(cs + 12,
                           _mm256_add_pd(_mm256_loadu_pd(cs + 12), _mm256_cvtps_pd(_mm256_extractf128_ps(hi, 1))));
        }
      }
    }
  }
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int nr = static_cast<int>(std::min<int64_t>(NR, nc - jr));
    float* d = dst + jr * kc;
    if (!g.tb) {
      // B(p, j) = b[p*ldb + j]: NR contiguous floats per k.
      const float* src = g.b + p0 * g.ldb + j0 + jr;
      if (nr == NR && nc >= 2 * NR) {
        // Whole panels: row by row across all of them (long contiguous reads), see below.
        continue;
      }
      if (nr == NR && colsum) {
        double* cs = colsum + jr;
        __m256d s0 = _mm256_loadu_pd(cs), s1 = _mm256_loadu_pd(cs + 4), s2 = _mm256_loadu_pd(cs + 8),
                s3 = _mm256_loadu_pd(cs + 12);
        for (int64_t p = 0; p < kc; ++p) {
          const float* s = src + p * g.ldb;
          const __m256 lo = _mm256_loadu_ps(s), hi = _mm256_loadu_ps(s + 8);
          _mm256_store_ps(d + p * NR, lo);
          _mm256_store_ps(d + p * NR + 8, hi);
          s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(lo)));
          s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(lo, 1)));
          s2 = _mm256_add_pd(s2, _mm256_cvtps_pd(_mm256_castps256_ps128(hi)));
          s3 = _mm256_add_pd(s3, _mm256_cvtps_pd(_mm256_extractf128_ps(hi, 1)));
        }
        _mm256_storeu_pd(cs, s0), _mm256_storeu_pd(cs + 4, s1), _mm256_storeu_pd(cs + 8, s2);
        _mm256_storeu_pd(cs + 12, s3);
      } else if (nr == NR) {
        for (int64_t p = 0; p < kc; ++p) {
          const float* s = src + p * g.ldb;
          _mm256_store_ps(d + p * NR, _mm256_loadu_ps(s));
          _mm256_store_ps(d + p * NR + 8, _mm256_loadu_ps(s + 8));
        }
      } else {
        for (int64_t p = 0; p < kc; ++p) {
          const float* s = src + p * g.ldb;
          for (int j = 0; j < NR; ++j) d[p * NR + j] = j < nr ? s[j] : 0.0f;
          if (colsum)
            for (int j = 0; j < nr; ++j) colsum[jr + j] += s[j];
        }
      }
    } else {
      // B(p, j) = b[j*ldb + p]: NR column streams, each contiguous in p.
      const float* src = g.b + (j0 + jr) * g.ldb + p0;
      for (int j = 0; j < NR; ++j) {
        if (j < nr) {
          const float* s = src + j * g.ldb;
          for (int64_t p = 0; p < kc; ++p) d[p * NR + j] = s[p];
        } else {
          for (int64_t p = 0; p < kc; ++p) d[p * NR + j] = 0.0f;
        }
      }
    }
  }
}

// The 6x16 micro-kernel's k loop, hand-scheduled inline assembly (GCC's
// allocation of an intrinsics version spilled an accumulator and added
// register copies): ymm0..ymm11 hold the accumulators (row r in ymm(2r),
// ymm(2r+1)), ymm12/13 one row of the B panel, ymm14/15 alternate as the
// broadcast A value. kc/4 unrolled groups, then kc%4 single steps; the
// accumulators end in t[6][16] (32-byte aligned). Every element accumulates
// its products with p ascending, starting from 0, in both variants.
//
// Packed A: ap is an [kc][MR] panel.
void kernel_packed(int64_t kc, const float* ap, const float* bp, float* t) {
  int64_t k4 = kc / 4, k1 = kc % 4;
  __asm__ volatile(
      "vxorps %%ymm0, %%ymm0, %%ymm0\n\t"
      "vxorps %%ymm1, %%ymm1, %%ymm1\n\t"
      "vxorps %%ymm2, %%ymm2, %%ymm2\n\t"
      "vxorps %%ymm3, %%ymm3, %%ymm3\n\t"
      "vxorps %%ymm4, %%ymm4, %%ymm4\n\t"
      "vxorps %%ymm5, %%ymm5, %%ymm5\n\t"
      "vxorps %%ymm6, %%ymm6, %%ymm6\n\t"
      "vxorps %%ymm7, %%ymm7, %%ymm7\n\t"
      "vxorps %%ymm8, %%ymm8, %%ymm8\n\t"
      "vxorps %%ymm9, %%ymm9, %%ymm9\n\t"
      "vxorps %%ymm10, %%ymm10, %%ymm10\n\t"
      "vxorps %%ymm11, %%ymm11, %%ymm11\n\t"
      "test %[k4], %[k4]\n\t"
      "jz 2f\n\t"
      "1:\n\t"
      "prefetcht0 384(%[a])\n\t"
      "vmovaps 0(%[b]), %%ymm12\n\t"
      "vmovaps 32(%[b]), %%ymm13\n\t"
      "vbroadcastss 0(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm0\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm1\n\t"
      "vbroadcastss 4(%[a]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm2\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm3\n\t"
      "vbroadcastss 8(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm4\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm5\n\t"
      "vbroadcastss 12(%[a]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm6\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm7\n\t"
      "vbroadcastss 16(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm8\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm9\n\t"
      "vbroadcastss 20(%[a]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm10\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm11\n\t"
      "vmovaps 64(%[b]), %%ymm12\n\t"
      "vmovaps 96(%[b]), %%ymm13\n\t"
      "vbroadcastss 24(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm0\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm1\n\t"
      "vbroadcastss 28(%[a]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm2\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm3\n\t"
      "vbroadcastss 32(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm4\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm5\n\t"
      "vbroadcastss 36(%[a]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm6\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm7\n\t"
      "vbroadcastss 40(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm8\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm9\n\t"
      "vbroadcastss 44(%[a]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm10\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm11\n\t"
      "vmovaps 128(%[b]), %%ymm12\n\t"
      "vmovaps 160(%[b]), %%ymm13\n\t"
      "vbroadcastss 48(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm0\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm1\n\t"
      "vbroadcastss 52(%[a]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm2\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm3\n\t"
      "vbroadcastss 56(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm4\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm5\n\t"
      "vbroadcastss 60(%[a]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm6\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm7\n\t"
      "vbroadcastss 64(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm8\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm9\n\t"
      "vbroadcastss 68(%[a]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm10\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm11\n\t"
      "vmovaps 192(%[b]), %%ymm12\n\t"
      "vmovaps 224(%[b]), %%ymm13\n\t"
      "vbroadcastss 72(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm0\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm1\n\t"
      "vbroadcastss 76(%[a]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm2\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm3\n\t"
      "vbroadcastss 80(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm4\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm5\n\t"
      "vbroadcastss 84(%[a]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm6\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm7\n\t"
      "vbroadcastss 88(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm8\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm9\n\t"
      "vbroadcastss 92(%[a]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm10\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm11\n\t"
      "add $96, %[a]\n\t"
      "add $256, %[b]\n\t"
      "dec %[k4]\n\t"
      "jnz 1b\n\t"
      "2:\n\t"
      "test %[k1], %[k1]\n\t"
      "jz 4f\n\t"
      "3:\n\t"
      "vmovaps 0(%[b]), %%ymm12\n\t"
      "vmovaps 32(%[b]), %%ymm13\n\t"
      "vbroadcastss 0(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm0\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm1\n\t"
      "vbroadcastss 4(%[a]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm2\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm3\n\t"
      "vbroadcastss 8(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm4\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm5\n\t"
      "vbroadcastss 12(%[a]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm6\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm7\n\t"
      "vbroadcastss 16(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm8\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm9\n\t"
      "vbroadcastss 20(%[a]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm10\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm11\n\t"
      "add $24, %[a]\n\t"
      "add $64, %[b]\n\t"
      "dec %[k1]\n\t"
      "jnz 3b\n\t"
      "4:\n\t"
      "vmovaps %%ymm0, 0(%[t])\n\t" "vmovaps %%ymm1, 32(%[t])\n\t"
      "vmovaps %%ymm2, 64(%[t])\n\t" "vmovaps %%ymm3, 96(%[t])\n\t"
      "vmovaps %%ymm4, 128(%[t])\n\t" "vmovaps %%ymm5, 160(%[t])\n\t"
      "vmovaps %%ymm6, 192(%[t])\n\t" "vmovaps %%ymm7, 224(%[t])\n\t"
      "vmovaps %%ymm8, 256(%[t])\n\t" "vmovaps %%ymm9, 288(%[t])\n\t"
      "vmovaps %%ymm10, 320(%[t])\n\t" "vmovaps %%ymm11, 352(%[t])\n\t"
      : [a] "+r"(ap), [b] "+r"(bp), [k4] "+r"(k4), [k1] "+r"(k1)
      : [t] "r"(t)
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory");
}

// Direct A (no packing; op(A) not transposed, a full MR-row panel): row r of
// the panel is at a + r*lda, contiguous in k. Used when C has so few column
// panels that packing A would cost as much as multiplying it.
void kernel_direct(int64_t kc, const float* a, int64_t lda, const float* bp, float* t) {
  const int64_t lda_bytes = lda * static_cast<int64_t>(sizeof(float));
  const float* a3 = a + 3 * lda;
  int64_t k4 = kc / 4, k1 = kc % 4;
  __asm__ volatile(
      "vxorps %%ymm0, %%ymm0, %%ymm0\n\t"
      "vxorps %%ymm1, %%ymm1, %%ymm1\n\t"
      "vxorps %%ymm2, %%ymm2, %%ymm2\n\t"
      "vxorps %%ymm3, %%ymm3, %%ymm3\n\t"
      "vxorps %%ymm4, %%ymm4, %%ymm4\n\t"
      "vxorps %%ymm5, %%ymm5, %%ymm5\n\t"
      "vxorps %%ymm6, %%ymm6, %%ymm6\n\t"
      "vxorps %%ymm7, %%ymm7, %%ymm7\n\t"
      "vxorps %%ymm8, %%ymm8, %%ymm8\n\t"
      "vxorps %%ymm9, %%ymm9, %%ymm9\n\t"
      "vxorps %%ymm10, %%ymm10, %%ymm10\n\t"
      "vxorps %%ymm11, %%ymm11, %%ymm11\n\t"
      "test %[k4], %[k4]\n\t"
      "jz 2f\n\t"
      "1:\n\t"
      
      "vmovaps 0(%[b]), %%ymm12\n\t"
      "vmovaps 32(%[b]), %%ymm13\n\t"
      "vbroadcastss 0(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm0\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm1\n\t"
      "vbroadcastss 0(%[a],%[l],1), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm2\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm3\n\t"
      "vbroadcastss 0(%[a],%[l],2), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm4\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm5\n\t"
      "vbroadcastss 0(%[a3]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm6\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm7\n\t"
      "vbroadcastss 0(%[a],%[l],4), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm8\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm9\n\t"
      "vbroadcastss 0(%[a3],%[l],2), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm10\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm11\n\t"
      "vmovaps 64(%[b]), %%ymm12\n\t"
      "vmovaps 96(%[b]), %%ymm13\n\t"
      "vbroadcastss 4(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm0\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm1\n\t"
      "vbroadcastss 4(%[a],%[l],1), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm2\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm3\n\t"
      "vbroadcastss 4(%[a],%[l],2), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm4\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm5\n\t"
      "vbroadcastss 4(%[a3]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm6\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm7\n\t"
      "vbroadcastss 4(%[a],%[l],4), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm8\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm9\n\t"
      "vbroadcastss 4(%[a3],%[l],2), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm10\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm11\n\t"
      "vmovaps 128(%[b]), %%ymm12\n\t"
      "vmovaps 160(%[b]), %%ymm13\n\t"
      "vbroadcastss 8(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm0\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm1\n\t"
      "vbroadcastss 8(%[a],%[l],1), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm2\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm3\n\t"
      "vbroadcastss 8(%[a],%[l],2), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm4\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm5\n\t"
      "vbroadcastss 8(%[a3]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm6\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm7\n\t"
      "vbroadcastss 8(%[a],%[l],4), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm8\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm9\n\t"
      "vbroadcastss 8(%[a3],%[l],2), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm10\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm11\n\t"
      "vmovaps 192(%[b]), %%ymm12\n\t"
      "vmovaps 224(%[b]), %%ymm13\n\t"
      "vbroadcastss 12(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm0\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm1\n\t"
      "vbroadcastss 12(%[a],%[l],1), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm2\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm3\n\t"
      "vbroadcastss 12(%[a],%[l],2), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm4\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm5\n\t"
      "vbroadcastss 12(%[a3]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm6\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm7\n\t"
      "vbroadcastss 12(%[a],%[l],4), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm8\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm9\n\t"
      "vbroadcastss 12(%[a3],%[l],2), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm10\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm11\n\t"
      "add $16, %[a]\n\t" "add $16, %[a3]\n\t"
      "add $256, %[b]\n\t"
      "dec %[k4]\n\t"
      "jnz 1b\n\t"
      "2:\n\t"
      "test %[k1], %[k1]\n\t"
      "jz 4f\n\t"
      "3:\n\t"
      "vmovaps 0(%[b]), %%ymm12\n\t"
      "vmovaps 32(%[b]), %%ymm13\n\t"
      "vbroadcastss 0(%[a]), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm0\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm1\n\t"
      "vbroadcastss 0(%[a],%[l],1), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm2\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm3\n\t"
      "vbroadcastss 0(%[a],%[l],2), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm4\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm5\n\t"
      "vbroadcastss 0(%[a3]), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm6\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm7\n\t"
      "vbroadcastss 0(%[a],%[l],4), %%ymm14\n\t"
      "vfmadd231ps %%ymm12, %%ymm14, %%ymm8\n\t"
      "vfmadd231ps %%ymm13, %%ymm14, %%ymm9\n\t"
      "vbroadcastss 0(%[a3],%[l],2), %%ymm15\n\t"
      "vfmadd231ps %%ymm12, %%ymm15, %%ymm10\n\t"
      "vfmadd231ps %%ymm13, %%ymm15, %%ymm11\n\t"
      "add $4, %[a]\n\t" "add $4, %[a3]\n\t"
      "add $64, %[b]\n\t"
      "dec %[k1]\n\t"
      "jnz 3b\n\t"
      "4:\n\t"
      "vmovaps %%ymm0, 0(%[t])\n\t" "vmovaps %%ymm1, 32(%[t])\n\t"
      "vmovaps %%ymm2, 64(%[t])\n\t" "vmovaps %%ymm3, 96(%[t])\n\t"
      "vmovaps %%ymm4, 128(%[t])\n\t" "vmovaps %%ymm5, 160(%[t])\n\t"
      "vmovaps %%ymm6, 192(%[t])\n\t" "vmovaps %%ymm7, 224(%[t])\n\t"
      "vmovaps %%ymm8, 256(%[t])\n\t" "vmovaps %%ymm9, 288(%[t])\n\t"
      "vmovaps %%ymm10, 320(%[t])\n\t" "vmovaps %%ymm11, 352(%[t])\n\t"
      : [a] "+r"(a), [a3] "+r"(a3), [b] "+r"(bp), [k4] "+r"(k4), [k1] "+r"(k1)
      : [t] "r"(t), [l] "r"(lda_bytes)
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory");
}

// C[0:mr, 0:nr] = alpha * acc + beta * C  (beta == 0: C is not read).
inline void store_tile(const float (*t)[NR], float* c, int64_t ldc, int mr, int nr, float alpha, float beta) {
  const __m256 va = _mm256_set1_ps(alpha);
  if (mr == MR && nr == NR) {
    // Full tile: C = fma(alpha, acc, beta * C).
    if (beta == 0.0f) {
      for (int r = 0; r < MR; ++r) {
        _mm256_storeu_ps(c + r * ldc, _mm256_mul_ps(va, _mm256_load_ps(t[r])));
        _mm256_storeu_ps(c + r * ldc + 8, _mm256_mul_ps(va, _mm256_load_ps(t[r] + 8)));
      }
    } else {
      const __m256 vb = _mm256_set1_ps(beta);
      for (int r = 0; r < MR; ++r) {
        float* cr = c + r * ldc;
        _mm256_storeu_ps(cr, _mm256_fmadd_ps(va, _mm256_load_ps(t[r]), _mm256_mul_ps(vb, _mm256_loadu_ps(cr))));
        _mm256_storeu_ps(cr + 8,
                         _mm256_fmadd_ps(va, _mm256_load_ps(t[r] + 8), _mm256_mul_ps(vb, _mm256_loadu_ps(cr + 8))));
      }
    }
    return;
  }
  // Edge tile: same arithmetic, element by element, on the valid part only.
  for (int r = 0; r < mr; ++r) {
    float* cr = c + r * ldc;
    for (int j = 0; j < nr; ++j) {
      const float prev = beta == 0.0f ? 0.0f : beta * cr[j];
      cr[j] = std::fma(alpha, t[r][j], prev);  // -mfma: one vfmadd, same rounding as the vector path
    }
  }
}

// The epilogue of 8 lanes (n valid) of row i at column j, v = the full K sum.
inline void epilogue8(const Args& g, __m256 v, int64_t i, int64_t j, int n) {
  const GemmEpilogue& e = *g.epi;
  const int64_t o = i * g.ldc + j;
  if (e.bias) v = _mm256_add_ps(v, load_n(e.bias + j, n));
  if (e.pre) store_n(e.pre + o, v, n);
  v = act_ps(e.act, v);
  if (e.keep) v = _mm256_and_ps(_mm256_mul_ps(v, _mm256_set1_ps(g.keep_scale)), mask_n(e.keep + o, n));
  if (e.grad_x) {
    const __m256 x = load_n(e.grad_x + o, n);
    if (e.grad_act == Activation::ReLU)  // exactly x > 0 ? v : 0
      v = _mm256_and_ps(v, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ));
    else
      v = _mm256_mul_ps(v, act_slope_ps(e.grad_act, x));
  }
  store_n(g.c + o, v, n);
}

inline void prefetch_rows(const void* base, int64_t i, int64_t j, int64_t ld, int mr, size_t elem) {
  const char* p = static_cast<const char*>(base) + (i * ld + j) * static_cast<int64_t>(elem);
  const int64_t stride = ld * static_cast<int64_t>(elem);
  for (int r = 0; r < mr; ++r, p += stride) {
    _mm_prefetch(p, _MM_HINT_T0);
    _mm_prefetch(p + NR * elem - 1, _MM_HINT_T0);  // the row's 16 values may straddle two lines
  }
}
inline void prefetch_tile(const Args& g, int64_t i, int64_t j, int mr, bool c_partial, bool fused) {
  if (c_partial) prefetch_rows(g.c, i, j, g.ldc, mr, sizeof(float));
  if (!fused) return;
  if (g.epi->grad_x) prefetch_rows(g.epi->grad_x, i, j, g.ldc, mr, sizeof(float));
  if (g.epi->keep) prefetch_rows(g.epi->keep, i, j, g.ldc, mr, 1);
}

// Last K block of a fused GEMM: v = acc (+ the earlier blocks' sum in C), then the epilogue.
inline void store_tile_fused(const Args& g, const float (*t)[NR], int64_t i, int64_t j, int mr, int nr,
                             bool accumulate) {
  for (int r = 0; r < mr; ++r)
    for (int h = 0; h < NR; h += 8) {
      const int n = std::min(8, nr - h);
      if (n <= 0) break;
      __m256 v = _mm256_load_ps(t[r] + h);
      if (accumulate) v = _mm256_add_ps(v, load_n(g.c + (i + r) * g.ldc + j + h, n));  // = fma(1, acc, 1 * C)
      epilogue8(g, v, i + r, j + h, n);
    }
}

// C[i0:i1, j0:j1] for the whole k range (one thread).
void gemm_block(const Args& g, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  const int64_t mspan = i1 - i0, nspan = j1 - j0;
  const int64_t kc_max = std::min(KC, g.k);
  const int64_t mc_max = std::min<int64_t>(MC, (mspan + MR - 1) / MR * MR);
  const int64_t nc_max = std::min<int64_t>(NC, (nspan + NR - 1) / NR * NR);
  float* pa = tl_pack_a.get(static_cast<size_t>(mc_max * kc_max));
  float* pb = tl_pack_b.get(static_cast<size_t>(nc_max * kc_max));
  alignas(32) float t[MR][NR];
  // The bias gradient: summed by the thread that owns row 0 (every column panel passes through its pack_b).
  std::vector<double> colsum;
  if (g.epi && g.epi->b_col_sums && i0 == 0) colsum.assign(static_cast<size_t>(nspan), 0.0);
  // Few column panels: each packed A panel would be used by only nt micro-kernel
  // calls, so read A in place instead (row-major A only; rows are contiguous in k).
  const bool direct = !g.ta && (nspan + NR - 1) / NR <= kDirectMaxPanels;
  for (int64_t jc = j0; jc < j1; jc += NC) {
    const int64_t nc = std::min(NC, j1 - jc);
    for (int64_t pc = 0; pc < g.k; pc += KC) {
      const int64_t kc = std::min(KC, g.k - pc);
      const float beta = pc == 0 ? g.beta : 1.0f;  // later K blocks accumulate onto C
      const bool fused_store = g.epi && pc + kc == g.k;
      pack_b(g, pc, kc, jc, nc, pb, colsum.empty() ? nullptr : colsum.data() + (jc - j0));
      for (int64_t ic = i0; ic < i1; ic += MC) {
        const int64_t mc = std::min(MC, i1 - ic);
        if (!direct) pack_a(g, ic, mc, pc, kc, pa);
        auto tile = [&](int64_t jr, int64_t ir) {
          const int nr = static_cast<int>(std::min<int64_t>(NR, nc - jr));
          const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ir));
          const float* bpanel = pb + jr * kc;
          // What the write-back will read (C from earlier K blocks, the epilogue's
          // inputs): fetch it now, while the micro-kernel runs.
          if (pc > 0 || fused_store) prefetch_tile(g, ic + ir, jc + jr, mr, pc > 0, fused_store);
          if (!direct) {
            kernel_packed(kc, pa + ir * kc, bpanel, &t[0][0]);
          } else if (mr == MR) {
            kernel_direct(kc, g.a + (ic + ir) * g.lda + pc, g.lda, bpanel, &t[0][0]);
          } else {  // last, short row panel: pack it (zero-padded) and use the packed kernel
            pack_a(g, ic + ir, mr, pc, kc, pa);
            kernel_packed(kc, pa, bpanel, &t[0][0]);
          }
          if (fused_store)
            store_tile_fused(g, t, ic + ir, jc + jr, mr, nr, pc > 0);
          else
            store_tile(t, g.c + (ic + ir) * g.ldc + jc + jr, g.ldc, mr, nr, g.alpha, beta);
        };
        if (!fused_store) {
          // B micro-panel in L1, A micro-panels stream from L2.
          for (int64_t jr = 0; jr < nc; jr += NR)
            for (int64_t ir = 0; ir < mc; ir += MR) tile(jr, ir);
        } else {
          // The epilogue reads and writes [m x n] arrays: in groups of kStrip column
          // panels (a 64 KiB slice of packed B that stays in L2), go along
          // 6-row strips so those accesses are 256-byte runs instead of 64-byte pieces.
          constexpr int64_t kStrip = 4 * NR;
          for (int64_t jb = 0; jb < nc; jb += kStrip)
            for (int64_t ir = 0; ir < mc; ir += MR)
              for (int64_t jr = jb; jr < std::min(nc, jb + kStrip); jr += NR) tile(jr, ir);
        }
      }
    }
  }
  for (size_t j = 0; j < colsum.size(); ++j) g.epi->b_col_sums[j0 + static_cast<int64_t>(j)] = static_cast<float>(colsum[j]);
}

inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

// C[i, 0] from its dot product v: alpha * v + beta * C, or the fused epilogue.
inline void gemv_store(const Args& g, int64_t i, float v) {
  if (g.epi) {
    epilogue8(g, _mm256_set1_ps(v), i, 0, 1);
    return;
  }
  float* cp = g.c + i * g.ldc;
  *cp = g.beta == 0.0f ? g.alpha * v : std::fma(g.alpha, v, g.beta * *cp);
}

// n == 1: C[:, 0] = op(A) * b. Each C element has one fixed summation order,
// whatever the thread count.
void gemv(const Args& g) {
  const int64_t m = g.m, k = g.k;
  // op(B)[p, 0]: b[p] when transposed, else b[p * ldb]; made contiguous.
  std::vector<float> bcopy;
  const float* bv = g.b;
  if (!g.tb && g.ldb != 1) {
    bcopy.resize(static_cast<size_t>(k));
    for (int64_t p = 0; p < k; ++p) bcopy[p] = g.b[p * g.ldb];
    bv = bcopy.data();
  }
  if (!g.ta) {
    // Row i of A is contiguous: a dot product in 16 lanes, then a fixed-order lane sum.
    const int64_t grain = std::max<int64_t>(16, (1 << 16) / std::max<int64_t>(1, k));
    parallel_for(m, grain, [&](int64_t i0, int64_t i1, int) {
      for (int64_t i = i0; i < i1; ++i) {
        const float* ar = g.a + i * g.lda;
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
        int64_t p = 0;
        for (; p + 16 <= k; p += 16) {
          s0 = _mm256_fmadd_ps(_mm256_loadu_ps(ar + p), _mm256_loadu_ps(bv + p), s0);
          s1 = _mm256_fmadd_ps(_mm256_loadu_ps(ar + p + 8), _mm256_loadu_ps(bv + p + 8), s1);
        }
        if (p + 8 <= k) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(ar + p), _mm256_loadu_ps(bv + p), s0), p += 8;
        float tail = 0.0f;
        for (; p < k; ++p) tail = std::fma(ar[p], bv[p], tail);
        gemv_store(g, i, hsum(_mm256_add_ps(s0, s1)) + tail);
      }
    });
    return;
  }
  // A(i, p) = a[p*lda + i]: for a block of 64 consecutive i, y += a[p, block] * b[p], p ascending.
  constexpr int64_t W = 64;
  const int64_t blocks = (m + W - 1) / W;
  const int64_t grain = std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(1, k * W));
  parallel_for(blocks, grain, [&](int64_t b0, int64_t b1, int) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t i0 = blk * W, w = std::min(W, m - i0);
      alignas(32) float acc[W] = {};
      if (w == W) {
        __m256 r[W / 8];
        for (auto& x : r) x = _mm256_setzero_ps();
        for (int64_t p = 0; p < k; ++p) {
          const float* ap = g.a + p * g.lda + i0;
          const __m256 bp = _mm256_set1_ps(bv[p]);
          for (int q = 0; q < W / 8; ++q) r[q] = _mm256_fmadd_ps(_mm256_loadu_ps(ap + 8 * q), bp, r[q]);
        }
        for (int q = 0; q < W / 8; ++q) _mm256_store_ps(acc + 8 * q, r[q]);
      } else {
        for (int64_t p = 0; p < k; ++p) {
          const float* ap = g.a + p * g.lda + i0;
          for (int64_t q = 0; q < w; ++q) acc[q] = std::fma(ap[q], bv[p], acc[q]);
        }
      }
      for (int64_t q = 0; q < w; ++q) gemv_store(g, i0 + q, acc[q]);
    }
  });
}

// k == 1: C = alpha * a b^T + beta * C, a rank-1 update (the input gradient of
// a one-unit output layer). A memory-bound pass: row by row, so C (and the
// epilogue's inputs) stream in order instead of tile by tile.
void outer(const Args& g) {
  std::vector<float> bcopy;
  const float* bv = g.b;  // op(B)[0, j]: b[j] when not transposed, else b[j * ldb]
  if (g.tb && g.ldb != 1) {
    bcopy.resize(static_cast<size_t>(g.n));
    for (int64_t j = 0; j < g.n; ++j) bcopy[j] = g.b[j * g.ldb];
    bv = bcopy.data();
  }
  const __m256 va = _mm256_set1_ps(g.alpha), vb = _mm256_set1_ps(g.beta);
  parallel_for(g.m, std::max<int64_t>(1, (1 << 14) / g.n), [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) {
      const __m256 ai = _mm256_set1_ps(g.ta ? g.a[i] : g.a[i * g.lda]);
      float* cr = g.c + i * g.ldc;
      for (int64_t j = 0; j < g.n; j += 8) {
        const int nn = static_cast<int>(std::min<int64_t>(8, g.n - j));
        const __m256 v = _mm256_mul_ps(ai, load_n(bv + j, nn));  // = the micro-kernel's fma(a, b, 0)
        if (g.epi)
          epilogue8(g, v, i, j, nn);
        else if (g.beta == 0.0f)
          store_n(cr + j, _mm256_mul_ps(va, v), nn);
        else
          store_n(cr + j, _mm256_fmadd_ps(va, v, _mm256_mul_ps(vb, load_n(cr + j, nn))), nn);
      }
    }
  });
}

void run(const Args& g);

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  run(Args{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nullptr, 1.0f});
}

void sgemm_fused(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float* c, int64_t ldc, const GemmEpilogue& e) {
  const Args g{trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc, &e, 1.0f / (1.0f - e.dropout_p)};
  if ((n == 1 || k == 1) && e.b_col_sums) {  // gemv and outer do not pack B: sum it here
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t p = 0; p < k; ++p) s += b[p * ldb + j];
      e.b_col_sums[j] = static_cast<float>(s);
    }
  }
  run(g);
}

namespace {

void run(const Args& g) {
  const int64_t m = g.m, n = g.n, k = g.k;
  if (n == 1) {
    gemv(g);
    return;
  }
  if (k == 1) {
    outer(g);
    return;
  }
  const int64_t mt = (m + MR - 1) / MR, nt = (n + NR - 1) / NR;
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  const int threads = num_threads();
  // Below ~2 MFLOP a parallel region costs more than it saves.
  if (threads == 1 || flops < 2e6 || (mt == 1 && nt == 1)) {
    gemm_block(g, 0, m, 0, n);
    return;
  }
  // Split M (whole MR panels) or N (whole NR panels). Each thread packs the
  // whole of the operand along the dimension it does not split (B, k x n,
  // when splitting M; A, m x k, when splitting N), so split the larger
  // dimension and duplicate the smaller packing; keep at least one panel per thread.
  if ((m >= n && mt >= threads) || nt < threads) {
    parallel_for(mt, 1, [&](int64_t b0, int64_t b1, int) { gemm_block(g, b0 * MR, std::min(m, b1 * MR), 0, n); });
  } else {
    parallel_for(nt, 1, [&](int64_t b0, int64_t b1, int) { gemm_block(g, 0, m, b0 * NR, std::min(n, b1 * NR)); });
  }
}

}  // namespace

}  // namespace avx2
}  // namespace cpu
}  // namespace ordo

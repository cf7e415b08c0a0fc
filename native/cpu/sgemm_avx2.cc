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

#include "core/parallel.h"
#include "cpu/sgemm_avx2.h"

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
void pack_b(const Args& g, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* dst) {
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const int nr = static_cast<int>(std::min<int64_t>(NR, nc - jr));
    float* d = dst + jr * kc;
    if (!g.tb) {
      // B(p, j) = b[p*ldb + j]: NR contiguous floats per k.
      const float* src = g.b + p0 * g.ldb + j0 + jr;
      if (nr == NR) {
        for (int64_t p = 0; p < kc; ++p) {
          const float* s = src + p * g.ldb;
          _mm256_store_ps(d + p * NR, _mm256_loadu_ps(s));
          _mm256_store_ps(d + p * NR + 8, _mm256_loadu_ps(s + 8));
        }
      } else {
        for (int64_t p = 0; p < kc; ++p) {
          const float* s = src + p * g.ldb;
          for (int j = 0; j < NR; ++j) d[p * NR + j] = j < nr ? s[j] : 0.0f;
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

// C[i0:i1, j0:j1] for the whole k range (one thread).
void gemm_block(const Args& g, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  const int64_t mspan = i1 - i0, nspan = j1 - j0;
  const int64_t kc_max = std::min(KC, g.k);
  const int64_t mc_max = std::min<int64_t>(MC, (mspan + MR - 1) / MR * MR);
  const int64_t nc_max = std::min<int64_t>(NC, (nspan + NR - 1) / NR * NR);
  float* pa = tl_pack_a.get(static_cast<size_t>(mc_max * kc_max));
  float* pb = tl_pack_b.get(static_cast<size_t>(nc_max * kc_max));
  alignas(32) float t[MR][NR];
  // Few column panels: each packed A panel would be used by only nt micro-kernel
  // calls, so read A in place instead (row-major A only; rows are contiguous in k).
  const bool direct = !g.ta && (nspan + NR - 1) / NR <= kDirectMaxPanels;
  for (int64_t jc = j0; jc < j1; jc += NC) {
    const int64_t nc = std::min(NC, j1 - jc);
    for (int64_t pc = 0; pc < g.k; pc += KC) {
      const int64_t kc = std::min(KC, g.k - pc);
      const float beta = pc == 0 ? g.beta : 1.0f;  // later K blocks accumulate onto C
      pack_b(g, pc, kc, jc, nc, pb);
      for (int64_t ic = i0; ic < i1; ic += MC) {
        const int64_t mc = std::min(MC, i1 - ic);
        if (!direct) pack_a(g, ic, mc, pc, kc, pa);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int nr = static_cast<int>(std::min<int64_t>(NR, nc - jr));
          const float* bpanel = pb + jr * kc;
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ir));
            if (!direct) {
              kernel_packed(kc, pa + ir * kc, bpanel, &t[0][0]);
            } else if (mr == MR) {
              kernel_direct(kc, g.a + (ic + ir) * g.lda + pc, g.lda, bpanel, &t[0][0]);
            } else {  // last, short row panel: pack it (zero-padded) and use the packed kernel
              pack_a(g, ic + ir, mr, pc, kc, pa);
              kernel_packed(kc, pa, bpanel, &t[0][0]);
            }
            store_tile(t, g.c + (ic + ir) * g.ldc + jc + jr, g.ldc, mr, nr, g.alpha, beta);
          }
        }
      }
    }
  }
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const Args g{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
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

}  // namespace avx2
}  // namespace cpu
}  // namespace ordo

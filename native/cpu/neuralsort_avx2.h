// ordo/cpu/neuralsort_avx2.h — private: NeuralSort row kernels (neuralsort.cc).
//
// Rows work on a list in descending-score order ("sorted positions" k): S_k =
// log2(e)·s'/τ, B_k = log2(e)·b/τ (double, base-2 logits), V_k values, sig_k
// = σ (float, exact integers).
// A row i touches the block range [k0, k1) (multiples of 8; the arrays are
// padded to a multiple of 8 with S = 0, B = 1e300, V = sig = 0, so padded and
// out-of-window entries give exactly p = 0). Logits:
//   x_k = min(float(fma(c_i, S_k, −B_k) − m_i), 0) − shift,  p_k = 2^x_k
// (m_i must be computed with the same fused formula: the row max is then
// exactly 0). Lane sums are 8 float lanes, combined in double in lane order.
#pragma once

namespace ordo {
namespace cpu {
namespace nsk {

// 2^f on |f| ≤ 1/2: 1 + C1 f + … + C6 f⁶ (near-minimax; float Horner error ≈ 1e-7).
constexpr float kExp2C1 = 0.6931471824645996f, kExp2C2 = 0.24022646248340607f, kExp2C3 = 0.05550328642129898f,
                kExp2C4 = 0.009618489071726799f, kExp2C5 = 0.0013399930903688073f,
                kExp2C6 = 0.00015345810970757157f;

// Forward row: *sum = Σ p_k, *dot = Σ p_k·V_k (shift = 0).
void fwd_row_avx2(const double* S, const double* B, const float* V, int k0, int k1, double ci, double m, double* sum,
                  double* dot);
// Backward row (shift = log2(e)·lse, so p is normalised): p_k into p[k0..k1),
// y = Σ p_k V_k, then with h_k = p_k·(g·V_k − g·y):
//   U_k += h_k, W_k += (c_i − sig_k)·h_k, A_k += g·p_k (A may be null).
void bwd_row_avx2(const double* S, const double* B, const float* V, const float* sig, int k0, int k1, double ci,
                  double m, float lse, float g, float* p, float* U, float* W, float* A);

}  // namespace nsk
}  // namespace cpu
}  // namespace ordo

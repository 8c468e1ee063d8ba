// Cache-blocked SGEMM (fp32_gemm.h).
//
// Loop structure (BLIS): C is cut into MC x NC tiles, one parallel task
// each. A task walks K in KC slices; per slice it packs op(A)[tile rows, kc]
// into MR-row panels (k-major: MR values per k) and op(B)[kc, tile cols] into
// NR-column panels (NR values per k), zero-padding ragged edges, then runs
// the MR x NR register tile over every (A panel, B panel) pair. The B panel
// (KC x NR floats = 8 KiB) stays in L1 while the A block (MC x KC = 96 KiB)
// streams from L2.
#include "engine/ops/fp32_gemm.h"

#include <algorithm>
#include <vector>

#include "core/thread_pool.h"

namespace int8rt {
namespace engine {
namespace {

constexpr int kMR = 6;     // register tile rows
constexpr int kNR = 8;     // register tile columns: two 4-float SSE vectors
constexpr int64_t kKC = 256;
constexpr int64_t kMC = 96;
constexpr int64_t kNCMax = 512;

// Packs rows [i0, i0+mc) x cols [k0, k0+kc) of op(A) into MR panels.
void pack_a(const GemmOperand& A, int64_t i0, int64_t mc, int64_t k0, int64_t kc, float* dst) {
  for (int64_t p = 0; p < mc; p += kMR) {
    int64_t rows = std::min<int64_t>(kMR, mc - p);
    for (int64_t k = 0; k < kc; ++k) {
      float* d = dst + k * kMR;
      for (int64_t r = 0; r < rows; ++r) {
        int64_t i = i0 + p + r, kk = k0 + k;
        d[r] = A.trans ? A.data[kk * A.ld + i] : A.data[i * A.ld + kk];
      }
      for (int64_t r = rows; r < kMR; ++r) d[r] = 0.f;
    }
    dst += kc * kMR;
  }
}

// Packs rows [k0, k0+kc) x cols [j0, j0+nc) of op(B) into NR panels.
void pack_b(const GemmOperand& B, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float* dst) {
  for (int64_t p = 0; p < nc; p += kNR) {
    int64_t cols = std::min<int64_t>(kNR, nc - p);
    if (!B.trans && cols == kNR) {
      for (int64_t k = 0; k < kc; ++k) {
        const float* s = B.data + (k0 + k) * B.ld + j0 + p;
        for (int c = 0; c < kNR; ++c) dst[k * kNR + c] = s[c];
      }
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        float* d = dst + k * kNR;
        for (int64_t c = 0; c < cols; ++c) {
          int64_t j = j0 + p + c, kk = k0 + k;
          d[c] = B.trans ? B.data[j * B.ld + kk] : B.data[kk * B.ld + j];
        }
        for (int64_t c = cols; c < kNR; ++c) d[c] = 0.f;
      }
    }
    dst += kc * kNR;
  }
}

// The register tile: acc[MR][NR] = sum_k a[k][:] (x) b[k][:], then written
// (or added) to the valid rows x cols of C.
void micro_kernel(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict c,
                  int64_t ldc, int64_t rows, int64_t cols, bool accumulate) {
  float acc[kMR][kNR] = {};
  for (int64_t k = 0; k < kc; ++k) {
    const float* ak = a + k * kMR;
    const float* bk = b + k * kNR;
#pragma GCC unroll 6
    for (int r = 0; r < kMR; ++r) {
      const float av = ak[r];
#pragma GCC unroll 8
      for (int j = 0; j < kNR; ++j) acc[r][j] += av * bk[j];
    }
  }
  if (rows == kMR && cols == kNR) {
    for (int r = 0; r < kMR; ++r) {
      float* cr = c + r * ldc;
      if (accumulate) {
        for (int j = 0; j < kNR; ++j) cr[j] += acc[r][j];
      } else {
        for (int j = 0; j < kNR; ++j) cr[j] = acc[r][j];
      }
    }
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {
    float* cr = c + r * ldc;
    for (int64_t j = 0; j < cols; ++j) cr[j] = accumulate ? cr[j] + acc[r][j] : acc[r][j];
  }
}

struct Scratch {
  std::vector<float> a, b;
};

void gemm_tile(int64_t i0, int64_t mc, int64_t j0, int64_t nc, int64_t K, const GemmOperand& A,
               const GemmOperand& B, float* C, int64_t ldc, bool accumulate) {
  thread_local Scratch scratch;
  int64_t mc_pad = (mc + kMR - 1) / kMR * kMR, nc_pad = (nc + kNR - 1) / kNR * kNR;
  scratch.a.resize(static_cast<size_t>(mc_pad * kKC));
  scratch.b.resize(static_cast<size_t>(nc_pad * kKC));
  for (int64_t k0 = 0; k0 < K; k0 += kKC) {
    int64_t kc = std::min(kKC, K - k0);
    bool acc = accumulate || k0 > 0;
    pack_a(A, i0, mc, k0, kc, scratch.a.data());
    pack_b(B, k0, kc, j0, nc, scratch.b.data());
    for (int64_t jp = 0; jp < nc; jp += kNR) {
      const float* bp = scratch.b.data() + (jp / kNR) * kc * kNR;
      for (int64_t ip = 0; ip < mc; ip += kMR) {
        const float* ap = scratch.a.data() + (ip / kMR) * kc * kMR;
        micro_kernel(kc, ap, bp, C + (i0 + ip) * ldc + j0 + jp, ldc, std::min<int64_t>(kMR, mc - ip),
                     std::min<int64_t>(kNR, nc - jp), acc);
      }
    }
  }
}

}  // namespace

void sgemm(int64_t M, int64_t N, int64_t K, GemmOperand A, GemmOperand B, float* C, int64_t ldc,
           bool accumulate, bool parallel) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate) {
      for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.f);
    }
    return;
  }
  int64_t m_tiles = (M + kMC - 1) / kMC;
  // Narrow the column tiles when there are few row tiles, so small-M
  // problems (convolutions with few output channels) still split across
  // threads; keep them a multiple of NR and at least 64 wide.
  int64_t nc = kNCMax;
  if (parallel && m_tiles < 8) {
    int64_t want_n_tiles = (8 + m_tiles - 1) / m_tiles;
    nc = std::max<int64_t>(64, ((N + want_n_tiles - 1) / want_n_tiles + kNR - 1) / kNR * kNR);
    nc = std::min(nc, kNCMax);
  }
  int64_t n_tiles = (N + nc - 1) / nc;
  auto body = [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      int64_t i0 = (t / n_tiles) * kMC, j0 = (t % n_tiles) * nc;
      gemm_tile(i0, std::min(kMC, M - i0), j0, std::min(nc, N - j0), K, A, B, C, ldc, accumulate);
    }
  };
  int64_t tasks = m_tiles * n_tiles;
  // A tile below ~1 MFLOP does not pay for waking a second thread.
  if (!parallel || M * N * K < (1 << 18)) {
    body(0, tasks);
  } else {
    parallel_for(tasks, 1, body);
  }
}

}  // namespace engine
}  // namespace int8rt

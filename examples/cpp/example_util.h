// Small helpers shared by the two int8rt C++ examples: a portable seeded
// random generator (the same numbers on every compiler, unlike
// std::uniform_real_distribution), shape printing, top-k printing and the
// exact float printing the tests parse.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <int8rt/int8rt.h>

namespace example {

// SplitMix64 (Steele, Lea, Flood 2014): tiny, seeded, identical everywhere.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi), from the top 24 bits (exact in float32).
  float uniform(float lo, float hi) {
    float u = static_cast<float>(next() >> 40) * (1.0f / 16777216.0f);
    return lo + (hi - lo) * u;
  }

 private:
  uint64_t state_;
};

inline std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

inline int64_t num_elements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// "sample i: top-k idx:value ..." for each of the first max_rows rows of a
// [batch, ...] output (each row flattened).
inline void print_top_values(const int8rt::HostTensor& t, int k, int64_t max_rows) {
  int64_t rows = t.shape.empty() ? 1 : t.shape[0];
  int64_t cols = rows > 0 ? static_cast<int64_t>(t.data.size()) / rows : 0;
  for (int64_t r = 0; r < std::min(rows, max_rows); ++r) {
    const float* row = t.data.data() + r * cols;
    std::vector<int64_t> idx(static_cast<size_t>(cols));
    for (int64_t c = 0; c < cols; ++c) idx[static_cast<size_t>(c)] = c;
    int64_t top = std::min<int64_t>(k, cols);
    std::partial_sort(idx.begin(), idx.begin() + top, idx.end(),
                      [row](int64_t a, int64_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
    std::printf("  sample %lld: top-%lld", static_cast<long long>(r), static_cast<long long>(top));
    for (int64_t j = 0; j < top; ++j) {
      std::printf(" %lld:%.6g", static_cast<long long>(idx[j]), static_cast<double>(row[idx[j]]));
    }
    std::printf("\n");
  }
  if (rows > max_rows) std::printf("  ... %lld more samples\n", static_cast<long long>(rows - max_rows));
}

// One line "values <name> <count>: v0 v1 ...", each float32 printed with 9
// significant digits, which round-trips exactly (tests compare with ==).
inline void print_all_values(const std::string& name, const int8rt::HostTensor& t) {
  std::printf("values %s %zu:", name.c_str(), t.data.size());
  for (float v : t.data) std::printf(" %.9g", static_cast<double>(v));
  std::printf("\n");
}

}  // namespace example

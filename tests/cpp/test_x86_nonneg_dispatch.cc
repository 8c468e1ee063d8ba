// x86/conv_igemm_nonneg.cc: a conv packed for a general and a non-negative
// microkernel runs the second exactly when no byte of the run's input is
// negative, wherever a negative byte sits (first, middle, last of a 4 KiB
// block, or in the tail after the last whole block; in any 256 KiB chunk of
// an input the pool's threads scan in parallel), for inputs shorter than a
// block too, and the choice survives with_input_size /
// with_row_window. Fake packed convs record which one ran; the kernels'
// results are checked against the reference in test_x86_kernels.cc and
// tests/test_x86_kernels.py (inputs of both signs).
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/conv_gemm_s8.h"
#include "kernels/x86/x86_kernels.h"

namespace k = int8rt::kernels;

namespace {

// Records its name in *log on each run.
class FakeConv final : public k::PackedConv {
 public:
  FakeConv(const k::ConvShape& s, std::string name, std::string* log) : s_(s), name_(std::move(name)), log_(log) {}
  void run(int, const int8_t*, const k::Epilogue&, void*) const override { *log_ = name_; }
  const k::ConvShape& shape() const override { return s_; }
  std::unique_ptr<k::PackedConv> with_input_size(int H, int W) const override {
    k::ConvShape s = s_;
    s.H = H;
    s.W = W;
    return std::make_unique<FakeConv>(s, name_, log_);
  }
  std::unique_ptr<k::PackedConv> with_row_window(int H, int, int) const override {
    return with_input_size(H, s_.W);
  }

 private:
  k::ConvShape s_;
  std::string name_;
  std::string* log_;
};

k::ConvShape shape(int C, int H, int W) {
  k::ConvShape s;
  s.C = C;
  s.H = H;
  s.W = W;
  s.K = 8;
  return s;
}

std::unique_ptr<k::PackedConv> dual(const k::ConvShape& s, std::string* log) {
  return k::x86::nonneg_dispatch(std::make_unique<FakeConv>(s, "general", log),
                                 std::make_unique<FakeConv>(s, "nonneg", log));
}

std::string ran(const k::PackedConv& conv, int batch, const std::vector<int8_t>& x, std::string* log) {
  log->clear();
  conv.run(batch, x.data(), k::Epilogue{}, nullptr);
  return *log;
}

}  // namespace

TEST(X86NonnegDispatch, ChoosesByTheSignOfEveryInputByte) {
  std::string log;
  // 2 images of 9 x 13 x 40 = 4680 bytes each: two whole 4 KiB blocks and a tail of 1168.
  const k::ConvShape s = shape(40, 9, 13);
  const auto conv = dual(s, &log);
  const size_t n = 2 * 9 * 13 * 40;
  std::vector<int8_t> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<int8_t>(i % 128);
  EXPECT_EQ(ran(*conv, 2, x, &log), "nonneg");
  for (size_t at : {size_t{0}, size_t{7}, size_t{4095}, size_t{4096}, size_t{6000}, size_t{8191},
                    size_t{8192}, n - 1}) {
    for (int8_t v : {int8_t{-1}, int8_t{-128}}) {
      std::vector<int8_t> y = x;
      y[at] = v;
      EXPECT_EQ(ran(*conv, 2, y, &log), "general") << "negative byte " << int{v} << " at " << at;
    }
  }
  // Batch 1 reads only the first image: a negative byte in the second is not its input.
  std::vector<int8_t> y = x;
  y[n - 1] = -5;
  EXPECT_EQ(ran(*conv, 1, y, &log), "nonneg");
  y[n / 2 - 1] = -5;
  EXPECT_EQ(ran(*conv, 1, y, &log), "general");
}

TEST(X86NonnegDispatch, ShortInputsAndDerivedShapes) {
  std::string log;
  const auto conv = dual(shape(3, 2, 2), &log);
  std::vector<int8_t> x(12, 127);
  EXPECT_EQ(ran(*conv, 1, x, &log), "nonneg");
  x[11] = -1;
  EXPECT_EQ(ran(*conv, 1, x, &log), "general");
  // with_input_size / with_row_window keep both kernels and check the new size's input.
  const auto bigger = conv->with_input_size(4, 4);
  std::vector<int8_t> z(48, 0);
  EXPECT_EQ(ran(*bigger, 1, z, &log), "nonneg");
  z[47] = -1;
  EXPECT_EQ(ran(*bigger, 1, z, &log), "general");
  const auto window = conv->with_row_window(1, 1, 0);
  std::vector<int8_t> w(6, 1);
  EXPECT_EQ(ran(*window, 1, w, &log), "nonneg");
  w[5] = -1;
  EXPECT_EQ(ran(*window, 1, w, &log), "general");
}

TEST(X86NonnegDispatch, LargeInputsScannedInParallelChunks) {
  std::string log;
  // 3 images of 96 x 96 x 40 = 368640 bytes each: 4 whole 256 KiB chunks and a short fifth.
  const k::ConvShape s = shape(40, 96, 96);
  const auto conv = dual(s, &log);
  const size_t n = size_t{3} * 96 * 96 * 40, chunk = size_t{1} << 18;
  std::vector<int8_t> x(n, 0);
  for (size_t i = 0; i < n; i += 97) x[i] = 127;
  EXPECT_EQ(ran(*conv, 3, x, &log), "nonneg");
  for (size_t at : {size_t{0}, chunk - 1, chunk, 2 * chunk + 4095, 3 * chunk + 5, 4 * chunk, n - 1}) {
    std::vector<int8_t> y = x;
    y[at] = -128;
    EXPECT_EQ(ran(*conv, 3, y, &log), "general") << "negative byte at " << at << " of " << n;
  }
}

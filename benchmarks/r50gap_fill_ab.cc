// What flipping u8 codes back to int8 codes costs the AMX direct conv's plane
// copy (x86/conv_amx_planes.cc, compiled in from its source; RESULTS.md
// section 213): fill_amx_direct_planes over a batch of 8 in the driver's
// groups of images (x86/conv_amx_direct.cc's kGroupBytes, 512 KiB), the
// input held as int8 codes (memcpy) and as u8 codes (xor 0x80 per byte),
// alternated round by round, thread-CPU medians, on ResNet-50's 3x3 shapes.
// Build (repository root, after tools/dev_build.sh):
//   g++ -O3 -std=c++17 -Icsrc -Icsrc/include benchmarks/r50gap_fill_ab.cc -Lpython/int8rt/lib -lint8rt
//       -Wl,-rpath,$PWD/python/int8rt/lib -o /tmp/r50gap_fill_ab
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <vector>

#include "kernels/x86/conv_amx_planes.cc"

namespace {

namespace kx = int8rt::kernels::x86;
namespace k = int8rt::kernels;

double now() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

}  // namespace

int main() {
  const int shapes[][4] = {{64, 56, 3, 1}, {128, 56, 3, 2}, {128, 28, 3, 1}, {256, 28, 3, 2},
                           {256, 14, 3, 1}, {512, 14, 3, 2}, {512, 7, 3, 1}};  // C (= K), H (= W), R, stride
  const int batch = 8;
  for (const auto& sh : shapes) {
    k::ConvShape s[2];
    for (int u8 = 0; u8 < 2; ++u8) {
      s[u8].C = s[u8].K = sh[0];
      s[u8].H = s[u8].W = sh[1];
      s[u8].R = s[u8].S = sh[2];
      s[u8].stride_h = s[u8].stride_w = sh[3];
      s[u8].pad_top = s[u8].pad_left = s[u8].pad_bottom = s[u8].pad_right = sh[2] / 2;
      s[u8].input_codes = u8 ? k::Codes::kU8 : k::Codes::kS8;
    }
    const kx::AmxDirectGeometry g(s[0]);
    const int group = static_cast<int>(std::clamp<int64_t>((int64_t{512} << 10) / g.image_bytes, 1, batch));
    std::vector<int8_t> x(static_cast<size_t>(batch) * sh[1] * sh[1] * sh[0], 3);
    std::vector<int8_t> planes(static_cast<size_t>((group - 1) * g.image_bytes + g.buffer_bytes));
    std::vector<double> t[2];
    for (int r = 0; r < 60; ++r) {
      for (int u8 = 0; u8 < 2; ++u8) {
        const double t0 = now();
        for (int n0 = 0; n0 < batch; n0 += group) {
          kx::fill_amx_direct_planes(s[u8], g, std::min(group, batch - n0),
                                     x.data() + static_cast<int64_t>(n0) * sh[1] * sh[1] * sh[0], planes.data());
        }
        t[u8].push_back(now() - t0);
      }
    }
    for (auto& v : t) std::sort(v.begin(), v.end());
    const double m8 = t[0][t[0].size() / 2], mu = t[1][t[1].size() / 2];
    std::printf("3x3/%d %4d @%-3d b8 (group %d):  int8 codes (memcpy) %7.1f us  u8 codes (xor) %7.1f us  xor/memcpy %.3f\n",
                sh[3], sh[0], sh[1], group, m8 * 1e6, mu * 1e6, mu / m8);
  }
}

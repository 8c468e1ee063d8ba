// Planted bugs, one per class of report that the checking build relies on
// (docs/reliability.md, tests/test_sanitizers.py): `planted_bugs NAME N` runs
// case NAME with the run-time value N, a bug for the value the test names and
// a correct run for another, so no bug is visible to the optimizer at compile
// time; what a case reads is its return value, printed, so no load is dead.
// Compiled with tools/sanitize_tests.sh's flags at its -O level, each bug must
// end the run with its sanitizer's report (RESULTS.md 237: -O1, -Og and -O0
// report all of them alike).
#include <immintrin.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int g_table[8];
struct Window {
  int pads[4];
  int stride;
};
enum Kind { kA = 0, kB = 1, kC = 2 };  // no fixed underlying type: values 0..3 only
struct Node {
  Kind kind;
  int id;
};

// noinline: the pointer arithmetic happens where the optimizer cannot see the
// object's size (the library's kernels receive raw pointers too).
__attribute__((noinline)) int read_at(const int* p, long i) { return p[i]; }
__attribute__((noinline)) void write_at(int* p, long i, int v) { p[i] = v; }
__attribute__((noinline)) void release(int* p) { std::free(p); }
__attribute__((noinline)) int kind_of(const Node* node) { return node->kind == kC ? 1 : 2; }
__attribute__((noinline)) const char* advance(const char* p, long n) { return p + n; }
int* g_kept = nullptr;
// A buffer whose owner forgets it for n != 0 (a leak LeakSanitizer reports at
// exit); for n == 0 a global keeps it, reachable.
__attribute__((noinline)) int keep_or_drop(long n) {
  int* p = new int[4]();
  p[0] = static_cast<int>(n);
  int r = p[0];
  if (!n) g_kept = p;
  return r;
}
// A kernel's 32-byte row load (the x86 tiers' unaligned loads).
__attribute__((noinline, target("avx2"))) int load_row(const char* p) {
  __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm256_extract_epi32(v, 7);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wreturn-type"
__attribute__((noinline)) int missing_return(long n) {  // a switch over kinds that misses one
  switch (n) {
    case 0: return 1;
    case 1: return 2;
  }
}
#pragma GCC diagnostic pop

int run(const std::string& name, long n) {
  if (name == "heap-read") {  // a kernel reading one past its input row
    std::vector<int> v(4);
    return read_at(v.data(), n);
  }
  if (name == "heap-write") {
    int* p = new int[4]();
    write_at(p, n, 1);
    int r = p[0];
    delete[] p;
    return r;
  }
  if (name == "use-after-free") {
    int* p = new int[4]();
    if (n) delete[] p;
    int r = read_at(p, 0);
    if (!n) delete[] p;
    return r;
  }
  if (name == "double-free") {  // two owners of one buffer
    int* p = static_cast<int*>(std::malloc(16));
    p[0] = static_cast<int>(n);
    release(p);
    if (n) release(p);
    return 0;
  }
  if (name == "stack-read") {
    int local[4] = {1, 2, 3, 4};
    return read_at(local, n);
  }
  if (name == "global-read") return read_at(g_table, n);
  if (name == "use-after-scope") {
    int outer[4] = {1, 2, 3, 4};
    int* p = outer;
    {
      int inner[4] = {5, 6, 7, 8};
      if (n) p = inner;
    }
    return read_at(p, 0);
  }
  if (name == "avx2-load") {
    std::vector<char> row(32);
    return load_row(row.data() + n);
  }
  if (name == "signed-overflow") {  // shape arithmetic: 8 x hidden_size in int64
    int64_t h = int64_t{1} << n;
    volatile int64_t rows = 8 * h;
    return static_cast<int>(rows & 1);
  }
  if (name == "shift") {  // a histogram count shifted by a grown range's exponent
    uint64_t count = 3;
    return static_cast<int>((count << n) & 1);
  }
  if (name == "divide-by-zero") {
    int step = static_cast<int>(n) - 4;
    return 100 / step;
  }
  if (name == "null-memcpy") {  // memcpy from an empty vector's data()
    std::vector<char> src(static_cast<size_t>(n % 4));
    char out[4] = {};
    std::memcpy(out, src.data(), src.size());
    return out[0];
  }
  if (name == "null-member") {
    Window w{};
    Window* p = n > 3 ? nullptr : &w;
    return p->stride;
  }
  if (name == "bounds") {  // an index past a member array, inside its object (ASan sees no overflow)
    Window w{{1, 2, 3, 4}, 5};
    volatile long i = n;
    return w.pads[i];
  }
  if (name == "misaligned") {
    alignas(8) char bytes[16] = {};
    const int* p = reinterpret_cast<const int*>(bytes + n);
    return *p;
  }
  if (name == "bool") {
    char raw = static_cast<char>(n);
    bool b;
    std::memcpy(&b, &raw, 1);
    return b ? 1 : 2;
  }
  if (name == "enum") {  // a forged kind read as the enum
    int raw[2] = {static_cast<int>(n) * 100, 0};
    return kind_of(reinterpret_cast<const Node*>(raw));
  }
  if (name == "vla-bound") {
    long size = 4 - n;
    int vla[size > -100 ? size : 1];  // GNU extension: a VLA of a run-time size
    vla[0] = 1;
    return vla[0];
  }
  if (name == "pointer-overflow") {  // an offset that wraps the address space
    const char* base = reinterpret_cast<const char*>(uintptr_t{0} - 64);
    return advance(base, n * 128) == base ? 1 : 2;
  }
  if (name == "builtin") {
    unsigned bits = static_cast<unsigned>(n) - 4;
    return __builtin_ctz(bits);
  }
  if (name == "missing-return") return missing_return(n);
  if (name == "leak") return keep_or_drop(n);
  std::fprintf(stderr, "unknown case %s\n", name.c_str());
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  int r = run(argv[1], std::atol(argv[2]));
  std::printf("ran to the end: %d\n", r);
  return 0;
}

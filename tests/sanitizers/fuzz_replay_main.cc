// A main() for the libFuzzer targets of tests/fuzz without libFuzzer: it
// replays files (each argument a file or a directory of them, in name order)
// through LLVMFuzzerTestOneInput once each, so that the committed corpora run
// under GCC's checking build (tools/sanitize_tests.sh, FUZZ_REPLAY) against
// its sanitized libint8rt, the same library the C++ and Python tests check.
// Follows libFuzzer's own replay (`fuzzer FILE...`): each input is copied into
// a heap buffer of exactly its size, so a read past its end is an ASan report.
// Exit status 0 when every input returned; a finding aborts (the targets'
// own checks call abort, the sanitizers halt on their first report).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

void replay(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "fuzz_replay: cannot read %s\n", file.c_str());
    std::exit(2);
  }
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::unique_ptr<uint8_t[]> exact(new uint8_t[bytes.size()]);
  std::copy(bytes.begin(), bytes.end(), exact.get());
  std::fprintf(stderr, "fuzz_replay: %s (%zu bytes)\n", file.c_str(), bytes.size());
  LLVMFuzzerTestOneInput(exact.get(), bytes.size());
}

}  // namespace

int main(int argc, char** argv) {
  size_t count = 0;
  for (int i = 1; i < argc; ++i) {
    std::vector<fs::path> files;
    if (fs::is_directory(argv[i])) {
      for (const auto& entry : fs::directory_iterator(argv[i])) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(argv[i]);
    }
    for (const fs::path& f : files) replay(f);
    count += files.size();
  }
  std::printf("fuzz_replay: %zu inputs replayed, no finding\n", count);
  return 0;
}

// libFuzzer target: loading an engine file (Engine::deserialize, over
// csrc/engine/engine_file.cc, network_codec.cc and every layer factory),
// then running what loaded.
//
// Input: bytes that start with the magic "INT8RTEN" are a whole file, to
// exercise the header checks; anything else is a payload, framed with a
// valid header and checksum (frame_engine_payload) so that mutations reach
// the decoder and the layers instead of stopping at the checksum. The seed
// corpus holds payloads of small real engines (tools/make_fuzz_corpus.py).
//
// Allowed outcomes: a loaded engine, FormatError, or NotSupported (a target
// device this build lacks). A loaded engine is then run once on zeros, each
// input's dynamic batch set to 1, when its inputs are small; errors of the
// int8rt kinds are allowed there (shapes a layer refuses), crashes are not.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "engine/engine_file.h"
#include "int8rt/engine.h"
#include "int8rt/error.h"

namespace {

constexpr int64_t kMaxInputElements = 1 << 16;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace int8rt;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (bytes.compare(0, 8, "INT8RTEN") != 0) bytes = engine::frame_engine_payload(bytes);
  std::shared_ptr<Engine> eng;
  try {
    eng = Engine::deserialize(bytes, "fuzz input");
  } catch (const FormatError&) {
    return 0;
  } catch (const NotSupported&) {
    return 0;
  }
  // Loaded: it must serialize, and run (or refuse with an int8rt error).
  eng->serialize();
  std::map<std::string, std::vector<float>> storage;
  std::map<std::string, TensorView> inputs;
  for (const std::string& name : eng->input_names()) {
    std::vector<int64_t> shape = eng->tensor_shape(name);
    int64_t n = 1;
    for (int64_t& d : shape) {
      if (d == -1) d = 1;
      if (d < 0 || d > kMaxInputElements) return 0;
      n *= d;
      if (n > kMaxInputElements) return 0;
    }
    storage[name].assign(static_cast<size_t>(n), 0.0f);
    inputs[name] = TensorView{storage[name].data(), shape};
  }
  try {
    eng->create_execution_context()->run(inputs);
  } catch (const Error&) {
  }
  return 0;
}

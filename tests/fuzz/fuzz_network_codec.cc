// libFuzzer target: the network codec (csrc/engine/network_codec.cc), the
// engine file's payload after its metadata.
//
// Any bytes: decode_network either returns a Network or throws FormatError.
// A network it accepts must round-trip: encoding it and decoding the result
// gives the same bytes when encoded again (encode is canonical, so one
// round trip reaches a fixed point).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/byte_io.h"
#include "engine/engine_file.h"
#include "engine/network_codec.h"
#include "int8rt/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace int8rt;
  engine::ByteReader in(reinterpret_cast<const char*>(data), size, "fuzz input");
  Network net;
  try {
    net = engine::decode_network(in, engine::kEngineFormatVersion);
  } catch (const FormatError&) {
    return 0;
  }
  engine::ByteWriter once;
  engine::encode_network(net, once);
  engine::ByteReader again(once.bytes().data(), once.bytes().size(), "re-encoded network");
  Network net2 = engine::decode_network(again, engine::kEngineFormatVersion);  // a FormatError here is a finding (uncaught: abort)
  engine::ByteWriter twice;
  engine::encode_network(net2, twice);
  if (twice.bytes() != once.bytes()) {
    std::fprintf(stderr, "fuzz_network_codec: encode(decode(encode(x))) differs from encode(x)\n");
    std::abort();
  }
  return 0;
}

// The engine file: a versioned, checksummed container for a lowered Network
// plus metadata (DESIGN.md, "Engine file").
//
//   offset 0   8 bytes  magic "INT8RTEN"
//          8   u32      format version (kEngineFormatVersion)
//         12   u32      reserved flags (0)
//         16   u64      payload size in bytes
//         24   u64      FNV-1a 64 checksum of the payload
//         32   payload: str target, str tuned_isa, metadata (u64 n, str key,
//              str value...), network (network_codec.cc)
//
// Weights are stored canonical (int8 OIHW + scales, float bias); packed
// layouts are derived at load, so a file built on one CPU runs on another.
// Saving and reading the file: atomic_file.h.
#pragma once

#include <map>
#include <string>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

// Version 2 added the inputs' optimization profiles (network_codec.h),
// version 3 subgraph attributes (If / Loop / Scan); version 1 and 2 files
// still load.
constexpr uint32_t kEngineFormatVersion = 3;
constexpr uint32_t kOldestEngineFormatVersion = 1;

struct EngineBlob {
  std::string target = "cpu";      // "cpu" (or "cuda" when that backend exists)
  std::string tuned_isa;            // ISA the builder machine chose (informational)
  std::map<std::string, std::string> metadata;
  Network network;
};

std::string encode_engine(const EngineBlob& blob);
// The header (magic, version, size, checksum) followed by `payload`: what
// encode_engine does with the encoded blob; the fuzz targets frame mutated
// payloads with it so that they get past the checksum.
std::string frame_engine_payload(const std::string& payload);
// `what` names the source in error messages (a path or "engine bytes").
EngineBlob decode_engine(const std::string& bytes, const std::string& what);

}  // namespace engine
}  // namespace int8rt

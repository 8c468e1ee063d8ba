// The engine file: a versioned, checksummed container for a lowered Network
// plus metadata (DESIGN.md, "Engine file").
//
//   offset 0   8 bytes  magic "INT8RTEN"
//          8   u32      format version (the least that reads it: below)
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

// The newest format this int8rt reads and writes. Version 2 added the
// inputs' optimization profiles (network_codec.h), version 3 subgraph
// attributes (If / Loop / Scan), version 4 the attributes an older reader
// would ignore (format_features.h: one table, with the version each needs).
// A writer stamps the LEAST version that reads the file right
// (least_format_version: 3 for a file without listed attributes, so it
// loads in every int8rt since format 3); a reader refuses a newer stamp
// ("rebuild the engine or upgrade int8rt"). Version 1 and 2 files still load.
constexpr uint32_t kEngineFormatVersion = 4;
constexpr uint32_t kOldestEngineFormatVersion = 1;

struct EngineBlob {
  std::string target = "cpu";      // "cpu" (or "cuda" when that backend exists)
  std::string tuned_isa;            // ISA the builder machine chose (informational)
  std::map<std::string, std::string> metadata;
  Network network;
};

// Stamped least_format_version(blob.network) (format_features.h).
std::string encode_engine(const EngineBlob& blob);
// The header (magic, `version`, size, checksum) followed by `payload`: what
// encode_engine does with the encoded blob; the fuzz targets frame mutated
// payloads with it so that they get past the checksum.
std::string frame_engine_payload(const std::string& payload, uint32_t version = kEngineFormatVersion);
// `what` names the source in error messages (a path or "engine bytes").
// Refuses (FormatError) a stamp outside [kOldest, kEngineFormatVersion], a
// stamp below what a listed attribute needs (check_format_stamp), and on a
// 'cpu' target an op this int8rt has no layer for (naming it: the file
// comes from a newer int8rt, or is corrupted).
EngineBlob decode_engine(const std::string& bytes, const std::string& what);

}  // namespace engine
}  // namespace int8rt

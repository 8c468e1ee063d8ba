// Engine file encoding and validation (engine_file.h).
#include "engine/engine_file.h"

#include <algorithm>
#include <cstring>

#include "core/quote.h"
#include "engine/byte_io.h"
#include "engine/format_features.h"
#include "engine/layer.h"
#include "engine/network_codec.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {
namespace {

constexpr char kMagic[8] = {'I', 'N', 'T', '8', 'R', 'T', 'E', 'N'};
constexpr size_t kHeaderSize = 32;

uint64_t fnv1a64(const char* data, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 1099511628211ull;
  }
  return h;
}

// The first node (subgraphs included) whose op has no layer in this int8rt,
// or nullptr.
const Node* unknown_op(const Network& net) {
  for (const Node& node : net.nodes()) {
    if (!find_layer_factory(node.op)) return &node;
    for (const auto& kv : node.attrs.values()) {
      if (kv.second.kind != Attribute::Kind::kGraph || !kv.second.graph) continue;
      if (const Node* inner = unknown_op(*kv.second.graph)) return inner;
    }
  }
  return nullptr;
}

}  // namespace

std::string encode_engine(const EngineBlob& blob) {
  ByteWriter payload;
  payload.str(blob.target);
  payload.str(blob.tuned_isa);
  payload.pod<uint64_t>(blob.metadata.size());
  for (const auto& kv : blob.metadata) {
    payload.str(kv.first);
    payload.str(kv.second);
  }
  encode_network(blob.network, payload);
  return frame_engine_payload(payload.bytes(), least_format_version(blob.network));
}

std::string frame_engine_payload(const std::string& payload, uint32_t version) {
  ByteWriter out;
  out.raw(kMagic, sizeof(kMagic));
  out.pod<uint32_t>(version);
  out.pod<uint32_t>(0);
  out.pod<uint64_t>(payload.size());
  out.pod<uint64_t>(fnv1a64(payload.data(), payload.size()));
  out.raw(payload.data(), payload.size());
  return std::move(out.bytes());
}

EngineBlob decode_engine(const std::string& bytes, const std::string& what) {
  if (bytes.size() < kHeaderSize || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    if (bytes.size() >= 4 && std::memcmp(bytes.data(), kMagic, std::min<size_t>(bytes.size(), 8)) == 0) {
      throw FormatError(what + ": truncated engine file (header incomplete)");
    }
    throw FormatError(what + ": not an int8rt engine file (bad magic number)");
  }
  ByteReader header(bytes.data() + sizeof(kMagic), kHeaderSize - sizeof(kMagic), what);
  uint32_t version = header.pod<uint32_t>("format version");
  uint32_t flags = header.pod<uint32_t>("flags");
  uint64_t payload_size = header.pod<uint64_t>("payload size");
  uint64_t checksum = header.pod<uint64_t>("checksum");
  if (version < kOldestEngineFormatVersion || version > kEngineFormatVersion) {
    throw FormatError(what + ": engine format version " + std::to_string(version) +
                      " is not supported by this int8rt (it reads versions " +
                      std::to_string(kOldestEngineFormatVersion) + " to " + std::to_string(kEngineFormatVersion) +
                      "): rebuild the engine with this int8rt, or upgrade int8rt");
  }
  // Reserved: this version writes 0, so anything else is corruption (or a
  // newer writer whose meaning this reader cannot know).
  if (flags != 0) {
    throw FormatError(what + ": unknown engine flags " + std::to_string(flags) + " (this int8rt writes 0)");
  }
  if (bytes.size() - kHeaderSize < payload_size) {
    throw FormatError(what + ": truncated engine file (" + std::to_string(bytes.size()) + " bytes, expected " +
                      std::to_string(kHeaderSize + payload_size) + ")");
  }
  if (bytes.size() - kHeaderSize > payload_size) {
    throw FormatError(what + ": trailing bytes after the engine payload");
  }
  const char* payload = bytes.data() + kHeaderSize;
  if (fnv1a64(payload, payload_size) != checksum) {
    throw FormatError(what + ": checksum mismatch: the engine file is corrupted");
  }
  ByteReader in(payload, payload_size, what);
  EngineBlob blob;
  blob.target = in.str("target");
  blob.tuned_isa = in.str("tuned ISA");
  uint64_t n_meta = in.count("metadata", 16);
  for (uint64_t i = 0; i < n_meta; ++i) {
    std::string key = in.str("metadata key");
    blob.metadata[key] = in.str("metadata value");
  }
  blob.network = decode_network(in, version);
  if (in.remaining() != 0) in.fail("unexpected bytes after the network");
  check_format_stamp(blob.network, version, what);
  // A 'cuda' file is checked by its runner; the CPU layers are the ops every
  // other target runs.
  if (blob.target == "cpu") {
    if (const Node* node = unknown_op(blob.network)) {
      throw FormatError(what + ": op " + quoted(node->op) + " (node " + quoted(node->name) +
                        ") is unknown to this int8rt: the engine was written by a newer int8rt (upgrade int8rt "
                        "or rebuild the engine with this one) or is corrupted");
    }
  }
  return blob;
}

}  // namespace engine
}  // namespace int8rt

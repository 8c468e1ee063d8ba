// Binary encoding of a Network (tensors, constants, nodes, attributes,
// inputs, outputs, since engine format 2 the inputs' optimization profiles,
// since format 3 subgraph attributes; format 4 keeps format 3's layout and
// only marks attributes older readers ignore, format_features.h): the
// payload of the engine file (engine_file.cc).
#pragma once

#include "engine/byte_io.h"
#include "int8rt/network.h"

namespace int8rt {
namespace engine {

void encode_network(const Network& net, ByteWriter& out);
// Validates as it reads; a malformed payload throws FormatError. `version`
// is the engine file's format version: format 1 files carry no shape ranges,
// and a subgraph attribute (kind 5) is refused in files before format 3.
Network decode_network(ByteReader& in, uint32_t version);

// Subgraphs nest (an If inside a Loop's body); a file nesting deeper than
// this is refused rather than read with unbounded recursion.
constexpr int kMaxSubgraphDepth = 32;

}  // namespace engine
}  // namespace int8rt

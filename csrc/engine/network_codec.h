// Binary encoding of a Network (tensors, constants, nodes, attributes,
// inputs, outputs, and since engine format 2 the inputs' optimization
// profiles): the payload of the engine file (engine_file.cc).
#pragma once

#include "engine/byte_io.h"
#include "int8rt/network.h"

namespace int8rt {
namespace engine {

void encode_network(const Network& net, ByteWriter& out);
// Validates as it reads; a malformed payload throws FormatError. Format 1
// files carry no shape ranges (`with_shape_ranges` false).
Network decode_network(ByteReader& in, bool with_shape_ranges = true);

}  // namespace engine
}  // namespace int8rt

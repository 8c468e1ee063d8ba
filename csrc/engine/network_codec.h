// Binary encoding of a Network (tensors, constants, nodes, attributes,
// inputs, outputs): the payload of the engine file (engine_file.cc).
#pragma once

#include "engine/byte_io.h"
#include "int8rt/network.h"

namespace int8rt {
namespace engine {

void encode_network(const Network& net, ByteWriter& out);
// Validates as it reads; a malformed payload throws FormatError.
Network decode_network(ByteReader& in);

}  // namespace engine
}  // namespace int8rt

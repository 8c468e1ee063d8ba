// The engine file's version rule (engine_file.h): a writer stamps the LEAST
// format version that reads the file right, and a reader refuses a file
// stamped newer than it knows. Layout changes bump the version in the codec
// (network_codec.h); this file covers the other way a file outgrows a reader:
// an attribute that changes what a layer computes, added to an op that older
// int8rts already run. Such a reader does not fail on the attribute, it
// ignores it (contracts.h: an absent field takes its default) and computes
// something else. So every attribute of that kind is listed in ONE table
// (format_features.cc, kSemanticAttributes) with the format version that
// introduced it, and a file carrying one is stamped at least that version.
//
// EVERY NEW SEMANTIC ATTRIBUTE GOES IN THE TABLE, with since =
// kEngineFormatVersion (bump kEngineFormatVersion first when the newest
// entry's since already equals it and readers of it exist). Not listed:
// attributes of a new op (a reader without the op refuses the file naming
// it: decode_engine, "op ... is unknown to this int8rt"), attributes an
// older reader refuses loudly (a value it rejects), attributes that only
// come with a new op, and informational ones.
//
// Entries written before the table existed (under format 3, from
// 2026-12-03 to 2026-12-07) are `legacy`: files stamped 3 that carry them
// were written by a format-3 writer and still load as they always did.
// For every other entry a file stamped below `since` is corrupt (its
// version field was edited, or a writer broke the rule) and is refused
// naming the node and the attribute.
#pragma once

#include <cstdint>
#include <string>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

// The version a file using no listed attribute gets: version 3's layout
// (subgraphs, any-rank inputs) is read by every int8rt since 2026-12-03.
constexpr uint32_t kBaseEngineFormatVersion = 3;

struct SemanticAttribute {
  const char* op;    // Node::op, exactly
  const char* attr;  // attribute key
  uint32_t since;    // least format version whose readers compute it right
  bool legacy;       // may appear in files stamped below `since` (see above)
};

// The table (format_features.cc), in a stable order; `count` receives its size.
const SemanticAttribute* semantic_attributes(size_t* count);

// The least format version that reads `net` right: kBaseEngineFormatVersion
// or the largest `since` of a listed (op, attribute) on any node, subgraphs
// (If / Loop / Scan bodies) included.
uint32_t least_format_version(const Network& net);

// Throws FormatError (message: `what`, the node, op, attribute and both
// versions) when `net` carries a non-legacy listed attribute whose `since`
// exceeds `version`, the file's stamp. Subgraphs included.
void check_format_stamp(const Network& net, uint32_t version, const std::string& what);

}  // namespace engine
}  // namespace int8rt

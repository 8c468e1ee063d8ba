// Network <-> bytes (network_codec.h). Layout, all little-endian:
//   u64 n_tensors, per tensor: str name, u8 dtype, u8 flags, i32 producer,
//       u64 rank, i64 dims..., [constant: u64 byte count, raw data]
//       flags: bit 0 a constant; (format 3) bit 1 an input of any rank
//       (Tensor::any_rank); before format 3 any non-zero value is a constant.
//   u64 n_nodes, per node: str name, str op, u64 n_in, i32 ids..., u64 n_out,
//       i32 ids..., u64 n_attrs, per attr: str key, u8 kind, value
//   u64 n_inputs, i32 ids...; u64 n_outputs, i32 ids...
//   (format 2) u64 n_ranges, per range: str input name, then min, opt, max
//       each as u64 rank, i64 dims...
// An attribute's value by kind: i64 (int), f64 (float), str (string), u64 n
// then n i64 (ints) or n f64 (floats); (format 3) kind 5, a subgraph: a whole
// network in this same layout, recursively (at most kMaxSubgraphDepth deep).
// Files without subgraphs are laid out as format 2's; the version says which
// kinds a reader may meet.
// Nodes are re-added through Network::add_node so the decoder rebuilds the
// same ids and re-checks names and references.
// dtype is DataType's value. kBool (4, one byte per element, 0 or 1) was added
// after the first files were written: it extends the set of values without
// changing any layout, so files without bool tensors are byte-identical to
// what earlier writers produced and still load (same format version); an
// earlier reader refuses a file with a bool tensor ("unknown dtype 4").
// The run-time dtypes 5..21 (float64, float16, uint8, int16, uint16, uint32,
// uint64, then the storage types bfloat16 .. int2) were added the same way;
// they are never constants.
#include "engine/network_codec.h"

#include <limits>
#include <string>

#include "core/checked_math.h"
#include "core/quote.h"
#include "engine/value.h"

namespace int8rt {
namespace engine {
namespace {

Network decode_network_at(ByteReader& in, uint32_t version, int depth);

void encode_attr(const Attribute& a, ByteWriter& out) {
  out.pod<uint8_t>(static_cast<uint8_t>(a.kind));
  switch (a.kind) {
    case Attribute::Kind::kInt: out.pod<int64_t>(a.i); break;
    case Attribute::Kind::kFloat: out.pod<double>(a.f); break;
    case Attribute::Kind::kString: out.str(a.s); break;
    case Attribute::Kind::kInts:
      out.pod<uint64_t>(a.ints.size());
      out.raw(a.ints.data(), a.ints.size() * sizeof(int64_t));
      break;
    case Attribute::Kind::kFloats:
      out.pod<uint64_t>(a.floats.size());
      out.raw(a.floats.data(), a.floats.size() * sizeof(double));
      break;
    case Attribute::Kind::kGraph: encode_network(*a.graph, out); break;
  }
}

Attribute decode_attr(ByteReader& in, uint32_t version, int depth) {
  uint8_t kind = in.pod<uint8_t>("attribute kind");
  switch (kind) {
    case 0: return Attribute::of_int(in.pod<int64_t>("int attribute"));
    case 1: return Attribute::of_float(in.pod<double>("float attribute"));
    case 2: return Attribute::of_string(in.str("string attribute"));
    case 3: {
      std::vector<int64_t> v(in.count("ints attribute", sizeof(int64_t)));
      in.raw(v.data(), v.size() * sizeof(int64_t), "ints attribute");
      return Attribute::of_ints(std::move(v));
    }
    case 4: {
      std::vector<double> v(in.count("floats attribute", sizeof(double)));
      in.raw(v.data(), v.size() * sizeof(double), "floats attribute");
      return Attribute::of_floats(std::move(v));
    }
    case 5:
      if (version < 3) break;  // subgraphs came with format 3
      if (depth >= kMaxSubgraphDepth) {
        in.fail("subgraphs nest deeper than " + std::to_string(kMaxSubgraphDepth) + " levels");
      }
      return Attribute::of_graph(decode_network_at(in, version, depth + 1));
    default: break;
  }
  in.fail("unknown attribute kind " + std::to_string(kind) + " (in an engine file of format " +
          std::to_string(version) + ")");
}

// The bytes a constant's shape declares (overflow-checked: core/checked_math.h),
// or UINT64_MAX when a dimension is negative or the count does not fit.
uint64_t declared_bytes(const Tensor& t) {
  try {
    return checked_bytes(checked_numel(t.shape, "constant"), dtype_size(t.dtype), "constant");
  } catch (const InvalidArgument&) {
    return std::numeric_limits<uint64_t>::max();
  }
}

// Adds tensors and nodes to a new Network in id order (node outputs get the
// ids they had); `in` only names the source in errors.
Network rebuild(ByteReader& in, std::vector<Tensor>& tensors, std::vector<Node>& nodes,
                const std::vector<int>& inputs, const std::vector<int>& outputs) {
  const int total = static_cast<int>(tensors.size());
  Network net;
  std::vector<char> is_input(tensors.size(), 0);
  for (int id : inputs) is_input[id] = 1;
  size_t next_node = 0;
  for (int id = 0; id < total;) {
    Tensor& t = tensors[id];
    int made = -1;
    if (t.producer >= 0) {
      // Recreate the producing node; its outputs must start at this id.
      if (static_cast<size_t>(t.producer) != next_node || t.producer >= static_cast<int>(nodes.size()) ||
          nodes[t.producer].outputs.empty() || nodes[t.producer].outputs[0] != id) {
        in.fail("tensor and node order is inconsistent");
      }
      Node& n = nodes[next_node++];
      std::vector<std::string> out_names;
      for (size_t o = 0; o < n.outputs.size(); ++o) {
        if (n.outputs[o] != id + static_cast<int>(o)) in.fail("node outputs are not contiguous");
        out_names.push_back(tensors[n.outputs[o]].name);
      }
      for (int in_id : n.inputs) {
        if (in_id >= id) in.fail("node " + quoted(n.name) + " reads a tensor defined after it");
      }
      auto outs = net.add_node(n.op, n.name, n.inputs, n.attrs, out_names);
      for (size_t o = 0; o < outs.size(); ++o) {
        net.tensor(outs[o]).shape = tensors[outs[o]].shape;
        net.tensor(outs[o]).dtype = tensors[outs[o]].dtype;
      }
      id += static_cast<int>(outs.size());
      continue;
    }
    if (t.is_constant) {
      switch (t.dtype) {
        case DataType::kFloat32: made = net.add_constant(t.name, t.shape, std::move(t.f32)); break;
        case DataType::kInt64: made = net.add_constant_i64(t.name, t.shape, std::move(t.i64)); break;
        case DataType::kInt8: made = net.add_constant_i8(t.name, t.shape, std::move(t.i8)); break;
        case DataType::kBool: made = net.add_constant_bool(t.name, t.shape, std::move(t.i8)); break;
        default: break;
      }
    } else if (is_input[id]) {
      made = t.any_rank ? net.add_input_any_rank(t.name, t.dtype) : net.add_input(t.name, t.shape, t.dtype);
      // An input of any rank may carry the dims a pass gave it (the INT8 lowering of
      // Silero VAD's nested If branches: [-1, 128]); kept as the saved network had them.
      if (t.any_rank) net.tensor(made).shape = t.shape;
    } else {
      in.fail("tensor " + quoted(t.name) + " has no producer and is neither an input nor a constant");
    }
    if (made != id) in.fail("tensor ids are inconsistent");
    ++id;
  }
  if (next_node != nodes.size()) in.fail("some nodes produce no tensors");
  for (int id : outputs) net.mark_output(id);
  net.validate();
  return net;
}

}  // namespace

void encode_network(const Network& original, ByteWriter& out) {
  Network net = original;
  net.canonicalize();
  const auto& tensors = net.tensors();
  // Tensors produced by nodes are recreated by add_node; only inputs and
  // constants are written up front, with the shapes of all tensors after.
  out.pod<uint64_t>(tensors.size());
  for (const Tensor& t : tensors) {
    out.str(t.name);
    out.pod<uint8_t>(static_cast<uint8_t>(t.dtype));
    out.pod<uint8_t>((t.is_constant ? 1 : 0) | (t.any_rank ? 2 : 0));
    out.pod<int32_t>(t.producer);
    out.pod<uint64_t>(t.shape.size());
    for (int64_t d : t.shape) out.pod<int64_t>(d);
    if (t.is_constant) {
      const void* data = t.dtype == DataType::kFloat32 ? static_cast<const void*>(t.f32.data())
                         : t.dtype == DataType::kInt64 ? static_cast<const void*>(t.i64.data())
                                                       : static_cast<const void*>(t.i8.data());
      size_t n = t.dtype == DataType::kFloat32 ? t.f32.size() : t.dtype == DataType::kInt64 ? t.i64.size() : t.i8.size();
      out.pod<uint64_t>(n * dtype_size(t.dtype));
      out.raw(data, n * dtype_size(t.dtype));
    }
  }
  out.pod<uint64_t>(net.nodes().size());
  for (const Node& n : net.nodes()) {
    out.str(n.name);
    out.str(n.op);
    out.pod<uint64_t>(n.inputs.size());
    for (int id : n.inputs) out.pod<int32_t>(id);
    out.pod<uint64_t>(n.outputs.size());
    for (int id : n.outputs) out.pod<int32_t>(id);
    out.pod<uint64_t>(n.attrs.values().size());
    for (const auto& kv : n.attrs.values()) {
      out.str(kv.first);
      encode_attr(kv.second, out);
    }
  }
  out.pod<uint64_t>(net.inputs().size());
  for (int id : net.inputs()) out.pod<int32_t>(id);
  out.pod<uint64_t>(net.outputs().size());
  for (int id : net.outputs()) out.pod<int32_t>(id);
  out.pod<uint64_t>(net.shape_ranges().size());
  for (const auto& kv : net.shape_ranges()) {
    out.str(kv.first);
    for (const auto* s : {&kv.second.min, &kv.second.opt, &kv.second.max}) {
      out.pod<uint64_t>(s->size());
      for (int64_t d : *s) out.pod<int64_t>(d);
    }
  }
}

Network decode_network(ByteReader& in, uint32_t version) { return decode_network_at(in, version, 0); }

namespace {

Network decode_network_at(ByteReader& in, uint32_t version, int depth) {
  const bool with_shape_ranges = version >= 2;
  // Read everything first, then rebuild through the public API so that ids,
  // names and references are re-validated.
  uint64_t n_tensors = in.count("tensor", 18);
  if (n_tensors > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) in.fail("too many tensors");
  std::vector<Tensor> tensors(n_tensors);
  for (Tensor& t : tensors) {
    t.name = in.str("tensor name");
    uint8_t dtype = in.pod<uint8_t>("tensor dtype");
    if (dtype > static_cast<uint8_t>(kLastDataType)) {
      in.fail("tensor " + quoted(t.name) + " has an unknown dtype " + std::to_string(dtype));
    }
    t.dtype = static_cast<DataType>(dtype);
    const uint8_t flags = in.pod<uint8_t>("tensor flags");
    if (version >= 3 && flags > 3) in.fail("tensor " + quoted(t.name) + " has unknown flags " + std::to_string(flags));
    t.is_constant = version >= 3 ? (flags & 1) != 0 : flags != 0;
    t.any_rank = version >= 3 && (flags & 2) != 0;
    t.producer = in.pod<int32_t>("tensor producer");
    uint64_t rank = in.count("tensor rank", sizeof(int64_t));
    for (uint64_t d = 0; d < rank; ++d) t.shape.push_back(in.pod<int64_t>("tensor dim"));
    if (t.is_constant) {
      const bool constant_dtype = t.dtype == DataType::kFloat32 || t.dtype == DataType::kInt64 ||
                                  t.dtype == DataType::kInt8 || t.dtype == DataType::kBool;
      if (!constant_dtype) {
        in.fail("constant " + quoted(t.name) + " has dtype " + dtype_name(t.dtype) + ", which constants cannot have");
      }
      uint64_t nbytes = in.count("constant bytes", 1);
      const int64_t numel = declared_bytes(t) == nbytes ? t.num_elements() : -1;
      if (numel < 0) {
        in.fail("constant " + quoted(t.name) + " has " + std::to_string(nbytes) +
                " bytes, which is not what its shape " + quoted(shape_str(t.shape)) + " holds");
      }
      switch (t.dtype) {
        case DataType::kFloat32: t.f32.resize(numel); in.raw(t.f32.data(), nbytes, "constant data"); break;
        case DataType::kInt64: t.i64.resize(numel); in.raw(t.i64.data(), nbytes, "constant data"); break;
        case DataType::kInt8:
        case DataType::kBool: t.i8.resize(numel); in.raw(t.i8.data(), nbytes, "constant data"); break;
        default: break;  // refused above
      }
    }
  }
  uint64_t n_nodes = in.count("node", 40);
  std::vector<Node> nodes(n_nodes);
  for (Node& n : nodes) {
    n.name = in.str("node name");
    n.op = in.str("node op");
    uint64_t n_in = in.count("node input", 4);
    for (uint64_t i = 0; i < n_in; ++i) n.inputs.push_back(in.pod<int32_t>("node input"));
    uint64_t n_out = in.count("node output", 4);
    for (uint64_t i = 0; i < n_out; ++i) n.outputs.push_back(in.pod<int32_t>("node output"));
    uint64_t n_attrs = in.count("attribute", 9);
    for (uint64_t i = 0; i < n_attrs; ++i) {
      std::string key = in.str("attribute name");
      n.attrs.set(key, decode_attr(in, version, depth));
    }
  }
  std::vector<int> inputs(in.count("network input", 4)), outputs;
  for (int& id : inputs) id = in.pod<int32_t>("network input");
  outputs.resize(in.count("network output", 4));
  for (int& id : outputs) id = in.pod<int32_t>("network output");

  const int total = static_cast<int>(n_tensors);
  auto check_id = [&](int id, bool optional) {
    if (id < (optional ? -1 : 0) || id >= total) in.fail("a tensor reference is out of range");
  };
  for (const Node& n : nodes) {
    for (int id : n.inputs) check_id(id, true);
    for (int id : n.outputs) check_id(id, false);
  }
  for (int id : inputs) check_id(id, false);
  for (int id : outputs) check_id(id, false);
  std::vector<std::pair<std::string, ShapeRange>> ranges(with_shape_ranges ? in.count("shape range", 32) : 0);
  for (auto& r : ranges) {
    r.first = in.str("shape range input");
    for (auto* s : {&r.second.min, &r.second.opt, &r.second.max}) {
      s->resize(in.count("shape range rank", sizeof(int64_t)));
      for (int64_t& d : *s) d = in.pod<int64_t>("shape range dim");
    }
  }

  // The Network's own checks (duplicate names, ...) throw InvalidArgument;
  // in a file they are format errors.
  try {
    Network net = rebuild(in, tensors, nodes, inputs, outputs);
    for (auto& r : ranges) net.set_shape_range(r.first, std::move(r.second));
    return net;
  } catch (const InvalidArgument& e) {
    in.fail(std::string("invalid network: ") + e.what());
  }
}

}  // namespace


}  // namespace engine
}  // namespace int8rt

// gather_before_cast (passes.h): Gather(Cast(constant table), indices) becomes
// Cast(Gather(constant table, indices)), where the Gather is the Cast's only
// reader. Exact: Gather selects elements and Cast maps each element alone, so
// the two orders give the same values, bits included.
//
// Why: the IR holds a uint8 / int16 / int32 constant as int64 and the importer
// casts it back to its ONNX dtype at run time (onnx/_importer.py,
// _typed_inputs). ONNX Runtime's quantize_dynamic stores a BERT's word
// embeddings as a uint8 table that a Gather reads, so the whole table
// (30522 x 384 for MiniLM) was cast on every run: 2.0 ms of MiniLM-L6's 12.7 at
// batch 1, sequence 32, for the 32 rows the Gather keeps (RESULTS.md section 73).
#include "graph/passes/pass_util.h"

namespace int8rt {

void gather_before_cast(Network& net, PassReport* report) {
  for (int n : net.topological_order()) {
    const Node& gather = net.nodes()[n];
    if (gather.op != "Gather" || gather.inputs.size() != 2 || gather.outputs.size() != 1) continue;
    const int cast_out = gather.inputs[0];
    const int c = cast_out >= 0 ? net.tensor(cast_out).producer : -1;
    if (c < 0 || net.nodes()[c].op != "Cast" || net.nodes()[c].inputs.size() != 1) continue;
    if (!passes::constant_or_null(net, net.nodes()[c].inputs[0]) || passes::sole_consumer(net, cast_out) != n) {
      continue;
    }
    // Copies: add_node below may move the node vector.
    const Node g = gather, cast = net.nodes()[c];
    const int out = g.outputs[0];
    passes::kill_node(net, c);
    passes::kill_node(net, n);
    const int rows = net.add_node("Gather", g.name, {cast.inputs[0], g.inputs[1]}, g.attrs,
                                  {passes::fresh_name(net, net.tensor(out).name + "_before_cast")})[0];
    passes::add_node_writing(net, "Cast", cast.name, {rows}, cast.attrs, {out});
    if (report) report->add("gathered before " + passes::describe(cast) + " ('" + g.name + "')");
  }
  net.compact();
}

}  // namespace int8rt

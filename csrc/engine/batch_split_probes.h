// What BatchSplit::splits (batch_split.h) proves from the Values shape
// inference gives every tensor at the full batch and at each part size (the
// probes): how each tensor's values follow the batch, so that a part's run
// computes exactly its slice of the whole run. Internal to batch_split.cc.
//
// The encoders torch.onnx exports (BERT, MiniLM) build the attention mask
// from shapes: Range(batch) * seq + Range(seq) indexes the mask flattened
// to [batch * seq, 1] (a Gather across the batch), and the token-type
// embedding is a table Gather at indices expanded to [batch, seq]. Neither
// is a per-sample op by its kind; both are per sample by their values,
// which shape inference computes (small int / bool tensors), so they are
// checked here at every probe instead of refused.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/value.h"
#include "int8rt/network.h"

namespace int8rt {
namespace engine {

// How a tensor's values follow the batch, the same at every probe.
enum BatchClass : char {
  kUnknown = 0,
  kConstant,     // an initializer
  kFirst,        // dim 0 is the batch, sample i computed from sample i
  kFolded,       // dim 0 is batch x rows (a reshape's), each sample's rows one block
  kIndependent,  // the same shape and values at every batch (computed from constants / other dims)
  kUniform,      // dim 0 is the batch and every sample's block is the same values
};

// Whether `node` is a Gather (axis 0): across the batch when its data is an
// activation and its indices are computed from shapes (gather_keeps_parts
// checks them), per sample when its data is a table.
bool gathers_rows(const Node& node);
// The attribute conditions under which a per_sample_op keeps samples apart,
// for an input 0 of this rank: Softmax / LogSoftmax / LayerNormalization
// over axes after the batch, Transpose keeping the batch first; true for
// ops without such attributes.
bool per_sample_attrs(const Node& node, size_t rank);

struct SplitProbes {
  const Network& net;
  const std::vector<int64_t>& probes;               // the batch, then each distinct part size
  const std::vector<std::vector<Value>>& vals;      // per probe, per tensor
  const std::vector<std::vector<char>>& dep;        // per probe, per tensor: value-dependent shape

  // dim 0 of tensor id is per x the probe at every probe.
  bool dim0_per_sample(int id, int64_t per) const;
  // dim 0 is rows x the probe at every probe, rows >= 1 the same at each (set).
  bool folded_rows(int id, int64_t& rows) const;
  // The class of output `id` of `node`, a node that reads no activation's
  // values: by its values where inference computed them at every probe,
  // else from its inputs' classes (`per_sample`: node computes sample i
  // of its output from sample i of its inputs, by its kind).
  BatchClass shape_class(const Node& node, int id, const std::vector<char>& how, bool per_sample) const;
  // A Gather (axis 0) of an activation `data` (dim 0 = batch x rows) at
  // indices computed from shapes: every part's indices (at its size) plus
  // its first sample x rows are the whole batch's indices for its samples,
  // and each lies within the part's rows, so the part's gather reads its
  // own samples only and yields the whole gather's slice.
  bool gather_keeps_parts(const Node& node, const std::vector<char>& how, int64_t rows,
                          const std::vector<int64_t>& sizes) const;

 private:
  // Index of a probe of size s.
  size_t probe_of(int64_t s) const;
  bool known_at_every_probe(int id) const;
};

}  // namespace engine
}  // namespace int8rt

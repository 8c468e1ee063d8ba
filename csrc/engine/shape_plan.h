// The shape plans of one execution state: for each input-shape signature it
// has run at (the shapes of every network input), the dtype and shape of
// every tensor that run gave, and which nodes' output shapes follow from the
// input shapes alone (issue 11 §1: "cache the plan per input-shape
// signature"; issue 14 §4: "the plan for a shape is cached"). A run at a
// signature in the cache sizes those nodes' outputs from the plan instead of
// asking each layer's infer() (a few vectors per node per run), so a
// detector fed images of two or three sizes in turn allocates nothing once
// every size has run twice.
//
// Bounded: at most capacity() signatures (kDefaultCapacity unless set), the
// least recently used one replaced by a new one, so a stream of ever new
// shapes does not grow memory. A plan is about (tensors x (rank + 2)) x 8
// bytes: 20-40 KB for ResNet-50 or PP-OCR det. The activation buffers
// themselves are the Values' (value.h): they grow to the largest signature
// run and are shared by all, whatever the cache holds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/value.h"

namespace int8rt {
namespace engine {

struct ShapePlan {
  std::vector<Shape> inputs;     // the signature: one shape per network input, in Network::inputs() order
  std::vector<DataType> dtypes;  // per tensor id: what the recording run gave it
  std::vector<Shape> shapes;     // per tensor id
  bool made = false;             // keeps is made (at the signature's second run)
  std::vector<char> keeps;       // per node id: its outputs are sized from dtypes / shapes
};

class ShapePlanCache {
 public:
  static constexpr size_t kDefaultCapacity = 8;

  // The plan of the signature that the Values of `inputs` (tensor ids, in
  // Network::inputs() order) have now, made the most recently used; null
  // when none is cached. Allocates nothing.
  ShapePlan* find(const std::vector<Value>& values, const std::vector<int>& inputs);
  // Records the signature of `inputs` and every tensor's dtype and shape
  // from `values` (after a run that inferred them) as a new plan, not yet
  // made; it replaces the least recently used plan when the cache is full.
  // Null (nothing recorded) at capacity 0.
  ShapePlan* record(const std::vector<Value>& values, const std::vector<int>& inputs);

  // At most `n` plans from now on (0: none, every run infers every shape);
  // dropping the least recently used ones beyond it.
  void set_capacity(size_t n);
  size_t capacity() const { return capacity_; }
  size_t size() const { return plans_.size(); }

 private:
  std::vector<ShapePlan> plans_;
  std::vector<uint64_t> used_;  // per plan: the clock at its last find / record
  uint64_t clock_ = 0;
  size_t capacity_ = kDefaultCapacity;
};

}  // namespace engine
}  // namespace int8rt

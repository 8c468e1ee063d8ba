// GatherND (ONNX, opset 12+ with batch_dims): with b = batch_dims and
// k = indices.shape[-1] (1 <= k <= rank(data) - b), the output has shape
// indices.shape[:-1] + data.shape[b + k:], and for every batch position
// (the first b dimensions, equal in data and indices) and index tuple j,
// out[batch, j] = data[batch, indices[batch, j, 0], .., indices[batch, j, k-1]]
// (a slice of rank rank(data) - b - k). data has any dtype; indices are int64
// (as ONNX's type constraint says); a negative entry counts from the end of its dimension, and an
// entry outside [-dim, dim) is an InvalidArgument naming it. PyTorch's
// dynamo exporter writes it for advanced indexing (`mask[batch_idx, kv_idx]`
// in transformers' attention-mask builders).
#include <atomic>
#include <cstring>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

class GatherNDLayer : public Layer {
 public:
  explicit GatherNDLayer(const Node& node)
      : batch_dims_(node.attrs.get_int("batch_dims", 0)), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_any(in, 0, prefix_);
    const Value& idx = require_input(in, 1, DataType::kInt64, prefix_);
    const Shape &xs = x.shape(), &is = idx.shape();
    const int64_t r = static_cast<int64_t>(xs.size()), q = static_cast<int64_t>(is.size()), b = batch_dims_;
    if (b < 0 || q < 1 || b >= q || b >= r) {
      throw InvalidArgument(prefix_ + "batch_dims " + std::to_string(b) + " must be in [0, min(rank of data " +
                            shape_str(xs) + ", rank of indices " + shape_str(is) + "))");
    }
    const int64_t k = is.back();
    if (k < 1 || k > r - b) {
      throw InvalidArgument(prefix_ + "indices " + shape_str(is) + " must end in a dimension in [1, " +
                            std::to_string(r - b) + "] (data " + shape_str(xs) + ", batch_dims " +
                            std::to_string(b) + ")");
    }
    for (int64_t d = 0; d < b; ++d) {
      if (xs[d] != is[d]) {
        throw InvalidArgument(prefix_ + "the first " + std::to_string(b) + " dimensions of data " + shape_str(xs) +
                              " and indices " + shape_str(is) + " must match (batch_dims)");
      }
    }
    Shape ys(is.begin(), is.end() - 1);
    ys.insert(ys.end(), xs.begin() + b + k, xs.end());
    return {{x.dtype(), ys}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    gather(*in[0], in[1]->data<int64_t>(), in[1]->shape(), *out[0]);
  }

  std::string describe() const override { return "gather nd batch_dims " + std::to_string(batch_dims_); }

 private:
  void gather(const Value& xv, const int64_t* idx, const Shape& is, Value& yv) const {
    const Shape& xs = xv.shape();
    const int64_t b = batch_dims_, k = is.back();
    int64_t batches = 1, slice = 1, per_batch = 1;  // per_batch: data elements in one batch position
    for (int64_t d = 0; d < b; ++d) batches *= xs[d];
    for (size_t d = static_cast<size_t>(b + k); d < xs.size(); ++d) slice *= xs[d];
    for (size_t d = static_cast<size_t>(b); d < xs.size(); ++d) per_batch *= xs[d];
    const int64_t tuples = batches == 0 ? 0 : yv.numel() / std::max<int64_t>(slice, 1) / batches;
    if (yv.numel() == 0 || tuples == 0) return;
    const size_t size = dtype_size(xv.dtype());
    const char* x = xv.data<char>();
    char* y = yv.data<char>();
    std::atomic<int64_t> bad{0}, bad_dim{0};
    std::atomic<bool> any_bad{false};
    parallel_for(batches * tuples, std::max<int64_t>(1, 65536 / std::max<int64_t>(slice, 1)), [&](int64_t s, int64_t e) {
      for (int64_t t = s; t < e; ++t) {
        const int64_t batch = t / tuples;
        const int64_t* tuple = idx + t * k;
        int64_t off = 0;
        bool ok = true;
        for (int64_t d = 0; d < k; ++d) {
          const int64_t dim = xs[static_cast<size_t>(b + d)];
          const int64_t v = tuple[d];
          if (v < -dim || v >= dim) {
            bad.store(v, std::memory_order_relaxed);
            bad_dim.store(b + d, std::memory_order_relaxed);
            any_bad.store(true, std::memory_order_relaxed);
            ok = false;
            break;
          }
          off = off * dim + (v < 0 ? v + dim : v);
        }
        if (!ok) continue;
        std::memcpy(y + t * slice * size, x + (batch * per_batch + off * slice) * size, slice * size);
      }
    });
    if (any_bad) {
      const int64_t d = bad_dim.load();
      throw InvalidArgument(prefix_ + "index " + std::to_string(bad.load()) + " is outside [" +
                            std::to_string(-xs[d]) + ", " + std::to_string(xs[d]) + ") (dimension " +
                            std::to_string(d) + " of the data)");
    }
  }

  int64_t batch_dims_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_gather_nd(const Network&, const Node& node) {
  require_inputs(node, 2);
  return std::make_unique<GatherNDLayer>(node);
}

INT8RT_REGISTER_LAYER("GatherND", make_gather_nd);

}  // namespace
}  // namespace engine
}  // namespace int8rt

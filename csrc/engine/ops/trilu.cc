// Trilu (ONNX): the upper (upper = 1, the default) or lower triangle of the
// last two dimensions of a tensor of any dtype, the rest set to zero. With
// the optional scalar k (int64, default 0; it may be computed at run time:
// only run() reads it), element [.., i, j] is kept when j - i >= k (upper)
// or j - i <= k (lower). torch.triu / torch.tril export to it (causal masks).
#include <algorithm>
#include <cstring>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

class TriluLayer : public Layer {
 public:
  explicit TriluLayer(const Node& node)
      : upper_(node.attrs.get_int("upper", 1) != 0), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_any(in, 0, prefix_);
    if (x.shape().size() < 2) throw InvalidArgument(prefix_ + "input must have rank >= 2, got " + shape_str(x.shape()));
    if (in.size() > 1 && in[1] && in[1]->numel() != 1) {
      throw InvalidArgument(prefix_ + "k must be a scalar, got shape " + shape_str(in[1]->shape()));
    }
    return {{x.dtype(), x.shape()}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    const int64_t rows = s[s.size() - 2], cols = s.back();
    // k beyond the matrix keeps all or nothing; clamped so that i + k + 1 cannot overflow.
    const int64_t k_given = in.size() > 1 && in[1] ? int64_values(*in[1], prefix_, "k")[0] : 0;
    const int64_t k = std::min(std::max(k_given, -rows - 1), cols + 1);
    const size_t size = dtype_size(in[0]->dtype());
    const size_t row_bytes = static_cast<size_t>(cols) * size;
    const int64_t count = rows == 0 ? 0 : in[0]->numel() / cols;  // matrix rows over the batch
    const char* x = in[0]->data<char>();
    char* y = out[0]->data<char>();
    const bool upper = upper_;
    parallel_for(count, std::max<int64_t>(1, 16384 / static_cast<int64_t>(row_bytes + 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t i = r % rows;
        // Kept columns: [clamp(i + k), cols) for upper, [0, clamp(i + k + 1)) for lower.
        const int64_t edge = std::min(std::max<int64_t>(upper ? i + k : i + k + 1, 0), cols);
        const int64_t keep_from = upper ? edge : 0, keep_to = upper ? cols : edge;
        char* yr = y + r * row_bytes;
        std::memset(yr, 0, row_bytes);
        if (keep_to > keep_from) {
          std::memcpy(yr + keep_from * size, x + r * row_bytes + keep_from * size,
                      static_cast<size_t>(keep_to - keep_from) * size);
        }
      }
    });
  }

  std::string describe() const override { return upper_ ? "upper triangle" : "lower triangle"; }

 private:
  bool upper_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_trilu(const Network&, const Node& node) {
  require_inputs(node, 1);
  return std::make_unique<TriluLayer>(node);
}

INT8RT_REGISTER_LAYER("Trilu", make_trilu);

}  // namespace
}  // namespace engine
}  // namespace int8rt

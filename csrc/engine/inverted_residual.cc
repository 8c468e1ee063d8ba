// Fused int8 inverted-residual blocks (inverted_residual.h): the band plan,
// the band loop and the pattern search. The numbers are the layers' own
// (their packed kernels, epilogues and tables); this file only decides which
// rows each call covers.
#include "engine/inverted_residual.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "core/thread_pool.h"
#include "engine/ops/int8/qconv_stage.h"
#include "engine/ops/int8/qlut_stage.h"
#include "int8rt/threading.h"

namespace int8rt {
namespace engine {
namespace {

using kernels::ConvShape;

// Below this size of the whole batch's expanded tensor the layers run
// unfused: it stays in L2 between the expansion and the depthwise, and the
// unfused kernels see larger problems (fewer calls, fuller tiles). Measured
// on Zen 5 (benchmarks/RESULTS.md section 30, CPU time, 1 thread): fusing
// from 256 KiB gains on MobileNetV2 / EfficientNet-Lite0 at batch 1 and 8;
// from 0, MobileNetV3 batch 8 lost 3%.
constexpr int64_t kMinExpandedBytes = int64_t{256} << 10;

// Nor when the expansion at most doubles the channels (E <= 2 C): the
// expanded tensor is then hardly larger than the block's input, so fusing
// saves little memory traffic and costs its many small kernel calls.
// PP-OCRv4 rec's blocks (1x1 C -> C or 2C, a 3x3 or 5x5 depthwise on 12x80
// or 6x80 rows, 1x1): batch 8, 1 thread, whole runs alternated in one
// process, unfused / fused CPU time 0.96-0.99 in seven runs (RESULTS.md
// section 50). MobileNetV2 / V3 and EfficientNet-Lite0 expand 2.3-6x.
constexpr int64_t kMaxUnfusedExpansion = 2;

// Bytes a band's expanded rows and depthwise rows may take together: they
// stay in L2 (1 MiB on Zen 4/5, 1.25-2 MiB on Intel server cores) beside
// the three layers' weights and the block's input and output rows. Same
// measurement: 192-768 KiB within noise of each other, 24-48 KiB slower
// than unfused (more, smaller kernel calls), whole images 2-3% worse.
constexpr int64_t kBandBytes = int64_t{384} << 10;

bool is_pointwise(const ConvShape& s) {
  return s.R == 1 && s.S == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 && s.pad_left == 0 &&
         s.pad_bottom == 0 && s.pad_right == 0 && s.groups == 1;
}

// Rows of the depthwise's input that output rows [oh0, oh1) read, clipped to the image.
void input_rows(const ConvShape& d, int oh0, int oh1, int& ih_lo, int& ih_hi) {
  const int reach = (d.R - 1) * d.dilation_h + 1;
  ih_lo = std::max(0, oh0 * d.stride_h - d.pad_top);
  ih_hi = std::min(d.H, (oh1 - 1) * d.stride_h - d.pad_top + reach);
}

// The scratch rows of the calling thread: the expanded window and the
// depthwise band, grown to the largest block run on it and kept (no
// allocation per run once warm).
struct Scratch {
  std::vector<int8_t> expanded, depthwise;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

struct InvertedResidual::Band {
  int oh0 = 0, oh1 = 0;    // output rows
  int ih_lo = 0, ih_hi = 0;  // expanded rows the depthwise reads for them
  std::shared_ptr<const kernels::PackedConv> dw;  // the depthwise over rows [ih_lo, ih_hi)
};

InvertedResidual::InvertedResidual(const BlockStages& stages) : s_(stages) {
  const ConvShape& d = s_.dw->packed().shape();
  expand_row_ = s_.expand->packed().with_input_size(1, d.W);
  project_row_ = s_.project->packed().with_input_size(1, d.out_w());
  // Output rows per band: the band's expanded rows (about rows * stride +
  // reach - stride) and depthwise rows within kBandBytes.
  const int reach = (d.R - 1) * d.dilation_h + 1;
  const int64_t e_row = int64_t{d.W} * d.C, d_row = int64_t{d.out_w()} * d.C;
  const int64_t room = kBandBytes - std::max(0, reach - d.stride_h) * e_row;
  const int OH = d.out_h();
  const int rows = static_cast<int>(std::clamp<int64_t>(room / (d.stride_h * e_row + d_row), 1, OH));
  std::vector<std::pair<std::array<int, 3>, std::shared_ptr<const kernels::PackedConv>>> made;  // by geometry
  for (int oh0 = 0; oh0 < OH; oh0 += rows) {
    Band b;
    b.oh0 = oh0;
    b.oh1 = std::min(OH, oh0 + rows);
    input_rows(d, b.oh0, b.oh1, b.ih_lo, b.ih_hi);
    const int window = b.ih_hi - b.ih_lo;
    // Zero rows above the window: what the first output row's filter
    // reaches above it (the image's top padding, or 0 inside the image);
    // below it: what the last row reaches past the image's bottom.
    const int pad_top = b.ih_lo - (b.oh0 * d.stride_h - d.pad_top);
    const int pad_bottom = std::max(0, (b.oh1 - b.oh0 - 1) * d.stride_h + reach - window - pad_top);
    const std::array<int, 3> key{window, pad_top, pad_bottom};
    auto it = std::find_if(made.begin(), made.end(), [&](const auto& m) { return m.first == key; });
    if (it == made.end()) {
      made.emplace_back(key, std::shared_ptr<const kernels::PackedConv>(
                                 s_.dw->packed().with_row_window(window, pad_top, pad_bottom)));
      it = made.end() - 1;
    }
    b.dw = it->second;
    window_rows_ = std::max(window_rows_, window);
    bands_.push_back(std::move(b));
  }
}

InvertedResidual::~InvertedResidual() = default;

bool InvertedResidual::pays(int64_t batch) const {
  const ConvShape& e = s_.expand->packed().shape();
  return e.K > kMaxUnfusedExpansion * e.C && batch * e.H * e.W * e.K >= kMinExpandedBytes;
}

void InvertedResidual::input_shape(int64_t batch, Shape& shape) const {
  const ConvShape& e = s_.expand->packed().shape();
  shape.assign({batch, e.H, e.W, e.C});
}

void InvertedResidual::output_shape(int64_t batch, Shape& shape) const {
  const ConvShape& p = s_.project->packed().shape();
  shape.assign({batch, p.H, p.W, p.K});
}

DataType InvertedResidual::output_dtype() const {
  return s_.project->is_int8_stage() ? DataType::kInt8 : DataType::kFloat32;
}

void InvertedResidual::run(int batch, const int8_t* x, const int8_t* residual, void* y) const {
  // Work items: (image, part of its bands). One part per image unless the
  // batch is smaller than the threads; a part re-computes the expanded rows
  // it shares with the part above (the depthwise's reach - stride rows).
  const int64_t threads = get_num_threads();
  const int64_t parts = std::min<int64_t>(static_cast<int64_t>(bands_.size()), (threads + batch - 1) / batch);
  const int64_t items = batch * parts;
  // Fewer chunks than the pool times (kMinTimedChunksPerThread per thread,
  // core/thread_pool.h): an item is a whole image's block, far above a
  // helper's wake-up latency, so helpers are woken at once. With one item per
  // chunk the pool timed the first image alone and its running wake-cost
  // estimate then kept many blocks on one thread (MobileNetV2 batch 8,
  // per-layer minima: the 7x7-28x28 blocks 1.00-1.05x faster with a second
  // thread; with these chunks 1.43-1.67x).
  const int64_t grain = std::max<int64_t>(1, (items + threads * (kMinTimedChunksPerThread - 1) - 1) /
                                                 (threads * (kMinTimedChunksPerThread - 1)));
  parallel_for(items, grain, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t image = item / parts, part = item % parts;
      const size_t b0 = bands_.size() * part / parts, b1 = bands_.size() * (part + 1) / parts;
      run_bands(image, b0, b1, x, residual, y);
    }
  });
}

void InvertedResidual::run_bands(int64_t image, size_t band_begin, size_t band_end, const int8_t* x,
                                 const int8_t* residual, void* y) const {
  const ConvShape& e = s_.expand->packed().shape();
  const ConvShape& d = s_.dw->packed().shape();
  const ConvShape& p = s_.project->packed().shape();
  const int64_t in_row = int64_t{e.W} * e.C, e_row = int64_t{e.W} * e.K;
  const int64_t d_row = int64_t{d.out_w()} * d.C, out_row = int64_t{p.W} * p.K;
  Scratch& s = scratch();
  const size_t e_bytes = static_cast<size_t>(window_rows_ * e_row);
  const size_t d_bytes = static_cast<size_t>((bands_[0].oh1 - bands_[0].oh0) * d_row);
  if (s.expanded.size() < e_bytes) s.expanded.resize(e_bytes);
  if (s.depthwise.size() < d_bytes) s.depthwise.resize(d_bytes);
  const kernels::Epilogue ep_expand = s_.expand->epilogue(nullptr), ep_dw = s_.dw->epilogue(nullptr);
  const int8_t* x_image = x + image * e.H * in_row;
  const int64_t out_image = image * p.H * out_row;
  // A head projection writes float32 (its stage's epilogue says so); the residual is int8 either way.
  const size_t out_bytes = s_.project->is_int8_stage() ? sizeof(int8_t) : sizeof(float);
  int have_lo = 0, have_hi = 0;  // expanded rows held in s.expanded, from its row 0
  for (size_t j = band_begin; j < band_end; ++j) {
    const Band& b = bands_[j];
    // Keep the rows this band shares with the last one, moved to the top.
    const int keep_lo = std::max(have_lo, b.ih_lo);
    int held = 0;
    if (keep_lo < have_hi) {
      held = have_hi - keep_lo;
      std::memmove(s.expanded.data(), s.expanded.data() + (keep_lo - have_lo) * e_row, held * e_row);
    }
    const int first_new = b.ih_lo + held;
    if (first_new < b.ih_hi) {
      int8_t* rows = s.expanded.data() + held * e_row;
      expand_row_->run(b.ih_hi - first_new, x_image + first_new * in_row, ep_expand, rows);
      if (s_.expand_table) s_.expand_table->lookup((b.ih_hi - first_new) * e_row, rows, rows);
    }
    have_lo = b.ih_lo;
    have_hi = b.ih_hi;
    b.dw->run(1, s.expanded.data(), ep_dw, s.depthwise.data());
    if (s_.dw_table) s_.dw_table->lookup((b.oh1 - b.oh0) * d_row, s.depthwise.data(), s.depthwise.data());
    const int64_t out0 = out_image + b.oh0 * out_row;
    project_row_->run(b.oh1 - b.oh0, s.depthwise.data(),
                      s_.project->epilogue(residual ? residual + out0 : nullptr),
                      static_cast<char*>(y) + static_cast<size_t>(out0) * out_bytes);
  }
}

FusedBlocks find_inverted_residuals(const Network& net, const std::vector<int>& order,
                                    const std::vector<std::unique_ptr<Layer>>& layers) {
  FusedBlocks f;
  const auto& nodes = net.nodes();
  f.head.assign(nodes.size(), -1);
  std::vector<int> readers(net.tensors().size(), 0);
  for (const Node& n : nodes) {
    for (int id : n.inputs) {
      if (id >= 0) ++readers[id];
    }
  }
  for (int id : net.outputs()) ++readers[id];  // an output is read by the caller
  auto conv = [&](size_t i) -> const QConvStage* {
    const auto* c = i < order.size() ? dynamic_cast<const QConvStage*>(layers[order[i]].get()) : nullptr;
    // int8 stages of a static size; a residual only on the projection
    return c && c->is_int8_stage() && !c->dynamic_size() && !c->has_residual() ? c : nullptr;
  };
  auto table = [&](size_t i) -> const QLutStage* {
    return i < order.size() ? dynamic_cast<const QLutStage*>(layers[order[i]].get()) : nullptr;
  };
  // Node order[i]'s only output is node order[i + 1]'s input 0, read by nothing else.
  auto links = [&](size_t i) {
    if (i + 1 >= order.size()) return false;
    const Node& a = nodes[order[i]];
    const Node& b = nodes[order[i + 1]];
    return a.outputs.size() == 1 && !b.inputs.empty() && b.inputs[0] == a.outputs[0] && readers[a.outputs[0]] == 1;
  };
  for (size_t i = 0; i < order.size(); ++i) {
    BlockStages st;
    size_t j = i;  // the node matched last
    st.expand = conv(j);
    if (!st.expand || !is_pointwise(st.expand->packed().shape()) || !links(j)) continue;
    if ((st.expand_table = table(j + 1)) != nullptr) {
      if (!links(++j)) continue;
    }
    st.dw = conv(++j);
    if (!st.dw || !st.dw->packed().shape().is_depthwise() || !links(j)) continue;
    if ((st.dw_table = table(j + 1)) != nullptr) {
      if (!links(++j)) continue;
    }
    // The projection may write float32 (a network head, lower_int8_conv_head.cc): the runner hands its
    // rows the stage's own float epilogue.
    const auto* p = j + 1 < order.size() ? dynamic_cast<const QConvStage*>(layers[order[j + 1]].get()) : nullptr;
    if (!p || p->dynamic_size() || !is_pointwise(p->packed().shape())) continue;
    st.project = p;
    ++j;
    const ConvShape& se = st.expand->packed().shape();
    const ConvShape& sd = st.dw->packed().shape();
    const ConvShape& sp = p->packed().shape();
    if (sd.C != se.K || sd.H != se.H || sd.W != se.W) continue;
    if (sp.C != sd.K || sp.H != sd.out_h() || sp.W != sd.out_w()) continue;
    f.head[order[i]] = static_cast<int>(f.blocks.size());
    f.nodes.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(i),
                         order.begin() + static_cast<std::ptrdiff_t>(j + 1));
    f.blocks.push_back(std::make_unique<InvertedResidual>(st));
    i = j;
  }
  return f;
}

}  // namespace engine
}  // namespace int8rt

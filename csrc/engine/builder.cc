// The Builder (int8rt/builder.h): passes, float32 calibration runs, lowering.
#include "int8rt/builder.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/checked_math.h"
#include "engine/bf16_blocked.h"
#include "engine/bf16_layers.h"
#include "engine/f32_blocked.h"
#include "engine/f32_layout.h"
#include "engine/device_runner.h"
#include "engine/executor.h"
#include "engine/int8_coverage.h"
#include "engine/lower_int8.h"
#include "engine/ops/subgraph.h"
#include "engine/shape_probes.h"
#include "graph/passes/pass_util.h"
#include "graph/passes/passes.h"
#include "int8rt/branch_scope.h"
#include "int8rt/error.h"
#include "int8rt/quantization.h"

namespace int8rt {

struct Builder::Impl {
  Network optimized;
  std::unique_ptr<engine::Executor> fp32;
  std::unique_ptr<engine::Executor::State> state;
  std::vector<char> observe;  // by tensor id: streamed into the collector
  // Scales recorded from QuantizeLinear/DequantizeLinear pairs in the model;
  // used for tensors calibration did not cover.
  std::map<std::string, float> qdq_scales;
  // Node name -> the nodes graph passes merged into it (the int8 plan's sources).
  std::map<std::string, std::vector<std::string>> merged_nodes;
  // Weight name -> a pre-quantized model's weight scales (PassReport::weight_scales).
  std::map<std::string, PassReport::WeightScales> weight_scales;
  // The shapes of `optimized` came from probes (a profile, or only a dynamic
  // batch) or from the first calibration batch; see calibrate_batch.
  bool shapes_probed = false;
  // The input shapes (network input order) the probes were taken from, when
  // a calibration batch or set_calibration_shapes gave them; else empty.
  std::vector<engine::Shape> probed_from;
  bool infinities_checked = false;  // see calibrate_batch
  int64_t last_rows = -1;  // axis 0 shared by the last calibration batch's inputs (-1: none, or they differ)
  bool has_last = false;  // the state holds a whole calibration batch's values (observe_last, copy_last)
  // By tensor id: its axis 0 holds the last batch's rows (batch_rows_of), for input shapes `rows_for`.
  std::vector<char> batch_rows;
  std::vector<engine::Shape> rows_for;
  // Per-channel max |x| of the rank-4 calibration tensors (channel_ranges);
  // ranges_frozen: set by set_channel_ranges, which later batches leave as
  // they are (a rewrite of the network drops them: remake_fp32).
  // channel_varied: tensors whose axis-1 count changed between batches (a
  // sequence axis, not channels): none of their ranges is kept.
  std::map<std::string, std::vector<float>> channel_amax;
  std::set<std::string> channel_varied;
  bool ranges_frozen = false;
  // The fewest last-axis elements per calibration tensor (calibration_keys).
  std::map<std::string, int64_t> calibration_keys;
  // The tensors of the If branches the last batch took (BranchTap, subgraph.h),
  // under their scoped names (branch_scope), copied as the run computed
  // them: `branch_values` keeps each name's storage between batches,
  // `branch_taken` lists the last batch's in the order they ran.
  std::map<std::string, engine::Value> branch_values;
  std::vector<std::string> branch_taken;
  // Branch tensors checked on first sight (as the first batch's are at the
  // top level), and those left out: +-inf without NaN.
  std::set<std::string> branch_checked, branch_skipped;
  // Writes the shapes of `optimized` (and its If branches') from `probes`.
  void annotate(const std::vector<std::vector<engine::Shape>>& probes) {
    fp32->annotate_shapes(optimized, probes);
    engine::annotate_branch_shapes(optimized, *fp32, probes);
  }
};

Builder::~Builder() = default;

namespace {

// The shapes of `ins` in the network's input order (every input is there:
// the float32 run that took them checked it).
std::vector<engine::Shape> input_order(const Network& net, const std::vector<engine::Executor::Input>& ins) {
  std::vector<engine::Shape> shapes;
  for (int id : net.inputs()) {
    auto it = std::find_if(ins.begin(), ins.end(), [&](const engine::Executor::Input& in) { return in.tensor == id; });
    shapes.push_back(it->shape);
  }
  return shapes;
}

// A tensor whose shape depends on input values (a Reshape to a shape given
// as a graph input, and what is computed from it: Executor::infer_shapes)
// has no static shape for the int8 lowering to plan with: it is left out of
// calibration, so its readers and writer stay float32, which the build
// report says.
void leave_value_dependent_uncalibrated(const Network& net, const engine::Executor& fp32,
                                        const std::vector<engine::Executor::Input>& ins, std::vector<char>& observe,
                                        std::vector<std::string>& report) {
  std::vector<char> value_dependent;
  fp32.infer_shapes(input_order(net, ins), &value_dependent);
  std::string first;
  int count = 0;
  for (size_t id = 0; id < value_dependent.size(); ++id) {
    if (!value_dependent[id] || !observe[id]) continue;
    observe[id] = 0;
    if (count++ == 0) first = net.tensors()[id].name;
  }
  if (count > 0) {
    report.push_back(std::to_string(count) + " tensor(s) ('" + first + "' first) have shapes that depend on input "
                      "values (known only at run time): not calibrated, they stay float32");
  }
}

// By tensor id: whether its axis 0 holds one row per sample of a batch of
// `n` with input shapes `shapes` (one per network input, each leading with
// `n`): by the layers' shape inference, the tensor's axis 0 is `n` there and
// 2n with every input's axis 0 doubled, its other dimensions unchanged. As
// declared shapes with only the batch dynamic say it, and also where other
// dimensions are dynamic (a detector's image size) but this batch fixes
// them. None where the doubled batch does not infer.
std::vector<char> batch_rows_of(const Network& net, const engine::Executor& fp32,
                                const std::vector<engine::Shape>& shapes, int64_t n) {
  std::vector<char> out(net.tensors().size(), 0);
  std::vector<engine::Shape> doubled = shapes;
  for (auto& s : doubled) s[0] = 2 * n;
  std::vector<engine::Shape> a, b;
  try {
    a = fp32.infer_shapes(shapes);
    b = fp32.infer_shapes(doubled);
  } catch (const std::exception&) {  // a layer that cannot take the doubled batch: nothing is cut
    return out;
  }
  for (size_t id = 0; id < out.size() && id < a.size() && id < b.size(); ++id) {
    out[id] = !a[id].empty() && a[id].size() == b[id].size() && a[id][0] == n && b[id][0] == 2 * n &&
              std::equal(a[id].begin() + 1, a[id].end(), b[id].begin() + 1);
  }
  return out;
}

// Whether `v` (float32) holds +-inf but no NaN: an attention mask filled
// with -inf, as HuggingFace exports build it, which can have no int8 scale.
bool holds_inf_only(const engine::Value& v) {
  if (v.dtype() != DataType::kFloat32) return false;
  const float* x = v.data<float>();
  bool inf = false, nan = false;
  const int64_t count = v.numel();  // numel() checks the shape each call: once, not per element
  for (int64_t i = 0; i < count; ++i) {
    inf = inf || std::isinf(x[i]);
    nan = nan || std::isnan(x[i]);
  }
  return inf && !nan;
}

std::string infinite_report(const std::string& name) {
  return "tensor '" + name + "' holds +-inf on the first calibration batch (a mask's fill value?): not "
         "calibrated, it stays float32";
}

bool has_unshaped_activations(const Network& net) {
  for (const Tensor& t : net.tensors()) {
    if (!t.is_constant && t.shape.empty()) return true;
  }
  return false;
}

}  // namespace

Builder::Builder(Network network, BuilderConfig config) : impl_(std::make_unique<Impl>()), config_(std::move(config)) {
  network.validate();
  engine::require_device(config_.device);
  for (const auto& kv : config_.layer_precisions) {
    if (kv.second != "fp32" && kv.second != "int8" && kv.second != "bf16") {
      throw InvalidArgument("layer_precisions['" + kv.first + "'] must be 'fp32', 'bf16' or 'int8', got '" +
                            kv.second + "'");
    }
  }
  impl_->optimized = std::move(network);
  if (config_.optimize && has_unshaped_activations(impl_->optimized)) {
    // Networks from the definition API carry no intermediate shapes; passes
    // that need them (residual fusion folds only adds of equal, known
    // shapes) get them from the layers' shape inference first.
    engine::Executor(impl_->optimized).annotate_shapes(impl_->optimized);
  }
  if (config_.optimize) {
    PassReport passes;
    PassOptions pass_options;
    pass_options.keep_activation_qdq = config_.keep_activation_qdq;
    run_default_passes(impl_->optimized, pass_options, &passes);
    report_ = std::move(passes.lines);
    for (const auto& kv : passes.calibration_hints) impl_->qdq_scales[kv.first] = kv.second;
    impl_->merged_nodes = std::move(passes.merged_nodes);
    impl_->weight_scales = std::move(passes.weight_scales);
  }
  impl_->optimized.compact();
  impl_->fp32 = std::make_unique<engine::Executor>(impl_->optimized);
  impl_->annotate(impl_->fp32->probe_input_shapes());
  impl_->shapes_probed = !impl_->fp32->probe_input_shapes().empty();
  impl_->state = impl_->fp32->make_state();
  const auto& tensors = impl_->optimized.tensors();
  impl_->observe.assign(tensors.size(), 0);
  for (size_t t = 0; t < tensors.size(); ++t) {
    impl_->observe[t] = !tensors[t].is_constant && tensors[t].dtype == DataType::kFloat32;
  }
}

const Network& Builder::optimized_network() const { return impl_->optimized; }

void Builder::add_report_lines(const std::vector<std::string>& lines) {
  for (const std::string& line : lines) {
    if (std::find(report_.begin(), report_.end(), line) == report_.end()) report_.push_back(line);
  }
}



std::vector<std::string> Builder::input_names() const {
  std::vector<std::string> names;
  for (int id : impl_->optimized.inputs()) names.push_back(impl_->optimized.tensor(id).name);
  return names;
}

std::vector<std::string> Builder::calibration_tensors() const {
  std::vector<std::string> names;
  const auto& tensors = impl_->optimized.tensors();
  for (size_t t = 0; t < tensors.size(); ++t) {
    if (impl_->observe[t]) names.push_back(tensors[t].name);
  }
  for (const auto& kv : impl_->branch_values) {
    if (!impl_->branch_skipped.count(kv.first)) names.push_back(kv.first);
  }
  return names;
}

void Builder::calibrate_batch(const std::map<std::string, TensorView>& inputs, calib::Collector& collector) {
  const Network& net = impl_->optimized;
  std::vector<engine::Executor::Input> ins;
  for (const auto& kv : inputs) {
    int id = net.find_tensor(kv.first);
    if (id < 0 || net.tensor(id).producer >= 0 || net.tensor(id).is_constant) {
      throw InvalidArgument("calibration batch has unknown input '" + kv.first + "'");
    }
    ins.push_back({id, kv.second.dtype, kv.second.shape, kv.second.data});
  }
  impl_->last_rows = -1;
  impl_->has_last = false;  // until the run below completes
  impl_->branch_taken.clear();
  {
    Impl& impl = *impl_;  // the taken branches' tensors, copied as they are computed (buffers are shared there)
    engine::BranchTap tap([&impl](const std::string& name, const engine::Value& v) {
      engine::copy_value(v, impl.branch_values[name]);
      impl.branch_taken.push_back(name);
    });
    impl_->fp32->run(*impl_->state, ins);
  }
  for (size_t k = 0; k < ins.size(); ++k) {
    const int64_t rows = ins[k].shape.empty() ? -1 : ins[k].shape[0];
    impl_->last_rows = k == 0 || impl_->last_rows == rows ? rows : -1;
  }
  if (!impl_->shapes_probed) take_shapes_from(input_order(net, ins));
  if (impl_->last_rows > 0) {  // which tensors observe_rows / copy_last_rows can cut, for these input shapes
    std::vector<engine::Shape> shapes = input_order(net, ins);
    if (shapes != impl_->rows_for || impl_->batch_rows.empty()) {
      impl_->batch_rows = batch_rows_of(net, *impl_->fp32, shapes, impl_->last_rows);
      impl_->rows_for = std::move(shapes);
    }
  }
  const auto& tensors = net.tensors();
  std::vector<std::string> left_out;  // report lines; once each (add_report_lines may have added them already)
  if (!impl_->infinities_checked) {
    // A tensor holding +-inf but no NaN on the first batch (an attention
    // mask filled with -inf, as HuggingFace exports build it) can have no
    // int8 scale: it is left out of calibration and stays float32, which the
    // build report says. NaN, and infinities that appear only later, go to
    // the calibrator's nonfinite policy as before.
    impl_->infinities_checked = true;
    leave_value_dependent_uncalibrated(net, *impl_->fp32, ins, impl_->observe, left_out);
    for (size_t id = 0; id < tensors.size(); ++id) {
      if (impl_->observe[id] && holds_inf_only(impl_->fp32->value(*impl_->state, static_cast<int>(id)))) {
        impl_->observe[id] = 0;
        left_out.push_back(infinite_report(tensors[id].name));
      }
    }
  }
  for (const std::string& name : impl_->branch_taken) {  // a branch first taken by this batch: the same check
    if (!impl_->branch_checked.insert(name).second) continue;
    if (holds_inf_only(impl_->branch_values.at(name))) {
      impl_->branch_skipped.insert(name);
      left_out.push_back(infinite_report(name));
    }
  }
  add_report_lines(left_out);
  impl_->has_last = true;
  stream_last(collector);
  record_channel_ranges();
  record_calibration_keys();
}

void Builder::take_shapes_from(const std::vector<engine::Shape>& shapes) {
  impl_->shapes_probed = true;
  impl_->probed_from = shapes;
  impl_->annotate(engine::probes_from_batch(impl_->optimized, *impl_->fp32, shapes));
}

std::map<std::string, std::vector<int64_t>> Builder::calibration_shapes() const {
  std::map<std::string, std::vector<int64_t>> out;
  const Network& net = impl_->optimized;
  for (size_t i = 0; i < impl_->probed_from.size(); ++i) out[net.tensor(net.inputs()[i]).name] = impl_->probed_from[i];
  return out;
}

void Builder::set_calibration_shapes(const std::map<std::string, std::vector<int64_t>>& shapes) {
  const Network& net = impl_->optimized;
  for (const auto& kv : shapes) {
    const int id = net.find_tensor(kv.first);
    if (std::find(net.inputs().begin(), net.inputs().end(), id) == net.inputs().end()) {
      throw InvalidArgument("set_calibration_shapes: '" + kv.first + "' is not a network input");
    }
  }
  std::vector<engine::Shape> first;
  for (int id : net.inputs()) {
    auto it = shapes.find(net.tensor(id).name);
    if (it == shapes.end()) {
      throw InvalidArgument("set_calibration_shapes: no shape for input '" + net.tensor(id).name + "'");
    }
    first.emplace_back(it->second.begin(), it->second.end());
  }
  impl_->fp32->infer_shapes(first);  // shapes the network cannot take: its error, naming the input or layer
  if (!impl_->shapes_probed) take_shapes_from(first);
}

namespace {

// Grows `ranges[name]` to the per-channel max |x| (axis 1) of `v`, a rank-4
// float32 tensor of at least two channels (others are left out).
// A tensor whose axis-1 count differs from an earlier batch's is dropped for
// good (`varied`): its axis 1 is not channels, and ranges of the last count
// alone would depend on the batches' order (and on how sharded calibration
// split them).
void grow_channel_amax(std::map<std::string, std::vector<float>>& ranges, std::set<std::string>& varied,
                       const std::string& name, const engine::Value& v) {
  if (v.dtype() != DataType::kFloat32 || v.shape().size() != 4 || varied.count(name)) return;
  const int64_t n = v.shape()[0], c = v.shape()[1], hw = v.shape()[2] * v.shape()[3];
  if (c < 2 || n * c * hw != v.numel()) return;
  std::vector<float>& amax = ranges[name];
  if (!amax.empty() && amax.size() != static_cast<size_t>(c)) {
    ranges.erase(name);
    varied.insert(name);
    return;
  }
  if (amax.empty()) amax.assign(static_cast<size_t>(c), 0.f);
  const float* x = v.data<float>();
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t k = 0; k < c; ++k) {
      const float* p = x + (b * c + k) * hw;
      float m = amax[k];
      for (int64_t i = 0; i < hw; ++i) m = std::max(m, std::fabs(p[i]));  // NaN: the collector refused the batch
      amax[k] = m;
    }
  }
}

}  // namespace

void Builder::record_channel_ranges() {
  if (impl_->ranges_frozen) return;
  const auto& tensors = impl_->optimized.tensors();
  for (size_t id = 0; id < tensors.size(); ++id) {
    if (impl_->observe[id]) {
      grow_channel_amax(impl_->channel_amax, impl_->channel_varied, tensors[id].name,
                        impl_->fp32->value(*impl_->state, static_cast<int>(id)));
    }
  }
  for (const std::string& name : impl_->branch_taken) {  // scoped: the branch's lowering reads them by scope
    if (!impl_->branch_skipped.count(name)) {
      grow_channel_amax(impl_->channel_amax, impl_->channel_varied, name, impl_->branch_values.at(name));
    }
  }
}

std::map<std::string, std::vector<float>> Builder::channel_ranges() const { return impl_->channel_amax; }

std::set<std::string> Builder::varied_channel_counts() const { return impl_->channel_varied; }

void Builder::set_channel_ranges(const std::map<std::string, std::vector<float>>& ranges) {
  impl_->channel_amax = ranges;
  impl_->ranges_frozen = true;
}

void Builder::record_calibration_keys() {
  const auto& tensors = impl_->optimized.tensors();
  for (size_t id = 0; id < tensors.size(); ++id) {
    if (!impl_->observe[id]) continue;
    const engine::Value& v = impl_->fp32->value(*impl_->state, static_cast<int>(id));
    if (v.dtype() != DataType::kFloat32 || v.shape().size() < 2) continue;
    auto it = impl_->calibration_keys.emplace(tensors[id].name, v.shape().back()).first;
    it->second = std::min(it->second, v.shape().back());
  }
}

std::map<std::string, int64_t> Builder::calibration_keys() const { return impl_->calibration_keys; }

void Builder::set_calibration_keys(const std::map<std::string, int64_t>& keys) { impl_->calibration_keys = keys; }

void Builder::stream_last(calib::Collector& collector) const {
  // Every activation of the batch stays in the state until the next run, so
  // the whole batch is handed over at once: all histograms change, or none
  // (a NaN in one tensor leaves every histogram as it was).
  const auto& tensors = impl_->optimized.tensors();
  std::vector<std::pair<std::string, calib::ArrayView>> batch;
  for (size_t id = 0; id < tensors.size(); ++id) {
    if (!impl_->observe[id]) continue;
    const engine::Value& v = impl_->fp32->value(*impl_->state, static_cast<int>(id));
    if (v.dtype() != DataType::kFloat32) continue;
    batch.emplace_back(tensors[id].name, calib::ArrayView::contiguous(v.data<float>(), v.numel()));
  }
  for (const std::string& name : impl_->branch_taken) {
    if (impl_->branch_skipped.count(name)) continue;
    const engine::Value& v = impl_->branch_values.at(name);
    batch.emplace_back(name, calib::ArrayView::contiguous(v.data<float>(), v.numel()));
  }
  collector.observe_batch(batch);
}

void Builder::observe_last(calib::Collector& collector) const {
  if (!impl_->has_last) throw InvalidArgument("observe_last: no calibration batch has run");
  stream_last(collector);
}

namespace {

// Whether tensor `id`'s axis 0 holds the last batch's `n` rows: the shape
// inference's word (`flags`, batch_rows_of) and the value as it is.
bool rows_follow_batch(const std::vector<char>& flags, int id, const engine::Shape& actual, int64_t n) {
  return id >= 0 && static_cast<size_t>(id) < flags.size() && flags[id] && !actual.empty() && actual[0] == n;
}

void check_rows(const std::vector<int64_t>& rows, int64_t n, const char* what) {
  for (size_t k = 0; k < rows.size(); ++k) {
    if (rows[k] < 0 || rows[k] >= n || (k > 0 && rows[k] <= rows[k - 1])) {
      throw InvalidArgument(std::string(what) + ": rows must be ascending indices below the batch's " +
                            std::to_string(n));
    }
  }
}

// Rows `rows` of `v` (one sample per row of its first axis, `per` values each) into `out`.
void gather_rows(const engine::Value& v, const std::vector<int64_t>& rows, int64_t per, float* out) {
  for (size_t k = 0; k < rows.size(); ++k) std::copy_n(v.data<float>() + rows[k] * per, per, out + k * per);
}

}  // namespace

bool Builder::observe_rows(const std::vector<int64_t>& rows, calib::Collector& collector) const {
  const Network& net = impl_->optimized;
  const int64_t n = impl_->last_rows;
  if (!impl_->infinities_checked) throw InvalidArgument("observe_rows: no calibration batch has run");
  // A branch's tensors have no row record (batch_rows_of sees the top level): the caller runs the rows.
  if (n <= 0 || !impl_->branch_taken.empty()) return false;
  check_rows(rows, n, "observe_rows");
  // A tensor whose axis 0 follows the batch's (batch_rows_of) has one sample per row.
  std::vector<int> ids;
  for (size_t id = 0; id < net.tensors().size(); ++id) {
    if (!impl_->observe[id]) continue;
    const engine::Value& v = impl_->fp32->value(*impl_->state, static_cast<int>(id));
    if (v.dtype() != DataType::kFloat32) continue;
    if (!rows_follow_batch(impl_->batch_rows, static_cast<int>(id), v.shape(), n)) return false;
    ids.push_back(static_cast<int>(id));
  }
  for (int id : net.inputs()) {
    if (!rows_follow_batch(impl_->batch_rows, id, impl_->fp32->value(*impl_->state, id).shape(), n)) return false;
  }
  // One tensor at a time (a copy of its rows, not of the whole batch): the
  // batch's values already passed calibrate_batch's collector, so none is
  // rejected as NaN/Inf here unless `collector`'s policy is stricter.
  std::vector<float> part;
  for (int id : ids) {
    const engine::Value& v = impl_->fp32->value(*impl_->state, id);
    const int64_t per = v.numel() / n;
    part.resize(static_cast<size_t>(per) * rows.size());
    gather_rows(v, rows, per, part.data());
    collector.observe(net.tensor(id).name, calib::ArrayView::contiguous(part.data(), static_cast<int64_t>(part.size())));
  }
  return true;
}

bool Builder::copy_last_rows(const std::string& name, const std::vector<int64_t>& rows,
                             const std::function<float*(const std::vector<int64_t>&)>& allocate) const {
  const Network& net = impl_->optimized;
  const int64_t n = impl_->last_rows;
  if (!impl_->infinities_checked) throw InvalidArgument("copy_last_rows: no calibration batch has run");
  if (n <= 0) return false;
  check_rows(rows, n, "copy_last_rows");
  const int id = net.find_tensor(name);
  if (id < 0 || net.tensor(id).is_constant) return false;
  for (int in : net.inputs()) {
    if (!rows_follow_batch(impl_->batch_rows, in, impl_->fp32->value(*impl_->state, in).shape(), n)) return false;
  }
  const auto& outputs = net.outputs();
  // The calibration tensors' values stay in the state until the next run
  // (calibrate_batch streams them all at once); so do the outputs'.
  if (!impl_->observe[id] && std::find(outputs.begin(), outputs.end(), id) == outputs.end()) return false;
  const engine::Value& v = impl_->fp32->value(*impl_->state, id);
  if (v.dtype() != DataType::kFloat32 || !rows_follow_batch(impl_->batch_rows, id, v.shape(), n)) return false;
  std::vector<int64_t> shape(v.shape().begin(), v.shape().end());
  shape[0] = static_cast<int64_t>(rows.size());
  gather_rows(v, rows, v.numel() / n, allocate(shape));
  return true;
}

bool Builder::copy_last(const std::string& name,
                        const std::function<float*(const std::vector<int64_t>&)>& allocate) const {
  const Network& net = impl_->optimized;
  if (!impl_->has_last) throw InvalidArgument("copy_last: no calibration batch has run");
  const int id = net.find_tensor(name);
  if (id < 0 || net.tensor(id).is_constant) return false;
  const auto& outputs = net.outputs();
  if (!impl_->observe[id] && std::find(outputs.begin(), outputs.end(), id) == outputs.end()) return false;
  const engine::Value& v = impl_->fp32->value(*impl_->state, id);
  if (v.dtype() != DataType::kFloat32) return false;
  std::copy_n(v.data<float>(), v.numel(), allocate(std::vector<int64_t>(v.shape().begin(), v.shape().end())));
  return true;
}

namespace {

// The Add that alone reads MatMul `mm`'s output with a constant float32
// vector of `channels` values (a Linear's bias as exporters write it), or -1;
// `*slot`: that constant's input index.
int linear_bias_reader(const Network& net, int mm, int64_t channels, int* slot) {
  const int y = net.nodes()[mm].outputs[0];
  const int reader = passes::sole_consumer(net, y);
  const Node* add = reader >= 0 ? &net.nodes()[reader] : nullptr;
  if (!add || add->op != "Add" || add->inputs.size() != 2) return -1;
  *slot = add->inputs[0] == y ? 1 : 0;
  const Tensor& bt = net.tensor(add->inputs[*slot]);
  const bool ok = bt.is_constant && bt.dtype == DataType::kFloat32 && bt.num_elements() == channels &&
                  !bt.shape.empty() && bt.shape.back() == channels;
  return ok ? reader : -1;
}

// A bias for a MatMul that has none: a new Add of a zero vector of
// `channels` values right after it, which takes over the MatMul's output
// tensor (its name, scale, readers and output mark stay), the MatMul writing
// a new "<node>::unbiased" before it. The int8 lowering folds that Add into
// the QGemm's bias as it folds an exporter's (lower_int8_linear.cc,
// affine_tail_reader); a float32 layer runs it. Returns the Add's node id.
int bias_add_for(Network& net, int mm, int64_t channels, int* slot) {
  const int y = net.nodes()[mm].outputs[0];
  const std::string name = net.nodes()[mm].name;
  const int zero = net.add_constant(name + "::zero_bias", {channels}, std::vector<float>(static_cast<size_t>(channels)));
  const int pre = net.add_node("Add", name + "::bias_add", {y, zero}, Attributes(), {name + "::unbiased"})[0];
  const int add = static_cast<int>(net.nodes().size()) - 1;
  net.set_shape(pre, net.tensor(y).shape);
  net.tensor(pre).dtype = net.tensor(y).dtype;
  net.nodes()[mm].outputs[0] = pre;
  net.nodes()[add].inputs[0] = pre;
  net.nodes()[add].outputs[0] = y;
  *slot = 1;
  return add;
}

// add_to_bias on `net`: `node_name` a node of `net` itself, or one inside an If
// branch named under that branch's scope ("pick/then_branch/conv"; branch_scope),
// whose copy of the branch is edited and set back (attributes hold graphs by value).
void add_to_bias_in(Network& net, const std::string& node_name, const std::vector<float>& delta,
                    const std::string& what) {
  int found = -1;
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    if (net.nodes()[n].name == node_name) found = static_cast<int>(n);
  }
  if (found < 0) {
    for (Node& node : net.nodes()) {
      for (const char* attr : {"then_branch", "else_branch"}) {
        const Network* branch = node.op == "If" ? node.attrs.get_graph(attr) : nullptr;
        const std::string scope = branch ? branch_scope(node.name, attr) : std::string();
        if (!branch || node_name.compare(0, scope.size(), scope) != 0) continue;
        Network edited = *branch;
        add_to_bias_in(edited, node_name.substr(scope.size()), delta, what);
        node.attrs.set(attr, Attribute::of_graph(std::move(edited)));
        return;
      }
    }
    throw InvalidArgument(what + " is not in the optimized network");
  }
  const std::string op = net.nodes()[found].op;
  const bool rnn = op == "LSTM" || op == "GRU" || op == "RNN";
  if (op != "Conv" && op != "Gemm" && op != "MatMul" && !rnn) {
    throw InvalidArgument(what + " is a " + op + ", not a Conv, Gemm, MatMul, LSTM, GRU or RNN");
  }
  const std::vector<int> inputs = net.nodes()[found].inputs;
  if (inputs.size() < 2 || !net.tensor(inputs[1]).is_constant) throw InvalidArgument(what + ": weights are not constant");
  const Tensor& w = net.tensor(inputs[1]);
  int64_t channels = w.shape.empty() ? 0 : w.shape[0];
  if ((op == "Gemm" && !net.nodes()[found].attrs.get_int("transB", 0)) || op == "MatMul") {
    channels = w.shape.size() == 2 ? w.shape[1] : 0;
  }
  if (rnn) channels = w.shape.size() == 3 ? w.shape[0] * w.shape[1] : 0;  // [dirs, gates * hidden] gate rows
  if (static_cast<int64_t>(delta.size()) != channels) {
    throw InvalidArgument(what + ": " + std::to_string(delta.size()) + " values for " + std::to_string(channels) +
                          " output channels");
  }
  // Where the bias lives: input 2 (Conv, Gemm), input 3 (LSTM's, GRU's,
  // RNN's B: per direction Wb then Rb, 2 * gates * hidden values; delta goes
  // into Wb, which every gate adds outside GRU's reset product), or the
  // constant of the Add that alone reads a MatMul's output (the exporter's
  // Linear bias, which the int8 lowering folds into its QGemm); a MatMul
  // without one gets one (bias_add_for).
  int slot = rnn ? 3 : 2, reader = found;
  std::vector<int64_t> shape = {channels};
  if (op == "MatMul") {
    reader = linear_bias_reader(net, found, channels, &slot);
    if (reader < 0) reader = bias_add_for(net, found, channels, &slot);
    shape = net.tensor(net.nodes()[reader].inputs[slot]).shape;
  }
  const std::vector<int>& holder = net.nodes()[reader].inputs;
  const int64_t size = rnn ? 2 * channels : channels;
  if (rnn) shape = {w.shape[0], 2 * w.shape[1]};
  std::vector<float> bias(static_cast<size_t>(size), 0.f);
  const int b = static_cast<int>(holder.size()) > slot ? holder[slot] : -1;
  if (b >= 0) {
    const Tensor& bt = net.tensor(b);
    if (!bt.is_constant || bt.dtype != DataType::kFloat32 || static_cast<int64_t>(bt.f32.size()) != size) {
      throw InvalidArgument(what + ": bias is not a constant vector of one value per output channel");
    }
    bias = bt.f32;
  }
  const int64_t rows = rnn ? w.shape[1] : channels, stride = rnn ? 2 * rows : rows;  // per direction
  for (int64_t c = 0; c < channels; ++c) bias[static_cast<size_t>(c / rows * stride + c % rows)] += delta[c];
  std::string name = node_name + "::corrected_bias";
  for (int k = 2; net.find_tensor(name) >= 0; ++k) name = node_name + "::corrected_bias" + std::to_string(k);
  const int id = net.add_constant(name, std::move(shape), std::move(bias));
  Node& node = net.nodes()[reader];
  if (static_cast<int>(node.inputs.size()) <= slot) node.inputs.resize(slot + 1, -1);
  node.inputs[slot] = id;
}

}  // namespace

void Builder::add_to_bias(const std::string& node_name, const std::vector<float>& delta) {
  add_to_bias_in(impl_->optimized, node_name, delta, "add_to_bias: node '" + node_name + "'");
}

void Builder::set_node_constants(const std::vector<ConstantUpdate>& updates) {
  if (impl_->infinities_checked) {
    throw InvalidArgument("set_node_constants: calibration has started; constants change before the first batch");
  }
  Network& net = impl_->optimized;
  for (const ConstantUpdate& u : updates) {
    int found = -1;
    for (size_t n = 0; n < net.nodes().size(); ++n) {
      if (net.nodes()[n].name == u.node) found = static_cast<int>(n);
    }
    const std::string what = "set_node_constants: node '" + u.node + "' input " + std::to_string(u.input);
    if (found < 0) throw InvalidArgument(what + ": no such node in the optimized network");
    const std::vector<int>& inputs = net.nodes()[found].inputs;
    if (u.input < 0 || u.input >= static_cast<int>(inputs.size()) || inputs[u.input] < 0) {
      throw InvalidArgument(what + ": no such input");
    }
    const Tensor& old = net.tensor(inputs[u.input]);
    if (!old.is_constant || old.dtype != DataType::kFloat32) throw InvalidArgument(what + " is not a float32 constant");
    if (old.f32.size() != u.data.size()) {
      throw InvalidArgument(what + ": " + std::to_string(u.data.size()) + " values for a constant of " +
                            std::to_string(old.f32.size()));
    }
    std::string name = u.node + "::equalized" + std::to_string(u.input);
    for (int k = 2; net.find_tensor(name) >= 0; ++k) name = u.node + "::equalized" + std::to_string(u.input) + "_" + std::to_string(k);
    const int id = net.add_constant(name, old.shape, u.data);
    net.nodes()[found].inputs[u.input] = id;
  }
  if (!updates.empty()) remake_fp32();
}

void Builder::insert_channel_scale(const std::string& x, const std::vector<std::string>& consumers,
                                   const std::vector<float>& factors) {
  const std::string what = "insert_channel_scale: tensor '" + x + "'";
  if (impl_->infinities_checked) throw InvalidArgument(what + ": calibration has started");
  Network& net = impl_->optimized;
  const int t = net.find_tensor(x);
  if (t < 0) throw InvalidArgument(what + " is not in the optimized network");
  const std::vector<int64_t> shape = net.tensor(t).shape;
  if (net.tensor(t).is_constant || net.tensor(t).dtype != DataType::kFloat32 || shape.empty() ||
      shape.back() != static_cast<int64_t>(factors.size())) {
    throw InvalidArgument(what + ": needs a float32 activation whose last dimension is " +
                          std::to_string(factors.size()));
  }
  std::vector<int> users;
  for (const std::string& c : consumers) {
    int found = -1;
    for (size_t n = 0; n < net.nodes().size(); ++n) {
      if (net.nodes()[n].name == c) found = static_cast<int>(n);
    }
    const auto& ins = found >= 0 ? net.nodes()[found].inputs : std::vector<int>();
    if (std::find(ins.begin(), ins.end(), t) == ins.end()) throw InvalidArgument(what + ": node '" + c + "' does not read it");
    users.push_back(found);
  }
  const int f = net.add_constant(x + "::smooth_factors", {static_cast<int64_t>(factors.size())}, factors);
  const int y = net.add_node("Mul", x + "::smooth", {t, f}, Attributes(), {x + "::smoothed"})[0];
  net.set_shape(y, shape);
  for (int n : users) {
    for (int& in : net.nodes()[n].inputs) {
      if (in == t) in = y;
    }
  }
  remake_fp32();
}

void Builder::remake_fp32() {
  impl_->channel_amax.clear();  // they measured the network before the rewrite
  impl_->channel_varied.clear();
  impl_->ranges_frozen = false;
  Network& net = impl_->optimized;
  net.compact();
  impl_->fp32 = std::make_unique<engine::Executor>(net);
  impl_->annotate(impl_->fp32->probe_input_shapes());
  impl_->shapes_probed = !impl_->fp32->probe_input_shapes().empty();
  impl_->state = impl_->fp32->make_state();
  impl_->has_last = false;
  impl_->batch_rows.clear();  // tensor ids changed
  impl_->rows_for.clear();
  const auto& tensors = net.tensors();
  impl_->observe.assign(tensors.size(), 0);
  for (size_t t = 0; t < tensors.size(); ++t) {
    impl_->observe[t] = !tensors[t].is_constant && tensors[t].dtype == DataType::kFloat32;
  }
}

std::shared_ptr<Engine> Builder::build(const std::map<std::string, float>& scales) {
  std::map<std::string, std::string> metadata;
  metadata["int8rt_version"] = "0.1.0";
  metadata["device"] = config_.device;
  std::string report;
  for (const auto& line : report_) report += line + "\n";
  std::set<std::string> bf16_layers;
  for (const auto& kv : config_.layer_precisions) {
    if (kv.second == "bf16") bf16_layers.insert(kv.first);
  }
  if (config_.precision == Precision::kFloat32) {
    Network net = impl_->optimized;
    for (const auto& line : engine::mark_bf16_layers(net, bf16_layers, config_.bf16)) report += line + "\n";
    if (config_.optimize) {  // after calibration's last look at the unfused tensors; BF16 layers are skipped
      PassReport fused;
      fuse_matmul_epilogue(net, &fused);
      fuse_attention_softmax(net, &fused);
      fuse_bf16_attention(net, &fused);
      fuse_swish(net, &fused);
      fuse_float_chain(net, &fused);
      for (const auto& line : fused.lines) report += line + "\n";
    }
    for (const auto& line : engine::mark_bf16_tensors(net)) report += line + "\n";
    if (config_.channel_blocked) {
      for (const auto& line : engine::mark_bf16_blocked(net)) report += line + "\n";
      for (const auto& line : engine::mark_channel_blocked(net)) report += line + "\n";
    }
    if (config_.channels_last) {
      for (const auto& line : engine::mark_channels_last(net)) report += line + "\n";
    }
    metadata["precision"] = "fp32";
    metadata["report"] = report;
    return Engine::create(std::move(net), std::move(metadata));
  }
  engine::LoweringOptions options;
  options.scales = scales;
  options.pointwise_tables = config_.pointwise_tables;
  options.int8_gates = config_.int8_gates;
  // The device runner's gates read a float gate (ops/cuda): on "cuda" the
  // gate and output regions stay float layers on the device's plan.
  options.gate_regions = config_.device == "cpu";
  options.int8_matmul_pairs = config_.int8_matmul_pairs;
  options.unsigned_activations = config_.unsigned_activations;
  options.asymmetric_activations = config_.asymmetric_activations;
  if (config_.channel_activations) options.channel_ranges = impl_->channel_amax;
  for (const auto& kv : impl_->qdq_scales) options.scales.insert(kv);  // calibrated scales win
  options.merged_nodes = impl_->merged_nodes;
  options.weight_scales = impl_->weight_scales;
  options.calibrated_keys = impl_->calibration_keys;
  for (const auto& kv : config_.layer_precisions) {
    if (kv.second == "fp32" || kv.second == "bf16") options.fp32_layers.insert(kv.first);
  }
  engine::LoweringResult lowered = engine::lower_int8(impl_->optimized, options);
  for (const auto& line : lowered.report) report += line + "\n";
  for (const auto& line : engine::mark_bf16_layers(lowered.network, bf16_layers, config_.bf16)) {
    report += line + "\n";
  }
  for (const auto& line : engine::mark_bf16_tensors(lowered.network)) report += line + "\n";
  if (!config_.keep_activation_qdq) {  // a pre-quantized model's scales are its Q nodes, not `scales`
    for (const auto& line : engine::int8_coverage_warnings(impl_->optimized, lowered.network, options.scales)) {
      report += line + "\n";
    }
  }
  metadata["precision"] = "int8";
  metadata["report"] = report;
  std::string scale_lines;
  for (const auto& kv : scales) scale_lines += kv.first + ": " + quant::scale_to_hex(kv.second) + "\n";
  metadata["scales"] = scale_lines;
  std::shared_ptr<Engine> engine = Engine::create(std::move(lowered.network), std::move(metadata));
  engine->int8_plan_ = std::make_shared<const Int8Plan>(std::move(lowered.plan));
  return engine;
}

namespace {

// Checks one batch from IInt8Calibrator::get_batch as the Python loop does
// (python/int8rt/calib/session.py, _BatchChecker): one tensor per input, data
// size matching the shape (the FP32 run reads shape-many floats through a raw
// pointer), and the first axis equal to get_batch_size() when that is > 1.
// `index` counts batches from 1, as the Python messages do.
void check_batch(const std::vector<std::string>& names, const std::vector<HostTensor>& batch,
                 int64_t batch_size, int index) {
  const std::string where = "IInt8Calibrator::get_batch() batch " + std::to_string(index);
  if (batch.size() != names.size()) {
    throw InvalidArgument(where + ": returned " + std::to_string(batch.size()) + " tensors for " +
                          std::to_string(names.size()) + " inputs; one per name is needed");
  }
  for (size_t i = 0; i < names.size(); ++i) {
    const HostTensor& t = batch[i];
    const std::string what = where + ", input '" + names[i] + "'";
    const int64_t numel = checked_numel(t.shape, what + ": shape");
    const size_t held = t.held();
    if (numel != static_cast<int64_t>(held)) {
      throw InvalidArgument(what + ": shape holds " + std::to_string(numel) + " values but data has " +
                            std::to_string(held));
    }
    if (batch_size > 1 && !t.shape.empty() && t.shape[0] != batch_size) {
      throw InvalidArgument(what + ": first axis is " + std::to_string(t.shape[0]) +
                            " but get_batch_size() is " + std::to_string(batch_size));
    }
  }
}

}  // namespace

std::shared_ptr<Engine> build_engine(Network network, const BuilderConfig& config, IInt8Calibrator* calibrator) {
  Builder builder(std::move(network), config);
  if (config.precision == Precision::kFloat32) return builder.build({});
  if (!calibrator) throw InvalidArgument("an INT8 build needs a calibrator");
  std::map<std::string, float> scales;
  const std::string algorithm = calib::cache_algorithm_name(calibrator->get_algorithm());
  std::string cached = calibrator->read_calibration_cache();
  if (!cached.empty()) {
    calib::CalibrationCache cache;
    try {
      cache = calib::read_cache(cached);
    } catch (const FormatError& e) {
      throw FormatError(std::string("IInt8Calibrator::read_calibration_cache() returned a malformed cache: ") +
                        e.what());
    }
    if (cache.algorithm == algorithm) {
      for (const auto& kv : cache.scales) scales[kv.first] = kv.second;
    }
  }
  if (scales.empty()) {
    const int64_t batch_size = calibrator->get_batch_size();
    if (batch_size < 1) {
      throw InvalidArgument("IInt8Calibrator::get_batch_size() returned " + std::to_string(batch_size) +
                            "; expected a positive number");
    }
    calib::Collector collector(calibrator->get_algorithm(), calibrator->method_options());
    std::vector<std::string> names = builder.input_names();
    std::vector<HostTensor> batch;
    int batches = 0;
    while (calibrator->get_batch(names, batch)) {
      check_batch(names, batch, batch_size, batches + 1);
      std::map<std::string, TensorView> views;
      for (size_t i = 0; i < names.size(); ++i) views[names[i]] = batch[i].view();
      builder.calibrate_batch(views, collector);
      ++batches;
      batch.clear();
    }
    if (batches == 0) {
      throw InvalidArgument("IInt8Calibrator::get_batch() returned no batch on its first call; "
                            "calibration needs at least one batch");
    }
    for (const auto& kv : collector.scales()) scales[kv.first] = kv.second;
    calibrator->write_calibration_cache(calib::write_cache(collector.cache()));
  }
  return builder.build(scales);
}

}  // namespace int8rt

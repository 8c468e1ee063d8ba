// INT8 lowering of attention (lower_int8_lowerer.h, match_attention): the
// chain MatMul of two activations -> [Mul / Div by a scalar] -> up to two
// mask Adds, each over the scores or inside a Reshape of their batch dims
// and back -> Softmax -> [Where(IsNaN(p), 0, p)] -> MatMul becomes one
// int8rt.QAttention; so does talking-heads attention (CaiT), MatMul ->
// [Mul / Div] -> [head mix] -> Softmax -> [head mix] -> MatMul, each head
// mix timm's Transpose -> MatMul(W) -> Add(b) -> Transpose over the heads
// (head_mix.h; without a mask or the NaN guard), which otherwise ran as
// float Transposes, MatMuls, a float Softmax and a Quantize. Either chain
// becomes one
// int8rt.QAttention (engine/ops/int8/contracts.h, QAttentionAttrs), its
// probabilities on the unsigned grid under either zero-point switch. Where
// an int8 product reads probabilities whose key axis is dynamic, their grid
// follows the key count below the calibration's fewest keys (probs_keys,
// engine/ops/int8/probs_keys.h), so rows shorter than calibrated do not
// clip; where calibration did not record that count (a build from a cache
// alone) the report warns when the threshold clips short rows
// (warn_short_rows).
#include "engine/lower_int8_lowerer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/ops/int8/contracts.h"
#include "int8rt/error.h"
#include "int8rt/quantization.h"

namespace int8rt {
namespace engine {

// The node reading t alone when it is `op` (and not kept float), else null.
const Node* Lowerer::sole_reader_of(int t, const char* op) const {
  const int c = sole_reader(t);
  return c >= 0 && src_.nodes()[c].op == op ? &src_.nodes()[c] : nullptr;
}

bool Lowerer::match_attention(const Node& node) {
  const int scores = node.outputs[0];
  const int64_t rank = static_cast<int64_t>(src_.tensor(scores).shape.size());
  if (has_zero_points_) return false;  // a pre-quantized model's attention runs as its Q/DQ say
  AttentionMatch m;
  m.first = &node;
  int logits = scores;
  // Optional scale: Mul(scores, c) or Div(scores, c), c a float scalar constant.
  for (const char* op : {"Mul", "Div"}) {
    const Node* scale = sole_reader_of(logits, op);
    if (!scale || scale->inputs.size() != 2 || scale->outputs.size() != 1) continue;
    const int slot = scale->inputs[0] == logits ? 1 : 0;
    const Tensor& c = src_.tensor(scale->inputs[slot]);
    if ((slot == 0 && scale->op == "Div") || !c.is_constant || c.dtype != DataType::kFloat32 || c.f32.size() != 1 ||
        c.shape.size() > static_cast<size_t>(rank) || !std::isfinite(c.f32[0]) || c.f32[0] == 0.f) {
      return false;
    }
    m.scores_factor = c.f32[0];
    m.scores_divide = scale->op == "Div";
    m.between.push_back(scale);
    logits = scale->outputs[0];
    break;
  }
  // Talking heads: the scores' mix over the heads, then straight to the softmax.
  const int mixed = head_mix_after(logits, &m.heads.scores, &m.between);
  if (mixed >= 0) logits = mixed;
  // Up to two masks: Add(logits, mask), the mask a float tensor broadcasting
  // to the logits as they are shaped there: the scores, or a Reshape of
  // their batch dims (attention_view) that a later Reshape undoes.
  std::vector<int64_t> view;  // the logits' batch dims where they differ from the scores'
  for (int c = mixed >= 0 ? -1 : sole_reader(logits); c >= 0; c = sole_reader(logits)) {
    const Node* n = &src_.nodes()[c];
    if (n->op == "Reshape") {
      if (!attention_view(*n, scores, &view)) return false;
    } else if (n->op == "Add" && m.masks.size() < 2) {
      if (n->inputs.size() != 2 || n->outputs.size() != 1) return false;
      const int mask = n->inputs[n->inputs[0] == logits ? 1 : 0];
      const Tensor& mt = src_.tensor(mask);
      if (mask == logits || mt.dtype != DataType::kFloat32 ||
          mt.shape.size() > src_.tensor(logits).shape.size() ||
          src_.tensor(n->outputs[0]).shape != src_.tensor(logits).shape) {
        return false;  // (a mask widening the scores is no mask)
      }
      m.masks.push_back({mask, view});
    } else {
      break;
    }
    m.between.push_back(n);
    logits = n->outputs[0];
  }
  if (!view.empty()) return false;  // the softmax reads a regrouped view
  const Node* softmax = sole_reader_of(logits, "Softmax");
  if (!softmax || softmax->outputs.size() != 1 || softmax->attrs.get_int("coerce_2d", 0) != 0) return false;
  const int64_t axis = softmax->attrs.get_int("axis", -1);
  if ((axis < 0 ? axis + rank : axis) != rank - 1) return false;
  m.between.push_back(softmax);
  // Optional NaN guard: Where(IsNaN(p), 0, p), p read by those two only.
  m.probs = softmax->outputs[0];
  const int mixed_probs = head_mix_after(m.probs, &m.heads.probs, &m.between);
  if (mixed_probs >= 0) m.probs = mixed_probs;
  if (m.heads.scores.heads > 0 && m.heads.probs.heads > 0 && m.heads.scores.heads != m.heads.probs.heads) return false;
  const std::vector<int>& readers = index_.readers(m.probs);
  if (readers.size() == 2 && !index_.is_output(m.probs) && !m.heads.active()) {
    const Node* isnan = nullptr;
    const Node* where = nullptr;
    for (int r : readers) {
      const Node& n = src_.nodes()[r];
      if (n.op == "IsNaN") isnan = &n;
      if (n.op == "Where") where = &n;
    }
    if (!isnan || !where || consumed_[readers[0]] || consumed_[readers[1]]) return false;
    const Tensor* zero = where->inputs.size() == 3 ? &src_.tensor(where->inputs[1]) : nullptr;
    if (sole_reader_of(isnan->outputs[0], "Where") != where || where->inputs[0] != isnan->outputs[0] ||
        where->inputs[2] != m.probs || !zero || !zero->is_constant || zero->f32.size() != 1 || zero->f32[0] != 0.f) {
      return false;
    }
    m.between.push_back(isnan);
    m.between.push_back(where);
    m.probs = where->outputs[0];
    m.nan_to_zero = true;
  }
  const Node* mm = sole_reader_of(m.probs, "MatMul");
  if (!mm || !has_scale(m.probs) || mm->inputs.size() != 2 || mm->inputs[0] != m.probs || mm->inputs[1] == m.probs ||
      !matmul_pair_lowers(*mm)) {
    return false;
  }
  // The layer is emitted when the second MatMul's turn comes: by then the
  // mask and v, which the graph may compute after the first MatMul, exist.
  for (const Node* n : m.between) consumed_[static_cast<size_t>(n - src_.nodes().data())] = 1;
  attention_at_[static_cast<int>(mm - src_.nodes().data())] = m;
  return true;
}

int Lowerer::head_mix_after(int t, HeadMix* mix, std::vector<const Node*>* nodes) const {
  const std::vector<int64_t>& ts = src_.tensor(t).shape;
  if (ts.size() != 4 || ts[1] < 1) return -1;
  const int64_t H = ts[1];
  auto transpose = [&](int x, std::vector<int64_t> perm) -> const Node* {
    const Node* n = sole_reader_of(x, "Transpose");
    return n && n->outputs.size() == 1 && n->attrs.get_ints("perm", {}) == perm ? n : nullptr;
  };
  auto constant = [&](int x, size_t count) -> const Tensor* {
    const Tensor& c = src_.tensor(x);
    return c.is_constant && c.dtype == DataType::kFloat32 && c.f32.size() == count ? &c : nullptr;
  };
  const Node* in = transpose(t, {0, 2, 3, 1});
  const Node* mm = in ? sole_reader_of(in->outputs[0], "MatMul") : nullptr;
  if (!mm || mm->inputs.size() != 2 || mm->inputs[0] != in->outputs[0] || mm->outputs.size() != 1) return -1;
  const Tensor* w = constant(mm->inputs[1], static_cast<size_t>(H * H));
  if (!w || w->shape != std::vector<int64_t>{H, H}) return -1;
  int mixed = mm->outputs[0];
  const Node* add = sole_reader_of(mixed, "Add");
  const Tensor* b = nullptr;
  if (add && add->inputs.size() == 2 && add->outputs.size() == 1) {
    const int other = add->inputs[add->inputs[0] == mixed ? 1 : 0];
    b = constant(other, static_cast<size_t>(H));
    if (!b || b->shape.empty() || b->shape.back() != H || other == mixed) return -1;  // (a bias over the heads only)
    mixed = add->outputs[0];
  }
  const Node* out = transpose(mixed, {0, 3, 1, 2});
  if (!out || src_.tensor(out->outputs[0]).shape != ts) return -1;
  mix->heads = H;
  mix->w = w->f32;
  mix->b = b ? b->f32 : std::vector<float>{};
  for (const Node* n : {in, mm, add ? add : nullptr, out}) {
    if (n) nodes->push_back(n);
  }
  return out->outputs[0];
}

bool Lowerer::attention_view(const Node& reshape, int scores, std::vector<int64_t>* view) const {
  if (reshape.inputs.size() != 2 || reshape.outputs.size() != 1) return false;
  const Tensor& target = src_.tensor(reshape.inputs[1]);
  if (!target.is_constant || target.dtype != DataType::kInt64) return false;  // the view must not vary
  if (reshape.attrs.get_int("allowzero", 0) != 0 && std::count(target.i64.begin(), target.i64.end(), 0) != 0) {
    return false;  // (allowzero matters only where the target holds a 0: torch's exports set it)
  }
  const std::vector<int64_t>& ss = src_.tensor(scores).shape;
  const std::vector<int64_t>& out = src_.tensor(reshape.outputs[0]).shape;
  if (out == ss) {  // back to the scores' shape (at most one dim unknown: the same dims at run time)
    view->clear();
    return std::count(ss.begin(), ss.end(), -1) <= 1;
  }
  const size_t r = ss.size();
  if (out.size() < 2 || r < 2 || out[out.size() - 2] != ss[r - 2] || out.back() != ss[r - 1] || ss[r - 2] < 1 ||
      ss[r - 1] < 1) {
    return false;  // only the batch dims may be regrouped; M and N known
  }
  std::vector<int64_t> batch(out.begin(), out.end() - 2);
  if (std::count(batch.begin(), batch.end(), -1) > 1 ||
      std::any_of(batch.begin(), batch.end(), [](int64_t d) { return d < 1 && d != -1; })) {
    return false;
  }
  *view = std::move(batch);
  return true;
}

void Lowerer::lower_attention(const AttentionMatch& m, const Node& mm) {
  std::vector<std::string> sources = sources_of(*m.first);
  QAttentionAttrs a;
  const int q = m.first->inputs[0], k = untransposed(m.first->inputs[1], &a.k_transposed, &sources);
  const int v = untransposed(mm.inputs[1], &a.v_transposed, &sources);
  a.nan_to_zero = m.nan_to_zero;
  a.scores_factor = m.scores_factor;
  a.scores_divide = m.scores_divide;
  const int y = mm.outputs[0];
  const bool int8_out = int8_output_wanted(y);
  std::vector<int> ins = {int8_in(q, Layout::kLogical), int8_in(k, Layout::kLogical), int8_in(v, Layout::kLogical)};
  for (const AttentionMask& mask : m.masks) ins.push_back(get_float(mask.tensor));
  if (!m.masks.empty()) a.mask_view = m.masks[0].view;
  if (m.masks.size() > 1) a.mask2_view = m.masks[1].view;
  a.q_scale = qscale_[q];
  a.k_scale = qscale_[k];
  a.probs_scale = scale(m.probs);
  if ((opt_.unsigned_activations || opt_.asymmetric_activations) && m.heads.probs.heads == 0) {  // (mixed: signed)
    // The probabilities are never negative: either zero-point switch holds
    // them on the unsigned grid (255 levels over [0, threshold], as ONNX
    // Runtime's uint8 Softmax output) instead of symmetric int8's codes
    // 0..127; the product with v takes the zero point (QAttentionAttrs).
    const quant::AffineGrid g = quant::lower_bounded_grid(static_cast<float>(a.probs_scale), 0.f);
    if (g.ok) {
      a.probs_scale = g.scale;
      a.probs_zero_point = g.zero_point;
    }
  }
  a.v_scale = qscale_[v];
  a.out_scale = int8_out ? scale(y) : 0.0;
  std::string name = m.first->name;
  for (const Node* n : m.between) {
    for (std::string& src : sources_of(*n)) sources.push_back(std::move(src));
    name += "+" + n->name;
  }
  for (std::string& src : sources_of(mm)) sources.push_back(std::move(src));
  name += "+" + mm.name;
  const ProbsKeys keys = m.heads.active() ? ProbsKeys{} : probs_keys(m.probs);  // (mixed probabilities: no such rule)
  Attributes attrs = a.to_attrs();
  keys.add_to(attrs);
  m.heads.add_to(attrs);
  add_linear_output(QAttentionAttrs::kOp, name, std::move(sources), ins, std::move(attrs), y, int8_out);
  note("attention '" + name + "' runs as one int8rt.QAttention: its scores and probabilities stay in cache" +
       (m.heads.active() ? "; talking heads: its mixes over the heads too" : "") +
       (a.probs_zero_point ? "; the probabilities on the unsigned grid" : "") + keys.describe());
  if (!m.heads.active()) warn_short_rows(m.probs, name, keys);
}

ProbsKeys Lowerer::probs_keys(int probs) const {
  ProbsKeys keys;
  const Tensor& p = src_.tensor(probs);
  if (p.shape.empty() || p.shape.back() >= 0 || !has_scale(probs)) return keys;  // a static key axis: as calibrated
  auto it = opt_.calibrated_keys.find(p.name);
  if (it != opt_.calibrated_keys.end() && it->second > 0) keys.calibrated = it->second;
  return keys;
}

// Issues 11 / 12 (RESULTS.md §133.2, §135): a probability threshold
// calibrated on rows of n keys is about 1/n where attention is near uniform,
// and a row's largest probability is at least 1/keys, so rows over fewer
// than 1/threshold keys clip at least one probability each, whatever the
// weights. That matters only where the engine can meet such rows (the key
// axis unknown at build time) and the grid does not follow the key count
// (probs_keys inactive: the build has no key count, as in a build from a
// calibration cache without the sidecar that carries it,
// python/int8rt/calib/channel_ranges.py). The rule is silent for a threshold above 1/2 (only rows of one key could
// clip) and for a static key axis.
void Lowerer::warn_short_rows(int probs, const std::string& layer, const ProbsKeys& grid) {
  const Tensor& p = src_.tensor(probs);
  if (grid.active() || p.shape.empty() || p.shape.back() >= 0 || !has_scale(probs)) return;
  const double threshold = static_cast<double>(scale(probs)) * 127.0;  // symmetric scale = threshold / 127
  if (!(threshold <= 0.5)) return;
  const double keys = std::ceil(1.0 / threshold);
  char figures[96];
  std::snprintf(figures, sizeof figures, "threshold %.4g: every row over fewer than %.0f keys", threshold, keys);
  note("warning: the attention probabilities '" + p.name + "' that the int8 product '" + layer +
       "' reads have a dynamic key axis and " + figures +
       " clips (a row's largest probability is at least 1/keys), and this build has no calibrated key count (scales "
       "from a calibration cache without its sidecar '<cache>.channels.json', which carries it), so the grid cannot "
       "follow the key count of shorter rows; at sequences shorter than calibrated, calibrate on data in this "
       "process, or keep the cache's sidecar, or calibrate on batches of the shortest length too, or build with "
       "int8_matmul_pairs=False");
}

bool Lowerer::is_last_axis_softmax(int t) const {
  const int64_t rank = static_cast<int64_t>(src_.tensor(t).shape.size());
  for (const Node& n : src_.nodes()) {
    if (n.op != "Softmax" || n.outputs.empty() || n.outputs[0] != t) continue;
    const int64_t axis = n.attrs.get_int("axis", -1);
    return (axis < 0 ? axis + rank : axis) == rank - 1;
  }
  return false;
}

}  // namespace engine
}  // namespace int8rt

// Einsum (ONNX, numpy's einsum): any number of float32 / float64 / float16
// operands and an equation "lhs[->rhs]". Each operand's term names its axes
// with letters (a-z, A-Z); "..." stands for the leading axes not named, which
// broadcast across operands (right-aligned; a size 1 broadcasts). A letter
// repeated in one term takes that operand's diagonal. Without "->" the output
// is the broadcast "..." axes, then the letters that occur once, in
// alphabetical (ASCII) order, as numpy does.
//
// This is the general reference kernel: for each output element it sums,
// over every combination of the contracted letters, the product of the
// operands' elements, accumulating in the compute type of engine/dtypes.h
// (float for float32 and float16, double for float64) in the letters'
// odometer order, one rounding at the end for float16. It is a plain loop,
// not a GEMM: MatMul-shaped equations run at reference speed.
#include <algorithm>
#include <cctype>
#include <string>

#include "core/checked_math.h"
#include "core/thread_pool.h"
#include "engine/dtypes.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

constexpr int kLetters = 52;  // a-z, A-Z; ellipsis axes get ids kLetters + k

int letter_id(char c) { return std::islower(static_cast<unsigned char>(c)) ? c - 'a' : c - 'A' + 26; }
bool is_letter(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// One term of the equation: its letters in order, and where "..." stands
// (-1: absent).
struct Term {
  std::string letters;
  int ellipsis_at = -1;
};

Term parse_term(const std::string& text, const std::string& prefix) {
  Term t;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 3, "...") == 0) {
      if (t.ellipsis_at >= 0) throw InvalidArgument(prefix + "equation term '" + text + "' has two ellipses");
      t.ellipsis_at = static_cast<int>(t.letters.size());
      i += 2;
    } else if (is_letter(text[i])) {
      t.letters += text[i];
    } else {
      throw InvalidArgument(prefix + "equation term '" + text + "' has the character '" + text[i] + "'");
    }
  }
  return t;
}

// The equation, parsed once at creation.
struct Equation {
  std::vector<Term> inputs;
  bool explicit_output = false;
  Term output;
};

Equation parse_equation(std::string eq, const std::string& prefix) {
  std::string s;
  for (char c : eq) {
    if (!std::isspace(static_cast<unsigned char>(c))) s += c;
  }
  Equation e;
  const size_t arrow = s.find("->");
  const std::string lhs = s.substr(0, arrow);
  if (arrow != std::string::npos) {
    e.explicit_output = true;
    e.output = parse_term(s.substr(arrow + 2), prefix);
  }
  size_t begin = 0;
  while (true) {
    const size_t comma = lhs.find(',', begin);
    e.inputs.push_back(parse_term(lhs.substr(begin, comma - begin), prefix));
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  return e;
}

// Axis ids of one operand of rank `rank`: its letters, with "..." expanded
// to ellipsis ids right-aligned over `ell` ellipsis axes in all.
std::vector<int> axis_ids(const Term& t, size_t rank, size_t* ell_rank, const std::string& prefix, size_t k) {
  const size_t named = t.letters.size();
  if (t.ellipsis_at < 0 ? rank != named : rank < named) {
    throw InvalidArgument(prefix + "operand " + std::to_string(k) + " has rank " + std::to_string(rank) +
                          ", which its term does not fit");
  }
  const size_t ell = rank - named;
  *ell_rank = std::max(*ell_rank, ell);
  std::vector<int> ids;
  for (size_t i = 0; i < named; ++i) {
    if (static_cast<int>(i) == t.ellipsis_at) {
      for (size_t j = 0; j < ell; ++j) ids.push_back(-static_cast<int>(ell - j));  // -ell..-1, fixed later
    }
    ids.push_back(letter_id(t.letters[i]));
  }
  if (t.ellipsis_at == static_cast<int>(named)) {
    for (size_t j = 0; j < ell; ++j) ids.push_back(-static_cast<int>(ell - j));
  }
  return ids;
}

// The loop plan of one run: output axes, contracted axes, their sizes, and
// each operand's element stride along each of them.
struct Plan {
  std::vector<int64_t> out_sizes, sum_sizes;
  std::vector<std::vector<int64_t>> out_strides, sum_strides;  // [operand][axis]
};

class EinsumLayer : public Layer {
 public:
  EinsumLayer(const Node& node, Equation eq) : eq_(std::move(eq)), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const DataType t = require_any(in, 0, prefix_).dtype();
    if (!is_float_dtype(t)) throw InvalidArgument(prefix_ + "operands must be float32, float64 or float16");
    for (size_t k = 1; k < in.size(); ++k) {
      if (require_any(in, k, prefix_).dtype() != t) throw InvalidArgument(prefix_ + "operands must share one dtype");
    }
    return {{t, plan(in, nullptr)}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    Plan p;
    plan(in, &p);
    visit_numeric(in[0]->dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (kIsFloat<T>) compute<T>(in, p, *out[0]);
    });
  }

  std::string describe() const override { return "einsum (reference loop)"; }
  // An empty operand is legal: an empty output axis gives no elements, an
  // empty contracted axis sums nothing (zeros); no element is read either way.
  bool accepts_empty_inputs() const override { return true; }

 private:
  // The output shape; with `p`, also the loop plan.
  Shape plan(const std::vector<const Value*>& in, Plan* p) const {
    if (in.size() != eq_.inputs.size()) {
      throw InvalidArgument(prefix_ + "the equation has " + std::to_string(eq_.inputs.size()) + " terms for " +
                            std::to_string(in.size()) + " operands");
    }
    size_t ell = 0;
    std::vector<std::vector<int>> ids(in.size());
    for (size_t k = 0; k < in.size(); ++k) ids[k] = axis_ids(eq_.inputs[k], in[k]->shape().size(), &ell, prefix_, k);
    // The ellipsis axes, right-aligned over all operands: -1 (the last) -> kLetters + ell - 1, ...
    auto fix = [&](int id) { return id >= 0 ? id : kLetters + static_cast<int>(ell) + id; };
    const int n_ids = kLetters + static_cast<int>(ell);
    std::vector<int64_t> size(n_ids, -1);
    std::vector<int> count(n_ids, 0);
    for (size_t k = 0; k < in.size(); ++k) {
      for (size_t a = 0; a < ids[k].size(); ++a) {
        const int id = ids[k][a] = fix(ids[k][a]);
        const int64_t d = in[k]->shape()[a];
        ++count[id];
        if (size[id] < 0 || size[id] == 1) {
          size[id] = d;
        } else if (d != size[id] && !(id >= kLetters && d == 1)) {
          throw InvalidArgument(prefix_ + "axis '" + (id < kLetters ? std::string(1, eq_letter(id)) : "...") +
                                "' has sizes " + std::to_string(size[id]) + " and " + std::to_string(d));
        }
      }
    }
    std::vector<int> out_ids;
    for (size_t j = 0; j < ell; ++j) out_ids.push_back(kLetters + static_cast<int>(j));
    if (eq_.explicit_output) {
      size_t out_ell = 0;
      std::vector<int> named = axis_ids(eq_.output, eq_.output.letters.size() + (eq_.output.ellipsis_at >= 0 ? ell : 0),
                                        &out_ell, prefix_, in.size());
      out_ids.clear();
      for (int id : named) {
        id = fix(id);
        if (id < kLetters && count[id] == 0) {
          throw InvalidArgument(prefix_ + "output letter '" + eq_letter(id) + "' is in no input term");
        }
        out_ids.push_back(id);
      }
    } else {
      for (int id = 0; id < kLetters; ++id) {
        if (count[id] == 1) out_ids.push_back(id);  // a-z then A-Z: reorder to ASCII (A-Z first) below
      }
      std::stable_partition(out_ids.begin() + static_cast<int64_t>(ell), out_ids.end(),
                            [](int id) { return id >= 26 && id < kLetters; });
    }
    Shape out_shape;
    std::vector<char> in_output(n_ids, 0);
    for (int id : out_ids) {
      out_shape.push_back(size[id]);
      in_output[id] = 1;
    }
    if (!p) return out_shape;
    std::vector<int> sum_ids;
    for (int id = 0; id < n_ids; ++id) {
      if (count[id] > 0 && !in_output[id]) sum_ids.push_back(id);
    }
    p->out_sizes = out_shape;
    for (int id : sum_ids) p->sum_sizes.push_back(size[id]);
    for (size_t k = 0; k < in.size(); ++k) {
      const Shape& s = in[k]->shape();
      std::vector<int64_t> stride_of(n_ids, 0);  // a repeated letter adds its axes' strides: the diagonal
      int64_t st = 1;
      for (size_t a = s.size(); a-- > 0;) {
        if (s[a] != 1) stride_of[ids[k][a]] += st;
        st *= s[a];
      }
      std::vector<int64_t> os, ss;
      for (int id : out_ids) os.push_back(stride_of[id]);
      for (int id : sum_ids) ss.push_back(stride_of[id]);
      p->out_strides.push_back(os);
      p->sum_strides.push_back(ss);
    }
    return out_shape;
  }

  char eq_letter(int id) const { return static_cast<char>(id < 26 ? 'a' + id : 'A' + id - 26); }

  template <typename T>
  void compute(const std::vector<const Value*>& in, const Plan& p, Value& out) const {
    using A = Arith<T>;
    using C = typename A::C;
    const size_t k_ops = in.size(), n_out = p.out_sizes.size(), n_sum = p.sum_sizes.size();
    int64_t sum_count = 1;
    for (int64_t d : p.sum_sizes) sum_count = checked_mul(sum_count, d, "Einsum contraction size");
    std::vector<const T*> x(k_ops);
    for (size_t k = 0; k < k_ops; ++k) x[k] = in[k]->data<T>();
    T* y = out.data<T>();
    const int64_t grain = std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, sum_count));
    parallel_for(out.numel(), grain, [&](int64_t b, int64_t e) {
      std::vector<int64_t> base(k_ops), off(k_ops), idx(n_sum);
      for (int64_t o = b; o < e; ++o) {
        std::fill(base.begin(), base.end(), 0);
        for (int64_t rest = o, a = static_cast<int64_t>(n_out) - 1; a >= 0; --a) {
          const int64_t i = rest % p.out_sizes[a];
          rest /= p.out_sizes[a];
          for (size_t k = 0; k < k_ops; ++k) base[k] += i * p.out_strides[k][a];
        }
        std::fill(idx.begin(), idx.end(), 0);
        off = base;
        C acc = C(0);
        for (int64_t s = 0; s < sum_count; ++s) {
          C prod = A::load(x[0][off[0]]);
          for (size_t k = 1; k < k_ops; ++k) prod *= A::load(x[k][off[k]]);
          acc += prod;
          for (size_t a = n_sum; a-- > 0;) {  // odometer over the contracted axes
            for (size_t k = 0; k < k_ops; ++k) off[k] += p.sum_strides[k][a];
            if (++idx[a] < p.sum_sizes[a]) break;
            for (size_t k = 0; k < k_ops; ++k) off[k] -= p.sum_strides[k][a] * p.sum_sizes[a];
            idx[a] = 0;
          }
        }
        y[o] = A::store(acc);
      }
    });
  }

  Equation eq_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_einsum(const Network&, const Node& node) {
  require_inputs(node, std::max<size_t>(1, node.inputs.size()));
  const std::string prefix = layer_error_prefix(node);
  return std::make_unique<EinsumLayer>(node, parse_equation(node.attrs.get_string("equation", ""), prefix));
}

INT8RT_REGISTER_LAYER("Einsum", make_einsum);

}  // namespace
}  // namespace engine
}  // namespace int8rt

// Einsum: any equation numpy.einsum accepts — explicit or implicit output,
// ellipsis (broadcast between operands), repeated labels within an operand
// (diagonals), labels summed away, size-1 broadcasting.
//
// Reference evaluation: one loop over every combination of label values
// (output labels, then summed labels), multiplying the operands' elements
// and adding into the output element. The equation is parsed once at load.
//
// Accumulation: float types in double; integers in uint64_t, whose
// arithmetic is defined modulo 2^64, so overflow wraps like the element
// type's two's complement arithmetic after conversion back.
#include <map>

#include "runtime/kernels/reference/tensor_util.h"

namespace onnxq::runtime {
namespace {

constexpr int kEllipsisBase = 1000;  // label ids of ellipsis dims: 1000, 1001, ...

struct Term {
  std::vector<int> labels;  // letter labels (char codes); -1 marks the ellipsis
  bool has_ellipsis = false;
};

Term parse_term(const std::string& s, const std::string& eq) {
  Term t;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '.') {
      if (t.has_ellipsis || s.compare(i, 3, "...") != 0)
        throw Error("Einsum: malformed ellipsis in equation '" + eq + "'");
      t.has_ellipsis = true;
      t.labels.push_back(-1);
      i += 2;
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      t.labels.push_back(c);
    } else {
      throw Error("Einsum: unexpected character '" + std::string(1, c) + "' in equation '" + eq + "'");
    }
  }
  return t;
}

class EinsumKernel : public Kernel {
 public:
  explicit EinsumKernel(const KernelInit& init) {
    std::string eq;
    for (char c : init.node.attr_s("equation", ""))
      if (!std::isspace(static_cast<unsigned char>(c))) eq += c;
    if (eq.empty()) throw Error("Einsum: missing 'equation' attribute");
    equation_ = eq;
    size_t arrow = eq.find("->");
    std::string lhs = arrow == std::string::npos ? eq : eq.substr(0, arrow);
    size_t start = 0;
    while (true) {
      size_t comma = lhs.find(',', start);
      inputs_.push_back(parse_term(lhs.substr(start, comma - start), eq));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (static_cast<int>(inputs_.size()) != static_cast<int>(init.node.inputs().size()))
      throw Error("Einsum: equation '" + eq + "' has " + std::to_string(inputs_.size()) +
                  " operands, the node has " + std::to_string(init.node.inputs().size()) + " inputs");
    if (arrow != std::string::npos) {
      output_ = parse_term(eq.substr(arrow + 2), eq);
      explicit_output_ = true;
      for (int l : output_.labels) {
        if (l < 0) continue;
        if (std::count(output_.labels.begin(), output_.labels.end(), l) > 1)
          throw Error("Einsum: output label '" + std::string(1, static_cast<char>(l)) + "' is repeated");
        bool found = false;
        for (const Term& t : inputs_)
          found = found || std::find(t.labels.begin(), t.labels.end(), l) != t.labels.end();
        if (!found)
          throw Error("Einsum: output label '" + std::string(1, static_cast<char>(l)) +
                      "' does not appear in the inputs");
      }
    }
  }

  void compute(KernelContext& ctx) override {
    const int n = static_cast<int>(inputs_.size());
    std::vector<const Tensor*> xs;
    for (int i = 0; i < n; ++i) {
      xs.push_back(&ctx.in(i));
      if (xs.back()->dtype() != xs[0]->dtype()) throw ctx.error("Einsum: inputs differ in element type");
    }
    // Expand each operand's ellipsis into numbered labels, right-aligned
    // across operands so that ellipsis dims broadcast.
    int ell_rank = 0;
    std::vector<int> ell_dims(static_cast<size_t>(n), 0);
    for (int i = 0; i < n; ++i) {
      const Term& t = inputs_[i];
      int letters = static_cast<int>(t.labels.size()) - (t.has_ellipsis ? 1 : 0);
      int extra = xs[i]->rank() - letters;
      if (extra < 0 || (!t.has_ellipsis && extra != 0))
        throw ctx.error("Einsum: operand " + std::to_string(i) + " of shape " +
                        shape_str(xs[i]->shape()) + " does not match equation '" + equation_ + "'");
      ell_dims[i] = extra;
      ell_rank = std::max(ell_rank, extra);
    }
    auto expand = [&](const Term& t, int extra) {
      std::vector<int> out;
      for (int l : t.labels) {
        if (l >= 0) out.push_back(l);
        else
          for (int k = ell_rank - extra; k < ell_rank; ++k) out.push_back(kEllipsisBase + k);
      }
      return out;
    };
    std::vector<std::vector<int>> in_labels;
    for (int i = 0; i < n; ++i) in_labels.push_back(expand(inputs_[i], ell_dims[i]));

    // Label sizes: equal across uses, or 1 (broadcast).
    std::map<int, int64_t> size;
    for (int i = 0; i < n; ++i)
      for (size_t d = 0; d < in_labels[i].size(); ++d) {
        int l = in_labels[i][d];
        int64_t s = xs[i]->dim(static_cast<int>(d));
        auto it = size.find(l);
        if (it == size.end() || it->second == 1) size[l] = s;
        else if (s != 1 && s != it->second)
          throw ctx.error("Einsum: dimension sizes " + std::to_string(s) + " and " +
                          std::to_string(it->second) + " conflict for one label in '" + equation_ + "'");
      }

    // Output labels: explicit, or implicit (ellipsis dims, then the letters
    // used exactly once, in character order).
    std::vector<int> out_labels;
    if (explicit_output_) {
      if (!output_.has_ellipsis && ell_rank > 0) {
        // numpy requires '...' in the output when operands have ellipsis dims.
        throw ctx.error("Einsum: output of '" + equation_ + "' needs '...' for the broadcast dimensions");
      }
      out_labels = expand(output_, ell_rank);
    } else {
      for (int k = 0; k < ell_rank; ++k) out_labels.push_back(kEllipsisBase + k);
      std::map<int, int> count;
      for (const Term& t : inputs_)
        for (int l : t.labels)
          if (l >= 0) ++count[l];
      for (const auto& [l, c] : count)
        if (c == 1) out_labels.push_back(l);
    }
    // Every label gets a loop: output labels first, then the summed ones.
    std::vector<int> loop_labels = out_labels;
    for (const auto& [l, s] : size)
      if (std::find(out_labels.begin(), out_labels.end(), l) == out_labels.end()) loop_labels.push_back(l);
    Shape loop_shape;
    for (int l : loop_labels) loop_shape.push_back(size[l]);
    Shape out_shape(loop_shape.begin(), loop_shape.begin() + static_cast<long>(out_labels.size()));

    // Stride of each loop label in each operand (repeated labels add up,
    // which walks the diagonal; size-1 dims get stride 0).
    std::vector<std::vector<int64_t>> strides(static_cast<size_t>(n),
                                              std::vector<int64_t>(loop_labels.size(), 0));
    for (int i = 0; i < n; ++i) {
      std::vector<int64_t> rs = row_major_strides(xs[i]->shape());
      for (size_t d = 0; d < in_labels[i].size(); ++d) {
        if (xs[i]->dim(static_cast<int>(d)) == 1) continue;
        size_t li = static_cast<size_t>(
            std::find(loop_labels.begin(), loop_labels.end(), in_labels[i][d]) - loop_labels.begin());
        strides[i][li] += rs[d];
      }
    }
    // Repeated labels in one operand must have equal dims.
    for (int i = 0; i < n; ++i)
      for (size_t a = 0; a < in_labels[i].size(); ++a)
        for (size_t b = a + 1; b < in_labels[i].size(); ++b)
          if (in_labels[i][a] == in_labels[i][b] &&
              xs[i]->dim(static_cast<int>(a)) != xs[i]->dim(static_cast<int>(b)))
            throw ctx.error("Einsum: a repeated label has different sizes in operand " + std::to_string(i));

    Tensor& y = ctx.output(0, xs[0]->dtype(), out_shape);
    if (shape_numel(loop_shape) == 0) return;  // zero-filled (an empty sum is 0)
    const std::vector<int64_t> out_strides = row_major_strides(out_shape);
    dispatch_numeric(xs[0]->dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using C = compute_t<T>;
      using A = std::conditional_t<std::is_floating_point_v<C>, double, uint64_t>;
      std::vector<A> acc(static_cast<size_t>(y.numel()), A(0));
      std::vector<const T*> src;
      for (const Tensor* x : xs) src.push_back(x->data<T>());
      std::vector<int64_t> idx(loop_shape.size(), 0);
      do {
        A prod = A(1);
        for (int i = 0; i < n; ++i) {
          int64_t off = 0;
          for (size_t l = 0; l < loop_shape.size(); ++l) off += idx[l] * strides[i][l];
          prod = static_cast<A>(prod * static_cast<A>(static_cast<C>(src[i][off])));
        }
        int64_t o = 0;
        for (size_t l = 0; l < out_shape.size(); ++l) o += idx[l] * out_strides[l];
        acc[static_cast<size_t>(o)] = static_cast<A>(acc[static_cast<size_t>(o)] + prod);
      } while (next_index(idx, loop_shape));
      T* dst = y.data<T>();
      for (int64_t i = 0; i < y.numel(); ++i) dst[i] = static_cast<T>(static_cast<C>(acc[i]));
    }, "Einsum");
  }

 private:
  std::string equation_;
  std::vector<Term> inputs_;
  Term output_;
  bool explicit_output_ = false;
};

}  // namespace

ONNXQ_REGISTER_KERNEL("", "Einsum", 12, kMaxOpset, ONNXQ_NUMERIC_TYPES,
                      [](const KernelInit& i) { return std::make_unique<EinsumKernel>(i); });

}  // namespace onnxq::runtime

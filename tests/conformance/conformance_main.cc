// Runs ONNX's backend test cases (Debian's libonnx-testdata) on onnxq's
// runtime and compares with the stored outputs.
//
// A case is skipped (and listed with the reason) when it uses an operator
// onnxq does not implement, non-tensor inputs, or appears in exclusions.txt
// with a written reason. Everything else must pass: a failure is a bug.
//
// Tolerance: float outputs |got - want| <= atol + rtol * |want| with
// rtol = 1e-3, atol = 1e-5 (ONNX's backend runner uses rtol 1e-3);
// integer, bool and string outputs must be exact.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>

#include "ir/onnx_io.h"
#include "runtime/session.h"

namespace fs = std::filesystem;
using namespace onnxq;

namespace {

constexpr double kRtol = 1e-3;
constexpr double kAtol = 1e-5;

struct Options {
  std::string root = "/usr/share/libonnx-testdata/data";
  // Every tests/conformance/exclusions*.txt: "case_name  reason" per line.
  std::string exclusions = std::string(ONNXQ_SOURCE_DIR) + "/tests/conformance";
  std::string filter;
  bool verbose = false;
  bool list_skipped = false;
  int min_node_pass = 0;
};

std::string compare(const Tensor& got, const Tensor& want) {
  if (got.dtype() != want.dtype())
    return "type " + dtype_name(got.dtype()) + ", expected " + dtype_name(want.dtype());
  if (got.shape() != want.shape())
    return "shape " + shape_str(got.shape()) + ", expected " + shape_str(want.shape());
  if (got.dtype() == DType::String)
    return got.strings() == want.strings() ? "" : "string values differ";
  bool is_float = dtype_is_float(got.dtype());
  for (int64_t i = 0; i < got.numel(); ++i) {
    double a = got.value_as_double(i), b = want.value_as_double(i);
    if (std::isnan(a) && std::isnan(b)) continue;
    bool ok = is_float ? (a == b || std::fabs(a - b) <= kAtol + kRtol * std::fabs(b)) : a == b;
    if (!ok) {
      std::ostringstream os;
      os << "element " << i << ": got " << a << ", expected " << b;
      return os.str();
    }
  }
  return "";
}

void read_exclusion_file(const std::string& path, std::map<std::string, std::string>& out) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string name, reason;
    ls >> name;
    std::getline(ls, reason);
    reason.erase(0, reason.find_first_not_of(" \t"));
    if (!name.empty()) out[name] = reason.empty() ? "excluded" : reason;
  }
}

std::map<std::string, std::string> read_exclusions(const std::string& path) {
  std::map<std::string, std::string> out;
  if (fs::is_directory(path)) {
    for (const auto& e : fs::directory_iterator(path)) {
      std::string n = e.path().filename().string();
      if (n.rfind("exclusions", 0) == 0 && e.path().extension() == ".txt")
        read_exclusion_file(e.path().string(), out);
    }
  } else {
    read_exclusion_file(path, out);
  }
  return out;
}

enum class Outcome { Pass, Fail, Skip };

Outcome run_case(const fs::path& dir, std::string& detail) {
  std::unique_ptr<ir::Model> model;
  try {
    model = ir::load_model((dir / "model.onnx").string());
  } catch (const Error& e) {
    detail = std::string("load: ") + e.what();
    return Outcome::Fail;
  }
  for (ir::Value* v : model->graph->inputs())
    if (v->type.kind == ir::TypeInfo::Kind::Other) {
      detail = "non-tensor input type (sequence/optional)";
      return Outcome::Skip;
    }
  for (ir::Value* v : model->graph->outputs())
    if (v->type.kind == ir::TypeInfo::Kind::Other) {
      detail = "non-tensor output type (sequence/optional)";
      return Outcome::Skip;
    }
  std::unique_ptr<runtime::Session> session;
  try {
    session = std::make_unique<runtime::Session>(*model);
  } catch (const Error& e) {
    std::string msg = e.what();
    // Only the registry's "no kernel for this operator" is a skip; a kernel
    // refusing its attributes at load time is a failure.
    if (msg.rfind("operator '", 0) == 0 && msg.find("is not supported") != std::string::npos) {
      detail = msg;
      return Outcome::Skip;
    }
    detail = "session: " + msg;
    return Outcome::Fail;
  }
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0)
      sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) {
    detail = "no test data sets";
    return Outcome::Skip;
  }
  const auto& names = session->input_names();
  for (const auto& set : sets) {
    runtime::NamedTensors feeds;
    for (size_t i = 0;; ++i) {
      fs::path p = set / ("input_" + std::to_string(i) + ".pb");
      if (!fs::exists(p)) break;
      if (i >= names.size()) {
        detail = "more input files than model inputs";
        return Outcome::Fail;
      }
      feeds.emplace_back(names[i], ir::load_tensor_pb(p.string()));
    }
    std::vector<Tensor> got;
    try {
      got = session->run(feeds);
    } catch (const Error& e) {
      detail = set.filename().string() + ": " + e.what();
      return Outcome::Fail;
    }
    for (size_t i = 0; i < got.size(); ++i) {
      fs::path p = set / ("output_" + std::to_string(i) + ".pb");
      if (!fs::exists(p)) continue;
      Tensor want = ir::load_tensor_pb(p.string());
      std::string diff = compare(got[i], want);
      if (!diff.empty()) {
        detail = set.filename().string() + " output " + std::to_string(i) + " ('" +
                 session->output_names()[i] + "'): " + diff;
        return Outcome::Fail;
      }
    }
  }
  return Outcome::Pass;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "missing value for " << a << "\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--root") o.root = next();
    else if (a == "--exclusions") o.exclusions = next();
    else if (a == "--filter") o.filter = next();
    else if (a == "--verbose" || a == "-v") o.verbose = true;
    else if (a == "--list-skipped") o.list_skipped = true;
    else if (a == "--min-node-pass") o.min_node_pass = std::stoi(next());
    else if (a == "--help" || a == "-h") {
      std::cout << "usage: onnxq_conformance [--root DIR] [--filter REGEX] [--verbose]\n"
                   "                         [--list-skipped] [--exclusions FILE|DIR] [--min-node-pass N]\n";
      return 0;
    } else {
      std::cerr << "unknown option " << a << "\n";
      return 2;
    }
  }
  if (!fs::exists(o.root)) {
    std::cerr << o.root << ": not found (install libonnx-testdata: scripts/setup.sh)\n";
    return 1;
  }
  auto exclusions = read_exclusions(o.exclusions);
  std::regex filter(o.filter.empty() ? ".*" : o.filter);
  const char* suites[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};
  int total_pass = 0, total_fail = 0, total_skip = 0;
  std::map<std::string, int> skip_reasons;
  std::vector<std::string> failures, skipped;
  int node_pass = 0;
  for (const char* suite : suites) {
    fs::path sdir = fs::path(o.root) / suite;
    if (!fs::exists(sdir)) continue;
    std::vector<fs::path> cases;
    for (const auto& e : fs::directory_iterator(sdir))
      if (e.is_directory()) cases.push_back(e.path());
    std::sort(cases.begin(), cases.end());
    int pass = 0, fail = 0, skip = 0;
    for (const auto& c : cases) {
      std::string name = c.filename().string();
      if (!std::regex_search(name, filter)) continue;
      std::string detail;
      Outcome r;
      if (auto it = exclusions.find(name); it != exclusions.end()) {
        r = Outcome::Skip;
        detail = "excluded: " + it->second;
      } else {
        r = run_case(c, detail);
      }
      std::string label = std::string(suite) + "/" + name;
      if (r == Outcome::Pass) {
        ++pass;
        if (o.verbose) std::cout << "PASS " << label << "\n";
      } else if (r == Outcome::Fail) {
        ++fail;
        failures.push_back(label + ": " + detail);
        std::cout << "FAIL " << label << ": " << detail << "\n";
      } else {
        ++skip;
        std::string reason = detail;
        // Group "operator 'X' ... is not supported (node...)" by operator.
        if (auto p = reason.find(" is not supported"); p != std::string::npos &&
                                                        reason.rfind("operator", 0) == 0)
          reason = reason.substr(0, p) + " is not supported";
        skip_reasons[reason]++;
        skipped.push_back(label + ": " + detail);
        if (o.verbose) std::cout << "SKIP " << label << ": " << detail << "\n";
      }
    }
    std::cout << suite << ": " << pass << " passed, " << fail << " failed, " << skip << " skipped\n";
    if (std::string(suite) == "node") node_pass = pass;
    total_pass += pass;
    total_fail += fail;
    total_skip += skip;
  }
  std::cout << "\nSkipped, by reason:\n";
  std::vector<std::pair<int, std::string>> reasons;
  for (const auto& [r, n] : skip_reasons) reasons.emplace_back(n, r);
  std::sort(reasons.rbegin(), reasons.rend());
  for (const auto& [n, r] : reasons) std::cout << "  " << n << "  " << r << "\n";
  if (o.list_skipped)
    for (const auto& s : skipped) std::cout << "SKIP " << s << "\n";
  std::cout << "\n" << total_pass << " passed, " << total_fail << " failed, " << total_skip
            << " skipped\n";
  if (total_fail > 0) return 1;
  if (node_pass < o.min_node_pass) {
    std::cout << "only " << node_pass << " node cases passed; at least " << o.min_node_pass
              << " are required\n";
    return 1;
  }
  return 0;
}

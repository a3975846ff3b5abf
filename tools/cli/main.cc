// onnxq: the command-line entry point. Wires up the subcommands and turns
// every failure into one line on stderr and an exit code:
//   0 ok, 1 failure (onnxq::Error: bad model, file, unsupported operator...),
//   2 usage error (bad option, CLI11 parse error, onnxq::UsageError).
#include <algorithm>
#include <csignal>
#include <exception>
#include <iostream>
#include <new>
#include <string>

#include "commands.h"
#include "core/error.h"

namespace {

// Messages from the onnx checker or protobuf may span lines; an error is
// always reported on exactly one.
std::string one_line(const std::string& msg) {
  std::string out;
  bool pending_sep = false;
  for (char c : msg) {
    if (c == '\n' || c == '\r') {
      pending_sep = !out.empty();
      continue;
    }
    if (pending_sep) {
      while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
      if (!out.empty() && out.back() != ':' && out.back() != ';' && out.back() != '.') out += ';';
      out += ' ';
      pending_sep = false;
      if (c == ' ' || c == '\t') continue;
    }
    if (c == '\t') c = ' ';
    // Names from a corrupt file may hold control bytes; keep the terminal sane.
    if ((static_cast<unsigned char>(c) < 0x20 && c != ' ') || c == 0x7f) c = '?';
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out.empty() ? "unknown error" : out;
}

int fail(const std::string& msg, int code) {
  std::cout.flush();
  std::cerr << "onnxq: error: " << one_line(msg) << std::endl;
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // `onnxq inspect m.onnx | head` must not kill us mid-write
  CLI::App app{"onnxq: run, inspect, quantize and lower ONNX models.\n"
               "Exit codes: 0 ok, 1 failure, 2 usage error.",
               "onnxq"};
  app.set_version_flag("--version", "onnxq 0.1.0");
  app.require_subcommand(1);
  app.fallthrough(false);
  onnxq::cli::add_inspect_command(app);
  onnxq::cli::add_check_command(app);
  onnxq::cli::add_run_command(app);
  onnxq::cli::add_preprocess_command(app);
  onnxq::cli::add_calibrate_command(app);
  onnxq::cli::add_quantize_command(app);
  onnxq::cli::add_lower_command(app);
  onnxq::cli::add_verify_command(app);
  onnxq::cli::add_eval_command(app);
  onnxq::cli::add_bench_command(app);

  // CLI11 would report a misspelled command as "A subcommand is required".
  std::vector<CLI::App*> subs = app.get_subcommands([](CLI::App*) { return true; });
  if (argc > 1 && argv[1][0] != '-' &&
      std::none_of(subs.begin(), subs.end(), [&](CLI::App* s) { return s->check_name(argv[1]); })) {
    std::string names;
    for (const CLI::App* sub : subs) names += (names.empty() ? "" : ", ") + sub->get_name();
    return fail("unknown command '" + std::string(argv[1]) + "' (commands: " + names +
                    "; see 'onnxq --help')",
                2);
  }

  try {
    app.parse(argc, argv);  // subcommands run in their callbacks
    std::cout.flush();
    if (!std::cout) return fail("cannot write to standard output", 1);
    return 0;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::string help = "onnxq";
    for (const CLI::App* sub : app.get_subcommands()) help += " " + sub->get_name();
    return fail(std::string(e.what()) + " (see '" + help + " --help')", 2);
  } catch (const onnxq::UsageError& e) {
    return fail(e.what(), 2);
  } catch (const onnxq::Error& e) {
    return fail(e.what(), 1);
  } catch (const std::bad_alloc&) {
    return fail("out of memory", 1);
  } catch (const std::exception& e) {
    return fail(std::string("internal error: ") + e.what(), 1);
  } catch (...) {
    return fail("internal error: unknown exception", 1);
  }
}

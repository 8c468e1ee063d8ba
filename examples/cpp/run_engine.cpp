// run_engine: loads an int8rt engine file and runs it from C++ (the
// deployment half of DESIGN.md's user path: Engine::load ->
// create_execution_context -> run).
//
//   run_engine ENGINE [--input [NAME=]FILE.raw]... [--batch N] [--seed S]
//              [--iters N] [--threads N] [--top K] [--print-values]
//
// Inputs come from raw little-endian float32 files (row-major, the network's
// layout; the batch is the file size over one sample's size when the engine's
// batch is dynamic) or, for inputs without a file, are generated uniformly in
// [-1, 1) from --seed. Prints each output's shape and top values, and the
// latency (median and minimum over --iters runs after one warm-up run).
// Exit status: 0 on success, 1 on a usage error, 2 on an int8rt::Error, 3 on
// any other exception.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <int8rt/int8rt.h>

#include "example_util.h"

namespace {

struct Options {
  std::string engine_path;
  std::map<std::string, std::string> input_files;  // "" key: the only input
  int64_t batch = 1;
  uint64_t seed = 0;
  int iters = 10;
  int threads = 0;
  int top = 5;
  bool print_values = false;
};

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "run_engine: %s\nusage: run_engine ENGINE [--input [NAME=]FILE.raw]... [--batch N] [--seed S]\n"
               "                  [--iters N] [--threads N] [--top K] [--print-values]\n",
               problem.c_str());
  std::exit(1);
}

long long parse_int(const std::string& flag, const std::string& text, long long min) {
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < min) usage(flag + " needs an integer >= " + std::to_string(min));
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--input") {
      std::string v = value();
      size_t eq = v.find('=');
      if (eq == std::string::npos) o.input_files[""] = v;
      else o.input_files[v.substr(0, eq)] = v.substr(eq + 1);
    } else if (a == "--batch") {
      o.batch = parse_int(a, value(), 1);
    } else if (a == "--seed") {
      o.seed = static_cast<uint64_t>(parse_int(a, value(), 0));
    } else if (a == "--iters") {
      o.iters = static_cast<int>(parse_int(a, value(), 1));
    } else if (a == "--threads") {
      o.threads = static_cast<int>(parse_int(a, value(), 1));
    } else if (a == "--top") {
      o.top = static_cast<int>(parse_int(a, value(), 1));
    } else if (a == "--print-values") {
      o.print_values = true;
    } else if (!a.empty() && a[0] == '-') {
      usage("unknown option " + a);
    } else if (o.engine_path.empty()) {
      o.engine_path = a;
    } else {
      usage("more than one engine file given");
    }
  }
  if (o.engine_path.empty()) usage("no engine file given");
  return o;
}

std::vector<float> read_raw_floats(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw int8rt::InvalidArgument("cannot open input file '" + path + "'");
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (bytes.size() % sizeof(float) != 0) {
    throw int8rt::InvalidArgument("input file '" + path + "' has " + std::to_string(bytes.size()) +
                                  " bytes, not a whole number of float32 values");
  }
  std::vector<float> data(bytes.size() / sizeof(float));
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(data.data()));
  return data;
}

// Shape and data of one input: from its file, or generated.
int8rt::HostTensor make_input(const std::string& name, std::vector<int64_t> shape, const Options& o,
                              const std::string& file, uint64_t seed) {
  int8rt::HostTensor t;
  bool dynamic = !shape.empty() && shape[0] < 0;
  if (file.empty()) {
    if (dynamic) shape[0] = o.batch;
    t.shape = shape;
    t.data.resize(static_cast<size_t>(example::num_elements(shape)));
    example::Random rng(seed);
    for (float& v : t.data) v = rng.uniform(-1.0f, 1.0f);
    std::printf("input %s: shape %s, generated (seed %llu)\n", name.c_str(), example::shape_str(shape).c_str(),
                static_cast<unsigned long long>(seed));
    return t;
  }
  t.data = read_raw_floats(file);
  int64_t n = static_cast<int64_t>(t.data.size());
  if (dynamic) {
    std::vector<int64_t> sample(shape.begin() + 1, shape.end());
    int64_t per = example::num_elements(sample);
    if (per <= 0 || n == 0 || n % per != 0) {
      throw int8rt::InvalidArgument("input file '" + file + "' holds " + std::to_string(n) +
                                    " floats, not a whole number of samples of shape " +
                                    example::shape_str(sample) + " for input '" + name + "'");
    }
    shape[0] = n / per;
  } else if (n != example::num_elements(shape)) {
    throw int8rt::InvalidArgument("input file '" + file + "' holds " + std::to_string(n) + " floats; input '" +
                                  name + "' of shape " + example::shape_str(shape) + " needs " +
                                  std::to_string(example::num_elements(shape)));
  }
  t.shape = shape;
  std::printf("input %s: shape %s, from %s\n", name.c_str(), example::shape_str(shape).c_str(), file.c_str());
  return t;
}

int run(const Options& o) {
  if (o.threads > 0) int8rt::set_num_threads(o.threads);
  std::shared_ptr<int8rt::Engine> engine = int8rt::Engine::load(o.engine_path);
  auto precision = engine->metadata().find("precision");
  std::printf("engine %s: %s, %zu layers, %d threads\n", o.engine_path.c_str(),
              precision == engine->metadata().end() ? "?" : precision->second.c_str(), engine->layers().size(),
              int8rt::get_num_threads());

  std::vector<std::string> names = engine->input_names();
  if (o.input_files.count("") && names.size() != 1) {
    throw int8rt::InvalidArgument("the engine has " + std::to_string(names.size()) +
                                  " inputs: name each file with --input NAME=FILE");
  }
  for (const auto& kv : o.input_files) {
    if (!kv.first.empty() && std::find(names.begin(), names.end(), kv.first) == names.end()) {
      throw int8rt::InvalidArgument("--input names '" + kv.first + "', which is not an input of the engine");
    }
  }
  std::map<std::string, int8rt::HostTensor> data;
  std::map<std::string, int8rt::TensorView> views;
  for (size_t i = 0; i < names.size(); ++i) {
    auto file = o.input_files.count(names[i]) ? o.input_files.at(names[i])
                                              : (o.input_files.count("") ? o.input_files.at("") : "");
    data[names[i]] = make_input(names[i], engine->tensor_shape(names[i]), o, file, o.seed + i);
    views[names[i]] = {data[names[i]].data.data(), data[names[i]].shape};
  }

  std::unique_ptr<int8rt::ExecutionContext> context = engine->create_execution_context();
  std::map<std::string, int8rt::HostTensor> outputs = context->run(views);  // warm-up, and the printed result
  std::vector<double> ms;
  for (int it = 0; it < o.iters; ++it) {
    auto t0 = std::chrono::steady_clock::now();
    context->run(views);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  for (const auto& kv : outputs) {
    std::printf("output %s: shape %s\n", kv.first.c_str(), example::shape_str(kv.second.shape).c_str());
    example::print_top_values(kv.second, o.top, 8);
    if (o.print_values) example::print_all_values(kv.first, kv.second);
  }
  std::sort(ms.begin(), ms.end());
  std::printf("latency: median %.3f ms, min %.3f ms over %d runs\n", ms[ms.size() / 2], ms.front(), o.iters);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options = parse(argc, argv);
  try {
    return run(options);
  } catch (const int8rt::Error& e) {
    std::fprintf(stderr, "run_engine: int8rt error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "run_engine: error: %s\n", e.what());
    return 3;
  }
}

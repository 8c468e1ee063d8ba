// build_engine: the whole INT8 workflow from C++ with no Python (DESIGN.md,
// "The user's path"; TensorRT's INetworkDefinition + IInt8EntropyCalibrator2
// + buildSerializedNetwork, in int8rt's API).
//
//   build_engine [--out-dir DIR] [--demo-error]
//
// 1. Defines a small CNN with the network-definition API and deterministic
//    weights: Conv3x3(3->16)+ReLU, MaxPool2, Conv3x3(16->32)+ReLU, AvgPool2,
//    Flatten, FullyConnected(512->10).
// 2. Builds an FP32 engine, then an INT8 engine calibrated by a C++
//    IInt8Calibrator over generated images; the calibrator writes its cache.
// 3. Saves the INT8 engine, loads it back and runs both (and FP32) on held-out
//    generated images; checks the reloaded engine is identical and INT8 is
//    within a stated bound of FP32.
// 4. Builds again with a fresh calibrator that reads the cache: get_batch is
//    never called and the engine is byte-identical.
// Writes DIR/example.i8rt, DIR/example_calibration.cache and
// DIR/example_input.raw (the held-out images, for run_engine --input).
// --demo-error makes the calibrator break the contract, to show the error.
// Exit status: 0 when every check passes, 1 when one fails or on a usage
// error, 2 on an int8rt::Error, 3 on any other exception.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <int8rt/int8rt.h>

#include "example_util.h"

namespace {

constexpr int64_t kChannels = 3, kSize = 16, kClasses = 10;
constexpr int kCalibBatchSize = 8, kCalibBatches = 16;
constexpr int64_t kTestImages = 64;
// INT8 vs FP32 bound, as a fraction of the FP32 logits' largest magnitude.
// The INT8 engine quantizes the input, both conv outputs and the flattened
// features per tensor to 8 bits: each rounds to at most amax/254 and the
// entropy thresholds clip the rare large values. Measured on these images:
// 1.3% (max |diff| 0.072 of 5.40, gcc 12 on x86-64); the bound is 3x that.
constexpr double kRelativeBound = 0.04;

// Images with structure (per-channel sinusoids of random frequency and phase)
// plus noise, so calibration sees realistic, non-uniform activation ranges.
std::vector<float> make_images(int64_t count, uint64_t seed) {
  example::Random rng(seed);
  std::vector<float> out;
  out.reserve(static_cast<size_t>(count * kChannels * kSize * kSize));
  for (int64_t n = 0; n < count; ++n) {
    for (int64_t c = 0; c < kChannels; ++c) {
      float fx = rng.uniform(0.1f, 0.8f), fy = rng.uniform(0.1f, 0.8f), phase = rng.uniform(0.0f, 6.283f);
      for (int64_t y = 0; y < kSize; ++y) {
        for (int64_t x = 0; x < kSize; ++x) {
          float v = std::sin(fx * static_cast<float>(x) + fy * static_cast<float>(y) + phase);
          out.push_back(v + rng.uniform(-0.2f, 0.2f));
        }
      }
    }
  }
  return out;
}

// Uniform weights in +-sqrt(6 / fan_in) (He-uniform): activations keep their
// scale through the ReLU layers.
std::vector<float> make_weights(example::Random& rng, int64_t count, int64_t fan_in) {
  float limit = std::sqrt(6.0f / static_cast<float>(fan_in));
  std::vector<float> w(static_cast<size_t>(count));
  for (float& v : w) v = rng.uniform(-limit, limit);
  return w;
}

int8rt::Network make_network() {
  example::Random rng(42);
  int8rt::Network net;
  int x = net.add_input("image", {-1, kChannels, kSize, kSize});
  x = net.add_convolution(x, 16, {3, 3}, make_weights(rng, 16 * kChannels * 9, kChannels * 9),
                          make_weights(rng, 16, 16), {1, 1}, {1, 1, 1, 1}, 1, {1, 1}, "conv1");
  x = net.add_activation(x, "Relu", 0.0, 0.0, "relu1");
  x = net.add_pooling(x, "MaxPool", {2, 2}, {2, 2}, {0, 0, 0, 0}, "pool1");  // 16x16 -> 8x8
  x = net.add_convolution(x, 32, {3, 3}, make_weights(rng, 32 * 16 * 9, 16 * 9), make_weights(rng, 32, 32),
                          {1, 1}, {1, 1, 1, 1}, 1, {1, 1}, "conv2");
  x = net.add_activation(x, "Relu", 0.0, 0.0, "relu2");
  x = net.add_pooling(x, "AveragePool", {2, 2}, {2, 2}, {0, 0, 0, 0}, "pool2");  // 8x8 -> 4x4
  int8rt::Attributes flatten;
  flatten.set("axis", int8rt::Attribute::of_int(1));
  x = net.add_node("Flatten", "flatten", {x}, flatten, {"features"})[0];
  const int64_t features = 32 * 4 * 4;
  x = net.add_fully_connected(x, kClasses, make_weights(rng, kClasses * features, features),
                              make_weights(rng, kClasses, kClasses), "fc");
  net.mark_output(x);
  return net;
}

// The IInt8EntropyCalibrator2 contract (int8rt/builder.h) over generated
// images, with the cache kept in a file as TensorRT samples do.
class ImageCalibrator : public int8rt::IInt8Calibrator {
 public:
  ImageCalibrator(std::string cache_path, bool break_contract)
      : cache_path_(std::move(cache_path)), break_contract_(break_contract) {}

  int get_batch_size() const override { return kCalibBatchSize; }

  bool get_batch(const std::vector<std::string>& names, std::vector<int8rt::HostTensor>& batch) override {
    ++get_batch_calls_;
    if (served_ == kCalibBatches) return false;
    int8rt::HostTensor images;
    images.shape = {kCalibBatchSize, kChannels, kSize, kSize};
    images.data = make_images(kCalibBatchSize, 1000 + static_cast<uint64_t>(served_));
    batch.push_back(std::move(images));
    if (break_contract_) batch.push_back(batch.front());  // two tensors for names.size() == 1 inputs
    (void)names;
    ++served_;
    return true;
  }

  std::string read_calibration_cache() override {
    std::ifstream f(cache_path_, std::ios::binary);
    if (!f) return "";
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }

  void write_calibration_cache(const std::string& cache) override {
    std::ofstream f(cache_path_, std::ios::binary | std::ios::trunc);
    f << cache;
    if (!f) throw std::runtime_error("cannot write calibration cache '" + cache_path_ + "'");
  }

  int8rt::calib::Method get_algorithm() const override { return int8rt::calib::Method::kEntropy; }

  int get_batch_calls() const { return get_batch_calls_; }
  int batches_served() const { return served_; }

 private:
  std::string cache_path_;
  bool break_contract_;
  int get_batch_calls_ = 0;
  int served_ = 0;
};

struct Checks {
  int failed = 0;
  void expect(bool ok, const std::string& what) {
    std::printf("check %s: %s\n", ok ? "ok" : "FAILED", what.c_str());
    if (!ok) ++failed;
  }
};

int8rt::HostTensor run_once(const int8rt::Engine& engine, const std::vector<float>& images, int64_t count) {
  int8rt::TensorView view{images.data(), {count, kChannels, kSize, kSize}};
  auto outputs = engine.create_execution_context()->run({{"image", view}});
  return outputs.begin()->second;  // the network's one output
}

int run(const std::string& out_dir, bool demo_error) {
  const std::string engine_path = out_dir + "/example.i8rt";
  const std::string cache_path = out_dir + "/example_calibration.cache";
  const std::string input_path = out_dir + "/example_input.raw";
  Checks checks;

  int8rt::BuilderConfig fp32_config;
  fp32_config.precision = int8rt::Precision::kFloat32;
  std::shared_ptr<int8rt::Engine> fp32 = int8rt::build_engine(make_network(), fp32_config, nullptr);

  std::remove(cache_path.c_str());
  int8rt::BuilderConfig int8_config;  // precision kInt8 by default
  ImageCalibrator calibrator(cache_path, demo_error);
  std::shared_ptr<int8rt::Engine> int8 = int8rt::build_engine(make_network(), int8_config, &calibrator);
  std::printf("built INT8 engine: %zu layers, calibrated on %d batches of %d images\n", int8->layers().size(),
              calibrator.batches_served(), kCalibBatchSize);
  for (const int8rt::LayerInfo& layer : int8->layers()) {
    std::printf("  %-12s %-20s %s\n", layer.name.c_str(), layer.op.c_str(), layer.precision.c_str());
  }
  checks.expect(calibrator.batches_served() == kCalibBatches, "calibrator served all its batches");
  std::string cache = ImageCalibrator(cache_path, false).read_calibration_cache();
  checks.expect(cache.rfind("TRT-", 0) == 0 && cache.find("EntropyCalibration2") != std::string::npos,
                "calibration cache written (" + cache_path + ")");

  int8->save(engine_path);
  std::shared_ptr<int8rt::Engine> reloaded = int8rt::Engine::load(engine_path);
  checks.expect(reloaded->serialize() == int8->serialize(), "saved and reloaded engine serializes identically");

  std::vector<float> images = make_images(kTestImages, 7);
  std::ofstream(input_path, std::ios::binary)
      .write(reinterpret_cast<const char*>(images.data()), static_cast<std::streamsize>(images.size() * 4));
  int8rt::HostTensor ref = run_once(*fp32, images, kTestImages);
  int8rt::HostTensor q = run_once(*int8, images, kTestImages);
  int8rt::HostTensor q_loaded = run_once(*reloaded, images, kTestImages);
  checks.expect(q_loaded.shape == q.shape && q_loaded.data == q.data,
                "reloaded engine's outputs equal the built engine's (exact)");

  double max_ref = 0.0, max_err = 0.0;
  int top1_same = 0;
  for (int64_t n = 0; n < kTestImages; ++n) {
    int64_t best_ref = 0, best_q = 0;
    for (int64_t k = 0; k < kClasses; ++k) {
      size_t i = static_cast<size_t>(n * kClasses + k);
      max_ref = std::max(max_ref, std::fabs(static_cast<double>(ref.data[i])));
      max_err = std::max(max_err, std::fabs(static_cast<double>(q.data[i]) - ref.data[i]));
      if (ref.data[i] > ref.data[static_cast<size_t>(n * kClasses + best_ref)]) best_ref = k;
      if (q.data[i] > q.data[static_cast<size_t>(n * kClasses + best_q)]) best_q = k;
    }
    top1_same += best_ref == best_q;
  }
  std::printf("INT8 vs FP32 on %lld held-out images: max |diff| %.5f, max |fp32| %.5f, top-1 agreement %d/%lld\n",
              static_cast<long long>(kTestImages), max_err, max_ref, top1_same, static_cast<long long>(kTestImages));
  checks.expect(max_err <= kRelativeBound * max_ref,
                "INT8 within the bound " + std::to_string(kRelativeBound) + " x max|fp32| = " +
                    std::to_string(kRelativeBound * max_ref));
  std::printf("output logits: shape %s (INT8)\n", example::shape_str(q.shape).c_str());
  example::print_top_values(q, 3, 2);

  ImageCalibrator cached(cache_path, false);
  std::shared_ptr<int8rt::Engine> from_cache = int8rt::build_engine(make_network(), int8_config, &cached);
  checks.expect(cached.get_batch_calls() == 0, "second build used the cache: get_batch not called");
  checks.expect(from_cache->serialize() == int8->serialize(), "engine built from the cache is byte-identical");

  if (checks.failed) {
    std::printf("%d check(s) FAILED\n", checks.failed);
    return 1;
  }
  std::printf("all checks passed; wrote %s, %s, %s\n", engine_path.c_str(), cache_path.c_str(), input_path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_dir = ".";
  bool demo_error = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--out-dir" && i + 1 < argc) {
      out_dir = argv[++i];
    } else if (a == "--demo-error") {
      demo_error = true;
    } else {
      std::fprintf(stderr, "usage: build_engine [--out-dir DIR] [--demo-error]\n");
      return 1;
    }
  }
  try {
    return run(out_dir, demo_error);
  } catch (const int8rt::Error& e) {
    std::fprintf(stderr, "build_engine: int8rt error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "build_engine: error: %s\n", e.what());
    return 3;
  }
}

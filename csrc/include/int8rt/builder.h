// Building an engine from a network: graph passes, FP32 calibration over the
// calibrator's batches, INT8 lowering (TensorRT's IBuilder + IBuilderConfig +
// IInt8Calibrator, in C++).
//
// Two ways in:
//  - build_engine(network, config, calibrator): one call, the C++ calibrator
//    below supplies batches (a C++ program needs no Python);
//  - the Builder's steps (Python drives these so that user calibrators stay
//    in Python): Builder(...), calibrate_batch(...) per batch with a
//    calib::Collector, then build(scales).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "int8rt/calibration.h"
#include "int8rt/engine.h"
#include "int8rt/network.h"

namespace int8rt {

enum class Precision { kFloat32, kInt8 };

struct BuilderConfig {
  Precision precision = Precision::kInt8;
  // Layer (node) name -> "fp32" keeps that layer in float32.
  std::map<std::string, std::string> layer_precisions;
  bool optimize = true;  // run the graph passes (BN folding, fusions, ...)
};

// The IInt8EntropyCalibrator2 contract in C++.
class IInt8Calibrator {
 public:
  virtual ~IInt8Calibrator() = default;
  virtual int get_batch_size() const = 0;
  // Fills one tensor per name, in order; returns false when data is exhausted.
  virtual bool get_batch(const std::vector<std::string>& names, std::vector<HostTensor>& batch) = 0;
  // A previously written cache, or "" for none.
  virtual std::string read_calibration_cache() { return ""; }
  virtual void write_calibration_cache(const std::string& cache) { (void)cache; }
  virtual calib::Method get_algorithm() const { return calib::Method::kEntropy; }
  virtual calib::MethodOptions method_options() const { return {}; }
};

class Builder {
 public:
  // Validates the network, infers static shapes and runs the graph passes.
  Builder(Network network, BuilderConfig config);
  ~Builder();

  const Network& optimized_network() const;
  const std::vector<std::string>& report() const { return report_; }
  std::vector<std::string> input_names() const;
  // Tensors that calibration observes: network inputs and float node outputs.
  std::vector<std::string> calibration_tensors() const;

  // Runs the optimized network in float32 on one batch and streams each
  // calibration tensor into `collector` (named by tensor).
  void calibrate_batch(const std::map<std::string, TensorView>& inputs, calib::Collector& collector);

  // Lowers with the given scales (ignored for float32) and creates the engine.
  std::shared_ptr<Engine> build(const std::map<std::string, float>& scales);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  BuilderConfig config_;
  std::vector<std::string> report_;
};

// One call: passes, calibration (cache honoured as in TensorRT: a present
// cache with the calibrator's algorithm skips calibration), lowering.
std::shared_ptr<Engine> build_engine(Network network, const BuilderConfig& config,
                                     IInt8Calibrator* calibrator);

}  // namespace int8rt

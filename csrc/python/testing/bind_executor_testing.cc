// Private test hooks: int8rt._testing.run_single_op / run_single_op_batches,
// set_pool_spin_ns (the thread pool's spin before blocking, for
// benchmarks that compare spinning and blocking in one process) and
// set_batch_split (engine/batch_split.h: parts per thread, 0 = off, for
// tests and benchmarks that compare split and unsplit runs).
//
// Builds a one-node Network (runtime inputs become network inputs, the
// inputs flagged constant become initializers), runs it with the engine's
// Executor and returns the outputs as NumPy arrays. Tests use it to compare
// each layer with ONNX Runtime. Not part of the public API.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "engine/batch_split.h"
#include "engine/executor.h"
#include "int8rt/error.h"
#include "python/numpy_convert.h"
#include "python/testing/bindings.h"

namespace py = pybind11;

namespace int8rt {
namespace python {
namespace {

constexpr const char* kNodeName = "op_under_test";

DataType dtype_of(const py::array& a, size_t index) {
  if (a.dtype().equal(py::dtype::of<float>())) return DataType::kFloat32;
  if (a.dtype().equal(py::dtype::of<int64_t>())) return DataType::kInt64;
  if (a.dtype().equal(py::dtype::of<int8_t>())) return DataType::kInt8;
  if (a.dtype().equal(py::dtype::of<bool>())) return DataType::kBool;
  if (a.dtype().equal(py::dtype::of<int32_t>())) return DataType::kInt32;  // run-time inputs only
  throw InvalidArgument("input " + std::to_string(index) +
                        ": dtype must be float32, int64, int32, int8 or bool, got " +
                        std::string(py::str(a.dtype())));
}

py::array contiguous(const py::handle& obj) {
  return numpy_array(obj, py::array::c_style);
}

Attribute to_attribute(const std::string& key, const py::handle& v) {
  if (py::isinstance<py::bool_>(v) || py::isinstance<py::int_>(v)) return Attribute::of_int(v.cast<int64_t>());
  if (py::isinstance<py::float_>(v)) return Attribute::of_float(v.cast<double>());
  if (py::isinstance<py::str>(v)) return Attribute::of_string(v.cast<std::string>());
  if (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v)) {
    py::sequence seq = v.cast<py::sequence>();
    bool all_int = true;
    for (auto item : seq) all_int = all_int && py::isinstance<py::int_>(item);
    if (all_int) return Attribute::of_ints(v.cast<std::vector<int64_t>>());
    return Attribute::of_floats(v.cast<std::vector<double>>());
  }
  throw InvalidArgument("attribute '" + key + "': unsupported Python type");
}

py::array to_numpy(const engine::Value& v) {
  std::vector<py::ssize_t> shape(v.shape().begin(), v.shape().end());
  py::dtype dt(engine::dtype_name(v.dtype()));  // numpy's names
  py::array out(dt, shape);
  std::memcpy(out.mutable_data(), v.data<char>(), v.nbytes());
  return out;
}

// input_sets[0] fixes the constants and the declared shapes; with
// dynamic_batch the runtime inputs' dim 0 is declared -1 and every set runs
// through the same Executor and state.
std::vector<std::vector<py::array>> run_sets(const std::string& op, const std::vector<py::list>& input_sets,
                                             const py::dict& attrs, const std::vector<bool>& constant_inputs,
                                             int num_outputs, bool dynamic_batch) {
  if (input_sets.empty()) throw InvalidArgument("no inputs given");
  const py::list& first = input_sets[0];
  Network net;
  std::vector<int> node_inputs;
  std::vector<int> runtime_ids;  // by input position, -1 when constant/omitted
  for (size_t i = 0; i < first.size(); ++i) {
    runtime_ids.push_back(-1);
    if (first[i].is_none()) { node_inputs.push_back(-1); continue; }
    py::array a = contiguous(first[i]);
    DataType dt = dtype_of(a, i);
    std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
    std::string name = "input" + std::to_string(i);
    bool is_const = i < constant_inputs.size() && constant_inputs[i];
    if (is_const) {
      if (dt == DataType::kInt32) {
        throw InvalidArgument("input " + std::to_string(i) + ": int32 constants do not exist");
      }
      size_t n = static_cast<size_t>(a.size());
      if (dt == DataType::kFloat32) {
        const float* p = static_cast<const float*>(a.data());
        node_inputs.push_back(net.add_constant(name, shape, std::vector<float>(p, p + n)));
      } else if (dt == DataType::kInt64) {
        const int64_t* p = static_cast<const int64_t*>(a.data());
        node_inputs.push_back(net.add_constant_i64(name, shape, std::vector<int64_t>(p, p + n)));
      } else {
        const int8_t* p = static_cast<const int8_t*>(a.data());
        std::vector<int8_t> bytes(p, p + n);
        node_inputs.push_back(dt == DataType::kBool ? net.add_constant_bool(name, shape, std::move(bytes))
                                                    : net.add_constant_i8(name, shape, std::move(bytes)));
      }
    } else {
      if (dynamic_batch && !shape.empty()) shape[0] = -1;
      int id = net.add_input(name, shape, dt);
      node_inputs.push_back(id);
      runtime_ids.back() = id;
    }
  }
  Attributes attributes;
  for (auto kv : attrs) {
    std::string key = kv.first.cast<std::string>();
    attributes.set(key, to_attribute(key, kv.second));
  }
  std::vector<std::string> out_names;
  for (int o = 0; o < num_outputs; ++o) out_names.push_back("output" + std::to_string(o));
  std::vector<int> outs = net.add_node(op, kNodeName, node_inputs, attributes, out_names);
  for (int id : outs) net.mark_output(id);

  engine::Executor executor(std::move(net));
  auto state = executor.make_state();
  std::vector<std::vector<py::array>> results;
  for (const py::list& set : input_sets) {
    if (set.size() != first.size()) throw InvalidArgument("every input set needs the same number of inputs");
    std::vector<py::array> held;
    std::vector<engine::Executor::Input> inputs;
    for (size_t i = 0; i < set.size(); ++i) {
      if (runtime_ids[i] < 0) continue;
      py::array a = contiguous(set[i]);
      engine::Executor::Input in;
      in.tensor = runtime_ids[i];
      in.dtype = dtype_of(a, i);
      in.shape.assign(a.shape(), a.shape() + a.ndim());
      in.data = a.data();
      inputs.push_back(in);
      held.push_back(std::move(a));
    }
    {
      py::gil_scoped_release release;
      executor.run(*state, inputs);
    }
    std::vector<py::array> outputs;
    for (int id : outs) outputs.push_back(to_numpy(executor.value(*state, id)));
    results.push_back(std::move(outputs));
  }
  return results;
}

}  // namespace

void bind_executor_testing(py::module_& m) {
  m.def(
      "run_single_op",
      [](const std::string& op, const py::list& inputs, const py::dict& attrs,
         const std::vector<bool>& constant_inputs, int num_outputs) {
        return run_sets(op, {inputs}, attrs, constant_inputs, num_outputs, false)[0];
      },
      py::arg("op"), py::arg("inputs"), py::arg("attrs"), py::arg("constant_inputs"), py::arg("num_outputs") = 1,
      "Runs one node (named 'op_under_test') through the Executor; returns its outputs.");
  m.def(
      "run_single_op_batches",
      [](const std::string& op, const std::vector<py::list>& input_sets, const py::dict& attrs,
         const std::vector<bool>& constant_inputs, int num_outputs) {
        return run_sets(op, input_sets, attrs, constant_inputs, num_outputs, true);
      },
      py::arg("op"), py::arg("input_sets"), py::arg("attrs"), py::arg("constant_inputs"),
      py::arg("num_outputs") = 1,
      "Declares the runtime inputs' dim 0 dynamic (-1) and runs every input set through one Executor.");
  m.def("set_pool_spin_ns", &set_spin_ns_for_testing, py::arg("ns"), py::arg("even_when_busy") = false,
        "How long the thread pool's threads spin before blocking (0: block at once; < 0: the default), "
        "and whether they spin even when the machine has no idle CPU.");
  m.def("set_batch_split", &engine::set_batch_split_for_testing, py::arg("parts_per_thread"),
        "Parts per thread when a context splits a batch across threads (engine/batch_split.h): "
        "0 turns the split off, 1 is the default.");
  m.def("batch_split_runs", &engine::batch_split_runs_for_testing,
        "How many runs this process has split across threads by sample (engine/batch_split.h).");
}

}  // namespace python
}  // namespace int8rt

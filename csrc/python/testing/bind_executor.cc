// _testing.Executor: a private float32 runner over engine::Executor, the base
// the public Engine API is built on. One execution state per Executor,
// guarded by a mutex; the GIL is released while the network runs.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>

#include "engine/executor.h"
#include "int8rt/error.h"
#include "python/network_convert.h"
#include "python/numpy_convert.h"
#include "python/testing/bindings.h"

namespace py = pybind11;

namespace int8rt {
namespace python {

namespace {
class PyExecutor {
 public:
  explicit PyExecutor(Network net) : executor_(std::move(net)), state_(executor_.make_state()) {}

  py::dict run(const py::dict& feeds) {
    const Network& net = executor_.network();
    std::vector<py::array> held;  // keeps the contiguous copies alive while C++ reads them
    std::vector<engine::Executor::Input> inputs;
    for (auto kv : feeds) {
      std::string name = py::str(kv.first);
      int id = net.find_tensor(name);
      const auto& declared = net.inputs();
      if (id < 0 || std::find(declared.begin(), declared.end(), id) == declared.end()) {
        throw InvalidArgument("'" + name + "' is not an input of the network");
      }
      DataType dtype = net.tensor(id).dtype;
      py::array arr = numpy_array(kv.second, py::array::c_style);
      if (!has_dtype(arr, dtype)) {
        throw InvalidArgument("input '" + name + "': expected dtype " + dtype_name(dtype) + ", got " +
                              std::string(py::str(arr.dtype())));
      }
      engine::Executor::Input in;
      in.tensor = id;
      in.dtype = dtype;
      in.shape.assign(arr.shape(), arr.shape() + arr.ndim());
      in.data = arr.data();
      inputs.push_back(std::move(in));
      held.push_back(std::move(arr));
    }
    py::dict result;
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(mutex_);
    executor_.run(*state_, inputs);
    py::gil_scoped_acquire acquire;
    for (int id : net.outputs()) {
      const engine::Value& v = executor_.value(*state_, id);
      std::vector<py::ssize_t> shape(v.shape().begin(), v.shape().end());
      py::array out(numpy_dtype(v.dtype()), shape);
      std::memcpy(out.mutable_data(), v.data<char>(), v.nbytes());
      result[py::str(net.tensor(id).name)] = out;
    }
    return result;
  }

 private:
  engine::Executor executor_;
  std::unique_ptr<engine::Executor::State> state_;
  std::mutex mutex_;
};
}  // namespace

void bind_executor(py::module_& m) {
  py::class_<PyExecutor>(m, "Executor", "Private float32 runner of a Network (engine/executor.h).")
      .def(py::init([](const Network& net) {
             Network copy = net;
             py::gil_scoped_release release;
             return std::make_unique<PyExecutor>(std::move(copy));
           }),
           py::arg("network"))
      .def("run", &PyExecutor::run, py::arg("inputs"),
           "Runs the network on {input name: array}; returns {output name: array} (copies).");
}

}  // namespace python
}  // namespace int8rt

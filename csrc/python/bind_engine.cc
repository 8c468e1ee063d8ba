// Bindings for Builder, Engine and ExecutionContext (int8rt/builder.h,
// int8rt/engine.h). Thin: conversions and GIL release only.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "int8rt/builder.h"
#include "int8rt/engine.h"
#include "int8rt/error.h"
#include "python/bindings.h"
#include "python/cuda_array_interface.h"
#include "python/network_convert.h"
#include "python/numpy_convert.h"

namespace py = pybind11;

namespace int8rt {
namespace python {
namespace {

// numpy numbers user-defined dtypes (ml_dtypes' among them) from NPY_USERDEF = 256.
constexpr int kNumpyUserTypes = 256;

// The dtype of a host input: numpy's dtype of one of the engine's dtypes
// (the executor checks it is the one the network declares). Anything else is
// refused: silent casts hide user bugs.
DataType host_dtype(const std::string& name, const py::array& arr) {
  // numpy's own types first; ml_dtypes' (imported by numpy_dtype) only for an array of none of them.
  for (int32_t t = 0; t <= static_cast<int32_t>(kLastDataType); ++t) {
    if (t == static_cast<int32_t>(DataType::kBFloat16) && arr.dtype().attr("num").cast<int>() < kNumpyUserTypes) break;
    if (arr.dtype().equal(numpy_dtype(static_cast<DataType>(t)))) return static_cast<DataType>(t);
  }
  throw InvalidArgument("input '" + name + "': expected float32 (or the dtype an input declared otherwise "
                        "takes: float64, float16, int8..int64, uint8..uint64, bool, or ml_dtypes' bfloat16, float8_*, "
                        "float4_e2m1fn, int4, uint4, int2, uint2), got " +
                        std::string(py::str(arr.dtype())));
}

// C-contiguous views of the arrays; `keep` holds them alive.
std::map<std::string, TensorView> views_of(const py::dict& inputs, std::vector<py::array>& keep) {
  std::map<std::string, TensorView> views;
  for (const auto& kv : inputs) {
    std::string name = py::str(kv.first);
    py::array c = numpy_array(kv.second, py::array::c_style);  // its own dtype, made contiguous
    const DataType dtype = host_dtype(name, c);
    TensorView v;
    v.data = c.data();
    v.dtype = dtype;
    for (py::ssize_t d = 0; d < c.ndim(); ++d) v.shape.push_back(c.shape(d));
    keep.push_back(c);
    views[name] = v;
  }
  return views;
}

// The caller's output arrays, written in place: never converted or copied
// (a copy would be written instead of the caller's memory), so each must be
// a numpy array, C-contiguous and writeable; `keep` holds them alive.
std::map<std::string, OutputView> output_views_of(const py::dict& outputs, std::vector<py::array>& keep) {
  std::map<std::string, OutputView> views;
  for (const auto& kv : outputs) {
    std::string name = py::str(kv.first);
    if (!py::isinstance<py::array>(kv.second)) {
      throw InvalidArgument("output '" + name + "': expected a numpy array, got " +
                            std::string(py::str(kv.second.get_type().attr("__name__"))));
    }
    py::array a = py::reinterpret_borrow<py::array>(kv.second);
    if (!(a.flags() & py::array::c_style) || !a.writeable()) {
      throw InvalidArgument("output '" + name + "': the array must be C-contiguous and writeable");
    }
    OutputView v;
    v.data = a.mutable_data();
    v.dtype = host_dtype(name, a);
    for (py::ssize_t d = 0; d < a.ndim(); ++d) v.shape.push_back(a.shape(d));
    keep.push_back(a);
    views[name] = v;
  }
  return views;
}

template <typename T>
py::array owned_array(const std::vector<int64_t>& shape, std::vector<T>&& values) {
  auto* data = new std::vector<T>(std::move(values));
  py::capsule owner(data, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, data->data(), owner);
}

// An array of `dtype` over the elements' bytes (HostTensor::bytes).
py::array bytes_array(const std::vector<int64_t>& shape, DataType dtype, std::vector<uint8_t>&& bytes) {
  auto* data = new std::vector<uint8_t>(std::move(bytes));
  py::capsule owner(data, [](void* p) { delete static_cast<std::vector<uint8_t>*>(p); });
  std::vector<py::ssize_t> dims(shape.begin(), shape.end());
  return py::array(numpy_dtype(dtype), dims, data->data(), owner);
}

py::dict to_numpy(std::map<std::string, HostTensor>&& outputs) {
  py::dict out;
  for (auto& kv : outputs) {
    HostTensor& t = kv.second;
    out[py::str(kv.first)] = t.dtype == DataType::kInt64  ? owned_array(t.shape, std::move(t.int64_data))
                             : t.dtype == DataType::kBool ? owned_array(t.shape, std::move(t.bool_data)).view("bool")
                             : t.dtype == DataType::kInt32 ? owned_array(t.shape, std::move(t.int32_data))
                             : t.dtype == DataType::kFloat32 ? owned_array(t.shape, std::move(t.data))
                                                             : bytes_array(t.shape, t.dtype, std::move(t.bytes));
  }
  return out;
}

}  // namespace

void bind_engine(py::module_& m) {
  m.def("known_devices", &known_devices,
        "'cpu' and the devices this build has a backend for (usable or not).");
  m.def("require_device", &require_device, py::arg("device"),
        "Raises NotSupportedError saying why `device` cannot run engines here.");
  py::class_<ExecutionContext>(m, "ExecutionContext")
      .def("run",
           [](ExecutionContext& ctx, const py::dict& inputs) {
             std::vector<py::array> keep;
             auto views = views_of(inputs, keep);
             std::map<std::string, HostTensor> outputs;
             {
               py::gil_scoped_release release;
               outputs = ctx.run(views);
             }
             return to_numpy(std::move(outputs));
           },
           py::arg("inputs"))
      .def("run_tapped",
           [](ExecutionContext& ctx, const py::dict& inputs) {
             std::vector<py::array> keep;
             auto views = views_of(inputs, keep);
             std::map<std::string, HostTensor> outputs, branch_values;
             {
               py::gil_scoped_release release;
               outputs = ctx.run_tapped(views, branch_values);
             }
             return py::make_tuple(to_numpy(std::move(outputs)), to_numpy(std::move(branch_values)));
           },
           py::arg("inputs"),
           "(outputs, branch values): run() and every float32 tensor the taken If branches compute, "
           "by scoped name '<If>/<then_branch|else_branch>/<tensor>' (int8rt/engine.h)")
      .def("run_into",
           [](ExecutionContext& ctx, const py::dict& inputs, const py::dict& outputs) {
             std::vector<py::array> keep;
             auto views = views_of(inputs, keep);
             auto outs = output_views_of(outputs, keep);
             py::gil_scoped_release release;
             ctx.run_into(views, outs);
           },
           py::arg("inputs"), py::arg("outputs"),
           "outputs: name -> writeable C-contiguous numpy array of the output's shape and dtype")
      .def("output_shapes", &ExecutionContext::output_shapes, py::arg("input_shapes"))
      .def_property("shape_plan_capacity", &ExecutionContext::shape_plan_capacity,
                    &ExecutionContext::set_shape_plan_capacity)
      .def("profile",
           [](ExecutionContext& ctx, const py::dict& inputs, int runs, bool thread_cpu) {
             std::vector<py::array> keep;
             auto views = views_of(inputs, keep);
             std::vector<LayerTime> times;
             {
               py::gil_scoped_release release;
               times = ctx.profile(views, runs, thread_cpu ? ProfileClock::kThreadCpu : ProfileClock::kWall);
             }
             py::list out;
             for (const LayerTime& t : times) {
               py::dict d;
               d["name"] = t.layer.name;
               d["op"] = t.layer.op;
               d["precision"] = t.layer.precision;
               d["detail"] = t.layer.detail;
               d["ms"] = t.seconds * 1e3;
               out.append(d);
             }
             return out;
           },
           py::arg("inputs"), py::arg("runs") = 10, py::arg("thread_cpu") = false)
      .def("run_on_device",
           [](ExecutionContext& ctx, const py::dict& inputs, const py::dict& outputs) {
             auto in = device_views(inputs), out = device_views(outputs);
             py::gil_scoped_release release;  // the dicts keep the arrays alive until we return
             ctx.run_on_device(in, out);
           },
           py::arg("inputs"), py::arg("outputs"),
           "inputs/outputs: name -> device array (__cuda_array_interface__: float32, C-contiguous)");

  py::class_<DeviceAllocation>(m, "DeviceAllocation")
      .def("cuda_array_interface", &cuda_array_interface, py::arg("shape"),
           "__cuda_array_interface__ of a float32 array of `shape` over this memory (checked to fit)")
      .def_property_readonly("nbytes", &DeviceAllocation::bytes)
      .def("copy_from_host",
           [](DeviceAllocation& a, const py::buffer& src) {
             py::buffer_info info = src.request();
             size_t bytes = static_cast<size_t>(info.size * info.itemsize);
             if (!PyBuffer_IsContiguous(info.view(), 'C')) throw InvalidArgument("copy_from_host: source must be C-contiguous");
             py::gil_scoped_release release;
             a.copy_from_host(info.ptr, bytes);
           },
           py::arg("src"))
      .def("copy_to_host",
           [](const DeviceAllocation& a, py::buffer& dst) {
             py::buffer_info info = dst.request(true);
             size_t bytes = static_cast<size_t>(info.size * info.itemsize);
             if (!PyBuffer_IsContiguous(info.view(), 'C')) throw InvalidArgument("copy_to_host: target must be C-contiguous");
             py::gil_scoped_release release;
             a.copy_to_host(info.ptr, bytes);
           },
           py::arg("dst"));

  py::class_<Engine, std::shared_ptr<Engine>>(m, "Engine")
      .def_static("load", &Engine::load, py::arg("path"), py::call_guard<py::gil_scoped_release>())
      .def_static("deserialize",
                  [](const py::bytes& data) { return Engine::deserialize(std::string(data)); }, py::arg("data"))
      .def_static("create",
                  [](const Network& network, const std::map<std::string, std::string>& metadata) {
                    return Engine::create(network, metadata);
                  },
                  py::arg("network"), py::arg("metadata"), py::call_guard<py::gil_scoped_release>(),
                  "An engine over an already lowered (or float) network, as the Builder makes "
                  "them: the accuracy check adds intermediate outputs and its report this way.")
      .def("with_metadata", &Engine::with_metadata, py::arg("metadata"), py::call_guard<py::gil_scoped_release>(),
           "The same network as a new engine with `metadata`, keeping the int8 plan.")
      .def("serialize", [](const Engine& e) { return py::bytes(e.serialize()); })
      .def("save", &Engine::save, py::arg("path"), py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("input_names", &Engine::input_names)
      .def_property_readonly("output_names", &Engine::output_names)
      .def("tensor_shape", &Engine::tensor_shape, py::arg("name"))
      .def("shape_range",
           [](const Engine& e, const std::string& input) -> py::object {
             const ShapeRange* r = e.network().shape_range(input);
             if (!r) return py::none();
             return py::make_tuple(r->min, r->opt, r->max);
           },
           py::arg("input"))
      .def_property_readonly("metadata", &Engine::metadata)
      .def_property_readonly("device", &Engine::device)
      .def_property_readonly("device_name", &Engine::device_name)
      .def("network", &Engine::network, py::return_value_policy::copy)
      .def("layers",
           [](const Engine& e, bool branches) {
             py::list out;
             for (const LayerInfo& l : branches ? e.layers_with_branches() : e.layers()) {
               py::dict d;
               d["name"] = l.name;
               d["op"] = l.op;
               d["precision"] = l.precision;
               d["detail"] = l.detail;
               out.append(d);
             }
             return out;
           },
           py::arg("branches") = false)
      .def("create_execution_context", &Engine::create_execution_context)
      .def("allocate_device", &Engine::allocate_device, py::arg("nbytes"));

  py::class_<Builder>(m, "Builder")
      .def(py::init([](const Network& network, const std::string& precision,
                       const std::map<std::string, std::string>& layer_precisions, bool optimize,
                       const std::string& device, bool pointwise_tables, bool int8_gates, bool bf16,
                       bool int8_matmul_pairs, bool keep_activation_qdq, bool unsigned_activations,
                       bool asymmetric_activations, bool channel_activations, bool channels_last,
                       bool channel_blocked) {
             BuilderConfig config;
             if (precision == "int8") {
               config.precision = Precision::kInt8;
             } else if (precision == "fp32") {
               config.precision = Precision::kFloat32;
             } else {
               throw InvalidArgument("precision must be 'int8' or 'fp32', got '" + precision + "'");
             }
             config.layer_precisions = layer_precisions;
             config.optimize = optimize;
             config.device = device;
             config.pointwise_tables = pointwise_tables;
             config.int8_gates = int8_gates;
             config.int8_matmul_pairs = int8_matmul_pairs;
             config.keep_activation_qdq = keep_activation_qdq;
             config.unsigned_activations = unsigned_activations;
             config.asymmetric_activations = asymmetric_activations;
             config.channel_activations = channel_activations;
             config.bf16 = bf16;
             config.channels_last = channels_last;
             config.channel_blocked = channel_blocked;
             return std::make_unique<Builder>(network, config);
           }),
           py::arg("network"), py::arg("precision") = "int8", py::arg("layer_precisions") = std::map<std::string, std::string>{},
           py::arg("optimize") = true, py::arg("device") = "cpu",
           py::arg("pointwise_tables") = true, py::arg("int8_gates") = true, py::arg("bf16") = false,
           py::arg("int8_matmul_pairs") = true, py::arg("keep_activation_qdq") = false,
           py::arg("unsigned_activations") = false, py::arg("asymmetric_activations") = false,
           py::arg("channel_activations") = true, py::arg("channels_last") = false, py::arg("channel_blocked") = false,
           py::call_guard<py::gil_scoped_release>())
      .def("input_names", &Builder::input_names)
      .def("calibration_tensors", &Builder::calibration_tensors)
      .def("report", &Builder::report)
      .def("add_report_lines", &Builder::add_report_lines, py::arg("lines"))
      .def("optimized_network", &Builder::optimized_network, py::return_value_policy::copy)
      .def("calibrate_batch",
           [](Builder& b, const py::dict& inputs, calib::Collector& collector) {
             std::vector<py::array> keep;
             auto views = views_of(inputs, keep);
             py::gil_scoped_release release;
             b.calibrate_batch(views, collector);
           },
           py::arg("inputs"), py::arg("collector"))
      .def("observe_rows", &Builder::observe_rows, py::arg("rows"), py::arg("collector"),
           py::call_guard<py::gil_scoped_release>())
      .def("copy_last_rows",
           [](const Builder& b, const std::string& name, const std::vector<int64_t>& rows) -> py::object {
             py::object out = py::none();
             b.copy_last_rows(name, rows, [&](const std::vector<int64_t>& shape) {
               py::array_t<float> a(shape);
               out = a;
               return a.mutable_data();
             });
             return out;
           },
           py::arg("name"), py::arg("rows"),
           "rows of a float32 tensor as the last calibrate_batch computed them, or None: see int8rt/builder.h")
      .def("observe_last", &Builder::observe_last, py::arg("collector"), py::call_guard<py::gil_scoped_release>())
      .def("copy_last",
           [](const Builder& b, const std::string& name) -> py::object {
             py::object out = py::none();
             b.copy_last(name, [&](const std::vector<int64_t>& shape) {
               py::array_t<float> a(shape);
               out = a;
               return a.mutable_data();
             });
             return out;
           },
           py::arg("name"), "a float32 tensor as the last calibrate_batch computed it, or None: see int8rt/builder.h")
      .def("add_to_bias", &Builder::add_to_bias, py::arg("node"), py::arg("delta"))
      .def("set_node_constants",
           // the values as float32 arrays (lists too): read through the buffer, not element by element
           [](Builder& b, const std::vector<std::tuple<std::string, int,
                                                       py::array_t<float, py::array::c_style | py::array::forcecast>>>&
                              updates) {
             std::vector<Builder::ConstantUpdate> list;
             for (const auto& [node, input, data] : updates) {
               list.push_back({node, input, std::vector<float>(data.data(), data.data() + data.size())});
             }
             py::gil_scoped_release release;
             b.set_node_constants(list);
           },
           py::arg("updates"), "[(node, input index, float32 values)]: see int8rt/builder.h")
      .def("insert_channel_scale", &Builder::insert_channel_scale, py::arg("tensor"), py::arg("consumers"),
           py::arg("factors"), py::call_guard<py::gil_scoped_release>())
      .def("channel_ranges", &Builder::channel_ranges, "per-channel max |x| of calibration: see int8rt/builder.h")
      .def("varied_channel_counts", &Builder::varied_channel_counts)
      .def("set_channel_ranges", &Builder::set_channel_ranges, py::arg("ranges"))
      .def("calibration_keys", &Builder::calibration_keys,
           "fewest last-axis elements per calibration tensor: see int8rt/builder.h")
      .def("set_calibration_keys", &Builder::set_calibration_keys, py::arg("keys"))
      .def("calibration_shapes", &Builder::calibration_shapes,
           "the first calibration batch's input shapes the network's shapes came from: see int8rt/builder.h")
      .def("set_calibration_shapes", &Builder::set_calibration_shapes, py::arg("shapes"))
      .def("build", &Builder::build, py::arg("scales"), py::call_guard<py::gil_scoped_release>());
}

}  // namespace python
}  // namespace int8rt

// garagecam_runtime._core: a narrow pybind11 binding of the ExecuTorch C++ runtime.
//
// It links the shared libraries shipped in the executorch wheel (libexecutorch.so with the
// Module API, the optimized CPU kernels, the XNNPACK delegate, the thread pool) and nothing
// of libtorch: importing it costs a few MB instead of torch's ~700 MB.
//
// Every failure is reported as a Python exception (ProgramError and subclasses): the runtime
// returns error codes, never throws, and programs are loaded with full flatbuffer
// verification so a corrupt file is refused before anything reads its contents.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include <executorch/extension/data_loader/buffer_data_loader.h>
#include <executorch/extension/module/module.h>
#include <executorch/extension/tensor/tensor_ptr.h>
#include <executorch/runtime/core/error.h>
#include <executorch/runtime/core/evalue.h>
#include <executorch/runtime/executor/method_meta.h>
#include <executorch/runtime/executor/program.h>
#include <executorch/runtime/platform/runtime.h>

// extension/threadpool/threadpool.h is not shipped in the wheel: declare the exported
// symbols of libexecutorch_threadpool.so that we call (same names, same signatures).
namespace executorch::extension::threadpool {
class ThreadPool {
 public:
  size_t get_thread_count() const;
  bool _unsafe_reset_threadpool(uint32_t num_threads);
};
ThreadPool* get_threadpool();
}  // namespace executorch::extension::threadpool

namespace py = pybind11;
namespace et = executorch::runtime;
using executorch::aten::ScalarType;
using executorch::extension::Module;

namespace {

py::object g_program_error;
py::object g_invalid_program_error;
py::object g_method_not_found_error;
py::object g_input_error;
py::object g_execution_error;

// Resetting the thread pool while a program loads or runs is unsafe (XNNPACK holds the
// pool's threads): loads and runs share this lock, resets take it exclusively.
std::shared_mutex g_pool_lock;

[[noreturn]] void raise(const py::object& type, const std::string& message) {
  PyErr_SetString(type.ptr(), message.c_str());
  throw py::error_already_set();
}

std::string describe(et::Error error) {
  return std::string(et::to_string(error)) + " (ExecuTorch error 0x" + [&] {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%x", static_cast<unsigned>(error));
    return std::string(buf);
  }() + ")";
}

// numpy dtype string of an ExecuTorch scalar type; empty when we do not map it.
const char* dtype_name(ScalarType type) {
  switch (type) {
    case ScalarType::Float: return "float32";
    case ScalarType::Double: return "float64";
    case ScalarType::Half: return "float16";
    case ScalarType::Char: return "int8";
    case ScalarType::Byte: return "uint8";
    case ScalarType::Short: return "int16";
    case ScalarType::Int: return "int32";
    case ScalarType::Long: return "int64";
    case ScalarType::Bool: return "bool";
    default: return "";
  }
}

py::tuple tensor_spec(const et::TensorInfo& info) {
  py::tuple sizes(info.sizes().size());
  for (size_t i = 0; i < info.sizes().size(); ++i) sizes[i] = info.sizes()[i];
  py::tuple order(info.dim_order().size());
  for (size_t i = 0; i < info.dim_order().size(); ++i) order[i] = info.dim_order()[i];
  std::string dtype = dtype_name(info.scalar_type());
  if (dtype.empty()) dtype = "scalar_type_" + std::to_string(static_cast<int>(info.scalar_type()));
  return py::make_tuple(sizes, dtype, order);
}

// Element strides of a tensor with `sizes` stored in `dim_order` (outermost first).
std::vector<int64_t> strides_for(const std::vector<int32_t>& sizes, const std::vector<uint8_t>& order) {
  std::vector<int64_t> strides(sizes.size());
  int64_t step = 1;
  for (size_t k = order.size(); k-- > 0;) {
    strides[order[k]] = step;
    step *= sizes[order[k]];
  }
  return strides;
}

class Program {
 public:
  static std::unique_ptr<Program> from_path(const std::string& path) {
    auto program = std::unique_ptr<Program>(new Program(path));
    program->module_ = std::make_unique<Module>(path, Module::LoadMode::Mmap);
    program->load();
    return program;
  }

  static std::unique_ptr<Program> from_bytes(const py::bytes& data) {
    auto program = std::unique_ptr<Program>(new Program("<bytes>"));
    program->buffer_ = data;  // owned copy: the runtime reads segments lazily
    auto loader = std::make_unique<executorch::extension::BufferDataLoader>(
        program->buffer_.data(), program->buffer_.size());
    program->module_ = std::make_unique<Module>(std::move(loader));
    program->load();
    return program;
  }

  std::vector<std::string> method_names() const { return names_; }

  // One spec per input (or output): (sizes, dtype, dim order), None where not a tensor.
  py::list specs(const std::string& method, bool inputs) {
    auto meta = method_meta(method);
    py::list out;
    const size_t count = inputs ? meta.num_inputs() : meta.num_outputs();
    for (size_t i = 0; i < count; ++i) {
      auto info = inputs ? meta.input_tensor_meta(i) : meta.output_tensor_meta(i);
      out.append(info.ok() ? py::object(tensor_spec(*info)) : py::object(py::none()));
    }
    return out;
  }

  // Runs a method without inputs (a constant method such as `garagecam_metadata`) and
  // returns its values as Python str/int/float/bool/None.
  py::list constants(const std::string& method) {
    check_method(method);
    std::vector<et::EValue> values;
    std::vector<std::string> strings;
    std::string failure;
    {
      py::gil_scoped_release release;
      std::shared_lock pool(g_pool_lock);
      std::lock_guard guard(mutex_);
      auto result = module_->execute(method);
      if (!result.ok()) {
        failure = "method '" + method + "' failed: " + describe(result.error());
      } else {
        values = *result;
        for (const auto& value : values) {
          // Strings point into the program's data: copy them while we hold the lock.
          strings.emplace_back(value.isString() ? std::string(value.toString()) : std::string());
        }
      }
    }
    if (!failure.empty()) raise(g_execution_error, origin_ + ": " + failure);
    py::list out;
    for (size_t i = 0; i < values.size(); ++i) {
      const auto& value = values[i];
      if (value.isString()) out.append(py::str(strings[i]));
      else if (value.isBool()) out.append(py::bool_(value.toBool()));
      else if (value.isInt()) out.append(py::int_(value.toInt()));
      else if (value.isDouble()) out.append(py::float_(value.toDouble()));
      else if (value.isNone()) out.append(py::none());
      else raise(g_execution_error, origin_ + ": method '" + method + "' returns a value that is not a constant (tensor or list)");
    }
    return out;
  }

  // Prepares a method (memory plan, delegates such as XNNPACK) so that a broken program
  // fails here rather than on its first run.
  void load_method(const std::string& method) {
    check_method(method);
    et::Error error;
    {
      py::gil_scoped_release release;
      std::shared_lock pool(g_pool_lock);
      std::lock_guard guard(mutex_);
      error = module_->load_method(method);
    }
    if (error != et::Error::Ok) {
      std::string hint;
      if (error == et::Error::NotFound) {
        hint = " (an operator or backend it needs is not available here: a program exported "
               "for another backend, or XNNPACK could not start, e.g. without /proc)";
      }
      raise(g_invalid_program_error,
            origin_ + ": method '" + method + "' cannot be loaded: " + describe(error) + hint);
    }
  }

  // Runs a method with one tensor input and one tensor output. The array must already
  // have the spec's dtype, sizes and the strides of its dim order (the Python wrapper
  // copies into that layout); its memory is handed over without a copy.
  py::array run(const std::string& method, const py::array& input) {
    auto meta = method_meta(method);
    if (meta.num_inputs() != 1 || meta.num_outputs() != 1) {
      raise(g_input_error, origin_ + ": method '" + method + "' takes " +
                               std::to_string(meta.num_inputs()) + " inputs and returns " +
                               std::to_string(meta.num_outputs()) +
                               " outputs; run() supports one tensor in, one tensor out");
    }
    auto info = meta.input_tensor_meta(0);
    if (!info.ok()) raise(g_input_error, origin_ + ": the input of '" + method + "' is not a tensor");
    std::vector<int32_t> sizes(info->sizes().begin(), info->sizes().end());
    std::vector<uint8_t> order(info->dim_order().begin(), info->dim_order().end());
    const std::string want_dtype = dtype_name(info->scalar_type());
    const std::string got_dtype = py::str(input.dtype()).cast<std::string>();
    if (want_dtype.empty() || got_dtype != want_dtype) {
      raise(g_input_error, "input dtype " + got_dtype + " does not match the program's " +
                               (want_dtype.empty() ? "unsupported type" : want_dtype));
    }
    bool shape_ok = static_cast<size_t>(input.ndim()) == sizes.size();
    for (size_t i = 0; shape_ok && i < sizes.size(); ++i) shape_ok = input.shape(i) == sizes[i];
    if (!shape_ok) {
      std::string got = "(", want = "(";
      for (py::ssize_t i = 0; i < input.ndim(); ++i) got += (i ? ", " : "") + std::to_string(input.shape(i));
      for (size_t i = 0; i < sizes.size(); ++i) want += (i ? ", " : "") + std::to_string(sizes[i]);
      raise(g_input_error, "input shape " + got + ") does not match the program's " + want + ")");
    }
    auto strides = strides_for(sizes, order);
    const auto itemsize = input.itemsize();
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (sizes[i] > 1 && input.strides(i) != strides[i] * itemsize) {
        raise(g_input_error, "input memory layout does not match the program's dim order");
      }
    }
    std::vector<int32_t> et_strides(strides.begin(), strides.end());
    auto tensor = executorch::extension::make_tensor_ptr(
        sizes, const_cast<void*>(input.data()), order, et_strides, info->scalar_type());

    std::vector<int32_t> out_sizes;
    std::vector<uint8_t> out_order;
    std::vector<char> out_data;
    ScalarType out_type = ScalarType::Float;
    std::string failure;
    {
      py::gil_scoped_release release;
      std::shared_lock pool(g_pool_lock);
      std::lock_guard guard(mutex_);
      auto result = module_->execute(method, executorch::runtime::EValue(tensor));
      if (!result.ok()) {
        failure = "inference failed: " + describe(result.error());
      } else if (result->size() != 1 || !(*result)[0].isTensor()) {
        failure = "method '" + method + "' did not return one tensor";
      } else {
        // Copy out while we hold the lock: the output lives in the method's planned memory,
        // which the next run overwrites.
        const auto& out = (*result)[0].toTensor();
        out_sizes.assign(out.sizes().begin(), out.sizes().end());
        out_order.assign(out.dim_order().begin(), out.dim_order().end());
        out_type = out.scalar_type();
        const char* begin = static_cast<const char*>(out.const_data_ptr());
        out_data.assign(begin, begin + out.nbytes());
      }
    }
    if (!failure.empty()) raise(g_execution_error, origin_ + ": " + failure);
    const char* out_dtype = dtype_name(out_type);
    if (!*out_dtype) raise(g_execution_error, origin_ + ": the output has an unsupported dtype");
    py::dtype dtype(out_dtype);
    std::vector<py::ssize_t> shape(out_sizes.begin(), out_sizes.end());
    std::vector<py::ssize_t> byte_strides;
    for (auto s : strides_for(out_sizes, out_order)) byte_strides.push_back(s * dtype.itemsize());
    py::array output(dtype, shape, byte_strides);
    if (!out_data.empty()) std::memcpy(output.mutable_data(), out_data.data(), out_data.size());
    return output;
  }

  const std::string& origin() const { return origin_; }

 private:
  explicit Program(std::string origin) : origin_(std::move(origin)) {}

  void load() {
    et::Error error;
    {
      py::gil_scoped_release release;
      std::shared_lock pool(g_pool_lock);
      error = module_->load(et::Program::Verification::InternalConsistency);
    }
    if (error != et::Error::Ok) {
      raise(g_invalid_program_error, origin_ + " cannot be loaded as an ExecuTorch program: " + describe(error));
    }
    auto names = module_->method_names();
    if (!names.ok()) raise(g_invalid_program_error, origin_ + ": cannot list its methods: " + describe(names.error()));
    names_.assign(names->begin(), names->end());
  }

  void check_method(const std::string& method) const {
    for (const auto& name : names_) {
      if (name == method) return;
    }
    raise(g_method_not_found_error, origin_ + " has no method '" + method + "'");
  }

  et::MethodMeta method_meta(const std::string& method) {
    check_method(method);
    auto meta = module_->method_meta(method);
    if (!meta.ok()) {
      raise(g_invalid_program_error, origin_ + ": cannot read the signature of '" + method + "': " + describe(meta.error()));
    }
    return *meta;
  }

  std::string origin_;
  std::string buffer_;
  std::unique_ptr<Module> module_;
  std::vector<std::string> names_;
  std::mutex mutex_;  // Module is not thread-safe: one call at a time per program
};

size_t thread_count() {
  auto* pool = executorch::extension::threadpool::get_threadpool();
  return pool ? pool->get_thread_count() : 0;
}

void set_thread_count(int threads) {
  if (threads < 1) {
    throw py::value_error("thread count must be at least 1, got " + std::to_string(threads));
  }
  bool ok = false;
  {
    py::gil_scoped_release release;
    std::unique_lock pool_lock(g_pool_lock);
    auto* pool = executorch::extension::threadpool::get_threadpool();
    ok = pool && (pool->get_thread_count() == static_cast<size_t>(threads) ||
                  pool->_unsafe_reset_threadpool(static_cast<uint32_t>(threads)));
  }
  if (!ok) raise(g_program_error, "cannot resize the ExecuTorch thread pool to " + std::to_string(threads));
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "Narrow binding of the ExecuTorch C++ runtime (no torch).";
  et::runtime_init();

  g_program_error = py::reinterpret_steal<py::object>(
      PyErr_NewExceptionWithDoc("garagecam_runtime.ProgramError",
                                "Base class of the runtime binding's errors.", PyExc_RuntimeError, nullptr));
  g_invalid_program_error = py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(
      "garagecam_runtime.InvalidProgramError",
      "The data is not a loadable ExecuTorch program (empty, truncated, corrupt, wrong version).",
      g_program_error.ptr(), nullptr));
  g_method_not_found_error = py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(
      "garagecam_runtime.MethodNotFoundError", "The program has no method of that name.",
      g_program_error.ptr(), nullptr));
  py::tuple input_bases = py::make_tuple(g_program_error, py::handle(PyExc_ValueError));
  g_input_error = py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(
      "garagecam_runtime.InputError", "The input does not match the method's signature.",
      input_bases.ptr(), nullptr));
  g_execution_error = py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(
      "garagecam_runtime.ExecutionError", "The runtime failed while running a method.",
      g_program_error.ptr(), nullptr));
  m.attr("ProgramError") = g_program_error;
  m.attr("InvalidProgramError") = g_invalid_program_error;
  m.attr("MethodNotFoundError") = g_method_not_found_error;
  m.attr("InputError") = g_input_error;
  m.attr("ExecutionError") = g_execution_error;

  py::class_<Program>(m, "_Program")
      .def_static("from_path", &Program::from_path, py::arg("path"))
      .def_static("from_bytes", &Program::from_bytes, py::arg("data"))
      .def_property_readonly("origin", &Program::origin)
      .def("method_names", &Program::method_names)
      .def("input_specs", [](Program& p, const std::string& m) { return p.specs(m, true); },
           py::arg("method"))
      .def("output_specs", [](Program& p, const std::string& m) { return p.specs(m, false); },
           py::arg("method"))
      .def("constants", &Program::constants, py::arg("method"))
      .def("load_method", &Program::load_method, py::arg("method"))
      .def("run", &Program::run, py::arg("method"), py::arg("input"));

  m.def("thread_count", &thread_count, "Threads in ExecuTorch's process-wide pool.");
  m.def("set_thread_count", &set_thread_count, py::arg("threads"),
        "Resize ExecuTorch's process-wide thread pool (waits for running programs).");
  m.attr("EXECUTORCH_VERSION") = EXECUTORCH_VERSION;
}

// llcuda.core: devices and a small tensor type (CPU or GPU), numpy in and out, A @ B.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstring>

#include "backend/cuda/cuda_device.hpp"
#include "backend/tensor_matmul.hpp"
#include "bindings.hpp"
#include "core/error.hpp"
#include "core/half.hpp"
#include "core/tensor.hpp"

namespace py = pybind11;

namespace llcuda::python {
namespace {

DType dtype_from_text(const std::string& text) {
    if (text == "float32" || text == "f32") return DType::F32;
    if (text == "float16" || text == "f16" || text == "half") return DType::F16;
    if (text == "bfloat16" || text == "bf16") return DType::BF16;
    throw Error("unknown dtype '" + text + "'; use float32, float16 or bfloat16");
}

std::string dtype_text(DType type) {
    switch (type) {
        case DType::F16:
            return "float16";
        case DType::BF16:
            return "bfloat16";
        default:
            return "float32";
    }
}

Tensor from_numpy(const py::array& source, const std::string& device,
                  std::optional<std::string> dtype) {
    const py::array contiguous =
        py::array::ensure(source, py::array::c_style | py::array::forcecast);
    std::vector<int64_t> shape(contiguous.shape(), contiguous.shape() + contiguous.ndim());
    const bool is_half = contiguous.dtype().is(py::dtype("float16"));
    const DType target = dtype ? dtype_from_text(*dtype) : (is_half ? DType::F16 : DType::F32);
    Tensor host(shape, target, TensorDevice{});
    if (target == DType::F16 && is_half) {
        std::memcpy(host.data(), contiguous.data(), host.nbytes());
    } else {
        const auto values =
            py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(contiguous);
        if (target == DType::F32) {
            std::memcpy(host.data(), values.data(), host.nbytes());
        } else {
            auto* out = static_cast<uint16_t*>(host.data());
            for (size_t i = 0; i < host.numel(); ++i) {
                out[i] = target == DType::F16 ? float_to_half(values.data()[i])
                                              : float_to_bf16(values.data()[i]);
            }
        }
    }
    const auto where = TensorDevice::parse(device);
    return where.is_cuda ? host.to(where) : host;
}

// float32 and float16 come back as they are; bfloat16, which numpy lacks, as float32.
py::array to_numpy(const Tensor& tensor) {
    const Tensor host = tensor.device().is_cuda ? tensor.to(TensorDevice{}) : tensor;
    std::vector<py::ssize_t> shape(host.shape().begin(), host.shape().end());
    if (host.dtype() == DType::F16) {
        py::array out(py::dtype("float16"), shape);
        std::memcpy(out.mutable_data(), host.data(), host.nbytes());
        return out;
    }
    py::array_t<float> out(shape);
    if (host.dtype() == DType::F32) {
        std::memcpy(out.mutable_data(), host.data(), host.nbytes());
    } else {
        const auto* in = static_cast<const uint16_t*>(host.data());
        for (size_t i = 0; i < host.numel(); ++i) out.mutable_data()[i] = bf16_to_float(in[i]);
    }
    return out;
}

}  // namespace

void bind_tensor(py::module_& core) {
    core.def(
        "get_device_count", [] { return query_cuda_system().device_count; },
        "Number of usable CUDA GPUs (0 without a driver or in a build without CUDA)");
    core.def(
        "get_device_properties",
        [](int index) {
            const auto properties = cuda_device_properties(index);
            py::dict result;
            result["name"] = properties.name;
            result["major"] = properties.compute_major;
            result["minor"] = properties.compute_minor;
            result["compute_capability"] =
                py::make_tuple(properties.compute_major, properties.compute_minor);
            result["total_memory"] = properties.total_bytes;
            result["multi_processor_count"] = properties.multiprocessors;
            return result;
        },
        py::arg("index") = 0);

    py::class_<Tensor>(core, "Tensor")
        .def(py::init([](std::vector<int64_t> shape, const std::string& dtype,
                         const std::string& device) {
                 return Tensor(std::move(shape), dtype_from_text(dtype),
                               TensorDevice::parse(device));
             }),
             py::arg("shape"), py::arg("dtype") = "float32", py::arg("device") = "cpu",
             "A zero-filled tensor")
        .def_static(
            "zeros",
            [](std::vector<int64_t> shape, const std::string& dtype, const std::string& device) {
                return Tensor(std::move(shape), dtype_from_text(dtype),
                              TensorDevice::parse(device));
            },
            py::arg("shape"), py::arg("dtype") = "float32", py::arg("device") = "cpu")
        .def_static("from_numpy", &from_numpy, py::arg("array"), py::arg("device") = "cpu",
                    py::arg("dtype") = py::none())
        .def_property_readonly("shape",
                               [](const Tensor& tensor) {
                                   py::tuple shape(tensor.shape().size());
                                   for (size_t i = 0; i < tensor.shape().size(); ++i)
                                       shape[i] = tensor.shape()[i];
                                   return shape;
                               })
        .def_property_readonly("dtype",
                               [](const Tensor& tensor) { return dtype_text(tensor.dtype()); })
        .def_property_readonly("device",
                               [](const Tensor& tensor) { return tensor.device().to_string(); })
        .def("numel", &Tensor::numel)
        .def("nbytes", &Tensor::nbytes)
        .def("to", [](const Tensor& tensor,
                      const std::string& device) { return tensor.to(TensorDevice::parse(device)); })
        .def("numpy", &to_numpy)
        .def("__array__",
             [](const Tensor& tensor, py::args, py::kwargs) { return to_numpy(tensor); })
        .def("__matmul__",
             [](const Tensor& a, const Tensor& b) {
                 py::gil_scoped_release release;
                 return matmul(a, b);
             })
        .def("__repr__", [](const Tensor& tensor) {
            std::string shape;
            for (const auto extent : tensor.shape())
                shape += (shape.empty() ? "" : ", ") + std::to_string(extent);
            return "Tensor(shape=(" + shape + "), dtype=" + dtype_text(tensor.dtype()) +
                   ", device=" + tensor.device().to_string() + ")";
        });
}

}  // namespace llcuda::python

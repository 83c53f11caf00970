// GGUFReader: metadata as Python values, tensors with zero-copy numpy views of their data.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <memory>

#include "bindings.hpp"
#include "core/error.hpp"
#include "core/gguf/gguf_file.hpp"
#include "core/quant/quant.hpp"

namespace py = pybind11;

namespace llcuda::python {
namespace {

py::object to_python(const GgufValue& value) {
    switch (value.type()) {
        case GgufType::String:
            return py::str(value.as_string());
        case GgufType::Bool:
            return py::bool_(value.as_bool());
        case GgufType::Float32:
        case GgufType::Float64:
            return py::float_(value.as_double());
        case GgufType::Int8:
        case GgufType::Int16:
        case GgufType::Int32:
        case GgufType::Int64:
            return py::int_(value.as_int());
        case GgufType::Array: {
            py::list items;
            for (const auto& item : value.as_array().items) items.append(to_python(item));
            return items;
        }
        default:
            return py::int_(value.as_uint());
    }
}

// numpy wants the slowest dimension first; GGUF lists the contiguous one first.
std::vector<py::ssize_t> numpy_shape(const GgufTensorInfo& tensor) {
    return {tensor.shape.rbegin(), tensor.shape.rend()};
}

struct ReaderTensor {
    std::shared_ptr<const GgufFile> file;
    const GgufTensorInfo* info;

    py::array data() const {
        // The capsule owns a reference to the mapping: views outlive the reader that made them.
        auto* owner = new std::shared_ptr<const GgufFile>(file);
        py::capsule base(owner, [](void* pointer) {
            delete static_cast<std::shared_ptr<const GgufFile>*>(pointer);
        });
        const void* bytes = file->tensor_data(*info);
        py::array array;
        if (info->type == DType::F32) {
            array = py::array(py::dtype::of<float>(), numpy_shape(*info), bytes, base);
        } else if (info->type == DType::F16) {
            array = py::array(py::dtype("float16"), numpy_shape(*info), bytes, base);
        } else {
            throw Error("tensor '" + info->name + "' is " + std::string(dtype_name(info->type)) +
                        "; only F32 and F16 have zero-copy views: use .raw() for its bytes or "
                        ".dequantize()");
        }
        py::detail::array_proxy(array.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
        return array;
    }

    py::array raw() const {
        auto* owner = new std::shared_ptr<const GgufFile>(file);
        py::capsule base(owner, [](void* pointer) {
            delete static_cast<std::shared_ptr<const GgufFile>*>(pointer);
        });
        py::array array(py::dtype::of<uint8_t>(), {static_cast<py::ssize_t>(info->byte_count)},
                        file->tensor_data(*info), base);
        py::detail::array_proxy(array.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
        return array;
    }

    py::array_t<float> dequantize() const {
        py::array_t<float> out(numpy_shape(*info));
        dequantize_row(info->type, file->tensor_data(*info), out.mutable_data(),
                       info->element_count);
        return out;
    }
};

class GgufReader {
  public:
    explicit GgufReader(const std::string& path)
        : file_(std::make_shared<const GgufFile>(GgufFile::open(path))) {}

    const GgufFile& file() const {
        if (!file_) throw Error("this GGUFReader is closed");
        return *file_;
    }
    py::dict metadata() const {
        py::dict result;
        for (const auto& [key, value] : file().metadata()) result[py::str(key)] = to_python(value);
        return result;
    }
    std::vector<ReaderTensor> tensors() const {
        file();
        std::vector<ReaderTensor> result;
        for (const auto& tensor : file_->tensors()) result.push_back({file_, &tensor});
        return result;
    }
    ReaderTensor tensor(const std::string& name) const {
        const auto* info = file().find_tensor(name);
        if (!info) throw py::key_error("no tensor named '" + name + "'");
        return {file_, info};
    }
    void close() { file_.reset(); }

  private:
    std::shared_ptr<const GgufFile> file_;
};

}  // namespace

void bind_gguf_reader(py::module_& module) {
    py::class_<ReaderTensor>(module, "GGUFTensor")
        .def_property_readonly("name", [](const ReaderTensor& tensor) { return tensor.info->name; })
        .def_property_readonly("shape",
                               [](const ReaderTensor& tensor) { return numpy_shape(*tensor.info); })
        .def_property_readonly(
            "type",
            [](const ReaderTensor& tensor) { return std::string(dtype_name(tensor.info->type)); })
        .def_property_readonly(
            "n_elements", [](const ReaderTensor& tensor) { return tensor.info->element_count; })
        .def_property_readonly("n_bytes",
                               [](const ReaderTensor& tensor) { return tensor.info->byte_count; })
        .def_property_readonly("data", &ReaderTensor::data,
                               "Read-only numpy view (F32, F16), no copy")
        .def("raw", &ReaderTensor::raw, "Read-only uint8 view of the stored bytes")
        .def("dequantize", &ReaderTensor::dequantize, "A float32 copy, for any supported type")
        .def("__repr__", [](const ReaderTensor& tensor) {
            return "<GGUFTensor " + tensor.info->name + " " +
                   std::string(dtype_name(tensor.info->type)) + ">";
        });

    py::class_<GgufReader>(module, "GGUFReader")
        .def(py::init<const std::string&>(), py::arg("path"))
        .def_property_readonly("metadata", &GgufReader::metadata)
        .def_property_readonly("tensors", &GgufReader::tensors)
        .def_property_readonly("version",
                               [](const GgufReader& reader) { return reader.file().version(); })
        .def("tensor", &GgufReader::tensor, py::arg("name"))
        .def("close", &GgufReader::close)
        .def("__enter__", [](GgufReader& reader) -> GgufReader& { return reader; })
        .def("__exit__", [](GgufReader& reader, py::args) { reader.close(); });
}

}  // namespace llcuda::python

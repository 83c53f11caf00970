#pragma once
// Each part of the Python module registers itself on the module object.
#include <pybind11/pybind11.h>

namespace llcuda::python {

void bind_engine(pybind11::module_& module);
void bind_gguf_reader(pybind11::module_& module);
void bind_tensor(pybind11::module_& core);

}  // namespace llcuda::python

// The compiled half of the `llcuda` Python package (imported as llcuda._llcuda).
#include "bindings.hpp"
#include "core/error.hpp"

PYBIND11_MODULE(_llcuda, module) {
    module.doc() = "llcuda: GGUF language models on NVIDIA GPUs and the CPU";
    // Engine errors arrive in Python as llcuda.LlcudaError with the engine's own message.
    pybind11::register_exception<llcuda::Error>(module, "LlcudaError", PyExc_RuntimeError);
    llcuda::python::bind_engine(module);
    llcuda::python::bind_gguf_reader(module);
    auto core = module.def_submodule("core", "Devices and tensors");
    llcuda::python::bind_tensor(core);
}

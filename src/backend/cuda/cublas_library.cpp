#include "backend/cuda/cublas_library.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "backend/cuda/cuda_check.hpp"
#include "backend/cuda/cuda_device.hpp"

namespace llcuda::cuda {
namespace {

// cublasGemmEx is overloaded in C++; the C entry point has this signature.
using GemmExFunction = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int,
                                          int, int, const void*, const void*, cudaDataType, int,
                                          const void*, cudaDataType, int, const void*, void*,
                                          cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);

class CublasLibrary {
  public:
    static CublasLibrary& instance() {
        static CublasLibrary library;
        return library;
    }

    void require() const {
        if (handle_ == nullptr) throw Error(problem_);
    }

    cublasHandle_t handle_for(int device) {
        require();
        std::lock_guard lock(mutex_);
        auto& handle = handles_[device];
        if (handle == nullptr) {
            CUDA_CHECK(cudaSetDevice(device));
            check(create_(&handle), "cublasCreate");
        }
        return handle;
    }

    void check(cublasStatus_t status, const char* what) const {
        if (status != CUBLAS_STATUS_SUCCESS) {
            throw Error(fmt::format("cuBLAS {} failed: {}", what,
                                    status_string_ ? status_string_(status) : "unknown status"));
        }
    }

    decltype(&cublasSetStream_v2) set_stream_ = nullptr;
    GemmExFunction gemm_ex_ = nullptr;

  private:
    CublasLibrary() {
        const std::string name = fmt::format("libcublas.so.{}", CUBLAS_VER_MAJOR);
        // The loader's search path first, then where this build's toolkit keeps it.
        const std::vector<std::string> candidates = {
            name, "/usr/local/cuda/lib64/" + name,
            std::string(LLCUDA_CUDA_LIBRARY_DIR) + "/" + name};
        for (const auto& candidate : candidates) {
            handle_ = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
            if (handle_ != nullptr) break;
        }
        if (handle_ == nullptr) {
            problem_ = fmt::format(
                "{} (cuBLAS, part of the CUDA toolkit) was not found; prompt processing on the GPU "
                "needs it: install cuBLAS {} or add its folder to LD_LIBRARY_PATH",
                name, CUBLAS_VER_MAJOR);
            return;
        }
        create_ = symbol<decltype(&cublasCreate_v2)>("cublasCreate_v2");
        set_stream_ = symbol<decltype(&cublasSetStream_v2)>("cublasSetStream_v2");
        gemm_ex_ = symbol<GemmExFunction>("cublasGemmEx");
        status_string_ = symbol<decltype(&cublasGetStatusString)>("cublasGetStatusString");
        if (!create_ || !set_stream_ || !gemm_ex_) {
            dlclose(handle_);
            handle_ = nullptr;
            problem_ = name + " lacks the functions llcuda needs (a broken or mismatched cuBLAS)";
        }
    }

    template <typename Function>
    Function symbol(const char* name) {
        return reinterpret_cast<Function>(dlsym(handle_, name));
    }

    void* handle_ = nullptr;
    std::string problem_;
    decltype(&cublasCreate_v2) create_ = nullptr;
    decltype(&cublasGetStatusString) status_string_ = nullptr;
    std::mutex mutex_;
    std::map<int, cublasHandle_t> handles_;  // one per device, kept for the process's life
};

cublasOperation_t operation(const GemmOperand& operand) {
    return operand.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
}

}  // namespace

}  // namespace llcuda::cuda

namespace llcuda {
void require_cublas() { cuda::CublasLibrary::instance().require(); }
}  // namespace llcuda

namespace llcuda::cuda {

void gemm(int device, cudaStream_t stream, int m, int n, int k, const GemmOperand& a,
          const GemmOperand& b, void* c, cudaDataType c_type, int ldc, bool accumulate) {
    auto& library = CublasLibrary::instance();
    const cublasHandle_t handle = library.handle_for(device);
    library.check(library.set_stream_(handle, stream), "cublasSetStream");
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    library.check(library.gemm_ex_(handle, operation(a), operation(b), m, n, k, &alpha, a.data,
                                   a.type, a.leading_dimension, b.data, b.type, b.leading_dimension,
                                   &beta, c, c_type, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                  "GemmEx");
}

}  // namespace llcuda::cuda

#include "backend/tensor_matmul.hpp"

#include <fmt/format.h>

#include <vector>

#include "backend/cpu/thread_pool.hpp"
#include "backend/cuda/tensor_gemm.hpp"
#include "core/error.hpp"
#include "core/quant/quant.hpp"

namespace llcuda {
namespace {

void matmul_cpu(const Tensor& a, const Tensor& b, Tensor& out) {
    const size_t m = static_cast<size_t>(a.shape()[0]);
    const size_t k = static_cast<size_t>(a.shape()[1]);
    const size_t n = static_cast<size_t>(b.shape()[1]);
    std::vector<float> a_values(m * k), b_values(k * n), out_values(m * n, 0.0f);
    dequantize_row(a.dtype(), a.data(), a_values.data(), a_values.size());
    dequantize_row(b.dtype(), b.data(), b_values.data(), b_values.size());
    static ThreadPool pool(ThreadPool::default_thread_count());
    pool.parallel_for(m, [&](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) {
            float* row = out_values.data() + i * n;
            for (size_t p = 0; p < k; ++p) {
                const float scale = a_values[i * k + p];
                const float* b_row = b_values.data() + p * n;
                for (size_t j = 0; j < n; ++j) row[j] += scale * b_row[j];
            }
        }
    });
    quantize_row(out.dtype(), out_values.data(), out.data(), out_values.size());
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
    if (a.shape().size() != 2 || b.shape().size() != 2 || a.shape()[1] != b.shape()[0]) {
        throw Error(fmt::format(
            "matmul needs [m, k] @ [k, n]; got {}-D and {}-D with inner sizes {} and {}",
            a.shape().size(), b.shape().size(), a.shape().empty() ? 0 : a.shape().back(),
            b.shape().empty() ? 0 : b.shape().front()));
    }
    if (!(a.device() == b.device())) {
        throw Error(fmt::format("matmul operands are on {} and {}; move one with .to()",
                                a.device().to_string(), b.device().to_string()));
    }
    if (a.dtype() != b.dtype()) {
        throw Error(fmt::format("matmul operands are {} and {}; convert one first",
                                dtype_name(a.dtype()), dtype_name(b.dtype())));
    }
    Tensor out({a.shape()[0], b.shape()[1]}, a.dtype(), a.device());
    if (!a.device().is_cuda) {
        matmul_cpu(a, b, out);
    } else {
        cuda_tensor_matmul(a, b, out);
    }
    return out;
}

}  // namespace llcuda

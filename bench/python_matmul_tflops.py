#!/usr/bin/env python3
"""Matrix-product throughput of llcuda.core tensors (cuBLAS on the GPU).

Times n x n x n products after warm-up and prints the median TFLOP/s, beside numpy's float32
product on the CPU for 1024^3 as a same-run baseline. Usage: python_matmul_tflops.py [n...]
"""
import statistics
import sys
import time

import numpy as np

from llcuda.core import Tensor, get_device_count, get_device_properties


def median_seconds(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()  # the GPU matmul synchronises before returning
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    sizes = [int(value) for value in sys.argv[1:]] or [4096]
    rng = np.random.default_rng(0)
    baseline = rng.standard_normal((1024, 1024)).astype(np.float32)
    cpu = median_seconds(lambda: baseline @ baseline, 5)
    print(f"numpy float32 1024^3 on the CPU: {2 * 1024**3 / cpu / 1e12:.3f} TFLOP/s")
    if get_device_count() == 0:
        print("no GPU")
        return
    print("GPU:", get_device_properties(0)["name"])
    for n in sizes:
        for dtype in ("float16", "bfloat16", "float32"):
            a = Tensor.from_numpy(rng.standard_normal((n, n)), "cuda", dtype)
            b = Tensor.from_numpy(rng.standard_normal((n, n)), "cuda", dtype)
            for _ in range(3):
                a @ b
            seconds = median_seconds(lambda: a @ b, 20)
            print(f"{dtype:9s} {n}^3: {seconds * 1e3:8.3f} ms  {2 * n**3 / seconds / 1e12:7.1f} TFLOP/s")


if __name__ == "__main__":
    main()

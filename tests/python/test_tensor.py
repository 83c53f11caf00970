import numpy as np
import pytest

import llcuda
from llcuda.core import Tensor

HAS_GPU = llcuda.core.get_device_count() > 0
gpu = pytest.mark.gpu


def test_construction_and_properties():
    tensor = Tensor([2, 3, 4], "float16")
    assert tensor.shape == (2, 3, 4)
    assert tensor.numel() == 24 and tensor.nbytes() == 48
    assert tensor.dtype == "float16" and tensor.device == "cpu"
    assert (Tensor.zeros([5]).numpy() == 0).all()
    with pytest.raises(llcuda.LlcudaError, match="unknown dtype"):
        Tensor([2], "int8")
    with pytest.raises(llcuda.LlcudaError, match="unknown device"):
        Tensor([2], "float32", "tpu")


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_numpy_round_trip(dtype):
    values = np.random.default_rng(1).standard_normal((7, 5)).astype(np.float32)
    back = Tensor.from_numpy(values, dtype=dtype).numpy()
    tolerance = {"float32": 0, "float16": 1e-3, "bfloat16": 1e-2}[dtype]
    np.testing.assert_allclose(back.astype(np.float32), values, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (3, 5, 7), (64, 33, 17), (127, 129, 65)])
@pytest.mark.parametrize("dtype,tolerance", [("float32", 1e-5), ("float16", 2e-3), ("bfloat16", 1e-2)])
def test_cpu_matmul_matches_numpy(m, k, n, dtype, tolerance):
    rng = np.random.default_rng(m * 1000 + n)
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    ta, tb = Tensor.from_numpy(a, dtype=dtype), Tensor.from_numpy(b, dtype=dtype)
    reference = ta.numpy().astype(np.float64) @ tb.numpy().astype(np.float64)
    result = (ta @ tb).numpy().astype(np.float64)
    assert result.shape == (m, n)
    assert np.linalg.norm(result - reference) / np.linalg.norm(reference) < tolerance


def test_matmul_errors():
    with pytest.raises(llcuda.LlcudaError, match=r"\[m, k\] @ \[k, n\]"):
        Tensor([2, 3]) @ Tensor([4, 2])
    with pytest.raises(llcuda.LlcudaError, match="convert one first"):
        Tensor([2, 3]) @ Tensor([3, 2], "float16")


def test_no_gpu_is_a_clear_error():
    if HAS_GPU:
        pytest.skip("this machine has a GPU")
    assert llcuda.core.get_device_count() == 0
    # The CLI's words (no driver, no device, a build without CUDA), never a raw CUDA error name.
    for make in (lambda: Tensor([2, 2], "float32", "cuda"),
                 lambda: Tensor.from_numpy(np.ones((2, 2), np.float32), "cuda:1"),
                 lambda: llcuda.core.get_device_properties(0)):
        with pytest.raises(llcuda.LlcudaError) as error:
            make()
        assert "cudaError" not in str(error.value)
        assert "driver" in str(error.value) or "built without CUDA" in str(error.value)


@gpu
def test_device_properties():
    assert llcuda.core.get_device_count() >= 1
    properties = llcuda.core.get_device_properties(0)
    assert properties["total_memory"] > 1 << 30
    assert properties["major"] >= 7 and properties["name"]


@gpu
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_gpu_round_trip(dtype):
    values = np.random.default_rng(2).standard_normal((33, 65)).astype(np.float32)
    host = Tensor.from_numpy(values, dtype=dtype)
    device = host.to("cuda:0")
    assert device.device == "cuda:0" and device.shape == (33, 65)
    np.testing.assert_array_equal(device.to("cpu").numpy(), host.numpy())
    np.testing.assert_array_equal(Tensor.from_numpy(values, "cuda", dtype).numpy(), host.numpy())


@gpu
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (3, 5, 7), (127, 129, 65), (512, 1024, 256)])
@pytest.mark.parametrize("dtype,tolerance", [("float32", 1e-5), ("float16", 2e-3), ("bfloat16", 1e-2)])
def test_gpu_matmul_matches_numpy(m, k, n, dtype, tolerance):
    rng = np.random.default_rng(m + 7 * n + k)
    a = Tensor.from_numpy(rng.standard_normal((m, k)), dtype=dtype)
    b = Tensor.from_numpy(rng.standard_normal((k, n)), dtype=dtype)
    reference = a.numpy().astype(np.float64) @ b.numpy().astype(np.float64)
    result = (a.to("cuda") @ b.to("cuda"))
    assert result.device == "cuda:0" and result.dtype == dtype
    out = result.numpy().astype(np.float64)
    assert np.linalg.norm(out - reference) / np.linalg.norm(reference) < tolerance


@gpu
def test_mixed_devices_are_refused():
    with pytest.raises(llcuda.LlcudaError, match="move one with"):
        Tensor([2, 2]) @ Tensor([2, 2], "float32", "cuda")

"""Devices and tensors: get_device_count(), get_device_properties(i), Tensor (CPU or CUDA)."""
from ._llcuda.core import Tensor, get_device_count, get_device_properties

__all__ = ["Tensor", "get_device_count", "get_device_properties"]

"""llcuda: run GGUF language models locally, on NVIDIA GPUs or the CPU.

    import llcuda
    engine = llcuda.InferenceEngine()
    engine.load_model("")                # the embedded stories260K; or a path / store name
    print(engine.infer("Once upon a time", max_tokens=32, temperature=0).text)
"""
from ._llcuda import GGUFReader, GGUFTensor, InferenceEngine, InferResult, LlcudaError, TextStream
from . import core

__all__ = ["InferenceEngine", "InferResult", "TextStream", "GGUFReader", "GGUFTensor", "LlcudaError", "core"]
__version__ = "0.1.0"

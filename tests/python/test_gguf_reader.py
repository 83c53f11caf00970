import os
import subprocess

import numpy as np
import pytest

import llcuda
from conftest import MODEL, REPOSITORY, SHARED_MODELS


def test_metadata_and_tensor_table():
    with llcuda.GGUFReader(MODEL) as reader:
        metadata = reader.metadata
        assert reader.version == 3
        assert metadata["general.architecture"] == "llama"
        assert metadata["llama.block_count"] == 5
        assert metadata["llama.attention.head_count_kv"] == 4
        assert metadata["llama.attention.layer_norm_rms_epsilon"] == pytest.approx(1e-5)
        assert len(metadata["tokenizer.ggml.tokens"]) == 512
        names = [tensor.name for tensor in reader.tensors]
        assert len(names) == 48 and "blk.4.ffn_down.weight" in names
        embedding = reader.tensor("token_embd.weight")
        assert embedding.shape == [512, 64]
        assert embedding.type == "F32"
        with pytest.raises(KeyError):
            reader.tensor("missing")


def test_views_are_zero_copy_and_outlive_the_reader():
    reader = llcuda.GGUFReader(MODEL)
    view = reader.tensor("token_embd.weight").data
    again = reader.tensor("token_embd.weight").data
    assert np.shares_memory(view, again)
    assert not view.flags.writeable
    reader.close()
    assert view.shape == (512, 64) and np.isfinite(view).all()  # the mapping is still alive
    with pytest.raises(llcuda.LlcudaError, match="closed"):
        reader.metadata


def test_values_equal_the_llama2c_export():
    # stories260K.bin holds the same weights (7 int32 header fields, then the embedding table).
    path = os.path.join(SHARED_MODELS, "stories260K", "stories260K.bin")
    if not os.path.exists(path):
        pytest.skip("../shared/models not present")
    reference = np.fromfile(path, dtype=np.float32, count=512 * 64, offset=7 * 4).reshape(512, 64)
    with llcuda.GGUFReader(MODEL) as reader:
        np.testing.assert_array_equal(reader.tensor("token_embd.weight").data, reference)


def test_f16_views_and_quantized_tensors(tmp_path, llcuda_binary):
    f16_path, q8_path = str(tmp_path / "f16.gguf"), str(tmp_path / "q8.gguf")
    subprocess.run([llcuda_binary, "quantize", MODEL, f16_path, "F16"], check=True, capture_output=True)
    subprocess.run([llcuda_binary, "quantize", MODEL, q8_path, "Q8_0"], check=True, capture_output=True)
    with llcuda.GGUFReader(MODEL) as original, llcuda.GGUFReader(f16_path) as half, \
            llcuda.GGUFReader(q8_path) as q8:
        reference = original.tensor("blk.0.attn_q.weight").data
        half_view = half.tensor("blk.0.attn_q.weight").data
        assert half_view.dtype == np.float16
        np.testing.assert_array_equal(half_view, reference.astype(np.float16))
        quantized = q8.tensor("blk.0.attn_q.weight")
        assert quantized.type == "Q8_0"
        with pytest.raises(llcuda.LlcudaError, match="zero-copy"):
            quantized.data
        assert quantized.raw().nbytes == quantized.n_bytes == 64 * 64 // 32 * 34
        np.testing.assert_allclose(quantized.dequantize(), reference, atol=np.abs(reference).max() / 100)


def test_bad_files_raise():
    with pytest.raises(llcuda.LlcudaError, match="not a GGUF file"):
        llcuda.GGUFReader(os.path.join(REPOSITORY, "README.md"))
    with pytest.raises(llcuda.LlcudaError, match="cannot open"):
        llcuda.GGUFReader("/nonexistent.gguf")

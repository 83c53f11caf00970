"""Shared fixtures: the repository's paths and one loaded engine for the whole session."""
import os

import pytest

import llcuda

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(REPOSITORY, "models", "stories260K.gguf")
SHARED_MODELS = os.path.join(os.path.dirname(REPOSITORY), "shared", "models")


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs an NVIDIA GPU (run with -m gpu on the device)")


@pytest.fixture(scope="session")
def engine():
    instance = llcuda.InferenceEngine()
    instance.load_model(MODEL, context_size=512, threads=2)
    return instance


@pytest.fixture(scope="session")
def expected_greedy():
    with open(os.path.join(REPOSITORY, "tests", "data", "stories260K_greedy200.txt"), encoding="utf-8") as source:
        ids_line, text = source.read().split("\n", 1)
    ids = [int(token) for token in ids_line.split("[", 1)[1].rstrip("]").split(",")]
    return ids, text.rstrip("\n")


@pytest.fixture(scope="session")
def llcuda_binary():
    path = os.environ.get("LLCUDA_BINARY")
    if not path:
        pytest.skip("LLCUDA_BINARY is not set")
    return path

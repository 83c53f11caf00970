import threading

import pytest

import llcuda


def test_greedy_output_equals_the_reference(engine, expected_greedy):
    ids, text = expected_greedy
    result = engine.infer("", max_tokens=200, temperature=0)
    assert result.tokens == ids
    assert result.text == text
    assert result.n_tokens == 200
    assert result.finish_reason == "length"
    assert result.tokens_per_sec > 0 and result.ttft_ms > 0


def test_stream_yields_the_same_text(engine):
    whole = engine.infer("Once upon a time", max_tokens=40, temperature=0).text
    pieces = list(engine.stream("Once upon a time", max_tokens=40, temperature=0))
    assert len(pieces) > 5
    assert "".join(pieces) == whole


def test_dropping_a_stream_early_cancels_it(engine):
    stream = engine.stream("", max_tokens=400, temperature=0)
    assert next(stream)
    del stream  # must not hang or crash
    assert engine.infer("", max_tokens=3, temperature=0).n_tokens == 3


def test_seed_reproduces_sampling_and_stop_strings(engine):
    first = engine.infer("", max_tokens=30, temperature=1.0, seed=11)
    second = engine.infer("", max_tokens=30, temperature=1.0, seed=11)
    assert first.tokens == second.tokens
    stopped = engine.infer("", max_tokens=100, temperature=0, stop=["Lily"])
    assert stopped.text == "Once upon a time, there was a little girl named "
    assert stopped.finish_reason == "stop"


def test_chat_and_tokenizer(engine):
    reply = engine.chat([{"role": "user", "content": "Tell me a story"}], max_tokens=12, temperature=0)
    assert reply.n_tokens > 0
    tokens = engine.tokenize("Once upon a time")
    assert tokens[0] == 1
    assert engine.detokenize(tokens[1:]) == "Once upon a time"


def test_the_gil_is_released_while_generating(engine):
    done = threading.Event()
    worker = threading.Thread(target=lambda: (engine.infer("", max_tokens=300, temperature=0), done.set()))
    iterations = 0
    worker.start()
    while not done.is_set():
        iterations += 1
    worker.join()
    # Holding the GIL for the whole generation would leave this loop a handful of turns.
    assert iterations > 1000


def test_errors_carry_the_engine_message():
    fresh = llcuda.InferenceEngine()
    with pytest.raises(llcuda.LlcudaError, match="no model loaded"):
        fresh.infer("x")
    with pytest.raises(llcuda.LlcudaError, match="neither a file nor a model in the store"):
        fresh.load_model("/nonexistent/model.gguf")
    with pytest.raises(llcuda.LlcudaError, match="cannot use cuda"):
        fresh.load_model("", gpu_layers=4)
    fresh.load_model("", context_size=64)
    with pytest.raises(llcuda.LlcudaError, match="temperature"):
        fresh.infer("x", temperature=-1)
    with pytest.raises(llcuda.LlcudaError, match="ctx-size"):
        fresh.infer("word " * 200)


def test_a_prompt_of_token_ids_is_used_exactly(engine, expected_greedy):
    ids, _ = expected_greedy
    from_ids = engine.infer([1] + ids[:10], max_tokens=20, temperature=0)
    assert from_ids.tokens == ids[10:30]
    pieces = list(engine.stream([1] + ids[:10], max_tokens=20, temperature=0))
    assert "".join(pieces) == from_ids.text


def test_logits_are_teacher_forced_for_every_position(engine, expected_greedy):
    import numpy

    ids, _ = expected_greedy
    logits = engine.logits([1] + ids[:30])
    assert logits.shape == (31, 512) and logits.dtype == numpy.float32
    # Greedy decoding picked each next token as the argmax after the tokens before it.
    assert list(numpy.argmax(logits, axis=1)) == ids[:31]
    with pytest.raises(llcuda.LlcudaError, match="at least one token"):
        engine.logits([])


def test_embed_is_a_unit_vector_equal_for_text_and_its_ids(engine):
    import numpy

    vector = engine.embed("Once upon a time")
    assert vector.shape == (64,) and vector.dtype == numpy.float32
    assert abs(float(numpy.linalg.norm(vector)) - 1) < 1e-5
    assert numpy.array_equal(engine.embed(engine.tokenize("Once upon a time")), vector)
    assert not numpy.array_equal(engine.embed("A big dog."), vector)
    with pytest.raises(llcuda.LlcudaError, match="at least one token"):
        engine.embed([])


def test_render_chat_equals_jinja2_with_tools(engine):
    """render_chat on the qwen2 fixture's own template equals Python's jinja2 rendering it as
    transformers does, tools, a tool call and its result included."""
    jinja2 = pytest.importorskip("jinja2")
    import json
    import os

    from conftest import SHARED_MODELS

    fixture = os.path.join(SHARED_MODELS, "arch", "qwen2-tiny.gguf")
    template_path = os.path.join(SHARED_MODELS, "templates", "Qwen-Qwen2.5-7B-Instruct.jinja")
    if not os.path.exists(fixture) or not os.path.exists(template_path):
        pytest.skip("no ../shared/models")
    qwen = llcuda.InferenceEngine()
    qwen.load_model(fixture, context_size=64, threads=1)
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather.",
                                               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Zürich?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich"}}}]},
        {"role": "tool", "content": "sunny"},
    ]
    import jinja2.ext
    import jinja2.sandbox
    environment = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    environment.filters["tojson"] = lambda value, indent=None: json.dumps(value, ensure_ascii=False, indent=indent)
    with open(template_path, encoding="utf-8") as source:
        expected = environment.from_string(source.read()).render(
            messages=messages, tools=tools, add_generation_prompt=True, bos_token="", eos_token="")
    assert qwen.render_chat(messages, tools=tools) == expected
    assert qwen.render_chat(messages[:2], add_generation_prompt=False).endswith("Zürich?<|im_end|>\n")


def test_defaults_are_the_cli_defaults():
    """infer/stream/chat default to the CLI's -n/--max-tokens (256, GenerationOptions), not 128."""
    for method in (llcuda.InferenceEngine.infer, llcuda.InferenceEngine.stream, llcuda.InferenceEngine.chat):
        assert "max_tokens: int = 256" in method.__doc__, method.__doc__

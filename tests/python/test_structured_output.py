import json

import pytest

import llcuda

SCHEMA = {"type": "object", "required": ["word", "n"],
          "properties": {"word": {"type": "string", "maxLength": 8}, "n": {"type": "integer"}}}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_json_schema_output_is_valid(engine, seed):
    for schema in (SCHEMA, json.dumps(SCHEMA)):
        result = engine.infer("Once", max_tokens=200, seed=seed, temperature=1.0,
                              json_schema=schema)
        value = json.loads(result.text)
        assert set(value) == {"word", "n"} and isinstance(value["n"], int), result.text
        assert len(value["word"]) <= 8


def test_grammar_holds_infer_and_stream(engine):
    grammar = 'root ::= "yes" | "no"'
    assert engine.infer("Is it", max_tokens=20, seed=5, grammar=grammar).text in ("yes", "no")
    assert "".join(engine.stream("Is it", max_tokens=20, seed=5, grammar=grammar)) in ("yes", "no")


def test_bad_grammar_or_schema_names_the_keyword(engine):
    with pytest.raises(llcuda.LlcudaError, match="grammar=.*line 1"):
        engine.infer("x", grammar='root ::= ("a"')
    with pytest.raises(llcuda.LlcudaError, match="json_schema=.*'pattern'"):
        engine.infer("x", json_schema={"type": "string", "pattern": "a"})
    with pytest.raises(llcuda.LlcudaError, match="not both"):
        engine.infer("x", grammar='root ::= "a"', json_schema=SCHEMA)

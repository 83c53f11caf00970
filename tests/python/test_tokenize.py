"""Engine.tokenize / detokenize with add_special and parse_special."""


def test_tokenize_add_special_and_parse_special(engine):
    assert engine.tokenize("Once upon")[0] == 1  # BOS, as the model asks
    assert engine.tokenize("Once upon", add_special=False) == engine.tokenize("Once upon")[1:]
    plain = engine.tokenize("a</s>", add_special=False)
    special = engine.tokenize("a</s>", add_special=False, parse_special=True)
    assert 2 not in plain and special[-1] == 2
    assert engine.detokenize(plain) == "a</s>"

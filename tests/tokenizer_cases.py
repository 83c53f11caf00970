#!/usr/bin/env python3
"""Writes the Llama 2 vocabulary and SentencePiece's own encodings of tricky strings as JSON.

The expected ids come from the sentencepiece library (python3-sentencepiece), independent of
llcuda's tokenizer; test_tokenizer_llama2.cpp checks that llcuda produces the same ids.
Usage: tokenizer_cases.py TOKENIZER_MODEL OUTPUT_JSON
"""
import json
import sys

import sentencepiece

CASES = [
    "Hello world",
    " Hello world",
    "Hello  world",
    "   leading and trailing spaces   ",
    "",
    " ",
    "\n",
    "line one\nline two\n\n\ttabbed",
    "Once upon a time, there was a little girl named Lily.",
    "I'm sure it's the user's fault, isn't it?",
    "numbers 1234567890 3.14159 -42 1e-5",
    "café naïve résumé Ångström",
    "日本語のテキストと中文字符",
    "emoji 🦙🚀 and 👩‍💻 zwj",
    "Привет, мир! Γειά σου Κόσμε",
    "<s> and </s> are plain text here",
    "<unk> <0x41> ▁ underscores _ __init__",
    "def f(x):\n    return x ** 2  # comment",
    "https://example.com/path?query=1&b=2#frag",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "\u0000 nul and \u007f del",
    "mixed\u00a0non-breaking\u2003em space",
    "ǅ ﬁ ligatures and combining e\u0301",
]


def main():
    model_path, output_path = sys.argv[1], sys.argv[2]
    processor = sentencepiece.SentencePieceProcessor(model_file=model_path)
    vocabulary = []
    for token_id in range(processor.get_piece_size()):
        if processor.is_control(token_id):
            token_type = 3
        elif processor.is_unknown(token_id):
            token_type = 2
        elif processor.is_byte(token_id):
            token_type = 6
        elif processor.is_unused(token_id):
            token_type = 5
        else:
            token_type = 1
        vocabulary.append([processor.id_to_piece(token_id), processor.get_score(token_id), token_type])
    cases = []
    for text in CASES:
        ids = processor.encode(text)
        cases.append({"text": text, "ids": ids, "decoded": processor.decode(ids)})
    with open(output_path, "w", encoding="utf-8") as output:
        json.dump({"vocabulary": vocabulary, "bos": processor.bos_id(), "eos": processor.eos_id(),
                   "unknown": processor.unk_id(), "cases": cases}, output, ensure_ascii=False)


if __name__ == "__main__":
    main()

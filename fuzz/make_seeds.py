#!/usr/bin/env python3
"""Writes small GGUF seed files for the fuzzer: a tiny complete llama model with a vocabulary,
and a metadata-only file with every value type. Usage: make_seeds.py OUTPUT_DIR"""
import os
import struct
import sys


def string(text):
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def kv(key, type_id, payload):
    return string(key) + struct.pack("<I", type_id) + payload


def u32(key, value):
    return kv(key, 4, struct.pack("<I", value))


def f32(key, value):
    return kv(key, 6, struct.pack("<f", value))


def array(key, element_type, items):
    return kv(key, 9, struct.pack("<IQ", element_type, len(items)) + b"".join(items))


def gguf(metadata, tensors):
    header = struct.pack("<IIQQ", 0x46554747, 3, len(tensors), len(metadata)) + b"".join(metadata)
    data = b""
    for name, shape, type_id, payload in tensors:
        header += string(name) + struct.pack("<I", len(shape)) + struct.pack(f"<{len(shape)}Q", *shape)
        header += struct.pack("<IQ", type_id, len(data))
        data += payload + b"\0" * (-len(payload) % 32)
    return header + b"\0" * (-len(header) % 32) + data


def f32_tensor(name, shape, value=0.01):
    count = 1
    for extent in shape:
        count *= extent
    return (name, shape, 0, struct.pack(f"<{count}f", *([value] * count)))


def tiny_llama():
    dim, ffn, vocab = 32, 32, 8
    pieces = ["<unk>", "<s>", "</s>", "\u2581", "a", "b", "\u2581a", "<0x41>"]
    types = [2, 3, 3, 1, 1, 1, 1, 6]
    metadata = [
        kv("general.architecture", 8, string("llama")),
        u32("llama.embedding_length", dim), u32("llama.block_count", 1), u32("llama.feed_forward_length", ffn),
        u32("llama.attention.head_count", 4), u32("llama.attention.head_count_kv", 2),
        u32("llama.context_length", 64), f32("llama.rope.freq_base", 10000.0),
        kv("tokenizer.ggml.model", 8, string("llama")),
        array("tokenizer.ggml.tokens", 8, [string(p) for p in pieces]),
        array("tokenizer.ggml.scores", 6, [struct.pack("<f", -i) for i in range(vocab)]),
        array("tokenizer.ggml.token_type", 5, [struct.pack("<i", t) for t in types]),
    ]
    tensors = [f32_tensor("token_embd.weight", [dim, vocab]), f32_tensor("output_norm.weight", [dim], 1.0)]
    for name, shape in [("attn_norm", [dim]), ("attn_q", [dim, dim]), ("attn_k", [dim, dim // 2]),
                        ("attn_v", [dim, dim // 2]), ("attn_output", [dim, dim]), ("ffn_norm", [dim]),
                        ("ffn_gate", [dim, ffn]), ("ffn_up", [dim, ffn]), ("ffn_down", [ffn, dim])]:
        tensors.append(f32_tensor(f"blk.0.{name}.weight", shape))
    return gguf(metadata, tensors)


def every_type():
    metadata = [kv("u8", 0, b"\x07"), kv("i8", 1, b"\xff"), kv("u16", 2, b"\x01\x02"), kv("i16", 3, b"\xfe\xff"),
                u32("u32", 7), kv("i32", 5, struct.pack("<i", -7)), f32("f32", 0.5), kv("bool", 7, b"\x01"),
                kv("s", 8, string("text")), kv("u64", 10, struct.pack("<Q", 9)), kv("i64", 11, struct.pack("<q", -9)),
                kv("f64", 12, struct.pack("<d", 0.25)),
                array("nested", 9, [struct.pack("<IQ", 4, 2) + struct.pack("<II", 1, 2)]),
                u32("general.alignment", 64)]
    return gguf(metadata, [("q8", [32, 2], 8, b"\x00\x3c" + bytes(range(32)) + b"\x00\x38" + bytes(32))])


if __name__ == "__main__":
    output = sys.argv[1]
    os.makedirs(output, exist_ok=True)
    with open(os.path.join(output, "tiny_llama.gguf"), "wb") as f:
        f.write(tiny_llama())
    with open(os.path.join(output, "every_type.gguf"), "wb") as f:
        f.write(every_type())

#pragma once
// The tokens of one forward pass, from one or more sequences: token i belongs to sequence
// sequences[i] at position positions[i], and the pass produces next-token logits for the
// tokens listed in `outputs`, in that order. Continuous batching puts a prompt chunk of one
// sequence and the next token of others in the same batch.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace llcuda {

// Tokens a CPU forward pass takes at most; longer prompts are split (bounds the scratch memory
// and the ring of a sliding-window layer's KV cache).
inline constexpr size_t kMaxCpuBatch = 256;

struct TokenBatch {
    std::vector<int32_t> tokens;
    std::vector<int32_t> positions;
    std::vector<int32_t> sequences;
    std::vector<int32_t> outputs;  // indices into tokens

    size_t size() const { return tokens.size(); }
    bool empty() const { return tokens.empty(); }

    void add(int32_t token, size_t sequence, size_t position, bool output) {
        if (output) outputs.push_back(static_cast<int32_t>(tokens.size()));
        tokens.push_back(token);
        sequences.push_back(static_cast<int32_t>(sequence));
        positions.push_back(static_cast<int32_t>(position));
    }

    void clear() {
        tokens.clear();
        positions.clear();
        sequences.clear();
        outputs.clear();
    }

    // Tokens [begin, end) as a batch of their own; outputs keep their order.
    TokenBatch slice(size_t begin, size_t end) const {
        TokenBatch part;
        part.tokens.assign(tokens.begin() + begin, tokens.begin() + end);
        part.positions.assign(positions.begin() + begin, positions.begin() + end);
        part.sequences.assign(sequences.begin() + begin, sequences.begin() + end);
        for (const auto index : outputs) {
            if (static_cast<size_t>(index) >= begin && static_cast<size_t>(index) < end)
                part.outputs.push_back(static_cast<int32_t>(index - begin));
        }
        return part;
    }

    // One sequence's tokens at positions start.., with logits for the last one.
    static TokenBatch single(const int32_t* tokens, size_t count, size_t sequence, size_t start) {
        TokenBatch batch;
        for (size_t i = 0; i < count; ++i)
            batch.add(tokens[i], sequence, start + i, i + 1 == count);
        return batch;
    }
};

}  // namespace llcuda

// The vocabulary trie, laid out breadth first so each node's children are contiguous.
#include "grammar/token_mask.hpp"

#include <algorithm>
#include <map>
#include <numeric>

namespace llcuda::grammar {

TokenTrie::TokenTrie(const std::vector<std::string>& token_bytes, std::vector<int32_t> end_tokens)
    : end_tokens_(std::move(end_tokens)), vocabulary_size_(token_bytes.size()) {
    // Tokens sorted by bytes: the tokens below a prefix are a contiguous range, so the
    // children of a node are found by splitting its range on the next byte.
    std::vector<int32_t> order;
    for (size_t id = 0; id < token_bytes.size(); ++id) {
        if (!token_bytes[id].empty()) order.push_back(static_cast<int32_t>(id));
    }
    std::sort(order.begin(), order.end(),
              [&](int32_t a, int32_t b) { return token_bytes[a] < token_bytes[b]; });
    struct Pending {
        uint32_t node;
        size_t begin, end, depth;
    };
    nodes_.push_back({});
    std::vector<Pending> queue{{0, 0, order.size(), 0}};
    for (size_t next = 0; next < queue.size(); ++next) {
        Pending pending = queue[next];
        size_t i = pending.begin;
        nodes_[pending.node].first_token = static_cast<uint32_t>(node_tokens_.size());
        while (i < pending.end && token_bytes[order[i]].size() == pending.depth)
            node_tokens_.push_back(order[i++]);
        nodes_[pending.node].token_count =
            static_cast<uint32_t>(node_tokens_.size()) - nodes_[pending.node].first_token;
        nodes_[pending.node].first_child = static_cast<uint32_t>(nodes_.size());
        while (i < pending.end) {
            auto byte = static_cast<uint8_t>(token_bytes[order[i]][pending.depth]);
            size_t j = i;
            while (j < pending.end &&
                   static_cast<uint8_t>(token_bytes[order[j]][pending.depth]) == byte)
                ++j;
            Node child;
            child.byte = byte;
            nodes_.push_back(child);
            queue.push_back({static_cast<uint32_t>(nodes_.size() - 1), i, j, pending.depth + 1});
            ++nodes_[pending.node].child_count;
            i = j;
        }
    }
}

void TokenTrie::allowed_tokens(const GrammarMatcher& matcher, const MatchState& state,
                               std::vector<bool>& allowed) const {
    allowed.assign(vocabulary_size_, false);
    if (GrammarMatcher::is_accepting(state)) {
        for (int32_t token : end_tokens_) allowed[static_cast<size_t>(token)] = true;
    }
    // Depth-first over the trie; states[depth] is reused scratch, so the walk allocates only
    // while its stacks grow.
    std::vector<MatchState> states(1, state);
    struct Frame {
        uint32_t node;
        uint32_t next_child;
    };
    std::vector<Frame> path{{0, 0}};
    while (!path.empty()) {
        Frame& frame = path.back();
        const Node& node = nodes_[frame.node];
        if (frame.next_child == node.child_count) {
            path.pop_back();
            continue;
        }
        uint32_t child_index = node.first_child + frame.next_child++;
        size_t depth = path.size();
        if (states.size() <= depth) states.resize(depth + 1);
        if (!matcher.advance_byte(states[depth - 1], nodes_[child_index].byte, states[depth]))
            continue;
        const Node& child = nodes_[child_index];
        for (uint32_t k = 0; k < child.token_count; ++k) {
            allowed[static_cast<size_t>(node_tokens_[child.first_token + k])] = true;
        }
        if (child.child_count > 0) path.push_back({child_index, 0});
    }
}

}  // namespace llcuda::grammar

// libFuzzer target for GBNF grammars, which arrive in requests (the `grammar` field): the
// bytes before the first NUL are a grammar, the rest is text matched against it byte by byte.
// Errors are fine; crashes, hangs and unbounded memory are not.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/error.hpp"
#include "grammar/grammar.hpp"
#include "grammar/grammar_matcher.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    size_t split = input.find('\0');
    std::string_view grammar_text = input.substr(0, split);
    std::string_view text =
        split == std::string_view::npos ? std::string_view() : input.substr(split + 1);
    try {
        auto grammar =
            std::make_shared<llcuda::grammar::Grammar>(llcuda::grammar::parse_gbnf(grammar_text));
        llcuda::grammar::GrammarMatcher matcher(grammar);
        llcuda::grammar::MatchState state = matcher.initial_state(), next;
        for (char c : text) {
            if (!matcher.advance_byte(state, static_cast<uint8_t>(c), next)) break;
            std::swap(state, next);
        }
        (void)llcuda::grammar::GrammarMatcher::is_accepting(state);
    } catch (const llcuda::Error&) {
    }
    return 0;
}

// Constrained sampling: the sampler's shortcuts give what masking every refused token first
// gives (the same token for the same seed, or the same distribution), and generation through
// the engine always matches the grammar, with every sampler and in continuous batches.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <vector>

#include "core/error.hpp"
#include "core/gguf/gguf_file.hpp"
#include "engine/embedded_model.hpp"
#include "engine/grammar_constraint.hpp"
#include "engine/sampler.hpp"
#include "grammar/json_schema_grammar.hpp"
#include "llcuda/engine.hpp"
#include "tokenizer/tokenizer.hpp"

namespace llcuda {
namespace {

const Tokenizer& embedded_tokenizer() {
    static const auto file = GgufFile::from_memory(embedded_model_bytes(), kEmbeddedModelName);
    static const auto tokenizer = load_tokenizer(file);
    return *tokenizer;
}

const GrammarVocabulary& embedded_vocabulary() {
    static const GrammarVocabulary vocabulary(embedded_tokenizer());
    return vocabulary;
}

SamplingOptions sampling(float temperature, int top_k, float top_p, float min_p,
                         float repeat_penalty = 1.0f) {
    SamplingOptions options;
    options.temperature = temperature;
    options.top_k = top_k;
    options.top_p = top_p;
    options.min_p = min_p;
    options.repeat_penalty = repeat_penalty;
    return options;
}

// Masking first, the reference: refused logits at -infinity, then the unconstrained sampler.
std::vector<float> masked(const std::vector<float>& logits, const GrammarConstraint& constraint) {
    std::vector<bool> allowed;
    constraint.allowed_tokens(allowed);
    std::vector<float> result = logits;
    for (size_t id = 0; id < result.size(); ++id) {
        if (!allowed[id]) result[id] = -std::numeric_limits<float>::infinity();
    }
    return result;
}

TEST(GrammarSampling, ShortcutsDrawWhatMaskingFirstDraws) {
    const auto& vocabulary = embedded_vocabulary();
    const std::string gbnf = grammar::json_object_gbnf();
    // Greedy, top-k with and without top-p/min-p, a top-k larger than some allowed sets, top-p
    // and min-p without top-k (the mask every step), a repetition penalty.
    const std::vector<SamplingOptions> samplers{
        sampling(0.0f, 0, 1.0f, 0.0f),       sampling(0.8f, 40, 0.95f, 0.05f),
        sampling(1.0f, 5, 1.0f, 0.0f),       sampling(1.5f, 300, 1.0f, 0.0f),
        sampling(1.0f, 0, 0.9f, 0.0f),       sampling(1.0f, 0, 1.0f, 0.1f),
        sampling(0.7f, 40, 1.0f, 0.0f, 1.3f)};
    const uint64_t seed = std::random_device{}();
    std::printf("replay seed %llu\n", static_cast<unsigned long long>(seed));
    std::mt19937_64 random(seed);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    for (size_t s = 0; s < samplers.size(); ++s) {
        for (int run = 0; run < 4; ++run) {
            auto options = samplers[s];
            options.seed = random();
            Sampler constrained(options), reference(options);
            GrammarConstraint constraint(gbnf, vocabulary, 1);
            std::vector<int32_t> history{1};
            for (int step = 0; step < 60 && !constraint.complete(); ++step) {
                std::vector<float> logits(vocabulary.token_bytes.size());
                for (auto& logit : logits) logit = normal(random);
                const int32_t token = constrained.sample(logits, history, constraint);
                const int32_t expected = reference.sample(masked(logits, constraint), history);
                ASSERT_EQ(token, expected) << "sampler " << s << " run " << run << " step " << step;
                ASSERT_TRUE(constraint.allows(token));
                if (embedded_tokenizer().is_end_of_generation(token)) break;
                constraint.accept(token);
                history.push_back(token);
            }
        }
    }
}

// Temperature alone keeps an allowed draw and draws again from the masked distribution after
// a refusal; the frequencies must be the masked softmax's.
TEST(GrammarSampling, DrawAfterRefusalGivesTheMaskedDistribution) {
    const auto& vocabulary = embedded_vocabulary();
    GrammarConstraint constraint("root ::= [a-e] [a-z]*", vocabulary, 1);
    std::vector<bool> allowed;
    constraint.allowed_tokens(allowed);
    const size_t size = vocabulary.token_bytes.size();
    std::vector<float> logits(size, -2.0f);
    // A refused token holds most of the mass, so refusals are common.
    for (size_t id = 0; id < size; ++id) {
        if (!allowed[id] && logits[id] == -2.0f) {
            logits[id] = 3.0f;
            break;
        }
    }
    std::mt19937 pattern(5);
    for (size_t id = 0; id < size; ++id)
        if (allowed[id]) logits[id] = static_cast<float>(pattern() % 5);
    double allowed_mass = 0.0;
    for (size_t id = 0; id < size; ++id)
        if (allowed[id]) allowed_mass += std::exp(logits[id]);
    auto options = sampling(1.0f, 0, 1.0f, 0.0f);
    options.seed = 11;
    Sampler sampler(options);
    std::map<int32_t, int> counts;
    const int draws = 40000;
    for (int i = 0; i < draws; ++i) counts[sampler.sample(logits, {}, constraint)]++;
    double distance = 0.0;  // total variation
    for (size_t id = 0; id < size; ++id) {
        const double expected = allowed[id] ? std::exp(logits[id]) / allowed_mass : 0.0;
        const auto found = counts.find(static_cast<int32_t>(id));
        const double seen = found == counts.end() ? 0.0 : found->second / double(draws);
        if (!allowed[id]) {
            EXPECT_EQ(seen, 0.0) << "refused token " << id;
        }
        distance += std::abs(seen - expected) / 2;
    }
    EXPECT_LT(distance, 0.03);
}

TEST(GrammarSampling, EndOnlyWhereTheTextIsComplete) {
    const auto& vocabulary = embedded_vocabulary();
    const int32_t eos = embedded_tokenizer().eos_id();
    const auto token_of = [&](const std::string& bytes) {
        const auto found =
            std::find(vocabulary.token_bytes.begin(), vocabulary.token_bytes.end(), bytes);
        EXPECT_NE(found, vocabulary.token_bytes.end()) << bytes;
        return static_cast<int32_t>(found - vocabulary.token_bytes.begin());
    };
    // After a prompt token (not BOS): the trie's bytes apply.
    GrammarConstraint constraint("root ::= \"ab\" \"c\"?", vocabulary, 100);
    std::vector<bool> allowed;
    EXPECT_FALSE(constraint.allows(eos));
    EXPECT_THROW(constraint.accept(eos), Error);
    constraint.accept(token_of("a"));
    constraint.allowed_tokens(allowed);
    EXPECT_FALSE(allowed[static_cast<size_t>(eos)]);
    constraint.accept(token_of("b"));
    EXPECT_TRUE(constraint.allows(eos));  // "ab" is complete, "c" may still follow
    EXPECT_FALSE(constraint.complete());
    constraint.allowed_tokens(allowed);
    EXPECT_TRUE(allowed[static_cast<size_t>(eos)]);
    EXPECT_TRUE(allowed[static_cast<size_t>(token_of("c"))]);
    constraint.accept(token_of("c"));
    EXPECT_TRUE(constraint.complete());  // nothing may follow: generation stops here
}

TEST(GrammarSampling, GenerationMatchesTheSchemaInBatches) {
    EngineOptions engine_options;
    engine_options.parallel = 4;
    Engine engine(engine_options);
    const auto schema = nlohmann::json::parse(R"({
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 12},
                       "age": {"type": "integer"},
                       "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]},
                                "maxItems": 3}},
        "required": ["name", "age", "tags"]})");
    const std::string gbnf = grammar::json_schema_to_gbnf(schema);
    const grammar::GrammarMatcher matcher(
        std::make_shared<const grammar::Grammar>(grammar::parse_gbnf(gbnf)));
    const uint64_t seed = std::random_device{}();
    std::printf("replay seed %llu\n", static_cast<unsigned long long>(seed));
    std::mt19937_64 random(seed);
    const std::vector<SamplingOptions> samplers{
        sampling(0.0f, 0, 1.0f, 0.0f), sampling(0.8f, 40, 0.95f, 0.05f),
        sampling(1.0f, 0, 1.0f, 0.0f), sampling(1.5f, 0, 0.9f, 0.0f)};
    size_t next = 0;
    const size_t requests = 12;
    size_t finished = 0;
    engine.generate_batch(
        [&](BatchRequest& request) {
            if (next == requests) return false;
            request.prompt = next % 2 ? "Once upon a time" : "";
            request.options.grammar = gbnf;
            request.options.max_tokens = 400;
            request.options.sampling = samplers[next % samplers.size()];
            request.options.sampling.seed = random();
            request.tag = next++;
            return true;
        },
        [&](const BatchRequest& request, GenerationResult&& result, std::exception_ptr error) {
            ++finished;
            ASSERT_FALSE(error) << "request " << request.tag;
            EXPECT_EQ(result.finish_reason, "stop") << result.text;
            EXPECT_TRUE(matcher.matches(result.text))
                << "request " << request.tag << ": " << result.text;
            EXPECT_TRUE(nlohmann::json::accept(result.text)) << result.text;
        });
    EXPECT_EQ(finished, requests);
}

TEST(GrammarSampling, BadGrammarFailsTheRequestAlone) {
    Engine engine(EngineOptions{});
    GenerationOptions options;
    options.grammar = "root ::= (";
    EXPECT_THROW(engine.generate("Hi", options), Error);
    options.grammar.clear();
    options.max_tokens = 3;
    EXPECT_NO_THROW(engine.generate("Hi", options));
}

}  // namespace
}  // namespace llcuda

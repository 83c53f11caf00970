#include "engine/continuous_batcher.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "core/error.hpp"
#include "engine/logprobs.hpp"
#include "engine/sampler.hpp"
#include "engine/stop_string_filter.hpp"
#include "model/token_batch.hpp"
#include "tokenizer/streaming_detokenizer.hpp"

namespace llcuda {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kAllLogits = SIZE_MAX;

double seconds_between(Clock::time_point begin, Clock::time_point end) {
    return std::chrono::duration<double>(end - begin).count();
}

// One request from admission to its last token.
class Sequence {
  public:
    Sequence(const BatchRequest& request, size_t slot, const Tokenizer& tokenizer, size_t context,
             const std::function<const GrammarVocabulary&()>& grammar_vocabulary)
        : request_(request),
          tokenizer_(tokenizer),
          slot_(slot),
          sampler_(request_.options.sampling),
          stop_filter_(request_.options.stop),
          start_(Clock::now()) {
        const auto& options = request_.options;
        result_.prompt_tokens = request_.prompt_tokens.empty()
                                    ? encode_prompt(tokenizer, request_.prompt, options)
                                    : request_.prompt_tokens;
        if (result_.prompt_tokens.size() >= context) {
            throw Error(fmt::format(
                "the prompt is {} tokens, which leaves no room in the {}-token context; "
                "shorten it or raise --ctx-size",
                result_.prompt_tokens.size(), context));
        }
        if (options.logprobs > 20)
            throw Error(
                fmt::format("logprobs asks for {} alternatives; at most 20", options.logprobs));
        history_ = result_.prompt_tokens;
        detokenizer_.emplace(tokenizer, history_.back());
        result_.finish_reason = "length";
        // Greedy decoding without a repetition penalty takes the argmax computed where the
        // logits are (on the GPU: no copy of the logits); anything else samples on the CPU.
        greedy_ = options.sampling.temperature == 0.0f &&
                  (options.sampling.repeat_penalty == 1.0f || options.sampling.repeat_last_n == 0);
        if (!options.grammar.empty()) {
            // Constrained: the sampler needs every logit to mask (the GPU's argmax or k best
            // may all be refused).
            grammar_.emplace(options.grammar, grammar_vocabulary(), history_.back());
            greedy_ = false;
        }
    }

    size_t slot() const { return slot_; }
    // The sequence goes into `slot`, whose KV cache holds the first `reused` prompt tokens.
    void assign_slot(size_t slot, size_t reused) {
        slot_ = slot;
        prompt_done_ = reused;
        result_.cached_tokens = reused;
    }
    bool greedy() const { return greedy_; }
    // What sampling needs from the forward pass: nothing beyond the argmax (0), the k best
    // logits (k), or all of them (kAllLogits).
    size_t candidates_needed() const {
        if (request_.options.logprobs >= 0 || grammar_) return kAllLogits;
        if (greedy_) return 0;
        if (!sampler_.can_sample_from_top_candidates()) return kAllLogits;
        return static_cast<size_t>(request_.options.sampling.top_k);
    }
    bool finished() const { return finished_; }
    const BatchRequest& request() const { return request_; }
    GenerationResult&& take_result() { return std::move(result_); }

    const std::vector<int32_t>& prompt() const { return result_.prompt_tokens; }
    size_t prompt_done() const { return prompt_done_; }
    void prompt_entered(size_t count) { prompt_done_ += count; }
    bool decoding() const { return next_token_.has_value(); }
    int32_t next_token() const { return *next_token_; }

    // True when the caller asked to stop; the sequence is then finished.
    bool cancelled() {
        if (finished_ || !request_.options.should_stop || !request_.options.should_stop())
            return false;
        result_.finish_reason = "cancelled";
        finish();
        return true;
    }

    // The forward pass produced this sequence's next-token logits.
    void on_output(const ModelRunner& runner, size_t output, size_t used, size_t context,
                   bool from_candidates) {
        const auto now = Clock::now();
        if (result_.tokens.empty() && !first_output_seen_) {
            first_output_seen_ = true;
            result_.prompt_seconds = seconds_between(start_, now);
            if (request_.options.max_tokens == 0) return finish();
        }
        int32_t token = 0;
        if (grammar_) {
            token = sampler_.sample(runner.logits(output), history_, *grammar_);
            grammar_->accept(token);
        } else if (greedy_) {
            token = runner.greedy_token(output);
        } else if (from_candidates) {
            const auto [values, ids] = runner.top_candidates(output);
            token = sampler_.sample_from_top_candidates(values, ids);
        } else {
            token = sampler_.sample(runner.logits(output), history_);
        }
        if (result_.tokens.empty()) {
            first_token_time_ = Clock::now();
            result_.time_to_first_token_ms = seconds_between(start_, first_token_time_) * 1000.0;
        }
        next_token_.reset();
        if (tokenizer_.is_end_of_generation(token)) {
            result_.finish_reason = "stop";
            return finish();
        }
        result_.tokens.push_back(token);
        history_.push_back(token);
        if (request_.options.logprobs >= 0) {
            result_.logprobs.push_back(token_logprob(
                runner.logits(output), token, static_cast<size_t>(request_.options.logprobs)));
        }
        emit(stop_filter_.push(detokenizer_->push(token)));
        // A grammar complete with nothing more allowed ends the text as EOS would.
        if (stop_filter_.stopped() || (grammar_ && grammar_->complete())) {
            result_.finish_reason = "stop";
            return finish();
        }
        // Stop when the context is full: prompt plus generated tokens never exceed it.
        if (result_.tokens.size() == request_.options.max_tokens || used + 1 == context)
            return finish();
        next_token_ = token;
    }

  private:
    void emit(const std::string& text) {
        if (text.empty()) return;
        result_.text += text;
        if (request_.on_text) request_.on_text(text);
    }

    void finish() {
        finished_ = true;
        next_token_.reset();
        if (!stop_filter_.stopped())
            emit(stop_filter_.push(detokenizer_->finish()) + stop_filter_.finish());
        if (!result_.tokens.empty())
            result_.decode_seconds = seconds_between(first_token_time_, Clock::now());
    }

    BatchRequest request_;
    const Tokenizer& tokenizer_;
    size_t slot_;
    Sampler sampler_;
    StopStringFilter stop_filter_;
    std::optional<StreamingDetokenizer> detokenizer_;
    std::optional<GrammarConstraint> grammar_;
    std::vector<int32_t> history_;
    GenerationResult result_;
    bool greedy_ = true;
    bool finished_ = false;
    bool first_output_seen_ = false;
    size_t prompt_done_ = 0;
    std::optional<int32_t> next_token_;
    Clock::time_point start_, first_token_time_;
};

// One forward pass of a step: its tokens, the slot of each output, and the prompt tokens each
// sequence enters.
struct Pass {
    TokenBatch batch;
    std::vector<size_t> owners;
    std::vector<std::pair<size_t, size_t>> entered;
    size_t candidates = 0;  // the most any output needs (see Sequence::candidates_needed)

    void add_decode(const Sequence& sequence, size_t position) {
        batch.add(sequence.next_token(), sequence.slot(), position, true);
        owners.push_back(sequence.slot());
        candidates = std::max(candidates, sequence.candidates_needed());
    }
    void add_prompt(const Sequence& sequence, size_t count, size_t position) {
        const auto& prompt = sequence.prompt();
        for (size_t i = 0; i < count; ++i) {
            const size_t index = sequence.prompt_done() + i;
            const bool last = index + 1 == prompt.size();
            batch.add(prompt[index], sequence.slot(), position + i, last);
            if (last) {
                owners.push_back(sequence.slot());
                candidates = std::max(candidates, sequence.candidates_needed());
            }
        }
        entered.emplace_back(sequence.slot(), count);
    }
};

std::vector<Pass> plan_step(const ModelRunner& runner, size_t step_tokens,
                            const std::vector<std::unique_ptr<Sequence>>& active,
                            const std::deque<size_t>& admission_order) {
    std::vector<Pass> passes;
    const size_t decode_group = runner.batch_invariant_tokens();
    if (decode_group == 0) {
        // The CPU: every token's result is the same in any batch, so one pass holds the decode
        // tokens and as much prompt as the step allows.
        Pass pass;
        for (const auto& sequence : active) {
            if (sequence && sequence->decoding())
                pass.add_decode(*sequence, runner.used(sequence->slot()));
        }
        for (const size_t slot : admission_order) {
            const auto& sequence = *active[slot];
            const size_t remaining = sequence.prompt().size() - sequence.prompt_done();
            if (sequence.decoding() || remaining == 0) continue;
            if (pass.batch.size() >= step_tokens) break;
            pass.add_prompt(sequence, std::min(step_tokens - pass.batch.size(), remaining),
                            runner.used(slot));
        }
        if (!pass.batch.empty()) passes.push_back(std::move(pass));
        return passes;
    }
    // The GPU: decode tokens go in groups small enough for the matrix-vector kernels, and a
    // prompt goes whole in a pass of its own (split by the runner as when alone), so that each
    // sequence meets the same kernels as when it runs alone.
    for (const auto& sequence : active) {
        if (!sequence || !sequence->decoding()) continue;
        if (passes.empty() || passes.back().batch.size() == decode_group) passes.emplace_back();
        passes.back().add_decode(*sequence, runner.used(sequence->slot()));
    }
    for (const size_t slot : admission_order) {
        const auto& sequence = *active[slot];
        const size_t remaining = sequence.prompt().size() - sequence.prompt_done();
        if (sequence.decoding() || remaining == 0) continue;
        Pass pass;
        pass.add_prompt(sequence, remaining, runner.used(slot));
        passes.push_back(std::move(pass));
        break;  // one prompt per step keeps the others decoding
    }
    return passes;
}

}  // namespace

std::vector<int32_t> encode_prompt(const Tokenizer& tokenizer, std::string_view prompt,
                                   const GenerationOptions& options) {
    auto tokens = tokenizer.encode(prompt, options.add_bos, options.parse_special);
    if (tokens.empty()) {
        // Generation needs a token to start from: BOS, or EOS in vocabularies without one.
        const int32_t start =
            tokenizer.bos_id() != kNoToken ? tokenizer.bos_id() : tokenizer.eos_id();
        if (start == kNoToken) {
            throw Error(
                "the prompt is empty and the vocabulary has neither tokenizer.ggml.bos_token_id "
                "nor tokenizer.ggml.eos_token_id to start from");
        }
        tokens.push_back(start);
    }
    return tokens;
}

ContinuousBatcher::ContinuousBatcher(ModelRunner& runner, const Tokenizer& tokenizer,
                                     size_t step_tokens, PrefixCache* prefix_cache)
    : runner_(runner),
      tokenizer_(tokenizer),
      step_tokens_(step_tokens),
      prefix_cache_(prefix_cache) {
    if (step_tokens_ == 0) throw Error("the batch size must be at least 1 token");
}

void ContinuousBatcher::run(const NextRequest& next, const Done& done,
                            const std::function<void()>& between_steps) {
    const size_t slots = runner_.sequences();
    const size_t context = runner_.context_size();
    std::vector<std::unique_ptr<Sequence>> active(slots);
    std::deque<size_t> admission_order;  // prompts enter first come, first served
    const auto grammar_vocabulary = [&]() -> const GrammarVocabulary& {
        if (!grammar_vocabulary_) {
            own_grammar_vocabulary_ = std::make_unique<GrammarVocabularyCache>(tokenizer_);
            grammar_vocabulary_ = own_grammar_vocabulary_.get();
        }
        return grammar_vocabulary_->get();
    };

    const auto retire = [&](size_t slot, std::exception_ptr error) {
        auto sequence = std::move(active[slot]);
        std::erase(admission_order, slot);
        if (prefix_cache_) prefix_cache_->touch(slot);
        // A failed pass may have written part of its positions: nothing there is kept.
        if (error) runner_.clear(slot);
        done(sequence->request(), sequence->take_result(), error);
    };

    for (;;) {
        for (size_t slot = 0; slot < slots; ++slot) {
            if (active[slot] && active[slot]->cancelled()) retire(slot, nullptr);
        }
        // Admit new requests into free slots.
        std::vector<size_t> free_slots;
        for (size_t slot = 0; slot < slots; ++slot)
            if (!active[slot]) free_slots.push_back(slot);
        while (!free_slots.empty()) {
            BatchRequest request;
            if (!next(request)) break;
            std::unique_ptr<Sequence> sequence;
            try {
                sequence = std::make_unique<Sequence>(request, free_slots.front(), tokenizer_,
                                                      context, grammar_vocabulary);
            } catch (const Error&) {
                done(request, GenerationResult{}, std::current_exception());
                continue;
            }
            SlotChoice choice{.slot = free_slots.front(), .reused = 0};
            if (prefix_cache_) {
                choice = prefix_cache_->choose(runner_, free_slots, sequence->prompt());
                prefix_cache_->touch(choice.slot);
            }
            if (choice.reused > 0)
                runner_.truncate(choice.slot, choice.reused);
            else
                runner_.clear(choice.slot);
            sequence->assign_slot(choice.slot, choice.reused);
            std::erase(free_slots, choice.slot);
            active[choice.slot] = std::move(sequence);
            admission_order.push_back(choice.slot);
        }

        // One step: the next token of every decoding sequence, then prompts.
        std::vector<Pass> passes = plan_step(runner_, step_tokens_, active, admission_order);
        if (passes.empty()) return;  // nothing running and nothing to admit
        for (auto& pass : passes) {
            // Sampling takes the k best logits from the GPU when every sequence can; otherwise
            // all logits cross to the host.
            const bool top_only =
                pass.candidates > 0 && pass.candidates <= runner_.max_device_top_k();
            const bool all_logits = pass.candidates > 0 && !top_only;
            try {
                runner_.forward(pass.batch, all_logits, top_only ? pass.candidates : 0);
            } catch (const Error&) {
                // Every sequence in this pass fails with the error; the others go on.
                const auto error = std::current_exception();
                std::vector<size_t> failed(pass.batch.sequences.begin(),
                                           pass.batch.sequences.end());
                std::sort(failed.begin(), failed.end());
                failed.erase(std::unique(failed.begin(), failed.end()), failed.end());
                for (const size_t slot : failed) retire(slot, error);
                continue;
            }
            for (const auto& [slot, count] : pass.entered) active[slot]->prompt_entered(count);
            for (size_t o = 0; o < pass.owners.size(); ++o) {
                const size_t slot = pass.owners[o];
                try {
                    active[slot]->on_output(runner_, o, runner_.used(slot), context, top_only);
                } catch (const Error&) {
                    // A grammar that allows no token of the vocabulary ends this request alone.
                    retire(slot, std::current_exception());
                    continue;
                }
                if (active[slot]->finished()) retire(slot, nullptr);
            }
        }
        if (between_steps) between_steps();
    }
}

}  // namespace llcuda

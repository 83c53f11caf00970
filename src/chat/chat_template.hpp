#pragma once
// A model's chat template (GGUF `tokenizer.chat_template`, a Jinja template as in Hugging Face
// tokenizers) turned into prompts: messages in, text out, rendered as transformers'
// apply_chat_template does (trim_blocks, lstrip_blocks, bos_token, eos_token,
// add_generation_prompt). A template that uses what llcuda cannot render fails when loaded,
// with the line and the construct.
#include <string>

#include "chat/jinja_ast.hpp"

namespace llcuda {

class ChatTemplate {
  public:
    ChatTemplate(std::string source, std::string bos_token, std::string eos_token);

    // messages: [{"role": ..., "content": ...}, ...]; extra: more variables (tools, ...).
    std::string render(const jinja::Json& messages, bool add_generation_prompt,
                       const jinja::Json& extra = jinja::Json::object()) const;

    const std::string& source() const { return source_; }

  private:
    std::string source_;
    std::string bos_token_, eos_token_;
    jinja::Body body_;
};

}  // namespace llcuda

// The chunks of a stand-in stream (src/sim/standin.h): each chunk's JSON as nlohmann writes it,
// and the per-token SSE event spliced from text built once per request, so a stand-in at
// --speed 0 sends the same bytes without building and dumping a JSON document per token.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace sparkctl::sim::standin {

// The system_fingerprint of every response, and llama.cpp's build_info on /props.
inline constexpr const char* kFingerprint = "sparkctl-sim";

// What every chunk of one response carries besides its choice.
struct ChunkHead {
    std::string id;
    bool chat = true;
    std::int64_t created = 0;
    std::string model;  // the served model name
};

// A chunk: {"id", "object", "created", "model", "system_fingerprint", "choices": [choice]} (the
// shape of V:vllm/entrypoints/openai/protocol.py ChatCompletionStreamResponse for all three
// engines; nlohmann writes the keys sorted).
nlohmann::json chunk_json(const ChunkHead& head, nlohmann::json choice);

// The choice of one generated token: {"index": 0, "logprobs": null, "finish_reason": null} with
// "delta": {"content": token} (chat) or "text": token (completions).
nlohmann::json token_choice(bool chat, const std::string& token);

// The token events of one response. event(t) equals
// net::sse_event(chunk_json(head, token_choice(head.chat, t)).dump()) byte for byte: the text
// before and after the token is that very dump, split where the token goes, and the token is
// escaped as nlohmann's dump() escapes a string (a dump has no raw CR or LF, so the event is
// one data line).
class TokenEvents {
  public:
    explicit TokenEvents(const ChunkHead& head);
    std::string event(std::string_view token) const;

  private:
    std::string head_;  // "data: " and the chunk up to the token's opening quote
    std::string tail_;  // from the token's closing quote, then the blank line
};

}  // namespace sparkctl::sim::standin

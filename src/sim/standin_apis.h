// The stand-in engine's (src/sim/standin.h) Responses API (/v1/responses), Anthropic Messages API
// (/v1/messages) and embeddings (/v1/embeddings): the request fields each engine reads, and the
// documents and stream events each engine writes. Pure; docs/dev/sim.md ("Other APIs") lists the
// engines' sources.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engines/engine.h"
#include "sim/standin_request.h"

namespace sparkctl::sim::standin {

// The generation APIs: OpenAI chat and completions, OpenAI Responses, Anthropic Messages.
enum class Api { chat, completions, responses, messages };

// The generation API served at `path`, if any.
std::optional<Api> generation_api(std::string_view path);

// A Responses or Messages request as the engine reads it: the prompt text (the filler tokenizer
// counts its words) and the body request_limits reads (Responses' max_output_tokens as
// max_tokens, as llama.cpp and vLLM map it).
struct ApiRequest {
    std::string prompt;
    nlohmann::json limits_body;
};

// Errors: a missing or mistyped input in the engine's words and status.
std::variant<ApiRequest, RequestError> read_api_request(engines::Engine engine, Api api,
                                                        const nlohmann::json& body);

// One Responses or Messages reply, as far as it has got.
struct ApiReply {
    engines::Engine engine = engines::Engine::vllm;
    std::string id;  // the response's id (resp_...) or the message's (chatcmpl-...)
    std::string model;
    std::int64_t created = 0;
    std::uint32_t prompt_tokens = 0;
    std::uint32_t cached_tokens = 0;
    std::uint64_t produced = 0;  // output tokens so far
    bool stopped = false;        // ended at the simulated EOS, not at the limit
    std::string text;            // the output so far
};

// The non-streamed body.
nlohmann::json api_document(Api api, const ApiReply& reply);

// The stream, as SSE text with `event:` names. `seq` numbers the events where the engine does
// (vLLM and SGLang Responses). open: what is sent before the first token; token: one token's
// events (the first token's carry the item's opening events); close: the events after the last
// token (llama.cpp's `timings` on the last Responses event when given).
std::string api_stream_open(Api api, const ApiReply& reply, std::uint64_t& seq);
std::string api_stream_token(Api api, const ApiReply& reply, std::string_view token,
                             std::uint64_t& seq);
std::string api_stream_close(Api api, const ApiReply& reply, std::uint64_t& seq,
                             const nlohmann::json& timings);

// An error of the Messages API in the engine's shape (vLLM and SGLang: Anthropic's
// {"type": "error", "error": {"type", "message"}}); nullopt where the engine uses its usual shape.
std::optional<nlohmann::json> messages_error(engines::Engine engine, const std::string& message,
                                             const std::string& type);

// The stand-in's embedding of `text`: kEmbeddingDims floats from a hash of the text, L2-normalised
// (llama.cpp's default --embd-normalize 2). Deterministic: the same text, the same vector.
inline constexpr std::size_t kEmbeddingDims = 256;
std::vector<float> filler_embedding(std::string_view text);

// Standard base64 (RFC 4648, with padding) of the floats' bytes in little-endian order, as
// llama.cpp's encoding_format "base64" writes them.
std::string base64_floats(const std::vector<float>& values);

// llama.cpp's /v1/embeddings (with --embeddings): the list document for body's input (a string
// or an array of strings), `model` when the body names none; prompt_tokens set to the tokens
// embedded. Errors in llama.cpp's words.
std::variant<nlohmann::json, RequestError> embeddings_document(const nlohmann::json& body,
                                                               const std::string& model,
                                                               std::uint32_t& prompt_tokens);

}  // namespace sparkctl::sim::standin
